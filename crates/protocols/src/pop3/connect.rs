//! Opening a POP3 session: TCP, implicit TLS or STLS (RFC 2595), the greeting
//! and CAPA, then the login: SASL OAUTHBEARER or XOAUTH2 with an OAuth2
//! token, SASL PLAIN (with an authorization identity for a service account),
//! SASL LOGIN or USER/PASS.

use super::exec::{Op, err_reply, exchange, expect_ok, fetch_capa};
use super::wire::{self, Pop3Capabilities, Reply, RespCode};
use crate::error::{Proto, ProtocolError, Result};
use crate::peer::Peer;
use crate::sasl;
use crate::settings::Pop3Settings;
use crate::transport::{self, LineStream, Stream};
use crmsync_core::model::Security;

/// Connects and secures the connection, reading the greeting and CAPA; stops before login.
pub(super) async fn secure(
    settings: &Pop3Settings,
    peer: &Peer,
    op: Op,
) -> Result<(LineStream, Pop3Capabilities)> {
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
            transport::tls_handshake(&peer, tcp, config, transport::deadline(settings.timeout), secs).await?;
        lines = LineStream::new(tls);
        // RFC 2595: capabilities learnt before TLS must be discarded.
        caps = fetch_capa(&mut lines, &peer, op).await?;
    }
    if !lines.is_tls() && !settings.allow_insecure {
        return Err(peer.plaintext_refused());
    }
    Ok((lines, caps))
}

/// A login under way on a secured connection.
pub(super) struct Login<'a> {
    /// The connection, past the greeting and CAPA.
    pub lines: &'a mut LineStream,
    /// The server.
    pub peer: &'a Peer,
    /// The clock of the connect-and-login operation.
    pub op: Op,
    /// The user name.
    pub user: &'a str,
    /// What CAPA announced.
    pub caps: &'a Pop3Capabilities,
}

impl Login<'_> {
    async fn exchange(&mut self, line: Option<&[u8]>, label: &str) -> Result<Reply> {
        exchange(self.lines, self.peer, self.op, line, label).await
    }

    fn error(&self, code: Option<RespCode>, text: String) -> ProtocolError {
        match code {
            Some(RespCode::InUse) => ProtocolError::MailboxInUse {
                proto: Proto::Pop3,
                host: self.peer.host.clone(),
                port: self.peer.port,
                user: self.user.to_string(),
                detail: text,
            },
            Some(RespCode::SysTemp) | Some(RespCode::LoginDelay) => self.peer.busy(text),
            _ => self.peer.auth_failed(self.user, text),
        }
    }

    /// `AUTH mechanism`, with the initial response on the command line when
    /// the line stays within RFC 5034's 255 octets, else after the first `+`.
    /// Returns the reply to the (initial) response.
    async fn auth(&mut self, mechanism: &str, initial: String) -> Result<Reply> {
        let (command, pending) = if initial.len() + mechanism.len() + 8 <= 255 {
            (format!("AUTH {mechanism} {initial}\r\n"), None)
        } else {
            (format!("AUTH {mechanism}\r\n"), Some(initial))
        };
        let label = format!("AUTH {mechanism}");
        let mut reply = self.exchange(Some(command.as_bytes()), &label).await?;
        if let (Reply::Continue(_), Some(pending)) = (&reply, pending) {
            let line = format!("{pending}\r\n");
            reply = self.exchange(Some(line.as_bytes()), &label).await?;
        }
        Ok(reply)
    }

    /// Logs in with an OAuth2 access token: SASL OAUTHBEARER when CAPA lists
    /// it, else XOAUTH2. A refused token is `OAUTH_TOKEN_REFUSED` with the
    /// server's decoded error challenge.
    pub(super) async fn run_bearer(mut self, token: &str) -> Result<()> {
        let Some(mechanism) = sasl::Bearer::choose(|m| self.caps.has_sasl(m)) else {
            return Err(self.peer.mechanism_unavailable(
                "the server offers neither SASL OAUTHBEARER nor XOAUTH2, needed to log in with an OAuth2 token",
            ));
        };
        let initial = mechanism.initial_response(self.user, token, &self.peer.host, self.peer.port);
        let mut reply = self.auth(mechanism.name(), sasl::encode(&initial)).await?;
        let mut challenge = None;
        if let Reply::Continue(b64) = &reply {
            // The error challenge: answer it so the server ends with -ERR.
            challenge = Some(sasl::describe_base64_challenge(b64));
            let line = format!("{}\r\n", mechanism.error_answer_line());
            reply = self.exchange(Some(line.as_bytes()), "AUTH").await?;
        }
        match reply {
            Reply::Ok(_) => Ok(()),
            Reply::Err {
                code: Some(c @ (RespCode::InUse | RespCode::SysTemp | RespCode::LoginDelay)),
                text,
            } => Err(self.error(Some(c), text)),
            Reply::Err { text, .. } => {
                Err(self.peer.token_refused(self.user, sasl::refusal(&text, challenge.as_deref())))
            }
            Reply::Continue(_) => {
                let _ = self.exchange(Some(b"*\r\n"), "AUTH").await;
                Err(self.peer.protocol(format!("AUTH {}: unexpected second challenge", mechanism.name())))
            }
        }
    }

    /// Logs in as `self.user` on behalf of `authzid` with SASL PLAIN (RFC
    /// 4616's authorization identity); there is no other way to do it.
    pub(super) async fn run_on_behalf(mut self, authzid: &str, password: &str) -> Result<()> {
        if !self.caps.has_sasl("PLAIN") {
            return Err(self.peer.mechanism_unavailable(format!(
                "the server does not offer SASL PLAIN, needed to log in as {} on behalf of {authzid}",
                self.user
            )));
        }
        let initial = sasl::encode(&sasl::plain(Some(authzid), self.user, password));
        match self.auth("PLAIN", initial).await? {
            Reply::Ok(_) => Ok(()),
            Reply::Err {
                code: Some(c @ (RespCode::InUse | RespCode::SysTemp | RespCode::LoginDelay)),
                text,
            } => Err(self.error(Some(c), text)),
            Reply::Err { text, .. } => {
                Err(self.peer.auth_failed(self.user, sasl::on_behalf_refusal(self.user, authzid, &text)))
            }
            Reply::Continue(_) => {
                let _ = self.exchange(Some(b"*\r\n"), "AUTH PLAIN").await;
                Err(self.peer.protocol("AUTH PLAIN: unexpected challenge"))
            }
        }
    }

    /// Logs in: SASL PLAIN when CAPA lists it, else SASL LOGIN when listed,
    /// else USER/PASS.
    pub(super) async fn run(mut self, password: &str) -> Result<()> {
        if self.caps.has_sasl("PLAIN") {
            let initial = wire::sasl_plain(self.user, password);
            // RFC 5034: keep the command within 255 octets; longer responses go after "+".
            let (command, pending) = if initial.len() <= 240 {
                (format!("AUTH PLAIN {initial}\r\n"), None)
            } else {
                ("AUTH PLAIN\r\n".to_string(), Some(initial))
            };
            let mut reply = self.exchange(Some(command.as_bytes()), "AUTH PLAIN").await?;
            if let (Reply::Continue(_), Some(pending)) = (&reply, pending) {
                let line = format!("{pending}\r\n");
                reply = self.exchange(Some(line.as_bytes()), "AUTH PLAIN").await?;
            }
            return match reply {
                Reply::Ok(_) => Ok(()),
                Reply::Err { code, text } => Err(self.error(code, text)),
                Reply::Continue(_) => {
                    // Cancel the exchange (RFC 5034 "*") so the server ends it cleanly.
                    let _ = self.exchange(Some(b"*\r\n"), "AUTH PLAIN").await;
                    Err(self.peer.protocol("AUTH PLAIN: unexpected challenge"))
                }
            };
        }
        if self.caps.has_sasl("LOGIN") {
            return self.sasl_login(password).await;
        }
        if !wire::is_safe_argument(password) {
            return Err(self.peer.invalid("the password contains line breaks"));
        }
        // USER/PASS: advertised by CAPA USER, and tried anyway on servers without CAPA.
        let command = format!("USER {}\r\n", self.user);
        match self.exchange(Some(command.as_bytes()), "USER").await? {
            Reply::Ok(_) => {}
            Reply::Err { code, text } if code.is_some() || self.caps.user => {
                return Err(self.error(code, text));
            }
            Reply::Err { text, .. } => {
                return Err(self
                    .peer
                    .mechanism_unavailable(format!("no SASL PLAIN and USER was refused: {text}")));
            }
            Reply::Continue(_) => return Err(self.peer.protocol("USER: unexpected continuation")),
        }
        let command = format!("PASS {password}\r\n");
        match self.exchange(Some(command.as_bytes()), "PASS").await? {
            Reply::Ok(_) => Ok(()),
            Reply::Err { code, text } => Err(self.error(code, text)),
            Reply::Continue(_) => Err(self.peer.protocol("PASS: unexpected continuation")),
        }
    }

    /// SASL LOGIN: base64 user name and password, each after a `+` challenge. Dovecot
    /// without the PLAIN mechanism refuses USER/PASS but offers this.
    async fn sasl_login(mut self, password: &str) -> Result<()> {
        use base64::Engine as _;
        let b64 = |s: &str| format!("{}\r\n", base64::engine::general_purpose::STANDARD.encode(s));
        let mut reply = self.exchange(Some(b"AUTH LOGIN\r\n"), "AUTH LOGIN").await?;
        for secret in [b64(self.user), b64(password)] {
            match reply {
                Reply::Continue(_) => reply = self.exchange(Some(secret.as_bytes()), "AUTH LOGIN").await?,
                _ => break,
            }
        }
        match reply {
            Reply::Ok(_) => Ok(()),
            Reply::Err { code, text } => Err(self.error(code, text)),
            Reply::Continue(_) => {
                let _ = self.exchange(Some(b"*\r\n"), "AUTH LOGIN").await;
                Err(self.peer.protocol("AUTH LOGIN: unexpected challenge"))
            }
        }
    }
}
