//! Microsoft 365 (Graph) benchmark (not a test): the first sync of N messages
//! and a no-change sync, run as a user runs them — the release `crmsync`
//! binary, `crmsync sync` on a fresh store, a `microsoft365` profile
//! pointed at the harness's Graph emulator (HTTPS with its CA, every request
//! validated), tokens from the harness's OAuth2 server, mailbox tracking all.
//! Prints each `crmsync sync` run (wall and CPU time, new activities, HTTP
//! round trips and Graph requests from the emulator's log) and a summary.
//! docs/benchmarks.md has the figures.
//!
//! ```text
//! cargo build --release -p crmsync
//! cargo run --release -p crmsync-tests --example bench_graph [-- N]
//! BENCH_SETTINGS="incoming.fetch_batch_size=200 incoming.max_items_per_cycle=5000" \
//!     cargo run --release -p crmsync-tests --example bench_graph -- 5000
//! ```
//!
//! `BENCH_SETTINGS` sets crmsync settings before the first sync (default:
//! none, crmsync's defaults).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::Utc;
use crmsync_engine::oauth::{self, Tokens};
use crmsync_tests::{GraphServer, OAuthServer};
use nix::sys::resource::{UsageWho, getrusage};

const EMAIL: &str = "bench@contoso.test";
const SCOPES: &str = "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Mail.ReadWrite \
                      https://graph.microsoft.com/Mail.Send offline_access";

/// A message of 2–20 KB (mean ~11 KB): threads of five, 200 senders.
fn message(i: usize) -> Vec<u8> {
    let body_len = 2_000 + (i * 7919) % 18_000;
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
        "Message-ID: <bench-{i}@ext.test>\r\nFrom: Customer {c} <customer{c}@ext.test>\r\nTo: {EMAIL}\r\n\
         Subject: Re: Order {thread}\r\nDate: Thu, 26 Nov 2026 09:00:00 +0000\r\n{reply}MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}",
        c = i % 200
    )
    .into_bytes()
}

fn crmsync_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/examples/bench_graph → target/<profile>/crmsync
    exe.parent().unwrap().parent().unwrap().join("crmsync")
}

/// CPU seconds of the finished children so far.
fn children_cpu() -> f64 {
    let ru = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
    t(ru.user_time()) + t(ru.system_time())
}

/// Peak RSS reported by `crmsync` (CRMSYNC_REPORT_RSS) in MiB.
fn rss_mib(stderr: &str) -> f64 {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("crmsync peak RSS "))
        .and_then(|v| v.trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// One `crmsync sync` run as measured.
struct Run {
    wall: f64,
    cpu: f64,
    rss: f64,
    new: i64,
    /// HTTP round trips (a `$batch` is one).
    http: usize,
    /// Graph requests (each item of a `$batch` counted, as Graph's throttling counts them).
    graph: usize,
    batches: usize,
}

struct Bench {
    bin: PathBuf,
    db: PathBuf,
    ca: String,
    graph: GraphServer,
    rt: tokio::runtime::Runtime,
}

impl Bench {
    fn crmsync(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--db")
            .arg(&self.db)
            .args(args)
            .env("CRMSYNC_KEYRING", "off")
            .env("CRMSYNC_REPORT_RSS", "1")
            .env("SSL_CERT_FILE", &self.ca)
            .env_remove("CRMSYNC_DB");
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.crmsync(args).output().unwrap();
        assert!(
            out.status.success(),
            "crmsync {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    fn activities(&self) -> i64 {
        let store = crmsync_core::Store::open(&self.db).unwrap().without_keyring();
        store
            .conn()
            .query_row("SELECT count(*) FROM activities WHERE type = 'email'", [], |r| r.get(0))
            .unwrap()
    }

    fn log(&self) -> Vec<crmsync_tests::GraphRequest> {
        self.rt.block_on(self.graph.requests()).unwrap()
    }

    fn sync(&self) -> Run {
        let (before, had) = (self.log().len(), self.activities());
        let (t, c) = (Instant::now(), children_cpu());
        let err = self.ok(&["sync"]);
        let (wall, cpu) = (t.elapsed().as_secs_f64(), children_cpu() - c);
        let log = self.log();
        let new = &log[before..];
        Run {
            wall,
            cpu,
            rss: rss_mib(&err),
            new: self.activities() - had,
            http: new.iter().filter(|r| !r.batch).count(),
            graph: new.iter().filter(|r| r.batch || !r.path.contains("/$batch")).count(),
            batches: new.iter().filter(|r| !r.batch && r.path.contains("/$batch")).count(),
        }
    }
}

fn seed(graph: &GraphServer, rt: &tokio::runtime::Runtime, n: usize) -> usize {
    let mut bytes = 0;
    rt.block_on(async {
        for start in (0..n).step_by(16) {
            let msgs: Vec<Vec<u8>> = (start..n.min(start + 16)).map(message).collect();
            bytes += msgs.iter().map(Vec::len).sum::<usize>();
            // The emulator is threaded: sixteen in flight keep it busy.
            let all = msgs.iter().map(|m| graph.seed_message(EMAIL, "inbox", m, false));
            for r in futures::future::join_all(all).await {
                r.unwrap();
            }
        }
    });
    bytes
}

fn setup(dir: &Path, oauth: &OAuthServer, graph: GraphServer, rt: tokio::runtime::Runtime) -> Bench {
    let bin = crmsync_bin();
    assert!(bin.exists(), "build the CLI first: cargo build --release -p crmsync ({})", bin.display());
    let b =
        Bench { bin, db: dir.join("bench.db"), ca: graph.ca().ca_path().display().to_string(), graph, rt };
    let (issuer, token, device, authorize, base) =
        (oauth.issuer(), oauth.token_url(), oauth.device_url(), oauth.authorize_url(), b.graph.base_url());
    b.ok(&[
        "profile",
        "add",
        "M365",
        "--kind",
        "microsoft365",
        "--graph-url",
        &base,
        "--auth",
        "oauth2",
        "--provider",
        "custom",
        "--client-id",
        "crmsync-app",
        "--issuer",
        &issuer,
        "--token-url",
        &token,
        "--device-url",
        &device,
        "--authorize-url",
        &authorize,
        "--scopes",
        SCOPES,
    ]);
    b.ok(&["user", "add", EMAIL, "--name", "Bench"]);
    b.ok(&["mailbox", "add", EMAIL, "--profile", "M365", "--track", "all", "--outgoing", "none"]);
    let t = b.rt.block_on(oauth.issue(EMAIL, SCOPES, 4 * 3600)).unwrap();
    let tokens = Tokens {
        access: crmsync_core::secrets::Secret::new(&t.access),
        refresh: Some(crmsync_core::secrets::Secret::new(&t.refresh)),
        expires_on: Some(Utc::now() + chrono::Duration::seconds(4 * 3600)),
        scope: Some(SCOPES.into()),
    };
    let store = crmsync_core::Store::open(&b.db).unwrap().without_keyring();
    oauth::store_tokens(&store, EMAIL, &tokens).unwrap();
    drop(store);
    for kv in std::env::var("BENCH_SETTINGS").unwrap_or_default().split_whitespace() {
        let (k, v) = kv.split_once('=').expect("BENCH_SETTINGS: key=value ...");
        b.ok(&["settings", "set", k, v]);
    }
    b.ok(&["mailbox", "test-enable", EMAIL]);
    b
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let oauth = OAuthServer::start().unwrap();
    let graph = GraphServer::start(&oauth).unwrap();
    rt.block_on(graph.add_user(EMAIL, "Bench")).unwrap();
    let t = Instant::now();
    let bytes = seed(&graph, &rt, n);
    eprintln!("seeded {n} messages ({:.1} MB) in {:.1} s", bytes as f64 / 1e6, t.elapsed().as_secs_f64());
    let dir = tempfile::tempdir().unwrap();
    let b = setup(dir.path(), &oauth, graph, rt);
    let settings = std::env::var("BENCH_SETTINGS").unwrap_or_default();
    let settings = if settings.is_empty() { "defaults".to_string() } else { settings };

    println!("settings: {settings}");
    println!(
        "| run | new activities | wall | crmsync CPU | peak RSS | HTTP round trips | Graph requests | $batch |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let row = |name: &str, r: &Run| {
        println!(
            "| {name} | {} | {:.2} s | {:.2} s | {:.0} MiB | {} | {} | {} |",
            r.new, r.wall, r.cpu, r.rss, r.http, r.graph, r.batches
        );
    };
    let mut first: Vec<Run> = Vec::new();
    while b.activities() < n as i64 {
        let r = b.sync();
        row(&format!("sync {}", first.len() + 1), &r);
        assert!(r.new > 0, "a sync brought nothing new with {} of {n} in", b.activities());
        first.push(r);
    }
    let noop = b.sync();
    row("no-change sync", &noop);
    assert_eq!(noop.new, 0);
    b.graph.assert_no_invalid_requests();

    let sum = |f: fn(&Run) -> f64| first.iter().map(f).sum::<f64>();
    let (wall, cpu) = (sum(|r| r.wall), sum(|r| r.cpu));
    let http: usize = first.iter().map(|r| r.http).sum();
    let graph: usize = first.iter().map(|r| r.graph).sum();
    println!(
        "first sync of {n} messages ({:.0} MB): {} run(s), {wall:.1} s wall ({:.0} msgs/s), {cpu:.1} s crmsync CPU, \
         {http} HTTP round trips ({:.0} per 1000 messages), {graph} Graph requests",
        bytes as f64 / 1e6,
        first.len(),
        n as f64 / wall,
        http as f64 * 1000.0 / n as f64
    );
    println!(
        "no-change sync: {:.3} s wall, {:.3} s CPU, {} HTTP round trips, {} Graph requests",
        noop.wall, noop.cpu, noop.http, noop.graph
    );
}
