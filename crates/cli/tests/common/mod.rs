//! Shared helpers for tests that run the real `crmsync` binary.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub mod office;

/// A temp dir with a store path, and helpers to run `crmsync` on it.
pub struct Env {
    dir: tempfile::TempDir,
    /// The store.
    pub db: PathBuf,
    /// Extra environment for every run (e.g. SSL_CERT_FILE for a test CA).
    pub envs: Vec<(String, String)>,
}

impl Env {
    /// A fresh, empty environment.
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("crm.db");
        Env { dir, db, envs: Vec::new() }
    }

    /// A command on this store (keyring off, no inherited CRMSYNC_DB).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_crmsync"));
        c.arg("--db").arg(&self.db).args(args).env("CRMSYNC_KEYRING", "off").env_remove("CRMSYNC_DB");
        for (k, v) in &self.envs {
            c.env(k, v);
        }
        c
    }

    /// Runs and returns the output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs with `stdin` fed in.
    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs with `stdin` fed in and asserts success.
    pub fn ok_stdin(&self, args: &[&str], stdin: &str) {
        let out = self.run_stdin(args, stdin);
        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Writes a file in the test's temp dir and returns its path.
    pub fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }

    /// Runs, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs with `--json`, asserts success, parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        serde_json::from_str(&self.ok(&a)).unwrap()
    }

    /// The temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every row of every table, for "the store is unchanged" checks.
    pub fn snapshot(&self) -> String {
        dump(&self.db)
    }

    /// Opens the store directly (read-only use in assertions).
    pub fn store(&self) -> crmsync_core::Store {
        crmsync_core::Store::open(&self.db).unwrap().without_keyring()
    }

    /// One integer from a SQL query on the store.
    pub fn count(&self, sql: &str) -> i64 {
        self.store().conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

fn dump(db: &Path) -> String {
    let store = crmsync_core::Store::open(db).unwrap();
    let c = store.conn();
    let mut out = String::new();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for t in tables {
        let mut stmt = c.prepare(&format!("SELECT * FROM \"{t}\" ORDER BY 1")).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                Ok((0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|"))
            })
            .unwrap();
        for row in rows {
            out.push_str(&format!("{t}: {}\n", row.unwrap()));
        }
    }
    out
}

/// Dovecot with the user `alice` (password `password`) and a Postfix relaying to it.
pub struct Servers {
    /// The harness Dovecot.
    pub dovecot: crmsync_tests::Dovecot,
    /// The harness Postfix.
    pub postfix: crmsync_tests::Postfix,
}

/// Starts [`Servers`].
pub fn servers(password: &str) -> Servers {
    let dovecot = crmsync_tests::Dovecot::start().unwrap();
    dovecot.add_user("alice", password).unwrap();
    let postfix = crmsync_tests::Postfix::start(&dovecot).unwrap();
    Servers { dovecot, postfix }
}

/// A store with profile "Office": IMAP on `incoming_port` (TLS), SMTP
/// submission with STARTTLS; the harness CA trusted when `trust_ca`.
pub fn office_env(s: &Servers, trust_ca: bool, incoming_port: u16) -> Env {
    let mut env = Env::new();
    if trust_ca {
        env.envs.push(("SSL_CERT_FILE".into(), s.dovecot.ca_path().display().to_string()));
    }
    env.ok(&[
        "profile",
        "add",
        "Office",
        "--kind",
        "imap-smtp",
        "--incoming-host",
        "127.0.0.1",
        "--incoming-port",
        &incoming_port.to_string(),
        "--outgoing-host",
        "127.0.0.1",
        "--outgoing-port",
        &s.postfix.submission_port().to_string(),
        "--outgoing-security",
        "starttls",
        "--timeout",
        "10",
    ]);
    env
}
