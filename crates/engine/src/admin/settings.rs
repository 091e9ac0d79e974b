//! Organization settings. Keys arrive here as the admin typed them and are
//! checked against the table ([`parse_value`]); code that reads a setting uses
//! [`load`] and a typed key instead.

use crmsync_core::Store;
use crmsync_core::settings::{Entry, Settings, parse_value};
use crmsync_core::store::settings as stored;

use crate::error::Result;

/// The effective settings, read with typed keys
/// (`load(store)?.bool(BoolSetting::NotificationsMuted)`).
pub fn load(store: &Store) -> Result<Settings> {
    Ok(stored::load(store.conn())?)
}

/// Every setting with its effective value.
pub fn show(store: &Store) -> Result<Vec<Entry>> {
    Ok(stored::load(store.conn())?.entries())
}

/// Validates and stores one setting; returns its new entry.
pub fn set(store: &mut Store, key: &str, value: &str) -> Result<Entry> {
    let v = parse_value(key, value)?;
    store.write(|tx| stored::set(tx, key, &v))?;
    let entry = show(store)?.into_iter().find(|e| e.key == key).expect("key was validated");
    Ok(entry)
}
