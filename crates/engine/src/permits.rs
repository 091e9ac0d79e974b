//! Per-profile connection permits: at most `max_connections` connections to
//! one profile's servers at a time, shared by every pipeline that holds the
//! same [`ConnectionPermits`] (clone it: clones share the semaphores).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One semaphore per profile, sized by the profile's `max_connections` when
/// first used.
#[derive(Debug, Clone, Default)]
pub struct ConnectionPermits {
    inner: Arc<Mutex<HashMap<i64, Arc<Semaphore>>>>,
}

impl ConnectionPermits {
    /// Waits for one connection permit of `profile_id` (limit `max_connections`).
    /// The connection may stay open while the permit is held.
    pub async fn acquire(&self, profile_id: i64, max_connections: u32) -> OwnedSemaphorePermit {
        let sem = {
            let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(profile_id)
                .or_insert_with(|| Arc::new(Semaphore::new(max_connections.max(1) as usize)))
                .clone()
        };
        sem.acquire_owned().await.expect("the semaphore is never closed")
    }

    /// Permits of `profile_id` free right now (for tests and diagnostics).
    pub fn available(&self, profile_id: i64) -> Option<usize> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&profile_id).map(|s| s.available_permits())
    }
}
