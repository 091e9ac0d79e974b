//! A mailbox's history and "why was this email not tracked?" (issue 17)
//! against a real Dovecot and Postfix, through the `crmsync` binary as an
//! admin runs it: `crmsync sync`, `mailbox history`, `mailbox explain`.

mod common;
mod outgoing_support;

use common::office::{Office as MailOffice, msg};
use outgoing_support::{Office, PW};
use serde_json::Value;

fn history(env: &common::Env, email: &str) -> Vec<Value> {
    env.json(&["mailbox", "history", email]).as_array().unwrap().clone()
}

fn explain(env: &common::Env, email: &str, flag: &str, value: &str) -> Value {
    env.json(&["mailbox", "explain", email, flag, value])
}

#[test]
fn every_sync_run_is_in_the_history_with_its_counts_its_skip_reasons_and_the_code_of_a_failure() {
    let o = Office::new();
    // Outgoing: one email to the contact bob.
    let sent = o.send(&["--to", &o.bob, "--subject", "Quote for Q3", "--body", "Hello Bob"]);
    let mid = sent["message_id"].as_str().unwrap().to_string();
    let report = o.sync();
    assert_eq!(report[0]["result"], "ok", "{report:#?}");

    // Incoming: bob's reply is tracked; an unrelated email is not (alice tracks responses only).
    let reply = msg(
        Some("reply1@ext.test"),
        &o.bob,
        &o.alice,
        "Re: Quote for Q3",
        &format!("In-Reply-To: <{mid}>\r\nReferences: <{mid}>\r\n"),
        "Thanks",
    );
    o.deliver("alice", &reply);
    o.deliver("alice", &msg(Some("news1@ext.test"), "news@shop.test", &o.alice, "Weekly deals", "", "Buy"));
    o.sync();

    // A failed run: the password changed on the server.
    o.dovecot.set_password("alice", "Changed-Pa55").unwrap();
    let out = o.env.run(&["--json", "sync"]);
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed = all.as_array().unwrap().iter().find(|v| v["channel"] == "incoming").unwrap().clone();
    assert_eq!(failed["result"], "failed", "{all:#}");

    let runs = history(&o.env, &o.alice);
    let incoming: Vec<&Value> = runs.iter().filter(|r| r["channel"] == "incoming").collect();
    let outgoing: Vec<&Value> = runs.iter().filter(|r| r["channel"] == "outgoing").collect();
    assert_eq!(incoming.len(), 3, "one row per incoming run: {runs:#?}");
    assert_eq!(outgoing.len(), 1, "one row per outgoing run that had mail to send: {runs:#?}");

    // Newest first: the failure, then the run with the reply, then the first (empty) one.
    let (fail, mail, first) = (incoming[0], incoming[1], incoming[2]);
    assert_eq!(fail["result"], "failed");
    assert_eq!(fail["code"], failed["code"], "the failure's error code is kept");
    assert!(fail["code"].as_str().unwrap().contains("AUTH"), "{fail:#}");
    assert!(fail["ended_on"].is_string());
    assert_eq!(
        (&mail["result"], &mail["tracked"], &mail["not_tracked"]),
        (&"ok".into(), &1.into(), &1.into())
    );
    assert_eq!(mail["processed"], 2);
    assert_eq!(mail["not_tracked_reasons"][0]["reason"], "NOT_A_REPLY");
    assert_eq!(mail["summary"], "incoming: 1 tracked, 1 skipped (not a reply)");
    assert_eq!((&first["result"], &first["processed"]), (&"ok".into(), &0.into()));
    assert_eq!(outgoing[0]["result"], "ok");
    assert_eq!(outgoing[0]["summary"], "outgoing: 1 sent");
    assert!(mail["started_on"].as_str().unwrap() <= mail["ended_on"].as_str().unwrap());

    // The text form is the timeline the admin reads.
    let text = o.env.ok(&["mailbox", "history", &o.alice]);
    assert!(text.contains("UTC  incoming: 1 tracked, 1 skipped (not a reply)"), "{text}");
    assert!(text.contains(&format!("incoming: failed [{}]", fail["code"].as_str().unwrap())), "{text}");
    let limited = o.env.json(&["mailbox", "history", &o.alice, "--limit", "1"]);
    assert_eq!(limited.as_array().unwrap().len(), 1);
    assert_eq!(limited[0]["result"], "failed");

    // And the unrelated email says why it was not tracked.
    let why = explain(&o.env, &o.alice, "--message-id", "<news1@ext.test>");
    assert_eq!(why["found"][0]["reason"], "NOT_A_REPLY", "{why:#}");
    let answer = why["found"][0]["answer"].as_str().unwrap();
    assert!(answer.contains("\"Weekly deals\"") && answer.contains("not tracked"), "{answer}");
    assert!(answer.contains("not a reply to CRM email"), "{answer}");
    let _ = PW;
}

#[test]
fn history_past_the_retention_is_purged_at_the_end_of_a_sync_and_recent_history_stays() {
    let o = MailOffice::new("imap-smtp");
    let alice = o.mailbox("alice", false, &["--track", "all"]);
    o.deliver("alice", &msg(Some("old@ext.test"), "ben@contoso.test", &alice, "Old one", "", "x"));
    o.sync();
    assert_eq!(o.env.count("SELECT count(*) FROM sync_runs"), 1);
    assert_eq!(o.env.count("SELECT count(*) FROM seen_messages"), 1);
    // That run and its message are now years old.
    let store = o.env.store();
    store
        .conn()
        .execute_batch(
            "UPDATE sync_runs SET started_on = '2020-01-01T00:00:00.000Z', ended_on = '2020-01-01T00:00:01.000Z';
             UPDATE seen_messages SET seen_on = '2020-01-01T00:00:00.500Z';",
        )
        .unwrap();
    drop(store);
    o.env.ok(&["settings", "set", "history.retention_days", "30"]);
    o.deliver("alice", &msg(Some("new@ext.test"), "ben@contoso.test", &alice, "New one", "", "x"));
    o.sync();
    let runs = history(&o.env, &alice);
    assert_eq!(runs.len(), 1, "only the new run is left: {runs:#?}");
    assert_eq!(runs[0]["tracked"], 1);
    assert!(runs[0]["started_on"].as_str().unwrap() > "2026", "{runs:#?}");
    assert_eq!(explain(&o.env, &alice, "--subject", "Old one")["found"], Value::Array(vec![]));
    assert_eq!(explain(&o.env, &alice, "--subject", "New one")["found"][0]["reason"], "TRACKED");
    let out = o.env.run(&["settings", "set", "history.retention_days", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn explain_answers_for_a_tracked_email_a_duplicate_one_before_process_from_filtered_out_and_too_large() {
    let o = MailOffice::new("imap-smtp");
    o.env.ok(&["settings", "set", "incoming.max_message_size_mb", "1"]);
    let alice = o.mailbox("alice", false, &["--track", "all"]);
    let bob = o.mailbox("bob", false, &["--track", "none"]);
    let carol = o.mailbox("carol", false, &["--track", "all", "--process-from", "2099-01-01T00:00:00Z"]);
    let quote = msg(Some("q1@ext.test"), "ben@contoso.test", &alice, "Quote request", "", "Hello");
    o.deliver("alice", &quote);
    o.deliver("alice", &quote);
    let line = "x".repeat(76);
    let body = std::iter::repeat_n(line.as_str(), 3 * (1 << 20) / 78).collect::<Vec<_>>().join("\r\n");
    o.deliver("alice", &msg(Some("huge@ext.test"), "ben@contoso.test", &alice, "Huge scan", "", &body));
    o.deliver("bob", &msg(Some("b1@ext.test"), "ben@contoso.test", &bob, "For Bob", "", "x"));
    o.deliver("carol", &msg(Some("c1@ext.test"), "ben@contoso.test", &carol, "For Carol", "", "x"));
    let report = o.sync();
    assert!(report.as_array().unwrap().iter().all(|r| r["result"] == "ok"), "{report:#}");

    // Tracked, then the second copy joined the same activity.
    let why = explain(&o.env, &alice, "--message-id", "q1@ext.test");
    let found = why["found"].as_array().unwrap();
    assert_eq!(found.len(), 2, "{why:#}");
    let activity = o.emails()[0]["id"].clone();
    assert_eq!((&found[1]["reason"], &found[1]["activity_id"]), (&"TRACKED".into(), &activity));
    assert_eq!((&found[0]["reason"], &found[0]["activity_id"]), (&"DUPLICATE".into(), &activity));
    assert!(found[0]["answer"].as_str().unwrap().contains(&format!("already email activity {activity}")));
    let text = o.env.ok(&["mailbox", "explain", &alice, "--subject", "quote REQUEST"]);
    assert!(text.contains("\"Quote request\" was tracked on "), "{text}");
    assert!(text.contains(&format!("tracked as email activity {activity}")), "{text}");

    // The tracking filter.
    let why = explain(&o.env, &bob, "--subject", "For Bob");
    assert_eq!(why["found"][0]["outcome"], "not_tracked");
    assert_eq!(why["found"][0]["reason"], "TRACKING_OFF", "{why:#}");
    assert!(why["found"][0]["seen_on"].is_string());

    // Before process-from.
    let why = explain(&o.env, &carol, "--message-id", "c1@ext.test");
    assert_eq!(why["found"][0]["reason"], "BEFORE_PROCESS_FROM", "{why:#}");
    assert!(why["found"][0]["answer"].as_str().unwrap().contains("before 2099-01-01 00:00 UTC"), "{why:#}");

    // Too large: never downloaded, so its headers are unknown; the answer lists it.
    let why = explain(&o.env, &alice, "--message-id", "huge@ext.test");
    assert_eq!(why["found"], Value::Array(vec![]), "{why:#}");
    assert_eq!(why["unidentified"][0]["reason"], "MESSAGE_TOO_LARGE", "{why:#}");
    let text = o.env.ok(&["mailbox", "explain", &alice, "--message-id", "huge@ext.test"]);
    assert!(text.contains("has seen no such email in the last 30 days"), "{text}");
    assert!(text.contains("could not be tracked") && text.contains("max_message_size_mb"), "{text}");

    // Asking without what to look for, or for an unknown mailbox, is an input error.
    let out = o.env.run(&["mailbox", "explain", &alice]);
    assert_eq!(out.status.code(), Some(2));
    let out = o.env.run(&["mailbox", "explain", "nobody@nowhere.test", "--subject", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody@nowhere.test"));
}

#[test]
fn the_service_records_its_runs_in_the_history_and_purges_what_is_past_the_retention() {
    let o = MailOffice::new("imap-smtp");
    let alice = o.mailbox("alice", false, &["--track", "responses"]);
    // A run from long ago, past the 30 days kept by default.
    o.env
        .store()
        .conn()
        .execute(
            "INSERT INTO sync_runs (mailbox_id, channel, started_on, ended_on, result) \
             VALUES ((SELECT id FROM mailboxes), 'incoming', '2020-01-01T00:00:00.000Z', '2020-01-01T00:00:01.000Z', 'ok')",
            [],
        )
        .unwrap();
    o.deliver("alice", &msg(Some("s1@ext.test"), "ben@contoso.test", &alice, "Hello", "", "hi"));

    let mut run = o
        .env
        .cmd(&["run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let runs = loop {
        let runs = history(&o.env, &alice);
        if runs.iter().any(|r| r["not_tracked"] == 1) && runs.len() == 1 {
            break runs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the service recorded no run, or kept the old one: {runs:#?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(run.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .unwrap();
    assert!(run.wait().unwrap().success());
    assert_eq!(runs[0]["summary"], "incoming: 0 tracked, 1 skipped (not a reply)", "{runs:#?}");
    assert!(runs[0]["ended_on"].is_string());
}
