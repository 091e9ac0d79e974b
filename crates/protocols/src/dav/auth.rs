//! How CalDAV/CardDAV requests log in: HTTP Basic with a password, or an
//! OAuth2 bearer token (Google's CalDAV and CardDAV).

use crate::error::{Proto, ProtocolError};
use crate::settings::Password;

/// How every DAV request authenticates. `Debug` never shows the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DavAuth {
    /// HTTP Basic with a user name and password.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: Password,
    },
    /// `Authorization: Bearer` with an OAuth2 access token (Google's CalDAV
    /// and CardDAV); a 401 is then `OAUTH_TOKEN_REFUSED`.
    Bearer {
        /// The account, named in errors.
        user: String,
        /// The access token.
        token: Password,
    },
}

impl DavAuth {
    /// The account name, for errors.
    pub fn user(&self) -> &str {
        match self {
            DavAuth::Basic { user, .. } | DavAuth::Bearer { user, .. } => user,
        }
    }

    /// Adds the credentials to a request.
    pub(crate) fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            DavAuth::Basic { user, password } => req.basic_auth(user, Some(password.expose())),
            DavAuth::Bearer { token, .. } => req.bearer_auth(token.expose()),
        }
    }

    /// The error for a refused login (HTTP 401, or 403 where that means it).
    pub(crate) fn refused(&self, host: String, port: u16, detail: String) -> ProtocolError {
        let oauth = matches!(self, DavAuth::Bearer { .. });
        let detail = if oauth { format!("the OAuth2 access token was refused: {detail}") } else { detail };
        ProtocolError::AuthFailed {
            proto: Proto::Dav,
            host,
            port,
            user: self.user().to_string(),
            detail,
            oauth,
        }
    }
}
