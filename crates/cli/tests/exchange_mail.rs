//! Exchange (EWS) mail end to end: the `crmsync` binary as an admin runs it
//! against the harness's Exchange emulator (HTTPS with the harness CA, every
//! request checked against the EWS schema): Test & Enable, incoming sync of
//! the Inbox with paging and an incremental pass, a kill -9 in the middle of
//! a batch, ErrorServerBusy back-off, an invalid SyncState, a 401 and a
//! service account without the impersonation role.

mod common;

use common::Env;
use common::office::{msg, rt};
use crmsync_tests::{EwsFault, EwsServer};
use serde_json::Value;

const PW: &str = "Secret-Pa55";
const ALICE: &str = "alice@example.test";

/// A store with Exchange profile "Exchange" on the emulator.
struct Exchange {
    env: Env,
    ews: EwsServer,
    rt: tokio::runtime::Runtime,
}

impl Exchange {
    fn new(extra: &[&str]) -> Exchange {
        let ews = EwsServer::start().unwrap();
        let mut env = Env::new();
        env.envs.push(("SSL_CERT_FILE".into(), ews.ca().ca_path().display().to_string()));
        env.envs.push(("SERVICE_ACCOUNT_PW".into(), PW.into()));
        let mut args = vec!["profile", "add", "Exchange", "--kind", "exchange", "--timeout", "20"];
        let url = ews.ews_url();
        args.extend(["--ews-url", url.as_str()]);
        args.extend_from_slice(extra);
        env.ok(&args);
        Exchange { env, ews, rt: rt() }
    }

    /// A queue mailbox with its own Exchange login, tested and enabled.
    fn queue(&self, email: &str) {
        self.rt.block_on(self.ews.add_user(email, PW)).unwrap();
        self.env.ok(&["queue", "add", email, "--name", email]);
        let out = self.env.run_stdin(
            &[
                "mailbox",
                "add",
                email,
                "--profile",
                "Exchange",
                "--outgoing",
                "none",
                "--act",
                "none",
                "--track",
                "all",
                "--password-stdin",
            ],
            PW,
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// The Test & Enable report (the command fails when a channel does).
    fn test_enable(&self, email: &str) -> Value {
        let out = self.env.run(&["--json", "mailbox", "test-enable", email]);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
    }

    fn seed(&self, email: &str, n: std::ops::Range<u32>) {
        let mimes: Vec<Vec<u8>> = n
            .map(|i| {
                msg(
                    Some(&format!("m{i}@ext.test")),
                    "ben@contoso.test",
                    email,
                    &format!("Order {i}"),
                    "",
                    "Hello",
                )
            })
            .collect();
        self.rt.block_on(self.ews.seed_mimes(email, "inbox", &mimes, false)).unwrap();
    }

    fn emails(&self) -> Vec<Value> {
        self.env.json(&["activity", "list", "--type", "email"]).as_array().unwrap().clone()
    }

    fn subjects(&self) -> Vec<String> {
        let mut v: Vec<String> =
            self.emails().iter().map(|e| e["subject"].as_str().unwrap_or_default().to_string()).collect();
        v.sort();
        v
    }

    fn ops(&self, op: &str) -> Vec<crmsync_tests::ews::EwsRequest> {
        let log = self.rt.block_on(self.ews.request_log()).unwrap();
        log.into_iter().filter(|r| r.operation.as_deref() == Some(op)).collect()
    }
}

fn expected(n: std::ops::Range<u32>) -> Vec<String> {
    let mut v: Vec<String> = n.map(|i| format!("Order {i}")).collect();
    v.sort();
    v
}

#[test]
fn an_exchange_inbox_is_synced_in_pages_then_incrementally_and_each_message_is_tracked_once() {
    let x = Exchange::new(&[]);
    x.queue(ALICE);
    let report = x.test_enable(ALICE);
    assert_eq!(report["overall"], "success", "{report:#}");
    let incoming = report.to_string();
    assert!(incoming.contains("EWS https://localhost"), "{report:#}");
    assert!(incoming.contains("INBOX (0 messages)"), "{report:#}");
    x.env.ok(&["settings", "set", "incoming.fetch_batch_size", "2"]);
    x.seed(ALICE, 0..5);
    x.env.json(&["sync"]);
    assert_eq!(x.subjects(), expected(0..5));
    // Five messages, two per page: three pages of SyncFolderItems.
    assert!(x.ops("SyncFolderItems").len() >= 3, "{:?}", x.ops("SyncFolderItems").len());
    // A queue marks what it tracked read, after the commit.
    let items = x.rt.block_on(x.ews.items(ALICE, "inbox")).unwrap();
    assert!(items.iter().all(|i| i.is_read == Some(true)), "{items:?}");
    x.seed(ALICE, 5..7);
    let gets_before = x.ops("GetItem").len();
    x.env.json(&["sync"]);
    assert_eq!(x.subjects(), expected(0..7));
    let asked: usize = x.ops("GetItem").len() - gets_before;
    assert_eq!(asked, 1, "the incremental pass reads only the two new messages, in one GetItem");
    x.env.json(&["sync"]);
    assert_eq!(x.emails().len(), 7);
    x.ews.assert_no_invalid_requests();
}

#[test]
fn a_sync_killed_in_the_middle_of_a_batch_is_finished_by_the_rerun_with_one_activity_per_message() {
    let x = Exchange::new(&[]);
    x.queue(ALICE);
    assert_eq!(x.test_enable(ALICE)["overall"], "success");
    x.env.ok(&["settings", "set", "incoming.fetch_batch_size", "3"]);
    x.seed(ALICE, 0..7);
    for point in ["incoming.before_commit:2", "incoming.after_commit:1"] {
        let out = x.env.cmd(&["sync"]).env("CRMSYNC_TEST_KILL_AT", point).output().unwrap();
        assert!(!out.status.success(), "{point}: the sync was killed");
    }
    x.env.json(&["sync"]);
    assert_eq!(x.subjects(), expected(0..7));
    let items = x.rt.block_on(x.ews.items(ALICE, "inbox")).unwrap();
    assert!(
        items.iter().all(|i| i.is_read == Some(true)),
        "the rerun marks read what the killed pass could not"
    );
    x.ews.assert_no_invalid_requests();
}

#[test]
fn error_server_busy_is_waited_out_for_as_long_as_the_server_asked() {
    let x = Exchange::new(&[]);
    x.queue(ALICE);
    assert_eq!(x.test_enable(ALICE)["overall"], "success");
    x.seed(ALICE, 0..2);
    let fault = EwsFault::ServerBusy { operation: "SyncFolderItems".into(), count: 1, backoff_ms: 1500 };
    x.rt.block_on(x.ews.inject(fault)).unwrap();
    x.env.json(&["sync"]);
    assert_eq!(x.subjects(), expected(0..2));
    let syncs = x.ops("SyncFolderItems");
    let busy =
        syncs.iter().position(|r| r.codes.iter().any(|c| c == "ErrorServerBusy")).expect("a busy answer");
    let waited = syncs[busy + 1].time - syncs[busy].time;
    assert!(waited >= 1.5, "retried after {waited:.3}s, the server asked for 1.5s");
    x.ews.assert_no_invalid_requests();
}

#[test]
fn an_invalid_sync_state_resyncs_the_inbox_without_duplicates() {
    let x = Exchange::new(&[]);
    x.queue(ALICE);
    assert_eq!(x.test_enable(ALICE)["overall"], "success");
    x.seed(ALICE, 0..3);
    x.env.json(&["sync"]);
    x.rt.block_on(x.ews.inject(EwsFault::InvalidSyncState(None))).unwrap();
    x.seed(ALICE, 3..4);
    x.env.json(&["sync"]);
    assert_eq!(x.subjects(), expected(0..4));
    let syncs = x.ops("SyncFolderItems");
    assert!(syncs.iter().any(|r| r.codes.iter().any(|c| c == "ErrorInvalidSyncStateData")));
    x.ews.assert_no_invalid_requests();
}

#[test]
fn a_changed_password_stops_the_exchange_mailbox_with_a_permanent_auth_alert() {
    let x = Exchange::new(&[]);
    x.queue(ALICE);
    assert_eq!(x.test_enable(ALICE)["overall"], "success");
    x.rt.block_on(x.ews.set_password(ALICE, "another-pw")).unwrap();
    x.env.run(&["--json", "sync"]);
    let mb = x.env.json(&["mailbox", "show", ALICE]);
    let text = mb.to_string();
    assert!(text.contains("EWS_AUTH_FAILED"), "{mb:#}");
    // An Error (permanent), not a Warning: the service disables the channel
    // on it, as for an IMAP login failure, until the password is fixed.
    let alerts = x.env.json(&["alert", "list"]);
    let alert = alerts.as_array().unwrap().iter().find(|a| a["code"] == "EWS_AUTH_FAILED").expect("an alert");
    assert_eq!(alert["severity"], "error", "{alert:#}");
    x.ews.assert_no_invalid_requests();
}

#[test]
fn a_service_account_without_the_impersonation_role_fails_test_and_enable_with_the_fix() {
    let svc = "svc-crm@example.test";
    let x = Exchange::new(&[
        "--credentials",
        "profile",
        "--username",
        svc,
        "--password-env",
        "SERVICE_ACCOUNT_PW",
    ]);
    x.rt.block_on(x.ews.add_user(svc, PW)).unwrap();
    x.rt.block_on(x.ews.add_user(ALICE, "alice-own-pw")).unwrap();
    x.env.ok(&["queue", "add", ALICE, "--name", "alice"]);
    x.env.ok(&[
        "mailbox",
        "add",
        ALICE,
        "--profile",
        "Exchange",
        "--outgoing",
        "none",
        "--act",
        "none",
        "--track",
        "all",
    ]);
    x.rt.block_on(x.ews.grant_impersonation(svc, false)).unwrap();
    let denied = x.test_enable(ALICE);
    assert_ne!(denied["overall"], "success", "{denied:#}");
    let text = denied.to_string();
    assert!(text.contains("EWS_IMPERSONATION_DENIED"), "{denied:#}");
    assert!(text.contains("ApplicationImpersonation"), "{denied:#}");
    let out = x.env.run(&["--json", "profile", "test", "Exchange", "--mailbox", ALICE]);
    let conn: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(conn["ok"], false, "{conn:#}");
    assert_eq!(conn["servers"][0]["code"], "EWS_IMPERSONATION_DENIED", "{conn:#}");
    assert!(
        conn["servers"][0]["hint"].as_str().unwrap_or_default().contains("ApplicationImpersonation"),
        "{conn:#}"
    );
    x.rt.block_on(x.ews.grant_impersonation(svc, true)).unwrap();
    assert_eq!(x.test_enable(ALICE)["overall"], "success");
    let conn = x.env.json(&["profile", "test", "Exchange", "--mailbox", ALICE]);
    assert_eq!(conn["ok"], true, "{conn:#}");
    let row = conn["servers"][0]["message"].as_str().unwrap();
    assert!(
        row.contains("impersonating alice@example.test") && row.contains("INBOX (0 messages)"),
        "{conn:#}"
    );
    x.seed(ALICE, 0..2);
    x.env.json(&["sync"]);
    assert_eq!(x.subjects(), expected(0..2));
    let syncs = x.ops("SyncFolderItems");
    assert!(syncs.iter().all(|r| r.impersonated.as_deref() == Some(ALICE) && r.user.is_some()), "{syncs:?}");
    x.ews.assert_no_invalid_requests();
}

#[test]
fn a_message_whose_create_item_answer_was_lost_is_found_in_sent_items_and_never_sent_twice() {
    let x = Exchange::new(&[]);
    x.rt.block_on(x.ews.add_user(ALICE, PW)).unwrap();
    x.env.ok(&["user", "add", ALICE, "--name", "Alice"]);
    x.env.ok_stdin(
        &[
            "mailbox",
            "add",
            ALICE,
            "--profile",
            "Exchange",
            "--incoming",
            "none",
            "--act",
            "none",
            "--password-stdin",
        ],
        PW,
    );
    let report = x.test_enable(ALICE);
    assert_eq!(report["overall"], "success", "{report:#}");
    x.env.ok(&["settings", "set", "outgoing.sending_retry_interval_secs", "1"]);
    let created = x.env.json(&[
        "email",
        "send",
        "--from",
        ALICE,
        "--to",
        "bob@elsewhere.test",
        "--subject",
        "Quote",
        "--body",
        "hi",
    ]);
    let id = created["id"].as_i64().unwrap();
    let mid = created["message_id"].as_str().unwrap().to_string();
    let token = created["tracking_token"].as_str().unwrap().to_string();
    x.rt.block_on(x.ews.inject(EwsFault::DropAfter { operation: "CreateItem".into(), count: 1 })).unwrap();
    let _ = x.env.run(&["--json", "sync"]);
    let shown = x.env.json(&["activity", "show", &id.to_string()]);
    assert_ne!(shown["status"], "sent", "the answer was lost: {shown:#}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = x.env.run(&["--json", "sync"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let outgoing: Vec<&Value> =
        report.as_array().unwrap().iter().filter(|r| r["channel"] == "outgoing").collect();
    assert_eq!(outgoing[0]["recovered"], 1, "{report:#}");
    assert_eq!(outgoing[0]["sent"], 0, "{report:#}");
    let shown = x.env.json(&["activity", "show", &id.to_string()]);
    assert_eq!(shown["status"], "sent", "{shown:#}");
    assert_eq!(x.ops("CreateItem").len(), 1, "CreateItem was sent once");
    let sent = x.rt.block_on(x.ews.items(ALICE, "sentitems")).unwrap();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].internet_message_id.as_deref(), Some(format!("<{mid}>").as_str()));
    assert!(
        sent[0].mime.as_deref().unwrap_or_default().contains(&token)
            || sent[0].subject.as_deref().unwrap_or_default().contains(&token),
        "{sent:?}"
    );
    x.ews.assert_no_invalid_requests();
}

#[test]
fn a_queue_that_deletes_after_processing_moves_tracked_mail_to_deleted_items_only_after_the_commit() {
    let x = Exchange::new(&[]);
    x.rt.block_on(x.ews.add_user(ALICE, PW)).unwrap();
    x.env.ok(&["queue", "add", ALICE, "--name", "support"]);
    let out = x.env.run_stdin(
        &[
            "mailbox",
            "add",
            ALICE,
            "--profile",
            "Exchange",
            "--outgoing",
            "none",
            "--act",
            "none",
            "--track",
            "all",
            "--delete-after-processing",
            "--password-stdin",
        ],
        PW,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(x.test_enable(ALICE)["overall"], "success");
    x.seed(ALICE, 0..3);
    // Killed right after the commit: tracked, but not yet deleted on the server.
    let out = x.env.cmd(&["sync"]).env("CRMSYNC_TEST_KILL_AT", "incoming.after_commit:1").output().unwrap();
    assert!(!out.status.success());
    assert_eq!(
        x.rt.block_on(x.ews.items(ALICE, "inbox")).unwrap().len(),
        3,
        "nothing deleted before the commit's changes"
    );
    x.env.json(&["sync"]);
    assert_eq!(x.subjects(), expected(0..3));
    assert!(x.rt.block_on(x.ews.items(ALICE, "inbox")).unwrap().is_empty());
    assert_eq!(x.rt.block_on(x.ews.items(ALICE, "deleteditems")).unwrap().len(), 3);
    x.ews.assert_no_invalid_requests();
}

#[test]
fn an_email_router_exchange_provider_migrates_into_a_profile_that_passes_test_and_enable() {
    let ews = EwsServer::start().unwrap();
    let mut env = Env::new();
    env.envs.push(("SSL_CERT_FILE".into(), ews.ca().ca_path().display().to_string()));
    let rt = rt();
    let user = "user1@contoso.test";
    rt.block_on(ews.add_user(user, PW)).unwrap();
    let id = "00000000-0000-0000-0000-000000000001";
    let config = format!(
        "<?xml version=\"1.0\"?>\n<Configuration>\n  <ProviderConfiguration>\n    <ProfileName>Exchange 2010</ProfileName>\n    \
         <EmailServerType>Exchange2010</EmailServerType>\n    <CrmServerUrl>http://crm.contoso.local/Contoso</CrmServerUrl>\n    \
         <EmailServerLocation>{}</EmailServerLocation>\n    <EmailAccessType>UserSpecified</EmailAccessType>\n    \
         <UserId>{id}</UserId>\n  </ProviderConfiguration>\n</Configuration>\n",
        ews.ews_url()
    );
    let config = env.file("router.xml", &config);
    let dir = env.file("users.csv", &format!("id,email,name\n{id},{user},User One\n"));
    let preview = env.ok(&["migrate", "email-router", "--config", &config, "--directory", &dir]);
    assert!(
        preview.contains("Credentials required"),
        "the preview says the password is still needed:\n{preview}"
    );
    env.ok_stdin(&["mailbox", "update", user, "--password-stdin"], PW);
    let out = env.run(&["--json", "mailbox", "test-enable", user]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let incoming =
        report["channels"].as_array().unwrap().iter().find(|c| c["channel"] == "incoming").unwrap();
    assert_eq!(incoming["status"], "success", "{report:#}");
    assert_eq!(report["overall"], "success", "{report:#}");
    ews.assert_no_invalid_requests();
}
