//! Queue workers: each on a thread of its own with its own store connection
//! (SQLite WAL; `Store` is not `Sync`), taking jobs from its queue, running
//! them under the profile's connection permit and the job timeout, settling
//! the outcome and reporting back to the scheduler.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crmsync_core::model::{Mailbox, Severity};
use crmsync_core::settings::IntSetting;
use crmsync_core::store::alerts::Scope;
use crmsync_core::store::{mailboxes, profiles, settings as stored_settings};
use crmsync_core::{ErrorClass, Store};
use futures::FutureExt;
use tokio::sync::{Mutex, mpsc, oneshot, watch};
use tracing::{error, warn};

use super::jobs::{self, JobKind, JobOutcome, JobReport};
use super::shared::Shared;
use super::shared::{Done, Msg};
use crate::error::{EngineError, Result};
use crate::test_enable::{self, TestReport};

/// The code of the error and alert a panicked job leaves.
const INTERNAL_ERROR: &str = "INTERNAL_ERROR";

/// Pause between closing a session and handing its connection permit on.
const CLOSE_SETTLE: Duration = Duration::from_millis(30);

/// The three queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum QueueKind {
    /// Incoming and ACT polls.
    Mailboxes,
    /// Outgoing sends.
    Outgoing,
    /// Test & Enable, recovery re-tests.
    Async,
}

impl QueueKind {
    fn name(self) -> &'static str {
        match self {
            QueueKind::Mailboxes => "mailbox",
            QueueKind::Outgoing => "outgoing",
            QueueKind::Async => "async",
        }
    }
}

/// One queued job.
#[derive(Debug)]
pub(crate) struct Job {
    pub kind: JobKind,
    pub mailbox_id: i64,
    pub email: String,
    /// The channel's previous poll interval.
    pub interval: Duration,
    /// IDLE watches the mailbox.
    pub push: bool,
    /// Where a Test & Enable result goes.
    pub reply: Option<oneshot::Sender<Result<TestReport>>>,
}

/// Starts worker `n` of a queue on its own thread.
pub(crate) fn spawn(
    queue: QueueKind,
    n: usize,
    shared: Arc<Shared>,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    alive: mpsc::Sender<()>,
    abort: watch::Receiver<bool>,
) {
    let name = format!("crmsync-{}-{n}", queue.name());
    let spawned = std::thread::Builder::new().name(name.clone()).spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                error!(worker = %name, "cannot start a worker runtime: {e}");
                return;
            }
        };
        rt.block_on(work(queue, shared, rx, abort));
        drop(alive);
    });
    if let Err(e) = spawned {
        error!("cannot start a {} worker: {e}", queue.name());
    }
}

async fn work(
    queue: QueueKind,
    shared: Arc<Shared>,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    mut abort: watch::Receiver<bool>,
) {
    let mut store = match Store::open(&shared.db) {
        Ok(s) => s,
        Err(e) => {
            error!(queue = queue.name(), "a worker cannot open the store: {e}");
            return;
        }
    };
    let depth = match queue {
        QueueKind::Mailboxes => &shared.depth_mailboxes,
        QueueKind::Outgoing => &shared.depth_outgoing,
        QueueKind::Async => &shared.depth_async,
    };
    loop {
        let job = { rx.lock().await.recv().await };
        let Some(job) = job else { break };
        depth.fetch_sub(1, Ordering::SeqCst);
        if shared.stopping.load(Ordering::SeqCst) {
            if let Some(r) = job.reply {
                let _ = r.send(Err(EngineError::NotRunning));
            }
            continue;
        }
        tokio::select! {
            _ = run(&mut store, &shared, job) => {}
            _ = abort.wait_for(|a| *a) => break,
        }
    }
}

fn failed(kind: JobKind, email: &str, code: String, message: String, class: ErrorClass) -> JobReport {
    JobReport { kind, mailbox: email.to_string(), outcome: JobOutcome::Failed { code, message, class } }
}

async fn run(store: &mut Store, shared: &Shared, mut job: Job) {
    if job.kind == JobKind::TestEnable {
        let r = test_enable_job(store, shared, &job.email).await;
        if let Some(reply) = job.reply.take() {
            let _ = reply.send(r);
        }
        let _ = shared.tx.send(Msg::Done(Box::new(Done {
            mailbox_id: 0,
            kind: JobKind::TestEnable,
            report: None,
            next: None,
            interval: Duration::ZERO,
            disabled: false,
            mailbox: None,
        })));
        return;
    }
    // A panic in a job must not stop the worker, nor leave its mailbox
    // unscheduled for ever: it is caught here, recorded, and retried.
    let ran = AssertUnwindSafe(run_mailbox_job(store, shared, &job)).catch_unwind().await;
    let done = match ran {
        Err(panic) => after_panic(store, &job, &panic_text(panic.as_ref())),
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            warn!(mailbox = %job.email, kind = ?job.kind, "job could not run: {e}");
            Done {
                mailbox_id: job.mailbox_id,
                kind: job.kind,
                report: Some(failed(job.kind, &job.email, e.code(), e.to_string(), e.class())),
                next: Some(Duration::from_secs(60)),
                interval: job.interval,
                disabled: false,
                mailbox: mailboxes::get_by_id(store.conn(), job.mailbox_id).ok(),
            }
        }
    };
    let _ = shared.tx.send(Msg::Done(Box::new(done)));
}

/// The message a panic carried.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

/// A job panicked: its mailbox gets an `INTERNAL_ERROR` (telemetry and
/// alert) and is rescheduled as after a transient failure.
fn after_panic(store: &mut Store, job: &Job, what: &str) -> Done {
    let kind = format!("{:?}", job.kind).to_lowercase();
    let message = format!(
        "internal error: the {kind} job of {} panicked ({what}); crmsync retries it as after a transient failure (please report this)",
        job.email
    );
    error!(mailbox = %job.email, kind = ?job.kind, "{message}");
    // A panic inside a transaction the store did not roll back itself.
    if !store.conn().is_autocommit() {
        let _ = store.conn().execute_batch("ROLLBACK");
    }
    let report = failed(job.kind, &job.email, INTERNAL_ERROR.into(), message.clone(), ErrorClass::Transient);
    let (next, interval, disabled) = settle_panic(store, job, &report, &message).unwrap_or_else(|e| {
        warn!(mailbox = %job.email, "cannot record the panic: {e}");
        (Some(Duration::from_secs(60)), job.interval, false)
    });
    Done {
        mailbox_id: job.mailbox_id,
        kind: job.kind,
        report: Some(report),
        next,
        interval,
        disabled,
        mailbox: mailboxes::get_by_id(store.conn(), job.mailbox_id).ok(),
    }
}

fn settle_panic(
    store: &mut Store,
    job: &Job,
    report: &JobReport,
    message: &str,
) -> Result<(Option<Duration>, Duration, bool)> {
    let mb = mailboxes::get_by_id(store.conn(), job.mailbox_id)?;
    let profile = profiles::get_by_id(store.conn(), mb.data.profile_id)?;
    let settings = stored_settings::load(store.conn())?;
    let transient = ErrorClass::Transient;
    Ok(match job.kind {
        JobKind::Incoming | JobKind::Act => {
            jobs::record_unfinished(store, &mb, &settings, INTERNAL_ERROR, message, transient)?;
            let s = jobs::settle(store, &mb, &profile, &settings, report, job.interval, job.push)?;
            (s.next, s.interval, s.disabled)
        }
        JobKind::Outgoing | JobKind::Recovery | JobKind::TestEnable => {
            store.write(|tx| {
                jobs::raise(tx, &settings, Severity::Warning, Scope::Mailbox(mb.id), INTERNAL_ERROR, message)
            })?;
            let base = Duration::from_secs(settings.int(IntSetting::BackoffBaseSecs) as u64);
            let next = match job.kind {
                JobKind::Recovery => {
                    Duration::from_secs(settings.int(IntSetting::RecoveryIntervalSecs) as u64)
                }
                _ => job.interval.max(base),
            };
            (Some(next), job.interval, false)
        }
    })
}

/// Test-only fault injection, compiled into debug builds only:
/// `CRMSYNC_TEST_PANIC_IN=EMAIL[:N]` makes the first N (default: every)
/// incoming job of mailbox EMAIL panic, so tests can prove a panic is caught,
/// recorded and retried. Release builds never read the variable.
#[cfg(debug_assertions)]
fn test_panic_hook(kind: JobKind, email: &str) {
    use std::sync::atomic::AtomicU64;
    static PANICKED: AtomicU64 = AtomicU64::new(0);
    let Ok(spec) = std::env::var("CRMSYNC_TEST_PANIC_IN") else { return };
    let (target, times) = match spec.rsplit_once(':') {
        Some((t, n)) => (t.to_string(), n.parse::<u64>().unwrap_or(u64::MAX)),
        None => (spec, u64::MAX),
    };
    if kind == JobKind::Incoming
        && target.eq_ignore_ascii_case(email)
        && PANICKED.fetch_add(1, Ordering::SeqCst) < times
    {
        panic!("CRMSYNC_TEST_PANIC_IN: injected panic in the incoming job of {email}");
    }
}

async fn test_enable_job(store: &mut Store, shared: &Shared, email: &str) -> Result<TestReport> {
    let mb = mailboxes::find(store.conn(), email)?
        .ok_or_else(|| EngineError::invalid("email", format!("no mailbox for {email}")))?;
    let profile = profiles::get_by_id(store.conn(), mb.data.profile_id)?;
    let settings = stored_settings::load(store.conn())?;
    let limit = Duration::from_secs(settings.int(IntSetting::QueueJobTimeoutSecs) as u64);
    let _permit = shared.permits.acquire(profile.id, profile.data.max_connections).await;
    tokio::time::timeout(limit, test_enable::test_and_enable_mailbox(store, mb)).await.map_err(|_| {
        EngineError::Unsupported(format!(
            "Test & Enable of {email} did not finish within {} s",
            limit.as_secs()
        ))
    })?
}

async fn run_mailbox_job(store: &mut Store, shared: &Shared, job: &Job) -> Result<Done> {
    let Some(mb) = mailboxes::find(store.conn(), &job.email)?.filter(|m| m.id == job.mailbox_id) else {
        // Removed (or renamed) meanwhile: nothing to do.
        return Ok(Done {
            mailbox_id: job.mailbox_id,
            kind: job.kind,
            report: None,
            next: None,
            interval: job.interval,
            disabled: false,
            mailbox: None,
        });
    };
    let profile = profiles::get_by_id(store.conn(), mb.data.profile_id)?;
    let settings = stored_settings::load(store.conn())?;
    let limit = Duration::from_secs(settings.int(IntSetting::QueueJobTimeoutSecs) as u64);
    let poll = matches!(job.kind, JobKind::Incoming | JobKind::Act);
    if poll {
        let _ = shared.tx.send(Msg::Started { mailbox_id: mb.id });
    }
    // Every server session holds one of the profile's connection permits.
    let permit = match job.kind {
        JobKind::Incoming | JobKind::Act | JobKind::Recovery => {
            Some(shared.permits.acquire(profile.id, profile.data.max_connections).await)
        }
        // The outgoing pass takes its permit itself, and only when it has work.
        JobKind::Outgoing | JobKind::TestEnable => None,
    };
    let email = mb.data.email.clone();
    let fut = async {
        #[cfg(debug_assertions)]
        test_panic_hook(job.kind, &email);
        match job.kind {
            JobKind::Incoming => jobs::incoming_job(store, mb.clone()).await,
            JobKind::Act => jobs::act_job(store, mb.clone()).await,
            JobKind::Outgoing => jobs::outgoing_job(store, mb.clone(), &shared.permits).await,
            JobKind::Recovery => jobs::recovery_job(store, mb.clone()).await,
            JobKind::TestEnable => unreachable!("handled by test_enable_job"),
        }
    };
    let result = tokio::time::timeout(limit, fut).await;
    // Only a handoff (every permit taken, so a waiter gets this one at once) needs it.
    if permit.is_some() && shared.permits.available(profile.id) == Some(0) {
        // The session's socket is closed by now; give the peer a moment to see
        // the close before the permit lets the next connection open, so the
        // server (or a firewall counting connections) never sees one too many.
        tokio::time::sleep(CLOSE_SETTLE).await;
    }
    drop(permit);
    let report = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            let (code, message, class) = (e.code(), e.to_string(), e.class());
            if poll {
                jobs::record_unfinished(store, &mb, &settings, &code, &message, class)?;
            }
            failed(job.kind, &email, code, message, class)
        }
        Err(_) => {
            let message = format!(
                "the {:?} job of {email} did not finish within {} s (queue.job_timeout_secs) and was stopped; committed work is kept",
                job.kind,
                limit.as_secs()
            )
            .to_lowercase();
            if poll {
                jobs::record_unfinished(
                    store,
                    &mb,
                    &settings,
                    "SYNC_TIMEOUT",
                    &message,
                    ErrorClass::Transient,
                )?;
            }
            failed(job.kind, &email, "SYNC_TIMEOUT".into(), message, ErrorClass::Transient)
        }
    };
    let idle_max = Duration::from_secs(settings.int(IntSetting::PollingIdleMaxIntervalSecs) as u64);
    let recovery_every = Duration::from_secs(settings.int(IntSetting::RecoveryIntervalSecs) as u64);
    let (next, interval, disabled) = match job.kind {
        JobKind::Incoming | JobKind::Act => {
            let s = jobs::settle(store, &mb, &profile, &settings, &report, job.interval, job.push)?;
            (s.next, s.interval, s.disabled)
        }
        JobKind::Outgoing => match report.outcome {
            JobOutcome::NotAvailable { .. } => (Some(idle_max), job.interval, false),
            // A mailbox-level failure (server down, login refused): the mail
            // waits; check again after the backoff base, not every few seconds.
            JobOutcome::Failed { .. } => {
                let base = Duration::from_secs(settings.int(IntSetting::BackoffBaseSecs) as u64);
                (Some(job.interval.max(base)), job.interval, false)
            }
            _ => (Some(job.interval), job.interval, false),
        },
        JobKind::Recovery => match &report.outcome {
            JobOutcome::Recovered | JobOutcome::Skipped { .. } => (None, job.interval, false),
            JobOutcome::Failed { class: ErrorClass::Permanent, .. } => (None, job.interval, true),
            _ => (Some(recovery_every), job.interval, false),
        },
        JobKind::TestEnable => (None, job.interval, false),
    };
    let after: Option<Mailbox> = mailboxes::get_by_id(store.conn(), mb.id).ok();
    Ok(Done {
        mailbox_id: mb.id,
        kind: job.kind,
        report: Some(report),
        next,
        interval,
        disabled,
        mailbox: after,
    })
}
