//! OAuth2 for a profile with `auth = oauth2`: signing a mailbox in (device
//! flow, or authorization code with a loopback redirect), app-only tokens
//! (client credentials, profile with `credentials = profile`), and a fresh
//! access token for each connection — refreshed when it expires within five
//! minutes, stored encrypted with the store's credential key. A refused
//! refresh forgets the tokens and is `OAUTH_SIGN_IN_REQUIRED` (permanent), so
//! nothing asks the token endpoint again until someone signs in.

pub mod flows;
pub mod loopback;

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crmsync_core::Store;
use crmsync_core::model::{CredentialSource, Mailbox, Profile};
use crmsync_core::oauth::{AuthMethod, GRAPH_APP_SCOPES, OAuthConfig, preset};
use crmsync_core::store::oauth_tokens::{self, StoredToken, TokenOwner};
use crmsync_core::store::{mailboxes, profiles};
use crmsync_protocols::settings::Password;
use serde::Serialize;
use tracing::info;

pub use flows::{DevicePrompt, Flow, Tokens};

use crate::error::{EngineError, Result};

/// Held while a token is read, renewed and stored.
static RENEWING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// An access token expiring sooner than this is refreshed before use.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Whether `profile` signs in with OAuth2.
pub fn uses_oauth(profile: &Profile) -> bool {
    profile.data.auth == AuthMethod::Oauth2
}

/// Whose token `mailbox` uses: its own, or the profile's app-only token.
pub fn owner(mailbox: &Mailbox, profile: &Profile) -> TokenOwner {
    match profile.data.credentials {
        CredentialSource::Profile => TokenOwner { profile_id: profile.id, mailbox_id: None },
        CredentialSource::Mailbox => TokenOwner { profile_id: profile.id, mailbox_id: Some(mailbox.id) },
    }
}

fn config(profile: &Profile) -> Result<&OAuthConfig> {
    profile.data.oauth.as_ref().filter(|_| uses_oauth(profile)).ok_or_else(|| {
        EngineError::invalid("auth", format!("profile '{}' does not sign in with OAuth2", profile.data.name))
    })
}

/// The OAuth2 client of `profile`, with its decrypted client secret.
pub fn flow(store: &Store, profile: &Profile) -> Result<Flow> {
    let cfg = config(profile)?;
    let secret = match profiles::client_secret_enc(store.conn(), profile.id)? {
        Some(enc) => Some(store.cipher()?.open(&enc)?),
        None => None,
    };
    Flow::new(cfg, secret.as_ref(), Duration::from_secs(u64::from(profile.data.timeout)))
}

/// Runs `f` to completion on a thread of its own with its own runtime, so a
/// synchronous caller (building a connection's settings) can wait for the
/// token endpoint whether or not it is inside a runtime.
fn block_on<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| EngineError::OAuth { message: format!("runtime: {e}"), transient: true })?;
        rt.block_on(f)
    })
    .join()
    .unwrap_or_else(|_| {
        Err(EngineError::OAuth { message: "the token request panicked".into(), transient: true })
    })
}

fn who(mailbox: &Mailbox, profile: &Profile) -> String {
    match profile.data.credentials {
        CredentialSource::Profile => {
            format!("profile '{}' (app-only) for {}: ", profile.data.name, mailbox.data.email)
        }
        CredentialSource::Mailbox => format!("mailbox {}: ", mailbox.data.email),
    }
}

fn named(e: EngineError, what: &str) -> EngineError {
    match e {
        EngineError::SignInRequired { why, .. } => {
            EngineError::SignInRequired { what: what.to_string(), why }
        }
        other => other,
    }
}

/// Stores `t` for `owner`, encrypted.
fn save(store: &Store, owner: TokenOwner, t: &Tokens) -> Result<()> {
    let cipher = store.cipher()?;
    let row = StoredToken {
        access_enc: Some(cipher.seal(&t.access)),
        refresh_enc: t.refresh.as_ref().map(|r| cipher.seal(r)),
        expires_on: t.expires_on,
        scope: t.scope.clone(),
    };
    Ok(oauth_tokens::put(store.conn(), owner, &row)?)
}

fn fresh(t: &StoredToken, now: DateTime<Utc>) -> bool {
    let margin = chrono::Duration::from_std(REFRESH_MARGIN).unwrap_or_default();
    t.access_enc.is_some() && t.expires_on.is_none_or(|e| e > now + margin)
}

/// The scopes of an app-only token: the preset's `.default`-style scope
/// (Microsoft Graph's for a Microsoft 365 profile), or the profile's own for
/// a custom provider.
fn app_scopes(profile: &Profile, cfg: &OAuthConfig) -> Vec<String> {
    let graph = crate::backend::facts(profile.data.kind).graph;
    match preset(cfg.provider) {
        Some(_) if graph => GRAPH_APP_SCOPES.iter().map(|s| s.to_string()).collect(),
        Some(p) => p.app_scopes.iter().map(|s| s.to_string()).collect(),
        None => cfg.scopes.clone(),
    }
}

/// A valid access token for `mailbox`: the stored one while it is valid for
/// more than [`REFRESH_MARGIN`], else a refreshed one (or a new app-only
/// token), stored before it is returned.
pub fn access_token(store: &Store, mailbox: &Mailbox, profile: &Profile) -> Result<Password> {
    // One renewal at a time in this process: a watcher and a sync starting
    // together must not both spend the refresh token (a rotating server
    // would revoke one of them), and after a refused refresh the second
    // finds the tokens gone instead of asking the token endpoint again.
    let _renewing = RENEWING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let owner = owner(mailbox, profile);
    let what = who(mailbox, profile);
    let stored = oauth_tokens::get(store.conn(), owner)?;
    if let Some(t) = stored.as_ref().filter(|t| fresh(t, Utc::now()))
        && let Some(enc) = &t.access_enc
    {
        return Ok(Password::new(store.cipher()?.open(enc)?.expose()));
    }
    let flow = flow(store, profile)?;
    let new = match profile.data.credentials {
        CredentialSource::Profile => {
            let scopes = app_scopes(profile, config(profile)?);
            block_on(async move { flow.client_credentials(&scopes).await }).map_err(|e| named(e, &what))?
        }
        CredentialSource::Mailbox => {
            let refresh = stored.as_ref().and_then(|t| t.refresh_enc.as_ref()).ok_or_else(|| {
                EngineError::SignInRequired {
                    what: what.clone(),
                    why: "not signed in (or the sign-in was withdrawn); sign the mailbox in".into(),
                }
            })?;
            let refresh = store.cipher()?.open(refresh)?;
            match block_on(async move { flow.refresh(&refresh).await }) {
                Ok(t) => t,
                Err(e @ EngineError::SignInRequired { .. }) => {
                    // Forget the refused tokens: the next attempt says "sign in"
                    // without asking the token endpoint again.
                    oauth_tokens::delete(store.conn(), owner)?;
                    return Err(named(e, &what));
                }
                Err(e) => return Err(e),
            }
        }
    };
    save(store, owner, &new)?;
    info!(mailbox = %mailbox.data.email, profile = %profile.data.name, "OAuth2 access token renewed");
    Ok(Password::new(new.access.expose()))
}

/// Marks the stored access token of `mailbox` as unusable (the server refused
/// it), so the next [`access_token`] refreshes it; the refresh token stays.
pub fn expire_access(store: &Store, mailbox: &Mailbox, profile: &Profile) -> Result<()> {
    let owner = owner(mailbox, profile);
    if let Some(mut t) = oauth_tokens::get(store.conn(), owner)? {
        t.access_enc = None;
        t.expires_on = None;
        oauth_tokens::put(store.conn(), owner, &t)?;
    }
    Ok(())
}

/// Whether `e` is a server refusing a bearer token of an OAuth2 profile (the
/// one case where a refresh and one more try can help).
pub fn bearer_refused(profile: &Profile, e: &EngineError) -> bool {
    let code = e.code();
    uses_oauth(profile) && (code == "OAUTH_TOKEN_REFUSED" || code.ends_with("AUTH_FAILED"))
}

/// A mailbox's OAuth2 sign-in as `mailbox show` tells it (never a token).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignInStatus {
    /// The provider word (microsoft, google, custom).
    pub provider: String,
    /// The profile's app-only token serves this mailbox (no sign-in of its own).
    pub app_only: bool,
    /// Tokens are stored.
    pub signed_in: bool,
    /// Until when the stored access token is valid.
    pub access_valid_until: Option<DateTime<Utc>>,
    /// A refresh token is stored (the access token renews itself).
    pub can_refresh: bool,
}

/// The sign-in state of `mailbox`; None when its profile uses passwords.
pub fn status(store: &Store, mailbox: &Mailbox) -> Result<Option<SignInStatus>> {
    let profile = profiles::get_by_id(store.conn(), mailbox.data.profile_id)?;
    let Ok(cfg) = config(&profile) else { return Ok(None) };
    let t = oauth_tokens::get(store.conn(), owner(mailbox, &profile))?;
    Ok(Some(SignInStatus {
        provider: cfg.provider.to_string(),
        app_only: profile.data.credentials == CredentialSource::Profile,
        signed_in: t.as_ref().is_some_and(|t| t.access_enc.is_some() || t.refresh_enc.is_some()),
        access_valid_until: t.as_ref().filter(|t| t.access_enc.is_some()).and_then(|t| t.expires_on),
        can_refresh: t.as_ref().is_some_and(|t| t.refresh_enc.is_some()),
    }))
}

fn lookup(store: &Store, email: &str) -> Result<(Mailbox, Profile)> {
    let mb = mailboxes::find(store.conn(), email)?
        .ok_or_else(|| EngineError::invalid("email", format!("no mailbox for {email}")))?;
    let profile = profiles::get_by_id(store.conn(), mb.data.profile_id)?;
    config(&profile).map_err(|_| {
        EngineError::invalid(
            "email",
            format!(
                "mailbox {email} uses profile '{}', which signs in with a password, not OAuth2",
                profile.data.name
            ),
        )
    })?;
    Ok((mb, profile))
}

fn finish(store: &Store, mb: &Mailbox, profile: &Profile, t: Result<Tokens>) -> Result<SignInStatus> {
    let t = t.map_err(|e| named(e, &who(mb, profile)))?;
    save(store, owner(mb, profile), &t)?;
    info!(mailbox = %mb.data.email, profile = %profile.data.name, "OAuth2 sign-in stored");
    Ok(status(store, mb)?.expect("an OAuth2 profile has a status"))
}

/// Signs `email` in with the device flow: `prompt` shows the URL and code,
/// then this polls until the user approves. For an app-only profile it gets
/// the profile's token instead (no user involved).
pub async fn sign_in_device(
    store: &Store,
    email: &str,
    prompt: impl FnOnce(&DevicePrompt),
) -> Result<SignInStatus> {
    let (mb, profile) = lookup(store, email)?;
    let flow = flow(store, &profile)?;
    let t = match profile.data.credentials {
        CredentialSource::Profile => flow.client_credentials(&app_scopes(&profile, config(&profile)?)).await,
        CredentialSource::Mailbox => flow.device(prompt).await,
    };
    finish(store, &mb, &profile, t)
}

/// Signs `email` in with the authorization code flow and a loopback
/// redirect: `open` gets the URL to open in a browser (the desktop opens it,
/// the CLI prints it); the user has `wait` to finish.
pub async fn sign_in_auth_code<F, Fut>(
    store: &Store,
    email: &str,
    open: F,
    wait: Duration,
) -> Result<SignInStatus>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let prepared = prepare_sign_in(store, email)?;
    let signed = prepared.run(open, wait).await;
    store_sign_in(store, signed)
}

/// A browser sign-in read from the store, to run away from it: the desktop's
/// store thread must not wait for the user's browser. [`prepare_sign_in`]
/// reads, [`PreparedSignIn::run`] talks to the browser and the token endpoint
/// (no store), [`store_sign_in`] stores the tokens.
pub struct PreparedSignIn {
    email: String,
    what: String,
    flow: Flow,
    /// The `login_hint`, or None for an app-only profile (client credentials).
    hint: Option<String>,
    app_scopes: Vec<String>,
}

impl std::fmt::Debug for PreparedSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedSignIn")
            .field("email", &self.email)
            .field("app_only", &self.hint.is_none())
            .finish()
    }
}

/// The outcome of [`PreparedSignIn::run`], for [`store_sign_in`].
#[derive(Debug)]
pub struct SignedIn {
    email: String,
    what: String,
    tokens: Result<Tokens>,
}

/// Reads what the browser sign-in of `email` needs (its profile's OAuth2
/// client and decrypted secret); fails when the profile uses passwords.
pub fn prepare_sign_in(store: &Store, email: &str) -> Result<PreparedSignIn> {
    let (mb, profile) = lookup(store, email)?;
    let flow = flow(store, &profile)?;
    let hint = match profile.data.credentials {
        CredentialSource::Profile => None,
        CredentialSource::Mailbox => Some(mb.data.username.clone().unwrap_or_else(|| mb.data.email.clone())),
    };
    Ok(PreparedSignIn {
        email: mb.data.email.clone(),
        what: who(&mb, &profile),
        flow,
        hint,
        app_scopes: app_scopes(&profile, config(&profile)?),
    })
}

impl PreparedSignIn {
    /// The authorization code flow (an app-only profile gets its token with
    /// client credentials instead, no browser): `open` gets the URL.
    pub async fn run<F, Fut>(self, open: F, wait: Duration) -> SignedIn
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = ()>,
    {
        let tokens = match &self.hint {
            None => self.flow.client_credentials(&self.app_scopes).await,
            Some(hint) => self.flow.auth_code(Some(hint), open, wait).await,
        };
        SignedIn { email: self.email, what: self.what, tokens }
    }
}

/// Stores the tokens of a finished sign-in (encrypted) and returns the new
/// sign-in state; a failed sign-in stores nothing and is its error.
pub fn store_sign_in(store: &Store, signed: SignedIn) -> Result<SignInStatus> {
    let t = signed.tokens.map_err(|e| named(e, &signed.what))?;
    let (mb, profile) = lookup(store, &signed.email)?;
    finish(store, &mb, &profile, Ok(t))
}

/// Forgets `email`'s tokens (its own; an app-only profile's token serves
/// every mailbox and stays). True when tokens were stored.
pub fn sign_out(store: &Store, email: &str) -> Result<bool> {
    let (mb, profile) = lookup(store, email)?;
    if profile.data.credentials == CredentialSource::Profile {
        return Err(EngineError::invalid(
            "email",
            format!(
                "mailbox {email} uses profile '{}''s app-only access; it has no sign-in of its own",
                profile.data.name
            ),
        ));
    }
    Ok(oauth_tokens::delete(store.conn(), owner(&mb, &profile))?)
}

/// Stores tokens obtained elsewhere for `email` (the desktop's sign-in and tests).
pub fn store_tokens(store: &Store, email: &str, tokens: &Tokens) -> Result<()> {
    let (mb, profile) = lookup(store, email)?;
    save(store, owner(&mb, &profile), tokens)
}
