//! Benchmark of the sync service (the engine behind `crmsync run`):
//!
//! 1. one no-change poll cycle over N mailboxes (default 200) on one Dovecot:
//!    wall and CPU time, beside `mbsync -a` checking the same N accounts;
//! 2. new-mail-to-CRM latency with IMAP IDLE: median and p95 over D
//!    deliveries (default 100), from the end of the LMTP delivery to the
//!    committed activity (the engine's SyncProgress event).
//!
//! Run: `cargo run --release -p crmsync --example bench_service -- 200 100`
//! (needs Dovecot and isync from Debian).

use std::process::Command;
use std::time::{Duration, Instant};

use crmsync_core::Store;
use crmsync_core::model::ChannelStatus;
use crmsync_core::secrets::Secret;
use crmsync_core::store::mailbox_state::{self, Channel};
use crmsync_engine::admin::mailboxes::MailboxInput;
use crmsync_engine::admin::profiles::ProfileInput;
use crmsync_engine::admin::{self, settings as admin_settings};
use crmsync_engine::{EngineEvent, EngineHandle, EngineOptions};
use crmsync_tests::Dovecot;
use nix::sys::resource::{UsageWho, getrusage};

const PW: &str = "bench-pass";

fn cpu(who: UsageWho) -> f64 {
    let ru = getrusage(who).expect("getrusage");
    let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
    t(ru.user_time()) + t(ru.system_time())
}

fn message(to: &str, id: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{id}@ext.test>\r\nFrom: Customer <customer@ext.test>\r\nTo: {to}\r\nSubject: {id}\r\n\
         Date: Thu, 26 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHello\r\n"
    )
    .into_bytes()
}

fn setup(dovecot: &Dovecot, db: &std::path::Path, n: usize, idle: bool) -> Vec<String> {
    let mut store = Store::open(db).unwrap().without_keyring();
    let profile = ProfileInput {
        kind: Some("imap-smtp".into()),
        incoming_host: Some("127.0.0.1".into()),
        incoming_port: Some(dovecot.imap_port().to_string()),
        incoming_security: Some("none".into()),
        outgoing_security: Some("none".into()),
        allow_insecure: Some(true),
        ..ProfileInput::default()
    };
    admin::profiles::add(&mut store, "Bench", &profile).unwrap();
    admin_settings::set(&mut store, "polling.use_idle", if idle { "true" } else { "false" }).unwrap();
    admin_settings::set(&mut store, "polling.active_interval_secs", "3600").unwrap();
    admin_settings::set(&mut store, "polling.idle_max_interval_secs", "3600").unwrap();
    let mut emails = Vec::new();
    for i in 0..n {
        let local = format!("u{i:03}");
        let email = dovecot.address(&local);
        dovecot.add_user(&local, PW).unwrap();
        admin::principals::add(&mut store, crmsync_core::store::principals::Kind::User, &email, &local)
            .unwrap();
        let input = MailboxInput {
            profile: Some("Bench".into()),
            password: Some(Secret::new(PW)),
            outgoing: Some("none".into()),
            track: Some("all".into()),
            ..MailboxInput::default()
        };
        let mb = admin::mailboxes::add(&mut store, &email, &input).unwrap();
        store
            .write(|tx| mailbox_state::record_test(tx, mb.id, Channel::Incoming, ChannelStatus::Success))
            .unwrap();
        emails.push(email);
    }
    emails
}

/// Waits for `count` SyncProgress events.
async fn cycles(rx: &mut tokio::sync::broadcast::Receiver<EngineEvent>, count: usize) {
    let mut seen = 0;
    while seen < count {
        match tokio::time::timeout(Duration::from_secs(300), rx.recv()).await.expect("cycle timed out") {
            Ok(EngineEvent::SyncProgress { .. }) => seen += 1,
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    }
}

fn opts() -> EngineOptions {
    EngineOptions { holder: "bench".into(), ..EngineOptions::default() }
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let deliveries: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(100);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let dovecot = Dovecot::start().unwrap();
    let dir = tempfile::tempdir().unwrap();

    // --- 1. no-change poll cycle over n mailboxes ---
    let db = dir.path().join("cycle.db");
    let emails = setup(&dovecot, &db, n, false);
    for (i, e) in emails.iter().enumerate() {
        let local = e.split('@').next().unwrap();
        rt.block_on(dovecot.deliver(local, &message(e, &format!("first-{i}")))).unwrap();
    }
    let (cycle_wall, cycle_cpu) = rt.block_on(async {
        let engine = EngineHandle::start(db.clone(), opts()).await.unwrap();
        let mut rx = engine.subscribe();
        cycles(&mut rx, n).await; // first sync: one message each
        let mut best = (f64::MAX, 0.0);
        for _ in 0..3 {
            let (t, c) = (Instant::now(), cpu(UsageWho::RUSAGE_SELF));
            engine.sync_now(None);
            cycles(&mut rx, n).await;
            let r = (t.elapsed().as_secs_f64(), cpu(UsageWho::RUSAGE_SELF) - c);
            eprintln!("no-change cycle over {n} mailboxes: {:.3} s wall, {:.3} s CPU", r.0, r.1);
            if r.0 < best.0 {
                best = r;
            }
        }
        engine.shutdown().await;
        best
    });
    let tracked: i64 = Store::open(&db)
        .unwrap()
        .conn()
        .query_row("SELECT count(*) FROM activities", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tracked as usize, n, "one activity per mailbox");

    // mbsync -a over the same n accounts.
    let maildir = dir.path().join("maildir");
    let mut cfg = String::new();
    for e in &emails {
        let local = e.split('@').next().unwrap();
        let path = maildir.join(local);
        std::fs::create_dir_all(&path).unwrap();
        cfg.push_str(&format!(
            "IMAPAccount {local}\nHost 127.0.0.1\nPort {}\nUser {local}\nPass {PW}\nSSLType None\nAuthMechs LOGIN\n\n\
             IMAPStore {local}-remote\nAccount {local}\n\nMaildirStore {local}-local\nPath {p}/\nInbox {p}/INBOX\n\n\
             Channel {local}\nFar :{local}-remote:\nNear :{local}-local:\nPatterns INBOX\nCreate Near\nSync Pull\nSyncState *\n\n",
            dovecot.imap_port(),
            p = path.display()
        ));
    }
    let cfg_path = dir.path().join("mbsyncrc");
    std::fs::write(&cfg_path, cfg).unwrap();
    let mbsync = || {
        let (t, c) = (Instant::now(), cpu(UsageWho::RUSAGE_CHILDREN));
        let out = Command::new("mbsync").arg("-c").arg(&cfg_path).arg("-q").arg("-a").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (t.elapsed().as_secs_f64(), cpu(UsageWho::RUSAGE_CHILDREN) - c)
    };
    let _ = mbsync(); // first pull
    let mut mb_best = (f64::MAX, 0.0);
    for _ in 0..3 {
        let r = mbsync();
        eprintln!("mbsync -a no-change over {n} accounts: {:.3} s wall, {:.3} s CPU", r.0, r.1);
        if r.0 < mb_best.0 {
            mb_best = r;
        }
    }

    // --- 2. IDLE latency ---
    let db2 = dir.path().join("idle.db");
    let dovecot2 = Dovecot::start().unwrap();
    let idle_emails = setup(&dovecot2, &db2, 1, true);
    let email = idle_emails[0].clone();
    let mut lat = rt.block_on(async {
        let engine = EngineHandle::start(db2.clone(), opts()).await.unwrap();
        let mut rx = engine.subscribe();
        cycles(&mut rx, 1).await; // first (empty) poll
        tokio::time::sleep(Duration::from_secs(1)).await; // IDLE established
        let mut lat = Vec::new();
        for i in 0..deliveries {
            dovecot2.deliver("u000", &message(&email, &format!("push-{i}"))).await.unwrap();
            let t = Instant::now();
            loop {
                match tokio::time::timeout(Duration::from_secs(120), rx.recv()).await.expect("no pick-up") {
                    Ok(EngineEvent::SyncProgress { created, .. }) if created > 0 => break,
                    Ok(_) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        engine.shutdown().await;
        lat
    });
    lat.sort_by(f64::total_cmp);
    let median = lat[lat.len() / 2];
    let p95 = lat[((lat.len() as f64) * 0.95).ceil() as usize - 1];

    println!("| measurement | crmsync service | mbsync -a |");
    println!("|---|---|---|");
    println!(
        "| no-change poll cycle, {n} mailboxes: wall / CPU | {:.3} s / {:.3} s | {:.3} s / {:.3} s |",
        cycle_wall, cycle_cpu, mb_best.0, mb_best.1
    );
    println!(
        "| new mail → CRM with IDLE, {deliveries} deliveries: median / p95 / max | {median:.0} ms / {p95:.0} ms / {:.0} ms | – |",
        lat.last().unwrap()
    );
}
