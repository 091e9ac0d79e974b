//! Probing a profile's servers, shared by Test & Enable (one mailbox's
//! channels, with its credentials) and Test Connection (one profile's servers,
//! with or without a login): log in and look at INBOX or the maildrop, say
//! EHLO (and AUTH) to the SMTP server, PROPFIND the CalDAV/CardDAV URL.
//! Nothing is sent, stored or changed on a server. Each caller words the
//! result for its own report.

use std::time::Duration;

use crmsync_core::model::ProfileKind;
use crmsync_protocols::dav;
use crmsync_protocols::settings::{Password, ServerSettings};
use crmsync_protocols::{ImapClient, Pop3Client, ProtocolError, SmtpClient};

use crate::error::{EngineError, Result};

/// What an incoming server showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// IMAP: logged in and opened INBOX, which holds this many messages.
    Imap {
        /// Messages in INBOX.
        inbox: u32,
    },
    /// POP3: logged in; the maildrop holds this many messages.
    Pop3 {
        /// Messages in the maildrop.
        messages: u32,
    },
    /// Connected, secured and read the capabilities; no login was tried.
    Answered,
}

impl Incoming {
    /// What the login found, in the words both reports use.
    pub(crate) fn login_words(&self, user: &str) -> String {
        match self {
            Incoming::Imap { inbox } => format!("login as {user} and INBOX ({inbox} messages) OK"),
            Incoming::Pop3 { messages } => format!("login as {user} OK ({messages} messages)"),
            Incoming::Answered => "login not tested".into(),
        }
    }
}

/// The incoming protocol of a mail profile, as the reports name it.
pub(crate) fn incoming_proto(kind: ProfileKind) -> &'static str {
    if kind == ProfileKind::Pop3Smtp { "POP3" } else { "IMAP" }
}

/// Connects to the incoming server of a `kind` profile (TLS, STARTTLS or
/// plaintext as `s` says, refused without `allow_insecure`). With `login` it
/// logs in and looks at INBOX (IMAP) or the maildrop (POP3, ending with
/// QUIT, which must be answered); without, it reads the greeting and
/// capabilities and leaves.
pub(crate) async fn incoming(kind: ProfileKind, s: &ServerSettings, login: bool) -> Result<Incoming> {
    match kind {
        ProfileKind::Exchange => Err(EngineError::Unsupported(
            "Exchange (EWS) mailboxes are not supported by this version of crmsync".into(),
        )),
        ProfileKind::Pop3Smtp if login => {
            let mut c = Pop3Client::connect(s).await?;
            let st = c.stat().await?;
            c.quit().await?;
            Ok(Incoming::Pop3 { messages: st.messages })
        }
        ProfileKind::Pop3Smtp => {
            Pop3Client::probe(s).await?;
            Ok(Incoming::Answered)
        }
        ProfileKind::ImapSmtp if login => {
            let mut c = ImapClient::connect(s).await?;
            let st = c.select("INBOX").await?;
            let _ = c.logout().await;
            Ok(Incoming::Imap { inbox: st.exists })
        }
        ProfileKind::ImapSmtp => {
            ImapClient::probe(s).await?;
            Ok(Incoming::Answered)
        }
    }
}

/// Says EHLO to the SMTP server (with TLS or STARTTLS as `s` says) and, with
/// `login`, authenticates; sends nothing.
pub(crate) async fn outgoing(s: &ServerSettings, login: bool) -> Result<()> {
    SmtpClient::new(s, login)?.probe().await?;
    Ok(())
}

/// What a CalDAV/CardDAV server answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dav {
    /// It accepted the login.
    LoggedIn,
    /// No login was tried and it answered without asking for one.
    Answered,
    /// No login was tried and it asked for one: it answers, which is the check.
    AsksForLogin,
}

/// Applies the plaintext rule ([`dav::check_plaintext`]) to `url`, then asks
/// the server for the current user principal, as `login` (user, password)
/// when given.
pub(crate) async fn dav(
    url: &str,
    allow_insecure: bool,
    login: Option<(&str, &Password)>,
    timeout: Duration,
) -> Result<Dav> {
    dav::check_plaintext(url, allow_insecure)?;
    let (user, password) = login.map_or(("", ""), |(u, p)| (u, p.expose()));
    match dav::probe::probe(url, user, password, timeout, &[]).await {
        Ok(()) if login.is_some() => Ok(Dav::LoggedIn),
        Ok(()) => Ok(Dav::Answered),
        Err(ProtocolError::AuthFailed { .. }) if login.is_none() => Ok(Dav::AsksForLogin),
        Err(e) => Err(e.into()),
    }
}
