//! How a Graph client connects: the service root (overridable for tests),
//! timeouts, the response size bound, throttling limits and the access
//! token source. The defaults are applied here and nowhere else.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::throttle::Throttle;
use crate::settings::Password;

/// The Microsoft Graph v1.0 service root; paging links name it.
pub const GRAPH_ROOT: &str = "https://graph.microsoft.com/v1.0";

/// Where the client gets the OAuth2 access token for each request. The
/// client never refreshes: a refused token is `OAUTH_TOKEN_REFUSED`, the
/// caller refreshes once and retries (then asks for a new sign-in).
pub trait TokenSource: Send + Sync {
    /// The current access token.
    fn access_token(&self) -> Password;
}

impl<F: Fn() -> Password + Send + Sync> TokenSource for F {
    fn access_token(&self) -> Password {
        self()
    }
}

/// A token the caller replaces after a refresh; clones share it.
#[derive(Clone)]
pub struct SharedToken(Arc<RwLock<Password>>);

impl SharedToken {
    /// Holds `token`.
    pub fn new(token: impl Into<Password>) -> SharedToken {
        SharedToken(Arc::new(RwLock::new(token.into())))
    }

    /// Replaces the token (after a refresh).
    pub fn set(&self, token: impl Into<Password>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = token.into();
    }
}

impl fmt::Debug for SharedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedToken(***)")
    }
}

impl TokenSource for SharedToken {
    fn access_token(&self) -> Password {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The settings of a Graph client.
#[derive(Debug, Clone)]
pub struct GraphConfig {
    /// The service root: [`GRAPH_ROOT`], or a test server's (plain `http://`
    /// only on a loopback address). Paging links naming [`GRAPH_ROOT`] are
    /// rewritten to it; links to anywhere else are not followed.
    pub base_url: String,
    /// Timeout for connecting and for each whole request (answer read included).
    pub timeout: Duration,
    /// Extra trusted CA certificates, PEM, on top of the system roots.
    pub extra_roots: Vec<u8>,
    /// Largest answer read, in bytes, other than a message's MIME; a
    /// larger one is `RESPONSE_TOO_LARGE`.
    pub max_response_bytes: u64,
    /// Largest message MIME downloaded (`incoming.max_message_size_mb`); a
    /// larger one is `MESSAGE_TOO_LARGE` for that message only. Its download
    /// gets the size at 64 KiB/s on top of `timeout`.
    pub max_message_bytes: u64,
    /// Longest `Retry-After` the client waits itself; a longer one is
    /// returned as `THROTTLED` (and later requests still wait for it).
    pub max_throttle_wait: Duration,
    /// Tries of one request while it is throttled, the first included.
    pub max_attempts: u32,
    /// The wait after a 429/503 without `Retry-After`.
    pub default_retry_after: Duration,
    /// Throttling state; share one per tenant between clients.
    pub throttle: Throttle,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            base_url: GRAPH_ROOT.to_string(),
            timeout: Duration::from_secs(60),
            extra_roots: Vec::new(),
            max_response_bytes: crate::limits::COMMAND_BUDGET,
            max_message_bytes: crate::settings::DEFAULT_MAX_MESSAGE_BYTES,
            max_throttle_wait: Duration::from_secs(120),
            max_attempts: 4,
            default_retry_after: Duration::from_secs(5),
            throttle: Throttle::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_token_is_replaced_for_every_clone_and_never_printed() {
        let t = SharedToken::new("old-secret");
        let c = t.clone();
        t.set("new-secret");
        assert_eq!(c.access_token().expose(), "new-secret");
        assert!(!format!("{t:?}").contains("secret"));
    }
}
