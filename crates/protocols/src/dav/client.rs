//! The CalDAV/CardDAV client: one reqwest client per mailbox sync, every
//! request with basic auth (or an OAuth2 bearer token, [`DavAuth`]) and the
//! profile's timeout.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};

use super::xml::{self, Multistatus, PropResponse};
use crate::error::{Proto, ProtocolError, Result};

pub use super::auth::DavAuth;

/// A collection found by discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavCollection {
    /// Absolute URL.
    pub url: String,
    /// displayname.
    pub display_name: Option<String>,
    /// Supported components (calendars; empty = any).
    pub components: Vec<String>,
}

/// What discovery found under the DAV URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// The principal URL.
    pub principal: Option<String>,
    /// calendar-home-set.
    pub calendar_home: Option<String>,
    /// addressbook-home-set.
    pub addressbook_home: Option<String>,
    /// Calendars.
    pub calendars: Vec<DavCollection>,
    /// Address books.
    pub addressbooks: Vec<DavCollection>,
}

impl Discovery {
    /// The calendar for `component` (VEVENT or VTODO): one that names it only,
    /// else one that takes it among others (or takes anything).
    pub fn calendar_for(&self, component: &str) -> Option<&DavCollection> {
        let takes =
            |c: &&DavCollection| c.components.is_empty() || c.components.iter().any(|x| x == component);
        self.calendars
            .iter()
            .find(|c| c.components.len() == 1 && c.components[0] == component)
            .or_else(|| self.calendars.iter().find(takes))
    }
}

/// Members changed since a sync token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// (href, etag) of new or changed members.
    pub changed: Vec<(String, String)>,
    /// Hrefs of removed members.
    pub removed: Vec<String>,
    /// The new sync token.
    pub token: Option<String>,
}

/// The answer to a sync-collection REPORT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The changes since the token (everything when there was none).
    Changes(Changes),
    /// The server no longer knows the token: start over without one.
    InvalidToken,
    /// The server does not do sync-collection: list ETags instead.
    Unsupported,
}

/// Why a PUT or DELETE did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// 412: the item changed on the server since it was read (or exists already).
    #[error("the item changed on the server (HTTP 412)")]
    PreconditionFailed,
    /// Any other failure.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
}

/// A CalDAV/CardDAV client for one account.
#[derive(Debug, Clone)]
pub struct DavClient {
    http: reqwest::Client,
    base: Url,
    auth: DavAuth,
    host: String,
    port: u16,
    timeout: Duration,
    max_response_bytes: u64,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// The largest answer read by default (the engine applies `act.max_response_mb`).
pub const DEFAULT_MAX_RESPONSE_MB: u64 = 64;

/// Redirects followed, and only within the DAV URL's origin.
const MAX_REDIRECTS: usize = 5;

const PROPFIND_DISCOVERY: &str = r#"<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:a="urn:ietf:params:xml:ns:carddav"><d:prop><d:current-user-principal/><d:resourcetype/><c:calendar-home-set/><a:addressbook-home-set/></d:prop></d:propfind>"#;
const PROPFIND_COLLECTIONS: &str = r#"<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/"><d:prop><d:resourcetype/><d:displayname/><c:supported-calendar-component-set/><cs:getctag/><d:sync-token/></d:prop></d:propfind>"#;
const PROPFIND_STATE: &str = r#"<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><cs:getctag/><d:sync-token/></d:prop></d:propfind>"#;
const PROPFIND_ETAGS: &str = r#"<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>"#;

impl DavClient {
    /// A client for `url` (the profile's DAV URL) logging in with HTTP Basic.
    pub fn new(
        url: &str,
        user: &str,
        password: &str,
        timeout: Duration,
        extra_roots_pem: &[u8],
    ) -> Result<DavClient> {
        let auth = DavAuth::Basic { user: user.into(), password: password.into() };
        DavClient::with_auth(url, auth, timeout, extra_roots_pem)
    }

    /// A client for `url` sending `Authorization: Bearer <token>` (an OAuth2
    /// access token) on every request; `user` names the account in errors.
    pub fn new_bearer(
        url: &str,
        user: &str,
        token: &str,
        timeout: Duration,
        extra_roots_pem: &[u8],
    ) -> Result<DavClient> {
        let auth = DavAuth::Bearer { user: user.into(), token: token.into() };
        DavClient::with_auth(url, auth, timeout, extra_roots_pem)
    }

    /// A client for `url` with these credentials.
    pub fn with_auth(
        url: &str,
        auth: DavAuth,
        timeout: Duration,
        extra_roots_pem: &[u8],
    ) -> Result<DavClient> {
        let invalid = |reason: String| ProtocolError::InvalidSettings { proto: Proto::Dav, reason };
        let base = Url::parse(url).map_err(|e| invalid(format!("DAV URL '{url}': {e}")))?;
        let host = base.host_str().unwrap_or_default().to_string();
        let port = base.port_or_known_default().unwrap_or(0);
        // A redirect to another scheme, host or port is not followed: it would
        // carry the login elsewhere, or downgrade TLS to plain HTTP.
        let origin = base.origin();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else if attempt.url().origin() != origin {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(8)
            .redirect(redirects);
        for c in crate::tls::parse_pem_certificates(extra_roots_pem).map_err(|e| invalid(e.to_string()))? {
            builder = builder.add_root_certificate(
                reqwest::Certificate::from_der(&c).map_err(|e| invalid(e.to_string()))?,
            );
        }
        let http = builder.build().map_err(|e| invalid(e.to_string()))?;
        Ok(DavClient {
            http,
            base,
            auth,
            host,
            port,
            timeout,
            max_response_bytes: DEFAULT_MAX_RESPONSE_MB * 1024 * 1024,
            requests: Default::default(),
        })
    }

    /// The same client reading at most `mb` MB of any one answer.
    pub fn with_max_response_mb(mut self, mb: u64) -> DavClient {
        self.max_response_bytes = mb.max(1) * 1024 * 1024;
        self
    }

    /// Whether `url` is on the DAV URL's origin (scheme, host and port).
    fn same_origin(&self, url: &str) -> bool {
        Url::parse(url).is_ok_and(|u| u.origin() == self.base.origin())
    }

    /// The path of a member `href` from a server answer, or None when the
    /// href points to another origin (such a member is not ours to sync).
    fn member_path(&self, href: &str) -> Option<String> {
        let url = self.url(href);
        if self.same_origin(&url) {
            Some(self.path(&url))
        } else {
            tracing::warn!(host = %self.host, href, "the server listed a member on another host or scheme; ignored");
            None
        }
    }

    /// HTTP requests sent so far by this client (and its clones).
    pub fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The absolute URL of `href` (a path or a URL).
    pub fn url(&self, href: &str) -> String {
        self.base.join(href).map(|u| u.to_string()).unwrap_or_else(|_| href.to_string())
    }

    /// The path of a URL on this server (how hrefs are kept).
    pub fn path(&self, url: &str) -> String {
        Url::parse(url).map(|u| u.path().to_string()).unwrap_or_else(|_| url.to_string())
    }

    fn lost(&self, e: reqwest::Error, operation: &str) -> ProtocolError {
        let dbg = format!("{e:?}");
        if e.is_timeout() {
            ProtocolError::Timeout {
                proto: Proto::Dav,
                host: self.host.clone(),
                port: self.port,
                operation: operation.into(),
                secs: self.timeout.as_secs(),
            }
        } else if e.is_connect() && dbg.contains("ConnectionRefused") {
            ProtocolError::ConnectionRefused { proto: Proto::Dav, host: self.host.clone(), port: self.port }
        } else if dbg.to_lowercase().contains("certificate") {
            ProtocolError::TlsCertInvalid {
                proto: Proto::Dav,
                host: self.host.clone(),
                port: self.port,
                detail: e.to_string(),
            }
        } else if e.is_connect() {
            ProtocolError::ConnectFailed {
                proto: Proto::Dav,
                host: self.host.clone(),
                port: self.port,
                detail: e.to_string(),
            }
        } else {
            ProtocolError::ConnectionLost {
                proto: Proto::Dav,
                host: self.host.clone(),
                port: self.port,
                detail: e.to_string(),
            }
        }
    }

    fn status_error(&self, operation: &str, status: StatusCode, target: &str) -> ProtocolError {
        let (host, port) = (self.host.clone(), self.port);
        match status.as_u16() {
            401 => self.auth.refused(host, port, format!("{operation}: HTTP {status}")),
            404 => {
                ProtocolError::MailboxNotFound { proto: Proto::Dav, host, port, folder: target.to_string() }
            }
            s if s >= 500 => ProtocolError::ServerBusy {
                proto: Proto::Dav,
                host,
                port,
                detail: format!("{operation} {target}: HTTP {status}"),
            },
            _ => ProtocolError::CommandFailed {
                proto: Proto::Dav,
                host,
                port,
                command: operation.into(),
                detail: format!("{target}: HTTP {status}"),
            },
        }
    }

    async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<(StatusCode, Option<String>, String)> {
        if !self.same_origin(url) {
            // Only where the server pointed us (a principal, a home set): never
            // sent, so the login cannot go to another host or over plain HTTP.
            return Err(ProtocolError::Protocol {
                proto: Proto::Dav,
                host: self.host.clone(),
                port: self.port,
                detail: format!(
                    "the server pointed to {url}, which is not on {}; crmsync does not follow it",
                    self.base.origin().ascii_serialization()
                ),
            });
        }
        self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let m = Method::from_bytes(method.as_bytes()).expect("valid method");
        let mut req = self.auth.apply(self.http.request(m, url));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req.send().await.map_err(|e| self.lost(e, method))?;
        let status = resp.status();
        let etag =
            resp.headers().get(reqwest::header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_string);
        let text = self.read_body(resp, method, url).await?;
        Ok((status, etag, text))
    }

    /// Reads an answer's body up to the limit; a longer one is an error and
    /// the rest is never read (memory stays bounded whatever the server sends).
    async fn read_body(&self, mut resp: reqwest::Response, method: &str, url: &str) -> Result<String> {
        let limit = self.max_response_bytes;
        let too_large = || ProtocolError::ResponseTooLarge {
            proto: Proto::Dav,
            host: self.host.clone(),
            port: self.port,
            what: format!("{method} {}", self.path(url)),
            limit_mb: limit / (1024 * 1024),
        };
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.lost(e, method))? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8(body).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    async fn multistatus(&self, method: &str, url: &str, depth: &str, body: &str) -> Result<Multistatus> {
        let (status, _, text) = self
            .send(
                method,
                url,
                &[("Depth", depth), ("Content-Type", "application/xml; charset=utf-8")],
                Some(body.to_string()),
            )
            .await?;
        if status.as_u16() != 207 {
            return Err(self.status_error(method, status, url));
        }
        xml::parse_multistatus(&text).map_err(|detail| ProtocolError::Protocol {
            proto: Proto::Dav,
            host: self.host.clone(),
            port: self.port,
            detail: format!("{method} {url}: {detail}"),
        })
    }

    async fn propfind(&self, url: &str, depth: &str, body: &str) -> Result<Multistatus> {
        self.multistatus("PROPFIND", url, depth, body).await
    }

    fn collection(&self, r: &PropResponse) -> DavCollection {
        DavCollection {
            url: self.url(&r.href),
            display_name: r.displayname.clone().filter(|d| !d.is_empty()),
            components: r.components.clone(),
        }
    }

    /// Discovery from the DAV URL: current-user-principal, then the calendar
    /// and address book home sets, then the collections in them (RFC 4791
    /// section 6, RFC 6352 section 7). A DAV URL that is itself a calendar
    /// or an address book is taken as it is.
    pub async fn discover(&self) -> Result<Discovery> {
        let base = self.base.to_string();
        let mut d = Discovery::default();
        let top = self.propfind(&base, "0", PROPFIND_DISCOVERY).await?;
        let first = top.responses.first().cloned().unwrap_or_default();
        if first.resource_types.iter().any(|t| t == "calendar") {
            let col = self.propfind(&base, "0", PROPFIND_COLLECTIONS).await?;
            d.calendars.extend(
                col.responses.first().map(|r| DavCollection { url: base.clone(), ..self.collection(r) }),
            );
            return Ok(d);
        }
        if first.resource_types.iter().any(|t| t == "addressbook") {
            d.addressbooks.push(DavCollection { url: base.clone(), display_name: None, components: vec![] });
            return Ok(d);
        }
        let principal = first.principal.clone().map(|p| self.url(&p));
        let mut homes = (first.calendar_home.first().cloned(), first.addressbook_home.first().cloned());
        if let Some(p) = &principal
            && (homes.0.is_none() || homes.1.is_none())
        {
            let pr = self.propfind(p, "0", PROPFIND_DISCOVERY).await?;
            if let Some(r) = pr.responses.first() {
                homes.0 = homes.0.or_else(|| r.calendar_home.first().cloned());
                homes.1 = homes.1.or_else(|| r.addressbook_home.first().cloned());
            }
        }
        d.principal = principal.clone();
        d.calendar_home = homes.0.map(|h| self.url(&h)).or_else(|| principal.clone());
        d.addressbook_home = homes.1.map(|h| self.url(&h)).or_else(|| principal.clone());
        let mut scanned = Vec::new();
        for home in [d.calendar_home.clone(), d.addressbook_home.clone()].into_iter().flatten() {
            if scanned.contains(&home) {
                continue;
            }
            scanned.push(home.clone());
            let list = self.propfind(&home, "1", PROPFIND_COLLECTIONS).await?;
            for r in list.responses.iter().filter(|r| self.member_path(&r.href).is_some()) {
                if r.resource_types.iter().any(|t| t == "calendar") {
                    d.calendars.push(self.collection(r));
                } else if r.resource_types.iter().any(|t| t == "addressbook") {
                    d.addressbooks.push(self.collection(r));
                }
            }
        }
        Ok(d)
    }

    /// Creates a calendar for `components` (MKCALENDAR, RFC 4791 section 5.3.1).
    pub async fn mkcalendar(&self, url: &str, name: &str, components: &[&str]) -> Result<()> {
        let comps: String = components.iter().map(|c| format!(r#"<c:comp name="{c}"/>"#)).collect();
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>{}</d:displayname><c:supported-calendar-component-set>{comps}</c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>"#,
            xml::escape(name)
        );
        let (status, _, _) = self
            .send("MKCALENDAR", url, &[("Content-Type", "application/xml; charset=utf-8")], Some(body))
            .await?;
        if status.is_success() { Ok(()) } else { Err(self.status_error("MKCALENDAR", status, url)) }
    }

    /// Creates an address book (extended MKCOL, RFC 6352 section 6.3.1).
    pub async fn mkaddressbook(&self, url: &str, name: &str) -> Result<()> {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" xmlns:a="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><a:addressbook/></d:resourcetype><d:displayname>{}</d:displayname></d:prop></d:set></d:mkcol>"#,
            xml::escape(name)
        );
        let (status, _, _) = self
            .send("MKCOL", url, &[("Content-Type", "application/xml; charset=utf-8")], Some(body))
            .await?;
        if status.is_success() { Ok(()) } else { Err(self.status_error("MKCOL", status, url)) }
    }

    /// The collection's CTag and sync token (PROPFIND depth 0).
    pub async fn collection_state(&self, url: &str) -> Result<(Option<String>, Option<String>)> {
        let m = self.propfind(url, "0", PROPFIND_STATE).await?;
        let r = m.responses.into_iter().next().unwrap_or_default();
        Ok((r.ctag, r.sync_token))
    }

    /// REPORT sync-collection (RFC 6578) with `token` (None: the initial sync).
    pub async fn sync_collection(&self, url: &str, token: Option<&str>) -> Result<SyncOutcome> {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>{}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#,
            xml::escape(token.unwrap_or(""))
        );
        let (status, _, text) = self
            .send(
                "REPORT",
                url,
                &[("Depth", "1"), ("Content-Type", "application/xml; charset=utf-8")],
                Some(body),
            )
            .await?;
        match status.as_u16() {
            207 => {}
            401 => return Err(self.status_error("REPORT", status, url)),
            403 | 409 if token.is_some() && text.contains("valid-sync-token") => {
                return Ok(SyncOutcome::InvalidToken);
            }
            400 | 403 | 405 | 409 | 415 | 501 => return Ok(SyncOutcome::Unsupported),
            _ => return Err(self.status_error("REPORT", status, url)),
        }
        let m = xml::parse_multistatus(&text).map_err(|detail| ProtocolError::Protocol {
            proto: Proto::Dav,
            host: self.host.clone(),
            port: self.port,
            detail: format!("sync-collection {url}: {detail}"),
        })?;
        let own = self.path(url);
        let mut c = Changes { token: m.sync_token, ..Default::default() };
        for r in m.responses {
            let Some(href) = self.member_path(&r.href) else { continue };
            if href == own || href.ends_with('/') {
                continue;
            }
            match (r.status, r.etag) {
                (Some(404), _) => c.removed.push(href),
                (_, Some(etag)) => c.changed.push((href, etag)),
                (_, None) => c.changed.push((href, String::new())),
            }
        }
        Ok(SyncOutcome::Changes(c))
    }

    /// Every member's (href, ETag) (PROPFIND depth 1): the fallback without sync-collection.
    pub async fn list_etags(&self, url: &str) -> Result<Vec<(String, String)>> {
        let m = self.propfind(url, "1", PROPFIND_ETAGS).await?;
        let own = self.path(url);
        Ok(m.responses
            .into_iter()
            .filter(|r| !r.resource_types.iter().any(|t| t == "collection"))
            .filter_map(|r| Some((self.member_path(&r.href)?, r.etag.unwrap_or_default())))
            .filter(|(h, _)| *h != own && !h.ends_with('/'))
            .collect())
    }

    /// calendar-multiget / addressbook-multiget of `hrefs`: (href, ETag, data) of those that exist.
    pub async fn multiget(
        &self,
        url: &str,
        hrefs: &[String],
        addressbook: bool,
    ) -> Result<Vec<(String, String, String)>> {
        let mut out = Vec::new();
        for chunk in hrefs.chunks(200) {
            let list: String = chunk.iter().map(|h| format!("<d:href>{}</d:href>", xml::escape(h))).collect();
            let body = if addressbook {
                format!(
                    r#"<?xml version="1.0" encoding="utf-8"?><a:addressbook-multiget xmlns:d="DAV:" xmlns:a="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><a:address-data/></d:prop>{list}</a:addressbook-multiget>"#
                )
            } else {
                format!(
                    r#"<?xml version="1.0" encoding="utf-8"?><c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop>{list}</c:calendar-multiget>"#
                )
            };
            let m = self.multistatus("REPORT", url, "1", &body).await?;
            for r in m.responses {
                if let (Some(etag), Some(data), Some(href)) = (r.etag, r.data, self.member_path(&r.href)) {
                    out.push((href, etag, data));
                }
            }
        }
        Ok(out)
    }

    /// GET one member: (ETag, body); None when it is gone.
    pub async fn get(&self, href: &str) -> Result<Option<(String, String)>> {
        let url = self.url(href);
        let (status, etag, body) = self.send("GET", &url, &[], None).await?;
        match status.as_u16() {
            200 => Ok(Some((etag.unwrap_or_default(), body))),
            404 | 410 => Ok(None),
            _ => Err(self.status_error("GET", status, &url)),
        }
    }

    /// PUT a member: `if_match` Some(etag) updates only that version, None
    /// creates only if absent (If-None-Match: *). Returns the new ETag.
    pub async fn put(
        &self,
        href: &str,
        body: String,
        content_type: &str,
        if_match: Option<&str>,
    ) -> Result<String, WriteError> {
        let url = self.url(href);
        let cond = match if_match {
            Some(e) => ("If-Match", e),
            None => ("If-None-Match", "*"),
        };
        let (status, etag, text) =
            self.send("PUT", &url, &[("Content-Type", content_type), cond], Some(body)).await?;
        match status.as_u16() {
            200..=299 => match etag {
                Some(e) => Ok(e),
                None => Ok(self.get(href).await?.map(|(e, _)| e).unwrap_or_default()),
            },
            412 => Err(WriteError::PreconditionFailed),
            401 => Err(self.status_error("PUT", status, &url).into()),
            s if s >= 500 => Err(self.status_error("PUT", status, &url).into()),
            _ => Err(ProtocolError::ItemRejected {
                proto: Proto::Dav,
                host: self.host.clone(),
                port: self.port,
                item: href.to_string(),
                detail: format!("PUT answered HTTP {status}: {}", text.chars().take(200).collect::<String>()),
            }
            .into()),
        }
    }

    /// DELETE a member if it still has `etag` (gone already counts as done).
    pub async fn delete(&self, href: &str, etag: Option<&str>) -> Result<(), WriteError> {
        let url = self.url(href);
        let headers: Vec<(&str, &str)> =
            etag.filter(|e| !e.is_empty()).map(|e| ("If-Match", e)).into_iter().collect();
        let (status, _, _) = self.send("DELETE", &url, &headers, None).await?;
        match status.as_u16() {
            200..=299 | 404 | 410 => Ok(()),
            412 => Err(WriteError::PreconditionFailed),
            _ => Err(self.status_error("DELETE", status, &url).into()),
        }
    }
}
