//! The protocols crate's error type: every failure carries a stable code and an
//! [`ErrorClass`] so the engine can decide between retrying, disabling the
//! mailbox and skipping one item (DESIGN.md principle 3).
//!
//! Messages name the server (`host:port`) and what was being done, in words an
//! office admin can act on. No variant ever holds a password.

use std::fmt;

use crmsync_core::ErrorClass;

/// Which protocol a failure happened in; prefixes the codes where that helps the admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// IMAP4rev1.
    Imap,
    /// POP3.
    Pop3,
    /// SMTP.
    Smtp,
    /// CalDAV/CardDAV.
    Dav,
    /// Exchange Web Services (and its autodiscover).
    Ews,
    /// Microsoft Graph (REST over HTTPS).
    Graph,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Imap => "IMAP",
            Proto::Pop3 => "POP3",
            Proto::Smtp => "SMTP",
            Proto::Dav => "DAV",
            Proto::Ews => "EWS",
            Proto::Graph => "Graph",
        })
    }
}

/// Everything that can go wrong while talking to a mail server.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The connection settings themselves are unusable (bad CA PEM, empty host, ...).
    #[error("invalid {proto} connection settings: {reason}")]
    InvalidSettings {
        /// Protocol.
        proto: Proto,
        /// What is wrong.
        reason: String,
    },
    /// The host name could not be resolved.
    #[error("cannot resolve {proto} server name {host}: {detail}")]
    DnsFailed {
        /// Protocol.
        proto: Proto,
        /// Host name as configured.
        host: String,
        /// True for a temporary resolver failure (EAI_AGAIN), false for an unknown name.
        temporary: bool,
        /// What the resolver said.
        detail: String,
    },
    /// Nothing listens on the port (TCP RST).
    #[error("cannot connect to {proto} server {host}:{port}: connection refused")]
    ConnectionRefused {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
    },
    /// Another network failure while connecting (unreachable network or host, ...).
    #[error("cannot connect to {proto} server {host}:{port}: {detail}")]
    ConnectFailed {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// The OS error.
        detail: String,
    },
    /// The TCP connection or the TLS handshake did not complete in time.
    #[error("cannot connect to {proto} server {host}:{port}: no answer within {secs} s")]
    ConnectTimeout {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// The configured timeout, seconds.
        secs: u64,
    },
    /// A command got no (complete) answer in time; the connection is dropped.
    #[error("{proto} server {host}:{port} did not answer {operation} within {secs} s")]
    Timeout {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// The command or step that timed out.
        operation: String,
        /// The configured timeout, seconds.
        secs: u64,
    },
    /// The TLS handshake failed for a reason other than the certificate.
    #[error("TLS with {proto} server {host}:{port} failed: {detail}")]
    TlsFailed {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// What rustls said.
        detail: String,
    },
    /// The server's certificate is not trusted (unknown issuer, expired, wrong name, ...).
    #[error(
        "the certificate of {proto} server {host}:{port} is not trusted: {detail}; \
         install the issuing CA or fix the server name"
    )]
    TlsCertInvalid {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// What rustls said about the certificate.
        detail: String,
    },
    /// STARTTLS/STLS was required but the server does not offer it.
    #[error("{proto} server {host}:{port} does not offer STARTTLS; use implicit TLS or another port")]
    StarttlsUnavailable {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
    },
    /// A plaintext connection was asked for but the profile does not allow it.
    #[error(
        "refusing to send the password for {proto} server {host}:{port} unencrypted; \
         use TLS or STARTTLS, or allow insecure connections in the profile"
    )]
    PlaintextRefused {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
    },
    /// The server rejected the user name and password, or the OAuth2 access
    /// token. Code `{PROTO}_AUTH_FAILED` for a password; `OAUTH_TOKEN_REFUSED`
    /// (same for every protocol) when `oauth` is set: the server refused the
    /// bearer token (SASL XOAUTH2/OAUTHBEARER, or HTTP 401 to a bearer
    /// token), so the caller may refresh the token once and try again, and
    /// otherwise needs a new sign-in. Permanent either way.
    #[error("{proto} server {host}:{port} rejected the login of {user}: {detail}")]
    AuthFailed {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// The user name (never the password or token).
        user: String,
        /// What the server said (for a token: its decoded error challenge too).
        detail: String,
        /// True when the refused credential was an OAuth2 access token.
        oauth: bool,
    },
    /// No login method both sides support is available.
    #[error("{proto} server {host}:{port} offers no usable login method: {detail}")]
    AuthMechanismUnavailable {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// Why.
        detail: String,
    },
    /// The folder does not exist on the server.
    #[error("{proto} server {host}:{port} has no folder {folder:?}")]
    MailboxNotFound {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// Folder name as asked for.
        folder: String,
    },
    /// The server says it is temporarily unable to serve ([UNAVAILABLE], [SYS/TEMP], ...).
    #[error("{proto} server {host}:{port} is temporarily unavailable: {detail}")]
    ServerBusy {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// What the server said.
        detail: String,
    },
    /// POP3 `[IN-USE]`: another client holds the maildrop lock.
    #[error("{proto} mailbox of {user} on {host}:{port} is in use by another client: {detail}")]
    MailboxInUse {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// The user name.
        user: String,
        /// What the server said.
        detail: String,
    },
    /// The server refused a command (NO / -ERR) for a reason not covered above.
    #[error("{proto} server {host}:{port} refused {command}: {detail}")]
    CommandFailed {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// The command, without arguments that could be secret.
        command: String,
        /// What the server said.
        detail: String,
    },
    /// One message cannot be read (vanished, or the server cannot produce it).
    #[error("{proto} server {host}:{port} cannot deliver message {id}: {detail}")]
    MessageUnavailable {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// UID (IMAP) or message number (POP3).
        id: String,
        /// Why.
        detail: String,
    },
    /// A message is larger than `incoming.max_message_size_mb`: it was not downloaded.
    #[error(
        "message {id} on {proto} server {host}:{port} has {size} bytes, more than the {limit_mb} MB limit; not downloaded"
    )]
    MessageTooLarge {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// UID (IMAP) or message number and UIDL (POP3).
        id: String,
        /// Its size in bytes as the server announced it (or as much as was read).
        size: u64,
        /// The limit, in MB.
        limit_mb: u64,
    },
    /// The server said something this client does not understand.
    #[error("unexpected answer from {proto} server {host}:{port}: {detail}")]
    Protocol {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// What was wrong.
        detail: String,
    },
    /// The server sent more than the configured limit; the rest was not read.
    #[error("{proto} server {host}:{port} sent more than {limit_mb} MB for {what}; the rest was not read")]
    ResponseTooLarge {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// The request or item it answered.
        what: String,
        /// The limit, in MB.
        limit_mb: u64,
    },
    /// The connection broke (reset, EOF, I/O error) after it was established.
    #[error("connection to {proto} server {host}:{port} lost: {detail}")]
    ConnectionLost {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// What happened.
        detail: String,
    },
    /// The server refused one item (a calendar object or vCard it will not store).
    #[error("{proto} server {host}:{port} refused item {item}: {detail}")]
    ItemRejected {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// The item (href).
        item: String,
        /// What the server said.
        detail: String,
    },
    /// The server refused an operation because the app lacks a permission
    /// (Graph 403 `ErrorAccessDenied`); nothing passes until an admin grants
    /// it (and consents) in the tenant.
    /// (Boxed, so that every result carrying a protocol error stays small.)
    #[error("{0}")]
    PermissionDenied(Box<PermissionDenial>),
    /// One item does not exist (any more) on the server (HTTP 404).
    #[error("{proto} server {host}:{port} has no item {item} (for {operation})")]
    ItemNotFound {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// The item id.
        item: String,
        /// What was being done.
        operation: String,
    },
    /// The item changed on the server since its version (ETag) was read
    /// (HTTP 412): the conflict policy decides, nothing was written.
    #[error(
        "{proto} server {host}:{port}: item {item} changed on the server since it was read; {operation} not done"
    )]
    Conflict {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// The item id.
        item: String,
        /// What was being done.
        operation: String,
    },
    /// The server no longer knows the saved sync state (Graph 410
    /// `syncStateNotFound`/`resyncRequired`): drop it and sync everything
    /// again, matching items by id so nothing is duplicated.
    #[error(
        "{proto} server {host}:{port} no longer knows the sync state of {what} ({detail}); a full resync is needed"
    )]
    ResyncRequired {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// The folder or collection.
        what: String,
        /// The server's code and message.
        detail: String,
    },
    /// The server throttles (HTTP 429/503) for longer than the client waits
    /// by itself; nothing was sent after the throttling answer.
    #[error("{proto} server {host}:{port} is throttling {scope}; retry after {retry_after_secs} s")]
    Throttled {
        /// Protocol.
        proto: Proto,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// The mailbox, or `the tenant`.
        scope: String,
        /// Seconds until the server accepts requests again.
        retry_after_secs: u64,
    },
    /// An EWS response message or SOAP fault with an error `ResponseCode`
    /// not covered by a variant above. Code and class follow the response
    /// code (see [`ews_code`](crate::ews::errors::ews_code)).
    #[error("{0}")]
    EwsFailed(Box<EwsFailure>),
    /// The SMTP server refused permanently (5xx); the reply is kept.
    #[error("SMTP server {host}:{port} refused: {reply}")]
    SmtpRejected {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// Reply code.
        code: u16,
        /// The server's reply text.
        reply: String,
    },
    /// The SMTP server refused for now (4xx); try again later.
    #[error("SMTP server {host}:{port} deferred: {reply}")]
    SmtpDeferred {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// Reply code.
        code: u16,
        /// The server's reply text.
        reply: String,
    },
}

impl ProtocolError {
    /// The stable code: shown to the admin, stored with alerts, matched by tests.
    pub fn code(&self) -> &'static str {
        use ProtocolError as E;
        match self {
            E::InvalidSettings { .. } => "INVALID_SETTINGS",
            E::DnsFailed { .. } => "DNS_FAILED",
            E::ConnectionRefused { .. } => "CONNECTION_REFUSED",
            E::ConnectFailed { .. } => "CONNECT_FAILED",
            E::ConnectTimeout { .. } => "CONNECT_TIMEOUT",
            E::Timeout { .. } => "TIMEOUT",
            E::TlsFailed { .. } => "TLS_FAILED",
            E::TlsCertInvalid { .. } => "TLS_CERT_INVALID",
            E::StarttlsUnavailable { .. } => "STARTTLS_UNAVAILABLE",
            E::PlaintextRefused { .. } => "PLAINTEXT_REFUSED",
            E::AuthFailed { oauth: true, .. } => "OAUTH_TOKEN_REFUSED",
            E::AuthFailed { proto: Proto::Imap, .. } => "IMAP_AUTH_FAILED",
            E::AuthFailed { proto: Proto::Pop3, .. } => "POP3_AUTH_FAILED",
            E::AuthFailed { proto: Proto::Smtp, .. } => "SMTP_AUTH_FAILED",
            E::AuthFailed { proto: Proto::Dav, .. } => "DAV_AUTH_FAILED",
            E::AuthFailed { proto: Proto::Ews, .. } => "EWS_AUTH_FAILED",
            E::AuthFailed { proto: Proto::Graph, .. } => "GRAPH_AUTH_FAILED",
            E::AuthMechanismUnavailable { proto: Proto::Imap, .. } => "IMAP_AUTH_MECHANISM_UNAVAILABLE",
            E::AuthMechanismUnavailable { proto: Proto::Pop3, .. } => "POP3_AUTH_MECHANISM_UNAVAILABLE",
            E::AuthMechanismUnavailable { proto: Proto::Smtp, .. } => "SMTP_AUTH_MECHANISM_UNAVAILABLE",
            E::AuthMechanismUnavailable { proto: Proto::Dav, .. } => "DAV_AUTH_MECHANISM_UNAVAILABLE",
            E::AuthMechanismUnavailable { proto: Proto::Ews, .. } => "EWS_AUTH_MECHANISM_UNAVAILABLE",
            E::AuthMechanismUnavailable { proto: Proto::Graph, .. } => "GRAPH_AUTH_MECHANISM_UNAVAILABLE",
            E::MailboxNotFound { .. } => "MAILBOX_NOT_FOUND",
            E::ServerBusy { .. } => "SERVER_BUSY",
            E::MailboxInUse { .. } => "POP3_MAILBOX_IN_USE",
            E::CommandFailed { proto: Proto::Imap, .. } => "IMAP_COMMAND_FAILED",
            E::CommandFailed { proto: Proto::Pop3, .. } => "POP3_COMMAND_FAILED",
            E::CommandFailed { proto: Proto::Smtp, .. } => "SMTP_COMMAND_FAILED",
            E::CommandFailed { proto: Proto::Dav, .. } => "DAV_COMMAND_FAILED",
            E::CommandFailed { proto: Proto::Graph, .. } => "GRAPH_COMMAND_FAILED",
            E::CommandFailed { proto: Proto::Ews, .. } => "EWS_COMMAND_FAILED",
            E::EwsFailed(f) => crate::ews::errors::ews_code(&f.response_code),
            E::SmtpRejected { .. } => "SMTP_REJECTED",
            E::SmtpDeferred { .. } => "SMTP_DEFERRED",
            E::MessageUnavailable { .. } => "MESSAGE_UNAVAILABLE",
            E::MessageTooLarge { .. } => "MESSAGE_TOO_LARGE",
            E::ItemRejected { proto: Proto::Graph, .. } => "GRAPH_ITEM_REJECTED",
            E::ItemRejected { .. } => "DAV_ITEM_REJECTED",
            E::Protocol { .. } => "PROTOCOL_ERROR",
            E::ConnectionLost { .. } => "CONNECTION_LOST",
            E::ResponseTooLarge { .. } => "RESPONSE_TOO_LARGE",
            E::PermissionDenied(_) => "PERMISSION_DENIED",
            E::ItemNotFound { .. } => "ITEM_NOT_FOUND",
            E::Conflict { .. } => "ITEM_CONFLICT",
            E::ResyncRequired { .. } => "RESYNC_REQUIRED",
            E::Throttled { .. } => "THROTTLED",
        }
    }

    /// How the engine should react: retry later, stop until the admin acts, or skip one item.
    pub fn class(&self) -> ErrorClass {
        use ProtocolError as E;
        match self {
            E::DnsFailed { temporary, .. } => {
                if *temporary {
                    ErrorClass::Transient
                } else {
                    ErrorClass::Permanent
                }
            }
            E::ConnectionRefused { .. }
            | E::ConnectFailed { .. }
            | E::ConnectTimeout { .. }
            | E::Timeout { .. }
            | E::ServerBusy { .. }
            | E::MailboxInUse { .. }
            | E::CommandFailed { .. }
            | E::Protocol { .. }
            | E::ConnectionLost { .. }
            | E::SmtpDeferred { .. }
            | E::ResyncRequired { .. }
            | E::Throttled { .. } => ErrorClass::Transient,
            E::EwsFailed(f) => crate::ews::errors::ews_class(&f.response_code),
            E::InvalidSettings { .. }
            | E::TlsFailed { .. }
            | E::TlsCertInvalid { .. }
            | E::StarttlsUnavailable { .. }
            | E::PlaintextRefused { .. }
            | E::AuthFailed { .. }
            | E::AuthMechanismUnavailable { .. }
            | E::MailboxNotFound { .. }
            | E::PermissionDenied(_)
            | E::ResponseTooLarge { .. } => ErrorClass::Permanent,
            E::MessageUnavailable { .. }
            | E::MessageTooLarge { .. }
            | E::SmtpRejected { .. }
            | E::ItemRejected { .. }
            | E::ItemNotFound { .. }
            | E::Conflict { .. } => ErrorClass::Item,
        }
    }

    /// True when the server refused an OAuth2 access token (code
    /// `OAUTH_TOKEN_REFUSED`): refresh the token once, then ask for a sign-in.
    pub fn is_token_refused(&self) -> bool {
        matches!(self, ProtocolError::AuthFailed { oauth: true, .. })
    }

    /// True when the server no longer knows the saved sync state (code
    /// `RESYNC_REQUIRED`): drop the state and sync the collection again.
    pub fn is_resync_required(&self) -> bool {
        matches!(self, ProtocolError::ResyncRequired { .. })
    }

    /// True when a conditional write failed because the item changed on the
    /// server (code `ITEM_CONFLICT`).
    pub fn is_conflict(&self) -> bool {
        matches!(self, ProtocolError::Conflict { .. })
    }

    /// How long the server asked to wait, for a `THROTTLED` failure.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            ProtocolError::Throttled { retry_after_secs, .. } => {
                Some(std::time::Duration::from_secs(*retry_after_secs))
            }
            _ => None,
        }
    }

    /// True when the failure is worth retrying later without admin action.
    pub fn is_transient(&self) -> bool {
        self.class() == ErrorClass::Transient
    }
}

/// What an EWS server refused, and what the admin can do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EwsFailure {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The operation (`GetItem`, ...).
    pub operation: String,
    /// The item it was about, when one.
    pub item: Option<String>,
    /// The EWS ResponseCode (`ErrorAccessDenied`, ...).
    pub response_code: String,
    /// MessageText or fault detail.
    pub detail: String,
    /// What to do about it ("" when nothing useful can be said).
    pub hint: String,
}

impl fmt::Display for EwsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "EWS server {}:{} refused {}{}: {}: {}{}",
            self.host,
            self.port,
            self.operation,
            item_text(&self.item),
            self.response_code,
            self.detail,
            hint_text(&self.hint)
        )
    }
}

fn item_text(item: &Option<String>) -> String {
    item.as_ref().map(|i| format!(" of item {i}")).unwrap_or_default()
}

fn hint_text(hint: &str) -> String {
    if hint.is_empty() { String::new() } else { format!("; {hint}") }
}

/// Result alias for the protocols crate.
pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::Peer;

    fn peer(proto: Proto) -> Peer {
        Peer::new(proto, "mail.example.com", 993)
    }

    #[test]
    fn codes_are_prefixed_where_the_admin_benefits() {
        assert_eq!(peer(Proto::Imap).auth_failed("anna", "no").code(), "IMAP_AUTH_FAILED");
        assert_eq!(peer(Proto::Pop3).auth_failed("anna", "no").code(), "POP3_AUTH_FAILED");
        let refused = ProtocolError::ConnectionRefused { proto: Proto::Imap, host: "h".into(), port: 1 };
        assert_eq!(refused.code(), "CONNECTION_REFUSED");
        assert_eq!(peer(Proto::Imap).timeout("FETCH", 30).code(), "TIMEOUT");
        for proto in [Proto::Imap, Proto::Pop3, Proto::Smtp, Proto::Dav, Proto::Ews, Proto::Graph] {
            let e = peer(proto).token_refused("anna", "status 401");
            assert_eq!(e.code(), "OAUTH_TOKEN_REFUSED");
            assert_eq!(e.class(), ErrorClass::Permanent);
            assert!(e.is_token_refused());
        }
        assert!(!peer(Proto::Imap).auth_failed("anna", "no").is_token_refused());
    }

    #[test]
    fn classes_follow_the_design() {
        let p = peer(Proto::Imap);
        let transient = [
            p.lost("reset"),
            p.timeout("SELECT", 5),
            p.busy("[UNAVAILABLE]"),
            ProtocolError::ConnectionRefused { proto: Proto::Imap, host: "h".into(), port: 1 },
            ProtocolError::ConnectTimeout { proto: Proto::Imap, host: "h".into(), port: 1, secs: 3 },
            ProtocolError::DnsFailed {
                proto: Proto::Imap,
                host: "h".into(),
                temporary: true,
                detail: "again".into(),
            },
        ];
        for e in transient {
            assert_eq!(e.class(), ErrorClass::Transient, "{}", e.code());
        }
        let permanent = [
            p.auth_failed("anna", "no"),
            p.plaintext_refused(),
            p.mechanism_unavailable("none"),
            p.starttls_unavailable(),
            ProtocolError::TlsCertInvalid {
                proto: Proto::Imap,
                host: "h".into(),
                port: 1,
                detail: "UnknownIssuer".into(),
            },
            ProtocolError::MailboxNotFound {
                proto: Proto::Imap,
                host: "h".into(),
                port: 1,
                folder: "Nope".into(),
            },
            ProtocolError::DnsFailed {
                proto: Proto::Imap,
                host: "h".into(),
                temporary: false,
                detail: "unknown".into(),
            },
        ];
        for e in permanent {
            assert_eq!(e.class(), ErrorClass::Permanent, "{}", e.code());
        }
    }

    #[test]
    fn messages_name_the_server() {
        let e = ProtocolError::ConnectionRefused {
            proto: Proto::Imap,
            host: "mail.example.com".into(),
            port: 143,
        };
        assert_eq!(e.to_string(), "cannot connect to IMAP server mail.example.com:143: connection refused");
    }
}

/// An operation the server refused because the app lacks a permission
/// ([`ProtocolError::PermissionDenied`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{proto} server {host}:{port} denied {operation} for {user}: the {permission} permission \
     is missing ({detail}); grant it to the app in the tenant and test again"
)]
pub struct PermissionDenial {
    /// Protocol.
    pub proto: Proto,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The mailbox the request was for.
    pub user: String,
    /// What was being done (`messages delta`, `sendMail`, ...).
    pub operation: String,
    /// The permission the operation needs (`Mail.Read`, `Calendars.ReadWrite`, ...).
    pub permission: String,
    /// What the server said.
    pub detail: String,
}
