//! Opening an authenticated IMAP session: TCP, implicit TLS or STARTTLS, the
//! greeting and CAPABILITY exchange (done on our own line reader, since
//! async-imap has no pre-login CAPABILITY/STARTTLS), then AUTHENTICATE PLAIN
//! LOGIN or AUTHENTICATE LOGIN through async-imap.

use std::time::Duration;

use async_imap::Authenticator;

use crate::error::{Peer, ProtocolError, Result};
use crate::imap_types::Capabilities;
use crate::imap_wire::{self, Greeting, Tagged};
use crate::settings::ImapSettings;
use crate::transport::{self, LineStream, Stream};
use crmsync_core::model::Security;

/// An authenticated async-imap session over our transport.
pub(crate) type ImapSession = async_imap::Session<Stream>;

/// Maps an async-imap failure; the flag says whether the connection is now unusable.
pub(crate) fn map_imap_error(
    peer: &Peer,
    command: &str,
    e: async_imap::error::Error,
) -> (ProtocolError, bool) {
    use async_imap::error::Error as E;
    match e {
        E::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => (peer.timeout(command, 0), true),
        E::Io(io) => (peer.lost(format!("{command}: {io}")), true),
        E::ConnectionLost => (peer.lost(format!("server closed the connection during {command}")), true),
        E::No(text) => {
            let text = imap_wire::server_text(&text);
            if imap_wire::says_unavailable(&text) {
                (peer.busy(text), false)
            } else {
                (peer.command_failed(command, text), false)
            }
        }
        E::Bad(text) => {
            (peer.protocol(format!("{command} rejected as BAD: {}", imap_wire::server_text(&text))), false)
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

async fn read_line(lines: &mut LineStream, peer: &Peer, timeout: Duration, label: &str) -> Result<Vec<u8>> {
    match tokio::time::timeout(timeout, lines.read_line()).await {
        Err(_) => Err(peer.timeout(label, timeout.as_secs())),
        Ok(Err(e)) => Err(peer.lost(format!("{label}: {e}"))),
        Ok(Ok(None)) => Err(peer.lost(format!("server closed the connection during {label}"))),
        Ok(Ok(Some(line))) => Ok(line),
    }
}

/// Sends `tag command` and reads up to the tagged completion; returns the untagged
/// lines and the completion.
async fn command(
    lines: &mut LineStream,
    peer: &Peer,
    timeout: Duration,
    tag: &str,
    command: &str,
) -> Result<(Vec<Vec<u8>>, Tagged)> {
    let line = format!("{tag} {command}\r\n");
    match tokio::time::timeout(timeout, lines.send(line.as_bytes())).await {
        Err(_) => return Err(peer.timeout(command, timeout.as_secs())),
        Ok(Err(e)) => return Err(peer.lost(format!("{command}: {e}"))),
        Ok(Ok(())) => {}
    }
    let mut untagged = Vec::new();
    loop {
        let got = read_line(lines, peer, timeout, command).await?;
        if let Some(done) = imap_wire::parse_tagged(&got, tag) {
            return Ok((untagged, done));
        }
        untagged.push(got);
    }
}

async fn capability(
    lines: &mut LineStream,
    peer: &Peer,
    timeout: Duration,
    tag: &str,
) -> Result<Vec<String>> {
    let (untagged, done) = command(lines, peer, timeout, tag, "CAPABILITY").await?;
    if !matches!(done, Tagged::Ok(_)) {
        return Err(peer.protocol(format!("CAPABILITY failed: {done:?}")));
    }
    let caps: Vec<String> =
        untagged.iter().filter_map(|l| imap_wire::parse_capability_line(l)).flatten().collect();
    if caps.is_empty() {
        return Err(peer.protocol("CAPABILITY returned nothing"));
    }
    Ok(caps)
}

/// Connects and secures the connection (implicit TLS or STARTTLS), reading the
/// greeting and the capabilities; stops before login.
async fn secure(settings: &ImapSettings, peer: &Peer) -> Result<(LineStream, Capabilities)> {
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

    let greeting = read_line(&mut lines, peer, timeout, "the greeting").await?;
    let mut caps = match imap_wire::parse_greeting(&greeting) {
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
        caps = Some(capability(&mut lines, peer, timeout, "C1").await?);
    }
    let mut caps = Capabilities::from_names(caps.unwrap_or_default());

    if settings.security == Security::Starttls {
        if !caps.has("STARTTLS") {
            return Err(peer.starttls_unavailable());
        }
        let (_, done) = command(&mut lines, peer, timeout, "C2", "STARTTLS").await?;
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
        caps = Capabilities::from_names(capability(&mut lines, peer, timeout, "C3").await?);
    }
    if !lines.is_tls() && !settings.allow_insecure {
        return Err(peer.plaintext_refused());
    }
    Ok((lines, caps))
}

/// Connects, secures the connection and reads the capabilities without logging
/// in, then says LOGOUT: a reachability and TLS check that needs no password.
pub(crate) async fn probe(settings: &ImapSettings, peer: &Peer) -> Result<Capabilities> {
    let (mut lines, caps) = secure(settings, peer).await?;
    // A polite goodbye; the check already passed, so its failure does not matter.
    let _ = command(&mut lines, peer, settings.timeout, "C9", "LOGOUT").await;
    Ok(caps)
}

/// Connects, secures and logs in; returns the session with the post-login capabilities.
pub(crate) async fn open(settings: &ImapSettings, peer: &Peer) -> Result<(ImapSession, Capabilities)> {
    if settings.username.is_empty() {
        return Err(peer.invalid("the user name is empty"));
    }
    let (lines, caps) = secure(settings, peer).await?;
    let timeout = settings.timeout;
    let secs = timeout.as_secs();
    let tls = lines.is_tls();
    let stream = lines.into_inner().map_err(|e| peer.protocol(e))?;
    let client = async_imap::Client::new(stream);

    let user = settings.username.as_str();
    let password = settings.password.expose();
    let login = if caps.has("AUTH=PLAIN") {
        let auth = PlainAuth(imap_wire::plain_response(user, password));
        tokio::time::timeout(timeout, client.authenticate("PLAIN", auth)).await
    } else if !caps.has("LOGINDISABLED") {
        tokio::time::timeout(timeout, client.login(user, password)).await
    } else if caps.has("AUTH=LOGIN") {
        // Dovecot without the PLAIN mechanism announces LOGINDISABLED but AUTH=LOGIN.
        let auth = LoginAuth { user: user.into(), password: password.into(), step: 0 };
        tokio::time::timeout(timeout, client.authenticate("LOGIN", auth)).await
    } else {
        return Err(peer.mechanism_unavailable(
            "the server offers neither AUTH=PLAIN, LOGIN nor AUTH=LOGIN on this connection",
        ));
    };
    let mut session = match login {
        Err(_) => return Err(peer.timeout("login", secs)),
        Ok(Ok(session)) => session,
        Ok(Err((e, _client))) => {
            return Err(match e {
                async_imap::error::Error::No(text) => {
                    let text = imap_wire::server_text(&text);
                    if imap_wire::says_unavailable(&text) {
                        peer.busy(text)
                    } else {
                        peer.auth_failed(user, text)
                    }
                }
                other => map_imap_error(peer, "login", other).0,
            });
        }
    };
    tracing::info!(tls, "IMAP login succeeded");

    let caps = match tokio::time::timeout(timeout, session.capabilities()).await {
        Err(_) => return Err(peer.timeout("CAPABILITY", secs)),
        Ok(Err(e)) => return Err(map_imap_error(peer, "CAPABILITY", e).0),
        Ok(Ok(c)) => Capabilities::from_async_imap(&c),
    };
    Ok((session, caps))
}
