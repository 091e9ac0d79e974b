//! Network faults between the clients and Dovecot (the harness's fault proxy):
//! stalls become timeouts, resets become lost connections, both transient.

mod common;

use std::time::Duration;

use common::{dovecot, message, settings};
use crmsync_core::ErrorClass;
use crmsync_core::model::Security;
use crmsync_protocols::{ImapClient, Pop3Client, ServerSettings};
use crmsync_tests::{FaultMode, FaultProxy};

fn via(proxy: &FaultProxy, mut s: ServerSettings) -> ServerSettings {
    s.port = proxy.port();
    s.timeout = Duration::from_secs(1);
    s
}

#[tokio::test]
async fn a_stalled_server_times_out_and_the_session_is_dropped() {
    let d = dovecot();
    let proxy = FaultProxy::start(d.host(), d.imaps_port()).unwrap();
    let s = via(&proxy, settings(&d, 0, Security::Tls));

    proxy.set_mode(FaultMode::Stall);
    let e = ImapClient::connect(&s).await.unwrap_err();
    assert_eq!(e.code(), "CONNECT_TIMEOUT", "{e}");
    assert_eq!(e.class(), ErrorClass::Transient);

    proxy.set_mode(FaultMode::Forward);
    let mut imap = ImapClient::connect(&s).await.unwrap();
    imap.select("INBOX").await.unwrap();
    proxy.set_mode(FaultMode::Stall);
    let e = imap.uids_since(0).await.unwrap_err();
    assert_eq!(e.code(), "TIMEOUT", "{e}");
    assert_eq!(e.class(), ErrorClass::Transient);
    proxy.set_mode(FaultMode::Forward);
    let e = imap.uids_since(0).await.unwrap_err();
    assert_eq!(e.code(), "CONNECTION_LOST", "a timed-out session is not reused: {e}");
}

#[tokio::test]
async fn a_reset_connection_is_lost_not_permanent() {
    let d = dovecot();
    d.deliver("anna", &message(1)).await.unwrap();
    let proxy = FaultProxy::start(d.host(), d.imaps_port()).unwrap();
    let s = via(&proxy, settings(&d, 0, Security::Tls));
    let mut imap = ImapClient::connect(&s).await.unwrap();
    imap.select("INBOX").await.unwrap();
    proxy.set_mode(FaultMode::Reset { after_bytes: 0 });
    let e = imap.fetch_since(0, 10).await.unwrap_err();
    assert_eq!(e.code(), "CONNECTION_LOST", "{e}");
    assert_eq!(e.class(), ErrorClass::Transient);
}

#[tokio::test]
async fn pop3_stall_and_reset() {
    let d = dovecot();
    d.deliver("anna", &message(1)).await.unwrap();
    let proxy = FaultProxy::start(d.host(), d.pop3s_port()).unwrap();
    let s = via(&proxy, settings(&d, 0, Security::Tls));
    let mut pop = Pop3Client::connect(&s).await.unwrap();
    proxy.set_mode(FaultMode::Stall);
    let e = pop.retr(1).await.unwrap_err();
    assert_eq!(e.code(), "TIMEOUT", "{e}");
    proxy.set_mode(FaultMode::Forward);
    assert_eq!(pop.stat().await.unwrap_err().code(), "CONNECTION_LOST");

    let mut pop = Pop3Client::connect(&s).await.unwrap();
    proxy.set_mode(FaultMode::Reset { after_bytes: 0 });
    let e = pop.uidl().await.unwrap_err();
    assert_eq!(e.code(), "CONNECTION_LOST", "{e}");
    assert_eq!(e.class(), ErrorClass::Transient);
}
