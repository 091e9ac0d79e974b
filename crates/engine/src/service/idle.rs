//! Watchers (IMAP IDLE): one long-lived connection per watched mailbox,
//! holding one of the profile's connection permits, that tells the scheduler
//! when new mail arrives so it is synced within seconds instead of at the
//! next poll. The watching itself is the mail source's
//! [`crate::backend::MailSource::watch`].

use std::sync::Arc;
use std::time::Duration;

use crmsync_core::Store;
use crmsync_core::store::{mailboxes, profiles};
use tokio::sync::OwnedSemaphorePermit;

use super::shared::Msg;
use super::shared::Shared;
use crate::backend::{WatchEnd, WatchEvent, factory};
use crate::error::Result;

/// Watches the Inbox of a mailbox until an error (or until aborted).
pub(crate) async fn watch(
    shared: Arc<Shared>,
    mailbox_id: i64,
    email: String,
    wait: Duration,
    permit: OwnedSemaphorePermit,
) {
    let r = run(&shared, mailbox_id, wait).await;
    drop(permit);
    let (unsupported, error) = match r {
        Ok(unsupported) => (unsupported, None),
        Err(e) => (false, Some(format!("{email}: {e}"))),
    };
    let _ = shared.tx.send(Msg::IdleEnded { mailbox_id, unsupported, error });
}

/// Ok(true) when the server cannot push new mail.
async fn run(shared: &Shared, mailbox_id: i64, wait: Duration) -> Result<bool> {
    let source = {
        let store = Store::open(&shared.db)?;
        let mb = mailboxes::get_by_id(store.conn(), mailbox_id)?;
        let profile = profiles::get_by_id(store.conn(), mb.data.profile_id)?;
        factory::mail_source(&store, &mb, &profile)?
    };
    let event = |e: WatchEvent| {
        let msg = match e {
            WatchEvent::Up => Msg::IdleUp { mailbox_id },
            WatchEvent::NewMail => Msg::IdleNews { mailbox_id },
        };
        let _ = shared.tx.send(msg);
    };
    Ok(source.watch(wait, &event, &shared.stopping).await? == WatchEnd::Unsupported)
}
