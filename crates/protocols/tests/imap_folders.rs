//! Creating a folder on a server that announces CREATE-SPECIAL-USE (RFC 6154),
//! which the harness's Dovecot does not (see imap_dovecot.rs for the plain
//! CREATE there): the scripted IMAP server announces it on demand and records
//! the command lines the client sent.

use std::time::Duration;

use crmsync_core::model::Security;
use crmsync_protocols::{ImapClient, ServerSettings, SpecialUse};
use crmsync_tests::ScriptedImap;

fn plain(host: &str, port: u16) -> ServerSettings {
    let mut s = ServerSettings::new(host, port, Security::None, "anna", "pw");
    s.allow_insecure = true;
    s.timeout = Duration::from_secs(10);
    s.op_deadline = Duration::from_secs(20);
    s
}

#[tokio::test]
async fn a_server_with_create_special_use_gets_the_sent_folder_created_with_the_sent_use() {
    let srv = ScriptedImap::start(1, vec![]).unwrap();
    srv.set_create_special_use(true);
    let mut imap = ImapClient::connect(&plain(srv.host(), srv.port())).await.unwrap();
    assert!(imap.capabilities().has("CREATE-SPECIAL-USE"), "{:?}", imap.capabilities());
    assert!(imap.create_folder("Sent", Some(SpecialUse::Sent)).await.unwrap(), "the use was set");
    imap.subscribe("Sent").await.unwrap();
    // A folder created without a special use gets a plain CREATE.
    assert!(!imap.create_folder("Projekte/Müller", None).await.unwrap());
    imap.logout().await.unwrap();
    let sent: Vec<String> = srv
        .commands()
        .into_iter()
        .filter(|c| c.starts_with("CREATE") || c.starts_with("SUBSCRIBE"))
        .collect();
    assert_eq!(
        sent,
        ["CREATE \"Sent\" (USE (\\Sent))", "SUBSCRIBE \"Sent\"", "CREATE \"Projekte/M&APw-ller\""],
        "{:?}",
        srv.commands()
    );
}
