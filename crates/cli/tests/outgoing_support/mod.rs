//! The office the outgoing tests send from: a store with an imap-smtp
//! profile on a private Dovecot + Postfix, and helpers to look at what arrived.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use crmsync_protocols::mime;
use crmsync_tests::{Dovecot, DovecotOptions, Postfix, PostfixOptions};
use serde_json::Value;

use super::common::Env;

/// Every test account's password.
pub const PW: &str = "Secret-Pa55";

/// A store with an imap-smtp profile on a private Dovecot + Postfix, the user
/// alice (mailbox tested and enabled) and the contact bob (a Dovecot account).
pub struct Office {
    pub env: Env,
    pub dovecot: Dovecot,
    pub postfix: Postfix,
    pub rt: tokio::runtime::Runtime,
    pub alice: String,
    pub bob: String,
}

impl Office {
    pub fn new() -> Office {
        Office::with(PostfixOptions::default(), None)
    }

    /// `smtp_port`: where the profile sends (default: Postfix's AUTH port).
    pub fn with(options: PostfixOptions, smtp_port: Option<u16>) -> Office {
        Office::build(DovecotOptions::default(), options, smtp_port)
    }

    /// An office on a Dovecot started with `dovecot_options`.
    pub fn build(dovecot_options: DovecotOptions, options: PostfixOptions, smtp_port: Option<u16>) -> Office {
        let dovecot = Dovecot::start_with(dovecot_options).unwrap();
        let postfix = Postfix::start_with(&dovecot, options).unwrap();
        let mut env = Env::new();
        env.envs.push(("SSL_CERT_FILE".into(), dovecot.ca_path().display().to_string()));
        env.ok(&[
            "profile",
            "add",
            "Office",
            "--kind",
            "imap-smtp",
            "--incoming-host",
            "127.0.0.1",
            "--incoming-port",
            &dovecot.imaps_port().to_string(),
            "--incoming-security",
            "tls",
            "--outgoing-host",
            "127.0.0.1",
            "--outgoing-port",
            &smtp_port.unwrap_or(postfix.smtp_port()).to_string(),
            "--outgoing-security",
            "starttls",
            "--timeout",
            "20",
        ]);
        let alice = dovecot.address("alice");
        let bob = dovecot.address("bob");
        dovecot.add_user("alice", PW).unwrap();
        dovecot.add_user("bob", PW).unwrap();
        env.ok(&["user", "add", &alice, "--name", "Alice Adams"]);
        let contacts = env.dir().join("contacts.csv");
        std::fs::write(&contacts, format!("first_name,last_name,email\nBob,Baker,{bob}\n")).unwrap();
        env.ok(&["contact", "import", contacts.to_str().unwrap()]);
        let out = env.run_stdin(
            &["mailbox", "add", &alice, "--profile", "Office", "--track", "responses", "--password-stdin"],
            PW,
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report = env.json(&["mailbox", "test-enable", &alice]);
        assert_eq!(report["overall"], "success", "{report:#}");
        let rt = tokio::runtime::Runtime::new().unwrap();
        Office { env, dovecot, postfix, rt, alice, bob }
    }

    pub fn send(&self, extra: &[&str]) -> Value {
        let mut args = vec!["email", "send", "--from", &self.alice];
        args.extend_from_slice(extra);
        self.env.json(&args)
    }

    /// `crmsync --json sync`, whatever its exit code; the outgoing entries.
    pub fn sync(&self) -> Vec<Value> {
        let out = self.env.run(&["--json", "sync"]);
        let all: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("sync printed no JSON: {}", String::from_utf8_lossy(&out.stderr)));
        all.as_array().unwrap().iter().filter(|v| v["channel"] == "outgoing").cloned().collect()
    }

    pub fn show(&self, id: &Value) -> Value {
        self.env.json(&["activity", "show", &id.to_string()])
    }

    pub fn folder(&self, local: &str, folder: &str) -> Vec<Vec<u8>> {
        self.rt
            .block_on(self.dovecot.fetch_folder(local, PW, folder))
            .unwrap()
            .into_iter()
            .map(|m| m.raw)
            .collect()
    }

    pub fn wait_for(&self, local: &str, needle: &str) -> Vec<u8> {
        self.rt
            .block_on(self.dovecot.wait_for_message(
                local,
                PW,
                "INBOX",
                needle.as_bytes(),
                Duration::from_secs(30),
            ))
            .unwrap_or_else(|e| panic!("{e}\npostfix log:\n{}", self.postfix.log_tail(30)))
            .raw
    }

    pub fn deliver(&self, local: &str, raw: &[u8]) {
        self.rt.block_on(self.dovecot.deliver(local, raw)).unwrap();
    }
}

pub fn file(env: &Env, name: &str, content: &[u8]) -> PathBuf {
    let p = env.dir().join(name);
    std::fs::write(&p, content).unwrap();
    p
}

pub fn copies_of(messages: &[Vec<u8>], message_id: &str) -> usize {
    messages
        .iter()
        .filter_map(|m| mime::parse(m).ok())
        .filter(|p| p.message_id.as_deref() == Some(message_id))
        .count()
}

/// Postfix options that hold every message with a `slow…` recipient at RCPT
/// for `secs` seconds (the `sleep` restriction), on the AUTH port only.
pub fn slow_rcpt(dir: &std::path::Path, secs: u32) -> PostfixOptions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let map = dir.join("slow_access");
    std::fs::write(&map, "/^slow[^@]*@/ crmsync_slow\n").unwrap();
    std::fs::set_permissions(&map, std::fs::Permissions::from_mode(0o644)).unwrap();
    PostfixOptions {
        extra_main_cf: format!(
            "smtpd_restriction_classes = crmsync_slow\ncrmsync_slow = sleep {secs}\n\
             smtpd_recipient_restrictions = check_recipient_access regexp:{}, permit_sasl_authenticated, reject\n",
            map.display()
        ),
    }
}
