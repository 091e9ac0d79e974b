//! The engine's error type.

use crmsync_core::{CoreError, ErrorClass};
use crmsync_protocols::ProtocolError;

/// Everything the engine can fail with.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A store, validation or credential error from the core crate.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A mail server failed (connect, TLS, login, a command).
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The mailbox (or its profile) has no password to log in with.
    #[error("{what} has no password yet (credentials required): set it with `{fix}`")]
    CredentialsRequired {
        /// "mailbox a@b" or "profile 'Office'".
        what: String,
        /// The command that sets it.
        fix: String,
    },
    /// An OAuth2 mailbox (or app-only profile) must sign in again: it never
    /// signed in, or the authorization server refused the refresh
    /// (`invalid_grant`: consent revoked, password changed, token expired).
    /// Permanent: nothing retries it until someone signs in.
    #[error("{what}sign-in required: {why}")]
    SignInRequired {
        /// "mailbox a@b: " (empty inside the flows, filled in by the caller).
        what: String,
        /// What the authorization server said, in words.
        why: String,
    },
    /// The OAuth2 authorization server failed otherwise (unreachable, an
    /// unexpected answer); never carries a token.
    #[error("OAuth2: {message}")]
    OAuth {
        /// What failed.
        message: String,
        /// Whether trying again later may work (the server could not be reached).
        transient: bool,
    },
    /// The channel cannot work with this profile in this version.
    #[error("{0}")]
    Unsupported(String),
    /// A file named by the admin cannot be read.
    #[error("{field}: cannot read {path}: {source}")]
    ReadFile {
        /// The option or form field that named the file.
        field: String,
        /// The path.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Another engine (a `crmsync run` service or the desktop app) holds the
    /// store's lease and is processing it.
    #[error(
        "another crmsync engine is already processing this store: {holder} (pid {pid} on {host}) since {since}; stop it first (a crashed holder's lease is taken over once its heartbeat is older than the lease timeout)"
    )]
    LeaseHeld {
        /// "crmsync run" or "crmsync desktop".
        holder: String,
        /// Its process id.
        pid: u32,
        /// Its host.
        host: String,
        /// When it took the lease (RFC 3339).
        since: String,
    },
    /// The engine stopped or was never started (a command sent to a handle
    /// after shutdown).
    #[error("the crmsync engine is not running")]
    NotRunning,
    /// An Email Router file cannot be migrated: malformed XML, a missing required
    /// element or an impossible value. Nothing was written.
    #[error("{file} line {line}: {path}: {message}")]
    Migration {
        /// The file's name, e.g. `Microsoft.Crm.Tools.EmailAgent.xml`.
        file: String,
        /// 1-based line of the element (or of the syntax error).
        line: u32,
        /// Element path, e.g. `Configuration/ProviderConfiguration[2]/EmailPort`.
        path: String,
        /// What is wrong, in words an admin understands.
        message: String,
    },
}

impl EngineError {
    /// True when the admin's input was at fault (CLI exit code 2; nothing was changed).
    pub fn is_invalid_input(&self) -> bool {
        match self {
            EngineError::Core(e) => e.is_invalid_input(),
            EngineError::ReadFile { .. } | EngineError::Migration { .. } => true,
            EngineError::Protocol(_)
            | EngineError::CredentialsRequired { .. }
            | EngineError::SignInRequired { .. }
            | EngineError::OAuth { .. }
            | EngineError::Unsupported(_)
            | EngineError::LeaseHeld { .. }
            | EngineError::NotRunning => false,
        }
    }

    /// The stable code an alert or a Test & Enable result carries.
    pub fn code(&self) -> String {
        match self {
            EngineError::Protocol(e) => e.code().to_string(),
            EngineError::CredentialsRequired { .. } => "CREDENTIALS_REQUIRED".into(),
            EngineError::SignInRequired { .. } => "OAUTH_SIGN_IN_REQUIRED".into(),
            EngineError::OAuth { .. } => "OAUTH_FAILED".into(),
            EngineError::Unsupported(_) => "NOT_SUPPORTED".into(),
            EngineError::Core(_) => "STORE_ERROR".into(),
            EngineError::ReadFile { .. } => "FILE_UNREADABLE".into(),
            EngineError::Migration { .. } => "MIGRATION_INPUT_INVALID".into(),
            EngineError::LeaseHeld { .. } => "STORE_IN_USE".into(),
            EngineError::NotRunning => "ENGINE_NOT_RUNNING".into(),
        }
    }

    /// How the engine reacts: retry, stop until the admin acts, or skip one item.
    pub fn class(&self) -> ErrorClass {
        match self {
            EngineError::Protocol(e) => e.class(),
            EngineError::Core(_) => ErrorClass::Transient,
            EngineError::OAuth { transient: true, .. } => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        }
    }

    /// Shorthand for an invalid-input error naming `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        EngineError::Core(CoreError::invalid(field, reason))
    }
}

/// Result alias for the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
