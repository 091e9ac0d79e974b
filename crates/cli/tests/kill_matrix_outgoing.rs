//! The kill -9 matrix of the outgoing pipeline: `crmsync sync` killed (by
//! itself, at a named crash point: `crmsync_core::crash`) while sending 20
//! emails through real Postfix into Dovecot, then clean passes. After each:
//! every email is delivered, nothing is left claimed or in Sending, and an
//! email is delivered twice only where docs/outgoing.md says it can be — the
//! one that was on the wire when the process died (Dovecot/Postfix do not file
//! submissions in Sent, so the recovery's Sent-folder lookup cannot see it).

mod common;
mod outgoing_support;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use outgoing_support::{Office, copies_of};

const EMAILS: usize = 20;

/// (crash point, which time it is reached, whether an email was on the wire).
/// While the server takes in one email the next is claimed and started, so
/// from the second email on, a start mark or a claim happens with the
/// previous email on the wire, its reply not read yet.
const ROWS: &[(&str, usize, bool)] = &[
    ("outgoing.after_claim", 1, false),
    ("outgoing.after_start_mark", 1, false),
    ("outgoing.after_start_mark", 3, true),
    ("outgoing.after_dot", 3, true),
    ("outgoing.after_reply", 3, true),
    ("outgoing.folding", 2, true),
];

#[test]
fn killed_at_each_step_of_sending_then_clean_passes_deliver_every_email_and_at_most_the_one_on_the_wire_twice()
 {
    for &(point, nth, on_wire) in ROWS {
        let o = Office::new();
        o.env.ok(&["settings", "set", "outgoing.sending_retry_interval_secs", "1"]);
        let mut mids = Vec::new();
        for i in 0..EMAILS {
            let e = o.send(&["--to", &o.bob, "--subject", &format!("{point} {i}"), "--body", "hello"]);
            mids.push(e["message_id"].as_str().unwrap().to_string());
        }
        let out =
            o.env.cmd(&["sync"]).env("CRMSYNC_TEST_KILL_AT", format!("{point}:{nth}")).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(9), "{point}: not killed: {:?} {err}", out.status);
        assert!(err.contains(&format!("killing myself at {point}")), "{err}");

        // Clean passes until nothing is left to send (the interrupted email
        // waits for the sending retry interval before its Sent-folder check).
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            std::thread::sleep(Duration::from_millis(1200));
            o.sync();
            let statuses: Vec<String> = o
                .env
                .json(&["activity", "list", "--type", "email"])
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["status"].as_str().unwrap_or("").to_string())
                .collect();
            // Every email Sent: none left claimed or in Sending.
            if statuses.iter().all(|s| s == "sent") {
                break;
            }
            assert!(Instant::now() < deadline, "{point}: not all sent: {statuses:?}");
        }

        let deadline = Instant::now() + Duration::from_secs(30);
        let mut inbox = o.folder("bob", "INBOX");
        while mids.iter().any(|m| copies_of(&inbox, m) == 0) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(300));
            inbox = o.folder("bob", "INBOX");
        }
        std::thread::sleep(Duration::from_millis(500));
        inbox = o.folder("bob", "INBOX");
        let copies: Vec<usize> = mids.iter().map(|m| copies_of(&inbox, m)).collect();
        assert!(copies.iter().all(|&c| c >= 1), "{point}: an email was lost: {copies:?}");
        let twice = copies.iter().filter(|&&c| c > 1).count();
        assert!(copies.iter().all(|&c| c <= 2), "{point}: {copies:?}");
        let allowed = usize::from(on_wire);
        assert!(
            twice <= allowed,
            "{point}: {twice} emails delivered twice, at most {allowed} allowed: {copies:?}"
        );
    }
}
