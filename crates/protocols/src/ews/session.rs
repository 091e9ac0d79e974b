//! The EWS client for one mailbox: settings, and one typed method per
//! operation over the HTTP exchange of `http.rs`. Requests are written
//! by [`super::request`], answers read by [`super::response`], and failed
//! response messages mapped by [`super::errors`]; nothing here knows XML.
//! Batch operations answer one result per item, so one vanished item does
//! not fail the others.

use std::time::Duration;

use reqwest::Url;

use super::errors::{self, Context};
use super::http::{EwsHttp, endpoint};
use super::parse_item::ItemError;
use super::request::{self, Header, Request};
use super::response::{self, Answer, FoundItems, ResponseMessage, SyncPage, WireError};
use super::types::{Folder, Item};
use crate::error::{Proto, ProtocolError, Result};
use crate::settings::{DEFAULT_MAX_MESSAGE_BYTES, Password};

/// The largest answer read by default, in MB (the engine applies its own setting).
pub const DEFAULT_MAX_RESPONSE_MB: u64 = 64;

/// How EWS requests log in. `Debug` never shows the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EwsAuth {
    /// HTTP Basic (only over TLS unless the profile allows insecure connections).
    Basic {
        /// User name (`user@domain` or `DOMAIN\user`).
        user: String,
        /// Password.
        password: Password,
    },
    /// NTLM (Exchange on premises' default), a handshake on each request's connection.
    Ntlm {
        /// User name (`DOMAIN\user` or `user@domain`).
        user: String,
        /// Password.
        password: Password,
    },
}

impl EwsAuth {
    /// The account name, for errors.
    pub fn user(&self) -> &str {
        match self {
            EwsAuth::Basic { user, .. } | EwsAuth::Ntlm { user, .. } => user,
        }
    }
}

/// How to reach one mailbox over EWS.
#[derive(Debug, Clone)]
pub struct EwsSettings {
    /// The EWS URL (`https://mail.contoso.com/EWS/Exchange.asmx`).
    pub url: String,
    /// Login.
    pub auth: EwsAuth,
    /// RequestServerVersion and ExchangeImpersonation.
    pub header: Header,
    /// Allow a plaintext `http://` URL (and the login over it).
    pub allow_insecure: bool,
    /// Timeout of connecting and of every request.
    pub timeout: Duration,
    /// Extra trusted CA certificates, PEM.
    pub extra_roots: Vec<u8>,
    /// Largest answer read, bytes.
    pub max_response_bytes: u64,
    /// Largest decoded MimeContent, bytes (`incoming.max_message_size_mb`).
    pub max_mime_bytes: u64,
}

impl EwsSettings {
    /// Settings with Exchange2010_SP2, a 30 s timeout, a 64 MB answer bound and a 25 MB message bound.
    pub fn new(url: impl Into<String>, auth: EwsAuth) -> EwsSettings {
        EwsSettings {
            url: url.into(),
            auth,
            header: Header::default(),
            allow_insecure: false,
            timeout: Duration::from_secs(30),
            extra_roots: Vec::new(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_MB << 20,
            max_mime_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// An EWS client for one mailbox.
#[derive(Debug, Clone)]
pub struct EwsClient {
    http: EwsHttp,
    url: String,
    host: String,
    port: u16,
    header: Header,
    max_mime_bytes: u64,
}

/// One item's outcome in a batch: the item, or why this one failed.
pub type ItemResult<T> = std::result::Result<T, ProtocolError>;

impl EwsClient {
    /// A client for `settings.url`; a plaintext URL is refused unless the profile allows it.
    pub fn new(settings: &EwsSettings) -> Result<EwsClient> {
        Url::parse(&settings.url).map_err(|e| ProtocolError::InvalidSettings {
            proto: Proto::Ews,
            reason: format!("EWS URL '{}': {e}", settings.url),
        })?;
        let http = EwsHttp::new(
            settings.auth.clone(),
            settings.allow_insecure,
            settings.timeout,
            &settings.extra_roots,
            settings.max_response_bytes,
        )?;
        http.check_url(&settings.url)?;
        let (host, port) = endpoint(&settings.url);
        Ok(EwsClient {
            http,
            url: settings.url.clone(),
            host,
            port,
            header: settings.header.clone(),
            max_mime_bytes: settings.max_mime_bytes,
        })
    }

    /// The same client acting for another mailbox (`ExchangeImpersonation`), sharing the connection.
    pub fn impersonating(&self, smtp: Option<&str>) -> EwsClient {
        let mut c = self.clone();
        c.header.impersonate = smtp.map(str::to_string);
        c
    }

    /// HTTP requests sent so far by this client and its clones.
    pub fn requests(&self) -> usize {
        self.http.requests()
    }

    /// The EWS URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn cx<'a>(&'a self, operation: &'a str, folder: Option<&'a str>) -> Context<'a> {
        Context { host: &self.host, port: self.port, operation, folder }
    }

    fn malformed(&self, operation: &str, detail: String) -> ProtocolError {
        ProtocolError::Protocol {
            proto: Proto::Ews,
            host: self.host.clone(),
            port: self.port,
            detail: format!("{operation}: {detail}"),
        }
    }

    /// Sends `req` and returns the parsed answer; HTTP errors and SOAP faults are errors.
    /// `folder` names the folder for sync state errors.
    pub async fn call(&self, req: &dyn Request, folder: Option<&str>) -> Result<Answer> {
        let op = req.operation();
        let span = tracing::debug_span!("ews", operation = op, folder = folder.unwrap_or(""));
        let _g = span.enter();
        let body = request::envelope(&self.header, req);
        let reply = self.http.post(&self.url, body, op).await?;
        let parsed = if reply.status.is_success() || reply.status.as_u16() == 500 {
            Some(response::parse(&reply.body))
        } else {
            None
        };
        match parsed {
            Some(Ok(answer)) => Ok(answer),
            Some(Err(WireError::Fault(f))) => Err(errors::fault_error(&self.cx(op, folder), &f)),
            Some(Err(WireError::Malformed(d))) if reply.status.is_success() => Err(self.malformed(op, d)),
            _ => Err(self.http.status_error(&self.url, &reply, op)),
        }
    }

    fn single<'a>(&self, answer: &'a Answer, op: &str, folder: Option<&str>) -> Result<&'a ResponseMessage> {
        let m = answer.messages.first().ok_or_else(|| self.malformed(op, "no response message".into()))?;
        match &m.error {
            Some(e) if !e.warning => Err(errors::response_error(&self.cx(op, folder), e, None)),
            _ => Ok(m),
        }
    }

    fn item_error(&self, op: &str, e: ItemError, id: Option<&str>) -> ProtocolError {
        match e {
            ItemError::TooLarge { size, limit } => ProtocolError::MessageTooLarge {
                proto: Proto::Ews,
                host: self.host.clone(),
                port: self.port,
                id: id.unwrap_or("?").to_string(),
                size,
                limit_mb: limit.div_ceil(1 << 20).max(1),
            },
            ItemError::BadMime(d) => ProtocolError::MessageUnavailable {
                proto: Proto::Ews,
                host: self.host.clone(),
                port: self.port,
                id: id.unwrap_or("?").to_string(),
                detail: format!("{op}: {d}"),
            },
        }
    }

    /// Per-message results of a batch operation, in request order; `ids`
    /// names the item of each message in errors.
    fn per_item(&self, answer: &Answer, op: &str, ids: &[String]) -> Vec<ItemResult<Vec<Item>>> {
        answer
            .messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let id = ids.get(i).map(String::as_str);
                match &m.error {
                    Some(e) if !e.warning => Err(errors::response_error(&self.cx(op, None), e, id)),
                    _ => response::items(m, self.max_mime_bytes)
                        .into_iter()
                        .map(|r| r.map_err(|e| self.item_error(op, e, id)))
                        .collect(),
                }
            })
            .collect()
    }

    /// GetFolder: one result per folder asked for.
    pub async fn get_folders(&self, req: &request::GetFolder) -> Result<Vec<ItemResult<Folder>>> {
        let answer = self.call(req, None).await?;
        Ok(answer
            .messages
            .iter()
            .map(|m| match &m.error {
                Some(e) if !e.warning => Err(errors::response_error(&self.cx("GetFolder", None), e, None)),
                _ => response::folders(m)
                    .into_iter()
                    .next()
                    .ok_or_else(|| self.malformed("GetFolder", "no folder".into())),
            })
            .collect())
    }

    /// FindFolder: the folders under the parent.
    pub async fn find_folders(&self, req: &request::FindFolder) -> Result<Vec<Folder>> {
        let answer = self.call(req, None).await?;
        Ok(response::folders(self.single(&answer, "FindFolder", None)?))
    }

    /// CreateFolder: the new folder (with its id).
    pub async fn create_folder(&self, req: &request::CreateFolder) -> Result<Folder> {
        let answer = self.call(req, None).await?;
        let m = self.single(&answer, "CreateFolder", Some(&req.display_name))?;
        response::folders(m)
            .into_iter()
            .next()
            .ok_or_else(|| self.malformed("CreateFolder", "no folder".into()))
    }

    /// SyncFolderItems: one page of changes. `RESYNC_REQUIRED` means: drop
    /// the stored state and sync from the start; `THROTTLED` carries the wait the server asked for.
    pub async fn sync_folder_items(&self, req: &request::SyncFolderItems) -> Result<SyncPage> {
        let folder = folder_name(&req.folder);
        let answer = self.call(req, Some(&folder)).await?;
        let m = self.single(&answer, "SyncFolderItems", Some(&folder))?;
        response::sync_page(m, self.max_mime_bytes)
            .map_err(|e| self.malformed("SyncFolderItems", e.to_string()))
    }

    /// GetItem: one result per id, in order (`ITEM_NOT_FOUND` for a vanished one).
    pub async fn get_items(&self, req: &request::GetItem) -> Result<Vec<ItemResult<Item>>> {
        let answer = self.call(req, None).await?;
        let ids: Vec<String> = req.ids.iter().map(|i| i.id.clone()).collect();
        Ok(first_items(self.per_item(&answer, "GetItem", &ids), || {
            self.malformed("GetItem", "no item".into())
        }))
    }

    /// FindItem: one page.
    pub async fn find_items(&self, req: &request::FindItem) -> Result<FoundItems> {
        let answer = self.call(req, None).await?;
        Ok(response::found_items(self.single(&answer, "FindItem", None)?, self.max_mime_bytes))
    }

    /// CreateItem: one result per item, with the new ItemId and ChangeKey
    /// (a sent message without a saved copy answers with no item: `Ok(None)`).
    pub async fn create_items(&self, req: &request::CreateItem) -> Result<Vec<ItemResult<Option<Item>>>> {
        let answer = self.call(req, None).await?;
        Ok(self
            .per_item(&answer, "CreateItem", &[])
            .into_iter()
            .map(|r| r.map(|v| v.into_iter().next()))
            .collect())
    }

    /// UpdateItem: one result per change, with the new ChangeKey.
    pub async fn update_items(&self, req: &request::UpdateItem) -> Result<Vec<ItemResult<Item>>> {
        let answer = self.call(req, None).await?;
        let ids: Vec<String> = req.changes.iter().map(|c| c.id.id.clone()).collect();
        Ok(first_items(self.per_item(&answer, "UpdateItem", &ids), || {
            self.malformed("UpdateItem", "no item".into())
        }))
    }

    /// DeleteItem: one result per id.
    pub async fn delete_items(&self, req: &request::DeleteItem) -> Result<Vec<ItemResult<()>>> {
        let answer = self.call(req, None).await?;
        let ids: Vec<String> = req.ids.iter().map(|i| i.id.clone()).collect();
        Ok(self.per_item(&answer, "DeleteItem", &ids).into_iter().map(|r| r.map(|_| ())).collect())
    }

    /// MoveItem: one result per id, with the moved item's new id when the server gives it.
    pub async fn move_items(&self, req: &request::MoveItem) -> Result<Vec<ItemResult<Option<Item>>>> {
        let answer = self.call(req, None).await?;
        let ids: Vec<String> = req.ids.iter().map(|i| i.id.clone()).collect();
        Ok(self
            .per_item(&answer, "MoveItem", &ids)
            .into_iter()
            .map(|r| r.map(|v| v.into_iter().next()))
            .collect())
    }
}

fn first_items(
    all: Vec<ItemResult<Vec<Item>>>,
    missing: impl Fn() -> ProtocolError,
) -> Vec<ItemResult<Item>> {
    all.into_iter().map(|r| r.and_then(|v| v.into_iter().next().ok_or_else(&missing))).collect()
}

/// A folder reference as errors name it.
pub(crate) fn folder_name(f: &super::types::FolderRef) -> String {
    match f {
        super::types::FolderRef::Distinguished(d, _) => d.as_str().to_string(),
        super::types::FolderRef::Id(id) => id.id.clone(),
    }
}
