//! CRM users and queues: the owners of mailboxes.

use rusqlite::{Connection, OptionalExtension};

use super::unique_to_exists;
use crate::error::Result;
use crate::model::Principal;
use crate::time::now_db;

/// Users or queues: the two tables have the same shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The users table.
    User,
    /// The queues table.
    Queue,
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Kind::User => "users",
            Kind::Queue => "queues",
        }
    }

    /// "user" or "queue".
    pub fn noun(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Queue => "queue",
        }
    }
}

/// Inserts a user or queue.
pub fn insert(conn: &Connection, kind: Kind, email: &str, name: &str) -> Result<i64> {
    conn.execute(
        &format!("INSERT INTO {} (email, name, created_on) VALUES (?1, ?2, ?3)", kind.table()),
        [email, name, &now_db()],
    )
    .map_err(unique_to_exists(kind.noun(), email))?;
    Ok(conn.last_insert_rowid())
}

/// Finds a user or queue by email (case-insensitive).
pub fn find(conn: &Connection, kind: Kind, email: &str) -> Result<Option<Principal>> {
    Ok(conn
        .query_row(&format!("SELECT id, email, name FROM {} WHERE email = ?1", kind.table()), [email], |r| {
            Ok(Principal { id: r.get(0)?, email: r.get(1)?, name: r.get(2)? })
        })
        .optional()?)
}

/// Gets a user or queue by id.
pub fn get_by_id(conn: &Connection, kind: Kind, id: i64) -> Result<Principal> {
    Ok(conn.query_row(&format!("SELECT id, email, name FROM {} WHERE id = ?1", kind.table()), [id], |r| {
        Ok(Principal { id: r.get(0)?, email: r.get(1)?, name: r.get(2)? })
    })?)
}

/// All users or queues by email.
pub fn list(conn: &Connection, kind: Kind) -> Result<Vec<Principal>> {
    let mut stmt = conn.prepare(&format!("SELECT id, email, name FROM {} ORDER BY email", kind.table()))?;
    let rows = stmt.query_map([], |r| Ok(Principal { id: r.get(0)?, email: r.get(1)?, name: r.get(2)? }))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
