//! Benchmark: a first sync and a no-change sync of N messages by `crmsync sync`
//! (parse, correlate, resolve, commit durably) beside `mbsync` pulling the same
//! mailbox from the same Dovecot into a Maildir.
//!
//! Run: `cargo build --release -p crmsync && cargo run --release -p crmsync --example bench_incoming -- 5000`
//! (needs Dovecot and isync from Debian; runs as root or a normal user).

use std::process::Command;
use std::time::Instant;

use crmsync_tests::Dovecot;
use nix::sys::resource::{UsageWho, getrusage};

const PW: &str = "bench-pass";

fn message(i: usize) -> Vec<u8> {
    // Sizes vary from ~3 KB to ~60 KB (mean ~33 KB), like an office mailbox.
    let body_len = 3_000 + (i * 7919) % 57_000;
    let mut body = String::with_capacity(body_len + 100);
    while body.len() < body_len {
        body.push_str("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n");
    }
    let thread = i / 5;
    let reply = if i.is_multiple_of(5) {
        String::new()
    } else {
        format!("In-Reply-To: <bench-{}@ext.test>\r\n", thread * 5)
    };
    format!(
        "Message-ID: <bench-{i}@ext.test>\r\nFrom: Customer {c} <customer{c}@ext.test>\r\nTo: bench@example.test\r\nSubject: Re: Order {thread}\r\nDate: Thu, 26 Nov 2026 09:00:00 +0000\r\n{reply}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}",
        c = i % 200
    )
    .into_bytes()
}

/// Runs a command, returning (wall seconds, CPU seconds of the command, its stderr).
fn timed(cmd: &mut Command) -> (f64, f64, String) {
    let cpu = || {
        let ru = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
        let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
        t(ru.user_time()) + t(ru.system_time())
    };
    let (t, c) = (Instant::now(), cpu());
    let out = cmd.output().expect("spawn");
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    (secs, cpu() - c, String::from_utf8_lossy(&out.stderr).to_string())
}

/// Peak RSS reported by `crmsync` (CRMSYNC_REPORT_RSS) in MiB.
fn rss_mib(stderr: &str) -> f64 {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("crmsync peak RSS "))
        .and_then(|v| v.trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn crmsync_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/examples/bench_incoming → target/<profile>/crmsync
    exe.parent().unwrap().parent().unwrap().join("crmsync")
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5000);
    let bin = crmsync_bin();
    assert!(bin.exists(), "build the CLI first: cargo build --release -p crmsync ({})", bin.display());
    let dovecot = Dovecot::start().unwrap();
    dovecot.add_user("bench", PW).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut bytes = 0usize;
    let t = Instant::now();
    for i in 0..n {
        let m = message(i);
        bytes += m.len();
        rt.block_on(dovecot.deliver("bench", &m)).unwrap();
    }
    eprintln!("delivered {n} messages ({:.0} MB) in {:.1} s", bytes as f64 / 1e6, t.elapsed().as_secs_f64());

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let crmsync = |args: &[&str]| {
        let mut c = Command::new(&bin);
        c.arg("--db").arg(&db).args(args).env("CRMSYNC_KEYRING", "off").env("CRMSYNC_REPORT_RSS", "1");
        c
    };
    let port = dovecot.imap_port().to_string();
    for args in [
        vec![
            "profile",
            "add",
            "Bench",
            "--kind",
            "imap-smtp",
            "--incoming-host",
            "127.0.0.1",
            "--incoming-port",
            &port,
            "--incoming-security",
            "none",
            "--allow-insecure",
        ],
        vec!["user", "add", "bench@example.test", "--name", "Bench"],
        vec![
            "mailbox",
            "add",
            "bench@example.test",
            "--profile",
            "Bench",
            "--outgoing",
            "none",
            "--track",
            "all",
            "--password-env",
            "BENCH_PW",
        ],
        vec!["settings", "set", "incoming.max_items_per_cycle", "100000"],
        vec!["settings", "set", "incoming.fetch_batch_size", "200"],
        vec!["mailbox", "test-enable", "bench@example.test"],
    ] {
        timed(crmsync(&args).env("BENCH_PW", PW));
    }
    let (first, first_cpu, err) = timed(&mut crmsync(&["sync"]));
    let rss_first = rss_mib(&err);
    let (again, again_cpu, _) = timed(&mut crmsync(&["sync"]));

    let maildir = dir.path().join("maildir");
    std::fs::create_dir_all(&maildir).unwrap();
    let cfg = dir.path().join("mbsyncrc");
    std::fs::write(
        &cfg,
        format!(
            "IMAPAccount bench\nHost 127.0.0.1\nPort {port}\nUser bench\nPass {PW}\nSSLType None\nAuthMechs LOGIN\n\n\
             IMAPStore remote\nAccount bench\n\nMaildirStore local\nPath {}/\nInbox {}/INBOX\n\n\
             Channel bench\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\nSync Pull\nSyncState *\n",
            maildir.display(),
            maildir.display()
        ),
    )
    .unwrap();
    let mbsync = || {
        let mut c = Command::new("mbsync");
        c.arg("-c").arg(&cfg).arg("-q").arg("bench");
        c
    };
    let (mb_first, mb_first_cpu, _) = timed(&mut mbsync());
    let (mb_again, mb_again_cpu, _) = timed(&mut mbsync());

    let activities = {
        let s = crmsync_core::Store::open(&db).unwrap();
        s.conn().query_row("SELECT count(*) FROM activities", [], |r| r.get::<_, i64>(0)).unwrap()
    };
    assert_eq!(activities as usize, n, "every message must become one activity");
    let mb_files = std::fs::read_dir(maildir.join("INBOX/cur")).map(|d| d.count()).unwrap_or(0)
        + std::fs::read_dir(maildir.join("INBOX/new")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(mb_files, n, "mbsync must copy every message");

    println!(
        "| tool | first sync of {n} msgs ({:.0} MB): wall / CPU | msgs/s | no-change sync: wall / CPU |",
        bytes as f64 / 1e6
    );
    println!("|---|---|---|---|");
    println!(
        "| crmsync sync (parse, correlate, resolve, commit) | {first:.2} s / {first_cpu:.2} s | {:.0} | {again:.3} s / {again_cpu:.3} s |",
        n as f64 / first
    );
    println!(
        "| mbsync (plain copy to Maildir) | {mb_first:.2} s / {mb_first_cpu:.2} s | {:.0} | {mb_again:.3} s / {mb_again_cpu:.3} s |",
        n as f64 / mb_first
    );
    println!();
    println!("peak RSS of the first crmsync sync: {rss_first:.0} MiB");
}
