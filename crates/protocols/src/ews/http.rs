//! The HTTP exchange under the EWS client and autodiscover: one reqwest
//! client (rustls, verified certificates plus the profile's extra CA
//! certificates, no redirects followed), Basic or NTLM login, bounded
//! bodies, and the mapping of transport failures and HTTP statuses into
//! [`ProtocolError`]s.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};

use super::errors;
use super::ntlm::NtlmHandshake;
use super::session::EwsAuth;
use crate::dav::endpoint::{DavEndpoint, is_plaintext};
use crate::error::{Proto, ProtocolError, Result};

/// The HTTP part shared by the EWS client and autodiscover.
#[derive(Debug, Clone)]
pub(crate) struct EwsHttp {
    pub http: reqwest::Client,
    pub auth: EwsAuth,
    pub allow_insecure: bool,
    pub timeout: Duration,
    pub max_response_bytes: u64,
    /// NTLM authenticates a connection: one handshake at a time.
    ntlm_lock: Arc<tokio::sync::Mutex<()>>,
    requests: Arc<AtomicUsize>,
}

/// What came back from one POST.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: String,
    pub location: Option<String>,
    pub retry_after: Option<u64>,
}

pub(crate) fn endpoint(url: &str) -> (String, u16) {
    let e = DavEndpoint::parse(url);
    (e.host, e.port)
}

impl EwsHttp {
    pub fn new(
        auth: EwsAuth,
        allow_insecure: bool,
        timeout: Duration,
        extra_roots: &[u8],
        max_response_bytes: u64,
    ) -> Result<EwsHttp> {
        let invalid = |reason: String| ProtocolError::InvalidSettings { proto: Proto::Ews, reason };
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(1)
            .http1_only()
            .tls_info(true)
            .redirect(reqwest::redirect::Policy::none());
        for c in crate::tls::parse_pem_certificates(extra_roots).map_err(|e| invalid(e.to_string()))? {
            builder = builder.add_root_certificate(
                reqwest::Certificate::from_der(&c).map_err(|e| invalid(e.to_string()))?,
            );
        }
        let http = builder.build().map_err(|e| invalid(e.to_string()))?;
        Ok(EwsHttp {
            http,
            auth,
            allow_insecure,
            timeout,
            max_response_bytes,
            ntlm_lock: Default::default(),
            requests: Default::default(),
        })
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn lost(&self, url: &str, e: reqwest::Error, operation: &str) -> ProtocolError {
        let (host, port) = endpoint(url);
        let dbg = format!("{e:?}");
        if e.is_timeout() {
            ProtocolError::Timeout {
                proto: Proto::Ews,
                host,
                port,
                operation: operation.into(),
                secs: self.timeout.as_secs(),
            }
        } else if e.is_connect() && dbg.contains("ConnectionRefused") {
            ProtocolError::ConnectionRefused { proto: Proto::Ews, host, port }
        } else if dbg.to_lowercase().contains("certificate") {
            ProtocolError::TlsCertInvalid { proto: Proto::Ews, host, port, detail: e.to_string() }
        } else if e.is_connect() && (dbg.contains("dns error") || dbg.contains("failed to lookup")) {
            ProtocolError::DnsFailed { proto: Proto::Ews, host, temporary: false, detail: e.to_string() }
        } else if e.is_connect() {
            ProtocolError::ConnectFailed { proto: Proto::Ews, host, port, detail: e.to_string() }
        } else {
            ProtocolError::ConnectionLost { proto: Proto::Ews, host, port, detail: e.to_string() }
        }
    }

    /// Reads a body up to the bound; more is an error and the rest is not read.
    async fn read_body(&self, url: &str, mut resp: reqwest::Response, operation: &str) -> Result<String> {
        let limit = self.max_response_bytes;
        let too_large = || {
            let (host, port) = endpoint(url);
            ProtocolError::ResponseTooLarge {
                proto: Proto::Ews,
                host,
                port,
                what: operation.to_string(),
                limit_mb: limit.div_ceil(1 << 20).max(1),
            }
        };
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.lost(url, e, operation))? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8(body).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    async fn reply(&self, url: &str, resp: reqwest::Response, operation: &str) -> Result<Reply> {
        let status = resp.status();
        let header = |name: reqwest::header::HeaderName| {
            resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
        };
        let location = header(reqwest::header::LOCATION);
        let retry_after = header(reqwest::header::RETRY_AFTER).and_then(|v| v.trim().parse::<u64>().ok());
        let body = self.read_body(url, resp, operation).await?;
        Ok(Reply { status, body, location, retry_after })
    }

    /// Refuses a plaintext URL unless the profile allows it.
    pub fn check_url(&self, url: &str) -> Result<()> {
        if is_plaintext(url) && !self.allow_insecure {
            let (host, port) = endpoint(url);
            return Err(ProtocolError::PlaintextRefused { proto: Proto::Ews, host, port });
        }
        Ok(())
    }

    /// POSTs `body` (text/xml) with the login; NTLM does its handshake first.
    pub async fn post(&self, url: &str, body: String, operation: &str) -> Result<Reply> {
        self.check_url(url)?;
        let req =
            |body: String| self.http.post(url).header(CONTENT_TYPE, "text/xml; charset=utf-8").body(body);
        match &self.auth {
            EwsAuth::Basic { user, password } => {
                self.requests.fetch_add(1, Ordering::Relaxed);
                let resp = req(body)
                    .basic_auth(user, Some(password.expose()))
                    .send()
                    .await
                    .map_err(|e| self.lost(url, e, operation))?;
                self.reply(url, resp, operation).await
            }
            EwsAuth::Ntlm { user, password } => {
                let _one = self.ntlm_lock.lock().await;
                let (host, port) = endpoint(url);
                let refused = |detail: String| ProtocolError::AuthFailed {
                    proto: Proto::Ews,
                    host: host.clone(),
                    port,
                    user: user.clone(),
                    detail,
                    oauth: false,
                };
                let (mut hs, negotiate) = NtlmHandshake::start(user, password, &host).map_err(&refused)?;
                let b64 = base64::engine::general_purpose::STANDARD;
                self.requests.fetch_add(1, Ordering::Relaxed);
                let first = req(String::new())
                    .header(AUTHORIZATION, format!("NTLM {}", b64.encode(&negotiate)))
                    .send()
                    .await
                    .map_err(|e| self.lost(url, e, operation))?;
                if first.status() != StatusCode::UNAUTHORIZED {
                    // Already authenticated, or an error before authentication: the body says.
                    return self.reply(url, first, operation).await;
                }
                let offered: Vec<String> = first
                    .headers()
                    .get_all(WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|v| v.to_str().ok().map(str::to_string))
                    .collect();
                let challenge = offered.iter().find_map(|v| {
                    let (scheme, token) = v.split_once(' ')?;
                    (scheme.eq_ignore_ascii_case("NTLM") || scheme.eq_ignore_ascii_case("Negotiate"))
                        .then(|| b64.decode(token.trim()).ok())
                        .flatten()
                });
                // The certificate of this connection, for NTLM's channel binding.
                let server_cert = first
                    .extensions()
                    .get::<reqwest::tls::TlsInfo>()
                    .and_then(|i| i.peer_certificate())
                    .map(<[u8]>::to_vec);
                // Drain the 401 body so the connection can carry the next message.
                let _ = self.read_body(url, first, operation).await;
                let Some(challenge) = challenge else {
                    let schemes: Vec<&str> =
                        offered.iter().map(|v| v.split(' ').next().unwrap_or("")).collect();
                    return Err(
                        if offered
                            .iter()
                            .any(|v| v.eq_ignore_ascii_case("NTLM") || v.eq_ignore_ascii_case("Negotiate"))
                        {
                            refused(format!(
                                "{operation}: HTTP 401 to the NTLM negotiation; {}",
                                errors::AUTH_HINT
                            ))
                        } else {
                            ProtocolError::AuthMechanismUnavailable {
                                proto: Proto::Ews,
                                host,
                                port,
                                detail: format!("the server offers {} but not NTLM", schemes.join(", ")),
                            }
                        },
                    );
                };
                let authenticate = hs.respond(&challenge, server_cert.as_deref()).map_err(&refused)?;
                self.requests.fetch_add(1, Ordering::Relaxed);
                let resp = req(body)
                    .header(AUTHORIZATION, format!("NTLM {}", b64.encode(&authenticate)))
                    .send()
                    .await
                    .map_err(|e| self.lost(url, e, operation))?;
                self.reply(url, resp, operation).await
            }
        }
    }

    /// GETs `url` without credentials and without following redirects (the
    /// autodiscover redirect probe on plain HTTP).
    pub async fn probe_redirect(&self, url: &str) -> Result<Option<String>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = self.http.get(url).send().await.map_err(|e| self.lost(url, e, "autodiscover redirect"))?;
        let r = self.reply(url, resp, "autodiscover redirect").await?;
        Ok(r.status.is_redirection().then_some(r.location).flatten())
    }

    /// The error for a non-200 status without a usable SOAP answer.
    pub fn status_error(&self, url: &str, r: &Reply, operation: &str) -> ProtocolError {
        let (host, port) = endpoint(url);
        let status = r.status;
        match status.as_u16() {
            401 => ProtocolError::AuthFailed {
                proto: Proto::Ews,
                host,
                port,
                user: self.auth.user().to_string(),
                detail: format!("{operation}: HTTP {status}; {}", errors::AUTH_HINT),
                oauth: false,
            },
            403 => ProtocolError::EwsFailed(Box::new(crate::error::EwsFailure {
                host,
                port,
                operation: operation.into(),
                item: None,
                response_code: "ErrorAccessDenied".into(),
                detail: format!("HTTP {status}"),
                hint: errors::hint("ErrorAccessDenied").into(),
            })),
            404 => ProtocolError::InvalidSettings {
                proto: Proto::Ews,
                reason: format!(
                    "there is no EWS service at {url} (HTTP 404); check the EWS URL or leave it empty to use autodiscover"
                ),
            },
            300..=399 => ProtocolError::InvalidSettings {
                proto: Proto::Ews,
                reason: format!(
                    "{url} redirects to {} (HTTP {status}); set the EWS URL to the final address",
                    r.location.as_deref().unwrap_or("?")
                ),
            },
            503 if r.retry_after.is_some() => ProtocolError::Throttled {
                proto: Proto::Ews,
                host,
                port,
                scope: format!("{operation} (HTTP {status})"),
                retry_after_secs: r.retry_after.unwrap_or(1).max(1),
            },
            s if s >= 500 => ProtocolError::ServerBusy {
                proto: Proto::Ews,
                host,
                port,
                detail: format!("{operation}: HTTP {status}"),
            },
            _ => ProtocolError::Protocol {
                proto: Proto::Ews,
                host,
                port,
                detail: format!("{operation}: HTTP {status}"),
            },
        }
    }
}
