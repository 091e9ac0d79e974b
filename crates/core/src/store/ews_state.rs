//! Exchange (EWS) incoming sync state: the SyncState of each folder (the
//! durable watermark) and the idempotency key of every processed message,
//! with the server change (mark read, delete) it still owes.

use rusqlite::{Connection, OptionalExtension, params};

use super::sync_state::Outcome;
use crate::error::Result;
use crate::time::now_db;

/// A server change a processed message still owes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// Mark it read (queue and forward mailboxes).
    Read,
    /// Delete it (delete-after-processing).
    Delete,
}

impl Pending {
    fn as_str(self) -> &'static str {
        match self {
            Pending::Read => "read",
            Pending::Delete => "delete",
        }
    }
}

/// The stored SyncState of a folder (None: sync it from the start).
pub fn sync_state(conn: &Connection, mailbox_id: i64, folder: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT sync_state FROM ews_folder_state WHERE mailbox_id = ?1 AND folder = ?2",
            params![mailbox_id, folder],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

/// Stores a folder's SyncState (None forgets it: the next pass starts over).
pub fn set_sync_state(conn: &Connection, mailbox_id: i64, folder: &str, state: Option<&str>) -> Result<()> {
    conn.execute(
        "INSERT INTO ews_folder_state (mailbox_id, folder, sync_state) VALUES (?1, ?2, ?3) \
         ON CONFLICT(mailbox_id, folder) DO UPDATE SET sync_state = excluded.sync_state",
        params![mailbox_id, folder, state],
    )?;
    Ok(())
}

/// Whether the message with this ItemId was processed already.
pub fn item_done(conn: &Connection, mailbox_id: i64, item_id: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM ews_items WHERE mailbox_id = ?1 AND item_id = ?2",
            params![mailbox_id, item_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Records the outcome of one message and the server change it owes.
pub fn record_item(
    conn: &Connection,
    mailbox_id: i64,
    folder: &str,
    item_id: &str,
    outcome: Outcome,
    pending: Option<Pending>,
) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO ews_items (mailbox_id, folder, item_id, outcome, pending, processed_on) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![mailbox_id, folder, item_id, outcome.as_str(), pending.map(Pending::as_str), now_db()],
    )?;
    Ok(())
}

/// ItemIds of `folder` that still owe `what`.
pub fn pending(conn: &Connection, mailbox_id: i64, folder: &str, what: Pending) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT item_id FROM ews_items WHERE mailbox_id = ?1 AND folder = ?2 AND pending = ?3 ORDER BY rowid",
    )?;
    let rows = stmt.query_map(params![mailbox_id, folder, what.as_str()], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Marks the server change of these items made (or no longer possible).
pub fn settle(conn: &Connection, mailbox_id: i64, item_ids: &[String]) -> Result<()> {
    let mut stmt =
        conn.prepare_cached("UPDATE ews_items SET pending = NULL WHERE mailbox_id = ?1 AND item_id = ?2")?;
    for id in item_ids {
        stmt.execute(params![mailbox_id, id])?;
    }
    Ok(())
}
