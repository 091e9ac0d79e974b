//! Embedded, versioned migrations. The schema version is SQLite's `user_version`;
//! each step runs in its own transaction together with the version bump.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{CoreError, Result};

/// Every migration, in order; index + 1 is the version it produces.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_initial.sql"),
    include_str!("../../migrations/0002_outgoing.sql"),
    include_str!("../../migrations/0003_act.sql"),
    include_str!("../../migrations/0004_outgoing_claims.sql"),
    include_str!("../../migrations/0005_activity_bodies.sql"),
    include_str!("../../migrations/0006_incoming_retries.sql"),
    include_str!("../../migrations/0007_oauth.sql"),
    include_str!("../../migrations/0008_microsoft365.sql"),
    include_str!("../../migrations/0009_history.sql"),
    include_str!("../../migrations/0010_ews_mail.sql"),
];

/// The version a fully migrated store has.
pub fn latest_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// The version of an open database (0 for an empty file).
pub fn current_version(conn: &Connection) -> Result<u32> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, u32>(0))?)
}

/// Applies the missing migrations up to `target`. Foreign keys are off while
/// they run (a step may rebuild a table others point at, which SQLite can
/// only do so) and each step checks them before it commits.
pub fn migrate(conn: &mut Connection, target: u32) -> Result<()> {
    let found = current_version(conn)?;
    if found > latest_version() {
        return Err(CoreError::TooNew { found, supported: latest_version() });
    }
    if found >= target.min(latest_version()) {
        return Ok(());
    }
    let fk_on: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", false)?;
    let result = apply_steps(conn, found, target);
    if fk_on {
        conn.pragma_update(None, "foreign_keys", true)?;
    }
    result
}

fn apply_steps(conn: &mut Connection, found: u32, target: u32) -> Result<()> {
    for version in (found + 1)..=target.min(latest_version()) {
        let sql = MIGRATIONS[(version - 1) as usize];
        let apply = |conn: &mut Connection| -> rusqlite::Result<()> {
            // IMMEDIATE: two processes opening a new file at once serialize here,
            // and the loser sees the winner's version and skips the step.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if now >= version {
                return Ok(());
            }
            tx.execute_batch(sql)?;
            let broken: Option<String> =
                tx.query_row("PRAGMA foreign_key_check", [], |r| r.get(0)).optional()?;
            if let Some(table) = broken {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                    Some(format!("a row of {table} points at nothing after the step")),
                ));
            }
            tx.pragma_update(None, "user_version", version)?;
            if version == 1 {
                tx.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES ('installation_id', ?1)",
                    [new_installation_id()],
                )?;
            }
            tx.commit()
        };
        apply(conn).map_err(|source| CoreError::Migration { version, source })?;
        tracing::debug!(version, "store migrated");
    }
    Ok(())
}

fn new_installation_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}
