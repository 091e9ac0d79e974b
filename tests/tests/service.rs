//! The sync service (EngineHandle) end to end against a real Dovecot, with
//! faults injected through the harness's TCP proxy and through Dovecot itself:
//! each fault must end in the right class, code, alert and disable or
//! recovery; throttling is counted at the proxy; IDLE tracks mail in seconds.
//!
//! Deadlines are generous (the machine may be loaded): they bound how long a
//! test waits for something that must happen, never how fast it happened.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crmsync_core::Store;
use crmsync_core::health::{Health, health};
use crmsync_core::model::{ChannelStatus, Mailbox, Severity};
use crmsync_core::secrets::Secret;
use crmsync_core::store::alerts::{self, Alert, Filter};
use crmsync_core::store::mailbox_state::{self, Channel};
use crmsync_core::store::{lease, mailboxes};
use crmsync_engine::admin::mailboxes::MailboxInput;
use crmsync_engine::admin::profiles::ProfileInput;
use crmsync_engine::admin::{self, settings as admin_settings};
use crmsync_engine::{EngineError, EngineEvent, EngineHandle, EngineOptions};
use crmsync_tests::{Dovecot, FaultMode, FaultProxy};
use tokio::sync::broadcast;

const PW: &str = "Secret-Pa55";
const WAIT: Duration = Duration::from_secs(30);

/// A store with profiles pointing at a private Dovecot (plain IMAP on
/// loopback, allowed explicitly), optionally through a fault proxy.
struct Office {
    dovecot: Dovecot,
    _dir: tempfile::TempDir,
    db: PathBuf,
}

impl Office {
    fn new() -> Office {
        let dovecot = Dovecot::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("crm.db");
        let o = Office { dovecot, _dir: dir, db };
        // Fast schedules so faults play out in seconds.
        for (k, v) in [
            ("polling.active_interval_secs", "1"),
            ("polling.idle_max_interval_secs", "2"),
            ("polling.use_idle", "false"),
            ("backoff.base_secs", "1"),
            ("backoff.max_secs", "2"),
            ("backoff.max_transient_failures", "3"),
            ("recovery.interval_secs", "5"),
        ] {
            o.set(k, v);
        }
        o
    }

    fn store(&self) -> Store {
        Store::open(&self.db).unwrap().without_keyring()
    }

    fn set(&self, key: &str, value: &str) {
        admin_settings::set(&mut self.store(), key, value).unwrap();
    }

    /// A profile on `port` (Dovecot's plain IMAP, or a proxy in front of it).
    fn profile(&self, name: &str, port: u16, max_connections: u32, timeout: u32) {
        let input = ProfileInput {
            kind: Some("imap-smtp".into()),
            incoming_host: Some("127.0.0.1".into()),
            incoming_port: Some(port.to_string()),
            incoming_security: Some("none".into()),
            outgoing_security: Some("none".into()),
            max_connections: Some(max_connections.to_string()),
            min_poll_interval: Some("0".into()),
            timeout: Some(timeout.to_string()),
            allow_insecure: Some(true),
            ..ProfileInput::default()
        };
        admin::profiles::add(&mut self.store(), name, &input).unwrap();
    }

    /// A user with a Dovecot account and a mailbox whose incoming channel
    /// passed Test & Enable (recorded directly, so 50 mailboxes set up fast).
    fn mailbox(&self, local: &str, profile: &str) -> String {
        let email = self.dovecot.address(local);
        self.dovecot.add_user(local, PW).unwrap();
        let mut store = self.store();
        admin::principals::add(&mut store, crmsync_core::store::principals::Kind::User, &email, local)
            .unwrap();
        let input = MailboxInput {
            profile: Some(profile.into()),
            password: Some(Secret::new(PW)),
            outgoing: Some("none".into()),
            track: Some("all".into()),
            ..MailboxInput::default()
        };
        let mb = admin::mailboxes::add(&mut store, &email, &input).unwrap();
        store
            .write(|tx| mailbox_state::record_test(tx, mb.id, Channel::Incoming, ChannelStatus::Success))
            .unwrap();
        email
    }

    fn mb(&self, email: &str) -> Mailbox {
        mailboxes::get(self.store().conn(), email).unwrap()
    }

    fn alerts(&self) -> Vec<Alert> {
        alerts::list(self.store().conn(), &Filter { include_acknowledged: true, ..Filter::default() }, |_| {
            String::new()
        })
        .unwrap()
    }

    fn alert(&self, email: &str, code: &str) -> Option<Alert> {
        self.alerts().into_iter().find(|a| a.mailbox.as_deref() == Some(email) && a.code == code)
    }

    fn count(&self, sql: &str) -> i64 {
        self.store().conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn tracked_for(&self, email: &str) -> i64 {
        let id = self.mb(email).id;
        self.count(&format!("SELECT count(*) FROM imap_items WHERE mailbox_id = {id}"))
    }

    async fn deliver(&self, local: &str, id: &str) {
        let to = self.dovecot.address(local);
        let raw = format!(
            "Message-ID: <{id}@ext.test>\r\nFrom: ben@contoso.test\r\nTo: {to}\r\nSubject: {id}\r\n\
             Date: Thu, 26 Nov 2026 09:00:00 +0000\r\n\r\nhello\r\n"
        );
        self.dovecot.deliver(local, raw.as_bytes()).await.unwrap();
    }

    async fn start(&self) -> EngineHandle {
        EngineHandle::start(self.db.clone(), opts()).await.unwrap()
    }
}

fn opts() -> EngineOptions {
    EngineOptions {
        holder: "service test".into(),
        refresh: Duration::from_millis(500),
        heartbeat: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(10),
        ..EngineOptions::default()
    }
}

/// Polls `f` until it holds or `WAIT` passes; panics with `what`.
async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Events received so far.
fn drain(rx: &mut broadcast::Receiver<EngineEvent>, into: &mut Vec<EngineEvent>) {
    while let Ok(e) = rx.try_recv() {
        into.push(e);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_back_off_disable_the_mailbox_then_it_recovers_by_itself() {
    let o = Office::new();
    let proxy = FaultProxy::start("127.0.0.1", o.dovecot.imap_port()).unwrap();
    o.profile("Office", proxy.port(), 4, 10);
    let alice = o.mailbox("alice", "Office");
    o.deliver("alice", "before").await;
    let engine = o.start().await;
    let mut rx = engine.subscribe();
    until("the first sync tracks the mail", || o.tracked_for(&alice) == 1).await;

    proxy.set_mode(FaultMode::Refuse);
    until("a transient failure is recorded", || o.mb(&alice).telemetry.transient_failures >= 1).await;
    let m = o.mb(&alice);
    assert_eq!(m.telemetry.last_error.as_ref().unwrap().code, "CONNECTION_REFUSED");
    assert!(m.incoming.enabled, "one transient failure does not disable");
    assert_eq!(health(&m), Health::Warning);
    assert!(m.telemetry.next_poll.is_some(), "the backoff is visible as the next poll");
    let warning = o.alert(&alice, "CONNECTION_REFUSED").expect("a warning alert");
    assert_eq!(warning.severity, Severity::Warning);

    until("three failures disable the mailbox", || !o.mb(&alice).incoming.enabled).await;
    let m = o.mb(&alice);
    assert_eq!(m.telemetry.disabled_reason.as_deref(), Some("TRANSIENT_FAILURES"));
    assert_eq!(health(&m), Health::Error);
    assert_eq!(o.alert(&alice, "CONNECTION_REFUSED").unwrap().count, 3, "repeats fold into one alert");
    let disabled = o.alert(&alice, "MAILBOX_DISABLED").expect("an error alert on disable");
    assert_eq!(disabled.severity, Severity::Error);
    assert!(disabled.message.contains("3 consecutive transient failures"), "{}", disabled.message);
    let profile_alert = o.alerts().into_iter().find(|a| a.code == "PROFILE_FAILING").expect("profile alert");
    assert_eq!(profile_alert.scope, "profile");

    // The server comes back: recovery re-tests and re-enables by itself.
    proxy.set_mode(FaultMode::Forward);
    o.deliver("alice", "after").await;
    until("recovery re-enables the mailbox", || o.mb(&alice).incoming.enabled).await;
    let info = o.alert(&alice, "MAILBOX_RECOVERED").expect("an information alert");
    assert_eq!(info.severity, Severity::Info);
    until("mail that arrived during the outage is tracked", || o.tracked_for(&alice) == 2).await;
    until("health is ok again", || health(&o.mb(&alice)) == Health::Ok).await;
    let m = o.mb(&alice);
    assert_eq!(m.telemetry.transient_failures, 0);
    assert_eq!(m.telemetry.disabled_reason, None);

    let mut events = Vec::new();
    drain(&mut rx, &mut events);
    let has = |f: &dyn Fn(&EngineEvent) -> bool| events.iter().any(f);
    assert!(
        has(&|e| matches!(e, EngineEvent::AlertRaised { code, .. } if code == "MAILBOX_DISABLED")),
        "{events:?}"
    );
    assert!(has(&|e| matches!(e, EngineEvent::AlertRaised { code, .. } if code == "MAILBOX_RECOVERED")));
    assert!(has(&|e| matches!(e, EngineEvent::MailboxStatusChanged { health: Health::Error, .. })));
    assert!(has(&|e| matches!(e, EngineEvent::MailboxStatusChanged { health: Health::Ok, .. })));
    assert!(has(&|e| matches!(e, EngineEvent::SyncProgress { processed: 1, .. })));
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_reset_mid_command_is_a_transient_connection_lost() {
    let o = Office::new();
    let proxy = FaultProxy::start("127.0.0.1", o.dovecot.imap_port()).unwrap();
    o.profile("Office", proxy.port(), 4, 10);
    let alice = o.mailbox("alice", "Office");
    o.set("backoff.max_transient_failures", "100");
    // Past the greeting and login, in the middle of the session.
    proxy.set_mode(FaultMode::Reset { after_bytes: 400 });
    let engine = o.start().await;
    until("a failure is recorded", || o.mb(&alice).telemetry.transient_failures >= 1).await;
    let m = o.mb(&alice);
    let code = m.telemetry.last_error.as_ref().unwrap().code.clone();
    assert_eq!(code, "CONNECTION_LOST");
    assert!(m.incoming.enabled);
    assert_eq!(o.alert(&alice, "CONNECTION_LOST").unwrap().severity, Severity::Warning);
    proxy.set_mode(FaultMode::Forward);
    until("the next retry works", || o.mb(&alice).telemetry.transient_failures == 0).await;
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_times_out_while_other_mailboxes_keep_syncing() {
    let o = Office::new();
    let proxy = FaultProxy::start("127.0.0.1", o.dovecot.imap_port()).unwrap();
    o.profile("Stalled", proxy.port(), 4, 3);
    o.profile("Direct", o.dovecot.imap_port(), 4, 10);
    o.set("backoff.max_transient_failures", "100");
    let stuck = o.mailbox("stuck", "Stalled");
    let bob = o.mailbox("bob", "Direct");
    proxy.set_mode(FaultMode::Stall);
    let engine = o.start().await;
    // Bob's mail flows while every connection to the stalled server hangs.
    for i in 0..3 {
        o.deliver("bob", &format!("bob-{i}")).await;
        until("bob's mail is tracked", || o.tracked_for(&bob) == i + 1).await;
    }
    until("the stalled mailbox times out", || o.mb(&stuck).telemetry.transient_failures >= 1).await;
    let m = o.mb(&stuck);
    let e = m.telemetry.last_error.unwrap();
    assert!(["CONNECT_TIMEOUT", "TIMEOUT"].contains(&e.code.as_str()), "{e:?}");
    assert!(m.incoming.enabled, "a timeout is transient");
    assert_eq!(health(&o.mb(&bob)), Health::Ok);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dribbling_server_is_stopped_at_the_job_timeout() {
    let o = Office::new();
    let proxy = FaultProxy::start("127.0.0.1", o.dovecot.imap_port()).unwrap();
    // The profile timeout would let each slow line through; the job timeout stops the sync.
    o.profile("Office", proxy.port(), 4, 60);
    let alice = o.mailbox("alice", "Office");
    o.set("queue.job_timeout_secs", "5");
    o.set("backoff.max_transient_failures", "100");
    proxy.set_mode(FaultMode::Dribble { chunk: 1, interval: Duration::from_millis(100) });
    let engine = o.start().await;
    until("the sync is stopped at the job timeout", || o.mb(&alice).telemetry.transient_failures >= 1).await;
    let m = o.mb(&alice);
    assert_eq!(m.telemetry.last_error.as_ref().unwrap().code, "SYNC_TIMEOUT");
    assert_eq!(o.alert(&alice, "SYNC_TIMEOUT").unwrap().severity, Severity::Warning);
    assert!(m.incoming.enabled);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_disables_at_once_and_mailbox_enable_brings_it_back() {
    let o = Office::new();
    o.profile("Office", o.dovecot.imap_port(), 4, 10);
    let alice = o.mailbox("alice", "Office");
    let bob = o.mailbox("bob", "Office");
    o.dovecot.set_password("alice", "changed-on-the-server").unwrap();
    let engine = o.start().await;
    until("alice is disabled", || !o.mb(&alice).incoming.enabled).await;
    let m = o.mb(&alice);
    assert_eq!(m.telemetry.disabled_reason.as_deref(), Some("IMAP_AUTH_FAILED"));
    assert_eq!(m.telemetry.transient_failures, 0, "a permanent error is not retried");
    assert_eq!(health(&m), Health::Error);
    let a = o.alert(&alice, "IMAP_AUTH_FAILED").unwrap();
    assert_eq!((a.severity, a.count), (Severity::Error, 1));
    assert!(o.alert(&alice, "MAILBOX_RECOVERED").is_none());
    until("bob still syncs", || o.mb(&bob).telemetry.last_sync_succeeded.is_some()).await;

    // No recovery for a permanent error: it stays disabled.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!o.mb(&alice).incoming.enabled);

    // The admin fixes the password on the server and re-enables by hand.
    o.dovecot.set_password("alice", PW).unwrap();
    o.deliver("alice", "welcome-back").await;
    crmsync_engine::test_enable::set_enabled(&mut o.store(), &alice, true).unwrap();
    until("alice syncs again", || o.tracked_for(&alice) == 1).await;
    until("alice is ok", || health(&o.mb(&alice)) == Health::Ok).await;
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_user_disables_the_mailbox_at_once() {
    let o = Office::new();
    o.profile("Office", o.dovecot.imap_port(), 4, 10);
    let alice = o.mailbox("alice", "Office");
    let engine = o.start().await;
    until("first sync", || o.mb(&alice).telemetry.last_sync_succeeded.is_some()).await;
    o.dovecot.remove_user("alice").unwrap();
    engine.sync_now(Some(alice.clone()));
    until("alice is disabled", || !o.mb(&alice).incoming.enabled).await;
    let m = o.mb(&alice);
    let code = m.telemetry.disabled_reason.clone().unwrap();
    assert_eq!(code, "IMAP_AUTH_FAILED", "Dovecot refuses the login of a user it no longer has");
    assert_eq!(o.alert(&alice, &code).unwrap().severity, Severity::Error);
    assert_eq!(health(&m), Health::Error);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_mailboxes_on_one_profile_never_hold_more_than_max_connections() {
    let o = Office::new();
    let proxy = FaultProxy::start("127.0.0.1", o.dovecot.imap_port()).unwrap();
    o.profile("Office", proxy.port(), 3, 20);
    o.set("queue.mailbox_workers", "8");
    o.set("polling.use_idle", "true");
    o.set("polling.idle_max_interval_secs", "30");
    let mut emails = Vec::new();
    for i in 0..50 {
        emails.push(o.mailbox(&format!("user{i:02}"), "Office"));
    }
    for i in (0..50).step_by(5) {
        o.deliver(&format!("user{i:02}"), &format!("m{i}")).await;
    }
    let engine = o.start().await;
    until("every mailbox synced once", || {
        o.count("SELECT count(*) FROM mailboxes WHERE last_sync_succeeded_on IS NULL") == 0
    })
    .await;
    until("the mail is tracked", || o.count("SELECT count(*) FROM imap_items") == 10).await;
    // Sync every mailbox again at once: the permits still hold.
    engine.sync_now(None);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        proxy.max_concurrent_connections() <= 3,
        "{} connections were open at once",
        proxy.max_concurrent_connections()
    );
    assert!(proxy.total_connections() >= 50);
    let status = engine.status().await.unwrap();
    assert_eq!(status.mailboxes.len(), 50);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_tracks_a_delivered_message_within_seconds() {
    let o = Office::new();
    o.profile("Office", o.dovecot.imap_port(), 4, 20);
    // Polling alone would take an hour: only IDLE explains a quick pick-up.
    o.set("polling.use_idle", "true");
    o.set("polling.active_interval_secs", "3600");
    o.set("polling.idle_max_interval_secs", "3600");
    let alice = o.mailbox("alice", "Office");
    let engine = o.start().await;
    until("the first poll", || o.mb(&alice).telemetry.last_sync_succeeded.is_some()).await;
    // Give the watcher a moment to enter IDLE; delivering earlier is also fine
    // (the watcher's first SELECT, or the catch-up after it, sees the message).
    tokio::time::sleep(Duration::from_secs(1)).await;
    for i in 0..3 {
        let t = Instant::now();
        o.deliver("alice", &format!("push-{i}")).await;
        until("the pushed message is tracked", || o.tracked_for(&alice) == i + 1).await;
        eprintln!("IDLE pick-up {i}: {:?}", t.elapsed());
    }
    let next = o.mb(&alice).telemetry.next_poll.unwrap();
    assert!(next > chrono::Utc::now() + chrono::Duration::minutes(30), "polling stayed slow: {next}");
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_cycle_cap_shares_a_big_mailbox_fairly() {
    let o = Office::new();
    o.profile("Office", o.dovecot.imap_port(), 4, 20);
    o.set("incoming.max_items_per_cycle", "10");
    o.set("queue.mailbox_workers", "1");
    let big = o.mailbox("big", "Office");
    let small = o.mailbox("small", "Office");
    for i in 0..35 {
        o.deliver("big", &format!("big-{i}")).await;
    }
    o.deliver("small", "small-0").await;
    let engine = o.start().await;
    until("the small mailbox is synced", || o.tracked_for(&small) == 1).await;
    until("the big mailbox is drained over several cycles", || o.tracked_for(&big) == 35).await;
    // The order as the store recorded it (not as this test happened to look,
    // which a fast machine can miss): the small mailbox's message was
    // processed before the last of the big one's.
    let last = |email: &str| {
        let id = o.mb(email).id;
        o.count(&format!("SELECT max(rowid) FROM imap_items WHERE mailbox_id = {id}"))
    };
    assert!(last(&small) < last(&big), "the small mailbox did not wait for the whole big one");
    assert!(o.mb(&big).telemetry.items_processed <= 10);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_engine_on_the_same_store_refuses_and_a_stale_lease_is_taken_over() {
    let o = Office::new();
    let first = o.start().await;
    let err = EngineHandle::start(o.db.clone(), opts()).await.unwrap_err();
    match &err {
        EngineError::LeaseHeld { holder, pid, .. } => {
            assert_eq!(holder, "service test");
            assert_eq!(*pid, std::process::id());
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("already processing this store"), "{err}");
    let status = first.status().await.unwrap();
    assert_eq!(status.lease_holder.as_ref().unwrap().holder, "service test");
    first.shutdown().await;
    assert!(lease::get(o.store().conn()).unwrap().is_none(), "shutdown releases the lease");

    // A live holder on another host is respected; a stale one is taken over.
    let put = |heartbeat: chrono::DateTime<chrono::Utc>| {
        let store = o.store();
        store
            .conn()
            .execute(
                "INSERT OR REPLACE INTO lease (name, holder, pid, host, acquired_on, heartbeat_on) \
                 VALUES ('engine', 'crmsync desktop', 4242, 'elsewhere', ?1, ?1)",
                [crmsync_core::time::to_db(heartbeat)],
            )
            .unwrap();
    };
    put(chrono::Utc::now());
    assert!(matches!(EngineHandle::start(o.db.clone(), opts()).await, Err(EngineError::LeaseHeld { .. })));
    put(chrono::Utc::now() - chrono::Duration::minutes(5));
    let taken = EngineHandle::start(o.db.clone(), opts()).await.expect("stale lease taken over");
    assert_eq!(lease::get(o.store().conn()).unwrap().unwrap().holder, "service test");
    taken.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_new_work_and_resume_releases_it() {
    let o = Office::new();
    o.profile("Office", o.dovecot.imap_port(), 4, 20);
    let alice = o.mailbox("alice", "Office");
    let engine = o.start().await;
    let mut rx = engine.subscribe();
    until("first sync", || o.mb(&alice).telemetry.last_sync_succeeded.is_some()).await;
    engine.pause();
    until("paused", || engine.is_paused()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    o.deliver("alice", "while-paused").await;
    engine.sync_now(None);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(o.tracked_for(&alice), 0, "nothing runs while paused");
    assert!(engine.status().await.unwrap().paused);
    engine.resume();
    until("tracked after resume", || o.tracked_for(&alice) == 1).await;
    let mut events = Vec::new();
    drain(&mut rx, &mut events);
    assert!(events.iter().any(|e| matches!(e, EngineEvent::Paused)));
    assert!(events.iter().any(|e| matches!(e, EngineEvent::Resumed)));
    let status = engine.status().await.unwrap();
    assert_eq!(status.mailboxes_by_health[&Health::Ok], 1);
    // Test & Enable through the async queue.
    let report = engine.test_enable(&alice).await.unwrap();
    assert_eq!(report.channels[0].status, ChannelStatus::Success, "{report:?}");
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_mail_goes_out_while_the_mailbox_server_is_stalled() {
    let o = Office::new();
    let postfix = crmsync_tests::Postfix::start(&o.dovecot).unwrap();
    let proxy = FaultProxy::start("127.0.0.1", o.dovecot.imap_port()).unwrap();
    let input = ProfileInput {
        kind: Some("imap-smtp".into()),
        incoming_host: Some("127.0.0.1".into()),
        incoming_port: Some(proxy.port().to_string()),
        incoming_security: Some("none".into()),
        outgoing_host: Some("127.0.0.1".into()),
        outgoing_port: Some(postfix.smtp_open_port().to_string()),
        outgoing_security: Some("none".into()),
        outgoing_auth: Some("none".into()),
        max_connections: Some("4".into()),
        min_poll_interval: Some("0".into()),
        timeout: Some("60".into()),
        allow_insecure: Some(true),
        ..ProfileInput::default()
    };
    admin::profiles::add(&mut o.store(), "Office", &input).unwrap();
    o.set("outgoing.save_to_sent", "false");
    o.set("polling.outgoing_interval_secs", "1");
    o.set("backoff.max_transient_failures", "100");
    let alice = o.mailbox("alice", "Office");
    o.dovecot.add_user("bob", PW).unwrap();
    {
        let mut store = o.store();
        let outgoing = MailboxInput { outgoing: Some("server-side".into()), ..MailboxInput::default() };
        admin::mailboxes::update(&mut store, &alice, &outgoing).unwrap();
        let id = o.mb(&alice).id;
        store
            .write(|tx| mailbox_state::record_test(tx, id, Channel::Outgoing, ChannelStatus::Success))
            .unwrap();
    }
    // Every IMAP connection of this mailbox hangs (for up to the 60 s timeout).
    proxy.set_mode(FaultMode::Stall);
    let engine = o.start().await;
    until("the incoming sync hangs on the stalled server", || proxy.open_connections() >= 1).await;
    let t = Instant::now();
    let bob = o.dovecot.address("bob");
    crmsync_engine::admin::outgoing::send(
        &mut o.store(),
        &crmsync_engine::admin::outgoing::SendInput {
            from: alice.clone(),
            to: vec![bob],
            subject: "Isolation check".into(),
            body: Some("sent while IMAP hangs".into()),
            ..Default::default()
        },
    )
    .unwrap();
    o.dovecot.wait_for_message("bob", PW, "INBOX", b"Isolation check", WAIT).await.unwrap();
    eprintln!("sent and delivered in {:?} while IMAP was stalled", t.elapsed());
    assert!(proxy.open_connections() >= 1, "the incoming sync was still hanging");
    assert_eq!(o.mb(&alice).telemetry.last_sync_succeeded, None, "incoming never got through");
    proxy.set_mode(FaultMode::Forward);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_act_channel_disabled_by_transient_failures_is_re_tested_and_re_enabled_by_itself() {
    let o = Office::new();
    let rad = crmsync_tests::Radicale::start().unwrap();
    rad.add_user("alice", PW).unwrap();
    let proxy = FaultProxy::start("127.0.0.1", rad.port()).unwrap();
    let input = ProfileInput {
        kind: Some("imap-smtp".into()),
        incoming_host: Some("127.0.0.1".into()),
        dav_url: Some(format!("http://127.0.0.1:{}/", proxy.port())),
        min_poll_interval: Some("0".into()),
        allow_insecure: Some(true),
        timeout: Some("10".into()),
        ..ProfileInput::default()
    };
    admin::profiles::add(&mut o.store(), "Dav", &input).unwrap();
    let alice = o.dovecot.address("alice");
    let mut store = o.store();
    admin::principals::add(&mut store, crmsync_core::store::principals::Kind::User, &alice, "alice").unwrap();
    let input = MailboxInput {
        profile: Some("Dav".into()),
        username: Some("alice".into()),
        password: Some(Secret::new(PW)),
        incoming: Some("none".into()),
        outgoing: Some("none".into()),
        act: Some("server-side".into()),
        ..MailboxInput::default()
    };
    admin::mailboxes::add(&mut store, &alice, &input).unwrap();
    let report = crmsync_engine::test_enable::test_and_enable(&mut store, &alice).await.unwrap();
    assert!(report.channels.iter().any(|c| c.channel == "act" && c.enabled), "{report:?}");
    drop(store);

    let engine = o.start().await;
    until("the first ACT sync succeeds", || o.mb(&alice).telemetry.last_sync_succeeded.is_some()).await;
    proxy.set_mode(FaultMode::Refuse);
    until("transient failures disable the ACT channel", || !o.mb(&alice).act.enabled).await;
    assert_eq!(o.mb(&alice).telemetry.disabled_reason.as_deref(), Some("TRANSIENT_FAILURES"));
    assert!(o.alert(&alice, "MAILBOX_RECOVERED").is_none());

    // Radicale answers again: the recovery job re-tests the ACT channel (not
    // incoming, which this mailbox does not use) and re-enables it.
    proxy.set_mode(FaultMode::Forward);
    until("recovery re-enables the ACT channel", || o.mb(&alice).act.enabled).await;
    let info = o.alert(&alice, "MAILBOX_RECOVERED").expect("an information alert");
    assert_eq!(info.severity, Severity::Info);
    assert!(info.message.contains("act ("), "names the channel: {}", info.message);
    assert!(!info.message.contains("incoming"), "{}", info.message);
    let m = o.mb(&alice);
    assert_eq!(m.telemetry.disabled_reason, None);
    assert!(!m.incoming.enabled, "a channel that was never enabled stays off");
    let synced = m.telemetry.last_sync_succeeded;
    until("the ACT channel syncs again", || o.mb(&alice).telemetry.last_sync_succeeded > synced).await;
    engine.shutdown().await;
}
