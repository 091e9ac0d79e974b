//! SMTP on lettre: implicit TLS, STARTTLS, or plaintext only when the profile
//! allows it; AUTH PLAIN/LOGIN or none; connection reuse for several messages;
//! replies mapped to classed [`ProtocolError`]s (4xx transient, 5xx per item).

use std::error::Error as _;

use crmsync_core::model::Security;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::{AsyncSmtpTransport, Error as LettreError};
use lettre::{AsyncTransport, Tokio1Executor};
use tracing::debug;

use crate::error::{Proto, ProtocolError, Result};
use crate::settings::ServerSettings;

/// An SMTP connection (pooled by lettre: one connection serves several sends).
pub struct SmtpClient {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    host: String,
    port: u16,
    user: String,
    timeout_secs: u64,
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
        let tls_params = || -> Result<TlsParameters> {
            let mut b = TlsParameters::builder(host.clone());
            if !settings.extra_roots.is_empty() {
                let certs = crate::tls::parse_pem_certificates(&settings.extra_roots).map_err(|e| {
                    ProtocolError::InvalidSettings { proto: Proto::Smtp, reason: e.to_string() }
                })?;
                for c in certs {
                    let cert =
                        Certificate::from_der(c.to_vec()).map_err(|e| ProtocolError::InvalidSettings {
                            proto: Proto::Smtp,
                            reason: format!("extra CA certificate: {e}"),
                        })?;
                    b = b.add_root_certificate(cert);
                }
            }
            b.build_rustls().map_err(|e| ProtocolError::TlsFailed {
                proto: Proto::Smtp,
                host: host.clone(),
                port,
                detail: e.to_string(),
            })
        };
        let tls = match settings.security {
            Security::Tls => Tls::Wrapper(tls_params()?),
            Security::Starttls => Tls::Required(tls_params()?),
            Security::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .tls(tls)
            .timeout(Some(settings.timeout));
        if authenticate {
            builder = builder
                .credentials(Credentials::new(
                    settings.username.clone(),
                    settings.password.expose().to_string(),
                ))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        Ok(SmtpClient {
            transport: builder.build(),
            host,
            port,
            user: settings.username.clone(),
            timeout_secs: settings.timeout.as_secs(),
        })
    }

    /// Connects, says EHLO, starts TLS and authenticates; sends nothing.
    pub async fn probe(&self) -> Result<()> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ProtocolError::Protocol {
                proto: Proto::Smtp,
                host: self.host.clone(),
                port: self.port,
                detail: "the server did not answer NOOP".into(),
            }),
            Err(e) => Err(self.map_error(&e)),
        }
    }

    /// Sends one message to `recipients` from `sender`; returns the server's reply.
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
        match self.transport.send_raw(&envelope, raw).await {
            Ok(resp) => {
                let text = resp.message().collect::<Vec<_>>().join(" ");
                debug!(host = %self.host, code = %resp.code(), "message accepted");
                Ok(format!("{} {}", resp.code(), text))
            }
            Err(e) => Err(self.map_error(&e)),
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
