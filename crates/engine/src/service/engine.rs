//! The scheduler thread: keeps the schedule of every mailbox, feeds the three
//! bounded queues, runs the IDLE watchers, heartbeats the lease, and turns
//! worker results and new alerts into [`EngineEvent`]s.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crmsync_core::Store;
use crmsync_core::health::{Health, TRANSIENT_FAILURES, health};
use crmsync_core::model::{ChannelMethod, IncomingMethod, Mailbox, Profile};
use crmsync_core::settings::{BoolSetting, IntSetting, Settings};
use crmsync_core::store::lease::{self, Acquired};
use crmsync_core::store::{alerts, mailbox_state, mailboxes, profiles, settings as stored_settings};
use crmsync_core::time::to_db;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use super::idle;
use super::jobs::{JobKind, JobOutcome};
use super::shared::{Done, EngineEvent, EngineOptions, Msg, Published, Shared};
use super::worker::{self, Job, QueueKind};
use crate::backend::factory;
use crate::error::{EngineError, Result};
use crate::test_enable::TestReport;

/// The host name for the lease.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether a lease holder on this host has ended (no such process).
fn holder_gone(l: &lease::LeaseInfo, host: &str) -> bool {
    if l.host != host || !Path::new("/proc/self").exists() {
        return false;
    }
    !Path::new("/proc").join(l.pid.to_string()).exists()
}

/// Opens the store and takes the lease (blocking).
pub(crate) fn open_and_lease(db: &Path, opts: &EngineOptions, pid: u32, host: &str) -> Result<Store> {
    let mut store = Store::open(db)?;
    let stale = chrono::Duration::from_std(opts.lease_timeout).unwrap_or(chrono::Duration::seconds(30));
    let got = store.write(|tx| {
        lease::acquire(tx, &opts.holder, pid, host, stale, |l| holder_gone(l, host))
            .map_err(EngineError::from)
    })?;
    match got {
        Acquired::Held(l) => {
            Err(EngineError::LeaseHeld { holder: l.holder, pid: l.pid, host: l.host, since: to_db(l.since) })
        }
        Acquired::Mine { taken_over } => {
            if let Some(old) = taken_over {
                warn!(
                    holder = %old.holder, pid = old.pid, host = %old.host,
                    "took over a stale lease (its holder stopped without releasing it)"
                );
            }
            let reset = store.write(|tx| mailbox_state::reset_syncing(tx))?;
            if reset > 0 {
                info!(mailboxes = reset, "reset mailboxes left 'syncing' by a previous run");
            }
            Ok(store)
        }
    }
}

/// Starts the scheduler thread (it starts the workers).
pub(crate) fn spawn(
    shared: Arc<Shared>,
    store: Store,
    rx: mpsc::UnboundedReceiver<Msg>,
    done: oneshot::Sender<()>,
) -> Result<()> {
    std::thread::Builder::new()
        .name("crmsync-scheduler".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    error!("cannot start the scheduler runtime: {e}");
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, async move {
                let mut s = Scheduler::new(shared, store);
                s.run(rx).await;
            });
            let _ = done.send(());
        })
        .map_err(|e| EngineError::Unsupported(format!("cannot start the scheduler thread: {e}")))?;
    Ok(())
}

/// The schedule of one mailbox.
#[derive(Debug)]
struct Slot {
    mb: Mailbox,
    health: Health,
    incoming: Chan,
    act: Chan,
    outgoing: Chan,
    recovery: Chan,
    /// An IDLE watcher runs.
    idle: Option<JoinHandle<()>>,
    /// IDLE is established (push): polling is only a safety net.
    push: bool,
    /// New mail reported while a sync ran: sync again when it ends.
    push_news: bool,
    idle_retry: Instant,
}

/// One channel of a mailbox.
#[derive(Debug)]
struct Chan {
    /// Due at (None: not scheduled).
    due: Option<Instant>,
    /// Queued or running.
    busy: bool,
    /// Last poll interval (idle doubling).
    interval: Duration,
    last_start: Option<Instant>,
}

impl Chan {
    fn new() -> Chan {
        Chan { due: None, busy: false, interval: Duration::ZERO, last_start: None }
    }
}

/// How often the service removes mailbox history past `history.retention_days`.
const HISTORY_PURGE_EVERY: Duration = Duration::from_secs(3600);

struct Queues {
    mailboxes: mpsc::Sender<Job>,
    outgoing: mpsc::Sender<Job>,
    async_ops: mpsc::Sender<Job>,
}

struct Scheduler {
    shared: Arc<Shared>,
    store: Store,
    settings: Settings,
    profiles: HashMap<i64, Profile>,
    slots: HashMap<i64, Slot>,
    queues: Option<Queues>,
    alive: Option<mpsc::Receiver<()>>,
    abort: tokio::sync::watch::Sender<bool>,
    next_refresh: Instant,
    next_heartbeat: Instant,
    next_history_purge: Instant,
    alert_watermark: String,
    alert_counts: HashMap<i64, i64>,
    last_depths: Option<super::shared::QueueDepths>,
    pending_tests: Vec<(String, oneshot::Sender<Result<TestReport>>)>,
}

fn std_until(t: chrono::DateTime<chrono::Utc>) -> Duration {
    (t - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO)
}

impl Scheduler {
    fn new(shared: Arc<Shared>, store: Store) -> Scheduler {
        let settings = stored_settings::load(store.conn()).unwrap_or_else(|_| Settings::defaults());
        let (abort, _) = tokio::sync::watch::channel(false);
        Scheduler {
            shared,
            store,
            settings,
            profiles: HashMap::new(),
            slots: HashMap::new(),
            queues: None,
            alive: None,
            abort,
            next_refresh: Instant::now(),
            next_heartbeat: Instant::now(),
            next_history_purge: Instant::now(),
            alert_watermark: to_db(chrono::Utc::now()),
            alert_counts: HashMap::new(),
            last_depths: None,
            pending_tests: Vec::new(),
        }
    }

    fn start_workers(&mut self) {
        let (alive_tx, alive_rx) = mpsc::channel::<()>(1);
        let make = |kind: QueueKind, workers: i64, bound: i64| {
            let (tx, rx) = mpsc::channel::<Job>(bound.max(1) as usize);
            let rx = Arc::new(tokio::sync::Mutex::new(rx));
            for n in 0..workers.max(1) {
                worker::spawn(
                    kind,
                    n as usize,
                    self.shared.clone(),
                    rx.clone(),
                    alive_tx.clone(),
                    self.abort.subscribe(),
                );
            }
            tx
        };
        let s = &self.settings;
        let queues = Queues {
            mailboxes: make(
                QueueKind::Mailboxes,
                s.int(IntSetting::QueueMailboxWorkers),
                s.int(IntSetting::QueueMailboxBound),
            ),
            outgoing: make(
                QueueKind::Outgoing,
                s.int(IntSetting::QueueOutgoingWorkers),
                s.int(IntSetting::QueueOutgoingBound),
            ),
            async_ops: make(
                QueueKind::Async,
                s.int(IntSetting::QueueAsyncWorkers),
                s.int(IntSetting::QueueAsyncBound),
            ),
        };
        self.queues = Some(queues);
        self.alive = Some(alive_rx);
    }

    async fn run(&mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        self.start_workers();
        info!(
            holder = %self.shared.opts.holder, pid = self.shared.pid, host = %self.shared.host,
            db = %self.shared.db.display(), "crmsync engine started"
        );
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    None | Some(Msg::Shutdown) => break,
                    Some(m) => self.on_msg(m),
                },
                _ = tick.tick() => {}
            }
            // Drain what else is waiting before scheduling.
            let mut stop = false;
            while let Ok(m) = rx.try_recv() {
                if matches!(m, Msg::Shutdown) {
                    stop = true;
                    break;
                }
                self.on_msg(m);
            }
            if stop {
                break;
            }
            let now = Instant::now();
            if now >= self.next_heartbeat {
                self.next_heartbeat = now + self.shared.opts.heartbeat;
                if !self.heartbeat() {
                    break;
                }
            }
            if now >= self.next_refresh {
                self.next_refresh = now + self.shared.opts.refresh;
                if let Err(e) = self.refresh() {
                    warn!("cannot read the mailboxes: {e}");
                }
            }
            if now >= self.next_history_purge {
                self.next_history_purge = now + HISTORY_PURGE_EVERY;
                if let Err(e) = crate::history::purge(&mut self.store) {
                    warn!("cannot purge the mailbox history past its retention: {e}");
                }
            }
            self.dispatch();
            self.manage_idle();
            self.poll_alerts();
            self.emit_depths();
        }
        self.shutdown(rx).await;
    }

    fn heartbeat(&mut self) -> bool {
        let (pid, host) = (self.shared.pid, self.shared.host.clone());
        match self.store.write(|tx| lease::heartbeat(tx, pid, &host)) {
            Ok(true) => {}
            Ok(false) => {
                error!(
                    "the store's lease was taken over by another engine; stopping without processing further"
                );
                return false;
            }
            Err(e) => warn!("lease heartbeat failed: {e}"),
        }
        self.publish();
        true
    }

    fn publish(&mut self) {
        let p = Published {
            queue_depths: self.shared.depths(),
            paused: self.shared.paused.load(Ordering::SeqCst),
        };
        if let Ok(json) = serde_json::to_string(&p)
            && let Err(e) = self.store.write(|tx| lease::publish_status(tx, &json))
        {
            debug!("cannot publish the engine status: {e}");
        }
    }

    fn on_msg(&mut self, m: Msg) {
        match m {
            Msg::SyncNow(which) => {
                let now = Instant::now();
                for s in self.slots.values_mut() {
                    if which.as_deref().is_none_or(|w| s.mb.data.email.eq_ignore_ascii_case(w)) {
                        for c in [&mut s.incoming, &mut s.act, &mut s.outgoing] {
                            if c.due.is_some() {
                                c.due = Some(now);
                            }
                        }
                    }
                }
                self.next_refresh = now;
            }
            Msg::Pause => {
                if !self.shared.paused.swap(true, Ordering::SeqCst) {
                    info!("processing paused");
                    self.shared.emit(EngineEvent::Paused);
                    self.publish();
                }
            }
            Msg::Resume => {
                if self.shared.paused.swap(false, Ordering::SeqCst) {
                    info!("processing resumed");
                    self.shared.emit(EngineEvent::Resumed);
                    self.publish();
                }
            }
            Msg::Shutdown => {}
            Msg::TestEnable(email, reply) => self.pending_tests.push((email, reply)),
            Msg::Started { mailbox_id } => {
                if let Some(s) = self.slots.get_mut(&mailbox_id)
                    && s.health != Health::Syncing
                {
                    s.health = Health::Syncing;
                    self.shared.emit(EngineEvent::MailboxStatusChanged {
                        mailbox: s.mb.data.email.clone(),
                        health: Health::Syncing,
                        code: None,
                        message: None,
                    });
                }
            }
            Msg::Done(d) => self.on_done(*d),
            Msg::IdleUp { mailbox_id } => {
                if let Some(s) = self.slots.get_mut(&mailbox_id) {
                    debug!(mailbox = %s.mb.data.email, "IDLE established");
                    s.push = true;
                }
            }
            Msg::IdleNews { mailbox_id } => {
                if let Some(s) = self.slots.get_mut(&mailbox_id) {
                    debug!(mailbox = %s.mb.data.email, "IDLE: new mail");
                    if s.incoming.busy {
                        s.push_news = true;
                    } else if s.incoming.due.is_some() {
                        s.incoming.due = Some(Instant::now());
                    }
                }
            }
            Msg::IdleEnded { mailbox_id, unsupported, error } => {
                let min = self.slots.get(&mailbox_id).map(|s| self.min_interval(s.mb.data.profile_id));
                if let Some(s) = self.slots.get_mut(&mailbox_id) {
                    s.idle = None;
                    s.push = false;
                    let wait = if unsupported { Duration::from_secs(3600) } else { Duration::from_secs(30) };
                    s.idle_retry = Instant::now() + wait;
                    if let Some(e) = error {
                        debug!(mailbox = %s.mb.data.email, "IDLE ended: {e}");
                    }
                    // Catch up on anything that arrived while IDLE was down.
                    if s.incoming.due.is_some() && !s.incoming.busy {
                        let floor = s.incoming.last_start.map(|t| t + min.unwrap_or_default());
                        s.incoming.due = Some(floor.unwrap_or_else(Instant::now).max(Instant::now()));
                    }
                }
            }
        }
    }

    fn min_interval(&self, profile_id: i64) -> Duration {
        self.profiles
            .get(&profile_id)
            .map(|p| Duration::from_secs(u64::from(p.data.min_poll_interval)))
            .unwrap_or_default()
    }

    fn on_done(&mut self, d: Done) {
        let now = Instant::now();
        if d.kind == JobKind::TestEnable {
            // Channels may have been enabled: re-read at once.
            self.next_refresh = now;
            return;
        }
        let Some(s) = self.slots.get_mut(&d.mailbox_id) else { return };
        let chan = match d.kind {
            JobKind::Incoming => &mut s.incoming,
            JobKind::Act => &mut s.act,
            JobKind::Outgoing => &mut s.outgoing,
            JobKind::Recovery | JobKind::TestEnable => &mut s.recovery,
        };
        chan.busy = false;
        chan.interval = d.interval;
        chan.due = if d.disabled { None } else { d.next.map(|n| now + n) };
        if let Some(r) = &d.report {
            match &r.outcome {
                JobOutcome::Done { processed, created, failed, capped } => {
                    info!(kind = ?r.kind, mailbox = %r.mailbox, processed, created, failed, capped, "job done");
                    if d.kind == JobKind::Incoming {
                        self.shared.emit(EngineEvent::SyncProgress {
                            mailbox: r.mailbox.clone(),
                            processed: *processed,
                            created: *created,
                            failed: *failed,
                        });
                    }
                }
                JobOutcome::Failed { code, message, class } => {
                    warn!(kind = ?r.kind, mailbox = %r.mailbox, code = %code, class = ?class, "job failed: {message}");
                }
                JobOutcome::NotAvailable { message } => {
                    debug!(kind = ?r.kind, mailbox = %r.mailbox, "not available: {message}");
                }
                JobOutcome::Skipped { code, message } => {
                    debug!(kind = ?r.kind, mailbox = %r.mailbox, code = %code, "skipped: {message}");
                }
                JobOutcome::Recovered => info!(mailbox = %r.mailbox, "mailbox recovered"),
            }
        }
        if d.kind == JobKind::Incoming && s.push_news {
            s.push_news = false;
            if s.incoming.due.is_some() {
                s.incoming.due = Some(now);
            }
        }
        if let Some(mb) = d.mailbox {
            s.mb = mb;
            let h = health(&s.mb);
            if h != s.health {
                s.health = h;
                let e = s.mb.telemetry.last_error.clone();
                self.shared.emit(EngineEvent::MailboxStatusChanged {
                    mailbox: s.mb.data.email.clone(),
                    health: h,
                    code: e.as_ref().map(|e| e.code.clone()),
                    message: e.map(|e| e.message),
                });
            }
        }
        if d.disabled || matches!(d.report.as_ref().map(|r| &r.outcome), Some(JobOutcome::Recovered)) {
            // Channels changed: re-read at once (starts or stops polling, IDLE, recovery).
            self.next_refresh = now;
        }
    }

    /// Re-reads settings, profiles and mailboxes; (un)schedules channels.
    fn refresh(&mut self) -> Result<()> {
        self.settings = stored_settings::load(self.store.conn())?;
        self.profiles = profiles::list(self.store.conn())?.into_iter().map(|p| (p.id, p)).collect();
        if let Err(e) = crate::outgoing::waiting::review(&mut self.store, &self.settings) {
            warn!("cannot review the mail waiting in Pending Send: {e}");
        }
        let list = mailboxes::list(self.store.conn())?;
        let now = Instant::now();
        let mut seen = HashSet::new();
        let recovery_on = self.settings.bool(BoolSetting::RecoveryEnabled);
        let recovery_every = Duration::from_secs(self.settings.int(IntSetting::RecoveryIntervalSecs) as u64);
        for mb in list {
            seen.insert(mb.id);
            let min = self.min_interval(mb.data.profile_id);
            let unsupported = self
                .profiles
                .get(&mb.data.profile_id)
                .is_some_and(|p| factory::facts(p.data.kind).unsupported.is_some());
            let incoming_on =
                mb.data.incoming_method == IncomingMethod::ServerSide && mb.incoming.enabled && !unsupported;
            let act_on = mb.data.act_method == ChannelMethod::ServerSide && mb.act.enabled;
            let out_on = mb.data.outgoing_method == ChannelMethod::ServerSide && mb.outgoing.enabled;
            let recover = recovery_on && mb.telemetry.disabled_reason.as_deref() == Some(TRANSIENT_FAILURES);
            // First due time of a newly scheduled poll: now, but never sooner
            // than the profile's minimum interval after the last poll started.
            let first = |mb: &Mailbox| {
                let wait = mb
                    .telemetry
                    .last_sync_started
                    .map(|t| std_until(t + chrono::Duration::from_std(min).unwrap_or_default()))
                    .unwrap_or_default();
                now + wait
            };
            let slot = self.slots.entry(mb.id).or_insert_with(|| Slot {
                mb: mb.clone(),
                health: health(&mb),
                incoming: Chan::new(),
                act: Chan::new(),
                outgoing: Chan::new(),
                recovery: Chan::new(),
                idle: None,
                push: false,
                push_news: false,
                idle_retry: now,
            });
            let h = health(&mb);
            if h != slot.health && !(slot.health == Health::Syncing && (slot.incoming.busy || slot.act.busy))
            {
                slot.health = h;
                let e = mb.telemetry.last_error.clone();
                self.shared.emit(EngineEvent::MailboxStatusChanged {
                    mailbox: mb.data.email.clone(),
                    health: h,
                    code: e.as_ref().map(|e| e.code.clone()),
                    message: e.map(|e| e.message),
                });
            }
            let sched = |c: &mut Chan, on: bool, first: Instant| match (on, c.due) {
                (true, None) if !c.busy => c.due = Some(first),
                (false, Some(_)) => c.due = None,
                _ => {}
            };
            sched(&mut slot.incoming, incoming_on, first(&mb));
            sched(&mut slot.act, act_on, first(&mb));
            sched(&mut slot.outgoing, out_on, now);
            sched(&mut slot.recovery, recover, now + recovery_every);
            if !incoming_on && let Some(h) = slot.idle.take() {
                h.abort();
                slot.push = false;
            }
            slot.mb = mb;
        }
        self.slots.retain(|id, s| {
            let keep = seen.contains(id);
            if !keep && let Some(h) = s.idle.take() {
                h.abort();
            }
            keep
        });
        Ok(())
    }

    /// Queues the due jobs, earliest first, as far as each queue's bound allows.
    fn dispatch(&mut self) {
        let Some(queues) = &self.queues else { return };
        if self.shared.paused.load(Ordering::SeqCst) {
            return;
        }
        // Test & Enable requests go first (the admin waits for them).
        for (email, reply) in self.pending_tests.drain(..) {
            let job = Job {
                kind: JobKind::TestEnable,
                mailbox_id: 0,
                email,
                interval: Duration::ZERO,
                push: false,
                reply: Some(reply),
            };
            match queues.async_ops.try_send(job) {
                Ok(()) => {
                    self.shared.depth_async.fetch_add(1, Ordering::SeqCst);
                }
                Err(e) => {
                    let job = match e {
                        mpsc::error::TrySendError::Full(j) | mpsc::error::TrySendError::Closed(j) => j,
                    };
                    if let Some(r) = job.reply {
                        let _ = r.send(Err(EngineError::Unsupported(
                            "the async operations queue is full; try again shortly".into(),
                        )));
                    }
                }
            }
        }
        let now = Instant::now();
        let mut due: Vec<(Instant, i64, JobKind)> = Vec::new();
        for (id, s) in &self.slots {
            for (kind, c) in [
                (JobKind::Incoming, &s.incoming),
                (JobKind::Act, &s.act),
                (JobKind::Outgoing, &s.outgoing),
                (JobKind::Recovery, &s.recovery),
            ] {
                if let Some(t) = c.due
                    && t <= now
                    && !c.busy
                {
                    due.push((t, *id, kind));
                }
            }
        }
        due.sort();
        let mut full: HashSet<QueueKind> = HashSet::new();
        let out_every =
            Duration::from_secs(self.settings.int(IntSetting::PollingOutgoingIntervalSecs) as u64);
        for (_, id, kind) in due {
            let q = QueueKind::of(kind);
            if full.contains(&q) {
                continue;
            }
            let Some(s) = self.slots.get_mut(&id) else { continue };
            // Incoming and ACT of one mailbox never run at once (one mailbox job at a time).
            if matches!(kind, JobKind::Incoming | JobKind::Act) && (s.incoming.busy || s.act.busy) {
                continue;
            }
            let c = match kind {
                JobKind::Incoming => &mut s.incoming,
                JobKind::Act => &mut s.act,
                JobKind::Outgoing => &mut s.outgoing,
                _ => &mut s.recovery,
            };
            let job = Job {
                kind,
                mailbox_id: id,
                email: s.mb.data.email.clone(),
                interval: if kind == JobKind::Outgoing { out_every } else { c.interval },
                push: s.push,
                reply: None,
            };
            let (tx, depth): (&mpsc::Sender<Job>, &AtomicUsize) = match q {
                QueueKind::Mailboxes => (&queues.mailboxes, &self.shared.depth_mailboxes),
                QueueKind::Outgoing => (&queues.outgoing, &self.shared.depth_outgoing),
                QueueKind::Async => (&queues.async_ops, &self.shared.depth_async),
            };
            match tx.try_send(job) {
                Ok(()) => {
                    depth.fetch_add(1, Ordering::SeqCst);
                    c.busy = true;
                    c.last_start = Some(now);
                }
                Err(_) => {
                    full.insert(q);
                }
            }
        }
    }

    /// Starts IDLE watchers for IMAP mailboxes with incoming enabled, as far as
    /// the profile's connection budget allows (never more than half of it).
    fn manage_idle(&mut self) {
        if !self.settings.bool(BoolSetting::PollingUseIdle) {
            for s in self.slots.values_mut() {
                if let Some(h) = s.idle.take() {
                    h.abort();
                    s.push = false;
                }
            }
            return;
        }
        let now = Instant::now();
        let wait = Duration::from_secs(
            self.settings.int(IntSetting::PollingIdleMaxIntervalSecs).clamp(30, 25 * 60) as u64,
        );
        for (id, s) in self.slots.iter_mut() {
            if s.idle.is_some() || s.incoming.due.is_none() || now < s.idle_retry {
                continue;
            }
            let Some(p) = self.profiles.get(&s.mb.data.profile_id) else { continue };
            if !factory::facts(p.data.kind).can_watch {
                continue;
            }
            let max = p.data.max_connections;
            let keep_free = (max as usize).div_ceil(2);
            let Some(permit) = self.shared.permits.try_acquire_leaving(p.id, max, keep_free) else {
                s.idle_retry = now + Duration::from_secs(10);
                continue;
            };
            s.idle = Some(tokio::task::spawn_local(idle::watch(
                self.shared.clone(),
                *id,
                s.mb.data.email.clone(),
                wait,
                permit,
            )));
        }
    }

    /// Turns alerts raised or folded since the last look into events.
    fn poll_alerts(&mut self) {
        let Ok(list) = alerts::seen_since(self.store.conn(), &self.alert_watermark) else { return };
        for a in list {
            if self.alert_counts.get(&a.id) == Some(&a.count) {
                continue;
            }
            self.alert_counts.insert(a.id, a.count);
            if a.last_seen > self.alert_watermark {
                self.alert_watermark = a.last_seen.clone();
            }
            self.shared.emit(EngineEvent::AlertRaised {
                id: a.id,
                severity: a.severity,
                mailbox: a.mailbox,
                profile: a.profile,
                code: a.code,
                message: a.message,
            });
        }
        if self.alert_counts.len() > 10_000 {
            self.alert_counts.clear();
        }
    }

    fn emit_depths(&mut self) {
        let d = self.shared.depths();
        if self.last_depths != Some(d) {
            self.last_depths = Some(d);
            self.shared.emit(EngineEvent::QueueDepths {
                mailboxes: d.mailboxes,
                outgoing: d.outgoing,
                async_ops: d.async_ops,
            });
        }
    }

    /// Stops: no new jobs; running jobs finish (up to the grace), then are
    /// stopped between commits; IDLE closes; the lease is released.
    async fn shutdown(&mut self, rx: mpsc::UnboundedReceiver<Msg>) {
        info!("crmsync engine stopping: finishing running jobs");
        self.shared.stopping.store(true, Ordering::SeqCst);
        for s in self.slots.values_mut() {
            if let Some(h) = s.idle.take() {
                h.abort();
            }
        }
        self.queues = None;
        for (_, reply) in self.pending_tests.drain(..) {
            let _ = reply.send(Err(EngineError::NotRunning));
        }
        if let Some(mut alive) = self.alive.take() {
            let grace = tokio::time::sleep(self.shared.opts.shutdown_grace);
            tokio::pin!(grace);
            tokio::select! {
                _ = alive.recv() => {}
                _ = &mut grace => {
                    warn!("jobs still running after the shutdown grace; stopping them between commits");
                    let _ = self.abort.send(true);
                    let _ = tokio::time::timeout(Duration::from_secs(10), alive.recv()).await;
                }
            }
        }
        let (pid, host) = (self.shared.pid, self.shared.host.clone());
        if let Err(e) = self.store.write(|tx| lease::release(tx, pid, &host)) {
            warn!("cannot release the lease: {e}");
        }
        drop(rx);
        info!("crmsync engine stopped");
    }
}

impl QueueKind {
    fn of(kind: JobKind) -> QueueKind {
        match kind {
            JobKind::Incoming | JobKind::Act => QueueKind::Mailboxes,
            JobKind::Outgoing => QueueKind::Outgoing,
            JobKind::Recovery | JobKind::TestEnable => QueueKind::Async,
        }
    }
}
