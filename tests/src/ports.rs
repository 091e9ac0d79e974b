//! Loopback ports picked at run time.
//!
//! A port is found by binding `127.0.0.1:0`, reading the port the kernel chose
//! and releasing it again. Within one test process a port is never handed out
//! twice, so servers started by tests running in parallel cannot be given the
//! same port; a clash with another process is still possible (the server then
//! fails to bind) and the server starters retry with fresh ports.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

use crate::error::{HarnessError, Result};

/// The loopback address every harness server listens on.
pub const LOOPBACK: &str = "127.0.0.1";

static ISSUED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// Returns a loopback TCP port that was free a moment ago and that this process
/// has not handed out before.
pub fn free_port() -> Result<u16> {
    for _ in 0..200 {
        let listener =
            TcpListener::bind((LOOPBACK, 0)).map_err(|e| HarnessError::io("ports", "bind 127.0.0.1:0", e))?;
        let port = listener.local_addr().map_err(|e| HarnessError::io("ports", "read bound port", e))?.port();
        drop(listener);
        let mut issued = ISSUED.lock().unwrap_or_else(|p| p.into_inner());
        if issued.insert(port) {
            return Ok(port);
        }
    }
    Err(HarnessError::Unsupported {
        server: "ports",
        detail: "could not find an unused loopback port in 200 attempts".into(),
    })
}

/// Returns `N` distinct ports from [`free_port`].
pub fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let mut ports = [0u16; N];
    for port in &mut ports {
        *port = free_port()?;
    }
    Ok(ports)
}

/// True when a server's log says it could not bind its listening socket, i.e.
/// the start should be retried with other ports.
pub fn log_shows_port_clash(log: &str) -> bool {
    log.contains("Address already in use") || log.contains("EADDRINUSE")
}

/// Connects to `127.0.0.1:port`, optionally sends `send`, and returns the first
/// line the server writes (without the line ending). Used as a readiness probe.
pub fn probe_line(port: u16, send: Option<&[u8]>, timeout: Duration) -> std::result::Result<String, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    if let Some(bytes) = send {
        stream.write_all(bytes).map_err(|e| format!("write to {addr}: {e}"))?;
    }
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).map_err(|e| format!("read from {addr}: {e}"))?;
    if line.is_empty() {
        return Err(format!("{addr} closed the connection without a greeting"));
    }
    Ok(line.trim_end().to_string())
}

/// Checks that something accepts TCP connections on `127.0.0.1:port`.
pub fn probe_connect(port: u16, timeout: Duration) -> std::result::Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, timeout).map(drop).map_err(|e| format!("connect {addr}: {e}"))
}
