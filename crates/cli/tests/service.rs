//! `crmsync run` and `crmsync status` as an admin uses them: the service
//! tracks mail, keeps telemetry current, refuses a second instance on the same
//! store, logs JSON on request and exits cleanly on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::Env;
use crmsync_tests::Dovecot;
use serde_json::Value;

const PW: &str = "Secret-Pa55";
const WAIT: Duration = Duration::from_secs(30);

fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn start_run(env: &Env, extra: &[&str]) -> Child {
    let mut args = vec!["run"];
    args.extend_from_slice(extra);
    env.cmd(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
}

fn sigterm(child: &Child) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .unwrap();
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "crmsync run did not exit");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn run_tracks_mail_keeps_telemetry_refuses_a_second_instance_and_stops_on_sigterm() {
    let dovecot = Dovecot::start().unwrap();
    dovecot.add_user("alice", PW).unwrap();
    let env = Env::new();
    let alice = dovecot.address("alice");
    env.ok(&[
        "profile",
        "add",
        "Office",
        "--kind",
        "imap-smtp",
        "--incoming-host",
        "127.0.0.1",
        "--incoming-port",
        &dovecot.imap_port().to_string(),
        "--incoming-security",
        "none",
        "--outgoing-security",
        "none",
        "--allow-insecure",
        "--min-poll-interval",
        "1",
    ]);
    env.ok(&["user", "add", &alice, "--name", "Alice"]);
    let out = env.run_stdin(
        &[
            "mailbox",
            "add",
            &alice,
            "--profile",
            "Office",
            "--outgoing",
            "none",
            "--track",
            "all",
            "--password-stdin",
        ],
        PW,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(env.json(&["mailbox", "test-enable", &alice])["overall"], "success");
    env.ok(&["settings", "set", "polling.active_interval_secs", "1"]);
    env.ok(&["settings", "set", "polling.idle_max_interval_secs", "2"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(dovecot.deliver(
        "alice",
        format!("Message-ID: <s1@ext.test>\r\nFrom: ben@contoso.test\r\nTo: {alice}\r\nSubject: hello\r\n\r\nhi\r\n")
            .as_bytes(),
    ))
    .unwrap();

    let status = env.json(&["status"]);
    assert_eq!(status["lease_holder"], Value::Null);
    assert_eq!(status["mailboxes_by_health"]["ok"], 1);

    let mut first = start_run(&env, &["--log-format", "json"]);
    until("the mail is tracked", || env.count("SELECT count(*) FROM activities") == 1);
    let shown = env.json(&["mailbox", "show", &alice]);
    let t = &shown["telemetry"];
    assert!(t["last_sync_succeeded"].is_string(), "{t:#}");
    assert!(t["next_poll"].is_string(), "the service keeps next_poll current: {t:#}");
    assert_eq!(t["items_processed"], 1, "{t:#}");

    // A second service on the same store refuses with a clear sentence.
    let second = env.run(&["run"]);
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("another crmsync engine is already processing this store: crmsync run"), "{err}");
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");

    let status = env.json(&["status"]);
    assert_eq!(status["lease_holder"]["holder"], "crmsync run");
    assert_eq!(status["lease_holder"]["pid"], first.id());
    assert_eq!(status["queue_depths"]["mailboxes"], 0);
    let text = env.ok(&["status"]);
    assert!(text.contains("service: running — crmsync run"), "{text}");
    assert!(text.contains("1 ok"), "{text}");

    sigterm(&first);
    let code = wait_exit(&mut first);
    assert!(code.success(), "{code:?}");
    let mut lines = 0;
    for line in BufReader::new(first.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["message"].is_string(), "{line}");
        lines += 1;
    }
    assert!(lines >= 3, "start, SIGTERM and stop are logged");
    let status = env.json(&["status"]);
    assert_eq!(status["lease_holder"], Value::Null, "the lease is released on exit");
    assert_eq!(env.json(&["mailbox", "show", &alice])["telemetry"]["processing_state"], "idle");
}

#[test]
fn run_rejects_an_unknown_log_format() {
    let env = Env::new();
    let out = env.run(&["run", "--log-format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log-format"));
}
