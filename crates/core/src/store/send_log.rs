//! The send log: how a sending pass records, between its store commits, that
//! an email's SMTP transaction began and that the server accepted an email.
//!
//! Written into SQLite for every email, those two facts cost several pages of
//! store log each (the email row and two index pages move with every status
//! change), all forced to the disk — the one the mail server flushes its queue
//! to, when both run on one machine — by the next claim's commit. Here each
//! fact is one short line appended to the pass's own file,
//! `<store file>-sending/<token>.log`: one `write`, no flush. Like an unflushed
//! SQLite commit it survives crmsync being killed (the kernel holds it), and
//! a power cut can lose it. The pass folds its facts into the store in its next
//! commit, which is flushed — the next batch's claim, or the end of the pass —
//! and then empties the file.
//!
//! While its pass runs, the file is locked. A file nobody holds belongs to a
//! pass that stopped: [`recover`] folds it into the store and removes it, and
//! reports the passes still running, whose claims must be left alone (their
//! starts may not be in the store yet).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::error::{CoreError, Result};
use crate::store::outbox::{self, SentCopy};

/// One recorded fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// The SMTP transaction of email `id` began at `at`.
    Started {
        /// Activity id of the email.
        id: i64,
        /// When (store time format).
        at: String,
    },
    /// The server accepted email `id` at `at`; its Sent copy is `copy`.
    Sent {
        /// Activity id of the email.
        id: i64,
        /// When (store time format).
        at: String,
        /// What becomes of the copy in the Sent folder.
        copy: SentCopy,
    },
}

impl Fact {
    fn line(&self) -> String {
        match self {
            Fact::Started { id, at } => format!("started {id} {at}\n"),
            Fact::Sent { id, at, copy } => format!("sent {id} {at} {}\n", copy.as_str()),
        }
    }

    /// Parses one line; `None` for anything else (a line torn by a power cut).
    fn parse(line: &str) -> Option<Fact> {
        let mut f = line.split(' ');
        let fact = match (f.next()?, f.next()?.parse().ok()?, f.next()?) {
            ("started", id, at) => Fact::Started { id, at: at.into() },
            ("sent", id, at) => Fact::Sent { id, at: at.into(), copy: SentCopy::parse(f.next()?)? },
            _ => return None,
        };
        crate::time::from_db("at", fact.at()).ok()?;
        f.next().is_none().then_some(fact)
    }

    fn at(&self) -> &str {
        match self {
            Fact::Started { at, .. } | Fact::Sent { at, .. } => at,
        }
    }

    /// Writes the fact into the store for the pass holding `token`. Applying a
    /// fact twice, or after the email moved on, changes nothing.
    fn apply(&self, conn: &Connection, token: &str) -> Result<()> {
        match self {
            Fact::Started { id, at } => {
                outbox::mark_started(conn, *id, token, at)?;
            }
            Fact::Sent { id, at, copy } => outbox::mark_sent(conn, *id, at, *copy)?,
        }
        Ok(())
    }
}

/// The folder holding the send logs of the store at `store_path`.
pub fn dir_of(store_path: &Path) -> PathBuf {
    let mut name = store_path.as_os_str().to_owned();
    name.push("-sending");
    PathBuf::from(name)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CoreError + '_ {
    move |source| CoreError::Io { path: path.display().to_string(), source }
}

/// A running pass's send log, locked while it is open.
#[derive(Debug)]
pub struct SendLog {
    path: PathBuf,
    file: File,
    token: String,
    pending: Vec<Fact>,
}

impl SendLog {
    /// Creates and locks the log of the pass holding `token` (letters, digits
    /// and '-'), before that pass claims anything.
    pub fn create(store_path: &Path, token: &str) -> Result<SendLog> {
        if token.is_empty() || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(CoreError::invalid("claim-token", format!("'{token}' cannot name a file")));
        }
        let dir = dir_of(store_path);
        crate::store::private_dir_all(&dir).map_err(io_error(&dir))?;
        // Locked under a name recovery ignores, then renamed: recovery never
        // sees this pass's log unlocked.
        let new = dir.join(format!("{token}.new"));
        // Read and write access (not append-only): Windows locks and truncates
        // only such handles. Lines go at the cursor, which `folded` rewinds.
        let file = OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&new)
            .map_err(io_error(&new))?;
        // Owner only, whatever the umask.
        file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io_error(&new))?;
        file.try_lock().map_err(|e| io_error(&new)(e.into()))?;
        let path = dir.join(format!("{token}.log"));
        fs::rename(&new, &path).map_err(io_error(&path))?;
        Ok(SendLog { path, file, token: token.into(), pending: Vec::new() })
    }

    /// The claim token of the pass.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Records a fact: appended to the file (one write, not flushed) and kept
    /// for the next [`SendLog::fold`].
    pub fn record(&mut self, fact: Fact) -> Result<()> {
        self.file.write_all(fact.line().as_bytes()).map_err(io_error(&self.path))?;
        self.pending.push(fact);
        Ok(())
    }

    /// Whether facts wait to be folded into the store.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Writes the facts recorded since the last fold into the store, inside
    /// the caller's transaction. Call [`SendLog::folded`] once it committed.
    pub fn fold(&self, conn: &Connection) -> Result<()> {
        for fact in &self.pending {
            fact.apply(conn, &self.token)?;
        }
        Ok(())
    }

    /// The transaction holding the last fold committed: the facts are in the
    /// store, and the file is emptied.
    pub fn folded(&mut self) -> Result<()> {
        self.pending.clear();
        self.file.set_len(0).map_err(io_error(&self.path))?;
        self.file.rewind().map_err(io_error(&self.path))
    }

    /// Ends the pass: the log is removed. Facts not folded yet stay in the
    /// file, for [`recover`] to fold.
    pub fn close(self) -> Result<()> {
        if self.pending.is_empty() {
            fs::remove_file(&self.path).map_err(io_error(&self.path))?;
        }
        Ok(())
    }
}

/// What [`recover`] found.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Claim tokens of passes still running (their logs are locked).
    pub live: Vec<String>,
    /// Facts of stopped passes written into the store.
    pub folded: usize,
    /// Lines that were not facts (torn by a power cut), skipped.
    pub skipped: usize,
    /// Logs of stopped passes, held locked until [`Recovery::finish`].
    done: Vec<(PathBuf, File)>,
}

impl Recovery {
    /// After the transaction holding the recovery committed: removes the
    /// stopped passes' logs.
    pub fn finish(self) -> Result<()> {
        for (path, _lock) in &self.done {
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(path)(e)),
            }
        }
        Ok(())
    }
}

/// Folds the logs of stopped passes into the store (inside the caller's
/// transaction) and lists the passes still running. Call
/// [`Recovery::finish`] after the commit.
pub fn recover(conn: &Connection, store_path: &Path) -> Result<Recovery> {
    let dir = dir_of(store_path);
    let mut found = Recovery::default();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(io_error(&dir)(e)),
    };
    let mut logs: Vec<(PathBuf, String, bool)> = Vec::new();
    for entry in entries {
        let path = entry.map_err(io_error(&dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if let Some(token) = name.strip_suffix(".log") {
            logs.push((path.clone(), token.into(), true));
        } else if let Some(token) = name.strip_suffix(".new") {
            logs.push((path.clone(), token.into(), false));
        }
    }
    logs.sort();
    for (path, token, is_log) in logs {
        let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue, // its pass just ended
            Err(e) => return Err(io_error(&path)(e)),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                if is_log {
                    found.live.push(token);
                }
                continue;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(&path)(e)),
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_error(&path))?;
        for line in String::from_utf8_lossy(&bytes).lines() {
            match Fact::parse(line) {
                Some(fact) => {
                    fact.apply(conn, &token)?;
                    found.folded += 1;
                }
                None if line.trim_matches('\0').trim().is_empty() => {}
                None => found.skipped += 1,
            }
        }
        found.done.push((path, file));
    }
    Ok(found)
}
