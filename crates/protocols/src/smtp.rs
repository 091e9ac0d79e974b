//! SMTP on lettre: implicit TLS, STARTTLS, or plaintext only when the profile
//! allows it; AUTH PLAIN/LOGIN or none; one connection reused for several
//! messages; replies mapped to classed [`ProtocolError`]s (4xx transient, 5xx
//! per item).
//!
//! The TCP connection (and implicit TLS) is made by [`crate::transport`] with
//! `TCP_NODELAY`: lettre writes the message and the closing `.` separately,
//! and with Nagle's algorithm the second write would wait for the server's
//! delayed ACK (~40 ms per message).

use std::error::Error as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crmsync_core::model::Security;
use lettre::address::Envelope;
use lettre::transport::smtp::Error as LettreError;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::debug;

use crate::error::{Peer, Proto, ProtocolError, Result};
use crate::settings::ServerSettings;
use crate::transport::{self, Stream};

/// A connection idle this long is checked with NOOP before it is reused.
const IDLE_CHECK: Duration = Duration::from_secs(20);

/// The byte stream under lettre: plain TCP or implicit TLS, made by us.
#[derive(Debug)]
struct Wire(Stream);

impl AsyncRead for Wire {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Wire {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for Wire {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        match &self.0 {
            Stream::Plain(s) => s.peer_addr(),
            Stream::Tls(s) => s.get_ref().0.peer_addr(),
        }
    }
}

struct Open {
    conn: AsyncSmtpConnection,
    last_used: Instant,
}

/// An SMTP client holding at most one connection, reused by every send.
pub struct SmtpClient {
    peer: Peer,
    security: Security,
    starttls: Option<TlsParameters>,
    implicit_tls: Option<Arc<rustls::ClientConfig>>,
    credentials: Option<Credentials>,
    host: String,
    port: u16,
    user: String,
    timeout: Duration,
    timeout_secs: u64,
    conn: Mutex<Option<Open>>,
}

impl std::fmt::Debug for SmtpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpClient").field("host", &self.host).field("port", &self.port).finish()
    }
}

impl SmtpClient {
    /// Prepares a client; `authenticate` false sends without AUTH (a relay that
    /// trusts the office network). Nothing is sent until [`SmtpClient::probe`] or
    /// [`SmtpClient::send`].
    pub fn new(settings: &ServerSettings, authenticate: bool) -> Result<SmtpClient> {
        let host = settings.host.clone();
        let port = settings.port;
        if settings.security == Security::None && !settings.allow_insecure {
            return Err(ProtocolError::PlaintextRefused { proto: Proto::Smtp, host, port });
        }
        let invalid = |reason: String| ProtocolError::InvalidSettings { proto: Proto::Smtp, reason };
        let starttls = if settings.security == Security::Starttls {
            let mut b = TlsParameters::builder(host.clone());
            if !settings.extra_roots.is_empty() {
                let certs = crate::tls::parse_pem_certificates(&settings.extra_roots)
                    .map_err(|e| invalid(e.to_string()))?;
                for c in certs {
                    let cert = Certificate::from_der(c.to_vec())
                        .map_err(|e| invalid(format!("extra CA certificate: {e}")))?;
                    b = b.add_root_certificate(cert);
                }
            }
            Some(b.build_rustls().map_err(|e| ProtocolError::TlsFailed {
                proto: Proto::Smtp,
                host: host.clone(),
                port,
                detail: e.to_string(),
            })?)
        } else {
            None
        };
        let implicit_tls = if settings.security == Security::Tls {
            Some(crate::tls::client_config(&settings.extra_roots).map_err(|e| invalid(e.to_string()))?)
        } else {
            None
        };
        let credentials = authenticate
            .then(|| Credentials::new(settings.username.clone(), settings.password.expose().to_string()));
        Ok(SmtpClient {
            peer: Peer::new(Proto::Smtp, &host, port),
            security: settings.security,
            starttls,
            implicit_tls,
            credentials,
            host,
            port,
            user: settings.username.clone(),
            timeout: settings.timeout,
            timeout_secs: settings.timeout.as_secs(),
            conn: Mutex::new(None),
        })
    }

    /// TCP (+ implicit TLS), EHLO, STARTTLS, AUTH.
    async fn connect(&self) -> Result<AsyncSmtpConnection> {
        let deadline = Instant::now() + self.timeout;
        let tcp = transport::connect_tcp(&self.peer, deadline, self.timeout_secs).await?;
        let stream = match &self.implicit_tls {
            Some(config) => {
                transport::tls_handshake(&self.peer, tcp, config.clone(), deadline, self.timeout_secs).await?
            }
            None => Stream::Plain(tcp),
        };
        let hello = ClientId::default();
        let setup = async {
            let mut conn =
                AsyncSmtpConnection::connect_with_transport(Box::new(Wire(stream)), &hello).await?;
            if let Some(params) = &self.starttls {
                if !conn.can_starttls() {
                    return Ok(Err(self.peer.starttls_unavailable()));
                }
                conn.starttls(params.clone(), &hello).await?;
            }
            if let Some(creds) = &self.credentials {
                conn.auth(&[Mechanism::Plain, Mechanism::Login], creds).await?;
            }
            Ok::<_, LettreError>(Ok(conn))
        };
        match tokio::time::timeout_at(deadline, setup).await {
            Err(_) => Err(self.peer.timeout("SMTP connect", self.timeout_secs)),
            Ok(Err(e)) => Err(self.map_error(&e)),
            Ok(Ok(r)) => {
                if r.is_ok() {
                    debug!(host = %self.host, port = self.port, security = %self.security, "SMTP connected");
                }
                r
            }
        }
    }

    /// Connects, says EHLO, starts TLS and authenticates; sends nothing.
    pub async fn probe(&self) -> Result<()> {
        let mut conn = self.connect().await?;
        let _ = tokio::time::timeout(self.timeout, conn.quit()).await;
        Ok(())
    }

    /// Sends one message to `recipients` from `sender` over the client's
    /// connection (opened on first use, reused after); returns the server's reply.
    pub async fn send(&self, sender: &str, recipients: &[String], raw: &[u8]) -> Result<String> {
        let parse = |a: &str| {
            a.parse().map_err(|_| ProtocolError::SmtpRejected {
                host: self.host.clone(),
                port: self.port,
                code: 501,
                reply: format!("'{a}' is not a valid address"),
            })
        };
        let to = recipients.iter().map(|r| parse(r)).collect::<Result<Vec<_>>>()?;
        let envelope = Envelope::new(Some(parse(sender)?), to).map_err(|e| ProtocolError::SmtpRejected {
            host: self.host.clone(),
            port: self.port,
            code: 501,
            reply: e.to_string(),
        })?;
        let mut slot = self.conn.lock().await;
        if let Some(open) = slot.as_mut()
            && (open.conn.has_broken()
                || (open.last_used.elapsed() > IDLE_CHECK && !open.conn.test_connected().await))
        {
            *slot = None;
        }
        if slot.is_none() {
            *slot = Some(Open { conn: self.connect().await?, last_used: Instant::now() });
        }
        let open = slot.as_mut().expect("connected above");
        // A large message on a slow link gets more time: one timeout per MiB.
        let limit = self.timeout * (1 + (raw.len() / (1 << 20)) as u32);
        let result = tokio::time::timeout(limit, open.conn.send(&envelope, raw)).await;
        open.last_used = Instant::now();
        match result {
            Ok(Ok(resp)) => {
                let text = resp.message().collect::<Vec<_>>().join(" ");
                debug!(host = %self.host, code = %resp.code(), "message accepted");
                Ok(format!("{} {}", resp.code(), text))
            }
            Ok(Err(e)) => {
                if open.conn.has_broken() {
                    *slot = None;
                }
                Err(self.map_error(&e))
            }
            Err(_) => {
                *slot = None;
                Err(ProtocolError::Timeout {
                    proto: Proto::Smtp,
                    host: self.host.clone(),
                    port: self.port,
                    operation: "SMTP send".into(),
                    secs: limit.as_secs(),
                })
            }
        }
    }

    /// Ends the connection politely (QUIT), if one is open.
    pub async fn close(&self) {
        if let Some(mut open) = self.conn.lock().await.take() {
            let _ = tokio::time::timeout(self.timeout, open.conn.quit()).await;
        }
    }

    fn map_error(&self, e: &LettreError) -> ProtocolError {
        let (host, port) = (self.host.clone(), self.port);
        let detail = full_message(e);
        if let Some(code) = e.status() {
            let n: u16 = code.to_string().parse().unwrap_or(0);
            if matches!(n, 530 | 534 | 535 | 454 if detail.to_lowercase().contains("auth"))
                || matches!(n, 535)
            {
                return ProtocolError::AuthFailed {
                    proto: Proto::Smtp,
                    host,
                    port,
                    user: self.user.clone(),
                    detail,
                };
            }
            return if e.is_transient() {
                ProtocolError::SmtpDeferred { host, port, code: n, reply: detail }
            } else {
                ProtocolError::SmtpRejected { host, port, code: n, reply: detail }
            };
        }
        if e.is_timeout() {
            return ProtocolError::Timeout {
                proto: Proto::Smtp,
                host,
                port,
                operation: "SMTP".into(),
                secs: self.timeout_secs,
            };
        }
        if e.is_tls() {
            let lower = detail.to_lowercase();
            return if lower.contains("certificate")
                || lower.contains("issuer")
                || lower.contains("notvalidforname")
            {
                ProtocolError::TlsCertInvalid { proto: Proto::Smtp, host, port, detail }
            } else {
                ProtocolError::TlsFailed { proto: Proto::Smtp, host, port, detail }
            };
        }
        if let Some(io) = io_source(e) {
            use std::io::ErrorKind as K;
            return match io.kind() {
                K::ConnectionRefused => ProtocolError::ConnectionRefused { proto: Proto::Smtp, host, port },
                K::TimedOut => {
                    ProtocolError::ConnectTimeout { proto: Proto::Smtp, host, port, secs: self.timeout_secs }
                }
                _ => ProtocolError::ConnectionLost { proto: Proto::Smtp, host, port, detail },
            };
        }
        if e.is_client() && detail.to_lowercase().contains("authentication") {
            return ProtocolError::AuthMechanismUnavailable { proto: Proto::Smtp, host, port, detail };
        }
        ProtocolError::Protocol { proto: Proto::Smtp, host, port, detail }
    }
}

fn io_source(e: &LettreError) -> Option<&std::io::Error> {
    let mut src = e.source();
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        src = s.source();
    }
    None
}

fn full_message(e: &LettreError) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.join(": ")
}
