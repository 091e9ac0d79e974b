//! `profile test`: Test Connection of an email server profile against real
//! Dovecot, Postfix and Radicale — one row per server, the failure's code naming the
//! server, and the typed password never stored or printed.

mod common;

use common::{Env, Servers};
use serde_json::Value;

const PW: &str = "Right-Pa55";

fn servers() -> Servers {
    common::servers(PW)
}

/// A store with profile "Office": IMAP on `incoming_port` (TLS), SMTP submission with STARTTLS.
fn env_for(s: &Servers, trust_ca: bool, incoming_port: u16) -> Env {
    common::office_env(s, trust_ca, incoming_port)
}

/// Runs `profile test Office` with `--json`, optionally logging in with `password`.
fn test_profile(env: &Env, user: Option<&str>, password: &str) -> (i32, Value, String) {
    let out = match user {
        Some(u) => env.run_stdin(
            &["--json", "profile", "test", "Office", "--username", u, "--password-stdin"],
            password,
        ),
        None => env.run(&["--json", "profile", "test", "Office"]),
    };
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    (out.status.code().unwrap(), report, format!("{stdout}{stderr}"))
}

/// The kept result of the last Test Connection, as `profile show --json` has it.
fn last_test(env: &Env) -> Value {
    env.json(&["profile", "show", "Office"])["last_test"].clone()
}

/// The store after a Test Connection, without the result it keeps on the
/// profile (cleared here): the rest must be as it was.
fn snapshot_without_last_test(env: &Env) -> String {
    env.store()
        .conn()
        .execute(
            "UPDATE email_server_profiles SET last_test_on = NULL, last_test_status = NULL, last_test_message = NULL",
            [],
        )
        .unwrap();
    env.snapshot()
}

fn server<'a>(report: &'a Value, proto: &str) -> &'a Value {
    report["servers"].as_array().unwrap().iter().find(|c| c["proto"] == proto).unwrap()
}

#[test]
fn a_good_profile_passes_every_server_with_and_without_a_login_and_stores_nothing() {
    let s = servers();
    let env = env_for(&s, true, s.dovecot.imaps_port());
    let before = env.snapshot();

    let (code, report, _) = test_profile(&env, None, "");
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    assert!(report["login_as"].is_null());
    let servers = report["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 2, "{report:#}");
    let imap = server(&report, "IMAP");
    assert_eq!(imap["ok"], true, "{report:#}");
    assert_eq!(imap["login"], false);
    assert_eq!(imap["role"], "incoming");
    assert_eq!(imap["host"], "127.0.0.1");
    assert_eq!(imap["port"], s.dovecot.imaps_port());
    assert_eq!(imap["security"], "tls");
    assert!(imap["elapsed_ms"].is_u64());
    let smtp = server(&report, "SMTP");
    assert_eq!(smtp["ok"], true, "{report:#}");
    assert_eq!(smtp["security"], "starttls");

    let alice = s.dovecot.address("alice");
    let (code, report, all_output) = test_profile(&env, Some(&alice), PW);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["login_as"], alice.as_str());
    assert_eq!(server(&report, "IMAP")["login"], true);
    assert_eq!(server(&report, "SMTP")["login"], true);
    assert!(server(&report, "IMAP")["message"].as_str().unwrap().contains("login as"));
    assert!(!all_output.contains(PW));

    // The human table: one row per server with its result.
    let text = env.ok(&["profile", "test", "Office"]);
    assert!(text.contains("RESULT"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{}", s.dovecot.imaps_port())), "{text}");
    // The result is kept on the profile and shown with it.
    let kept = last_test(&env);
    assert_eq!(kept["ok"], true, "{kept:#}");
    assert!(kept["on"].is_string(), "{kept:#}");
    let imap = format!("incoming IMAP 127.0.0.1:{} ok", s.dovecot.imaps_port());
    assert!(kept["message"].as_str().unwrap().contains(&imap), "{kept:#}");
    let shown = env.ok(&["profile", "show", "Office"]);
    let line = shown.lines().find(|l| l.starts_with("last test")).unwrap_or_else(|| panic!("{shown}"));
    assert!(line.contains(" ok: connection only;") && line.contains(&imap), "{line}");
    assert!(!all_output.contains(PW) && !kept.to_string().contains(PW));
    // Nothing else is stored, and nothing sent.
    assert_eq!(snapshot_without_last_test(&env), before, "Test Connection stores nothing else");
    assert_eq!(s.postfix.queued_messages(), 0, "Test Connection sends nothing");
}

#[test]
fn a_port_nothing_listens_on_fails_with_connection_refused_naming_host_and_port() {
    let s = servers();
    let closed = crmsync_tests::ports::free_port().unwrap();
    let env = env_for(&s, true, closed);
    let (code, report, _) = test_profile(&env, None, "");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["ok"], false);
    let imap = server(&report, "IMAP");
    assert_eq!(imap["ok"], false);
    assert_eq!(imap["code"], "CONNECTION_REFUSED");
    assert!(imap["message"].as_str().unwrap().contains(&format!("127.0.0.1:{closed}")), "{imap:#}");
    assert!(imap["hint"].as_str().unwrap().contains("port"), "{imap:#}");
    // The other server is tested all the same.
    assert_eq!(server(&report, "SMTP")["ok"], true, "{report:#}");

    let out = env.run(&["profile", "test", "Office"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAIL") && text.contains("CONNECTION_REFUSED"), "{text}");
    assert!(text.contains("what to do:"), "{text}");
    // The failure is kept on the profile, naming the server.
    let kept = last_test(&env);
    assert_eq!(kept["ok"], false, "{kept:#}");
    let refused = format!("incoming IMAP 127.0.0.1:{closed} CONNECTION_REFUSED");
    assert!(kept["message"].as_str().unwrap().contains(&refused), "{kept:#}");
    let shown = env.ok(&["profile", "show", "Office"]);
    assert!(shown.lines().any(|l| l.starts_with("last test") && l.contains("FAILED")), "{shown}");
}

#[test]
fn an_untrusted_certificate_fails_with_a_tls_certificate_error() {
    let s = servers();
    let env = env_for(&s, false, s.dovecot.imaps_port());
    let (code, report, _) = test_profile(&env, None, "");
    assert_eq!(code, 1, "{report:#}");
    let imap = server(&report, "IMAP");
    assert_eq!(imap["code"], "TLS_CERT_INVALID", "{report:#}");
    assert!(imap["hint"].as_str().unwrap().contains("certificate"), "{imap:#}");
    assert_eq!(server(&report, "SMTP")["ok"], false, "STARTTLS verifies the certificate too: {report:#}");
}

#[test]
fn a_wrong_password_fails_the_logins_with_auth_codes_and_is_never_printed() {
    let s = servers();
    let env = env_for(&s, true, s.dovecot.imaps_port());
    let before = env.snapshot();
    let alice = s.dovecot.address("alice");
    let (code, report, all_output) = test_profile(&env, Some(&alice), "Wrong-Pa55");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(server(&report, "IMAP")["code"], "IMAP_AUTH_FAILED", "{report:#}");
    assert_eq!(server(&report, "SMTP")["code"], "SMTP_AUTH_FAILED", "{report:#}");
    assert!(server(&report, "IMAP")["hint"].as_str().unwrap().contains("password"));
    assert!(!all_output.contains("Wrong-Pa55"), "{all_output}");
    let kept = last_test(&env);
    assert_eq!(kept["ok"], false, "{kept:#}");
    assert!(kept["message"].as_str().unwrap().contains("IMAP_AUTH_FAILED"), "{kept:#}");
    assert!(!kept.to_string().contains("Wrong-Pa55"), "{kept:#}");
    assert_eq!(snapshot_without_last_test(&env), before, "the typed password is not stored");
}

#[test]
fn a_plaintext_pop3_profile_is_tested_with_pop3() {
    let s = servers();
    let env = Env::new();
    env.ok(&[
        "profile",
        "add",
        "Office",
        "--kind",
        "pop3-smtp",
        "--incoming-host",
        "127.0.0.1",
        "--incoming-port",
        &s.dovecot.pop3_port().to_string(),
        "--incoming-security",
        "none",
        "--outgoing-port",
        &s.postfix.smtp_open_port().to_string(),
        "--outgoing-security",
        "none",
        "--outgoing-auth",
        "none",
        "--allow-insecure",
    ]);
    let alice = s.dovecot.address("alice");
    let (code, report, _) = test_profile(&env, Some(&alice), PW);
    assert_eq!(code, 0, "{report:#}");
    let pop3 = server(&report, "POP3");
    assert_eq!((pop3["ok"].clone(), pop3["login"].clone()), (Value::Bool(true), Value::Bool(true)));
    assert_eq!(pop3["security"], "none");
    // A relay without AUTH: the outgoing check never logs in.
    assert_eq!(server(&report, "SMTP")["login"], false, "{report:#}");
    let (code, report, _) = test_profile(&env, None, "");
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(server(&report, "POP3")["login"], false);
}

#[test]
fn a_dav_url_is_tested_against_radicale_with_and_without_a_login() {
    let s = servers();
    let radicale = crmsync_tests::Radicale::start().unwrap();
    let alice = s.dovecot.address("alice");
    radicale.add_user(&alice, PW).unwrap();
    let env = env_for(&s, true, s.dovecot.imaps_port());
    env.ok(&["profile", "update", "Office", "--dav-url", &radicale.base_url(), "--allow-insecure"]);

    // Without a login, a server that asks for one has answered.
    let (code, report, _) = test_profile(&env, None, "");
    assert_eq!(code, 0, "{report:#}");
    let dav = server(&report, "DAV");
    assert_eq!(
        (dav["ok"].clone(), dav["login"].clone()),
        (Value::Bool(true), Value::Bool(false)),
        "{report:#}"
    );
    assert_eq!(
        (dav["host"].as_str(), dav["port"].as_u64()),
        (Some("127.0.0.1"), Some(radicale.port().into()))
    );
    assert_eq!(dav["role"], "act");
    assert!(dav["message"].as_str().unwrap().contains("asks for a login"), "{report:#}");

    let (code, report, _) = test_profile(&env, Some(&alice), PW);
    assert_eq!(code, 0, "{report:#}");
    let dav = server(&report, "DAV");
    assert_eq!(
        (dav["ok"].clone(), dav["login"].clone()),
        (Value::Bool(true), Value::Bool(true)),
        "{report:#}"
    );
    assert!(dav["message"].as_str().unwrap().contains(&format!("login as {alice} OK")), "{report:#}");

    let (code, report, all_output) = test_profile(&env, Some(&alice), "Wrong-Pa55");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(server(&report, "DAV")["code"], "DAV_AUTH_FAILED", "{report:#}");
    assert!(!all_output.contains("Wrong-Pa55"), "{all_output}");

    // Nothing listens: the row names the URL's host and port.
    env.ok(&["profile", "update", "Office", "--dav-url", "http://127.0.0.1:1/dav/"]);
    let (code, report, _) = test_profile(&env, Some(&alice), PW);
    assert_eq!(code, 1, "{report:#}");
    let dav = server(&report, "DAV");
    assert_eq!((dav["ok"].clone(), dav["port"].as_u64()), (Value::Bool(false), Some(1)), "{report:#}");
    assert_eq!(dav["code"], "CONNECTION_REFUSED", "{report:#}");
    assert_eq!(server(&report, "IMAP")["ok"], true, "the other servers are still checked");
}

#[test]
fn a_user_name_without_a_password_is_invalid_input() {
    let env = Env::new();
    env.ok(&["profile", "add", "Office", "--kind", "imap-smtp", "--incoming-host", "127.0.0.1"]);
    let out = env.run(&["profile", "test", "Office", "--username", "alice"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));
    let out = env.run(&["profile", "test", "Nope"]);
    assert_eq!(out.status.code(), Some(2));
}
