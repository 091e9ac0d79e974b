//! The one error type of the harness.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while starting, driving or stopping a test server.
///
/// Every variant names the server (or protocol client) involved, so a failing
/// test says which peer misbehaved and what the harness was doing at the time.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A local I/O operation (file, socket, process spawn) failed.
    #[error("{server}: {context}: {source}")]
    Io {
        /// Server or client the operation was for.
        server: &'static str,
        /// What the harness was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A server did not come up (exited early, never answered, answered wrongly).
    #[error("{server} failed to start: {detail}\n--- last lines of {} ---\n{log_tail}", log.display())]
    Start {
        /// The server.
        server: &'static str,
        /// What went wrong.
        detail: String,
        /// The server's log file.
        log: PathBuf,
        /// The last lines of that log.
        log_tail: String,
    },
    /// An external command the harness ran (e.g. `postfix check`) failed.
    #[error("{server}: `{command}` failed: {detail}")]
    Command {
        /// The server the command belongs to.
        server: &'static str,
        /// The command line.
        command: String,
        /// Exit status and output.
        detail: String,
    },
    /// A peer answered something the harness did not expect (including a refusal).
    #[error("{server}: {context}: unexpected reply: {reply}")]
    Protocol {
        /// Server or protocol (imap, pop3, smtp, lmtp, dav).
        server: &'static str,
        /// The command or step.
        context: String,
        /// The reply as received (trimmed).
        reply: String,
    },
    /// TLS set-up or handshake failed.
    #[error("{server}: TLS: {detail}")]
    Tls {
        /// Server or protocol.
        server: &'static str,
        /// What failed.
        detail: String,
    },
    /// An HTTP request failed at the transport level.
    #[error("{server}: HTTP {context}: {source}")]
    Http {
        /// The server.
        server: &'static str,
        /// Method and path.
        context: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// Something did not happen within the allowed time.
    #[error("{server}: timed out after {timeout:?} waiting for {what}")]
    Timeout {
        /// Server or protocol.
        server: &'static str,
        /// What was awaited.
        what: String,
        /// How long the harness waited.
        timeout: Duration,
    },
    /// The caller passed something the harness cannot handle (bad user name, ...).
    #[error("{server}: invalid argument: {detail}")]
    Invalid {
        /// The server.
        server: &'static str,
        /// Why it is invalid.
        detail: String,
    },
    /// The server cannot run in this environment (e.g. Postfix without root).
    #[error("{server}: unsupported here: {detail}")]
    Unsupported {
        /// The server.
        server: &'static str,
        /// Why.
        detail: String,
    },
}

impl HarnessError {
    /// Builds an [`HarnessError::Io`] from a context message.
    pub fn io(server: &'static str, context: impl Into<String>, source: std::io::Error) -> Self {
        HarnessError::Io { server, context: context.into(), source }
    }

    /// Builds an [`HarnessError::Protocol`].
    pub fn protocol(server: &'static str, context: impl Into<String>, reply: impl Into<String>) -> Self {
        HarnessError::Protocol { server, context: context.into(), reply: reply.into() }
    }
}

/// Shorthand used throughout the harness.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;
