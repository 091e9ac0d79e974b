//! Outgoing email when something goes wrong around the server's verdict on a
//! message: a local error while the reply is pending, a reply that never
//! comes or comes late (a scripted SMTP server that misbehaves on demand), and
//! an interrupted send on a server without a Sent folder (real Dovecot).

mod common;
mod outgoing_support;

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crmsync_tests::{DovecotOptions, PostfixOptions};
use outgoing_support::{Office, copies_of, slow_rcpt};
use serde_json::Value;

/// What the scripted server does once it has a message's closing dot.
#[derive(Debug, Clone, Copy)]
enum AfterDot {
    /// Closes the connection without a reply.
    Close,
    /// Replies 250 after this long.
    ReplyAfter(Duration),
    /// Replies 421 (closing, message not taken) and closes the connection.
    Refuse421,
}

/// A minimal SMTP server on a loopback port: EHLO, MAIL, RCPT, DATA, QUIT,
/// answering the closing dot as told; it keeps every message it took in.
struct Scripted {
    port: u16,
    mode: Arc<Mutex<AfterDot>>,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Scripted {
    fn start(mode: AfterDot) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(Mutex::new(mode));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (m, r) = (mode.clone(), received.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (m, r) = (m.clone(), r.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &m, &r);
                });
            }
        });
        Scripted { port, mode, received }
    }

    fn set(&self, mode: AfterDot) {
        *self.mode.lock().unwrap() = mode;
    }

    /// How many messages with this Message-ID the server took in.
    fn count(&self, message_id: &str) -> usize {
        copies_of(&self.received.lock().unwrap(), message_id)
    }
}

fn serve(stream: TcpStream, mode: &Mutex<AfterDot>, received: &Mutex<Vec<Vec<u8>>>) -> std::io::Result<()> {
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    w.write_all(b"220 scripted.test ESMTP\r\n")?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let verb = String::from_utf8_lossy(&line[..line.len().min(4)]).to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => w.write_all(b"250-scripted.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?,
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => w.write_all(b"250 2.0.0 Ok\r\n")?,
            "QUIT" => {
                w.write_all(b"221 2.0.0 Bye\r\n")?;
                return Ok(());
            }
            "DATA" => {
                w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                let mut message = Vec::new();
                loop {
                    line.clear();
                    if r.read_until(b'\n', &mut line)? == 0 {
                        return Ok(()); // the client left mid-message: nothing taken in
                    }
                    if line == b".\r\n" {
                        break;
                    }
                    let unstuffed = if line.starts_with(b"..") { &line[1..] } else { &line[..] };
                    message.extend_from_slice(unstuffed);
                }
                received.lock().unwrap().push(message);
                let after = *mode.lock().unwrap();
                match after {
                    AfterDot::Close => {
                        w.shutdown(Shutdown::Both)?;
                        return Ok(());
                    }
                    AfterDot::Refuse421 => {
                        w.write_all(b"421 4.3.2 Shutting down, message not accepted\r\n")?;
                        w.shutdown(Shutdown::Both)?;
                        return Ok(());
                    }
                    AfterDot::ReplyAfter(d) => {
                        std::thread::sleep(d);
                        w.write_all(b"250 2.0.0 Ok: queued as SCRIPTED\r\n")?;
                    }
                }
            }
            _ => w.write_all(b"502 5.5.2 Command not recognized\r\n")?,
        }
    }
}

/// An office whose profile sends to the scripted server (plaintext, no AUTH);
/// IMAP (the Sent folder) stays on the real Dovecot.
fn office_on(server: &Scripted) -> Office {
    let o = Office::new();
    o.env.ok(&[
        "profile",
        "update",
        "Office",
        "--outgoing-port",
        &server.port.to_string(),
        "--outgoing-security",
        "none",
        "--outgoing-auth",
        "none",
        "--allow-insecure",
    ]);
    o
}

fn alerts_with(o: &Office, code: &str) -> Vec<Value> {
    let alerts = o.env.json(&["alert", "list"]);
    alerts.as_array().unwrap().iter().filter(|a| a["code"] == code).cloned().collect()
}

/// Copies of `message_id` in bob's Inbox, once Postfix had time to deliver
/// what it accepted (a late duplicate would show up by then).
fn delivered_to_bob(o: &Office, message_id: &str) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    while copies_of(&o.folder("bob", "INBOX"), message_id) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(700));
    copies_of(&o.folder("bob", "INBOX"), message_id)
}

#[test]
fn a_local_error_while_the_next_email_is_prepared_still_reads_and_records_the_reply_before_it() {
    let o = Office::new();
    o.env.ok(&["settings", "set", "outgoing.sending_retry_interval_secs", "1"]);
    let first = o.send(&["--to", &o.bob, "--subject", "First", "--body", "hi"]);
    let second = o.send(&["--to", &o.bob, "--subject", "Second", "--body", "hi"]);
    let (id1, id2) = (first["id"].as_i64().unwrap(), second["id"].as_i64().unwrap());
    let mid1 = first["message_id"].as_str().unwrap().to_string();
    // The second email cannot be loaded (its sender row is gone): the error
    // comes while the pass prepares it, with the first one's reply pending.
    o.env
        .store()
        .conn()
        .execute("DELETE FROM activity_parties WHERE activity_id = ?1 AND role = 'from'", [id2])
        .unwrap();

    let report = o.sync();
    assert_eq!(report[0]["result"], "failed", "the local error is surfaced: {report:#?}");
    assert_eq!(report[0]["sent"], 1, "{report:#?}");
    let shown = o.show(&id1.into());
    assert_eq!(shown["status"], "sent", "the reply was read and recorded: {shown:#}");
    assert_eq!(shown["delivery_attempts"], 1);
    let broken = o.show(&id2.into());
    assert_eq!(broken["status"], "pending_send", "never started, back in the queue: {broken:#}");
    assert_eq!(broken["delivery_attempts"], 0, "{broken:#}");

    // Later passes (past the sending retry interval) never send the first again.
    std::thread::sleep(Duration::from_millis(1100));
    o.sync();
    assert!(alerts_with(&o, "SEND_INTERRUPTED").is_empty(), "{:#}", o.env.json(&["alert", "list"]));
    assert_eq!(delivered_to_bob(&o, &mid1), 1, "delivered exactly once");
    assert_eq!(copies_of(&o.folder("alice", "Sent"), &mid1), 1, "filed in Sent once");
}

#[test]
fn a_store_busy_past_its_timeout_at_the_next_claim_still_records_the_email_on_the_wire_as_sent() {
    // The 10th email waits 2 s at RCPT (Postfix's `sleep`): time to take the
    // store's write lock after the pass claimed its first batch of 16. The
    // second batch is claimed while the 16th email's reply is pending, and
    // waits out the busy timeout (15 s) for the lock.
    let maps = tempfile::tempdir().unwrap();
    let o = Office::with(slow_rcpt(maps.path(), 2), None);
    o.env.ok(&["settings", "set", "outgoing.sending_retry_interval_secs", "1"]);
    let n = 17;
    let mut created = Vec::new();
    for i in 0..n {
        let mut args = vec!["--to", o.bob.as_str(), "--subject", "busy", "--body", "hi"];
        if i == 9 {
            args.extend(["--cc", "slow@elsewhere.test"]);
        }
        created.push(o.send(&args));
    }
    let store = o.env.store();
    let child = o.env.cmd(&["--json", "sync"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let count = |sql: &str| -> i64 { store.conn().query_row(sql, [], |r| r.get(0)).unwrap() };
    let deadline = Instant::now() + Duration::from_secs(30);
    while count("SELECT count(*) FROM emails WHERE status = 'sending'") < 16 {
        assert!(Instant::now() < deadline, "the first batch was never claimed");
        std::thread::sleep(Duration::from_millis(2));
    }
    store.conn().execute_batch("BEGIN IMMEDIATE").unwrap();
    std::thread::sleep(Duration::from_secs(18));
    store.conn().execute_batch("COMMIT").unwrap();
    let out = child.wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("no JSON: {}", String::from_utf8_lossy(&out.stderr)));
    let report = report.as_array().unwrap().iter().find(|r| r["channel"] == "outgoing").unwrap().clone();
    assert_eq!((&report["result"], &report["code"]), (&"failed".into(), &"STORE_ERROR".into()), "{report:#}");
    assert_eq!(report["sent"], 16, "{report:#}");
    let sixteenth = o.show(&created[15]["id"]);
    assert_eq!(
        sixteenth["status"], "sent",
        "its reply was read before the error stopped the pass: {sixteenth:#}"
    );

    std::thread::sleep(Duration::from_millis(1100));
    let next = o.sync();
    assert_eq!((&next[0]["sent"], &next[0]["resent"]), (&1.into(), &0.into()), "{next:#?}");
    assert!(alerts_with(&o, "SEND_INTERRUPTED").is_empty());
    let mids: Vec<&str> = created.iter().map(|c| c["message_id"].as_str().unwrap()).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while o.folder("bob", "INBOX").len() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(700)); // a late duplicate would show up by now
    let inbox = o.folder("bob", "INBOX");
    for (i, mid) in mids.iter().enumerate() {
        assert_eq!(o.show(&created[i]["id"])["status"], "sent", "email {i}");
        assert_eq!(copies_of(&inbox, mid), 1, "email {i} ({mid}) delivered once");
    }
}

#[test]
fn a_lost_final_reply_is_not_retried_blindly_and_is_resent_only_after_the_sent_folder_check() {
    let server = Scripted::start(AfterDot::Close);
    let o = office_on(&server);
    o.env.ok(&["settings", "set", "outgoing.retry_interval_secs", "1"]);
    let created = o.send(&["--to", &o.bob, "--subject", "No reply", "--body", "hi"]);
    let id = created["id"].as_i64().unwrap();
    let mid = created["message_id"].as_str().unwrap().to_string();

    let report = o.sync();
    assert_eq!(report[0]["unconfirmed"], 1, "{report:#?}");
    assert_eq!(report[0]["retried"], 0, "{report:#?}");
    assert_eq!(server.count(&mid), 1);
    let shown = o.show(&id.into());
    assert_eq!(shown["status"], "sending", "delivery unknown: {shown:#}");
    assert!(shown["last_error"].as_str().unwrap().contains("DELIVERY_UNKNOWN"), "{shown:#}");
    let warned = alerts_with(&o, "DELIVERY_UNKNOWN");
    assert_eq!(warned.len(), 1, "{warned:#?}");
    assert_eq!(warned[0]["severity"], "warning");
    assert_eq!(warned[0]["activity_id"], id);
    assert!(warned[0]["message"].as_str().unwrap().contains(&mid), "{warned:#?}");
    assert!(warned[0]["hint"].as_str().unwrap().contains("Sent folder"), "{warned:#?}");

    // Past the retry interval of a transient failure: still not sent again.
    server.set(AfterDot::ReplyAfter(Duration::ZERO));
    std::thread::sleep(Duration::from_millis(1200));
    o.sync();
    o.sync();
    assert_eq!(server.count(&mid), 1, "not sent again without the Sent-folder check");
    assert_eq!(o.show(&id.into())["status"], "sending");

    // After the sending retry interval the Sent folder is checked: absent, so
    // it is sent again, once, with a warning.
    o.env.ok(&["settings", "set", "outgoing.sending_retry_interval_secs", "1"]);
    std::thread::sleep(Duration::from_millis(1100));
    let report = o.sync();
    assert_eq!(report[0]["resent"], 1, "{report:#?}");
    assert_eq!(report[0]["sent"], 1, "{report:#?}");
    assert_eq!(alerts_with(&o, "SEND_INTERRUPTED").len(), 1);
    assert_eq!(o.show(&id.into())["status"], "sent");
    std::thread::sleep(Duration::from_millis(1100));
    o.sync();
    assert_eq!(server.count(&mid), 2, "one resend, after the check");
}

#[test]
fn a_421_to_the_closing_dot_is_a_refusal_retried_later_not_an_unknown_delivery() {
    let server = Scripted::start(AfterDot::Refuse421);
    let o = office_on(&server);
    o.env.ok(&["settings", "set", "outgoing.retry_interval_secs", "1"]);
    let created = o.send(&["--to", &o.bob, "--subject", "Refused", "--body", "hi"]);
    let report = o.sync();
    assert_eq!((&report[0]["retried"], &report[0]["unconfirmed"]), (&1.into(), &0.into()), "{report:#?}");
    let shown = o.show(&created["id"]);
    assert_eq!(shown["status"], "pending_send", "{shown:#}");
    assert!(shown["last_error"].as_str().unwrap().contains("421"), "{shown:#}");
    assert!(alerts_with(&o, "DELIVERY_UNKNOWN").is_empty());
    server.set(AfterDot::ReplyAfter(Duration::ZERO));
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(o.sync()[0]["sent"], 1);
    assert_eq!(o.show(&created["id"])["status"], "sent");
}

#[test]
fn a_final_reply_slower_than_the_command_timeout_is_awaited_and_the_email_sent_once() {
    let server = Scripted::start(AfterDot::ReplyAfter(Duration::from_millis(2500)));
    let o = office_on(&server);
    o.env.ok(&["profile", "update", "Office", "--timeout", "1"]);
    o.env.ok(&["settings", "set", "outgoing.final_reply_timeout_secs", "10"]);
    o.env.ok(&["settings", "set", "outgoing.retry_interval_secs", "1"]);
    let created = o.send(&["--to", &o.bob, "--subject", "Slow filter", "--body", "hi"]);
    let mid = created["message_id"].as_str().unwrap().to_string();

    let report = o.sync();
    assert_eq!(report[0]["sent"], 1, "{report:#?}");
    assert_eq!(report[0]["result"], "ok", "{report:#?}");
    assert_eq!(o.show(&created["id"])["status"], "sent");
    std::thread::sleep(Duration::from_millis(1200));
    o.sync();
    assert_eq!(server.count(&mid), 1, "sent once");
}

#[test]
fn an_interrupted_send_on_a_server_without_a_sent_folder_does_not_block_the_mailbox() {
    // Dovecot without the Sent folder the harness normally creates.
    let no_sent = "namespace inbox {\n  mailbox Sent {\n    auto = no\n    special_use =\n  }\n}\n";
    let options = DovecotOptions { extra_config: no_sent.into(), ..DovecotOptions::default() };
    let o = Office::build(options, PostfixOptions::default(), None);
    let folders = o.rt.block_on(o.dovecot.list_folders("alice", outgoing_support::PW)).unwrap();
    assert!(!format!("{folders:?}").contains("Sent"), "{folders:?}");
    let interrupted = o.send(&["--to", &o.bob, "--subject", "Interrupted", "--body", "hi"]);
    let waiting = o.send(&["--to", &o.bob, "--subject", "Waiting", "--body", "hi"]);
    let (id1, id2) = (interrupted["id"].as_i64().unwrap(), waiting["id"].as_i64().unwrap());
    // The first was on the wire when its pass stopped an hour ago.
    let then = crmsync_core::time::to_db(crmsync_core::time::now() - chrono::Duration::hours(1));
    o.env
        .store()
        .conn()
        .execute(
            &format!(
                "UPDATE emails SET status = 'sending', sending_since = '{then}', smtp_started_on = '{then}', \
                 delivery_attempts = 1, claim_token = 'stopped-pass' WHERE activity_id = ?1"
            ),
            [id1],
        )
        .unwrap();

    let report = o.sync();
    assert_eq!(report[0]["result"], "ok", "{report:#?}");
    assert_eq!(report[0]["resent"], 1, "{report:#?}");
    assert_eq!(report[0]["sent"], 2, "{report:#?}");
    for id in [id1, id2] {
        assert_eq!(o.show(&id.into())["status"], "sent");
    }
    let warned = alerts_with(&o, "SEND_INTERRUPTED");
    assert_eq!(warned.len(), 1, "{warned:#?}");
    assert_eq!(warned[0]["activity_id"], id1);
    assert!(alerts_with(&o, "MAILBOX_NOT_FOUND").is_empty(), "a missing Sent folder is no mailbox failure");
    // The lookup found no Sent folder; filing the copies created it.
    assert_eq!(report[0]["copies_saved"], 2, "{report:#?}");
    assert!(alerts_with(&o, "SENT_FOLDER_MISSING").is_empty(), "the missing folder was created");
    let filed = o.folder("alice", "Sent");
    for created in [&interrupted, &waiting] {
        let mid = created["message_id"].as_str().unwrap();
        assert_eq!(delivered_to_bob(&o, mid), 1, "{mid} delivered once");
        assert_eq!(copies_of(&filed, mid), 1, "{mid} filed once");
    }
    assert!(o.sync().is_empty(), "nothing left to do");
}
