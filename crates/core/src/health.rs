//! Mailbox health: one word per mailbox for the tray icon, `crmsync status` and
//! the admin window, derived from the stored mailbox alone (so it is the same
//! whether or not the service is running).

use serde::{Deserialize, Serialize};

use crate::model::{ChannelMethod, ChannelStatus, IncomingMethod, Mailbox};

/// The reason code `mailbox disable` stores.
pub const DISABLED_BY_ADMIN: &str = "DISABLED_BY_ADMIN";
/// The reason code the engine stores when it stops a mailbox after
/// `backoff.max_transient_failures` consecutive transient failures; such
/// mailboxes are re-tested by recovery.
pub const TRANSIENT_FAILURES: &str = "TRANSIENT_FAILURES";

/// How a mailbox is doing.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Enabled and its last sync worked.
    Ok,
    /// A sync is running right now.
    Syncing,
    /// Working, but the last attempt failed and will be retried (transient), or
    /// a channel reported an error.
    Warning,
    /// Stopped by the engine after an error (permanent, or too many transient
    /// failures), or every configured channel failed Test & Enable.
    Error,
    /// Stopped by the admin (`crmsync mailbox disable`).
    Disabled,
    /// Nothing to do: no server-side channel, or never enabled.
    NotConfigured,
}

impl Health {
    /// Every value, in order of severity for display.
    pub const ALL: [Health; 6] = [
        Health::Ok,
        Health::Syncing,
        Health::Warning,
        Health::Error,
        Health::Disabled,
        Health::NotConfigured,
    ];

    /// The snake_case word used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Syncing => "syncing",
            Health::Warning => "warning",
            Health::Error => "error",
            Health::Disabled => "disabled",
            Health::NotConfigured => "not_configured",
        }
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The health of a mailbox, from its stored state alone.
pub fn health(mb: &Mailbox) -> Health {
    let configured = [
        (mb.data.incoming_method == IncomingMethod::ServerSide, &mb.incoming),
        (mb.data.outgoing_method == ChannelMethod::ServerSide, &mb.outgoing),
        (mb.data.act_method == ChannelMethod::ServerSide, &mb.act),
    ];
    let channels: Vec<_> = configured.iter().filter(|(on, _)| *on).map(|(_, c)| *c).collect();
    if channels.is_empty() {
        return Health::NotConfigured;
    }
    let any_enabled = channels.iter().any(|c| c.enabled);
    let t = &mb.telemetry;
    match t.disabled_reason.as_deref() {
        Some(DISABLED_BY_ADMIN) if !any_enabled => return Health::Disabled,
        Some(DISABLED_BY_ADMIN) | None => {}
        Some(_) => return Health::Error,
    }
    if !any_enabled {
        return if channels.iter().any(|c| c.status == ChannelStatus::Failure) {
            Health::Error
        } else {
            Health::NotConfigured
        };
    }
    if t.processing_state == "syncing" {
        return Health::Syncing;
    }
    if t.transient_failures > 0 || t.last_error.is_some() {
        return Health::Warning;
    }
    Health::Ok
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::model::{Approval, ChannelState, LastError, MailboxData, Owner, Telemetry, TrackFilter};

    fn mailbox() -> Mailbox {
        let ch = |enabled, status| ChannelState { enabled, status };
        Mailbox {
            id: 1,
            data: MailboxData {
                email: "anna@contoso.test".into(),
                owner: Owner::User { id: 1, name: "Anna".into() },
                profile_id: 1,
                username: None,
                incoming_method: IncomingMethod::ServerSide,
                outgoing_method: ChannelMethod::None,
                act_method: ChannelMethod::None,
                track: TrackFilter::All,
                process_from: None,
                delete_after_processing: false,
                is_forward_mailbox: false,
                track_folders: Vec::new(),
            },
            profile: "Office".into(),
            has_password: true,
            credentials_required: false,
            approval: Approval::Approved,
            incoming: ch(true, ChannelStatus::Success),
            outgoing: ch(false, ChannelStatus::NotRun),
            act: ch(false, ChannelStatus::NotRun),
            last_test_on: None,
            first_enabled_on: None,
            telemetry: Telemetry {
                processing_state: "idle".into(),
                last_sync_started: None,
                last_sync_succeeded: None,
                next_poll: None,
                items_processed: 0,
                items_failed: 0,
                transient_failures: 0,
                last_error: None,
                average_duration_ms: None,
                disabled_reason: None,
            },
            created_on: Utc::now(),
            modified_on: Utc::now(),
        }
    }

    fn err() -> Option<LastError> {
        Some(LastError { code: "TIMEOUT".into(), message: "slow".into(), at: Utc::now() })
    }

    #[test]
    fn health_table() {
        type Change = Box<dyn Fn(&mut Mailbox)>;
        let cases: Vec<(&str, Change, Health)> = vec![
            ("enabled, no error", Box::new(|_| {}), Health::Ok),
            ("syncing", Box::new(|m| m.telemetry.processing_state = "syncing".into()), Health::Syncing),
            (
                "transient failure being retried",
                Box::new(|m| {
                    m.telemetry.transient_failures = 2;
                    m.telemetry.last_error = err();
                }),
                Health::Warning,
            ),
            (
                "disabled by the engine (permanent)",
                Box::new(|m| {
                    m.incoming.enabled = false;
                    m.telemetry.disabled_reason = Some("IMAP_AUTH_FAILED".into());
                }),
                Health::Error,
            ),
            (
                "disabled by transient failures",
                Box::new(|m| {
                    m.incoming.enabled = false;
                    m.telemetry.disabled_reason = Some(TRANSIENT_FAILURES.into());
                }),
                Health::Error,
            ),
            (
                "disabled by the admin",
                Box::new(|m| {
                    m.incoming.enabled = false;
                    m.telemetry.disabled_reason = Some(DISABLED_BY_ADMIN.into());
                }),
                Health::Disabled,
            ),
            (
                "Test & Enable failed",
                Box::new(|m| m.incoming = ChannelState { enabled: false, status: ChannelStatus::Failure }),
                Health::Error,
            ),
            (
                "never tested",
                Box::new(|m| m.incoming = ChannelState { enabled: false, status: ChannelStatus::NotRun }),
                Health::NotConfigured,
            ),
            (
                "no server-side channel",
                Box::new(|m| m.data.incoming_method = IncomingMethod::Forward),
                Health::NotConfigured,
            ),
        ];
        for (what, change, want) in cases {
            let mut m = mailbox();
            change(&mut m);
            assert_eq!(health(&m), want, "{what}");
        }
    }

    #[test]
    fn health_serializes_snake_case_and_keys_a_map() {
        assert_eq!(serde_json::to_string(&Health::NotConfigured).unwrap(), "\"not_configured\"");
        let m: std::collections::BTreeMap<Health, usize> = Health::ALL.iter().map(|h| (*h, 1)).collect();
        let s = serde_json::to_string(&m).unwrap();
        assert!(s.starts_with("{\"ok\":1,\"syncing\":1"), "{s}");
        for h in Health::ALL {
            assert_eq!(serde_json::to_value(h).unwrap(), h.as_str());
        }
    }
}
