//! Mailbox state the engine writes: Test & Enable results, enablement,
//! approval, and status telemetry.

use rusqlite::{Connection, params};

use crate::error::Result;
use crate::model::{Approval, ChannelStatus};
use crate::time::now_db;

/// A mailbox channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Incoming mail.
    Incoming,
    /// Outgoing mail.
    Outgoing,
    /// Appointments, contacts and tasks.
    Act,
}

impl Channel {
    fn prefix(self) -> &'static str {
        match self {
            Channel::Incoming => "incoming",
            Channel::Outgoing => "outgoing",
            Channel::Act => "act",
        }
    }

    /// All three.
    pub const ALL: [Channel; 3] = [Channel::Incoming, Channel::Outgoing, Channel::Act];
}

/// Records a Test & Enable result for one channel; a pass enables it (and sets
/// `first_enabled_on` the first time), a failure disables it.
pub fn record_test(conn: &Connection, mailbox_id: i64, ch: Channel, status: ChannelStatus) -> Result<()> {
    let p = ch.prefix();
    let enable = status == ChannelStatus::Success;
    conn.execute(
        &format!(
            "UPDATE mailboxes SET {p}_status = ?2, {p}_enabled = ?3, last_test_on = ?4, \
             first_enabled_on = CASE WHEN ?3 AND first_enabled_on IS NULL THEN ?4 ELSE first_enabled_on END, \
             disabled_reason = CASE WHEN ?3 THEN NULL ELSE disabled_reason END WHERE id = ?1"
        ),
        params![mailbox_id, status.as_str(), enable, now_db()],
    )?;
    Ok(())
}

/// Enables or disables one channel by hand (or by the engine, with a reason code).
pub fn set_enabled(
    conn: &Connection,
    mailbox_id: i64,
    ch: Channel,
    enabled: bool,
    reason: Option<&str>,
) -> Result<()> {
    let p = ch.prefix();
    conn.execute(
        &format!(
            "UPDATE mailboxes SET {p}_enabled = ?2, disabled_reason = ?3, \
             first_enabled_on = CASE WHEN ?2 AND first_enabled_on IS NULL THEN ?4 ELSE first_enabled_on END, \
             transient_failures = CASE WHEN ?2 THEN 0 ELSE transient_failures END, \
             processing_state = CASE WHEN ?2 THEN 'idle' ELSE processing_state END WHERE id = ?1"
        ),
        params![mailbox_id, enabled, reason, now_db()],
    )?;
    Ok(())
}

/// Sets the email address approval.
pub fn set_approval(conn: &Connection, mailbox_id: i64, a: Approval) -> Result<()> {
    conn.execute("UPDATE mailboxes SET approval = ?2 WHERE id = ?1", params![mailbox_id, a.as_str()])?;
    Ok(())
}

/// Marks a sync as started.
pub fn sync_started(conn: &Connection, mailbox_id: i64) -> Result<()> {
    conn.execute(
        "UPDATE mailboxes SET processing_state = 'syncing', last_sync_started_on = ?2 WHERE id = ?1",
        params![mailbox_id, now_db()],
    )?;
    Ok(())
}

/// Records a successful sync: counts, duration (running average), error cleared.
pub fn sync_succeeded(
    conn: &Connection,
    mailbox_id: i64,
    processed: i64,
    failed: i64,
    duration_ms: i64,
) -> Result<()> {
    conn.execute(
        "UPDATE mailboxes SET processing_state = 'idle', last_sync_succeeded_on = ?2, items_processed_last = ?3, \
         items_failed_last = ?4, transient_failures = 0, last_error_code = NULL, last_error_message = NULL, \
         last_error_on = NULL, avg_duration_ms = CASE WHEN avg_duration_ms IS NULL THEN ?5 \
         ELSE (avg_duration_ms * 4 + ?5) / 5 END WHERE id = ?1",
        params![mailbox_id, now_db(), processed, failed, duration_ms],
    )?;
    Ok(())
}

/// Records a failed sync; returns the new consecutive transient failure count.
pub fn sync_failed(
    conn: &Connection,
    mailbox_id: i64,
    code: &str,
    message: &str,
    transient: bool,
) -> Result<i64> {
    conn.execute(
        "UPDATE mailboxes SET processing_state = 'failing', last_error_code = ?2, last_error_message = ?3, \
         last_error_on = ?4, transient_failures = transient_failures + ?5 WHERE id = ?1",
        params![mailbox_id, code, message, now_db(), transient as i64],
    )?;
    Ok(conn.query_row("SELECT transient_failures FROM mailboxes WHERE id = ?1", [mailbox_id], |r| r.get(0))?)
}

/// Records the last error without changing the processing state (Test & Enable).
pub fn set_last_error(
    conn: &Connection,
    mailbox_id: i64,
    code: Option<&str>,
    message: Option<&str>,
) -> Result<()> {
    conn.execute(
        "UPDATE mailboxes SET last_error_code = ?2, last_error_message = ?3, last_error_on = CASE WHEN ?2 IS NULL THEN NULL ELSE ?4 END WHERE id = ?1",
        params![mailbox_id, code, message, now_db()],
    )?;
    Ok(())
}

/// Sets when the next poll is due.
pub fn set_next_poll(conn: &Connection, mailbox_id: i64, at: Option<&str>) -> Result<()> {
    conn.execute("UPDATE mailboxes SET next_poll_on = ?2 WHERE id = ?1", params![mailbox_id, at])?;
    Ok(())
}

/// The engine stops one channel after an error: the channel is disabled with
/// `reason` (an error code, or `TRANSIENT_FAILURES`) and the mailbox reads
/// `disabled` until it is re-enabled (by hand or by recovery).
pub fn engine_disable(conn: &Connection, mailbox_id: i64, ch: Channel, reason: &str) -> Result<()> {
    let p = ch.prefix();
    conn.execute(
        &format!(
            "UPDATE mailboxes SET {p}_enabled = 0, disabled_reason = ?2, processing_state = 'disabled', \
             next_poll_on = NULL WHERE id = ?1"
        ),
        params![mailbox_id, reason],
    )?;
    Ok(())
}

/// Sets the processing state (idle, syncing, waiting, failing, disabled).
pub fn set_processing_state(conn: &Connection, mailbox_id: i64, state: &str) -> Result<()> {
    conn.execute("UPDATE mailboxes SET processing_state = ?2 WHERE id = ?1", params![mailbox_id, state])?;
    Ok(())
}

/// After a crash nothing is syncing: resets `syncing` to `idle` (service start).
pub fn reset_syncing(conn: &Connection) -> Result<usize> {
    Ok(conn
        .execute("UPDATE mailboxes SET processing_state = 'idle' WHERE processing_state = 'syncing'", [])?)
}

/// How many of a profile's working mailboxes (any channel enabled, or disabled
/// by the engine) exist, and how many of them failed since `since` without a
/// successful sync after the failure: `(failing, total)`.
pub fn profile_failures_since(conn: &Connection, profile_id: i64, since: &str) -> Result<(i64, i64)> {
    Ok(conn.query_row(
        "SELECT coalesce(sum(CASE WHEN last_error_on >= ?2 AND (last_sync_succeeded_on IS NULL \
         OR last_sync_succeeded_on < last_error_on) THEN 1 ELSE 0 END), 0), count(*) FROM mailboxes \
         WHERE profile_id = ?1 AND (incoming_enabled OR outgoing_enabled OR act_enabled \
         OR (disabled_reason IS NOT NULL AND disabled_reason <> 'DISABLED_BY_ADMIN'))",
        params![profile_id, since],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}
