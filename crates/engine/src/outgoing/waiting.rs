//! Mail that waits in Pending Send because its mailbox cannot send (outgoing
//! not enabled or not server-side, mailbox not approved, a profile without an
//! outgoing server) is never silent: the mailbox gets one `OUTGOING_WAITING`
//! Warning naming how many emails wait and why, each waiting email carries
//! the reason as its last error, and both clear once the mail can go out or
//! the queue is empty.

use std::collections::HashMap;

use crmsync_core::Store;
use crmsync_core::model::Severity;
use crmsync_core::settings::{BoolSetting, Settings};
use crmsync_core::store::alerts::{self, NewAlert, Scope};
use crmsync_core::store::{mailboxes, outbox, profiles};
use crmsync_core::time::now_db;
use tracing::{info, warn};

use super::cycle::outgoing_due;
use crate::error::Result;

/// The alert code of mail waiting on a mailbox that cannot send.
pub const OUTGOING_WAITING: &str = "OUTGOING_WAITING";

/// How a waiting email's last error starts.
const NOTE_PREFIX: &str = "waits: ";

/// Raises, updates or resolves the `OUTGOING_WAITING` alert of every mailbox
/// and marks its waiting emails (store only, no connection). Writes only
/// when something changed.
pub fn review(store: &mut Store, settings: &Settings) -> Result<()> {
    let now = now_db();
    let counts: HashMap<i64, i64> = outbox::due_counts(store.conn(), &now)?.into_iter().collect();
    let require_approval = settings.bool(BoolSetting::IncomingRequireApproval);
    let record = settings.bool(BoolSetting::AlertsRecordWarnings);
    let profiles: HashMap<i64, _> = profiles::list(store.conn())?.into_iter().map(|p| (p.id, p)).collect();
    for mb in mailboxes::list(store.conn())? {
        let open = alerts::open_on_mailbox(store.conn(), mb.id, OUTGOING_WAITING)?;
        let waiting = counts.get(&mb.id).copied().unwrap_or(0);
        let why = match profiles.get(&mb.data.profile_id) {
            Some(profile) if waiting > 0 => outgoing_due(&mb, profile, require_approval),
            _ => None,
        };
        let id = mb.id;
        match why {
            Some((code, why)) => {
                let emails =
                    if waiting == 1 { "1 email waits".to_string() } else { format!("{waiting} emails wait") };
                let message = format!("{emails} in Pending Send and cannot go out: {why} ({code})");
                let note = format!("{NOTE_PREFIX}{why} ({code})");
                if open.as_ref().is_some_and(|(_, m)| *m == message) {
                    continue;
                }
                warn!(mailbox = %mb.data.email, code = OUTGOING_WAITING, "{message}");
                store.write(|tx| -> Result<()> {
                    if record {
                        let alert = NewAlert {
                            severity: Severity::Warning,
                            scope: Scope::Mailbox(id),
                            code: OUTGOING_WAITING.into(),
                            message: message.clone(),
                        };
                        alerts::raise(tx, &alert)?;
                    }
                    outbox::note_waiting(tx, id, &now, &note)?;
                    Ok(())
                })?;
            }
            None if open.is_some() => {
                info!(mailbox = %mb.data.email, "no more email waits on this mailbox");
                store.write(|tx| -> Result<()> {
                    alerts::resolve_on_mailbox(tx, id, OUTGOING_WAITING)?;
                    outbox::clear_waiting_note(tx, id, NOTE_PREFIX)?;
                    Ok(())
                })?;
            }
            None => {}
        }
    }
    Ok(())
}
