//! Opening an authenticated IMAP session: TCP, implicit TLS or STARTTLS, the
//! greeting and CAPABILITY exchange (done on our own line reader, since
//! async-imap has no pre-login CAPABILITY/STARTTLS), then the login through
//! async-imap: AUTHENTICATE OAUTHBEARER or XOAUTH2 with an OAuth2 token,
//! AUTHENTICATE PLAIN (with an authorization identity for a service account),
//! LOGIN, or AUTHENTICATE LOGIN.

use std::sync::Arc;

use async_imap::Authenticator;

use super::types::Capabilities;
use super::wire::{self, Greeting, Tagged};
use crate::error::{ProtocolError, Result};
use crate::limits::{Clock, Expired, Guarded, LimitExceeded, Limits};
use crate::peer::Peer;
use crate::sasl;
use crate::settings::ImapSettings;
use crate::transport::{self, LineStream, Stream};
use crmsync_core::model::Security;

/// An authenticated async-imap session over our transport.
pub(crate) type ImapSession = async_imap::Session<Guarded>;

/// Untagged bytes accepted before login (greeting, CAPABILITY, STARTTLS answers).
const PRE_LOGIN_BYTES: u64 = 1 << 20;

/// Maps an async-imap failure; the flag says whether the connection is now unusable.
pub(crate) fn map_imap_error(
    peer: &Peer,
    command: &str,
    e: async_imap::error::Error,
) -> (ProtocolError, bool) {
    use async_imap::error::Error as E;
    match e {
        E::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => (peer.timeout(command, 0), true),
        E::Io(io) if crate::limits::limit_of(&io).is_some() => {
            let limit = crate::limits::limit_of(&io).expect("checked above");
            (limit.error(peer, command), true)
        }
        E::Io(io) => (peer.lost(format!("{command}: {io}")), true),
        E::ConnectionLost => (peer.lost(format!("server closed the connection during {command}")), true),
        E::No(text) => {
            let text = wire::server_text(&text);
            if wire::says_unavailable(&text) {
                (peer.busy(text), false)
            } else {
                (peer.command_failed(command, text), false)
            }
        }
        E::Bad(text) => {
            (peer.protocol(format!("{command} rejected as BAD: {}", wire::server_text(&text))), false)
        }
        E::Validate(v) => (peer.invalid(format!("{command}: {v}")), false),
        E::Append => (peer.protocol(format!("{command}: the server did not accept the message")), false),
        other => (peer.protocol(format!("{command}: {other}")), true),
    }
}

/// SASL LOGIN (obsolete, but some servers offer nothing else): user name, then password.
struct LoginAuth {
    user: Vec<u8>,
    password: Vec<u8>,
    step: u8,
}

impl Authenticator for LoginAuth {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        self.step = self.step.saturating_add(1);
        if self.step == 1 { self.user.clone() } else { self.password.clone() }
    }
}

/// SASL PLAIN for async-imap, which base64-encodes what `process` returns.
struct PlainAuth(Vec<u8>);

impl Authenticator for PlainAuth {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        self.0.clone()
    }
}

/// SASL XOAUTH2 / OAUTHBEARER for async-imap: the initial response to the
/// first (empty) continuation, the error answer to any later one, whose
/// decoded text is kept for the error message. No `Debug`: it holds the token.
struct BearerAuth {
    mechanism: sasl::Bearer,
    initial: Vec<u8>,
    rounds: u8,
    /// The server's decoded error challenge, if it sent one.
    challenge: Option<String>,
}

impl Authenticator for &mut BearerAuth {
    type Response = Vec<u8>;

    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        self.rounds = self.rounds.saturating_add(1);
        if self.rounds == 1 {
            std::mem::take(&mut self.initial)
        } else {
            self.challenge.get_or_insert_with(|| sasl::describe_error_challenge(challenge));
            self.mechanism.error_answer().to_vec()
        }
    }
}

/// The error for an expired clock.
fn expired(peer: &Peer, clock: &Clock, total_secs: u64, label: &str, which: Expired) -> ProtocolError {
    match which {
        Expired::Read => peer.timeout(label, clock.per_read.as_secs()),
        Expired::Total => peer.deadline(label, total_secs),
    }
}

async fn read_line(lines: &mut LineStream, peer: &Peer, clock: &Login, label: &str) -> Result<Vec<u8>> {
    match clock.clock.run(lines.read_line()).await {
        Err(which) => Err(expired(peer, &clock.clock, clock.total_secs, label, which)),
        Ok(Err(e)) => Err(peer.lost(format!("{label}: {e}"))),
        Ok(Ok(None)) => Err(peer.lost(format!("server closed the connection during {label}"))),
        Ok(Ok(Some(line))) => Ok(line),
    }
}

/// The clock of connect and login: one total deadline for all of it.
struct Login {
    clock: Clock,
    total_secs: u64,
}

/// Sends `tag command` and reads up to the tagged completion; returns the untagged
/// lines and the completion.
async fn command(
    lines: &mut LineStream,
    peer: &Peer,
    clock: &Login,
    tag: &str,
    command: &str,
) -> Result<(Vec<Vec<u8>>, Tagged)> {
    let line = format!("{tag} {command}\r\n");
    match clock.clock.run(lines.send(line.as_bytes())).await {
        Err(which) => return Err(expired(peer, &clock.clock, clock.total_secs, command, which)),
        Ok(Err(e)) => return Err(peer.lost(format!("{command}: {e}"))),
        Ok(Ok(())) => {}
    }
    let mut untagged = Vec::new();
    let mut bytes = 0u64;
    loop {
        let got = read_line(lines, peer, clock, command).await?;
        if let Some(done) = wire::parse_tagged(&got, tag) {
            return Ok((untagged, done));
        }
        bytes += got.len() as u64;
        if bytes > PRE_LOGIN_BYTES {
            let limit = LimitExceeded {
                what: format!("more than {PRE_LOGIN_BYTES} bytes of untagged lines before login"),
                limit: PRE_LOGIN_BYTES,
            };
            return Err(limit.error(peer, command));
        }
        untagged.push(got);
    }
}

async fn capability(lines: &mut LineStream, peer: &Peer, clock: &Login, tag: &str) -> Result<Vec<String>> {
    let (untagged, done) = command(lines, peer, clock, tag, "CAPABILITY").await?;
    if !matches!(done, Tagged::Ok(_)) {
        return Err(peer.protocol(format!("CAPABILITY failed: {done:?}")));
    }
    let caps: Vec<String> =
        untagged.iter().filter_map(|l| wire::parse_capability_line(l)).flatten().collect();
    if caps.is_empty() {
        return Err(peer.protocol("CAPABILITY returned nothing"));
    }
    Ok(caps)
}

/// Connects and secures the connection (implicit TLS or STARTTLS), reading the
/// greeting and the capabilities; stops before login.
async fn secure(settings: &ImapSettings, peer: &Peer, clock: &Login) -> Result<(LineStream, Capabilities)> {
    if settings.security == Security::None && !settings.allow_insecure {
        return Err(peer.plaintext_refused());
    }
    let timeout = settings.timeout;
    let secs = timeout.as_secs();
    let deadline = transport::deadline(timeout);
    let tls_config = match settings.security {
        Security::None => None,
        _ => Some(crate::tls::client_config(&settings.extra_roots).map_err(|e| peer.invalid(e))?),
    };
    let tcp = transport::connect_tcp(peer, deadline, secs).await?;
    let stream = match (&settings.security, &tls_config) {
        (Security::Tls, Some(config)) => {
            transport::tls_handshake(peer, tcp, config.clone(), deadline, secs).await?
        }
        _ => Stream::Plain(tcp),
    };
    let mut lines = LineStream::new(stream);

    let greeting = read_line(&mut lines, peer, clock, "the greeting").await?;
    let mut caps = match wire::parse_greeting(&greeting) {
        Some(Greeting::Ok(caps)) => caps,
        Some(Greeting::PreAuth) => {
            return Err(peer.protocol("the server pre-authenticated the connection; crmsync always logs in"));
        }
        Some(Greeting::Bye(reason)) => {
            return Err(peer.busy(format!("server refused the connection: {reason}")));
        }
        None => {
            return Err(peer.protocol(format!(
                "not an IMAP greeting (is this the right port?): {:?}",
                String::from_utf8_lossy(&greeting).trim_end()
            )));
        }
    };
    if caps.is_none() {
        caps = Some(capability(&mut lines, peer, clock, "C1").await?);
    }
    let mut caps = Capabilities::from_names(caps.unwrap_or_default());

    if settings.security == Security::Starttls {
        if !caps.has("STARTTLS") {
            return Err(peer.starttls_unavailable());
        }
        let (_, done) = command(&mut lines, peer, clock, "C2", "STARTTLS").await?;
        if let Tagged::No(text) | Tagged::Bad(text) = done {
            return Err(peer.command_failed("STARTTLS", text));
        }
        let Stream::Plain(tcp) = lines.into_inner().map_err(|e| peer.protocol(e))? else {
            return Err(peer.protocol("STARTTLS on a connection that is already TLS"));
        };
        let config = tls_config.clone().expect("a TLS config exists for STARTTLS");
        let tls = transport::tls_handshake(peer, tcp, config, transport::deadline(timeout), secs).await?;
        lines = LineStream::new(tls);
        // RFC 3501 6.2.1: capabilities learnt before TLS must be discarded.
        caps = Capabilities::from_names(capability(&mut lines, peer, clock, "C3").await?);
    }
    if !lines.is_tls() && !settings.allow_insecure {
        return Err(peer.plaintext_refused());
    }
    Ok((lines, caps))
}

/// Connects, secures the connection and reads the capabilities without logging
/// in, then says LOGOUT: a reachability and TLS check that needs no password.
pub(crate) async fn probe(settings: &ImapSettings, peer: &Peer) -> Result<Capabilities> {
    let clock = login_clock(settings);
    let (mut lines, caps) = secure(settings, peer, &clock).await?;
    // A polite goodbye; the check already passed, so its failure does not matter.
    let _ = command(&mut lines, peer, &clock, "C9", "LOGOUT").await;
    Ok(caps)
}

fn login_clock(settings: &ImapSettings) -> Login {
    Login {
        clock: Clock::start(settings.timeout, settings.op_deadline),
        total_secs: settings.op_deadline.as_secs(),
    }
}

/// The largest literal accepted: the message limit with room for servers that
/// count a message's size a little differently in RFC822.SIZE.
pub(crate) fn max_literal(settings: &ImapSettings) -> u64 {
    settings.max_message_bytes.saturating_add(settings.max_message_bytes / 2).saturating_add(64 << 10)
}

/// Connects, secures and logs in (all within the operation deadline); returns
/// the session with the post-login capabilities and the limits of its reader.
pub(crate) async fn open(
    settings: &ImapSettings,
    peer: &Peer,
) -> Result<(ImapSession, Capabilities, Arc<Limits>)> {
    if settings.username.is_empty() {
        return Err(peer.invalid("the user name is empty"));
    }
    let login_clock = login_clock(settings);
    let (lines, caps) = secure(settings, peer, &login_clock).await?;
    let clock = login_clock.clock;
    let total_secs = login_clock.total_secs;
    let tls = lines.is_tls();
    let stream = lines.into_inner().map_err(|e| peer.protocol(e))?;
    let limits = Limits::new(max_literal(settings));
    let client = async_imap::Client::new(Guarded::new(stream, limits.clone()));

    let user = settings.username.as_str();
    let password = settings.password.expose();
    // How a refusal (NO) reads, per login method.
    let mut bearer_auth = None;
    let login = if let Some(token) = &settings.bearer {
        let Some(mechanism) = sasl::Bearer::choose(|m| caps.has(&format!("AUTH={m}"))) else {
            return Err(peer.mechanism_unavailable(
                "the server offers neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2, needed to log in with an OAuth2 token",
            ));
        };
        let initial = mechanism.initial_response(user, token.expose(), &peer.host, peer.port);
        let auth = bearer_auth.insert(BearerAuth { mechanism, initial, rounds: 0, challenge: None });
        clock.run(client.authenticate(mechanism.name(), auth)).await
    } else if let Some(authzid) = &settings.authzid {
        if !caps.has("AUTH=PLAIN") {
            return Err(peer.mechanism_unavailable(format!(
                "the server does not offer AUTH=PLAIN, needed to log in as {user} on behalf of {authzid}"
            )));
        }
        let auth = PlainAuth(sasl::plain(Some(authzid), user, password));
        clock.run(client.authenticate("PLAIN", auth)).await
    } else if caps.has("AUTH=PLAIN") {
        let auth = PlainAuth(sasl::plain(None, user, password));
        clock.run(client.authenticate("PLAIN", auth)).await
    } else if !caps.has("LOGINDISABLED") {
        clock.run(client.login(user, password)).await
    } else if caps.has("AUTH=LOGIN") {
        // Dovecot without the PLAIN mechanism announces LOGINDISABLED but AUTH=LOGIN.
        let auth = LoginAuth { user: user.into(), password: password.into(), step: 0 };
        clock.run(client.authenticate("LOGIN", auth)).await
    } else {
        return Err(peer.mechanism_unavailable(
            "the server offers neither AUTH=PLAIN, LOGIN nor AUTH=LOGIN on this connection",
        ));
    };
    let mut session = match login {
        Err(which) => return Err(expired(peer, &clock, total_secs, "login", which)),
        Ok(Ok(session)) => session,
        Ok(Err((e, _client))) => {
            return Err(match e {
                async_imap::error::Error::No(text) => {
                    let text = wire::server_text(&text);
                    if wire::says_unavailable(&text) {
                        peer.busy(text)
                    } else if let Some(auth) = &bearer_auth {
                        peer.token_refused(user, sasl::refusal(&text, auth.challenge.as_deref()))
                    } else if let Some(authzid) = &settings.authzid {
                        peer.auth_failed(user, sasl::on_behalf_refusal(user, authzid, &text))
                    } else {
                        peer.auth_failed(user, text)
                    }
                }
                other => map_imap_error(peer, "login", other).0,
            });
        }
    };
    tracing::info!(tls, "IMAP login succeeded");

    let caps = match clock.run(session.capabilities()).await {
        Err(which) => return Err(expired(peer, &clock, total_secs, "CAPABILITY", which)),
        Ok(Err(e)) => return Err(map_imap_error(peer, "CAPABILITY", e).0),
        Ok(Ok(c)) => Capabilities::from_async_imap(&c),
    };
    Ok((session, caps, limits))
}
