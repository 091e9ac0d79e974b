//! Autodiscover I/O: walks the [`plan`](super::autodiscover::plan), follows
//! redirectAddr/redirectUrl up to [`MAX_HOPS`](super::autodiscover::MAX_HOPS),
//! and reports which URL answered and how.

use std::time::Duration;

use super::autodiscover::{self, Discovered, How, PoxAnswer, Step};
use super::http::EwsHttp;
use super::session::EwsAuth;
use crate::error::{Proto, ProtocolError, Result};

/// What autodiscover needs.
#[derive(Debug, Clone)]
pub struct AutodiscoverSettings {
    /// The mailbox address.
    pub email: String,
    /// Login (autodiscover asks for the same credentials as EWS).
    pub auth: EwsAuth,
    /// Instead of the DNS order, ask only `BASE/autodiscover/autodiscover.xml`
    /// (tests point this at a loopback server; an admin may set it).
    pub base_url: Option<String>,
    /// Allow plaintext `http://` for `base_url` (never for the DNS order).
    pub allow_insecure: bool,
    /// Timeout per request.
    pub timeout: Duration,
    /// Extra trusted CA certificates, PEM.
    pub extra_roots: Vec<u8>,
}

/// The largest autodiscover answer read.
const MAX_ANSWER: u64 = 1 << 20;

/// The SRV record's target as an autodiscover URL (lowest priority, highest weight first).
async fn srv_url(name: &str) -> Option<String> {
    use hickory_resolver::proto::rr::RData;
    let resolver = hickory_resolver::TokioResolver::builder_tokio().ok()?.build().ok()?;
    let lookup = resolver.srv_lookup(name).await.ok()?;
    let mut srvs: Vec<(u16, std::cmp::Reverse<u16>, String, u16)> = lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some((
                s.priority,
                std::cmp::Reverse(s.weight),
                s.target.to_ascii().trim_end_matches('.').to_string(),
                s.port,
            )),
            _ => None,
        })
        .collect();
    srvs.sort();
    let (_, _, host, port) = srvs.into_iter().find(|s| !s.2.is_empty())?;
    Some(if port == 443 {
        format!("https://{host}{}", autodiscover::PATH)
    } else {
        format!("https://{host}:{port}{}", autodiscover::PATH)
    })
}

/// Finds the EWS URL for `settings.email`.
pub async fn autodiscover(settings: &AutodiscoverSettings) -> Result<Discovered> {
    let http = EwsHttp::new(
        settings.auth.clone(),
        settings.allow_insecure && settings.base_url.is_some(),
        settings.timeout,
        &settings.extra_roots,
        MAX_ANSWER,
    )?;
    let mut email = settings.email.clone();
    let mut redirects: Vec<String> = Vec::new();
    let mut tried: Vec<String> = Vec::new();
    let mut auth_error: Option<ProtocolError> = None;
    'restart: loop {
        let mut queue: std::collections::VecDeque<Step> =
            autodiscover::plan(&email, settings.base_url.as_deref()).into();
        if queue.is_empty() {
            return Err(ProtocolError::InvalidSettings {
                proto: Proto::Ews,
                reason: format!("'{email}' is not an e-mail address; autodiscover needs one"),
            });
        }
        while let Some(step) = queue.pop_front() {
            let (url, how) = match step {
                Step::Post(url, how) => (url, how),
                Step::RedirectProbe(url) => {
                    match http.probe_redirect(&url).await {
                        Ok(Some(loc)) if loc.to_ascii_lowercase().starts_with("https://") => {
                            queue.push_front(Step::Post(loc, How::HttpRedirect));
                        }
                        Ok(Some(loc)) => {
                            tried.push(format!("{url}: redirects to {loc}, which is not https; not followed"))
                        }
                        Ok(None) => tried.push(format!("{url}: no redirect")),
                        Err(e) => tried.push(format!("{url}: {e}")),
                    }
                    continue;
                }
                Step::Srv(name) => {
                    match srv_url(&name).await {
                        Some(url) => queue.push_front(Step::Post(url, How::Srv)),
                        None => tried.push(format!("{name}: no SRV record")),
                    }
                    continue;
                }
            };
            let reply = match http.post(&url, autodiscover::request_body(&email), "autodiscover").await {
                Ok(r) => r,
                Err(e) => {
                    tried.push(format!("{url}: {e}"));
                    continue;
                }
            };
            if !reply.status.is_success() {
                let e = http.status_error(&url, &reply, "autodiscover");
                tried.push(format!("{url}: {e}"));
                if reply.status.as_u16() == 401 {
                    auth_error.get_or_insert(e);
                }
                continue;
            }
            match autodiscover::parse_answer(&reply.body) {
                Ok(PoxAnswer::Settings { ews_url, protocol }) => {
                    return Ok(Discovered {
                        ews_url,
                        autodiscover_url: url,
                        how,
                        protocol,
                        email,
                        redirects,
                    });
                }
                Ok(PoxAnswer::RedirectAddr(_) | PoxAnswer::RedirectUrl(_))
                    if redirects.len() >= autodiscover::MAX_HOPS =>
                {
                    return Err(ProtocolError::InvalidSettings {
                        proto: Proto::Ews,
                        reason: format!(
                            "autodiscover for {} redirected more than {} times ({}); enter the EWS URL in the profile",
                            settings.email,
                            autodiscover::MAX_HOPS,
                            redirects.join(" -> ")
                        ),
                    });
                }
                Ok(PoxAnswer::RedirectAddr(addr)) => {
                    redirects.push(addr.clone());
                    email = addr;
                    continue 'restart;
                }
                Ok(PoxAnswer::RedirectUrl(next)) => {
                    redirects.push(next.clone());
                    if next.to_ascii_lowercase().starts_with("https://") {
                        queue.push_front(Step::Post(next, how));
                    } else {
                        tried.push(format!("{url}: redirectUrl {next} is not https; not followed"));
                    }
                }
                Ok(PoxAnswer::Error { code, message }) => {
                    tried.push(format!("{url}: error {code} {message}"))
                }
                Err(e) => tried.push(format!("{url}: {e}")),
            }
        }
        break;
    }
    if let Some(e) = auth_error {
        return Err(e);
    }
    Err(ProtocolError::InvalidSettings {
        proto: Proto::Ews,
        reason: format!(
            "autodiscover found no EWS URL for {} (tried: {}); enter the EWS URL in the profile",
            settings.email,
            tried.join("; ")
        ),
    })
}
