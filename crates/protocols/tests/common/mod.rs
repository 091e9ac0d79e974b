//! Shared helpers of the real-server tests: settings for the harness Dovecot
//! and test messages.

#![allow(dead_code)]

use std::time::Duration;

use crmsync_core::model::Security;
use crmsync_protocols::ServerSettings;
use crmsync_tests::{Dovecot, DovecotOptions};

/// The password of every test user.
pub const PASSWORD: &str = "s3cret-Pa55";

/// Starts Dovecot with one user `anna`.
pub fn dovecot() -> Dovecot {
    let d = Dovecot::start().expect("start dovecot");
    d.add_user("anna", PASSWORD).expect("add user");
    d
}

/// Starts Dovecot with extra configuration lines and one user `anna`.
pub fn dovecot_with(extra_config: &str) -> Dovecot {
    let options = DovecotOptions { extra_config: extra_config.to_string(), ..DovecotOptions::default() };
    let d = Dovecot::start_with(options).expect("start dovecot");
    d.add_user("anna", PASSWORD).expect("add user");
    d
}

/// Settings trusting the harness CA, 10 s timeout.
pub fn settings(d: &Dovecot, port: u16, security: Security) -> ServerSettings {
    let mut s = ServerSettings::new(d.host(), port, security, "anna", PASSWORD);
    s.extra_roots = d.ca_pem().as_bytes().to_vec();
    s.timeout = Duration::from_secs(10);
    s
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Test message number `n`: distinct Message-ID, 8-bit body, lines starting with dots.
pub fn message(n: usize) -> Vec<u8> {
    format!(
        "From: Bob <bob@example.test>\r\nTo: anna@example.test\r\nSubject: test {n}\r\n\
         Message-ID: <msg-{n}@example.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Hello number {n}, gr\u{fc}\u{df}e aus K\u{f6}ln.\r\n.leading dot\r\n..two dots\r\n.\r\n\
         a line after a lone dot\r\n"
    )
    .into_bytes()
}

/// What Dovecot stores for a message delivered over LMTP: it prepends `Return-Path`.
pub fn stored(raw: &[u8]) -> Vec<u8> {
    let mut out = b"Return-Path: <>\r\n".to_vec();
    out.extend_from_slice(raw);
    out
}
