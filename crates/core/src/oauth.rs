//! OAuth2 sign-in as a profile property: the settings an admin gives (provider,
//! client id, endpoints, scopes), the one table of provider presets that fills
//! hosts, ports, security, endpoints and scopes, and their validation. No
//! network here: the flows are the engine's.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::model::{Security, text_enum};

text_enum!(
    /// How a profile's mailboxes sign in to the servers.
    AuthMethod {
        /// A user name and password (SASL PLAIN/LOGIN, HTTP Basic).
        Password = "password",
        /// OAuth2 access tokens (SASL XOAUTH2/OAUTHBEARER, HTTP Bearer).
        Oauth2 = "oauth2",
    }
);

// The enum comes from `text_enum!`, which derives no Default.
#[allow(clippy::derivable_impls)]
impl Default for AuthMethod {
    fn default() -> Self {
        AuthMethod::Password
    }
}

text_enum!(
    /// Who issues the OAuth2 tokens of a profile.
    OAuthProvider {
        /// Microsoft 365 (Microsoft Entra ID).
        Microsoft = "microsoft",
        /// Google Workspace.
        Google = "google",
        /// Any other authorization server, with its endpoints given.
        Custom = "custom",
    }
);

/// The OAuth2 settings of a profile (the client secret is stored apart,
/// encrypted, and never part of this).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthConfig {
    /// Who issues the tokens.
    pub provider: OAuthProvider,
    /// The application (client) id the office registered.
    pub client_id: String,
    /// Microsoft tenant (directory id or domain; default `organizations`).
    pub tenant: Option<String>,
    /// Issuer URL (custom providers; informational).
    pub issuer: Option<String>,
    /// Authorization endpoint (authorization code flow).
    pub authorize_url: String,
    /// Token endpoint.
    pub token_url: String,
    /// Device authorization endpoint (RFC 8628), when the provider has one.
    pub device_url: Option<String>,
    /// Scopes asked for a mailbox's sign-in.
    pub scopes: Vec<String>,
}

/// What a provider preset fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// The provider.
    pub provider: OAuthProvider,
    /// IMAP host, port, security.
    pub imap: (&'static str, u16, Security),
    /// POP3 host, port, security, when the provider offers POP3.
    pub pop3: Option<(&'static str, u16, Security)>,
    /// SMTP submission host, port, security.
    pub smtp: (&'static str, u16, Security),
    /// CalDAV/CardDAV base URL, when the provider offers one to crmsync.
    pub dav_url: Option<&'static str>,
    /// Scopes of a mailbox's (delegated) sign-in.
    pub scopes: &'static [&'static str],
    /// The scope of an app-only (client credentials) token.
    pub app_scopes: &'static [&'static str],
}

/// The provider presets: the one place their hosts, ports and scopes are written.
pub const PRESETS: &[Preset] = &[
    Preset {
        provider: OAuthProvider::Microsoft,
        imap: ("outlook.office365.com", 993, Security::Tls),
        pop3: Some(("outlook.office365.com", 995, Security::Tls)),
        smtp: ("smtp.office365.com", 587, Security::Starttls),
        dav_url: None,
        scopes: &[
            "https://outlook.office.com/IMAP.AccessAsUser.All",
            "https://outlook.office.com/POP.AccessAsUser.All",
            "https://outlook.office.com/SMTP.Send",
            "offline_access",
        ],
        app_scopes: &["https://outlook.office365.com/.default"],
    },
    Preset {
        provider: OAuthProvider::Google,
        imap: ("imap.gmail.com", 993, Security::Tls),
        pop3: Some(("pop.gmail.com", 995, Security::Tls)),
        smtp: ("smtp.gmail.com", 465, Security::Tls),
        dav_url: Some("https://apidata.googleusercontent.com/caldav/v2/"),
        scopes: &[
            "https://mail.google.com/",
            "https://www.googleapis.com/auth/calendar",
            "https://www.googleapis.com/auth/carddav",
        ],
        app_scopes: &["https://mail.google.com/"],
    },
];

/// Delegated scopes of a Microsoft 365 (Graph) profile's mailbox sign-in:
/// mail, sending, calendars, contacts and To Do tasks, and a refresh token.
pub const GRAPH_SCOPES: &[&str] = &[
    "https://graph.microsoft.com/User.Read",
    "https://graph.microsoft.com/Mail.ReadWrite",
    "https://graph.microsoft.com/Mail.Send",
    "https://graph.microsoft.com/Calendars.ReadWrite",
    "https://graph.microsoft.com/Contacts.ReadWrite",
    "https://graph.microsoft.com/Tasks.ReadWrite",
    "offline_access",
];

/// The scope of a Microsoft 365 (Graph) profile's app-only token: the
/// application permissions the admin granted.
pub const GRAPH_APP_SCOPES: &[&str] = &["https://graph.microsoft.com/.default"];

/// Google's CardDAV base URL (the preset's DAV URL is its CalDAV one).
pub const GOOGLE_CARDDAV_URL: &str = "https://www.googleapis.com/carddav/v1/";

/// The preset of `provider` (none for custom).
pub fn preset(provider: OAuthProvider) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.provider == provider)
}

/// The authorize, token and device authorization endpoints of a preset provider.
pub fn provider_endpoints(provider: OAuthProvider, tenant: Option<&str>) -> Option<(String, String, String)> {
    match provider {
        OAuthProvider::Microsoft => {
            let t = tenant.unwrap_or("organizations");
            let base = format!("https://login.microsoftonline.com/{t}/oauth2/v2.0");
            Some((format!("{base}/authorize"), format!("{base}/token"), format!("{base}/devicecode")))
        }
        OAuthProvider::Google => Some((
            "https://accounts.google.com/o/oauth2/v2/auth".into(),
            "https://oauth2.googleapis.com/token".into(),
            "https://oauth2.googleapis.com/device/code".into(),
        )),
        OAuthProvider::Custom => None,
    }
}

/// OAuth2 settings as the admin typed them; `None` is "not given".
#[derive(Debug, Clone, Default)]
pub struct OAuthInput<'a> {
    /// Provider word.
    pub provider: Option<&'a str>,
    /// Client id.
    pub client_id: Option<&'a str>,
    /// Microsoft tenant.
    pub tenant: Option<&'a str>,
    /// Issuer URL.
    pub issuer: Option<&'a str>,
    /// Authorization endpoint.
    pub authorize_url: Option<&'a str>,
    /// Token endpoint.
    pub token_url: Option<&'a str>,
    /// Device authorization endpoint.
    pub device_url: Option<&'a str>,
    /// Scopes, space or comma separated.
    pub scopes: Option<&'a str>,
}

fn check_url(field: &str, u: &str, allow_insecure: bool) -> Result<String> {
    let u = u.trim();
    let host = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://"));
    let Some(rest) = host else {
        return Err(CoreError::invalid(field, format!("'{u}' is not an http(s) URL")));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains('@') {
        return Err(CoreError::invalid(field, format!("'{u}' has no host (and must not carry credentials)")));
    }
    let loopback = host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]");
    if u.starts_with("http://") && !allow_insecure && !loopback {
        return Err(CoreError::invalid(
            field,
            "http:// sends tokens in clear text; use https:// or add --allow-insecure",
        ));
    }
    Ok(u.to_string())
}

fn text(field: &str, v: &str) -> Result<String> {
    let v = v.trim();
    if v.is_empty() || v.len() > 500 || v.chars().any(char::is_control) {
        return Err(CoreError::invalid(field, "must be 1 to 500 printable characters"));
    }
    Ok(v.to_string())
}

/// Builds and validates OAuth2 settings from `input` over `base`; errors name
/// the option (`oauth-client-id`, `oauth-token-url`, ...).
pub fn build_config(
    input: &OAuthInput<'_>,
    base: Option<&OAuthConfig>,
    allow_insecure: bool,
) -> Result<OAuthConfig> {
    let provider = match (input.provider, base) {
        (Some(p), _) => OAuthProvider::parse("oauth-provider", p)?,
        (None, Some(b)) => b.provider,
        (None, None) => {
            return Err(CoreError::invalid(
                "oauth-provider",
                "required with --auth oauth2: microsoft, google or custom",
            ));
        }
    };
    let same_provider = base.filter(|b| b.provider == provider);
    let client_id = match (input.client_id, same_provider) {
        (Some(c), _) => text("oauth-client-id", c)?,
        (None, Some(b)) => b.client_id.clone(),
        (None, None) => {
            return Err(CoreError::invalid(
                "oauth-client-id",
                "required with --auth oauth2: the application (client) id registered for this office",
            ));
        }
    };
    let tenant = match (input.tenant, same_provider) {
        (Some(t), _) if t.trim().is_empty() => None,
        (Some(t), _) => Some(text("oauth-tenant", t)?),
        (None, Some(b)) => b.tenant.clone(),
        (None, None) => None,
    };
    if tenant.is_some() && provider != OAuthProvider::Microsoft {
        return Err(CoreError::invalid("oauth-tenant", "only used with --provider microsoft"));
    }
    if let Some(t) = &tenant
        && !t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
    {
        return Err(CoreError::invalid("oauth-tenant", format!("'{t}' is not a tenant id or domain")));
    }
    let url = |field: &str, given: Option<&str>, old: Option<&str>| -> Result<Option<String>> {
        match (given, old) {
            (Some(u), _) if u.trim().is_empty() => Ok(None),
            (Some(u), _) => Ok(Some(check_url(field, u, allow_insecure)?)),
            (None, old) => Ok(old.map(str::to_string)),
        }
    };
    let custom_base = same_provider.filter(|_| provider == OAuthProvider::Custom);
    let given_urls = [input.issuer, input.authorize_url, input.token_url, input.device_url];
    let (issuer, authorize_url, token_url, device_url) = match provider_endpoints(provider, tenant.as_deref())
    {
        Some((a, t, d)) => {
            if given_urls.iter().any(Option::is_some) {
                let field = if input.token_url.is_some() { "oauth-token-url" } else { "oauth-authorize-url" };
                return Err(CoreError::invalid(
                    field,
                    format!(
                        "the {provider} preset has its own endpoints; give URLs only with --provider custom"
                    ),
                ));
            }
            (None, a, t, Some(d))
        }
        None => {
            let issuer = url("oauth-issuer", input.issuer, custom_base.and_then(|b| b.issuer.as_deref()))?;
            let authorize = url(
                "oauth-authorize-url",
                input.authorize_url,
                custom_base.map(|b| b.authorize_url.as_str()),
            )?;
            let token = url("oauth-token-url", input.token_url, custom_base.map(|b| b.token_url.as_str()))?
                .ok_or_else(|| {
                CoreError::invalid("oauth-token-url", "required with --provider custom")
            })?;
            let device =
                url("oauth-device-url", input.device_url, custom_base.and_then(|b| b.device_url.as_deref()))?;
            let authorize = authorize
                .or_else(|| issuer.as_ref().map(|i| format!("{}/authorize", i.trim_end_matches('/'))));
            let authorize = authorize.ok_or_else(|| {
                CoreError::invalid(
                    "oauth-authorize-url",
                    "required with --provider custom (or give --issuer)",
                )
            })?;
            (issuer, authorize, token, device)
        }
    };
    let scopes = match (input.scopes, same_provider) {
        (Some(s), _) => s.split([' ', ',']).filter(|s| !s.is_empty()).map(str::to_string).collect(),
        (None, Some(b)) => b.scopes.clone(),
        (None, None) => {
            preset(provider).map(|p| p.scopes.iter().map(|s| s.to_string()).collect()).unwrap_or_default()
        }
    };
    if scopes.is_empty() {
        return Err(CoreError::invalid("oauth-scopes", "required with --provider custom (space separated)"));
    }
    if let Some(bad) = scopes.iter().find(|s| s.chars().any(|c| c.is_control() || c == '"' || c == '\\')) {
        return Err(CoreError::invalid("oauth-scopes", format!("'{bad}' is not a scope")));
    }
    Ok(OAuthConfig { provider, client_id, tenant, issuer, authorize_url, token_url, device_url, scopes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(r: Result<OAuthConfig>) -> String {
        match r {
            Err(CoreError::Invalid { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn the_microsoft_preset_fills_endpoints_for_the_tenant_and_the_office_scopes() {
        let c = build_config(
            &OAuthInput {
                provider: Some("microsoft"),
                client_id: Some("abc"),
                tenant: Some("contoso.onmicrosoft.com"),
                ..Default::default()
            },
            None,
            false,
        )
        .unwrap();
        assert_eq!(
            c.token_url,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(
            c.authorize_url,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
        );
        assert_eq!(
            c.device_url.as_deref(),
            Some("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode")
        );
        assert!(c.scopes.contains(&"https://outlook.office.com/IMAP.AccessAsUser.All".to_string()));
        assert!(c.scopes.contains(&"offline_access".to_string()));
        let p = preset(OAuthProvider::Microsoft).unwrap();
        assert_eq!(p.imap, ("outlook.office365.com", 993, Security::Tls));
        assert_eq!(p.pop3, Some(("outlook.office365.com", 995, Security::Tls)));
        assert_eq!(p.smtp, ("smtp.office365.com", 587, Security::Starttls));
    }

    #[test]
    fn the_google_preset_has_mail_calendar_and_contacts() {
        let c = build_config(
            &OAuthInput {
                provider: Some("google"),
                client_id: Some("x.apps.googleusercontent.com"),
                ..Default::default()
            },
            None,
            false,
        )
        .unwrap();
        assert_eq!(c.token_url, "https://oauth2.googleapis.com/token");
        assert_eq!(c.device_url.as_deref(), Some("https://oauth2.googleapis.com/device/code"));
        assert_eq!(c.authorize_url, "https://accounts.google.com/o/oauth2/v2/auth");
        assert_eq!(c.scopes[0], "https://mail.google.com/");
        let p = preset(OAuthProvider::Google).unwrap();
        assert_eq!(p.imap.0, "imap.gmail.com");
        assert_eq!(p.smtp.0, "smtp.gmail.com");
        assert_eq!(p.dav_url, Some("https://apidata.googleusercontent.com/caldav/v2/"));
        assert!(preset(OAuthProvider::Custom).is_none());
    }

    #[test]
    fn validation_names_the_field() {
        let no_id = OAuthInput { provider: Some("google"), ..Default::default() };
        assert_eq!(field(build_config(&no_id, None, false)), "oauth-client-id");
        let no_provider = OAuthInput { client_id: Some("x"), ..Default::default() };
        assert_eq!(field(build_config(&no_provider, None, false)), "oauth-provider");
        let bad = OAuthInput { provider: Some("yahoo"), client_id: Some("x"), ..Default::default() };
        assert_eq!(field(build_config(&bad, None, false)), "oauth-provider");
        let custom = OAuthInput { provider: Some("custom"), client_id: Some("x"), ..Default::default() };
        assert_eq!(field(build_config(&custom, None, false)), "oauth-token-url");
        let plain = OAuthInput { token_url: Some("http://idp.example.test/token"), ..custom.clone() };
        assert_eq!(field(build_config(&plain, None, false)), "oauth-token-url");
        let no_scopes = OAuthInput {
            token_url: Some("https://idp.example.test/token"),
            authorize_url: Some("https://idp.example.test/auth"),
            ..custom.clone()
        };
        assert_eq!(field(build_config(&no_scopes, None, false)), "oauth-scopes");
        let tenant = OAuthInput {
            provider: Some("google"),
            client_id: Some("x"),
            tenant: Some("t"),
            ..Default::default()
        };
        assert_eq!(field(build_config(&tenant, None, false)), "oauth-tenant");
        let urls = OAuthInput {
            provider: Some("google"),
            client_id: Some("x"),
            token_url: Some("https://a.test/t"),
            ..Default::default()
        };
        assert_eq!(field(build_config(&urls, None, false)), "oauth-token-url");
    }

    #[test]
    fn a_custom_provider_on_loopback_keeps_its_urls_and_an_update_keeps_what_is_not_given() {
        let input = OAuthInput {
            provider: Some("custom"),
            client_id: Some("crmsync"),
            issuer: Some("http://127.0.0.1:8080"),
            token_url: Some("http://127.0.0.1:8080/token"),
            device_url: Some("http://127.0.0.1:8080/device"),
            scopes: Some("email offline_access"),
            ..Default::default()
        };
        let c = build_config(&input, None, false).unwrap();
        assert_eq!(c.authorize_url, "http://127.0.0.1:8080/authorize");
        assert_eq!(c.scopes, vec!["email", "offline_access"]);
        let again =
            build_config(&OAuthInput { client_id: Some("other"), ..Default::default() }, Some(&c), false)
                .unwrap();
        assert_eq!(
            (again.client_id.as_str(), again.token_url.as_str()),
            ("other", "http://127.0.0.1:8080/token")
        );
    }
}
