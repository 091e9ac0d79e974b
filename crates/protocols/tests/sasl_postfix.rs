//! The SMTP client's OAuth2 (AUTH XOAUTH2 / OAUTHBEARER) and on-behalf-of
//! (AUTH PLAIN with an authorization identity) logins against a real Postfix
//! whose SASL is Dovecot's, validating tokens of the harness's authorization
//! server. What is sent is counted where it arrives: in Dovecot, by Message-ID.

mod common;

use std::time::Duration;

use common::PASSWORD;
use crmsync_core::ErrorClass;
use crmsync_core::model::Security;
use crmsync_protocols::smtp::SmtpClient;
use crmsync_protocols::{ServerSettings, sasl};
use crmsync_tests::{Dovecot, DovecotOptions, Introspection, OAuthServer, Postfix};

const ANNA: &str = "anna@example.test";

fn servers(oauth: &OAuthServer, mechanisms: &str) -> (Dovecot, Postfix) {
    let mut passdb = oauth.passdb(Introspection::Local);
    passdb.mechanisms = mechanisms.into();
    let d = Dovecot::start_with(DovecotOptions { oauth2: Some(passdb), ..Default::default() }).unwrap();
    d.add_user("anna", PASSWORD).unwrap();
    let p = Postfix::start(&d).unwrap();
    (d, p)
}

/// Submission with STARTTLS as anna with `token`.
fn client(d: &Dovecot, p: &Postfix, port: u16, token: &str) -> SmtpClient {
    let mut s = ServerSettings::new(p.host(), port, Security::Starttls, ANNA, "");
    s.extra_roots = d.ca_pem().as_bytes().to_vec();
    s.timeout = Duration::from_secs(20);
    s.bearer = Some(token.into());
    SmtpClient::new(&s, true).unwrap()
}

fn message(id: &str) -> Vec<u8> {
    format!("From: {ANNA}\r\nTo: {ANNA}\r\nSubject: {id}\r\nMessage-ID: <{id}@example.test>\r\n\r\nhello\r\n")
        .into_bytes()
}

/// Sends message `id` to anna and waits until Dovecot has it, once.
async fn send_and_count(smtp: &SmtpClient, d: &Dovecot, id: &str) {
    smtp.send(ANNA, &[ANNA.to_string()], &message(id)).await.unwrap_or_else(|e| panic!("{id}: {e}"));
    let mid = format!("<{id}@example.test>");
    d.wait_for_message("anna", PASSWORD, "INBOX", mid.as_bytes(), Duration::from_secs(20)).await.unwrap();
    let inbox = d.list_inbox("anna", PASSWORD).await.unwrap();
    let copies = inbox.iter().filter(|m| m.raw.windows(mid.len()).any(|w| w == mid.as_bytes())).count();
    assert_eq!(copies, 1, "{id}");
}

#[tokio::test]
async fn submission_logs_in_with_xoauth2_and_oauthbearer_and_delivers() {
    let oauth = OAuthServer::start().unwrap();
    let token = oauth.issue(ANNA, "mail", 3600).await.unwrap();
    for mechanism in ["xoauth2", "oauthbearer"] {
        let (d, p) = servers(&oauth, mechanism);
        for (name, port) in [("smtp", p.smtp_port()), ("submission", p.submission_port())] {
            let smtp = client(&d, &p, port, &token.access);
            send_and_count(&smtp, &d, &format!("{mechanism}-{name}")).await;
            smtp.close().await;
        }
        let method = format!("sasl_method={}", mechanism.to_uppercase());
        assert!(p.log_tail(200).contains(&method), "{method} missing:\n{}", p.log_tail(30));
    }
}

#[tokio::test]
async fn a_real_size_token_is_sent_after_334_because_postfix_cuts_longer_lines() {
    let oauth = OAuthServer::start().unwrap();
    // Microsoft's tokens are 1.5-3 KB: base64 in one AUTH line exceeds 2048 bytes.
    let token = oauth.issue_padded(ANNA, "mail", 3600, 2200).await.unwrap();
    for mechanism in ["xoauth2", "oauthbearer"] {
        let bearer = if mechanism == "xoauth2" { sasl::Bearer::XOAuth2 } else { sasl::Bearer::OAuthBearer };
        let initial = sasl::encode(&bearer.initial_response(ANNA, &token.access, "127.0.0.1", 1));
        assert!(initial.len() > 2048, "the test needs a token longer than Postfix's line: {}", initial.len());
        let (d, p) = servers(&oauth, mechanism);
        let smtp = client(&d, &p, p.submission_port(), &token.access);
        send_and_count(&smtp, &d, &format!("long-{mechanism}")).await;
        smtp.close().await;
    }
}

#[tokio::test]
async fn a_refused_token_is_oauth_token_refused_with_the_servers_reason_and_no_token() {
    let oauth = OAuthServer::start().unwrap();
    let expired = oauth.issue(ANNA, "mail", -120).await.unwrap();
    let calendar = oauth.issue_padded(ANNA, "calendar", 3600, 2200).await.unwrap();
    for (mechanism, reason) in [("xoauth2", r#"status "401""#), ("oauthbearer", r#"status "invalid_token""#)]
    {
        let (d, p) = servers(&oauth, mechanism);
        for (what, token) in [("expired", &expired.access), ("calendar scope, long", &calendar.access)] {
            let smtp = client(&d, &p, p.submission_port(), token);
            let e = smtp.send(ANNA, &[ANNA.to_string()], &message("refused")).await.unwrap_err();
            let context = format!("{mechanism} {what}");
            assert_eq!(
                (e.code(), e.class()),
                ("OAUTH_TOKEN_REFUSED", ErrorClass::Permanent),
                "{context}: {e}"
            );
            let shown = e.to_string();
            assert!(shown.contains(reason) && shown.contains("535"), "{context}: {shown}");
            let secret = &token[token.len() - 40..];
            assert!(!shown.contains(secret) && !format!("{e:?}").contains(secret), "{context}: {e:?}");
        }
        assert_eq!(p.queued_messages(), 0);
    }
}

#[tokio::test]
async fn a_master_user_submits_on_behalf_of_a_mailbox() {
    let oauth = OAuthServer::start().unwrap();
    let (d, p) = servers(&oauth, "xoauth2");
    d.add_master_user("svc", "svc-Pa55").unwrap();
    let mut s = ServerSettings::new(p.host(), p.submission_port(), Security::Starttls, "svc", "svc-Pa55");
    s.extra_roots = d.ca_pem().as_bytes().to_vec();
    s.authzid = Some(ANNA.into());
    let smtp = SmtpClient::new(&s, true).unwrap();
    send_and_count(&smtp, &d, "on-behalf").await;
    assert!(p.log_tail(200).contains("sasl_username=anna"), "{}", p.log_tail(30));
    // An ordinary user may not.
    d.add_user("bob", PASSWORD).unwrap();
    let mut s = s.clone();
    s.username = "bob".into();
    s.password = PASSWORD.into();
    let e = SmtpClient::new(&s, true).unwrap().probe().await.unwrap_err();
    assert_eq!(e.code(), "SMTP_AUTH_FAILED", "{e}");
    assert!(e.to_string().contains("bob may not log in on behalf of anna@example.test"), "{e}");
}
