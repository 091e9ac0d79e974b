//! The part of an incoming pass every backend shares: one fetched message
//! processed under a savepoint (a bad one rolls back alone and is kept whole
//! as a failed item), and the pass's counts.

use crmsync_core::CoreError;
use crmsync_core::model::RecordType;
use crmsync_core::store::sync_state::Outcome;
use rusqlite::Connection;
use serde::Serialize;
use tracing::warn;

use super::process::{self, MailboxContext, Source};
use crate::error::Result;

/// What one sync of a mailbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SyncStats {
    /// Messages looked at.
    pub processed: i64,
    /// New email activities created.
    pub created: i64,
    /// Messages tracked (new or joined an existing activity).
    pub tracked: i64,
    /// Messages that failed (kept whole, alert raised).
    pub failed: i64,
    /// Stopped at the per-cycle item cap; more is waiting.
    pub capped: bool,
}

/// Processes one message under a savepoint: a store error rolls back only this
/// message, which is then kept whole as a failed item.
pub fn process_one(
    conn: &Connection,
    ctx: &MailboxContext,
    raw: &[u8],
    src: &Source,
) -> Result<(Outcome, bool)> {
    conn.execute_batch("SAVEPOINT item").map_err(CoreError::from)?;
    match process::process(conn, ctx, raw, src) {
        Ok(p) => {
            conn.execute_batch("RELEASE item").map_err(CoreError::from)?;
            Ok((p.outcome, p.created))
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO item; RELEASE item").map_err(CoreError::from)?;
            warn!(mailbox = %ctx.mailbox.data.email, item = %src.item_ref, error = %e, "message failed");
            process::fail_item(
                conn,
                ctx,
                raw,
                src,
                "EMAIL_PROCESSING_FAILED",
                &format!("message {} could not be stored: {e}; kept whole", src.item_ref),
            )?;
            Ok((Outcome::Failed, false))
        }
    }
}

/// Counts one message of a pass.
pub fn tally(stats: &mut SyncStats, outcome: Outcome, created: bool) {
    stats.processed += 1;
    match outcome {
        Outcome::Tracked => stats.tracked += 1,
        Outcome::Failed => stats.failed += 1,
        Outcome::NotTracked => {}
    }
    if created {
        stats.created += 1;
    }
}

/// Queue and forward mailboxes mark what they tracked \\Seen (a user's own mail stays unread).
pub fn machine_mailbox(ctx: &MailboxContext) -> bool {
    ctx.owner.record_type == RecordType::Queue || ctx.mailbox.data.is_forward_mailbox
}
