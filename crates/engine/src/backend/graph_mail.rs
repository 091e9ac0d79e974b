//! The Microsoft 365 mail backend over Microsoft Graph: a mail source (the
//! pass is in [`super::graph_pass`]), a sender (sendMail with crmsync's own
//! MIME, so its Message-ID and tracking token travel as they are) and Sent
//! Items (looked up by Message-ID after an unknown send outcome; Graph files
//! the copy itself). Every client of one profile shares one throttling state,
//! so a `Retry-After` for the tenant holds back all its mailboxes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use crmsync_core::model::Profile;
use crmsync_core::store::Store;
use crmsync_protocols::ProtocolError;
use crmsync_protocols::graph::mail_requests::{MAIL_READ, MAIL_READ_WRITE, MAIL_SEND};
use crmsync_protocols::graph::{GraphClient, GraphConfig, MailFolder, Mailbox, SharedToken, Throttle, User};

use crmsync_protocols::settings::Password;
use futures::future::BoxFuture;

use super::capability::{Fut, Incoming, MailSender, MailSource, PendingReply, SentFolder, SentItems};
use crate::error::Result;
use crate::ingest::batch::SyncStats;
use crate::ingest::process::MailboxContext;

/// The throttling state of each Microsoft 365 profile (one tenant), shared by
/// every client this process makes for it.
fn throttle_of(profile_id: i64) -> Throttle {
    static THROTTLES: OnceLock<Mutex<HashMap<i64, Throttle>>> = OnceLock::new();
    let map = THROTTLES.get_or_init(Mutex::default);
    map.lock().unwrap_or_else(|e| e.into_inner()).entry(profile_id).or_default().clone()
}

/// A Graph client of one mailbox with what reports and checks need: the
/// address it acts for, the token it sends, the service root.
#[derive(Clone)]
pub struct GraphConn {
    /// The client.
    pub client: GraphClient,
    /// The mailbox address.
    pub address: String,
    /// The access token the client sends (its claims name the permissions).
    pub token: Password,
    /// The service root.
    pub root: String,
}

/// A Graph client for `address` on `profile`: delegated (`/me`, the
/// mailbox's own sign-in) or app-only (`/users/{address}`).
pub fn client(
    profile: &Profile,
    address: &str,
    app_only: bool,
    token: Password,
    max_message_bytes: u64,
) -> Result<GraphConn> {
    let mut config = GraphConfig {
        timeout: Duration::from_secs(u64::from(profile.data.timeout)),
        max_message_bytes,
        throttle: throttle_of(profile.id),
        ..GraphConfig::default()
    };
    if let Some(url) = &profile.data.graph_url {
        config.base_url = url.clone();
    }
    let root = config.base_url.trim_end_matches('/').to_string();
    let mailbox = if app_only { Mailbox::User(address.to_string()) } else { Mailbox::Me };
    let shared = Arc::new(SharedToken::new(token.clone()));
    let client = GraphClient::new(config, mailbox, shared)?.for_account(address);
    Ok(GraphConn { client, address: address.to_string(), token, root })
}

/// The permissions an access token carries (delegated `scp`, app-only
/// `roles`), when it is a JWT that says; None when it cannot be read (an
/// opaque token: the server's answers decide).
pub fn permissions_of(token: &Password) -> Option<Vec<String>> {
    let payload = token.expose().split('.').nth(1)?;
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let mut out: Vec<String> = Vec::new();
    if let Some(scp) = claims.get("scp").and_then(|v| v.as_str()) {
        out.extend(scp.split(' ').filter(|s| !s.is_empty()).map(|s| short_permission(s).to_string()));
    }
    if let Some(roles) = claims.get("roles").and_then(|v| v.as_array()) {
        out.extend(roles.iter().filter_map(|r| r.as_str()).map(|s| short_permission(s).to_string()));
    }
    (claims.get("scp").is_some() || claims.get("roles").is_some()).then_some(out)
}

/// `Mail.Read` of `https://graph.microsoft.com/Mail.Read`.
fn short_permission(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// Whether `granted` covers `needed` (a `.ReadWrite` covers its `.Read`; an
/// app's `.All` role covers its permission).
pub(crate) fn covers(granted: &[String], needed: &str) -> bool {
    granted.iter().any(|g| {
        let g = g.strip_suffix(".All").unwrap_or(g);
        g.eq_ignore_ascii_case(needed)
            || needed
                .strip_suffix(".Read")
                .is_some_and(|stem| g.eq_ignore_ascii_case(&format!("{stem}.ReadWrite")))
    })
}

/// The first of `needed` that `client`'s token lacks, if its claims say so.
fn missing_permission(token: &Password, needed: &[&'static str]) -> Option<&'static str> {
    let granted = permissions_of(token)?;
    needed.iter().copied().find(|n| !covers(&granted, n))
}

/// The `PERMISSION_DENIED` error of a token without `permission`.
fn denied(conn: &GraphConn, operation: &str, permission: &str) -> ProtocolError {
    let (host, port) = super::host_and_port(&conn.root);
    ProtocolError::PermissionDenied(Box::new(crmsync_protocols::PermissionDenial {
        proto: crmsync_protocols::Proto::Graph,
        host,
        port,
        user: conn.address.clone(),
        operation: operation.to_string(),
        permission: permission.to_string(),
        detail: "the access token does not carry it; an administrator must grant it".into(),
    }))
}

/// "Microsoft Graph https://graph.microsoft.com/v1.0", as reports name it.
fn describe(conn: &GraphConn) -> String {
    format!("Microsoft Graph {}", conn.root)
}

/// A Microsoft 365 mailbox as a mail source.
pub struct GraphSource {
    conn: GraphConn,
}

impl GraphSource {
    /// The source reached with `conn`.
    pub fn new(conn: GraphConn) -> GraphSource {
        GraphSource { conn }
    }
}

impl MailSource for GraphSource {
    fn describe(&self) -> String {
        describe(&self.conn)
    }

    /// With a login: the token is accepted, the mailbox owner and the Inbox
    /// are reachable, and the token carries Mail.ReadWrite (read flags,
    /// delete-after-processing). Without: the service answers at all.
    fn probe(&self, login: bool) -> Fut<'_, Incoming> {
        Box::pin(async move {
            let c = &self.conn.client;
            if !login {
                return match c.send(&c.mailbox().user()).await {
                    Ok(_) | Err(ProtocolError::AuthFailed { .. }) => Ok(Incoming::Answered),
                    Err(e) => Err(e.into()),
                };
            }
            let _owner: User = c.json(&c.mailbox().user()).await?;
            let inbox: MailFolder = c.json(&c.mailbox().mail_folder("inbox")).await?;
            if let Some(p) = missing_permission(&self.conn.token, &[MAIL_READ, MAIL_READ_WRITE]) {
                return Err(denied(&self.conn, "read and file incoming mail", p).into());
            }
            let messages = inbox.total_item_count.unwrap_or_default().min(u64::from(u32::MAX)) as u32;
            Ok(Incoming::Mailbox { messages })
        })
    }

    fn pass<'a>(&'a self, store: &'a mut Store, ctx: &'a MailboxContext) -> Fut<'a, SyncStats> {
        Box::pin(super::graph_pass::sync_graph(store, ctx, &self.conn.client))
    }
}

/// Sends a Microsoft 365 mailbox's mail with sendMail.
pub struct GraphSender {
    conn: GraphConn,
}

impl GraphSender {
    /// The sender reached with `conn`.
    pub fn new(conn: GraphConn) -> GraphSender {
        GraphSender { conn }
    }
}

/// `raw` with a `Bcc` header naming the envelope recipients its To and Cc
/// headers do not: sendMail takes the recipients from the MIME, and the
/// message as composed for SMTP leaves Bcc recipients to the envelope.
/// Exchange delivers to them without showing the header to the others.
fn with_bcc(raw: &[u8], recipients: &[String]) -> Vec<u8> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").map_or(raw.len(), |p| p + 2);
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    // The To and Cc fields, folded lines included.
    let mut shown = String::new();
    let mut inside = false;
    for line in head.split("\r\n") {
        if line.starts_with(' ') || line.starts_with('\t') {
            if inside {
                shown.push_str(line);
            }
            continue;
        }
        inside = line.starts_with("to:") || line.starts_with("cc:");
        if inside {
            shown.push(' ');
            shown.push_str(line);
        }
    }
    let hidden: Vec<&str> =
        recipients.iter().map(String::as_str).filter(|r| !shown.contains(&r.to_ascii_lowercase())).collect();
    if hidden.is_empty() {
        return raw.to_vec();
    }
    let mut out = format!("Bcc: {}\r\n", hidden.join(", ")).into_bytes();
    out.extend_from_slice(raw);
    out
}

/// A sendMail failure whose outcome is unknown: Graph answered 503 (the
/// service may have carried the request out), so Sent Items must be checked
/// before the message is sent again.
fn send_outcome(e: ProtocolError) -> ProtocolError {
    match e {
        ProtocolError::Throttled { proto, host, port, scope, retry_after_secs } if scope == "the tenant" => {
            ProtocolError::ConnectionLost {
                proto,
                host,
                port,
                detail: format!(
                    "sendMail was answered 503 (retry after {retry_after_secs} s); it may have been carried out"
                ),
            }
        }
        other => other,
    }
}

impl MailSender for GraphSender {
    fn describe(&self) -> String {
        describe(&self.conn)
    }

    fn login(&self) -> Option<&str> {
        Some(&self.conn.address)
    }

    /// The token is accepted, the mailbox reachable, and the token carries Mail.Send.
    fn probe(&self) -> Fut<'_, ()> {
        Box::pin(async move {
            let c = &self.conn.client;
            let _owner: User = c.json(&c.mailbox().user()).await?;
            if let Some(p) = missing_permission(&self.conn.token, &[MAIL_SEND]) {
                return Err(denied(&self.conn, "sendMail", p).into());
            }
            Ok(())
        })
    }

    /// sendMail with the message's own MIME (recipients and Bcc come from
    /// it; Graph keeps the Message-ID and headers and files a copy in Sent
    /// Items). The reply is the request's answer.
    fn submit<'a>(
        &'a self,
        _from: &'a str,
        recipients: &'a [String],
        raw: &'a [u8],
    ) -> BoxFuture<'a, std::result::Result<PendingReply<'a>, ProtocolError>> {
        Box::pin(async move {
            let mime = with_bcc(raw, recipients);
            let reply: PendingReply<'a> = Box::pin(async move {
                self.conn.client.send_mime(&mime).await.map_err(send_outcome)?;
                Ok("202 Accepted".to_string())
            });
            Ok(reply)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// Sent Items of a Microsoft 365 mailbox.
pub struct GraphSentItems {
    client: GraphClient,
}

impl GraphSentItems {
    /// Sent Items reached with `conn`.
    pub fn new(conn: GraphConn) -> GraphSentItems {
        GraphSentItems { client: conn.client }
    }
}

impl SentItems for GraphSentItems {
    fn open(&self) -> Fut<'_, Box<dyn SentFolder>> {
        Box::pin(async move {
            Ok(Box::new(GraphSentFolder { client: self.client.clone() }) as Box<dyn SentFolder>)
        })
    }
}

/// Sent Items, looked up by Message-ID.
struct GraphSentFolder {
    client: GraphClient,
}

impl SentFolder for GraphSentFolder {
    fn name(&self) -> &str {
        "Sent Items"
    }

    /// Graph compares `internetMessageId` whole, angle brackets included;
    /// the outbox keeps Message-IDs without them.
    fn holds<'a>(&'a mut self, message_id: &'a str) -> Fut<'a, bool> {
        Box::pin(async move {
            let id = bracketed(message_id);
            Ok(self.client.find_sent(&id).await?.is_some())
        })
    }

    /// Graph files the copy of what sendMail sent itself: nothing to do.
    fn file<'a>(&'a mut self, _raw: &'a [u8]) -> BoxFuture<'a, std::result::Result<(), ProtocolError>> {
        Box::pin(async { Ok(()) })
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// `<id>` of a Message-ID given with or without its angle brackets.
fn bracketed(message_id: &str) -> String {
    format!("<{}>", message_id.trim().trim_start_matches('<').trim_end_matches('>'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> Password {
        let enc = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        Password::new(format!("{}.{}.sig", enc(b"{\"alg\":\"RS256\"}"), enc(claims.to_string().as_bytes())))
    }

    #[test]
    fn permissions_are_read_from_delegated_scopes_and_app_roles_and_readwrite_and_all_cover_theirs() {
        let t = jwt(serde_json::json!({"scp": "https://graph.microsoft.com/Mail.ReadWrite User.Read"}));
        assert_eq!(missing_permission(&t, &[MAIL_READ, MAIL_READ_WRITE]), None);
        assert_eq!(missing_permission(&t, &[MAIL_SEND]), Some("Mail.Send"));
        let app = jwt(serde_json::json!({"roles": ["Mail.Send", "Mail.Read"]}));
        assert_eq!(missing_permission(&app, &[MAIL_SEND]), None);
        assert_eq!(missing_permission(&app, &[MAIL_READ, MAIL_READ_WRITE]), Some("Mail.ReadWrite"));
        let tasks = jwt(serde_json::json!({"roles": ["Tasks.ReadWrite.All", "Calendars.Read"]}));
        assert_eq!(missing_permission(&tasks, &["Tasks.ReadWrite"]), None, "an app's .All role covers it");
        assert_eq!(missing_permission(&tasks, &["Calendars.ReadWrite"]), Some("Calendars.ReadWrite"));
        assert_eq!(
            missing_permission(&Password::new("opaque"), &[MAIL_SEND]),
            None,
            "an opaque token is not judged"
        );
    }

    #[test]
    fn envelope_recipients_missing_from_to_and_cc_travel_as_bcc() {
        let raw = b"From: a@x.test\r\nTo: B <b@x.test>,\r\n c@x.test\r\nCc: d@x.test\r\nSubject: to e@x.test\r\n\r\nbody e@x.test\r\n";
        let all: Vec<String> = ["b@x.test", "C@x.test", "d@x.test"].iter().map(|s| s.to_string()).collect();
        assert_eq!(with_bcc(raw, &all), raw.to_vec(), "everyone is shown: unchanged");
        let with_e: Vec<String> = all.iter().cloned().chain(["e@x.test".to_string()]).collect();
        let out = String::from_utf8(with_bcc(raw, &with_e)).unwrap();
        assert!(out.starts_with("Bcc: e@x.test\r\nFrom: a@x.test\r\n"), "{out}");
    }

    #[test]
    fn sent_items_are_searched_with_the_message_id_in_angle_brackets() {
        assert_eq!(bracketed("crm.1@x.test"), "<crm.1@x.test>");
        assert_eq!(bracketed("<crm.1@x.test>"), "<crm.1@x.test>");
    }

    #[test]
    fn a_503_to_sendmail_leaves_the_outcome_unknown_but_a_429_does_not() {
        let t = |scope: &str| ProtocolError::Throttled {
            proto: crmsync_protocols::Proto::Graph,
            host: "h".into(),
            port: 443,
            scope: scope.into(),
            retry_after_secs: 3,
        };
        assert_eq!(
            send_outcome(t("the tenant")).code(),
            ProtocolError::ConnectionLost {
                proto: crmsync_protocols::Proto::Graph,
                host: "h".into(),
                port: 443,
                detail: String::new()
            }
            .code()
        );
        assert_eq!(send_outcome(t("mailbox a@x.test")).code(), "THROTTLED");
    }
}
