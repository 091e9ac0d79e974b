//! Incoming sync state of Microsoft 365 (Graph) mailboxes: the delta link of
//! each folder (the durable watermark) and the idempotency key (mailbox,
//! folder, Graph message id) of every message processed, with the server
//! change (read flag, delete) still to make after the commit.

use rusqlite::{Connection, OptionalExtension, params};

use super::sync_state::Outcome;
use crate::error::Result;
use crate::time::now_db;

/// A change the server must still get for a committed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerChange {
    /// Mark it read.
    Read,
    /// Delete it (delete-after-processing).
    Delete,
}

impl ServerChange {
    fn as_str(self) -> &'static str {
        match self {
            ServerChange::Read => "read",
            ServerChange::Delete => "delete",
        }
    }
}

fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Tracked => "tracked",
        Outcome::NotTracked => "not_tracked",
        Outcome::Failed => "failed",
    }
}

/// The stored delta link of a folder (None: start from scratch).
pub fn delta_link(conn: &Connection, mailbox_id: i64, folder: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT delta_link FROM graph_folder_state WHERE mailbox_id=?1 AND folder=?2",
            params![mailbox_id, folder],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

/// Stores (or with None forgets) the delta link of a folder.
pub fn set_delta_link(conn: &Connection, mailbox_id: i64, folder: &str, link: Option<&str>) -> Result<()> {
    conn.execute(
        "INSERT INTO graph_folder_state (mailbox_id, folder, delta_link) VALUES (?1,?2,?3) \
         ON CONFLICT(mailbox_id, folder) DO UPDATE SET delta_link = excluded.delta_link",
        params![mailbox_id, folder, link],
    )?;
    Ok(())
}

/// Whether the message `item_id` of a folder was processed already.
pub fn item_done(conn: &Connection, mailbox_id: i64, folder: &str, item_id: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM graph_items WHERE mailbox_id=?1 AND folder=?2 AND item_id=?3",
            params![mailbox_id, folder, item_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Records the outcome of one message (in the same transaction as its
/// activity), with the server change it still needs, if any.
pub fn record_item(
    conn: &Connection,
    mailbox_id: i64,
    folder: &str,
    item_id: &str,
    outcome: Outcome,
    change: Option<ServerChange>,
) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO graph_items (mailbox_id, folder, item_id, outcome, server_change, processed_on) \
         VALUES (?1,?2,?3,?4,?5,?6)",
        params![mailbox_id, folder, item_id, outcome_str(outcome), change.map(ServerChange::as_str), now_db()],
    )?;
    Ok(())
}

/// Messages of a folder whose server change is still pending.
pub fn pending_changes(
    conn: &Connection,
    mailbox_id: i64,
    folder: &str,
) -> Result<Vec<(String, ServerChange)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT item_id, server_change FROM graph_items WHERE mailbox_id=?1 AND folder=?2 \
         AND server_change IN ('read', 'delete') ORDER BY processed_on, item_id",
    )?;
    let rows = stmt.query_map(params![mailbox_id, folder], |r| {
        let change: String = r.get(1)?;
        Ok((r.get(0)?, if change == "delete" { ServerChange::Delete } else { ServerChange::Read }))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The server change of a message was made.
pub fn change_done(conn: &Connection, mailbox_id: i64, folder: &str, item_id: &str) -> Result<()> {
    conn.execute(
        "UPDATE graph_items SET server_change='done' WHERE mailbox_id=?1 AND folder=?2 AND item_id=?3",
        params![mailbox_id, folder, item_id],
    )?;
    Ok(())
}

/// Forgets a message that left the folder (deleted or moved: a message that
/// comes back has a new id).
pub fn forget_item(conn: &Connection, mailbox_id: i64, folder: &str, item_id: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM graph_items WHERE mailbox_id=?1 AND folder=?2 AND item_id=?3 \
         AND (server_change IS NULL OR server_change = 'done')",
        params![mailbox_id, folder, item_id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    #[test]
    fn a_pending_change_survives_until_done_and_a_removed_message_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let c = store.conn();
        c.execute_batch(
            "INSERT INTO users (id, email, name, created_on) VALUES (1,'a@x.test','A','t');
             INSERT INTO email_server_profiles (id, name, kind, created_on, modified_on) VALUES (1,'P','microsoft365','t','t');
             INSERT INTO mailboxes (id, email, user_id, profile_id, created_on, modified_on) VALUES (1,'a@x.test',1,1,'t','t');",
        )
        .unwrap();
        assert_eq!(delta_link(c, 1, "inbox").unwrap(), None);
        set_delta_link(c, 1, "inbox", Some("https://g/delta?t=1")).unwrap();
        assert_eq!(delta_link(c, 1, "inbox").unwrap().as_deref(), Some("https://g/delta?t=1"));
        record_item(c, 1, "inbox", "m1", Outcome::Tracked, Some(ServerChange::Delete)).unwrap();
        record_item(c, 1, "inbox", "m2", Outcome::NotTracked, None).unwrap();
        assert!(item_done(c, 1, "inbox", "m1").unwrap());
        assert_eq!(pending_changes(c, 1, "inbox").unwrap(), vec![("m1".to_string(), ServerChange::Delete)]);
        forget_item(c, 1, "inbox", "m1").unwrap();
        assert!(item_done(c, 1, "inbox", "m1").unwrap(), "a pending delete is never forgotten");
        change_done(c, 1, "inbox", "m1").unwrap();
        assert!(pending_changes(c, 1, "inbox").unwrap().is_empty());
        forget_item(c, 1, "inbox", "m1").unwrap();
        forget_item(c, 1, "inbox", "m2").unwrap();
        assert!(!item_done(c, 1, "inbox", "m1").unwrap());
        assert!(!item_done(c, 1, "inbox", "m2").unwrap());
    }

    #[test]
    fn version_8_keeps_profiles_mailboxes_and_tokens_and_accepts_microsoft365() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_unmigrated(&dir.path().join("s.db")).unwrap();
        store.migrate_to(7).unwrap();
        store
            .conn()
            .execute_batch(
                "INSERT INTO users (id, email, name, created_on) VALUES (1,'a@x.test','A','t');
                 INSERT INTO email_server_profiles (id, name, kind, auth, oauth_provider, created_on, modified_on)
                     VALUES (7,'Office','imap-smtp','oauth2','custom','t','t');
                 INSERT INTO mailboxes (id, email, user_id, profile_id, created_on, modified_on) VALUES (3,'a@x.test',1,7,'t','t');
                 INSERT INTO oauth_tokens (profile_id, mailbox_id, updated_on) VALUES (7, 3, 't');",
            )
            .unwrap();
        assert!(
            store
                .conn()
                .execute("UPDATE email_server_profiles SET kind='microsoft365' WHERE id=7", [])
                .is_err(),
            "version 7 does not know the kind"
        );
        store.migrate_to(8).unwrap();
        let c = store.conn();
        let fk: bool = c.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert!(fk, "foreign keys are on again after the migration");
        let (kind, auth): (String, String) = c
            .query_row("SELECT kind, auth FROM email_server_profiles WHERE id=7", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((kind.as_str(), auth.as_str()), ("imap-smtp", "oauth2"));
        c.execute("UPDATE email_server_profiles SET kind='microsoft365', graph_url='https://g.test/v1.0' WHERE id=7", [])
            .unwrap();
        let tokens: i64 =
            c.query_row("SELECT count(*) FROM oauth_tokens WHERE profile_id=7", [], |r| r.get(0)).unwrap();
        assert_eq!(tokens, 1, "the mailbox's tokens stay");
        assert!(
            c.execute("DELETE FROM email_server_profiles WHERE id=7", []).is_err(),
            "the mailbox still holds its profile (RESTRICT)"
        );
    }
}
