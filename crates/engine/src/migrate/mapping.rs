//! Maps one (incoming, outgoing) pair of router providers to the settings of a
//! crmsync email server profile, following the merge table of the format
//! document (3.1) and the choices in docs/migration.md. The result is checked
//! by the admin API's own profile validation, so a migrated profile obeys the
//! same rules as one typed by hand; a refusal is reported at the router element
//! that caused it.

use crmsync_core::CoreError;
use crmsync_core::model::ProfileData;

use super::Warning;
use super::router::{Access, Direction, ProviderBlock, ProviderType};
use crate::admin::profiles::{self, ProfileInput};
use crate::error::{EngineError, Result};

/// The EWS endpoint of Exchange Online, used when a router profile relied on it implicitly.
pub const EXCHANGE_ONLINE_EWS: &str = "https://outlook.office365.com/EWS/Exchange.asmx";

/// A user's or queue's router providers.
#[derive(Debug, Clone, Copy)]
pub struct Pair<'a> {
    /// Incoming provider (or the forward mailbox's, for forward delivery).
    pub incoming: Option<&'a ProviderBlock>,
    /// Outgoing provider.
    pub outgoing: Option<&'a ProviderBlock>,
}

/// A crmsync profile proposed for a pair, before validation.
#[derive(Debug, Clone)]
pub struct ProfileSpec {
    /// Deterministic name from the contributing router profiles.
    pub name: String,
    /// The settings, as the admin would have typed them.
    pub input: ProfileInput,
    /// Uses one account for every mailbox, whose password the router file cannot give.
    pub password_pending: bool,
    /// The router providers it is made from (name and path).
    pub from: Vec<String>,
    /// What is not encrypted, when something is not.
    pub insecure: Option<String>,
    /// Things the admin should know about this mapping.
    pub warnings: Vec<Warning>,
    /// Which block each side's settings came from, to place validation errors.
    incoming_block: Option<ProviderBlock>,
    outgoing_block: Option<ProviderBlock>,
}

/// The outcome of mapping a pair.
#[derive(Debug, Clone)]
pub enum Mapped {
    /// A profile can be made.
    Profile(Box<ProfileSpec>),
    /// It cannot, for this reason.
    NotMigrated(String),
}

fn host_of(location: &str) -> &str {
    let rest = location.split_once("://").map_or(location, |(_, r)| r);
    rest.split(['/', ':']).next().unwrap_or(rest)
}

/// The name a side contributes: the router's profile name, else type and host.
fn side_name(b: &ProviderBlock) -> String {
    match (&b.name, &b.location) {
        (Some(n), _) => n.clone(),
        (None, Some(l)) => format!("{} {}", b.provider_type.label(), host_of(&l.value)),
        (None, None) => b.provider_type.label().to_string(),
    }
}

fn source(b: &ProviderBlock) -> String {
    format!("{} ({})", side_name(b), b.path)
}

fn warn(b: &ProviderBlock, file: &str, message: String) -> Warning {
    Warning { file: Some(file.into()), path: Some(b.path.clone()), line: Some(b.line), message }
}

fn unsupported(t: ProviderType) -> String {
    match t {
        ProviderType::Exchange2003 | ProviderType::Exchange2007WebDav => format!(
            "{} is not migrated: crmsync reaches Exchange only through Exchange Web Services (2007 and later)",
            t.label()
        ),
        _ => "custom providers are not migrated: their settings mean something only to their own code".into(),
    }
}

fn missing(file: &str, b: &ProviderBlock, name: &str, why: &str) -> EngineError {
    EngineError::Migration {
        file: file.into(),
        line: b.line,
        path: format!("{}/{name}", b.path),
        message: format!("missing required element ({why})"),
    }
}

/// Host and port of a POP3/SMTP location, which may be written `host:port`.
fn host_port(b: &ProviderBlock) -> (String, Option<u16>) {
    let loc = b.location.as_ref().map(|l| l.value.trim()).unwrap_or_default();
    let from_loc = loc.rsplit_once(':').filter(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok());
    let (host, port) = match from_loc {
        Some((h, p)) => (h.to_string(), p.parse().ok()),
        None => (loc.to_string(), None),
    };
    (host, b.port.as_ref().map(|p| p.value).or(port))
}

fn exchange(file: &str, b: &ProviderBlock, spec: &mut ProfileSpec) -> Result<()> {
    let url = match &b.location {
        Some(l) if l.value.contains("://") => l.value.clone(),
        Some(l) => {
            let scheme = if b.use_ssl == Some(false) { "http" } else { "https" };
            let url = format!("{scheme}://{}/EWS/Exchange.asmx", l.value);
            spec.warnings.push(warn(
                b,
                file,
                format!("'{}' is a host name, not an EWS URL; using {url}", l.value),
            ));
            url
        }
        None => {
            spec.warnings.push(warn(b, file, format!("no server location; using {EXCHANGE_ONLINE_EWS}")));
            EXCHANGE_ONLINE_EWS.to_string()
        }
    };
    if url.to_ascii_lowercase().starts_with("http://") {
        spec.insecure = Some(format!("{} uses http:// ({url})", side_name(b)));
    }
    spec.input.kind = Some("exchange".into());
    spec.input.ews_url = Some(url);
    credentials(file, b, spec)
}

fn credentials(file: &str, b: &ProviderBlock, spec: &mut ProfileSpec) -> Result<()> {
    match b.access {
        Some(Access::OtherSpecified) => {
            let user = b
                .email_user
                .clone()
                .ok_or_else(|| missing(file, b, "EmailUser", "the account of an OtherSpecified profile"))?;
            spec.input.credentials = Some("profile".into());
            spec.input.username = Some(user);
            spec.password_pending = true;
        }
        Some(Access::LocalSystem) => {
            spec.warnings.push(warn(
                b,
                file,
                "LocalSystem (the router machine's Windows account) has no crmsync equivalent; \
                 each mailbox needs its own credentials"
                    .into(),
            ));
            spec.input.credentials = Some("mailbox".into());
        }
        _ => spec.input.credentials = Some("mailbox".into()),
    }
    Ok(())
}

fn pop3_smtp(file: &str, p: &ProviderBlock, s: &ProviderBlock, spec: &mut ProfileSpec) -> Result<()> {
    let (in_host, in_port) = host_port(p);
    let in_tls = p.use_ssl.unwrap_or(false);
    let (out_host, out_port) = host_port(s);
    let out_port = out_port.unwrap_or(25);
    let out_tls = s.use_ssl.unwrap_or(false);
    let out_security = match (out_tls, out_port) {
        (true, 465) => "tls",
        (true, _) => "starttls",
        (false, _) => "none",
    };
    let mut clear = Vec::new();
    if !in_tls {
        clear.push(format!("{} (POP3 without SSL)", side_name(p)));
    }
    if !out_tls {
        clear.push(format!("{} (SMTP without SSL)", side_name(s)));
    }
    if !clear.is_empty() {
        spec.insecure = Some(clear.join(" and "));
    }
    let i = &mut spec.input;
    i.kind = Some("pop3-smtp".into());
    i.incoming_host = Some(in_host);
    i.incoming_port = Some(in_port.unwrap_or(if in_tls { 995 } else { 110 }).to_string());
    i.incoming_security = Some(if in_tls { "tls" } else { "none" }.into());
    i.outgoing_host = Some(out_host);
    i.outgoing_port = Some(out_port.to_string());
    i.outgoing_security = Some(out_security.into());
    let anonymous = s.access == Some(Access::Anonymous)
        || s.auth_mode.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("anonymous"));
    if s.access == Some(Access::LocalSystem) && !anonymous {
        spec.warnings.push(warn(
            s,
            file,
            "SMTP as the router machine's Windows account has no crmsync equivalent; \
             migrated as a relay without authentication"
                .into(),
        ));
    }
    i.outgoing_auth =
        Some(if anonymous || s.access == Some(Access::LocalSystem) { "none" } else { "password" }.into());
    credentials(file, p, spec)?;
    if s.access == Some(Access::OtherSpecified) && p.access != Some(Access::OtherSpecified) {
        spec.warnings.push(warn(
            s,
            file,
            format!(
                "the SMTP account {} is not carried over: crmsync signs in to POP3 and SMTP with the same credentials",
                s.email_user.as_deref().unwrap_or("(unnamed)")
            ),
        ));
    }
    Ok(())
}

/// Maps a pair (format doc 3.1): EWS on either side → exchange (the other side's
/// server is dropped, with a warning); POP3 + SMTP → pop3-smtp; Exchange 2003,
/// WebDAV and custom providers, or a side crmsync cannot serve → not migrated.
pub fn map_pair(file: &str, pair: Pair<'_>) -> Result<Mapped> {
    let mut spec = ProfileSpec {
        name: String::new(),
        input: ProfileInput::default(),
        password_pending: false,
        from: Vec::new(),
        insecure: None,
        warnings: Vec::new(),
        incoming_block: None,
        outgoing_block: None,
    };
    let (inc, out) = (pair.incoming, pair.outgoing);
    for b in [inc, out].into_iter().flatten() {
        if !b.provider_type.is_migratable() {
            return Ok(Mapped::NotMigrated(format!("{}: {}", side_name(b), unsupported(b.provider_type))));
        }
    }
    match (inc.map(|b| (b, b.provider_type)), out.map(|b| (b, b.provider_type))) {
        (Some((i, it)), o) if it.is_ews() => {
            exchange(file, i, &mut spec)?;
            spec.name = side_name(i);
            spec.from.push(source(i));
            spec.incoming_block = Some(i.clone());
            if let Some((o, ot)) = o
                && !ot.is_ews()
            {
                spec.warnings.push(warn(
                    o,
                    file,
                    format!(
                        "Exchange/{}: outgoing mail of {} goes through Exchange (EWS) instead of {}",
                        ot.label(),
                        side_name(i),
                        o.location.as_ref().map_or("its server", |l| l.value.as_str())
                    ),
                ));
            }
        }
        (Some((i, ProviderType::Pop3)), Some((o, ProviderType::Smtp))) => {
            pop3_smtp(file, i, o, &mut spec)?;
            spec.name = format!("{} + {}", side_name(i), side_name(o));
            spec.from.extend([source(i), source(o)]);
            spec.incoming_block = Some(i.clone());
            spec.outgoing_block = Some(o.clone());
        }
        (i, Some((o, ot))) if ot.is_ews() => {
            exchange(file, o, &mut spec)?;
            spec.name = side_name(o);
            spec.from.push(source(o));
            spec.incoming_block = Some(o.clone());
            if let Some((i, _)) = i {
                spec.warnings.push(warn(
                    i,
                    file,
                    format!(
                        "POP3/Exchange: incoming mail is read through Exchange (EWS) at {} instead of POP3",
                        spec.input.ews_url.as_deref().unwrap_or_default()
                    ),
                ));
            }
        }
        (Some((i, _)), None) => {
            return Ok(Mapped::NotMigrated(format!(
                "{}: no outgoing profile to pair with; a crmsync POP3 profile also needs an SMTP server",
                side_name(i)
            )));
        }
        (None, Some((o, _))) => {
            return Ok(Mapped::NotMigrated(format!(
                "{}: only an outgoing SMTP profile and no incoming profile or forward mailbox; \
                 a crmsync profile needs an incoming server",
                side_name(o)
            )));
        }
        _ => return Ok(Mapped::NotMigrated("no incoming or outgoing profile".into())),
    }
    spec.name = truncate(&spec.name);
    Ok(Mapped::Profile(Box::new(spec)))
}

/// Profile names are 1-100 characters.
pub fn truncate(name: &str) -> String {
    name.trim().chars().take(100).collect()
}

/// Checks the proposed settings with the admin API's profile rules; a refusal
/// is a migration error at the router element the refused value came from.
pub fn validate(file: &str, spec: &ProfileSpec, name: &str, allow_insecure: bool) -> Result<ProfileData> {
    let mut input = spec.input.clone();
    if allow_insecure && spec.insecure.is_some() {
        input.allow_insecure = Some(true);
    }
    profiles::validate_new(name, &input, spec.password_pending).map_err(|e| {
        let EngineError::Core(CoreError::Invalid { field, reason }) = &e else { return e };
        let block = if field.starts_with("outgoing") { &spec.outgoing_block } else { &spec.incoming_block };
        let Some(b) = block.as_ref().or(spec.incoming_block.as_ref()) else { return e };
        let (path, line) = match field.as_str() {
            f if f.ends_with("-port") => b.port.as_ref().map(|p| (p.path.clone(), p.line)),
            f if f.ends_with("-host") || f == "ews-url" => {
                b.location.as_ref().map(|l| (l.path.clone(), l.line))
            }
            _ => None,
        }
        .unwrap_or_else(|| (b.path.clone(), b.line));
        EngineError::Migration {
            file: file.into(),
            line,
            path,
            message: format!("{reason} (crmsync {field})"),
        }
    })
}

/// Whether a block serves mailboxes directly (not a forward mailbox and incoming).
pub fn is_direct_inbound(b: &ProviderBlock) -> bool {
    b.direction == Direction::Inbound && !b.forward_mailbox
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;
