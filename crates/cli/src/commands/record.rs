//! `crmsync contact|account|lead ...`

use crmsync_core::Store;
use crmsync_core::model::person_name;
use crmsync_engine::admin::imports::{self, RecordKind};

use super::Ctx;
use crate::CliError;
use crate::cli::RecordCmd;
use crate::output::{self, opt};

/// Runs a record command.
pub fn run(ctx: &Ctx, store: &mut Store, kind: RecordKind, cmd: RecordCmd) -> Result<(), CliError> {
    match cmd {
        RecordCmd::Import { file } => {
            let report = imports::import_csv(store, kind, &file)?;
            if ctx.json {
                return output::json(&report);
            }
            println!("imported {} record(s) from {}", report.imported, file.display());
            if !report.ignored_columns.is_empty() {
                println!("ignored columns: {}", report.ignored_columns.join(", "));
            }
            Ok(())
        }
        RecordCmd::List => match kind {
            RecordKind::Contact => {
                let list = imports::list_contacts(store)?;
                if ctx.json {
                    return output::json(&list);
                }
                let rows = list
                    .iter()
                    .map(|c| person_row(c.id, &c.first_name, &c.last_name, &c.email, &c.company, &c.phone));
                output::table(&["ID", "NAME", "EMAIL", "COMPANY", "PHONE"], &rows.collect::<Vec<_>>());
                Ok(())
            }
            RecordKind::Lead => {
                let list = imports::list_leads(store)?;
                if ctx.json {
                    return output::json(&list);
                }
                let rows = list
                    .iter()
                    .map(|l| person_row(l.id, &l.first_name, &l.last_name, &l.email, &l.company, &l.phone));
                output::table(&["ID", "NAME", "EMAIL", "COMPANY", "PHONE"], &rows.collect::<Vec<_>>());
                Ok(())
            }
            RecordKind::Account => {
                let list = imports::list_accounts(store)?;
                if ctx.json {
                    return output::json(&list);
                }
                let rows = list
                    .iter()
                    .map(|a| vec![a.id.to_string(), a.name.clone(), opt(&a.email), opt(&a.phone)])
                    .collect::<Vec<_>>();
                output::table(&["ID", "NAME", "EMAIL", "PHONE"], &rows);
                Ok(())
            }
        },
    }
}

/// One table row of a person-like record (contact or lead).
fn person_row(
    id: i64,
    first: &Option<String>,
    last: &Option<String>,
    email: &Option<String>,
    company: &Option<String>,
    phone: &Option<String>,
) -> Vec<String> {
    vec![
        id.to_string(),
        person_name(first.as_deref(), last.as_deref(), None),
        opt(email),
        opt(company),
        opt(phone),
    ]
}
