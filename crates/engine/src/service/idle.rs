//! IMAP IDLE watchers: one long-lived connection per watched mailbox, holding
//! one of the profile's connection permits, that tells the scheduler when new
//! mail arrives so it is synced within seconds instead of at the next poll.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crmsync_core::Store;
use crmsync_core::store::{mailboxes, profiles};
use crmsync_protocols::{IdleOutcome, ImapClient};
use tokio::sync::OwnedSemaphorePermit;

use super::shared::Msg;
use super::shared::Shared;
use crate::connect;
use crate::error::{EngineError, Result};

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

/// Ok(true) when the server has no IDLE.
async fn run(shared: &Shared, mailbox_id: i64, wait: Duration) -> Result<bool> {
    let settings = {
        let store = Store::open(&shared.db)?;
        let mb = mailboxes::get_by_id(store.conn(), mailbox_id)?;
        let profile = profiles::get_by_id(store.conn(), mb.data.profile_id)?;
        let ep = profile.data.incoming.clone().ok_or_else(|| {
            EngineError::Unsupported(format!("profile '{}' has no incoming server", profile.data.name))
        })?;
        connect::server_settings(&store, &mb, &profile, &ep)?
    };
    let mut client = ImapClient::connect(&settings).await?;
    if !client.capabilities().idle {
        let _ = client.logout().await;
        return Ok(true);
    }
    client.select("INBOX").await?;
    let _ = shared.tx.send(Msg::IdleUp { mailbox_id });
    while !shared.stopping.load(Ordering::SeqCst) {
        if client.idle_wait(wait).await? == IdleOutcome::NewMail {
            let _ = shared.tx.send(Msg::IdleNews { mailbox_id });
        }
    }
    let _ = client.logout().await;
    Ok(false)
}
