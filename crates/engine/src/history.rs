//! Recording a mailbox's history where each run's [`RunOutcome`] is produced
//! (the same functions run for the service and for `crmsync sync`), the
//! reasons messages were not tracked, and the purge past
//! `history.retention_days`.

use chrono::Duration;
use crmsync_core::Store;
use crmsync_core::settings::IntSetting;
use crmsync_core::store::history::{self, Purged, RunChannel, RunEnd};
use crmsync_core::store::settings as stored_settings;
use crmsync_core::time::{now, to_db};

use crate::error::Result;
use crate::outcome::RunOutcome;

/// Records the start of a run of `channel` for mailbox `mailbox_id`; returns its id.
pub fn start(store: &mut Store, mailbox_id: i64, channel: RunChannel) -> Result<i64> {
    Ok(store.write(|tx| history::run_started(tx, mailbox_id, channel))?)
}

/// Records how run `run_id` ended; `tracked`/`not_tracked` are the incoming
/// message counts (0 for other channels).
pub fn finish(
    store: &mut Store,
    run_id: i64,
    outcome: &RunOutcome,
    tracked: i64,
    not_tracked: i64,
) -> Result<()> {
    let counts = match outcome {
        RunOutcome::Ok(c) => *c,
        _ => Default::default(),
    };
    let end = RunEnd {
        result: outcome.result(),
        code: outcome.code().map(str::to_string),
        message: outcome.message().map(str::to_string),
        processed: counts.processed,
        created: counts.created,
        tracked,
        not_tracked,
        failed: counts.failed,
        capped: counts.capped,
    };
    Ok(store.write(|tx| history::run_ended(tx, run_id, &end))?)
}

/// Removes history older than `history.retention_days`.
pub fn purge(store: &mut Store) -> Result<Purged> {
    let settings = stored_settings::load(store.conn())?;
    let days = settings.int(IntSetting::HistoryRetentionDays);
    let cutoff = to_db(now() - Duration::days(days));
    let purged = store.write(|tx| history::purge_before(tx, &cutoff))?;
    if purged.runs > 0 || purged.messages > 0 {
        tracing::debug!(
            runs = purged.runs,
            messages = purged.messages,
            days,
            "history past its retention removed"
        );
    }
    Ok(purged)
}

/// A few words for a reason code, as the timeline shows it ("not a reply").
pub fn reason_label(code: &str) -> &str {
    match code {
        "TRACKED" => "tracked",
        "DUPLICATE" => "already tracked",
        "BEFORE_PROCESS_FROM" => "before process-from",
        "NOT_A_REPLY" => "not a reply",
        "NO_CRM_RECORD" => "no CRM contact, account or lead",
        "NO_EMAIL_ENABLED_RECORD" => "no email-enabled CRM record",
        "TRACKING_OFF" => "tracking off",
        "MESSAGE_TOO_LARGE" => "too large",
        "EMAIL_UNPARSEABLE" => "unreadable",
        "EMAIL_NOT_RETURNED" => "not returned by the server",
        "FORWARD_SENDER_UNKNOWN" => "forwarded by an unknown sender",
        "EMAIL_PROCESSING_FAILED" => "could not be stored",
        other => other,
    }
}
