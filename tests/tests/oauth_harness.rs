//! Proves the OAuth2 harness: the authorization server's grants, Dovecot
//! (both introspection modes) and Postfix accepting its tokens over SASL, and
//! Radicale accepting them as bearer tokens (its auth plugin).
//! The crmsync clients' own XOAUTH2/OAUTHBEARER code is tested in
//! crates/protocols/tests/oauth_dovecot.rs.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};
use crmsync_tests::wire::Conn;
use crmsync_tests::{
    Dovecot, DovecotOptions, ImapClient, Introspection, OAuthServer, Postfix, Radicale, RadicaleOptions,
    SmtpClient,
};
use serde_json::Value;
use sha2::Digest as _;

fn xoauth2(user: &str, token: &str) -> String {
    B64.encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"))
}

fn dovecot(oauth: &OAuthServer, mode: Introspection) -> Dovecot {
    let options = DovecotOptions { oauth2: Some(oauth.passdb(mode)), ..Default::default() };
    let dc = Dovecot::start_with(options).unwrap();
    dc.add_user("alice", "alice-pw").unwrap();
    dc
}

/// `AUTHENTICATE XOAUTH2` with an initial response; a refusal is the
/// decoded error challenge and the tagged NO.
async fn imap_xoauth2(dc: &Dovecot, user: &str, token: &str) -> Result<(), String> {
    let mut conn = Conn::connect("imap", dc.host(), dc.imap_port()).await.unwrap();
    conn.read_text_line().await.unwrap();
    let line = format!("a AUTHENTICATE XOAUTH2 {}\r\n", xoauth2(user, token));
    conn.write_all(line.as_bytes()).await.unwrap();
    let mut challenge = String::new();
    loop {
        let line = conn.read_text_line().await.unwrap();
        if let Some(b64) = line.strip_prefix("+ ") {
            challenge = String::from_utf8(B64.decode(b64.trim()).unwrap()).unwrap();
            conn.write_all(b"\r\n").await.unwrap();
        } else if line.starts_with("a OK") {
            return Ok(());
        } else if line.starts_with("a ") {
            return Err(format!("{challenge} {line}"));
        }
    }
}

async fn form(url: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let resp = reqwest::Client::new().post(url).form(fields).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn dovecot_validates_tokens_locally_and_by_introspection() {
    let oauth = OAuthServer::start().unwrap();
    let good = oauth.issue("alice@example.test", "mail", 3600).await.unwrap();
    let expired = oauth.issue("alice@example.test", "mail", -60).await.unwrap();
    let other_scope = oauth.issue("alice@example.test", "calendar", 3600).await.unwrap();
    for mode in [Introspection::Local, Introspection::Post] {
        let dc = dovecot(&oauth, mode);
        imap_xoauth2(&dc, "alice@example.test", &good.access).await.unwrap();
        for (what, token) in [("expired", &expired.access), ("other scope", &other_scope.access)] {
            let err = imap_xoauth2(&dc, "alice@example.test", token).await.unwrap_err();
            assert!(err.contains(r#""status":"401""#), "{mode:?} {what}: {err}");
            assert!(err.contains("NO [AUTHENTICATIONFAILED]"), "{mode:?} {what}: {err}");
        }
        // A token of one user does not log in another.
        dc.add_user("bob", "bob-pw").unwrap();
        assert!(imap_xoauth2(&dc, "bob@example.test", &good.access).await.is_err(), "{mode:?}");
    }
    assert!(oauth.stats().await.unwrap().introspections >= 3);
}

#[tokio::test]
async fn a_master_user_logs_in_on_behalf_of_a_mailbox() {
    let dc = Dovecot::start().unwrap();
    dc.add_user("alice", "alice-pw").unwrap();
    dc.add_master_user("svc", "svc-pw").unwrap();
    let plain = B64.encode("alice@example.test\0svc\0svc-pw");
    let mut imap = ImapClient::connect(dc.host(), dc.imap_port()).await.unwrap();
    imap.raw_command(&format!("AUTHENTICATE PLAIN {plain}")).await.unwrap();
    imap.select("INBOX").await.unwrap();
    // A user that is not a master user cannot.
    dc.add_user("bob", "bob-pw").unwrap();
    let plain = B64.encode("alice@example.test\0bob\0bob-pw");
    let mut imap = ImapClient::connect(dc.host(), dc.imap_port()).await.unwrap();
    assert!(imap.raw_command(&format!("AUTHENTICATE PLAIN {plain}")).await.is_err());
}

#[tokio::test]
async fn the_grants_behave_like_a_real_authorization_server() {
    let oauth = OAuthServer::start().unwrap();
    let token = oauth.token_url();

    // Refresh: works until revoked, then invalid_grant; unknown ones too.
    let issued = oauth.issue("alice@example.test", "mail", 3600).await.unwrap();
    let (s, v) = form(&token, &[("grant_type", "refresh_token"), ("refresh_token", &issued.refresh)]).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["access_token"].as_str().unwrap().len() > 100);
    oauth.revoke(&issued.refresh).await.unwrap();
    let (s, v) = form(&token, &[("grant_type", "refresh_token"), ("refresh_token", &issued.refresh)]).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
    let (s, v) = form(&token, &[("grant_type", "refresh_token"), ("refresh_token", "nope")]).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));

    // Device grant: pending until the user approves, slow_down when asked.
    let (s, d) = form(&oauth.device_url(), &[("client_id", "crmsync"), ("scope", "mail")]).await;
    assert_eq!(s, 200, "{d}");
    let device_code = d["device_code"].as_str().unwrap().to_string();
    let user_code = d["user_code"].as_str().unwrap().to_string();
    assert!(d["verification_uri"].as_str().unwrap().starts_with(&oauth.issuer()));
    let poll =
        [("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", &device_code)];
    let (s, v) = form(&token, &poll).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("authorization_pending")));
    let (_, v) = form(&token, &poll).await;
    assert_eq!(v["error"].as_str(), Some("slow_down"), "polling faster than the interval");
    oauth.approve_device(&user_code, "alice@example.test").await.unwrap();
    tokio::time::sleep(Duration::from_millis(6100)).await;
    let (s, v) = form(&token, &poll).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["refresh_token"].is_string());
    let (s, d) = form(&oauth.device_url(), &[("client_id", "crmsync")]).await;
    assert_eq!(s, 200);
    oauth.expire_device(d["user_code"].as_str().unwrap()).await.unwrap();
    let expired = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", d["device_code"].as_str().unwrap()),
    ];
    assert_eq!(form(&token, &expired).await.1["error"].as_str(), Some("expired_token"));

    // Authorization code with PKCE: the test is the browser.
    oauth.sign_in_as("alice@example.test").await.unwrap();
    let verifier = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let redirect = "http://127.0.0.1:9/callback";
    let url = format!(
        "{}?response_type=code&client_id=crmsync&redirect_uri={}&state=st4te&scope=mail&code_challenge={challenge}&code_challenge_method=S256",
        oauth.authorize_url(),
        urlencode(redirect)
    );
    let to = oauth.authorize_redirect(&url).await.unwrap();
    assert!(to.starts_with(redirect) && to.contains("state=st4te"), "{to}");
    let code = to.split("code=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let exchange = |v: String| {
        let (token, code) = (token.clone(), code.clone());
        async move {
            let fields = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect),
                ("code_verifier", v.as_str()),
            ];
            form(&token, &fields).await
        }
    };
    let (s, v) = exchange("wrong-verifier-wrong-verifier-wrong-verifier".into()).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
    // A code is single-use, so sign in again for the right verifier.
    let to = oauth.authorize_redirect(&url).await.unwrap();
    let code2 = to.split("code=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code2.as_str()),
        ("redirect_uri", redirect),
        ("code_verifier", verifier.as_str()),
    ];
    let (s, v) = form(&token, &fields).await;
    assert_eq!(s, 200, "{v}");

    // Client credentials.
    oauth.register_client("app", "app-secret", "alice@example.test").await.unwrap();
    let cc = [("grant_type", "client_credentials"), ("client_id", "app"), ("client_secret", "app-secret")];
    assert_eq!(form(&token, &cc).await.0, 200);
    let bad = [("grant_type", "client_credentials"), ("client_id", "app"), ("client_secret", "nope")];
    assert_eq!(form(&token, &bad).await.0, 401);

    let stats = oauth.stats().await.unwrap();
    assert_eq!(stats.refresh_requests, 3);
    assert!(stats.token_requests >= 11, "{stats:?}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn postfix_submission_accepts_a_token_through_dovecot_sasl() {
    let oauth = OAuthServer::start().unwrap();
    let dc = dovecot(&oauth, Introspection::Local);
    let postfix = Postfix::start(&dc).unwrap();
    let token = oauth.issue("alice@example.test", "mail", 3600).await.unwrap();
    let mut smtp = SmtpClient::connect("postfix", postfix.host(), postfix.smtp_port()).await.unwrap();
    let ehlo = smtp.ehlo("client.test").await.unwrap();
    assert!(ehlo.text().contains("XOAUTH2") && ehlo.text().contains("OAUTHBEARER"), "{}", ehlo.text());
    let reply = smtp.command(&format!("AUTH XOAUTH2 {}", xoauth2("alice@example.test", &token.access))).await;
    assert_eq!(reply.unwrap().code, 235);
}

#[tokio::test]
async fn the_test_plays_the_browser_up_to_the_clients_loopback_page() {
    let oauth = OAuthServer::start().unwrap();
    // The client's loopback redirect URI (RFC 8252): answers with what it got.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let loopback = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = sock.read(&mut buf).await.unwrap();
        let request = String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_string();
        let body = "signed in, you can close this window";
        let answer =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        sock.write_all(answer.as_bytes()).await.unwrap();
        request
    });
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(b"verifier"));
    let url = format!(
        "{}?response_type=code&client_id=crmsync&redirect_uri={}&state=xyz&code_challenge={challenge}\
         &code_challenge_method=S256&login_hint=alice%40example.test",
        oauth.authorize_url(),
        urlencode(&format!("http://127.0.0.1:{port}/"))
    );
    let (status, body) = oauth.browse(&url).await.unwrap();
    assert_eq!((status, body.as_str()), (200, "signed in, you can close this window"));
    let request = loopback.await.unwrap();
    assert!(request.starts_with("GET /?code=") && request.contains("state=xyz"), "{request}");

    // Without PKCE the authorize page refuses, back at the client.
    let no_pkce = format!(
        "{}?response_type=code&client_id=crmsync&redirect_uri={}&state=s",
        oauth.authorize_url(),
        urlencode("http://127.0.0.1:9/")
    );
    let to = oauth.authorize_redirect(&no_pkce).await.unwrap();
    assert!(to.contains("error=invalid_request") && to.contains("state=s"), "{to}");

    // A denied device sign-in.
    let (_, d) = form(&oauth.device_url(), &[("client_id", "crmsync")]).await;
    oauth.deny_device(d["user_code"].as_str().unwrap()).await.unwrap();
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", d["device_code"].as_str().unwrap()),
    ];
    assert_eq!(form(&oauth.token_url(), &poll).await.1["error"].as_str(), Some("access_denied"));
}

#[tokio::test]
async fn radicale_accepts_a_valid_bearer_token_for_its_own_user_only() {
    let oauth = OAuthServer::start().unwrap();
    let rad =
        Radicale::start_with(RadicaleOptions { oauth: Some(oauth.radicale(Some("calendar"))) }).unwrap();
    rad.add_user("alice", "alice-pw").unwrap();
    rad.add_user("bob", "bob-pw").unwrap();
    assert!(
        rad.mkcalendar("bob", "bob-pw", "/bob/cal/", "Bob").await.unwrap().is_success(),
        "Basic still works"
    );
    let propfind = |token: String, path: &'static str| {
        let rad = &rad;
        async move { rad.request_bearer("PROPFIND", &token, path, &[("Depth", "0")], None).await.unwrap().status }
    };
    let alice = oauth.issue("alice@example.test", "mail calendar", 3600).await.unwrap();
    assert_eq!(propfind(alice.access.clone(), "/alice/").await, 207, "a valid token");
    assert_eq!(propfind(alice.access.clone(), "/bob/cal/").await, 403, "another user's collection");
    let expired = oauth.issue("alice@example.test", "mail calendar", -60).await.unwrap();
    assert_eq!(propfind(expired.access, "/alice/").await, 401, "an expired token");
    let no_scope = oauth.issue("alice@example.test", "mail", 3600).await.unwrap();
    assert_eq!(propfind(no_scope.access, "/alice/").await, 401, "a token without the calendar scope");
    let mut forged = alice.access.clone();
    forged.pop();
    assert_eq!(propfind(forged, "/alice/").await, 401, "a bad signature");
    assert!(!rad.log_tail(200).contains(&alice.access), "the token is not logged");
}
