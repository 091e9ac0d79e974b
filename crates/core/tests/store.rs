//! Store lifecycle: migrations, concurrent openers, encrypted credentials.

use std::path::{Path, PathBuf};
use std::process::Command;

use crmsync_core::Store;
use crmsync_core::model::{CredentialSource, Endpoint, OutgoingAuth, ProfileData, ProfileKind, Security};
use crmsync_core::secrets::{Secret, key_file_path};
use crmsync_core::store::{latest_version, principals, profiles};

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    (dir, path)
}

/// Tests never touch a developer's real keyring.
fn open_store(path: &Path) -> Store {
    Store::open(path).unwrap().without_keyring()
}

fn table_names(store: &Store) -> Vec<String> {
    let mut stmt =
        store.conn().prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

#[test]
fn migrating_an_empty_file_creates_the_whole_data_model_in_wal_mode() {
    let (_d, path) = temp_db();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    let tables = table_names(&store);
    for t in [
        "email_server_profiles",
        "mailboxes",
        "users",
        "queues",
        "contacts",
        "accounts",
        "leads",
        "activities",
        "activity_bodies",
        "emails",
        "appointments",
        "tasks",
        "activity_parties",
        "attachments",
        "queue_items",
        "alerts",
        "imap_folder_state",
        "imap_items",
        "pop3_items",
        "act_items",
        "act_collections",
        "settings",
        "lease",
    ] {
        assert!(tables.iter().any(|x| x == t), "missing table {t}: {tables:?}");
    }
    let mode: String = store.conn().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = store.conn().query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
    assert_eq!(fk, 1);
}

#[test]
fn a_database_made_by_every_earlier_migration_upgrades_to_the_latest() {
    for version in 1..=latest_version() {
        let (_d, path) = temp_db();
        {
            let mut old = Store::open_unmigrated(&path).unwrap();
            old.migrate_to(version).unwrap();
            assert_eq!(old.schema_version().unwrap(), version);
            principals::insert(old.conn(), principals::Kind::User, "kept@example.test", "Kept").unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_version());
        let kept = principals::find(store.conn(), principals::Kind::User, "KEPT@example.test").unwrap();
        assert_eq!(
            kept.map(|p| p.name).as_deref(),
            Some("Kept"),
            "data survives the upgrade from v{version}"
        );
    }
}

#[test]
fn bodies_written_before_version_5_are_kept_when_they_move_out_of_the_activity_row() {
    let (_d, path) = temp_db();
    {
        let mut old = Store::open_unmigrated(&path).unwrap();
        old.migrate_to(4).unwrap();
        old.conn()
            .execute_batch(
                "INSERT INTO activities (id, type, subject, body_text, body_html, created_on, modified_on) \
                 VALUES (1, 'email', 'With both', 'plain words', '<p>html words</p>', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'), \
                        (2, 'task', 'No body', NULL, NULL, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');",
            )
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let both = crmsync_core::store::activities::show(store.conn(), 1).unwrap();
    assert_eq!(both.body_text.as_deref(), Some("plain words"));
    assert_eq!(both.body_html.as_deref(), Some("<p>html words</p>"));
    let none = crmsync_core::store::activities::show(store.conn(), 2).unwrap();
    assert_eq!((none.body_text, none.body_html), (None, None));
    let columns: Vec<String> = {
        let mut stmt = store.conn().prepare("SELECT name FROM pragma_table_info('activities')").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert!(!columns.iter().any(|c| c.starts_with("body")), "{columns:?}");
}

#[test]
fn opening_a_store_newer_than_this_build_is_refused() {
    let (_d, path) = temp_db();
    {
        let store = Store::open(&path).unwrap();
        store.conn().pragma_update(None, "user_version", latest_version() + 1).unwrap();
    }
    let err = Store::open(&path).unwrap_err().to_string();
    assert!(err.contains("newer than this crmsync"), "{err}");
}

/// Child half of the concurrency test: opens the store named by the env var and adds users.
#[test]
#[ignore = "run as a child process by two_processes_opening_one_new_file_at_once_both_succeed"]
fn child_opens_store_and_writes() {
    let Ok(path) = std::env::var("CRMSYNC_CHILD_DB") else {
        return;
    };
    let tag = std::env::var("CRMSYNC_CHILD_TAG").unwrap();
    let mut store = Store::open(Path::new(&path)).unwrap();
    for i in 0..50 {
        store
            .write(|tx| {
                principals::insert(tx, principals::Kind::User, &format!("{tag}-{i}@example.test"), "U")
            })
            .unwrap();
    }
}

#[test]
fn two_processes_opening_one_new_file_at_once_both_succeed() {
    let (_d, path) = temp_db();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|tag| {
            Command::new(&exe)
                .args(["--exact", "child_opens_store_and_writes", "--ignored", "--quiet"])
                .env("CRMSYNC_CHILD_DB", &path)
                .env("CRMSYNC_CHILD_TAG", tag)
                .spawn()
                .unwrap()
        })
        .collect();
    let mut store = Store::open(&path).unwrap();
    for i in 0..50 {
        store
            .write(|tx| {
                principals::insert(tx, principals::Kind::User, &format!("parent-{i}@example.test"), "U")
            })
            .unwrap();
    }
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a concurrent opener failed");
    }
    let n: i64 = store.conn().query_row("SELECT count(*) FROM users", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 200);
    assert_eq!(store.schema_version().unwrap(), latest_version());
}

fn profile_data() -> ProfileData {
    ProfileData {
        name: "Office".into(),
        kind: ProfileKind::ImapSmtp,
        incoming: Some(Endpoint { host: "imap.example.test".into(), port: 993, security: Security::Tls }),
        outgoing: Some(Endpoint { host: "smtp.example.test".into(), port: 465, security: Security::Tls }),
        outgoing_auth: OutgoingAuth::Password,
        ews_url: None,
        graph_url: None,
        dav_url: None,
        credentials: CredentialSource::Profile,
        username: Some("svc".into()),
        max_connections: 10,
        min_poll_interval: 60,
        timeout: 60,
        process_from: None,
        allow_insecure: false,
        auth: Default::default(),
        oauth: None,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_stored_password_appears_nowhere_in_the_database_file_or_its_wal() {
    let (_d, path) = temp_db();
    let password = "Zq8-unmistakable-pa55word-Zq8";
    let mut store = open_store(&path);
    let enc = store.cipher().unwrap().seal(&Secret::new(password));
    let id = store.write(|tx| profiles::insert(tx, &profile_data(), Some(&enc))).unwrap();

    // While the store is open the row sits in the WAL; check both files now.
    let wal = std::fs::read(format!("{}-wal", path.display())).unwrap();
    let db = std::fs::read(&path).unwrap();
    assert!(!wal.is_empty(), "the write should be in the WAL");
    assert!(!contains(&wal, password.as_bytes()), "password found in WAL");
    assert!(!contains(&db, password.as_bytes()), "password found in database file");

    // The key file is beside the database with mode 0600, and decrypts.
    let key = key_file_path(&path);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    let stored = profiles::password_enc(store.conn(), id).unwrap().unwrap();
    assert_eq!(store.cipher().unwrap().open(&stored).unwrap().expose(), password);
    drop(store);

    // After a checkpoint the main file must not contain it either.
    let store = Store::open(&path).unwrap();
    store.conn().execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    drop(store);
    assert!(!contains(&std::fs::read(&path).unwrap(), password.as_bytes()));
}

#[test]
fn a_store_whose_key_file_was_replaced_refuses_to_decrypt_with_a_clear_error() {
    let (_d, path) = temp_db();
    let store = open_store(&path);
    store.cipher().unwrap();
    drop(store);
    std::fs::write(key_file_path(&path), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
    let store = open_store(&path);
    let err = store.cipher().unwrap_err().to_string();
    assert!(err.contains("does not match this store"), "{err}");
}

#[test]
fn secret_debug_output_never_shows_the_value() {
    let s = Secret::new("hunter2");
    assert_eq!(format!("{s:?}"), "Secret(***)");
}
