//! Exchange (EWS) appointments, contacts and tasks end to end through the
//! product path: an Exchange profile made with the `crmsync` CLI, a mailbox
//! with ACT server-side, Test & Enable, then `crmsync sync` against the
//! harness's Exchange emulator (every request checked against the EWS schema).

mod common;

use common::Env;
use common::office::rt;
use crmsync_tests::EwsServer;
use serde_json::Value;

const PW: &str = "Secret-Pa55";
const ALICE: &str = "alice@example.test";

const MEETING: &str = r#"<t:CalendarItem xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <t:Subject>Outlook planning</t:Subject>
  <t:Start>2026-12-10T09:00:00Z</t:Start><t:End>2026-12-10T10:00:00Z</t:End>
  <t:Location>Room 2</t:Location>
</t:CalendarItem>"#;

const CONTACT: &str = r#"<t:Contact xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <t:GivenName>Carla</t:GivenName>
  <t:CompanyName>Contoso</t:CompanyName>
  <t:EmailAddresses><t:Entry Key="EmailAddress1">carla@contoso.test</t:Entry></t:EmailAddresses>
  <t:Surname>Cruz</t:Surname>
</t:Contact>"#;

const TASK: &str = r#"<t:Task xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <t:Subject>Call Contoso back</t:Subject>
  <t:Status>NotStarted</t:Status>
</t:Task>"#;

fn subjects(v: &Value, field: &str) -> Vec<String> {
    v.as_array().unwrap().iter().map(|a| a[field].as_str().unwrap_or_default().to_string()).collect()
}

#[test]
fn an_exchange_mailbox_syncs_appointments_contacts_and_tasks_both_ways_after_test_and_enable() {
    let ews = EwsServer::start().unwrap();
    let rt = rt();
    rt.block_on(ews.add_user(ALICE, PW)).unwrap();
    let mut env = Env::new();
    env.envs.push(("SSL_CERT_FILE".into(), ews.ca().ca_path().display().to_string()));
    let url = ews.ews_url();
    env.ok(&[
        "profile",
        "add",
        "Exchange",
        "--kind",
        "exchange",
        "--timeout",
        "20",
        "--ews-url",
        url.as_str(),
    ]);
    env.ok(&["user", "add", ALICE, "--name", "Alice"]);
    let out = env.run_stdin(
        &[
            "mailbox",
            "add",
            ALICE,
            "--profile",
            "Exchange",
            "--incoming",
            "none",
            "--outgoing",
            "none",
            "--act",
            "server-side",
            "--password-stdin",
        ],
        PW,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let report = env.json(&["mailbox", "test-enable", ALICE]);
    let act = report["channels"].as_array().unwrap().iter().find(|c| c["channel"] == "act").cloned();
    assert_eq!(act.as_ref().map(|c| c["enabled"].clone()), Some(Value::Bool(true)), "{report:#}");

    rt.block_on(ews.seed_item(ALICE, Some("calendar"), MEETING)).unwrap();
    rt.block_on(ews.seed_item(ALICE, Some("contacts"), CONTACT)).unwrap();
    rt.block_on(ews.seed_item(ALICE, Some("tasks"), TASK)).unwrap();
    env.json(&[
        "appointment",
        "add",
        "--subject",
        "CRM review",
        "--start",
        "2026-12-11T09:00",
        "--end",
        "2026-12-11T10:00",
        "--organizer",
        ALICE,
        "--owner",
        ALICE,
    ]);

    let sync = env.json(&["sync"]);
    let act_run = sync.as_array().unwrap().iter().find(|r| r["channel"] == "act").cloned();
    assert_eq!(act_run.as_ref().map(|r| r["result"].clone()), Some(Value::from("ok")), "{sync:#}");

    // Exchange -> CRM: what Outlook shows is in the CRM.
    assert!(subjects(&env.json(&["appointment", "list"]), "subject").contains(&"Outlook planning".into()));
    let contacts = env.json(&["contact", "list"]).to_string();
    assert!(contacts.contains("carla@contoso.test"), "{contacts}");
    assert!(subjects(&env.json(&["task", "list"]), "subject").contains(&"Call Contoso back".into()));

    // CRM -> Exchange: the CRM's appointment is in Alice's Exchange calendar.
    let calendar = rt.block_on(ews.items(ALICE, "calendar")).unwrap();
    let on_server: Vec<_> = calendar.iter().filter_map(|i| i.subject.clone()).collect();
    assert!(on_server.contains(&"CRM review".to_string()), "{on_server:?}");
    assert_eq!(on_server.len(), 2, "nothing duplicated: {on_server:?}");

    // A second sync changes nothing on either side.
    env.json(&["sync"]);
    assert_eq!(rt.block_on(ews.items(ALICE, "calendar")).unwrap().len(), 2);
    assert_eq!(env.json(&["appointment", "list"]).as_array().unwrap().len(), 2);
    ews.assert_no_invalid_requests();
}
