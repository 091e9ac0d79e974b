//! The single-runner lease: one engine (the `crmsync run` service or the
//! desktop app) processes a store at a time. The holder refreshes a heartbeat;
//! a lease whose heartbeat is older than the stale timeout, or whose holder
//! process is gone (same host), is taken over.
//!
//! The running engine also publishes its live status (queue depths, paused)
//! in `meta` under [`STATUS_KEY`], so `crmsync status` can show it without
//! talking to the process.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::time::{from_db, now, to_db};

/// The lease row's name.
pub const ENGINE: &str = "engine";
/// The `meta` key of the engine's published status (JSON).
pub const STATUS_KEY: &str = "engine_status";

/// Who holds the lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseInfo {
    /// e.g. "crmsync run" or "crmsync desktop".
    pub holder: String,
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// When it was taken.
    pub since: DateTime<Utc>,
    /// Last heartbeat.
    pub heartbeat: DateTime<Utc>,
}

impl LeaseInfo {
    /// Whether the heartbeat is older than `stale_after` at `at`.
    pub fn is_stale(&self, at: DateTime<Utc>, stale_after: Duration) -> bool {
        at - self.heartbeat > stale_after
    }
}

/// The outcome of [`acquire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// The lease is ours; `taken_over` names a stale holder we replaced.
    Mine {
        /// The previous, stale holder, if any.
        taken_over: Option<LeaseInfo>,
    },
    /// Someone else holds a live lease.
    Held(LeaseInfo),
}

/// Reads the current lease, live or stale.
pub fn get(conn: &Connection) -> Result<Option<LeaseInfo>> {
    let row = conn
        .query_row(
            "SELECT holder, pid, host, acquired_on, heartbeat_on FROM lease WHERE name = ?1",
            [ENGINE],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
        )
        .optional()?;
    row.map(|(holder, pid, host, since, hb)| {
        Ok(LeaseInfo {
            holder,
            pid,
            host,
            since: from_db("lease.acquired_on", &since)?,
            heartbeat: from_db("lease.heartbeat_on", &hb)?,
        })
    })
    .transpose()
}

/// Takes the lease unless a live holder has it. `holder_gone` says whether the
/// holder process is known to have ended (same host, no such pid); such a
/// lease is taken at once, any other only when its heartbeat is older than
/// `stale_after`. Call inside an IMMEDIATE transaction.
pub fn acquire(
    conn: &Connection,
    holder: &str,
    pid: u32,
    host: &str,
    stale_after: Duration,
    holder_gone: impl Fn(&LeaseInfo) -> bool,
) -> Result<Acquired> {
    let t = now();
    let current = get(conn)?;
    // Even this process's own earlier engine counts as a live holder until it
    // releases the lease: two engines in one process must not both run.
    let taken_over = match current {
        Some(l) if !l.is_stale(t, stale_after) && !holder_gone(&l) => return Ok(Acquired::Held(l)),
        other => other,
    };
    conn.execute(
        "INSERT INTO lease (name, holder, pid, host, acquired_on, heartbeat_on) VALUES (?1,?2,?3,?4,?5,?5) \
         ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, pid = excluded.pid, host = excluded.host, \
         acquired_on = excluded.acquired_on, heartbeat_on = excluded.heartbeat_on",
        params![ENGINE, holder, pid, host, to_db(t)],
    )?;
    conn.execute("DELETE FROM meta WHERE key = ?1", [STATUS_KEY])?;
    Ok(Acquired::Mine { taken_over })
}

/// Refreshes the heartbeat; false when the lease is no longer ours (taken over
/// while we were stalled: stop processing).
pub fn heartbeat(conn: &Connection, pid: u32, host: &str) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE lease SET heartbeat_on = ?4 WHERE name = ?1 AND pid = ?2 AND host = ?3",
        params![ENGINE, pid, host, to_db(now())],
    )? == 1)
}

/// Releases the lease if it is ours, and clears the published status.
pub fn release(conn: &Connection, pid: u32, host: &str) -> Result<bool> {
    let n = conn.execute(
        "DELETE FROM lease WHERE name = ?1 AND pid = ?2 AND host = ?3",
        params![ENGINE, pid, host],
    )?;
    if n == 1 {
        conn.execute("DELETE FROM meta WHERE key = ?1", [STATUS_KEY])?;
    }
    Ok(n == 1)
}

/// Publishes the running engine's status (a JSON document).
pub fn publish_status(conn: &Connection, json: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![STATUS_KEY, json],
    )?;
    Ok(())
}

/// The status the running engine published last, if any.
pub fn published_status(conn: &Connection) -> Result<Option<String>> {
    Ok(conn.query_row("SELECT value FROM meta WHERE key = ?1", [STATUS_KEY], |r| r.get(0)).optional()?)
}
