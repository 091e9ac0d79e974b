//! Email server profiles: add, update, remove, list, show, with validation.

use crmsync_core::model::{
    CredentialSource, Endpoint, OutgoingAuth, Profile, ProfileData, ProfileKind, Security,
};
use crmsync_core::oauth::{self, AuthMethod, OAuthConfig, OAuthInput, OAuthProvider};
use crmsync_core::secrets::Secret;
use crmsync_core::store::mailboxes;
use crmsync_core::store::profiles::{self, PasswordChange};
use crmsync_core::time::parse_rfc3339;
use crmsync_core::{CoreError, Store};
use crmsync_protocols::Proto;
use rusqlite::Connection;

pub use super::connection_test::{ConnectionTest, ServerCheck, record, test_connection, test_connection_as};
use super::{opt_text, parse_num};
use crate::backend::factory;
use crate::error::Result;

/// Profile fields as the admin typed them; `None` means "not given" (default on
/// add, unchanged on update). The CLI builds it from its options; the desktop
/// receives it as JSON from its profile form (its TypeScript type is generated
/// from here). Only deserialized: the password is never written back out.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ProfileInput {
    /// imap-smtp, pop3-smtp, exchange or microsoft365 (required on add).
    pub kind: Option<String>,
    /// Incoming (IMAP/POP3) host.
    pub incoming_host: Option<String>,
    /// Incoming port.
    pub incoming_port: Option<String>,
    /// Incoming security: tls, starttls, none.
    pub incoming_security: Option<String>,
    /// Outgoing (SMTP) host; defaults to the incoming host.
    pub outgoing_host: Option<String>,
    /// Outgoing port.
    pub outgoing_port: Option<String>,
    /// Outgoing security.
    pub outgoing_security: Option<String>,
    /// Exchange Web Services URL.
    pub ews_url: Option<String>,
    /// Microsoft Graph service root (microsoft365; empty: Microsoft's).
    #[cfg_attr(feature = "ts", ts(optional))]
    #[serde(default)]
    pub graph_url: Option<String>,
    /// CalDAV/CardDAV URL.
    pub dav_url: Option<String>,
    /// password or none.
    pub outgoing_auth: Option<String>,
    /// mailbox or profile.
    pub credentials: Option<String>,
    /// Profile user name.
    pub username: Option<String>,
    /// Profile password (CLI: from stdin or an environment variable, never
    /// argv; desktop: the password box, where empty means "not given").
    #[serde(default, deserialize_with = "crmsync_core::secrets::non_empty")]
    pub password: Option<Secret>,
    /// Max concurrent connections.
    pub max_connections: Option<String>,
    /// Min poll interval, seconds.
    pub min_poll_interval: Option<String>,
    /// Timeout, seconds.
    pub timeout: Option<String>,
    /// Process mail received after (RFC 3339).
    pub process_from: Option<String>,
    /// Allow plaintext connections.
    pub allow_insecure: Option<bool>,
    /// password or oauth2 (default: oauth2 when a provider or preset is given).
    #[cfg_attr(feature = "ts", ts(optional))]
    #[serde(default)]
    pub auth: Option<String>,
    /// microsoft or google: fills hosts, ports, security, endpoints and scopes
    /// (and the DAV URL for Google) where they are not given.
    #[cfg_attr(feature = "ts", ts(optional))]
    #[serde(default)]
    pub preset: Option<String>,
    /// OAuth2 provider: microsoft, google or custom.
    #[cfg_attr(feature = "ts", ts(optional))]
    #[serde(default)]
    pub oauth_provider: Option<String>,
    /// OAuth2 application (client) id.
    #[cfg_attr(feature = "ts", ts(optional))]
    #[serde(default)]
    pub oauth_client_id: Option<String>,
    /// OAuth2 client secret (CLI: from stdin, never argv), stored encrypted.
    #[cfg_attr(feature = "ts", ts(optional))]
    #[serde(default, deserialize_with = "crmsync_core::secrets::non_empty")]
    pub oauth_client_secret: Option<Secret>,
    /// Microsoft tenant (directory id or domain).
    #[cfg_attr(feature = "ts", ts(optional))]
    #[serde(default)]
    pub oauth_tenant: Option<String>,
    /// Issuer URL (custom provider).
    #[cfg_attr(feature = "ts", ts(optional))]
    #[serde(default)]
    pub oauth_issuer: Option<String>,
    /// Authorization endpoint (custom provider).
    #[cfg_attr(feature = "ts", ts(optional))]
    #[serde(default)]
    pub oauth_authorize_url: Option<String>,
    /// Token endpoint (custom provider).
    #[cfg_attr(feature = "ts", ts(optional))]
    #[serde(default)]
    pub oauth_token_url: Option<String>,
    /// Device authorization endpoint (custom provider).
    #[cfg_attr(feature = "ts", ts(optional))]
    #[serde(default)]
    pub oauth_device_url: Option<String>,
    /// Scopes, space or comma separated (default: the provider's).
    #[cfg_attr(feature = "ts", ts(optional))]
    #[serde(default)]
    pub oauth_scopes: Option<String>,
}

/// `input` with a provider preset's hosts, ports, security, DAV URL and
/// provider filled in where the admin gave none.
fn with_preset(input: &ProfileInput, base: Option<&Profile>) -> Result<ProfileInput> {
    let Some(word) = &input.preset else { return Ok(input.clone()) };
    let provider = OAuthProvider::parse("preset", word)?;
    let p = oauth::preset(provider)
        .ok_or_else(|| CoreError::invalid("preset", "one of microsoft, google (custom has no preset)"))?;
    let mut out = input.clone();
    let kind = match (&input.kind, base) {
        (Some(k), _) => ProfileKind::parse("kind", k)?,
        (None, Some(b)) => b.data.kind,
        (None, None) => ProfileKind::ImapSmtp,
    };
    let fill = |v: &mut Option<String>, x: String| {
        v.get_or_insert(x);
    };
    if factory::facts(kind).graph {
        // Microsoft Graph: no hosts; the Graph root is the default one.
        if provider != OAuthProvider::Microsoft {
            return Err(
                CoreError::invalid("preset", format!("a {kind} profile takes the microsoft preset")).into()
            );
        }
        out.kind.get_or_insert_with(|| kind.as_str().to_string());
        fill(&mut out.oauth_provider, provider.as_str().to_string());
        fill(&mut out.auth, AuthMethod::Oauth2.as_str().to_string());
        return Ok(out);
    }
    let incoming = match factory::facts(kind).incoming_proto {
        Some(Proto::Pop3) => p.pop3.ok_or_else(|| CoreError::invalid("kind", "this provider has no POP3"))?,
        Some(_) => p.imap,
        None => {
            return Err(CoreError::invalid(
                "kind",
                "a preset is for imap-smtp, pop3-smtp or microsoft365 profiles",
            )
            .into());
        }
    };
    out.kind.get_or_insert_with(|| kind.as_str().to_string());
    fill(&mut out.incoming_host, incoming.0.to_string());
    fill(&mut out.incoming_port, incoming.1.to_string());
    fill(&mut out.incoming_security, incoming.2.as_str().to_string());
    fill(&mut out.outgoing_host, p.smtp.0.to_string());
    fill(&mut out.outgoing_port, p.smtp.1.to_string());
    fill(&mut out.outgoing_security, p.smtp.2.as_str().to_string());
    if let Some(dav) = p.dav_url {
        fill(&mut out.dav_url, dav.to_string());
    }
    fill(&mut out.oauth_provider, provider.as_str().to_string());
    fill(&mut out.auth, AuthMethod::Oauth2.as_str().to_string());
    Ok(out)
}

/// `input` with Microsoft Graph's scopes for a Graph profile signing in
/// with Microsoft, where the admin gave none and none are stored for Graph.
fn graph_scopes(input: &ProfileInput, base: Option<&Profile>, kind: ProfileKind) -> ProfileInput {
    let mut out = input.clone();
    let provider = input
        .oauth_provider
        .as_deref()
        .and_then(|p| OAuthProvider::parse("oauth-provider", p).ok())
        .or_else(|| base.and_then(|b| b.data.oauth.as_ref()).map(|o| o.provider));
    let base_was_graph = base.is_some_and(|b| factory::facts(b.data.kind).graph);
    if factory::facts(kind).graph
        && provider == Some(OAuthProvider::Microsoft)
        && input.oauth_scopes.is_none()
        && !base_was_graph
    {
        out.oauth_scopes = Some(oauth::GRAPH_SCOPES.join(" "));
    }
    out
}

/// The authentication method and OAuth2 settings of `input` over `base`.
fn build_auth(
    input: &ProfileInput,
    base: Option<&Profile>,
    allow_insecure: bool,
) -> Result<(AuthMethod, Option<OAuthConfig>)> {
    let oauth_given = input.oauth_provider.is_some()
        || input.oauth_client_id.is_some()
        || input.oauth_tenant.is_some()
        || input.oauth_issuer.is_some()
        || input.oauth_authorize_url.is_some()
        || input.oauth_token_url.is_some()
        || input.oauth_device_url.is_some()
        || input.oauth_scopes.is_some()
        || input.oauth_client_secret.is_some();
    let auth = match (&input.auth, base) {
        (Some(a), _) => AuthMethod::parse("auth", a)?,
        (None, _) if input.oauth_provider.is_some() => AuthMethod::Oauth2,
        (None, Some(b)) => b.data.auth,
        (None, None) => AuthMethod::Password,
    };
    let old = base.and_then(|b| b.data.oauth.as_ref());
    match auth {
        AuthMethod::Oauth2 => {
            let given = OAuthInput {
                provider: input.oauth_provider.as_deref(),
                client_id: input.oauth_client_id.as_deref(),
                tenant: input.oauth_tenant.as_deref(),
                issuer: input.oauth_issuer.as_deref(),
                authorize_url: input.oauth_authorize_url.as_deref(),
                token_url: input.oauth_token_url.as_deref(),
                device_url: input.oauth_device_url.as_deref(),
                scopes: input.oauth_scopes.as_deref(),
            };
            Ok((auth, Some(oauth::build_config(&given, old, allow_insecure)?)))
        }
        AuthMethod::Password if oauth_given => Err(CoreError::invalid(
            "auth",
            "OAuth2 options (--provider, --client-id, ...) need --auth oauth2",
        )
        .into()),
        // The OAuth2 client stays stored, so switching back keeps it.
        AuthMethod::Password => Ok((auth, old.cloned())),
    }
}

/// The default port of a protocol for a security mode.
pub fn default_port(proto: Proto, security: Security) -> u16 {
    match (proto, security) {
        (Proto::Imap, Security::Tls) => 993,
        (Proto::Imap, _) => 143,
        (Proto::Pop3, Security::Tls) => 995,
        (Proto::Pop3, _) => 110,
        (Proto::Smtp, Security::Tls) => 465,
        (Proto::Smtp, Security::Starttls) => 587,
        (Proto::Smtp, Security::None) => 25,
        (Proto::Dav, Security::None) => 80,
        (Proto::Dav, _) => 443,
        (Proto::Ews, Security::None) => 80,
        (Proto::Ews, _) => 443,
        (Proto::Graph, _) => 443,
    }
}

fn validate_host(field: &str, h: &str) -> Result<String> {
    let h = h.trim();
    if h.is_empty() {
        return Err(CoreError::invalid(field, "must not be empty").into());
    }
    if h.contains("://") || h.contains('/') {
        return Err(CoreError::invalid(field, format!("'{h}' is a URL; give only the host name")).into());
    }
    let ok = h.len() <= 253
        && h.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'));
    if !ok {
        return Err(CoreError::invalid(field, format!("'{h}' is not a host name or address")).into());
    }
    Ok(h.to_string())
}

fn validate_url(field: &str, u: &str, allow_insecure: bool) -> Result<String> {
    let u = u.trim();
    let Some(rest) = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://")) else {
        return Err(CoreError::invalid(field, format!("'{u}' is not an http(s) URL")).into());
    };
    // The one plaintext rule for DAV URLs; an EWS URL follows the same rule.
    if crmsync_protocols::dav::check_plaintext(u, allow_insecure).is_err() {
        return Err(CoreError::invalid(
            field,
            "http:// sends credentials in clear text; use https:// or add --allow-insecure",
        )
        .into());
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_only = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host_only.is_empty() || host.contains('@') {
        return Err(
            CoreError::invalid(field, format!("'{u}' has no host (and must not carry credentials)")).into()
        );
    }
    Ok(u.to_string())
}

fn insecure_refused(field: &str) -> CoreError {
    CoreError::invalid(
        field,
        "'none' sends passwords and mail in clear text; add --allow-insecure to allow it on this profile",
    )
}

/// Builds and validates profile data from `input` over `base` (None on add).
fn build(name: &str, input: &ProfileInput, base: Option<&Profile>) -> Result<ProfileData> {
    let input = &with_preset(input, base)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(CoreError::invalid("name", "must be 1 to 100 characters").into());
    }
    let kind = match (&input.kind, base) {
        (Some(k), _) => ProfileKind::parse("kind", k)?,
        (None, Some(b)) => b.data.kind,
        (None, None) => {
            return Err(CoreError::invalid(
                "kind",
                "required: imap-smtp, pop3-smtp, exchange or microsoft365",
            )
            .into());
        }
    };
    let allow_insecure = input.allow_insecure.or(base.map(|b| b.data.allow_insecure)).unwrap_or(false);
    let facts = factory::facts(kind);
    let (in_proto, has_mail_hosts) = match facts.incoming_proto {
        Some(p) => (p, true),
        None => (Proto::Imap, false),
    };

    let endpoint = |side: &str,
                    proto: Proto,
                    host: Option<&String>,
                    port: Option<&String>,
                    sec: Option<&String>,
                    old: Option<&Endpoint>,
                    fallback_host: Option<&str>|
     -> Result<Option<Endpoint>> {
        let host = match (host, old, fallback_host) {
            (Some(h), _, _) => validate_host(&format!("{side}-host"), h)?,
            (None, Some(o), _) => o.host.clone(),
            (None, None, Some(f)) => f.to_string(),
            (None, None, None) => {
                return Err(
                    CoreError::invalid(format!("{side}-host"), format!("required for kind {kind}")).into()
                );
            }
        };
        let security = match (sec, old) {
            (Some(s), _) => Security::parse(&format!("{side}-security"), s)?,
            (None, Some(o)) => o.security,
            (None, None) => Security::Tls,
        };
        if security == Security::None && !allow_insecure {
            return Err(insecure_refused(&format!("{side}-security")).into());
        }
        let port = match (parse_num(&format!("{side}-port"), port.map(String::as_str), 1, 65535)?, old) {
            (Some(p), _) => p as u16,
            // Security changed and the old port was the old default: follow the new default.
            (None, Some(o)) if o.port == default_port(proto, o.security) => default_port(proto, security),
            (None, Some(o)) => o.port,
            (None, None) => default_port(proto, security),
        };
        Ok(Some(Endpoint { host, port, security }))
    };

    let (incoming, outgoing) = if has_mail_hosts {
        let inc = endpoint(
            "incoming",
            in_proto,
            input.incoming_host.as_ref(),
            input.incoming_port.as_ref(),
            input.incoming_security.as_ref(),
            base.and_then(|b| b.data.incoming.as_ref()),
            None,
        )?;
        let fallback = inc.as_ref().map(|e| e.host.clone());
        let out = endpoint(
            "outgoing",
            Proto::Smtp,
            input.outgoing_host.as_ref(),
            input.outgoing_port.as_ref(),
            input.outgoing_security.as_ref(),
            base.and_then(|b| b.data.outgoing.as_ref()),
            fallback.as_deref(),
        )?;
        (inc, out)
    } else {
        for (field, v) in [
            ("incoming-host", &input.incoming_host),
            ("incoming-port", &input.incoming_port),
            ("incoming-security", &input.incoming_security),
            ("outgoing-host", &input.outgoing_host),
            ("outgoing-port", &input.outgoing_port),
            ("outgoing-security", &input.outgoing_security),
        ] {
            if v.is_some() {
                let instead = if facts.graph { "it reaches Microsoft Graph" } else { "give --ews-url" };
                return Err(
                    CoreError::invalid(field, format!("not used by {kind} profiles; {instead}")).into()
                );
            }
        }
        (None, None)
    };

    let ews_url = match (&input.ews_url, base) {
        (Some(u), _) if u.trim().is_empty() => None,
        (Some(u), _) => Some(validate_url("ews-url", u, allow_insecure)?),
        (None, Some(b)) => b.data.ews_url.clone(),
        (None, None) => None,
    };
    if facts.ews_url && ews_url.is_none() {
        return Err(CoreError::invalid("ews-url", format!("required for an {kind} profile")).into());
    }
    if !facts.ews_url && ews_url.is_some() {
        return Err(CoreError::invalid("ews-url", format!("not used by a {kind} profile")).into());
    }
    let graph_url = match (&input.graph_url, base) {
        (Some(u), _) if u.trim().is_empty() => None,
        (Some(u), _) => Some(validate_url("graph-url", u, allow_insecure)?),
        (None, Some(b)) => b.data.graph_url.clone(),
        (None, None) => None,
    };
    if !facts.graph && graph_url.is_some() {
        return Err(CoreError::invalid("graph-url", format!("not used by a {kind} profile")).into());
    }
    let dav_url = match (&input.dav_url, base) {
        (Some(u), _) if u.trim().is_empty() => None,
        (Some(u), _) => Some(validate_url("dav-url", u, allow_insecure)?),
        (None, Some(b)) => b.data.dav_url.clone(),
        (None, None) => None,
    };
    let outgoing_auth = match (&input.outgoing_auth, base) {
        (Some(a), _) => OutgoingAuth::parse("outgoing-auth", a)?,
        (None, Some(b)) => b.data.outgoing_auth,
        (None, None) => OutgoingAuth::Password,
    };
    let credentials = match (&input.credentials, base) {
        (Some(c), _) => CredentialSource::parse("credentials", c)?,
        (None, Some(b)) => b.data.credentials,
        (None, None) => CredentialSource::Mailbox,
    };
    let username = match (&input.username, base) {
        (Some(u), _) => opt_text(Some(u)),
        (None, Some(b)) => b.data.username.clone(),
        (None, None) => None,
    };
    let num = |field: &str, raw: &Option<String>, min, max, old: Option<u32>, default: u32| -> Result<u32> {
        Ok(parse_num(field, raw.as_deref(), min, max)?.map(|n| n as u32).or(old).unwrap_or(default))
    };
    let max_connections =
        num("max-connections", &input.max_connections, 1, 100, base.map(|b| b.data.max_connections), 10)?;
    let min_poll_interval = num(
        "min-poll-interval",
        &input.min_poll_interval,
        0,
        86400,
        base.map(|b| b.data.min_poll_interval),
        60,
    )?;
    let timeout = num("timeout", &input.timeout, 1, 600, base.map(|b| b.data.timeout), 60)?;
    let process_from = match (&input.process_from, base) {
        (Some(p), _) if p.trim().is_empty() => None,
        (Some(p), _) => Some(parse_rfc3339("process-from", p)?),
        (None, Some(b)) => b.data.process_from,
        (None, None) => None,
    };
    let (auth, oauth) = build_auth(&graph_scopes(input, base, kind), base, allow_insecure)?;
    if facts.graph && auth != AuthMethod::Oauth2 {
        return Err(CoreError::invalid(
            "auth",
            format!(
                "a {kind} profile signs in with OAuth2 only (Microsoft Graph takes no password): \
                 give --auth oauth2 with --provider microsoft (or --preset microsoft)"
            ),
        )
        .into());
    }
    Ok(ProfileData {
        name: name.to_string(),
        kind,
        incoming,
        outgoing,
        outgoing_auth,
        ews_url,
        graph_url,
        dav_url,
        credentials,
        username,
        max_connections,
        min_poll_interval,
        timeout,
        process_from,
        allow_insecure,
        auth,
        oauth,
    })
}

fn check_profile_credentials(d: &ProfileData, has_password: bool, has_secret: bool) -> Result<()> {
    if d.auth == AuthMethod::Oauth2 {
        // App-only access (client credentials) needs the client's secret; the
        // mailboxes' own sign-in needs none.
        if d.credentials == CredentialSource::Profile && !has_secret {
            return Err(CoreError::invalid(
                "oauth-client-secret",
                "required with --auth oauth2 --credentials profile (app-only access): give --client-secret-stdin",
            )
            .into());
        }
        return Ok(());
    }
    if d.credentials == CredentialSource::Profile {
        if d.username.is_none() {
            return Err(CoreError::invalid("username", "required when --credentials profile").into());
        }
        if !has_password {
            return Err(CoreError::invalid(
                "password",
                "required when --credentials profile (give --password-stdin or --password-env VAR)",
            )
            .into());
        }
    }
    Ok(())
}

/// Validates the settings of a new profile without touching the store. With
/// `password_pending` a profile that uses its own credentials may lack its
/// password for now (a migration cannot read the old system's password; the
/// admin enters it before Test & Enable).
pub(crate) fn validate_new(name: &str, input: &ProfileInput, password_pending: bool) -> Result<ProfileData> {
    let data = build(name, input, None)?;
    check_profile_credentials(
        &data,
        input.password.is_some() || password_pending,
        input.oauth_client_secret.is_some(),
    )?;
    Ok(data)
}

/// Inserts validated profile data inside a transaction, refusing a taken name.
pub(crate) fn insert_in(tx: &Connection, data: &ProfileData, password_enc: Option<&[u8]>) -> Result<i64> {
    if profiles::find(tx, &data.name)?.is_some() {
        return Err(
            CoreError::invalid("name", format!("a profile named '{}' already exists", data.name)).into()
        );
    }
    Ok(profiles::insert(tx, data, password_enc)?)
}

/// Adds a profile.
pub fn add(store: &mut Store, name: &str, input: &ProfileInput) -> Result<Profile> {
    let data = validate_new(name, input, false)?;
    let enc = match &input.password {
        Some(p) => Some(store.cipher()?.seal(p)),
        None => None,
    };
    let secret = match &input.oauth_client_secret {
        Some(s) => Some(store.cipher()?.seal(s)),
        None => None,
    };
    let id = store.write(|tx| {
        let id = insert_in(tx, &data, enc.as_deref())?;
        if let Some(s) = &secret {
            profiles::set_client_secret(tx, id, Some(s))?;
        }
        Ok::<_, crate::error::EngineError>(id)
    })?;
    Ok(profiles::get_by_id(store.conn(), id)?)
}

/// Updates a profile; only the given fields change.
pub fn update(store: &mut Store, name: &str, input: &ProfileInput) -> Result<Profile> {
    let current = profiles::get(store.conn(), name)
        .map_err(|_| CoreError::invalid("name", format!("no profile named '{name}'")))?;
    let data = build(&current.data.name, input, Some(&current))?;
    check_profile_credentials(
        &data,
        input.password.is_some() || current.has_password,
        input.oauth_client_secret.is_some() || current.has_client_secret,
    )?;
    let change = match &input.password {
        Some(p) => PasswordChange::Set(store.cipher()?.seal(p)),
        None => PasswordChange::Keep,
    };
    let secret = match &input.oauth_client_secret {
        Some(s) => Some(store.cipher()?.seal(s)),
        None => None,
    };
    store.write(|tx| {
        profiles::update(tx, current.id, &data, &change)?;
        if let Some(s) = &secret {
            profiles::set_client_secret(tx, current.id, Some(s))?;
        }
        Ok::<_, crate::error::EngineError>(())
    })?;
    Ok(profiles::get_by_id(store.conn(), current.id)?)
}

/// Removes a profile; refused while mailboxes use it, naming them.
pub fn remove(store: &mut Store, name: &str) -> Result<()> {
    let p = profiles::get(store.conn(), name)
        .map_err(|_| CoreError::invalid("name", format!("no profile named '{name}'")))?;
    store.write(|tx| {
        let users = mailboxes::emails_using_profile(tx, p.id)?;
        if !users.is_empty() {
            return Err(CoreError::invalid(
                "name",
                format!(
                    "profile '{}' is used by mailboxes {}; move or remove them first",
                    p.data.name,
                    users.join(", ")
                ),
            )
            .into());
        }
        Ok::<_, crate::error::EngineError>(profiles::delete(tx, p.id)?)
    })
}

/// All profiles.
pub fn list(store: &Store) -> Result<Vec<Profile>> {
    Ok(profiles::list(store.conn())?)
}

/// One profile by name.
pub fn show(store: &Store, name: &str) -> Result<Profile> {
    profiles::get(store.conn(), name)
        .map_err(|_| CoreError::invalid("name", format!("no profile named '{name}'")).into())
}

/// The last Test Connection of profile `name`, if one ran.
pub fn last_test(store: &Store, name: &str) -> Result<Option<crmsync_core::model::ProfileTest>> {
    let p = show(store, name)?;
    Ok(profiles::last_test(store.conn(), p.id)?)
}
