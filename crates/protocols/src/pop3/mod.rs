//! A POP3 client (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595) and SASL
//! PLAIN (RFC 5034), on tokio. The session is this module; `connect` opens
//! it, `exec` runs one exchange under its clock, and [`wire`] holds the
//! pure parsing and encoding.
//!
//! POP3 deletes are deferred: [`Pop3Client::dele`] only marks a message, and
//! the server removes marked messages when the session ends with
//! [`Pop3Client::quit`]. A session that is dropped or breaks before QUIT
//! deletes nothing.

mod connect;
mod exec;
pub mod wire;

pub use wire::Pop3Capabilities;

use std::time::Duration;

use tracing::Instrument as _;

use crate::error::{Proto, ProtocolError, Result};
use crate::limits::{COMMAND_BUDGET, MIN_RATE};
use crate::peer::Peer;
use crate::settings::Pop3Settings;
use crate::transport::LineStream;
use exec::{MAX_CAPA, Op, exchange, expect_ok, read_multiline};
use wire::Reply;

/// Size of a maildrop as reported by `STAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaildropStat {
    /// Number of messages (not counting ones marked deleted).
    pub messages: u32,
    /// Total size in octets.
    pub octets: u64,
}

/// An authenticated POP3 session (TRANSACTION state).
#[derive(Debug)]
pub struct Pop3Client {
    lines: LineStream,
    peer: Peer,
    timeout: Duration,
    caps: Pop3Capabilities,
    /// Set once the connection is in an unknown state (timeout, I/O error).
    broken: bool,
    span: tracing::Span,
    /// The clock of the operation under way.
    clock: Op,
    op_deadline: Duration,
    max_message_bytes: u64,
}

impl Pop3Client {
    /// Connects (implicit TLS, STLS or plain per `settings.security`), reads the
    /// greeting, asks for CAPA and logs in: with `settings.bearer`, SASL
    /// OAUTHBEARER or XOAUTH2; with `settings.authzid`, SASL PLAIN on behalf of
    /// that user; else SASL PLAIN when CAPA lists it, else
    /// SASL LOGIN when listed, else USER/PASS. A plaintext connection without `allow_insecure` fails with
    /// `PLAINTEXT_REFUSED` before any connection is made.
    pub async fn connect(settings: &Pop3Settings) -> Result<Pop3Client> {
        let span = tracing::info_span!(
            "pop3",
            host = %settings.host,
            port = settings.port,
            mailbox = %settings.username,
        );
        Self::connect_inner(settings, span.clone()).instrument(span).await
    }

    /// Connects (implicit TLS, STLS or plain per `settings.security`), reads the
    /// greeting and CAPA and says QUIT without logging in: checks that the
    /// server answers and its certificate is trusted. The user name and
    /// password in `settings` are not used.
    pub async fn probe(settings: &Pop3Settings) -> Result<Pop3Capabilities> {
        let span = tracing::info_span!("pop3", host = %settings.host, port = settings.port);
        async {
            let peer = Peer::new(Proto::Pop3, &settings.host, settings.port);
            let op = Op::start(settings.timeout, settings.op_deadline);
            let (mut lines, caps) = connect::secure(settings, &peer, op).await?;
            // A polite goodbye; the check already passed, so its failure does not matter.
            let _ = exchange(&mut lines, &peer, op, Some(b"QUIT\r\n"), "QUIT").await;
            Ok(caps)
        }
        .instrument(span)
        .await
    }

    async fn connect_inner(settings: &Pop3Settings, span: tracing::Span) -> Result<Pop3Client> {
        let peer = Peer::new(Proto::Pop3, &settings.host, settings.port);
        if !wire::is_safe_argument(&settings.username) || settings.username.is_empty() {
            return Err(peer.invalid("the user name is empty or contains line breaks"));
        }
        // Connect and login share one total deadline.
        let op = Op::start(settings.timeout, settings.op_deadline);
        let (mut lines, caps) = connect::secure(settings, &peer, op).await?;
        let login =
            connect::Login { lines: &mut lines, peer: &peer, op, user: &settings.username, caps: &caps };
        match (&settings.bearer, &settings.authzid) {
            (Some(token), _) => login.run_bearer(token.expose()).await?,
            (None, Some(authzid)) => login.run_on_behalf(authzid, settings.password.expose()).await?,
            (None, None) => login.run(settings.password.expose()).await?,
        }
        let client = Pop3Client {
            lines,
            peer,
            timeout: settings.timeout,
            caps,
            broken: false,
            span,
            clock: op,
            op_deadline: settings.op_deadline,
            max_message_bytes: settings.max_message_bytes,
        };
        tracing::info!(tls = client.lines.is_tls(), "POP3 login succeeded");
        Ok(client)
    }

    /// One exchange; marks the session broken on timeouts and I/O errors.
    async fn raw_exchange(&mut self, line: Option<&[u8]>, label: &str) -> Result<Reply> {
        if self.broken {
            return Err(self.peer.lost("an earlier command failed; reconnect"));
        }
        let result = exchange(&mut self.lines, &self.peer, self.clock, line, label).await;
        if let Err(e) = &result
            && matches!(e, ProtocolError::Timeout { .. } | ProtocolError::ConnectionLost { .. })
        {
            self.broken = true;
        }
        result
    }

    async fn simple(&mut self, command: &str, label: &str) -> Result<String> {
        let line = format!("{command}\r\n");
        let reply = self.raw_exchange(Some(line.as_bytes()), label).await?;
        expect_ok(&self.peer, label, reply)
    }

    /// Starts an operation with the operation deadline plus `extra`.
    fn begin(&mut self, extra: Duration) {
        self.clock = Op::start(self.timeout, self.op_deadline.saturating_add(extra));
    }

    async fn simple_op(&mut self, command: &str, label: &str) -> Result<String> {
        self.begin(Duration::ZERO);
        self.simple(command, label).await
    }

    /// A command with a multi-line answer of at most `max` bytes, as one operation.
    async fn multiline(&mut self, command: &str, label: &str, max: u64) -> Result<Vec<u8>> {
        self.simple(command, label).await?;
        let result = read_multiline(&mut self.lines, &self.peer, self.clock, label, max).await;
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    /// True once the session is in an unknown state (a timeout, an I/O error,
    /// an answer cut off at a limit): every later command fails; reconnect.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The capabilities the server announced (after STLS, the post-TLS set).
    pub fn capabilities(&self) -> &Pop3Capabilities {
        &self.caps
    }

    /// Asks the server for its capabilities again (`CAPA`); they may differ after login.
    pub async fn capa(&mut self) -> Result<Pop3Capabilities> {
        let span = tracing::debug_span!(parent: &self.span, "capa");
        async {
            self.begin(Duration::ZERO);
            let body = self.multiline("CAPA", "CAPA", MAX_CAPA).await?;
            self.caps = wire::parse_capa(body.split_inclusive(|&b| b == b'\n'));
            Ok(self.caps.clone())
        }
        .instrument(span)
        .await
    }

    /// Number and total size of the messages (`STAT`).
    pub async fn stat(&mut self) -> Result<MaildropStat> {
        let span = tracing::debug_span!(parent: &self.span, "stat");
        async {
            let text = self.simple_op("STAT", "STAT").await?;
            let (messages, octets) =
                wire::parse_stat(&text).ok_or_else(|| self.peer.protocol(format!("STAT: {text:?}")))?;
            Ok(MaildropStat { messages, octets })
        }
        .instrument(span)
        .await
    }

    /// Message numbers with their unique ids (`UIDL`), in server order. The UIDL
    /// is the idempotency key: it survives sessions, message numbers do not.
    pub async fn uidl(&mut self) -> Result<Vec<(u32, String)>> {
        let span = tracing::debug_span!(parent: &self.span, "uidl");
        async {
            self.begin(Duration::ZERO);
            let body = self.multiline("UIDL", "UIDL", COMMAND_BUDGET).await?;
            let mut out = Vec::new();
            for line in body.split_inclusive(|&b| b == b'\n') {
                let entry = wire::parse_uidl_line(line).ok_or_else(|| {
                    self.peer.protocol(format!("UIDL line {:?}", String::from_utf8_lossy(line)))
                })?;
                out.push(entry);
            }
            Ok(out)
        }
        .instrument(span)
        .await
    }

    /// Message numbers with their sizes in octets (`LIST`).
    pub async fn list(&mut self) -> Result<Vec<(u32, u64)>> {
        let span = tracing::debug_span!(parent: &self.span, "list");
        async {
            self.begin(Duration::ZERO);
            let body = self.multiline("LIST", "LIST", COMMAND_BUDGET).await?;
            body.split_inclusive(|&b| b == b'\n')
                .map(|line| {
                    wire::parse_list_line(line).ok_or_else(|| {
                        self.peer.protocol(format!("LIST line {:?}", String::from_utf8_lossy(line)))
                    })
                })
                .collect()
        }
        .instrument(span)
        .await
    }

    /// The whole message `msg_no` (`RETR`), dot-unstuffed, as the exact bytes the
    /// server holds (CRLF line ends, 8-bit content untouched). A missing message
    /// is `MESSAGE_UNAVAILABLE` (an item error). Its size is asked first
    /// (`LIST n`): a message over the size limit is `MESSAGE_TOO_LARGE` (an item
    /// error) and is not downloaded; the session goes on. A server that sends
    /// more than it announced is cut off at the limit (also `MESSAGE_TOO_LARGE`,
    /// the session is then broken).
    pub async fn retr(&mut self, msg_no: u32) -> Result<Vec<u8>> {
        let span = tracing::debug_span!(parent: &self.span, "retr", uid = msg_no);
        async {
            let unavailable = |peer: &Peer, detail: String| ProtocolError::MessageUnavailable {
                proto: Proto::Pop3,
                host: peer.host.clone(),
                port: peer.port,
                id: msg_no.to_string(),
                detail,
            };
            let too_large = |peer: &Peer, size: u64, limit: u64| ProtocolError::MessageTooLarge {
                proto: Proto::Pop3,
                host: peer.host.clone(),
                port: peer.port,
                id: msg_no.to_string(),
                size,
                limit_mb: limit.div_ceil(1 << 20),
            };
            let limit = self.max_message_bytes;
            let size = match self.simple_op(&format!("LIST {msg_no}"), "LIST").await {
                Err(ProtocolError::CommandFailed { detail, .. }) => {
                    return Err(unavailable(&self.peer, detail));
                }
                Err(e) => return Err(e),
                Ok(text) => wire::parse_stat(&text).map(|(_, size)| size),
            };
            if let Some(size) = size
                && size > limit
            {
                tracing::warn!(size, limit, "message over the size limit is not downloaded");
                return Err(too_large(&self.peer, size, limit));
            }
            self.begin(Duration::from_secs(size.unwrap_or(limit) / MIN_RATE));
            // Room for servers that count a message's size a little differently.
            let max = limit.saturating_add(limit / 2).saturating_add(64 << 10);
            match self.multiline(&format!("RETR {msg_no}"), "RETR", max).await {
                Err(ProtocolError::CommandFailed { detail, .. }) => Err(unavailable(&self.peer, detail)),
                Err(ProtocolError::ResponseTooLarge { .. }) => Err(too_large(&self.peer, max, limit)),
                other => other,
            }
        }
        .instrument(span)
        .await
    }

    /// Marks message `msg_no` for deletion. Nothing is removed until [`Pop3Client::quit`];
    /// the marked message no longer appears in STAT, LIST or UIDL of this session.
    pub async fn dele(&mut self, msg_no: u32) -> Result<()> {
        let span = tracing::debug_span!(parent: &self.span, "dele", uid = msg_no);
        async { self.simple_op(&format!("DELE {msg_no}"), "DELE").await.map(drop) }.instrument(span).await
    }

    /// Unmarks every message marked for deletion in this session (`RSET`).
    pub async fn rset(&mut self) -> Result<()> {
        self.simple_op("RSET", "RSET").await.map(drop)
    }

    /// Keeps the session alive (`NOOP`).
    pub async fn noop(&mut self) -> Result<()> {
        self.simple_op("NOOP", "NOOP").await.map(drop)
    }

    /// Ends the session (`QUIT`): the server now removes the messages marked with
    /// [`Pop3Client::dele`]. Only an `+OK` reply means they are gone.
    pub async fn quit(mut self) -> Result<()> {
        let span = tracing::debug_span!(parent: &self.span, "quit");
        async {
            self.simple_op("QUIT", "QUIT").await?;
            self.lines.shutdown().await;
            Ok(())
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::ServerSettings;
    use crmsync_core::model::Security;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// A scripted peer for the one path Dovecot cannot show: a server without
    /// SASL, where USER/PASS is the only login.
    async fn scripted(script: &'static [(&'static str, &'static str)]) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut read = BufReader::new(read);
            write.write_all(b"+OK scripted\r\n").await.unwrap();
            for (expect, answer) in script {
                let mut line = String::new();
                read.read_line(&mut line).await.unwrap();
                assert_eq!(line, format!("{expect}\r\n"));
                write.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        port
    }

    fn plain_settings(port: u16) -> ServerSettings {
        let mut s = ServerSettings::new("127.0.0.1", port, Security::None, "anna", "pw");
        s.allow_insecure = true;
        s.timeout = Duration::from_secs(5);
        s
    }

    #[tokio::test]
    async fn user_pass_without_sasl() {
        let port = scripted(&[
            ("CAPA", "+OK\r\nUSER\r\nUIDL\r\n.\r\n"),
            ("USER anna", "+OK\r\n"),
            ("PASS pw", "+OK logged in\r\n"),
            ("STAT", "+OK 1 12\r\n"),
            ("LIST 1", "+OK 1 12\r\n"),
            ("RETR 1", "+OK\r\n..a\r\nb\r\n.\r\n"),
            ("QUIT", "+OK bye\r\n"),
        ])
        .await;
        let mut pop = Pop3Client::connect(&plain_settings(port)).await.unwrap();
        assert_eq!(pop.stat().await.unwrap(), MaildropStat { messages: 1, octets: 12 });
        assert_eq!(pop.retr(1).await.unwrap(), b".a\r\nb\r\n");
        pop.quit().await.unwrap();
    }

    #[tokio::test]
    async fn login_error_codes_map_to_classes() {
        let port = scripted(&[
            ("CAPA", "-ERR no CAPA here\r\n"),
            ("USER anna", "+OK\r\n"),
            ("PASS pw", "-ERR [IN-USE] maildrop locked\r\n"),
        ])
        .await;
        let e = Pop3Client::connect(&plain_settings(port)).await.unwrap_err();
        assert_eq!(e.code(), "POP3_MAILBOX_IN_USE", "{e}");
        assert_eq!(e.class(), crmsync_core::ErrorClass::Transient);

        let port =
            scripted(&[("CAPA", "+OK\r\nUSER\r\n.\r\n"), ("USER anna", "-ERR [SYS/TEMP] try later\r\n")])
                .await;
        let e = Pop3Client::connect(&plain_settings(port)).await.unwrap_err();
        assert_eq!(e.code(), "SERVER_BUSY", "{e}");
        assert!(e.is_transient());
    }
}
