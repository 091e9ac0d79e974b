//! Connection settings for a mailbox's servers, from its profile and the
//! stored (encrypted) credentials.

use std::time::Duration;

use crmsync_core::Store;
use crmsync_core::model::{CredentialSource, Endpoint, Mailbox, OutgoingAuth, Profile};
use crmsync_core::settings::IntSetting;
use crmsync_core::store::{mailboxes, profiles, settings as stored_settings};
use crmsync_protocols::settings::{Password, ServerSettings};

use crate::error::{EngineError, Result};

/// The user name and password a mailbox logs in with.
pub fn credentials(store: &Store, mailbox: &Mailbox, profile: &Profile) -> Result<(String, Password)> {
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
    let (username, password) = credentials(store, mailbox, profile)?;
    Ok(ServerSettings {
        host: ep.host.clone(),
        port: ep.port,
        security: ep.security,
        allow_insecure: profile.data.allow_insecure,
        username,
        password,
        bearer: None,
        authzid: None,
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
    let (username, password) = match profile.data.outgoing_auth {
        OutgoingAuth::Password => credentials(store, mailbox, profile)?,
        OutgoingAuth::None => (String::new(), Password::new("")),
    };
    Ok(Some(ServerSettings {
        host: ep.host.clone(),
        port: ep.port,
        security: ep.security,
        allow_insecure: profile.data.allow_insecure,
        username,
        password,
        bearer: None,
        authzid: None,
        timeout: Duration::from_secs(u64::from(profile.data.timeout)),
        extra_roots: Vec::new(),
        max_message_bytes: crmsync_protocols::settings::DEFAULT_MAX_MESSAGE_BYTES,
        op_deadline: op_deadline(Duration::from_secs(u64::from(profile.data.timeout))),
    }))
}
