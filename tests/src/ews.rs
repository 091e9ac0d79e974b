//! A private Exchange Web Services emulator: `tests/ews/server.py` (Python 3,
//! python3-lxml, python3-pycryptodome for NTLM) over HTTPS with a certificate of
//! the harness CA, on a loopback port picked at run time.
//!
//! It answers EWS statefully as Exchange documents it (mailboxes, folders,
//! SyncFolderItems with SyncStates and paging, GetItem/FindItem/CreateItem/
//! UpdateItem/DeleteItem/MoveItem, impersonation, autodiscover POX, Basic and
//! NTLMv2 logins) and validates **every request** against Microsoft's EWS
//! schema (`shared/fixtures/ews/schema` beside the checkout). An invalid request
//! is answered with Exchange's `ErrorSchemaValidation` fault and recorded:
//! [`EwsServer::assert_no_invalid_requests`] fails the test naming the schema
//! error, and dropping the server does the same check unless the test already
//! made it. The server checks its own responses against the schema too.
//!
//! Tests seed and inspect mailboxes and inject faults through an admin
//! interface (`POST /admin/<command>`, JSON, guarded by a random token).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::error::{HarnessError, Result};
use crate::ports::{free_port, log_shows_port_clash, probe_connect};
use crate::process::{ServerProcess, log_tail, server_dir, unique_id};
use crate::tls::TestCa;

const SERVER: &str = "ews";
const PYTHON: &str = "/usr/bin/python3";
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 5;

/// The shared EWS fixture corpus (`shared/fixtures/ews` beside the checkout,
/// which may be a nested worktree).
pub fn fixtures_dir() -> Option<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("shared/fixtures/ews"))
        .find(|d| d.join("schema/ews-validate.xsd").is_file())
}

/// The recorded gromox conversation of the fixture corpus (`gromox/` of
/// [`fixtures_dir`]), for [`EwsServer::start_replay`].
pub fn gromox_dir() -> Option<PathBuf> {
    fixtures_dir().map(|d| d.join("gromox"))
}

/// An item as the admin interface reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EwsItem {
    /// The EWS ItemId.
    pub id: String,
    /// The current ChangeKey.
    pub change_key: String,
    /// `Message`, `CalendarItem`, `Contact` or `Task`.
    pub kind: String,
    /// Distinguished folder name (`inbox`, `sentitems`, ...) or display name.
    pub folder: String,
    /// The Subject, if set.
    pub subject: Option<String>,
    /// The InternetMessageId (Message-ID header), if any.
    pub internet_message_id: Option<String>,
    /// The read flag (messages only).
    pub is_read: Option<bool>,
    /// Every stored field as its `t:` element XML, by element name.
    pub fields: BTreeMap<String, String>,
    /// The MIME content, if the item has one.
    pub mime: Option<String>,
    /// Extended (MAPI) properties: canonical ExtendedFieldURI (attributes
    /// `Name=value` joined by `;`, sorted, PropertyType left out, tags and ids
    /// as hex, GUIDs lower-case) → value text.
    pub extended: BTreeMap<String, String>,
}

impl EwsItem {
    fn from_json(v: &Value) -> EwsItem {
        let s = |k: &str| v[k].as_str().map(str::to_string);
        EwsItem {
            id: s("id").unwrap_or_default(),
            change_key: s("change_key").unwrap_or_default(),
            kind: s("kind").unwrap_or_default(),
            folder: s("folder").unwrap_or_default(),
            subject: s("subject"),
            internet_message_id: s("internet_message_id"),
            is_read: v["is_read"].as_bool(),
            fields: v["fields"]
                .as_object()
                .map(|m| m.iter().map(|(k, x)| (k.clone(), x.as_str().unwrap_or("").to_string())).collect())
                .unwrap_or_default(),
            mime: s("mime"),
            extended: v["extended"]
                .as_object()
                .map(|m| m.iter().map(|(k, x)| (k.clone(), x.as_str().unwrap_or("").to_string())).collect())
                .unwrap_or_default(),
        }
    }
}

/// One request the server received, as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct EwsRequest {
    /// 1-based arrival order.
    pub seq: u64,
    /// Arrival time, seconds since the Unix epoch.
    pub time: f64,
    /// The EWS operation (`SyncFolderItems`, ...), `Autodiscover`, or `None`
    /// when the request never got that far (401, not XML).
    pub operation: Option<String>,
    /// The authenticated account.
    pub user: Option<String>,
    /// The SMTP address of `ExchangeImpersonation`, if any.
    pub impersonated: Option<String>,
    /// HTTP status answered.
    pub status: u16,
    /// Every ResponseCode in the answer (or the fault's code).
    pub codes: Vec<String>,
    /// The server processed the request but dropped the connection instead of answering.
    pub dropped: bool,
    /// The operation element's attributes (`MessageDisposition`, `DeleteType`, ...).
    pub attributes: BTreeMap<String, String>,
}

/// Invalid traffic the server saw: requests that failed the EWS schema (or
/// used an operation the emulator lacks) and its own responses that did.
#[derive(Debug, Clone, Default)]
pub struct InvalidTraffic {
    /// `(operation, first schema error)` of each invalid request.
    pub requests: Vec<(Option<String>, String)>,
    /// `(operation, first schema error)` of each invalid response.
    pub responses: Vec<(Option<String>, String)>,
}

/// A fault to inject ([`EwsServer::inject`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EwsFault {
    /// The next `count` requests of `operation` get Exchange's throttling
    /// fault (HTTP 500, `ErrorServerBusy`, `BackOffMilliseconds` in MessageXml).
    ServerBusy {
        /// EWS operation name.
        operation: String,
        /// How many requests.
        count: u32,
        /// The BackOffMilliseconds value.
        backoff_ms: u64,
    },
    /// This SyncState (or, with `None`, every one issued so far) gets
    /// `ErrorInvalidSyncStateData`.
    InvalidSyncState(Option<String>),
    /// The next `count` requests of `operation` are processed, then the
    /// connection is closed without an answer (a lost response).
    DropAfter {
        /// EWS operation name.
        operation: String,
        /// How many requests.
        count: u32,
    },
    /// The next `count` requests of `operation` wait `delay_ms` before being
    /// processed (a slow server, for timeouts).
    Delay {
        /// EWS operation name (`"*"`: any).
        operation: String,
        /// How many requests.
        count: u32,
        /// The wait.
        delay_ms: u64,
    },
    /// The next `count` requests of `operation` get HTTP `status` with an
    /// HTML body instead of a SOAP answer (403, 500, 503 from a proxy or IIS).
    HttpStatus {
        /// EWS operation name (`"*"`: any).
        operation: String,
        /// How many requests.
        count: u32,
        /// The HTTP status.
        status: u16,
    },
    /// `ErrorAccessDenied` for requests acting on `user`'s mailbox
    /// (one operation, or all with `None`).
    AccessDenied {
        /// The mailbox.
        user: String,
        /// EWS operation name, or every operation.
        operation: Option<String>,
    },
    /// Removes the busy, drop, delay, HTTP-status and access faults.
    Clear,
}

/// A running EWS emulator, stopped on drop.
#[derive(Debug)]
pub struct EwsServer {
    process: ServerProcess,
    port: u16,
    token: String,
    ca: TestCa,
    http: reqwest::Client,
    invalid_log: PathBuf,
    checked: AtomicBool,
    dir: tempfile::TempDir,
}

fn random_token() -> Result<String> {
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| HarnessError::io(SERVER, "read /dev/urandom", e))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

impl EwsServer {
    /// Starts the emulator with a fresh CA and waits until it answers. Fails
    /// with [`HarnessError::Unsupported`] naming what to install when python3-lxml
    /// or the shared fixtures are missing.
    pub fn start() -> Result<EwsServer> {
        EwsServer::start_inner(None)
    }

    /// Starts the server in replay mode: it answers from the recorded
    /// numbered conversation in `dir` (`NNN-name.request.xml` /
    /// `.response.xml`, `.http-status`; e.g. [`gromox_dir`]) instead of
    /// emulating. A request is matched by operation and key fields (ids,
    /// SyncState, folder, shape, created items' subjects, ...); one with no
    /// recording counts as invalid. Logins are still checked (users from
    /// [`EwsServer::add_user`]); a failed one gets the recorded 401.
    pub fn start_replay(dir: &Path) -> Result<EwsServer> {
        EwsServer::start_inner(Some(dir))
    }

    fn start_inner(replay: Option<&Path>) -> Result<EwsServer> {
        let fixtures = fixtures_dir().ok_or_else(|| HarnessError::Unsupported {
            server: SERVER,
            detail: "the EWS fixtures (shared/fixtures/ews beside the checkout) are missing".into(),
        })?;
        let lxml = Command::new(PYTHON).args(["-c", "import lxml, Cryptodome"]).output();
        if !lxml.as_ref().is_ok_and(|o| o.status.success()) {
            return Err(HarnessError::Unsupported {
                server: SERVER,
                detail: "python3-lxml and python3-pycryptodome are needed: scripts/install-deps.sh test"
                    .into(),
            });
        }
        let dir = server_dir("crmsync-ews-")?;
        let ca = TestCa::generate(dir.path())?;
        let token = random_token()?;
        let log = dir.path().join("ews.log");
        let invalid_log = dir.path().join("invalid.jsonl");
        let id = unique_id();
        let cert = reqwest::Certificate::from_pem(ca.ca_pem().as_bytes())
            .map_err(|e| HarnessError::Http { server: SERVER, context: "load CA".into(), source: e })?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .tls_built_in_root_certs(false)
            .add_root_certificate(cert)
            .build()
            .map_err(|e| HarnessError::Http { server: SERVER, context: "build client".into(), source: e })?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ews/server.py");
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port()?;
            let mut command = Command::new(PYTHON);
            command
                .arg(&script)
                .arg("--port")
                .arg(port.to_string())
                .arg("--cert")
                .arg(ca.cert_path())
                .arg("--key")
                .arg(ca.key_path())
                .arg("--schema-dir")
                .arg(fixtures.join("schema"))
                .arg("--invalid-log")
                .arg(&invalid_log)
                .arg("--id")
                .arg(&id)
                .env("EWS_ADMIN_TOKEN", &token)
                .env("PYTHONDONTWRITEBYTECODE", "1");
            if let Some(dir) = replay {
                command.arg("--replay").arg(dir);
            }
            let mut process = ServerProcess::spawn(SERVER, command, &log, true)?;
            let banner = format!("crmsync-ews {id} listening on 127.0.0.1:{port}");
            let ready = process.wait_ready(READY_TIMEOUT, || {
                if !log_tail(&log, 20).contains(&banner) {
                    return Err("not listening yet".into());
                }
                probe_connect(port, Duration::from_secs(2))
            });
            match ready {
                Ok(()) => {
                    return Ok(EwsServer {
                        process,
                        port,
                        token,
                        ca,
                        http,
                        invalid_log,
                        checked: AtomicBool::new(false),
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

    /// `https://localhost:PORT` (the certificate is valid for `localhost` and `127.0.0.1`).
    pub fn base_url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// The EWS endpoint, `https://localhost:PORT/EWS/Exchange.asmx`.
    pub fn ews_url(&self) -> String {
        format!("{}/EWS/Exchange.asmx", self.base_url())
    }

    /// The autodiscover POX endpoint, `https://localhost:PORT/autodiscover/autodiscover.xml`.
    pub fn autodiscover_url(&self) -> String {
        format!("{}/autodiscover/autodiscover.xml", self.base_url())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA that signed the server's certificate.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// An HTTP client trusting only the harness CA.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// PID of the server process.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }

    /// The instance's temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    async fn admin(&self, command: &str, body: Value) -> Result<Value> {
        let url = format!("{}/admin/{command}", self.base_url());
        let resp =
            self.http.post(&url).header("X-Admin-Token", &self.token).json(&body).send().await.map_err(
                |e| HarnessError::Http { server: SERVER, context: format!("admin {command}"), source: e },
            )?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| HarnessError::Http {
            server: SERVER,
            context: format!("admin {command} body"),
            source: e,
        })?;
        if !status.is_success() {
            return Err(HarnessError::protocol(
                SERVER,
                format!("admin {command}"),
                format!("HTTP {status}: {text}"),
            ));
        }
        serde_json::from_str(&text)
            .map_err(|e| HarnessError::protocol(SERVER, format!("admin {command}"), format!("{e}: {text}")))
    }

    /// Creates a mailbox `address` whose owner logs in with `password`
    /// (Basic or NTLM, user name = the address or its local part).
    pub async fn add_user(&self, address: &str, password: &str) -> Result<()> {
        self.admin("add_user", json!({ "address": address, "password": password })).await.map(drop)
    }

    /// Changes a password (the old one then gets HTTP 401).
    pub async fn set_password(&self, address: &str, password: &str) -> Result<()> {
        self.admin("set_password", json!({ "address": address, "password": password })).await.map(drop)
    }

    /// Grants (or takes away) the ApplicationImpersonation role of `account`.
    pub async fn grant_impersonation(&self, account: &str, granted: bool) -> Result<()> {
        self.admin("impersonation", json!({ "account": account, "granted": granted })).await.map(drop)
    }

    /// Delivers raw MIME into `folder` (distinguished name such as `inbox`, or display name).
    pub async fn seed_mime(&self, user: &str, folder: &str, mime: &[u8], is_read: bool) -> Result<EwsItem> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(mime);
        let v = self
            .admin(
                "seed_mime",
                json!({ "user": user, "folder": folder, "mime_b64": b64, "is_read": is_read }),
            )
            .await?;
        Ok(EwsItem::from_json(&v))
    }

    /// Delivers many raw messages into `folder` in one admin call (for
    /// benchmarks); returns their ItemIds in order.
    pub async fn seed_mimes(
        &self,
        user: &str,
        folder: &str,
        mimes: &[Vec<u8>],
        is_read: bool,
    ) -> Result<Vec<String>> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let list: Vec<String> = mimes.iter().map(|m| b64.encode(m)).collect();
        let body = json!({ "user": user, "folder": folder, "mimes_b64": list, "is_read": is_read });
        let v = self.admin("seed_mimes", body).await?;
        Ok(v.as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default())
    }

    /// Creates an item from its `<t:CalendarItem>`/`<t:Contact>`/`<t:Task>`/
    /// `<t:Message>` element (with `xmlns:t`), as a CreateItem request carries
    /// it; `folder` `None` = the kind's default folder. Recurring masters keep
    /// the ModifiedOccurrences/DeletedOccurrences given. Schema-checked.
    pub async fn seed_item(&self, user: &str, folder: Option<&str>, xml: &str) -> Result<EwsItem> {
        let v = self.admin("seed_item", json!({ "user": user, "folder": folder, "xml": xml })).await?;
        Ok(EwsItem::from_json(&v))
    }

    /// Makes occurrence `index` (1-based over the series) of a recurring master
    /// an exception, as Outlook would: `changes` may hold `subject`, `start`,
    /// `end` (UTC `2026-12-08T10:00:00Z`) and `location`.
    pub async fn modify_occurrence(&self, master_id: &str, index: u32, changes: Value) -> Result<EwsItem> {
        let mut body = changes;
        body["id"] = json!(master_id);
        body["index"] = json!(index);
        Ok(EwsItem::from_json(&self.admin("modify_occurrence", body).await?))
    }

    /// Deletes occurrence `index` of a recurring master, as Outlook would.
    pub async fn delete_occurrence(&self, master_id: &str, index: u32) -> Result<EwsItem> {
        let v = self.admin("delete_occurrence", json!({ "id": master_id, "index": index })).await?;
        Ok(EwsItem::from_json(&v))
    }

    /// Creates a folder `name` under `parent` with `folder_class` (`IPF.Note`, ...); returns its FolderId.
    pub async fn create_folder(
        &self,
        user: &str,
        parent: &str,
        name: &str,
        folder_class: &str,
    ) -> Result<String> {
        let body = json!({ "user": user, "parent": parent, "name": name, "folder_class": folder_class });
        let v = self.admin("create_folder", body).await?;
        Ok(v["id"].as_str().unwrap_or_default().to_string())
    }

    /// The items of a folder, oldest first.
    pub async fn items(&self, user: &str, folder: &str) -> Result<Vec<EwsItem>> {
        let v = self.admin("items", json!({ "user": user, "folder": folder })).await?;
        Ok(v.as_array().map(|a| a.iter().map(EwsItem::from_json).collect()).unwrap_or_default())
    }

    /// Changes an item as another client would: `changes` may hold `subject`,
    /// `is_read` and `fields` (element name → `t:` element XML). A read-flag
    /// change alone shows up as ReadFlagChange in SyncFolderItems.
    pub async fn update_item(&self, id: &str, changes: Value) -> Result<EwsItem> {
        let mut body = changes;
        body["id"] = json!(id);
        Ok(EwsItem::from_json(&self.admin("update_item", body).await?))
    }

    /// Deletes an item as another client would.
    pub async fn delete_item(&self, id: &str) -> Result<()> {
        self.admin("delete_item", json!({ "id": id })).await.map(drop)
    }

    /// Every request received so far, in order.
    pub async fn request_log(&self) -> Result<Vec<EwsRequest>> {
        let v = self.admin("log", json!({})).await?;
        let s = |e: &Value, k: &str| e[k].as_str().map(str::to_string);
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| EwsRequest {
                        seq: e["seq"].as_u64().unwrap_or(0),
                        time: e["time"].as_f64().unwrap_or(0.0),
                        operation: s(e, "operation"),
                        user: s(e, "user"),
                        impersonated: s(e, "impersonated"),
                        status: e["status"].as_u64().unwrap_or(0) as u16,
                        codes: e["codes"]
                            .as_array()
                            .map(|c| c.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                            .unwrap_or_default(),
                        dropped: e["dropped"].as_bool().unwrap_or(false),
                        attributes: e["attributes"]
                            .as_object()
                            .map(|m| {
                                m.iter()
                                    .map(|(k, x)| (k.clone(), x.as_str().unwrap_or("").to_string()))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Invalid requests and responses seen so far.
    pub async fn invalid_traffic(&self) -> Result<InvalidTraffic> {
        let v = self.admin("invalid", json!({})).await?;
        let list = |k: &str| {
            v[k].as_array()
                .map(|a| {
                    a.iter()
                        .map(|e| {
                            (
                                e["operation"].as_str().map(str::to_string),
                                e["error"].as_str().unwrap_or("").to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(InvalidTraffic { requests: list("requests"), responses: list("responses") })
    }

    /// Panics naming the operation and schema error of every invalid request
    /// (and invalid emulator response) so far. Dropping the server checks
    /// again unless this was called.
    pub fn assert_no_invalid_requests(&self) {
        self.checked.store(true, Ordering::SeqCst);
        if let Some(report) = self.invalid_report() {
            panic!("{report}");
        }
    }

    /// The invalid-traffic report from the server's file, if there was any.
    fn invalid_report(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.invalid_log).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|e| {
                format!(
                    "invalid {} {}: {}",
                    e["kind"].as_str().unwrap_or("request"),
                    e["operation"].as_str().unwrap_or("(no operation)"),
                    e["error"].as_str().unwrap_or("")
                )
            })
            .collect();
        (!lines.is_empty())
            .then(|| format!("EWS server saw {} invalid message(s):\n{}", lines.len(), lines.join("\n")))
    }

    /// Checks a whole SOAP envelope against the EWS schema: `None` when
    /// valid, else the first error (the server's own validator, for fixtures).
    pub async fn validate(&self, xml: &str) -> Result<Option<String>> {
        let v = self.admin("validate", json!({ "xml": xml })).await?;
        Ok(v["error"].as_str().map(str::to_string))
    }

    /// Injects a fault.
    pub async fn inject(&self, fault: EwsFault) -> Result<()> {
        let body = match fault {
            EwsFault::ServerBusy { operation, count, backoff_ms } => {
                json!({ "kind": "server_busy", "operation": operation, "count": count, "backoff_ms": backoff_ms })
            }
            EwsFault::InvalidSyncState(Some(state)) => {
                json!({ "kind": "invalid_sync_state", "sync_state": state })
            }
            EwsFault::InvalidSyncState(None) => json!({ "kind": "invalid_sync_state", "all": true }),
            EwsFault::DropAfter { operation, count } => {
                json!({ "kind": "drop_after", "operation": operation, "count": count })
            }
            EwsFault::Delay { operation, count, delay_ms } => {
                json!({ "kind": "delay", "operation": operation, "count": count, "delay_ms": delay_ms })
            }
            EwsFault::HttpStatus { operation, count, status } => json!({
                "kind": "http_status", "operation": operation, "count": count, "status": status,
                "body": format!("<html><body>HTTP Error {status}</body></html>"),
            }),
            EwsFault::AccessDenied { user, operation } => {
                json!({ "kind": "access_denied", "user": user, "operation": operation.unwrap_or_else(|| "*".into()) })
            }
            EwsFault::Clear => json!({ "kind": "clear" }),
        };
        self.admin("fault", body).await.map(drop)
    }

    /// Makes autodiscover for `address` answer `redirectAddr` to `target`.
    pub async fn autodiscover_redirect_addr(&self, address: &str, target: &str) -> Result<()> {
        self.admin("autodiscover", json!({ "address": address, "redirect_addr": target })).await.map(drop)
    }

    /// Makes autodiscover for `address` answer `redirectUrl` to `url`.
    pub async fn autodiscover_redirect_url(&self, address: &str, url: &str) -> Result<()> {
        self.admin("autodiscover", json!({ "address": address, "redirect_url": url })).await.map(drop)
    }

    /// Makes autodiscover for `address` answer settings with this EWS URL.
    pub async fn autodiscover_ews_url(&self, address: &str, url: &str) -> Result<()> {
        self.admin("autodiscover", json!({ "address": address, "ews_url": url })).await.map(drop)
    }
}

impl Drop for EwsServer {
    fn drop(&mut self) {
        if self.checked.load(Ordering::SeqCst) || std::thread::panicking() {
            return;
        }
        if let Some(report) = self.invalid_report() {
            panic!("{report}");
        }
    }
}
