//! Incoming sync state: IMAP folder watermarks and per-message idempotency
//! keys, POP3 UIDLs, and failed items kept whole.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::time::now_db;

/// Watermark of one IMAP folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderState {
    /// UIDVALIDITY the watermark belongs to.
    pub uidvalidity: u32,
    /// Highest UID processed.
    pub last_uid: u32,
    /// CONDSTORE HIGHESTMODSEQ seen when the folder was last fully processed.
    pub highest_modseq: Option<u64>,
}

/// What happened to one server message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Became (or joined) an email activity.
    Tracked,
    /// Filtered out (tracking filter, before process-from).
    NotTracked,
    /// Could not be processed; kept in failed_items with an alert.
    Failed,
}

impl Outcome {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Tracked => "tracked",
            Outcome::NotTracked => "not_tracked",
            Outcome::Failed => "failed",
        }
    }
}

/// The stored watermark of a folder.
pub fn folder_state(conn: &Connection, mailbox_id: i64, folder: &str) -> Result<Option<FolderState>> {
    Ok(conn
        .query_row(
            "SELECT uidvalidity, last_uid, highest_modseq FROM imap_folder_state WHERE mailbox_id = ?1 AND folder = ?2",
            params![mailbox_id, folder],
            |r| {
                let modseq: Option<i64> = r.get(2)?;
                Ok(FolderState { uidvalidity: r.get(0)?, last_uid: r.get(1)?, highest_modseq: modseq.map(|m| m as u64) })
            },
        )
        .optional()?)
}

/// Stores a folder watermark.
pub fn set_folder_state(conn: &Connection, mailbox_id: i64, folder: &str, st: FolderState) -> Result<()> {
    conn.execute(
        "INSERT INTO imap_folder_state (mailbox_id, folder, uidvalidity, last_uid, highest_modseq) VALUES (?1,?2,?3,?4,?5) \
         ON CONFLICT(mailbox_id, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid, \
         highest_modseq = excluded.highest_modseq",
        params![mailbox_id, folder, st.uidvalidity, st.last_uid, st.highest_modseq.map(|m| m as i64)],
    )?;
    Ok(())
}

/// Whether (mailbox, folder, UIDVALIDITY, UID) was processed already.
pub fn imap_item_done(
    conn: &Connection,
    mailbox_id: i64,
    folder: &str,
    uidvalidity: u32,
    uid: u32,
) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM imap_items WHERE mailbox_id=?1 AND folder=?2 AND uidvalidity=?3 AND uid=?4",
            params![mailbox_id, folder, uidvalidity, uid],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Identifies one IMAP folder at one UIDVALIDITY of a mailbox.
#[derive(Debug, Clone, Copy)]
pub struct ImapFolder<'a> {
    /// The mailbox.
    pub mailbox_id: i64,
    /// Folder name.
    pub folder: &'a str,
    /// UIDVALIDITY the UIDs belong to.
    pub uidvalidity: u32,
}

/// Records the outcome of one IMAP message (in the same transaction as the
/// activity). `delete_pending` makes the server delete durable: it stays
/// pending until [`imap_mark_deleted`], whatever happens to the process.
pub fn record_imap_item(
    conn: &Connection,
    f: ImapFolder<'_>,
    uid: u32,
    activity_id: Option<i64>,
    outcome: Outcome,
    delete_pending: bool,
) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO imap_items (mailbox_id, folder, uidvalidity, uid, activity_id, outcome, processed_on, deleted) \
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
        params![
            f.mailbox_id,
            f.folder,
            f.uidvalidity,
            uid,
            activity_id,
            outcome.as_str(),
            now_db(),
            delete_pending.then_some(0)
        ],
    )?;
    Ok(())
}

/// UIDs committed with a delete pending that the server has not confirmed yet.
pub fn imap_pending_deletes(conn: &Connection, f: ImapFolder<'_>) -> Result<Vec<u32>> {
    let mut stmt = conn.prepare_cached(
        "SELECT uid FROM imap_items WHERE mailbox_id=?1 AND folder=?2 AND uidvalidity=?3 AND deleted=0 ORDER BY uid",
    )?;
    let rows = stmt.query_map(params![f.mailbox_id, f.folder, f.uidvalidity], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Marks UIDs as deleted (expunged) on the server.
pub fn imap_mark_deleted(conn: &Connection, f: ImapFolder<'_>, uids: &[u32]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE imap_items SET deleted=1 WHERE mailbox_id=?1 AND folder=?2 AND uidvalidity=?3 AND uid=?4 AND deleted=0",
    )?;
    for uid in uids {
        stmt.execute(params![f.mailbox_id, f.folder, f.uidvalidity, uid])?;
    }
    Ok(())
}

/// Counts one more pass in which the server did not return `uid` when asked;
/// returns the number of such passes so far.
pub fn imap_fetch_missed(conn: &Connection, f: ImapFolder<'_>, uid: u32) -> Result<i64> {
    Ok(conn.query_row(
        "INSERT INTO imap_fetch_misses (mailbox_id, folder, uidvalidity, uid, attempts, last_attempt_on) \
         VALUES (?1,?2,?3,?4,1,?5) ON CONFLICT(mailbox_id, folder, uidvalidity, uid) \
         DO UPDATE SET attempts = attempts + 1, last_attempt_on = excluded.last_attempt_on RETURNING attempts",
        params![f.mailbox_id, f.folder, f.uidvalidity, uid, now_db()],
        |r| r.get(0),
    )?)
}

/// Forgets the missed fetches of `uid` (it was returned, or given up on).
pub fn imap_fetch_miss_clear(conn: &Connection, f: ImapFolder<'_>, uid: u32) -> Result<()> {
    conn.execute(
        "DELETE FROM imap_fetch_misses WHERE mailbox_id=?1 AND folder=?2 AND uidvalidity=?3 AND uid=?4",
        params![f.mailbox_id, f.folder, f.uidvalidity, uid],
    )?;
    Ok(())
}

/// UIDs tracked in a folder whose \Seen flag is not yet stored on the server
/// (nor a delete pending or done, which makes the flag moot).
pub fn imap_unseen_tracked(
    conn: &Connection,
    mailbox_id: i64,
    folder: &str,
    uidvalidity: u32,
) -> Result<Vec<u32>> {
    let mut stmt = conn.prepare_cached(
        "SELECT uid FROM imap_items WHERE mailbox_id=?1 AND folder=?2 AND uidvalidity=?3 AND outcome='tracked' \
         AND seen_set=0 AND deleted IS NULL ORDER BY uid",
    )?;
    let rows = stmt.query_map(params![mailbox_id, folder, uidvalidity], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Marks UIDs as \Seen on the server.
pub fn imap_mark_seen_set(
    conn: &Connection,
    mailbox_id: i64,
    folder: &str,
    uidvalidity: u32,
    uids: &[u32],
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE imap_items SET seen_set=1 WHERE mailbox_id=?1 AND folder=?2 AND uidvalidity=?3 AND uid=?4",
    )?;
    for uid in uids {
        stmt.execute(params![mailbox_id, folder, uidvalidity, uid])?;
    }
    Ok(())
}

/// Whether a POP3 UIDL was processed already.
pub fn pop3_item_done(conn: &Connection, mailbox_id: i64, uidl: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM pop3_items WHERE mailbox_id=?1 AND uidl=?2",
            params![mailbox_id, uidl],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Records the outcome of one POP3 message.
pub fn record_pop3_item(
    conn: &Connection,
    mailbox_id: i64,
    uidl: &str,
    activity_id: Option<i64>,
    outcome: Outcome,
) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO pop3_items (mailbox_id, uidl, activity_id, outcome, processed_on) VALUES (?1,?2,?3,?4,?5)",
        params![mailbox_id, uidl, activity_id, outcome.as_str(), now_db()],
    )?;
    Ok(())
}

/// UIDLs tracked in the CRM (committed) but not yet deleted from the server.
/// Mail the mailbox did not track, or that failed, is never deleted.
pub fn pop3_pending_deletes(conn: &Connection, mailbox_id: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT uidl FROM pop3_items WHERE mailbox_id=?1 AND deleted=0 AND outcome = 'tracked'",
    )?;
    let rows = stmt.query_map([mailbox_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Marks UIDLs deleted on the server.
pub fn pop3_mark_deleted(conn: &Connection, mailbox_id: i64, uidls: &[String]) -> Result<()> {
    let mut stmt = conn.prepare_cached("UPDATE pop3_items SET deleted=1 WHERE mailbox_id=?1 AND uidl=?2")?;
    for u in uidls {
        stmt.execute(params![mailbox_id, u])?;
    }
    Ok(())
}

/// Forgets POP3 UIDLs no longer on the server (they were deleted there).
pub fn pop3_forget_absent(conn: &Connection, mailbox_id: i64, present: &[String]) -> Result<usize> {
    let mut stmt = conn.prepare_cached("SELECT uidl FROM pop3_items WHERE mailbox_id=?1 AND deleted=1")?;
    let deleted: Vec<String> =
        stmt.query_map([mailbox_id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    let mut n = 0;
    for u in deleted.iter().filter(|u| !present.contains(u)) {
        n += conn.execute(
            "DELETE FROM pop3_items WHERE mailbox_id=?1 AND uidl=?2 AND deleted=1",
            params![mailbox_id, u],
        )?;
    }
    Ok(n)
}

/// Keeps a message that could not be processed, whole, so nothing is lost.
pub fn keep_failed(
    conn: &Connection,
    mailbox_id: i64,
    item_ref: &str,
    raw: &[u8],
    error: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO failed_items (mailbox_id, item_ref, raw, error, created_on) VALUES (?1,?2,?3,?4,?5) \
         ON CONFLICT(mailbox_id, item_ref) DO UPDATE SET raw = excluded.raw, error = excluded.error",
        params![mailbox_id, item_ref, raw, error, now_db()],
    )?;
    Ok(())
}
