//! [`EngineHandle`]: the running sync service, as the `crmsync run` daemon and
//! the desktop shell embed it. It holds the store's lease, runs the scheduler
//! and its three queues on threads of its own, publishes a typed
//! [`EngineEvent`] stream and takes commands (sync now, pause, resume,
//! shutdown). See docs/service.md.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crmsync_core::Store;

use crmsync_core::store::{lease, mailboxes};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot};

pub use crmsync_core::health::{Health, health};
pub use crmsync_core::store::lease::LeaseInfo;

use crate::error::{EngineError, Result};
use crate::permits::ConnectionPermits;
use crate::service::engine;
pub(crate) use crate::service::shared::Published;
pub use crate::service::shared::{EngineEvent, EngineOptions, QueueDepths};
use crate::service::shared::{Msg, Shared};
use crate::test_enable::TestReport;

/// One mailbox in a [`StatusSnapshot`].
#[derive(Debug, Clone, Serialize)]
pub struct MailboxHealth {
    /// Address.
    pub email: String,
    /// Health.
    pub health: Health,
    /// Last error code.
    pub last_error_code: Option<String>,
    /// Last error message.
    pub last_error_message: Option<String>,
    /// When the next poll is due.
    pub next_poll: Option<chrono::DateTime<chrono::Utc>>,
    /// When Test & Enable last ran (its per-channel results are in
    /// `crmsync mailbox show`).
    pub last_test_on: Option<chrono::DateTime<chrono::Utc>>,
}

/// The state of the service and its mailboxes.
#[derive(Debug, Clone, Serialize)]
pub struct StatusSnapshot {
    /// How many mailboxes are in each health (every health present).
    pub mailboxes_by_health: BTreeMap<Health, usize>,
    /// Jobs waiting per queue (zero when no engine runs).
    pub queue_depths: QueueDepths,
    /// The live lease holder (None when no engine runs).
    pub lease_holder: Option<LeaseInfo>,
    /// A lease left by an engine that stopped without releasing it (crashed).
    pub stale_lease: Option<LeaseInfo>,
    /// Whether processing is paused.
    pub paused: bool,
    /// Every mailbox.
    pub mailboxes: Vec<MailboxHealth>,
}

/// The status of the store without a handle: health from the stored mailboxes,
/// the lease, and the queue depths a running engine published. `crmsync
/// status` uses this; [`EngineHandle::status`] too, with its live depths.
pub fn status_from_store(store: &Store, lease_timeout: Duration) -> Result<StatusSnapshot> {
    let list = mailboxes::list(store.conn())?;
    let mut by_health: BTreeMap<Health, usize> = Health::ALL.iter().map(|h| (*h, 0)).collect();
    let mut out = Vec::with_capacity(list.len());
    for mb in &list {
        let h = health(mb);
        *by_health.entry(h).or_default() += 1;
        out.push(MailboxHealth {
            email: mb.data.email.clone(),
            health: h,
            last_error_code: mb.telemetry.last_error.as_ref().map(|e| e.code.clone()),
            last_error_message: mb.telemetry.last_error.as_ref().map(|e| e.message.clone()),
            next_poll: mb.telemetry.next_poll,
            last_test_on: mb.last_test_on,
        });
    }
    let current = lease::get(store.conn())?;
    let stale_after = chrono::Duration::from_std(lease_timeout).unwrap_or(chrono::Duration::seconds(30));
    let (live, stale) = match current {
        Some(l) if l.is_stale(chrono::Utc::now(), stale_after) => (None, Some(l)),
        Some(l) => (Some(l), None),
        None => (None, None),
    };
    let published = match (&live, lease::published_status(store.conn())?) {
        (Some(_), Some(json)) => serde_json::from_str::<Published>(&json).unwrap_or_default(),
        _ => Published::default(),
    };
    Ok(StatusSnapshot {
        mailboxes_by_health: by_health,
        queue_depths: published.queue_depths,
        lease_holder: live,
        stale_lease: stale,
        paused: published.paused,
        mailboxes: out,
    })
}

/// The running engine. Cheap to clone; every clone talks to the same engine.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    shared: Arc<Shared>,
    finished: Arc<Mutex<Option<oneshot::Receiver<()>>>>,
}

impl EngineHandle {
    /// Opens the store at `db_path`, takes its lease (or fails with
    /// [`EngineError::LeaseHeld`] naming the live holder) and starts the
    /// scheduler and its workers on threads of their own.
    pub async fn start(db_path: PathBuf, opts: EngineOptions) -> Result<EngineHandle> {
        let pid = std::process::id();
        let host = engine::host_name();
        let (path, o, h) = (db_path.clone(), opts.clone(), host.clone());
        let store = tokio::task::spawn_blocking(move || engine::open_and_lease(&path, &o, pid, &h))
            .await
            .map_err(|e| EngineError::Unsupported(format!("engine start-up panicked: {e}")))??;
        let (events, _) = broadcast::channel(1024);
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            db: db_path,
            opts,
            events,
            tx,
            paused: AtomicBool::new(false),
            depth_mailboxes: AtomicUsize::new(0),
            depth_outgoing: AtomicUsize::new(0),
            depth_async: AtomicUsize::new(0),
            permits: ConnectionPermits::default(),
            pid,
            host,
            stopping: AtomicBool::new(false),
        });
        let (done_tx, done_rx) = oneshot::channel();
        engine::spawn(shared.clone(), store, rx, done_tx)?;
        Ok(EngineHandle { shared, finished: Arc::new(Mutex::new(Some(done_rx))) })
    }

    /// A new receiver of the event stream (events sent before are not replayed).
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.shared.events.subscribe()
    }

    /// Polls one mailbox (or all) now, ahead of its schedule and backoff.
    pub fn sync_now(&self, mailbox: Option<String>) {
        let _ = self.shared.tx.send(Msg::SyncNow(mailbox));
    }

    /// Starts no new job until [`EngineHandle::resume`]; running jobs finish.
    pub fn pause(&self) {
        let _ = self.shared.tx.send(Msg::Pause);
    }

    /// Resumes processing.
    pub fn resume(&self) {
        let _ = self.shared.tx.send(Msg::Resume);
    }

    /// Whether processing is paused.
    pub fn is_paused(&self) -> bool {
        self.shared.paused.load(Ordering::SeqCst)
    }

    /// The connection permits shared by every queue (for diagnostics and tests).
    pub fn permits(&self) -> &ConnectionPermits {
        &self.shared.permits
    }

    /// Runs Test & Enable for one mailbox on the async-operations queue.
    pub async fn test_enable(&self, email: &str) -> Result<TestReport> {
        let (reply, rx) = oneshot::channel();
        self.shared
            .tx
            .send(Msg::TestEnable(email.to_string(), reply))
            .map_err(|_| EngineError::NotRunning)?;
        rx.await.map_err(|_| EngineError::NotRunning)?
    }

    /// Health of every mailbox, live queue depths, the lease holder.
    pub async fn status(&self) -> Result<StatusSnapshot> {
        let shared = self.shared.clone();
        let mut snap = tokio::task::spawn_blocking(move || -> Result<StatusSnapshot> {
            let store = Store::open(&shared.db)?;
            status_from_store(&store, shared.opts.lease_timeout)
        })
        .await
        .map_err(|e| EngineError::Unsupported(format!("status panicked: {e}")))??;
        snap.queue_depths = self.shared.depths();
        snap.paused = self.is_paused();
        Ok(snap)
    }

    /// Stops: no new job starts, running jobs finish their commits (up to the
    /// shutdown grace), IDLE connections close, the lease is released.
    pub async fn shutdown(self) {
        let _ = self.shared.tx.send(Msg::Shutdown);
        let rx = self.finished.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(rx) = rx {
            let _ = rx.await;
        }
    }

    /// Resolves when the engine has stopped (after [`EngineHandle::shutdown`],
    /// or by itself when it lost its lease).
    pub async fn stopped(&self) {
        while !self.shared.tx.is_closed() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
