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
