//! "What to do" for every alert code, in the admin's words, whatever the
//! front end: the text names no command, flag or button. When the admin has
//! something to do, [`action`] names it, and each front end says it in its own
//! words (the CLI its command, the window its page and button).

use serde::{Deserialize, Serialize};

/// Something the admin does about an alert, named once; the CLI and the
/// desktop each say how to do it there.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Enter the mailbox's (or profile's) current password, then Test & Enable.
    EnterPassword,
    /// Approve the mailbox's email address.
    ApproveMailbox,
    /// Enable the mailbox again now.
    EnableMailbox,
    /// Confirm the mass delete the brake holds.
    ConfirmMassDelete,
    /// Add a mailbox for the forwarding user.
    AddForwardMailbox,
    /// Sign the mailbox in again with its OAuth2 provider (Microsoft, Google).
    SignIn,
}

impl Action {
    /// Every action (for tests of the front ends' words).
    pub const ALL: [Action; 6] = [
        Action::EnterPassword,
        Action::ApproveMailbox,
        Action::EnableMailbox,
        Action::ConfirmMassDelete,
        Action::AddForwardMailbox,
        Action::SignIn,
    ];
}

/// What the admin does about `code`, if anything (codes matched as in [`hint`]).
pub fn action(code: &str) -> Option<Action> {
    const ACTIONS: &[(&str, Action)] = &[
        ("AUTH_FAILED", Action::EnterPassword),
        ("CREDENTIALS_REQUIRED", Action::EnterPassword),
        ("NOT_APPROVED", Action::ApproveMailbox),
        ("MAILBOX_DISABLED", Action::EnableMailbox),
        ("ACT_MASS_DELETE_HELD", Action::ConfirmMassDelete),
        ("FORWARD_SENDER_UNKNOWN", Action::AddForwardMailbox),
        ("OAUTH_SIGN_IN_REQUIRED", Action::SignIn),
        ("OAUTH_TOKEN_REFUSED", Action::SignIn),
    ];
    ACTIONS.iter().find(|(k, _)| matches(code, k)).map(|(_, a)| *a)
}

fn matches(code: &str, key: &str) -> bool {
    code == key || code.strip_suffix(key).is_some_and(|p| p.ends_with('_'))
}

/// The hint for an alert code; codes are matched by suffix so protocol
/// prefixes (`IMAP_`, `POP3_`, `SMTP_`, `DAV_`) share one text.
pub fn hint(code: &str) -> String {
    let table: &[(&str, &str)] = &[
        (
            "AUTH_FAILED",
            "The server refused the user name or password. Enter the current password of the mailbox (or of the profile, when it logs in for every mailbox), then run Test & Enable.",
        ),
        (
            "AUTH_MECHANISM_UNAVAILABLE",
            "The server offers no login method crmsync can use on this connection. Check the security setting (tls/starttls) of the profile.",
        ),
        (
            "PLAINTEXT_REFUSED",
            "The connection is not encrypted and the profile does not allow insecure connections. Use tls or starttls, or allow insecure connections for this profile if the network is trusted.",
        ),
        (
            "TLS_CERT_INVALID",
            "The server's certificate is not trusted or does not match the host name. Check the host name in the profile; if the server uses a private CA, install it in the system's trust store.",
        ),
        (
            "TLS_FAILED",
            "The secure connection could not be set up. Check that the port matches the security setting (993/995/465 for tls, 143/110/587 for starttls).",
        ),
        (
            "STARTTLS_UNAVAILABLE",
            "The server does not offer STARTTLS on this port. Use tls on the implicit-TLS port, or ask the mail administrator to enable STARTTLS.",
        ),
        (
            "RESPONSE_TOO_LARGE",
            "The server sent far more than such an answer should hold, so crmsync stopped reading and nothing was changed. For a calendar or address book that really is that large, raise the act.max_response_mb setting; otherwise check the server (its address may point at something else, or it may be misbehaving).",
        ),
        (
            "MESSAGE_TOO_LARGE",
            "The message is larger than incoming.max_message_size_mb, so it was not downloaded; it stays on the server and the other mail goes on. Raise the setting if such messages must be tracked, or handle this one in a mail client.",
        ),
        (
            "DNS_FAILED",
            "The server name cannot be resolved. Check the host name in the profile and the office's DNS.",
        ),
        (
            "CONNECTION_REFUSED",
            "Nothing answers on that host and port. Check the port, and that the mail server is running; crmsync retries by itself.",
        ),
        (
            "CONNECT_TIMEOUT",
            "The server did not answer in time. crmsync retries by itself; if it persists, check the network or firewall.",
        ),
        (
            "EWS_IMPERSONATION_DENIED",
            "The profile's service account may not act for this mailbox. In the Exchange Management Shell, give it the ApplicationImpersonation role (New-ManagementRoleAssignment -Role ApplicationImpersonation -User ACCOUNT), then run Test & Enable.",
        ),
        (
            "EWS_ACCESS_DENIED",
            "Exchange refused access to this mailbox or folder. Grant the account access in Exchange (or use the mailbox's own login), then run Test & Enable.",
        ),
        ("TIMEOUT", "The server stopped answering in the middle of a command. crmsync retries by itself."),
        ("CONNECTION_LOST", "The connection dropped. crmsync retries by itself."),
        ("SERVER_BUSY", "The server is temporarily unavailable. crmsync retries by itself."),
        (
            "MAILBOX_NOT_FOUND",
            "The folder or mailbox does not exist on the server. Check the mailbox's user name and the tracked folder names.",
        ),
        (
            "PROTOCOL_ERROR",
            "The server answered something crmsync did not expect. If it repeats, send the mailbox's log to support.",
        ),
        (
            "EMAIL_UNPARSEABLE",
            "One message could not be read. It is kept whole in the CRM store (failed items) and the mailbox goes on with the next message; nothing is lost.",
        ),
        (
            "EMAIL_NOT_RETURNED",
            "The server listed a message but did not return it when asked, several passes in a row. It was not tracked and is still on the server (nothing was deleted); the alert names its folder, UIDVALIDITY and UID. Check the message with a mail client or the server's tools (it may be damaged on the server).",
        ),
        (
            "MESSAGE_ID_COLLISION",
            "Two different messages (other sender, date or body) carry the same Message-ID. crmsync kept them as two email activities instead of merging the second into the first; the alert names both. Check whether the second is forged or a sender's bug; delete the activity you do not want.",
        ),
        (
            "FORWARD_SENDER_UNKNOWN",
            "A forward mailbox received mail forwarded by an address with no CRM mailbox. Add a mailbox for that user whose incoming email comes through the forward mailbox.",
        ),
        (
            "CREDENTIALS_REQUIRED",
            "This mailbox has no password yet (for example after a migration). Enter its password, then run Test & Enable.",
        ),
        (
            "OAUTH_SIGN_IN_REQUIRED",
            "The mailbox signs in with Microsoft or Google (OAuth2) and has no valid sign-in: it never signed in, or the provider withdrew it (consent revoked, password changed, sign-in expired). crmsync stopped this mailbox and does not retry by itself. Sign the mailbox in again, then run Test & Enable.",
        ),
        (
            "OAUTH_TOKEN_REFUSED",
            "The server refused the mailbox's OAuth2 access token even after crmsync renewed it: the sign-in lacks a permission the server needs (scope), belongs to another account, or IMAP/POP/SMTP access is turned off for this mailbox at the provider. Check the app registration's permissions and the mailbox's settings at the provider, sign the mailbox in again with its own account, then run Test & Enable.",
        ),
        (
            "PERMISSION_DENIED",
            "The server denied what crmsync asked because the app registration or the sign-in lacks the permission the message names (for Microsoft 365: Microsoft Entra, App registrations, crmsync, API permissions). An administrator grants it and consents for the organization; then run Test & Enable (sign the mailbox in again when each user signs in).",
        ),
        (
            "THROTTLED",
            "The server asked crmsync to slow down. crmsync waits as long as it was told, for this mailbox or for every mailbox of the tenant, and tries again by itself; nothing to do unless it keeps happening (then fewer mailboxes per profile, or a longer poll interval, help).",
        ),
        (
            "OAUTH_FAILED",
            "The sign-in server (Microsoft, Google or the office's own) could not be reached or gave an answer crmsync did not expect. crmsync retries by itself when the server could not be reached; otherwise check the profile's OAuth2 settings (client id, tenant, URLs).",
        ),
        ("NOT_APPROVED", "The organization processes email only for approved mailboxes. Approve this one."),
        (
            "MAILBOX_DISABLED",
            "crmsync stopped this mailbox after repeated transient failures. It re-tests the server by itself and re-enables the mailbox when the server is back; enable it now if the server is known to work again.",
        ),
        (
            "MAILBOX_RECOVERED",
            "Nothing to do: the server answered again and crmsync re-enabled the channels the message names by itself. A channel named as still disabled is re-tested again later.",
        ),
        (
            "PROFILE_FAILING",
            "Most mailboxes of this profile fail: the server itself is likely down, unreachable or rejecting logins. Check the server and the profile's host, port and security; each mailbox alert names the error.",
        ),
        (
            "SYNC_TIMEOUT",
            "A sync took longer than queue.job_timeout_secs and was stopped; nothing committed is lost and crmsync retries. If it repeats, the server or link is very slow.",
        ),
        (
            "INTERNAL_ERROR",
            "A crmsync job stopped on an internal error (a bug); its message says where. Nothing committed is lost and crmsync retries the mailbox as after a transient failure. Please report it with the message.",
        ),
        (
            "NOT_AVAILABLE",
            "This build of crmsync cannot process this channel yet; the work waits and nothing is lost.",
        ),
        (
            "SEND_REJECTED",
            "The mail server refused this email permanently; its reply is on the email. Fix the address or content and send it again.",
        ),
        (
            "DELIVERY_UNKNOWN",
            "The mail server never answered after it received this email, so it may or may not have been delivered. Nothing to do: crmsync does not send it again blindly; after outgoing.sending_retry_interval_secs it looks for it in the Sent folder and sends it again only if it is not there.",
        ),
        (
            "SEND_INTERRUPTED",
            "This email was on its way to the server when sending stopped (crmsync stopped, or the server's reply was lost) and it is not in the Sent folder, so it was sent again. If the first attempt had reached the server, the recipients got it twice (same Message-ID).",
        ),
        (
            "SENT_FOLDER_MISSING",
            "The email was sent, but the mailbox has no Sent folder and the server refused to create one (the log says why), so no copy was filed. Create a folder named Sent (or one marked as Sent) on the server, or allow the mailbox to create folders, if copies should be kept.",
        ),
        (
            "DAV_CONFLICT",
            "An appointment, contact or task changed in the CRM and on the server. The act.conflict_policy setting decided; with keep-both (the default) both versions exist now. Check the item and delete the version you do not want.",
        ),
        (
            "ACT_MASS_DELETE_HELD",
            "Most of a synced calendar, task list or address book was deleted on one side, so crmsync did not mirror the deletes. If that was intended, confirm the deletes; otherwise restore the items and nothing is lost.",
        ),
        (
            "ITEM_REJECTED",
            "The CalDAV/CardDAV server refused to store this item; its answer is in the message. The item stays in the CRM and is tried again when it changes.",
        ),
        (
            "ITEM_UNREADABLE",
            "An item on the CalDAV/CardDAV server cannot be read (its iCalendar or vCard is broken). It is left as it is on both sides; fix or delete it on the server.",
        ),
        (
            "ACT_ITEM_FAILED",
            "One appointment, contact or task could not be written to the CRM; the others went on. It is retried on the next sync.",
        ),
        (
            "OUTGOING_WAITING",
            "Emails of this mailbox wait in Pending Send because the mailbox cannot send; the message says why. Approve the mailbox, or set its outgoing channel to server-side and run Test & Enable, and the mail goes out on the next pass (this alert then clears by itself). Each waiting email shows the same reason.",
        ),
        (
            "SEND_FAILED",
            "The email could not be sent after the maximum number of attempts. Check the mailbox's outgoing alerts, then resend.",
        ),
    ];
    table
        .iter()
        .find(|(k, _)| matches(code, k))
        .map(|(_, h)| h.to_string())
        .unwrap_or_else(|| "See the message; if it repeats, check the mailbox's Test & Enable result.".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODES: &[&str] = &[
        "IMAP_AUTH_FAILED",
        "SMTP_AUTH_FAILED",
        "CREDENTIALS_REQUIRED",
        "NOT_APPROVED",
        "MAILBOX_DISABLED",
        "ACT_MASS_DELETE_HELD",
        "FORWARD_SENDER_UNKNOWN",
        "PLAINTEXT_REFUSED",
        "TLS_CERT_INVALID",
        "MESSAGE_TOO_LARGE",
        "RESPONSE_TOO_LARGE",
        "DELIVERY_UNKNOWN",
        "OAUTH_SIGN_IN_REQUIRED",
        "OAUTH_FAILED",
        "UNKNOWN_CODE",
    ];

    #[test]
    fn no_hint_names_a_command_or_a_flag() {
        for code in CODES {
            let h = hint(code);
            assert!(!h.contains("--") && !h.contains("crmsync mailbox") && !h.contains('`'), "{code}: {h}");
        }
    }

    #[test]
    fn the_codes_that_need_the_admin_name_their_action_and_prefixes_share_it() {
        assert_eq!(action("IMAP_AUTH_FAILED"), Some(Action::EnterPassword));
        assert_eq!(action("DAV_AUTH_FAILED"), Some(Action::EnterPassword));
        assert_eq!(action("NOT_APPROVED"), Some(Action::ApproveMailbox));
        assert_eq!(action("ACT_MASS_DELETE_HELD"), Some(Action::ConfirmMassDelete));
        assert_eq!(action("OAUTH_SIGN_IN_REQUIRED"), Some(Action::SignIn));
        assert!(hint("OAUTH_SIGN_IN_REQUIRED").contains("does not retry"));
        assert_eq!(action("CONNECTION_REFUSED"), None);
        assert_eq!(action("XAUTH_FAILED"), None, "a suffix counts only after an underscore");
    }
}
