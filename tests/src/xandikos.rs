//! A private Xandikos (CalDAV/CardDAV), the second DAV implementation the
//! tests run against. It follows RFC 6578 strictly where Radicale does not: a
//! sync-collection report lists as removed only members that existed when its
//! token was issued.
//!
//! Xandikos has no authentication of its own (it is meant to sit behind a
//! proxy that does it); it accepts any credentials, or none. It is started with
//! `--defaults`, which makes the principal `/user/` with a calendar at
//! `/user/calendars/calendar/` and an address book at
//! `/user/contacts/addressbook/`. Debian's `/usr/bin/xandikos` is run by
//! `/usr/bin/python3` explicitly, as Radicale is.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::error::{HarnessError, Result};
use crate::ports::{LOOPBACK, free_port, log_shows_port_clash, probe_line};
use crate::process::{ServerProcess, server_dir, write_file};
use crate::radicale::DavResponse;

const SERVER: &str = "xandikos";
const PYTHON: &str = "/usr/bin/python3";
const XANDIKOS: &str = "/usr/bin/xandikos";
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 5;

/// The principal's calendar (events and tasks) made by `--defaults`.
pub const CALENDAR: &str = "/user/calendars/calendar/";
/// The principal's address book made by `--defaults`.
pub const ADDRESSBOOK: &str = "/user/contacts/addressbook/";

/// A running Xandikos, stopped on drop.
#[derive(Debug)]
pub struct Xandikos {
    process: ServerProcess,
    port: u16,
    http: reqwest::Client,
    dir: tempfile::TempDir,
}

impl Xandikos {
    /// Starts Xandikos on a free loopback port, serving a new tree in its temp
    /// dir with the default calendar and address book; waits until it answers HTTP.
    pub fn start() -> Result<Xandikos> {
        let dir = server_dir("crmsync-xandikos-")?;
        let root = dir.path().join("root");
        let log = dir.path().join("xandikos.log");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| HarnessError::Http { server: SERVER, context: "build client".into(), source: e })?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port()?;
            write_file(&log, b"", 0o644)?;
            let mut command = Command::new(PYTHON);
            command
                .arg(XANDIKOS)
                .arg("--directory")
                .arg(&root)
                .arg("--defaults")
                .arg("--listen-address")
                .arg(LOOPBACK)
                .arg("--port")
                .arg(port.to_string());
            let mut process = ServerProcess::spawn(SERVER, command, &log, true)?;
            let ready = process.wait_ready(READY_TIMEOUT, || {
                let status = probe_line(port, Some(b"GET / HTTP/1.0\r\n\r\n"), Duration::from_secs(2))?;
                if !status.starts_with("HTTP/1.") {
                    return Err(format!("HTTP status line {status:?}"));
                }
                // The log line proves this process (not some other server) bound the port.
                if crate::process::log_tail(&log, 50).contains(&format!("{LOOPBACK}:{port}")) {
                    Ok(())
                } else {
                    Err(format!("port {port} answers but the log shows no listener on it"))
                }
            });
            match ready {
                Ok(()) => return Ok(Xandikos { process, port, http, dir }),
                Err(e) => {
                    let tail = process.log_tail(200);
                    // aiohttp says it in lower case.
                    let clash = log_shows_port_clash(&tail) || tail.contains("address already in use");
                    process.stop();
                    if !(clash && attempt < START_ATTEMPTS) {
                        return Err(e);
                    }
                }
            }
        }
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

    /// PID of the Xandikos process.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The Xandikos log file.
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// The last `lines` lines of the Xandikos log.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }

    /// The instance's temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sends any request; `path` starts with `/`.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<DavResponse> {
        crate::radicale::send(&self.http, SERVER, method, &self.url(path), None, headers, body).await
    }

    /// PUT a calendar object or vCard (`content_type` e.g. `text/calendar` or `text/vcard`).
    pub async fn put(&self, path: &str, body: &str, content_type: &str) -> Result<DavResponse> {
        self.request("PUT", path, &[("Content-Type", content_type)], Some(body.to_string())).await
    }

    /// GET a resource.
    pub async fn get(&self, path: &str) -> Result<DavResponse> {
        self.request("GET", path, &[], None).await
    }

    /// DELETE a resource.
    pub async fn delete(&self, path: &str) -> Result<DavResponse> {
        self.request("DELETE", path, &[], None).await
    }
}
