//! Never lose, never silently skip (issue 15): what may leave the server, what
//! a cut connection after the commit leaves behind, and what happens to a
//! message the server lists but does not return. Real Dovecot where it can
//! misbehave on demand, a scripted IMAP server where it cannot.

mod common;

use common::Env;
use common::office::{Office, PW, msg};
use crmsync_tests::{FaultMode, FaultProxy, FetchFault, ScriptedImap};
use serde_json::Value;

/// Message-IDs of the messages in `local`'s Inbox on the Dovecot.
fn inbox_ids(o: &Office, local: &str) -> Vec<String> {
    let list = o.rt.block_on(o.dovecot.list_inbox(local, PW)).unwrap();
    list.iter()
        .map(|m| {
            let raw = String::from_utf8_lossy(&m.raw).to_string();
            let line = raw.lines().find(|l| l.to_ascii_lowercase().starts_with("message-id:")).unwrap_or("");
            line[line.find('<').map_or(0, |i| i + 1)..].trim_end_matches('>').trim().to_string()
        })
        .collect()
}

/// `crmsync --json sync`, whatever its exit status (a failed mailbox may fail the run).
fn sync_any(env: &Env) -> Value {
    let out = env.run(&["--json", "sync"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

/// Office with a contact, so `--track crm-records` tracks mail from ben only.
fn office_with_contact(kind: &str) -> Office {
    let o = Office::new(kind);
    let contacts = o.env.dir().join("contacts.csv");
    std::fs::write(&contacts, "first_name,last_name,email\nBen,Baker,ben@contoso.test\n").unwrap();
    o.env.ok(&["contact", "import", contacts.to_str().unwrap()]);
    o
}

#[test]
fn imap_delete_after_processing_deletes_only_tracked_mail_and_leaves_the_rest_on_the_server() {
    let o = office_with_contact("imap-smtp");
    let q = o.mailbox("support", true, &["--track", "crm-records", "--delete-after-processing"]);
    o.deliver("support", &msg(Some("tracked@ext.test"), "ben@contoso.test", &q, "From a contact", "", "x"));
    o.deliver("support", &msg(Some("stranger@ext.test"), "zed@stranger.test", &q, "Cold mail", "", "x"));
    let report = o.sync();
    assert_eq!(report[0]["result"], "ok", "{report:#}");
    let ids: Vec<String> = o.emails().iter().map(|e| e["message_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, ["tracked@ext.test"]);
    assert_eq!(inbox_ids(&o, "support"), ["stranger@ext.test"], "mail the mailbox does not track stays");
    o.sync();
    assert_eq!(inbox_ids(&o, "support"), ["stranger@ext.test"]);
}

#[test]
fn pop3_delete_after_processing_deletes_only_tracked_mail_and_leaves_the_rest_on_the_server() {
    let o = office_with_contact("pop3-smtp");
    let q = o.mailbox(
        "support",
        true,
        &["--track", "crm-records", "--delete-after-processing", "--process-from", "2020-01-01T00:00:00Z"],
    );
    o.deliver("support", &msg(Some("tracked@ext.test"), "ben@contoso.test", &q, "From a contact", "", "x"));
    o.deliver("support", &msg(Some("stranger@ext.test"), "zed@stranger.test", &q, "Cold mail", "", "x"));
    let old = String::from_utf8(msg(Some("old@ext.test"), "ben@contoso.test", &q, "Old", "", "x"))
        .unwrap()
        .replace("Thu, 26 Nov 2026", "Mon, 26 Nov 2001");
    o.deliver("support", old.as_bytes());
    let report = o.sync();
    assert_eq!(report[0]["result"], "ok", "{report:#}");
    let ids: Vec<String> = o.emails().iter().map(|e| e["message_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, ["tracked@ext.test"]);
    let mut left = inbox_ids(&o, "support");
    left.sort();
    assert_eq!(
        left,
        ["old@ext.test", "stranger@ext.test"],
        "filtered out and before process-from: both stay"
    );
    o.sync();
    assert_eq!(inbox_ids(&o, "support").len(), 2);
}

/// A profile "Proxied" reaching the Dovecot's plaintext IMAP port through `proxy`.
fn proxied_profile(o: &Office, proxy: &FaultProxy) {
    o.env.ok(&[
        "profile",
        "add",
        "Proxied",
        "--kind",
        "imap-smtp",
        "--incoming-host",
        proxy.host(),
        "--incoming-port",
        &proxy.port().to_string(),
        "--incoming-security",
        "none",
        "--allow-insecure",
        "--timeout",
        "20",
    ]);
}

#[test]
fn an_imap_delete_cut_off_after_the_commit_is_finished_by_the_next_pass() {
    let o = Office::new("imap-smtp");
    let proxy = FaultProxy::start(o.dovecot.host(), o.dovecot.imap_port()).unwrap();
    proxied_profile(&o, &proxy);
    let q = o.mailbox_on("Proxied", "support", true, &["--track", "all", "--delete-after-processing"]);
    o.deliver("support", &msg(Some("d1@ext.test"), "ben@contoso.test", &q, "Delete me", "", "x"));
    // The connection breaks as the \Deleted flag is about to be stored: after the commit.
    proxy.set_mode(FaultMode::ResetOnClientSends { pattern: b"UID STORE" });
    let report = sync_any(&o.env);
    assert_eq!(report[0]["result"], "failed", "{report:#}");
    assert_eq!(o.env.count("SELECT count(*) FROM activities"), 1, "committed before the cut");
    assert_eq!(inbox_ids(&o, "support"), ["d1@ext.test"], "the cut kept the delete from the server");
    // A clean pass: nothing new in the folder, but the pending delete is finished.
    proxy.set_mode(FaultMode::Forward);
    let report = o.sync();
    assert_eq!(report[0]["result"], "ok", "{report:#}");
    assert!(inbox_ids(&o, "support").is_empty(), "the next pass deletes what the cut left");
    assert_eq!(o.env.count("SELECT count(*) FROM activities"), 1, "still one activity");
    assert_eq!(o.env.count("SELECT count(*) FROM imap_items WHERE deleted = 1"), 1);
}

#[test]
fn a_queue_mailbox_seen_flag_cut_off_after_the_commit_is_set_by_the_next_pass() {
    let o = Office::new("imap-smtp");
    let proxy = FaultProxy::start(o.dovecot.host(), o.dovecot.imap_port()).unwrap();
    proxied_profile(&o, &proxy);
    let support = o.mailbox_on("Proxied", "support", true, &["--track", "all"]);
    o.deliver("support", &msg(Some("q1@ext.test"), "ben@contoso.test", &support, "Help", "", "x"));
    proxy.set_mode(FaultMode::ResetOnClientSends { pattern: b"UID STORE" });
    let report = sync_any(&o.env);
    assert_eq!(report[0]["result"], "failed", "{report:#}");
    let seen = |o: &Office| o.rt.block_on(o.dovecot.list_inbox("support", PW)).unwrap()[0].has_flag("\\Seen");
    assert!(!seen(&o), "the cut kept \\Seen from the server");
    proxy.set_mode(FaultMode::Forward);
    let report = o.sync();
    assert_eq!(report[0]["result"], "ok", "{report:#}");
    assert!(seen(&o), "the next pass marks what the queue tracked \\Seen");
    assert_eq!(o.env.count("SELECT count(*) FROM activities"), 1, "still one activity");
}

fn scripted_message(n: u32) -> Vec<u8> {
    format!(
        "Message-ID: <s{n}@ext.test>\r\nFrom: ben@contoso.test\r\nTo: alice@example.test\r\nSubject: scripted {n}\r\nDate: Thu, 26 Nov 2026 09:00:00 +0000\r\n\r\nbody {n}\r\n"
    )
    .into_bytes()
}

/// A store with mailbox alice@example.test on the scripted server, tested and enabled.
fn scripted_env(srv: &ScriptedImap) -> Env {
    let env = Env::new();
    env.ok(&[
        "profile",
        "add",
        "Scripted",
        "--kind",
        "imap-smtp",
        "--incoming-host",
        srv.host(),
        "--incoming-port",
        &srv.port().to_string(),
        "--incoming-security",
        "none",
        "--allow-insecure",
        "--timeout",
        "10",
    ]);
    env.ok(&["user", "add", "alice@example.test", "--name", "Alice"]);
    env.ok_stdin(
        &[
            "mailbox",
            "add",
            "alice@example.test",
            "--profile",
            "Scripted",
            "--outgoing",
            "none",
            "--password-stdin",
            "--track",
            "all",
            "--process-from",
            "2000-01-01T00:00:00Z",
        ],
        "pw",
    );
    let report = env.json(&["mailbox", "test-enable", "alice@example.test"]);
    assert_eq!(report["overall"], "success", "{report:#}");
    env
}

fn tracked_subjects(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = env
        .json(&["activity", "list", "--type", "email"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn a_message_the_server_does_not_return_is_asked_for_again_and_then_kept_as_a_failed_item_with_an_alert() {
    let srv = ScriptedImap::start(42, (1..=4).map(|n| (n, scripted_message(n))).collect()).unwrap();
    srv.set_fault(2, Some(FetchFault::Omit));
    srv.set_fault(4, Some(FetchFault::NilBody));
    let env = scripted_env(&srv);
    let watermark = |env: &Env| env.count("SELECT last_uid FROM imap_folder_state WHERE folder = 'INBOX'");
    let not_returned = |env: &Env| {
        env.json(&["alert", "list"])
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["code"] == "EMAIL_NOT_RETURNED")
            .cloned()
            .collect::<Vec<_>>()
    };

    let report = env.json(&["sync"]);
    assert_eq!(report[0]["result"], "ok", "{report:#}");
    assert_eq!(tracked_subjects(&env), ["scripted 1", "scripted 3"]);
    assert_eq!(watermark(&env), 1, "the watermark stays below the first message not returned");
    assert!(not_returned(&env).is_empty(), "one miss is retried, not reported");

    // Pass 2: UID 4 comes back; UID 2 is asked for again and still missing.
    srv.set_fault(4, None);
    env.json(&["sync"]);
    assert_eq!(tracked_subjects(&env), ["scripted 1", "scripted 3", "scripted 4"]);
    assert_eq!(watermark(&env), 1);
    assert!(not_returned(&env).is_empty());
    let again = srv.commands().iter().filter(|c| c.starts_with("UID FETCH 2,4 (UID FLAGS")).count();
    assert_eq!(again, 1, "pass 2 asks for UIDs 2 and 4 only (1 and 3 are done): {:#?}", srv.commands());

    // Pass 3: the third miss makes it a failed item with an alert naming it; the watermark moves on.
    env.json(&["sync"]);
    let alerts = not_returned(&env);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let text = alerts[0]["message"].as_str().unwrap();
    assert!(text.contains("INBOX") && text.contains("UIDVALIDITY 42") && text.contains("UID 2"), "{text}");
    assert_eq!(env.count("SELECT count(*) FROM failed_items WHERE item_ref = 'INBOX/42/2'"), 1);
    assert_eq!(env.count("SELECT count(*) FROM imap_items WHERE uid = 2 AND outcome = 'failed'"), 1);
    assert_eq!(watermark(&env), 4);
    assert_eq!(tracked_subjects(&env).len(), 3, "nothing tracked twice");
    assert_eq!(srv.messages().len(), 4, "nothing deleted or lost on the server");

    // Later passes leave it alone: no new alert, no new fetch of UID 2.
    let fetches = srv.count_commands("UID FETCH");
    env.json(&["sync"]);
    assert_eq!(srv.count_commands("UID FETCH"), fetches);
    assert_eq!(not_returned(&env)[0]["count"], 1);
}

#[test]
fn mail_without_message_id_tracked_before_the_key_change_is_recognised_after_a_uidvalidity_reset() {
    let o = Office::new("imap-smtp");
    let alice = o.mailbox("alice", false, &["--track", "all"]);
    let raw = msg(None, "ben@contoso.test", &alice, "No Message-ID", "", "same body");
    o.deliver("alice", &raw);
    o.sync();
    assert_eq!(o.env.count("SELECT count(*) FROM activities"), 1);
    // Make the store look like one written before the key change: the old digest form.
    let legacy = crmsync_protocols::mime::parse(&raw).unwrap().legacy_dedupe_key.unwrap();
    assert!(legacy.starts_with("sha256:"), "{legacy}");
    o.env.store().conn().execute("UPDATE emails SET dedupe_key = ?1", [&legacy]).unwrap();
    // The server re-numbers the folder: the message is read again.
    o.dovecot.reset_uidvalidity("alice", "INBOX").unwrap();
    o.sync();
    assert_eq!(o.env.count("SELECT count(*) FROM activities"), 1, "recognised by the old key form");
    assert_eq!(
        o.env.count("SELECT count(*) FROM emails WHERE dedupe_key LIKE 'sha256v2:%'"),
        1,
        "the activity takes the new key form"
    );
    assert_eq!(o.env.count("SELECT count(*) FROM email_receipts"), 1);
}

#[test]
fn a_new_message_reusing_a_known_message_id_with_other_content_is_kept_apart_with_an_alert() {
    let o = Office::new("imap-smtp");
    let alice = o.mailbox("alice", false, &["--track", "all"]);
    let support = o.mailbox("support", true, &["--track", "all"]);
    let real = msg(Some("reused@ext.test"), "ben@contoso.test", &alice, "Quote", "", "The real quote");
    o.deliver("alice", &real);
    o.sync();
    // Another sender (spoofed or buggy) reuses the Message-ID with other content.
    let forged = msg(Some("reused@ext.test"), "mallory@evil.test", &alice, "Quote", "", "Pay here instead");
    o.deliver("alice", &forged);
    // A genuine second copy of the real message arrives in another mailbox.
    o.deliver("support", &real);
    o.sync();
    let emails = o.emails();
    assert_eq!(emails.len(), 2, "{emails:#?}");
    let by_sender = |addr: &str| {
        emails.iter().find(|e| e["from"]["address"] == addr).unwrap_or_else(|| panic!("{addr}: {emails:#?}"))
    };
    let first = by_sender("ben@contoso.test");
    let second = by_sender("mallory@evil.test");
    let receivers = first["receiving_mailboxes"].as_array().unwrap();
    assert!(receivers.iter().any(|r| r == support.as_str()), "the true copy joins the first: {receivers:?}");
    assert!(second["body_text"].as_str().unwrap().contains("Pay here instead"));
    let alerts: Vec<Value> = o
        .env
        .json(&["alert", "list"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["code"] == "MESSAGE_ID_COLLISION")
        .cloned()
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["severity"], "warning");
    let text = alerts[0]["message"].as_str().unwrap();
    for id in [&first["id"], &second["id"]] {
        assert!(text.contains(&format!("activity {id}")), "names both activities: {text}");
    }
    // Read again (UIDVALIDITY reset): each message finds its own activity.
    o.dovecot.reset_uidvalidity("alice", "INBOX").unwrap();
    o.sync();
    assert_eq!(o.emails().len(), 2);
    assert_eq!(
        o.env
            .json(&["alert", "list"])
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["code"] == "MESSAGE_ID_COLLISION")
            .count(),
        1
    );
}

#[test]
fn a_message_without_message_id_read_over_imap_and_over_pop3_is_one_activity() {
    let o = Office::new("imap-smtp");
    o.env.ok(&[
        "profile",
        "add",
        "Pop",
        "--kind",
        "pop3-smtp",
        "--incoming-host",
        "127.0.0.1",
        "--incoming-port",
        &o.dovecot.pop3s_port().to_string(),
        "--incoming-security",
        "tls",
        "--timeout",
        "20",
    ]);
    let alice = o.mailbox("alice", false, &["--track", "all"]);
    let support =
        o.mailbox_on("Pop", "support", true, &["--track", "all", "--process-from", "2020-01-01T00:00:00Z"]);
    // No Message-ID and no final CRLF: POP3 adds one when it sends the message, IMAP does not.
    let raw = format!(
        "From: ben@contoso.test\r\nTo: {alice}, {support}\r\nSubject: No id\r\nDate: Thu, 26 Nov 2026 09:00:00 +0000\r\n\r\nlast line without CRLF"
    );
    for local in ["alice", "support"] {
        o.rt.block_on(o.dovecot.append(local, PW, "INBOX", &[], raw.as_bytes())).unwrap();
    }
    let report = o.sync();
    assert!(report.as_array().unwrap().iter().all(|r| r["result"] == "ok"), "{report:#}");
    let emails = o.emails();
    assert_eq!(emails.len(), 1, "{emails:#?}");
    assert_eq!(emails[0]["receiving_mailboxes"].as_array().unwrap().len(), 2, "{emails:#?}");
}
