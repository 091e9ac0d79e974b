//! An office against a private Dovecot: a store with one IMAP (or POP3)
//! profile, mailboxes tested and enabled through the `crmsync` binary.

use crmsync_tests::Dovecot;
use serde_json::Value;

use super::Env;

/// The password of every Dovecot account these tests create.
pub const PW: &str = "Secret-Pa55";

/// A multi-thread tokio runtime for the harness helpers.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// A store with one IMAP (or POP3) profile pointing at a private Dovecot.
pub struct Office {
    /// The store and `crmsync` runner.
    pub env: Env,
    /// The private Dovecot.
    pub dovecot: Dovecot,
    /// A runtime for the harness's async helpers.
    pub rt: tokio::runtime::Runtime,
}

impl Office {
    /// A store with profile "Office" of `kind` (imap-smtp or pop3-smtp) over TLS.
    pub fn new(kind: &str) -> Office {
        let dovecot = Dovecot::start().unwrap();
        let mut env = Env::new();
        env.envs.push(("SSL_CERT_FILE".into(), dovecot.ca_path().display().to_string()));
        let port = if kind == "pop3-smtp" { dovecot.pop3s_port() } else { dovecot.imaps_port() };
        env.ok(&[
            "profile",
            "add",
            "Office",
            "--kind",
            kind,
            "--incoming-host",
            "127.0.0.1",
            "--incoming-port",
            &port.to_string(),
            "--incoming-security",
            "tls",
            "--timeout",
            "20",
        ]);
        Office { env, dovecot, rt: rt() }
    }

    /// A user (or queue) with a Dovecot account and a mailbox, tested and enabled.
    pub fn mailbox(&self, local: &str, queue: bool, extra: &[&str]) -> String {
        self.mailbox_on("Office", local, queue, extra)
    }

    /// [`Office::mailbox`] on another profile of the store.
    pub fn mailbox_on(&self, profile: &str, local: &str, queue: bool, extra: &[&str]) -> String {
        let email = self.dovecot.address(local);
        self.dovecot.add_user(local, PW).unwrap();
        self.env.ok(&[if queue { "queue" } else { "user" }, "add", &email, "--name", local]);
        let mut args =
            vec!["mailbox", "add", &email, "--profile", profile, "--outgoing", "none", "--password-stdin"];
        args.extend_from_slice(extra);
        let out = self.env.run_stdin(&args, PW);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report = self.env.json(&["mailbox", "test-enable", &email]);
        assert_eq!(report["overall"], "success", "{report:#}");
        email
    }

    /// Delivers `raw` to `local` over LMTP.
    pub fn deliver(&self, local: &str, raw: &[u8]) {
        self.rt.block_on(self.dovecot.deliver(local, raw)).unwrap();
    }

    /// `crmsync --json sync`.
    pub fn sync(&self) -> Value {
        self.env.json(&["sync"])
    }

    /// Every email activity (`activity list --type email`).
    pub fn emails(&self) -> Vec<Value> {
        self.env.json(&["activity", "list", "--type", "email"]).as_array().unwrap().clone()
    }
}

/// A plain-text message (Message-ID optional).
pub fn msg(
    id: Option<&str>,
    from: &str,
    to: &str,
    subject: &str,
    extra_headers: &str,
    body: &str,
) -> Vec<u8> {
    let mut s = String::new();
    if let Some(id) = id {
        s.push_str(&format!("Message-ID: <{id}>\r\n"));
    }
    s.push_str(&format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Thu, 26 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n{extra_headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ));
    s.into_bytes()
}
