//! The pass's work on the Sent folder (any backend's [`SentFolder`]):
//! interrupted sends looked up by Message-ID before any resend (phase 1),
//! and the Sent copies filed (phases 1 and 3).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use crmsync_core::Store;
use crmsync_core::model::Severity;
use crmsync_core::store::outbox::{self, SentCopy};
use crmsync_core::time::{from_db, now, now_db};
use crmsync_protocols::ProtocolError;
use crmsync_protocols::compose::compose;
use tracing::info;

use super::message::outgoing_message;
use super::pass::{Ctx, OutgoingSync};
use crate::backend::SentFolder;
use crate::error::Result;

/// Mail left in Sending since before the retry interval (a stopped pass, or
/// a lost final reply): look for it in the Sent folder; found → Sent (never
/// sent twice), absent (or no Sent folder) → sent again, once, with a warning.
pub(super) async fn recover_stuck(
    store: &mut Store,
    ctx: &Ctx,
    sent: &mut dyn SentFolder,
    stuck: &[i64],
    report: &mut OutgoingSync,
) -> Result<()> {
    for &id in stuck {
        let o = outbox::load(store.conn(), id)?;
        if sent.holds(&o.message_id).await? {
            info!(id, message_id = %o.message_id, "interrupted send found in the Sent folder");
            store.write(|tx| outbox::mark_sent(tx, id, &now_db(), SentCopy::Saved))?;
            report.recovered += 1;
        } else {
            let note = "the send was interrupted (crmsync stopped, or the server's reply never came) and no copy \
                        is in the Sent folder: sending again";
            store.write(|tx| -> Result<()> {
                outbox::requeue_interrupted(tx, id, note)?;
                ctx.item_alert(
                    tx,
                    id,
                    Severity::Warning,
                    "SEND_INTERRUPTED",
                    &format!(
                        "email {id} ({}) was being sent when crmsync stopped or the server's reply was lost, and is not \
                         in the Sent folder; it is sent again. If the server had accepted it, the recipients get it \
                         twice (same Message-ID).",
                        o.message_id
                    ),
                )
            })?;
            report.resent += 1;
        }
    }
    Ok(())
}

/// Without a Sent folder (POP3 + SMTP) there is nothing to ask: interrupted sends are not
/// guessed at. They become Failed with `SEND_OUTCOME_UNKNOWN`; the admin checks
/// with the recipient and resubmits (`crmsync email submit ID`) if needed.
pub(super) fn unverifiable(store: &mut Store, ctx: &Ctx, stuck: &[i64], old_copies: &[i64]) -> Result<()> {
    let now_s = now_db();
    store.write(|tx| -> Result<()> {
        for &id in stuck {
            let why = "SEND_OUTCOME_UNKNOWN: the send was interrupted and this profile has no Sent folder to check; \
                       the server may or may not have accepted it";
            outbox::mark_failed(tx, id, why, &now_s)?;
            ctx.item_alert(
                tx,
                id,
                Severity::Error,
                "SEND_OUTCOME_UNKNOWN",
                &format!("email {id}: {why}. Check with the recipient; `crmsync email submit {id}` sends it again."),
            )?;
        }
        for &id in old_copies {
            outbox::mark_copy(tx, id, SentCopy::None)?;
        }
        Ok(())
    })
}

/// Appends the Sent copies of `ids`. Copies not sent in this pass (`fresh`)
/// are looked up first: an earlier run may have appended them just before a crash.
pub(super) async fn file_copies(
    store: &mut Store,
    ctx: &Ctx,
    sent: &mut dyn SentFolder,
    ids: &[i64],
    fresh: &HashSet<i64>,
    report: &mut OutgoingSync,
) -> Result<()> {
    for &id in ids {
        let o = outbox::load(store.conn(), id)?;
        if !fresh.contains(&id) && sent.holds(&o.message_id).await? {
            store.write(|tx| outbox::mark_copy(tx, id, SentCopy::Saved))?;
            continue;
        }
        let date: DateTime<Utc> =
            o.sent_on.as_deref().and_then(|s| from_db("sent_on", s).ok()).unwrap_or_else(now);
        let raw = compose(&outgoing_message(&o, &ctx.settings, date), true);
        match sent.file(&raw).await {
            Ok(()) => {
                store.write(|tx| outbox::mark_copy(tx, id, SentCopy::Saved))?;
                report.copies_saved += 1;
            }
            Err(e @ ProtocolError::MailboxNotFound { .. }) => {
                let folder = sent.name().to_string();
                store.write(|tx| -> Result<()> {
                    outbox::mark_copy(tx, id, SentCopy::None)?;
                    ctx.item_alert(
                        tx,
                        id,
                        Severity::Warning,
                        "SENT_FOLDER_MISSING",
                        &format!(
                            "email {id} was sent, but no copy could be filed: '{folder}' does not exist and the \
                             server refused to create it ({e})"
                        ),
                    )
                })?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
