//! The shell's link to the sync engine: pause, resume, "sync now" and
//! "something changed, refresh". Until the engine's `EngineHandle` lands, the
//! shell's own loop (main.rs, `engine_loop`) runs the engine's incoming cycle
//! (`crmsync_engine::incoming::sync_all`) on the store thread and derives the
//! mailbox healths from the admin API; the handle replaces that loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Debug, Default)]
struct Inner {
    paused: AtomicBool,
    sync_requested: AtomicBool,
    wake: Notify,
}

/// Requests for the engine loop; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct EngineLink {
    inner: Arc<Inner>,
}

impl EngineLink {
    /// A running (not paused) link.
    pub fn new() -> EngineLink {
        EngineLink::default()
    }

    /// Whether scheduling is paused.
    pub fn is_paused(&self) -> bool {
        self.inner.paused.load(Ordering::SeqCst)
    }

    /// Stops scheduling cycles (a running cycle finishes).
    pub fn pause(&self) {
        self.inner.paused.store(true, Ordering::SeqCst);
        self.inner.wake.notify_one();
    }

    /// Schedules cycles again.
    pub fn resume(&self) {
        self.inner.paused.store(false, Ordering::SeqCst);
        self.inner.wake.notify_one();
    }

    /// Asks for a cycle now.
    pub fn sync_now(&self) {
        self.inner.sync_requested.store(true, Ordering::SeqCst);
        self.inner.wake.notify_one();
    }

    /// Something changed (a command wrote to the store): refresh healths.
    pub fn refresh(&self) {
        self.inner.wake.notify_one();
    }

    /// Takes a pending "sync now" request.
    pub fn take_sync_request(&self) -> bool {
        self.inner.sync_requested.swap(false, Ordering::SeqCst)
    }

    /// Waits until woken or `timeout` passed.
    pub async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.inner.wake.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_wake_the_loop() {
        let link = EngineLink::new();
        assert!(!link.is_paused());
        link.pause();
        assert!(link.is_paused());
        // The stored permit wakes the next wait at once.
        tokio::time::timeout(Duration::from_secs(1), link.wait(Duration::from_secs(30))).await.unwrap();
        link.resume();
        assert!(!link.is_paused());
        link.sync_now();
        assert!(link.take_sync_request());
        assert!(!link.take_sync_request());
    }
}
