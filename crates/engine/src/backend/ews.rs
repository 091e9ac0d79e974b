//! The Exchange (EWS) backend: a mail source (the pass is in
//! [`super::ews_pass`]), a sender (CreateItem with SendAndSaveCopy) and the
//! Sent Items folder it is looked up in. One [`EwsTarget`] says how a mailbox
//! is reached: the profile's EWS URL or autodiscover, the login, and, for a
//! service account, `ExchangeImpersonation` of the mailbox's SMTP address.

use std::sync::Mutex;
use std::time::Duration;

use crmsync_core::Store;
use crmsync_core::model::{CredentialSource, Mailbox, Profile};
use crmsync_protocols::ProtocolError;
use crmsync_protocols::ews::{
    AutodiscoverSettings, BaseShape, CreateItem, Discovered, DistinguishedFolder, EwsAuth, EwsClient,
    EwsSettings, FindItem, GetFolder, Item, ItemCommon, Message, MessageDisposition, discover_ews_url,
};
use crmsync_protocols::settings::Password;
use futures::future::BoxFuture;
use tracing::info;

use super::capability::{Fut, Incoming, MailSender, MailSource, PendingReply, SentFolder, SentItems};
use crate::connect;
use crate::error::Result;
use crate::ingest::batch::SyncStats;
use crate::ingest::process::MailboxContext;

/// How one mailbox is reached over EWS.
#[derive(Debug, Clone)]
pub struct EwsTarget {
    /// The profile's EWS URL; None: found by autodiscover for `email`.
    pub url: Option<String>,
    /// The mailbox's SMTP address.
    pub email: String,
    /// Login.
    pub auth: EwsAuth,
    /// `ExchangeImpersonation` as this SMTP address (service-account profiles).
    pub impersonate: Option<String>,
    /// Allow a plaintext `http://` URL.
    pub allow_insecure: bool,
    /// Timeout of connecting and of every request.
    pub timeout: Duration,
    /// Largest message downloaded (`incoming.max_message_size_mb`).
    pub max_mime_bytes: u64,
}

impl EwsTarget {
    /// The target of `mailbox` on `profile`, with its stored credentials.
    /// A service account (`credentials = profile`) impersonates the mailbox
    /// unless it is the mailbox itself. Exchange on premises logs in with NTLM.
    pub fn of(store: &Store, mailbox: &Mailbox, profile: &Profile) -> Result<EwsTarget> {
        let (user, password) = connect::credentials(store, mailbox, profile)?;
        let impersonate = (profile.data.credentials == CredentialSource::Profile
            && !user.eq_ignore_ascii_case(&mailbox.data.email))
        .then(|| mailbox.data.email.clone());
        Ok(EwsTarget {
            url: profile.data.ews_url.clone(),
            email: mailbox.data.email.clone(),
            auth: EwsAuth::Ntlm { user, password },
            impersonate,
            allow_insecure: profile.data.allow_insecure,
            timeout: Duration::from_secs(u64::from(profile.data.timeout)),
            max_mime_bytes: connect::max_message_bytes(store)?,
        })
    }

    /// The target of `profile` logging in as `user` (Test Connection, whose
    /// credentials may be typed for the test), impersonating `impersonate`.
    pub fn for_test(
        profile: &Profile,
        user: &str,
        password: Password,
        impersonate: Option<String>,
    ) -> EwsTarget {
        EwsTarget {
            url: profile.data.ews_url.clone(),
            email: impersonate.clone().unwrap_or_else(|| user.to_string()),
            auth: EwsAuth::Ntlm { user: user.to_string(), password },
            impersonate,
            allow_insecure: profile.data.allow_insecure,
            timeout: Duration::from_secs(u64::from(profile.data.timeout)),
            max_mime_bytes: crmsync_protocols::settings::DEFAULT_MAX_MESSAGE_BYTES,
        }
    }

    /// A client for the mailbox (impersonating it when the target says so),
    /// and how its URL was found when autodiscover found it.
    pub async fn client(&self) -> Result<(EwsClient, Option<Discovered>)> {
        let (url, found) = match &self.url {
            Some(u) => (u.clone(), None),
            None => {
                let d = discover_ews_url(&AutodiscoverSettings {
                    email: self.email.clone(),
                    auth: self.auth.clone(),
                    base_url: None,
                    allow_insecure: false,
                    timeout: self.timeout,
                    extra_roots: Vec::new(),
                })
                .await?;
                info!(mailbox = %self.email, found = %d.describe(), "autodiscover");
                (d.ews_url.clone(), Some(d))
            }
        };
        Ok((self.client_for(url)?, found))
    }

    /// A client for the mailbox at the profile's EWS URL, without
    /// autodiscover (None when the profile has no URL): the item store of
    /// ACT sync, which is made outside an async context.
    pub fn client_at_url(&self) -> Result<Option<EwsClient>> {
        self.url.clone().map(|u| self.client_for(u)).transpose()
    }

    fn client_for(&self, url: String) -> Result<EwsClient> {
        let mut s = EwsSettings::new(url, self.auth.clone());
        s.allow_insecure = self.allow_insecure;
        s.timeout = self.timeout;
        s.max_mime_bytes = self.max_mime_bytes;
        let client = EwsClient::new(&s)?;
        Ok(client.impersonating(self.impersonate.as_deref()))
    }

    fn describe(&self, found: Option<&Discovered>) -> String {
        let mut s = match (found, &self.url) {
            (Some(d), _) => format!("EWS {}", d.describe()),
            (None, Some(u)) => format!("EWS {u}"),
            (None, None) => format!("EWS (autodiscover for {})", self.email),
        };
        if let Some(m) = &self.impersonate {
            s.push_str(&format!(" impersonating {m}"));
        }
        s
    }
}

/// A mailbox's Exchange Inbox as a mail source.
pub struct EwsSource {
    target: EwsTarget,
    found: Mutex<Option<Discovered>>,
}

impl EwsSource {
    /// The source reached through `target`.
    pub fn new(target: EwsTarget) -> EwsSource {
        EwsSource { target, found: Mutex::new(None) }
    }

    async fn client(&self) -> Result<EwsClient> {
        let (client, found) = self.target.client().await?;
        if found.is_some() {
            *self.found.lock().unwrap_or_else(|e| e.into_inner()) = found;
        }
        Ok(client)
    }
}

impl MailSource for EwsSource {
    fn describe(&self) -> String {
        let found = self.found.lock().unwrap_or_else(|e| e.into_inner()).clone();
        self.target.describe(found.as_ref())
    }

    fn probe(&self, login: bool) -> Fut<'_, Incoming> {
        Box::pin(async move {
            let client = self.client().await?;
            if !login {
                return Ok(Incoming::Answered);
            }
            let req =
                GetFolder { shape: BaseShape::Default, folders: vec![DistinguishedFolder::Inbox.into()] };
            let inbox = client.get_folders(&req).await?.into_iter().next().ok_or_else(|| {
                ProtocolError::Protocol {
                    proto: crmsync_protocols::Proto::Ews,
                    host: client.url().to_string(),
                    port: 0,
                    detail: "GetFolder: no Inbox in the answer".into(),
                }
            })??;
            let messages = inbox.total_count.unwrap_or(0).min(u64::from(u32::MAX)) as u32;
            Ok(Incoming::Mailbox { messages })
        })
    }

    fn pass<'a>(&'a self, store: &'a mut Store, ctx: &'a MailboxContext) -> Fut<'a, SyncStats> {
        Box::pin(async move {
            let client = self.client().await?;
            super::ews_pass::sync_ews(store, ctx, &client).await
        })
    }
}

/// Sends through Exchange: CreateItem with the whole MIME message and
/// SendAndSaveCopy, so Exchange files the copy in Sent Items itself.
pub struct EwsSender {
    target: EwsTarget,
    client: tokio::sync::OnceCell<EwsClient>,
}

impl EwsSender {
    /// The sender reached through `target`.
    pub fn new(target: EwsTarget) -> EwsSender {
        EwsSender { target, client: tokio::sync::OnceCell::new() }
    }

    async fn client(&self) -> Result<&EwsClient> {
        self.client.get_or_try_init(|| async { Ok(self.target.client().await?.0) }).await
    }
}

impl MailSender for EwsSender {
    fn describe(&self) -> String {
        self.target.describe(None)
    }

    fn login(&self) -> Option<&str> {
        Some(self.target.auth.user())
    }

    fn probe(&self) -> Fut<'_, ()> {
        Box::pin(async move {
            let client = self.client().await?;
            let req =
                GetFolder { shape: BaseShape::IdOnly, folders: vec![DistinguishedFolder::SentItems.into()] };
            client.get_folders(&req).await?.into_iter().next().transpose()?;
            Ok(())
        })
    }

    fn submit<'a>(
        &'a self,
        _from: &'a str,
        _recipients: &'a [String],
        raw: &'a [u8],
    ) -> BoxFuture<'a, std::result::Result<PendingReply<'a>, ProtocolError>> {
        // One HTTP request carries the message and its answer: the reply
        // future makes it. Recipients come from the MIME headers (Bcc too).
        Box::pin(async move {
            let client = match self.client().await {
                Ok(c) => c,
                Err(e) => {
                    return Err(ProtocolError::Protocol {
                        proto: crmsync_protocols::Proto::Ews,
                        host: self.target.url.clone().unwrap_or_default(),
                        port: 0,
                        detail: e.to_string(),
                    });
                }
            };
            let reply: PendingReply<'a> = Box::pin(async move {
                let msg = Message {
                    common: ItemCommon { mime_content: Some(raw.to_vec()), ..Default::default() },
                    ..Default::default()
                };
                let req = CreateItem {
                    disposition: Some(MessageDisposition::SendAndSaveCopy),
                    send_invitations: None,
                    folder: Some(DistinguishedFolder::SentItems.into()),
                    items: vec![Item::Message(msg)],
                };
                let results = client.create_items(&req).await?;
                match results.into_iter().next() {
                    Some(Err(e)) => Err(e),
                    _ => Ok("CreateItem SendAndSaveCopy NoError".to_string()),
                }
            });
            Ok(reply)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// The Exchange Sent Items folder, where SendAndSaveCopy files every message.
pub struct EwsSentItems {
    target: EwsTarget,
}

impl EwsSentItems {
    /// Sent Items reached through `target`.
    pub fn new(target: EwsTarget) -> EwsSentItems {
        EwsSentItems { target }
    }
}

impl SentItems for EwsSentItems {
    fn open(&self) -> Fut<'_, Box<dyn SentFolder>> {
        Box::pin(async move {
            let (client, _) = self.target.client().await?;
            Ok(Box::new(EwsSentFolder { client }) as Box<dyn SentFolder>)
        })
    }
}

struct EwsSentFolder {
    client: EwsClient,
}

impl SentFolder for EwsSentFolder {
    fn name(&self) -> &str {
        "Sent Items"
    }

    fn holds<'a>(&'a mut self, message_id: &'a str) -> Fut<'a, bool> {
        Box::pin(async move {
            // InternetMessageId is the header's value, angle brackets included.
            let id = message_id.trim();
            let id = if id.starts_with('<') { id.to_string() } else { format!("<{id}>") };
            let found = self.client.find_items(&FindItem::sent_by_message_id(&id)).await?;
            Ok(!found.items.is_empty())
        })
    }

    fn file<'a>(&'a mut self, _raw: &'a [u8]) -> BoxFuture<'a, std::result::Result<(), ProtocolError>> {
        // SendAndSaveCopy filed the copy already.
        Box::pin(async { Ok(()) })
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}
