//! Microsoft 365 mail through Microsoft Graph, as an admin runs it: a
//! `microsoft365` profile pointed at the harness's Graph emulator (HTTPS
//! with its own CA, every request validated against the Graph OpenAPI
//! subset), tokens from the harness's OAuth2 server, and the `crmsync` CLI.
//! Every test ends with the emulator's check that no request was invalid.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use chrono::Utc;
use common::Env;
use common::office::msg;
use crmsync_engine::oauth::{self, Tokens};
use crmsync_tests::{GraphServer, OAuthServer};
use serde_json::Value;

const SCOPES: &str = "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Mail.ReadWrite \
                      https://graph.microsoft.com/Mail.Send offline_access";

struct World {
    oauth: OAuthServer,
    graph: GraphServer,
    env: Env,
    rt: tokio::runtime::Runtime,
}

impl World {
    /// A delegated `microsoft365` profile "M365" (each mailbox signs in).
    fn new() -> World {
        World::build(None)
    }

    /// An app-only profile: the client `app` with `roles`, its secret from
    /// the environment.
    fn app_only(roles: &[&str]) -> World {
        World::build(Some(roles))
    }

    fn build(app_roles: Option<&[&str]>) -> World {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let oauth = OAuthServer::start().unwrap();
        let graph = GraphServer::start(&oauth).unwrap();
        let mut env = Env::new();
        env.envs.push(("SSL_CERT_FILE".into(), graph.ca().ca_path().display().to_string()));
        let (issuer, token, device, authorize, base) =
            (oauth.issuer(), oauth.token_url(), oauth.device_url(), oauth.authorize_url(), graph.base_url());
        let mut args = vec![
            "profile",
            "add",
            "M365",
            "--kind",
            "microsoft365",
            "--graph-url",
            &base,
            "--timeout",
            "20",
            "--min-poll-interval",
            "1",
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
        ];
        if let Some(roles) = app_roles {
            rt.block_on(oauth.register_graph_app("crmsync-app", "app-secret", roles)).unwrap();
            env.envs.push(("CLIENT_SECRET".into(), "app-secret".into()));
            args.extend_from_slice(&[
                "--scopes",
                "https://graph.microsoft.com/.default",
                "--credentials",
                "profile",
                "--client-secret-env",
                "CLIENT_SECRET",
            ]);
        } else {
            args.extend_from_slice(&["--scopes", SCOPES]);
        }
        env.ok(&args);
        World { oauth, graph, env, rt }
    }

    /// A user with a Graph mailbox and a CRM mailbox on "M365", signed in
    /// (delegated profiles), Test & Enable passed.
    fn mailbox(&self, local: &str, extra: &[&str]) -> String {
        self.mailbox_of(false, local, extra)
    }

    /// [`World::mailbox`] owned by a user, or by a queue.
    fn mailbox_of(&self, queue: bool, local: &str, extra: &[&str]) -> String {
        let email = format!("{local}@contoso.test");
        self.rt.block_on(self.graph.add_user(&email, local)).unwrap();
        self.crm_mailbox(queue, &email, extra)
    }

    /// A user's CRM mailbox for `email`, already a Graph user, signed in and enabled.
    fn mailbox_signed_in(&self, email: &str, extra: &[&str]) -> String {
        self.crm_mailbox(false, email, extra)
    }

    fn crm_mailbox(&self, queue: bool, email: &str, extra: &[&str]) -> String {
        let email = email.to_string();
        let local = email.split('@').next().unwrap_or_default().to_string();
        self.env.ok(&[if queue { "queue" } else { "user" }, "add", &email, "--name", &local]);
        let mut args = vec!["mailbox", "add", &email, "--profile", "M365"];
        args.extend_from_slice(extra);
        self.env.ok(&args);
        if self.env.count("SELECT count(*) FROM email_server_profiles WHERE credentials = 'mailbox'") > 0 {
            self.sign_in(&email, SCOPES);
        }
        let report = self.env.json(&["mailbox", "test-enable", &email]);
        assert_eq!(report["overall"], "success", "{report:#}");
        email
    }

    /// Stores tokens for `email` with `scopes` as a finished sign-in would.
    fn sign_in(&self, email: &str, scopes: &str) {
        self.sign_in_lasting(email, scopes, 3600);
    }

    /// [`World::sign_in`] whose access token really lasts `secs` (crmsync
    /// believes it lasts an hour).
    fn sign_in_lasting(&self, email: &str, scopes: &str, secs: i64) {
        let t = self.rt.block_on(self.oauth.issue(email, scopes, secs)).unwrap();
        let store = self.env.store();
        let tokens = Tokens {
            access: crmsync_core::secrets::Secret::new(&t.access),
            refresh: Some(crmsync_core::secrets::Secret::new(&t.refresh)),
            expires_on: Some(Utc::now() + chrono::Duration::seconds(3600)),
            scope: Some(scopes.into()),
        };
        oauth::store_tokens(&store, email, &tokens).unwrap();
    }

    fn seed(&self, mailbox: &str, n: usize, tag: &str) -> Vec<String> {
        (0..n)
            .map(|i| {
                let raw = msg(
                    Some(&format!("{tag}{i}@ext.test")),
                    "ben@fabrikam.test",
                    mailbox,
                    &format!("{tag} {i}"),
                    "",
                    "hello",
                );
                self.rt.block_on(self.graph.seed_message(mailbox, "inbox", &raw, false)).unwrap()
            })
            .collect()
    }

    fn sync(&self) -> Value {
        self.env.json(&["sync"])
    }

    /// `crmsync --json sync` that may fail (a mailbox failed): its report.
    fn sync_report(&self) -> Value {
        let out = self.env.run(&["--json", "sync"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{e}: {} {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
        })
    }

    fn activities(&self) -> i64 {
        self.env.count("SELECT count(*) FROM activities WHERE type = 'email'")
    }
}

#[test]
fn message_delta_pages_through_the_inbox_tracks_each_message_once_and_forgets_a_removed_one() {
    let w = World::new();
    let alice = w.mailbox("alice", &["--track", "all", "--outgoing", "none"]);
    w.env.ok(&["settings", "set", "incoming.fetch_batch_size", "3"]);
    let ids = w.seed(&alice, 8, "d");
    w.sync();
    assert_eq!(w.activities(), 8);
    assert_eq!(w.env.count("SELECT count(*) FROM graph_items"), 8);
    let delta_gets =
        w.rt.block_on(w.graph.requests())
            .unwrap()
            .into_iter()
            .filter(|r| r.path.contains("/messages/delta") && !r.batch)
            .count();
    assert!(delta_gets >= 3, "8 messages in pages of 3 take 3 delta pages, got {delta_gets}");
    assert_eq!(w.env.count("SELECT count(*) FROM graph_folder_state WHERE delta_link IS NOT NULL"), 1);

    // A message deleted on the server and a new one: the next round from the
    // stored delta link brings only those two changes.
    let token = w.rt.block_on(w.oauth.issue(&alice, SCOPES, 600)).unwrap().access;
    let status = w.rt.block_on(async {
        let url = w.graph.url(&format!("/me/messages/{}", ids[0]));
        w.graph.http_client().delete(url).bearer_auth(token).send().await.unwrap().status()
    });
    assert!(status.is_success(), "{status}");
    w.seed(&alice, 1, "new");
    w.sync();
    assert_eq!(w.activities(), 9);
    assert_eq!(w.env.count("SELECT count(*) FROM graph_items"), 8, "the removed message's row is gone");
    assert_eq!(w.env.count("SELECT count(DISTINCT message_id) FROM emails"), 9);
    w.graph.assert_no_invalid_requests();
}

#[test]
fn a_kill_9_between_batches_and_a_rerun_leave_exactly_one_activity_per_message() {
    let w = World::new();
    let alice =
        w.mailbox_of(true, "support", &["--track", "all", "--outgoing", "none", "--delete-after-processing"]);
    w.env.ok(&["settings", "set", "incoming.fetch_batch_size", "4"]);
    w.seed(&alice, 10, "k");
    let out = w.env.cmd(&["sync"]).env("CRMSYNC_TEST_KILL_AT", "incoming.after_commit:2").output().unwrap();
    assert_eq!(out.status.signal(), Some(9), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(w.activities(), 8, "two batches of 4 committed before the kill");
    assert_eq!(
        w.env.count("SELECT count(*) FROM graph_folder_state WHERE delta_link IS NOT NULL"),
        0,
        "the round's delta link is stored only with its last batch"
    );
    w.sync();
    assert_eq!(w.activities(), 10);
    assert_eq!(w.env.count("SELECT count(DISTINCT message_id) FROM emails"), 10);
    // Delete-after-processing, made only after each commit, is finished too.
    let left = w.rt.block_on(w.graph.messages(&alice, Some("inbox"))).unwrap();
    assert!(left.is_empty(), "tracked mail leaves the Inbox: {left:?}");
    assert_eq!(w.env.count("SELECT count(*) FROM graph_items WHERE server_change IN ('read','delete')"), 0);
    w.graph.assert_no_invalid_requests();
}

#[test]
fn a_forgotten_delta_state_410_resyncs_the_folder_without_duplicates() {
    let w = World::new();
    let alice = w.mailbox("alice", &["--track", "all", "--outgoing", "none"]);
    w.seed(&alice, 5, "r");
    w.sync();
    assert_eq!(w.activities(), 5);
    w.rt.block_on(w.graph.force_resync(&alice, "syncStateNotFound")).unwrap();
    w.seed(&alice, 2, "after");
    let report = w.sync();
    assert_eq!(w.activities(), 7, "{report:#}");
    assert_eq!(w.env.count("SELECT count(DISTINCT message_id) FROM emails"), 7);
    let gone =
        w.rt.block_on(w.graph.requests()).unwrap().into_iter().filter(|r| r.status == Some(410)).count();
    assert_eq!(gone, 1, "the 410 was answered and followed by a fresh round");
    w.graph.assert_no_invalid_requests();
}

#[test]
fn a_429_with_retry_after_is_waited_out_before_any_next_request() {
    let w = World::new();
    let alice = w.mailbox("alice", &["--track", "all", "--outgoing", "none"]);
    w.seed(&alice, 3, "t");
    w.rt.block_on(w.graph.throttle(Some(&alice), 1, 2)).unwrap();
    w.sync();
    assert_eq!(w.activities(), 3);
    let waits = w.rt.block_on(w.graph.throttle_waits()).unwrap();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(waits[0].waited >= Duration::from_secs(2), "no request before Retry-After ended: {waits:?}");
    w.graph.assert_no_invalid_requests();
}

#[test]
fn send_mail_whose_response_is_lost_is_found_in_sent_items_and_never_sent_twice() {
    let w = World::new();
    let alice = w.mailbox("alice", &["--track", "none"]);
    w.env.ok(&["settings", "set", "outgoing.sending_retry_interval_secs", "1"]);
    let sent = w.env.json(&[
        "email",
        "send",
        "--from",
        &alice,
        "--to",
        "carol@fabrikam.test",
        "--subject",
        "Quote",
        "--body",
        "Hello",
    ]);
    let id = sent["id"].as_i64().unwrap();
    w.rt.block_on(w.graph.drop_next_send_response(&alice)).unwrap();
    let report = w.sync_report();
    assert!(report.to_string().contains("CONNECTION_LOST"), "{report:#}");
    let status = |id: i64| {
        let store = w.env.store();
        store
            .conn()
            .query_row("SELECT status FROM emails WHERE activity_id = ?1", [id], |r| r.get::<_, String>(0))
            .unwrap()
    };
    assert_eq!(status(id), "sending", "the outcome is unknown: not marked sent, not sent again");
    std::thread::sleep(Duration::from_millis(1500));
    w.sync();
    assert_eq!(status(id), "sent", "found in Sent Items");
    let copies = w.rt.block_on(w.graph.sent_items(&alice)).unwrap();
    assert_eq!(copies.len(), 1, "exactly one sendMail carried out: {copies:?}");
    let raw = String::from_utf8_lossy(&copies[0].raw).to_string();
    assert!(copies[0].subject.contains("Quote"), "{raw}");
    assert!(raw.contains(&copies[0].internet_message_id), "crmsync's Message-ID kept");
    let sends =
        w.rt.block_on(w.graph.requests())
            .unwrap()
            .into_iter()
            .filter(|r| r.path.ends_with("/sendMail"))
            .count();
    assert_eq!(sends, 1);
    w.graph.assert_no_invalid_requests();
}

#[test]
fn an_app_only_profile_reads_and_sends_for_another_mailbox_through_users_bcc_included() {
    let w = World::app_only(&["Mail.ReadWrite", "Mail.Send", "User.Read.All"]);
    let bob = w.mailbox("bob", &["--track", "all"]);
    w.seed(&bob, 2, "a");
    let dave = "dave@contoso.test";
    w.rt.block_on(w.graph.add_user(dave, "dave")).unwrap();
    w.env.json(&[
        "email",
        "send",
        "--from",
        &bob,
        "--to",
        "carol@fabrikam.test",
        "--bcc",
        dave,
        "--subject",
        "Hi",
        "--body",
        "x",
    ]);
    w.sync();
    let delivered = w.rt.block_on(w.graph.messages(dave, Some("inbox"))).unwrap();
    assert_eq!(delivered.len(), 1, "the Bcc recipient got it: {delivered:?}");
    assert_eq!(w.activities(), 3, "two received, one sent");
    assert_eq!(w.rt.block_on(w.graph.sent_items(&bob)).unwrap().len(), 1);
    let reqs = w.rt.block_on(w.graph.requests()).unwrap();
    assert!(reqs.iter().all(|r| !r.path.starts_with("/me")), "app-only never asks /me: {reqs:?}");
    assert!(
        reqs.iter().any(|r| r.path.contains("/mailFolders/inbox/messages/delta")
            && r.mailbox.as_deref() == Some(bob.as_str())),
        "{reqs:?}"
    );
    w.graph.assert_no_invalid_requests();
}

#[test]
fn a_revoked_mail_permission_fails_the_sync_naming_it_in_a_mailbox_alert() {
    let w = World::new();
    let alice = w.mailbox("alice", &["--track", "all", "--outgoing", "none"]);
    w.seed(&alice, 1, "p");
    w.rt.block_on(w.graph.revoke_permission("Mail.Read")).unwrap();
    w.rt.block_on(w.graph.revoke_permission("Mail.ReadWrite")).unwrap();
    let report = w.sync_report();
    assert_eq!(w.activities(), 0, "{report:#}");
    let alerts = w.env.json(&["alert", "list"]);
    let text = alerts.to_string();
    assert!(text.contains("PERMISSION_DENIED"), "{alerts:#}");
    assert!(text.contains("Mail.Read"), "the alert names the permission: {alerts:#}");
    w.graph.assert_no_invalid_requests();
}

#[test]
fn a_password_is_refused_for_a_microsoft365_profile_naming_the_auth_field() {
    let env = Env::new();
    let out = env.run(&["profile", "add", "M", "--kind", "microsoft365"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("auth:"), "{err}");
    assert!(err.contains("OAuth2"), "{err}");
    assert_eq!(env.count("SELECT count(*) FROM email_server_profiles"), 0);
    let out = env.run(&[
        "profile",
        "add",
        "M",
        "--kind",
        "microsoft365",
        "--preset",
        "microsoft",
        "--client-id",
        "abc",
        "--incoming-host",
        "imap.example.test",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("incoming-host:"));
    let made = env.json(&[
        "profile",
        "add",
        "M",
        "--kind",
        "microsoft365",
        "--preset",
        "microsoft",
        "--client-id",
        "abc",
    ]);
    assert_eq!(made["kind"], "microsoft365", "{made:#}");
    assert_eq!(made["auth"], "oauth2");
    let scopes = made["oauth"]["scopes"].to_string();
    assert!(scopes.contains("https://graph.microsoft.com/Mail.ReadWrite"), "{scopes}");
}

#[test]
fn test_connection_and_test_and_enable_show_the_token_the_mailbox_and_each_permission() {
    let w = World::new();
    let alice = w.mailbox("alice", &["--track", "all"]);
    // Without a mailbox: the service answers; no login.
    let report = w.env.json(&["profile", "test", "M365"]);
    let rows = report["servers"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 2, "{report:#}");
    for row in &rows {
        assert_eq!(
            (row["proto"].as_str(), row["ok"].as_bool(), row["login"].as_bool()),
            (Some("Graph"), Some(true), Some(false)),
            "{row:#}"
        );
    }
    // With the signed-in mailbox: token, mailbox and permissions, per role.
    let report = w.env.json(&["profile", "test", "M365", "--mailbox", &alice]);
    assert_eq!(report["ok"], true, "{report:#}");
    let text = report.to_string();
    assert!(text.contains("Mail.ReadWrite granted") && text.contains("Mail.Send granted"), "{report:#}");
    assert!(text.contains(&format!("mailbox {alice} reachable")), "{report:#}");

    // A second mailbox whose sign-in lacks Mail.Send: incoming passes,
    // outgoing fails naming the permission, and only incoming is enabled.
    let bob = "bob@contoso.test";
    w.rt.block_on(w.graph.add_user(bob, "bob")).unwrap();
    w.env.ok(&["user", "add", bob, "--name", "bob"]);
    w.env.ok(&["mailbox", "add", bob, "--profile", "M365"]);
    w.sign_in(
        bob,
        "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Mail.ReadWrite offline_access",
    );
    let out = w.env.run(&["--json", "mailbox", "test-enable", bob]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let channel = |name: &str| {
        report["channels"].as_array().unwrap().iter().find(|c| c["channel"] == name).unwrap().clone()
    };
    assert_eq!(channel("incoming")["status"], "success", "{report:#}");
    let outgoing = channel("outgoing");
    assert_eq!(outgoing["status"], "failure", "{report:#}");
    assert_eq!(outgoing["code"], "PERMISSION_DENIED", "{report:#}");
    assert!(outgoing["message"].as_str().unwrap().contains("Mail.Send"), "{report:#}");
    w.graph.assert_no_invalid_requests();
}

#[test]
fn a_refused_access_token_is_renewed_once_and_the_sync_goes_on() {
    let w = World::new();
    let alice = w.mailbox("alice", &["--track", "all", "--outgoing", "none"]);
    w.seed(&alice, 2, "e");
    // The stored access token has expired at the issuer though crmsync
    // believes it valid: Graph answers 401, crmsync renews it once.
    w.sign_in_lasting(&alice, SCOPES, -60);
    let before = w.rt.block_on(w.oauth.stats()).unwrap().refresh_requests;
    w.sync();
    assert_eq!(w.activities(), 2);
    assert_eq!(w.rt.block_on(w.oauth.stats()).unwrap().refresh_requests - before, 1);
    let refused =
        w.rt.block_on(w.graph.requests()).unwrap().into_iter().filter(|r| r.status == Some(401)).count();
    assert_eq!(refused, 1, "one refused request, then the renewed token");
    w.graph.assert_no_invalid_requests();
}

#[test]
fn a_tracked_folder_is_synced_by_its_own_delta_and_its_mail_regards_the_record() {
    let w = World::new();
    let accounts = w.env.dir().join("accounts.csv");
    std::fs::write(&accounts, "name,email\nContoso,info@contoso.test\n").unwrap();
    w.env.ok(&["account", "import", accounts.to_str().unwrap()]);
    let alice = "alice@contoso.test";
    w.rt.block_on(w.graph.add_user(alice, "alice")).unwrap();
    w.rt.block_on(w.graph.add_folder(alice, "Contoso")).unwrap();
    let alice = w.mailbox_signed_in(
        alice,
        &["--track", "all", "--outgoing", "none", "--track-folder", "Contoso=account:Contoso"],
    );
    let raw = msg(Some("f1@ext.test"), "ben@fabrikam.test", &alice, "In the folder", "", "f");
    w.rt.block_on(w.graph.seed_message(&alice, "Contoso", &raw, false)).unwrap();
    w.seed(&alice, 1, "inbox");
    w.sync();
    assert_eq!(w.activities(), 2);
    assert_eq!(w.env.count("SELECT count(*) FROM activities WHERE regarding_type = 'account'"), 1);
    assert_eq!(w.env.count("SELECT count(*) FROM graph_folder_state WHERE delta_link IS NOT NULL"), 2);
    // A tracked folder the mailbox does not have fails its sync naming it.
    let bob = w.mailbox(
        "bob",
        &["--track", "all", "--outgoing", "none", "--track-folder", "Fabrikam=account:Contoso"],
    );
    let report = w.sync_report();
    let text = report.to_string();
    assert!(text.contains("MAILBOX_NOT_FOUND") && text.contains("Fabrikam"), "{bob}: {report:#}");
    w.graph.assert_no_invalid_requests();
}
