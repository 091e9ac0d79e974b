//! Getting a byte stream to a server: name resolution, TCP connect with a
//! deadline (DNS failures, refusals and timeouts told apart), TLS (implicit or
//! as an upgrade after STARTTLS/STLS), and a small buffered line reader used
//! for POP3 and for the IMAP exchange before login.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::error::{ProtocolError, Result};
use crate::peer::Peer;

/// A connection to a server, plaintext or TLS, so STARTTLS/STLS can upgrade in place.
/// The test harness's own protocol clients (`tests/src/wire.rs`) use it too.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (boxed: the TLS state is large).
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// True when the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// True when a resolver error is temporary (EAI_AGAIN) rather than an unknown name.
pub(crate) fn is_temporary_dns_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("temporary failure") || m.contains("try again") || m.contains("timed out")
}

/// Resolves and connects to `peer` over TCP, all before `deadline`.
pub(crate) async fn connect_tcp(peer: &Peer, deadline: Instant, secs: u64) -> Result<TcpStream> {
    let connect_timeout = || ProtocolError::ConnectTimeout {
        proto: peer.proto,
        host: peer.host.clone(),
        port: peer.port,
        secs,
    };
    let addrs: Vec<SocketAddr> =
        match timeout_at(deadline, tokio::net::lookup_host((peer.host.as_str(), peer.port))).await {
            Err(_) => return Err(connect_timeout()),
            Ok(Err(e)) => {
                let detail = e.to_string();
                return Err(ProtocolError::DnsFailed {
                    proto: peer.proto,
                    host: peer.host.clone(),
                    temporary: is_temporary_dns_error(&detail),
                    detail,
                });
            }
            Ok(Ok(addrs)) => addrs.collect(),
        };
    if addrs.is_empty() {
        return Err(ProtocolError::DnsFailed {
            proto: peer.proto,
            host: peer.host.clone(),
            temporary: false,
            detail: "the name has no addresses".into(),
        });
    }
    let mut refused = false;
    let mut other: Option<io::Error> = None;
    for addr in addrs {
        match timeout_at(deadline, TcpStream::connect(addr)).await {
            Err(_) => return Err(connect_timeout()),
            Ok(Ok(tcp)) => {
                let _ = tcp.set_nodelay(true);
                tracing::debug!(%addr, "TCP connected");
                return Ok(tcp);
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => refused = true,
            Ok(Err(e)) => {
                tracing::debug!(%addr, error = %e, "TCP connect failed");
                other = Some(e);
            }
        }
    }
    match (refused, other) {
        (true, _) | (false, None) => Err(ProtocolError::ConnectionRefused {
            proto: peer.proto,
            host: peer.host.clone(),
            port: peer.port,
        }),
        (false, Some(e)) => Err(ProtocolError::ConnectFailed {
            proto: peer.proto,
            host: peer.host.clone(),
            port: peer.port,
            detail: e.to_string(),
        }),
    }
}

/// Maps a failed TLS handshake to a certificate error, another TLS error or a lost connection.
fn handshake_error(peer: &Peer, e: io::Error) -> ProtocolError {
    let rustls_error = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(cert)) => ProtocolError::TlsCertInvalid {
            proto: peer.proto,
            host: peer.host.clone(),
            port: peer.port,
            detail: format!("{cert:?}"),
        },
        Some(other) => ProtocolError::TlsFailed {
            proto: peer.proto,
            host: peer.host.clone(),
            port: peer.port,
            detail: other.to_string(),
        },
        None if e.kind() == io::ErrorKind::InvalidData => ProtocolError::TlsFailed {
            proto: peer.proto,
            host: peer.host.clone(),
            port: peer.port,
            detail: e.to_string(),
        },
        None => peer.lost(format!("during the TLS handshake: {e}")),
    }
}

/// Runs the TLS handshake over `tcp`, verifying the certificate against `config`'s roots
/// and the peer's host name, before `deadline`.
pub(crate) async fn tls_handshake(
    peer: &Peer,
    tcp: TcpStream,
    config: Arc<ClientConfig>,
    deadline: Instant,
    secs: u64,
) -> Result<Stream> {
    let name = ServerName::try_from(peer.host.clone())
        .map_err(|e| peer.invalid(format!("host {:?} is not a valid TLS server name: {e}", peer.host)))?;
    let connector = TlsConnector::from(config);
    match timeout_at(deadline, connector.connect(name, tcp)).await {
        Err(_) => Err(ProtocolError::ConnectTimeout {
            proto: peer.proto,
            host: peer.host.clone(),
            port: peer.port,
            secs,
        }),
        Ok(Err(e)) => Err(handshake_error(peer, e)),
        Ok(Ok(tls)) => {
            tracing::debug!("TLS established");
            Ok(Stream::Tls(Box::new(tls)))
        }
    }
}

/// Longest line accepted from a server, so a broken peer cannot exhaust memory.
pub(crate) const MAX_LINE: usize = 1 << 20;

/// A buffered, line-oriented view of a [`Stream`] for text protocols.
#[derive(Debug)]
pub(crate) struct LineStream {
    stream: Stream,
    buf: Vec<u8>,
    start: usize,
}

impl LineStream {
    pub fn new(stream: Stream) -> LineStream {
        LineStream { stream, buf: Vec::with_capacity(8192), start: 0 }
    }

    pub fn is_tls(&self) -> bool {
        self.stream.is_tls()
    }

    /// Reads one line including its CRLF/LF terminator; `None` at EOF before any byte.
    pub async fn read_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        if self.read_line_into(&mut line).await? { Ok(Some(line)) } else { Ok(None) }
    }

    /// Appends one line including its terminator to `out`; false at EOF before any byte.
    pub async fn read_line_into(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        let mut taken = 0usize;
        loop {
            let pending = &self.buf[self.start..];
            if let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                out.extend_from_slice(&pending[..=pos]);
                self.start += pos + 1;
                return Ok(true);
            }
            taken += pending.len();
            if taken > MAX_LINE {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line longer than 1 MiB"));
            }
            out.extend_from_slice(pending);
            self.buf.clear();
            self.start = 0;
            self.buf.resize(8192, 0);
            let n = self.stream.read(&mut self.buf).await?;
            self.buf.truncate(n);
            if n == 0 {
                if taken == 0 {
                    return Ok(false);
                }
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-line"));
            }
        }
    }

    /// Writes and flushes `data`.
    pub async fn send(&mut self, data: &[u8]) -> io::Result<()> {
        self.stream.write_all(data).await?;
        self.stream.flush().await
    }

    /// Gives the stream back, e.g. for a TLS upgrade. Fails if the server sent bytes
    /// that were not read yet (after STARTTLS that would be an injection attempt).
    pub fn into_inner(self) -> std::result::Result<Stream, &'static str> {
        if self.start < self.buf.len() {
            return Err("the server sent unexpected data before the TLS handshake");
        }
        Ok(self.stream)
    }

    /// Closes the connection, ignoring errors.
    pub async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }
}

/// Deadline `timeout` from now.
pub(crate) fn deadline(timeout: Duration) -> Instant {
    Instant::now() + timeout
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_dns_errors_are_recognised() {
        assert!(is_temporary_dns_error(
            "failed to lookup address information: Temporary failure in name resolution"
        ));
        assert!(!is_temporary_dns_error("failed to lookup address information: Name or service not known"));
    }

    #[tokio::test]
    async fn refused_and_dns_failures_are_told_apart() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let peer = Peer::new(crate::Proto::Imap, "127.0.0.1", port);
        let e = connect_tcp(&peer, deadline(Duration::from_secs(5)), 5).await.unwrap_err();
        assert_eq!(e.code(), "CONNECTION_REFUSED");
        assert!(e.is_transient());

        let peer = Peer::new(crate::Proto::Imap, "no-such-host.invalid", 993);
        let e = connect_tcp(&peer, deadline(Duration::from_secs(10)), 10).await.unwrap_err();
        assert_eq!(e.code(), "DNS_FAILED", "{e}");
    }

    #[tokio::test]
    async fn line_stream_splits_lines_and_keeps_terminators() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"+OK hi\r\nsecond\nthird-no-eol").await.unwrap();
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut lines = LineStream::new(Stream::Plain(tcp));
        assert_eq!(lines.read_line().await.unwrap().unwrap(), b"+OK hi\r\n");
        assert_eq!(lines.read_line().await.unwrap().unwrap(), b"second\n");
        server.await.unwrap();
        assert!(lines.read_line().await.is_err());
    }
}
