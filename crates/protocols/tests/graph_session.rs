//! The Graph client against a scripted loopback HTTP server: paging and
//! delta links, throttling waits (none early, per mailbox and per tenant),
//! the mapping of 401/403/404/410/412, batching, size and time bounds.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crmsync_protocols::graph::{
    GraphClient, GraphConfig, Mailbox, Message, SharedToken, Throttle, TodoTask, enums::TaskStatus,
};
use crmsync_tests::scripted_http::{Answer, Request, ScriptedHttp};
use serde_json::json;

fn config(server: &ScriptedHttp) -> GraphConfig {
    GraphConfig {
        base_url: format!("{}/v1.0", server.base_url()),
        timeout: Duration::from_secs(5),
        ..GraphConfig::default()
    }
}

fn client(server: &ScriptedHttp, mailbox: Mailbox) -> GraphClient {
    GraphClient::new(config(server), mailbox, Arc::new(SharedToken::new("token-1"))).unwrap()
}

fn json_answer(status: u16, body: serde_json::Value) -> Answer {
    Answer::Full {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    json_answer(
        status,
        json!({"error": {"code": code, "message": message, "innerError": {"request-id": "r-1"}}}),
    )
}

fn throttled(status: u16, retry_after: &str) -> Answer {
    Answer::Full {
        status,
        headers: vec![
            ("Retry-After".into(), retry_after.into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        body: json!({"error": {"code": "TooManyRequests", "message": "Please retry again later."}})
            .to_string()
            .into_bytes(),
    }
}

#[tokio::test]
async fn a_delta_round_follows_next_links_to_the_delta_link_with_the_token_and_page_size() {
    let server = ScriptedHttp::start(|r: &Request| {
        let p = &r.path;
        if p.starts_with("/v1.0/users/anna@contoso.example/mailFolders/inbox/messages/delta?$select=") {
            // Links name the real service root; the client rewrites them to the test root.
            json_answer(200, json!({
                "@odata.nextLink": "https://graph.microsoft.com/v1.0/users/anna@contoso.example/mailFolders('inbox')/messages/delta?$skiptoken=p2",
                "value": [{"id": "m1", "internetMessageId": "<1@x>", "isRead": false, "parentFolderId": "inbox"}]
            }))
        } else if p.ends_with("/messages/delta?$skiptoken=p2") {
            json_answer(200, json!({
                "@odata.deltaLink": "https://graph.microsoft.com/v1.0/users/anna@contoso.example/mailFolders('inbox')/messages/delta?$deltatoken=d1",
                "value": [{"id": "m0", "@removed": {"reason": "deleted"}}, {"id": "m2", "isRead": true}]
            }))
        } else {
            error(400, "BadRequest", "unexpected request")
        }
    })
    .await
    .unwrap();
    let c = client(&server, Mailbox::User("anna@contoso.example".into()));
    let first = c.mailbox().messages_delta("inbox", 100);
    let (items, delta) = c.collect::<Message>(&first).await.unwrap();
    let ids: Vec<_> = items.iter().map(|m| (m.id.as_str(), m.removed.is_some())).collect();
    assert_eq!(ids, [("m1", false), ("m0", true), ("m2", false)]);
    assert!(delta.unwrap().ends_with("$deltatoken=d1"));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_eq!(r.header("authorization"), Some("Bearer token-1"));
        assert_eq!(r.header("prefer"), Some("odata.maxpagesize=100"));
    }
    assert_eq!(
        reqs[1].path,
        "/v1.0/users/anna@contoso.example/mailFolders('inbox')/messages/delta?$skiptoken=p2"
    );
}

#[tokio::test]
async fn a_link_to_another_host_is_not_followed_and_the_token_stays_home() {
    let elsewhere = ScriptedHttp::start(|_| json_answer(200, json!({"value": []}))).await.unwrap();
    let link = format!("{}/v1.0/me/contacts/delta?$skiptoken=x", elsewhere.base_url());
    let server =
        ScriptedHttp::start(move |_| json_answer(200, json!({"@odata.nextLink": link, "value": []})))
            .await
            .unwrap();
    let c = client(&server, Mailbox::Me);
    let e = c.collect::<serde_json::Value>(&c.mailbox().contacts_delta(None, 10)).await.unwrap_err();
    assert_eq!(e.code(), "PROTOCOL_ERROR");
    assert!(e.to_string().contains("does not follow"), "{e}");
    assert!(elsewhere.requests().is_empty());
}

#[tokio::test]
async fn a_429_is_waited_out_and_no_request_of_that_mailbox_goes_out_early() {
    let times: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let seen = times.clone();
    let server = ScriptedHttp::start(move |r: &Request| {
        let mut t = seen.lock().unwrap();
        t.push((r.path.clone(), Instant::now()));
        let anna_calls = t.iter().filter(|(p, _)| p.contains("/users/anna@")).count();
        if r.path.contains("/users/anna@") && anna_calls == 1 {
            throttled(429, "1.5")
        } else {
            json_answer(200, json!({"id": "u", "displayName": "x"}))
        }
    })
    .await
    .unwrap();
    let shared = Throttle::new();
    let mk = |who: &str| {
        let cfg = GraphConfig { throttle: shared.clone(), ..config(&server) };
        GraphClient::new(cfg, Mailbox::User(who.into()), Arc::new(SharedToken::new("t"))).unwrap()
    };
    let (anna, anna2, bob) =
        (mk("anna@contoso.example"), mk("anna@contoso.example"), mk("bob@contoso.example"));
    let start = Instant::now();
    let first = tokio::spawn({
        let anna = anna.clone();
        async move { anna.send(&anna.mailbox().user()).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Another client of the same mailbox waits for the same hold; another mailbox does not.
    let other = tokio::spawn(async move { anna2.send(&anna2.mailbox().user()).await });
    bob.send(&bob.mailbox().user()).await.unwrap();
    let bob_done = start.elapsed();
    first.await.unwrap().unwrap();
    other.await.unwrap().unwrap();
    assert!(bob_done < Duration::from_millis(1000), "bob waited {bob_done:?}");
    let t = times.lock().unwrap();
    let throttled_at = t[0].1;
    let anna_later: Vec<_> = t.iter().skip(1).filter(|(p, _)| p.contains("/users/anna@")).collect();
    assert_eq!(anna_later.len(), 2);
    for (_, at) in anna_later {
        let gap = at.duration_since(throttled_at);
        assert!(
            gap >= Duration::from_millis(1500),
            "a request went out {gap:?} after the 429 (Retry-After 1.5 s)"
        );
    }
    assert_eq!(anna.requests(), 2, "the throttled request was sent again once");
}

#[tokio::test]
async fn a_503_holds_back_the_tenant_and_a_long_wait_is_reported_without_sending() {
    let server = ScriptedHttp::start(|_| throttled(503, "600")).await.unwrap();
    let shared = Throttle::new();
    let cfg = GraphConfig { throttle: shared.clone(), ..config(&server) };
    let anna = GraphClient::new(
        cfg.clone(),
        Mailbox::User("anna@c.example".into()),
        Arc::new(SharedToken::new("t")),
    )
    .unwrap();
    let bob = GraphClient::new(cfg, Mailbox::User("bob@c.example".into()), Arc::new(SharedToken::new("t")))
        .unwrap();
    let e = anna.send(&anna.mailbox().mail_folders()).await.unwrap_err();
    assert_eq!(e.code(), "THROTTLED");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(600)));
    assert!(e.is_transient());
    let e = bob.send(&bob.mailbox().mail_folders()).await.unwrap_err();
    assert_eq!(e.code(), "THROTTLED");
    assert!(e.to_string().contains("the tenant"), "{e}");
    assert_eq!(server.requests().len(), 1, "nothing is sent while the tenant is held back");
}

#[tokio::test]
async fn a_refused_token_is_reported_and_a_refreshed_one_is_used_next() {
    let server = ScriptedHttp::start(|r: &Request| {
        if r.header("authorization") == Some("Bearer fresh") {
            json_answer(200, json!({"id": "u1", "mail": "anna@contoso.example"}))
        } else {
            error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
        }
    })
    .await
    .unwrap();
    let token = SharedToken::new("stale");
    let c = GraphClient::new(config(&server), Mailbox::Me, Arc::new(token.clone())).unwrap();
    let e = c.send(&c.mailbox().user()).await.unwrap_err();
    assert_eq!(e.code(), "OAUTH_TOKEN_REFUSED");
    assert!(e.is_token_refused());
    assert!(!e.to_string().contains("stale"), "the token is never in a message: {e}");
    token.set("fresh");
    let u: crmsync_protocols::graph::User = c.json(&c.mailbox().user()).await.unwrap();
    assert_eq!(u.mail.as_deref(), Some("anna@contoso.example"));
}

#[tokio::test]
async fn a_denied_send_names_the_missing_permission() {
    let server = ScriptedHttp::start(|_| {
        error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    })
    .await
    .unwrap();
    let c = client(&server, Mailbox::User("anna@contoso.example".into()));
    let e = c.send_mime(b"Message-ID: <a@b>\r\n\r\nx").await.unwrap_err();
    assert_eq!(e.code(), "PERMISSION_DENIED");
    assert!(!e.is_transient());
    assert!(e.to_string().contains("Mail.Send"), "{e}");
    assert!(e.to_string().contains("anna@contoso.example"), "{e}");
    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1.0/users/anna@contoso.example/sendMail");
    assert_eq!(req.header("content-type"), Some("text/plain"));
}

#[tokio::test]
async fn gone_delta_state_missing_items_and_changed_items_each_have_their_error() {
    let server = ScriptedHttp::start(|r: &Request| {
        if r.path.contains("/tasks/delta") {
            error(410, "syncStateNotFound", "The sync state generation is not found.")
        } else if r.method == "PATCH" {
            error(
                412,
                "ErrorIrresolvableConflict",
                "The change key passed in the request does not match the current change key for the item.",
            )
        } else {
            error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        }
    })
    .await
    .unwrap();
    let c = client(&server, Mailbox::Me);
    let mb = c.mailbox().clone();
    let e = c.collect::<TodoTask>(&mb.todo_tasks_delta("list-1", 50)).await.unwrap_err();
    assert!(e.is_resync_required(), "{}", e.code());
    let task = TodoTask { status: Some(TaskStatus::Completed), ..TodoTask::default() };
    let e = c.send(&mb.update_todo_task("list-1", "t-1", &task, Some("W/\"abc\""))).await.unwrap_err();
    assert!(e.is_conflict(), "{}", e.code());
    let patch = server.requests().into_iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(patch.header("if-match"), Some("W/\"abc\""));
    assert_eq!(patch.body, r#"{"status":"completed"}"#);
    let e = c.send(&mb.message_mime("gone-1")).await.unwrap_err();
    assert_eq!(e.code(), "ITEM_NOT_FOUND");
    assert!(e.to_string().contains("gone-1"), "{e}");
}

#[tokio::test]
async fn mime_downloads_are_batched_and_a_throttled_item_is_fetched_again() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let rounds = Arc::new(Mutex::new(0));
    let r2 = rounds.clone();
    let server = ScriptedHttp::start(move |r: &Request| {
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let mut n = r2.lock().unwrap();
        *n += 1;
        let answers: Vec<_> = body["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| {
                let (id, url) = (q["id"].clone(), q["url"].as_str().unwrap().to_string());
                if url.contains("/m2/") && *n == 1 {
                    json!({"id": id, "status": 429, "headers": {"Retry-After": "1"}, "body": {"error": {"code": "TooManyRequests", "message": "x"}}})
                } else if url.contains("/m3/") {
                    json!({"id": id, "status": 404, "body": {"error": {"code": "ErrorItemNotFound", "message": "x"}}})
                } else {
                    let name = url.split('/').nth(3).unwrap().to_string();
                    json!({"id": id, "status": 200, "headers": {"Content-Type": "text/plain"}, "body": b64(&format!("Subject: {name}\r\n\r\nhi\r\n"))})
                }
            })
            .collect();
        json_answer(200, json!({"responses": answers}))
    })
    .await
    .unwrap();
    let c = client(&server, Mailbox::Me);
    let ids: Vec<String> = (1..=22).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let started = Instant::now();
    let got = c.messages_mime(&refs).await.unwrap();
    assert_eq!(got.len(), 22);
    assert_eq!(got[0].as_ref().unwrap(), b"Subject: m1\r\n\r\nhi\r\n");
    assert_eq!(got[1].as_ref().unwrap(), b"Subject: m2\r\n\r\nhi\r\n");
    assert_eq!(got[2].as_ref().unwrap_err().code(), "ITEM_NOT_FOUND");
    assert_eq!(got[21].as_ref().unwrap(), b"Subject: m22\r\n\r\nhi\r\n");
    assert!(started.elapsed() >= Duration::from_secs(1), "the retry waited for Retry-After");
    let reqs = server.requests();
    let sizes: Vec<usize> = reqs
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["requests"].as_array().unwrap().len()
        })
        .collect();
    // 20 + the throttled one again, then the last 2.
    assert_eq!(sizes, [20, 1, 2]);
    assert!(reqs.iter().all(|r| r.path == "/v1.0/$batch" && r.method == "POST"));
}

#[tokio::test]
async fn an_oversized_answer_is_cut_off_at_the_limit() {
    let server = ScriptedHttp::start(|_| Answer::Repeated {
        status: 200,
        announce_length: false,
        prefix: b"{\"value\":[".to_vec(),
        chunk: vec![b' '; 64 << 10],
        times: 1 << 14, // 1 GiB
    })
    .await
    .unwrap();
    let cfg = GraphConfig { max_response_bytes: 1 << 20, ..config(&server) };
    let c = GraphClient::new(cfg, Mailbox::Me, Arc::new(SharedToken::new("t"))).unwrap();
    let e = c.send(&c.mailbox().mail_folders()).await.unwrap_err();
    assert_eq!(e.code(), "RESPONSE_TOO_LARGE");
    assert!(server.body_bytes_written() < 64 << 20, "read on: {}", server.body_bytes_written());
}

#[tokio::test]
async fn a_server_that_does_not_answer_times_out_as_transient() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            open.push(s); // accepted, never answered
        }
    });
    let cfg = GraphConfig {
        base_url: format!("http://127.0.0.1:{port}/v1.0"),
        timeout: Duration::from_millis(500),
        ..GraphConfig::default()
    };
    let c = GraphClient::new(cfg, Mailbox::Me, Arc::new(SharedToken::new("t"))).unwrap();
    let e = c.send(&c.mailbox().mail_folders()).await.unwrap_err();
    assert_eq!(e.code(), "TIMEOUT");
    assert!(e.is_transient());
    hold.abort();
}

#[test]
fn plain_http_is_refused_except_on_loopback() {
    let mk = |url: &str| {
        let cfg = GraphConfig { base_url: url.into(), ..GraphConfig::default() };
        GraphClient::new(cfg, Mailbox::Me, Arc::new(SharedToken::new("t"))).map_err(Box::new)
    };
    let e = mk("http://graph.contoso.example/v1.0").unwrap_err();
    assert_eq!(e.code(), "INVALID_SETTINGS");
    assert!(e.to_string().contains("must use https"), "{e}");
    mk("http://127.0.0.1:8080/v1.0").unwrap();
    mk("https://graph.microsoft.com/v1.0").unwrap();
    assert_eq!(mk("not a url").unwrap_err().code(), "INVALID_SETTINGS");
}

/// A one-answer-per-connection HTTPS server with the harness CA's
/// certificate; returns its base URL and the request heads it read.
async fn tls_server(ca: &crmsync_tests::tls::TestCa) -> (String, Arc<Mutex<Vec<String>>>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let certs =
        CertificateDer::pem_file_iter(ca.cert_path()).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_file(ca.key_path()).unwrap();
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let heads: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = heads.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                seen.lock().unwrap().push(String::from_utf8_lossy(&buf).into_owned());
                let body = br#"{"id":"u1","mail":"anna@contoso.example"}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (format!("https://localhost:{port}/v1.0"), heads)
}

#[tokio::test]
async fn the_service_is_reached_over_tls_verified_with_the_profiles_ca_only() {
    let dir = tempfile::tempdir().unwrap();
    let ca = crmsync_tests::tls::TestCa::generate(dir.path()).unwrap();
    let (base_url, heads) = tls_server(&ca).await;
    let untrusted =
        GraphConfig { base_url: base_url.clone(), timeout: Duration::from_secs(5), ..GraphConfig::default() };
    let c = GraphClient::new(untrusted, Mailbox::Me, Arc::new(SharedToken::new("secret-token"))).unwrap();
    let e = c.send(&c.mailbox().user()).await.unwrap_err();
    assert_eq!(e.code(), "TLS_CERT_INVALID", "{e}");
    assert!(heads.lock().unwrap().is_empty(), "nothing (no token) was sent to an unverified server");
    let trusted = GraphConfig {
        base_url,
        timeout: Duration::from_secs(5),
        extra_roots: ca.ca_pem().as_bytes().to_vec(),
        ..GraphConfig::default()
    };
    let c = GraphClient::new(trusted, Mailbox::Me, Arc::new(SharedToken::new("secret-token"))).unwrap();
    let u: crmsync_protocols::graph::User = c.json(&c.mailbox().user()).await.unwrap();
    assert_eq!(u.mail.as_deref(), Some("anna@contoso.example"));
    let head = heads.lock().unwrap()[0].to_ascii_lowercase();
    assert!(head.starts_with("get /v1.0/me http/1.1"), "{head}");
    assert!(head.contains("authorization: bearer secret-token"), "{head}");
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_skipped_alone_and_the_others_arrive() {
    use base64::Engine as _;
    let big = "x".repeat(3000);
    let server = ScriptedHttp::start(move |r: &Request| {
        if r.path == "/v1.0/$batch" {
            let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
            json_answer(200, json!({"responses": [
                {"id": "0", "status": 200, "headers": {"Content-Type": "text/plain"}, "body": b64("Subject: small\r\n\r\n")},
                {"id": "1", "status": 200, "headers": {"Content-Type": "text/plain"}, "body": b64(&big)},
            ]}))
        } else {
            Answer::Full { status: 200, headers: vec![], body: big.clone().into_bytes() }
        }
    })
    .await
    .unwrap();
    let cfg = GraphConfig { max_message_bytes: 1000, ..config(&server) };
    let c = GraphClient::new(cfg, Mailbox::Me, Arc::new(SharedToken::new("t"))).unwrap();
    let got = c.messages_mime(&["small", "huge"]).await.unwrap();
    assert_eq!(got[0].as_ref().unwrap(), b"Subject: small\r\n\r\n");
    let e = got[1].as_ref().unwrap_err();
    assert_eq!((e.code(), e.class()), ("MESSAGE_TOO_LARGE", crmsync_core::ErrorClass::Item));
    assert!(e.to_string().contains("huge"), "{e}");
    let e = c.messages_mime(&["huge"]).await.unwrap().pop().unwrap().unwrap_err();
    assert_eq!(e.code(), "MESSAGE_TOO_LARGE");
}

#[tokio::test]
async fn a_refused_token_in_a_batch_fails_the_whole_download() {
    let server = ScriptedHttp::start(|_| {
        json_answer(200, json!({"responses": [
            {"id": "0", "status": 401, "body": {"error": {"code": "InvalidAuthenticationToken", "message": "expired"}}},
            {"id": "1", "status": 401, "body": {"error": {"code": "InvalidAuthenticationToken", "message": "expired"}}},
        ]}))
    })
    .await
    .unwrap();
    let c = client(&server, Mailbox::Me);
    let e = c.messages_mime(&["a", "b"]).await.unwrap_err();
    assert_eq!(e.code(), "OAUTH_TOKEN_REFUSED");
}

#[tokio::test]
async fn delegated_clients_of_different_people_do_not_share_a_throttling_hold() {
    let server = ScriptedHttp::start(|r: &Request| {
        if r.header("authorization") == Some("Bearer anna") {
            throttled(429, "600")
        } else {
            json_answer(200, json!({"id": "u"}))
        }
    })
    .await
    .unwrap();
    let shared = Throttle::new();
    let mk = |who: &str| {
        let cfg = GraphConfig { throttle: shared.clone(), ..config(&server) };
        GraphClient::new(cfg, Mailbox::Me, Arc::new(SharedToken::new(who)))
            .unwrap()
            .for_account(&format!("{who}@c.example"))
    };
    let (anna, bob) = (mk("anna"), mk("bob"));
    let e = anna.send(&anna.mailbox().user()).await.unwrap_err();
    assert_eq!(e.code(), "THROTTLED");
    assert!(e.to_string().contains("anna@c.example"), "{e}");
    bob.send(&bob.mailbox().user()).await.unwrap();
}
