//! Guards around the pipelines, as an admin meets them: `crmsync sync` never
//! runs beside the service, a panicking job is caught and retried, and no log
//! level shows a password.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::Env;
use crmsync_tests::{Dovecot, Postfix};
use serde_json::Value;

const PW: &str = "Zq8-guard-Pa55word";
const WAIT: Duration = Duration::from_secs(30);

fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sigterm_and_wait(child: &mut Child) -> std::process::ExitStatus {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "crmsync run did not exit");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A store with profile "Office" (IMAP over TLS, SMTP with STARTTLS and AUTH
/// when `postfix` is given) and mailbox alice, tested and enabled.
fn office(dovecot: &Dovecot, postfix: Option<&Postfix>) -> (Env, String) {
    let mut env = Env::new();
    env.envs.push(("SSL_CERT_FILE".into(), dovecot.ca_path().display().to_string()));
    let alice = dovecot.address("alice");
    dovecot.add_user("alice", PW).unwrap();
    let smtp_port = postfix.map_or(25, |p| p.smtp_port()).to_string();
    env.ok(&[
        "profile",
        "add",
        "Office",
        "--kind",
        "imap-smtp",
        "--incoming-host",
        "127.0.0.1",
        "--incoming-port",
        &dovecot.imaps_port().to_string(),
        "--outgoing-host",
        "127.0.0.1",
        "--outgoing-port",
        &smtp_port,
        "--outgoing-security",
        "starttls",
        "--min-poll-interval",
        "1",
        "--timeout",
        "20",
    ]);
    env.ok(&["user", "add", &alice, "--name", "Alice"]);
    let outgoing = if postfix.is_some() { "server-side" } else { "none" };
    let out = env.run_stdin(
        &[
            "mailbox",
            "add",
            &alice,
            "--profile",
            "Office",
            "--outgoing",
            outgoing,
            "--track",
            "all",
            "--password-stdin",
        ],
        PW,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = env.json(&["mailbox", "test-enable", &alice]);
    assert_eq!(report["overall"], "success", "{report:#}");
    (env, alice)
}

fn deliver(dovecot: &Dovecot, alice: &str, id: &str) {
    let raw = format!(
        "Message-ID: <{id}@ext.test>\r\nFrom: ben@contoso.test\r\nTo: {alice}\r\nSubject: {id}\r\n\r\nhi\r\n"
    );
    tokio::runtime::Runtime::new().unwrap().block_on(dovecot.deliver("alice", raw.as_bytes())).unwrap();
}

#[test]
fn sync_refuses_while_the_service_holds_the_store_naming_it_and_runs_once_it_stopped() {
    let env = Env::new();
    env.ok(&["init"]);
    let mut service = env.cmd(&["run"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    until("the service holds the store", || env.json(&["status"])["lease_holder"]["holder"] == "crmsync run");

    let out = env.run(&["sync"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("STORE_IN_USE"), "{err}");
    assert!(err.contains(&format!("crmsync run (pid {} on ", service.id())), "{err}");
    assert_eq!(env.json(&["status"])["lease_holder"]["pid"], service.id(), "the service keeps its lease");

    assert!(sigterm_and_wait(&mut service).success());
    let out = env.run(&["sync"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(env.json(&["status"])["lease_holder"], Value::Null, "sync released its lease");
}

#[test]
fn a_panicking_job_raises_an_internal_error_alert_and_the_mailbox_syncs_on_the_next_run() {
    let dovecot = Dovecot::start().unwrap();
    let (mut env, alice) = office(&dovecot, None);
    env.ok(&["settings", "set", "backoff.base_secs", "1"]);
    env.ok(&["settings", "set", "polling.active_interval_secs", "1"]);
    env.ok(&["settings", "set", "polling.use_idle", "false"]);
    deliver(&dovecot, &alice, "p1");
    // Debug builds only: the first two incoming jobs of alice panic.
    env.envs.push(("CRMSYNC_TEST_PANIC_IN".into(), format!("{alice}:2")));
    let mut service = env.cmd(&["run"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();

    until("the mail is tracked after the panics", || env.count("SELECT count(*) FROM activities") == 1);
    let alerts = env.json(&["alert", "list", "--mailbox", &alice]);
    let internal: Vec<&Value> =
        alerts.as_array().unwrap().iter().filter(|a| a["code"] == "INTERNAL_ERROR").collect();
    assert_eq!(internal.len(), 1, "{alerts:#}");
    assert_eq!(internal[0]["count"], 2, "both panics are recorded: {alerts:#}");
    let message = internal[0]["message"].as_str().unwrap();
    assert!(message.contains("panicked") && message.contains("injected panic"), "{message}");
    let shown = env.json(&["mailbox", "show", &alice]);
    assert!(shown["telemetry"]["last_sync_succeeded"].is_string(), "{shown:#}");

    let status = sigterm_and_wait(&mut service);
    assert!(status.success(), "the service survived the panics and stopped cleanly");
}

/// The forms a password takes on the wire: as is, and base64 in SASL PLAIN
/// (with and without an authorization identity) and AUTH LOGIN.
fn wire_forms(user: &str) -> Vec<String> {
    let mut forms = vec![PW.to_string(), B64.encode(PW)];
    for u in [user, user.split('@').next().unwrap()] {
        forms.push(B64.encode(format!("\0{u}\0{PW}")));
        forms.push(B64.encode(format!("{u}\0{u}\0{PW}")));
    }
    forms
}

#[test]
fn a_trace_log_of_a_sync_over_imap_and_smtp_never_shows_the_password() {
    let dovecot = Dovecot::start().unwrap();
    let postfix = Postfix::start(&dovecot).unwrap();
    let (env, alice) = office(&dovecot, Some(&postfix));
    let bob = dovecot.address("bob");
    dovecot.add_user("bob", "other-pw").unwrap();
    for (round, filter) in ["trace", "trace,async_imap=trace"].into_iter().enumerate() {
        deliver(&dovecot, &alice, &format!("log{round}"));
        env.json(&[
            "email",
            "send",
            "--from",
            &alice,
            "--to",
            &bob,
            "--subject",
            "logged",
            "--body",
            "hello",
        ]);
        let out = env.cmd(&["sync"]).env("CRMSYNC_LOG", filter).output().unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{log}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("1 sent"), "the sync sent over SMTP: {stdout}");
        assert!(log.lines().count() > 20 && log.contains("TLS established"), "a real trace: {log}");
        for form in wire_forms(&alice) {
            assert!(!log.contains(&form), "CRMSYNC_LOG={filter}: '{form}' in the log:\n{log}");
        }
        if filter.contains("async_imap") {
            // Asked for explicitly: the IMAP wire trace is there, its secrets are not.
            assert!(log.contains("AUTHENTICATE PLAIN"), "{log}");
            assert!(log.contains("[redacted]"), "{log}");
        }
    }
}

/// `crmsync run` serving a mailbox while mail arrives and email is queued,
/// and `crmsync sync` tried again and again beside it for the whole time:
/// every sync is refused (the service holds the store), every message is
/// tracked once, every email is delivered once (counted at Dovecot by
/// Message-ID), and a sync after the service stops changes nothing.
#[test]
fn a_service_and_repeated_syncs_against_live_traffic_track_and_send_each_item_once() {
    let dovecot = Dovecot::start().unwrap();
    let postfix = Postfix::start(&dovecot).unwrap();
    let (env, alice) = office(&dovecot, Some(&postfix));
    let bob = dovecot.address("bob");
    dovecot.add_user("bob", "bob-pw").unwrap();
    env.ok(&["settings", "set", "polling.active_interval_secs", "1"]);
    env.ok(&["settings", "set", "polling.outgoing_interval_secs", "1"]);
    let mut service = env.cmd(&["run"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    until("the service holds the store", || env.json(&["status"])["lease_holder"]["holder"] == "crmsync run");

    const IN: usize = 30;
    const OUT: usize = 15;
    let (mut refused, mut sent_ids) = (0, Vec::new());
    for i in 0..IN {
        deliver(&dovecot, &alice, &format!("live{i}"));
        if i < OUT {
            let e = env.json(&[
                "email",
                "send",
                "--from",
                &alice,
                "--to",
                &bob,
                "--subject",
                &format!("out{i}"),
                "--body",
                "hi",
            ]);
            sent_ids.push(e["id"].to_string());
        }
        let out = env.run(&["sync"]);
        assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
        refused += 1;
    }
    until("every message is tracked and every email sent", || {
        env.count("SELECT count(*) FROM emails WHERE direction = 'incoming'") >= IN as i64
            && sent_ids.iter().all(|id| env.json(&["activity", "show", id])["status"] == "sent")
    });
    assert!(sigterm_and_wait(&mut service).success());
    assert_eq!(refused, IN);
    let after = env.run(&["sync"]);
    assert!(after.status.success(), "{}", String::from_utf8_lossy(&after.stderr));

    assert_eq!(env.count("SELECT count(*) FROM emails WHERE direction = 'incoming'"), IN as i64);
    assert_eq!(
        env.count("SELECT count(DISTINCT message_id) FROM emails WHERE direction = 'incoming'"),
        IN as i64
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let got = rt.block_on(dovecot.list_inbox("bob", "bob-pw")).unwrap();
    assert_eq!(got.len(), OUT, "each email delivered once");
    let mut ids: Vec<Vec<u8>> = got
        .iter()
        .map(|m| {
            let raw = &m.raw;
            let at = raw.windows(11).position(|w| w.eq_ignore_ascii_case(b"message-id:")).unwrap();
            raw[at..].split(|b| *b == b'\n').next().unwrap().to_vec()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), OUT, "no Message-ID twice at the recipient");
}
