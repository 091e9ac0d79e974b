//! Incoming email end to end against a real Dovecot (IMAP and POP3): what an
//! admin would check after `mailbox test-enable` and `crmsync sync`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::Env;
use common::office::{Office, PW, msg};
use serde_json::Value;

/// Hand-written messages covering what an office receives.
fn realistic_corpus(to: &str) -> Vec<Vec<u8>> {
    let mut v = vec![
        msg(Some("t1@ext.test"), "Ben <ben@contoso.test>", to, "Quote request", "", "Hello"),
        msg(Some("t2@ext.test"), "ben@contoso.test", to, "Re: Quote request", "In-Reply-To: <t1@ext.test>\r\nReferences: <t1@ext.test>\r\n", "Follow-up"),
        msg(Some("t3@ext.test"), "ben@contoso.test", to, "=?utf-8?q?Re=3A_Angebot_f=C3=BCr_Sie_CRM=3A0000042?=", "", "Token inside an encoded word"),
        msg(Some("t4@ext.test"), "=?iso-8859-1?q?Ren=E9_M=FCller?= <rene@fabrikam.test>", to, "=?utf-8?b?w4TDpMOkIMOcYmVyc2NocmlmdA==?=", "", "Grüße"),
        msg(None, "nomsgid@ext.test", to, "No Message-ID here", "", "Dedupe by header digest"),
        b"From: broken@ext.test\r\nTo: x@example.test\r\nSubject: broken multipart\r\nMessage-ID: <t6@ext.test>\r\nContent-Type: multipart/mixed; boundary=\"missing\"\r\n\r\nno boundary ever appears\r\n".to_vec(),
    ];
    v.push(format!(
        "Message-ID: <t7@ext.test>\r\nFrom: ben@contoso.test\r\nTo: {to}\r\nSubject: With attachment\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached\r\n--b\r\nContent-Type: application/pdf; name=\"=?utf-8?q?Angebot_M=C3=BCller.pdf?=\"\r\nContent-Disposition: attachment; filename*=utf-8''Angebot%20M%C3%BCller.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
    ).into_bytes());
    v
}

fn corpus_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            corpus_files(&p, out);
        } else if !name.starts_with("LICENSE") && name != "SOURCES.md" {
            out.push(p);
        }
    }
}

#[test]
fn every_message_of_a_realistic_corpus_is_tracked_exactly_once_and_nothing_is_lost() {
    let o = Office::new("imap-smtp");
    let alice = o.mailbox("alice", false, &["--track", "all"]);
    for m in realistic_corpus(&alice) {
        o.deliver("alice", &m);
    }
    // The shared corpus sits beside the checkout (which may be a nested worktree).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("shared/fixtures/mime"))
        .find(|d| d.is_dir())
        .expect("the shared MIME corpus (shared/fixtures/mime beside the checkout)");
    let mut files = Vec::new();
    corpus_files(&root, &mut files);
    assert!(files.len() >= 300, "shared MIME corpus missing at {}", root.display());
    for f in &files {
        // Dovecot may refuse a few non-messages over LMTP; the mailbox holds what it took.
        let _ = o.rt.block_on(o.dovecot.deliver("alice", &std::fs::read(f).unwrap()));
    }
    let on_server = o.rt.block_on(o.dovecot.list_inbox("alice", PW)).unwrap().len() as i64;
    assert!(on_server > 250, "only {on_server} messages reached the mailbox");

    let report = o.sync();
    assert_eq!(report[0]["result"], "ok", "{report:#}");
    // Every server message has exactly one outcome; failures are kept whole.
    let items = o.env.count("SELECT count(*) FROM imap_items");
    assert_eq!(items, on_server, "every message processed once");
    let failed = o.env.count("SELECT count(*) FROM imap_items WHERE outcome = 'failed'");
    assert_eq!(failed, o.env.count("SELECT count(*) FROM failed_items"), "each failure is kept whole");
    let tracked = o.env.count("SELECT count(*) FROM imap_items WHERE outcome = 'tracked'");
    assert_eq!(tracked + failed, on_server, "with track=all nothing is filtered out");
    // One activity per distinct message (the corpus repeats some Message-IDs).
    let activities = o.env.count("SELECT count(*) FROM activities WHERE type = 'email'");
    let distinct = o.env.count("SELECT count(DISTINCT dedupe_key) FROM emails");
    assert_eq!(activities, distinct);

    let emails = o.emails();
    let by_id: BTreeMap<String, &Value> =
        emails.iter().filter_map(|e| Some((e["message_id"].as_str()?.to_string(), e))).collect();
    for id in ["t1@ext.test", "t2@ext.test", "t3@ext.test", "t4@ext.test", "t6@ext.test", "t7@ext.test"] {
        assert!(by_id.contains_key(id), "{id} not tracked");
    }
    assert_eq!(by_id["t3@ext.test"]["subject"], "Re: Angebot für Sie CRM:0000042");
    assert_eq!(by_id["t3@ext.test"]["tracking_token"], "CRM:0000042");
    assert_eq!(by_id["t4@ext.test"]["from"]["name"], "René Müller");
    assert_eq!(by_id["t4@ext.test"]["subject"], "Äää Überschrift");
    assert_eq!(by_id["t2@ext.test"]["correlation_method"], "in_reply_to");
    let att = &by_id["t7@ext.test"]["attachments"][0];
    assert_eq!(att["name"], "Angebot Müller.pdf");
    assert_eq!(att["saved"], true);
    assert!(emails.iter().any(|e| e["subject"] == "No Message-ID here"));

    // A second cycle changes nothing.
    let before = o.env.snapshot_without_telemetry();
    o.sync();
    assert_eq!(o.env.snapshot_without_telemetry(), before, "a no-change sync must not change the CRM");
}

trait Snap {
    fn snapshot_without_telemetry(&self) -> String;
}

impl Snap for Env {
    fn snapshot_without_telemetry(&self) -> String {
        // The mailbox's telemetry and its history of runs change with every sync.
        self.snapshot()
            .lines()
            .filter(|l| !l.starts_with("mailboxes:") && !l.starts_with("sync_runs:"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[test]
fn a_kill_9_during_sync_and_a_rerun_leave_exactly_one_activity_per_message() {
    let o = Office::new("imap-smtp");
    let alice = o.mailbox("alice", false, &["--track", "all"]);
    o.env.ok(&["settings", "set", "incoming.fetch_batch_size", "10"]);
    let n = 300;
    for i in 0..n {
        o.deliver(
            "alice",
            &msg(
                Some(&format!("k{i}@ext.test")),
                "ben@contoso.test",
                &alice,
                &format!("m{i}"),
                "",
                &"x".repeat(2000),
            ),
        );
    }
    let mut child = o
        .env
        .cmd(&["sync"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = o.env.count("SELECT count(*) FROM imap_items");
        if done >= 20 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    let partial = o.env.count("SELECT count(*) FROM activities");
    assert!(partial < n, "the kill came too late to prove anything ({partial} of {n} done)");
    o.sync();
    assert_eq!(o.env.count("SELECT count(*) FROM activities"), n);
    assert_eq!(o.env.count("SELECT count(DISTINCT message_id) FROM emails"), n);
    assert_eq!(o.env.count("SELECT count(*) FROM imap_items"), n);
}

#[test]
fn a_uidvalidity_reset_rescans_without_duplicates() {
    let o = Office::new("imap-smtp");
    let alice = o.mailbox("alice", false, &["--track", "all"]);
    for i in 0..5 {
        o.deliver("alice", &msg(Some(&format!("u{i}@ext.test")), "ben@contoso.test", &alice, "s", "", "b"));
    }
    o.sync();
    let before = o.rt.block_on(o.dovecot.uidvalidity("alice", PW, "INBOX")).unwrap();
    o.dovecot.reset_uidvalidity("alice", "INBOX").unwrap();
    let after = o.rt.block_on(o.dovecot.uidvalidity("alice", PW, "INBOX")).unwrap();
    assert_ne!(before, after, "the harness must really reset UIDVALIDITY");
    o.deliver("alice", &msg(Some("u5@ext.test"), "ben@contoso.test", &alice, "s", "", "b"));
    o.sync();
    assert_eq!(o.env.count("SELECT count(*) FROM activities"), 6);
    assert_eq!(o.env.count("SELECT count(DISTINCT message_id) FROM emails"), 6);
}

#[test]
fn the_same_message_in_a_user_and_a_queue_mailbox_is_one_activity_with_two_receivers() {
    let o = Office::new("imap-smtp");
    let alice = o.mailbox("alice", false, &["--track", "all"]);
    let support = o.mailbox("support", true, &["--track", "all"]);
    let m = msg(
        Some("shared@ext.test"),
        "ben@contoso.test",
        &format!("{alice}, {support}"),
        "Both of you",
        "",
        "hi",
    );
    o.deliver("alice", &m);
    o.deliver("support", &m);
    o.sync();
    let emails = o.emails();
    assert_eq!(emails.len(), 1);
    let receivers: BTreeSet<&str> =
        emails[0]["receiving_mailboxes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(receivers, BTreeSet::from([alice.as_str(), support.as_str()]));
    let items = o.env.json(&["queue", "items", &support]);
    assert_eq!(items.as_array().unwrap().len(), 1, "the queue holds the email once");
    // The queue mailbox marks what it tracked as \Seen (after the commit); the user's stays unread.
    let q = o.rt.block_on(o.dovecot.list_inbox("support", PW)).unwrap();
    assert!(q[0].has_flag("\\Seen"));
    let a = o.rt.block_on(o.dovecot.list_inbox("alice", PW)).unwrap();
    assert!(!a[0].has_flag("\\Seen"), "a user's own mail is never marked read");
}

#[test]
fn each_tracking_filter_tracks_what_its_name_says() {
    let o = Office::new("imap-smtp");
    let contacts = o.env.dir().join("contacts.csv");
    std::fs::write(&contacts, "first_name,last_name,email\nBen,Baker,ben@contoso.test\n").unwrap();
    o.env.ok(&["contact", "import", contacts.to_str().unwrap()]);
    let q = o.mailbox("support", true, &["--track", "none"]);
    let filters = ["all", "responses", "crm-records", "email-enabled", "none"];
    let boxes: Vec<String> =
        filters.iter().map(|f| o.mailbox(&format!("u-{f}"), false, &["--track", f])).collect();
    // The conversation a response answers: tracked first by the "all" mailbox.
    o.deliver("u-all", &msg(Some("root@ext.test"), "ann@stranger.test", &boxes[0], "Original", "", "x"));
    o.sync();
    let messages = |to: &str| {
        vec![
            (
                "from-contact",
                msg(Some(&format!("c-{to}")), "ben@contoso.test", to, "Hello from a contact", "", "x"),
            ),
            (
                "response",
                msg(
                    Some(&format!("r-{to}")),
                    "zed@stranger.test",
                    to,
                    "Re: Original",
                    "In-Reply-To: <root@ext.test>\r\n",
                    "x",
                ),
            ),
            (
                "to-queue",
                msg(
                    Some(&format!("q-{to}")),
                    "zed@stranger.test",
                    &format!("{to}, {q}"),
                    "Cc the queue",
                    "",
                    "x",
                ),
            ),
            ("stranger", msg(Some(&format!("s-{to}")), "zed@stranger.test", to, "Cold mail", "", "x")),
        ]
    };
    for (i, f) in filters.iter().enumerate() {
        for (_, m) in messages(&boxes[i]) {
            o.deliver(&format!("u-{f}"), &m);
        }
    }
    o.sync();
    let tracked = |mailbox: &str| -> BTreeSet<String> {
        o.env
            .json(&["activity", "list", "--mailbox", mailbox])
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["message_id"] != "root@ext.test")
            .map(|e| e["message_id"].as_str().unwrap().split('-').next().unwrap().to_string())
            .collect()
    };
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(tracked(&boxes[0]), set(&["c", "q", "r", "s"]), "all");
    assert_eq!(tracked(&boxes[1]), set(&["r"]), "responses");
    assert_eq!(tracked(&boxes[2]), set(&["c"]), "crm-records");
    assert_eq!(tracked(&boxes[3]), set(&["c", "q"]), "email-enabled");
    assert_eq!(tracked(&boxes[4]), set(&[]), "none");
}

#[test]
fn correlation_links_replies_by_in_reply_to_token_and_smart_match_and_inherits_regarding() {
    let o = Office::new("imap-smtp");
    let accounts = o.env.dir().join("accounts.csv");
    std::fs::write(&accounts, "name,email\nContoso,info@contoso.test\n").unwrap();
    o.env.ok(&["account", "import", accounts.to_str().unwrap()]);
    let alice =
        o.mailbox("alice", false, &["--track", "all", "--track-folder", "Customers/Contoso=account:Contoso"]);
    o.rt.block_on(o.dovecot.create_folder("alice", PW, "Customers/Contoso")).unwrap();
    let m1 = msg(Some("m1@contoso.test"), "ben@contoso.test", &alice, "Quote CRM:0000123", "", "q");
    let m2 = msg(
        Some("m2@contoso.test"),
        "ben@contoso.test",
        &format!("{alice}, carl@contoso.test"),
        "Pricing discussion",
        "",
        "p",
    );
    for m in [&m1, &m2] {
        o.rt.block_on(o.dovecot.append("alice", PW, "Customers/Contoso", &[], m)).unwrap();
    }
    o.sync();
    o.deliver(
        "alice",
        &msg(
            Some("r1@contoso.test"),
            "ben@contoso.test",
            &alice,
            "Re: Quote",
            "In-Reply-To: <m1@contoso.test>\r\n",
            "1",
        ),
    );
    o.deliver(
        "alice",
        &msg(Some("r2@contoso.test"), "dora@contoso.test", &alice, "RE: Quote CRM:0000123", "", "2"),
    );
    o.deliver(
        "alice",
        &msg(
            Some("r3@contoso.test"),
            "ben@contoso.test",
            &format!("{alice}, carl@contoso.test"),
            "AW: Pricing  Discussion",
            "",
            "3",
        ),
    );
    o.deliver("alice", &msg(Some("r4@contoso.test"), "ben@contoso.test", &alice, "Something else", "", "4"));
    o.sync();
    let emails = o.emails();
    let get = |id: &str| {
        emails.iter().find(|e| e["message_id"] == id).unwrap_or_else(|| panic!("{id} missing")).clone()
    };
    assert_eq!(get("m1@contoso.test")["correlation_method"], "folder");
    assert_eq!(get("m1@contoso.test")["regarding"]["name"], "Contoso");
    for (id, method) in [
        ("r1@contoso.test", "in_reply_to"),
        ("r2@contoso.test", "tracking_token"),
        ("r3@contoso.test", "smart_match"),
    ] {
        let e = get(id);
        assert_eq!(e["correlation_method"], method, "{id}");
        assert_eq!(e["regarding"]["type"], "account", "{id} inherits the conversation's regarding record");
        assert_eq!(e["regarding"]["name"], "Contoso", "{id}");
    }
    assert_eq!(get("r4@contoso.test")["correlation_method"], "none");
    assert!(get("r4@contoso.test")["regarding"].is_null());
    o.env.ok(&["settings", "set", "correlation.smart_matching", "false"]);
    o.deliver(
        "alice",
        &msg(
            Some("r5@contoso.test"),
            "ben@contoso.test",
            &format!("{alice}, carl@contoso.test"),
            "Re: Pricing discussion",
            "",
            "5",
        ),
    );
    o.sync();
    assert_eq!(
        o.emails().iter().find(|e| e["message_id"] == "r5@contoso.test").unwrap()["correlation_method"],
        "none"
    );
}

#[test]
fn addresses_resolve_by_precedence_and_unmatched_ones_stay_unresolved_parties() {
    let o = Office::new("imap-smtp");
    let dir = o.env.dir().to_path_buf();
    std::fs::write(dir.join("c.csv"), "first_name,last_name,email\nSam,Shared,shared@x.test\n").unwrap();
    std::fs::write(dir.join("a.csv"), "name,email\nShared Inc,shared@x.test\n").unwrap();
    std::fs::write(dir.join("l.csv"), "first_name,last_name,email\nLee,Lead,shared@x.test\n").unwrap();
    o.env.ok(&["contact", "import", dir.join("c.csv").to_str().unwrap()]);
    o.env.ok(&["account", "import", dir.join("a.csv").to_str().unwrap()]);
    o.env.ok(&["lead", "import", dir.join("l.csv").to_str().unwrap()]);
    let alice = o.mailbox("alice", false, &["--track", "all"]);
    o.deliver(
        "alice",
        &msg(
            Some("res@x.test"),
            "Shared <SHARED@x.test>",
            &alice,
            "Resolution",
            "Cc: shared@x.test, Nobody <nobody@x.test>\r\n",
            "x",
        ),
    );
    o.sync();
    let e = &o.emails()[0];
    assert_eq!(
        e["from"]["resolved"]["type"], "contact",
        "the sender takes the first match: user, contact, account, lead"
    );
    assert_eq!(e["to"][0]["resolved"]["type"], "user");
    let cc: Vec<(String, Value)> = e["cc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["address"].as_str().unwrap().to_string(), p["resolved"]["type"].clone()))
        .collect();
    let shared: BTreeSet<String> = cc
        .iter()
        .filter(|(a, _)| a == "shared@x.test")
        .map(|(_, t)| t.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        shared,
        BTreeSet::from(["contact".into(), "account".into(), "lead".into()]),
        "a recipient lists every match"
    );
    assert!(cc.iter().any(|(a, t)| a == "nobody@x.test" && t.is_null()), "unmatched address kept unresolved");
    // Ambiguity switch: several contacts with one address leave the sender unresolved.
    std::fs::write(dir.join("c2.csv"), "first_name,last_name,email\nSue,Shared,shared@x.test\n").unwrap();
    o.env.ok(&["contact", "import", dir.join("c2.csv").to_str().unwrap()]);
    o.env.ok(&["settings", "set", "resolution.unresolved_when_ambiguous", "true"]);
    o.deliver("alice", &msg(Some("res2@x.test"), "shared@x.test", &alice, "Again", "", "x"));
    o.sync();
    let e2 = o.emails().into_iter().find(|e| e["message_id"] == "res2@x.test").unwrap();
    assert!(e2["from"]["resolved"].is_null());
}

#[test]
fn pop3_delete_after_processing_deletes_only_committed_messages() {
    let o = Office::new("pop3-smtp");
    let q = o.mailbox(
        "inbox",
        true,
        &["--track", "all", "--delete-after-processing", "--process-from", "2000-01-01T00:00:00Z"],
    );
    o.env.ok(&["settings", "set", "incoming.fetch_batch_size", "5"]);
    let n = 120;
    for i in 0..n {
        o.deliver(
            "inbox",
            &msg(
                Some(&format!("p{i}@ext.test")),
                "ben@contoso.test",
                &q,
                &format!("p{i}"),
                "",
                &"y".repeat(3000),
            ),
        );
    }
    // Kill mid-sync: whatever was committed may still be on the server, but nothing is lost.
    let mut child = o
        .env
        .cmd(&["sync"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while o.env.count("SELECT count(*) FROM pop3_items") < 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    let in_crm = o.env.count("SELECT count(*) FROM activities");
    let on_server = o.rt.block_on(o.dovecot.list_inbox("inbox", PW)).unwrap().len() as i64;
    assert!(in_crm < n, "the kill came too late ({in_crm} of {n})");
    assert_eq!(on_server, n, "DELE only after every batch is committed and only at QUIT");
    o.sync();
    assert_eq!(o.env.count("SELECT count(*) FROM activities"), n);
    assert_eq!(o.env.count("SELECT count(DISTINCT message_id) FROM emails"), n);
    assert_eq!(
        o.rt.block_on(o.dovecot.list_inbox("inbox", PW)).unwrap().len(),
        0,
        "committed messages are deleted"
    );
    o.sync();
    assert_eq!(o.env.count("SELECT count(*) FROM activities"), n, "nothing comes back after the delete");
}

#[test]
fn a_forwarded_original_is_tracked_for_the_user_who_forwarded_it() {
    let o = Office::new("imap-smtp");
    let fwd =
        o.mailbox("crm-forward", true, &["--forward-mailbox", "--track", "all", "--delete-after-processing"]);
    let alice = o.dovecot.address("alice");
    o.env.ok(&["user", "add", &alice, "--name", "Alice"]);
    o.env.ok(&[
        "mailbox",
        "add",
        &alice,
        "--profile",
        "Office",
        "--incoming",
        "forward",
        "--outgoing",
        "none",
        "--track",
        "all",
    ]);
    let original =
        msg(Some("orig@contoso.test"), "ben@contoso.test", &alice, "Original question", "", "Can you help?");
    let outer = format!(
        "Message-ID: <wrap@example.test>\r\nFrom: {alice}\r\nTo: {fwd}\r\nSubject: FW: Original question\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=f\r\n\r\n--f\r\nContent-Type: text/plain\r\n\r\nforwarded\r\n--f\r\nContent-Type: message/rfc822\r\n\r\n{}\r\n--f--\r\n",
        String::from_utf8(original).unwrap()
    );
    o.deliver("crm-forward", outer.as_bytes());
    o.sync();
    let emails = o.emails();
    assert_eq!(emails.len(), 1, "{emails:#?}");
    assert_eq!(emails[0]["message_id"], "orig@contoso.test");
    assert_eq!(emails[0]["subject"], "Original question");
    assert_eq!(emails[0]["receiving_mailboxes"][0], alice.as_str());
    assert_eq!(
        o.rt.block_on(o.dovecot.list_inbox("crm-forward", PW)).unwrap().len(),
        0,
        "processed forward mail is deleted"
    );
}

#[test]
fn an_attachment_over_the_size_limit_is_skipped_and_the_email_kept_and_flagged() {
    let o = Office::new("imap-smtp");
    let alice = o.mailbox("alice", false, &["--track", "all"]);
    o.env.ok(&["settings", "set", "attachments.max_size_kb", "1"]);
    let big = "QUJD".repeat(2000);
    let m = format!(
        "Message-ID: <big@ext.test>\r\nFrom: ben@contoso.test\r\nTo: {alice}\r\nSubject: Big file\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nbody kept\r\n--b\r\nContent-Type: application/octet-stream; name=big.bin\r\nContent-Disposition: attachment; filename=big.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n{big}\r\n--b\r\nContent-Type: text/csv; name=small.csv\r\nContent-Disposition: attachment; filename=small.csv\r\n\r\na,b\r\n--b--\r\n"
    );
    o.deliver("alice", m.as_bytes());
    o.sync();
    let e = &o.emails()[0];
    assert_eq!(e["flags"][0], "attachments_skipped");
    let atts = e["attachments"].as_array().unwrap();
    let big = atts.iter().find(|a| a["name"] == "big.bin").unwrap();
    assert_eq!(big["saved"], false);
    assert_eq!(big["size"], 6000);
    assert_eq!(atts.iter().find(|a| a["name"] == "small.csv").unwrap()["saved"], true);
    assert!(e["body_text"].as_str().unwrap().contains("body kept"));
}
