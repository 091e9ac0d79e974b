//! Test Connection for an email server profile: connect to each server the
//! profile names (incoming IMAP or POP3, outgoing SMTP, CalDAV/CardDAV) and
//! report one row per server. Without credentials it checks that the server
//! answers, that TLS (implicit or STARTTLS) works with a trusted certificate
//! and that the greeting and capabilities make sense; with credentials it also
//! logs in. Nothing is sent or changed on the servers and the password typed
//! for the test is never kept; the result is kept on the profile
//! (`last_test_*`, shown with it).

use std::time::{Duration, Instant};

use crmsync_core::model::{CredentialSource, Endpoint, OutgoingAuth, Profile, Security};
use crmsync_core::secrets::Secret;
use crmsync_core::store::{mailboxes as stored_mailboxes, profiles as stored_profiles};
use crmsync_core::{Store, hints};
use crmsync_protocols::dav::{DavAuth, DavEndpoint};
use crmsync_protocols::graph::GRAPH_ROOT;
use crmsync_protocols::settings::{Password, ServerSettings};
use serde::Serialize;

use super::profiles::show;
use crate::backend::graph_mail::{GraphSender, GraphSource};
use crate::backend::{ItemStore, MailSender, MailSource, StoreAnswer, factory};
use crate::error::{EngineError, Result};
use crate::{connect, oauth};

/// A probe reads one small answer; this bounds it.
const MAX_PROBE_RESPONSE_MB: u64 = 1;

/// A protocol as the report's `proto` column names it.
fn proto_name(p: crmsync_protocols::Proto) -> &'static str {
    match p {
        crmsync_protocols::Proto::Imap => "IMAP",
        crmsync_protocols::Proto::Pop3 => "POP3",
        crmsync_protocols::Proto::Smtp => "SMTP",
        crmsync_protocols::Proto::Dav => "DAV",
        crmsync_protocols::Proto::Ews => "EWS",
        crmsync_protocols::Proto::Graph => "Graph",
    }
}

/// The result of testing one server of a profile.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServerCheck {
    /// IMAP, POP3, SMTP, DAV or EWS.
    pub proto: String,
    /// What the server is for: incoming, outgoing or act.
    pub role: String,
    /// Host name or address as configured.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Transport security (a DAV URL's https is tls, http is none).
    pub security: Security,
    /// Whether the check passed.
    pub ok: bool,
    /// Whether a login was part of the check.
    pub login: bool,
    /// Error code on failure (the same codes as alerts and Test & Enable).
    pub code: Option<String>,
    /// What happened, in words.
    pub message: String,
    /// What to do about a failure.
    pub hint: Option<String>,
    /// What the admin does about the failure, if anything; each front end words it.
    pub action: Option<hints::Action>,
    /// How long the check took, milliseconds.
    pub elapsed_ms: u32,
}

/// The result of Test Connection for one profile.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConnectionTest {
    /// Profile name.
    pub profile: String,
    /// True when every server passed.
    pub ok: bool,
    /// The user name the test logged in as; none when only the connection
    /// (reachability, TLS, greeting) was checked.
    pub login_as: Option<String>,
    /// One row per configured server.
    pub servers: Vec<ServerCheck>,
}

/// The user name and password (or OAuth2 access token) to log in with.
struct Login {
    user: String,
    password: Password,
    bearer: Option<Password>,
    authzid: Option<String>,
}

impl Login {
    fn password(user: String, password: Password) -> Login {
        Login { user, password, bearer: None, authzid: None }
    }
}

/// How a test logs in.
enum Plan {
    /// With these credentials.
    Login(Login),
    /// Not at all: only the connection is checked; the words say why, in the
    /// rows of the servers that would have logged in.
    ConnectOnly(String),
    /// The login could not be prepared (the OAuth2 token could not be had):
    /// each server that would log in reports this code and message.
    Refused { code: String, message: String },
}

/// What the rows say when no login was tried.
const NOT_TESTED: &str = "login not tested";

/// Which credentials a test uses: the ones the admin typed for this test, else
/// `mailbox`'s stored sign-in, else the profile's own stored credentials
/// (credentials = profile; for app-only OAuth2, the profile's token as its
/// first mailbox), else none.
fn plan(
    store: &Store,
    profile: &Profile,
    typed: Option<(String, Secret)>,
    mailbox: Option<&str>,
) -> Result<Plan> {
    if let Some((user, secret)) = typed {
        if mailbox.is_some() {
            return Err(EngineError::invalid(
                "mailbox",
                "give either a mailbox or a user name with a password, not both",
            ));
        }
        let user = user.trim().to_string();
        if user.is_empty() {
            return Err(EngineError::invalid("username", "must not be empty when a password is given"));
        }
        if secret.expose().is_empty() {
            return Err(EngineError::invalid("password", "must not be empty when a user name is given"));
        }
        return Ok(Plan::Login(Login::password(user, Password::new(secret.expose()))));
    }
    if let Some(email) = mailbox {
        return mailbox_plan(store, profile, email);
    }
    if oauth::uses_oauth(profile) {
        if profile.data.credentials == CredentialSource::Profile {
            return match stored_mailboxes::emails_using_profile(store.conn(), profile.id)?.first() {
                Some(email) => mailbox_plan(store, profile, email),
                None => Ok(Plan::ConnectOnly(format!(
                    "{NOT_TESTED}: no mailbox uses this profile yet (its app-only token logs in as a mailbox's address)"
                ))),
            };
        }
        return Ok(Plan::ConnectOnly(format!(
            "{NOT_TESTED}: no mailbox is signed in for this test (give the address of a signed-in mailbox, --mailbox EMAIL)"
        )));
    }
    if profile.data.credentials != CredentialSource::Profile || !profile.has_password {
        return Ok(Plan::ConnectOnly(NOT_TESTED.into()));
    }
    let (Some(user), Some(enc)) =
        (profile.data.username.clone(), stored_profiles::password_enc(store.conn(), profile.id)?)
    else {
        return Ok(Plan::ConnectOnly(NOT_TESTED.into()));
    };
    let secret = store.cipher()?.open(&enc)?;
    Ok(Plan::Login(Login::password(user, Password::new(secret.expose()))))
}

/// The login of mailbox `email` of `profile`, as its syncs log in: its
/// password, or a fresh OAuth2 access token (renewed and stored first when it
/// is about to expire).
fn mailbox_plan(store: &Store, profile: &Profile, email: &str) -> Result<Plan> {
    let mb = stored_mailboxes::find(store.conn(), email)?
        .ok_or_else(|| EngineError::invalid("mailbox", format!("no mailbox {email}")))?;
    if mb.data.profile_id != profile.id {
        return Err(EngineError::invalid(
            "mailbox",
            format!("mailbox {email} does not use profile '{}'", profile.data.name),
        ));
    }
    if let Some(status) = oauth::status(store, &mb)?
        && !status.signed_in
        && !status.app_only
    {
        return Ok(Plan::ConnectOnly(format!(
            "{NOT_TESTED}: mailbox {email} is not signed in (crmsync mailbox sign-in {email})"
        )));
    }
    Ok(match connect::login(store, &mb, profile) {
        Ok(l) => Plan::Login(Login {
            user: l.username,
            password: l.password,
            bearer: l.bearer,
            authzid: l.authzid,
        }),
        Err(e) => Plan::Refused { code: e.code(), message: e.to_string() },
    })
}

fn settings(profile: &Profile, ep: &Endpoint, login: Option<&Login>) -> ServerSettings {
    ServerSettings {
        host: ep.host.clone(),
        port: ep.port,
        security: ep.security,
        allow_insecure: profile.data.allow_insecure,
        username: login.map(|l| l.user.clone()).unwrap_or_default(),
        password: login.map_or_else(|| Password::new(""), |l| l.password.clone()),
        bearer: login.and_then(|l| l.bearer.clone()),
        authzid: login.and_then(|l| l.authzid.clone()),
        timeout: Duration::from_secs(u64::from(profile.data.timeout)),
        extra_roots: Vec::new(),
        max_message_bytes: crmsync_protocols::settings::DEFAULT_MAX_MESSAGE_BYTES,
        op_deadline: crate::connect::op_deadline(Duration::from_secs(u64::from(profile.data.timeout))),
    }
}

/// One server to check, before the check.
struct Target {
    proto: &'static str,
    role: &'static str,
    host: String,
    port: u16,
    security: Security,
    login: bool,
}

impl Target {
    fn endpoint(proto: &'static str, role: &'static str, ep: &Endpoint, login: bool) -> Target {
        Target { proto, role, host: ep.host.clone(), port: ep.port, security: ep.security, login }
    }

    fn finish(self, started: Instant, outcome: std::result::Result<String, EngineError>) -> ServerCheck {
        self.report(started, outcome.map_err(|e| (e.code(), e.to_string())))
    }

    /// The row for an outcome given as words, or as an error's code and message.
    fn report(self, started: Instant, outcome: std::result::Result<String, (String, String)>) -> ServerCheck {
        let elapsed_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        let (ok, code, message, hint, action) = match outcome {
            Ok(message) => (true, None, message, None, None),
            Err((code, message)) => {
                (false, Some(code.clone()), message, Some(hints::hint(&code)), hints::action(&code))
            }
        };
        ServerCheck {
            proto: self.proto.into(),
            role: self.role.into(),
            host: self.host,
            port: self.port,
            security: self.security,
            ok,
            login: self.login,
            code,
            message,
            hint,
            action,
            elapsed_ms,
        }
    }
}

fn how(security: Security) -> &'static str {
    match security {
        Security::Tls => "over TLS",
        Security::Starttls => "after STARTTLS",
        Security::None => "without encryption",
    }
}

async fn check_incoming(
    source: Result<Box<dyn MailSource>>,
    s: ServerSettings,
    login: bool,
    not_tested: String,
) -> Result<String> {
    let source = source?;
    let found = source.probe(login).await?;
    let words = if login { found.login_words(&s.username) } else { not_tested };
    Ok(format!("{} answered {}; {words}", source.describe(), how(s.security)))
}

async fn check_outgoing(
    sender: Result<Box<dyn MailSender>>,
    s: ServerSettings,
    login: bool,
    not_tested: String,
) -> Result<String> {
    let sender = sender?;
    sender.probe().await?;
    let who = if login { format!("login as {} OK", s.username) } else { not_tested };
    Ok(format!("{} answered EHLO {}; {who} (nothing sent)", sender.describe(), how(s.security)))
}

async fn check_store(
    items: Result<Box<dyn ItemStore>>,
    user: Option<String>,
    not_tested: String,
) -> Result<String> {
    let items = items?;
    let what = items.describe();
    Ok(match items.probe().await? {
        StoreAnswer::LoggedIn => format!("{what} login as {} OK", user.unwrap_or_default()),
        StoreAnswer::Answered => format!("{what} answered; {not_tested}"),
        StoreAnswer::AsksForLogin => format!("{what} answered and asks for a login; {not_tested}"),
    })
}

/// One Microsoft Graph row: without a login, that the service answers; with
/// the mailbox's token, that it is accepted, the mailbox is reachable and the
/// token carries what the role needs (Mail.Read and Mail.ReadWrite for
/// incoming mail, Mail.Send for outgoing). `token` is None without a login,
/// `Some(None)` for a typed password (Graph takes none).
async fn check_graph(
    profile: &Profile,
    role: &str,
    user: String,
    token: Option<Option<Password>>,
    not_tested: String,
) -> Result<String> {
    let max = crmsync_protocols::settings::DEFAULT_MAX_MESSAGE_BYTES;
    let token = match token {
        None => None,
        Some(Some(t)) => Some(t),
        Some(None) => {
            return Err(EngineError::invalid(
                "password",
                "Microsoft Graph signs in with OAuth2 only; test with a signed-in mailbox (--mailbox EMAIL)",
            ));
        }
    };
    let logs_in = token.is_some();
    let conn = factory::graph_client_with(profile, &user, token.unwrap_or_else(|| Password::new("")), max)?;
    let source = GraphSource::new(conn.clone());
    let what = source.describe();
    if !logs_in {
        source.probe(false).await?;
        return Ok(format!("{what} answered over TLS; {not_tested}"));
    }
    if role == "incoming" {
        let found = source.probe(true).await?;
        let messages = match found {
            crate::backend::Incoming::Mailbox { messages } => messages,
            _ => 0,
        };
        Ok(format!(
            "{what}: token accepted; mailbox {user} reachable, Inbox ({messages} messages); Mail.Read and Mail.ReadWrite granted"
        ))
    } else {
        GraphSender::new(conn).probe().await?;
        Ok(format!("{what}: token accepted; mailbox {user} reachable; Mail.Send granted (nothing sent)"))
    }
}

/// The host, port and security of a DAV (or EWS) URL.
fn dav_target(url: &str, login: bool) -> Target {
    let DavEndpoint { tls, host, port } = DavEndpoint::parse(url);
    let security = if tls { Security::Tls } else { Security::None };
    Target { proto: "DAV", role: "act", host, port, security, login }
}

/// A Test Connection ready to run: the servers to check and how, read from the
/// store, so the network part needs no store (the desktop runs it off its
/// store thread).
pub struct PreparedTest {
    profile: String,
    login_as: Option<String>,
    checks: Vec<futures::future::BoxFuture<'static, ServerCheck>>,
}

impl std::fmt::Debug for PreparedTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedTest")
            .field("profile", &self.profile)
            .field("login_as", &self.login_as)
            .field("servers", &self.checks.len())
            .finish()
    }
}

/// Reads profile `name` and the credentials to use; see [`test_connection`].
pub fn prepare(store: &Store, name: &str, credentials: Option<(String, Secret)>) -> Result<PreparedTest> {
    prepare_as(store, name, credentials, None)
}

/// [`prepare`], logging in as mailbox `mailbox` of the profile with its stored
/// sign-in (password or OAuth2 token) when given; see [`test_connection_as`].
pub fn prepare_as(
    store: &Store,
    name: &str,
    credentials: Option<(String, Secret)>,
    mailbox: Option<&str>,
) -> Result<PreparedTest> {
    let profile = show(store, name)?;
    let plan = plan(store, &profile, credentials, mailbox)?;
    let (login, not_tested, refused) = match plan {
        Plan::Login(l) => (Some(l), NOT_TESTED.to_string(), None),
        Plan::ConnectOnly(why) => (None, why, None),
        Plan::Refused { code, message } => (None, NOT_TESTED.to_string(), Some((code, message))),
    };
    let d = &profile.data;
    let mut checks: Vec<futures::future::BoxFuture<'static, ServerCheck>> = Vec::new();
    // A login that could not be prepared fails each server that would log in, unasked.
    let refuse = |t: Target, checks: &mut Vec<futures::future::BoxFuture<'static, ServerCheck>>| {
        let (code, message) = refused.clone().unwrap_or_default();
        checks.push(Box::pin(async move { t.report(Instant::now(), Err((code, message))) }));
    };

    if let Some(why) = factory::facts(d.kind).unsupported {
        let url = d.ews_url.clone().unwrap_or_default();
        let mut t = dav_target(&url, false);
        (t.proto, t.role) = ("EWS", "incoming");
        let e = EngineError::Unsupported(format!("{url} cannot be tested: {why}"));
        checks.push(Box::pin(async move { t.finish(Instant::now(), Err(e)) }));
    }
    if factory::facts(d.kind).ews_url {
        let url = d.ews_url.clone().unwrap_or_else(|| "autodiscover".into());
        let mut t = dav_target(&url, login.is_some() || refused.is_some());
        (t.proto, t.role) = ("EWS", "mail");
        if refused.is_some() {
            refuse(t, &mut checks);
        } else {
            let source = login.as_ref().map(|l| {
                let mailbox = l.authzid.clone().filter(|a| a.contains('@'));
                factory::ews_source_with(&profile, &l.user, l.password.clone(), mailbox)
            });
            let (user, not_tested) = (login.as_ref().map(|l| l.user.clone()), not_tested.clone());
            checks.push(Box::pin(async move {
                let started = Instant::now();
                let outcome = match (source, user) {
                    (Some(source), Some(user)) => match source.probe(true).await {
                        Ok(found) => Ok(format!("{} {}", source.describe(), found.login_words(&user))),
                        Err(e) => Err(e),
                    },
                    _ => Ok(format!("EWS {url}: {not_tested}")),
                };
                t.finish(started, outcome)
            }));
        }
    }
    if let (Some(ep), Some(proto)) = (&d.incoming, factory::facts(d.kind).incoming_proto) {
        let t = Target::endpoint(proto_name(proto), "incoming", ep, login.is_some() || refused.is_some());
        if refused.is_some() {
            refuse(t, &mut checks);
        } else {
            let (s, logs_in) = (settings(&profile, ep, login.as_ref()), login.is_some());
            let source = factory::source_with(&profile, s.clone());
            let not_tested = not_tested.clone();
            checks.push(Box::pin(async move {
                let started = Instant::now();
                t.finish(started, check_incoming(source, s, logs_in, not_tested).await)
            }));
        }
    }
    if let Some(ep) = &d.outgoing {
        let sends_auth = d.outgoing_auth == OutgoingAuth::Password;
        let logs_in = login.is_some() && sends_auth;
        let t = Target::endpoint("SMTP", "outgoing", ep, logs_in || (refused.is_some() && sends_auth));
        if refused.is_some() && sends_auth {
            refuse(t, &mut checks);
        } else {
            let s = settings(&profile, ep, login.as_ref());
            let sender = factory::sender_with(&profile, &s, logs_in);
            let not_tested = not_tested.clone();
            checks.push(Box::pin(async move {
                let started = Instant::now();
                t.finish(started, check_outgoing(sender, s, logs_in, not_tested).await)
            }));
        }
    }
    if factory::facts(d.kind).graph {
        let url = d.graph_url.clone().unwrap_or_else(|| GRAPH_ROOT.to_string());
        for role in ["incoming", "outgoing"] {
            let mut t = dav_target(&url, login.is_some() || refused.is_some());
            (t.proto, t.role) = ("Graph", role);
            if refused.is_some() {
                refuse(t, &mut checks);
                continue;
            }
            let user = login.as_ref().map(|l| l.user.clone()).unwrap_or_default();
            let token = login.as_ref().map(|l| l.bearer.clone());
            let not_tested = not_tested.clone();
            let profile = profile.clone();
            checks.push(Box::pin(async move {
                let started = Instant::now();
                t.finish(started, check_graph(&profile, role, user, token, not_tested).await)
            }));
        }
    }
    if let Some(url) = &d.dav_url {
        let t = dav_target(url, login.is_some() || refused.is_some());
        if refused.is_some() {
            refuse(t, &mut checks);
        } else {
            let creds = login.as_ref().map(|l| match &l.bearer {
                Some(token) => DavAuth::Bearer { user: l.user.clone(), token: token.clone() },
                None => DavAuth::Basic { user: l.user.clone(), password: l.password.clone() },
            });
            let user = creds.as_ref().map(|a| a.user().to_string());
            let items = factory::store_with(&profile, creds, MAX_PROBE_RESPONSE_MB);
            checks.push(Box::pin(async move {
                let started = Instant::now();
                t.finish(started, check_store(items, user, not_tested).await)
            }));
        }
    }
    Ok(PreparedTest { profile: d.name.clone(), login_as: login.map(|l| l.user), checks })
}

impl PreparedTest {
    /// Checks every server. They are independent, so they are tested at once:
    /// one that does not answer costs one timeout, not one per server.
    pub async fn run(self) -> ConnectionTest {
        let servers = futures::future::join_all(self.checks).await;
        ConnectionTest {
            profile: self.profile,
            ok: servers.iter().all(|s| s.ok),
            login_as: self.login_as,
            servers,
        }
    }
}

impl ConnectionTest {
    /// One entry per server, e.g. `IMAP 127.0.0.1:993 ok; SMTP 127.0.0.1:587
    /// CONNECTION_REFUSED: ...` (what [`record`] keeps).
    pub fn summary(&self) -> String {
        let login = match &self.login_as {
            Some(user) => format!("login as {user}"),
            None => "connection only".into(),
        };
        let servers: Vec<String> = self
            .servers
            .iter()
            .map(|s| {
                let what = format!("{} {} {}:{}", s.role, s.proto, s.host, s.port);
                match (&s.code, s.ok) {
                    (_, true) => format!("{what} ok"),
                    (Some(code), false) => format!("{what} {code}: {}", s.message),
                    (None, false) => format!("{what} failed: {}", s.message),
                }
            })
            .collect();
        format!("{login}; {}", servers.join("; "))
    }
}

/// Keeps the result of a Test Connection on its profile (when, whether every
/// server passed, what each said), shown with the profile; the CLI and the
/// desktop call this after each run.
pub fn record(store: &mut Store, report: &ConnectionTest) -> Result<()> {
    let profile = stored_profiles::get(store.conn(), &report.profile)?;
    let summary = report.summary();
    store.write(|tx| stored_profiles::record_test(tx, profile.id, report.ok, &summary))?;
    Ok(())
}

/// Tests the connection to every server of profile `name` and keeps the
/// result on the profile ([`record`]). With `credentials` (a user name and a
/// password typed for this test, never stored) it also logs in; without them
/// it uses the profile's own stored credentials when it has them
/// (credentials = profile), else it checks the connection only.
pub async fn test_connection(
    store: &mut Store,
    name: &str,
    credentials: Option<(String, Secret)>,
) -> Result<ConnectionTest> {
    test_connection_as(store, name, credentials, None).await
}

/// [`test_connection`] logging in as mailbox `mailbox` of the profile (when
/// given) the way its syncs do: with its password, or for an OAuth2 profile
/// with its access token (renewed and stored first when it is about to
/// expire). A mailbox that is not signed in gets the connection checked and
/// rows saying the login was not tested and why; a token that cannot be had
/// (the renewal was refused) fails each server that would have logged in.
pub async fn test_connection_as(
    store: &mut Store,
    name: &str,
    credentials: Option<(String, Secret)>,
    mailbox: Option<&str>,
) -> Result<ConnectionTest> {
    let report = prepare_as(store, name, credentials, mailbox)?.run().await;
    record(store, &report)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dav_url_gives_its_host_port_and_security() {
        let t = dav_target("https://dav.example.com/remote.php/dav", true);
        assert_eq!((t.host.as_str(), t.port, t.security), ("dav.example.com", 443, Security::Tls));
        let t = dav_target("http://127.0.0.1:5232/", false);
        assert_eq!((t.host.as_str(), t.port, t.security), ("127.0.0.1", 5232, Security::None));
    }

    #[test]
    fn the_kept_summary_names_each_server_and_its_result() {
        let target = |proto, role, port| Target {
            proto,
            role,
            host: "mail.example.test".into(),
            port,
            security: Security::Tls,
            login: true,
        };
        let ok = target("IMAP", "incoming", 993).finish(Instant::now(), Ok("INBOX opened".into()));
        let e = crmsync_protocols::ProtocolError::ConnectionRefused {
            proto: crmsync_protocols::Proto::Smtp,
            host: "mail.example.test".into(),
            port: 465,
        };
        let refused = target("SMTP", "outgoing", 465).finish(Instant::now(), Err(e.into()));
        let report = ConnectionTest {
            profile: "Office".into(),
            ok: false,
            login_as: Some("anna".into()),
            servers: vec![ok, refused],
        };
        let summary = report.summary();
        assert!(summary.starts_with("login as anna; incoming IMAP mail.example.test:993 ok; "), "{summary}");
        assert!(summary.contains("outgoing SMTP mail.example.test:465 CONNECTION_REFUSED: "), "{summary}");
    }

    #[test]
    fn a_failed_check_carries_the_code_and_the_hint_of_the_error() {
        let t = Target {
            proto: "IMAP",
            role: "incoming",
            host: "h".into(),
            port: 993,
            security: Security::Tls,
            login: false,
        };
        let e = crmsync_protocols::ProtocolError::ConnectionRefused {
            proto: crmsync_protocols::Proto::Imap,
            host: "h".into(),
            port: 993,
        };
        let c = t.finish(Instant::now(), Err(e.into()));
        assert!(!c.ok);
        assert_eq!(c.code.as_deref(), Some("CONNECTION_REFUSED"));
        assert_eq!(c.hint, Some(hints::hint("CONNECTION_REFUSED")));
        assert!(c.message.contains("h:993"), "{}", c.message);
    }
}
