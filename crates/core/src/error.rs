//! The core crate's error type and the error classes shared by every crate.

use serde::{Deserialize, Serialize};

/// How the engine reacts to a failure (DESIGN.md principle 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Likely to pass on retry: network trouble, timeouts, 4xx SMTP replies.
    Transient,
    /// Will not pass until the admin changes something: credentials, TLS, a missing mailbox.
    Permanent,
    /// One item (a message, an event) is bad; the mailbox goes on with the next.
    Item,
}

/// Everything that can go wrong in the core crate.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The database file cannot be opened or created.
    #[error("cannot open store {path}: {source}")]
    Open {
        /// Path of the database file.
        path: String,
        /// What SQLite or the file system said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A migration step failed; the transaction was rolled back.
    #[error("cannot migrate store to version {version}: {source}")]
    Migration {
        /// The schema version that failed to apply.
        version: u32,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The store was written by a newer crmsync.
    #[error(
        "store schema version {found} is newer than this crmsync supports ({supported}); upgrade crmsync"
    )]
    TooNew {
        /// Version found in the file.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
    },
    /// Any other SQLite failure.
    #[error("store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A value supplied by the admin is not acceptable; nothing was changed.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field (CLI option / form field) at fault, kebab-case.
        field: String,
        /// Why, in words an admin understands.
        reason: String,
    },
    /// A record named by the admin does not exist.
    #[error("{what} {key} not found")]
    NotFound {
        /// Kind of record ("profile", "mailbox", ...).
        what: &'static str,
        /// The name, address or id that was looked up.
        key: String,
    },
    /// A record with that unique key exists already.
    #[error("{what} {key} already exists")]
    AlreadyExists {
        /// Kind of record.
        what: &'static str,
        /// The conflicting key.
        key: String,
    },
    /// The credential key cannot be loaded or a secret cannot be decrypted.
    #[error("credential key: {0}")]
    Secret(String),
    /// File system failure outside SQLite.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl CoreError {
    /// Shorthand for [`CoreError::Invalid`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        CoreError::Invalid { field: field.into(), reason: reason.into() }
    }

    /// Shorthand for [`CoreError::NotFound`].
    pub fn not_found(what: &'static str, key: impl Into<String>) -> Self {
        CoreError::NotFound { what, key: key.into() }
    }

    /// True when the error is the admin's input (CLI exit code 2), not a runtime failure.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            CoreError::Invalid { .. } | CoreError::NotFound { .. } | CoreError::AlreadyExists { .. }
        )
    }
}

/// Result alias for the core crate.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
