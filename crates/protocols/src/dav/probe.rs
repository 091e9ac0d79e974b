//! A CalDAV/CardDAV reachability and login check for Test & Enable and Test
//! Connection: one PROPFIND of `current-user-principal` on the profile's DAV
//! URL. Whether a plaintext URL may be used is [`super::check_plaintext`]'s
//! to say, before this is called.

use std::time::Duration;

use super::client::DavAuth;
use super::endpoint::DavEndpoint;
use crate::error::{Proto, ProtocolError, Result};

/// Checks that the DAV server answers and accepts the user name and password (HTTP Basic).
pub async fn probe(
    url: &str,
    user: &str,
    password: &str,
    timeout: Duration,
    extra_roots_pem: &[u8],
) -> Result<()> {
    let auth = DavAuth::Basic { user: user.into(), password: password.into() };
    probe_with(url, &auth, timeout, extra_roots_pem).await
}

/// Checks that the DAV server answers and accepts `auth` (Basic, or an OAuth2
/// bearer token: a refusal is then `OAUTH_TOKEN_REFUSED`).
pub async fn probe_with(url: &str, auth: &DavAuth, timeout: Duration, extra_roots_pem: &[u8]) -> Result<()> {
    let DavEndpoint { host, port, .. } = DavEndpoint::parse(url);
    let mut builder = reqwest::Client::builder().timeout(timeout).connect_timeout(timeout);
    if !extra_roots_pem.is_empty() {
        for c in crate::tls::parse_pem_certificates(extra_roots_pem)
            .map_err(|e| ProtocolError::InvalidSettings { proto: Proto::Dav, reason: e.to_string() })?
        {
            let cert = reqwest::Certificate::from_der(&c)
                .map_err(|e| ProtocolError::InvalidSettings { proto: Proto::Dav, reason: e.to_string() })?;
            builder = builder.add_root_certificate(cert);
        }
    }
    let client = builder
        .build()
        .map_err(|e| ProtocolError::InvalidSettings { proto: Proto::Dav, reason: e.to_string() })?;
    let body = r#"<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>"#;
    let request = client.request(reqwest::Method::from_bytes(b"PROPFIND").expect("valid method"), url);
    let resp = auth
        .apply(request)
        .header("Depth", "0")
        .header("Content-Type", "application/xml; charset=utf-8")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            let detail = e.to_string();
            if e.is_timeout() {
                ProtocolError::Timeout {
                    proto: Proto::Dav,
                    host: host.clone(),
                    port,
                    operation: "PROPFIND".into(),
                    secs: timeout.as_secs(),
                }
            } else if e.is_connect() && format!("{e:?}").contains("ConnectionRefused") {
                ProtocolError::ConnectionRefused { proto: Proto::Dav, host: host.clone(), port }
            } else if format!("{e:?}").to_lowercase().contains("certificate") {
                ProtocolError::TlsCertInvalid { proto: Proto::Dav, host: host.clone(), port, detail }
            } else {
                ProtocolError::ConnectionLost { proto: Proto::Dav, host: host.clone(), port, detail }
            }
        })?;
    match resp.status().as_u16() {
        200 | 207 => Ok(()),
        401 | 403 => Err(auth.refused(host, port, format!("HTTP {}", resp.status()))),
        404 => Err(ProtocolError::MailboxNotFound { proto: Proto::Dav, host, port, folder: url.to_string() }),
        s if s >= 500 => {
            Err(ProtocolError::ServerBusy { proto: Proto::Dav, host, port, detail: format!("HTTP {s}") })
        }
        s => Err(ProtocolError::Protocol {
            proto: Proto::Dav,
            host,
            port,
            detail: format!("PROPFIND answered HTTP {s}"),
        }),
    }
}
