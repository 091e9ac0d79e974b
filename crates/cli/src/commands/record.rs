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
                    .map(|c| {
                        vec![
                            c.id.to_string(),
                            person_name(c.first_name.as_deref(), c.last_name.as_deref(), None),
                            opt(&c.email),
                            opt(&c.company),
                            opt(&c.phone),
                        ]
                    })
                    .collect::<Vec<_>>();
                output::table(&["ID", "NAME", "EMAIL", "COMPANY", "PHONE"], &rows);
                Ok(())
            }
            RecordKind::Lead => {
                let list = imports::list_leads(store)?;
                if ctx.json {
                    return output::json(&list);
                }
                let rows = list
                    .iter()
                    .map(|c| {
                        vec![
                            c.id.to_string(),
                            person_name(c.first_name.as_deref(), c.last_name.as_deref(), None),
                            opt(&c.email),
                            opt(&c.company),
                            opt(&c.phone),
                        ]
                    })
                    .collect::<Vec<_>>();
                output::table(&["ID", "NAME", "EMAIL", "COMPANY", "PHONE"], &rows);
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
