//! The test's side of [`GraphServer`]: create users and folders, seed mail,
//! events, contacts and tasks, read back what a user would see, the request
//! log, and faults (throttling, 503, forced resync, a lost sendMail response,
//! a revoked permission).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::error::{HarnessError, Result};
use crate::graph::{GraphServer, SERVER};

/// A message as the mailbox owner sees it (from the server's state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphMessage {
    /// Graph id (changes when the message moves).
    pub id: String,
    /// Well-known folder name (`inbox`, `sentitems`, ...) or the display name.
    pub folder: String,
    /// Subject header.
    pub subject: String,
    /// The Message-ID header, angle brackets included.
    pub internet_message_id: String,
    /// Read flag.
    pub is_read: bool,
    /// From header.
    pub from: String,
    /// To header.
    pub to: String,
    /// The raw MIME message.
    pub raw: Vec<u8>,
}

/// A request the server answered (or dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct GraphRequest {
    /// HTTP method.
    pub method: String,
    /// Path from `/v1.0` on, with the query.
    pub path: String,
    /// Arrival time, seconds since the Unix epoch.
    pub time: f64,
    /// The token's subject (user address or client id), if it had a valid one.
    pub subject: Option<String>,
    /// The mailbox the request was about.
    pub mailbox: Option<String>,
    /// The status answered; `None` when the connection was dropped on purpose.
    pub status: Option<u16>,
    /// Whether it was an item of a `$batch`.
    pub batch: bool,
}

/// How long a client waited after a `429` before its next request.
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottleWait {
    /// The throttled mailbox (`None`: a request about no mailbox).
    pub mailbox: Option<String>,
    /// The `Retry-After` the 429 carried.
    pub retry_after: Duration,
    /// Time between the 429 and the next request about the same mailbox.
    pub waited: Duration,
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a str> {
    v[name].as_str().ok_or_else(|| HarnessError::protocol(SERVER, "admin", format!("no {name} in {v}")))
}

fn list(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        _ => Vec::new(),
    }
}

impl GraphServer {
    /// Creates a user with a mailbox (Inbox, Drafts, Sent Items, Deleted
    /// Items, Junk Email, Outbox, Archive), a calendar, contacts and a To Do
    /// list "Tasks"; returns the user's id (a GUID).
    pub async fn add_user(&self, address: &str, display_name: &str) -> Result<String> {
        let v = self.admin("add_user", json!({ "address": address, "displayName": display_name })).await?;
        Ok(field(&v, "id")?.to_string())
    }

    /// Adds a mail folder; returns its id.
    pub async fn add_folder(&self, mailbox: &str, name: &str) -> Result<String> {
        let v = self.admin("add_folder", json!({ "mailbox": mailbox, "name": name })).await?;
        Ok(field(&v, "id")?.to_string())
    }

    /// Puts a raw MIME message into a folder (id, well-known or display
    /// name); returns its id.
    pub async fn seed_message(
        &self,
        mailbox: &str,
        folder: &str,
        raw: &[u8],
        is_read: bool,
    ) -> Result<String> {
        let body =
            json!({ "mailbox": mailbox, "folder": folder, "mime": B64.encode(raw), "isRead": is_read });
        Ok(field(&self.admin("seed_message", body).await?, "id")?.to_string())
    }

    /// The messages of a mailbox, of one folder when given, oldest change first.
    pub async fn messages(&self, mailbox: &str, folder: Option<&str>) -> Result<Vec<GraphMessage>> {
        let v = self.admin("messages", json!({ "mailbox": mailbox, "folder": folder })).await?;
        list(v)
            .iter()
            .map(|m| {
                Ok(GraphMessage {
                    id: field(m, "id")?.to_string(),
                    folder: field(m, "folder")?.to_string(),
                    subject: field(m, "subject")?.to_string(),
                    internet_message_id: field(m, "internetMessageId")?.to_string(),
                    is_read: m["isRead"].as_bool().unwrap_or(false),
                    from: field(m, "from")?.to_string(),
                    to: field(m, "to")?.to_string(),
                    raw: B64
                        .decode(field(m, "mime")?)
                        .map_err(|e| HarnessError::protocol(SERVER, "admin messages", e.to_string()))?,
                })
            })
            .collect()
    }

    /// The messages in the mailbox's Sent Items.
    pub async fn sent_items(&self, mailbox: &str) -> Result<Vec<GraphMessage>> {
        self.messages(mailbox, Some("sentitems")).await
    }

    /// Messages sent to addresses that are no user of this server.
    pub async fn outbound(&self) -> Result<Vec<Value>> {
        Ok(list(self.admin("outbound", json!({})).await?))
    }

    /// Creates an event from a Graph create body (`recurrence` makes a
    /// series). `exceptions` are overrides of single occurrences, each with
    /// `originalStart` (its date-time) and the changed properties;
    /// `cancelled` lists original starts of deleted occurrences. Returns its id.
    pub async fn seed_event(
        &self,
        mailbox: &str,
        event: Value,
        exceptions: Vec<Value>,
        cancelled: &[&str],
    ) -> Result<String> {
        let body =
            json!({ "mailbox": mailbox, "event": event, "exceptions": exceptions, "cancelled": cancelled });
        Ok(field(&self.admin("seed_event", body).await?, "id")?.to_string())
    }

    /// Single events and series masters as Graph returns them, each with
    /// `exceptions` and `cancelled` added.
    pub async fn events(&self, mailbox: &str) -> Result<Vec<Value>> {
        Ok(list(self.admin("events", json!({ "mailbox": mailbox })).await?))
    }

    /// Creates a contact from a Graph create body; returns its id.
    pub async fn seed_contact(&self, mailbox: &str, contact: Value) -> Result<String> {
        let body = json!({ "mailbox": mailbox, "contact": contact });
        Ok(field(&self.admin("seed_contact", body).await?, "id")?.to_string())
    }

    /// The contacts as Graph returns them.
    pub async fn contacts(&self, mailbox: &str) -> Result<Vec<Value>> {
        Ok(list(self.admin("contacts", json!({ "mailbox": mailbox })).await?))
    }

    /// Adds a To Do list; returns its id.
    pub async fn add_task_list(&self, mailbox: &str, name: &str) -> Result<String> {
        let v = self.admin("add_task_list", json!({ "mailbox": mailbox, "displayName": name })).await?;
        Ok(field(&v, "id")?.to_string())
    }

    /// Creates a task (in the list named or with this id; default "Tasks");
    /// returns its id.
    pub async fn seed_task(&self, mailbox: &str, list_name: Option<&str>, task: Value) -> Result<String> {
        let body = json!({ "mailbox": mailbox, "list": list_name, "task": task });
        Ok(field(&self.admin("seed_task", body).await?, "id")?.to_string())
    }

    /// The tasks as Graph returns them, each with `list` (its list's name).
    pub async fn tasks(&self, mailbox: &str) -> Result<Vec<Value>> {
        Ok(list(self.admin("tasks", json!({ "mailbox": mailbox })).await?))
    }

    /// Every request answered so far, in arrival order (batch items too).
    pub async fn requests(&self) -> Result<Vec<GraphRequest>> {
        let v = self.admin("requests", json!({})).await?;
        Ok(list(v)
            .iter()
            .map(|r| GraphRequest {
                method: r["method"].as_str().unwrap_or_default().to_string(),
                path: r["path"].as_str().unwrap_or_default().to_string(),
                time: r["time"].as_f64().unwrap_or_default(),
                subject: r["subject"].as_str().map(str::to_string),
                mailbox: r["mailbox"].as_str().map(str::to_string),
                status: r["status"].as_u64().and_then(|s| u16::try_from(s).ok()),
                batch: r["batch"].as_bool().unwrap_or(false),
            })
            .collect())
    }

    /// The next `count` requests about `mailbox` (any when `None`) get `429
    /// TooManyRequests` with `Retry-After: retry_after_secs`.
    pub async fn throttle(&self, mailbox: Option<&str>, count: u32, retry_after_secs: u32) -> Result<()> {
        let body = json!({ "mailbox": mailbox, "count": count, "retry_after": retry_after_secs });
        self.admin("throttle", body).await.map(drop)
    }

    /// For every 429 answered, how long the client waited before its next
    /// request about the same mailbox.
    pub async fn throttle_waits(&self) -> Result<Vec<ThrottleWait>> {
        let v = self.admin("throttle_log", json!({})).await?;
        Ok(list(v)
            .iter()
            .map(|w| ThrottleWait {
                mailbox: w["mailbox"].as_str().map(str::to_string),
                retry_after: Duration::from_secs(w["retry_after"].as_u64().unwrap_or_default()),
                waited: Duration::from_secs_f64(w["waited"].as_f64().unwrap_or_default().max(0.0)),
            })
            .collect())
    }

    /// The next `count` requests about `mailbox` (any when `None`) get
    /// `status` (e.g. 503) with `ServiceNotAvailable`.
    pub async fn fail_next(&self, mailbox: Option<&str>, status: u16, count: u32) -> Result<()> {
        let body = json!({ "mailbox": mailbox, "status": status, "count": count });
        self.admin("fail", body).await.map(drop)
    }

    /// The next delta request of `mailbox` carrying a state token gets `410
    /// Gone` with error code `code` (`syncStateNotFound` or `resyncRequired`,
    /// the latter with a `Location` header); the mailbox's tokens are forgotten.
    pub async fn force_resync(&self, mailbox: &str, code: &str) -> Result<()> {
        self.admin("delta_reset", json!({ "mailbox": mailbox, "code": code })).await.map(drop)
    }

    /// The next sendMail of `mailbox` is carried out (Sent Items, delivery)
    /// but its response is lost: the connection is closed without an answer.
    pub async fn drop_next_send_response(&self, mailbox: &str) -> Result<()> {
        self.admin("drop_after_send", json!({ "mailbox": mailbox })).await.map(drop)
    }

    /// An admin withdraws `permission` (e.g. `Mail.Send`) tenant-wide: tokens
    /// carrying it are treated as lacking it (403 naming it).
    pub async fn revoke_permission(&self, permission: &str) -> Result<()> {
        self.admin("revoke_permission", json!({ "permission": permission })).await.map(drop)
    }

    /// Grants a revoked permission again.
    pub async fn restore_permission(&self, permission: &str) -> Result<()> {
        self.admin("restore_permission", json!({ "permission": permission })).await.map(drop)
    }
}
