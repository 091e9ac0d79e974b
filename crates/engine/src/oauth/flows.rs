//! The OAuth2 grants, on the `oauth2` crate: device authorization (RFC 8628),
//! authorization code with PKCE and a loopback redirect (RFC 8252), client
//! credentials (app-only) and refresh. No store here: each takes the profile's
//! OAuth2 settings and returns the tokens; nothing secret is logged.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crmsync_core::oauth::{OAuthConfig, OAuthProvider};
use crmsync_core::secrets::Secret;
use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, DeviceAuthorizationUrl, EndpointMaybeSet,
    EndpointNotSet, PkceCodeChallenge, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl,
};

use super::loopback;
use crate::error::{EngineError, Result};

type Client =
    BasicClient<EndpointMaybeSet, EndpointMaybeSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet>;

/// Tokens a grant returned.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The access token.
    pub access: Secret,
    /// The refresh token, when the server issued one.
    pub refresh: Option<Secret>,
    /// When the access token expires (server's `expires_in`).
    pub expires_on: Option<DateTime<Utc>>,
    /// The granted scopes, space separated, when the server said.
    pub scope: Option<String>,
}

/// What the user is asked to do in the device flow.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DevicePrompt {
    /// The page to open.
    pub verification_uri: String,
    /// The page with the code filled in, when the server gives one.
    pub verification_uri_complete: Option<String>,
    /// The code to type there.
    pub user_code: String,
    /// How long the code is valid.
    pub expires_in_secs: u64,
}

/// The profile's OAuth2 client, its secret and the HTTP client the grants use.
pub struct Flow {
    client: Client,
    http: reqwest::Client,
    scopes: Vec<String>,
    provider: OAuthProvider,
}

fn config_error(field: &str, what: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::invalid(field, format!("{what}: {e}"))
}

impl Flow {
    /// Builds the client of `cfg` (with `secret` when the office registered a
    /// confidential client); `timeout` bounds every request.
    pub fn new(cfg: &OAuthConfig, secret: Option<&Secret>, timeout: Duration) -> Result<Flow> {
        let auth = AuthUrl::new(cfg.authorize_url.clone())
            .map_err(|e| config_error("oauth-authorize-url", &cfg.authorize_url, e))?;
        let token = TokenUrl::new(cfg.token_url.clone())
            .map_err(|e| config_error("oauth-token-url", &cfg.token_url, e))?;
        let device = match &cfg.device_url {
            Some(u) => Some(
                DeviceAuthorizationUrl::new(u.clone()).map_err(|e| config_error("oauth-device-url", u, e))?,
            ),
            None => None,
        };
        let mut client = BasicClient::new(ClientId::new(cfg.client_id.clone()))
            .set_auth_uri_option(Some(auth))
            .set_token_uri_option(Some(token))
            .set_device_authorization_url_option(device);
        if let Some(s) = secret {
            client = client.set_client_secret(ClientSecret::new(s.expose().to_string()));
        }
        let http = reqwest::Client::builder()
            // A token endpoint that redirects could send the code or secret elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| EngineError::OAuth { message: format!("HTTP client: {e}"), transient: false })?;
        Ok(Flow { client, http, scopes: cfg.scopes.clone(), provider: cfg.provider })
    }

    fn scopes(&self) -> impl Iterator<Item = Scope> + '_ {
        self.scopes.iter().map(|s| Scope::new(s.clone()))
    }

    /// Device authorization grant: asks for a user code, hands it to `prompt`
    /// (which shows the URL and code), then polls the token endpoint as the
    /// server says (interval, `slow_down`, `authorization_pending`) until the
    /// user approves, denies (`access_denied`) or the code expires (`expired_token`).
    pub async fn device(&self, prompt: impl FnOnce(&DevicePrompt)) -> Result<Tokens> {
        let details: StandardDeviceAuthorizationResponse = self
            .client
            .exchange_device_code()
            .map_err(|_| {
                EngineError::invalid(
                    "oauth-device-url",
                    "this profile has no device authorization endpoint; use --auth-code",
                )
            })?
            .add_scopes(self.scopes())
            .request_async(&self.http)
            .await
            .map_err(|e| token_error("device authorization", e))?;
        prompt(&DevicePrompt {
            verification_uri: details.verification_uri().to_string(),
            verification_uri_complete: details.verification_uri_complete().map(|u| u.secret().to_string()),
            user_code: details.user_code().secret().to_string(),
            expires_in_secs: details.expires_in().as_secs(),
        });
        let token = self
            .client
            .exchange_device_access_token(&details)
            .map_err(|e| EngineError::invalid("oauth-token-url", e.to_string()))?
            .request_async(&self.http, tokio::time::sleep, None)
            .await
            .map_err(|e| token_error("device sign-in", e))?;
        Ok(tokens(&token))
    }

    /// Authorization code grant with PKCE and a loopback redirect: listens on
    /// 127.0.0.1 (a free port), gives the authorization URL to `open` (the
    /// desktop opens the browser, the CLI prints it), serves the one redirect
    /// (state checked), and exchanges the code. `wait` bounds the user's time;
    /// `login_hint` (the mailbox's address) pre-fills the provider's sign-in page.
    pub async fn auth_code<F, Fut>(&self, login_hint: Option<&str>, open: F, wait: Duration) -> Result<Tokens>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = ()>,
    {
        let listener = loopback::bind().await?;
        let redirect = loopback::redirect_uri(&listener)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.client.clone().set_redirect_uri(
            RedirectUrl::new(redirect.clone()).map_err(|e| config_error("redirect-uri", &redirect, e))?,
        );
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .map_err(|e| EngineError::invalid("oauth-authorize-url", e.to_string()))?
            .add_scopes(self.scopes())
            .set_pkce_challenge(challenge);
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint);
        }
        if self.provider == OAuthProvider::Google {
            // Google issues a refresh token only when asked for offline access.
            request = request.add_extra_param("access_type", "offline").add_extra_param("prompt", "consent");
        }
        let (url, state) = request.url();
        open(url.to_string()).await;
        let code = loopback::receive_code(listener, state.secret(), wait).await?;
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| EngineError::invalid("oauth-token-url", e.to_string()))?
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| token_error("authorization code exchange", e))?;
        Ok(tokens(&token))
    }

    /// Client credentials grant (app-only access), asking for `scopes`.
    pub async fn client_credentials(&self, scopes: &[String]) -> Result<Tokens> {
        let token = self
            .client
            .exchange_client_credentials()
            .map_err(|e| EngineError::invalid("oauth-token-url", e.to_string()))?
            .add_scopes(scopes.iter().map(|s| Scope::new(s.clone())))
            .request_async(&self.http)
            .await
            .map_err(|e| token_error("app-only token", e))?;
        Ok(tokens(&token))
    }

    /// Refresh grant; a refused refresh (`invalid_grant`) is [`EngineError::SignInRequired`].
    pub async fn refresh(&self, refresh: &Secret) -> Result<Tokens> {
        let token = self
            .client
            .exchange_refresh_token(&RefreshToken::new(refresh.expose().to_string()))
            .map_err(|e| EngineError::invalid("oauth-token-url", e.to_string()))?
            .request_async(&self.http)
            .await
            .map_err(|e| token_error("token refresh", e))?;
        let mut t = tokens(&token);
        // A server may keep the refresh token and not send it again.
        if t.refresh.is_none() {
            t.refresh = Some(refresh.clone());
        }
        Ok(t)
    }
}

fn tokens(t: &BasicTokenResponse) -> Tokens {
    Tokens {
        access: Secret::new(t.access_token().secret().clone()),
        refresh: t.refresh_token().map(|r| Secret::new(r.secret().clone())),
        expires_on: t.expires_in().and_then(|d| chrono::Duration::from_std(d).ok()).map(|d| Utc::now() + d),
        scope: t.scopes().map(|s| s.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" ")),
    }
}

/// Turns a token endpoint's answer into the engine's error: a refused grant
/// means the user must sign in again; an unreachable server is transient.
fn token_error<RE, T>(what: &str, e: RequestTokenError<RE, oauth2::StandardErrorResponse<T>>) -> EngineError
where
    RE: std::error::Error + 'static,
    T: oauth2::ErrorResponseType + std::fmt::Display + 'static,
{
    match e {
        RequestTokenError::ServerResponse(r) => {
            let code = r.error().to_string();
            let detail = r.error_description().map(|d| format!(": {d}")).unwrap_or_default();
            let refused = matches!(
                code.as_str(),
                "invalid_grant" | "access_denied" | "expired_token" | "unauthorized_client" | "invalid_scope"
            );
            if refused {
                let why = match code.as_str() {
                    // The device flow's two ways of ending without tokens (RFC 8628 §3.5).
                    "expired_token" => format!(
                        "{what}: the code expired before the sign-in was completed ({code}); nothing was stored"
                    ),
                    "access_denied" => {
                        format!("{what}: the sign-in was declined ({code}){detail}; nothing was stored")
                    }
                    _ => format!("{what} refused ({code}){detail}"),
                };
                EngineError::SignInRequired { what: String::new(), why }
            } else {
                EngineError::OAuth { message: format!("{what} failed ({code}){detail}"), transient: false }
            }
        }
        RequestTokenError::Request(e) => EngineError::OAuth {
            message: format!("{what}: the authorization server cannot be reached: {e}"),
            transient: true,
        },
        RequestTokenError::Parse(e, _) => EngineError::OAuth {
            message: format!("{what}: unreadable answer from the authorization server: {e}"),
            transient: true,
        },
        RequestTokenError::Other(m) => {
            EngineError::OAuth { message: format!("{what}: {m}"), transient: true }
        }
    }
}

#[cfg(test)]
mod tests {
    use crmsync_core::oauth::{OAuthInput, build_config};

    use super::*;

    #[tokio::test]
    async fn the_google_authorize_url_asks_for_offline_access_with_pkce_and_a_login_hint() {
        let cfg = build_config(
            &OAuthInput {
                provider: Some("google"),
                client_id: Some("x.apps.googleusercontent.com"),
                ..Default::default()
            },
            None,
            false,
        )
        .unwrap();
        let flow = Flow::new(&cfg, None, Duration::from_secs(5)).unwrap();
        let seen = std::sync::Mutex::new(String::new());
        let r = flow
            .auth_code(
                Some("alice@example.test"),
                |url| {
                    *seen.lock().unwrap() = url;
                    async {}
                },
                Duration::from_millis(200),
            )
            .await;
        assert_eq!(r.unwrap_err().code(), "OAUTH_SIGN_IN_REQUIRED", "no browser came back");
        let url = seen.lock().unwrap().clone();
        assert!(url.starts_with("https://accounts.google.com/o/oauth2/v2/auth?"), "{url}");
        for part in [
            "access_type=offline",
            "prompt=consent",
            "code_challenge_method=S256",
            "login_hint=alice%40example.test",
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A",
            "scope=https%3A%2F%2Fmail.google.com%2F",
        ] {
            assert!(url.contains(part), "{part} missing: {url}");
        }
    }
}
