//! What a Graph error answer means for crmsync: the status and the error
//! body become a [`ProtocolError`] with the crate's codes and classes, and
//! `Retry-After` becomes a wait. Pure; the client calls it.

use std::time::{Duration, SystemTime};

use super::types::{ErrorBody, ErrorDetail};
use crate::error::{Proto, ProtocolError};

/// Permissions named in 403 messages, longest first so `Mail.ReadWrite`
/// is not read as `Mail.Read`.
const PERMISSIONS: &[&str] = &[
    "Mail.ReadWrite.Shared",
    "Mail.ReadWrite",
    "Mail.Read.Shared",
    "Mail.ReadBasic",
    "Mail.Read",
    "Mail.Send.Shared",
    "Mail.Send",
    "Calendars.ReadWrite.Shared",
    "Calendars.ReadWrite",
    "Calendars.Read",
    "Contacts.ReadWrite.Shared",
    "Contacts.ReadWrite",
    "Contacts.Read",
    "Tasks.ReadWrite.Shared",
    "Tasks.ReadWrite",
    "Tasks.Read",
    "User.Read.All",
    "User.ReadBasic.All",
    "User.Read",
    "MailboxSettings.ReadWrite",
    "MailboxSettings.Read",
];

/// Delta error codes that mean "start over without the token".
const RESYNC_CODES: &[&str] = &["syncStateNotFound", "resyncRequired", "syncStateInvalid"];

/// Who and what a failed request was about, for the error message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    /// Host of the Graph endpoint.
    pub host: &'a str,
    /// Port.
    pub port: u16,
    /// The mailbox.
    pub user: &'a str,
    /// The operation (`messages delta`).
    pub operation: &'a str,
    /// The permission the operation needs.
    pub permission: &'a str,
    /// The item or folder addressed.
    pub item: Option<&'a str>,
}

/// Reads an error body; an unreadable one gives an empty detail.
pub fn parse_error(body: &[u8]) -> ErrorDetail {
    serde_json::from_slice::<ErrorBody>(body).map(|b| b.error).unwrap_or_default()
}

/// The permission a 403 message names, or `fallback` (the operation's).
pub fn missing_permission(message: &str, fallback: &str) -> String {
    PERMISSIONS
        .iter()
        .find(|p| {
            message.match_indices(**p).any(|(i, _)| {
                let mut rest = message[i + p.len()..].chars();
                match (rest.next(), rest.next()) {
                    (Some(c), _) if c.is_ascii_alphanumeric() => false,
                    (Some('.'), Some(c)) => !c.is_ascii_alphanumeric(),
                    _ => true,
                }
            })
        })
        .map_or_else(|| fallback.to_string(), |p| p.to_string())
}

/// `Retry-After` as a wait: delay-seconds (fractions tolerated, as Graph
/// sends `2.128`) or an HTTP date. None when absent or unreadable.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(when.timestamp()).ok()?);
    Some(when.duration_since(now).unwrap_or_default())
}

/// Whether an error code means the delta token is gone.
pub fn is_resync_code(code: &str) -> bool {
    RESYNC_CODES.iter().any(|c| c.eq_ignore_ascii_case(code))
}

/// The error for a non-success answer (429/503 are handled by the client's
/// throttling first; they come here only as [`ProtocolError::Throttled`]).
pub(crate) fn error_for(cx: &Context<'_>, status: u16, body: &[u8]) -> ProtocolError {
    let detail = parse_error(body);
    let (host, port) = (cx.host.to_string(), cx.port);
    let said = if detail.code.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status} {}: {}", detail.code, detail.message)
    };
    let item = cx.item.unwrap_or("").to_string();
    if is_resync_code(&detail.code) || status == 410 {
        let what = if item.is_empty() { cx.operation.to_string() } else { item };
        return ProtocolError::ResyncRequired { proto: Proto::Graph, host, port, what, detail: said };
    }
    match status {
        401 => ProtocolError::AuthFailed {
            proto: Proto::Graph,
            host,
            port,
            user: cx.user.to_string(),
            detail: format!("the OAuth2 access token was refused: {said}"),
            oauth: true,
        },
        403 => ProtocolError::PermissionDenied(Box::new(crate::error::PermissionDenial {
            proto: Proto::Graph,
            host,
            port,
            user: cx.user.to_string(),
            operation: cx.operation.to_string(),
            permission: missing_permission(&detail.message, cx.permission),
            detail: said,
        })),
        404 if cx.operation.contains("delta") || cx.operation.contains("folder") => {
            ProtocolError::MailboxNotFound { proto: Proto::Graph, host, port, folder: item }
        }
        404 if !item.is_empty() => ProtocolError::ItemNotFound {
            proto: Proto::Graph,
            host,
            port,
            item,
            operation: cx.operation.into(),
        },
        412 => {
            ProtocolError::Conflict { proto: Proto::Graph, host, port, item, operation: cx.operation.into() }
        }
        429 | 503 => ProtocolError::Throttled {
            proto: Proto::Graph,
            host,
            port,
            scope: cx.user.to_string(),
            retry_after_secs: 0,
        },
        s if s >= 500 => ProtocolError::ServerBusy {
            proto: Proto::Graph,
            host,
            port,
            detail: format!("{}: {said}", cx.operation),
        },
        400..=499 if !item.is_empty() || cx.operation == "sendMail" => ProtocolError::ItemRejected {
            proto: Proto::Graph,
            host,
            port,
            item: if item.is_empty() { "the message".into() } else { item },
            detail: format!("{}: {said}", cx.operation),
        },
        _ => ProtocolError::CommandFailed {
            proto: Proto::Graph,
            host,
            port,
            command: cx.operation.to_string(),
            detail: said,
        },
    }
}

#[cfg(test)]
mod tests {
    use crmsync_core::ErrorClass;

    use super::*;

    fn cx(operation: &'static str, permission: &'static str, item: Option<&'static str>) -> Context<'static> {
        Context {
            host: "graph.microsoft.com",
            port: 443,
            user: "anna@example.com",
            operation,
            permission,
            item,
        }
    }

    #[test]
    fn retry_after_takes_fractions_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after("2.128", now), Some(Duration::from_millis(2128)));
        assert_eq!(parse_retry_after(" 10 ", now), Some(Duration::from_secs(10)));
        // 2001-09-09T01:46:40Z is the epoch second 1e9.
        assert_eq!(parse_retry_after("Sun, 09 Sep 2001 01:46:50 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn a_refused_token_is_the_shared_oauth_code() {
        let e = error_for(
            &cx("messages delta", "Mail.Read", None),
            401,
            br#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired."}}"#,
        );
        assert_eq!(e.code(), "OAUTH_TOKEN_REFUSED");
        assert!(e.is_token_refused());
        assert!(e.to_string().contains("Access token has expired"), "{e}");
    }

    #[test]
    fn access_denied_names_the_permission_from_the_message_or_the_operation() {
        let body = br#"{"error":{"code":"ErrorAccessDenied","message":"Access is denied. Check credentials and try again. Missing Mail.ReadWrite."}}"#;
        let e = error_for(&cx("move message", "Mail.Read", Some("m1")), 403, body);
        assert_eq!(e.code(), "PERMISSION_DENIED");
        assert_eq!(e.class(), ErrorClass::Permanent);
        assert!(e.to_string().contains("the Mail.ReadWrite permission is missing"), "{e}");
        let e = error_for(
            &cx("sendMail", "Mail.Send", None),
            403,
            br#"{"error":{"code":"ErrorAccessDenied","message":"Access to OData is disabled."}}"#,
        );
        assert!(e.to_string().contains("the Mail.Send permission is missing"), "{e}");
    }

    #[test]
    fn gone_delta_state_missing_items_and_conflicts_have_their_own_codes() {
        let body = br#"{"error":{"code":"syncStateNotFound","message":"The sync state was not found."}}"#;
        let e = error_for(&cx("messages delta", "Mail.Read", Some("inbox")), 410, body);
        assert!(e.is_resync_required());
        assert_eq!(e.code(), "RESYNC_REQUIRED");
        let e = error_for(
            &cx("calendar delta", "Calendars.ReadWrite", None),
            400,
            br#"{"error":{"code":"resyncRequired","message":"x"}}"#,
        );
        assert!(e.is_resync_required());
        assert!(e.to_string().contains("sync state of calendar delta"), "{e}");
        let e = error_for(&cx("download message", "Mail.Read", Some("m1")), 404, b"");
        assert_eq!((e.code(), e.class()), ("ITEM_NOT_FOUND", ErrorClass::Item));
        let e = error_for(&cx("messages delta", "Mail.Read", Some("Projects")), 404, b"");
        assert_eq!(e.code(), "MAILBOX_NOT_FOUND");
        let e = error_for(&cx("update event", "Calendars.ReadWrite", Some("e1")), 412, b"");
        assert!(e.is_conflict());
        assert_eq!(e.class(), ErrorClass::Item);
        let e = error_for(&cx("get event", "Calendars.ReadWrite", Some("e1")), 502, b"<html>");
        assert_eq!((e.code(), e.class()), ("SERVER_BUSY", ErrorClass::Transient));
        let e = error_for(&cx("sendMail", "Mail.Send", None), 400, br#"{"error":{"code":"ErrorMimeContentInvalidBase64String","message":"Invalid base64 string for MIME content."}}"#);
        assert_eq!((e.code(), e.class()), ("GRAPH_ITEM_REJECTED", ErrorClass::Item));
    }

    #[test]
    fn a_permission_is_matched_whole() {
        assert_eq!(missing_permission("needs Mail.ReadWrite", "x"), "Mail.ReadWrite");
        assert_eq!(missing_permission("needs Mail.Read.", "x"), "Mail.Read");
        assert_eq!(missing_permission("nothing said", "Tasks.ReadWrite"), "Tasks.ReadWrite");
    }
}
