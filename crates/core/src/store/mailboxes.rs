//! Mailboxes: settings, channel state, telemetry and folder-level tracking.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::profiles::PasswordChange;
use super::records::record_name;
use super::unique_to_exists;
use crate::error::{CoreError, Result};
use crate::model::{
    Approval, ChannelMethod, ChannelState, ChannelStatus, IncomingMethod, LastError, Mailbox, MailboxData,
    Owner, RecordRef, RecordType, Telemetry, TrackFilter, TrackFolder,
};
use crate::time::{from_db, now_db, to_db};

const COLUMNS: &str = "m.id, m.email, m.user_id, m.queue_id, coalesce(u.name, q.name), m.profile_id, p.name, \
    m.username, m.password_enc IS NOT NULL, m.credentials_required, m.incoming_method, m.outgoing_method, \
    m.act_method, m.track, m.process_from, m.delete_after_processing, m.is_forward_mailbox, m.approval, \
    m.incoming_status, m.outgoing_status, m.act_status, m.incoming_enabled, m.outgoing_enabled, m.act_enabled, \
    m.last_test_on, m.first_enabled_on, m.processing_state, m.last_sync_started_on, m.last_sync_succeeded_on, \
    m.next_poll_on, m.items_processed_last, m.items_failed_last, m.transient_failures, m.last_error_code, \
    m.last_error_message, m.last_error_on, m.avg_duration_ms, m.created_on, m.modified_on, m.disabled_reason";

const FROM: &str = "FROM mailboxes m JOIN email_server_profiles p ON p.id = m.profile_id \
    LEFT JOIN users u ON u.id = m.user_id LEFT JOIN queues q ON q.id = m.queue_id";

fn opt_time(field: &str, v: Option<String>) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    v.map(|s| from_db(field, &s)).transpose()
}

fn from_row(r: &Row<'_>) -> Result<Mailbox> {
    let user_id: Option<i64> = r.get(2)?;
    let queue_id: Option<i64> = r.get(3)?;
    let owner_name: String = r.get(4)?;
    let owner = match (user_id, queue_id) {
        (Some(id), _) => Owner::User { id, name: owner_name },
        (None, Some(id)) => Owner::Queue { id, name: owner_name },
        (None, None) => return Err(CoreError::invalid("owner", "mailbox has no owner")),
    };
    let last_error = match (
        r.get::<_, Option<String>>(33)?,
        r.get::<_, Option<String>>(34)?,
        r.get::<_, Option<String>>(35)?,
    ) {
        (Some(code), Some(message), Some(at)) => {
            Some(LastError { code, message, at: from_db("last_error_on", &at)? })
        }
        _ => None,
    };
    Ok(Mailbox {
        id: r.get(0)?,
        data: MailboxData {
            email: r.get(1)?,
            owner,
            profile_id: r.get(5)?,
            username: r.get(7)?,
            incoming_method: IncomingMethod::parse("incoming", &r.get::<_, String>(10)?)?,
            outgoing_method: ChannelMethod::parse("outgoing", &r.get::<_, String>(11)?)?,
            act_method: ChannelMethod::parse("act", &r.get::<_, String>(12)?)?,
            track: TrackFilter::parse("track", &r.get::<_, String>(13)?)?,
            process_from: opt_time("process_from", r.get(14)?)?,
            delete_after_processing: r.get(15)?,
            is_forward_mailbox: r.get(16)?,
            track_folders: Vec::new(),
        },
        profile: r.get(6)?,
        has_password: r.get(8)?,
        credentials_required: r.get(9)?,
        approval: Approval::parse("approval", &r.get::<_, String>(17)?)?,
        incoming: ChannelState {
            enabled: r.get(21)?,
            status: ChannelStatus::parse("incoming_status", &r.get::<_, String>(18)?)?,
        },
        outgoing: ChannelState {
            enabled: r.get(22)?,
            status: ChannelStatus::parse("outgoing_status", &r.get::<_, String>(19)?)?,
        },
        act: ChannelState {
            enabled: r.get(23)?,
            status: ChannelStatus::parse("act_status", &r.get::<_, String>(20)?)?,
        },
        last_test_on: opt_time("last_test_on", r.get(24)?)?,
        first_enabled_on: opt_time("first_enabled_on", r.get(25)?)?,
        telemetry: Telemetry {
            processing_state: r.get(26)?,
            last_sync_started: opt_time("last_sync_started_on", r.get(27)?)?,
            last_sync_succeeded: opt_time("last_sync_succeeded_on", r.get(28)?)?,
            next_poll: opt_time("next_poll_on", r.get(29)?)?,
            items_processed: r.get(30)?,
            items_failed: r.get(31)?,
            transient_failures: r.get(32)?,
            last_error,
            average_duration_ms: r.get(36)?,
            disabled_reason: r.get(39)?,
        },
        created_on: from_db("created_on", &r.get::<_, String>(37)?)?,
        modified_on: from_db("modified_on", &r.get::<_, String>(38)?)?,
    })
}

fn owner_ids(owner: &Owner) -> (Option<i64>, Option<i64>) {
    match owner {
        Owner::User { id, .. } => (Some(*id), None),
        Owner::Queue { id, .. } => (None, Some(*id)),
    }
}

fn write_track_folders(conn: &Connection, mailbox_id: i64, folders: &[TrackFolder]) -> Result<()> {
    conn.execute("DELETE FROM mailbox_track_folders WHERE mailbox_id = ?1", [mailbox_id])?;
    for f in folders {
        conn.execute(
            "INSERT INTO mailbox_track_folders (mailbox_id, folder, regarding_type, regarding_id) VALUES (?1,?2,?3,?4)",
            params![mailbox_id, f.folder, f.regarding.record_type.as_str(), f.regarding.id],
        )
        .map_err(unique_to_exists("track folder", &f.folder))?;
    }
    Ok(())
}

fn load_track_folders(conn: &Connection, mb: &mut Mailbox) -> Result<()> {
    let mut stmt = conn.prepare(
        "SELECT folder, regarding_type, regarding_id FROM mailbox_track_folders WHERE mailbox_id = ?1 ORDER BY folder",
    )?;
    let rows = stmt
        .query_map([mb.id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
    for row in rows {
        let (folder, t, id) = row?;
        let record_type = RecordType::parse("regarding_type", &t)?;
        let name = record_name(conn, record_type, id)?.unwrap_or_else(|| format!("(deleted {t} {id})"));
        mb.data.track_folders.push(TrackFolder { folder, regarding: RecordRef { record_type, id, name } });
    }
    Ok(())
}

/// Inserts a mailbox; `password_enc` is already encrypted.
pub fn insert(conn: &Connection, d: &MailboxData, password_enc: Option<&[u8]>) -> Result<i64> {
    let (user_id, queue_id) = owner_ids(&d.owner);
    let now = now_db();
    conn.execute(
        "INSERT INTO mailboxes (email, user_id, queue_id, profile_id, username, password_enc, incoming_method, \
         outgoing_method, act_method, track, process_from, delete_after_processing, is_forward_mailbox, \
         created_on, modified_on) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?14)",
        params![
            d.email,
            user_id,
            queue_id,
            d.profile_id,
            d.username,
            password_enc,
            d.incoming_method.as_str(),
            d.outgoing_method.as_str(),
            d.act_method.as_str(),
            d.track.as_str(),
            d.process_from.map(to_db),
            d.delete_after_processing,
            d.is_forward_mailbox,
            now,
        ],
    )
    .map_err(unique_to_exists("mailbox", &d.email))?;
    let id = conn.last_insert_rowid();
    write_track_folders(conn, id, &d.track_folders)?;
    Ok(id)
}

/// Replaces a mailbox's settings. A changed password clears `credentials_required`.
pub fn update(conn: &Connection, id: i64, d: &MailboxData, password: &PasswordChange) -> Result<()> {
    let (user_id, queue_id) = owner_ids(&d.owner);
    conn.execute(
        "UPDATE mailboxes SET email=?2, user_id=?3, queue_id=?4, profile_id=?5, username=?6, incoming_method=?7, \
         outgoing_method=?8, act_method=?9, track=?10, process_from=?11, delete_after_processing=?12, \
         is_forward_mailbox=?13, modified_on=?14 WHERE id=?1",
        params![
            id,
            d.email,
            user_id,
            queue_id,
            d.profile_id,
            d.username,
            d.incoming_method.as_str(),
            d.outgoing_method.as_str(),
            d.act_method.as_str(),
            d.track.as_str(),
            d.process_from.map(to_db),
            d.delete_after_processing,
            d.is_forward_mailbox,
            now_db(),
        ],
    )
    .map_err(unique_to_exists("mailbox", &d.email))?;
    match password {
        PasswordChange::Keep => {}
        PasswordChange::Set(enc) => {
            conn.execute(
                "UPDATE mailboxes SET password_enc=?2, credentials_required=0 WHERE id=?1",
                params![id, enc],
            )?;
        }
        PasswordChange::Clear => {
            conn.execute("UPDATE mailboxes SET password_enc=NULL WHERE id=?1", [id])?;
        }
    }
    write_track_folders(conn, id, &d.track_folders)
}

/// Marks that the mailbox cannot work until credentials are entered (or clears the mark).
pub fn set_credentials_required(conn: &Connection, id: i64, required: bool) -> Result<()> {
    conn.execute("UPDATE mailboxes SET credentials_required=?2 WHERE id=?1", params![id, required])?;
    Ok(())
}

/// Finds a mailbox by email (case-insensitive).
pub fn find(conn: &Connection, email: &str) -> Result<Option<Mailbox>> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE m.email = ?1");
    let mb = conn.query_row(&sql, [email], |r| Ok(from_row(r))).optional()?.transpose()?;
    match mb {
        Some(mut mb) => {
            load_track_folders(conn, &mut mb)?;
            Ok(Some(mb))
        }
        None => Ok(None),
    }
}

/// Gets a mailbox by email or fails with NotFound.
pub fn get(conn: &Connection, email: &str) -> Result<Mailbox> {
    find(conn, email)?.ok_or_else(|| CoreError::not_found("mailbox", email))
}

/// Gets a mailbox by id.
pub fn get_by_id(conn: &Connection, id: i64) -> Result<Mailbox> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE m.id = ?1");
    let mut mb = conn
        .query_row(&sql, [id], |r| Ok(from_row(r)))
        .optional()?
        .transpose()?
        .ok_or_else(|| CoreError::not_found("mailbox", id.to_string()))?;
    load_track_folders(conn, &mut mb)?;
    Ok(mb)
}

/// All mailboxes by email.
pub fn list(conn: &Connection) -> Result<Vec<Mailbox>> {
    let sql = format!("SELECT {COLUMNS} {FROM} ORDER BY m.email");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| Ok(from_row(r)))?;
    let mut out: Vec<Mailbox> = rows.map(|r| r?).collect::<Result<_>>()?;
    for mb in &mut out {
        load_track_folders(conn, mb)?;
    }
    Ok(out)
}

/// Emails of the mailboxes that use a profile.
pub fn emails_using_profile(conn: &Connection, profile_id: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT email FROM mailboxes WHERE profile_id = ?1 ORDER BY email")?;
    let rows = stmt.query_map([profile_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The encrypted mailbox password, if any.
pub fn password_enc(conn: &Connection, id: i64) -> Result<Option<Vec<u8>>> {
    Ok(conn.query_row("SELECT password_enc FROM mailboxes WHERE id = ?1", [id], |r| r.get(0))?)
}

/// Deletes a mailbox and its sync state.
pub fn delete(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("DELETE FROM mailboxes WHERE id = ?1", [id])?;
    Ok(())
}

/// Removes every mailbox's stored password (after the credential key was
/// lost they cannot be decrypted); returns how many were removed.
pub fn forget_all_passwords(conn: &Connection) -> Result<usize> {
    Ok(conn.execute("UPDATE mailboxes SET password_enc = NULL WHERE password_enc IS NOT NULL", [])?)
}
