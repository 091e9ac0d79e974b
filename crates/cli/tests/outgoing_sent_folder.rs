//! The Sent copy on a real Dovecot that has no Sent folder: crmsync creates
//! the folder (with the `\Sent` special use where the server supports
//! CREATE-SPECIAL-USE), subscribes to it and files every copy there, instead
//! of a warning per email.

mod common;
mod outgoing_support;

use crmsync_tests::{DovecotOptions, PostfixOptions};
use outgoing_support::{Office, PW, copies_of};
use serde_json::Value;

/// Dovecot without the Sent folder the harness normally creates.
const NO_SENT: &str = "namespace inbox {\n  mailbox Sent {\n    auto = no\n    special_use =\n  }\n}\n";

fn alerts_with(o: &Office, code: &str) -> Vec<Value> {
    let alerts = o.env.json(&["alert", "list"]);
    alerts.as_array().unwrap().iter().filter(|a| a["code"] == code).cloned().collect()
}

#[test]
fn a_missing_sent_folder_is_created_subscribed_and_every_copy_filed_there() {
    let options = DovecotOptions { extra_config: NO_SENT.into(), ..DovecotOptions::default() };
    let o = Office::build(options, PostfixOptions::default(), None);
    let folders = |o: &Office| o.rt.block_on(o.dovecot.list_folders("alice", PW)).unwrap();
    assert!(!folders(&o).iter().any(|f| f.name.eq_ignore_ascii_case("sent")), "{:?}", folders(&o));
    let first = o.send(&["--to", &o.bob, "--subject", "First", "--body", "hi"]);
    let second = o.send(&["--to", &o.bob, "--subject", "Second", "--body", "hi"]);

    let report = o.sync();
    assert_eq!(report[0]["result"], "ok", "{report:#?}");
    assert_eq!(report[0]["sent"], 2, "{report:#?}");
    assert_eq!(report[0]["copies_saved"], 2, "{report:#?}");
    assert!(alerts_with(&o, "SENT_FOLDER_MISSING").is_empty(), "{:#}", o.env.json(&["alert", "list"]));

    let sent = folders(&o).into_iter().find(|f| f.name == "Sent").expect("the Sent folder was created");
    let caps =
        o.rt.block_on(async {
            let mut imap = o.dovecot.imap_session("alice", PW).await?;
            let caps = imap.capabilities().await;
            imap.logout().await;
            caps
        })
        .unwrap();
    // Dovecot 2.3 does not announce CREATE-SPECIAL-USE: a plain CREATE, and
    // the folder is found by its name from then on.
    let with_use = caps.iter().any(|c| c == "CREATE-SPECIAL-USE");
    let marked = sent.attributes.iter().any(|a| a.eq_ignore_ascii_case("\\Sent"));
    assert_eq!(marked, with_use, "caps {caps:?}, Sent {:?}", sent.attributes);
    let subscribed =
        o.rt.block_on(async {
            let mut imap = o.dovecot.imap_session("alice", PW).await?;
            let lines = imap.raw_command("LSUB \"\" \"*\"").await;
            imap.logout().await;
            lines
        })
        .unwrap();
    assert!(subscribed.iter().any(|l| l.ends_with(" Sent") || l.ends_with(" \"Sent\"")), "{subscribed:?}");

    // The next pass files its copy in the folder it created.
    let third = o.send(&["--to", &o.bob, "--subject", "Third", "--body", "hi"]);
    let report = o.sync();
    assert_eq!(report[0]["copies_saved"], 1, "{report:#?}");
    let sents = folders(&o).into_iter().filter(|f| f.name.to_ascii_lowercase().contains("sent")).count();
    assert_eq!(sents, 1, "{:?}", folders(&o));
    let filed = o.folder("alice", "Sent");
    for created in [&first, &second, &third] {
        let mid = created["message_id"].as_str().unwrap();
        assert_eq!(copies_of(&filed, mid), 1, "{mid} filed once in Sent");
        assert_eq!(o.show(&created["id"])["status"], "sent");
    }
}
