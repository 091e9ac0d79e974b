//! Proves the scripted IMAP server and the proxy's cut-at-a-command mode with
//! the harness's own IMAP client: what later hostile-server tests rely on.

use crmsync_tests::{FaultMode, FaultProxy, FetchFault, ImapClient, ScriptedImap};

fn message(n: u32) -> Vec<u8> {
    format!("Message-ID: <{n}@scripted.test>\r\nSubject: m{n}\r\n\r\nbody {n}\r\n").into_bytes()
}

#[tokio::test]
async fn the_scripted_server_answers_a_fetch_with_the_faults_it_was_given() {
    let srv = ScriptedImap::start(7, (1..=4).map(|n| (n, message(n))).collect()).unwrap();
    srv.set_fault(1, Some(FetchFault::Omit));
    srv.set_fault(2, Some(FetchFault::NilBody));
    srv.set_fault(3, Some(FetchFault::NoUid));
    let mut imap = ImapClient::connect(srv.host(), srv.port()).await.unwrap();
    imap.login("anyone", "secret").await.unwrap();
    let info = imap.select("INBOX").await.unwrap();
    assert_eq!((info.uidvalidity, info.uidnext, info.exists), (7, 5, 4));
    let found = imap.raw_command("UID SEARCH UID 2:*").await.unwrap();
    assert_eq!(found, ["* SEARCH 2 3 4"]);
    let lines = imap.raw_command("UID FETCH 1:4 (UID FLAGS BODY.PEEK[])").await.unwrap();
    let joined = lines.join("\n");
    assert!(!joined.contains("UID 1 "), "UID 1 is left out: {joined}");
    assert!(joined.contains("* 2 FETCH (UID 2 FLAGS () BODY[] NIL)"), "{joined}");
    assert!(joined.contains("* 3 FETCH (FLAGS ()") && !joined.contains("UID 3"), "{joined}");
    assert!(joined.contains("* 4 FETCH (UID 4 "), "{joined}");
    // Flags and expunge change the folder.
    imap.raw_command("UID STORE 4 +FLAGS.SILENT (\\Deleted)").await.unwrap();
    imap.raw_command("UID EXPUNGE 4").await.unwrap();
    assert_eq!(srv.messages().iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 2, 3]);
    imap.logout().await;
    assert!(srv.commands().contains(&"LOGIN ***".to_string()), "the password is not recorded");
    assert_eq!(srv.count_commands("UID FETCH"), 1);
}

#[tokio::test]
async fn the_proxy_cuts_the_connection_when_the_client_sends_the_given_command() {
    let srv = ScriptedImap::start(1, vec![(1, message(1))]).unwrap();
    let proxy = FaultProxy::start(srv.host(), srv.port()).unwrap();
    proxy.set_mode(FaultMode::ResetOnClientSends { pattern: b"UID STORE" });
    let mut imap = ImapClient::connect(proxy.host(), proxy.port()).await.unwrap();
    imap.login("anyone", "secret").await.unwrap();
    imap.select("INBOX").await.unwrap();
    assert!(imap.raw_command("UID STORE 1 +FLAGS.SILENT (\\Seen)").await.is_err());
    assert_eq!(srv.count_commands("UID STORE"), 0, "the command never reached the server");
    assert!(srv.messages()[0].flags.is_empty());
}
