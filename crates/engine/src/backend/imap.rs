//! The IMAP backend: a mail source (the pass is in [`super::imap_pass`]),
//! IDLE watching, and the Sent folder of an IMAP + SMTP profile.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crmsync_core::Store;
use crmsync_protocols::settings::ServerSettings;
use crmsync_protocols::{IdleOutcome, ImapClient, ProtocolError, SpecialUse};
use futures::future::BoxFuture;
use tracing::{info, warn};

use super::capability::{Fut, Incoming, MailSource, SentFolder, SentItems, WatchEnd, WatchEvent};
use crate::ingest::batch::SyncStats;
use crate::ingest::process::MailboxContext;

/// A mailbox's IMAP server as a mail source.
pub struct ImapSource {
    settings: ServerSettings,
}

impl ImapSource {
    /// The source for these connection settings.
    pub fn new(settings: ServerSettings) -> ImapSource {
        ImapSource { settings }
    }
}

impl MailSource for ImapSource {
    fn describe(&self) -> String {
        format!("IMAP {}:{}", self.settings.host, self.settings.port)
    }

    fn probe(&self, login: bool) -> Fut<'_, Incoming> {
        Box::pin(async move {
            if !login {
                ImapClient::probe(&self.settings).await?;
                return Ok(Incoming::Answered);
            }
            let mut c = ImapClient::connect(&self.settings).await?;
            let st = c.select("INBOX").await?;
            let _ = c.logout().await;
            Ok(Incoming::Mailbox { messages: st.exists })
        })
    }

    fn pass<'a>(&'a self, store: &'a mut Store, ctx: &'a MailboxContext) -> Fut<'a, SyncStats> {
        Box::pin(super::imap_pass::sync_imap(store, ctx, &self.settings))
    }

    fn watch<'a>(
        &'a self,
        max_wait: Duration,
        event: &'a (dyn Fn(WatchEvent) + Send + Sync),
        stop: &'a AtomicBool,
    ) -> Fut<'a, WatchEnd> {
        Box::pin(async move {
            let mut client = ImapClient::connect(&self.settings).await?;
            if !client.capabilities().idle {
                let _ = client.logout().await;
                return Ok(WatchEnd::Unsupported);
            }
            client.select("INBOX").await?;
            event(WatchEvent::Up);
            while !stop.load(Ordering::SeqCst) {
                if client.idle_wait(max_wait).await? == IdleOutcome::NewMail {
                    event(WatchEvent::NewMail);
                }
            }
            let _ = client.logout().await;
            Ok(WatchEnd::Stopped)
        })
    }
}

/// The Sent folder on a profile's IMAP server.
pub struct ImapSentItems {
    settings: ServerSettings,
}

impl ImapSentItems {
    /// The Sent folder reached with these connection settings.
    pub fn new(settings: ServerSettings) -> ImapSentItems {
        ImapSentItems { settings }
    }
}

impl SentItems for ImapSentItems {
    fn open(&self) -> Fut<'_, Box<dyn SentFolder>> {
        Box::pin(async move {
            let mut client = ImapClient::connect(&self.settings).await?;
            let folder =
                client.find_special_use(SpecialUse::Sent).await?.unwrap_or_else(|| "Sent".to_string());
            Ok(Box::new(ImapSentFolder { client, folder }) as Box<dyn SentFolder>)
        })
    }
}

/// An open IMAP session on the Sent folder (the \Sent special-use folder, else "Sent").
struct ImapSentFolder {
    client: ImapClient,
    folder: String,
}

impl ImapSentFolder {
    /// Creates the missing Sent folder (with the `\\Sent` special use where
    /// the server supports CREATE-SPECIAL-USE) and subscribes to it, so the
    /// user's mail client shows it. False when the server refused to create it
    /// (the reason is logged; the copy is then not filed).
    async fn create(&mut self) -> bool {
        let folder = self.folder.clone();
        match self.client.create_folder(&folder, Some(SpecialUse::Sent)).await {
            Ok(special_use) => {
                info!(folder = %folder, special_use, "created the missing Sent folder");
                if let Err(e) = self.client.subscribe(&folder).await {
                    warn!(folder = %folder, "created the Sent folder but could not subscribe to it: {e}");
                }
                true
            }
            // Created meanwhile by someone else (a mail client, another pass).
            Err(ProtocolError::CommandFailed { detail, .. })
                if detail.to_ascii_uppercase().contains("ALREADYEXISTS") =>
            {
                true
            }
            Err(e) => {
                warn!(folder = %folder, "the Sent folder does not exist and cannot be created: {e}");
                false
            }
        }
    }
}

impl SentFolder for ImapSentFolder {
    fn name(&self) -> &str {
        &self.folder
    }

    fn holds<'a>(&'a mut self, message_id: &'a str) -> Fut<'a, bool> {
        Box::pin(async move {
            if self.client.selected() != Some(self.folder.as_str()) {
                match self.client.select(&self.folder).await {
                    Ok(_) => {}
                    Err(ProtocolError::MailboxNotFound { .. }) => {
                        info!(folder = %self.folder, message_id, "no Sent folder: the message is not filed there");
                        return Ok(false);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(!self.client.search_header("Message-ID", message_id).await?.is_empty())
        })
    }

    fn file<'a>(&'a mut self, raw: &'a [u8]) -> BoxFuture<'a, std::result::Result<(), ProtocolError>> {
        Box::pin(async move {
            match self.client.append(&self.folder, &["\\Seen"], raw).await {
                Err(missing @ ProtocolError::MailboxNotFound { .. }) => {
                    if !self.create().await {
                        return Err(missing);
                    }
                    self.client.append(&self.folder, &["\\Seen"], raw).await.map(|_| ())
                }
                other => other.map(|_| ()),
            }
        })
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = self.client.logout().await;
        })
    }
}
