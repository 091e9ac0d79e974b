//! The CalDAV/CardDAV client against a hostile server (scripted, since no real
//! server misbehaves on demand): answers larger than the limit, XML nested a
//! million deep, hrefs and redirects that point to another host. Each ends in
//! its error code, memory stays bounded, and the login never leaves the
//! profile's server.

use std::time::Duration;

use crmsync_core::ErrorClass;
use crmsync_protocols::dav::{DavClient, SyncOutcome};
use crmsync_tests::scripted_http::{Answer, ScriptedHttp};

fn client(server: &ScriptedHttp, max_mb: u64) -> DavClient {
    DavClient::new(&format!("{}/", server.base_url()), "alice", "alice-secret", Duration::from_secs(10), &[])
        .unwrap()
        .with_max_response_mb(max_mb)
}

const GIB: u64 = 1024 * 1024 * 1024;

fn member(href: &str, etag: &str) -> String {
    format!(
        "<d:response><d:href>{href}</d:href><d:propstat><d:prop><d:getetag>{etag}</d:getetag></d:prop>\
         <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    )
}

#[tokio::test]
async fn a_one_gigabyte_report_is_refused_after_the_limit_and_not_read() {
    for announce_length in [true, false] {
        let server = ScriptedHttp::start(move |_| Answer::Repeated {
            status: 207,
            announce_length,
            prefix: b"<d:multistatus xmlns:d=\"DAV:\">".to_vec(),
            chunk: member("/cal/x.ics", "\"e\"").into_bytes().repeat(256),
            times: GIB / (256 * 150),
        })
        .await
        .unwrap();
        let e = client(&server, 1)
            .sync_collection(&format!("{}/cal/", server.base_url()), None)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "RESPONSE_TOO_LARGE", "{e}");
        assert_eq!(e.class(), ErrorClass::Permanent);
        assert!(e.to_string().contains("more than 1 MB for REPORT /cal/"), "{e}");
        // What the server got out is what the socket buffers took, not the gigabyte.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let written = server.body_bytes_written();
        assert!(
            written < 64 * 1024 * 1024,
            "announce_length={announce_length}: the client read on: {written}"
        );
    }
}

#[tokio::test]
async fn xml_nested_a_million_deep_is_a_protocol_error_naming_the_depth() {
    let deep = format!("<d:multistatus xmlns:d=\"DAV:\">{}", "<d:x>".repeat(1_000_000));
    let server = ScriptedHttp::start(move |_| Answer::multistatus(deep.clone())).await.unwrap();
    let e =
        client(&server, 64).sync_collection(&format!("{}/cal/", server.base_url()), None).await.unwrap_err();
    assert_eq!(e.code(), "PROTOCOL_ERROR", "{e}");
    assert!(e.to_string().contains("nested deeper than 64 elements"), "{e}");
}

#[tokio::test]
async fn a_principal_on_another_host_is_not_followed_and_gets_no_login() {
    let elsewhere = ScriptedHttp::start(|_| Answer::status(500)).await.unwrap();
    let foreign = format!("{}/stolen/", elsewhere.base_url());
    let server = ScriptedHttp::start(move |_| {
        Answer::multistatus(format!(
            "<d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>/</d:href><d:propstat><d:prop>\
             <d:current-user-principal><d:href>{foreign}</d:href></d:current-user-principal>\
             <d:resourcetype><d:collection/></d:resourcetype></d:prop>\
             <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"
        ))
    })
    .await
    .unwrap();
    let e = client(&server, 64).discover().await.unwrap_err();
    assert_eq!(e.code(), "PROTOCOL_ERROR", "{e}");
    assert!(e.to_string().contains("/stolen/") && e.to_string().contains("does not follow it"), "{e}");
    assert!(elsewhere.requests().is_empty(), "a request reached the other host: {:?}", elsewhere.requests());
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed() {
    let elsewhere = ScriptedHttp::start(|_| Answer::status(500)).await.unwrap();
    let target = format!("{}/cal/", elsewhere.base_url());
    let server = ScriptedHttp::start(move |_| Answer::Full {
        status: 301,
        headers: vec![("Location".into(), target.clone())],
        body: vec![],
    })
    .await
    .unwrap();
    let e =
        client(&server, 64).sync_collection(&format!("{}/cal/", server.base_url()), None).await.unwrap_err();
    assert!(e.to_string().contains("301"), "the redirect is reported, not followed: {e}");
    assert!(elsewhere.requests().is_empty(), "the redirect was followed: {:?}", elsewhere.requests());
}

#[tokio::test]
async fn listed_members_on_another_host_or_scheme_are_ignored() {
    let server = ScriptedHttp::start(|_| {
        Answer::multistatus(format!(
            "<d:multistatus xmlns:d=\"DAV:\">{}{}{}<d:sync-token>t1</d:sync-token></d:multistatus>",
            member("/cal/own.ics", "\"1\""),
            member("http://other.test/cal/theirs.ics", "\"2\""),
            member("https://127.0.0.1:1/cal/tls.ics", "\"3\""),
        ))
    })
    .await
    .unwrap();
    let out =
        client(&server, 64).sync_collection(&format!("{}/cal/", server.base_url()), None).await.unwrap();
    let SyncOutcome::Changes(c) = out else { panic!("changes expected: {out:?}") };
    assert_eq!(c.changed, vec![("/cal/own.ics".to_string(), "\"1\"".to_string())]);
}
