//! The kill -9 matrix: `crmsync` killed (SIGKILL, by itself, at a named crash
//! point: `crmsync_core::crash`) after each step of each pipeline, then a
//! clean pass. After each: the store opens, every message is in the CRM
//! exactly once, the server holds what it should, nothing is left pending.
//!
//! Killing at a named point instead of at a random moment makes every row of
//! the matrix happen on every run; `outgoing.rs` and the random-kill test
//! cover the moments in between.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::Output;

use common::Env;
use common::office::{Office, PW, msg};
use crmsync_tests::Radicale;

/// Runs `args` with a crash at `point` (the `nth` time it is reached) and
/// checks the process really died there, by SIGKILL.
fn killed_at(env: &Env, point: &str, nth: usize, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = env.cmd(args);
    cmd.env("CRMSYNC_TEST_KILL_AT", format!("{point}:{nth}"));
    let out = match stdin {
        Some(input) => {
            use std::io::Write;
            cmd.stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
            child.wait_with_output().unwrap()
        }
        None => cmd.output().unwrap(),
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(9),
        "{args:?} was not killed at {point}:{nth}: {:?} {err}",
        out.status
    );
    assert!(err.contains(&format!("killing myself at {point}")), "{err}");
    out
}

fn inbox_count(o: &Office, local: &str) -> usize {
    o.rt.block_on(o.dovecot.list_inbox(local, PW)).unwrap().len()
}

const N: usize = 25;

fn office_with_mail(kind: &str) -> (Office, String) {
    let o = Office::new(kind);
    let q = o.mailbox(
        "support",
        true,
        &["--track", "all", "--delete-after-processing", "--process-from", "2020-01-01T00:00:00Z"],
    );
    o.env.ok(&["settings", "set", "incoming.fetch_batch_size", "10"]);
    for i in 0..N {
        o.deliver(
            "support",
            &msg(Some(&format!("k{i}@ext.test")), "ben@contoso.test", &q, &format!("m{i}"), "", "x"),
        );
    }
    (o, q)
}

fn assert_each_message_once_and_the_inbox_emptied(o: &Office, row: &str) {
    assert_eq!(o.env.count("SELECT count(*) FROM emails"), N as i64, "{row}: one activity per message");
    assert_eq!(o.env.count("SELECT count(DISTINCT message_id) FROM emails"), N as i64, "{row}");
    assert_eq!(o.env.count("SELECT count(*) FROM failed_items"), 0, "{row}");
    assert_eq!(inbox_count(o, "support"), 0, "{row}: every tracked message deleted on the server");
}

#[test]
fn imap_killed_after_each_step_then_a_clean_pass_tracks_every_message_once_and_finishes_the_deletes() {
    // The second batch: the first is committed (and deleted) before the kill.
    for point in ["incoming.after_fetch", "incoming.before_commit", "incoming.after_commit"] {
        let (o, _) = office_with_mail("imap-smtp");
        killed_at(&o.env, point, 2, &["sync"], None);
        let partial = o.env.count("SELECT count(*) FROM emails");
        assert!(partial < N as i64, "{point}: the kill came too late ({partial})");
        let report = o.sync();
        assert_eq!(report[0]["result"], "ok", "{point}: {report:#}");
        assert_each_message_once_and_the_inbox_emptied(&o, point);
    }
}

#[test]
fn pop3_killed_after_each_step_then_a_clean_pass_tracks_every_message_once_and_finishes_the_deletes() {
    for point in ["incoming.after_fetch", "incoming.before_commit", "incoming.before_quit"] {
        let (o, _) = office_with_mail("pop3-smtp");
        let nth = if point == "incoming.before_quit" { 1 } else { 2 };
        killed_at(&o.env, point, nth, &["sync"], None);
        if point == "incoming.before_quit" {
            // Every message is committed; the DELEs never took effect (no QUIT).
            assert_eq!(o.env.count("SELECT count(*) FROM emails"), N as i64);
            assert_eq!(inbox_count(&o, "support"), N, "POP3 deletes only at QUIT");
        }
        let report = o.sync();
        assert_eq!(report[0]["result"], "ok", "{point}: {report:#}");
        assert_each_message_once_and_the_inbox_emptied(&o, point);
    }
}

#[test]
fn killed_between_writing_the_key_file_and_recording_it_the_store_opens_and_keeps_the_password() {
    let o = Office::new("imap-smtp");
    let email = o.dovecot.address("alice");
    o.dovecot.add_user("alice", PW).unwrap();
    o.env.ok(&["user", "add", &email, "--name", "alice"]);
    let args = ["mailbox", "add", &email, "--profile", "Office", "--outgoing", "none", "--password-stdin"];
    killed_at(&o.env, "secrets.after_key_file", 1, &args, Some(PW));
    // The key file is there, its record is not, and the mailbox was not added.
    assert!(crmsync_core::secrets::key_file_path(&o.env.db).exists());
    let out = o.env.run_stdin(&args, PW);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = o.env.json(&["mailbox", "test-enable", &email]);
    assert_eq!(report["overall"], "success", "the password is readable with the adopted key: {report:#}");
}

#[test]
fn act_killed_after_the_server_writes_and_before_the_crm_commit_links_instead_of_duplicating() {
    let rad = Radicale::start().unwrap();
    rad.add_user("alice", "alice-pw").unwrap();
    let rt = common::office::rt();
    assert!(
        rt.block_on(rad.mkcalendar("alice", "alice-pw", "/alice/cal/", "Calendar")).unwrap().is_success()
    );
    assert!(
        rt.block_on(rad.mkcol_addressbook("alice", "alice-pw", "/alice/book/", "Contacts"))
            .unwrap()
            .is_success()
    );
    let env = Env::new();
    let base = format!("{}/", rad.base_url());
    env.ok(&[
        "profile",
        "add",
        "Dav",
        "--kind",
        "imap-smtp",
        "--incoming-host",
        "127.0.0.1",
        "--dav-url",
        &base,
        "--allow-insecure",
    ]);
    env.ok(&["user", "add", "alice@example.test", "--name", "Alice"]);
    env.ok_stdin(
        &[
            "mailbox",
            "add",
            "alice@example.test",
            "--profile",
            "Dav",
            "--username",
            "alice",
            "--incoming",
            "none",
            "--outgoing",
            "none",
            "--act",
            "server-side",
            "--password-stdin",
        ],
        "alice-pw",
    );
    let report = env.json(&["mailbox", "test-enable", "alice@example.test"]);
    assert_eq!(report["overall"], "success", "{report:#}");
    for i in 0..5 {
        env.ok(&[
            "appointment",
            "add",
            "--subject",
            &format!("Meeting {i}"),
            "--start",
            "2026-05-01T09:00:00Z",
            "--end",
            "2026-05-01T10:00:00Z",
            "--owner",
            "alice@example.test",
        ]);
    }
    killed_at(&env, "act.after_server_write", 1, &["sync"], None);
    let members = |path: &str| {
        let r =
            rt.block_on(rad.request("PROPFIND", "alice", "alice-pw", path, &[("Depth", "1")], None)).unwrap();
        r.body.matches(".ics</").count()
    };
    let on_server = members("/alice/cal/");
    assert_eq!(on_server, 5, "the killed pass had written its items");
    let report = env.json(&["sync"]);
    assert!(report.to_string().contains("\"ok\""), "{report:#}");
    assert_eq!(members("/alice/cal/"), 5, "linked by UID, not written again");
    assert_eq!(env.count("SELECT count(*) FROM appointments"), 5);
    assert_eq!(env.count("SELECT count(*) FROM act_items"), 5, "one status row per item");
}
