//! Reading activities back: the views `activity list` and `activity show` print.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::error::{CoreError, Result};
use crate::model::{RecordRef, RecordType};
use crate::store::records::record_name;

/// A party as shown: the address and what it resolved to.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct PartyView {
    /// Address.
    pub address: Option<String>,
    /// Display name from the message.
    pub name: Option<String>,
    /// The CRM record, or null when unresolved.
    pub resolved: Option<RecordRef>,
}

/// An attachment as shown.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentView {
    /// File name.
    pub name: String,
    /// MIME type.
    pub mime_type: String,
    /// Size in bytes.
    pub size: i64,
    /// Whether the content was saved (false: over the size limit).
    pub saved: bool,
}

/// An activity as shown by `activity show` (emails carry the email fields).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct ActivityView {
    /// Id.
    pub id: i64,
    /// email, appointment, task.
    #[serde(rename = "type")]
    pub activity_type: String,
    /// incoming / outgoing (emails).
    pub direction: Option<String>,
    /// Email status: received, draft, pending_send, sending, sent, failed, canceled.
    pub status: Option<String>,
    /// Subject.
    pub subject: String,
    /// Message-ID.
    pub message_id: Option<String>,
    /// In-Reply-To.
    pub in_reply_to: Option<String>,
    /// Tracking token.
    pub tracking_token: Option<String>,
    /// none, in_reply_to, tracking_token, smart_match, folder.
    pub correlation_method: Option<String>,
    /// Regarding record.
    pub regarding: Option<RecordRef>,
    /// Sender.
    pub from: Option<PartyView>,
    /// To recipients.
    pub to: Vec<PartyView>,
    /// Cc recipients.
    pub cc: Vec<PartyView>,
    /// Bcc recipients.
    pub bcc: Vec<PartyView>,
    /// Received time.
    pub received_on: Option<String>,
    /// Mailboxes that received it.
    pub receiving_mailboxes: Vec<String>,
    /// Attachments.
    pub attachments: Vec<AttachmentView>,
    /// Flags, e.g. attachments_skipped.
    pub flags: Vec<String>,
    /// Send attempts (outgoing).
    pub delivery_attempts: Option<i64>,
    /// Last send error (outgoing).
    pub last_error: Option<String>,
    /// When it was sent (outgoing).
    pub sent_on: Option<String>,
    /// The mailbox it is sent from (outgoing).
    pub sender_mailbox: Option<String>,
    /// Plain-text body.
    pub body_text: Option<String>,
    /// HTML body (show it only in a sandbox).
    pub body_html: Option<String>,
    /// Created.
    pub created_on: String,
}

/// Filter for [`list_ids`].
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// email, appointment or task.
    pub activity_type: Option<String>,
    /// Only emails received by (or sent from) this mailbox.
    pub mailbox_id: Option<i64>,
    /// Only activities regarding this record.
    pub regarding: Option<(RecordType, i64)>,
    /// At most this many, newest first.
    pub limit: Option<i64>,
}

fn regarding(conn: &Connection, t: Option<String>, id: Option<i64>) -> Result<Option<RecordRef>> {
    match (t, id) {
        (Some(t), Some(id)) => {
            let record_type = RecordType::parse("regarding_type", &t)?;
            let name = record_name(conn, record_type, id)?.unwrap_or_default();
            Ok(Some(RecordRef { record_type, id, name }))
        }
        _ => Ok(None),
    }
}

fn parties(conn: &Connection, activity_id: i64, role: &str) -> Result<Vec<PartyView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT address, name, record_type, record_id FROM activity_parties WHERE activity_id=?1 AND role=?2 ORDER BY position",
    )?;
    let rows = stmt.query_map(params![activity_id, role], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<i64>>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (address, name, t, id) = row?;
        out.push(PartyView { address, name, resolved: regarding(conn, t, id)? });
    }
    Ok(out)
}

/// Sets the body of activity `id` (kept apart from the activity row, so that
/// state changes do not rewrite it); no row when it has neither text nor HTML.
pub fn set_body(conn: &Connection, id: i64, text: Option<&str>, html: Option<&str>) -> Result<()> {
    if text.is_none() && html.is_none() {
        conn.execute("DELETE FROM activity_bodies WHERE activity_id = ?1", [id])?;
    } else {
        conn.execute(
            "INSERT INTO activity_bodies (activity_id, body_text, body_html) VALUES (?1, ?2, ?3) \
             ON CONFLICT (activity_id) DO UPDATE SET body_text = excluded.body_text, body_html = excluded.body_html",
            params![id, text, html],
        )?;
    }
    Ok(())
}

/// One activity by id.
pub fn show(conn: &Connection, id: i64) -> Result<ActivityView> {
    let base = conn
        .query_row(
            "SELECT a.type, a.subject, a.regarding_type, a.regarding_id, b.body_text, b.body_html, a.created_on, \
             e.direction, e.status, e.message_id, e.in_reply_to, e.tracking_token, e.correlation_method, e.received_on, \
             e.flags, e.delivery_attempts, e.last_error, e.sent_on, sm.email \
             FROM activities a LEFT JOIN emails e ON e.activity_id = a.id \
             LEFT JOIN activity_bodies b ON b.activity_id = a.id \
             LEFT JOIN mailboxes sm ON sm.id = e.sender_mailbox_id WHERE a.id = ?1",
            [id],
            |r| {
                Ok((
                    (r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, Option<i64>>(3)?),
                    (r.get::<_, Option<String>>(4)?, r.get::<_, Option<String>>(5)?, r.get::<_, String>(6)?),
                    (
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, Option<String>>(8)?,
                        r.get::<_, Option<String>>(9)?,
                        r.get::<_, Option<String>>(10)?,
                        r.get::<_, Option<String>>(11)?,
                        r.get::<_, Option<String>>(12)?,
                        r.get::<_, Option<String>>(13)?,
                    ),
                    (
                        r.get::<_, Option<String>>(14)?,
                        r.get::<_, Option<i64>>(15)?,
                        r.get::<_, Option<String>>(16)?,
                        r.get::<_, Option<String>>(17)?,
                        r.get::<_, Option<String>>(18)?,
                    ),
                ))
            },
        )
        .optional()?
        .ok_or_else(|| CoreError::invalid("id", format!("no activity {id}")))?;
    let (
        (activity_type, subject, rt, rid),
        (body_text, body_html, created_on),
        e,
        (flags, attempts, last_error, sent_on, sender),
    ) = base;
    let (direction, status, message_id, in_reply_to, tracking_token, correlation_method, received_on) = e;
    let is_email = activity_type == "email";
    let mut receiving = conn.prepare_cached(
        "SELECT m.email FROM email_receipts r JOIN mailboxes m ON m.id = r.mailbox_id WHERE r.activity_id = ?1 ORDER BY m.email",
    )?;
    let receiving_mailboxes = receiving.query_map([id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    let mut att = conn.prepare_cached(
        "SELECT file_name, mime_type, size, saved FROM attachments WHERE activity_id = ?1 ORDER BY id",
    )?;
    let attachments = att
        .query_map([id], |r| {
            Ok(AttachmentView { name: r.get(0)?, mime_type: r.get(1)?, size: r.get(2)?, saved: r.get(3)? })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let outgoing = direction.as_deref() == Some("outgoing");
    Ok(ActivityView {
        id,
        from: if is_email { parties(conn, id, "from")?.into_iter().next() } else { None },
        to: parties(conn, id, "to")?,
        cc: parties(conn, id, "cc")?,
        bcc: parties(conn, id, "bcc")?,
        activity_type,
        direction,
        status,
        subject,
        message_id,
        in_reply_to,
        tracking_token,
        correlation_method,
        regarding: regarding(conn, rt, rid)?,
        received_on,
        receiving_mailboxes,
        attachments,
        flags: flags.and_then(|f| serde_json::from_str(&f).ok()).unwrap_or_default(),
        delivery_attempts: if outgoing { attempts } else { None },
        last_error: if outgoing { last_error } else { None },
        sent_on: if outgoing { sent_on } else { None },
        sender_mailbox: if outgoing { sender } else { None },
        body_text,
        body_html,
        created_on,
    })
}

/// Ids of the activities matching `f`, newest first.
pub fn list_ids(conn: &Connection, f: &Filter) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare(
        "SELECT a.id FROM activities a LEFT JOIN emails e ON e.activity_id = a.id \
         WHERE (?1 IS NULL OR a.type = ?1) \
         AND (?2 IS NULL OR e.sender_mailbox_id = ?2 OR EXISTS (SELECT 1 FROM email_receipts r WHERE r.activity_id = a.id AND r.mailbox_id = ?2)) \
         AND (?3 IS NULL OR (a.regarding_type = ?3 AND a.regarding_id = ?4)) \
         ORDER BY a.id DESC LIMIT ?5",
    )?;
    let rows = stmt.query_map(
        params![
            f.activity_type,
            f.mailbox_id,
            f.regarding.map(|r| r.0.as_str()),
            f.regarding.map(|r| r.1),
            f.limit.unwrap_or(-1)
        ],
        |r| r.get(0),
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Activity ids held by a queue, newest first.
pub fn queue_item_ids(conn: &Connection, queue_id: i64) -> Result<Vec<i64>> {
    let mut stmt =
        conn.prepare("SELECT activity_id FROM queue_items WHERE queue_id = ?1 ORDER BY activity_id DESC")?;
    let rows = stmt.query_map([queue_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
