//! Alerts: raised by the engine, folded when they repeat, acknowledged by the admin.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::error::Result;
use crate::model::Severity;
use crate::time::now_db;

/// What an alert is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A mailbox.
    Mailbox(i64),
    /// A profile.
    Profile(i64),
    /// One item of a mailbox: an email activity and/or a server reference.
    Item {
        /// The mailbox it came from.
        mailbox_id: i64,
        /// The activity, when one exists.
        activity_id: Option<i64>,
        /// Server reference, e.g. `INBOX/1712345678/42`.
        item_ref: Option<String>,
    },
    /// The whole installation.
    System,
}

/// An alert to raise.
#[derive(Debug, Clone)]
pub struct NewAlert {
    /// Severity.
    pub severity: Severity,
    /// Subject of the alert.
    pub scope: Scope,
    /// Stable code, e.g. `IMAP_AUTH_FAILED`.
    pub code: String,
    /// What happened.
    pub message: String,
}

/// An alert as listed.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// Id.
    pub id: i64,
    /// Severity.
    pub severity: Severity,
    /// mailbox, profile, item or system.
    pub scope: String,
    /// Mailbox address, if any.
    pub mailbox: Option<String>,
    /// Profile name, if any.
    pub profile: Option<String>,
    /// Activity id, if any.
    pub activity_id: Option<i64>,
    /// Server reference of the item, if any.
    pub item_ref: Option<String>,
    /// Stable code.
    pub code: String,
    /// What happened.
    pub message: String,
    /// What to do about it, in words that suit every front end.
    pub hint: String,
    /// What the admin does about it, if anything; each front end words it.
    pub action: Option<crate::hints::Action>,
    /// First seen.
    pub first_seen: String,
    /// Last seen.
    pub last_seen: String,
    /// Times seen.
    pub count: i64,
    /// Acknowledged by the admin.
    pub acknowledged: bool,
}

/// Raises an alert; an unacknowledged alert with the same code and subject is
/// folded into (count + 1, last seen, latest message). Returns the alert id.
pub fn raise(conn: &Connection, a: &NewAlert) -> Result<i64> {
    let (scope, mailbox_id, profile_id, activity_id, item_ref) = match &a.scope {
        Scope::Mailbox(m) => ("mailbox", Some(*m), None, None, None),
        Scope::Profile(p) => ("profile", None, Some(*p), None, None),
        Scope::Item { mailbox_id, activity_id, item_ref } => {
            ("item", Some(*mailbox_id), None, *activity_id, item_ref.clone())
        }
        Scope::System => ("system", None, None, None, None),
    };
    let now = now_db();
    let existing: Option<i64> = conn
        .query_row(
            "SELECT id FROM alerts WHERE acknowledged = 0 AND code = ?1 AND scope = ?2 AND mailbox_id IS ?3 \
             AND profile_id IS ?4 AND activity_id IS ?5 AND item_ref IS ?6",
            params![a.code, scope, mailbox_id, profile_id, activity_id, item_ref],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        conn.execute(
            "UPDATE alerts SET count = count + 1, last_seen = ?2, message = ?3, severity = ?4 WHERE id = ?1",
            params![id, now, a.message, a.severity.as_str()],
        )?;
        return Ok(id);
    }
    conn.execute(
        "INSERT INTO alerts (severity, scope, mailbox_id, profile_id, activity_id, item_ref, code, message, first_seen, last_seen) \
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?9)",
        params![a.severity.as_str(), scope, mailbox_id, profile_id, activity_id, item_ref, a.code, a.message, now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Filter for [`list`].
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this mailbox (and its items).
    pub mailbox_id: Option<i64>,
    /// Only this profile (and its mailboxes).
    pub profile_id: Option<i64>,
    /// Only this severity.
    pub severity: Option<Severity>,
    /// Include acknowledged alerts.
    pub include_acknowledged: bool,
}

/// Lists alerts, newest first; `hint` fills the "what to do" text per code.
pub fn list(conn: &Connection, f: &Filter, hint: impl Fn(&str) -> String) -> Result<Vec<Alert>> {
    let mut stmt = conn.prepare(
        "SELECT a.id, a.severity, a.scope, m.email, coalesce(p.name, mp.name), a.activity_id, a.item_ref, a.code, \
         a.message, a.first_seen, a.last_seen, a.count, a.acknowledged \
         FROM alerts a LEFT JOIN mailboxes m ON m.id = a.mailbox_id \
         LEFT JOIN email_server_profiles p ON p.id = a.profile_id \
         LEFT JOIN email_server_profiles mp ON mp.id = m.profile_id \
         WHERE (?1 IS NULL OR a.mailbox_id = ?1) AND (?2 IS NULL OR a.profile_id = ?2 OR m.profile_id = ?2) \
         AND (?3 IS NULL OR a.severity = ?3) AND (?4 OR a.acknowledged = 0) ORDER BY a.last_seen DESC, a.id DESC",
    )?;
    let rows = stmt.query_map(
        params![f.mailbox_id, f.profile_id, f.severity.map(|s| s.as_str()), f.include_acknowledged],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, String>(9)?,
                r.get::<_, String>(10)?,
                r.get::<_, i64>(11)?,
                r.get::<_, bool>(12)?,
            ))
        },
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (
            id,
            sev,
            scope,
            mailbox,
            profile,
            activity_id,
            item_ref,
            code,
            message,
            first_seen,
            last_seen,
            count,
            ack,
        ) = row?;
        out.push(Alert {
            id,
            severity: Severity::parse("severity", &sev)?,
            scope,
            mailbox,
            profile,
            activity_id,
            item_ref,
            hint: hint(&code),
            action: crate::hints::action(&code),
            code,
            message,
            first_seen,
            last_seen,
            count,
            acknowledged: ack,
        });
    }
    Ok(out)
}

/// Acknowledges one alert; false when there is no such alert.
pub fn ack(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.execute("UPDATE alerts SET acknowledged = 1 WHERE id = ?1", [id])? > 0)
}

/// The open (unacknowledged) alert with `code` on mailbox `mailbox_id`, if
/// any: its id and message.
pub fn open_on_mailbox(conn: &Connection, mailbox_id: i64, code: &str) -> Result<Option<(i64, String)>> {
    Ok(conn
        .query_row(
            "SELECT id, message FROM alerts WHERE acknowledged = 0 AND code = ?2 AND scope = 'mailbox' \
             AND mailbox_id = ?1 ORDER BY id LIMIT 1",
            params![mailbox_id, code],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Resolves the open alerts with `code` on mailbox `mailbox_id` (their cause
/// is over): they are acknowledged. Returns how many changed.
pub fn resolve_on_mailbox(conn: &Connection, mailbox_id: i64, code: &str) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE alerts SET acknowledged = 1 WHERE acknowledged = 0 AND code = ?2 AND scope = 'mailbox' \
         AND mailbox_id = ?1",
        params![mailbox_id, code],
    )?)
}

/// Acknowledges every alert; returns how many changed.
pub fn ack_all(conn: &Connection) -> Result<usize> {
    Ok(conn.execute("UPDATE alerts SET acknowledged = 1 WHERE acknowledged = 0", [])?)
}

/// An alert raised or folded at or after a time, for the engine's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raised {
    /// Id.
    pub id: i64,
    /// Severity.
    pub severity: Severity,
    /// Mailbox address, if any.
    pub mailbox: Option<String>,
    /// Profile name (of the alert, or of its mailbox), if any.
    pub profile: Option<String>,
    /// Stable code.
    pub code: String,
    /// What happened.
    pub message: String,
    /// Last seen (store time text).
    pub last_seen: String,
    /// Times seen.
    pub count: i64,
}

/// Alerts whose `last_seen` is at or after `since` (store time text), oldest first.
pub fn seen_since(conn: &Connection, since: &str) -> Result<Vec<Raised>> {
    let mut stmt = conn.prepare(
        "SELECT a.id, a.severity, m.email, coalesce(p.name, mp.name), a.code, a.message, a.last_seen, a.count \
         FROM alerts a LEFT JOIN mailboxes m ON m.id = a.mailbox_id \
         LEFT JOIN email_server_profiles p ON p.id = a.profile_id \
         LEFT JOIN email_server_profiles mp ON mp.id = m.profile_id \
         WHERE a.last_seen >= ?1 ORDER BY a.last_seen, a.id",
    )?;
    let rows = stmt.query_map([since], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, i64>(7)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, sev, mailbox, profile, code, message, last_seen, count) = row?;
        out.push(Raised {
            id,
            severity: Severity::parse("severity", &sev)?,
            mailbox,
            profile,
            code,
            message,
            last_seen,
            count,
        });
    }
    Ok(out)
}
