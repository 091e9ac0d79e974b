//! OAuth2 sign-in as an admin uses it, against a private authorization server
//! (oauth2-mock-server) and a real Dovecot whose `oauth2` passdb validates its
//! tokens: the device flow (the test approves the code as the user would),
//! a device code that expires or is declined (nothing stored, the command to
//! try again), the loopback flow (the test plays the browser), an expired
//! access token refreshed once during a sync, a revoked refresh token
//! (OAUTH_SIGN_IN_REQUIRED, an alert, the token endpoint asked once across
//! scheduler passes), app-only client credentials, Test Connection logging a
//! signed-in mailbox in (`profile test --mailbox`), and the tokens never in
//! `--json` output or trace logs.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::Env;
use common::office::msg;
use crmsync_core::store::oauth_tokens::{self, TokenOwner};
use crmsync_engine::oauth::{self, Tokens};
use crmsync_tests::{Dovecot, DovecotOptions, Introspection, OAuthServer, Postfix};
use serde_json::Value;

const CLIENT: &str = "crmsync-test";

/// The authorization server, a Dovecot validating its tokens, and a store
/// whose profile "Office" signs in with OAuth2 (custom provider at the mock).
struct World {
    oauth: OAuthServer,
    /// Postfix submission with Dovecot SASL, when the profile sends mail.
    postfix: Option<Postfix>,
    dovecot: Dovecot,
    env: Env,
    rt: tokio::runtime::Runtime,
}

impl World {
    /// With `secret`, the profile is app-only (`--credentials profile`) with
    /// that client secret (read from an environment variable, never argv).
    fn new(mode: Introspection, secret: Option<&str>) -> World {
        World::build(mode, secret, false)
    }

    /// [`World::new`] whose profile also sends through Postfix (STARTTLS submission).
    fn with_smtp(mode: Introspection) -> World {
        World::build(mode, None, true)
    }

    fn build(mode: Introspection, secret: Option<&str>, smtp: bool) -> World {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let oauth = OAuthServer::start().unwrap();
        let dovecot =
            Dovecot::start_with(DovecotOptions { oauth2: Some(oauth.passdb(mode)), ..Default::default() })
                .unwrap();
        let mut env = Env::new();
        env.envs.push(("SSL_CERT_FILE".into(), dovecot.ca_path().display().to_string()));
        let port = dovecot.imaps_port().to_string();
        let (issuer, token, device, authorize) =
            (oauth.issuer(), oauth.token_url(), oauth.device_url(), oauth.authorize_url());
        let mut args = vec![
            "profile",
            "add",
            "Office",
            "--kind",
            "imap-smtp",
            "--incoming-host",
            "127.0.0.1",
            "--incoming-port",
            &port,
            "--incoming-security",
            "tls",
            "--timeout",
            "20",
            "--min-poll-interval",
            "1",
            "--auth",
            "oauth2",
            "--provider",
            "custom",
            "--client-id",
            CLIENT,
            "--issuer",
            &issuer,
            "--token-url",
            &token,
            "--device-url",
            &device,
            "--authorize-url",
            &authorize,
            "--scopes",
            "mail",
        ];
        let postfix = smtp.then(|| Postfix::start(&dovecot).unwrap());
        let submission = postfix.as_ref().map(|p| p.submission_port().to_string()).unwrap_or_default();
        if postfix.is_some() {
            args.extend_from_slice(&[
                "--outgoing-host",
                "127.0.0.1",
                "--outgoing-port",
                &submission,
                "--outgoing-security",
                "starttls",
            ]);
        }
        if let Some(s) = secret {
            env.envs.push(("CLIENT_SECRET".into(), s.into()));
            args.extend_from_slice(&["--credentials", "profile", "--client-secret-env", "CLIENT_SECRET"]);
        }
        env.ok(&args);
        World { oauth, postfix, dovecot, env, rt }
    }

    /// A user with a Dovecot account and a mailbox on "Office" (not signed in yet).
    fn mailbox(&self, local: &str) -> String {
        let email = self.dovecot.address(local);
        self.dovecot.add_user(local, "unused-password").unwrap();
        self.env.ok(&["user", "add", &email, "--name", local]);
        self.env.ok(&[
            "mailbox",
            "add",
            &email,
            "--profile",
            "Office",
            "--outgoing",
            "none",
            "--track",
            "all",
        ]);
        email
    }

    fn stats(&self) -> crmsync_tests::OAuthStats {
        self.rt.block_on(self.oauth.stats()).unwrap()
    }

    /// The tokens stored for `email`, decrypted (to look for them in output).
    fn stored(&self, email: &str) -> Vec<String> {
        let store = self.env.store();
        let mb = crmsync_core::store::mailboxes::find(store.conn(), email).unwrap().unwrap();
        let owner = TokenOwner { profile_id: mb.data.profile_id, mailbox_id: Some(mb.id) };
        let t = oauth_tokens::get(store.conn(), owner).unwrap().expect("tokens stored");
        let cipher = store.cipher().unwrap();
        [t.access_enc, t.refresh_enc]
            .into_iter()
            .flatten()
            .map(|e| cipher.open(&e).unwrap().expose().to_string())
            .collect()
    }

    /// Enables the incoming channel as a passed Test & Enable would (for
    /// tests whose tokens the server must refuse).
    fn enable_incoming(&self, email: &str) {
        let store = self.env.store();
        let mb = crmsync_core::store::mailboxes::find(store.conn(), email).unwrap().unwrap();
        crmsync_core::store::mailbox_state::set_enabled(
            store.conn(),
            mb.id,
            crmsync_core::store::mailbox_state::Channel::Incoming,
            true,
            None,
        )
        .unwrap();
    }

    /// Stores `access`/`refresh` for `email` as if it had signed in, the
    /// access token believed valid for `valid_for` seconds.
    fn store_tokens(&self, email: &str, access: &str, refresh: &str, valid_for: i64) {
        let store = self.env.store();
        let t = Tokens {
            access: crmsync_core::secrets::Secret::new(access),
            refresh: Some(crmsync_core::secrets::Secret::new(refresh)),
            expires_on: Some(Utc::now() + chrono::Duration::seconds(valid_for)),
            scope: Some("mail".into()),
        };
        oauth::store_tokens(&store, email, &t).unwrap();
    }
}

/// Starts `crmsync --json mailbox sign-in ARGS`; returns the child and its
/// first stdout line (the prompt: device code or authorize URL) as JSON.
fn start_sign_in(env: &Env, args: &[&str]) -> (Child, BufReader<std::process::ChildStdout>, Value) {
    let mut a = vec!["--json", "mailbox", "sign-in"];
    a.extend_from_slice(args);
    let mut child = env.cmd(&a).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let prompt: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        panic!("{e}: first line {line:?}; stderr {err}")
    });
    (child, out, prompt)
}

/// Waits for the sign-in process; returns (success, stdout rest, stderr).
fn finish(mut child: Child, mut out: BufReader<std::process::ChildStdout>) -> (bool, String, String) {
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (child.wait().unwrap().success(), rest, err)
}

fn assert_no_token(tokens: &[String], what: &str, text: &str) {
    for t in tokens {
        assert!(t.len() > 8, "a real token");
        assert!(!text.contains(t.as_str()), "a token appears in {what}");
    }
}

#[test]
fn the_device_flow_signs_a_mailbox_in_and_its_mail_is_tracked_without_a_token_in_any_output() {
    let w = World::new(Introspection::Local, None);
    let alice = w.mailbox("alice");
    // The first poll is answered slow_down: the client must wait longer, then go on.
    w.rt.block_on(w.oauth.configure(serde_json::json!({ "slow_down": 1 }))).unwrap();
    let (child, out, prompt) = start_sign_in(&w.env, &[&alice]);
    let code = prompt["user_code"].as_str().expect("a user code").to_string();
    assert!(prompt["verification_uri"].as_str().unwrap().starts_with(&w.oauth.issuer()), "{prompt}");
    w.rt.block_on(w.oauth.approve_device(&code, &alice)).unwrap();
    let (ok, rest, err) = finish(child, out);
    assert!(ok, "sign-in failed: {err}{rest}");
    let result: Value = serde_json::from_str(&rest).unwrap();
    assert_eq!(result["sign_in"]["signed_in"], true, "{result}");
    assert!(w.stats().device_polls >= 2, "polled past slow_down");

    let tokens = w.stored(&alice);
    assert_eq!(tokens.len(), 2, "access and refresh token stored");
    assert_no_token(&tokens, "the sign-in output", &format!("{prompt}{rest}{err}"));
    let shown = w.env.json(&["mailbox", "show", &alice]);
    assert_eq!(shown["sign_in"]["signed_in"], true, "{shown:#}");
    assert!(shown["sign_in"]["access_valid_until"].is_string(), "{shown:#}");
    let profile = w.env.json(&["profile", "show", "Office"]);
    assert_eq!(profile["auth"], "oauth2");
    assert_eq!(profile["oauth"]["client_id"], CLIENT);
    assert_eq!(profile["has_client_secret"], false);

    // Test & Enable and a sync log in with XOAUTH2/OAUTHBEARER; trace logs on.
    let report = w.env.json(&["mailbox", "test-enable", &alice]);
    assert_eq!(report["overall"], "success", "{report:#}");
    w.rt.block_on(
        w.dovecot.deliver("alice", &msg(Some("o1@ext.test"), "ben@contoso.test", &alice, "hi", "", "x")),
    )
    .unwrap();
    let out = w.env.cmd(&["--json", "sync"]).env("CRMSYNC_LOG", "trace").output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("TRACE") || stderr.contains("DEBUG"), "trace logging is on");
    assert_eq!(w.env.count("SELECT count(*) FROM activities"), 1, "the email is tracked: {stdout}");
    assert_no_token(&tokens, "sync --json output or trace log", &format!("{stdout}{stderr}"));
    for args in [
        &["mailbox", "show", &alice][..],
        &["mailbox", "list"],
        &["profile", "show", "Office"],
        &["alert", "list"],
    ] {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        assert_no_token(&tokens, &format!("{args:?}"), &w.env.ok(&a));
    }
}

#[test]
fn mail_is_sent_through_postfix_with_a_real_size_token_and_a_refused_one_is_renewed_for_the_next_attempt() {
    let w = World::with_smtp(Introspection::Post);
    assert!(w.postfix.is_some());
    let alice = w.dovecot.address("alice");
    w.dovecot.add_user("alice", "unused-password").unwrap();
    w.dovecot.add_user("bob", "bob-pw").unwrap();
    w.env.ok(&["user", "add", &alice, "--name", "Alice"]);
    w.env.ok(&["mailbox", "add", &alice, "--profile", "Office", "--incoming", "none"]);
    // Microsoft's tokens are 1.5-3 KB: past Postfix's 2048-byte command line.
    let t = w.rt.block_on(w.oauth.issue_padded(&alice, "mail", 3600, 2500)).unwrap();
    w.store_tokens(&alice, &t.access, &t.refresh, 3600);
    let report = w.env.json(&["mailbox", "test-enable", &alice]);
    assert_eq!(report["overall"], "success", "IMAP and SMTP log in with the token: {report:#}");

    let bob = w.dovecot.address("bob");
    let sent =
        w.env.json(&["email", "send", "--from", &alice, "--to", &bob, "--subject", "Quote", "--body", "b"]);
    let mid = sent["message_id"].as_str().unwrap().to_string();
    let out = w.env.run(&["--json", "sync"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let got =
        w.rt.block_on(w.dovecot.wait_for_message(
            "bob",
            "bob-pw",
            "INBOX",
            mid.as_bytes(),
            Duration::from_secs(20),
        ))
        .unwrap();
    assert!(!got.raw.is_empty());

    // The server refuses the stored token (revoked at the issuer): the send
    // fails, and the next attempt renews the token instead of offering it again.
    w.rt.block_on(w.oauth.revoke_access(&w.stored(&alice)[0])).unwrap();
    let sent =
        w.env.json(&["email", "send", "--from", &alice, "--to", &bob, "--subject", "Again", "--body", "b"]);
    let mid2 = sent["message_id"].as_str().unwrap().to_string();
    let before = w.stats().refresh_requests;
    w.env.ok(&["settings", "set", "outgoing.retry_interval_secs", "1"]);
    let first = w.env.run(&["--json", "sync"]);
    std::thread::sleep(Duration::from_millis(2500));
    let second = w.env.run(&["--json", "sync"]);
    assert!(
        w.stats().refresh_requests > before,
        "the refused token was renewed: {}\n{}",
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&second.stdout)
    );
    w.rt.block_on(w.dovecot.wait_for_message(
        "bob",
        "bob-pw",
        "INBOX",
        mid2.as_bytes(),
        Duration::from_secs(20),
    ))
    .unwrap();
}

#[test]
fn a_denied_device_sign_in_stores_nothing_and_says_sign_in_required() {
    let w = World::new(Introspection::Local, None);
    let alice = w.mailbox("alice");
    let (child, out, prompt) = start_sign_in(&w.env, &[&alice]);
    w.rt.block_on(w.oauth.deny_device(prompt["user_code"].as_str().unwrap())).unwrap();
    let (ok, rest, err) = finish(child, out);
    assert!(!ok, "{rest}");
    assert!(err.contains("access_denied") && err.contains("declined"), "{err}");
    assert!(err.contains(&format!("crmsync mailbox sign-in {alice}")), "says what to do: {err}");
    assert_eq!(w.env.count("SELECT count(*) FROM oauth_tokens"), 0);
}

#[test]
fn a_device_code_that_expires_unapproved_stores_nothing_and_says_to_sign_in_again() {
    let w = World::new(Introspection::Local, None);
    let alice = w.mailbox("alice");
    let (child, out, prompt) = start_sign_in(&w.env, &[&alice]);
    // The user never enters the code; it expires while crmsync polls.
    w.rt.block_on(w.oauth.expire_device(prompt["user_code"].as_str().unwrap())).unwrap();
    let (ok, rest, err) = finish(child, out);
    assert!(!ok, "{rest}");
    let line = err.trim();
    assert_eq!(line.lines().count(), 1, "one clear line: {err}");
    assert!(line.contains(&alice), "names the mailbox: {line}");
    assert!(line.contains("expired"), "says the code expired: {line}");
    assert!(line.contains(&format!("crmsync mailbox sign-in {alice}")), "says what to do: {line}");
    assert_eq!(w.env.count("SELECT count(*) FROM oauth_tokens"), 0, "nothing stored");
    let shown = w.env.json(&["mailbox", "show", &alice]);
    assert_eq!(shown["sign_in"]["signed_in"], false, "{shown:#}");
    assert!(w.stats().device_polls >= 1, "it polled until the code expired");
}

#[test]
fn the_loopback_flow_signs_in_when_the_browser_comes_back_to_127_0_0_1() {
    let w = World::new(Introspection::Local, None);
    let alice = w.mailbox("alice");
    w.rt.block_on(w.oauth.sign_in_as(&alice)).unwrap();
    let (child, out, prompt) = start_sign_in(&w.env, &[&alice, "--auth-code", "--wait", "60"]);
    let url = prompt["authorize_url"].as_str().expect("the URL to open").to_string();
    assert!(url.starts_with(&w.oauth.authorize_url()), "{url}");
    assert!(url.contains("code_challenge_method=S256") && url.contains("state="), "{url}");
    assert!(url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"), "{url}");
    let (status, page) = w.rt.block_on(w.oauth.browse(&url)).unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("You can close this window"), "{page}");
    let (ok, rest, err) = finish(child, out);
    assert!(ok, "{err}{rest}");
    let tokens = w.stored(&alice);
    assert_no_token(&tokens, "the sign-in output", &format!("{prompt}{rest}{err}"));
    let report = w.env.json(&["mailbox", "test-enable", &alice]);
    assert_eq!(report["overall"], "success", "{report:#}");
}

#[test]
fn an_access_token_the_server_refuses_is_refreshed_once_and_the_sync_goes_on() {
    let w = World::new(Introspection::Local, None);
    let alice = w.mailbox("alice");
    // The store believes the token is valid for an hour; the server says it expired.
    let expired = w.rt.block_on(w.oauth.issue(&alice, "mail", -60)).unwrap();
    w.store_tokens(&alice, &expired.access, &expired.refresh, 3600);
    w.enable_incoming(&alice);
    w.rt.block_on(
        w.dovecot.deliver("alice", &msg(Some("r1@ext.test"), "ben@contoso.test", &alice, "hi", "", "x")),
    )
    .unwrap();
    let before = w.stats().refresh_requests;
    let sync = w.env.json(&["sync"]);
    assert_eq!(w.stats().refresh_requests - before, 1, "refreshed exactly once: {sync:#}");
    assert_eq!(w.env.count("SELECT count(*) FROM activities"), 1, "the email is tracked: {sync:#}");
    assert!(!w.stored(&alice).contains(&expired.access), "the new access token is stored");

    // A token about to expire (within five minutes) is refreshed before use, with no refused login.
    let soon = w.rt.block_on(w.oauth.issue(&alice, "mail", 3600)).unwrap();
    w.store_tokens(&alice, &soon.access, &soon.refresh, 60);
    let before = w.stats().refresh_requests;
    w.env.json(&["sync"]);
    assert_eq!(w.stats().refresh_requests - before, 1, "refreshed before expiry");
    assert!(!w.stored(&alice).contains(&soon.access));

    // Test & Enable renews a refused token once, too.
    let expired = w.rt.block_on(w.oauth.issue(&alice, "mail", -60)).unwrap();
    w.store_tokens(&alice, &expired.access, &expired.refresh, 3600);
    let before = w.stats().refresh_requests;
    let report = w.env.json(&["mailbox", "test-enable", &alice]);
    assert_eq!(report["overall"], "success", "{report:#}");
    assert_eq!(w.stats().refresh_requests - before, 1);
}

#[test]
fn a_revoked_refresh_token_is_sign_in_required_with_an_alert_and_never_retried_in_a_loop() {
    let w = World::new(Introspection::Local, None);
    let alice = w.mailbox("alice");
    let t = w.rt.block_on(w.oauth.issue(&alice, "mail", -60)).unwrap();
    w.rt.block_on(w.oauth.revoke(&t.refresh)).unwrap();
    w.store_tokens(&alice, &t.access, &t.refresh, -60);
    w.enable_incoming(&alice);
    w.env.ok(&["settings", "set", "polling.active_interval_secs", "1"]);
    w.env.ok(&["settings", "set", "polling.idle_max_interval_secs", "1"]);
    w.env.ok(&["settings", "set", "backoff.base_secs", "1"]);
    let before = w.stats().token_requests;
    let mut run = w
        .env
        .cmd(&["run"])
        .env("CRMSYNC_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.env.count("SELECT count(*) FROM alerts WHERE code = 'OAUTH_SIGN_IN_REQUIRED'") == 0 {
        assert!(Instant::now() < deadline, "no OAUTH_SIGN_IN_REQUIRED alert");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Several scheduler passes at a 1 s interval and 1 s backoff.
    std::thread::sleep(Duration::from_secs(5));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(run.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .unwrap();
    let mut log = String::new();
    run.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    run.wait().unwrap();
    assert_eq!(w.stats().token_requests - before, 1, "the token endpoint was asked once, not in a loop");
    let shown = w.env.json(&["mailbox", "show", &alice]);
    assert_eq!(shown["telemetry"]["last_error"]["code"], "OAUTH_SIGN_IN_REQUIRED", "{shown:#}");
    assert_eq!(shown["incoming"]["enabled"], false, "a permanent error stops the channel: {shown:#}");
    assert_eq!(shown["sign_in"]["signed_in"], false, "the refused tokens are forgotten");
    let alerts = w.env.json(&["alert", "list"]);
    let alert =
        alerts.as_array().unwrap().iter().find(|a| a["code"] == "OAUTH_SIGN_IN_REQUIRED").unwrap().clone();
    assert_eq!(alert["severity"], "error", "{alert:#}");
    assert_eq!(alert["action"], "sign_in", "{alert:#}");
    assert_no_token(&[t.access.clone(), t.refresh.clone()], "the service's trace log", &log);
    let text = w.env.ok(&["alert", "list"]);
    assert!(text.contains("crmsync mailbox sign-in"), "the CLI says how: {text}");
}

#[test]
fn a_token_without_the_mail_scope_is_refused_after_one_refresh_with_a_sign_in_alert() {
    let w = World::new(Introspection::Post, None);
    let alice = w.mailbox("alice");
    // Signed in, but for another scope: Dovecot's passdb wants `mail`.
    let t = w.rt.block_on(w.oauth.issue(&alice, "calendar", 3600)).unwrap();
    w.store_tokens(&alice, &t.access, &t.refresh, 3600);
    w.enable_incoming(&alice);
    let before = w.stats().refresh_requests;
    let out = w.env.run(&["--json", "sync"]);
    assert!(!out.status.success(), "the sync fails");
    assert_eq!(w.stats().refresh_requests - before, 1, "one refresh, then the refusal stands");
    let shown = w.env.json(&["mailbox", "show", &alice]);
    assert_eq!(shown["telemetry"]["last_error"]["code"], "OAUTH_TOKEN_REFUSED", "{shown:#}");
    let alerts = w.env.json(&["alert", "list"]);
    let alert = alerts.as_array().unwrap().iter().find(|a| a["code"] == "OAUTH_TOKEN_REFUSED").cloned();
    let alert = alert.unwrap_or_else(|| panic!("an alert: {alerts:#}"));
    assert_eq!(alert["action"], "sign_in", "{alert:#}");
    // A second sync does not loop either: one more refresh, one more refusal.
    let _ = w.env.run(&["--json", "sync"]);
    assert_eq!(w.stats().refresh_requests - before, 2);
}

#[test]
fn app_only_client_credentials_log_in_as_each_mailbox_address() {
    let secret = "app-only-secret-4711";
    let w = World::new(Introspection::Post, Some(secret));
    let alice = w.mailbox("alice");
    w.rt.block_on(w.oauth.register_client(CLIENT, secret, &alice)).unwrap();
    let profile = w.env.json(&["profile", "show", "Office"]);
    assert_eq!(profile["has_client_secret"], true, "{profile:#}");
    assert!(!profile.to_string().contains(secret), "{profile:#}");
    let report = w.env.json(&["mailbox", "test-enable", &alice]);
    assert_eq!(report["overall"], "success", "{report:#}");
    w.rt.block_on(
        w.dovecot.deliver("alice", &msg(Some("a1@ext.test"), "ben@contoso.test", &alice, "hi", "", "x")),
    )
    .unwrap();
    w.env.json(&["sync"]);
    assert_eq!(w.env.count("SELECT count(*) FROM activities"), 1, "the email is tracked");
    let shown = w.env.json(&["mailbox", "show", &alice]);
    assert_eq!(shown["sign_in"]["app_only"], true, "{shown:#}");
    assert_eq!(
        w.env.count("SELECT count(*) FROM oauth_tokens WHERE mailbox_id IS NULL"),
        1,
        "one app-only token for the profile"
    );
}

#[test]
fn a_service_account_with_a_password_logs_in_on_behalf_of_each_mailbox() {
    let dovecot = Dovecot::start().unwrap();
    dovecot.add_master_user("svc", "svc-pw").unwrap();
    let mut env = Env::new();
    env.envs.push(("SSL_CERT_FILE".into(), dovecot.ca_path().display().to_string()));
    let port = dovecot.imaps_port().to_string();
    let out = env.run_stdin(
        &[
            "profile",
            "add",
            "Svc",
            "--kind",
            "imap-smtp",
            "--incoming-host",
            "127.0.0.1",
            "--incoming-port",
            &port,
            "--credentials",
            "profile",
            "--username",
            "svc",
            "--password-stdin",
        ],
        "svc-pw\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rt = tokio::runtime::Runtime::new().unwrap();
    for local in ["alice", "bob"] {
        let email = dovecot.address(local);
        dovecot.add_user(local, "own-pw").unwrap();
        env.ok(&["user", "add", &email, "--name", local]);
        env.ok(&["mailbox", "add", &email, "--profile", "Svc", "--outgoing", "none", "--track", "all"]);
        let report = env.json(&["mailbox", "test-enable", &email]);
        assert_eq!(report["overall"], "success", "{report:#}");
        let id = format!("{local}-1@ext.test");
        rt.block_on(dovecot.deliver(local, &msg(Some(&id), "ben@contoso.test", &email, local, "", "x")))
            .unwrap();
    }
    env.json(&["sync"]);
    // Each mailbox read its own INBOX: both messages, each once.
    assert_eq!(env.count("SELECT count(*) FROM activities"), 2);

    // An ordinary account may not log in for others: Test & Enable says so.
    dovecot.add_user("plain", "plain-pw").unwrap();
    let out =
        env.run_stdin(&["profile", "update", "Svc", "--username", "plain", "--password-stdin"], "plain-pw\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = env.run(&["--json", "mailbox", "test-enable", &dovecot.address("alice")]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("may not log in on behalf of alice@example.test"), "{text}");
}

#[test]
fn profile_test_logs_a_signed_in_mailbox_in_with_its_renewed_token_and_says_why_it_did_not_otherwise() {
    let w = World::with_smtp(Introspection::Post);
    let alice = w.mailbox("alice");
    let rows = |report: &Value| report["servers"].as_array().unwrap().clone();

    // No mailbox given: the connection is checked, and each row says why the login was not.
    let report = w.env.json(&["profile", "test", "Office"]);
    assert_eq!(report["ok"], true, "{report:#}");
    for row in rows(&report) {
        assert_eq!(row["login"], false, "{row:#}");
        assert!(row["message"].as_str().unwrap().contains("no mailbox is signed in"), "{row:#}");
    }
    // A mailbox not signed in yet: the same, naming the command that signs it in.
    let report = w.env.json(&["profile", "test", "Office", "--mailbox", &alice]);
    for row in rows(&report) {
        assert_eq!(row["login"], false, "{row:#}");
        let text = row["message"].as_str().unwrap();
        assert!(text.contains(&format!("crmsync mailbox sign-in {alice}")), "{row:#}");
    }

    // Signed in, the access token about to expire: renewed once, then IMAP and
    // SMTP log in with it (Dovecot asks the issuer whether it is active).
    let t = w.rt.block_on(w.oauth.issue(&alice, "mail", 3600)).unwrap();
    w.store_tokens(&alice, &t.access, &t.refresh, 60);
    let before = w.stats().refresh_requests;
    let out = w
        .env
        .cmd(&["--json", "profile", "test", "Office", "--mailbox", &alice])
        .env("CRMSYNC_LOG", "trace")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(w.stats().refresh_requests - before, 1, "renewed before the test: {report:#}");
    assert_eq!(report["login_as"], alice.as_str(), "{report:#}");
    let servers = rows(&report);
    assert_eq!(servers.len(), 2, "{report:#}");
    for row in &servers {
        assert_eq!((row["ok"].as_bool(), row["login"].as_bool()), (Some(true), Some(true)), "{row:#}");
        assert!(row["message"].as_str().unwrap().contains(&format!("login as {alice}")), "{row:#}");
    }
    let mut tokens = w.stored(&alice);
    assert!(!tokens.contains(&t.access), "the renewed token is stored");
    tokens.push(t.access.clone());
    assert_no_token(&tokens, "profile test --json output or its trace log", &format!("{stdout}{stderr}"));

    // The sign-in withdrawn at the issuer: each server that would log in
    // fails with OAUTH_SIGN_IN_REQUIRED and says how to sign in again.
    w.rt.block_on(w.oauth.revoke(&t.refresh)).unwrap();
    w.store_tokens(&alice, &t.access, &t.refresh, -60);
    let out = w.env.run(&["--json", "profile", "test", "Office", "--mailbox", &alice]);
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    for row in rows(&report) {
        assert_eq!(row["code"], "OAUTH_SIGN_IN_REQUIRED", "{row:#}");
        assert_eq!(row["action"], "sign_in", "{row:#}");
    }
    // A mailbox of another profile is refused, naming the option.
    let out = w.env.run(&["profile", "test", "Office", "--mailbox", "nobody@example.test"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mailbox"));
}
