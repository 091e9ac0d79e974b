//! [`StoreLease`]: the store's single-runner lease held by a one-off pass
//! (`crmsync sync`) for its duration, so it never runs beside the service or
//! another pass: two passes at once could move folder watermarks back, open
//! more connections than a profile's `max_connections`, and race creates.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use crmsync_core::store::lease;
use tracing::{debug, warn};

use super::engine;
use super::shared::EngineOptions;
use crate::error::{EngineError, Result};

/// The store's lease, held until dropped; a thread of its own keeps its
/// heartbeat fresh so a long pass is never taken for a crashed one.
#[derive(Debug)]
pub struct StoreLease {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl StoreLease {
    /// Takes the lease of the store at `db` for `holder` (e.g. "crmsync
    /// sync"), or fails with [`EngineError::LeaseHeld`] naming the live
    /// holder (a service, the desktop app, another pass). A lease whose
    /// holder is gone, or whose heartbeat is older than `lease_timeout`, is
    /// taken over.
    pub fn take(db: &Path, holder: &str, lease_timeout: Duration) -> Result<StoreLease> {
        let pid = std::process::id();
        let host = engine::host_name();
        let opts = EngineOptions { holder: holder.into(), lease_timeout, ..EngineOptions::default() };
        let mut store = engine::open_and_lease(db, &opts, pid, &host)?;
        let every = (lease_timeout / 6).max(Duration::from_millis(500));
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("crmsync-lease".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    match store.write(|tx| lease::heartbeat(tx, pid, &host)) {
                        Ok(true) => {}
                        Ok(false) => warn!("the store's lease was taken over by another engine"),
                        Err(e) => warn!("lease heartbeat failed: {e}"),
                    }
                }
                match store.write(|tx| lease::release(tx, pid, &host)) {
                    Ok(_) => debug!("store lease released"),
                    Err(e) => warn!("cannot release the store's lease: {e}"),
                }
            })
            .map_err(|e| EngineError::Unsupported(format!("cannot start the lease thread: {e}")))?;
        Ok(StoreLease { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for StoreLease {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineHandle;

    const TIMEOUT: Duration = Duration::from_secs(30);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_held_pass_lease_keeps_a_second_pass_and_the_service_out_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("crm.db");
        let lease = StoreLease::take(&db, "crmsync sync", TIMEOUT).unwrap();
        match StoreLease::take(&db, "crmsync sync", TIMEOUT) {
            Err(EngineError::LeaseHeld { holder, pid, .. }) => {
                assert_eq!((holder.as_str(), pid), ("crmsync sync", std::process::id()));
            }
            other => panic!("a second pass must be refused: {other:?}"),
        }
        let opts = EngineOptions { holder: "crmsync run".into(), ..EngineOptions::default() };
        match EngineHandle::start(db.clone(), opts.clone()).await {
            Err(EngineError::LeaseHeld { holder, .. }) => assert_eq!(holder, "crmsync sync"),
            Err(e) => panic!("the service must be refused while a pass runs: {e}"),
            Ok(_) => panic!("the service must be refused while a pass runs"),
        }
        drop(lease);
        let engine = EngineHandle::start(db, opts).await.expect("the lease is free once the pass ended");
        engine.shutdown().await;
    }
}
