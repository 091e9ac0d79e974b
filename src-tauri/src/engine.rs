//! The shell's link to the sync engine: the engine's [`EngineHandle`] once it
//! started on the shell's store, or why it did not (another `crmsync run` or
//! desktop holds the store's lease). Tray and window commands go through it;
//! without a running engine they do nothing (the admin pages still work: they
//! use the admin API on the store thread, not the engine).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crmsync_engine::EngineError;
use crmsync_engine::handle::EngineHandle;
use tokio::sync::Notify;

/// Where the engine is.
#[derive(Debug, Clone, Default)]
pub enum EngineState {
    /// Not started yet.
    #[default]
    Starting,
    /// Ours: this process holds the lease.
    Running(EngineHandle),
    /// Another process holds the lease; the sentence names it.
    LeaseHeld(String),
    /// Could not start for another reason.
    Failed(String),
    /// Shut down (Quit).
    Stopped,
}

#[derive(Debug, Default)]
struct Inner {
    state: Mutex<EngineState>,
    wake: Notify,
}

/// The engine, shared by the tray, the commands and the event loop; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct EngineLink {
    inner: Arc<Inner>,
}

/// The words the window and the tray show when the store's lease is held by
/// another process, from the engine's `LeaseHeld` error.
pub fn lease_message(e: &EngineError) -> Option<String> {
    match e {
        EngineError::LeaseHeld { holder, pid, host, since } => Some(format!(
            "The sync service is running in another process: {holder} (pid {pid} on {host}) since {since}. \
             This window manages the store; the service does the syncing."
        )),
        _ => None,
    }
}

impl EngineLink {
    /// A link with no engine yet.
    pub fn new() -> EngineLink {
        EngineLink::default()
    }

    fn state(&self) -> MutexGuard<'_, EngineState> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the engine (or why it is not running).
    pub fn set(&self, state: EngineState) {
        *self.state() = state;
        self.inner.wake.notify_one();
    }

    /// The running engine, if this process holds the lease.
    pub fn handle(&self) -> Option<EngineHandle> {
        match &*self.state() {
            EngineState::Running(h) => Some(h.clone()),
            _ => None,
        }
    }

    /// Why the engine is not ours: the lease-holder sentence, or the start-up error.
    pub fn problem(&self) -> Option<String> {
        match &*self.state() {
            EngineState::LeaseHeld(m) | EngineState::Failed(m) => Some(m.clone()),
            _ => None,
        }
    }

    /// Takes the engine out for shutdown (later calls see `Stopped`).
    pub fn take(&self) -> Option<EngineHandle> {
        let mut state = self.state();
        match std::mem::replace(&mut *state, EngineState::Stopped) {
            EngineState::Running(h) => Some(h),
            other => {
                *state = other;
                None
            }
        }
    }

    /// Starts no new job.
    pub fn pause(&self) {
        if let Some(h) = self.handle() {
            h.pause();
        }
    }

    /// Processes again.
    pub fn resume(&self) {
        if let Some(h) = self.handle() {
            h.resume();
        }
    }

    /// Polls every mailbox now. Returns false when no engine of ours runs.
    pub fn sync_now(&self) -> bool {
        match self.handle() {
            Some(h) => {
                h.sync_now(None);
                true
            }
            None => false,
        }
    }

    /// Something changed (a command wrote to the store): refresh healths.
    pub fn refresh(&self) {
        self.inner.wake.notify_one();
    }

    /// Waits until woken or `timeout` passed.
    pub async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.inner.wake.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crmsync_engine::handle::EngineOptions;

    #[tokio::test]
    async fn without_an_engine_requests_do_nothing() {
        let link = EngineLink::new();
        assert!(link.handle().is_none());
        link.pause();
        link.resume();
        assert!(!link.sync_now());
        link.refresh();
        tokio::time::timeout(Duration::from_secs(1), link.wait(Duration::from_secs(30))).await.unwrap();
        assert!(link.take().is_none());
    }

    /// A store held by another engine (as `crmsync run` holds it) gives the
    /// lease sentence naming the holder; once that engine shuts down, ours starts.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_held_by_another_engine_shows_the_lease_holder() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("crm.db");
        crmsync_core::Store::open(&db).unwrap();
        let other = EngineHandle::start(
            db.clone(),
            EngineOptions { holder: "crmsync run".into(), ..EngineOptions::default() },
        )
        .await
        .unwrap();
        let err = EngineHandle::start(
            db.clone(),
            EngineOptions { holder: "crmsync desktop".into(), ..EngineOptions::default() },
        )
        .await
        .unwrap_err();
        let message = lease_message(&err).expect("a LeaseHeld error");
        assert!(message.contains("crmsync run"), "{message}");
        assert!(message.contains(&format!("pid {}", std::process::id())), "{message}");
        let link = EngineLink::new();
        link.set(EngineState::LeaseHeld(message.clone()));
        assert_eq!(link.problem(), Some(message));
        assert!(!link.sync_now());
        other.shutdown().await;
        let ours = EngineHandle::start(
            db.clone(),
            EngineOptions { holder: "crmsync desktop".into(), ..EngineOptions::default() },
        )
        .await
        .unwrap();
        link.set(EngineState::Running(ours));
        assert!(link.problem().is_none());
        assert!(link.sync_now());
        link.take().unwrap().shutdown().await;
        assert!(link.handle().is_none());
    }
}
