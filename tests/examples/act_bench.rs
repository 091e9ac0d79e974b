//! ACT benchmark (not a test): 2000 contacts + 2000 events + 500 tasks
//! against the harness's Radicale, beside vdirsyncer syncing the same
//! collections. Prints a Markdown table; docs/benchmarks.md has the figures.
//!
//! cargo run --release -p crmsync-tests --example act_bench [-- CONTACTS EVENTS TASKS]

use std::time::{Duration, Instant};

use crmsync_core::Store;
use crmsync_core::act::item::{EventItem, TaskItem, TaskPriority, TaskStatus};
use crmsync_core::model::Contact;
use crmsync_core::secrets::Secret;
use crmsync_core::store::appointments::{self, OwnerIds};
use crmsync_core::store::principals::Kind;
use crmsync_core::store::{records, tasks};
use crmsync_engine::act::{ActSync, sync_act};
use crmsync_engine::admin::{mailboxes, principals, profiles};
use crmsync_tests::Radicale;

const EMAIL: &str = "alice@example.test";

fn store(dir: &std::path::Path, name: &str, rad: &Radicale) -> Store {
    let mut store = Store::open(&dir.join(name)).unwrap().without_keyring();
    principals::add(&mut store, Kind::User, EMAIL, "Alice").unwrap();
    profiles::add(
        &mut store,
        "Dav",
        &profiles::ProfileInput {
            kind: Some("imap-smtp".into()),
            incoming_host: Some("127.0.0.1".into()),
            dav_url: Some(format!("{}/", rad.base_url())),
            allow_insecure: Some(true),
            timeout: Some("60".into()),
            max_connections: Some("4".into()),
            ..Default::default()
        },
    )
    .unwrap();
    mailboxes::add(
        &mut store,
        EMAIL,
        &mailboxes::MailboxInput {
            profile: Some("Dav".into()),
            username: Some("alice".into()),
            password: Some(Secret::new("pw")),
            incoming: Some("none".into()),
            outgoing: Some("none".into()),
            act: Some("server-side".into()),
            ..Default::default()
        },
    )
    .unwrap();
    store
}

async fn timed(store: &mut Store) -> (Duration, ActSync) {
    let t = Instant::now();
    let mb = crmsync_core::store::mailboxes::get(store.conn(), EMAIL).unwrap();
    let r = sync_act(store, mb).await.unwrap();
    assert!(r.outcome.is_ok(), "{r:?}");
    (t.elapsed(), r)
}

fn vdirsyncer(dir: &std::path::Path, args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = std::process::Command::new("/usr/bin/vdirsyncer")
        .arg("-c")
        .arg(dir.join("config"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "vdirsyncer {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    t.elapsed()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (nc, ne, nt) = (
        args.first().copied().unwrap_or(2000),
        args.get(1).copied().unwrap_or(2000),
        args.get(2).copied().unwrap_or(500),
    );
    let rad = Radicale::start().unwrap();
    rad.add_user("alice", "pw").unwrap();
    let dir = tempfile::tempdir().unwrap();

    let mut a = store(dir.path(), "a.db", &rad);
    a.write(|tx| -> crmsync_core::Result<()> {
        let owner = crmsync_core::store::principals::find(tx, Kind::User, EMAIL)?.unwrap().id;
        let o = OwnerIds { user_id: Some(owner), queue_id: None };
        for i in 0..nc {
            let c = Contact {
                first_name: Some(format!("First{i}")),
                last_name: Some(format!("Last{i}")),
                email: Some(format!("c{i}@bench.test")),
                company: Some("Bench Ltd".into()),
                phone: Some(format!("+1 555 {i:04}")),
                ..Default::default()
            };
            records::insert_contact(tx, &c, Some(owner))?;
        }
        for i in 0..ne {
            let day = 1 + i % 28;
            let e = EventItem {
                uid: format!("evt-{i}"),
                summary: format!("Meeting {i}"),
                description: Some("Agenda: numbers.\nMinutes: later.".into()),
                location: Some(format!("Room {}", i % 10)),
                start: format!("2026-03-{day:02}T09:00:00"),
                end: format!("2026-03-{day:02}T10:00:00"),
                time_zone: Some("Europe/Berlin".into()),
                rrule: (i % 10 == 0).then(|| "FREQ=WEEKLY;COUNT=10".to_string()),
                ..Default::default()
            };
            appointments::insert(tx, &e, None, o)?;
        }
        for i in 0..nt {
            let t = TaskItem {
                uid: format!("task-{i}"),
                summary: format!("Task {i}"),
                description: None,
                due: Some("2026-03-31".into()),
                status: TaskStatus::NotStarted,
                priority: TaskPriority::Normal,
                percent_complete: 0,
            };
            tasks::insert(tx, &t, None, o)?;
        }
        Ok(())
    })
    .unwrap();
    crmsync_engine::test_enable::test_and_enable(&mut a, EMAIL).await.unwrap();
    let (up, r1) = timed(&mut a).await;
    let (noop, r2) = timed(&mut a).await;
    let created: usize = r1.collections.iter().map(|c| c.created_server).sum();

    // A second, empty CRM downloads everything (the direction vdirsyncer's first sync goes).
    let mut b = store(dir.path(), "b.db", &rad);
    crmsync_engine::test_enable::test_and_enable(&mut b, EMAIL).await.unwrap();
    let (down, r3) = timed(&mut b).await;
    let (noop_b, r4) = timed(&mut b).await;
    let pulled: usize = r3.collections.iter().map(|c| c.created_crm + c.linked).sum();

    // vdirsyncer: the same two collections to local directories.
    let cal = r1.collections.iter().find(|c| c.kind == "appointment").unwrap().url.clone();
    let book = r1.collections.iter().find(|c| c.kind == "contact").unwrap().url.clone();
    let v = dir.path().join("vdir");
    std::fs::create_dir_all(v.join("cal")).unwrap();
    std::fs::create_dir_all(v.join("book")).unwrap();
    let config = format!(
        "[general]\nstatus_path = \"{d}/status/\"\n\n\
         [pair cal]\na = \"cal_remote\"\nb = \"cal_local\"\ncollections = null\n\n\
         [storage cal_remote]\ntype = \"caldav\"\nurl = \"{cal}\"\nusername = \"alice\"\npassword = \"pw\"\n\n\
         [storage cal_local]\ntype = \"filesystem\"\npath = \"{d}/cal/\"\nfileext = \".ics\"\n\n\
         [pair book]\na = \"book_remote\"\nb = \"book_local\"\ncollections = null\n\n\
         [storage book_remote]\ntype = \"carddav\"\nurl = \"{book}\"\nusername = \"alice\"\npassword = \"pw\"\n\n\
         [storage book_local]\ntype = \"filesystem\"\npath = \"{d}/book/\"\nfileext = \".vcf\"\n",
        d = v.display()
    );
    std::fs::write(v.join("config"), config).unwrap();
    vdirsyncer(&v, &["discover"]);
    let vfirst = vdirsyncer(&v, &["sync"]);
    let vnoop = vdirsyncer(&v, &["sync"]);
    let files = std::fs::read_dir(v.join("cal")).unwrap().count()
        + std::fs::read_dir(v.join("book")).unwrap().count();

    println!("| run | items | crmsync | requests | vdirsyncer |");
    println!("|---|---|---|---|---|");
    println!(
        "| first sync, CRM → server (upload) | {created} | {:.1} s | {} | – |",
        up.as_secs_f64(),
        r1.requests
    );
    println!(
        "| first sync, server → empty CRM (download) | {pulled} | {:.1} s | {} | {:.1} s ({files} files) |",
        down.as_secs_f64(),
        r3.requests,
        vfirst.as_secs_f64()
    );
    println!("| no-change sync (uploader) | 0 | {:.3} s | {} | – |", noop.as_secs_f64(), r2.requests);
    println!(
        "| no-change sync (downloader) | 0 | {:.3} s | {} | {:.3} s |",
        noop_b.as_secs_f64(),
        r4.requests,
        vnoop.as_secs_f64()
    );
}
