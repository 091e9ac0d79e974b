//! OAuth2 (SASL XOAUTH2 and OAUTHBEARER) and service-account (SASL PLAIN with
//! an authorization identity) logins of the IMAP and POP3 clients against a
//! real Dovecot whose `oauth2` passdb validates tokens of the harness's
//! authorization server; the CalDAV/CardDAV bearer token against a scripted
//! server (neither Radicale nor Xandikos takes one as shipped).

mod common;

use std::time::Duration;

use common::{PASSWORD, settings};
use crmsync_core::ErrorClass;
use crmsync_core::model::Security;
use crmsync_protocols::dav::{DavAuth, DavClient};
use crmsync_protocols::{ImapClient, Pop3Client, ProtocolError, ServerSettings};
use crmsync_tests::scripted_http::{Answer, ScriptedHttp};
use crmsync_tests::{Dovecot, DovecotOptions, Introspection, OAuthServer};

const ANNA: &str = "anna@example.test";

/// Dovecot offering `mechanisms` (e.g. "xoauth2") for tokens of `oauth`,
/// with users anna and bob, each with one message saying whose it is.
async fn dovecot(oauth: &OAuthServer, mode: Introspection, mechanisms: &str) -> Dovecot {
    let mut passdb = oauth.passdb(mode);
    passdb.mechanisms = mechanisms.into();
    let d = Dovecot::start_with(DovecotOptions { oauth2: Some(passdb), ..Default::default() }).unwrap();
    for user in ["anna", "bob"] {
        d.add_user(user, PASSWORD).unwrap();
        let raw = format!("Subject: mail of {user}\r\nMessage-ID: <{user}@example.test>\r\n\r\nhi\r\n");
        d.deliver(user, raw.as_bytes()).await.unwrap();
    }
    d
}

/// Settings logging in as anna with `token` (no password).
fn bearer(d: &Dovecot, port: u16, security: Security, token: &str) -> ServerSettings {
    let mut s = settings(d, port, security);
    s.username = ANNA.into();
    s.password = "".into();
    s.bearer = Some(token.into());
    s
}

async fn imap_subjects(s: &ServerSettings) -> Result<Vec<String>, ProtocolError> {
    let mut imap = ImapClient::connect(s).await?;
    imap.select("INBOX").await?;
    let messages = imap.fetch_since(0, 10).await?;
    imap.logout().await?;
    Ok(messages.iter().map(|m| subject(&m.raw)).collect())
}

async fn pop3_subjects(s: &ServerSettings) -> Result<Vec<String>, ProtocolError> {
    let mut pop = Pop3Client::connect(s).await?;
    let n = pop.stat().await?.messages;
    let mut subjects = Vec::new();
    for i in 1..=n {
        subjects.push(subject(&pop.retr(i).await?));
    }
    pop.quit().await?;
    Ok(subjects)
}

fn subject(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    text.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap_or("").to_string()
}

/// Asserts a refused token: its code and class, the server's decoded reason,
/// and no token in the message or the Debug output.
fn assert_refused(e: &ProtocolError, token: &str, reason: &str, context: &str) {
    assert_eq!(e.code(), "OAUTH_TOKEN_REFUSED", "{context}: {e}");
    assert_eq!(e.class(), ErrorClass::Permanent, "{context}");
    assert!(e.is_token_refused());
    let shown = e.to_string();
    assert!(shown.contains(reason), "{context}: the decoded challenge {reason:?} is missing from {shown:?}");
    let secret = &token[token.len() - 40..];
    assert!(!shown.contains(secret) && !format!("{e:?}").contains(secret), "{context}: token leaked: {e:?}");
}

#[tokio::test]
async fn imap_logs_in_with_xoauth2_and_oauthbearer_over_starttls_and_imaps() {
    let oauth = OAuthServer::start().unwrap();
    let token = oauth.issue(ANNA, "mail", 3600).await.unwrap();
    for mechanism in ["xoauth2", "oauthbearer"] {
        let d = dovecot(&oauth, Introspection::Local, mechanism).await;
        for (port, security) in [(d.imap_port(), Security::Starttls), (d.imaps_port(), Security::Tls)] {
            let s = bearer(&d, port, security, &token.access);
            let subjects = imap_subjects(&s).await.unwrap_or_else(|e| panic!("{mechanism} {security}: {e}"));
            assert_eq!(subjects, ["mail of anna"], "{mechanism} {security}");
        }
        let method = format!("method={}", mechanism.to_uppercase());
        assert!(d.log_tail(200).contains(&method), "{method} not in the log:\n{}", d.log_tail(30));
    }
    // Both offered: OAUTHBEARER, the standard, is chosen.
    let d = dovecot(&oauth, Introspection::Local, "xoauth2 oauthbearer").await;
    imap_subjects(&bearer(&d, d.imaps_port(), Security::Tls, &token.access)).await.unwrap();
    assert!(d.log_tail(200).contains("method=OAUTHBEARER"), "{}", d.log_tail(30));
}

#[tokio::test]
async fn pop3_logs_in_with_xoauth2_and_oauthbearer_over_stls_and_pop3s() {
    let oauth = OAuthServer::start().unwrap();
    // A real-size token: longer than POP3's 255-octet command line, so the
    // initial response goes after the "+".
    let token = oauth.issue_padded(ANNA, "mail", 3600, 1500).await.unwrap();
    for mechanism in ["xoauth2", "oauthbearer"] {
        let d = dovecot(&oauth, Introspection::Post, mechanism).await;
        for (port, security) in [(d.pop3_port(), Security::Starttls), (d.pop3s_port(), Security::Tls)] {
            let s = bearer(&d, port, security, &token.access);
            let subjects = pop3_subjects(&s).await.unwrap_or_else(|e| panic!("{mechanism} {security}: {e}"));
            assert_eq!(subjects, ["mail of anna"], "{mechanism} {security}");
        }
        let method = format!("method={}", mechanism.to_uppercase());
        assert!(d.log_tail(200).contains(&method), "{method} not in the log:\n{}", d.log_tail(30));
    }
}

#[tokio::test]
async fn expired_revoked_and_wrong_scope_tokens_are_refused_with_the_servers_reason() {
    let oauth = OAuthServer::start().unwrap();
    let expired = oauth.issue(ANNA, "mail", -120).await.unwrap();
    let calendar = oauth.issue(ANNA, "calendar", 3600).await.unwrap();
    let revoked = oauth.issue(ANNA, "mail", 3600).await.unwrap();
    oauth.revoke_access(&revoked.access).await.unwrap();
    // Dovecot's challenges: XOAUTH2 {"status":"401",...}, OAUTHBEARER {"status":"invalid_token"}.
    for (mechanism, reason) in [("xoauth2", r#"status "401""#), ("oauthbearer", r#"status "invalid_token""#)]
    {
        for mode in [Introspection::Local, Introspection::Post] {
            let d = dovecot(&oauth, mode, mechanism).await;
            let mut cases = vec![("expired", &expired.access), ("calendar scope", &calendar.access)];
            if mode == Introspection::Post {
                // Only introspection can see a revoked token.
                cases.push(("revoked", &revoked.access));
            }
            for (what, token) in cases {
                let context = format!("{mechanism} {mode:?} {what}");
                let s = bearer(&d, d.imaps_port(), Security::Tls, token);
                let e = imap_subjects(&s).await.unwrap_err();
                assert_refused(&e, token, reason, &format!("IMAP {context}"));
                let s = bearer(&d, d.pop3s_port(), Security::Tls, token);
                let e = pop3_subjects(&s).await.unwrap_err();
                assert_refused(&e, token, reason, &format!("POP3 {context}"));
            }
        }
    }
}

#[tokio::test]
async fn a_token_is_never_sent_in_plaintext_without_the_opt_in_nor_to_a_server_without_the_mechanism() {
    let oauth = OAuthServer::start().unwrap();
    let token = oauth.issue(ANNA, "mail", 3600).await.unwrap();
    let d = dovecot(&oauth, Introspection::Local, "xoauth2").await;
    let s = bearer(&d, d.imap_port(), Security::None, &token.access);
    assert_eq!(ImapClient::connect(&s).await.unwrap_err().code(), "PLAINTEXT_REFUSED");
    assert_eq!(Pop3Client::connect(&s).await.unwrap_err().code(), "PLAINTEXT_REFUSED");
    // A Dovecot without the oauth2 passdb offers PLAIN and LOGIN only.
    let plain = common::dovecot();
    let s = bearer(&plain, plain.imaps_port(), Security::Tls, &token.access);
    let e = ImapClient::connect(&s).await.unwrap_err();
    assert_eq!(e.code(), "IMAP_AUTH_MECHANISM_UNAVAILABLE", "{e}");
    let s = bearer(&plain, plain.pop3s_port(), Security::Tls, &token.access);
    assert_eq!(Pop3Client::connect(&s).await.unwrap_err().code(), "POP3_AUTH_MECHANISM_UNAVAILABLE");
}

/// A service account `svc` logging in on behalf of anna.
fn on_behalf(d: &Dovecot, port: u16, user: &str, password: &str) -> ServerSettings {
    let mut s = settings(d, port, Security::Tls);
    s.username = user.into();
    s.password = password.into();
    s.authzid = Some(ANNA.into());
    s
}

#[tokio::test]
async fn a_master_user_reads_the_inbox_of_the_mailbox_it_logs_in_for() {
    let oauth = OAuthServer::start().unwrap();
    let d = dovecot(&oauth, Introspection::Local, "xoauth2").await;
    d.add_master_user("svc", "svc-Pa55").unwrap();
    let s = on_behalf(&d, d.imaps_port(), "svc", "svc-Pa55");
    assert_eq!(imap_subjects(&s).await.unwrap(), ["mail of anna"]);
    let s = on_behalf(&d, d.pop3s_port(), "svc", "svc-Pa55");
    assert_eq!(pop3_subjects(&s).await.unwrap(), ["mail of anna"]);
    // The same account without an authorization identity is nobody's mailbox.
    let mut s = on_behalf(&d, d.imaps_port(), "svc", "svc-Pa55");
    s.authzid = None;
    assert_eq!(ImapClient::connect(&s).await.unwrap_err().code(), "IMAP_AUTH_FAILED");
}

#[tokio::test]
async fn a_server_refusing_the_authorization_identity_says_what_to_check() {
    let oauth = OAuthServer::start().unwrap();
    let d = dovecot(&oauth, Introspection::Local, "xoauth2").await;
    // bob is an ordinary user: Dovecot does not let him act for anna.
    let s = on_behalf(&d, d.imaps_port(), "bob", PASSWORD);
    let e = ImapClient::connect(&s).await.unwrap_err();
    assert_eq!((e.code(), e.class()), ("IMAP_AUTH_FAILED", ErrorClass::Permanent), "{e}");
    let shown = e.to_string();
    assert!(shown.contains("bob may not log in on behalf of anna@example.test"), "{shown}");
    assert!(shown.contains("master user") && !shown.contains(PASSWORD), "{shown}");
    let s = on_behalf(&d, d.pop3s_port(), "bob", PASSWORD);
    let e = Pop3Client::connect(&s).await.unwrap_err();
    assert_eq!(e.code(), "POP3_AUTH_FAILED", "{e}");
    assert!(e.to_string().contains("may not log in on behalf of anna@example.test"), "{e}");
}

#[tokio::test]
async fn settings_debug_never_shows_the_token() {
    let mut s = ServerSettings::new("h", 993, Security::Tls, ANNA, "");
    s.bearer = Some("eyJ-secret-token-value".into());
    assert!(!format!("{s:?}").contains("secret-token"), "{s:?}");
    let auth = DavAuth::Bearer { user: ANNA.into(), token: "eyJ-secret-token-value".into() };
    assert!(!format!("{auth:?}").contains("secret-token"));
    let client = DavClient::new_bearer(
        "https://dav.example.test/",
        ANNA,
        "eyJ-secret-token-value",
        Duration::from_secs(5),
        &[],
    )
    .unwrap();
    assert!(!format!("{client:?}").contains("secret-token"));
    let basic =
        DavClient::new("https://dav.example.test/", ANNA, "hunter2-pass", Duration::from_secs(5), &[])
            .unwrap();
    assert!(!format!("{basic:?}").contains("hunter2"), "the password is hidden too");
}

#[tokio::test]
async fn dav_sends_the_bearer_token_and_reports_a_refused_one() {
    let server = ScriptedHttp::start(|req| match req.header("authorization") {
        Some("Bearer good-token") => Answer::multistatus(
            r#"<d:multistatus xmlns:d="DAV:"><d:response><d:href>/</d:href><d:propstat><d:prop><d:current-user-principal><d:href>/anna/</d:href></d:current-user-principal></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"#,
        ),
        _ => Answer::status(401),
    })
    .await
    .unwrap();
    let url = format!("{}/", server.base_url());
    let t = Duration::from_secs(10);
    let good = DavAuth::Bearer { user: ANNA.into(), token: "good-token".into() };
    crmsync_protocols::dav::probe::probe_with(&url, &good, t, &[]).await.unwrap();
    let client = DavClient::new_bearer(&url, ANNA, "good-token", t, &[]).unwrap();
    client.collection_state(&url).await.unwrap();
    assert!(server.requests().iter().all(|r| r.header("authorization") == Some("Bearer good-token")));

    let bad = DavAuth::Bearer { user: ANNA.into(), token: "expired-token".into() };
    let e = crmsync_protocols::dav::probe::probe_with(&url, &bad, t, &[]).await.unwrap_err();
    assert_eq!((e.code(), e.class()), ("OAUTH_TOKEN_REFUSED", ErrorClass::Permanent), "{e}");
    let refused = DavClient::new_bearer(&url, ANNA, "expired-token", t, &[]).unwrap();
    let e = refused.collection_state(&url).await.unwrap_err();
    assert_eq!(e.code(), "OAUTH_TOKEN_REFUSED", "{e}");
    assert!(!e.to_string().contains("expired-token") && !format!("{e:?}").contains("expired-token"));
    // Basic stays as it was: a 401 is the password's fault.
    let basic = DavClient::new(&url, "anna", "pw", t, &[]).unwrap();
    let e = basic.collection_state(&url).await.unwrap_err();
    assert_eq!(e.code(), "DAV_AUTH_FAILED", "{e}");
}
