//! Connection settings shared by the IMAP and POP3 clients, and a password
//! type that never prints itself.

use std::fmt;
use std::time::Duration;

use crmsync_core::model::Security;

/// A password held in memory. `Debug` prints `***`; there is no `Display`, so it
/// cannot end up in a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(secret: impl Into<String>) -> Password {
        Password(secret.into())
    }

    /// The secret itself, for the one place that sends it to the server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl From<String> for Password {
    fn from(s: String) -> Password {
        Password(s)
    }
}

impl From<&str> for Password {
    fn from(s: &str) -> Password {
        Password(s.to_string())
    }
}

/// The default of `incoming.max_message_size_mb`, in bytes (25 MB).
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 25 << 20;

/// How to reach and log in to one incoming mail server (IMAP or POP3).
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Host name or IP address; also the name the TLS certificate must carry.
    pub host: String,
    /// TCP port (IMAP 143/993, POP3 110/995).
    pub port: u16,
    /// Implicit TLS, STARTTLS/STLS, or none.
    pub security: Security,
    /// Allow [`Security::None`] and sending the password unencrypted. Without it a
    /// plaintext connection fails with `PLAINTEXT_REFUSED` before connecting.
    pub allow_insecure: bool,
    /// Login name.
    pub username: String,
    /// Password (never logged). Unused when `bearer` is set.
    pub password: Password,
    /// An OAuth2 access token: when set, the client logs in with SASL
    /// XOAUTH2 or OAUTHBEARER (whichever the server offers) as `username`
    /// instead of the password. Never logged.
    pub bearer: Option<Password>,
    /// Log in as `username` on behalf of this user: the SASL PLAIN
    /// authorization identity (RFC 4616), for a service account that reads
    /// each mailbox (Dovecot master users, Cyrus admins). None logs in as
    /// `username` itself.
    pub authzid: Option<String>,
    /// Timeout for connecting (TCP + TLS) and for every command.
    pub timeout: Duration,
    /// Extra trusted CA certificates, PEM (zero or more certificates), trusted in
    /// addition to the system roots. Certificates are always verified.
    pub extra_roots: Vec<u8>,
    /// Largest message downloaded whole, in bytes (`incoming.max_message_size_mb`);
    /// a larger one is reported, not fetched. Also bounds every IMAP literal.
    pub max_message_bytes: u64,
    /// Total deadline of one operation (connect and login, one command, one
    /// batch), whatever the per-read `timeout`: a server that sends a byte just
    /// inside each timeout cannot hold a job longer. A message download gets
    /// its size at 64 KiB/s on top.
    pub op_deadline: Duration,
}

impl ServerSettings {
    /// Settings with a 30 s timeout, a 5 minute operation deadline, a 25 MB
    /// message limit, no extra roots and no insecure opt-in.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        security: Security,
        username: impl Into<String>,
        password: impl Into<Password>,
    ) -> ServerSettings {
        ServerSettings {
            host: host.into(),
            port,
            security,
            allow_insecure: false,
            username: username.into(),
            password: password.into(),
            bearer: None,
            authzid: None,
            timeout: Duration::from_secs(30),
            extra_roots: Vec::new(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            op_deadline: Duration::from_secs(300),
        }
    }
}

/// Settings of an IMAP connection.
pub type ImapSettings = ServerSettings;

/// Settings of a POP3 connection.
pub type Pop3Settings = ServerSettings;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_password() {
        let s = ServerSettings::new("h", 993, Security::Tls, "anna", "hunter2-secret");
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("***"));
        assert_eq!(s.password.expose(), "hunter2-secret");
    }
}
