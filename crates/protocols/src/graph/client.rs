//! The Graph client of one mailbox: sends [`GraphRequest`]s with the
//! caller's bearer token over verified TLS, honours throttling (a request
//! never leaves before a `Retry-After` ends, for its mailbox or the
//! tenant), reads at most the configured size, and turns every failure
//! into a [`ProtocolError`] (see [`super::status`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use super::config::{GRAPH_ROOT, GraphConfig, TokenSource};
use super::mail_requests::DOWNLOAD_MESSAGE;
use super::request::{Body, GraphRequest, Mailbox, Target};
use super::status::{self, Context};
use super::throttle::Scope;
use crate::error::{Proto, ProtocolError, Result};

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphResponse {
    /// HTTP status (2xx).
    pub status: u16,
    /// `ETag` header, if any.
    pub etag: Option<String>,
    /// `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// The outcome of one attempt.
enum Attempt {
    Done(GraphResponse),
    Failed(u16, Vec<u8>),
    Throttled(Scope, Duration),
}

/// A Graph client for one mailbox. Cheap to clone.
#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    root: String,
    host: String,
    port: u16,
    mailbox: Mailbox,
    account: String,
    token: Arc<dyn TokenSource>,
    config: GraphConfig,
    requests: Arc<AtomicUsize>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient").field("root", &self.root).field("mailbox", &self.mailbox).finish()
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl GraphClient {
    /// A client for `mailbox` with these settings, taking each request's
    /// token from `token`. Fails on an unusable base URL or CA PEM.
    pub fn new(config: GraphConfig, mailbox: Mailbox, token: Arc<dyn TokenSource>) -> Result<GraphClient> {
        let invalid = |reason: String| ProtocolError::InvalidSettings { proto: Proto::Graph, reason };
        let base = Url::parse(&config.base_url)
            .map_err(|e| invalid(format!("Graph URL '{}': {e}", config.base_url)))?;
        let host = base.host_str().unwrap_or_default().to_string();
        match base.scheme() {
            "https" => {}
            "http" if is_loopback(&host) => {}
            _ => return Err(invalid(format!("Graph URL '{}' must use https", config.base_url))),
        }
        let port = base.port_or_known_default().unwrap_or(443);
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .https_only(base.scheme() == "https")
            // The token must not follow a redirect anywhere.
            .redirect(reqwest::redirect::Policy::none());
        for c in
            crate::tls::parse_pem_certificates(&config.extra_roots).map_err(|e| invalid(e.to_string()))?
        {
            builder = builder.add_root_certificate(
                reqwest::Certificate::from_der(&c).map_err(|e| invalid(e.to_string()))?,
            );
        }
        let http = builder.build().map_err(|e| invalid(e.to_string()))?;
        Ok(GraphClient {
            http,
            root: config.base_url.trim_end_matches('/').to_string(),
            host,
            port,
            account: mailbox.name().to_string(),
            mailbox,
            token,
            config,
            requests: Arc::default(),
        })
    }

    /// The same client naming the mailbox `address` in errors and keeping
    /// its throttling apart from other mailboxes; needed with [`Mailbox::Me`],
    /// whose paths do not say whose mailbox it is.
    pub fn for_account(mut self, address: &str) -> GraphClient {
        self.account = address.to_string();
        self
    }

    /// The address errors and logs name (see [`GraphClient::for_account`]).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The mailbox this client addresses; its request builders.
    pub fn mailbox(&self) -> &Mailbox {
        &self.mailbox
    }

    /// Requests sent so far (retries included), for benchmarks and tests.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// The absolute URL of a request: below the root, or a link rewritten
    /// from [`GRAPH_ROOT`] to the configured root. A link elsewhere is refused.
    pub fn url_of(&self, req: &GraphRequest) -> Result<String> {
        match &req.target {
            Target::Relative(p) => Ok(format!("{}{p}", self.root)),
            Target::Link(link) => {
                let starts = |root: &str| {
                    link.get(..root.len()).is_some_and(|p| p.eq_ignore_ascii_case(root))
                        && matches!(link.as_bytes().get(root.len()), None | Some(b'/' | b'?'))
                };
                if starts(&self.root) {
                    Ok(link.clone())
                } else if starts(GRAPH_ROOT) {
                    Ok(format!("{}{}", self.root, &link[GRAPH_ROOT.len()..]))
                } else {
                    Err(self.protocol(format!(
                        "the server pointed to {link}, which is not below {}; crmsync does not follow it",
                        self.root
                    )))
                }
            }
        }
    }

    fn context<'a>(&'a self, req: &'a GraphRequest) -> Context<'a> {
        Context {
            host: &self.host,
            port: self.port,
            user: &self.account,
            operation: req.operation,
            permission: req.permission,
            item: req.item.as_deref(),
        }
    }

    fn protocol(&self, detail: String) -> ProtocolError {
        ProtocolError::Protocol { proto: Proto::Graph, host: self.host.clone(), port: self.port, detail }
    }

    fn throttled(&self, scope: Scope, wait: Duration) -> ProtocolError {
        ProtocolError::Throttled {
            proto: Proto::Graph,
            host: self.host.clone(),
            port: self.port,
            scope: match scope {
                Scope::Mailbox => format!("mailbox {}", self.account),
                Scope::Tenant => "the tenant".into(),
            },
            retry_after_secs: wait.as_secs_f64().ceil() as u64,
        }
    }

    /// Waits until neither the mailbox nor the tenant is held back; a hold
    /// longer than `max_throttle_wait` is returned as `THROTTLED` instead.
    async fn wait_for_throttle(&self) -> Result<()> {
        while let Some((at, scope)) = self.config.throttle.ready_at(&self.account) {
            let wait = at.saturating_duration_since(tokio::time::Instant::now());
            if wait > self.config.max_throttle_wait {
                return Err(self.throttled(scope, wait));
            }
            tracing::debug!(mailbox = %self.account, wait_ms = wait.as_millis() as u64, "throttled; waiting");
            tokio::time::sleep_until(at).await;
        }
        Ok(())
    }

    fn lost(&self, e: reqwest::Error, operation: &str) -> ProtocolError {
        let (host, port) = (self.host.clone(), self.port);
        let dbg = format!("{e:?}");
        if e.is_timeout() {
            ProtocolError::Timeout {
                proto: Proto::Graph,
                host,
                port,
                operation: operation.into(),
                secs: self.config.timeout.as_secs(),
            }
        } else if e.is_connect() && dbg.contains("ConnectionRefused") {
            ProtocolError::ConnectionRefused { proto: Proto::Graph, host, port }
        } else if dbg.to_lowercase().contains("certificate") {
            ProtocolError::TlsCertInvalid { proto: Proto::Graph, host, port, detail: e.to_string() }
        } else if e.is_connect() {
            ProtocolError::ConnectFailed { proto: Proto::Graph, host, port, detail: e.to_string() }
        } else {
            ProtocolError::ConnectionLost {
                proto: Proto::Graph,
                host,
                port,
                detail: format!("{operation}: {e}"),
            }
        }
    }

    /// The error for a message whose MIME is over the size limit.
    fn message_too_large(&self, id: &str, size: u64) -> ProtocolError {
        ProtocolError::MessageTooLarge {
            proto: Proto::Graph,
            host: self.host.clone(),
            port: self.port,
            id: id.to_string(),
            size,
            limit_mb: self.config.max_message_bytes.div_ceil(1 << 20),
        }
    }

    /// Reads a body up to the limit (the message size limit for a MIME
    /// download); the rest of a larger one is never read.
    async fn read_body(&self, mut resp: reqwest::Response, req: &GraphRequest) -> Result<Vec<u8>> {
        let download = req.operation == DOWNLOAD_MESSAGE;
        let limit = if download { self.config.max_message_bytes } else { self.config.max_response_bytes };
        let too_large = |size: u64| {
            if download {
                self.message_too_large(req.item.as_deref().unwrap_or_default(), size)
            } else {
                ProtocolError::ResponseTooLarge {
                    proto: Proto::Graph,
                    host: self.host.clone(),
                    port: self.port,
                    what: req.operation.to_string(),
                    limit_mb: limit.div_ceil(1 << 20),
                }
            }
        };
        if let Some(n) = resp.content_length().filter(|n| *n > limit) {
            return Err(too_large(n));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.lost(e, req.operation))? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large(body.len() as u64 + chunk.len() as u64));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    async fn attempt(&self, req: &GraphRequest, url: &str) -> Result<Attempt> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let token = self.token.access_token();
        let mut rb = self.http.request(req.method.clone(), url).bearer_auth(token.expose());
        if req.operation == DOWNLOAD_MESSAGE {
            // A large message may take longer than one JSON answer.
            let extra = Duration::from_secs(self.config.max_message_bytes / crate::limits::MIN_RATE);
            rb = rb.timeout(self.config.timeout + extra);
        }
        for (n, v) in &req.headers {
            rb = rb.header(n.as_str(), v.as_str());
        }
        rb = match &req.body {
            Body::None => rb,
            Body::Json(v) => rb.json(v),
            Body::Text(t) => rb.header("Content-Type", "text/plain").body(t.clone()),
        };
        let resp = rb.send().await.map_err(|e| self.lost(e, req.operation))?;
        let status = resp.status().as_u16();
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        if status == 429 || status == 503 {
            let wait = header("retry-after")
                .and_then(|v| status::parse_retry_after(&v, SystemTime::now()))
                .unwrap_or(self.config.default_retry_after);
            let scope = if status == 429 { Scope::Mailbox } else { Scope::Tenant };
            return Ok(Attempt::Throttled(scope, wait));
        }
        let (etag, content_type) = (header("etag"), header("content-type"));
        let body = self.read_body(resp, req).await?;
        if (200..300).contains(&status) {
            Ok(Attempt::Done(GraphResponse { status, etag, content_type, body }))
        } else {
            Ok(Attempt::Failed(status, body))
        }
    }

    /// Sends `req` (retrying while throttled, up to `max_attempts`) and
    /// returns its 2xx answer; anything else is an error.
    pub async fn send(&self, req: &GraphRequest) -> Result<GraphResponse> {
        let url = self.url_of(req)?;
        let mut tries = 0;
        loop {
            self.wait_for_throttle().await?;
            tries += 1;
            match self.attempt(req, &url).await? {
                Attempt::Done(r) => return Ok(r),
                Attempt::Failed(status, body) => {
                    tracing::debug!(mailbox = %self.account, operation = req.operation, status, "Graph request failed");
                    return Err(status::error_for(&self.context(req), status, &body));
                }
                Attempt::Throttled(scope, wait) => {
                    self.config.throttle.hold(scope, &self.account, wait);
                    tracing::info!(mailbox = %self.account, operation = req.operation, wait_ms = wait.as_millis() as u64, "Graph throttled the request");
                    // A POST answered 503 may have been carried out: never resent here.
                    let unsafe_retry =
                        req.method == Method::POST && scope == Scope::Tenant && req.operation != "batch";
                    if tries >= self.config.max_attempts
                        || unsafe_retry
                        || wait > self.config.max_throttle_wait
                    {
                        return Err(self.throttled(scope, wait));
                    }
                }
            }
        }
    }

    /// Sends `req` and reads its JSON answer as `T`.
    pub async fn json<T: DeserializeOwned>(&self, req: &GraphRequest) -> Result<T> {
        let resp = self.send(req).await?;
        serde_json::from_slice(&resp.body)
            .map_err(|e| self.protocol(format!("cannot read the answer to {}: {e}", req.operation)))
    }

    /// Sends a paged or delta request and follows `@odata.nextLink` to the
    /// end: every item and, for delta, the link for the next round.
    pub async fn collect<T: DeserializeOwned>(
        &self,
        first: &GraphRequest,
    ) -> Result<(Vec<T>, Option<String>)> {
        let mut items = Vec::new();
        let mut req = first.clone();
        loop {
            let page: super::types::Page<T> = self.json(&req).await?;
            items.extend(page.value);
            match page.next_link {
                Some(next) => req = first.follow(&next),
                None => return Ok((items, page.delta_link)),
            }
        }
    }

    /// Sends many requests in `$batch` round trips of up to 20; each gets its
    /// own result, in order. Throttled items wait and are sent again.
    pub async fn batch(&self, reqs: &[GraphRequest]) -> Result<Vec<Result<GraphResponse>>> {
        let mut out: Vec<Option<Result<GraphResponse>>> = (0..reqs.len()).map(|_| None).collect();
        for (chunk_no, chunk) in reqs.chunks(super::batch::MAX_BATCH).enumerate() {
            let offset = chunk_no * super::batch::MAX_BATCH;
            let mut pending: Vec<usize> = (0..chunk.len()).collect();
            let mut tries = 0;
            while !pending.is_empty() {
                tries += 1;
                let sub: Vec<GraphRequest> = pending.iter().map(|&i| chunk[i].clone()).collect();
                let batch = self.batch_request(&sub);
                let answers: super::batch::BatchResponse = self.json(&batch).await?;
                let mut again = Vec::new();
                let mut longest: Option<(Scope, Duration)> = None;
                for (k, answer) in answers.in_order(sub.len()).into_iter().enumerate() {
                    let i = pending[k];
                    let Some(a) = answer else {
                        out[offset + i] =
                            Some(Err(self.protocol(format!("the batch answer lacks {}", sub[k].operation))));
                        continue;
                    };
                    if a.status == 429 || a.status == 503 {
                        let wait = a
                            .header("retry-after")
                            .and_then(|v| status::parse_retry_after(v, SystemTime::now()))
                            .unwrap_or(self.config.default_retry_after);
                        let scope = if a.status == 429 { Scope::Mailbox } else { Scope::Tenant };
                        if longest.is_none_or(|(_, w)| w < wait) {
                            longest = Some((scope, wait));
                        }
                        again.push((i, scope, wait));
                    } else {
                        out[offset + i] = Some(self.batch_item(&sub[k], &a));
                    }
                }
                if let Some((scope, wait)) = longest {
                    self.config.throttle.hold(scope, &self.account, wait);
                }
                pending.clear();
                for (i, scope, wait) in again {
                    let post = chunk[i].method == Method::POST && scope == Scope::Tenant;
                    if tries >= self.config.max_attempts || post || wait > self.config.max_throttle_wait {
                        out[offset + i] = Some(Err(self.throttled(scope, wait)));
                    } else {
                        pending.push(i);
                    }
                }
                if !pending.is_empty() {
                    self.wait_for_throttle().await?;
                }
            }
        }
        Ok(out
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(self.protocol("no batch answer".into()))))
            .collect())
    }

    /// The result of one (not throttled) answer inside a batch.
    fn batch_item(&self, req: &GraphRequest, a: &super::batch::BatchItemResponse) -> Result<GraphResponse> {
        let body = a.body_bytes();
        if !(200..300).contains(&a.status) {
            return Err(status::error_for(&self.context(req), a.status, &body));
        }
        if req.operation == DOWNLOAD_MESSAGE && body.len() as u64 > self.config.max_message_bytes {
            return Err(self.message_too_large(req.item.as_deref().unwrap_or_default(), body.len() as u64));
        }
        let header = |name: &str| a.header(name).map(str::to_string);
        Ok(GraphResponse {
            status: a.status,
            etag: header("etag"),
            content_type: header("content-type"),
            body,
        })
    }

    fn batch_request(&self, sub: &[GraphRequest]) -> GraphRequest {
        // A batch of reads may be resent after a 503; one with writes may not.
        let operation = if sub.iter().all(|r| r.method == Method::GET) { "batch" } else { "batch of writes" };
        let mut r = GraphRequest::new(Method::POST, "/$batch".into(), operation, sub[0].permission);
        r.body = Body::Json(super::batch::batch_body(sub));
        r
    }
}
