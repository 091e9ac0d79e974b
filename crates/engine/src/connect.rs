//! Connection settings for a mailbox's servers, from its profile and the
//! stored (encrypted) credentials: a password, or for an OAuth2 profile a
//! fresh access token (`oauth::access_token`).

use std::time::Duration;

use crmsync_core::Store;
use crmsync_core::model::{CredentialSource, Endpoint, Mailbox, OutgoingAuth, Profile};
use crmsync_core::settings::IntSetting;
use crmsync_core::store::{mailboxes, profiles, settings as stored_settings};
use crmsync_protocols::settings::{Password, ServerSettings};

use crate::error::{EngineError, Result};
use crate::oauth;

/// The user name a mailbox signs in as with OAuth2: its own user name or
/// address; with an app-only token (credentials = profile), its address.
fn oauth_user(mailbox: &Mailbox, profile: &Profile) -> String {
    match profile.data.credentials {
        CredentialSource::Profile => mailbox.data.email.clone(),
        CredentialSource::Mailbox => {
            mailbox.data.username.clone().unwrap_or_else(|| mailbox.data.email.clone())
        }
    }
}

/// The user name and password a mailbox logs in with. For an OAuth2 profile
/// the password is empty: the access token comes from [`login`].
pub fn credentials(store: &Store, mailbox: &Mailbox, profile: &Profile) -> Result<(String, Password)> {
    if oauth::uses_oauth(profile) {
        return Ok((oauth_user(mailbox, profile), Password::new("")));
    }
    let (user, enc) = match profile.data.credentials {
        CredentialSource::Profile => (
            profile.data.username.clone().unwrap_or_else(|| mailbox.data.email.clone()),
            profiles::password_enc(store.conn(), profile.id)?,
        ),
        CredentialSource::Mailbox => (
            mailbox.data.username.clone().unwrap_or_else(|| mailbox.data.email.clone()),
            mailboxes::password_enc(store.conn(), mailbox.id)?,
        ),
    };
    let enc = enc.ok_or_else(|| match profile.data.credentials {
        CredentialSource::Profile => EngineError::CredentialsRequired {
            what: format!("profile '{}'", profile.data.name),
            fix: format!("crmsync profile update '{}' --password-stdin", profile.data.name),
        },
        CredentialSource::Mailbox => EngineError::CredentialsRequired {
            what: format!("mailbox {}", mailbox.data.email),
            fix: format!("crmsync mailbox update {} --password-stdin", mailbox.data.email),
        },
    })?;
    let secret = store.cipher()?.open(&enc)?;
    Ok((user, Password::new(secret.expose())))
}

/// How a mailbox logs in to IMAP/POP3 (and, without `authzid`, SMTP and DAV).
#[derive(Debug, Clone)]
pub struct Login {
    /// The user name (the authentication identity).
    pub username: String,
    /// The password (empty with a bearer token).
    pub password: Password,
    /// The OAuth2 access token, for an OAuth2 profile.
    pub bearer: Option<Password>,
    /// The mailbox a profile's service account logs in on behalf of (SASL
    /// PLAIN authorization identity, RFC 4616), for a password profile with
    /// `credentials = profile`.
    pub authzid: Option<String>,
}

/// The login of `mailbox`: a fresh access token for an OAuth2 profile
/// (refreshed and stored when it is about to expire), else its password; a
/// profile's service account logs in on behalf of the mailbox.
pub fn login(store: &Store, mailbox: &Mailbox, profile: &Profile) -> Result<Login> {
    let (username, password) = credentials(store, mailbox, profile)?;
    if oauth::uses_oauth(profile) {
        let bearer = oauth::access_token(store, mailbox, profile)?;
        return Ok(Login { username, password, bearer: Some(bearer), authzid: None });
    }
    let authzid = (profile.data.credentials == CredentialSource::Profile)
        .then(|| mailbox.data.username.clone().unwrap_or_else(|| mailbox.data.email.clone()))
        .filter(|m| Some(m) != profile.data.username.as_ref());
    Ok(Login { username, password, bearer: None, authzid })
}

/// Total deadline of one operation for a per-read `timeout`: ten timeouts, at least a minute.
pub fn op_deadline(timeout: Duration) -> Duration {
    timeout.saturating_mul(10).max(Duration::from_secs(60))
}

/// `incoming.max_message_size_mb` in bytes.
pub fn max_message_bytes(store: &Store) -> Result<u64> {
    let mb = stored_settings::load(store.conn())?.int(IntSetting::IncomingMaxMessageSizeMb).max(1);
    Ok((mb as u64) << 20)
}

/// Settings for one endpoint of the profile with the mailbox's credentials.
pub fn server_settings(
    store: &Store,
    mailbox: &Mailbox,
    profile: &Profile,
    ep: &Endpoint,
) -> Result<ServerSettings> {
    let Login { username, password, bearer, authzid } = login(store, mailbox, profile)?;
    Ok(ServerSettings {
        host: ep.host.clone(),
        port: ep.port,
        security: ep.security,
        allow_insecure: profile.data.allow_insecure,
        username,
        password,
        bearer,
        authzid,
        timeout: Duration::from_secs(u64::from(profile.data.timeout)),
        extra_roots: Vec::new(),
        max_message_bytes: max_message_bytes(store)?,
        op_deadline: op_deadline(Duration::from_secs(u64::from(profile.data.timeout))),
    })
}

/// Settings for the outgoing (SMTP) side; `None` credentials when the profile
/// sends without AUTH.
pub fn smtp_settings(store: &Store, mailbox: &Mailbox, profile: &Profile) -> Result<Option<ServerSettings>> {
    let Some(ep) = &profile.data.outgoing else { return Ok(None) };
    // SMTP submits as the login itself (no authorization identity): a
    // service account sends for every mailbox.
    let (username, password, bearer) = match profile.data.outgoing_auth {
        OutgoingAuth::Password => {
            let l = login(store, mailbox, profile)?;
            (l.username, l.password, l.bearer)
        }
        OutgoingAuth::None => (String::new(), Password::new(""), None),
    };
    Ok(Some(ServerSettings {
        host: ep.host.clone(),
        port: ep.port,
        security: ep.security,
        allow_insecure: profile.data.allow_insecure,
        username,
        password,
        bearer,
        authzid: None,
        timeout: Duration::from_secs(u64::from(profile.data.timeout)),
        extra_roots: Vec::new(),
        max_message_bytes: crmsync_protocols::settings::DEFAULT_MAX_MESSAGE_BYTES,
        op_deadline: op_deadline(Duration::from_secs(u64::from(profile.data.timeout))),
    }))
}
