//! Outgoing email when something goes wrong around the server's verdict on a
//! message: an interrupted send on a server without a Sent folder (real Dovecot).

mod common;
mod outgoing_support;

use std::time::{Duration, Instant};

use crmsync_tests::{DovecotOptions, PostfixOptions};
use outgoing_support::{Office, copies_of};
use serde_json::Value;

fn alerts_with(o: &Office, code: &str) -> Vec<Value> {
    let alerts = o.env.json(&["alert", "list"]);
    alerts.as_array().unwrap().iter().filter(|a| a["code"] == code).cloned().collect()
}

/// Copies of `message_id` in bob's Inbox, once Postfix had time to deliver
/// what it accepted (a late duplicate would show up by then).
fn delivered_to_bob(o: &Office, message_id: &str) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    while copies_of(&o.folder("bob", "INBOX"), message_id) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(700));
    copies_of(&o.folder("bob", "INBOX"), message_id)
}

#[test]
fn an_interrupted_send_on_a_server_without_a_sent_folder_does_not_block_the_mailbox() {
    // Dovecot without the Sent folder the harness normally creates.
    let no_sent = "namespace inbox {\n  mailbox Sent {\n    auto = no\n    special_use =\n  }\n}\n";
    let options = DovecotOptions { extra_config: no_sent.into(), ..DovecotOptions::default() };
    let o = Office::build(options, PostfixOptions::default(), None);
    let folders = o.rt.block_on(o.dovecot.list_folders("alice", outgoing_support::PW)).unwrap();
    assert!(!format!("{folders:?}").contains("Sent"), "{folders:?}");
    let interrupted = o.send(&["--to", &o.bob, "--subject", "Interrupted", "--body", "hi"]);
    let waiting = o.send(&["--to", &o.bob, "--subject", "Waiting", "--body", "hi"]);
    let (id1, id2) = (interrupted["id"].as_i64().unwrap(), waiting["id"].as_i64().unwrap());
    // The first was on the wire when its pass stopped an hour ago.
    let then = crmsync_core::time::to_db(crmsync_core::time::now() - chrono::Duration::hours(1));
    o.env
        .store()
        .conn()
        .execute(
            &format!(
                "UPDATE emails SET status = 'sending', sending_since = '{then}', smtp_started_on = '{then}', \
                 delivery_attempts = 1, claim_token = 'stopped-pass' WHERE activity_id = ?1"
            ),
            [id1],
        )
        .unwrap();

    let report = o.sync();
    assert_eq!(report[0]["result"], "ok", "{report:#?}");
    assert_eq!(report[0]["resent"], 1, "{report:#?}");
    assert_eq!(report[0]["sent"], 2, "{report:#?}");
    for id in [id1, id2] {
        assert_eq!(o.show(&id.into())["status"], "sent");
    }
    let warned = alerts_with(&o, "SEND_INTERRUPTED");
    assert_eq!(warned.len(), 1, "{warned:#?}");
    assert_eq!(warned[0]["activity_id"], id1);
    assert!(alerts_with(&o, "MAILBOX_NOT_FOUND").is_empty(), "a missing Sent folder is no mailbox failure");
    assert_eq!(alerts_with(&o, "SENT_FOLDER_MISSING").len(), 2, "no copy could be filed");
    for created in [&interrupted, &waiting] {
        let mid = created["message_id"].as_str().unwrap();
        assert_eq!(delivered_to_bob(&o, mid), 1, "{mid} delivered once");
    }
    assert!(o.sync().is_empty(), "nothing left to do");
}
