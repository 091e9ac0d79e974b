//! The CRM store: SQLite in WAL mode with foreign keys, a busy timeout and
//! embedded versioned migrations. All SQL lives under this module so another
//! store (PostgreSQL) can be added behind the same functions later.

pub mod act;
pub mod activities;
pub mod alerts;
pub mod appointments;
pub mod emails;
pub mod ews_state;
pub mod graph_state;
pub mod history;
pub mod lease;
pub mod mailbox_state;
pub mod mailboxes;
mod migrations;
pub mod oauth_tokens;
pub mod outbox;
pub mod principals;
pub mod profiles;
pub mod records;
pub mod send_log;
pub mod settings;
pub mod sync_state;
pub mod tasks;

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{CoreError, Result};
use crate::secrets::Cipher;

pub use migrations::{MIGRATIONS, latest_version};

/// How long a writer waits for another process's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

/// An open store: one SQLite connection plus the credential cipher (loaded on first use).
pub struct Store {
    conn: Connection,
    path: PathBuf,
    cipher: OnceCell<Cipher>,
    keyring: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path` and migrates it to the latest version.
    pub fn open(path: &Path) -> Result<Store> {
        let mut store = Store::open_unmigrated(path)?;
        migrations::migrate(&mut store.conn, latest_version())?;
        Ok(store)
    }

    /// Opens without migrating (for migration tests and diagnostics).
    pub fn open_unmigrated(path: &Path) -> Result<Store> {
        let open_err = |source: Box<dyn std::error::Error + Send + Sync>| CoreError::Open {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            private_dir_all(parent).map_err(|e| open_err(Box::new(e)))?;
        }
        create_private_file(path).map_err(|e| open_err(Box::new(e)))?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(|e| open_err(Box::new(e)))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| open_err(Box::new(e)))?;
        let mode = set_wal_mode(&conn).map_err(|e| open_err(Box::new(e)))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_err(format!("cannot switch to WAL mode (got {mode})").into()));
        }
        // FULL: a commit is on disk before we mark or delete mail on the server,
        // so even a power cut cannot lose a message the server no longer has.
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")
            .map_err(|e| open_err(Box::new(e)))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            cipher: OnceCell::new(),
            keyring: crate::secrets::keyring_wanted(),
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for reads and single-statement writes.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Schema version of the open file.
    pub fn schema_version(&self) -> Result<u32> {
        migrations::current_version(&self.conn)
    }

    /// Migrates up to `version` (tests use this to build every earlier schema).
    pub fn migrate_to(&mut self, version: u32) -> Result<()> {
        migrations::migrate(&mut self.conn, version)
    }

    /// Runs `f` in one IMMEDIATE transaction: committed when it returns `Ok`,
    /// rolled back (nothing changed) when it returns `Err`.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<CoreError>,
    {
        let tx =
            self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(CoreError::from)?;
        let value = f(&tx)?;
        tx.commit().map_err(CoreError::from)?;
        Ok(value)
    }

    /// Never use the OS keyring for this store's key (tests, and the
    /// `CRMSYNC_KEYRING=off` environment variable, do this).
    pub fn without_keyring(mut self) -> Store {
        self.keyring = false;
        self
    }

    /// The credential cipher, loading or creating the key on first use.
    pub fn cipher(&self) -> Result<&Cipher> {
        if let Some(c) = self.cipher.get() {
            return Ok(c);
        }
        let c = Cipher::load_or_create(&self.conn, &self.path, self.keyring)?;
        Ok(self.cipher.get_or_init(|| c))
    }
}

/// Creates the database file, if it does not exist yet, readable and writable
/// by its owner only, whatever the umask. SQLite then gives its `-wal` and
/// `-shm` files the database file's mode.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(f) => f.set_permissions(std::fs::Permissions::from_mode(0o600)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates `dir` and its missing parents with mode 0700 (owner only),
/// whatever the umask; existing folders are left as they are.
pub(crate) fn private_dir_all(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        private_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Switches to WAL. Changing the journal mode of a new file takes an exclusive
/// lock and SQLite does not call the busy handler for it, so a second process
/// opening the same new file at the same moment must retry by itself.
fn set_wal_mode(conn: &Connection) -> rusqlite::Result<String> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Maps a UNIQUE constraint violation to [`CoreError::AlreadyExists`].
pub(crate) fn unique_to_exists(what: &'static str, key: &str) -> impl FnOnce(rusqlite::Error) -> CoreError {
    let key = key.to_string();
    move |e| match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            CoreError::AlreadyExists { what, key }
        }
        _ => CoreError::from(e),
    }
}

/// The store used when neither `--db` nor `$CRMSYNC_DB` names one: the
/// platform data directory, e.g. `~/.local/share/crmsync/crmsync.db`.
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CRMSYNC_DB").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    directories::ProjectDirs::from("", "", "crmsync")
        .map(|d| d.data_dir().join("crmsync.db"))
        .unwrap_or_else(|| PathBuf::from("crmsync.db"))
}
