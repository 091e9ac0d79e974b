//! ACT sync state: the remote collections of a mailbox (with sync token,
//! CTag and the mass-delete brake), a status row per synced item (the
//! vdirsyncer model) and each mailbox's filter and field directions.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::act::config::ActConfig;
use crate::act::item::ItemKind;
use crate::act::plan::StatusRow;
use crate::error::Result;
use crate::time::now_db;

/// The collection kind a status row's item lives in (act_collections.kind).
pub fn collection_kind(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Appointment => "calendar",
        ItemKind::Task => "tasks",
        ItemKind::Contact => "contacts",
    }
}

/// A remote collection of a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collection {
    /// Row id.
    pub id: i64,
    /// Mailbox.
    pub mailbox_id: i64,
    /// calendar, tasks or contacts.
    pub kind: String,
    /// Absolute URL.
    pub url: String,
    /// Name shown by the server.
    pub display_name: Option<String>,
    /// RFC 6578 sync token of the last sync.
    pub sync_token: Option<String>,
    /// CTag (getctag) of the last sync, for servers without sync-collection.
    pub ctag: Option<String>,
    /// When the last sync of it finished.
    pub last_sync_on: Option<String>,
    /// When the brake started holding a mass delete.
    pub brake_held_on: Option<String>,
    /// crm or server: where the held deletes would happen.
    pub brake_side: Option<String>,
    /// How many deletes are held.
    pub brake_deletes: Option<i64>,
    /// The admin confirmed: the next sync mirrors the deletes.
    pub brake_confirmed: bool,
}

const COLS: &str = "id, mailbox_id, kind, url, display_name, sync_token, ctag, last_sync_on, brake_held_on, brake_side, \
                    brake_deletes, brake_confirmed";

fn collection(r: &rusqlite::Row<'_>) -> rusqlite::Result<Collection> {
    Ok(Collection {
        id: r.get(0)?,
        mailbox_id: r.get(1)?,
        kind: r.get(2)?,
        url: r.get(3)?,
        display_name: r.get(4)?,
        sync_token: r.get(5)?,
        ctag: r.get(6)?,
        last_sync_on: r.get(7)?,
        brake_held_on: r.get(8)?,
        brake_side: r.get(9)?,
        brake_deletes: r.get(10)?,
        brake_confirmed: r.get(11)?,
    })
}

/// The collections remembered for a mailbox.
pub fn collections(conn: &Connection, mailbox_id: i64) -> Result<Vec<Collection>> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {COLS} FROM act_collections WHERE mailbox_id = ?1 ORDER BY id"))?;
    Ok(stmt.query_map([mailbox_id], collection)?.collect::<rusqlite::Result<_>>()?)
}

/// Remembers the collection of `kind` for a mailbox. A different URL than
/// before starts over: its sync token and status rows are dropped.
pub fn upsert_collection(
    conn: &Connection,
    mailbox_id: i64,
    kind: &str,
    url: &str,
    display_name: Option<&str>,
) -> Result<Collection> {
    let old: Option<(i64, String)> = conn
        .query_row(
            "SELECT id, url FROM act_collections WHERE mailbox_id = ?1 AND kind = ?2",
            params![mailbox_id, kind],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match old {
        Some((id, old_url)) if old_url == url => {
            conn.execute(
                "UPDATE act_collections SET display_name = ?2 WHERE id = ?1",
                params![id, display_name],
            )?;
        }
        Some((id, _)) => {
            conn.execute("DELETE FROM act_items WHERE collection_id = ?1", [id])?;
            conn.execute(
                "UPDATE act_collections SET url = ?2, display_name = ?3, sync_token = NULL, ctag = NULL, brake_held_on = NULL, \
                 brake_side = NULL, brake_deletes = NULL, brake_confirmed = 0 WHERE id = ?1",
                params![id, url, display_name],
            )?;
        }
        None => {
            conn.execute(
                "INSERT INTO act_collections (mailbox_id, kind, url, display_name) VALUES (?1, ?2, ?3, ?4)",
                params![mailbox_id, kind, url, display_name],
            )?;
        }
    }
    Ok(conn.query_row(
        &format!("SELECT {COLS} FROM act_collections WHERE mailbox_id = ?1 AND kind = ?2"),
        params![mailbox_id, kind],
        collection,
    )?)
}

/// Records the sync token / CTag after a successful sync of a collection.
pub fn set_sync_state(
    conn: &Connection,
    id: i64,
    sync_token: Option<&str>,
    ctag: Option<&str>,
) -> Result<()> {
    conn.execute(
        "UPDATE act_collections SET sync_token = ?2, ctag = ?3, last_sync_on = ?4 WHERE id = ?1",
        params![id, sync_token, ctag, now_db()],
    )?;
    Ok(())
}

/// Holds a mass delete (keeps the first held time); returns true when newly held.
pub fn hold_brake(conn: &Connection, id: i64, side: &str, deletes: usize) -> Result<bool> {
    let n = conn.execute(
        "UPDATE act_collections SET brake_held_on = coalesce(brake_held_on, ?2), brake_side = ?3, brake_deletes = ?4, \
         brake_confirmed = 0 WHERE id = ?1",
        params![id, now_db(), side, deletes as i64],
    )?;
    Ok(n > 0)
}

/// Clears the brake of a collection (after the confirmed deletes ran, or when nothing is held any more).
pub fn clear_brake(conn: &Connection, id: i64) -> Result<()> {
    conn.execute(
        "UPDATE act_collections SET brake_held_on = NULL, brake_side = NULL, brake_deletes = NULL, brake_confirmed = 0 \
         WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

/// The admin confirms the held deletes of a mailbox; returns the collections released.
pub fn confirm_brake(conn: &Connection, mailbox_id: i64) -> Result<Vec<Collection>> {
    conn.execute(
        "UPDATE act_collections SET brake_confirmed = 1 WHERE mailbox_id = ?1 AND brake_held_on IS NOT NULL",
        [mailbox_id],
    )?;
    Ok(collections(conn, mailbox_id)?.into_iter().filter(|c| c.brake_confirmed).collect())
}

/// A status row with its record type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemStatus {
    /// appointment, task or contact.
    pub kind: ItemKind,
    /// The planner's view.
    pub row: StatusRow,
    /// CRM version at the last sync.
    pub crm_version: i64,
    /// UID at the last sync.
    pub uid: Option<String>,
}

/// The status rows of one kind in a collection.
pub fn status_rows(conn: &Connection, collection_id: i64, kind: ItemKind) -> Result<Vec<ItemStatus>> {
    let mut stmt = conn.prepare_cached(
        "SELECT record_id, href, etag, content_hash, remote_hash, crm_version, uid FROM act_items \
         WHERE collection_id = ?1 AND record_type = ?2 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![collection_id, kind.as_str()], |r| {
        Ok(ItemStatus {
            kind,
            row: StatusRow {
                record_id: r.get(0)?,
                href: r.get(1)?,
                etag: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                crm_hash: r.get(3)?,
                remote_hash: r.get(4)?,
            },
            crm_version: r.get(5)?,
            uid: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Writes (replaces) the status row of a synced pair.
pub fn put_status(conn: &Connection, collection_id: i64, s: &ItemStatus) -> Result<()> {
    conn.execute(
        "DELETE FROM act_items WHERE collection_id = ?1 AND (href = ?2 OR (record_type = ?3 AND record_id = ?4))",
        params![collection_id, s.row.href, s.kind.as_str(), s.row.record_id],
    )?;
    conn.prepare_cached(
        "INSERT INTO act_items (collection_id, record_type, record_id, crm_version, href, etag, content_hash, remote_hash, uid, synced_on) \
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
    )?
    .execute(params![
        collection_id,
        s.kind.as_str(),
        s.row.record_id,
        s.crm_version,
        s.row.href,
        s.row.etag,
        s.row.crm_hash,
        s.row.remote_hash,
        s.uid,
        now_db()
    ])?;
    Ok(())
}

/// Drops the status row of a pair.
pub fn delete_status(conn: &Connection, collection_id: i64, href: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM act_items WHERE collection_id = ?1 AND href = ?2")?
        .execute(params![collection_id, href])?;
    Ok(())
}

/// Number of status rows per collection of a mailbox: (collection kind, count).
pub fn status_counts(conn: &Connection, mailbox_id: i64) -> Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT c.kind, count(i.id) FROM act_collections c LEFT JOIN act_items i ON i.collection_id = c.id \
         WHERE c.mailbox_id = ?1 GROUP BY c.id ORDER BY c.id",
    )?;
    Ok(stmt.query_map([mailbox_id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?)
}

/// A mailbox's ACT filter and directions (the defaults when never set).
pub fn mailbox_config(conn: &Connection, mailbox_id: i64) -> Result<ActConfig> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT filters, directions FROM act_mailbox_settings WHERE mailbox_id = ?1",
            [mailbox_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let mut cfg = ActConfig::default();
    if let Some((f, d)) = row {
        if let Ok(f) = serde_json::from_str(&f) {
            cfg.filters = f;
        }
        if let Ok(d) = serde_json::from_str(&d) {
            cfg.directions = d;
        }
    }
    Ok(cfg)
}

/// Stores a mailbox's ACT filter and directions.
pub fn set_mailbox_config(conn: &Connection, mailbox_id: i64, cfg: &ActConfig) -> Result<()> {
    conn.execute(
        "INSERT INTO act_mailbox_settings (mailbox_id, filters, directions, modified_on) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT(mailbox_id) DO UPDATE SET filters = excluded.filters, directions = excluded.directions, \
         modified_on = excluded.modified_on",
        params![
            mailbox_id,
            serde_json::to_string(&cfg.filters).expect("json"),
            serde_json::to_string(&cfg.directions).expect("json"),
            now_db()
        ],
    )?;
    Ok(())
}
