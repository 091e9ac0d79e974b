//! Email activities: insert, dedupe, receipts, queue items, and the lookups
//! correlation and address resolution need.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};

use crate::correlation::{Conversation, ConversationIndex};
use crate::error::Result;
use crate::model::{RecordRef, RecordType};
use crate::resolution::{Directory, Party};
use crate::store::records::record_name;
use crate::time::now_db;

/// An attachment to store.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    /// File name.
    pub file_name: String,
    /// MIME type.
    pub mime_type: String,
    /// Size in bytes (of the original, even when not saved).
    pub size: i64,
    /// Content, or None when it was over the size limit.
    pub content: Option<Vec<u8>>,
}

/// A new email activity with its parties and attachments.
#[derive(Debug, Clone)]
pub struct NewEmail {
    /// incoming or outgoing.
    pub direction: &'static str,
    /// received, draft, pending_send, ...
    pub status: &'static str,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body_text: Option<String>,
    /// HTML body.
    pub body_html: Option<String>,
    /// Message-ID without brackets.
    pub message_id: Option<String>,
    /// Unique dedupe key (Message-ID or header digest).
    pub dedupe_key: String,
    /// In-Reply-To (first id).
    pub in_reply_to: Option<String>,
    /// References, space separated.
    pub references: Option<String>,
    /// Tracking token found in (or given to) the subject.
    pub tracking_token: Option<String>,
    /// Correlation method (store spelling).
    pub correlation_method: &'static str,
    /// Normalised subject digest for smart matching.
    pub subject_hash: Option<String>,
    /// Regarding record.
    pub regarding: Option<RecordRef>,
    /// Owning user.
    pub owner_user_id: Option<i64>,
    /// Owning queue.
    pub owner_queue_id: Option<i64>,
    /// Sending mailbox (outgoing).
    pub sender_mailbox_id: Option<i64>,
    /// Received time (incoming).
    pub received_on: Option<String>,
    /// Send-later time (outgoing).
    pub send_at: Option<String>,
    /// Flags such as `attachments_skipped`.
    pub flags: Vec<String>,
    /// Parties in order.
    pub parties: Vec<Party>,
    /// Attachments.
    pub attachments: Vec<NewAttachment>,
}

/// Inserts an email activity; returns its id.
pub fn insert(conn: &Connection, e: &NewEmail) -> Result<i64> {
    let now = now_db();
    conn.execute(
        "INSERT INTO activities (type, subject, regarding_type, regarding_id, owner_user_id, \
         owner_queue_id, state, created_on, modified_on) VALUES ('email', ?1, ?2, ?3, ?4, ?5, 'completed', ?6, ?6)",
        params![
            e.subject,
            e.regarding.as_ref().map(|r| r.record_type.as_str()),
            e.regarding.as_ref().map(|r| r.id),
            e.owner_user_id,
            e.owner_queue_id,
            now
        ],
    )?;
    let id = conn.last_insert_rowid();
    crate::store::activities::set_body(conn, id, e.body_text.as_deref(), e.body_html.as_deref())?;
    conn.execute(
        "INSERT INTO emails (activity_id, direction, status, message_id, dedupe_key, in_reply_to, references_ids, \
         tracking_token, correlation_method, subject_hash, sender_mailbox_id, received_on, send_at, flags) \
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
        params![
            id,
            e.direction,
            e.status,
            e.message_id,
            e.dedupe_key,
            e.in_reply_to,
            e.references,
            e.tracking_token,
            e.correlation_method,
            e.subject_hash,
            e.sender_mailbox_id,
            e.received_on,
            e.send_at,
            serde_json::to_string(&e.flags).unwrap_or_else(|_| "[]".into()),
        ],
    )?;
    let mut party = conn.prepare_cached(
        "INSERT INTO activity_parties (activity_id, role, address, name, record_type, record_id, position) \
         VALUES (?1,?2,?3,?4,?5,?6,?7)",
    )?;
    for (i, p) in e.parties.iter().enumerate() {
        party.execute(params![
            id,
            p.role.as_str(),
            p.address,
            p.name,
            p.record.as_ref().map(|r| r.record_type.as_str()),
            p.record.as_ref().map(|r| r.id),
            i as i64
        ])?;
    }
    let mut att = conn.prepare_cached(
        "INSERT INTO attachments (activity_id, file_name, mime_type, size, content, saved) VALUES (?1,?2,?3,?4,?5,?6)",
    )?;
    for a in &e.attachments {
        att.execute(params![id, a.file_name, a.mime_type, a.size, a.content, a.content.is_some()])?;
    }
    Ok(id)
}

/// The activity already holding this dedupe key, if any.
pub fn find_by_dedupe_key(conn: &Connection, key: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row("SELECT activity_id FROM emails WHERE dedupe_key = ?1", [key], |r| r.get(0))
        .optional()?)
}

/// The activity stored under an earlier version's form of a key (`legacy`), if
/// any; it takes the current form `key` from now on, so the next copy of the
/// message finds it directly and the old key matches no other message.
pub fn adopt_legacy_key(conn: &Connection, legacy: &str, key: &str) -> Result<Option<i64>> {
    let Some(id) = find_by_dedupe_key(conn, legacy)? else { return Ok(None) };
    conn.execute("UPDATE emails SET dedupe_key = ?1 WHERE activity_id = ?2", params![key, id])?;
    Ok(Some(id))
}

/// Stores the digest of sender, Date and body a received email's Message-ID
/// vouches for (see `content_hash`).
pub fn set_content_hash(conn: &Connection, activity_id: i64, hash: &str) -> Result<()> {
    conn.execute("UPDATE emails SET content_hash = ?1 WHERE activity_id = ?2", params![hash, activity_id])?;
    Ok(())
}

/// The digest stored by [`set_content_hash`]; `None` for email stored before
/// there was one and for email the CRM sent (nothing to compare: trusted).
pub fn content_hash(conn: &Connection, activity_id: i64) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT content_hash FROM emails WHERE activity_id = ?1", [activity_id], |r| r.get(0))
        .optional()?
        .flatten())
}

/// Records that `mailbox_id` received the email (idempotent).
pub fn add_receipt(
    conn: &Connection,
    activity_id: i64,
    mailbox_id: i64,
    folder: &str,
    received_on: &str,
) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO email_receipts (activity_id, mailbox_id, folder, received_on) VALUES (?1,?2,?3,?4)",
        params![activity_id, mailbox_id, folder, received_on],
    )?;
    Ok(())
}

/// Adds a queue item (idempotent).
pub fn add_queue_item(conn: &Connection, queue_id: i64, activity_id: i64) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO queue_items (queue_id, activity_id, created_on) VALUES (?1,?2,?3)",
        params![queue_id, activity_id, now_db()],
    )?;
    Ok(())
}

/// Next tracking-token counter value (durable, never reused).
pub fn next_token_number(conn: &Connection) -> Result<u64> {
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('token_counter', '1') \
         ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        [],
    )?;
    let v: String = conn.query_row("SELECT value FROM meta WHERE key = 'token_counter'", [], |r| r.get(0))?;
    Ok(v.parse().unwrap_or(1))
}

/// Store-backed lookups for correlation and resolution, over one connection.
pub struct Lookups<'c> {
    conn: &'c Connection,
}

impl<'c> Lookups<'c> {
    /// Wraps a connection (or transaction).
    pub fn new(conn: &'c Connection) -> Self {
        Lookups { conn }
    }

    fn conversation(&self, activity_id: i64) -> Option<Conversation> {
        let row: Option<(Option<String>, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT regarding_type, regarding_id FROM activities WHERE id = ?1",
                [activity_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .ok()
            .flatten();
        let (t, id) = row?;
        let regarding = match (t, id) {
            (Some(t), Some(id)) => {
                RecordType::parse("regarding_type", &t).ok().map(|record_type| RecordRef {
                    record_type,
                    id,
                    name: record_name(self.conn, record_type, id).ok().flatten().unwrap_or_default(),
                })
            }
            _ => None,
        };
        Some(Conversation { activity_id, regarding })
    }

    fn one(&self, sql: &str, p: &str) -> Option<i64> {
        self.conn.query_row(sql, [p], |r| r.get(0)).optional().ok().flatten()
    }
}

impl ConversationIndex for Lookups<'_> {
    fn by_message_id(&self, message_id: &str) -> Option<Conversation> {
        let id = self.one(
            "SELECT activity_id FROM emails WHERE message_id = ?1 ORDER BY activity_id LIMIT 1",
            message_id,
        )?;
        self.conversation(id)
    }

    fn by_token(&self, token: &str) -> Option<Conversation> {
        let id = self.one(
            "SELECT activity_id FROM emails WHERE tracking_token = ?1 COLLATE NOCASE ORDER BY activity_id LIMIT 1",
            token,
        )?;
        self.conversation(id)
    }

    fn by_subject(&self, subject_hash: &str, addresses: &BTreeSet<String>) -> Option<Conversation> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT activity_id FROM emails WHERE subject_hash = ?1 ORDER BY activity_id DESC LIMIT 50",
            )
            .ok()?;
        let ids: Vec<i64> =
            stmt.query_map([subject_hash], |r| r.get(0)).ok()?.filter_map(|r| r.ok()).collect();
        let mut parties = self
            .conn
            .prepare_cached("SELECT DISTINCT lower(address) FROM activity_parties WHERE activity_id = ?1")
            .ok()?;
        for id in ids {
            let theirs: BTreeSet<String> =
                parties.query_map([id], |r| r.get::<_, String>(0)).ok()?.filter_map(|r| r.ok()).collect();
            if theirs.intersection(addresses).count() >= 2 {
                return self.conversation(id);
            }
        }
        None
    }
}

impl Directory for Lookups<'_> {
    fn records_with_address(&self, address: &str) -> Vec<RecordRef> {
        const SQL: &str = "\
            SELECT 'user', id, name FROM users WHERE active = 1 AND email = ?1 \
            UNION ALL SELECT 'queue', id, name FROM queues WHERE active = 1 AND email = ?1 \
            UNION ALL SELECT 'contact', id, trim(coalesce(first_name,'') || ' ' || coalesce(last_name,'')) FROM contacts \
                WHERE active = 1 AND (email = ?1 OR email2 = ?1 OR email3 = ?1) \
            UNION ALL SELECT 'account', id, name FROM accounts WHERE active = 1 AND email = ?1 \
            UNION ALL SELECT 'lead', id, trim(coalesce(first_name,'') || ' ' || coalesce(last_name,'')) FROM leads \
                WHERE active = 1 AND email = ?1";
        let Ok(mut stmt) = self.conn.prepare_cached(SQL) else { return Vec::new() };
        let rows = stmt.query_map([address], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
        });
        let Ok(rows) = rows else { return Vec::new() };
        rows.filter_map(|r| r.ok())
            .filter_map(|(t, id, name)| {
                let record_type = RecordType::parse("record_type", &t).ok()?;
                Some(RecordRef {
                    record_type,
                    id,
                    name: if name.is_empty() { address.to_string() } else { name },
                })
            })
            .collect()
    }
}
