//! Hostile servers (the harness's scripted IMAP and POP3 servers): what a
//! server sends is bounded by the settings, not by the server. Each case ends
//! in its error code, quickly, without the process's memory growing.

use std::future::Future;
use std::time::{Duration, Instant};

use crmsync_core::model::Security;
use crmsync_protocols::{ImapClient, Pop3Client, ServerSettings};
use crmsync_tests::{Hostile, Pop3Fault, ScriptedImap, ScriptedPop3};

fn plain(host: &str, port: u16) -> ServerSettings {
    let mut s = ServerSettings::new(host, port, Security::None, "anna", "pw");
    s.allow_insecure = true;
    s.timeout = Duration::from_secs(10);
    s.op_deadline = Duration::from_secs(20);
    s.max_message_bytes = 1 << 20;
    s
}

/// Peak resident memory of this test process so far, in MB (`VmHWM`).
fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
}

/// Runs `fut`, failing the test if it takes longer than `limit` (a hang before the fix).
async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut).await.expect("the client was held by the server")
}

fn message(n: u32) -> Vec<u8> {
    format!("Message-ID: <{n}@hostile.test>\r\nSubject: m{n}\r\n\r\nbody {n}\r\n").into_bytes()
}

#[tokio::test]
async fn an_imap_literal_of_4_gb_is_refused_before_it_is_read() {
    let srv = ScriptedImap::start(1, vec![(1, message(1))]).unwrap();
    srv.set_hostile(Some(Hostile::HugeLiteral));
    let before = peak_rss_mb();
    let started = Instant::now();
    let mut imap = ImapClient::connect(&plain(srv.host(), srv.port())).await.unwrap();
    imap.select("INBOX").await.unwrap();
    let e = within(Duration::from_secs(30), imap.fetch_batch(&[1])).await.unwrap_err();
    assert_eq!(e.code(), "RESPONSE_TOO_LARGE", "{e}");
    assert!(e.to_string().contains("4000000000"), "the error names the literal: {e}");
    assert!(started.elapsed() < Duration::from_secs(5), "refused at once: {:?}", started.elapsed());
    assert!(peak_rss_mb() < before + 64, "memory grew from {before} MB to {} MB", peak_rss_mb());
    let e = imap.uids_since(0).await.unwrap_err();
    assert_eq!(e.code(), "CONNECTION_LOST", "the cut-off session is not reused: {e}");
}

#[tokio::test]
async fn endless_untagged_imap_lines_end_at_the_command_budget() {
    let srv = ScriptedImap::start(1, vec![(1, message(1))]).unwrap();
    srv.set_hostile(Some(Hostile::EndlessUntagged));
    let before = peak_rss_mb();
    // The byte budget, not the clock, must end this: on a loaded machine the
    // test's short 20 s deadline could fire first (seen as TIMEOUT), so give
    // the command the product's own deadline.
    let mut s = plain(srv.host(), srv.port());
    s.op_deadline = Duration::from_secs(300);
    let mut imap = ImapClient::connect(&s).await.unwrap();
    let e = within(Duration::from_secs(300), imap.select("INBOX")).await.unwrap_err();
    assert_eq!(e.code(), "RESPONSE_TOO_LARGE", "{e}");
    assert!(e.to_string().contains("SELECT"), "the error names the command: {e}");
    assert!(peak_rss_mb() < before + 128, "memory grew from {before} MB to {} MB", peak_rss_mb());
}

#[tokio::test]
async fn an_imap_server_dripping_lines_before_login_hits_the_total_deadline() {
    let srv = ScriptedImap::start(1, vec![]).unwrap();
    srv.set_hostile(Some(Hostile::DripBeforeLogin { every: Duration::from_millis(800) }));
    let mut s = plain(srv.host(), srv.port());
    s.timeout = Duration::from_secs(1);
    s.op_deadline = Duration::from_secs(3);
    let started = Instant::now();
    let e = within(Duration::from_secs(30), ImapClient::connect(&s)).await.unwrap_err();
    assert_eq!(e.code(), "TIMEOUT", "{e}");
    assert!(e.is_transient());
    assert!(e.to_string().contains("CAPABILITY") && e.to_string().contains("total deadline"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
}

#[tokio::test]
async fn imap_starttls_missing_when_required_is_starttls_unavailable() {
    let srv = ScriptedImap::start(1, vec![]).unwrap();
    let mut s = plain(srv.host(), srv.port());
    s.security = Security::Starttls;
    s.allow_insecure = false;
    let e = ImapClient::connect(&s).await.unwrap_err();
    assert_eq!(e.code(), "STARTTLS_UNAVAILABLE", "{e}");
    assert!(!srv.commands().iter().any(|c| c.starts_with("LOGIN")), "{:?}", srv.commands());
}

#[tokio::test]
async fn plaintext_injected_after_imap_starttls_is_refused() {
    let srv = ScriptedImap::start(1, vec![]).unwrap();
    srv.set_hostile(Some(Hostile::StartTlsInjection));
    let mut s = plain(srv.host(), srv.port());
    s.security = Security::Starttls;
    s.allow_insecure = false;
    let e = within(Duration::from_secs(30), ImapClient::connect(&s)).await.unwrap_err();
    assert_eq!(e.code(), "PROTOCOL_ERROR", "{e}");
    assert!(e.to_string().contains("before the TLS handshake"), "{e}");
    assert_eq!(srv.commands(), ["STARTTLS"], "nothing else was sent");
}

#[tokio::test]
async fn endless_pop3_capa_lines_are_refused() {
    let srv = ScriptedPop3::start(vec![("a".into(), message(1))]).unwrap();
    srv.set_fault(Some(Pop3Fault::EndlessCapa));
    let before = peak_rss_mb();
    let e = within(Duration::from_secs(30), Pop3Client::connect(&plain(srv.host(), srv.port())))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "RESPONSE_TOO_LARGE", "{e}");
    assert!(e.to_string().contains("CAPA"), "{e}");
    assert!(peak_rss_mb() < before + 64, "memory grew from {before} MB to {} MB", peak_rss_mb());
}

#[tokio::test]
async fn a_2_gb_pop3_message_is_not_downloaded_and_the_session_goes_on() {
    let srv = ScriptedPop3::start(vec![("a".into(), message(1)), ("b".into(), message(2))]).unwrap();
    srv.set_fault(Some(Pop3Fault::EndlessRetr { announce: 2 << 30 }));
    let mut pop = Pop3Client::connect(&plain(srv.host(), srv.port())).await.unwrap();
    let e = within(Duration::from_secs(30), pop.retr(1)).await.unwrap_err();
    assert_eq!(e.code(), "MESSAGE_TOO_LARGE", "{e}");
    assert_eq!(e.class(), crmsync_core::ErrorClass::Item);
    assert!(e.to_string().contains("2147483648"), "the error names the size: {e}");
    assert_eq!(srv.count_commands("RETR"), 0, "not even asked for");
    assert!(!pop.is_broken());
    assert_eq!(pop.stat().await.unwrap().messages, 2, "the session goes on");
}

#[tokio::test]
async fn a_pop3_server_sending_more_than_it_announced_is_cut_off_at_the_limit() {
    let srv = ScriptedPop3::start(vec![("a".into(), message(1))]).unwrap();
    srv.set_fault(Some(Pop3Fault::EndlessRetr { announce: 100 }));
    let before = peak_rss_mb();
    let mut pop = Pop3Client::connect(&plain(srv.host(), srv.port())).await.unwrap();
    let e = within(Duration::from_secs(30), pop.retr(1)).await.unwrap_err();
    assert_eq!(e.code(), "MESSAGE_TOO_LARGE", "{e}");
    assert!(pop.is_broken(), "the rest of the answer was not read: the session is done");
    assert!(peak_rss_mb() < before + 64, "memory grew from {before} MB to {} MB", peak_rss_mb());
}

#[tokio::test]
async fn a_pop3_retr_dripping_a_byte_at_a_time_hits_the_total_deadline() {
    let srv = ScriptedPop3::start(vec![("a".into(), message(1))]).unwrap();
    srv.set_fault(Some(Pop3Fault::DripRetr { every: Duration::from_millis(800) }));
    let mut s = plain(srv.host(), srv.port());
    s.timeout = Duration::from_secs(1);
    s.op_deadline = Duration::from_secs(3);
    let mut pop = Pop3Client::connect(&s).await.unwrap();
    let started = Instant::now();
    let e = within(Duration::from_secs(30), pop.retr(1)).await.unwrap_err();
    assert_eq!(e.code(), "TIMEOUT", "{e}");
    assert!(e.is_transient());
    assert!(e.to_string().contains("RETR") && e.to_string().contains("total deadline"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
}

#[tokio::test]
async fn an_imap_batch_holds_at_most_the_size_limit_and_defers_the_rest() {
    let big = |n: u32| {
        let mut m = message(n);
        m.extend(std::iter::repeat_n(b'y', 600 << 10));
        m.extend_from_slice(b"\r\n");
        m
    };
    let srv = ScriptedImap::start(1, vec![(1, big(1)), (2, big(2)), (3, message(3)), (4, big(4))]).unwrap();
    let mut imap = ImapClient::connect(&plain(srv.host(), srv.port())).await.unwrap();
    imap.select("INBOX").await.unwrap();
    let first = imap.fetch_batch(&[1, 2, 3, 4]).await.unwrap();
    assert_eq!(first.messages.iter().map(|m| m.uid).collect::<Vec<_>>(), [1]);
    assert_eq!(first.deferred, [2, 3, 4], "1 MB holds one 600 KB message");
    let second = imap.fetch_batch(&first.deferred).await.unwrap();
    assert_eq!(second.messages.iter().map(|m| m.uid).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(second.deferred, [4]);
    assert!(first.too_large.is_empty() && second.too_large.is_empty());
    assert_eq!(imap.fetch_uids(&[1, 2, 3, 4]).await.unwrap().len(), 4, "fetch_uids asks until all came");
}
