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

/// A secret value (a password). Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

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
    pub fn load_or_create(conn: &Connection, db_path: &Path, use_keyring: bool) -> Result<Cipher> {
        let location: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'key_location'", [], |r| r.get(0))
            .optional()?;
        let installation = installation_id(conn)?;
        let cipher = match location.as_deref() {
            Some("keyring") => {
                let key = keyring_get(&installation).map_err(|e| {
                    CoreError::Secret(format!(
                        "the credential key of this store is in the OS keyring, which does not answer ({e}); unlock the keyring or run crmsync in the desktop session"
                    ))
                })?;
                Cipher::from_key(&key, KeyLocation::Keyring)?
            }
            Some("file") => {
                let path = key_file_path(db_path);
                let key = read_key_file(&path)?;
                Cipher::from_key(&key, KeyLocation::File)?
            }
            Some(other) => {
                return Err(CoreError::Secret(format!("unknown key location '{other}' in store")));
            }
            None => {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                let location = if use_keyring && keyring_set(&installation, &key).is_ok() {
                    KeyLocation::Keyring
                } else {
                    write_key_file(&key_file_path(db_path), &key)?;
                    KeyLocation::File
                };
                let cipher = Cipher::from_key(&key, location)?;
                let check = B64.encode(cipher.encrypt(CHECK_PLAINTEXT));
                let loc = match location {
                    KeyLocation::Keyring => "keyring",
                    KeyLocation::File => "file",
                };
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('key_location', ?1), ('key_check', ?2)",
                    [loc, check.as_str()],
                )?;
                tracing::info!(key_location = loc, "created credential key");
                return Ok(cipher);
            }
        };
        cipher.verify_check(conn)?;
        Ok(cipher)
    }

    fn from_key(key: &[u8], location: KeyLocation) -> Result<Cipher> {
        let aead = Aes256Gcm::new_from_slice(key)
            .map_err(|_| CoreError::Secret("the credential key is not 32 bytes".into()))?;
        Ok(Cipher { aead, location })
    }

    fn verify_check(&self, conn: &Connection) -> Result<()> {
        let check: Option<String> =
            conn.query_row("SELECT value FROM meta WHERE key = 'key_check'", [], |r| r.get(0)).optional()?;
        let Some(check) = check else { return Ok(()) };
        let blob =
            B64.decode(check).map_err(|_| CoreError::Secret("the stored key check is corrupt".into()))?;
        match self.decrypt_bytes(&blob) {
            Ok(p) if p == CHECK_PLAINTEXT => Ok(()),
            _ => Err(CoreError::Secret(
                "the credential key does not match this store (wrong key file or keyring entry); stored passwords cannot be read".into(),
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

fn read_key_file(path: &Path) -> Result<Vec<u8>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CoreError::Secret(format!(
            "the credential key file {} cannot be read ({e}); stored passwords cannot be decrypted",
            path.display()
        ))
    })?;
    B64.decode(text.trim())
        .map_err(|_| CoreError::Secret(format!("the credential key file {} is corrupt", path.display())))
}

fn write_key_file(path: &Path, key: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| CoreError::Io { path: path.display().to_string(), source };
    let mut f =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io)?;
    f.write_all(B64.encode(key).as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
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
