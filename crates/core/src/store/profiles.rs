//! Email server profiles.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::unique_to_exists;
use crate::error::{CoreError, Result};
use crate::model::{
    CredentialSource, Endpoint, OutgoingAuth, Profile, ProfileData, ProfileKind, ProfileTest, Security,
};
use crate::oauth::{AuthMethod, OAuthConfig, OAuthProvider};
use crate::time::{from_db, now_db, to_db};

const COLUMNS: &str = "id, name, kind, incoming_host, incoming_port, incoming_security, \
    outgoing_host, outgoing_port, outgoing_security, outgoing_auth, ews_url, dav_url, credentials, \
    username, password_enc IS NOT NULL, max_connections, min_poll_interval, timeout, process_from, \
    allow_insecure, created_on, modified_on, auth, oauth_provider, oauth_client_id, oauth_tenant, \
    oauth_issuer, oauth_authorize_url, oauth_token_url, oauth_device_url, oauth_scopes, \
    oauth_client_secret_enc IS NOT NULL, graph_url";

fn endpoint(host: Option<String>, port: Option<u16>, sec: Option<String>) -> Result<Option<Endpoint>> {
    Ok(match (host, port, sec) {
        (Some(host), Some(port), Some(sec)) => {
            Some(Endpoint { host, port, security: Security::parse("security", &sec)? })
        }
        _ => None,
    })
}

fn oauth_from_row(r: &Row<'_>) -> Result<Option<OAuthConfig>> {
    let provider: Option<String> = r.get(23)?;
    let Some(provider) = provider else { return Ok(None) };
    let scopes: Option<String> = r.get(30)?;
    Ok(Some(OAuthConfig {
        provider: OAuthProvider::parse("oauth_provider", &provider)?,
        client_id: r.get::<_, Option<String>>(24)?.unwrap_or_default(),
        tenant: r.get(25)?,
        issuer: r.get(26)?,
        authorize_url: r.get::<_, Option<String>>(27)?.unwrap_or_default(),
        token_url: r.get::<_, Option<String>>(28)?.unwrap_or_default(),
        device_url: r.get(29)?,
        scopes: scopes.unwrap_or_default().split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect(),
    }))
}

fn from_row(r: &Row<'_>) -> Result<Profile> {
    let process_from: Option<String> = r.get(18)?;
    Ok(Profile {
        id: r.get(0)?,
        data: ProfileData {
            name: r.get(1)?,
            kind: ProfileKind::parse("kind", &r.get::<_, String>(2)?)?,
            incoming: endpoint(r.get(3)?, r.get(4)?, r.get(5)?)?,
            outgoing: endpoint(r.get(6)?, r.get(7)?, r.get(8)?)?,
            outgoing_auth: OutgoingAuth::parse("outgoing_auth", &r.get::<_, String>(9)?)?,
            ews_url: r.get(10)?,
            graph_url: r.get(32)?,
            dav_url: r.get(11)?,
            credentials: CredentialSource::parse("credentials", &r.get::<_, String>(12)?)?,
            username: r.get(13)?,
            max_connections: r.get(15)?,
            min_poll_interval: r.get(16)?,
            timeout: r.get(17)?,
            process_from: process_from.map(|s| from_db("process_from", &s)).transpose()?,
            allow_insecure: r.get(19)?,
            auth: AuthMethod::parse("auth", &r.get::<_, String>(22)?)?,
            oauth: oauth_from_row(r)?,
        },
        has_password: r.get(14)?,
        has_client_secret: r.get(31)?,
        created_on: from_db("created_on", &r.get::<_, String>(20)?)?,
        modified_on: from_db("modified_on", &r.get::<_, String>(21)?)?,
    })
}

/// What to do with the stored password on an update.
#[derive(Debug, Clone)]
pub enum PasswordChange {
    /// Leave it as it is.
    Keep,
    /// Replace it with this ciphertext.
    Set(Vec<u8>),
    /// Remove it.
    Clear,
}

/// Inserts a profile; `password_enc` is already encrypted.
pub fn insert(conn: &Connection, d: &ProfileData, password_enc: Option<&[u8]>) -> Result<i64> {
    let now = now_db();
    let inc = d.incoming.as_ref();
    let out = d.outgoing.as_ref();
    conn.execute(
        "INSERT INTO email_server_profiles (name, kind, incoming_host, incoming_port, incoming_security, \
         outgoing_host, outgoing_port, outgoing_security, outgoing_auth, ews_url, dav_url, credentials, \
         username, password_enc, max_connections, min_poll_interval, timeout, process_from, allow_insecure, \
         created_on, modified_on) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?20)",
        params![
            d.name,
            d.kind.as_str(),
            inc.map(|e| &e.host),
            inc.map(|e| e.port),
            inc.map(|e| e.security.as_str()),
            out.map(|e| &e.host),
            out.map(|e| e.port),
            out.map(|e| e.security.as_str()),
            d.outgoing_auth.as_str(),
            d.ews_url,
            d.dav_url,
            d.credentials.as_str(),
            d.username,
            password_enc,
            d.max_connections,
            d.min_poll_interval,
            d.timeout,
            d.process_from.map(to_db),
            d.allow_insecure,
            now,
        ],
    )
    .map_err(unique_to_exists("profile", &d.name))?;
    let id = conn.last_insert_rowid();
    write_auth(conn, id, d)?;
    Ok(id)
}

/// Writes the authentication columns of a profile.
fn write_auth(conn: &Connection, id: i64, d: &ProfileData) -> Result<()> {
    let o = d.oauth.as_ref();
    conn.execute(
        "UPDATE email_server_profiles SET auth=?2, oauth_provider=?3, oauth_client_id=?4, oauth_tenant=?5, \
         oauth_issuer=?6, oauth_authorize_url=?7, oauth_token_url=?8, oauth_device_url=?9, oauth_scopes=?10, \
         graph_url=?11 WHERE id=?1",
        params![
            id,
            d.auth.as_str(),
            o.map(|o| o.provider.as_str()),
            o.map(|o| &o.client_id),
            o.and_then(|o| o.tenant.as_ref()),
            o.and_then(|o| o.issuer.as_ref()),
            o.map(|o| &o.authorize_url),
            o.map(|o| &o.token_url),
            o.and_then(|o| o.device_url.as_ref()),
            o.map(|o| o.scopes.join(" ")),
            d.graph_url,
        ],
    )?;
    Ok(())
}

/// Replaces (or with `None` removes) a profile's encrypted OAuth2 client secret.
pub fn set_client_secret(conn: &Connection, id: i64, secret_enc: Option<&[u8]>) -> Result<()> {
    conn.execute(
        "UPDATE email_server_profiles SET oauth_client_secret_enc=?2 WHERE id=?1",
        params![id, secret_enc],
    )?;
    Ok(())
}

/// The encrypted OAuth2 client secret, if any.
pub fn client_secret_enc(conn: &Connection, id: i64) -> Result<Option<Vec<u8>>> {
    Ok(conn.query_row(
        "SELECT oauth_client_secret_enc FROM email_server_profiles WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?)
}

/// Replaces a profile's settings.
pub fn update(conn: &Connection, id: i64, d: &ProfileData, password: &PasswordChange) -> Result<()> {
    let inc = d.incoming.as_ref();
    let out = d.outgoing.as_ref();
    conn.execute(
        "UPDATE email_server_profiles SET name=?2, kind=?3, incoming_host=?4, incoming_port=?5, \
         incoming_security=?6, outgoing_host=?7, outgoing_port=?8, outgoing_security=?9, outgoing_auth=?10, \
         ews_url=?11, dav_url=?12, credentials=?13, username=?14, max_connections=?15, min_poll_interval=?16, \
         timeout=?17, process_from=?18, allow_insecure=?19, modified_on=?20 WHERE id=?1",
        params![
            id,
            d.name,
            d.kind.as_str(),
            inc.map(|e| &e.host),
            inc.map(|e| e.port),
            inc.map(|e| e.security.as_str()),
            out.map(|e| &e.host),
            out.map(|e| e.port),
            out.map(|e| e.security.as_str()),
            d.outgoing_auth.as_str(),
            d.ews_url,
            d.dav_url,
            d.credentials.as_str(),
            d.username,
            d.max_connections,
            d.min_poll_interval,
            d.timeout,
            d.process_from.map(to_db),
            d.allow_insecure,
            now_db(),
        ],
    )
    .map_err(unique_to_exists("profile", &d.name))?;
    write_auth(conn, id, d)?;
    match password {
        PasswordChange::Keep => {}
        PasswordChange::Set(enc) => {
            conn.execute("UPDATE email_server_profiles SET password_enc=?2 WHERE id=?1", params![id, enc])?;
        }
        PasswordChange::Clear => {
            conn.execute("UPDATE email_server_profiles SET password_enc=NULL WHERE id=?1", [id])?;
        }
    }
    Ok(())
}

/// Finds a profile by name (case-insensitive).
pub fn find(conn: &Connection, name: &str) -> Result<Option<Profile>> {
    let sql = format!("SELECT {COLUMNS} FROM email_server_profiles WHERE name = ?1");
    conn.query_row(&sql, [name], |r| Ok(from_row(r))).optional()?.transpose()
}

/// Gets a profile by name or fails with NotFound.
pub fn get(conn: &Connection, name: &str) -> Result<Profile> {
    find(conn, name)?.ok_or_else(|| CoreError::not_found("profile", name))
}

/// Gets a profile by id.
pub fn get_by_id(conn: &Connection, id: i64) -> Result<Profile> {
    let sql = format!("SELECT {COLUMNS} FROM email_server_profiles WHERE id = ?1");
    conn.query_row(&sql, [id], |r| Ok(from_row(r)))
        .optional()?
        .transpose()?
        .ok_or_else(|| CoreError::not_found("profile", id.to_string()))
}

/// All profiles by name.
pub fn list(conn: &Connection) -> Result<Vec<Profile>> {
    let sql = format!("SELECT {COLUMNS} FROM email_server_profiles ORDER BY name");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| Ok(from_row(r)))?;
    rows.map(|r| r?).collect()
}

/// Keeps the result of a Test Connection of profile `id`: when, whether every
/// server passed, and what each said.
pub fn record_test(conn: &Connection, id: i64, ok: bool, message: &str) -> Result<()> {
    conn.execute(
        "UPDATE email_server_profiles SET last_test_on = ?2, last_test_status = ?3, last_test_message = ?4 \
         WHERE id = ?1",
        params![id, now_db(), if ok { "success" } else { "failure" }, message],
    )?;
    Ok(())
}

/// The last Test Connection of profile `id`, if one ran.
pub fn last_test(conn: &Connection, id: i64) -> Result<Option<ProfileTest>> {
    let row: Option<(Option<String>, Option<String>, Option<String>)> = conn
        .query_row(
            "SELECT last_test_on, last_test_status, last_test_message FROM email_server_profiles WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((Some(on), status, message)) = row else { return Ok(None) };
    Ok(Some(ProfileTest {
        on: from_db("last_test_on", &on)?,
        ok: status.as_deref() == Some("success"),
        message: message.unwrap_or_default(),
    }))
}

/// The encrypted profile password, if any.
pub fn password_enc(conn: &Connection, id: i64) -> Result<Option<Vec<u8>>> {
    Ok(conn.query_row("SELECT password_enc FROM email_server_profiles WHERE id = ?1", [id], |r| r.get(0))?)
}

/// Deletes a profile (the caller checks that no mailbox uses it).
pub fn delete(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("DELETE FROM email_server_profiles WHERE id = ?1", [id])?;
    Ok(())
}

/// Removes every profile's stored password and OAuth2 client secret, and
/// every OAuth2 token (after the credential key was lost they cannot be
/// decrypted); returns how many passwords and secrets were removed.
pub fn forget_all_passwords(conn: &Connection) -> Result<usize> {
    let n = conn
        .execute("UPDATE email_server_profiles SET password_enc = NULL WHERE password_enc IS NOT NULL", [])?;
    let s = conn.execute(
        "UPDATE email_server_profiles SET oauth_client_secret_enc = NULL WHERE oauth_client_secret_enc IS NOT NULL",
        [],
    )?;
    conn.execute("DELETE FROM oauth_tokens", [])?;
    Ok(n + s)
}
