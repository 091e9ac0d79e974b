//! A mailbox's history: one row per sync run of a channel (`sync_runs`), and
//! one row per incoming message a run looked at with the reason it was or was
//! not tracked (`seen_messages`). Both are bounded by `history.retention_days`
//! ([`purge_before`]).

use rusqlite::{Connection, Row, params};
use serde::Serialize;

use crate::error::Result;
use crate::time::now_db;

/// The channel a run belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunChannel {
    /// Fetching new mail.
    Incoming,
    /// Sending the outbox.
    Outgoing,
    /// Appointments, contacts and tasks.
    Act,
}

impl RunChannel {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RunChannel::Incoming => "incoming",
            RunChannel::Outgoing => "outgoing",
            RunChannel::Act => "act",
        }
    }
}

/// How a finished run ended, with its counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunEnd {
    /// `ok`, `failed` or `skipped`.
    pub result: &'static str,
    /// The code of a failure or a skip.
    pub code: Option<String>,
    /// The message of a failure or a skip.
    pub message: Option<String>,
    /// Items looked at.
    pub processed: i64,
    /// New CRM records or server items.
    pub created: i64,
    /// Incoming messages tracked.
    pub tracked: i64,
    /// Incoming messages seen and not tracked.
    pub not_tracked: i64,
    /// Items that failed.
    pub failed: i64,
    /// Stopped at the per-cycle cap.
    pub capped: bool,
}

/// One run of a mailbox's history, newest first in [`list_runs`].
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRow {
    /// Row id.
    pub id: i64,
    /// `incoming`, `outgoing` or `act`.
    pub channel: String,
    /// When it started (RFC 3339 UTC).
    pub started_on: String,
    /// When it ended; null while it runs (or when the process died in it).
    pub ended_on: Option<String>,
    /// `ok`, `failed`, `skipped`; null while it runs.
    pub result: Option<String>,
    /// The error (or skip) code.
    pub code: Option<String>,
    /// The error (or skip) message.
    pub message: Option<String>,
    /// Items looked at.
    pub processed: i64,
    /// New CRM records or server items.
    pub created: i64,
    /// Incoming messages tracked.
    pub tracked: i64,
    /// Incoming messages not tracked.
    pub not_tracked: i64,
    /// Items that failed.
    pub failed: i64,
    /// Stopped at the per-cycle cap.
    pub capped: bool,
    /// Why messages of this run were not tracked: (reason code, count), most first.
    pub not_tracked_reasons: Vec<ReasonCount>,
}

/// How many messages of a run had one reason.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    /// The reason code, e.g. `FILTER_RESPONSES`.
    pub reason: String,
    /// How many.
    pub count: i64,
}

/// Records the start of a run; returns its id.
pub fn run_started(conn: &Connection, mailbox_id: i64, channel: RunChannel) -> Result<i64> {
    conn.execute(
        "INSERT INTO sync_runs (mailbox_id, channel, started_on) VALUES (?1, ?2, ?3)",
        params![mailbox_id, channel.as_str(), now_db()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Records how run `id` ended.
pub fn run_ended(conn: &Connection, id: i64, end: &RunEnd) -> Result<()> {
    conn.execute(
        "UPDATE sync_runs SET ended_on = ?2, result = ?3, code = ?4, message = ?5, processed = ?6, created = ?7, \
         tracked = ?8, not_tracked = ?9, failed = ?10, capped = ?11 WHERE id = ?1",
        params![
            id,
            now_db(),
            end.result,
            end.code,
            end.message,
            end.processed,
            end.created,
            end.tracked,
            end.not_tracked,
            end.failed,
            end.capped
        ],
    )?;
    Ok(())
}

/// The newest `limit` runs of a mailbox, newest first.
pub fn list_runs(conn: &Connection, mailbox_id: i64, limit: i64) -> Result<Vec<RunRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, channel, started_on, ended_on, result, code, message, processed, created, tracked, not_tracked, \
         failed, capped FROM sync_runs WHERE mailbox_id = ?1 ORDER BY started_on DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![mailbox_id, limit.max(0)], |r| {
        Ok(RunRow {
            id: r.get(0)?,
            channel: r.get(1)?,
            started_on: r.get(2)?,
            ended_on: r.get(3)?,
            result: r.get(4)?,
            code: r.get(5)?,
            message: r.get(6)?,
            processed: r.get(7)?,
            created: r.get(8)?,
            tracked: r.get(9)?,
            not_tracked: r.get(10)?,
            failed: r.get(11)?,
            capped: r.get(12)?,
            not_tracked_reasons: Vec::new(),
        })
    })?;
    let mut runs = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let mut reasons = conn.prepare_cached(
        "SELECT reason, count(*) FROM seen_messages WHERE run_id = ?1 AND outcome = 'not_tracked' \
         GROUP BY reason ORDER BY count(*) DESC, reason",
    )?;
    for run in runs.iter_mut().filter(|r| r.not_tracked > 0) {
        run.not_tracked_reasons = reasons
            .query_map([run.id], |r| Ok(ReasonCount { reason: r.get(0)?, count: r.get(1)? }))?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(runs)
}

/// One message a run looked at, and why it was or was not tracked.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SeenMessage {
    /// The mailbox that saw it.
    pub mailbox_id: i64,
    /// The run that saw it, if known.
    pub run_id: Option<i64>,
    /// Where it was on the server, e.g. `INBOX/1700000000/42`.
    pub item_ref: String,
    /// Its Message-ID (without angle brackets), if it has one and could be read.
    pub message_id: Option<String>,
    /// Its subject, if it could be read.
    pub subject: Option<String>,
    /// Its sender's address, if it could be read.
    pub sender: Option<String>,
    /// When the server (or its Date header) says it arrived.
    pub received_on: Option<String>,
    /// `tracked`, `not_tracked` or `failed`.
    pub outcome: String,
    /// Stable reason code, e.g. `FILTER_RESPONSES`, `BEFORE_PROCESS_FROM`, `DUPLICATE`.
    pub reason: String,
    /// The reason in words.
    pub detail: String,
    /// The email activity it became or joined.
    pub activity_id: Option<i64>,
}

/// Records one message a run looked at.
pub fn record_seen(conn: &Connection, m: &SeenMessage) -> Result<()> {
    conn.execute(
        "INSERT INTO seen_messages (mailbox_id, run_id, seen_on, item_ref, message_id, subject, sender, received_on, \
         outcome, reason, detail, activity_id) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
        params![
            m.mailbox_id,
            m.run_id,
            now_db(),
            m.item_ref,
            m.message_id,
            m.subject,
            m.sender,
            m.received_on,
            m.outcome,
            m.reason,
            m.detail,
            m.activity_id
        ],
    )?;
    Ok(())
}

/// A stored [`SeenMessage`] with the time it was seen.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeenRow {
    /// When crmsync saw it (RFC 3339 UTC).
    pub seen_on: String,
    /// What it was and what happened to it.
    #[serde(flatten)]
    pub message: SeenMessage,
}

/// How to find a message in [`find_seen`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeenQuery<'a> {
    /// By Message-ID (angle brackets optional).
    MessageId(&'a str),
    /// By words in the subject (case-insensitive).
    Subject(&'a str),
}

/// The messages of a mailbox matching `q`, newest first (at most `limit`).
pub fn find_seen(conn: &Connection, mailbox_id: i64, q: &SeenQuery<'_>, limit: i64) -> Result<Vec<SeenRow>> {
    let (sql, arg) = match q {
        SeenQuery::MessageId(id) => {
            ("message_id = ?2", id.trim().trim_start_matches('<').trim_end_matches('>').to_string())
        }
        SeenQuery::Subject(text) => {
            let escaped = text.trim().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            ("subject LIKE ?2 ESCAPE '\\'", format!("%{escaped}%"))
        }
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT seen_on, mailbox_id, run_id, item_ref, message_id, subject, sender, received_on, outcome, reason, \
         detail, activity_id FROM seen_messages WHERE mailbox_id = ?1 AND {sql} ORDER BY seen_on DESC, id DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![mailbox_id, arg, limit.max(0)], seen_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The messages of a mailbox seen without readable headers (not downloaded:
/// too large, not returned by the server), newest first (at most `limit`).
pub fn unidentified_seen(conn: &Connection, mailbox_id: i64, limit: i64) -> Result<Vec<SeenRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seen_on, mailbox_id, run_id, item_ref, message_id, subject, sender, received_on, outcome, reason, \
         detail, activity_id FROM seen_messages WHERE mailbox_id = ?1 AND message_id IS NULL AND subject IS NULL \
         ORDER BY seen_on DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![mailbox_id, limit.max(0)], seen_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn seen_row(r: &Row<'_>) -> rusqlite::Result<SeenRow> {
    Ok(SeenRow {
        seen_on: r.get(0)?,
        message: SeenMessage {
            mailbox_id: r.get(1)?,
            run_id: r.get(2)?,
            item_ref: r.get(3)?,
            message_id: r.get(4)?,
            subject: r.get(5)?,
            sender: r.get(6)?,
            received_on: r.get(7)?,
            outcome: r.get(8)?,
            reason: r.get(9)?,
            detail: r.get(10)?,
            activity_id: r.get(11)?,
        },
    })
}

/// What [`purge_before`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    /// Runs removed.
    pub runs: usize,
    /// Message reasons removed.
    pub messages: usize,
}

/// Removes the runs that started, and the messages seen, before `cutoff`
/// (store time form). A run still open is kept.
pub fn purge_before(conn: &Connection, cutoff: &str) -> Result<Purged> {
    let messages = conn.execute("DELETE FROM seen_messages WHERE seen_on < ?1", [cutoff])?;
    let runs =
        conn.execute("DELETE FROM sync_runs WHERE started_on < ?1 AND ended_on IS NOT NULL", [cutoff])?;
    Ok(Purged { runs, messages })
}
