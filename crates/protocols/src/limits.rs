//! Bounds on what a server may make the client read: a reader that sits under
//! async-imap and refuses, before anything is buffered, a literal announced
//! larger than the limit, a line without end, or more bytes for one command
//! than that command may need. async-imap buffers a whole response (a literal
//! included) and only stops at 512 MiB, so the bound has to be below it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::error::ProtocolError;
use crate::peer::Peer;
use crate::transport::{MAX_LINE, Stream};

/// Bytes a response to a command other than a message fetch may take (a UID
/// SEARCH of a folder with a million messages is about 8 MB).
pub(crate) const COMMAND_BUDGET: u64 = 32 << 20;

/// Slowest transfer rate a message download may have before the total
/// deadline ends it: the deadline grows by the size at this rate.
pub(crate) const MIN_RATE: u64 = 64 << 10;

/// What the guard refused: carried inside an `io::Error` up to the client, which
/// maps it to `RESPONSE_TOO_LARGE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LimitExceeded {
    /// What was too large, in words.
    pub what: String,
    /// The limit in bytes.
    pub limit: u64,
}

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (limit {} bytes)", self.what, self.limit)
    }
}

impl std::error::Error for LimitExceeded {}

impl LimitExceeded {
    /// The limit rounded up to whole MB, for messages.
    pub fn limit_mb(&self) -> u64 {
        self.limit.div_ceil(1 << 20).max(1)
    }

    /// `RESPONSE_TOO_LARGE` from `peer`: it sent more for `what` than this limit allows.
    pub fn error(&self, peer: &Peer, what: impl std::fmt::Display) -> ProtocolError {
        ProtocolError::ResponseTooLarge {
            proto: peer.proto,
            host: peer.host.clone(),
            port: peer.port,
            what: format!("{what}: {}", self.what),
            limit_mb: self.limit_mb(),
        }
    }
}

/// Finds a [`LimitExceeded`] inside an I/O error.
pub(crate) fn limit_of(e: &io::Error) -> Option<&LimitExceeded> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<LimitExceeded>())
}

fn refuse(what: String, limit: u64) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, LimitExceeded { what, limit })
}

/// The limits of the current command, shared between the client and its reader.
#[derive(Debug)]
pub(crate) struct Limits {
    max_literal: AtomicU64,
    budget: AtomicU64,
    budget_limit: AtomicU64,
}

impl Limits {
    /// Limits with the largest literal accepted and the first command's budget.
    pub fn new(max_literal: u64) -> Arc<Limits> {
        Arc::new(Limits {
            max_literal: AtomicU64::new(max_literal),
            budget: AtomicU64::new(COMMAND_BUDGET),
            budget_limit: AtomicU64::new(COMMAND_BUDGET),
        })
    }

    /// Starts a command that may read at most `bytes`.
    pub fn arm(&self, bytes: u64) {
        self.budget.store(bytes, Ordering::Relaxed);
        self.budget_limit.store(bytes, Ordering::Relaxed);
    }

    /// The largest literal accepted.
    pub fn max_literal(&self) -> u64 {
        self.max_literal.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// In a line; `len` bytes since its start.
    Line { len: usize },
    /// Inside a literal; `left` bytes to go.
    Literal { left: u64 },
}

/// A [`Stream`] whose reads are checked against [`Limits`].
#[derive(Debug)]
pub(crate) struct Guarded {
    inner: Stream,
    limits: Arc<Limits>,
    scanner: Scanner,
}

impl Guarded {
    /// Wraps `inner`.
    pub fn new(inner: Stream, limits: Arc<Limits>) -> Guarded {
        Guarded { inner, limits, scanner: Scanner::default() }
    }

    /// Checks the bytes just read; an error refuses them.
    fn check(&mut self, data: &[u8]) -> io::Result<()> {
        let n = data.len() as u64;
        let left = self.limits.budget.load(Ordering::Relaxed);
        if n > left {
            let limit = self.limits.budget_limit.load(Ordering::Relaxed);
            return Err(refuse(format!("an answer of more than {limit} bytes"), limit));
        }
        self.limits.budget.store(left - n, Ordering::Relaxed);
        self.scanner.feed(data, self.limits.max_literal())
    }
}

/// Follows the server's bytes: lines, and literals announced at their ends.
#[derive(Debug)]
struct Scanner {
    scan: Scan,
    /// The last bytes of the current line, to see a `{N}` announcement at its end.
    tail: Vec<u8>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner { scan: Scan::Line { len: 0 }, tail: Vec::with_capacity(32) }
    }
}

impl Scanner {
    /// Takes the next bytes; refuses a line over [`MAX_LINE`] or a literal over `max_literal`.
    fn feed(&mut self, mut data: &[u8], max_literal: u64) -> io::Result<()> {
        while !data.is_empty() {
            match self.scan {
                Scan::Literal { left } => {
                    let take = (data.len() as u64).min(left);
                    data = &data[take as usize..];
                    self.scan = if take == left {
                        Scan::Line { len: 0 }
                    } else {
                        Scan::Literal { left: left - take }
                    };
                }
                Scan::Line { len } => {
                    let Some(pos) = data.iter().position(|&b| b == b'\n') else {
                        self.push_tail(data);
                        let len = len + data.len();
                        if len > MAX_LINE {
                            return Err(refuse(
                                format!("a line of more than {MAX_LINE} bytes"),
                                MAX_LINE as u64,
                            ));
                        }
                        self.scan = Scan::Line { len };
                        return Ok(());
                    };
                    self.push_tail(&data[..=pos]);
                    data = &data[pos + 1..];
                    self.scan = match literal_size(&self.tail) {
                        Some(size) => {
                            if size > max_literal {
                                return Err(refuse(format!("a literal of {size} bytes"), max_literal));
                            }
                            if size == 0 { Scan::Line { len: 0 } } else { Scan::Literal { left: size } }
                        }
                        None => Scan::Line { len: 0 },
                    };
                    self.tail.clear();
                }
            }
        }
        Ok(())
    }

    fn push_tail(&mut self, data: &[u8]) {
        const KEEP: usize = 32;
        let data = if data.len() > KEEP { &data[data.len() - KEEP..] } else { data };
        self.tail.extend_from_slice(data);
        if self.tail.len() > KEEP {
            let cut = self.tail.len() - KEEP;
            self.tail.drain(..cut);
        }
    }
}

/// The size of a literal announced at the end of a line (`... {123}\r\n`);
/// `u64::MAX` for a number too long to hold.
pub(crate) fn literal_size(line_end: &[u8]) -> Option<u64> {
    let line = line_end.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(std::str::from_utf8(digits).ok()?.parse::<u64>().unwrap_or(u64::MAX))
}

impl AsyncRead for Guarded {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let start = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if let Err(e) = this.check(&buf.filled()[start..]) {
                    buf.set_filled(start);
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The per-read timeout and the total deadline of one operation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    /// Longest wait for one read or step.
    pub per_read: Duration,
    /// When the whole operation must be done.
    pub deadline: Instant,
}

/// Which of the two limits of a [`Clock`] ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// One read waited longer than the per-read timeout.
    Read,
    /// The operation ran past its total deadline.
    Total,
}

impl Clock {
    /// An operation starting now that must end within `total`.
    pub fn start(per_read: Duration, total: Duration) -> Clock {
        Clock { per_read, deadline: Instant::now() + total }
    }

    /// Runs `fut` under the per-read timeout, cut at the total deadline.
    pub async fn run<T>(&self, fut: impl std::future::Future<Output = T>) -> Result<T, Expired> {
        let read_end = Instant::now() + self.per_read;
        let (end, which) = if read_end < self.deadline {
            (read_end, Expired::Read)
        } else {
            (self.deadline, Expired::Total)
        };
        tokio::time::timeout_at(end, fut).await.map_err(|_| which)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scanner_skips_literal_content_and_refuses_what_is_too_large() {
        let mut sc = Scanner::default();
        // A literal whose content looks like another announcement, split across reads.
        sc.feed(b"* 1 FETCH (UID 1 BODY[] {2", 100).unwrap();
        sc.feed(b"0}\r\n{99999}\r\n", 100).unwrap();
        sc.feed(b"123456)\r\n* 2 FETCH (UID 2 BODY[] {101}\r\n", 100).unwrap_err();
        let e = Scanner::default().feed(b"* 1 FETCH (BODY[] {4000000000}\r\n", 100).unwrap_err();
        assert_eq!(limit_of(&e).unwrap().what, "a literal of 4000000000 bytes");
        let mut sc = Scanner::default();
        let chunk = vec![b'a'; 64 << 10];
        let mut failed = false;
        for _ in 0..20 {
            if sc.feed(&chunk, 100).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "a line without end is refused after 1 MiB");
    }

    #[test]
    fn literal_announcements_are_found_at_the_end_of_a_line() {
        assert_eq!(literal_size(b"* 1 FETCH (UID 5 BODY[] {123}\r\n"), Some(123));
        assert_eq!(literal_size(b"{0}\r\n"), Some(0));
        assert_eq!(literal_size(b"BODY[] ~{7}\r\n"), Some(7));
        assert_eq!(literal_size(b"{99999999999999999999999}\r\n"), Some(u64::MAX));
        assert_eq!(literal_size(b"* OK {x}\r\n"), None);
        assert_eq!(literal_size(b"* OK done\r\n"), None);
        assert_eq!(literal_size(b"{12}"), None);
    }
}
