//! A line-oriented connection (plain TCP or TLS) shared by the small protocol
//! clients of the harness (IMAP, POP3, SMTP, LMTP). Every operation has a
//! timeout so a misbehaving server fails a test instead of hanging it.
//!
//! The socket is crmsync's own [`Stream`] (from the protocols crate's
//! transport); the line reading, errors and timeouts above it are the
//! harness's, so a test client does not share crmsync's parsing or limits.

use std::sync::Arc;
use std::time::Duration;

pub use crmsync_protocols::transport::Stream;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::error::{HarnessError, Result};
use crate::tls::handshake;

/// Timeout for every single network operation of the protocol clients.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A buffered connection speaking a CRLF line protocol.
#[derive(Debug)]
pub struct Conn {
    reader: BufReader<Stream>,
    server: &'static str,
}

impl Conn {
    /// Connects over plain TCP.
    pub async fn connect(server: &'static str, host: &str, port: u16) -> Result<Conn> {
        let tcp = timed(server, format!("connect {host}:{port}"), TcpStream::connect((host, port)))
            .await?
            .map_err(|e| HarnessError::io(server, format!("connect {host}:{port}"), e))?;
        Ok(Conn { reader: BufReader::new(Stream::Plain(tcp)), server })
    }

    /// Connects and performs a TLS handshake at once (implicit TLS).
    pub async fn connect_tls(
        server: &'static str,
        host: &str,
        port: u16,
        server_name: &str,
        config: Arc<rustls::ClientConfig>,
    ) -> Result<Conn> {
        let conn = Conn::connect(server, host, port).await?;
        conn.upgrade_tls(server_name, config).await
    }

    /// Upgrades a plain connection to TLS (after STARTTLS/STLS was accepted).
    pub async fn upgrade_tls(self, server_name: &str, config: Arc<rustls::ClientConfig>) -> Result<Conn> {
        let server = self.server;
        if !self.reader.buffer().is_empty() {
            return Err(HarnessError::protocol(
                server,
                "TLS upgrade",
                "server sent data before the handshake",
            ));
        }
        match self.reader.into_inner() {
            Stream::Plain(tcp) => {
                let tls =
                    timed(server, "TLS handshake", handshake(server, tcp, server_name, config)).await??;
                Ok(Conn { reader: BufReader::new(Stream::Tls(Box::new(tls))), server })
            }
            Stream::Tls(_) => {
                Err(HarnessError::protocol(server, "TLS upgrade", "connection already uses TLS"))
            }
        }
    }

    /// True when the connection is protected by TLS.
    pub fn is_tls(&self) -> bool {
        self.reader.get_ref().is_tls()
    }

    /// Reads one line including its line ending; fails on end of stream.
    pub async fn read_line(&mut self) -> Result<Vec<u8>> {
        let mut line = Vec::new();
        let server = self.server;
        let n = timed(server, "read a line", self.reader.read_until(b'\n', &mut line))
            .await?
            .map_err(|e| HarnessError::io(server, "read a line", e))?;
        if n == 0 {
            return Err(HarnessError::protocol(server, "read a line", "connection closed by server"));
        }
        Ok(line)
    }

    /// Reads one line as (lossy) text without its line ending.
    pub async fn read_text_line(&mut self) -> Result<String> {
        let line = self.read_line().await?;
        Ok(String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string())
    }

    /// Reads exactly `n` bytes.
    pub async fn read_exact(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0; n];
        let server = self.server;
        timed(server, format!("read {n} bytes"), self.reader.read_exact(&mut buf))
            .await?
            .map_err(|e| HarnessError::io(server, format!("read {n} bytes"), e))?;
        Ok(buf)
    }

    /// Writes all of `bytes` and flushes.
    pub async fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let server = self.server;
        let stream = self.reader.get_mut();
        timed(server, "write", async {
            stream.write_all(bytes).await?;
            stream.flush().await
        })
        .await?
        .map_err(|e| HarnessError::io(server, "write", e))
    }

    /// Shuts the connection down (TLS close_notify, then FIN).
    pub async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.reader.get_mut().shutdown()).await;
    }
}

/// Runs `fut` with [`IO_TIMEOUT`].
async fn timed<F: std::future::Future>(
    server: &'static str,
    what: impl Into<String>,
    fut: F,
) -> Result<F::Output> {
    tokio::time::timeout(IO_TIMEOUT, fut).await.map_err(|_| HarnessError::Timeout {
        server,
        what: what.into(),
        timeout: IO_TIMEOUT,
    })
}

/// Converts bare LF line endings to CRLF and makes sure the text ends with CRLF.
pub fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40 + 2);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// SMTP/LMTP DATA encoding: CRLF line endings, leading dots doubled, and the
/// terminating `.` line.
pub fn dot_stuff(raw: &[u8]) -> Vec<u8> {
    let crlf = to_crlf(raw);
    let mut out = Vec::with_capacity(crlf.len() + 16);
    let mut at_line_start = true;
    for &b in &crlf {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    out.extend_from_slice(b".\r\n");
    out
}
