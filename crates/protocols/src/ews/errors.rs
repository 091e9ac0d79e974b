//! How EWS failures become [`ProtocolError`]s: ResponseCodes and SOAP faults
//! (per response message), HTTP statuses, and what the admin can do about
//! them. The engine decides on the error's code and class only.
//!
//! | What the server said | Error | Class |
//! |---|---|---|
//! | `ErrorServerBusy` with BackOffMilliseconds | `THROTTLED`, `retry_after()` | transient |
//! | `ErrorServerBusy` without | `SERVER_BUSY` | transient |
//! | `ErrorInvalidSyncStateData` | `RESYNC_REQUIRED` (`is_resync_required()`) | transient (full resync) |
//! | `ErrorItemNotFound` | `ITEM_NOT_FOUND` for that item | item |
//! | `ErrorIrresolvableConflict`, stale ChangeKey | `ITEM_CONFLICT` (`is_conflict()`) | item |
//! | `ErrorAccessDenied`, HTTP 403 | `EWS_ACCESS_DENIED` + hint | permanent |
//! | `ErrorImpersonateUserDenied` | `EWS_IMPERSONATION_DENIED` + hint | permanent |
//! | `ErrorNonExistentMailbox` | `EWS_MAILBOX_NOT_FOUND` | permanent |
//! | HTTP 401 | `EWS_AUTH_FAILED` + hint | permanent |
//! | HTTP 5xx without a SOAP body, timeouts | `SERVER_BUSY` / `TIMEOUT` | transient |
//! | SOAP fault `ErrorSchemaValidation` | `EWS_SCHEMA_ERROR` naming element and line | item |

use crmsync_core::ErrorClass;

use super::response::{ResponseError, SoapFault};
use crate::error::{Proto, ProtocolError};

/// The stable code of an EWS ResponseCode that has no shared variant
/// (ItemNotFound, conflicts, busy and invalid sync state have theirs).
pub fn ews_code(response_code: &str) -> &'static str {
    match response_code {
        "ErrorAccessDenied" => "EWS_ACCESS_DENIED",
        "ErrorImpersonateUserDenied" | "ErrorImpersonationDenied" => "EWS_IMPERSONATION_DENIED",
        "ErrorNonExistentMailbox" | "ErrorMailboxNotFound" => "EWS_MAILBOX_NOT_FOUND",
        "ErrorSchemaValidation" => "EWS_SCHEMA_ERROR",
        "ErrorFolderNotFound" => "EWS_FOLDER_NOT_FOUND",
        c if is_temporary(c) => "EWS_TEMPORARY",
        _ => "EWS_ERROR",
    }
}

fn is_temporary(code: &str) -> bool {
    matches!(
        code,
        "ErrorInternalServerTransientError"
            | "ErrorMailboxStoreUnavailable"
            | "ErrorTimeoutExpired"
            | "ErrorConnectionFailed"
            | "ErrorMailboxMoveInProgress"
            | "ErrorBatchProcessingStopped"
            | "ErrorExceededConnectionCount"
            | "ErrorServerTemporaryUnavailable"
    )
}

/// How the engine reacts to an EWS ResponseCode.
pub fn ews_class(response_code: &str) -> ErrorClass {
    match ews_code(response_code) {
        "EWS_ACCESS_DENIED"
        | "EWS_IMPERSONATION_DENIED"
        | "EWS_MAILBOX_NOT_FOUND"
        | "EWS_FOLDER_NOT_FOUND" => ErrorClass::Permanent,
        "EWS_TEMPORARY" => ErrorClass::Transient,
        _ => ErrorClass::Item,
    }
}

/// What the admin can do about a ResponseCode ("" when nothing useful can be said).
pub fn hint(response_code: &str) -> &'static str {
    match ews_code(response_code) {
        "EWS_ACCESS_DENIED" => {
            "the account has no permission on this mailbox or folder; grant it in Exchange (or use the mailbox's own login)"
        }
        "EWS_IMPERSONATION_DENIED" => {
            "the service account lacks the ApplicationImpersonation role for this mailbox; assign it with New-ManagementRoleAssignment -Role ApplicationImpersonation"
        }
        "EWS_MAILBOX_NOT_FOUND" => "check the mailbox's e-mail address",
        "EWS_SCHEMA_ERROR" => {
            "the server refused the request crmsync wrote; please report it with this message"
        }
        _ => "",
    }
}

/// Hint for HTTP 401.
pub const AUTH_HINT: &str = "check the user name (DOMAIN\\user or user@domain) and the password, and that Basic or NTLM authentication is enabled on the EWS virtual directory";

/// Where an error happened: the server and the operation.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// Host.
    pub host: &'a str,
    /// Port.
    pub port: u16,
    /// Operation name.
    pub operation: &'a str,
    /// The folder the operation was about (sync state errors name it).
    pub folder: Option<&'a str>,
}

/// The error for one failed response message; `item` names the item it was about.
pub fn response_error(cx: &Context<'_>, e: &ResponseError, item: Option<&str>) -> ProtocolError {
    let (host, port) = (cx.host.to_string(), cx.port);
    let text = if e.text.is_empty() { e.code.clone() } else { e.text.clone() };
    let item_name = || item.unwrap_or("?").to_string();
    match e.code.as_str() {
        // With a back-off: THROTTLED with it (seconds, rounded up); without: a busy server.
        "ErrorServerBusy" => match e.backoff_ms {
            Some(ms) => ProtocolError::Throttled {
                proto: Proto::Ews,
                host,
                port,
                scope: format!("{} ({text})", cx.operation),
                retry_after_secs: ms.div_ceil(1000).max(1),
            },
            None => ProtocolError::ServerBusy {
                proto: Proto::Ews,
                host,
                port,
                detail: format!("{}: ErrorServerBusy: {text}", cx.operation),
            },
        },
        "ErrorInvalidSyncStateData" | "ErrorInvalidSyncStateDataException" => ProtocolError::ResyncRequired {
            proto: Proto::Ews,
            host,
            port,
            what: format!("folder {}", cx.folder.unwrap_or("?")),
            detail: format!("{}: {text}", e.code),
        },
        "ErrorItemNotFound" => ProtocolError::ItemNotFound {
            proto: Proto::Ews,
            host,
            port,
            item: item_name(),
            operation: cx.operation.to_string(),
        },
        "ErrorIrresolvableConflict" | "ErrorStaleObject" | "ErrorInvalidChangeKey" => {
            ProtocolError::Conflict {
                proto: Proto::Ews,
                host,
                port,
                item: item_name(),
                operation: format!("{} ({})", cx.operation, e.code),
            }
        }
        code => ProtocolError::EwsFailed(Box::new(crate::error::EwsFailure {
            host,
            port,
            operation: cx.operation.to_string(),
            item: item.map(str::to_string),
            response_code: code.to_string(),
            detail: e.text.clone(),
            hint: hint(code).to_string(),
        })),
    }
}

/// The error for a SOAP fault (the whole request failed).
pub fn fault_error(cx: &Context<'_>, f: &SoapFault) -> ProtocolError {
    let code = f.response_code.clone().unwrap_or_else(|| {
        // faultcode may carry it as `a:ErrorServerBusy`.
        f.code.rsplit(':').next().unwrap_or(&f.code).to_string()
    });
    let e =
        ResponseError { code: code.clone(), text: f.describe(), backoff_ms: f.backoff_ms, warning: false };
    match code.as_str() {
        "ErrorServerBusy" | "ErrorInvalidSyncStateData" => response_error(cx, &e, None),
        _ if code.starts_with("Error") => response_error(cx, &e, None),
        _ => ProtocolError::Protocol {
            proto: Proto::Ews,
            host: cx.host.to_string(),
            port: cx.port,
            detail: format!("{}: SOAP fault {}", cx.operation, f.describe()),
        },
    }
}
