//! Appointments, contacts and tasks of a Microsoft 365 mailbox as an admin
//! runs them: a `microsoft365` profile pointed at the harness's Graph
//! emulator (tokens from the harness's OAuth2 server), ACT turned on for the
//! mailbox, Test & Enable, then `crmsync sync` — the product's own path from
//! the profile to the Graph item store, no test hook. Every test ends with
//! the emulator's check that no request was invalid.

mod common;

use chrono::{Duration, Timelike, Utc};
use common::Env;
use crmsync_engine::oauth::{self, Tokens};
use crmsync_tests::{GraphServer, OAuthServer};
use serde_json::{Value, json};

const ALL: &str = "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Mail.ReadWrite \
                   https://graph.microsoft.com/Mail.Send https://graph.microsoft.com/Calendars.ReadWrite \
                   https://graph.microsoft.com/Contacts.ReadWrite https://graph.microsoft.com/Tasks.ReadWrite \
                   offline_access";
const ALICE: &str = "alice@contoso.test";

struct World {
    oauth: OAuthServer,
    graph: GraphServer,
    env: Env,
    rt: tokio::runtime::Runtime,
}

impl World {
    /// A delegated `microsoft365` profile "M365" and alice, a Graph user with
    /// a CRM mailbox on it that syncs only appointments, contacts and tasks.
    fn new() -> World {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let oauth = OAuthServer::start().unwrap();
        let graph = GraphServer::start(&oauth).unwrap();
        let mut env = Env::new();
        env.envs.push(("SSL_CERT_FILE".into(), graph.ca().ca_path().display().to_string()));
        let (issuer, token, device, authorize, base) =
            (oauth.issuer(), oauth.token_url(), oauth.device_url(), oauth.authorize_url(), graph.base_url());
        env.ok(&[
            "profile",
            "add",
            "M365",
            "--kind",
            "microsoft365",
            "--graph-url",
            &base,
            "--timeout",
            "20",
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
            ALL,
        ]);
        rt.block_on(graph.add_user(ALICE, "Alice Adams")).unwrap();
        env.ok(&["user", "add", ALICE, "--name", "Alice Adams"]);
        env.ok(&[
            "mailbox",
            "add",
            ALICE,
            "--profile",
            "M365",
            "--incoming",
            "none",
            "--outgoing",
            "none",
            "--act",
            "server-side",
        ]);
        World { oauth, graph, env, rt }
    }

    /// Stores tokens for alice carrying `scopes`, as a finished sign-in would.
    fn sign_in(&self, scopes: &str) {
        let t = self.rt.block_on(self.oauth.issue(ALICE, scopes, 3600)).unwrap();
        let tokens = Tokens {
            access: crmsync_core::secrets::Secret::new(&t.access),
            refresh: Some(crmsync_core::secrets::Secret::new(&t.refresh)),
            expires_on: Some(Utc::now() + Duration::seconds(3600)),
            scope: Some(scopes.into()),
        };
        oauth::store_tokens(&self.env.store(), ALICE, &tokens).unwrap();
    }

    /// `crmsync --json mailbox test-enable alice`: its report, whatever the outcome.
    fn test_enable(&self) -> Value {
        let out = self.env.run(&["--json", "mailbox", "test-enable", ALICE]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{e}: {} {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
        })
    }

    /// `crmsync --json sync`: alice's ACT result.
    fn sync_act(&self) -> Value {
        let all = self.env.json(&["sync"]);
        all.as_array()
            .and_then(|a| a.iter().find(|r| r["mailbox"] == ALICE && r["channel"] == "act"))
            .cloned()
            .unwrap_or_else(|| panic!("an ACT result for {ALICE}: {all:#}"))
    }
}

/// The Test & Enable row of `channel`.
fn channel(report: &Value, name: &str) -> Value {
    report["channels"].as_array().unwrap().iter().find(|c| c["channel"] == name).unwrap().clone()
}

/// A Graph `dateTimeTimeZone` in UTC.
fn graph_time(t: chrono::DateTime<Utc>) -> Value {
    json!({"dateTime": t.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"})
}

fn subjects(list: &Value, key: &str) -> Vec<String> {
    list.as_array().unwrap().iter().filter_map(|v| v[key].as_str().map(str::to_string)).collect()
}

#[test]
fn act_on_a_microsoft365_mailbox_is_tested_enabled_and_synced_both_ways_by_the_cli() {
    let w = World::new();
    w.sign_in(ALL);
    let at =
        (Utc::now() + Duration::days(2)).with_minute(0).unwrap().with_second(0).unwrap().with_nanosecond(0);
    let at = at.unwrap();
    w.rt.block_on(w.graph.seed_event(
        ALICE,
        json!({"subject": "Server meeting", "start": graph_time(at), "end": graph_time(at + Duration::hours(1))}),
        vec![],
        &[],
    ))
    .unwrap();
    w.rt.block_on(w.graph.seed_contact(
        ALICE,
        json!({"givenName": "Sam", "surname": "Server", "emailAddresses": [{"address": "sam@server.test"}]}),
    ))
    .unwrap();
    w.rt.block_on(w.graph.seed_task(ALICE, None, json!({"title": "Server task"}))).unwrap();
    let start = (at + Duration::days(1)).format("%Y-%m-%dT%H:%M").to_string();
    let end = (at + Duration::days(1) + Duration::hours(1)).format("%Y-%m-%dT%H:%M").to_string();
    w.env.json(&[
        "appointment",
        "add",
        "--subject",
        "CRM meeting",
        "--start",
        &start,
        "--end",
        &end,
        "--organizer",
        ALICE,
        "--owner",
        ALICE,
    ]);

    let report = w.test_enable();
    assert_eq!(report["overall"], "success", "{report:#}");
    let act = channel(&report, "act");
    assert_eq!(
        (act["status"].as_str(), act["enabled"].as_bool()),
        (Some("success"), Some(true)),
        "{report:#}"
    );
    let said = act["message"].as_str().unwrap();
    for words in [
        "Microsoft Graph",
        "Calendars.ReadWrite",
        "Contacts.ReadWrite",
        "Tasks.ReadWrite",
        "calendar /",
        "contacts /",
        "tasks /",
    ] {
        assert!(said.contains(words), "the ACT row says {words}: {said}");
    }

    let act = w.sync_act();
    assert_eq!(act["result"], "ok", "{act:#}");
    let appointments = subjects(&w.env.json(&["appointment", "list"]), "subject");
    assert!(appointments.contains(&"Server meeting".to_string()), "server -> CRM: {appointments:?}");
    let contacts = w.env.json(&["contact", "list"]).to_string();
    assert!(contacts.contains("sam@server.test"), "server -> CRM: {contacts}");
    let tasks = subjects(&w.env.json(&["task", "list"]), "subject");
    assert!(tasks.contains(&"Server task".to_string()), "server -> CRM: {tasks:?}");
    let events = w.rt.block_on(w.graph.events(ALICE)).unwrap();
    let on_server = subjects(&Value::Array(events), "subject");
    assert!(on_server.contains(&"CRM meeting".to_string()), "CRM -> server: {on_server:?}");
    assert_eq!(on_server.len(), 2, "{on_server:?}");

    // A second sync changes nothing and duplicates nothing.
    assert_eq!(w.sync_act()["result"], "ok");
    assert_eq!(w.rt.block_on(w.graph.events(ALICE)).unwrap().len(), 2);
    assert_eq!(w.env.count("SELECT count(*) FROM appointments"), 2);
    w.graph.assert_no_invalid_requests();
}

#[test]
fn a_sign_in_without_calendars_readwrite_fails_the_act_test_naming_it_and_leaves_act_off() {
    let w = World::new();
    w.sign_in(&ALL.replace("https://graph.microsoft.com/Calendars.ReadWrite ", ""));
    let report = w.test_enable();
    let act = channel(&report, "act");
    assert_eq!(act["status"], "failure", "{report:#}");
    assert_eq!(act["code"], "PERMISSION_DENIED", "{report:#}");
    assert!(act["message"].as_str().unwrap().contains("Calendars.ReadWrite"), "{report:#}");
    assert_eq!(w.env.count("SELECT count(*) FROM mailboxes WHERE act_enabled = 1"), 0);
    w.graph.assert_no_invalid_requests();
}
