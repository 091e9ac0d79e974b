//! Outgoing email end to end: `crmsync email send` + `crmsync sync` against a
//! real Postfix (STARTTLS + AUTH through Dovecot, relaying into Dovecot LMTP)
//! and the sender's real Sent folder in Dovecot.

mod common;
mod outgoing_support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Env;
use crmsync_protocols::mime;
use crmsync_tests::{FaultMode, FaultProxy};
use outgoing_support::{Office, PW, copies_of, file, slow_rcpt};
use serde_json::Value;

#[test]
fn an_email_arrives_with_token_html_and_attachments_is_filed_in_sent_and_its_replies_correlate() {
    let o = Office::new();
    let html = file(&o.env, "body.html", "<p>Hello <b>Bob</b>, here is the quote.</p>".as_bytes());
    let pdf_bytes: Vec<u8> = (0..=255u8).cycle().take(40_000).collect();
    let pdf = file(&o.env, "Quote.pdf", &pdf_bytes);
    let notes = file(&o.env, "Größe & Maße.txt", "Zeile eins\nZeile zwei\n".as_bytes());
    let created = o.send(&[
        "--to",
        &format!("Bob Baker <{}>", o.bob),
        "--subject",
        "Quote for Q3",
        "--body",
        "Hello Bob,\nhere is the quote.\n",
        "--html-file",
        html.to_str().unwrap(),
        "--attach",
        pdf.to_str().unwrap(),
        "--attach",
        notes.to_str().unwrap(),
        "--regarding",
        &format!("contact:{}", o.bob),
    ]);
    assert_eq!(created["status"], "pending_send");
    assert_eq!(created["direction"], "outgoing");
    assert_eq!(created["sender_mailbox"], o.alice);
    assert_eq!(created["to"][0]["resolved"]["type"], "contact", "{created:#}");
    let id = created["id"].clone();
    let mid = created["message_id"].as_str().unwrap().to_string();
    let token = created["tracking_token"].as_str().unwrap().to_string();
    assert!(token.starts_with("CRM:"), "{token}");

    let report = o.sync();
    assert_eq!(report.len(), 1, "{report:#?}");
    assert_eq!(report[0]["result"], "ok", "{report:#?}");
    assert_eq!(report[0]["sent"], 1);
    assert_eq!(report[0]["copies_saved"], 1);

    let shown = o.show(&id);
    assert_eq!(shown["status"], "sent", "{shown:#}");
    assert_eq!(shown["delivery_attempts"], 1);
    assert!(shown["sent_on"].is_string());
    assert!(shown["last_error"].is_null());

    // The recipient's copy, as Postfix handed it to Dovecot.
    let raw = o.wait_for("bob", &mid);
    let got = mime::parse(&raw).unwrap();
    assert_eq!(got.message_id.as_deref(), Some(mid.as_str()));
    assert_eq!(got.subject, format!("Quote for Q3 {token}"));
    assert_eq!(got.from.as_ref().unwrap().address, o.alice);
    assert_eq!(got.from.as_ref().unwrap().name.as_deref(), Some("Alice Adams"));
    assert!(got.html_body.as_deref().unwrap().contains("<b>Bob</b>"));
    assert!(got.text_body.as_deref().unwrap().contains("here is the quote."));
    assert_eq!(got.attachments.len(), 2);
    assert_eq!(got.attachments[0].name, "Quote.pdf");
    assert_eq!(got.attachments[0].mime_type, "application/pdf");
    assert_eq!(got.attachments[0].content, pdf_bytes, "binary attachment intact");
    assert_eq!(got.attachments[1].name, "Größe & Maße.txt");
    assert_eq!(got.attachments[1].content, "Zeile eins\nZeile zwei\n".as_bytes());

    // The sender's Sent copy.
    assert_eq!(copies_of(&o.folder("alice", "Sent"), &mid), 1, "one copy in alice's Sent folder");

    // Replies from outside: by In-Reply-To, and by the token alone.
    let reply = format!(
        "Message-ID: <r1@ext.test>\r\nIn-Reply-To: <{mid}>\r\nReferences: <{mid}>\r\nFrom: Bob Baker <{bob}>\r\nTo: {alice}\r\n\
         Subject: Re: Quote for Q3 {token}\r\nDate: Tue, 1 Sep 2026 10:00:00 +0000\r\n\r\nThanks!\r\n",
        bob = o.bob,
        alice = o.alice
    );
    o.deliver("alice", reply.as_bytes());
    let by_token = format!(
        "Message-ID: <r2@ext.test>\r\nFrom: Bob Baker <{bob}>\r\nTo: {alice}\r\nSubject: RE: about {token}\r\n\
         Date: Tue, 1 Sep 2026 11:00:00 +0000\r\n\r\nOne more thing\r\n",
        bob = o.bob,
        alice = o.alice
    );
    o.deliver("alice", by_token.as_bytes());
    o.sync();
    let emails = o.env.json(&["activity", "list", "--type", "email"]);
    let find = |m: &str| emails.as_array().unwrap().iter().find(|e| e["message_id"] == m).cloned().unwrap();
    let r1 = find("r1@ext.test");
    assert_eq!(r1["correlation_method"], "in_reply_to", "{r1:#}");
    assert_eq!(r1["regarding"]["type"], "contact");
    assert_eq!(r1["regarding"]["name"], "Bob Baker");
    let r2 = find("r2@ext.test");
    assert_eq!(r2["correlation_method"], "tracking_token", "{r2:#}");
    assert_eq!(r2["regarding"]["name"], "Bob Baker");

    // A second sync sends nothing again.
    assert!(o.sync().is_empty());
    assert_eq!(copies_of(&o.folder("bob", "INBOX"), &mid), 1);
}

#[test]
fn a_5xx_reply_fails_the_email_keeping_the_reply_and_raising_an_item_alert() {
    let o = Office::new();
    let reject = o.dovecot.address("reject-me");
    let created = o.send(&["--to", &reject, "--subject", "Hello", "--body", "hi"]);
    let report = o.sync();
    assert_eq!(report[0]["failed"], 1, "{report:#?}");
    assert_eq!(report[0]["result"], "ok", "one bad message never fails the mailbox");
    let shown = o.show(&created["id"]);
    assert_eq!(shown["status"], "failed");
    let err = shown["last_error"].as_str().unwrap();
    assert!(
        err.contains("SMTP_REJECTED") && err.contains("550") && err.contains("rejected by test policy"),
        "{err}"
    );
    let alerts = o.env.json(&["alert", "list"]);
    let alert =
        alerts.as_array().unwrap().iter().find(|a| a["code"] == "SMTP_REJECTED").expect("an item alert");
    assert_eq!(alert["scope"], "item");
    assert_eq!(alert["activity_id"], created["id"]);
    assert_eq!(alert["severity"], "error");
    // Nothing is retried; the admin can resubmit (after fixing the address).
    assert!(o.sync().is_empty());
    assert_eq!(o.env.json(&["email", "submit", &created["id"].to_string()])["status"], "pending_send");
}

#[test]
fn a_server_that_is_down_gives_retries_then_sent_once_it_is_back_and_4xx_gives_up_after_the_limit() {
    // The profile sends through a proxy the test can switch off.
    let o = Office::new();
    let proxy = FaultProxy::start("127.0.0.1", o.postfix.smtp_port()).unwrap();
    o.env.ok(&["profile", "update", "Office", "--outgoing-port", &proxy.port().to_string()]);
    o.env.ok(&["settings", "set", "outgoing.retry_interval_secs", "1"]);
    o.env.ok(&["settings", "set", "outgoing.max_delivery_attempts", "3"]);

    proxy.set_mode(FaultMode::Refuse);
    let created = o.send(&["--to", &o.bob, "--subject", "Down", "--body", "hi"]);
    let id = created["id"].clone();
    let report = o.sync();
    assert_eq!(report[0]["result"], "failed", "{report:#?}");
    assert_eq!(report[0]["code"], "CONNECTION_REFUSED");
    assert_eq!(report[0]["retried"], 1);
    let shown = o.show(&id);
    assert_eq!(shown["status"], "pending_send");
    assert_eq!(shown["delivery_attempts"], 1);
    assert!(shown["last_error"].as_str().unwrap().contains("CONNECTION_REFUSED"), "{shown:#}");
    let alerts = o.env.json(&["alert", "list", "--mailbox", &o.alice]);
    assert!(
        alerts.as_array().unwrap().iter().any(|a| a["scope"] == "mailbox" && a["severity"] == "warning"),
        "{alerts:#}"
    );
    // Not due yet: the backoff holds it.
    assert!(o.sync().is_empty());
    std::thread::sleep(Duration::from_millis(1100));
    o.sync();
    assert_eq!(o.show(&id)["delivery_attempts"], 2);

    proxy.set_mode(FaultMode::Forward);
    std::thread::sleep(Duration::from_millis(2100));
    let report = o.sync();
    assert_eq!(report[0]["sent"], 1, "{report:#?}");
    let shown = o.show(&id);
    assert_eq!(shown["status"], "sent");
    assert_eq!(shown["delivery_attempts"], 3);
    let mid = shown["message_id"].as_str().unwrap();
    o.wait_for("bob", mid);

    // A recipient the server defers (451) is retried, then fails at the limit.
    let later = o.send(&["--to", &o.dovecot.address("tempfail"), "--subject", "Later", "--body", "hi"]);
    let lid = later["id"].clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    while o.show(&lid)["status"] != "failed" {
        assert!(Instant::now() < deadline, "{:#}", o.show(&lid));
        let r = o.sync();
        if let Some(r) = r.first() {
            assert_eq!(r["result"], "ok", "a 4xx for one message is not a mailbox failure: {r:#}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let shown = o.show(&lid);
    assert_eq!(shown["delivery_attempts"], 3);
    let err = shown["last_error"].as_str().unwrap();
    assert!(err.contains("451") && err.contains("gave up after 3 attempts"), "{err}");
}

#[test]
fn a_connection_lost_mid_batch_puts_every_unsent_email_back_without_losing_an_attempt() {
    let o = Office::new();
    // Plain SMTP through a proxy that resets the connection after ~10
    // messages' worth of server replies: in the middle of a claimed batch.
    let proxy = FaultProxy::start("127.0.0.1", o.postfix.smtp_open_port()).unwrap();
    o.env.ok(&[
        "profile",
        "update",
        "Office",
        "--outgoing-port",
        &proxy.port().to_string(),
        "--outgoing-security",
        "none",
        "--outgoing-auth",
        "none",
        "--allow-insecure",
    ]);
    o.env.ok(&["settings", "set", "outgoing.retry_interval_secs", "1"]);
    let n = 20;
    for i in 0..n {
        o.send(&["--to", &o.bob, "--subject", &format!("b{i}"), "--body", "hi"]);
    }
    proxy.set_mode(FaultMode::Reset { after_bytes: 1400 });
    let first = o.sync();
    assert_eq!(
        (&first[0]["result"], &first[0]["code"]),
        (&"failed".into(), &"CONNECTION_LOST".into()),
        "{first:#?}"
    );
    let sent = first[0]["sent"].as_i64().unwrap();
    assert!((1..n).contains(&sent), "{first:#?}");
    assert_eq!(
        o.env.count("SELECT count(*) FROM emails WHERE status = 'sending'"),
        0,
        "no claim is left behind"
    );
    assert_eq!(o.env.count("SELECT count(*) FROM emails WHERE status = 'sent'"), sent);
    assert_eq!(o.env.count("SELECT count(*) FROM emails WHERE status = 'pending_send'"), n - sent);
    assert_eq!(
        o.env.count("SELECT count(*) FROM emails WHERE status = 'pending_send' AND delivery_attempts = 1"),
        1,
        "only the email on the wire when the connection broke used an attempt"
    );
    assert_eq!(
        o.env.count("SELECT count(*) FROM emails WHERE status = 'pending_send' AND delivery_attempts = 0"),
        n - sent - 1
    );

    proxy.set_mode(FaultMode::Forward);
    std::thread::sleep(Duration::from_millis(1100));
    let second = o.sync();
    assert_eq!(second[0]["sent"], n - sent, "{second:#?}");
    assert_eq!(o.env.count("SELECT count(*) FROM emails WHERE status = 'sent'"), n);
}

/// Runs `crmsync sync` and kills it (SIGKILL) once email `stall_id` is in
/// Sending (held at RCPT by the slow recipient).
fn sync_and_kill_while_sending(o: &Office, stall_id: i64) {
    let mut child = o.env.cmd(&["sync"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sending = o.env.count(&format!(
            "SELECT count(*) FROM emails WHERE activity_id = {stall_id} AND status = 'sending'"
        ));
        if sending == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "email {stall_id} never reached Sending");
        assert!(child.try_wait().unwrap().is_none(), "sync ended before the kill");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300)); // into the RCPT wait
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

#[test]
fn a_kill_9_while_sending_and_a_rerun_deliver_exactly_one_copy_per_message_id() {
    let maps = tempfile::tempdir().unwrap();
    let o = Office::with(slow_rcpt(maps.path(), 60), None);
    o.env.ok(&["settings", "set", "outgoing.sending_retry_interval_secs", "2"]);
    let n = 20;
    let stall_at = 12;
    let mut ids = Vec::new();
    for i in 0..n {
        let mut args = vec!["--to".to_string(), o.bob.clone()];
        if i == stall_at {
            args.extend(["--cc".to_string(), "slow@elsewhere.test".to_string()]);
        }
        args.extend(["--subject".into(), format!("m{i}"), "--body".into(), "x".repeat(2000)]);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        ids.push(o.send(&a)["id"].as_i64().unwrap());
    }
    sync_and_kill_while_sending(&o, ids[stall_at]);
    let killed_at = crmsync_core::time::now_db();
    // What the killed pass sent is in its send log (a file beside the store),
    // not yet in the store: the next pass folds it in before anything else.
    let logs = crmsync_core::store::send_log::dir_of(&o.env.db);
    assert_eq!(std::fs::read_dir(&logs).unwrap().count(), 1, "the killed pass's send log is left");

    // Rerun through the port without the slow rule (the message is still
    // addressed to the slow recipient). Right away, the interrupted email is
    // left alone: it could still be in flight.
    o.env.ok(&[
        "profile",
        "update",
        "Office",
        "--outgoing-port",
        &o.postfix.smtp_open_port().to_string(),
        "--outgoing-security",
        "none",
        "--outgoing-auth",
        "none",
        "--allow-insecure",
    ]);
    let first = o.sync();
    assert_eq!(first[0]["sent"], (n - stall_at - 1) as i64, "{first:#?}");
    for id in &ids[..stall_at] {
        let shown = o.show(&(*id).into());
        assert_eq!(shown["status"], "sent", "sent before the kill: {shown:#}");
        assert!(shown["sent_on"].as_str().unwrap() < killed_at.as_str(), "{shown:#}");
    }
    assert_eq!(std::fs::read_dir(&logs).unwrap().count(), 0, "folded in and removed");
    assert_eq!(o.show(&ids[stall_at].into())["status"], "sending");
    std::thread::sleep(Duration::from_millis(2100));
    let second = o.sync();
    assert_eq!(second[0]["resent"], 1, "{second:#?}");
    assert_eq!(second[0]["sent"], 1, "{second:#?}");
    assert_eq!(o.env.count("SELECT count(*) FROM emails WHERE status = 'sent'"), n as i64);
    let alerts = o.env.json(&["alert", "list"]);
    assert!(alerts.as_array().unwrap().iter().any(|a| a["code"] == "SEND_INTERRUPTED"), "{alerts:#}");

    let mids: Vec<String> =
        ids.iter().map(|id| o.show(&(*id).into())["message_id"].as_str().unwrap().to_string()).collect();
    // (Postfix's queue is not empty: the killed session's transaction sits in
    // `incoming` until its smtpd wakes up and finds the client gone.)
    let deadline = Instant::now() + Duration::from_secs(30);
    let inbox = loop {
        let inbox = o.folder("bob", "INBOX");
        if inbox.len() >= n || Instant::now() > deadline {
            break inbox;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(500)); // a late duplicate would show up by now
    let inbox = if inbox.len() >= n { o.folder("bob", "INBOX") } else { inbox };
    assert_eq!(inbox.len(), n, "bob's Inbox holds every message once");
    let sent_folder = o.folder("alice", "Sent");
    for (i, mid) in mids.iter().enumerate() {
        assert_eq!(copies_of(&inbox, mid), 1, "message {i} ({mid}) in bob's Inbox");
        assert_eq!(copies_of(&sent_folder, mid), 1, "message {i} ({mid}) in alice's Sent folder");
    }
}

#[test]
fn an_interrupted_send_found_in_the_sent_folder_is_not_sent_again() {
    let maps = tempfile::tempdir().unwrap();
    let o = Office::with(slow_rcpt(maps.path(), 60), None);
    o.env.ok(&["settings", "set", "outgoing.sending_retry_interval_secs", "1"]);
    let created = o.send(&["--to", "slow@elsewhere.test", "--subject", "Filed", "--body", "hi"]);
    let id = created["id"].as_i64().unwrap();
    let mid = created["message_id"].as_str().unwrap().to_string();
    sync_and_kill_while_sending(&o, id);
    // A server that files submitted mail itself (or an earlier run) left the copy.
    let copy = format!("Message-ID: <{mid}>\r\nFrom: {}\r\nSubject: Filed\r\n\r\nhi\r\n", o.alice);
    o.rt.block_on(o.dovecot.append("alice", PW, "Sent", &["\\Seen"], copy.as_bytes())).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let report = o.sync();
    assert_eq!(report[0]["recovered"], 1, "{report:#?}");
    assert_eq!(report[0]["sent"], 0, "{report:#?}");
    let shown = o.show(&id.into());
    assert_eq!(shown["status"], "sent");
    assert_eq!(shown["delivery_attempts"], 1);
}

#[test]
fn send_at_drafts_submit_and_cancel() {
    let o = Office::new();
    let later =
        o.send(&["--to", &o.bob, "--subject", "Later", "--body", "hi", "--send-at", "2099-01-01T00:00:00Z"]);
    let draft = o.send(&["--to", &o.bob, "--subject", "Draft", "--body", "hi", "--draft"]);
    assert_eq!(draft["status"], "draft");
    let doomed = o.send(&["--to", &o.bob, "--subject", "Doomed", "--body", "hi"]);
    assert_eq!(o.env.json(&["email", "cancel", &doomed["id"].to_string()])["status"], "canceled");
    assert!(o.sync().is_empty(), "nothing is due: a future send-at, a draft, a canceled email");
    assert_eq!(o.show(&later["id"])["status"], "pending_send");
    assert_eq!(o.show(&draft["id"])["status"], "draft");

    assert_eq!(o.env.json(&["email", "submit", &draft["id"].to_string()])["status"], "pending_send");
    let report = o.sync();
    assert_eq!(report[0]["sent"], 1, "{report:#?}");
    assert_eq!(o.show(&draft["id"])["status"], "sent");
    // Sent mail can be neither canceled nor submitted again (exit 2, unchanged).
    let out = o.env.run(&["email", "cancel", &draft["id"].to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let out = o.env.run(&["email", "submit", &later["id"].to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(o.show(&doomed["id"])["status"], "canceled");
}

/// A store without servers: alice's mailbox with outgoing enabled by hand.
fn offline() -> (Env, String) {
    let env = Env::new();
    env.ok(&["profile", "add", "Office", "--kind", "imap-smtp", "--incoming-host", "mail.example.test"]);
    env.ok(&["user", "add", "alice@example.test", "--name", "Alice"]);
    env.ok(&["user", "add", "carl@example.test", "--name", "Carl"]);
    let out = env
        .run_stdin(&["mailbox", "add", "alice@example.test", "--profile", "Office", "--password-stdin"], PW);
    assert!(out.status.success());
    let out = env.run_stdin(
        &[
            "mailbox",
            "add",
            "carl@example.test",
            "--profile",
            "Office",
            "--outgoing",
            "none",
            "--password-stdin",
        ],
        PW,
    );
    assert!(out.status.success());
    let mut store = env.store();
    let mb = crmsync_core::store::mailboxes::get(store.conn(), "alice@example.test").unwrap();
    store
        .write(|tx| {
            crmsync_core::store::mailbox_state::set_enabled(
                tx,
                mb.id,
                crmsync_core::store::mailbox_state::Channel::Outgoing,
                true,
                None,
            )
        })
        .unwrap();
    (env, "alice@example.test".into())
}

/// Runs a command that must fail as invalid input: exit 2, one line naming `field`, store unchanged.
fn assert_invalid(env: &Env, args: &[&str], field: &str) {
    let before = env.snapshot();
    let out = env.run(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
    assert!(err.contains(&format!("{field}:")), "{args:?} should name {field}: {err}");
    assert_eq!(env.snapshot(), before, "{args:?} changed the store");
}

#[test]
fn bad_email_send_input_exits_2_naming_the_field_and_creates_nothing() {
    let (env, alice) = offline();
    let big = env.dir().join("big.bin");
    std::fs::write(&big, vec![0u8; 2 * 1024 * 1024]).unwrap();
    env.ok(&["settings", "set", "attachments.max_size_kb", "1024"]);
    let base = |extra: &[&str]| {
        let mut v = vec!["email", "send", "--subject", "s", "--body", "b"];
        v.extend_from_slice(extra);
        v.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (base(&["--from", "nobody@example.test", "--to", "x@example.test"]), "from"),
        (base(&["--from", "carl@example.test", "--to", "x@example.test"]), "from"),
        (base(&["--from", &alice, "--to", "not an address"]), "to"),
        (base(&["--from", &alice, "--to", "x@example.test", "--cc", "a@b@c"]), "cc"),
        (base(&["--from", &alice, "--to", "x@example.test", "--attach", "/no/such/file.pdf"]), "attach"),
        (base(&["--from", &alice, "--to", "x@example.test", "--attach", big.to_str().unwrap()]), "attach"),
        (
            base(&["--from", &alice, "--to", "x@example.test", "--regarding", "contact:nobody@x.test"]),
            "regarding",
        ),
        (base(&["--from", &alice, "--to", "x@example.test", "--send-at", "tomorrow"]), "send-at"),
        (base(&["--from", &alice, "--to", "x@example.test", "--in-reply-to", "999"]), "in-reply-to"),
        (base(&["--from", &alice]), "to"),
    ];
    for (args, field) in &cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_invalid(&env, &a, field);
    }
    assert_invalid(&env, &["email", "submit", "12345"], "id");
    assert_invalid(&env, &["email", "cancel", "abc"], "id");

    // Good input: Pending Send with what correlation needs.
    let v = env.json(&[
        "email",
        "send",
        "--from",
        &alice,
        "--to",
        "x@example.test,Y <y@example.test>",
        "--bcc",
        "z@example.test",
        "--subject",
        "Quote",
        "--body",
        "b",
    ]);
    assert_eq!(v["status"], "pending_send");
    assert_eq!(v["delivery_attempts"], 0);
    assert_eq!(v["to"].as_array().unwrap().len(), 2);
    assert_eq!(v["bcc"][0]["address"], "z@example.test");
    let id = v["id"].as_i64().unwrap();
    let store = env.store();
    let (mid, key, token, hash): (String, String, String, Option<String>) = store
        .conn()
        .query_row(
            "SELECT message_id, dedupe_key, tracking_token, subject_hash FROM emails WHERE activity_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(mid, key, "dedupe_key = message_id");
    assert!(mid.ends_with("@example.test"));
    assert_eq!(token, "CRM:0000001");
    assert!(hash.is_some());
    // A reply to it threads and a draft needs no enabled channel check until submit.
    let reply = env.json(&[
        "email",
        "send",
        "--from",
        &alice,
        "--to",
        "x@example.test",
        "--subject",
        "Re: Quote",
        "--body",
        "b",
        "--in-reply-to",
        &id.to_string(),
        "--draft",
    ]);
    assert_eq!(reply["in_reply_to"], mid.as_str());
    assert_eq!(reply["status"], "draft");
}

#[test]
fn an_authentication_failure_is_a_mailbox_alert_and_the_mail_waits_without_losing_an_attempt() {
    let o = Office::new();
    o.dovecot.set_password("alice", "changed-elsewhere").unwrap();
    let created = o.send(&["--to", &o.bob, "--subject", "Waits", "--body", "hi"]);
    let report = o.sync();
    let out = report.iter().find(|r| r["mailbox"] == o.alice.as_str()).unwrap();
    assert_eq!(out["result"], "failed", "{report:#?}");
    assert_eq!(out["code"], "SMTP_AUTH_FAILED", "{report:#?}");
    let shown = o.show(&created["id"]);
    assert_eq!(shown["status"], "pending_send", "the email waits instead of failing");
    assert_eq!(shown["delivery_attempts"], 0, "a mailbox problem costs the email no attempt");
    let alerts = o.env.json(&["alert", "list", "--mailbox", &o.alice]);
    assert!(
        alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["code"] == "SMTP_AUTH_FAILED" && a["scope"] == "mailbox" && a["severity"] == "error"),
        "{alerts:#}"
    );
}

#[test]
fn implicit_tls_smtp_delivers_and_an_untrusted_certificate_is_refused() {
    let o = Office::new();
    o.env.ok(&[
        "profile",
        "update",
        "Office",
        "--outgoing-port",
        &o.postfix.smtps_port().to_string(),
        "--outgoing-security",
        "tls",
    ]);
    assert_eq!(o.env.json(&["mailbox", "test-enable", &o.alice])["overall"], "success");
    o.send(&["--to", &o.bob, "--subject", "Over implicit TLS", "--body", "465 style"]);
    let report = o.sync();
    assert_eq!(report[0]["sent"], 1, "{report:#?}");
    o.wait_for("bob", "Over implicit TLS");

    // Without the test CA the same server is not trusted: verified TLS, always.
    let mut untrusted = Env::new();
    untrusted.envs.clear();
    let db = untrusted.db.clone();
    std::fs::copy(&o.env.db, &db).unwrap();
    std::fs::copy(crmsync_core::secrets::key_file_path(&o.env.db), crmsync_core::secrets::key_file_path(&db))
        .unwrap();
    let out = untrusted.run(&["--json", "mailbox", "test-enable", &o.alice]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let outgoing =
        report["channels"].as_array().unwrap().iter().find(|c| c["channel"] == "outgoing").unwrap();
    assert_eq!(outgoing["code"], "TLS_CERT_INVALID", "{report:#}");
}

#[test]
fn mail_of_a_disabled_mailbox_raises_one_waiting_alert_shown_on_the_email_that_clears_once_it_is_sent() {
    let o = Office::new();
    // Queued while the mailbox worked; then it was disabled.
    let a = o.send(&["--to", &o.bob, "--subject", "Stuck one", "--body", "hi"]);
    let b = o.send(&["--to", &o.bob, "--subject", "Stuck two", "--body", "hi"]);
    o.env.ok(&["mailbox", "disable", &o.alice]);
    let waiting = |o: &Office| -> Vec<Value> {
        let alerts = o.env.json(&["alert", "list", "--mailbox", &o.alice]);
        alerts.as_array().unwrap().iter().filter(|a| a["code"] == "OUTGOING_WAITING").cloned().collect()
    };
    for _ in 0..2 {
        let report = o.sync();
        assert!(report.iter().all(|r| r["result"] != "ok"), "{report:#?}");
        let found = waiting(&o);
        assert_eq!(found.len(), 1, "one alert, raised once: {found:#?}");
        assert_eq!(found[0]["severity"], "warning");
        assert_eq!(found[0]["scope"], "mailbox");
        assert_eq!(found[0]["count"], 1, "not raised again by the next pass: {found:#?}");
        let msg = found[0]["message"].as_str().unwrap();
        assert!(msg.contains("2 emails wait") && msg.contains("not enabled"), "{msg}");
        assert!(found[0]["hint"].as_str().unwrap().contains("Pending Send"), "{found:#?}");
    }
    for id in [&a["id"], &b["id"]] {
        let shown = o.show(id);
        assert_eq!(shown["status"], "pending_send", "{shown:#}");
        let note = shown["last_error"].as_str().unwrap_or_default();
        assert!(note.contains("not enabled"), "the email says why it waits: {shown:#}");
    }

    o.env.ok(&["mailbox", "enable", &o.alice]);
    let report = o.sync();
    let out = report.iter().find(|r| r["mailbox"] == o.alice.as_str()).unwrap();
    assert_eq!(out["sent"], 2, "{report:#?}");
    assert!(waiting(&o).is_empty(), "the alert is resolved once the mail went out");
    for (id, mid) in [(&a["id"], &a["message_id"]), (&b["id"], &b["message_id"])] {
        let shown = o.show(id);
        assert_eq!(shown["status"], "sent", "{shown:#}");
        assert!(shown["last_error"].is_null(), "{shown:#}");
        let mid = mid.as_str().unwrap();
        o.wait_for("bob", mid);
        assert_eq!(copies_of(&o.folder("bob", "INBOX"), mid), 1);
    }
}

#[test]
fn the_waiting_alert_clears_when_the_queue_empties() {
    let o = Office::new();
    let a = o.send(&["--to", &o.bob, "--subject", "Never mind", "--body", "hi"]);
    o.env.ok(&["mailbox", "disable", &o.alice]);
    o.sync();
    let codes = |o: &Office| -> Vec<String> {
        let alerts = o.env.json(&["alert", "list", "--mailbox", &o.alice]);
        alerts.as_array().unwrap().iter().map(|a| a["code"].as_str().unwrap().to_string()).collect()
    };
    assert!(codes(&o).iter().any(|c| c == "OUTGOING_WAITING"), "{:?}", codes(&o));
    o.env.ok(&["email", "cancel", &a["id"].to_string()]);
    o.sync();
    assert!(!codes(&o).iter().any(|c| c == "OUTGOING_WAITING"), "{:?}", codes(&o));
}
