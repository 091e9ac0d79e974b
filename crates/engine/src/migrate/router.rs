//! Parses the Email Router's `Microsoft.Crm.Tools.EmailAgent.xml` into typed
//! provider blocks. Element names are matched case-insensitively and accept the
//! aliases listed in docs/migration.md; unknown elements become warnings. Bad
//! input (malformed XML, a missing required element, an impossible value) is an
//! [`EngineError::Migration`] naming the element path and line.

use serde::Serialize;

use super::Warning;
use super::xml::{self, Element};
use crate::error::{EngineError, Result};

/// A value with the place it was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Element path.
    pub path: String,
    /// 1-based line.
    pub line: u32,
}

/// The kind of mail server a router provider talks to (format doc 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderType {
    /// Exchange 2003 (WebDAV); never migrated.
    Exchange2003,
    /// Exchange 2007 over WebDAV; never migrated.
    Exchange2007WebDav,
    /// Exchange 2007 over Exchange Web Services.
    Exchange2007,
    /// Exchange 2010 or 2013 (EWS).
    Exchange2010,
    /// Exchange Online (EWS).
    ExchangeOnline,
    /// POP3 (incoming).
    Pop3,
    /// SMTP (outgoing).
    Smtp,
    /// A custom provider class; never migrated.
    Custom,
}

impl ProviderType {
    /// Words for the preview.
    pub fn label(self) -> &'static str {
        match self {
            ProviderType::Exchange2003 => "Exchange 2003",
            ProviderType::Exchange2007WebDav => "Exchange 2007 (WebDAV)",
            ProviderType::Exchange2007 => "Exchange 2007 (EWS)",
            ProviderType::Exchange2010 => "Exchange 2010/2013",
            ProviderType::ExchangeOnline => "Exchange Online",
            ProviderType::Pop3 => "POP3",
            ProviderType::Smtp => "SMTP",
            ProviderType::Custom => "custom provider",
        }
    }

    /// Exchange Web Services providers, which crmsync serves with an exchange profile.
    pub fn is_ews(self) -> bool {
        matches!(self, ProviderType::Exchange2007 | ProviderType::Exchange2010 | ProviderType::ExchangeOnline)
    }

    /// Providers crmsync can migrate at all.
    pub fn is_migratable(self) -> bool {
        self.is_ews() || matches!(self, ProviderType::Pop3 | ProviderType::Smtp)
    }
}

/// Incoming or outgoing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Polls mailboxes.
    Inbound,
    /// Sends CRM email.
    Outbound,
}

/// The router's "access credentials" setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// The router machine's account (Windows integrated).
    LocalSystem,
    /// Each user's own credentials from their CRM personal options.
    UserSpecified,
    /// One service account for every mailbox of the profile.
    OtherSpecified,
    /// No authentication (SMTP relay).
    Anonymous,
}

/// One `<ProviderConfiguration>`: a router profile × deployment with its users and queues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderBlock {
    /// Element path.
    pub path: String,
    /// Line of the start tag.
    pub line: u32,
    /// The router's profile name, if the file carries one.
    pub name: Option<String>,
    /// Server kind.
    pub provider_type: ProviderType,
    /// Incoming or outgoing.
    pub direction: Direction,
    /// `CrmServerUrl`: the organization (deployment) this block serves.
    pub deployment: Option<String>,
    /// EWS URL or POP3/SMTP host.
    pub location: Option<Located<String>>,
    /// Port.
    pub port: Option<Located<u16>>,
    /// SSL flag.
    pub use_ssl: Option<bool>,
    /// Access credentials.
    pub access: Option<Access>,
    /// `EmailAuthMode` as written (Anonymous, Windows, ClearText, ...).
    pub auth_mode: Option<String>,
    /// "Other specified" user name.
    pub email_user: Option<String>,
    /// Whether an (encrypted, unreadable) password is present.
    pub has_password: bool,
    /// CRM user ids served.
    pub user_ids: Vec<Located<String>>,
    /// CRM queue ids served.
    pub queue_ids: Vec<Located<String>>,
    /// Mailbox addresses served.
    pub addresses: Vec<Located<String>>,
    /// This block is a forward mailbox.
    pub forward_mailbox: bool,
    /// Delete processed mail from the server.
    pub delete_emails: bool,
}

impl ProviderBlock {
    /// The name shown to the admin: the router's profile name, else type and path.
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => format!("{} ({})", self.provider_type.label(), self.path),
        }
    }
}

/// A parsed EmailAgent.xml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouterConfig {
    /// The file's name, for messages.
    pub file: String,
    /// Provider blocks in file order.
    pub providers: Vec<ProviderBlock>,
    /// Unknown elements and other things the admin should know.
    pub warnings: Vec<Warning>,
}

const SYSTEM_CHILDREN: &[&str] = &[
    "MaxThreads",
    "MaxThreadExecution",
    "SchedulingPeriod",
    "ConfigRefreshPeriod",
    "ConfigUpdatePeriod",
    "LogLevel",
    "LogFile",
    "ProviderOverrides",
];
const OVERRIDES_CHILDREN: &[&str] = &[
    "CacheCapacity",
    "PendingStatusDelay",
    "SendingStatusDelay",
    "MaximumDeliveryAttempts",
    "EWSRetrieveMessageCount",
    "BatchSize",
    "RequestBatchSize",
];

const TYPE: &[&str] = &["EmailServerType", "ProviderType", "ServerType"];
const LOCATION: &[&str] = &["EmailServerLocation", "EmailServerUrl", "EmailServer"];
/// Provider children that are known but carry nothing crmsync needs.
const IGNORED: &[&str] = &[
    "ProviderAssembly",
    "CrmAuthMode",
    "CrmUser",
    "CrmPassword",
    "BatchSize",
    "CacheCapacity",
    "MessageExpiry",
    "MoveEmails",
    "MaxMessageCount",
    "IdentityHash",
    "ThresholdDateTime",
    "LastError",
    "UseAutodiscover",
];
const USED: &[&str] = &[
    "ProviderClass",
    "Direction",
    "ProfileName",
    "EmailProtocol",
    "CrmServerUrl",
    "EmailPort",
    "EmailUseSsl",
    "EmailAccessType",
    "EmailUser",
    "EmailPassword",
    "EmailAuthMode",
    "UserId",
    "QueueId",
    "EmailAddress",
    "IsForwardMailbox",
    "DeleteEmails",
];

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn bad(&self, el: &Element, message: impl Into<String>) -> EngineError {
        EngineError::Migration {
            file: self.file.into(),
            line: el.line,
            path: el.path.clone(),
            message: message.into(),
        }
    }

    fn missing(&self, block: &Element, name: &str, why: &str) -> EngineError {
        EngineError::Migration {
            file: self.file.into(),
            line: block.line,
            path: format!("{}/{name}", block.path),
            message: format!("missing required element ({why})"),
        }
    }

    /// The single child named like `names`, refusing repeats.
    fn one<'e>(&self, block: &'e Element, names: &[&str]) -> Result<Option<&'e Element>> {
        let mut it = block.all(names);
        let first = it.next();
        if let Some(second) = it.next() {
            return Err(self.bad(second, "appears twice in one provider block"));
        }
        Ok(first)
    }

    fn text<'e>(&self, block: &'e Element, names: &[&str]) -> Result<Option<&'e Element>> {
        Ok(self.one(block, names)?.filter(|e| !e.text.is_empty()))
    }

    fn boolean(&self, block: &Element, name: &str) -> Result<Option<bool>> {
        let Some(el) = self.text(block, &[name])? else { return Ok(None) };
        match el.text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            _ => Err(self.bad(el, format!("'{}' is not true or false", el.text))),
        }
    }
}

fn norm(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase()
}

fn is_guid(s: &str) -> bool {
    let s = s.trim_start_matches('{').trim_end_matches('}');
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A router id in the form used for matching: lower case, no braces.
pub fn normalize_id(s: &str) -> String {
    s.trim().trim_start_matches('{').trim_end_matches('}').to_ascii_lowercase()
}

fn provider_type(cx: &Ctx<'_>, block: &Element) -> Result<ProviderType> {
    let protocol = cx.text(block, &["EmailProtocol"])?;
    let proto = protocol.map(|p| norm(&p.text));
    let webdav = proto.as_deref() == Some("webdav");
    if let Some(el) = cx.text(block, TYPE)? {
        return Ok(match norm(&el.text).as_str() {
            "exchange2003" => ProviderType::Exchange2003,
            "exchange2007" if webdav => ProviderType::Exchange2007WebDav,
            "exchange2007" => ProviderType::Exchange2007,
            "exchange2010" | "exchange2013" | "exchange2010or2013" | "exchange20102013" | "exchange" => {
                ProviderType::Exchange2010
            }
            "exchangeonline" | "office365" => ProviderType::ExchangeOnline,
            "pop3" | "pop" => ProviderType::Pop3,
            "smtp" => ProviderType::Smtp,
            "custom" => ProviderType::Custom,
            _ => {
                return Err(cx.bad(
                    el,
                    format!(
                        "'{}' is not a known provider type (Exchange2003, Exchange2007, Exchange2010, \
                         Exchange2013, ExchangeOnline, POP3, SMTP, Custom)",
                        el.text
                    ),
                ));
            }
        });
    }
    let assembly = cx.text(block, &["ProviderAssembly"])?;
    if let Some(a) = assembly
        && !norm(&a.text).starts_with("microsoftcrmtoolsemailproviders")
    {
        return Ok(ProviderType::Custom);
    }
    if let Some(el) = cx.text(block, &["ProviderClass"])? {
        let class = el.text.as_str();
        if !class.starts_with("Microsoft.Crm.Tools.Email.Providers.") {
            return Ok(ProviderType::Custom);
        }
        let short = class.rsplit('.').next().unwrap_or_default();
        let by_class = match short {
            "Pop3PollingMailboxProvider" => Some(ProviderType::Pop3),
            "SmtpPollingSendEmailProvider" => Some(ProviderType::Smtp),
            "ExchangePollingMailboxProvider" if webdav => Some(ProviderType::Exchange2007WebDav),
            _ => None,
        };
        if let Some(t) = by_class {
            return Ok(t);
        }
    }
    match proto.as_deref() {
        Some("pop3") => Ok(ProviderType::Pop3),
        Some("smtp") => Ok(ProviderType::Smtp),
        Some("exchangewebservices" | "ews") => Ok(ProviderType::Exchange2010),
        Some("webdav") => Ok(ProviderType::Exchange2007WebDav),
        Some(_) => Err(cx.bad(
            protocol.unwrap_or(block),
            "is not a known protocol (ExchangeWebServices, WebDAV, POP3, SMTP)",
        )),
        None => {
            Err(cx.missing(block, "EmailServerType", "the provider's server type cannot be told otherwise"))
        }
    }
}

fn direction(cx: &Ctx<'_>, block: &Element, t: ProviderType) -> Result<Direction> {
    let explicit = match cx.text(block, &["Direction"])? {
        Some(el) => Some((
            el,
            match norm(&el.text).as_str() {
                "inbound" | "incoming" | "in" => Direction::Inbound,
                "outbound" | "outgoing" | "out" => Direction::Outbound,
                _ => return Err(cx.bad(el, format!("'{}' is not Inbound or Outbound", el.text))),
            },
        )),
        None => None,
    };
    let implied = match t {
        ProviderType::Pop3 => Some(Direction::Inbound),
        ProviderType::Smtp => Some(Direction::Outbound),
        _ => None,
    };
    match (explicit, implied) {
        (Some((el, d)), Some(i)) if d != i => Err(cx.bad(
            el,
            format!(
                "a {} provider cannot be {}",
                t.label(),
                if d == Direction::Inbound { "Inbound" } else { "Outbound" }
            ),
        )),
        (Some((_, d)), _) => Ok(d),
        (None, Some(i)) => Ok(i),
        (None, None) if t == ProviderType::ExchangeOnline => {
            Err(cx.missing(block, "Direction", "Exchange Online can be incoming or outgoing"))
        }
        (None, None) => Ok(Direction::Inbound),
    }
}

fn access(cx: &Ctx<'_>, block: &Element) -> Result<Option<Access>> {
    let Some(el) = cx.text(block, &["EmailAccessType"])? else { return Ok(None) };
    Ok(Some(match norm(&el.text).as_str() {
        "localsystem" | "localsystemaccount" => Access::LocalSystem,
        "userspecified" | "user" => Access::UserSpecified,
        "otherspecified" | "other" => Access::OtherSpecified,
        "anonymous" => Access::Anonymous,
        _ => {
            return Err(cx.bad(
                el,
                format!("'{}' is not LocalSystem, UserSpecified, OtherSpecified or Anonymous", el.text),
            ));
        }
    }))
}

fn located(el: &Element) -> Located<String> {
    Located { value: el.text.clone(), path: el.path.clone(), line: el.line }
}

fn provider(cx: &Ctx<'_>, block: &Element, warnings: &mut Vec<Warning>) -> Result<ProviderBlock> {
    for child in &block.children {
        if child.is("ProviderConfiguration") {
            return Err(cx.bad(child, "a provider block must not contain another provider block"));
        }
        let known = [TYPE, LOCATION, IGNORED, USED].iter().any(|set| set.iter().any(|n| child.is(n)));
        if !known {
            warnings.push(Warning::at(child, "unknown element, ignored"));
        }
    }
    let provider_type = provider_type(cx, block)?;
    let direction = direction(cx, block, provider_type)?;
    let port = match cx.text(block, &["EmailPort"])? {
        Some(el) => match el.text.parse::<u32>() {
            Ok(p) if (1..=65535).contains(&p) => {
                Some(Located { value: p as u16, path: el.path.clone(), line: el.line })
            }
            _ => return Err(cx.bad(el, format!("'{}' is not a port number (1-65535)", el.text))),
        },
        None => None,
    };
    let ids = |name: &str| -> Result<Vec<Located<String>>> {
        block
            .all(&[name])
            .filter(|e| !e.text.is_empty())
            .map(|e| {
                if is_guid(&e.text) {
                    Ok(Located { value: normalize_id(&e.text), path: e.path.clone(), line: e.line })
                } else {
                    Err(cx.bad(e, format!("'{}' is not a CRM id (GUID)", e.text)))
                }
            })
            .collect()
    };
    let user_ids = ids("UserId")?;
    let queue_ids = ids("QueueId")?;
    let addresses = block
        .all(&["EmailAddress"])
        .filter(|e| !e.text.is_empty())
        .map(|e| match crmsync_core::address::validate("EmailAddress", &e.text) {
            Ok(a) => Ok(Located { value: a, path: e.path.clone(), line: e.line }),
            Err(crmsync_core::CoreError::Invalid { reason, .. }) => Err(cx.bad(e, reason)),
            Err(other) => Err(other.into()),
        })
        .collect::<Result<Vec<_>>>()?;
    let forward_mailbox = cx.boolean(block, "IsForwardMailbox")?.unwrap_or(false);
    let location = cx.text(block, LOCATION)?.map(located);
    let deployment = cx.text(block, &["CrmServerUrl"])?.map(|e| e.text.clone());
    if provider_type.is_migratable() {
        if deployment.is_none() {
            return Err(cx.missing(block, "CrmServerUrl", "the organization this provider serves"));
        }
        if location.is_none() && provider_type != ProviderType::ExchangeOnline {
            return Err(cx.missing(block, "EmailServerLocation", "the server's URL or host name"));
        }
    }
    if forward_mailbox {
        let flag = cx.one(block, &["IsForwardMailbox"])?.unwrap_or(block);
        if direction == Direction::Outbound {
            return Err(cx.bad(flag, "an outgoing provider cannot be a forward mailbox"));
        }
        if addresses.is_empty() {
            return Err(cx.missing(block, "EmailAddress", "the forward mailbox's address"));
        }
    }
    Ok(ProviderBlock {
        path: block.path.clone(),
        line: block.line,
        name: cx.text(block, &["ProfileName"])?.map(|e| e.text.clone()),
        provider_type,
        direction,
        deployment,
        location,
        port,
        use_ssl: cx.boolean(block, "EmailUseSsl")?,
        access: access(cx, block)?,
        auth_mode: cx.text(block, &["EmailAuthMode"])?.map(|e| e.text.clone()),
        email_user: cx.text(block, &["EmailUser"])?.map(|e| e.text.clone()),
        has_password: cx.text(block, &["EmailPassword"])?.is_some(),
        user_ids,
        queue_ids,
        addresses,
        forward_mailbox,
        delete_emails: cx.boolean(block, "DeleteEmails")?.unwrap_or(false),
    })
}

fn warn_unknown(el: &Element, known: &[&str], warnings: &mut Vec<Warning>) {
    for child in &el.children {
        if !known.iter().any(|k| child.is(k)) {
            warnings.push(Warning::at(child, "unknown element, ignored"));
        }
    }
}

/// Parses the text of an EmailAgent.xml; `file` names it in errors and warnings.
pub fn parse(file: &str, src: &str) -> Result<RouterConfig> {
    let cx = Ctx { file };
    let root = xml::parse(file, src)?;
    if !root.is("Configuration") {
        return Err(cx.bad(&root, format!("the root element is <{}>, expected <Configuration>", root.name)));
    }
    let mut warnings = Vec::new();
    let mut providers = Vec::new();
    for child in &root.children {
        if child.is("SystemConfiguration") {
            warn_unknown(child, SYSTEM_CHILDREN, &mut warnings);
            for o in child.all(&["ProviderOverrides"]) {
                warn_unknown(o, OVERRIDES_CHILDREN, &mut warnings);
            }
        } else if child.is("ProviderConfiguration") {
            providers.push(provider(&cx, child, &mut warnings)?);
        } else {
            warnings.push(Warning::at(child, "unknown element, ignored"));
        }
    }
    for w in &mut warnings {
        w.file = Some(file.to_string());
    }
    Ok(RouterConfig { file: file.to_string(), providers, warnings })
}

/// Reads and parses an EmailAgent.xml file.
pub fn load(path: &std::path::Path) -> Result<RouterConfig> {
    let file =
        path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned());
    let bytes = std::fs::read(path).map_err(|source| EngineError::ReadFile {
        field: "config".into(),
        path: path.display().to_string(),
        source,
    })?;
    parse(&file, &xml::decode(&file, &bytes)?)
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
