//! A scripted HTTP server for hostile-server tests: where no real server
//! misbehaves on demand (a 1 GB answer, XML nested a million deep, hrefs
//! that point to another host), a test answers each request itself.
//!
//! Each request is read whole (headers and a `Content-Length` body), recorded,
//! and handed to the test's script, which returns what to answer: a complete
//! response, or a response head followed by a large generated body written
//! in chunks until the client stops reading.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::error::{HarnessError, Result};
use crate::ports::LOOPBACK;

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method, e.g. `PROPFIND`.
    pub method: String,
    /// Request target (path).
    pub path: String,
    /// Header lines as (lower-case name, value).
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    pub body: String,
}

impl Request {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// What the script answers to one request.
pub enum Answer {
    /// A complete response: status line and headers are made from these.
    Full {
        /// Status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// Body.
        body: Vec<u8>,
    },
    /// A response whose body is `chunk` repeated `times` times (sent with a
    /// `Content-Length` of the whole unless `announce_length` is false, then
    /// with `Connection: close` and no length), after `prefix`.
    Repeated {
        /// Status code.
        status: u16,
        /// Whether to send `Content-Length`.
        announce_length: bool,
        /// The start of the body.
        prefix: Vec<u8>,
        /// The repeated part.
        chunk: Vec<u8>,
        /// How many times.
        times: u64,
    },
}

impl Answer {
    /// A 207 Multi-Status with an XML body.
    pub fn multistatus(xml: impl Into<String>) -> Answer {
        Answer::Full {
            status: 207,
            headers: vec![("Content-Type".into(), "application/xml; charset=utf-8".into())],
            body: xml.into().into_bytes(),
        }
    }

    /// A response with this status and an empty body.
    pub fn status(status: u16) -> Answer {
        Answer::Full { status, headers: vec![], body: vec![] }
    }
}

const SERVER: &str = "scripted HTTP server";

type Script = dyn Fn(&Request) -> Answer + Send + Sync;

/// A running scripted server; stops when dropped.
pub struct ScriptedHttp {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    /// Bytes of body written across all answers (how far a client read).
    written: Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl ScriptedHttp {
    /// Starts listening on a free loopback port; `script` answers every request.
    pub async fn start(script: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> Result<ScriptedHttp> {
        let io = |context: &str| {
            let context = context.to_string();
            move |source| HarnessError::Io { server: SERVER, context, source }
        };
        let listener = TcpListener::bind((LOOPBACK, 0)).await.map_err(io("bind"))?;
        let port = listener.local_addr().map_err(io("local address"))?.port();
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let written: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let (reqs, wr) = (requests.clone(), written.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (script, reqs, wr) = (script.clone(), reqs.clone(), wr.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, script, reqs, wr).await;
                });
            }
        });
        Ok(ScriptedHttp { port, requests, written, task })
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{LOOPBACK}:{}", self.port)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Body bytes written so far, across all answers.
    pub fn body_bytes_written(&self) -> u64 {
        self.written.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for ScriptedHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    script: Arc<Script>,
    requests: Arc<Mutex<Vec<Request>>>,
    written: Arc<std::sync::atomic::AtomicU64>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if read.read_line(&mut h).await? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        read.read_exact(&mut body).await?;
        let req = Request { method, path, headers, body: String::from_utf8_lossy(&body).into_owned() };
        requests.lock().unwrap_or_else(|p| p.into_inner()).push(req.clone());
        match script(&req) {
            Answer::Full { status, headers, body } => {
                let mut head = format!("HTTP/1.1 {status} Scripted\r\nContent-Length: {}\r\n", body.len());
                for (n, v) in headers {
                    head.push_str(&format!("{n}: {v}\r\n"));
                }
                head.push_str("\r\n");
                write.write_all(head.as_bytes()).await?;
                write.write_all(&body).await?;
                written.fetch_add(body.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
            Answer::Repeated { status, announce_length, prefix, chunk, times } => {
                let total = prefix.len() as u64 + chunk.len() as u64 * times;
                let length = if announce_length {
                    format!("Content-Length: {total}\r\n")
                } else {
                    "Connection: close\r\n".to_string()
                };
                let head = format!(
                    "HTTP/1.1 {status} Scripted\r\nContent-Type: application/xml; charset=utf-8\r\n{length}\r\n"
                );
                write.write_all(head.as_bytes()).await?;
                write.write_all(&prefix).await?;
                written.fetch_add(prefix.len() as u64, std::sync::atomic::Ordering::Relaxed);
                for _ in 0..times {
                    write.write_all(&chunk).await?;
                    written.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
                if !announce_length {
                    return Ok(());
                }
            }
        }
    }
}
