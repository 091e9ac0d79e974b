//! The directory: a CSV export of the CRM's users and queues that maps the
//! router's CRM ids (GUIDs) to email addresses and names. EmailAgent.xml names
//! users and queues by id only, so without it those mailboxes cannot be placed.
//! Columns (header row, any order, case-insensitive): `id`, `email`, `name`;
//! Dynamics export headers such as `(Do Not Modify) User` and `Primary Email`
//! are accepted too.

use std::collections::BTreeMap;
use std::path::Path;

use crmsync_core::{CoreError, address};
use serde::Serialize;

use super::router::normalize_id;
use crate::error::{EngineError, Result};

/// One user or queue of the CRM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectoryEntry {
    /// Email address.
    pub email: String,
    /// Display name (the address when the file has none).
    pub name: String,
}

/// CRM id → address and name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Directory {
    /// Entries by normalized id (lower case, no braces).
    pub entries: BTreeMap<String, DirectoryEntry>,
}

impl Directory {
    /// The entry for a router id.
    pub fn get(&self, id: &str) -> Option<&DirectoryEntry> {
        self.entries.get(&normalize_id(id))
    }
}

const ID: &[&str] =
    &["id", "guid", "crmid", "(do not modify) user", "(do not modify) queue", "systemuserid", "queueid"];
const EMAIL: &[&str] = &["email", "emailaddress", "primary email", "internalemailaddress", "incoming email"];
const NAME: &[&str] = &["name", "full name", "fullname", "queue name"];

/// Parses directory CSV text; `file` names it in errors (`FILE line N: column: why`).
pub fn parse(file: &str, text: &str) -> Result<Directory> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let bad = |line: u64, field: &str, why: String| -> EngineError {
        CoreError::invalid(format!("{file} line {line}: {field}"), why).into()
    };
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| bad(1, "header", e.to_string()))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let col = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let id_col = col(ID).ok_or_else(|| bad(1, "header", "missing column 'id'".into()))?;
    let email_col = col(EMAIL).ok_or_else(|| bad(1, "header", "missing column 'email'".into()))?;
    let name_col = col(NAME);
    let mut dir = Directory::default();
    for row in reader.records() {
        let row = row.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(line, "row", e.to_string())
        })?;
        let line = row.position().map_or(0, |p| p.line());
        let id = normalize_id(row.get(id_col).unwrap_or_default());
        if id.is_empty() {
            continue;
        }
        let email = address::validate("email", row.get(email_col).unwrap_or_default())
            .map_err(|e| bad(line, "email", e.to_string().trim_start_matches("email: ").to_string()))?;
        let name = name_col.and_then(|c| row.get(c)).filter(|n| !n.is_empty()).unwrap_or(&email).to_string();
        if dir.entries.insert(id.clone(), DirectoryEntry { email, name }).is_some() {
            return Err(bad(line, "id", format!("{id} appears twice")));
        }
    }
    Ok(dir)
}

/// Reads a directory CSV file.
pub fn load(path: &Path) -> Result<Directory> {
    let text = std::fs::read_to_string(path).map_err(|source| EngineError::ReadFile {
        field: "directory".into(),
        path: path.display().to_string(),
        source,
    })?;
    let file =
        path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned());
    parse(&file, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_ids_case_insensitively_and_accepts_dynamics_export_headers() {
        let d = parse(
            "users.csv",
            "(Do Not Modify) User,Full Name,Primary Email\n{6F1C2A10-4B7E-E311-9401-00155D0A1A01},Alice Adams,alice@contoso.com\n",
        )
        .unwrap();
        let e = d.get("6f1c2a10-4b7e-e311-9401-00155d0a1a01").unwrap();
        assert_eq!((e.email.as_str(), e.name.as_str()), ("alice@contoso.com", "Alice Adams"));
    }

    #[test]
    fn bad_rows_name_the_file_line_and_column() {
        let e = parse("u.csv", "id,email\n1,a@x.test\n2,not-an-address\n").unwrap_err().to_string();
        assert!(e.starts_with("u.csv line 3: email: "), "{e}");
        let e = parse("u.csv", "id,name\n1,A\n").unwrap_err().to_string();
        assert!(e.contains("missing column 'email'"), "{e}");
    }
}
