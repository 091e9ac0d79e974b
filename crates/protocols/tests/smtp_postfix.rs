//! The SMTP client against a real Postfix from the harness, relaying into
//! Dovecot: what arrives, how many connections it takes, pipelining or not,
//! and what a refused recipient does to the rest of the transaction.

mod common;

use std::time::Duration;

use common::{PASSWORD, dovecot, message};
use crmsync_core::ErrorClass;
use crmsync_core::model::Security;
use crmsync_protocols::ServerSettings;
use crmsync_protocols::smtp::SmtpClient;
use crmsync_tests::{Dovecot, Postfix, PostfixOptions};

/// The open relay port (no AUTH, trusts loopback), plaintext allowed.
fn open_relay(p: &Postfix) -> SmtpClient {
    let mut s = ServerSettings::new(p.host(), p.smtp_open_port(), Security::None, "", "");
    s.allow_insecure = true;
    s.timeout = Duration::from_secs(20);
    SmtpClient::new(&s, false).unwrap()
}

/// Waits until Postfix has logged the end of a session whose command counts
/// contain `stats` (e.g. " mail=4 rcpt=4 data=4 quit=1 ": four messages, one session).
async fn session_logged(p: &Postfix, stats: &str) {
    for _ in 0..50 {
        let log = std::fs::read_to_string(p.log_path()).unwrap_or_default();
        if log.lines().any(|l| l.contains("disconnect from") && l.contains(stats)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no session with{stats}in the log:\n{}", p.log_tail(30));
}

fn body_of(raw: &[u8]) -> &[u8] {
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a header/body separator");
    &raw[at + 4..]
}

async fn inbox_subjects(d: &Dovecot) -> Vec<String> {
    let mut subjects: Vec<String> = d
        .list_inbox("anna", PASSWORD)
        .await
        .unwrap()
        .iter()
        .filter_map(|m| {
            String::from_utf8_lossy(&m.raw)
                .lines()
                .find_map(|l| l.strip_prefix("Subject: ").map(str::to_string))
        })
        .collect();
    subjects.sort();
    subjects
}

#[tokio::test]
async fn messages_with_leading_dots_and_8bit_text_arrive_intact_over_one_connection() {
    let d = dovecot();
    let p = Postfix::start(&d).unwrap();
    let smtp = open_relay(&p);
    let to = vec![d.address("anna")];
    for n in 1..=3 {
        let reply = smtp.send(&d.address("bob"), &to, &message(n)).await.unwrap();
        assert!(reply.starts_with("250"), "{reply}");
    }
    // Split in two steps: the reply is read after other work.
    let submitted = smtp.submit(&d.address("bob"), &to, &message(4)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(submitted.reply().await.unwrap().starts_with("250"));
    smtp.close().await;
    session_logged(&p, " mail=4 rcpt=4 data=4 quit=1 ").await;
    p.wait_until_delivered(Duration::from_secs(30)).await.unwrap();
    for n in 1..=4 {
        let needle = format!("Message-ID: <msg-{n}@example.test>");
        let got = d
            .wait_for_message("anna", PASSWORD, "INBOX", needle.as_bytes(), Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(body_of(&got.raw), body_of(&message(n)), "message {n}: dots and 8-bit text unchanged");
    }
    let log = std::fs::read_to_string(p.log_path()).unwrap();
    assert!(!log.contains("improper command pipelining"), "{}", p.log_tail(30));
}

#[tokio::test]
async fn a_server_without_pipelining_gets_one_command_at_a_time() {
    let d = dovecot();
    let options = PostfixOptions { extra_main_cf: "smtpd_discard_ehlo_keywords = pipelining\n".into() };
    let p = Postfix::start_with(&d, options).unwrap();
    let smtp = open_relay(&p);
    let to = vec![d.address("anna")];
    for n in 1..=2 {
        smtp.send(&d.address("bob"), &to, &message(n)).await.unwrap();
    }
    smtp.close().await;
    p.wait_until_delivered(Duration::from_secs(30)).await.unwrap();
    assert_eq!(inbox_subjects(&d).await, ["test 1", "test 2"]);
    // Postfix notices a client that sends ahead of its replies without PIPELINING.
    let log = std::fs::read_to_string(p.log_path()).unwrap();
    assert!(!log.contains("improper command pipelining"), "{}", p.log_tail(30));
}

#[tokio::test]
async fn a_refused_recipient_delivers_the_message_to_nobody_and_the_next_message_goes_out() {
    let d = dovecot();
    // The harness's Postfix refuses `reject*@` recipients with 550.
    let p = Postfix::start(&d).unwrap();
    let smtp = open_relay(&p);
    let (anna, refused) = (d.address("anna"), d.address("rejectme"));

    // One good and one refused recipient: the whole message is refused.
    let e = smtp.send(&d.address("bob"), &[anna.clone(), refused.clone()], &message(1)).await.unwrap_err();
    assert_eq!(e.code(), "SMTP_REJECTED", "{e}");
    assert_eq!(e.class(), ErrorClass::Item);
    let text = e.to_string();
    assert!(text.contains("rejected by test policy") && text.contains("RCPT TO"), "{text}");
    // Only the refused recipient: refused, and the connection stays usable (RSET).
    let e = smtp.send(&d.address("bob"), std::slice::from_ref(&refused), &message(2)).await.unwrap_err();
    assert_eq!(e.code(), "SMTP_REJECTED", "{e}");
    smtp.send(&d.address("bob"), std::slice::from_ref(&anna), &message(3)).await.unwrap();
    smtp.close().await;
    // The first session was cut at DATA (only that undoes a half-accepted
    // transaction); the second carried the other two.
    session_logged(&p, " mail=2 rcpt=1/2 data=1/2 rset=1 quit=1 ").await;

    p.wait_until_delivered(Duration::from_secs(30)).await.unwrap();
    assert_eq!(inbox_subjects(&d).await, ["test 3"], "nothing of the refused messages reached anna");
}

/// The submission port (STARTTLS, then AUTH) with the harness CA trusted.
fn submission(d: &Dovecot, p: &Postfix, password: &str) -> SmtpClient {
    let mut s =
        ServerSettings::new(p.host(), p.submission_port(), Security::Starttls, d.address("anna"), password);
    s.extra_roots = d.ca_pem().as_bytes().to_vec();
    s.timeout = Duration::from_secs(20);
    SmtpClient::new(&s, true).unwrap()
}

#[tokio::test]
async fn auth_login_is_used_when_the_server_offers_no_plain() {
    let d = dovecot();
    let options = PostfixOptions { extra_main_cf: "smtpd_sasl_mechanism_filter = login\n".into() };
    let p = Postfix::start_with(&d, options).unwrap();
    let to = vec![d.address("anna")];
    let e =
        submission(&d, &p, "wrong-password").send(&d.address("anna"), &to, &message(1)).await.unwrap_err();
    assert_eq!(e.code(), "SMTP_AUTH_FAILED", "{e}");
    let smtp = submission(&d, &p, PASSWORD);
    smtp.send(&d.address("anna"), &to, &message(2)).await.unwrap();
    smtp.close().await;
    let log = std::fs::read_to_string(p.log_path()).unwrap();
    assert!(log.contains("sasl_method=LOGIN"), "{}", p.log_tail(30));
    assert!(!log.contains("sasl_method=PLAIN"), "{}", p.log_tail(30));
    p.wait_until_delivered(Duration::from_secs(30)).await.unwrap();
    assert_eq!(inbox_subjects(&d).await, ["test 2"]);
}
