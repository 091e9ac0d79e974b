//! `mailbox test-enable`, `approve`, `enable`, `disable` against real Dovecot
//! and Postfix: each channel's status and the precise reason for a failure.

mod common;

use common::{Env, Servers};
use serde_json::Value;

const PW: &str = "Right-Pa55";

fn servers() -> Servers {
    common::servers(PW)
}

fn env_for(s: &Servers, trust_ca: bool, incoming_port: u16) -> Env {
    let env = common::office_env(s, trust_ca, incoming_port);
    env.ok(&["user", "add", &s.dovecot.address("alice"), "--name", "Alice"]);
    env
}

fn add_mailbox(env: &Env, email: &str, password: Option<&str>) {
    let out = match password {
        Some(pw) => env.run_stdin(&["mailbox", "add", email, "--profile", "Office", "--password-stdin"], pw),
        None => env.run(&["mailbox", "add", email, "--profile", "Office"]),
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn test_enable(env: &Env, email: &str) -> (i32, Value) {
    let out = env.run(&["--json", "mailbox", "test-enable", email]);
    (out.status.code().unwrap(), serde_json::from_slice(&out.stdout).unwrap())
}

fn channel<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["channels"].as_array().unwrap().iter().find(|c| c["channel"] == name).unwrap()
}

#[test]
fn test_enable_passes_incoming_and_outgoing_and_enables_them_without_sending_anything() {
    let s = servers();
    let env = env_for(&s, true, s.dovecot.imaps_port());
    let alice = s.dovecot.address("alice");
    add_mailbox(&env, &alice, Some(PW));
    let tested = |env: &Env| {
        let status = env.json(&["status"]);
        status["mailboxes"].as_array().unwrap()[0]["last_test_on"].clone()
    };
    assert!(tested(&env).is_null(), "never tested yet");
    let (code, report) = test_enable(&env, &alice);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["overall"], "success");
    // When it ran is kept and shown with the mailbox and in the status.
    let on = tested(&env);
    assert!(on.is_string(), "{on}");
    let text = env.ok(&["mailbox", "show", &alice]);
    let line = text.lines().find(|l| l.contains("last test & enable")).unwrap_or_else(|| panic!("{text}"));
    assert!(!line.ends_with('-'), "{line}");
    assert_eq!(channel(&report, "incoming")["status"], "success");
    assert_eq!(channel(&report, "outgoing")["status"], "success");
    assert_eq!(channel(&report, "act")["status"], "not-run");
    let shown = env.json(&["mailbox", "show", &alice]);
    assert_eq!(shown["incoming"]["enabled"], true);
    assert_eq!(shown["outgoing"]["enabled"], true);
    assert!(shown["first_enabled_on"].is_string());
    assert_eq!(s.postfix.queued_messages(), 0, "Test & Enable sends nothing");
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert!(rt.block_on(s.dovecot.list_inbox("alice", PW)).unwrap().is_empty());
}

#[test]
fn a_wrong_password_fails_both_channels_with_auth_codes_and_enables_nothing() {
    let s = servers();
    let env = env_for(&s, true, s.dovecot.imaps_port());
    let alice = s.dovecot.address("alice");
    add_mailbox(&env, &alice, Some("Wrong-Pa55"));
    let (code, report) = test_enable(&env, &alice);
    assert_eq!(code, 1);
    assert_eq!(report["overall"], "failure");
    assert_eq!(channel(&report, "incoming")["code"], "IMAP_AUTH_FAILED");
    assert_eq!(channel(&report, "outgoing")["code"], "SMTP_AUTH_FAILED");
    assert!(channel(&report, "incoming")["hint"].as_str().unwrap().contains("password"));
    let shown = env.json(&["mailbox", "show", &alice]);
    assert_eq!(shown["incoming"]["enabled"], false);
    assert_eq!(shown["incoming"]["status"], "failure");
    assert_eq!(shown["telemetry"]["last_error"]["code"], "IMAP_AUTH_FAILED");
    let alerts = env.json(&["alert", "list", "--mailbox", &alice]);
    assert!(
        alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["code"] == "IMAP_AUTH_FAILED" && a["severity"] == "error")
    );
    // The password never shows up anywhere the admin can see.
    for out in [env.ok(&["--json", "mailbox", "show", &alice]), env.ok(&["--json", "alert", "list"])] {
        assert!(!out.contains("Wrong-Pa55"));
    }
    // Fixing the password and re-testing enables the mailbox.
    let out = env.run_stdin(&["mailbox", "update", &alice, "--password-stdin"], PW);
    assert!(out.status.success());
    let (code, report) = test_enable(&env, &alice);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn failures_name_their_cause_refused_port_untrusted_certificate_and_missing_credentials() {
    let s = servers();
    let alice = s.dovecot.address("alice");
    // Nothing listens on this port.
    let closed = crmsync_tests::ports::free_port().unwrap();
    let env = env_for(&s, true, closed);
    add_mailbox(&env, &alice, Some(PW));
    let (_, report) = test_enable(&env, &alice);
    assert_eq!(channel(&report, "incoming")["code"], "CONNECTION_REFUSED");

    // The server's certificate is not trusted (no test CA): verified TLS refuses it.
    let env = env_for(&s, false, s.dovecot.imaps_port());
    add_mailbox(&env, &alice, Some(PW));
    let (_, report) = test_enable(&env, &alice);
    assert_eq!(channel(&report, "incoming")["code"], "TLS_CERT_INVALID", "{report:#}");

    // No password stored: said so without connecting.
    let env = env_for(&s, true, s.dovecot.imaps_port());
    add_mailbox(&env, &alice, None);
    let (_, report) = test_enable(&env, &alice);
    assert_eq!(channel(&report, "incoming")["code"], "CREDENTIALS_REQUIRED");
    assert!(channel(&report, "incoming")["message"].as_str().unwrap().contains("--password-stdin"));
}

#[test]
fn plaintext_imap_works_only_on_a_profile_that_allows_insecure_connections() {
    let s = servers();
    let alice = s.dovecot.address("alice");
    let env = env_for(&s, true, s.dovecot.imaps_port());
    let out = env.run(&[
        "profile",
        "update",
        "Office",
        "--incoming-security",
        "none",
        "--incoming-port",
        &s.dovecot.imap_port().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2), "security none needs --allow-insecure");
    env.ok(&[
        "profile",
        "update",
        "Office",
        "--incoming-security",
        "none",
        "--incoming-port",
        &s.dovecot.imap_port().to_string(),
        "--allow-insecure",
    ]);
    add_mailbox(&env, &alice, Some(PW));
    let (code, report) = test_enable(&env, &alice);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn approval_enable_and_disable_gate_processing() {
    let s = servers();
    let env = env_for(&s, true, s.dovecot.imaps_port());
    let alice = s.dovecot.address("alice");
    add_mailbox(&env, &alice, Some(PW));
    env.ok(&["settings", "set", "incoming.require_approval", "true"]);
    let (code, report) = test_enable(&env, &alice);
    assert_eq!(code, 1);
    assert_eq!(channel(&report, "incoming")["code"], "NOT_APPROVED");
    env.ok(&["mailbox", "approve", &alice]);
    assert_eq!(env.json(&["mailbox", "show", &alice])["approval"], "approved");
    assert_eq!(test_enable(&env, &alice).0, 0);

    env.ok(&["mailbox", "disable", &alice]);
    let shown = env.json(&["mailbox", "show", &alice]);
    assert_eq!(shown["incoming"]["enabled"], false);
    assert_eq!(env.json(&["sync"]).as_array().unwrap().len(), 0, "a disabled mailbox is not synced");
    env.ok(&["mailbox", "enable", &alice]);
    let synced = env.json(&["sync"]);
    assert_eq!(synced[0]["result"], "ok", "{synced:#}");
    env.ok(&["mailbox", "approve", "--all"]);
    let all = env.json(&["mailbox", "test-enable", "--all"]);
    assert_eq!(all.as_array().unwrap().len(), 1);
}

/// One plaintext rule for a CalDAV/CardDAV URL wherever it is used: a profile
/// whose `http://` DAV URL was allowed and is then disallowed
/// (`--disallow-insecure` keeps the URL) fails the ACT sync, Test & Enable
/// and Test Connection alike with PLAINTEXT_REFUSED — a loopback address
/// included, as for IMAP, POP3 and SMTP.
#[test]
fn an_http_dav_url_is_refused_everywhere_once_the_profile_disallows_insecure_connections() {
    let rad = crmsync_tests::Radicale::start().unwrap();
    rad.add_user("alice", "alice-pw").unwrap();
    let env = Env::new();
    let url = format!("{}/", rad.base_url());
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    env.ok(&[
        "profile",
        "add",
        "Dav",
        "--kind",
        "imap-smtp",
        "--incoming-host",
        "127.0.0.1",
        "--dav-url",
        &url,
        "--allow-insecure",
    ]);
    env.ok(&["user", "add", "alice@example.test", "--name", "Alice"]);
    env.ok_stdin(
        &[
            "mailbox",
            "add",
            "alice@example.test",
            "--profile",
            "Dav",
            "--username",
            "alice",
            "--incoming",
            "none",
            "--outgoing",
            "none",
            "--act",
            "server-side",
            "--password-stdin",
        ],
        "alice-pw",
    );
    let (code, report) = test_enable(&env, "alice@example.test");
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(channel(&report, "act")["enabled"], true, "{report:#}");

    env.ok(&["profile", "update", "Dav", "--disallow-insecure"]);

    let out = env.run(&["--json", "sync"]);
    let synced = String::from_utf8_lossy(&out.stdout);
    assert!(synced.contains("PLAINTEXT_REFUSED"), "the ACT sync refuses the URL: {synced}");

    let (code, report) = test_enable(&env, "alice@example.test");
    assert_eq!(code, 1, "{report:#}");
    let act = channel(&report, "act");
    assert_eq!((act["code"].as_str(), act["enabled"].as_bool()), (Some("PLAINTEXT_REFUSED"), Some(false)));
    assert!(act["message"].as_str().unwrap().contains(&format!("127.0.0.1:{}", rad.port())), "{act:#}");

    let out = env.run(&["--json", "profile", "test", "Dav"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let dav = report["servers"].as_array().unwrap().iter().find(|c| c["proto"] == "DAV").unwrap();
    assert_eq!(
        (dav["ok"].as_bool(), dav["code"].as_str()),
        (Some(false), Some("PLAINTEXT_REFUSED")),
        "{dav:#}"
    );
}

/// An Exchange profile (from an Email Router migration) with a DAV URL that
/// answers: Test & Enable tests ACT where the sync will run it, on the
/// Exchange server (here unreachable), and does not pass it on the strength of
/// the DAV URL, which an Exchange profile's ACT sync never uses.
#[test]
fn test_enable_tests_act_of_an_exchange_profile_on_its_exchange_server_not_its_dav_url() {
    let rad = crmsync_tests::Radicale::start().unwrap();
    rad.add_user("alice", "alice-pw").unwrap();
    let env = Env::new();
    let url = format!("{}/", rad.base_url());
    env.ok(&[
        "profile",
        "add",
        "Exch",
        "--kind",
        "exchange",
        "--ews-url",
        "https://mail.example.test/EWS/Exchange.asmx",
        "--dav-url",
        &url,
        "--allow-insecure",
    ]);
    env.ok(&["user", "add", "alice@example.test", "--name", "Alice"]);
    env.ok_stdin(
        &[
            "mailbox",
            "add",
            "alice@example.test",
            "--profile",
            "Exch",
            "--username",
            "alice",
            "--incoming",
            "none",
            "--outgoing",
            "none",
            "--act",
            "server-side",
            "--password-stdin",
        ],
        "alice-pw",
    );
    let (code, report) = test_enable(&env, "alice@example.test");
    assert_eq!(code, 1, "{report:#}");
    let act = channel(&report, "act");
    assert_eq!(
        (act["code"].as_str(), act["enabled"].as_bool()),
        (Some("DNS_FAILED"), Some(false)),
        "{act:#}"
    );
    assert!(act["message"].as_str().unwrap().contains("EWS server name mail.example.test"), "{act:#}");
}

/// The hint says what to do in words for any front end and names the action;
/// the command line adds its own command for it (the desktop says it in the
/// window's words: ui/src/hints.ts).
#[test]
fn a_refused_password_names_the_action_and_the_cli_gives_its_command() {
    let s = servers();
    let env = env_for(&s, true, s.dovecot.imaps_port());
    let alice = s.dovecot.address("alice");
    add_mailbox(&env, &alice, Some("Wrong-Pa55"));
    let (_, report) = test_enable(&env, &alice);
    let incoming = channel(&report, "incoming");
    assert_eq!(incoming["action"], "enter_password", "{incoming:#}");
    let hint = incoming["hint"].as_str().unwrap();
    assert!(!hint.contains("--") && !hint.contains("crmsync mailbox"), "{hint}");

    let out = env.run(&["mailbox", "test-enable", &alice]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("crmsync mailbox update {alice} --password-stdin")), "{text}");
    let alerts = env.json(&["alert", "list", "--mailbox", &alice]);
    let auth = alerts.as_array().unwrap().iter().find(|a| a["code"] == "IMAP_AUTH_FAILED").unwrap();
    assert_eq!(auth["action"], "enter_password");
    let listed = env.ok(&["alert", "list", "--mailbox", &alice]);
    assert!(listed.contains(&format!("crmsync mailbox test-enable {alice}")), "{listed}");
}
