//! CSV import of contacts, accounts and leads: all rows or none.

use std::collections::HashMap;
use std::path::Path;

use crmsync_core::model::{Account, Contact, Lead};
use crmsync_core::store::records;
use crmsync_core::{CoreError, Store, address};
use serde::Serialize;

use crate::error::{EngineError, Result};

/// Which records a CSV file holds (`contact`, `account`, `lead` in JSON).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// Columns first_name, last_name, email, company, phone.
    Contact,
    /// Columns name, email, phone.
    Account,
    /// Columns first_name, last_name, email, company, phone.
    Lead,
}

impl RecordKind {
    fn columns(self) -> &'static [&'static str] {
        match self {
            RecordKind::Contact | RecordKind::Lead => {
                &["first_name", "last_name", "email", "company", "phone"]
            }
            RecordKind::Account => &["name", "email", "phone"],
        }
    }
}

/// What an import did.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// Rows imported.
    pub imported: usize,
    /// Header columns that were not recognised and were ignored.
    pub ignored_columns: Vec<String>,
}

fn row_error(line: u64, field: &str, reason: impl std::fmt::Display) -> EngineError {
    CoreError::invalid(format!("line {line}: {field}"), reason.to_string()).into()
}

/// Imports every row of `path`, or nothing when any row is bad (the error names
/// the line and the column).
pub fn import_csv(store: &mut Store, kind: RecordKind, path: &Path) -> Result<ImportReport> {
    let data = std::fs::read(path).map_err(|source| EngineError::ReadFile {
        field: "file".into(),
        path: path.display().to_string(),
        source,
    })?;
    let mut reader =
        csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::All).from_reader(data.as_slice());
    let headers = reader
        .headers()
        .map_err(|e| CoreError::invalid("line 1: header", e.to_string()))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect::<Vec<_>>();
    let known = kind.columns();
    let index: HashMap<&str, usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| known.contains(&h.as_str()))
        .map(|(i, h)| (h.as_str(), i))
        .collect();
    let ignored_columns = headers.iter().filter(|h| !known.contains(&h.as_str())).cloned().collect();
    let required: &[&str] = match kind {
        RecordKind::Account => &["name"],
        _ => &[],
    };
    for r in required {
        if !index.contains_key(r) {
            return Err(CoreError::invalid("line 1: header", format!("missing column '{r}'")).into());
        }
    }
    if index.is_empty() {
        return Err(CoreError::invalid(
            "line 1: header",
            format!("no known column; expected {}", known.join(",")),
        )
        .into());
    }

    let mut rows: Vec<(u64, HashMap<&str, String>)> = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            row_error(line, "row", e)
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        if rec.iter().all(|f| f.is_empty()) {
            continue;
        }
        let mut m = HashMap::new();
        for (col, &i) in &index {
            let v = rec.get(i).unwrap_or("").to_string();
            if !v.is_empty() {
                m.insert(*col, v);
            }
        }
        if let Some(e) = m.get("email") {
            address::validate("email", e)
                .map_err(|_| row_error(line, "email", format!("'{e}' is not an email address")))?;
        }
        match kind {
            RecordKind::Account if !m.contains_key("name") => {
                return Err(row_error(line, "name", "must not be empty"));
            }
            RecordKind::Contact | RecordKind::Lead
                if !m.contains_key("first_name")
                    && !m.contains_key("last_name")
                    && !m.contains_key("email") =>
            {
                return Err(row_error(line, "last_name", "a row needs a name or an email"));
            }
            _ => {}
        }
        for (col, v) in &m {
            if v.chars().count() > 200 {
                return Err(row_error(line, col, "longer than 200 characters"));
            }
        }
        rows.push((line, m));
    }

    let n = rows.len();
    store.write(|tx| {
        for (_, m) in &rows {
            let get = |k: &str| m.get(k).cloned();
            match kind {
                RecordKind::Contact => {
                    let c = Contact {
                        first_name: get("first_name"),
                        last_name: get("last_name"),
                        email: get("email"),
                        company: get("company"),
                        phone: get("phone"),
                        ..Default::default()
                    };
                    records::insert_contact(tx, &c, None)?;
                }
                RecordKind::Lead => {
                    let l = Lead {
                        id: 0,
                        first_name: get("first_name"),
                        last_name: get("last_name"),
                        email: get("email"),
                        company: get("company"),
                        phone: get("phone"),
                    };
                    records::insert_lead(tx, &l)?;
                }
                RecordKind::Account => {
                    let a = Account {
                        id: 0,
                        name: get("name").unwrap_or_default(),
                        email: get("email"),
                        phone: get("phone"),
                    };
                    records::insert_account(tx, &a)?;
                }
            }
        }
        Ok::<_, EngineError>(())
    })?;
    Ok(ImportReport { imported: n, ignored_columns })
}

/// All contacts.
pub fn list_contacts(store: &Store) -> Result<Vec<Contact>> {
    Ok(records::list_contacts(store.conn())?)
}

/// All accounts.
pub fn list_accounts(store: &Store) -> Result<Vec<Account>> {
    Ok(records::list_accounts(store.conn())?)
}

/// All leads.
pub fn list_leads(store: &Store) -> Result<Vec<Lead>> {
    Ok(records::list_leads(store.conn())?)
}
