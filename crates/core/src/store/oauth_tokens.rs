//! OAuth2 tokens of a mailbox (or of a profile, for app-only access). The
//! access and refresh tokens arrive here already encrypted with the store's
//! credential key; only the expiry and scope are in clear.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::time::{from_db, now_db, to_db};

/// Whose token: one mailbox of a profile, or the profile itself (app-only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenOwner {
    /// The profile whose OAuth2 client obtained the token.
    pub profile_id: i64,
    /// The mailbox signed in; None for the profile's app-only token.
    pub mailbox_id: Option<i64>,
}

/// A stored token set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// The access token, encrypted.
    pub access_enc: Option<Vec<u8>>,
    /// The refresh token, encrypted.
    pub refresh_enc: Option<Vec<u8>>,
    /// When the access token expires.
    pub expires_on: Option<DateTime<Utc>>,
    /// The scopes granted, space separated.
    pub scope: Option<String>,
}

const WHERE: &str = "profile_id = ?1 AND mailbox_id IS ?2";

/// The token of `owner`, if signed in.
pub fn get(conn: &Connection, owner: TokenOwner) -> Result<Option<StoredToken>> {
    let sql = format!("SELECT access_enc, refresh_enc, expires_on, scope FROM oauth_tokens WHERE {WHERE}");
    let row = conn
        .query_row(&sql, params![owner.profile_id, owner.mailbox_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<String>>(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((access_enc, refresh_enc, expires, scope)) = row else { return Ok(None) };
    Ok(Some(StoredToken {
        access_enc,
        refresh_enc,
        expires_on: expires.map(|e| from_db("expires_on", &e)).transpose()?,
        scope,
    }))
}

/// Stores (replacing) the token of `owner`; one statement each way, so it
/// needs no transaction of its own (the engine refreshes outside one).
pub fn put(conn: &Connection, owner: TokenOwner, t: &StoredToken) -> Result<()> {
    let expires = t.expires_on.map(to_db);
    let now = now_db();
    let updated = conn.execute(
        &format!(
            "UPDATE oauth_tokens SET access_enc = ?3, refresh_enc = ?4, expires_on = ?5, scope = ?6, \
             updated_on = ?7 WHERE {WHERE}"
        ),
        params![owner.profile_id, owner.mailbox_id, t.access_enc, t.refresh_enc, expires, t.scope, now],
    )?;
    if updated == 0 {
        conn.execute(
            "INSERT INTO oauth_tokens (profile_id, mailbox_id, access_enc, refresh_enc, expires_on, scope, updated_on) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![owner.profile_id, owner.mailbox_id, t.access_enc, t.refresh_enc, expires, t.scope, now],
        )?;
    }
    Ok(())
}

/// Removes the token of `owner` (sign-out, or a refused refresh); true when one was stored.
pub fn delete(conn: &Connection, owner: TokenOwner) -> Result<bool> {
    Ok(conn.execute(
        &format!("DELETE FROM oauth_tokens WHERE {WHERE}"),
        params![owner.profile_id, owner.mailbox_id],
    )? > 0)
}
