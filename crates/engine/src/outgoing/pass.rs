//! What one outgoing pass over a mailbox works with ([`Ctx`]) and reports
//! ([`OutgoingSync`]); below the pass, its claims and its Sent-folder work,
//! which all use both.

use crmsync_core::model::{Mailbox, Profile, Severity};
use crmsync_core::settings::{BoolSetting, Settings};
use crmsync_core::store::alerts::{self, NewAlert, Scope};
use serde::Serialize;

use crate::error::Result;
use crate::outcome::{RunCounts, RunOutcome};

/// The result of one outgoing pass for one mailbox.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OutgoingSync {
    /// Mailbox address.
    pub mailbox: String,
    /// How it ended (`result`, `code`, `message` in JSON): ok, failed (a
    /// mailbox-level failure: the mail waits) or skipped.
    #[serde(flatten)]
    pub outcome: RunOutcome,
    /// Emails the server accepted.
    pub sent: i64,
    /// Emails that failed for good (5xx, or attempts used up).
    pub failed: i64,
    /// Emails that will be retried (transient failure).
    pub retried: i64,
    /// Emails found in the Sent folder after an interrupted send (not sent again).
    pub recovered: i64,
    /// Emails interrupted while sending and not in the Sent folder: sent again.
    pub resent: i64,
    /// Emails handed to the server whose reply never came (delivery unknown):
    /// left in Sending, looked up in the Sent folder before any resend.
    pub unconfirmed: i64,
    /// Sent copies filed in the Sent folder.
    pub copies_saved: i64,
    /// Stopped at the per-cycle cap; more is waiting.
    pub capped: bool,
}

impl OutgoingSync {
    pub(super) fn new(mailbox: &str) -> OutgoingSync {
        OutgoingSync { mailbox: mailbox.to_string(), ..Default::default() }
    }

    /// The counts of a pass that ran to the end.
    pub(super) fn counts(&self) -> RunCounts {
        RunCounts {
            processed: self.sent + self.failed + self.retried + self.recovered + self.resent,
            created: self.sent + self.resent,
            failed: self.failed,
            capped: self.capped,
        }
    }
}

/// What a pass over one mailbox works with.
pub(super) struct Ctx {
    pub(super) mailbox: Mailbox,
    pub(super) profile: Profile,
    pub(super) settings: Settings,
}

impl Ctx {
    /// Raises an item alert on email `id`, when alerts of `severity` are recorded.
    pub(super) fn item_alert(
        &self,
        conn: &rusqlite::Connection,
        id: i64,
        severity: Severity,
        code: &str,
        message: &str,
    ) -> Result<()> {
        let record = match severity {
            Severity::Error => self.settings.bool(BoolSetting::AlertsRecordErrors),
            Severity::Warning => self.settings.bool(BoolSetting::AlertsRecordWarnings),
            Severity::Info => self.settings.bool(BoolSetting::AlertsRecordInfo),
        };
        if record {
            alerts::raise(
                conn,
                &NewAlert {
                    severity,
                    scope: Scope::Item { mailbox_id: self.mailbox.id, activity_id: Some(id), item_ref: None },
                    code: code.into(),
                    message: message.into(),
                },
            )?;
        }
        Ok(())
    }
}
