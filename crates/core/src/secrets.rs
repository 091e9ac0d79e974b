//! Credentials at rest: AES-256-GCM with a per-store key kept in the OS keyring
//! (Secret Service) when one answers, else in a 0600 key file beside the database.
//!
//! Where the key lives is recorded in the store (`meta.key_location`) together
//! with a check value, so a store whose key is in the keyring never silently
//! gets a second key from a file when the keyring is unavailable (for example a
//! headless `crmsync` run over SSH): it fails with a message saying so instead.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension};

use crate::error::{CoreError, Result};

const FORMAT_V1: u8 = 1;
const AAD: &[u8] = b"crmsync-credential-v1";
const CHECK_PLAINTEXT: &[u8] = b"crmsync key check";
const KEYRING_SERVICE: &str = "crmsync";
const KEYRING_TIMEOUT: Duration = Duration::from_secs(3);

/// A secret value (a password). Its `Debug` never shows the value, and it has
/// no `Serialize`: it can be read from a form (the desktop's IPC) but is never
/// written out, so no view or `--json` output can carry it.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
pub struct Secret(String);

/// For `#[serde(deserialize_with)]` on an `Option<Secret>` form field: an empty
/// string (a password box left empty) is "not given", as `null` is.
pub fn non_empty<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Secret>, D::Error> {
    let raw: Option<String> = serde::Deserialize::deserialize(d)?;
    Ok(raw.filter(|s| !s.is_empty()).map(Secret))
}

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself; call only where it is sent to a server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the store's credential key is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLocation {
    /// The OS keyring (Secret Service).
    Keyring,
    /// A 0600 file beside the database.
    File,
}

/// Encrypts and decrypts credentials with the store's key.
pub struct Cipher {
    aead: Aes256Gcm,
    location: KeyLocation,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cipher").field("location", &self.location).finish()
    }
}

impl Cipher {
    /// Loads the key recorded in the store, creating one (keyring first, then file)
    /// when the store has none yet.
    ///
    /// Creating is done under the store's write lock, so two connections (or
    /// processes) opening one new store at once end with the same key. A key
    /// file already beside a store that has no key yet (left by a deleted store
    /// at the same path) is adopted: a store without a key holds no secrets.
    pub fn load_or_create(conn: &Connection, db_path: &Path, use_keyring: bool) -> Result<Cipher> {
        if let Some(cipher) = Cipher::load(conn, db_path)? {
            return Ok(cipher);
        }
        // Our own IMMEDIATE transaction unless the caller is already in one.
        let own = conn.is_autocommit();
        if own {
            conn.execute_batch("BEGIN IMMEDIATE")?;
        }
        let made = Cipher::create_locked(conn, db_path, use_keyring);
        if own {
            match &made {
                Ok(_) => conn.execute_batch("COMMIT")?,
                Err(_) => {
                    let _ = conn.execute_batch("ROLLBACK");
                }
            }
        }
        made
    }

    /// The recorded key, or `None` when there is none yet (or its file is gone).
    fn load(conn: &Connection, db_path: &Path) -> Result<Option<Cipher>> {
        let location: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'key_location'", [], |r| r.get(0))
            .optional()?;
        let cipher = match location.as_deref() {
            None => return Ok(None),
            Some("keyring") => {
                let installation = installation_id(conn)?;
                let key = keyring_get(&installation).map_err(|e| {
                    CoreError::Secret(format!(
                        "the credential key of this store is in the OS keyring, which does not answer ({e}); unlock the keyring or run crmsync in the desktop session"
                    ))
                })?;
                Cipher::from_key(&key, KeyLocation::Keyring)?
            }
            Some("file") => {
                let path = key_file_path(db_path);
                let Some(key) = read_key_file(&path)? else { return Ok(None) };
                Cipher::from_key(&key, KeyLocation::File)?
            }
            Some(other) => {
                return Err(CoreError::Secret(format!("unknown key location '{other}' in store")));
            }
        };
        cipher.verify_check(conn, db_path)?;
        Ok(Some(cipher))
    }

    /// Creates (or adopts) the key; call inside an IMMEDIATE transaction.
    fn create_locked(conn: &Connection, db_path: &Path, use_keyring: bool) -> Result<Cipher> {
        // Another connection may have created it while we waited for the lock.
        if let Some(cipher) = Cipher::load(conn, db_path)? {
            return Ok(cipher);
        }
        let recorded: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'key_location'", [], |r| r.get(0))
            .optional()?;
        let path = key_file_path(db_path);
        let mut fresh = [0u8; 32];
        rand::rng().fill_bytes(&mut fresh);
        let (key, location, adopted) =
            if recorded.is_none() && use_keyring && keyring_set(&installation_id(conn)?, &fresh).is_ok() {
                (fresh.to_vec(), KeyLocation::Keyring, false)
            } else {
                let (key, adopted) = install_key_file(&path, &fresh)?;
                // The key file is in place; its record in the store is not yet.
                crate::crash::point("secrets.after_key_file");
                (key, KeyLocation::File, adopted)
            };
        let cipher = Cipher::from_key(&key, location)?;
        if recorded.is_some() && adopted && cipher.verify_check(conn, db_path).is_ok() {
            // The store's own key file came back between our two looks.
            return Ok(cipher);
        }
        if recorded.is_some() {
            // The store had a key file and it is gone: the key is lost, and with
            // it every stored password. Start over with the new key; the
            // passwords must be entered again.
            let forgotten = crate::store::profiles::forget_all_passwords(conn)?
                + crate::store::mailboxes::forget_all_passwords(conn)?;
            tracing::warn!(
                key_file = %path.display(), passwords = forgotten,
                "the credential key file of this store was missing: created a new key; the stored passwords could not be decrypted without the old one and were removed (enter them again)"
            );
        } else if adopted {
            // The key check of a store that has one must match what we adopt.
            cipher.verify_check(conn, db_path)?;
            tracing::info!(key_file = %path.display(), "adopted the credential key file found beside the new store");
        }
        let check = B64.encode(cipher.encrypt(CHECK_PLAINTEXT));
        let loc = match location {
            KeyLocation::Keyring => "keyring",
            KeyLocation::File => "file",
        };
        conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('key_location', ?1), ('key_check', ?2)",
            [loc, check.as_str()],
        )?;
        tracing::info!(key_location = loc, "created credential key");
        Ok(cipher)
    }

    fn from_key(key: &[u8], location: KeyLocation) -> Result<Cipher> {
        let aead = Aes256Gcm::new_from_slice(key)
            .map_err(|_| CoreError::Secret("the credential key is not 32 bytes".into()))?;
        Ok(Cipher { aead, location })
    }

    fn verify_check(&self, conn: &Connection, db_path: &Path) -> Result<()> {
        let check: Option<String> =
            conn.query_row("SELECT value FROM meta WHERE key = 'key_check'", [], |r| r.get(0)).optional()?;
        let Some(check) = check else { return Ok(()) };
        let blob =
            B64.decode(check).map_err(|_| CoreError::Secret("the stored key check is corrupt".into()))?;
        match self.decrypt_bytes(&blob) {
            Ok(p) if p == CHECK_PLAINTEXT => Ok(()),
            _ if self.location == KeyLocation::File => {
                let path = key_file_path(db_path);
                Err(CoreError::Secret(format!(
                    "{key} is the credential key of a crmsync store at {db}, but it does not match this store (another store's key, or a replaced file), so the stored passwords cannot be decrypted. If this store's own key file is elsewhere, put it back at {key}; if it is lost (for example the file was left by a store that is gone), move {key} away: crmsync then creates a new key and the stored passwords must be entered again",
                    key = path.display(),
                    db = db_path.display(),
                )))
            }
            _ => Err(CoreError::Secret(
                "the credential key in the OS keyring does not match this store; stored passwords cannot be read".into(),
            )),
        }
    }

    /// Where the key is kept.
    pub fn location(&self) -> KeyLocation {
        self.location
    }

    /// Encrypts bytes: format byte, 12-byte random nonce, ciphertext with tag.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .aead
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: AAD })
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(1 + 12 + ct.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Encrypts a secret for storage.
    pub fn seal(&self, secret: &Secret) -> Vec<u8> {
        self.encrypt(secret.expose().as_bytes())
    }

    /// Decrypts a stored secret.
    pub fn open(&self, blob: &[u8]) -> Result<Secret> {
        let bytes = self.decrypt_bytes(blob)?;
        String::from_utf8(bytes)
            .map(Secret)
            .map_err(|_| CoreError::Secret("a stored credential is not UTF-8".into()))
    }

    fn decrypt_bytes(&self, blob: &[u8]) -> Result<Vec<u8>> {
        if blob.len() < 1 + 12 + 16 || blob[0] != FORMAT_V1 {
            return Err(CoreError::Secret("a stored credential has an unknown format".into()));
        }
        self.aead
            .decrypt(Nonce::from_slice(&blob[1..13]), Payload { msg: &blob[13..], aad: AAD })
            .map_err(|_| CoreError::Secret("a stored credential cannot be decrypted with this key".into()))
    }
}

/// The key file of a database: `crmsync.db` → `crmsync.db.key`.
pub fn key_file_path(db_path: &Path) -> PathBuf {
    let mut p = db_path.as_os_str().to_owned();
    p.push(".key");
    PathBuf::from(p)
}

fn installation_id(conn: &Connection) -> Result<String> {
    conn.query_row("SELECT value FROM meta WHERE key = 'installation_id'", [], |r| r.get(0))
        .map_err(CoreError::from)
}

/// Reads a key file; `None` when there is none.
fn read_key_file(path: &Path) -> Result<Option<Vec<u8>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CoreError::Secret(format!(
                "the credential key file {} cannot be read ({e}); stored passwords cannot be decrypted",
                path.display()
            )));
        }
    };
    let key = B64.decode(text.trim()).ok().filter(|k| k.len() == 32).ok_or_else(|| {
        CoreError::Secret(format!(
            "the credential key file {} is corrupt (it is not a crmsync credential key); move it away if no store needs it",
            path.display()
        ))
    })?;
    Ok(Some(key))
}

/// Puts `key` in place at `path` atomically: written and flushed under a
/// temporary name with mode 0600, then hard-linked to `path`, which fails
/// when a file is there already. Returns the key in place and whether it was
/// there before (a key file another opener won the race with, or one left by
/// a deleted store): that key is read and returned instead.
fn install_key_file(path: &Path, key: &[u8]) -> Result<(Vec<u8>, bool)> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| CoreError::Io { path: p, source }
    };
    let mut nonce = [0u8; 8];
    rand::rng().fill_bytes(&mut nonce);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", hex::encode(nonce)));
    let tmp = PathBuf::from(tmp);
    let written = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        // Whatever the umask: the owner alone may read the key.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(B64.encode(key).as_bytes())?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&tmp)(e));
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
            }
            Ok((key.to_vec(), false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match read_key_file(path)? {
            Some(existing) => Ok((existing, true)),
            None => Err(io(path)(e)),
        },
        Err(e) => Err(io(path)(e)),
    }
}

/// Whether the environment allows the OS keyring (`CRMSYNC_KEYRING=off` forbids it).
pub fn keyring_wanted() -> bool {
    !matches!(std::env::var("CRMSYNC_KEYRING").as_deref(), Ok("off" | "0" | "false" | "no"))
}

/// Runs a keyring call on its own thread with a timeout: the Secret Service may
/// be absent, locked behind a prompt, or slow, and must never hang crmsync.
fn with_keyring<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, String> + Send + 'static,
) -> std::result::Result<T, String> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return Err("no D-Bus session".into());
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(KEYRING_TIMEOUT).unwrap_or_else(|_| Err("the keyring did not answer in time".into()))
}

fn keyring_get(installation: &str) -> std::result::Result<Vec<u8>, String> {
    let user = installation.to_string();
    let text = with_keyring(move || {
        keyring::Entry::new(KEYRING_SERVICE, &user).and_then(|e| e.get_password()).map_err(|e| e.to_string())
    })?;
    B64.decode(text.trim()).map_err(|_| "the keyring entry is corrupt".to_string())
}

fn keyring_set(installation: &str, key: &[u8]) -> std::result::Result<(), String> {
    let user = installation.to_string();
    let value = B64.encode(key);
    with_keyring(move || {
        let entry = keyring::Entry::new(KEYRING_SERVICE, &user).map_err(|e| e.to_string())?;
        entry.set_password(&value).map_err(|e| e.to_string())?;
        // Read back: some backends accept a write they cannot keep.
        match entry.get_password() {
            Ok(v) if v == value => Ok(()),
            Ok(_) => Err("the keyring returned a different value".into()),
            Err(e) => Err(e.to_string()),
        }
    })
}
