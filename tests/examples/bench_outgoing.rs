//! Benchmark: sending N queued CRM emails through the harness's Postfix,
//! beside Postfix's own load generator `smtp-source` at the same concurrency
//! (one SMTP session) and message size. Not a test; see docs/benchmarks.md.
//!
//! ```text
//! cargo run --release -p crmsync-tests --example bench_outgoing -- [N] [SIZE_BYTES]
//! ```
//!
//! Prints one line per run. "send" is from the first claim until Postfix has
//! accepted the last message (every email marked Sent in the store); "+sent
//! copies" adds filing every copy in the sender's Sent folder over IMAP.

use std::process::Command;
use std::time::{Duration, Instant};

use crmsync_core::Store;
use crmsync_core::secrets::Secret;
use crmsync_core::settings::{BoolSetting, IntSetting, parse_value};
use crmsync_core::store::mailbox_state::{self, Channel};
use crmsync_core::store::principals::Kind;
use crmsync_core::store::{mailboxes, settings as stored_settings};
use crmsync_engine::admin::mailboxes::MailboxInput;
use crmsync_engine::admin::outgoing::SendInput;
use crmsync_engine::admin::profiles::ProfileInput;
use crmsync_engine::admin::{self};
use crmsync_engine::outgoing;
use crmsync_tests::{Dovecot, Postfix};

const PW: &str = "bench-pass";

/// CPU time (user + system) this process has used so far.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10) // USER_HZ = 100 on Linux
}

fn count(store: &Store, sql: &str) -> i64 {
    store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

fn setup(dir: &std::path::Path, dovecot: &Dovecot, postfix: &Postfix, save_to_sent: bool) -> Store {
    let mut store = Store::open(&dir.join("bench.db")).unwrap().without_keyring();
    admin::profiles::add(
        &mut store,
        "Bench",
        &ProfileInput {
            kind: Some("imap-smtp".into()),
            incoming_host: Some("127.0.0.1".into()),
            incoming_port: Some(dovecot.imap_port().to_string()),
            incoming_security: Some("none".into()),
            outgoing_host: Some("127.0.0.1".into()),
            outgoing_port: Some(postfix.smtp_open_port().to_string()),
            outgoing_security: Some("none".into()),
            outgoing_auth: Some("none".into()),
            allow_insecure: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    let alice = dovecot.address("alice");
    admin::principals::add(&mut store, Kind::User, &alice, "Alice Bench").unwrap();
    admin::mailboxes::add(
        &mut store,
        &alice,
        &MailboxInput {
            profile: Some("Bench".into()),
            password: Some(Secret::new(PW)),
            ..Default::default()
        },
    )
    .unwrap();
    let id = mailboxes::get(store.conn(), &alice).unwrap().id;
    store.write(|tx| mailbox_state::set_enabled(tx, id, Channel::Outgoing, true, None)).unwrap();
    store
        .write(|tx| {
            let cap = IntSetting::OutgoingMaxItemsPerCycle.key();
            stored_settings::set(tx, cap, &parse_value(cap, "100000")?)?;
            let save = BoolSetting::OutgoingSaveToSent.key();
            stored_settings::set(tx, save, &parse_value(save, if save_to_sent { "true" } else { "false" })?)
        })
        .unwrap();
    store
}

fn queue(store: &mut Store, dovecot: &Dovecot, to: &str, n: usize, size: usize) -> Duration {
    let body: String =
        "The quick brown fox jumps over the lazy dog. 0123456789\n".repeat(size / 56 + 1)[..size].into();
    let input = SendInput {
        from: dovecot.address("alice"),
        to: vec![dovecot.address(to)],
        subject: "Benchmark".into(),
        body: Some(body),
        ..Default::default()
    };
    let t = Instant::now();
    for _ in 0..n {
        admin::outgoing::send(store, &input).unwrap();
    }
    t.elapsed()
}

/// Bytes this process has caused to be written to storage so far.
fn written_bytes() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines().find_map(|l| l.strip_prefix("write_bytes:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// A recipient with an empty mailbox, new for each run: delivery into a
/// mailbox slows as it fills, which would favour whichever run came first.
fn fresh_recipient(dovecot: &Dovecot) -> String {
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let user = format!("rcpt{}", RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    dovecot.add_user(&user, PW).unwrap();
    user
}

/// One `smtp-source` run: messages per second.
fn smtp_source(dovecot: &Dovecot, postfix: &Postfix, n: usize, size: usize, reuse: bool) -> f64 {
    let to = fresh_recipient(dovecot);
    let t = Instant::now();
    let status = Command::new("/usr/sbin/smtp-source")
        .args(if reuse { &["-d"][..] } else { &[][..] })
        .args(["-s", "1", "-m", &n.to_string(), "-l", &size.to_string()])
        .args(["-f", &dovecot.address("alice"), "-t", &dovecot.address(&to)])
        .arg(format!("127.0.0.1:{}", postfix.smtp_open_port()))
        .status()
        .expect("smtp-source (Debian package postfix)");
    assert!(status.success());
    let secs = t.elapsed().as_secs_f64();
    println!(
        "smtp-source -s 1{} -m {n} -l {size}: {secs:.2} s, {:.0} msg/s",
        if reuse { " -d" } else { "" },
        n as f64 / secs
    );
    n as f64 / secs
}

/// One crmsync run on a new store: queue N emails, send them all. Returns the
/// send rate (messages per second until Postfix accepted the last one).
fn crmsync_run(
    rt: &tokio::runtime::Runtime,
    dovecot: &Dovecot,
    postfix: &Postfix,
    n: usize,
    size: usize,
    save: bool,
) -> f64 {
    let dir = match std::env::var_os("BENCH_STORE_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let mut store = setup(dir.path(), dovecot, postfix, save);
    let to = fresh_recipient(dovecot);
    let queued = queue(&mut store, dovecot, &to, n, size);
    let t = Instant::now();
    let cpu = cpu_time();
    let written = written_bytes();
    let started = crmsync_core::time::now();
    loop {
        let r = rt.block_on(outgoing::send_due(&mut store, None)).unwrap();
        if r.is_empty() {
            break;
        }
        assert!(r.iter().all(|x| x.outcome.is_ok()), "{r:?}");
    }
    let total = t.elapsed().as_secs_f64();
    let cpu = (cpu_time() - cpu).as_secs_f64();
    let written = written_bytes() - written;
    assert_eq!(count(&store, "SELECT count(*) FROM emails WHERE status = 'sent'"), n as i64);
    // Until Postfix accepted the last one: its 250 is followed at once by the Sent commit.
    let last: String = store.conn().query_row("SELECT max(sent_on) FROM emails", [], |r| r.get(0)).unwrap();
    let last = crmsync_core::time::from_db("sent_on", &last).unwrap();
    let send = (last - started).num_milliseconds() as f64 / 1000.0;
    println!(
        "crmsync {}: queue {:.2} s ({:.0}/s); send {:.2} s, {:.0} msg/s{}; crmsync CPU {:.2} ms/msg, store writes {:.1} KB/msg",
        if save { "with Sent copies" } else { "without Sent copies" },
        queued.as_secs_f64(),
        n as f64 / queued.as_secs_f64(),
        send,
        n as f64 / send,
        if save {
            format!("; +sent copies {total:.2} s, {:.0} msg/s end to end", n as f64 / total)
        } else {
            String::new()
        },
        cpu * 1000.0 / n as f64,
        written as f64 / 1024.0 / n as f64,
    );
    n as f64 / send
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|s| s.parse().expect("N")).unwrap_or(2000);
    let size: usize = args.next().map(|s| s.parse().expect("SIZE_BYTES")).unwrap_or(10 * 1024);
    // BENCH_ROUNDS=R: R rounds of smtp-source, smtp-source -d and crmsync
    // (without Sent copies), side by side, and the medians.
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(0);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    let dovecot = Dovecot::start().unwrap();
    dovecot.add_user("alice", PW).unwrap();
    let postfix = Postfix::start(&dovecot).unwrap();
    let drain = |what: &str| {
        rt.block_on(postfix.wait_until_delivered(Duration::from_secs(600)))
            .unwrap_or_else(|e| panic!("after {what}: {e}"));
    };
    println!(
        "N={n} messages of {size} bytes, one SMTP session, Postfix at 127.0.0.1:{}",
        postfix.smtp_open_port()
    );

    if rounds > 0 {
        let mut rates: [Vec<f64>; 3] = Default::default();
        // The order turns round by round, so a drift of the machine over the
        // runs favours none of the three.
        for round in 0..rounds {
            for k in 0..3 {
                let which = (round + k) % 3;
                rates[which].push(match which {
                    0 => smtp_source(&dovecot, &postfix, n, size, false),
                    1 => smtp_source(&dovecot, &postfix, n, size, true),
                    _ => crmsync_run(&rt, &dovecot, &postfix, n, size, false),
                });
                drain("a run");
            }
        }
        let [plain, reuse, ours] = rates.map(median);
        println!(
            "median of {rounds} rounds: smtp-source {plain:.0} msg/s, smtp-source -d {reuse:.0} msg/s, crmsync {ours:.0} msg/s"
        );
        return;
    }

    // Postfix's own load generator: a new session per message (its default),
    // then all messages over one session (-d), as crmsync does.
    for reuse in [false, true] {
        smtp_source(&dovecot, &postfix, n, size, reuse);
        drain("smtp-source");
    }

    // crmsync's SMTP client alone (no store, no composing): the protocol's share.
    {
        let mut settings = crmsync_protocols::ServerSettings::new(
            postfix.host(),
            postfix.smtp_open_port(),
            crmsync_core::model::Security::None,
            "",
            "",
        );
        settings.allow_insecure = true;
        let smtp = crmsync_protocols::smtp::SmtpClient::new(&settings, false).unwrap();
        let body = "The quick brown fox jumps over the lazy dog. 0123456789\r\n".repeat(size / 57 + 1);
        let (from, to) = (dovecot.address("alice"), vec![dovecot.address(&fresh_recipient(&dovecot))]);
        let t = Instant::now();
        rt.block_on(async {
            for i in 0..n {
                let raw = format!(
                    "From: {from}\r\nTo: {}\r\nSubject: raw {i}\r\nMessage-ID: <raw-{i}@bench.test>\r\n\r\n{}",
                    to[0],
                    &body[..size]
                );
                smtp.send(&from, &to, raw.as_bytes()).await.unwrap();
            }
            smtp.close().await;
        });
        let secs = t.elapsed().as_secs_f64();
        println!("crmsync SMTP client alone: {secs:.2} s, {:.0} msg/s", n as f64 / secs);
        drain("the SMTP client alone");
    }

    for save in [false, true] {
        crmsync_run(&rt, &dovecot, &postfix, n, size, save);
        drain("crmsync");
    }
}
