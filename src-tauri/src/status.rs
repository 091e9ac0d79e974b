//! Mailbox health as the shell shows it, and the pure reductions over it: the
//! tray state and the summary counts. Nothing here touches Tauri or the store.
//!
//! `Health` is the engine's own (`crmsync_core::health`, the `EngineEvent`
//! contract); [`health_of`] is the engine's own reading of a stored mailbox.

pub use crmsync_core::health::{DISABLED_BY_ADMIN, Health};
#[cfg(test)]
use crmsync_core::model::ChannelStatus;
use crmsync_core::model::Mailbox;

use crate::shell::{MailboxCounts, TrayState};

/// Rank for "worst first" ordering of the window's lists (higher is worse).
pub fn severity(h: Health) -> u8 {
    match h {
        Health::Error => 5,
        Health::Disabled => 4,
        Health::Warning => 3,
        Health::NotConfigured => 2,
        Health::Syncing => 1,
        Health::Ok => 0,
    }
}

/// Health of a mailbox: the engine's own reading of the stored mailbox
/// (`crmsync_core::health`), the same the `EngineEvent` stream reports.
/// `disabled` means disabled by the admin; a mailbox the engine stopped shows
/// as `error`.
pub fn health_of(mb: &Mailbox) -> Health {
    crmsync_core::health::health(mb)
}

/// Summary counts: OK (ok or syncing) and failing (error).
pub fn counts<I: IntoIterator<Item = Health>>(healths: I) -> MailboxCounts {
    let mut c = MailboxCounts::default();
    for h in healths {
        match h {
            Health::Ok | Health::Syncing => c.ok += 1,
            Health::Error => c.failing += 1,
            _ => {}
        }
    }
    c
}

/// The tray state: the worst mailbox health, unless scheduling is paused.
/// Error beats warning (a mailbox disabled after failures counts as a
/// warning: it needs the admin but no longer fails), warning beats syncing.
pub fn tray_state<I: IntoIterator<Item = Health>>(healths: I, paused: bool) -> TrayState {
    if paused {
        return TrayState::Paused;
    }
    let mut worst = TrayState::Ok;
    for h in healths {
        let s = match h {
            Health::Error => TrayState::Error,
            Health::Warning | Health::Disabled => TrayState::Warning,
            Health::Syncing => TrayState::Syncing,
            Health::Ok | Health::NotConfigured => TrayState::Ok,
        };
        if rank(s) > rank(worst) {
            worst = s;
        }
    }
    worst
}

fn rank(s: TrayState) -> u8 {
    match s {
        TrayState::Ok => 0,
        TrayState::Syncing => 1,
        TrayState::Warning => 2,
        TrayState::Error => 3,
        TrayState::Paused => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::mailbox;

    #[test]
    fn tray_shows_the_worst_health() {
        use Health::*;
        let cases: &[(&[Health], TrayState)] = &[
            (&[], TrayState::Ok),
            (&[Ok, NotConfigured], TrayState::Ok),
            (&[Ok, Syncing], TrayState::Syncing),
            (&[Syncing, Warning, Ok], TrayState::Warning),
            (&[Disabled], TrayState::Warning),
            (&[Warning, Error, Syncing], TrayState::Error),
        ];
        for (healths, expected) in cases {
            assert_eq!(tray_state(healths.iter().copied(), false), *expected, "{healths:?}");
            assert_eq!(tray_state(healths.iter().copied(), true), TrayState::Paused);
        }
    }

    #[test]
    fn counts_ok_and_failing() {
        use Health::*;
        let c = counts([Ok, Ok, Syncing, Error, Warning, Disabled, NotConfigured]);
        assert_eq!(c, MailboxCounts { ok: 3, failing: 1 });
    }

    #[test]
    fn health_from_the_mailbox_view() {
        let mut mb = mailbox("a@example.com");
        assert_eq!(health_of(&mb), Health::NotConfigured);
        mb.incoming.status = ChannelStatus::Success;
        mb.incoming.enabled = true;
        assert_eq!(health_of(&mb), Health::Ok);
        mb.telemetry.processing_state = "syncing".into();
        assert_eq!(health_of(&mb), Health::Syncing);
        mb.telemetry.processing_state = "idle".into();
        mb.telemetry.last_error = Some(crmsync_core::model::LastError {
            code: "IMAP_TIMEOUT".into(),
            message: "timed out".into(),
            at: chrono::Utc::now(),
        });
        mb.telemetry.transient_failures = 2;
        assert_eq!(health_of(&mb), Health::Warning, "retrying");
        mb.incoming.enabled = false;
        mb.telemetry.disabled_reason = Some("IMAP_AUTH_FAILED".into());
        assert_eq!(health_of(&mb), Health::Error, "stopped by the engine is failing");
        mb.telemetry.disabled_reason = Some(crmsync_core::health::DISABLED_BY_ADMIN.into());
        assert_eq!(health_of(&mb), Health::Disabled, "disabled by the admin");
    }

    #[test]
    fn severity_orders_failing_first() {
        let mut hs = [Health::Ok, Health::Error, Health::Syncing, Health::Disabled, Health::Warning];
        hs.sort_by_key(|h| std::cmp::Reverse(severity(*h)));
        assert_eq!(hs[0], Health::Error);
        assert_eq!(hs[4], Health::Ok);
    }
}
