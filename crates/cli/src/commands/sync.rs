//! `crmsync sync`: one processing cycle, then exit.

use crmsync_core::Store;
use crmsync_engine::incoming::cycle;

use super::Ctx;
use crate::CliError;
use crate::output;

/// Runs one cycle over the enabled mailboxes (or one mailbox).
pub fn run(ctx: &Ctx, store: &mut Store, mailbox: Option<String>) -> Result<(), CliError> {
    let rt = super::runtime()?;
    let results = rt.block_on(cycle::sync_all(store, mailbox.as_deref()))?;
    // ACT (appointments, contacts, tasks): the same cycle for mailboxes with ACT enabled.
    let act = rt.block_on(crmsync_engine::act::sync_all_act(store, mailbox.as_deref()))?;
    let failed = results.iter().filter(|r| r.result == "failed").count()
        + act.iter().filter(|r| r.result == "failed").count();
    if ctx.json {
        if act.is_empty() {
            output::json(&results)?;
        } else {
            output::json(&serde_json::json!({ "incoming": results, "act": act }))?;
        }
    } else {
        if results.is_empty() && act.is_empty() {
            println!("no mailbox has incoming enabled; run `crmsync mailbox test-enable EMAIL` first");
        }
        for r in &act {
            match &r.code {
                None => {
                    for c in &r.collections {
                        println!(
                            "{} ACT {}: {} created / {} updated / {} deleted in the CRM, {} / {} / {} on the server, {} matched, {} conflict(s), {} failed{}",
                            r.mailbox,
                            c.kind,
                            c.created_crm,
                            c.updated_crm,
                            c.deleted_crm,
                            c.created_server,
                            c.updated_server,
                            c.deleted_server,
                            c.linked,
                            c.conflicts,
                            c.failed,
                            if c.held > 0 {
                                format!(", {} delete(s) held by the brake", c.held)
                            } else {
                                String::new()
                            }
                        );
                    }
                }
                Some(code) => println!(
                    "{} ACT: {} [{code}] {}",
                    r.mailbox,
                    r.result,
                    r.message.clone().unwrap_or_default()
                ),
            }
        }
        for r in &results {
            match (&r.stats, &r.code) {
                (Some(s), _) => println!(
                    "{}: {} message(s), {} new activities, {} tracked, {} failed{}",
                    r.mailbox,
                    s.processed,
                    s.created,
                    s.tracked,
                    s.failed,
                    if s.capped { " (more waiting: per-cycle cap)" } else { "" }
                ),
                (None, Some(code)) => {
                    println!("{}: {} [{code}] {}", r.mailbox, r.result, r.message.clone().unwrap_or_default())
                }
                (None, None) => println!("{}: {}", r.mailbox, r.result),
            }
        }
    }
    if failed > 0 {
        return Err(CliError::Reported(format!(
            "{failed} mailbox(es) failed to sync (see above and `crmsync alert list`)"
        )));
    }
    Ok(())
}
