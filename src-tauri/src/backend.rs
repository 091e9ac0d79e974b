//! The thread that owns the store. `Store` is `Send` but not `Sync`, so one
//! dedicated thread holds it and runs the admin API calls sent to it, in
//! order; async engine calls (Test & Enable, a sync cycle) run on that
//! thread's own current-thread runtime. Tauri commands await the answer.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crmsync_core::Store;
use crmsync_engine::EngineError;
use tokio::runtime::Runtime;

use crate::wire::IpcError;

type Job = Box<dyn FnOnce(&mut Store, &Runtime) + Send>;

/// A handle to the store thread; cheap to clone.
#[derive(Clone)]
pub struct Backend {
    jobs: mpsc::Sender<Job>,
    path: PathBuf,
}

impl Backend {
    /// Opens (and migrates) the store at `path` on a new thread.
    pub fn open(path: &Path) -> Result<Backend, IpcError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let owned = path.to_path_buf();
        std::thread::Builder::new()
            .name("crmsync-store".into())
            .spawn(move || {
                let opened = Store::open(&owned).map_err(EngineError::from).and_then(|s| {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| EngineError::Unsupported(format!("cannot start a runtime: {e}")))?;
                    Ok((s, rt))
                });
                let (mut store, rt) = match opened {
                    Ok(v) => {
                        let _ = ready_tx.send(Ok(()));
                        v
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(IpcError::from(e)));
                        return;
                    }
                };
                while let Ok(job) = rx.recv() {
                    job(&mut store, &rt);
                }
            })
            .map_err(|e| IpcError::Internal { message: format!("cannot start the store thread: {e}") })?;
        ready_rx.recv().map_err(|_| IpcError::Internal { message: "the store thread stopped".into() })??;
        Ok(Backend { jobs, path: path.to_path_buf() })
    }

    /// Path of the store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the store thread and returns its result.
    pub async fn call<T, F>(&self, f: F) -> Result<T, IpcError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store, &Runtime) -> Result<T, EngineError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |store, rt| {
                let _ = tx.send(f(store, rt));
            }))
            .map_err(|_| IpcError::Internal { message: "the store thread stopped".into() })?;
        let result =
            rx.await.map_err(|_| IpcError::Internal { message: "the store thread stopped".into() })?;
        result.map_err(IpcError::from)
    }
}
