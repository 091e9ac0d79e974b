//! Proves the real-server harness: Dovecot, Postfix, Radicale, the fault proxy,
//! and that no server outlives a panicking test.

use std::time::{Duration, Instant};

use crmsync_tests::process::{pid_exists, process_group_members};
use crmsync_tests::{
    Dovecot, FaultMode, FaultProxy, ImapClient, Pop3Client, Postfix, Radicale, SmtpClient, TestCa, send_mail,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(20);

fn message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Sender <sender@example.test>\r\nTo: alice@example.test\r\n\
         Subject: {subject}\r\nMessage-ID: <{subject}@harness.test>\r\n\
         Date: Mon, 02 Jun 2025 10:00:00 +0000\r\n\r\n{body}"
    )
    .into_bytes()
}

#[tokio::test]
async fn dovecot_accepts_imap_login_and_offers_the_extensions_and_special_use_folders() {
    let dc = Dovecot::start().unwrap();
    dc.add_user("alice", "secret").unwrap();

    let mut imap = ImapClient::connect(dc.host(), dc.imap_port()).await.unwrap();
    assert!(!imap.is_tls());
    imap.login("alice@example.test", "secret").await.unwrap();
    let caps = imap.capabilities().await.unwrap();
    for cap in ["IDLE", "UIDPLUS", "CONDSTORE", "SPECIAL-USE"] {
        assert!(caps.iter().any(|c| c == cap), "{cap} missing from {caps:?}");
    }
    let folders = imap.list().await.unwrap();
    for (name, flag) in [("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash")] {
        let entry = folders.iter().find(|f| f.name == name);
        let entry = entry.unwrap_or_else(|| panic!("{name} missing from {folders:?}"));
        assert!(entry.attributes.iter().any(|a| a == flag), "{entry:?}");
    }
    imap.logout().await;
}

#[tokio::test]
async fn dovecot_imaps_login_is_verified_against_the_harness_ca_only() {
    let dc = Dovecot::start().unwrap();
    dc.add_user("alice", "secret").unwrap();
    assert!(dc.ca_pem().contains("BEGIN CERTIFICATE"));
    assert!(dc.ca_path().exists());

    for name in ["localhost", "127.0.0.1"] {
        let config = crmsync_tests::client_config(dc.ca_pem()).unwrap();
        let mut imap = ImapClient::connect_tls(dc.host(), dc.imaps_port(), name, config).await.unwrap();
        assert!(imap.is_tls());
        imap.login("alice", "secret").await.unwrap();
        imap.logout().await;
    }

    // A client trusting a different CA must refuse the server.
    let other_dir = tempfile::tempdir().unwrap();
    let other = TestCa::generate(other_dir.path()).unwrap();
    let err =
        ImapClient::connect_tls(dc.host(), dc.imaps_port(), "localhost", other.client_config().unwrap())
            .await
            .unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");
}

#[tokio::test]
async fn dovecot_accepts_pop3_and_pop3s_logins() {
    let dc = Dovecot::start().unwrap();
    dc.add_user("bob", "pop-secret").unwrap();
    dc.deliver("bob", &message("pop", "hello pop\r\n")).await.unwrap();

    let mut pop = Pop3Client::connect(dc.host(), dc.pop3_port()).await.unwrap();
    pop.login("bob", "pop-secret").await.unwrap();
    assert_eq!(pop.stat().await.unwrap().0, 1);
    pop.quit().await;

    let config = dc.client_config().unwrap();
    let mut pops = Pop3Client::connect_tls(dc.host(), dc.pop3s_port(), "localhost", config).await.unwrap();
    assert!(pops.is_tls());
    pops.login("bob@example.test", "pop-secret").await.unwrap();
    assert_eq!(pops.stat().await.unwrap().0, 1);
    pops.quit().await;

    let mut bad = Pop3Client::connect(dc.host(), dc.pop3_port()).await.unwrap();
    assert!(bad.login("bob", "wrong").await.is_err());
}

#[tokio::test]
async fn lmtp_delivered_message_shows_up_in_inbox_with_intact_bytes() {
    let dc = Dovecot::start().unwrap();
    dc.add_user("alice", "secret").unwrap();
    // Leading dots, an 8-bit line and a line that is only a dot must survive.
    let raw = message("lmtp-bytes", ".leading dot\r\n.\r\n..two dots\r\nnaïve café\r\nlast line\r\n");
    dc.deliver("alice", &raw).await.unwrap();
    dc.deliver_from("alice", "carol@example.test", &message("second", "x\r\n")).await.unwrap();

    let inbox = dc.list_inbox("alice", "secret").await.unwrap();
    assert_eq!(inbox.len(), 2);
    let mut expected = b"Return-Path: <>\r\n".to_vec();
    expected.extend_from_slice(&raw);
    assert_eq!(String::from_utf8_lossy(&inbox[0].raw), String::from_utf8_lossy(&expected));
    assert_eq!(inbox[0].raw, expected);
    assert!(inbox[1].raw.starts_with(b"Return-Path: <carol@example.test>\r\n"));
    assert!(inbox[0].uid < inbox[1].uid);
    assert!(!inbox[0].has_flag("\\Seen"), "list_inbox must not mark messages seen");
}

#[tokio::test]
async fn changed_password_takes_effect_at_once_and_removed_user_cannot_log_in() {
    let dc = Dovecot::start().unwrap();
    dc.add_user("alice", "old-pass").unwrap();
    dc.imap_session("alice", "old-pass").await.unwrap().logout().await;

    dc.set_password("alice", "new:pass \"quoted\"").unwrap();
    let err = dc.imap_session("alice", "old-pass").await.unwrap_err();
    assert!(err.to_string().contains("LOGIN"), "{err}");
    dc.imap_session("alice", "new:pass \"quoted\"").await.unwrap().logout().await;

    dc.remove_user("alice").unwrap();
    assert!(dc.imap_session("alice", "new:pass \"quoted\"").await.is_err());
    assert!(dc.deliver("alice", &message("gone", "x\r\n")).await.is_err());
}

#[tokio::test]
async fn folders_can_be_created_and_appended_to_and_uidvalidity_can_be_forced_to_change() {
    let dc = Dovecot::start().unwrap();
    dc.add_user("alice", "secret").unwrap();
    dc.create_folder("alice", "secret", "Projects/Acme").await.unwrap();
    let raw = message("appended", "kept byte for byte\r\n");
    let uid = dc.append("alice", "secret", "Projects/Acme", &["\\Seen"], &raw).await.unwrap();
    dc.append("alice", "secret", "Sent", &[], &message("sent", "s\r\n")).await.unwrap();

    let messages = dc.fetch_folder("alice", "secret", "Projects/Acme").await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].uid, uid);
    assert_eq!(messages[0].raw, raw);
    assert!(messages[0].has_flag("\\Seen"));

    for folder in ["Projects/Acme", "INBOX", "Sent"] {
        let before = dc.uidvalidity("alice", "secret", folder).await.unwrap();
        dc.reset_uidvalidity("alice", folder).unwrap();
        let after = dc.uidvalidity("alice", "secret", folder).await.unwrap();
        assert_ne!(before, after, "{folder}");
        assert!(after > before, "{folder}: {before} -> {after}");
    }
    let again = dc.fetch_folder("alice", "secret", "Projects/Acme").await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].raw, raw);
    assert!(again[0].has_flag("\\Seen"));
    assert_eq!(dc.fetch_folder("alice", "secret", "Sent").await.unwrap().len(), 1);
}

#[tokio::test]
async fn postfix_auth_plain_relays_a_message_into_the_dovecot_inbox() {
    let dc = Dovecot::start().unwrap();
    dc.add_user("alice", "secret").unwrap();
    dc.add_user("sender", "send-pass").unwrap();
    let pf = Postfix::start(&dc).unwrap();

    let mut smtp = SmtpClient::connect("smtp", pf.host(), pf.smtp_port()).await.unwrap();
    let ehlo = smtp.ehlo("client.test").await.unwrap();
    assert!(ehlo.has_line_starting("AUTH") && ehlo.text().contains("PLAIN"), "{ehlo}");
    assert!(ehlo.has_line_starting("STARTTLS"), "{ehlo}");
    let auth = smtp.auth_plain("sender@example.test", "send-pass").await.unwrap();
    assert_eq!(auth.code, 235, "{auth}");
    assert_eq!(smtp.mail_from("sender@example.test").await.unwrap().code, 250);
    assert_eq!(smtp.rcpt_to("alice@example.test").await.unwrap().code, 250);
    let raw = message("via-postfix", "relayed body\r\n");
    assert_eq!(smtp.data(&raw).await.unwrap().code, 250);
    smtp.quit().await;

    let got =
        dc.wait_for_message("alice", "secret", "INBOX", b"via-postfix@harness.test", WAIT).await.unwrap();
    assert!(got.raw.ends_with(b"\r\n\r\nrelayed body\r\n"));
    pf.wait_until_delivered(WAIT).await.unwrap();

    // AUTH LOGIN works too, and a wrong password is refused.
    let mut smtp = SmtpClient::connect("smtp", pf.host(), pf.smtp_port()).await.unwrap();
    smtp.ehlo("client.test").await.unwrap();
    assert_eq!(smtp.auth_login("sender", "wrong").await.unwrap().code, 535);
    assert_eq!(smtp.auth_login("sender", "send-pass").await.unwrap().code, 235);
    smtp.quit().await;
}

#[tokio::test]
async fn postfix_answers_550_for_reject_and_451_for_tempfail_and_requires_auth() {
    let dc = Dovecot::start().unwrap();
    dc.add_user("sender", "pw").unwrap();
    let pf = Postfix::start(&dc).unwrap();

    let mut smtp = SmtpClient::connect("smtp", pf.host(), pf.smtp_port()).await.unwrap();
    smtp.ehlo("client.test").await.unwrap();
    smtp.mail_from("sender@example.test").await.unwrap();
    let unauth = smtp.rcpt_to("alice@example.test").await.unwrap();
    assert_eq!(unauth.code, 554, "unauthenticated RCPT must be refused: {unauth}");
    smtp.command("RSET").await.unwrap();
    assert_eq!(smtp.auth_plain("sender", "pw").await.unwrap().code, 235);
    smtp.mail_from("sender@example.test").await.unwrap();
    let rejected = smtp.rcpt_to("reject-me@example.test").await.unwrap();
    assert_eq!(rejected.code, 550, "{rejected}");
    assert!(rejected.text().contains("5.1.1") && rejected.text().contains("rejected by test policy"));
    let temp = smtp.rcpt_to("tempfail-later@customer.test").await.unwrap();
    assert_eq!(temp.code, 451, "{temp}");
    assert!(temp.text().contains("4.3.0"));
    let external = smtp.rcpt_to("someone@customer.test").await.unwrap();
    assert_eq!(external.code, 250, "authenticated relaying to any domain: {external}");
    smtp.quit().await;

    // The same patterns apply on the open port.
    let mut open = SmtpClient::connect("smtp", pf.host(), pf.smtp_open_port()).await.unwrap();
    open.ehlo("client.test").await.unwrap();
    open.mail_from("x@customer.test").await.unwrap();
    assert_eq!(open.rcpt_to("rejected@example.test").await.unwrap().code, 550);
    assert_eq!(open.rcpt_to("tempfail@example.test").await.unwrap().code, 451);
    open.quit().await;
}

#[tokio::test]
async fn postfix_open_port_relays_from_loopback_without_auth() {
    let dc = Dovecot::start().unwrap();
    dc.add_user("alice", "secret").unwrap();
    let pf = Postfix::start(&dc).unwrap();

    let mut smtp = SmtpClient::connect("smtp", pf.host(), pf.smtp_open_port()).await.unwrap();
    let ehlo = smtp.ehlo("client.test").await.unwrap();
    assert!(!ehlo.has_line_starting("AUTH"), "open port must not offer AUTH: {ehlo}");
    smtp.quit().await;
    send_mail(
        pf.host(),
        pf.smtp_open_port(),
        None,
        "crm@example.test",
        &["alice@example.test", "contact@customer.test"],
        &message("open-relay", "no auth needed\r\n"),
    )
    .await
    .unwrap();
    dc.wait_for_message("alice", "secret", "INBOX", b"open-relay@harness.test", WAIT).await.unwrap();
    pf.wait_until_delivered(WAIT).await.unwrap();
}

#[tokio::test]
async fn postfix_starttls_submission_and_smtps_are_verified_against_the_harness_ca() {
    let dc = Dovecot::start().unwrap();
    dc.add_user("sender", "pw").unwrap();
    let pf = Postfix::start(&dc).unwrap();
    let config = dc.client_config().unwrap();

    let mut sub = SmtpClient::connect("smtp", pf.host(), pf.submission_port()).await.unwrap();
    let before = sub.ehlo("client.test").await.unwrap();
    assert!(!before.has_line_starting("AUTH"), "AUTH only after STARTTLS: {before}");
    let mut sub = sub.starttls("localhost", config.clone()).await.unwrap();
    assert!(sub.is_tls());
    let after = sub.ehlo("client.test").await.unwrap();
    assert!(after.has_line_starting("AUTH"), "{after}");
    assert_eq!(sub.auth_plain("sender", "pw").await.unwrap().code, 235);
    sub.quit().await;

    let mut smtps =
        SmtpClient::connect_tls("smtp", pf.host(), pf.smtps_port(), "127.0.0.1", config).await.unwrap();
    smtps.ehlo("client.test").await.unwrap();
    assert_eq!(smtps.auth_plain("sender", "pw").await.unwrap().code, 235);
    smtps.quit().await;
}

#[tokio::test]
async fn radicale_stores_a_vcard_and_a_vevent_and_returns_them() {
    let rd = Radicale::start().unwrap();
    rd.add_user("alice", "dav-secret").unwrap();
    assert!(rd.base_url().starts_with("http://127.0.0.1:"));

    let book = rd.mkcol_addressbook("alice", "dav-secret", "/alice/contacts/", "Contacts").await.unwrap();
    assert_eq!(book.status, 201, "{book:?}");
    let vcard = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ann-1\r\nFN:Ann Example\r\nN:Example;Ann;;;\r\nEMAIL:ann@customer.test\r\nEND:VCARD\r\n";
    let put = rd.put("alice", "dav-secret", "/alice/contacts/ann-1.vcf", vcard, "text/vcard").await.unwrap();
    assert_eq!(put.status, 201, "{put:?}");
    let etag = put.etag.clone().expect("PUT returns an ETag");
    let got = rd.get("alice", "dav-secret", "/alice/contacts/ann-1.vcf").await.unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.etag.as_deref(), Some(etag.as_str()));
    assert!(got.body.contains("UID:ann-1") && got.body.contains("FN:Ann Example"), "{}", got.body);

    let cal = rd.mkcalendar("alice", "dav-secret", "/alice/calendar/", "Calendar").await.unwrap();
    assert_eq!(cal.status, 201, "{cal:?}");
    let event = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//crmsync//harness//EN\r\nBEGIN:VEVENT\r\nUID:meet-1\r\nDTSTAMP:20250601T090000Z\r\nDTSTART:20250602T100000Z\r\nDTEND:20250602T110000Z\r\nSUMMARY:Kick-off\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let put =
        rd.put("alice", "dav-secret", "/alice/calendar/meet-1.ics", event, "text/calendar").await.unwrap();
    assert_eq!(put.status, 201, "{put:?}");
    let got = rd.get("alice", "dav-secret", "/alice/calendar/meet-1.ics").await.unwrap();
    assert_eq!(got.status, 200);
    assert!(got.body.contains("UID:meet-1") && got.body.contains("SUMMARY:Kick-off"), "{}", got.body);

    let denied = rd.get("alice", "wrong", "/alice/calendar/meet-1.ics").await.unwrap();
    assert_eq!(denied.status, 401);
}

/// A loopback server that sends `greeting` and then echoes what it receives.
async fn echo_server(greeting: &'static [u8]) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                if s.write_all(greeting).await.is_err() {
                    return;
                }
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

async fn read_n(s: &mut TcpStream, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_proxy_forwards_refuses_resets_stalls_dribbles_and_counts_connections() {
    let port = echo_server(b"HELLO\r\n").await;
    let proxy = FaultProxy::start("127.0.0.1", port).unwrap();
    let addr = ("127.0.0.1", proxy.port());

    // Forward, and count concurrent connections.
    let mut conns = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert_eq!(read_n(&mut s, 7).await.unwrap(), b"HELLO\r\n");
        conns.push(s);
    }
    conns[0].write_all(b"ping").await.unwrap();
    assert_eq!(read_n(&mut conns[0], 4).await.unwrap(), b"ping");
    assert_eq!(proxy.open_connections(), 3);
    assert_eq!(proxy.max_concurrent_connections(), 3);
    drop(conns);
    let deadline = Instant::now() + Duration::from_secs(5);
    while proxy.open_connections() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(proxy.open_connections(), 0);
    assert_eq!(proxy.max_concurrent_connections(), 3);

    // Refuse: a real ECONNREFUSED, then service again on the same port.
    proxy.set_mode(FaultMode::Refuse);
    let err = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    proxy.set_mode(FaultMode::Forward);
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_n(&mut s, 7).await.unwrap(), b"HELLO\r\n");

    // Reset mid-stream: an open connection is reset once 3 more bytes passed.
    proxy.set_mode(FaultMode::Reset { after_bytes: 10 });
    s.write_all(b"abcdef").await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    let err = loop {
        match s.read(&mut buf).await {
            Ok(0) => panic!("expected a reset, got a clean close after {got:?}"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    assert!(got.len() <= 3, "at most 3 bytes pass after the 7-byte greeting: {got:?}");

    // Stall: accepted, nothing forwarded; forwarding resumes afterwards.
    proxy.set_mode(FaultMode::Stall);
    let mut s = TcpStream::connect(addr).await.unwrap();
    let stalled = tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await;
    assert!(stalled.is_err(), "stalled connection delivered data");
    proxy.set_mode(FaultMode::Forward);
    assert_eq!(read_n(&mut s, 7).await.unwrap(), b"HELLO\r\n");

    // Dribble: one byte per 30 ms, so the 7-byte greeting takes >= 180 ms.
    proxy.set_mode(FaultMode::Dribble { chunk: 1, interval: Duration::from_millis(30) });
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_n(&mut s, 7).await.unwrap(), b"HELLO\r\n");
    assert!(start.elapsed() >= Duration::from_millis(180), "{:?}", start.elapsed());
    assert_eq!(proxy.total_connections(), 6);
}

const PID_FILE_ENV: &str = "CRMSYNC_HARNESS_PANIC_PID_FILE";

/// Run only as a child of `no_server_process_outlives_a_panicking_test`.
#[tokio::test]
#[ignore = "run by no_server_process_outlives_a_panicking_test in a child process"]
async fn child_starts_all_servers_then_panics() {
    let Ok(pid_file) = std::env::var(PID_FILE_ENV) else {
        return;
    };
    let dc = Dovecot::start().unwrap();
    let pf = Postfix::start(&dc).unwrap();
    let rd = Radicale::start().unwrap();
    let ews = crmsync_tests::EwsServer::start().unwrap();
    dc.add_user("alice", "secret").unwrap();
    // Make the servers fork workers too.
    dc.imap_session("alice", "secret").await.unwrap().logout().await;
    let mut smtp = SmtpClient::connect("smtp", pf.host(), pf.smtp_port()).await.unwrap();
    smtp.ehlo("client.test").await.unwrap();
    let mut pids = Vec::new();
    for leader in [dc.pid(), pf.pid(), rd.pid(), ews.pid()] {
        pids.extend(process_group_members(leader));
    }
    let text: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
    std::fs::write(pid_file, text.join("\n")).unwrap();
    panic!("deliberate panic while servers are running");
}

#[test]
fn no_server_process_outlives_a_panicking_test() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pids");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_starts_all_servers_then_panics", "--ignored", "--nocapture"])
        .env(PID_FILE_ENV, &pid_file)
        .output()
        .unwrap();
    let output = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "the child test must fail:\n{output}");
    assert!(output.contains("deliberate panic"), "{output}");
    let pids: Vec<u32> = std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("child wrote no PIDs ({e}):\n{output}"))
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    // Dovecot master + workers, Postfix master + workers, Radicale, the EWS emulator.
    assert!(pids.len() >= 7, "too few processes recorded: {pids:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut left: Vec<u32> = pids.clone();
    while !left.is_empty() && Instant::now() < deadline {
        left.retain(|&p| pid_exists(p));
        std::thread::sleep(Duration::from_millis(50));
    }
    // Not even zombies: the harness reaps what it started.
    assert!(left.is_empty(), "still present after the panic: {left:?} of {pids:?}");
}
