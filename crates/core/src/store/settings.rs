//! Stored setting values (only those the admin changed).

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde_json::Value;

use crate::error::Result;
use crate::settings::Settings;
use crate::time::now_db;

/// Loads the effective settings.
pub fn load(conn: &Connection) -> Result<Settings> {
    let mut stmt = conn.prepare("SELECT key, value FROM settings")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut stored = BTreeMap::new();
    for row in rows {
        let (k, v) = row?;
        if let Ok(v) = serde_json::from_str::<Value>(&v) {
            stored.insert(k, v);
        }
    }
    Ok(Settings::from_stored(&stored))
}

/// Stores one validated value.
pub fn set(conn: &Connection, key: &str, value: &Value) -> Result<()> {
    conn.execute(
        "INSERT INTO settings (key, value, modified_on) VALUES (?1, ?2, ?3) \
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, modified_on = excluded.modified_on",
        [key, &value.to_string(), &now_db()],
    )?;
    Ok(())
}
