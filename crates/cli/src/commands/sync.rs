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
    let failed = results.iter().filter(|r| r.result == "failed").count();
    if ctx.json {
        output::json(&results)?;
    } else {
        if results.is_empty() {
            println!("no mailbox has incoming enabled; run `crmsync mailbox test-enable EMAIL` first");
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
