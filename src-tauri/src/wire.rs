//! The types that cross the IPC boundary: the error the UI shows in words,
//! the forms it sends and the views it gets. Their TypeScript twins in
//! `ui/src/bindings.ts` are generated from them (see [`crate::ipc`]).

use crate::status::Health;
use crmsync_core::model::Mailbox;
use crmsync_core::secrets::Secret;
use crmsync_core::store::alerts::Alert;
use crmsync_core::{CoreError, hints};
use crmsync_engine::EngineError;
use crmsync_engine::admin::mailboxes::MailboxInput;
use crmsync_engine::admin::profiles::ProfileInput;
use crmsync_engine::handle::EngineEvent;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// An error as the UI shows it: always words, and for invalid input the form
/// field to mark (the same kebab-case names the CLI options have).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IpcError {
    /// The admin's input was refused; nothing was changed.
    Invalid { field: String, message: String },
    /// What was asked for does not exist.
    NotFound { message: String },
    /// A mail server failed; `code` is stable, `hint` says what to do and
    /// `action` names it when the admin has something to do.
    Server { code: String, message: String, hint: String, action: Option<hints::Action> },
    /// Another crmsync (the `crmsync run` service) holds the store's lease.
    LeaseHeld { message: String },
    /// Anything else.
    Internal { message: String },
}

impl From<EngineError> for IpcError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Core(CoreError::Invalid { field, reason }) => {
                IpcError::Invalid { field, message: reason }
            }
            EngineError::Core(e @ (CoreError::NotFound { .. } | CoreError::AlreadyExists { .. })) => {
                IpcError::NotFound { message: e.to_string() }
            }
            EngineError::ReadFile { ref field, .. } => {
                IpcError::Invalid { field: field.clone(), message: e.to_string() }
            }
            EngineError::Migration { .. } => {
                IpcError::Invalid { field: "files".into(), message: e.to_string() }
            }
            e @ (EngineError::Protocol(_)
            | EngineError::CredentialsRequired { .. }
            | EngineError::Unsupported(_)) => {
                let code = e.code();
                IpcError::Server {
                    hint: hints::hint(&code),
                    action: hints::action(&code),
                    code,
                    message: e.to_string(),
                }
            }
            e @ EngineError::LeaseHeld { .. } => {
                IpcError::LeaseHeld { message: crate::engine::lease_message(&e).unwrap_or_default() }
            }
            other => IpcError::Internal { message: other.to_string() },
        }
    }
}

/// A password typed in the UI: moved into a [`Secret`] at once, never echoed
/// back, and never shown by `Debug`.
#[derive(Clone, Deserialize, TS)]
#[ts(type = "string")]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

pub(crate) fn secret(p: Option<Password>) -> Option<Secret> {
    p.filter(|p| !p.0.is_empty()).map(|p| Secret::new(p.0))
}

/// Profile form: `null` means "not given" (the default on add, unchanged on edit).
#[derive(Debug, Clone, Default, Deserialize, TS)]
pub struct ProfileForm {
    pub kind: Option<String>,
    pub incoming_host: Option<String>,
    pub incoming_port: Option<String>,
    pub incoming_security: Option<String>,
    pub outgoing_host: Option<String>,
    pub outgoing_port: Option<String>,
    pub outgoing_security: Option<String>,
    pub ews_url: Option<String>,
    pub dav_url: Option<String>,
    pub outgoing_auth: Option<String>,
    pub credentials: Option<String>,
    pub username: Option<String>,
    pub password: Option<Password>,
    pub max_connections: Option<String>,
    pub min_poll_interval: Option<String>,
    pub timeout: Option<String>,
    pub process_from: Option<String>,
    pub allow_insecure: Option<bool>,
}

impl From<ProfileForm> for ProfileInput {
    fn from(f: ProfileForm) -> Self {
        ProfileInput {
            kind: f.kind,
            incoming_host: f.incoming_host,
            incoming_port: f.incoming_port,
            incoming_security: f.incoming_security,
            outgoing_host: f.outgoing_host,
            outgoing_port: f.outgoing_port,
            outgoing_security: f.outgoing_security,
            ews_url: f.ews_url,
            dav_url: f.dav_url,
            outgoing_auth: f.outgoing_auth,
            credentials: f.credentials,
            username: f.username,
            password: secret(f.password),
            max_connections: f.max_connections,
            min_poll_interval: f.min_poll_interval,
            timeout: f.timeout,
            process_from: f.process_from,
            allow_insecure: f.allow_insecure,
        }
    }
}

/// Mailbox form: `null` means "not given".
#[derive(Debug, Clone, Default, Deserialize, TS)]
pub struct MailboxForm {
    pub profile: Option<String>,
    pub username: Option<String>,
    pub password: Option<Password>,
    pub incoming: Option<String>,
    pub outgoing: Option<String>,
    pub act: Option<String>,
    pub track: Option<String>,
    pub process_from: Option<String>,
    pub delete_after_processing: Option<bool>,
    pub forward_mailbox: Option<bool>,
    pub track_folders: Option<Vec<String>>,
}

impl From<MailboxForm> for MailboxInput {
    fn from(f: MailboxForm) -> Self {
        MailboxInput {
            profile: f.profile,
            username: f.username,
            password: secret(f.password),
            incoming: f.incoming,
            outgoing: f.outgoing,
            act: f.act,
            track: f.track,
            process_from: f.process_from,
            delete_after_processing: f.delete_after_processing,
            forward_mailbox: f.forward_mailbox,
            track_folders: f.track_folders,
        }
    }
}

/// Filter of the Activities page.
#[derive(Debug, Clone, Default, Deserialize, TS)]
pub struct ActivityFilter {
    pub activity_type: Option<String>,
    pub mailbox: Option<String>,
    pub regarding: Option<String>,
    pub limit: Option<String>,
}

/// Filter of the Alerts page.
#[derive(Debug, Clone, Default, Deserialize, TS)]
pub struct AlertFilter {
    pub mailbox: Option<String>,
    pub profile: Option<String>,
    pub severity: Option<String>,
    /// Include acknowledged alerts.
    pub all: bool,
}

/// Which records a CSV file holds.
#[derive(Debug, Clone, Copy, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    Contact,
    Account,
    Lead,
}

/// A file the admin picked in the UI, with its contents.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct UploadedFile {
    /// The file's name (kept, since error messages name the file).
    pub name: String,
    pub content: String,
}

/// The Email Router's files for the migration wizard.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct RouterUpload {
    /// Microsoft.Crm.Tools.EmailAgent.xml.
    pub config: UploadedFile,
    /// Microsoft.Crm.Tools.EmailAgent.SystemState.xml, optional.
    pub state: Option<UploadedFile>,
    /// Directory CSV (CRM id → address, name), optional.
    pub directory: Option<UploadedFile>,
    pub allow_insecure: bool,
}

/// A mailbox with its health, as lists show it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct MailboxRow {
    pub mailbox: Mailbox,
    pub health: Health,
}

/// A mailbox's detail page: settings, telemetry, health and its alerts.
#[derive(Debug, Clone, Serialize, TS)]
pub struct MailboxDetail {
    pub mailbox: Mailbox,
    pub health: Health,
    pub alerts: Vec<Alert>,
}

/// Queue depths (mailbox jobs, outgoing email, async operations).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct QueueDepths {
    pub mailboxes: u32,
    pub outgoing: u32,
    pub async_ops: u32,
}

/// Counts per health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, TS)]
pub struct HealthCounts {
    pub ok: u32,
    pub syncing: u32,
    pub warning: u32,
    pub error: u32,
    pub disabled: u32,
    pub not_configured: u32,
}

impl HealthCounts {
    pub(crate) fn add(&mut self, h: Health) {
        let n = match h {
            Health::Ok => &mut self.ok,
            Health::Syncing => &mut self.syncing,
            Health::Warning => &mut self.warning,
            Health::Error => &mut self.error,
            Health::Disabled => &mut self.disabled,
            Health::NotConfigured => &mut self.not_configured,
        };
        *n += 1;
    }
}

/// Everything the Dashboard shows.
#[derive(Debug, Clone, Serialize, TS)]
pub struct StatusView {
    /// "12 mailboxes OK · 1 failing" (the tray tooltip's words).
    pub summary: String,
    /// ok, syncing, warning, error or paused: what the tray shows.
    pub tray: String,
    pub paused: bool,
    pub counts: HealthCounts,
    /// Failing mailboxes first.
    pub mailboxes: Vec<MailboxRow>,
    /// Open alerts, newest first (at most 10).
    pub recent_alerts: Vec<Alert>,
    pub queues: QueueDepths,
    pub profiles: u32,
    /// Where the store is.
    pub store_path: String,
    /// Why this window's engine is not syncing: another process (`crmsync
    /// run`) holds the store's lease, or the engine failed to start.
    pub engine_problem: Option<String>,
}

/// What the engine pushes to the UI (event name `engine`), in the engine's
/// `EngineEvent` shape (serde tag `type`, snake_case).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEventView {
    MailboxStatusChanged {
        mailbox: String,
        health: Health,
        code: Option<String>,
        message: Option<String>,
    },
    AlertRaised {
        id: i64,
        severity: String,
        mailbox: Option<String>,
        profile: Option<String>,
        code: String,
        message: String,
    },
    SyncProgress {
        mailbox: String,
        processed: i64,
        created: i64,
        failed: i64,
    },
    QueueDepths {
        mailboxes: u32,
        outgoing: u32,
        async_ops: u32,
    },
    Paused,
    Resumed,
    /// The engine is not ours: `message` says who holds the store's lease (or
    /// why it did not start); the UI shows it as a banner.
    EngineUnavailable {
        message: String,
    },
    /// This window's engine runs (it took the store's lease).
    EngineStarted,
    /// Open this route (a notification was clicked).
    Navigate {
        route: String,
    },
}

/// Name of the Tauri event carrying [`EngineEventView`].
pub const ENGINE_EVENT: &str = "engine";

impl EngineEventView {
    /// The UI's view of an engine event.
    pub fn from_engine(e: &EngineEvent) -> EngineEventView {
        match e.clone() {
            EngineEvent::MailboxStatusChanged { mailbox, health, code, message } => {
                EngineEventView::MailboxStatusChanged { mailbox, health: health.into(), code, message }
            }
            EngineEvent::AlertRaised { id, severity, mailbox, profile, code, message } => {
                let severity = serde_json::to_value(severity)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                EngineEventView::AlertRaised { id, severity, mailbox, profile, code, message }
            }
            EngineEvent::SyncProgress { mailbox, processed, created, failed } => {
                EngineEventView::SyncProgress { mailbox, processed, created, failed }
            }
            EngineEvent::QueueDepths { mailboxes, outgoing, async_ops } => {
                let d =
                    QueueDepths::from(crmsync_engine::handle::QueueDepths { mailboxes, outgoing, async_ops });
                EngineEventView::QueueDepths {
                    mailboxes: d.mailboxes,
                    outgoing: d.outgoing,
                    async_ops: d.async_ops,
                }
            }
            EngineEvent::Paused => EngineEventView::Paused,
            EngineEvent::Resumed => EngineEventView::Resumed,
        }
    }
}

impl From<crmsync_engine::handle::QueueDepths> for QueueDepths {
    fn from(d: crmsync_engine::handle::QueueDepths) -> Self {
        let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        QueueDepths { mailboxes: n(d.mailboxes), outgoing: n(d.outgoing), async_ops: n(d.async_ops) }
    }
}
