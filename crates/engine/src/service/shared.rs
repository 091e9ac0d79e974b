//! What the handle, the scheduler thread, the workers and the IDLE watchers
//! share: the engine's options and events, the scheduler's messages, and the
//! state behind the handle. Below all of them, so every import points down.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crmsync_core::health::Health;
use crmsync_core::model::{Mailbox, Severity};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::jobs::{JobKind, JobReport};
use crate::error::Result;
use crate::permits::ConnectionPermits;
use crate::test_enable::TestReport;

/// How to run the engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Who holds the lease: "crmsync run" or "crmsync desktop".
    pub holder: String,
    /// A lease whose heartbeat is older than this is taken over (its holder crashed).
    pub lease_timeout: Duration,
    /// How often the lease heartbeat (and the published status) is refreshed.
    pub heartbeat: Duration,
    /// How long shutdown waits for running jobs to finish before stopping them
    /// (a job stopped between two commits loses nothing: the next run resumes).
    pub shutdown_grace: Duration,
    /// How often the mailbox list and settings are re-read (admin changes).
    pub refresh: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            holder: "crmsync".into(),
            lease_timeout: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(30),
            refresh: Duration::from_secs(5),
        }
    }
}

/// What the engine tells the shell (the desktop forwards it to its window as is).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvent {
    /// A mailbox's health changed.
    MailboxStatusChanged {
        /// Mailbox address.
        mailbox: String,
        /// New health.
        health: Health,
        /// Last error code, if any.
        code: Option<String>,
        /// Last error message, if any.
        message: Option<String>,
    },
    /// An alert was raised, or folded into an existing one (same id, count + 1).
    AlertRaised {
        /// Alert id.
        id: i64,
        /// Severity.
        severity: Severity,
        /// Mailbox address, if any.
        mailbox: Option<String>,
        /// Profile name, if any.
        profile: Option<String>,
        /// Stable code.
        code: String,
        /// What happened.
        message: String,
    },
    /// A mailbox sync finished.
    SyncProgress {
        /// Mailbox address.
        mailbox: String,
        /// Items looked at.
        processed: i64,
        /// New CRM records.
        created: i64,
        /// Items that failed.
        failed: i64,
    },
    /// Jobs waiting in each queue changed.
    QueueDepths {
        /// Mailbox queue (incoming and ACT polls).
        mailboxes: usize,
        /// Outgoing queue.
        outgoing: usize,
        /// Async operations (Test & Enable, recovery re-tests).
        async_ops: usize,
    },
    /// Processing paused: no new job starts.
    Paused,
    /// Processing resumed.
    Resumed,
}

/// Jobs waiting in each queue.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueDepths {
    /// Mailbox queue (incoming and ACT polls).
    pub mailboxes: usize,
    /// Outgoing queue.
    pub outgoing: usize,
    /// Async operations.
    pub async_ops: usize,
}

/// What the running engine publishes in the store for `crmsync status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Published {
    pub queue_depths: QueueDepths,
    pub paused: bool,
}

/// State shared by the handle, the scheduler thread and the workers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub db: PathBuf,
    pub opts: EngineOptions,
    pub events: broadcast::Sender<EngineEvent>,
    pub tx: mpsc::UnboundedSender<Msg>,
    pub paused: AtomicBool,
    pub depth_mailboxes: AtomicUsize,
    pub depth_outgoing: AtomicUsize,
    pub depth_async: AtomicUsize,
    pub permits: ConnectionPermits,
    pub pid: u32,
    pub host: String,
    pub stopping: AtomicBool,
}

impl Shared {
    pub fn depths(&self) -> QueueDepths {
        QueueDepths {
            mailboxes: self.depth_mailboxes.load(Ordering::SeqCst),
            outgoing: self.depth_outgoing.load(Ordering::SeqCst),
            async_ops: self.depth_async.load(Ordering::SeqCst),
        }
    }

    pub fn emit(&self, e: EngineEvent) {
        let _ = self.events.send(e);
    }
}

/// Messages to the scheduler: commands from the handle, results from the
/// workers, news from the IDLE watchers.
#[derive(Debug)]
pub(crate) enum Msg {
    SyncNow(Option<String>),
    Pause,
    Resume,
    Shutdown,
    TestEnable(String, oneshot::Sender<Result<TestReport>>),
    Started { mailbox_id: i64 },
    Done(Box<Done>),
    IdleUp { mailbox_id: i64 },
    IdleNews { mailbox_id: i64 },
    IdleEnded { mailbox_id: i64, unsupported: bool, error: Option<String> },
}

/// A finished job, as the worker reports it.
#[derive(Debug)]
pub(crate) struct Done {
    pub mailbox_id: i64,
    pub kind: JobKind,
    pub report: Option<JobReport>,
    /// Next run of this channel (None: stopped or unchanged).
    pub next: Option<Duration>,
    pub interval: Duration,
    pub disabled: bool,
    /// The mailbox as stored after the job (None: removed meanwhile).
    pub mailbox: Option<Mailbox>,
}
