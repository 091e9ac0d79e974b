//! Where a connection goes: protocol, host and port, and the errors that name
//! them, so every failure of a session says which server it was.

use std::fmt;

use crate::error::{Proto, ProtocolError};

/// Where a connection goes; builds errors that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Peer {
    pub proto: Proto,
    pub host: String,
    pub port: u16,
}

impl Peer {
    pub fn new(proto: Proto, host: &str, port: u16) -> Peer {
        Peer { proto, host: host.to_string(), port }
    }

    pub fn lost(&self, detail: impl fmt::Display) -> ProtocolError {
        ProtocolError::ConnectionLost {
            proto: self.proto,
            host: self.host.clone(),
            port: self.port,
            detail: detail.to_string(),
        }
    }

    pub fn protocol(&self, detail: impl fmt::Display) -> ProtocolError {
        ProtocolError::Protocol {
            proto: self.proto,
            host: self.host.clone(),
            port: self.port,
            detail: detail.to_string(),
        }
    }

    pub fn timeout(&self, operation: &str, secs: u64) -> ProtocolError {
        ProtocolError::Timeout {
            proto: self.proto,
            host: self.host.clone(),
            port: self.port,
            operation: operation.to_string(),
            secs,
        }
    }

    /// The total deadline of `operation` (`secs` long) ran out.
    pub fn deadline(&self, operation: &str, secs: u64) -> ProtocolError {
        self.timeout(&format!("{operation} completely (total deadline of the operation)"), secs)
    }

    pub fn busy(&self, detail: impl fmt::Display) -> ProtocolError {
        ProtocolError::ServerBusy {
            proto: self.proto,
            host: self.host.clone(),
            port: self.port,
            detail: detail.to_string(),
        }
    }

    pub fn command_failed(&self, command: &str, detail: impl fmt::Display) -> ProtocolError {
        ProtocolError::CommandFailed {
            proto: self.proto,
            host: self.host.clone(),
            port: self.port,
            command: command.to_string(),
            detail: detail.to_string(),
        }
    }

    pub fn auth_failed(&self, user: &str, detail: impl fmt::Display) -> ProtocolError {
        ProtocolError::AuthFailed {
            proto: self.proto,
            host: self.host.clone(),
            port: self.port,
            user: user.to_string(),
            detail: detail.to_string(),
            oauth: false,
        }
    }

    /// The server refused the OAuth2 access token of `user` (`OAUTH_TOKEN_REFUSED`).
    pub fn token_refused(&self, user: &str, detail: impl fmt::Display) -> ProtocolError {
        ProtocolError::AuthFailed {
            proto: self.proto,
            host: self.host.clone(),
            port: self.port,
            user: user.to_string(),
            detail: detail.to_string(),
            oauth: true,
        }
    }

    pub fn mechanism_unavailable(&self, detail: impl fmt::Display) -> ProtocolError {
        ProtocolError::AuthMechanismUnavailable {
            proto: self.proto,
            host: self.host.clone(),
            port: self.port,
            detail: detail.to_string(),
        }
    }

    pub fn starttls_unavailable(&self) -> ProtocolError {
        ProtocolError::StarttlsUnavailable { proto: self.proto, host: self.host.clone(), port: self.port }
    }

    pub fn plaintext_refused(&self) -> ProtocolError {
        ProtocolError::PlaintextRefused { proto: self.proto, host: self.host.clone(), port: self.port }
    }

    pub fn invalid(&self, reason: impl fmt::Display) -> ProtocolError {
        ProtocolError::InvalidSettings { proto: self.proto, reason: reason.to_string() }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}
