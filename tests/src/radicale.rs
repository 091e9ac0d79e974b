//! A private Radicale (CalDAV/CardDAV) instance with htpasswd users, and on
//! request OAuth2 bearer tokens ([`RadicaleOptions::oauth`]).
//!
//! Debian's `/usr/bin/radicale` is run by `/usr/bin/python3` explicitly, since
//! another python earlier on PATH lacks the Debian `radicale` module.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;

use crate::error::{HarnessError, Result};
use crate::ports::{LOOPBACK, free_port, log_shows_port_clash, probe_line};
use crate::process::{ServerProcess, make_dir, server_dir, write_file};

const SERVER: &str = "radicale";
const PYTHON: &str = "/usr/bin/python3";
const RADICALE: &str = "/usr/bin/radicale";
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 5;

/// Status, ETag and body of a DAV response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavResponse {
    /// HTTP status code.
    pub status: u16,
    /// The `ETag` header, quotes included, if any.
    pub etag: Option<String>,
    /// The response body as text.
    pub body: String,
}

impl DavResponse {
    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// How Radicale checks an OAuth2 bearer token: with the auth plugin
/// `tests/radicale/oauth_auth.py`, which verifies the RS256 JWT against the
/// issuer's public key (as Dovecot's local validation does), its `iss`, its
/// expiry and optionally a scope, and takes the user from the local part of
/// its `email` claim. Basic logins keep working (htpasswd).
#[derive(Debug, Clone)]
pub struct RadicaleOAuth {
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The issuer's public keys as PEM at `default/RS256/<kid>` below it
    /// ([`crate::OAuthServer::keys_dir`]).
    pub keys_dir: PathBuf,
    /// A scope the token must have, if any.
    pub scope: Option<String>,
}

/// Options of [`Radicale::start_with`]; the default is [`Radicale::start`].
#[derive(Debug, Clone, Default)]
pub struct RadicaleOptions {
    /// Also accept OAuth2 bearer tokens (`Authorization: Bearer`).
    pub oauth: Option<RadicaleOAuth>,
}

/// Where the harness's Radicale plugins live (on Radicale's PYTHONPATH).
fn plugin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("radicale")
}

/// A running Radicale, stopped on drop.
#[derive(Debug)]
pub struct Radicale {
    process: ServerProcess,
    port: u16,
    users: Mutex<BTreeMap<String, String>>,
    users_path: std::path::PathBuf,
    http: reqwest::Client,
    dir: tempfile::TempDir,
}

impl Radicale {
    /// Starts Radicale with htpasswd (plain) authentication and owner-only
    /// rights, storing collections in its temp dir; waits until it answers HTTP.
    pub fn start() -> Result<Radicale> {
        Radicale::start_with(RadicaleOptions::default())
    }

    /// [`Radicale::start`] with `options` (bearer tokens).
    pub fn start_with(options: RadicaleOptions) -> Result<Radicale> {
        let auth_type = if options.oauth.is_some() { "oauth_auth" } else { "htpasswd" };
        let dir = server_dir("crmsync-radicale-")?;
        let users_path = dir.path().join("users");
        write_file(&users_path, b"", 0o644)?;
        let collections = dir.path().join("collections");
        make_dir(&collections, 0o755)?;
        let config_path = dir.path().join("config");
        let log = dir.path().join("radicale.log");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| HarnessError::Http { server: SERVER, context: "build client".into(), source: e })?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port()?;
            let config = format!(
                "[server]\nhosts = 127.0.0.1:{port}\n\n\
                 [auth]\ntype = {auth_type}\nhtpasswd_filename = {users}\nhtpasswd_encryption = plain\ndelay = 0\n\n\
                 [storage]\nfilesystem_folder = {collections}\n\n\
                 [rights]\ntype = owner_only\n\n\
                 [web]\ntype = none\n\n\
                 [logging]\nlevel = info\n",
                users = users_path.display(),
                collections = collections.display(),
            );
            write_file(&config_path, config.as_bytes(), 0o644)?;
            write_file(&log, b"", 0o644)?;
            let mut command = Command::new(PYTHON);
            command.arg(RADICALE).arg("--config").arg(&config_path);
            if let Some(o) = &options.oauth {
                command
                    .env("PYTHONPATH", plugin_dir())
                    .env("PYTHONDONTWRITEBYTECODE", "1")
                    .env("CRMSYNC_OAUTH_ISSUER", &o.issuer)
                    .env("CRMSYNC_OAUTH_KEYS_DIR", &o.keys_dir)
                    .env("CRMSYNC_OAUTH_SCOPE", o.scope.as_deref().unwrap_or(""));
            }
            let mut process = ServerProcess::spawn(SERVER, command, &log, true)?;
            let ready = process.wait_ready(READY_TIMEOUT, || {
                let status = probe_line(port, Some(b"GET / HTTP/1.0\r\n\r\n"), Duration::from_secs(2))?;
                if !status.starts_with("HTTP/1.") {
                    return Err(format!("HTTP status line {status:?}"));
                }
                // The log line proves this process (not some other server) bound the port.
                if crate::process::log_tail(&log, 50).contains(&format!(":{port}'")) {
                    Ok(())
                } else {
                    Err(format!("port {port} answers but the log shows no listener on it"))
                }
            });
            match ready {
                Ok(()) => {
                    return Ok(Radicale {
                        process,
                        port,
                        users: Mutex::new(BTreeMap::new()),
                        users_path,
                        http,
                        dir,
                    });
                }
                Err(e) => {
                    let clash = log_shows_port_clash(&process.log_tail(200));
                    process.stop();
                    if !(clash && attempt < START_ATTEMPTS) {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        LOOPBACK
    }

    /// The HTTP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{LOOPBACK}:{}", self.port)
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// PID of the Radicale process.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The Radicale log file.
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// The last `lines` lines of the Radicale log.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }

    /// The instance's temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Adds a user (or changes its password); Radicale reads the htpasswd file
    /// on every login, so the change applies at once.
    pub fn add_user(&self, name: &str, password: &str) -> Result<()> {
        if name.is_empty() || name.contains([':', '\n', '\r', '/']) || password.contains(['\n', '\r']) {
            return Err(HarnessError::Invalid {
                server: SERVER,
                detail: format!("user name {name:?} or its password cannot go in an htpasswd file"),
            });
        }
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        users.insert(name.to_string(), password.to_string());
        let text: String = users.iter().map(|(u, p)| format!("{u}:{p}\n")).collect();
        write_file(&self.users_path, text.as_bytes(), 0o644)
    }

    /// Sends any request with basic auth; `path` starts with `/`.
    pub async fn request(
        &self,
        method: &str,
        user: &str,
        password: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<DavResponse> {
        send(&self.http, SERVER, method, &self.url(path), Some((user, password)), headers, body).await
    }

    /// Sends any request with `Authorization: Bearer TOKEN` (a Radicale
    /// started with [`RadicaleOptions::oauth`]); `path` starts with `/`.
    pub async fn request_bearer(
        &self,
        method: &str,
        token: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<DavResponse> {
        let bearer = format!("Bearer {token}");
        let mut all = vec![("Authorization", bearer.as_str())];
        all.extend_from_slice(headers);
        send(&self.http, SERVER, method, &self.url(path), None, &all, body).await
    }

    /// PUT a calendar object or vCard (`content_type` e.g. `text/calendar` or
    /// `text/vcard`); the response carries the new ETag.
    pub async fn put(
        &self,
        user: &str,
        password: &str,
        path: &str,
        body: &str,
        content_type: &str,
    ) -> Result<DavResponse> {
        self.request("PUT", user, password, path, &[("Content-Type", content_type)], Some(body.to_string()))
            .await
    }

    /// GET a resource.
    pub async fn get(&self, user: &str, password: &str, path: &str) -> Result<DavResponse> {
        self.request("GET", user, password, path, &[], None).await
    }

    /// DELETE a resource.
    pub async fn delete(&self, user: &str, password: &str, path: &str) -> Result<DavResponse> {
        self.request("DELETE", user, password, path, &[], None).await
    }

    /// MKCALENDAR at `path` (ending in `/`) for events and tasks (VEVENT, VTODO).
    pub async fn mkcalendar(
        &self,
        user: &str,
        password: &str,
        path: &str,
        name: &str,
    ) -> Result<DavResponse> {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop>
    <D:displayname>{name}</D:displayname>
    <C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="VTODO"/></C:supported-calendar-component-set>
  </D:prop></D:set>
</C:mkcalendar>"#
        );
        let headers = [("Content-Type", "application/xml; charset=utf-8")];
        self.request("MKCALENDAR", user, password, path, &headers, Some(body)).await
    }

    /// Extended MKCOL creating an address book at `path` (ending in `/`).
    pub async fn mkcol_addressbook(
        &self,
        user: &str,
        password: &str,
        path: &str,
        name: &str,
    ) -> Result<DavResponse> {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">
  <D:set><D:prop>
    <D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>
    <D:displayname>{name}</D:displayname>
  </D:prop></D:set>
</D:mkcol>"#
        );
        let headers = [("Content-Type", "application/xml; charset=utf-8")];
        self.request("MKCOL", user, password, path, &headers, Some(body)).await
    }
}

/// Sends one HTTP request to a DAV test server (`server` names it in errors),
/// with basic auth when `auth` is given; returns status, ETag and body.
pub(crate) async fn send(
    http: &reqwest::Client,
    server: &'static str,
    method: &str,
    url: &str,
    auth: Option<(&str, &str)>,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Result<DavResponse> {
    let context = format!("{method} {url}");
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|e| HarnessError::Invalid { server, detail: format!("method {method:?}: {e}") })?;
    let mut request = http.request(method, url);
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let http_err = |source| HarnessError::Http { server, context: context.clone(), source };
    let response = request.send().await.map_err(http_err)?;
    let status = response.status().as_u16();
    let etag = response.headers().get(reqwest::header::ETAG).and_then(|v| v.to_str().ok()).map(String::from);
    let body = response.text().await.map_err(http_err)?;
    Ok(DavResponse { status, etag, body })
}
