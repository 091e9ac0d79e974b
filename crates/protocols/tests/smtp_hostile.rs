//! The SMTP client against a hostile server (scripted: Postfix does not
//! misbehave on demand): STARTTLS missing where the profile requires it,
//! plaintext injected after the STARTTLS reply, a reply that never ends,
//! a line without end, one byte at a time. Each ends in its error code,
//! quickly, with memory bounded; nothing is sent in the clear.

use std::time::{Duration, Instant};

use crmsync_core::model::Security;
use crmsync_protocols::ServerSettings;
use crmsync_protocols::smtp::SmtpClient;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the server does after the client's EHLO.
#[derive(Clone, Copy)]
enum Script {
    /// EHLO answered without STARTTLS.
    NoStarttls,
    /// STARTTLS offered; its 220 arrives in one packet with a forged line after it.
    InjectAfterStarttls,
    /// EHLO answered with `250-` lines that never end.
    EndlessReply,
    /// EHLO answered with one line that never ends.
    EndlessLine,
    /// EHLO answered one byte every 700 ms.
    Trickle,
}

/// A one-connection server on a loopback port; returns the port and a handle
/// that yields every line the client sent.
async fn serve(script: Script) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        let mut seen = Vec::new();
        let _ = write.write_all(b"220 hostile.test ESMTP\r\n").await;
        let mut line = String::new();
        loop {
            line.clear();
            if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                return seen;
            }
            seen.push(line.trim_end().to_string());
            let cmd = line.to_ascii_uppercase();
            let r = match (script, cmd.split_whitespace().next().unwrap_or("")) {
                (Script::NoStarttls, "EHLO") => {
                    write.write_all(b"250-hostile.test\r\n250 AUTH PLAIN\r\n").await
                }
                (Script::InjectAfterStarttls, "EHLO") => {
                    write.write_all(b"250-hostile.test\r\n250 STARTTLS\r\n").await
                }
                (Script::InjectAfterStarttls, "STARTTLS") => {
                    write.write_all(b"220 go ahead\r\n250-hostile.test\r\n250 AUTH PLAIN\r\n").await
                }
                (Script::EndlessReply, "EHLO") => loop {
                    if write.write_all(b"250-more\r\n").await.is_err() {
                        return seen;
                    }
                },
                (Script::EndlessLine, "EHLO") => {
                    let _ = write.write_all(b"250 ").await;
                    loop {
                        if write.write_all(&[b'x'; 65536]).await.is_err() {
                            return seen;
                        }
                    }
                }
                (Script::Trickle, "EHLO") => {
                    for b in b"250 hostile.test\r\n" {
                        tokio::time::sleep(Duration::from_millis(700)).await;
                        if write.write_all(&[*b]).await.is_err() {
                            return seen;
                        }
                    }
                    Ok(())
                }
                _ => write.write_all(b"250 ok\r\n").await,
            };
            if r.is_err() {
                return seen;
            }
        }
    });
    (port, task)
}

fn client(port: u16, security: Security) -> SmtpClient {
    let mut s = ServerSettings::new("127.0.0.1", port, security, "anna@hostile.test", "Hostile-Secret-1");
    s.allow_insecure = security == Security::None;
    s.timeout = Duration::from_secs(2);
    SmtpClient::new(&s, true).unwrap()
}

const MSG: &[u8] = b"From: anna@hostile.test\r\nTo: bob@x.test\r\nSubject: s\r\n\r\nhi\r\n";

async fn submit_error(port: u16, security: Security) -> crmsync_protocols::ProtocolError {
    let c = client(port, security);
    match c.submit("anna@hostile.test", &["bob@x.test".to_string()], MSG).await {
        Ok(s) => s.reply().await.expect_err("the hostile server must not be taken for a working one"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn starttls_required_but_not_offered_is_refused_before_any_login() {
    let (port, server) = serve(Script::NoStarttls).await;
    let e = submit_error(port, Security::Starttls).await;
    assert_eq!(e.code(), "STARTTLS_UNAVAILABLE", "{e}");
    let seen = server.await.unwrap();
    assert!(
        seen.iter().all(|l| !l.to_ascii_uppercase().starts_with("AUTH")),
        "login sent in the clear: {seen:?}"
    );
}

#[tokio::test]
async fn plaintext_injected_after_the_starttls_reply_is_refused() {
    let (port, server) = serve(Script::InjectAfterStarttls).await;
    let e = submit_error(port, Security::Starttls).await;
    assert_eq!(e.code(), "PROTOCOL_ERROR", "{e}");
    let seen = server.await.unwrap();
    assert!(seen.iter().all(|l| !l.to_ascii_uppercase().starts_with("AUTH")), "{seen:?}");
}

#[tokio::test]
async fn a_reply_that_never_ends_is_cut_off_at_its_line_limit() {
    let (port, _server) = serve(Script::EndlessReply).await;
    let t = Instant::now();
    let e = submit_error(port, Security::None).await;
    assert_eq!(e.code(), "PROTOCOL_ERROR", "{e}");
    assert!(e.to_string().contains("more than"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_line_that_never_ends_is_cut_off_at_its_length_limit() {
    let (port, _server) = serve(Script::EndlessLine).await;
    let e = submit_error(port, Security::None).await;
    assert!(matches!(e.code(), "CONNECTION_LOST" | "PROTOCOL_ERROR"), "{e}");
    assert!(e.to_string().to_lowercase().contains("long") || e.to_string().contains("limit"), "{e}");
}

#[tokio::test]
async fn one_byte_at_a_time_inside_the_read_timeout_still_ends_at_the_reply_deadline() {
    let (port, _server) = serve(Script::Trickle).await;
    let t = Instant::now();
    let e = submit_error(port, Security::None).await;
    assert_eq!(e.code(), "TIMEOUT", "{e}");
    assert!(t.elapsed() < Duration::from_secs(8), "took {:?}", t.elapsed());
}
