//! The IMAP client against a real Dovecot from the harness.

mod common;

use std::time::Duration;

use common::{PASSWORD, closed_port, dovecot, dovecot_with, message, settings, stored};
use crmsync_core::ErrorClass;
use crmsync_core::model::Security;
use crmsync_protocols::{IdleOutcome, ImapClient, SpecialUse};

#[tokio::test]
async fn imaps_login_is_verified_against_the_harness_ca() {
    let d = dovecot();
    let mut imap = ImapClient::connect(&settings(&d, d.imaps_port(), Security::Tls)).await.unwrap();
    let caps = imap.capabilities().clone();
    assert!(caps.uidplus && caps.idle && caps.special_use && caps.condstore && caps.move_, "{caps:?}");
    let status = imap.select("INBOX").await.unwrap();
    assert_eq!(status.uidvalidity, d.uidvalidity("anna", PASSWORD, "INBOX").await.unwrap());
    assert_eq!(status.exists, 0);
    assert!(status.uidnext.is_some());
    assert!(status.highest_modseq.is_some(), "CONDSTORE select reports HIGHESTMODSEQ");
    imap.logout().await.unwrap();
}

#[tokio::test]
async fn tls_without_the_ca_fails_with_an_untrusted_certificate() {
    let d = dovecot();
    for (port, security) in [(d.imaps_port(), Security::Tls), (d.imap_port(), Security::Starttls)] {
        let mut s = settings(&d, port, security);
        s.extra_roots.clear();
        let e = ImapClient::connect(&s).await.unwrap_err();
        assert_eq!(e.code(), "TLS_CERT_INVALID", "{e}");
        assert_eq!(e.class(), ErrorClass::Permanent);
    }
}

#[tokio::test]
async fn starttls_on_143() {
    let d = dovecot();
    let mut imap = ImapClient::connect(&settings(&d, d.imap_port(), Security::Starttls)).await.unwrap();
    imap.select("INBOX").await.unwrap();
    imap.logout().await.unwrap();
}

#[tokio::test]
async fn plaintext_needs_the_explicit_opt_in() {
    let d = dovecot();
    let mut s = settings(&d, d.imap_port(), Security::None);
    let e = ImapClient::connect(&s).await.unwrap_err();
    assert_eq!(e.code(), "PLAINTEXT_REFUSED", "{e}");
    assert_eq!(e.class(), ErrorClass::Permanent);
    // Refused before connecting: a closed port gives the same answer.
    let mut closed = s.clone();
    closed.port = closed_port();
    assert_eq!(ImapClient::connect(&closed).await.unwrap_err().code(), "PLAINTEXT_REFUSED");

    s.allow_insecure = true;
    let mut imap = ImapClient::connect(&s).await.unwrap();
    imap.select("INBOX").await.unwrap();
    imap.logout().await.unwrap();
}

#[tokio::test]
async fn wrong_password_and_closed_port_are_classified() {
    let d = dovecot();
    let mut s = settings(&d, d.imaps_port(), Security::Tls);
    s.password = "wrong-password".into();
    let e = ImapClient::connect(&s).await.unwrap_err();
    assert_eq!(e.code(), "IMAP_AUTH_FAILED", "{e}");
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(!e.to_string().contains("wrong-password"), "{e}");

    let mut s = settings(&d, closed_port(), Security::Tls);
    s.timeout = Duration::from_secs(3);
    let e = ImapClient::connect(&s).await.unwrap_err();
    assert_eq!(e.code(), "CONNECTION_REFUSED", "{e}");
    assert_eq!(e.class(), ErrorClass::Transient);
    assert!(e.to_string().contains(&format!("127.0.0.1:{}", s.port)), "{e}");
}

#[tokio::test]
async fn missing_folder_is_mailbox_not_found_and_the_session_survives() {
    let d = dovecot();
    let mut imap = ImapClient::connect(&settings(&d, d.imaps_port(), Security::Tls)).await.unwrap();
    let e = imap.select("No Such Folder").await.unwrap_err();
    assert_eq!(e.code(), "MAILBOX_NOT_FOUND", "{e}");
    assert_eq!(e.class(), ErrorClass::Permanent);
    let e = imap.append("No Such Folder", &[], &message(1)).await.unwrap_err();
    assert_eq!(e.code(), "MAILBOX_NOT_FOUND", "{e}");
    imap.select("INBOX").await.unwrap();
    imap.logout().await.unwrap();
}

#[tokio::test]
async fn fetch_in_batches_returns_every_message_intact_and_unseen() {
    let d = dovecot();
    let delivered: Vec<Vec<u8>> = (0..120).map(message).collect();
    for raw in &delivered {
        d.deliver("anna", raw).await.unwrap();
    }
    let mut imap = ImapClient::connect(&settings(&d, d.imaps_port(), Security::Tls)).await.unwrap();
    let status = imap.select("INBOX").await.unwrap();
    assert_eq!(status.exists, 120);

    let mut all = Vec::new();
    let mut sizes = Vec::new();
    let mut after = 0;
    loop {
        let batch = imap.fetch_since(after, 50).await.unwrap();
        if batch.is_empty() {
            break;
        }
        sizes.push(batch.len());
        after = batch.last().unwrap().uid;
        all.extend(batch);
    }
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(all.len(), 120);
    assert!(all.windows(2).all(|w| w[0].uid < w[1].uid));
    for (m, raw) in all.iter().zip(&delivered) {
        assert_eq!(m.raw, stored(raw), "uid {}", m.uid);
        assert!(m.internal_date.is_some());
        assert!(!m.flags.iter().any(|f| f == "\\Seen"), "{:?}", m.flags);
    }
    // Beyond the last UID, `n:*` must not bring back the last message.
    assert!(imap.uids_since(after).await.unwrap().is_empty());
    assert!(imap.fetch_since(after + 1000, 50).await.unwrap().is_empty());
    imap.logout().await.unwrap();

    // A fresh session (the harness's own client) agrees byte for byte and sees nothing \Seen.
    let server = d.list_inbox("anna", PASSWORD).await.unwrap();
    assert_eq!(server.len(), 120);
    for (s, m) in server.iter().zip(&all) {
        assert_eq!(s.uid, m.uid);
        assert_eq!(s.raw, m.raw);
        assert!(!s.has_flag("\\Seen"));
    }
}

#[tokio::test]
async fn mark_seen_and_delete_are_visible_to_a_fresh_session() {
    let d = dovecot();
    for n in 0..4 {
        d.deliver("anna", &message(n)).await.unwrap();
    }
    let mut imap = ImapClient::connect(&settings(&d, d.imaps_port(), Security::Tls)).await.unwrap();
    imap.select("INBOX").await.unwrap();
    let uids = imap.uids_since(0).await.unwrap();
    assert_eq!(uids.len(), 4);
    imap.mark_seen(&uids[..2]).await.unwrap();
    imap.delete(&uids[3..]).await.unwrap();
    assert_eq!(imap.uids_since(0).await.unwrap(), uids[..3]);
    imap.logout().await.unwrap();

    let server = d.list_inbox("anna", PASSWORD).await.unwrap();
    let seen: Vec<bool> = server.iter().map(|m| m.has_flag("\\Seen")).collect();
    assert_eq!(seen, [true, true, false]);
}

#[tokio::test]
async fn append_to_sent_and_find_it_by_message_id() {
    let d = dovecot();
    let mut imap = ImapClient::connect(&settings(&d, d.imaps_port(), Security::Tls)).await.unwrap();
    let folders = imap.list_folders().await.unwrap();
    assert!(folders.iter().any(|f| f.name == "INBOX"));
    let sent = imap.find_special_use(SpecialUse::Sent).await.unwrap().expect("a Sent folder");
    assert_eq!(sent, "Sent");
    assert_eq!(imap.find_special_use(SpecialUse::Archive).await.unwrap(), None);

    let raw = message(7);
    let appended = imap.append(&sent, &["\\Seen"], &raw).await.unwrap().expect("APPENDUID with UIDPLUS");
    let status = imap.select(&sent).await.unwrap();
    assert_eq!(appended.uidvalidity, status.uidvalidity);
    assert_eq!(imap.search_header("Message-ID", "<msg-7@example.test>").await.unwrap(), [appended.uid]);
    assert!(imap.search_header("Message-ID", "<msg-8@example.test>").await.unwrap().is_empty());
    let fetched = imap.fetch_uids(&[appended.uid]).await.unwrap();
    assert_eq!(fetched[0].raw, raw);
    assert!(fetched[0].flags.iter().any(|f| f == "\\Seen"));
    imap.logout().await.unwrap();
}

#[tokio::test]
async fn non_ascii_folder_names_round_trip() {
    let d = dovecot();
    let mut imap = ImapClient::connect(&settings(&d, d.imaps_port(), Security::Tls)).await.unwrap();
    // The harness creates folders with the wire (modified UTF-7) name.
    d.create_folder("anna", PASSWORD, "Kunden/M&APw-ller &- Co").await.unwrap();
    let folders = imap.list_folders().await.unwrap();
    assert!(folders.iter().any(|f| f.name == "Kunden/Müller & Co"), "{folders:?}");
    imap.append("Kunden/Müller & Co", &[], &message(1)).await.unwrap();
    assert_eq!(imap.select("Kunden/Müller & Co").await.unwrap().exists, 1);
    imap.logout().await.unwrap();
}

#[tokio::test]
async fn idle_wakes_up_on_new_mail_and_times_out_without() {
    let d = dovecot();
    let mut imap = ImapClient::connect(&settings(&d, d.imaps_port(), Security::Tls)).await.unwrap();
    imap.select("INBOX").await.unwrap();
    assert_eq!(imap.idle_wait(Duration::from_millis(300)).await.unwrap(), IdleOutcome::TimedOut);

    let deliver = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        d.deliver("anna", &message(1)).await.unwrap();
    };
    let (outcome, ()) = tokio::join!(imap.idle_wait(Duration::from_secs(20)), deliver);
    assert_eq!(outcome.unwrap(), IdleOutcome::NewMail);
    // The session is usable after IDLE.
    assert_eq!(imap.fetch_since(0, 10).await.unwrap().len(), 1);
    imap.logout().await.unwrap();
}

#[tokio::test]
async fn authenticate_login_when_the_server_has_no_auth_plain() {
    let d = dovecot_with("auth_mechanisms = login\n");
    let s = settings(&d, d.imaps_port(), Security::Tls);
    let mut imap = ImapClient::connect(&s).await.unwrap();
    // Post-login capabilities no longer list AUTH=; the login went through AUTHENTICATE LOGIN
    // (Dovecot announces LOGINDISABLED when the PLAIN mechanism is off).
    assert!(!imap.capabilities().has("AUTH=PLAIN"));
    imap.select("INBOX").await.unwrap();
    imap.logout().await.unwrap();

    let mut wrong = s.clone();
    wrong.password = "wrong-password".into();
    let e = ImapClient::connect(&wrong).await.unwrap_err();
    assert_eq!(e.code(), "IMAP_AUTH_FAILED", "{e}");
}

#[tokio::test]
async fn create_folder_makes_a_selectable_subscribed_folder_and_a_second_create_fails() {
    let d = dovecot();
    let mut imap = ImapClient::connect(&settings(&d, d.imaps_port(), Security::Tls)).await.unwrap();
    // Dovecot 2.3 does not announce CREATE-SPECIAL-USE: the special use is
    // left out rather than sent to a server that would refuse the command.
    assert!(!imap.capabilities().has("CREATE-SPECIAL-USE"), "{:?}", imap.capabilities());
    let with_use = imap.create_folder("Gesendet", Some(SpecialUse::Sent)).await.unwrap();
    assert!(!with_use);
    imap.subscribe("Gesendet").await.unwrap();
    assert_eq!(imap.select("Gesendet").await.unwrap().exists, 0);
    let folders = imap.list_folders().await.unwrap();
    assert!(folders.iter().any(|f| f.name == "Gesendet" && f.selectable), "{folders:?}");
    let lsub =
        d.imap_session("anna", PASSWORD).await.unwrap().raw_command("LSUB \"\" \"Gesendet\"").await.unwrap();
    assert!(lsub.iter().any(|l| l.starts_with("* LSUB") && l.contains("Gesendet")), "{lsub:?}");

    let e = imap.create_folder("Gesendet", None).await.unwrap_err();
    assert_eq!(e.code(), "IMAP_COMMAND_FAILED", "{e}");
    assert!(e.to_string().to_ascii_uppercase().contains("ALREADYEXISTS"), "{e}");
    // The session survives the refusal.
    imap.select("INBOX").await.unwrap();
    imap.logout().await.unwrap();
}
