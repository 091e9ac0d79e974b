//! A POP3 client (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595) and SASL
//! PLAIN (RFC 5034), on tokio. The wire format lives in [`crate::pop3_wire`].
//!
//! POP3 deletes are deferred: [`Pop3Client::dele`] only marks a message, and
//! the server removes marked messages when the session ends with
//! [`Pop3Client::quit`]. A session that is dropped or breaks before QUIT
//! deletes nothing.

use std::time::Duration;

use tracing::Instrument as _;

use crate::error::{Peer, Proto, ProtocolError, Result};
use crate::limits::{COMMAND_BUDGET, Clock, Expired, LimitExceeded, MIN_RATE};
use crate::pop3_wire::{self, Pop3Capabilities, Reply, RespCode, Unstuffed};
use crate::settings::Pop3Settings;
use crate::transport::{self, LineStream, Stream};
use crmsync_core::model::Security;

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
    user: String,
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

/// CAPA answers longer than this are refused (a real one is a few hundred bytes).
const MAX_CAPA: u64 = 64 << 10;

/// The per-read timeout and total deadline of one operation, with the
/// deadline's length for its error message.
#[derive(Debug, Clone, Copy)]
struct Op {
    clock: Clock,
    total_secs: u64,
}

impl Op {
    fn start(timeout: Duration, total: Duration) -> Op {
        Op { clock: Clock::start(timeout, total), total_secs: total.as_secs() }
    }

    fn expired(&self, peer: &Peer, label: &str, which: Expired) -> ProtocolError {
        match which {
            Expired::Read => peer.timeout(label, self.clock.per_read.as_secs()),
            Expired::Total => peer.deadline(label, self.total_secs),
        }
    }
}

/// Sends one line and reads the status line, under the operation's clock.
async fn exchange(
    lines: &mut LineStream,
    peer: &Peer,
    op: Op,
    line: Option<&[u8]>,
    label: &str,
) -> Result<Reply> {
    let work = async {
        if let Some(line) = line {
            lines.send(line).await?;
        }
        lines.read_line().await
    };
    let got = match op.clock.run(work).await {
        Err(which) => return Err(op.expired(peer, label, which)),
        Ok(Err(e)) => return Err(peer.lost(e)),
        Ok(Ok(None)) => return Err(peer.lost(format!("server closed the connection after {label}"))),
        Ok(Ok(Some(got))) => got,
    };
    pop3_wire::parse_reply(&got).ok_or_else(|| {
        peer.protocol(format!(
            "{label}: unexpected reply {:?}",
            String::from_utf8_lossy(pop3_wire::trim_eol(&got))
        ))
    })
}

/// Reads the rest of a multi-line response, unstuffed, with the per-read
/// timeout per line, under the total deadline, and at most `max` bytes
/// (else `RESPONSE_TOO_LARGE`, the rest unread).
async fn read_multiline(
    lines: &mut LineStream,
    peer: &Peer,
    op: Op,
    label: &str,
    max: u64,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut line = Vec::with_capacity(256);
    let mut read = 0u64;
    loop {
        line.clear();
        match op.clock.run(lines.read_line_into(&mut line)).await {
            Err(which) => return Err(op.expired(peer, label, which)),
            Ok(Err(e)) => return Err(peer.lost(e)),
            Ok(Ok(false)) => return Err(peer.lost(format!("server closed the connection during {label}"))),
            Ok(Ok(true)) => {}
        }
        read += line.len() as u64;
        if read > max {
            let what = format!("an answer of more than {max} bytes");
            return Err(peer.too_large(label, &LimitExceeded { what, limit: max }));
        }
        match pop3_wire::unstuff(&line) {
            Unstuffed::End => return Ok(out),
            Unstuffed::Data(d) => out.extend_from_slice(d),
        }
    }
}

/// Maps an `-ERR` to an error, using the extended response code when there is one.
fn err_reply(peer: &Peer, command: &str, code: Option<RespCode>, text: String) -> ProtocolError {
    match code {
        Some(RespCode::SysTemp) | Some(RespCode::LoginDelay) => peer.busy(text),
        _ => peer.command_failed(command, text),
    }
}

fn expect_ok(peer: &Peer, command: &str, reply: Reply) -> Result<String> {
    match reply {
        Reply::Ok(text) => Ok(text),
        Reply::Err { code, text } => Err(err_reply(peer, command, code, text)),
        Reply::Continue(_) => Err(peer.protocol(format!("{command}: unexpected continuation"))),
    }
}

/// Asks for CAPA; a server without CAPA (plain RFC 1939) gives empty capabilities.
async fn fetch_capa(lines: &mut LineStream, peer: &Peer, op: Op) -> Result<Pop3Capabilities> {
    match exchange(lines, peer, op, Some(b"CAPA\r\n"), "CAPA").await? {
        Reply::Ok(_) => {
            let body = read_multiline(lines, peer, op, "CAPA", MAX_CAPA).await?;
            Ok(pop3_wire::parse_capa(body.split_inclusive(|&b| b == b'\n')))
        }
        _ => Ok(Pop3Capabilities::default()),
    }
}

impl Pop3Client {
    /// Connects (implicit TLS, STLS or plain per `settings.security`), reads the
    /// greeting, asks for CAPA and logs in: SASL PLAIN when CAPA lists it, else
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
            let (mut lines, caps) = Self::secure(settings, &peer, op).await?;
            // A polite goodbye; the check already passed, so its failure does not matter.
            let _ = exchange(&mut lines, &peer, op, Some(b"QUIT\r\n"), "QUIT").await;
            Ok(caps)
        }
        .instrument(span)
        .await
    }

    async fn connect_inner(settings: &Pop3Settings, span: tracing::Span) -> Result<Pop3Client> {
        let peer = Peer::new(Proto::Pop3, &settings.host, settings.port);
        if !pop3_wire::is_safe_argument(&settings.username) || settings.username.is_empty() {
            return Err(peer.invalid("the user name is empty or contains line breaks"));
        }
        // Connect and login share one total deadline.
        let op = Op::start(settings.timeout, settings.op_deadline);
        let (lines, caps) = Self::secure(settings, &peer, op).await?;
        let mut client = Pop3Client {
            lines,
            peer,
            user: settings.username.clone(),
            timeout: settings.timeout,
            caps,
            broken: false,
            span,
            clock: op,
            op_deadline: settings.op_deadline,
            max_message_bytes: settings.max_message_bytes,
        };
        client.authenticate(settings.password.expose()).await?;
        tracing::info!(tls = client.lines.is_tls(), "POP3 login succeeded");
        Ok(client)
    }

    /// Connects and secures the connection, reading the greeting and CAPA; stops before login.
    async fn secure(settings: &Pop3Settings, peer: &Peer, op: Op) -> Result<(LineStream, Pop3Capabilities)> {
        let peer = peer.clone();
        if settings.security == Security::None && !settings.allow_insecure {
            return Err(peer.plaintext_refused());
        }
        let secs = settings.timeout.as_secs();
        let deadline = transport::deadline(settings.timeout);
        let tls_config = match settings.security {
            Security::None => None,
            _ => Some(crate::tls::client_config(&settings.extra_roots).map_err(|e| peer.invalid(e))?),
        };
        let tcp = transport::connect_tcp(&peer, deadline, secs).await?;
        let stream = match (&settings.security, &tls_config) {
            (Security::Tls, Some(config)) => {
                transport::tls_handshake(&peer, tcp, config.clone(), deadline, secs).await?
            }
            _ => Stream::Plain(tcp),
        };
        let mut lines = LineStream::new(stream);
        match exchange(&mut lines, &peer, op, None, "the greeting").await? {
            Reply::Ok(greeting) => tracing::debug!(%greeting, "POP3 greeting"),
            Reply::Err { code, text } => return Err(err_reply(&peer, "the connection", code, text)),
            Reply::Continue(_) => return Err(peer.protocol("greeting is a continuation")),
        }
        let mut caps = fetch_capa(&mut lines, &peer, op).await?;

        if settings.security == Security::Starttls {
            if !caps.stls {
                return Err(peer.starttls_unavailable());
            }
            let reply = exchange(&mut lines, &peer, op, Some(b"STLS\r\n"), "STLS").await?;
            expect_ok(&peer, "STLS", reply)?;
            let Stream::Plain(tcp) = lines.into_inner().map_err(|e| peer.protocol(e))? else {
                return Err(peer.protocol("STLS on a connection that is already TLS"));
            };
            let config = tls_config.clone().expect("TLS config exists for STARTTLS");
            let tls =
                transport::tls_handshake(&peer, tcp, config, transport::deadline(settings.timeout), secs)
                    .await?;
            lines = LineStream::new(tls);
            // RFC 2595: capabilities learnt before TLS must be discarded.
            caps = fetch_capa(&mut lines, &peer, op).await?;
        }
        if !lines.is_tls() && !settings.allow_insecure {
            return Err(peer.plaintext_refused());
        }
        Ok((lines, caps))
    }

    fn auth_error(&self, code: Option<RespCode>, text: String) -> ProtocolError {
        match code {
            Some(RespCode::InUse) => ProtocolError::MailboxInUse {
                proto: Proto::Pop3,
                host: self.peer.host.clone(),
                port: self.peer.port,
                user: self.user.clone(),
                detail: text,
            },
            Some(RespCode::SysTemp) | Some(RespCode::LoginDelay) => self.peer.busy(text),
            _ => self.peer.auth_failed(&self.user, text),
        }
    }

    async fn authenticate(&mut self, password: &str) -> Result<()> {
        if self.caps.has_sasl("PLAIN") {
            let initial = pop3_wire::sasl_plain(&self.user, password);
            // RFC 5034: keep the command within 255 octets; longer responses go after "+".
            let (command, pending) = if initial.len() <= 240 {
                (format!("AUTH PLAIN {initial}\r\n"), None)
            } else {
                ("AUTH PLAIN\r\n".to_string(), Some(initial))
            };
            let mut reply = self.raw_exchange(Some(command.as_bytes()), "AUTH PLAIN").await?;
            if let (Reply::Continue(_), Some(pending)) = (&reply, pending) {
                let line = format!("{pending}\r\n");
                reply = self.raw_exchange(Some(line.as_bytes()), "AUTH PLAIN").await?;
            }
            return match reply {
                Reply::Ok(_) => Ok(()),
                Reply::Err { code, text } => Err(self.auth_error(code, text)),
                Reply::Continue(_) => {
                    // Cancel the exchange (RFC 5034 "*") so the server ends it cleanly.
                    let _ = self.raw_exchange(Some(b"*\r\n"), "AUTH PLAIN").await;
                    Err(self.peer.protocol("AUTH PLAIN: unexpected challenge"))
                }
            };
        }
        if self.caps.has_sasl("LOGIN") {
            return self.authenticate_login(password).await;
        }
        if !pop3_wire::is_safe_argument(password) {
            return Err(self.peer.invalid("the password contains line breaks"));
        }
        // USER/PASS: advertised by CAPA USER, and tried anyway on servers without CAPA.
        let command = format!("USER {}\r\n", self.user);
        match self.raw_exchange(Some(command.as_bytes()), "USER").await? {
            Reply::Ok(_) => {}
            Reply::Err { code, text } if code.is_some() || self.caps.user => {
                return Err(self.auth_error(code, text));
            }
            Reply::Err { text, .. } => {
                return Err(self
                    .peer
                    .mechanism_unavailable(format!("no SASL PLAIN and USER was refused: {text}")));
            }
            Reply::Continue(_) => return Err(self.peer.protocol("USER: unexpected continuation")),
        }
        let command = format!("PASS {password}\r\n");
        match self.raw_exchange(Some(command.as_bytes()), "PASS").await? {
            Reply::Ok(_) => Ok(()),
            Reply::Err { code, text } => Err(self.auth_error(code, text)),
            Reply::Continue(_) => Err(self.peer.protocol("PASS: unexpected continuation")),
        }
    }

    /// SASL LOGIN: base64 user name and password, each after a `+` challenge. Dovecot
    /// without the PLAIN mechanism refuses USER/PASS but offers this.
    async fn authenticate_login(&mut self, password: &str) -> Result<()> {
        use base64::Engine as _;
        let b64 = |s: &str| format!("{}\r\n", base64::engine::general_purpose::STANDARD.encode(s));
        let mut reply = self.raw_exchange(Some(b"AUTH LOGIN\r\n"), "AUTH LOGIN").await?;
        for secret in [b64(&self.user), b64(password)] {
            match reply {
                Reply::Continue(_) => {
                    reply = self.raw_exchange(Some(secret.as_bytes()), "AUTH LOGIN").await?
                }
                _ => break,
            }
        }
        match reply {
            Reply::Ok(_) => Ok(()),
            Reply::Err { code, text } => Err(self.auth_error(code, text)),
            Reply::Continue(_) => {
                let _ = self.raw_exchange(Some(b"*\r\n"), "AUTH LOGIN").await;
                Err(self.peer.protocol("AUTH LOGIN: unexpected challenge"))
            }
        }
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
            self.caps = pop3_wire::parse_capa(body.split_inclusive(|&b| b == b'\n'));
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
                pop3_wire::parse_stat(&text).ok_or_else(|| self.peer.protocol(format!("STAT: {text:?}")))?;
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
                let entry = pop3_wire::parse_uidl_line(line).ok_or_else(|| {
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
                    pop3_wire::parse_list_line(line).ok_or_else(|| {
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
                Ok(text) => pop3_wire::parse_stat(&text).map(|(_, size)| size),
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
