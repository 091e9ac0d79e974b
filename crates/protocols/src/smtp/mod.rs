//! The SMTP client: implicit TLS, STARTTLS, or plaintext only when the profile
//! allows it; AUTH OAUTHBEARER/XOAUTH2 with an OAuth2 token, AUTH PLAIN (with
//! an authorization identity for a service account) or LOGIN, or none; one connection reused for several
//! messages; replies mapped to classed [`ProtocolError`]s (4xx transient, 5xx
//! per item).
//!
//! A message goes out in two steps so the caller can work while the server
//! takes it in: [`SmtpClient::submit`] sends `MAIL FROM`, every `RCPT TO` and
//! `DATA` — in one write when the server offers PIPELINING (RFC 2920) — then
//! the message and its closing dot; [`Submitted::reply`] waits for the
//! server's verdict on it. [`SmtpClient::send`] does both.
//!
//! (lettre, which the first version used, sends each command and waits for
//! its reply, and has no way to leave the final reply for later; see
//! docs/outgoing.md.)
//!
//! The session is this module; [`wire`] holds the pure parsing and encoding.

pub mod wire;

use std::time::Duration;

use crmsync_core::model::Security;
use tokio::sync::{Mutex, MutexGuard};
use tokio::time::Instant;
use tracing::debug;

use crate::error::{Proto, ProtocolError, Result};
use crate::peer::Peer;
use crate::sasl;
use crate::settings::{Password, ServerSettings};
use crate::transport::{self, LineStream, Stream};
use wire::{Extensions, Reply, ReplyReader};

/// A connection idle this long is checked with NOOP before it is reused.
const IDLE_CHECK: Duration = Duration::from_secs(20);

/// How long the server's verdict on a message (the reply to its closing dot)
/// is awaited by default: RFC 5321 4.5.3.2.6 asks for at least 10 minutes,
/// as content filters may take that long. Giving up earlier does not undo the
/// message: it may still be delivered, and sending it again would duplicate it.
pub const FINAL_REPLY_TIMEOUT: Duration = Duration::from_secs(600);

/// One open SMTP session, past EHLO, STARTTLS and AUTH.
struct Session {
    io: LineStream,
    ext: Extensions,
    last_used: Instant,
}

/// How the client logs in (`Debug` never shows the secret: [`Password`]).
#[derive(Debug, Clone)]
enum Credentials {
    /// PLAIN or LOGIN, optionally on behalf of `authzid` (PLAIN only).
    Password { user: String, password: Password, authzid: Option<String> },
    /// OAUTHBEARER or XOAUTH2 with an OAuth2 access token.
    Bearer { user: String, token: Password },
}

impl Credentials {
    fn from_settings(settings: &ServerSettings) -> Credentials {
        let user = settings.username.clone();
        match &settings.bearer {
            Some(token) => Credentials::Bearer { user, token: token.clone() },
            None => Credentials::Password {
                user,
                password: settings.password.clone(),
                authzid: settings.authzid.clone(),
            },
        }
    }

    fn user(&self) -> &str {
        match self {
            Credentials::Password { user, .. } | Credentials::Bearer { user, .. } => user,
        }
    }
}

/// An SMTP client holding at most one connection, reused by every send.
pub struct SmtpClient {
    peer: Peer,
    security: Security,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    credentials: Option<Credentials>,
    timeout: Duration,
    timeout_secs: u64,
    final_reply_timeout: Duration,
    conn: Mutex<Option<Session>>,
}

impl std::fmt::Debug for SmtpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpClient").field("peer", &self.peer.to_string()).finish()
    }
}

impl SmtpClient {
    /// Prepares a client; `authenticate` false sends without AUTH (a relay that
    /// trusts the office network). Nothing is sent until [`SmtpClient::probe`],
    /// [`SmtpClient::submit`] or [`SmtpClient::send`].
    pub fn new(settings: &ServerSettings, authenticate: bool) -> Result<SmtpClient> {
        let peer = Peer::new(Proto::Smtp, &settings.host, settings.port);
        if settings.security == Security::None && !settings.allow_insecure {
            return Err(peer.plaintext_refused());
        }
        let tls = match settings.security {
            Security::None => None,
            Security::Tls | Security::Starttls => {
                Some(crate::tls::client_config(&settings.extra_roots).map_err(|e| peer.invalid(e))?)
            }
        };
        Ok(SmtpClient {
            peer,
            security: settings.security,
            tls,
            credentials: authenticate.then(|| Credentials::from_settings(settings)),
            timeout: settings.timeout,
            timeout_secs: settings.timeout.as_secs(),
            final_reply_timeout: FINAL_REPLY_TIMEOUT,
            conn: Mutex::new(None),
        })
    }

    /// How long [`Submitted::reply`] waits for the server's verdict on a
    /// message (default [`FINAL_REPLY_TIMEOUT`]; never less than the
    /// per-command timeout).
    pub fn with_final_reply_timeout(mut self, wait: Duration) -> SmtpClient {
        self.final_reply_timeout = wait;
        self
    }

    /// Connects, says EHLO, starts TLS and authenticates; sends nothing.
    pub async fn probe(&self) -> Result<()> {
        let mut session = self.connect().await?;
        self.quit(&mut session).await;
        Ok(())
    }

    /// Sends one message to `recipients` from `sender` and waits for the
    /// server's reply to it ("250 2.0.0 Ok: queued as ...").
    pub async fn send(&self, sender: &str, recipients: &[String], raw: &[u8]) -> Result<String> {
        self.submit(sender, recipients, raw).await?.reply().await
    }

    /// Hands one message to the server over the client's connection (opened on
    /// first use, reused after): the envelope commands, then the message and
    /// its closing dot. The server's verdict on the message is read by
    /// [`Submitted::reply`]; until then the connection is busy.
    ///
    /// A refused sender or recipient fails here, and the server forgets the
    /// transaction (nothing is delivered to anyone).
    pub async fn submit(&self, sender: &str, recipients: &[String], raw: &[u8]) -> Result<Submitted<'_>> {
        let invalid = |reason: String| ProtocolError::SmtpRejected {
            host: self.peer.host.clone(),
            port: self.peer.port,
            code: 501,
            reply: reason,
        };
        wire::check_address(sender).map_err(invalid)?;
        for r in recipients {
            wire::check_address(r).map_err(invalid)?;
        }
        if recipients.is_empty() {
            return Err(invalid("the message has no recipient".into()));
        }
        let mut slot = self.conn.lock().await;
        if let Some(session) = slot.as_mut()
            && session.last_used.elapsed() > IDLE_CHECK
            && !matches!(self.command(session, "NOOP\r\n", "NOOP").await, Ok(r) if r.is_ok())
        {
            *slot = None;
        }
        if slot.is_none() {
            *slot = Some(self.connect().await?);
        }
        let session = slot.as_mut().expect("connected above");
        match self.envelope_and_data(session, sender, recipients, raw).await {
            Ok(()) => Ok(Submitted { client: self, slot, size: raw.len(), done: false }),
            Err((e, keep)) => {
                if !keep {
                    *slot = None;
                }
                Err(e)
            }
        }
    }

    /// The envelope, DATA and the payload. On error, whether the session can be kept.
    async fn envelope_and_data(
        &self,
        session: &mut Session,
        sender: &str,
        recipients: &[String],
        raw: &[u8],
    ) -> std::result::Result<(), (ProtocolError, bool)> {
        let utf8 = !sender.is_ascii() || recipients.iter().any(|r| !r.is_ascii());
        let eight_bit = !raw.is_ascii();
        if utf8 && !session.ext.smtp_utf8 {
            let e = self.peer.protocol("an address is not ASCII and the server does not offer SMTPUTF8");
            return Err((e, true));
        }
        if eight_bit && !session.ext.eight_bit_mime {
            let e = self.peer.protocol("the message has 8-bit data and the server does not offer 8BITMIME");
            return Err((e, true));
        }
        if let Some(max) = session.ext.size.filter(|&m| m > 0 && raw.len() as u64 > m) {
            let e = ProtocolError::SmtpRejected {
                host: self.peer.host.clone(),
                port: self.peer.port,
                code: 552,
                reply: format!(
                    "the message ({} bytes) is larger than the server accepts ({max} bytes)",
                    raw.len()
                ),
            };
            return Err((e, true));
        }
        let mut commands = vec![wire::mail_from(sender, eight_bit, utf8)];
        commands.extend(recipients.iter().map(|r| wire::rcpt_to(r)));
        commands.push("DATA\r\n".into());
        let lost = |e| (e, false);
        let mut replies = Vec::with_capacity(commands.len());
        if session.ext.pipelining {
            self.write(session, commands.concat().as_bytes(), "MAIL FROM").await.map_err(lost)?;
            for c in &commands {
                replies.push(self.read_reply(session, verb(c)).await.map_err(lost)?);
            }
        } else {
            for c in &commands {
                self.write(session, c.as_bytes(), verb(c)).await.map_err(lost)?;
                let r = self.read_reply(session, verb(c)).await.map_err(lost)?;
                let ok = r.is_ok() || r.code == 354;
                replies.push(r);
                if !ok {
                    break;
                }
            }
        }
        let data = replies.last().filter(|r| replies.len() == commands.len() && r.code == 354);
        let refused = replies.iter().zip(&commands).find(|(r, _)| !r.is_ok() && r.code != 354);
        match (refused, data) {
            (None, Some(_)) => {}
            (Some((r, c)), Some(_)) => {
                // Some recipients refused, the others accepted and the server
                // waits for the message: only closing the connection undoes it.
                return Err((self.reply_error(r, verb(c)), false));
            }
            (Some((r, c)), None) => {
                let e = self.reply_error(r, verb(c));
                let reset = self.command(session, "RSET\r\n", "RSET").await;
                return Err((e, matches!(reset, Ok(ref r) if r.is_ok())));
            }
            (None, None) => {
                let r = replies.last().expect("at least MAIL FROM was answered");
                return Err((self.peer.protocol(format!("unexpected reply to DATA: {r}")), false));
            }
        }
        // A large message on a slow link gets more time: one timeout per MiB.
        let payload = wire::data_payload(raw);
        let limit = self.timeout * (1 + (raw.len() / (1 << 20)) as u32);
        match tokio::time::timeout(limit, session.io.send(&payload)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err((self.peer.lost(format!("while sending the message: {e}")), false)),
            Err(_) => Err((self.peer.timeout("sending the message", limit.as_secs()), false)),
        }
    }

    /// TCP (+ implicit TLS), greeting, EHLO, STARTTLS, AUTH.
    async fn connect(&self) -> Result<Session> {
        let deadline = Instant::now() + self.timeout;
        let setup = async {
            let tcp = transport::connect_tcp(&self.peer, deadline, self.timeout_secs).await?;
            let local = tcp.local_addr().ok();
            let stream = match (&self.security, &self.tls) {
                (Security::Tls, Some(config)) => {
                    transport::tls_handshake(&self.peer, tcp, config.clone(), deadline, self.timeout_secs)
                        .await?
                }
                _ => Stream::Plain(tcp),
            };
            let mut session = Session {
                io: LineStream::new(stream),
                ext: Extensions::default(),
                last_used: Instant::now(),
            };
            let greeting = self.read_reply(&mut session, "greeting").await?;
            if greeting.code != 220 {
                return Err(if greeting.is_transient() || greeting.code == 554 {
                    self.peer.busy(greeting)
                } else {
                    self.peer.protocol(format!("unexpected greeting: {greeting}"))
                });
            }
            let name = match local.map(|a| a.ip()) {
                Some(std::net::IpAddr::V4(ip)) => format!("[{ip}]"),
                Some(std::net::IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
                None => "localhost".into(),
            };
            self.ehlo(&mut session, &name).await?;
            if self.security == Security::Starttls {
                session = self.starttls(session, &name, deadline).await?;
            }
            match &self.credentials {
                Some(Credentials::Password { user, password, authzid }) => {
                    self.authenticate(&mut session, user, password, authzid.as_deref()).await?;
                }
                Some(Credentials::Bearer { user, token }) => {
                    self.authenticate_bearer(&mut session, user, token).await?;
                }
                None => {}
            }
            debug!(peer = %self.peer, security = %self.security, "SMTP connected");
            Ok(session)
        };
        match tokio::time::timeout_at(deadline, setup).await {
            Ok(r) => r,
            Err(_) => Err(self.peer.timeout("SMTP connect", self.timeout_secs)),
        }
    }

    /// EHLO (HELO when the server does not know EHLO); records the extensions.
    async fn ehlo(&self, session: &mut Session, name: &str) -> Result<()> {
        let reply = self.command(session, &format!("EHLO {name}\r\n"), "EHLO").await?;
        if reply.is_ok() {
            session.ext = Extensions::from_ehlo(&reply);
            return Ok(());
        }
        let helo = self.command(session, &format!("HELO {name}\r\n"), "HELO").await?;
        if !helo.is_ok() {
            return Err(self.peer.command_failed("HELO", helo));
        }
        session.ext = Extensions::default();
        Ok(())
    }

    async fn starttls(&self, mut session: Session, name: &str, deadline: Instant) -> Result<Session> {
        if !session.ext.starttls {
            return Err(self.peer.starttls_unavailable());
        }
        let reply = self.command(&mut session, "STARTTLS\r\n", "STARTTLS").await?;
        if reply.code != 220 {
            return Err(ProtocolError::TlsFailed {
                proto: Proto::Smtp,
                host: self.peer.host.clone(),
                port: self.peer.port,
                detail: format!("the server refused STARTTLS: {reply}"),
            });
        }
        let tcp = match session.io.into_inner().map_err(|e| self.peer.protocol(e))? {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(_) => return Err(self.peer.protocol("STARTTLS on a connection that is already TLS")),
        };
        let config = self.tls.clone().expect("STARTTLS profiles have a TLS configuration");
        let stream = transport::tls_handshake(&self.peer, tcp, config, deadline, self.timeout_secs).await?;
        let mut session =
            Session { io: LineStream::new(stream), ext: Extensions::default(), last_used: Instant::now() };
        // RFC 3207: forget what was said in the clear and ask again.
        self.ehlo(&mut session, name).await?;
        Ok(session)
    }

    /// AUTH OAUTHBEARER, else AUTH XOAUTH2, with the token; the initial
    /// response in two steps when it is too long for one line. A refused
    /// token is `OAUTH_TOKEN_REFUSED` with the decoded error challenge.
    async fn authenticate_bearer(&self, session: &mut Session, user: &str, token: &Password) -> Result<()> {
        let offered = &session.ext.auth;
        let Some(mechanism) = sasl::Bearer::choose(|m| offered.iter().any(|o| o == m)) else {
            return Err(self.peer.mechanism_unavailable(format!(
                "the server offers AUTH {}; an OAuth2 token needs OAUTHBEARER or XOAUTH2",
                if offered.is_empty() { "nothing".to_string() } else { offered.join(" ") }
            )));
        };
        let raw = mechanism.initial_response(user, token.expose(), &self.peer.host, self.peer.port);
        let initial = sasl::encode(&raw);
        let (line, inline) = wire::auth_command(mechanism.name(), &initial);
        let mut reply = self.command(session, &line, "AUTH").await?;
        if !inline && reply.code == 334 {
            reply = self.command(session, &format!("{initial}\r\n"), "AUTH").await?;
        }
        let mut challenge = None;
        if reply.code == 334 {
            // The error challenge: answer it so the server ends with 535.
            challenge = Some(sasl::describe_base64_challenge(&reply.text()));
            let answer = format!("{}\r\n", mechanism.error_answer_line());
            reply = self.command(session, &answer, "AUTH").await?;
        }
        match reply.code {
            235 => Ok(()),
            504 => Err(self.peer.mechanism_unavailable(reply)),
            c if (400..500).contains(&c) => Err(ProtocolError::SmtpDeferred {
                host: self.peer.host.clone(),
                port: self.peer.port,
                code: c,
                reply: format!("authentication: {}", reply.text()),
            }),
            _ => Err(self.peer.token_refused(user, sasl::refusal(&reply.to_string(), challenge.as_deref()))),
        }
    }

    /// AUTH PLAIN, else AUTH LOGIN; on behalf of `authzid` only with PLAIN.
    async fn authenticate(
        &self,
        session: &mut Session,
        user: &str,
        password: &Password,
        authzid: Option<&str>,
    ) -> Result<()> {
        let offered = &session.ext.auth;
        let has_plain = offered.iter().any(|m| m == "PLAIN");
        if let Some(authzid) = authzid
            && !has_plain
        {
            return Err(self.peer.mechanism_unavailable(format!(
                "the server does not offer AUTH PLAIN, needed to log in as {user} on behalf of {authzid}"
            )));
        }
        let reply = if has_plain {
            let initial = sasl::encode(&sasl::plain(authzid, user, password.expose()));
            let (line, inline) = wire::auth_command("PLAIN", &initial);
            let mut r = self.command(session, &line, "AUTH").await?;
            if !inline && r.code == 334 {
                r = self.command(session, &format!("{initial}\r\n"), "AUTH").await?;
            }
            r
        } else if offered.iter().any(|m| m == "LOGIN") {
            let mut r = self.command(session, "AUTH LOGIN\r\n", "AUTH").await?;
            for answer in [user, password.expose()] {
                if r.code != 334 {
                    break;
                }
                r = self.command(session, &format!("{}\r\n", wire::base64_line(answer)), "AUTH").await?;
            }
            r
        } else if offered.is_empty() {
            return Err(self.peer.mechanism_unavailable(
                "the server offers no authentication here (for a relay that needs none, set the profile's outgoing authentication to none)",
            ));
        } else {
            return Err(self.peer.mechanism_unavailable(format!(
                "the server offers AUTH {}; crmsync speaks PLAIN and LOGIN",
                offered.join(" ")
            )));
        };
        match reply.code {
            235 => Ok(()),
            504 => Err(self.peer.mechanism_unavailable(reply)),
            c if (400..500).contains(&c) => Err(ProtocolError::SmtpDeferred {
                host: self.peer.host.clone(),
                port: self.peer.port,
                code: c,
                reply: format!("authentication: {}", reply.text()),
            }),
            _ => Err(match authzid {
                Some(authzid) => {
                    self.peer.auth_failed(user, sasl::on_behalf_refusal(user, authzid, &reply.to_string()))
                }
                None => self.peer.auth_failed(user, reply),
            }),
        }
    }

    async fn write(&self, session: &mut Session, bytes: &[u8], verb: &str) -> Result<()> {
        match tokio::time::timeout(self.timeout, session.io.send(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.peer.lost(format!("while sending {verb}: {e}"))),
            Err(_) => Err(self.peer.timeout(verb, self.timeout_secs)),
        }
    }

    async fn read_reply(&self, session: &mut Session, verb: &str) -> Result<Reply> {
        let reply = self.read_reply_within(session, verb, self.timeout).await?;
        if reply.code == 421 {
            // The server is closing the connection (shutting down, overloaded).
            return Err(self.peer.lost(format!("{reply} ({verb})")));
        }
        Ok(reply)
    }

    /// Reads one reply, whatever its code, waiting at most `limit` for it.
    async fn read_reply_within(&self, session: &mut Session, verb: &str, limit: Duration) -> Result<Reply> {
        let read = async {
            let mut reader = ReplyReader::new();
            let mut line = Vec::with_capacity(128);
            loop {
                line.clear();
                match session.io.read_line_into(&mut line).await {
                    Ok(true) => {}
                    Ok(false) => {
                        return Err(self.peer.lost(format!("the server closed the connection ({verb})")));
                    }
                    Err(e) => return Err(self.peer.lost(format!("while reading the reply to {verb}: {e}"))),
                }
                if let Some(reply) = reader.feed(&line).map_err(|e| self.peer.protocol(e))? {
                    return Ok(reply);
                }
            }
        };
        let reply = tokio::time::timeout(limit, read)
            .await
            .map_err(|_| self.peer.timeout(&format!("waiting for the reply to {verb}"), limit.as_secs()))??;
        session.last_used = Instant::now();
        Ok(reply)
    }

    async fn command(&self, session: &mut Session, line: &str, verb: &str) -> Result<Reply> {
        self.write(session, line.as_bytes(), verb).await?;
        self.read_reply(session, verb).await
    }

    /// A refusal at `verb` as a classed error.
    fn reply_error(&self, reply: &Reply, verb: &str) -> ProtocolError {
        let (host, port, code) = (self.peer.host.clone(), self.peer.port, reply.code);
        let text = format!("{reply} (at {verb})");
        if reply.code == 530 {
            // "Authentication required": a profile problem, not this message's.
            return self.peer.auth_failed(self.credentials.as_ref().map_or("", |c| c.user()), text);
        }
        if reply.is_transient() {
            ProtocolError::SmtpDeferred { host, port, code, reply: text }
        } else {
            ProtocolError::SmtpRejected { host, port, code, reply: text }
        }
    }

    async fn quit(&self, session: &mut Session) {
        let _ = tokio::time::timeout(self.timeout, async {
            let _ = session.io.send(b"QUIT\r\n").await;
            let mut line = Vec::new();
            let _ = session.io.read_line_into(&mut line).await;
        })
        .await;
    }

    /// Ends the connection politely (QUIT), if one is open.
    pub async fn close(&self) {
        if let Some(mut session) = self.conn.lock().await.take() {
            self.quit(&mut session).await;
        }
    }
}

/// The command's verb, for messages ("MAIL FROM", "RCPT TO", "DATA").
fn verb(command: &str) -> &str {
    command.split(':').next().unwrap_or(command).trim_end()
}

/// A message handed to the server whose reply is not read yet. Dropping it
/// without [`Submitted::reply`] closes the connection (the outcome is unknown).
pub struct Submitted<'a> {
    client: &'a SmtpClient,
    slot: MutexGuard<'a, Option<Session>>,
    size: usize,
    done: bool,
}

impl Submitted<'_> {
    /// Waits for the server's verdict on the message (up to the final-reply
    /// wait, [`SmtpClient::with_final_reply_timeout`]): its reply text on 2xx
    /// ("250 2.0.0 Ok: queued as ..."), else a classed error (4xx deferred, 5xx
    /// rejected, connection lost or timeout). After a lost connection or a
    /// timeout the outcome is unknown: the server may have accepted the message.
    pub async fn reply(mut self) -> Result<String> {
        self.done = true;
        let client = self.client;
        let Some(session) = self.slot.as_mut() else {
            return Err(client.peer.lost("the connection was closed"));
        };
        // The server may need a while to take responsibility for a message
        // (queue file, content filters): the final-reply wait, at least the
        // per-command timeout per started MiB.
        let limit = client.final_reply_timeout.max(client.timeout * (1 + (self.size / (1 << 20)) as u32));
        match client.read_reply_within(session, "the message", limit).await {
            Ok(reply) if reply.is_ok() => {
                debug!(peer = %client.peer, code = reply.code, "message accepted");
                Ok(reply.to_string())
            }
            Ok(reply) => {
                if reply.code == 421 {
                    // Closing the connection without taking the message: a
                    // verdict (not accepted), unlike a connection that just ends.
                    *self.slot = None;
                }
                Err(client.reply_error(&reply, "end of data"))
            }
            Err(e) => {
                *self.slot = None;
                Err(e)
            }
        }
    }
}

impl Drop for Submitted<'_> {
    fn drop(&mut self) {
        if !self.done {
            *self.slot = None;
        }
    }
}
