//! The one place a profile's kind is turned into its backends. Everything
//! else in the engine asks here: the pipelines for a mail source, sender,
//! Sent folder or item store, Test & Enable and Test Connection for the same
//! objects to probe, the admin API for what a kind of profile needs, and the
//! scheduler whether a source can be watched. A new backend is a new arm in
//! each `match` below and a file of its own beside this one.

use std::time::Duration;

use crmsync_core::Store;
use crmsync_core::model::{CredentialSource, Mailbox, OutgoingAuth, Profile, ProfileKind};
use crmsync_core::settings::{BoolSetting, IntSetting, Settings};
use crmsync_protocols::Proto;
use crmsync_protocols::dav::DavAuth;
use crmsync_protocols::settings::{Password, ServerSettings};

use super::capability::{ItemStore, MailSender, MailSource, SentItems};
use super::dav::DavItemStore;
use super::ews::{EwsSender, EwsSentItems, EwsSource, EwsTarget};
use super::graph_mail::{self, GraphConn, GraphSender, GraphSentItems, GraphSource};
use super::imap::{ImapSentItems, ImapSource};
use super::pop3::Pop3Source;
use super::smtp::SmtpSender;
use crate::connect;
use crate::error::{EngineError, Result};

/// What a kind of profile is made of, for the admin API's validation and the
/// scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindFacts {
    /// The protocol of its incoming server endpoint, when it has host/port endpoints.
    pub incoming_proto: Option<Proto>,
    /// It has an outgoing (SMTP) server endpoint.
    pub outgoing_endpoint: bool,
    /// It needs an EWS URL.
    pub ews_url: bool,
    /// Its mail server keeps appointments, contacts and tasks itself, so ACT
    /// needs no CalDAV/CardDAV URL.
    pub items_on_mail_server: bool,
    /// Its incoming source can push new mail (so it is watched, not only polled).
    pub can_watch: bool,
    /// It reaches Microsoft Graph (mail, sending and items over one HTTPS API,
    /// OAuth2 only): no host endpoints, an optional Graph URL.
    pub graph: bool,
    /// This version cannot sync it: why, in a sentence (the `NOT_SUPPORTED` message).
    pub unsupported: Option<&'static str>,
}

/// The facts of a kind of profile.
pub fn facts(kind: ProfileKind) -> KindFacts {
    match kind {
        ProfileKind::ImapSmtp => KindFacts {
            incoming_proto: Some(Proto::Imap),
            outgoing_endpoint: true,
            ews_url: false,
            items_on_mail_server: false,
            can_watch: true,
            graph: false,
            unsupported: None,
        },
        ProfileKind::Pop3Smtp => KindFacts {
            incoming_proto: Some(Proto::Pop3),
            outgoing_endpoint: true,
            ews_url: false,
            items_on_mail_server: false,
            can_watch: false,
            graph: false,
            unsupported: None,
        },
        ProfileKind::Exchange => KindFacts {
            incoming_proto: None,
            outgoing_endpoint: false,
            ews_url: true,
            items_on_mail_server: true,
            can_watch: false,
            graph: false,
            unsupported: None,
        },
        ProfileKind::Microsoft365 => KindFacts {
            incoming_proto: None,
            outgoing_endpoint: false,
            ews_url: false,
            items_on_mail_server: true,
            can_watch: false,
            graph: true,
            unsupported: None,
        },
    }
}

/// `NOT_SUPPORTED` for a kind this version cannot sync, naming what was asked.
fn refuse(profile: &Profile) -> Result<()> {
    match facts(profile.data.kind).unsupported {
        Some(why) => Err(EngineError::Unsupported(format!("profile '{}': {why}", profile.data.name))),
        None => Ok(()),
    }
}

fn missing(profile: &Profile, what: &str) -> EngineError {
    EngineError::Unsupported(format!("profile '{}' has no {what}", profile.data.name))
}

/// The incoming source of `mailbox`, logging in with its credentials.
pub fn mail_source(store: &Store, mailbox: &Mailbox, profile: &Profile) -> Result<Box<dyn MailSource>> {
    refuse(profile)?;
    if profile.data.kind == ProfileKind::Microsoft365 {
        return Ok(Box::new(GraphSource::new(graph_client(store, mailbox, profile)?)));
    }
    if profile.data.kind == ProfileKind::Exchange {
        return Ok(Box::new(EwsSource::new(EwsTarget::of(store, mailbox, profile)?)));
    }
    let ep = profile.data.incoming.as_ref().ok_or_else(|| missing(profile, "incoming server"))?;
    source_with(profile, connect::server_settings(store, mailbox, profile, ep)?)
}

/// The incoming source of `profile` reached with `settings` (Test Connection,
/// whose credentials may be typed for the test or absent).
pub fn source_with(profile: &Profile, settings: ServerSettings) -> Result<Box<dyn MailSource>> {
    refuse(profile)?;
    match profile.data.kind {
        ProfileKind::ImapSmtp => Ok(Box::new(ImapSource::new(settings))),
        ProfileKind::Pop3Smtp => Ok(Box::new(Pop3Source::new(settings))),
        ProfileKind::Exchange | ProfileKind::Microsoft365 => Err(missing(profile, "incoming server")),
    }
}

/// The Graph client of `mailbox` on a Microsoft 365 profile, with a fresh
/// access token (delegated: `/me`; app-only: `/users/{address}`).
pub fn graph_client(store: &Store, mailbox: &Mailbox, profile: &Profile) -> Result<GraphConn> {
    let token = connect::login(store, mailbox, profile)?.bearer.ok_or_else(|| {
        EngineError::invalid("auth", format!("profile '{}' does not sign in with OAuth2", profile.data.name))
    })?;
    graph_client_with(profile, &mailbox.data.email, token, connect::max_message_bytes(store)?)
}

/// The Graph client of `address` on `profile` using `token`.
pub fn graph_client_with(
    profile: &Profile,
    address: &str,
    token: Password,
    max_message: u64,
) -> Result<GraphConn> {
    let app_only = profile.data.credentials == CredentialSource::Profile;
    graph_mail::client(profile, address, app_only, token, max_message)
}

/// The EWS mail source of an Exchange `profile` logging in as `user`,
/// impersonating `mailbox` when given (Test Connection).
pub fn ews_source_with(
    profile: &Profile,
    user: &str,
    password: crmsync_protocols::settings::Password,
    mailbox: Option<String>,
) -> Box<dyn MailSource> {
    Box::new(EwsSource::new(EwsTarget::for_test(profile, user, password, mailbox)))
}

/// The sender of `mailbox`, logging in when the profile sends with a password.
/// `settings` gives the wait for the final reply after a message.
pub fn mail_sender(
    store: &Store,
    mailbox: &Mailbox,
    profile: &Profile,
    settings: &Settings,
) -> Result<Box<dyn MailSender>> {
    refuse(profile)?;
    if profile.data.kind == ProfileKind::Microsoft365 {
        return Ok(Box::new(GraphSender::new(graph_client(store, mailbox, profile)?)));
    }
    if profile.data.kind == ProfileKind::Exchange {
        return Ok(Box::new(EwsSender::new(EwsTarget::of(store, mailbox, profile)?)));
    }
    let s = connect::smtp_settings(store, mailbox, profile)?
        .ok_or_else(|| missing(profile, "outgoing server"))?;
    let final_wait =
        Duration::from_secs(settings.int(IntSetting::OutgoingFinalReplyTimeoutSecs).max(1) as u64);
    let login = profile.data.outgoing_auth == OutgoingAuth::Password;
    Ok(Box::new(SmtpSender::new(&s, login)?.with_final_reply_timeout(final_wait)))
}

/// The sender of `profile` reached with `settings`, logging in when `login`
/// (Test Connection).
pub fn sender_with(profile: &Profile, settings: &ServerSettings, login: bool) -> Result<Box<dyn MailSender>> {
    refuse(profile)?;
    match profile.data.kind {
        ProfileKind::ImapSmtp | ProfileKind::Pop3Smtp => Ok(Box::new(SmtpSender::new(settings, login)?)),
        ProfileKind::Exchange | ProfileKind::Microsoft365 => Err(missing(profile, "outgoing server")),
    }
}

/// Where `mailbox`'s sent mail is kept and looked up, when the profile has
/// such a place and `outgoing.save_to_sent`-independent lookups are possible:
/// the IMAP Sent folder of an IMAP + SMTP profile, Sent Items of a Microsoft
/// 365 mailbox (Graph files the copy itself); None for POP3 + SMTP.
pub fn sent_items(store: &Store, mailbox: &Mailbox, profile: &Profile) -> Result<Option<Box<dyn SentItems>>> {
    refuse(profile)?;
    match (profile.data.kind, &profile.data.incoming) {
        (ProfileKind::Microsoft365, _) => {
            Ok(Some(Box::new(GraphSentItems::new(graph_client(store, mailbox, profile)?))))
        }
        (ProfileKind::ImapSmtp, Some(ep)) => {
            let s = connect::server_settings(store, mailbox, profile, ep)?;
            Ok(Some(Box::new(ImapSentItems::new(s))))
        }
        (ProfileKind::Exchange, _) => {
            Ok(Some(Box::new(EwsSentItems::new(EwsTarget::of(store, mailbox, profile)?))))
        }
        _ => Ok(None),
    }
}

/// Whether copies of sent mail are filed for `profile` with these settings.
pub fn files_sent_copies(profile: &Profile, settings: &Settings) -> bool {
    profile.data.kind == ProfileKind::ImapSmtp && settings.bool(BoolSetting::OutgoingSaveToSent)
}

/// The item store (appointments, contacts, tasks) of `mailbox`, logging in
/// with its credentials.
pub fn item_store(store: &Store, mailbox: &Mailbox, profile: &Profile) -> Result<Box<dyn ItemStore>> {
    refuse(profile)?;
    if profile.data.kind == ProfileKind::Microsoft365 {
        let conn = graph_client(store, mailbox, profile)?;
        let granted = super::graph_mail::permissions_of(&conn.token);
        return Ok(Box::new(super::graph_items::GraphItems::new(conn.client)?.with_permissions(granted)));
    }
    if profile.data.kind == ProfileKind::Exchange {
        let client = EwsTarget::of(store, mailbox, profile)?
            .client_at_url()?
            .ok_or_else(|| missing(profile, "EWS URL (appointments, contacts and tasks need one)"))?;
        return Ok(Box::new(super::ews_items::EwsItems::new(client, &mailbox.data.email)));
    }
    let l = connect::login(store, mailbox, profile)?;
    let login = match l.bearer {
        Some(token) => DavAuth::Bearer { user: l.username, token },
        None => DavAuth::Basic { user: l.username, password: l.password },
    };
    let max_mb =
        crmsync_core::store::settings::load(store.conn())?.int(IntSetting::ActMaxResponseMb).max(1) as u64;
    store_with(profile, Some(login), max_mb)
}

/// The item store of `profile`, logging in as `login` when given (Test Connection).
pub fn store_with(profile: &Profile, login: Option<DavAuth>, max_mb: u64) -> Result<Box<dyn ItemStore>> {
    refuse(profile)?;
    let url = profile.data.dav_url.as_deref().ok_or_else(|| missing(profile, "CalDAV/CardDAV URL"))?;
    let timeout = Duration::from_secs(u64::from(profile.data.timeout));
    match profile.data.kind {
        ProfileKind::ImapSmtp | ProfileKind::Pop3Smtp => {
            Ok(Box::new(DavItemStore::new(url, profile.data.allow_insecure, login, timeout, max_mb)?))
        }
        ProfileKind::Exchange | ProfileKind::Microsoft365 => Err(missing(profile, "CalDAV/CardDAV URL")),
    }
}

#[cfg(test)]
mod tests {
    use crmsync_core::model::{CredentialSource, Endpoint, ProfileData, Security};
    use crmsync_protocols::settings::{DEFAULT_MAX_MESSAGE_BYTES, Password};

    use super::*;

    fn profile(kind: ProfileKind) -> Profile {
        let imap = Endpoint { host: "mail.example.test".into(), port: 993, security: Security::Tls };
        let smtp = Endpoint { host: "mail.example.test".into(), port: 465, security: Security::Tls };
        let exchange = kind == ProfileKind::Exchange;
        Profile {
            id: 1,
            data: ProfileData {
                name: "Office".into(),
                kind,
                incoming: (!exchange).then_some(imap),
                outgoing: (!exchange).then_some(smtp),
                outgoing_auth: OutgoingAuth::Password,
                ews_url: exchange.then(|| "https://mail.example.test/EWS/Exchange.asmx".into()),
                graph_url: None,
                dav_url: Some("https://dav.example.test/".into()),
                credentials: CredentialSource::Mailbox,
                username: None,
                max_connections: 4,
                min_poll_interval: 60,
                timeout: 30,
                process_from: None,
                allow_insecure: false,
                auth: Default::default(),
                oauth: None,
            },
            has_password: false,
            has_client_secret: false,
            created_on: chrono::Utc::now(),
            modified_on: chrono::Utc::now(),
        }
    }

    fn settings() -> ServerSettings {
        ServerSettings {
            host: "mail.example.test".into(),
            port: 993,
            security: Security::Tls,
            allow_insecure: false,
            username: "alice".into(),
            password: Password::new("secret"),
            bearer: None,
            authzid: None,
            timeout: Duration::from_secs(30),
            extra_roots: Vec::new(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            op_deadline: Duration::from_secs(60),
        }
    }

    fn code<T>(r: Result<T>) -> String {
        match r {
            Ok(_) => "OK".into(),
            Err(e) => e.code(),
        }
    }

    #[test]
    fn each_mail_kind_gets_the_source_of_its_incoming_protocol() {
        let imap = source_with(&profile(ProfileKind::ImapSmtp), settings()).unwrap();
        assert_eq!(imap.describe(), "IMAP mail.example.test:993");
        let pop3 = source_with(&profile(ProfileKind::Pop3Smtp), settings()).unwrap();
        assert_eq!(pop3.describe(), "POP3 mail.example.test:993");
        let smtp = sender_with(&profile(ProfileKind::ImapSmtp), &settings(), true).unwrap();
        assert_eq!((smtp.describe().as_str(), smtp.login()), ("SMTP mail.example.test:993", Some("alice")));
        let dav = store_with(&profile(ProfileKind::Pop3Smtp), None, 1).unwrap();
        assert_eq!(dav.describe(), "CalDAV/CardDAV https://dav.example.test/");
    }

    #[test]
    fn an_exchange_profile_keeps_mail_and_items_on_its_exchange_server() {
        let ex = profile(ProfileKind::Exchange);
        let f = facts(ProfileKind::Exchange);
        assert!(f.unsupported.is_none() && f.ews_url && f.items_on_mail_server);
        // No CalDAV/CardDAV store for it: its items come through EWS (item_store).
        let err = store_with(&ex, None, 1).err().expect("refused");
        assert!(err.to_string().contains("profile 'Office'"), "{err}");
    }

    #[test]
    fn a_plaintext_dav_url_is_refused_unless_the_profile_allows_it() {
        let mut p = profile(ProfileKind::ImapSmtp);
        p.data.dav_url = Some("http://dav.example.test/".into());
        assert_eq!(code(store_with(&p, None, 1)), "PLAINTEXT_REFUSED");
        p.data.allow_insecure = true;
        assert_eq!(code(store_with(&p, None, 1)), "OK");
    }

    #[test]
    fn only_a_source_that_can_push_is_watched_and_every_unsupported_kind_says_why() {
        for kind in [ProfileKind::ImapSmtp, ProfileKind::Pop3Smtp, ProfileKind::Exchange] {
            let f = facts(kind);
            assert_eq!(f.can_watch, kind == ProfileKind::ImapSmtp, "{kind}");
            assert_eq!(f.incoming_proto.is_some(), f.outgoing_endpoint, "{kind}: mail hosts come in pairs");
            assert!(
                f.unsupported.is_some() || f.incoming_proto.is_some() || f.ews_url,
                "{kind}: a supported kind has servers"
            );
        }
    }
}
