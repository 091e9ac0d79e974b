//! A Microsoft Graph v1.0 emulator over HTTPS: `tests/graph/server.py`, run by
//! Debian's python3 as a child process on a loopback port picked at run time,
//! with a server certificate from a per-instance [`TestCa`].
//!
//! It keeps state (users with mailboxes, calendars, contacts and To Do lists),
//! answers in the shapes of the documented examples in
//! `shared/fixtures/graph`, accepts only bearer tokens of the harness's
//! [`OAuthServer`] that are meant for Graph (signature, issuer, expiry,
//! audience; delegated permissions in `scp`, application ones in `roles`), and
//! validates every request against the fixtures' OpenAPI subset with their
//! `schema/validate.py` first: an invalid request gets `400` and is recorded
//! (so is a request the emulator itself failed on, answered `500`).
//! [`GraphServer::assert_no_invalid_requests`] fails on them, and so does
//! dropping the server when recorded ones were never checked.
//!
//! The test drives it through an admin interface (`POST /_admin/<op>` with a
//! random token; the typed helpers are in [`crate::graph_admin`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::error::{HarnessError, Result};
use crate::oauth::OAuthServer;
use crate::ports::{LOOPBACK, free_port, log_shows_port_clash, probe_connect};
use crate::process::{ServerProcess, log_tail, server_dir, unique_id};
use crate::tls::TestCa;

pub(crate) const SERVER: &str = "graph";
const PYTHON: &str = "/usr/bin/python3";
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 5;

/// A request the server refused because it does not match the Graph schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRequest {
    /// HTTP method.
    pub method: String,
    /// The path from `/v1.0` on, with the query.
    pub path: String,
    /// The validator's errors.
    pub errors: Vec<String>,
}

impl std::fmt::Display for InvalidRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.method, self.path, self.errors.join("; "))
    }
}

/// A running Graph emulator, stopped on drop.
pub struct GraphServer {
    process: ServerProcess,
    port: u16,
    admin_token: String,
    ca: TestCa,
    http: reqwest::Client,
    invalid_log: PathBuf,
    checked: AtomicUsize,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for GraphServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphServer")
            .field("pid", &self.process.pid())
            .field("port", &self.port)
            .field("admin_token", &"***")
            .field("dir", &self.dir.path())
            .finish()
    }
}

/// Fails with [`HarnessError::Unsupported`] naming the packages when
/// Debian's python3 lacks PyJWT or cryptography.
fn check_python() -> Result<()> {
    let ok = Command::new(PYTHON)
        .args(["-c", "import jwt, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Ok(());
    }
    Err(HarnessError::Unsupported {
        server: SERVER,
        detail: format!(
            "{PYTHON} with python3-jwt and python3-cryptography is needed: run scripts/install-deps.sh"
        ),
    })
}

/// 32 hex characters from the kernel's random source.
fn random_token() -> Result<String> {
    use std::io::Read as _;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| HarnessError::io(SERVER, "read /dev/urandom", e))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Where the emulator's Python sources live.
fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("graph")
}

/// The Graph fixtures (`shared/fixtures/graph` beside the checkout, which may
/// be a nested worktree).
pub fn fixtures_dir() -> Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("shared/fixtures/graph"))
        .find(|d| d.join("schema/validate.py").is_file())
        .ok_or_else(|| HarnessError::Unsupported {
            server: SERVER,
            detail: "the Graph fixtures (shared/fixtures/graph with schema/validate.py) are not beside the checkout"
                .into(),
        })
}

impl GraphServer {
    /// Starts the emulator accepting `oauth`'s tokens and waits until it
    /// answers HTTPS.
    pub fn start(oauth: &OAuthServer) -> Result<GraphServer> {
        GraphServer::spawn(Some(oauth), None)
    }

    /// Starts the emulator in replay mode: it answers each request with the
    /// fixture response whose request matches (method, path, query), links in
    /// it pointing back at the emulator, and `404 NoFixture` otherwise; tokens
    /// are not checked, requests are validated as always.
    pub fn start_replay() -> Result<GraphServer> {
        GraphServer::spawn(None, Some(fixtures_dir()?))
    }

    fn spawn(oauth: Option<&OAuthServer>, replay: Option<PathBuf>) -> Result<GraphServer> {
        let fixtures = fixtures_dir()?;
        check_python()?;
        let dir = server_dir("crmsync-graph-")?;
        let ca = TestCa::generate(dir.path())?;
        let log = dir.path().join("graph.log");
        let invalid_log = dir.path().join("invalid.jsonl");
        let admin_token = random_token()?;
        let id = unique_id();
        let cert = reqwest::Certificate::from_pem(ca.ca_pem().as_bytes())
            .map_err(|e| HarnessError::Http { server: SERVER, context: "read the CA".into(), source: e })?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .tls_built_in_root_certs(false)
            .add_root_certificate(cert)
            .build()
            .map_err(|e| HarnessError::Http { server: SERVER, context: "build client".into(), source: e })?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port()?;
            crate::process::write_file(&log, b"", 0o644)?;
            let mut command = Command::new(PYTHON);
            command
                .arg(package_dir().join("server.py"))
                .arg("--port")
                .arg(port.to_string())
                .arg("--cert")
                .arg(ca.cert_path())
                .arg("--key")
                .arg(ca.key_path())
                .arg("--schema-dir")
                .arg(fixtures.join("schema"))
                .arg("--id")
                .arg(&id)
                .arg("--invalid-log")
                .arg(&invalid_log)
                .env("CRMSYNC_GRAPH_ADMIN_TOKEN", &admin_token)
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .env("PYTHONUNBUFFERED", "1");
            if let Some(o) = oauth {
                command.arg("--issuer").arg(o.issuer()).arg("--keys-dir").arg(o.keys_dir());
            }
            if let Some(r) = &replay {
                command.arg("--replay").arg(r);
            }
            let mut process = ServerProcess::spawn(SERVER, command, &log, true)?;
            let banner = format!("crmsync-graph {id} listening on {LOOPBACK}:{port}");
            let ready = process.wait_ready(READY_TIMEOUT, || {
                if !log_tail(&log, 20).contains(&banner) {
                    return Err("not listening yet".into());
                }
                probe_connect(port, Duration::from_secs(2))
            });
            match ready {
                Ok(()) => {
                    return Ok(GraphServer {
                        process,
                        port,
                        admin_token,
                        ca,
                        http,
                        invalid_log,
                        checked: AtomicUsize::new(0),
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

    /// `https://127.0.0.1:PORT/v1.0`, what a client uses in place of
    /// `https://graph.microsoft.com/v1.0`.
    pub fn base_url(&self) -> String {
        format!("https://{LOOPBACK}:{}/v1.0", self.port)
    }

    /// The absolute URL of a Graph path (`/me/messages`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA that signed the server's certificate.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// An HTTP client trusting only this server's CA (for raw requests).
    pub fn http_client(&self) -> reqwest::Client {
        self.http.clone()
    }

    /// PID of the python process (also its process group id).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The server's log (its access log and errors).
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }

    /// The instance's temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Calls admin operation `op` with `body`; its JSON answer.
    pub async fn admin(&self, op: &str, body: Value) -> Result<Value> {
        let url = format!("https://{LOOPBACK}:{}/_admin/{op}", self.port);
        let context = format!("admin {op}");
        let resp = self
            .http
            .post(&url)
            .header("X-Admin-Token", &self.admin_token)
            .json(&body)
            .send()
            .await
            .map_err(|e| HarnessError::Http { server: SERVER, context: context.clone(), source: e })?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| HarnessError::Http {
            server: SERVER,
            context: context.clone(),
            source: e,
        })?;
        if !status.is_success() {
            return Err(HarnessError::protocol(SERVER, context, format!("HTTP {status}: {text}")));
        }
        serde_json::from_str(&text)
            .map_err(|e| HarnessError::protocol(SERVER, context, format!("{e}: {text}")))
    }

    /// Every request refused as invalid so far (read from the server's
    /// record file, so it works without a runtime, e.g. on drop).
    pub fn invalid_requests(&self) -> Vec<InvalidRequest> {
        let text = std::fs::read_to_string(&self.invalid_log).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|v| InvalidRequest {
                method: v["method"].as_str().unwrap_or_default().to_string(),
                path: v["path"].as_str().unwrap_or_default().to_string(),
                errors: v["errors"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|e| e.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// Panics listing the validator's errors when a request was refused as
    /// invalid since the last check. Checked again on drop for what came later.
    pub fn assert_no_invalid_requests(&self) {
        let all = self.invalid_requests();
        let new = &all[self.checked.swap(all.len(), Ordering::SeqCst).min(all.len())..];
        if !new.is_empty() {
            let list: Vec<String> = new.iter().map(ToString::to_string).collect();
            panic!("the Graph emulator refused {} invalid request(s):\n{}", new.len(), list.join("\n"));
        }
    }
}

impl Drop for GraphServer {
    fn drop(&mut self) {
        self.process.stop();
        if !std::thread::panicking() {
            self.assert_no_invalid_requests();
        }
    }
}
