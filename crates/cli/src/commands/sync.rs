//! `crmsync sync`: one processing cycle, then exit.

use crmsync_core::Store;
use crmsync_engine::incoming::cycle;
use crmsync_engine::outgoing;
use crmsync_engine::{EngineError, EngineOptions, StoreLease};
use serde_json::json;

use super::Ctx;
use crate::CliError;
use crate::output;

/// Runs one cycle over the enabled mailboxes (or one mailbox): incoming mail
/// first, then the outgoing mail that is due, then appointments, contacts and tasks.
///
/// The pass holds the store's lease while it runs: it refuses (exit 3,
/// `STORE_IN_USE`) while a service, the desktop app or another pass holds it,
/// and a service started meanwhile refuses until the pass is done.
pub fn run(ctx: &Ctx, store: &mut Store, mailbox: Option<String>) -> Result<(), CliError> {
    let _lease = StoreLease::take(store.path(), "crmsync sync", EngineOptions::default().lease_timeout)
        .map_err(|e| match e {
            EngineError::LeaseHeld { holder, pid, host, since } => CliError::InUse(format!(
                "STORE_IN_USE: {holder} (pid {pid} on {host}) is processing this store since {since}; `crmsync sync` does not run beside it (two passes at once could move folder positions back or open more connections than a profile allows). A running service syncs by itself; otherwise wait for it to end or stop it first"
            )),
            other => other.into(),
        })?;
    let rt = super::runtime()?;
    let results = rt.block_on(cycle::sync_all(store, mailbox.as_deref()))?;
    // Outgoing: a separate pass over the mailboxes with outbox work.
    let sent = rt.block_on(outgoing::send_due(store, mailbox.as_deref()))?;
    // ACT (appointments, contacts, tasks): mailboxes with ACT enabled.
    let act = rt.block_on(crmsync_engine::act::sync_all_act(store, mailbox.as_deref()))?;
    // The history of these runs is in; what is past its retention goes.
    crmsync_engine::history::purge(store)?;
    let failed = results.iter().filter(|r| r.outcome.is_failed()).count();
    let out_failed = sent.iter().filter(|r| r.outcome.is_failed()).count()
        + act.iter().filter(|r| r.outcome.is_failed()).count();
    if ctx.json {
        // One array: the incoming results (as before), then the outgoing ones;
        // each entry says its channel.
        let tagged = |v: serde_json::Value, channel: &str| {
            let mut v = v;
            if let Some(o) = v.as_object_mut() {
                o.insert("channel".into(), json!(channel));
            }
            v
        };
        let mut all: Vec<serde_json::Value> = results.iter().map(|r| tagged(json!(r), "incoming")).collect();
        all.extend(sent.iter().map(|r| tagged(json!(r), "outgoing")));
        all.extend(act.iter().map(|r| tagged(json!(r), "act")));
        output::json(&all)?;
    } else {
        if results.is_empty() && sent.is_empty() && act.is_empty() {
            println!(
                "no mailbox has incoming enabled or outgoing mail due; run `crmsync mailbox test-enable EMAIL` first"
            );
        }
        for r in &results {
            match (&r.stats, r.outcome.code()) {
                (Some(s), _) => println!(
                    "{}: {} message(s), {} new activities, {} tracked, {} failed{}",
                    r.mailbox,
                    s.processed,
                    s.created,
                    s.tracked,
                    s.failed,
                    if s.capped { " (more waiting: per-cycle cap)" } else { "" }
                ),
                (None, Some(code)) => println!(
                    "{}: {} [{code}] {}",
                    r.mailbox,
                    r.outcome.result(),
                    r.outcome.message().unwrap_or_default()
                ),
                (None, None) => println!("{}: {}", r.mailbox, r.outcome.result()),
            }
        }
        for r in &act {
            match r.outcome.code() {
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
                    r.outcome.result(),
                    r.outcome.message().unwrap_or_default()
                ),
            }
        }
        for r in &sent {
            let mut line = format!(
                "{} outgoing: {} sent, {} failed, {} to retry",
                r.mailbox, r.sent, r.failed, r.retried
            );
            if r.recovered + r.resent > 0 {
                line.push_str(&format!(
                    ", {} found in Sent after an interruption, {} sent again",
                    r.recovered, r.resent
                ));
            }
            if r.unconfirmed > 0 {
                line.push_str(&format!(
                    ", {} without a reply from the server (delivery unknown: checked in Sent before any resend)",
                    r.unconfirmed
                ));
            }
            if r.capped {
                line.push_str(" (more waiting: per-cycle cap)");
            }
            if let Some(code) = r.outcome.code() {
                line.push_str(&format!(
                    "; {} [{code}] {}",
                    r.outcome.result(),
                    r.outcome.message().unwrap_or_default()
                ));
            }
            println!("{line}");
        }
    }
    if failed + out_failed > 0 {
        return Err(CliError::Reported(format!(
            "{} mailbox(es) failed to sync (see above and `crmsync alert list`)",
            failed + out_failed
        )));
    }
    Ok(())
}
