//! Users and queues.

use crmsync_core::model::Principal;
use crmsync_core::store::principals::{self, Kind};
use crmsync_core::{CoreError, Store, address};
use rusqlite::Connection;

use crate::error::Result;

/// Adds a user or queue; an address may belong to only one of them.
pub fn add(store: &mut Store, kind: Kind, email: &str, name: &str) -> Result<Principal> {
    store.write(|tx| add_in(tx, kind, email, name))
}

/// Validates and inserts a user or queue inside a transaction.
pub(crate) fn add_in(tx: &Connection, kind: Kind, email: &str, name: &str) -> Result<Principal> {
    let email = address::validate("email", email)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(CoreError::invalid("name", "must not be empty").into());
    }
    let other = match kind {
        Kind::User => Kind::Queue,
        Kind::Queue => Kind::User,
    };
    if principals::find(tx, other, &email)?.is_some() {
        return Err(
            CoreError::invalid("email", format!("{email} already belongs to a {}", other.noun())).into()
        );
    }
    if principals::find(tx, kind, &email)?.is_some() {
        return Err(CoreError::invalid(
            "email",
            format!("a {} with address {email} already exists", kind.noun()),
        )
        .into());
    }
    let id = principals::insert(tx, kind, &email, name)?;
    Ok(Principal { id, email, name: name.to_string() })
}

/// Lists users or queues.
pub fn list(store: &Store, kind: Kind) -> Result<Vec<Principal>> {
    Ok(principals::list(store.conn(), kind)?)
}
