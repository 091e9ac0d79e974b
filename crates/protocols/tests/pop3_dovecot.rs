//! The POP3 client against a real Dovecot from the harness.

mod common;

use common::{PASSWORD, closed_port, dovecot, dovecot_with, message, settings, stored};
use crmsync_core::ErrorClass;
use crmsync_core::model::Security;
use crmsync_protocols::{MaildropStat, Pop3Client};

#[tokio::test]
async fn pop3_and_pop3s_retrieve_the_delivered_bytes() {
    let d = dovecot();
    let delivered = [message(1), message(2)];
    for raw in &delivered {
        d.deliver("anna", raw).await.unwrap();
    }
    let mut plain = settings(&d, d.pop3_port(), Security::None);
    plain.allow_insecure = true;
    for s in
        [plain, settings(&d, d.pop3s_port(), Security::Tls), settings(&d, d.pop3_port(), Security::Starttls)]
    {
        let mut pop = Pop3Client::connect(&s).await.unwrap_or_else(|e| panic!("{:?}: {e}", s.security));
        assert!(pop.capabilities().uidl);
        let stat = pop.stat().await.unwrap();
        assert_eq!(stat.messages, 2);
        let uidl = pop.uidl().await.unwrap();
        assert_eq!(uidl.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 2]);
        assert_ne!(uidl[0].1, uidl[1].1);
        let sizes = pop.list().await.unwrap();
        for (n, raw) in [1u32, 2].into_iter().zip(&delivered) {
            let got = pop.retr(n).await.unwrap();
            assert_eq!(got, stored(raw), "message {n} over {:?}", s.security);
            assert_eq!(sizes[n as usize - 1].1, got.len() as u64);
        }
        let e = pop.retr(3).await.unwrap_err();
        assert_eq!(e.code(), "MESSAGE_UNAVAILABLE", "{e}");
        assert_eq!(e.class(), ErrorClass::Item);
        pop.quit().await.unwrap();
    }
}

#[tokio::test]
async fn dele_takes_effect_only_at_quit() {
    let d = dovecot();
    for n in 0..3 {
        d.deliver("anna", &message(n)).await.unwrap();
    }
    let s = settings(&d, d.pop3s_port(), Security::Tls);
    let uidl_before = {
        let mut pop = Pop3Client::connect(&s).await.unwrap();
        let uidl = pop.uidl().await.unwrap();
        pop.dele(1).await.unwrap();
        assert_eq!(pop.stat().await.unwrap().messages, 2);
        // Dropped without QUIT: nothing is deleted.
        drop(pop);
        uidl
    };
    // Give Dovecot a moment to notice the closed session and release the maildrop.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut pop = Pop3Client::connect(&s).await.unwrap();
    assert_eq!(pop.uidl().await.unwrap(), uidl_before);
    pop.dele(2).await.unwrap();
    pop.quit().await.unwrap();

    let mut pop = Pop3Client::connect(&s).await.unwrap();
    assert_eq!(
        pop.stat().await.unwrap(),
        MaildropStat { messages: 2, octets: pop.stat().await.unwrap().octets }
    );
    let remaining: Vec<String> = pop.uidl().await.unwrap().into_iter().map(|(_, u)| u).collect();
    assert_eq!(remaining, [uidl_before[0].1.clone(), uidl_before[2].1.clone()]);
    pop.quit().await.unwrap();
    assert_eq!(d.list_inbox("anna", PASSWORD).await.unwrap().len(), 2);
}

#[tokio::test]
async fn pop3_failures_are_classified() {
    let d = dovecot();
    let mut s = settings(&d, d.pop3s_port(), Security::Tls);
    s.password = "wrong-password".into();
    let e = Pop3Client::connect(&s).await.unwrap_err();
    assert_eq!(e.code(), "POP3_AUTH_FAILED", "{e}");
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(!e.to_string().contains("wrong-password"), "{e}");

    let s = settings(&d, d.pop3_port(), Security::None);
    let e = Pop3Client::connect(&s).await.unwrap_err();
    assert_eq!(e.code(), "PLAINTEXT_REFUSED", "{e}");

    let mut s = settings(&d, d.pop3s_port(), Security::Tls);
    s.extra_roots.clear();
    let e = Pop3Client::connect(&s).await.unwrap_err();
    assert_eq!(e.code(), "TLS_CERT_INVALID", "{e}");
    assert_eq!(e.class(), ErrorClass::Permanent);

    let s = settings(&d, closed_port(), Security::Tls);
    let e = Pop3Client::connect(&s).await.unwrap_err();
    assert_eq!(e.code(), "CONNECTION_REFUSED", "{e}");
    assert_eq!(e.class(), ErrorClass::Transient);
}

#[tokio::test]
async fn sasl_login_when_the_server_has_no_sasl_plain() {
    let d = dovecot_with("auth_mechanisms = login\n");
    d.deliver("anna", &message(1)).await.unwrap();
    let s = settings(&d, d.pop3s_port(), Security::Tls);
    let mut pop = Pop3Client::connect(&s).await.unwrap();
    assert!(!pop.capabilities().has_sasl("PLAIN"), "{:?}", pop.capabilities());
    assert_eq!(pop.retr(1).await.unwrap(), stored(&message(1)));
    pop.quit().await.unwrap();

    let mut wrong = s.clone();
    wrong.password = "wrong-password".into();
    let e = Pop3Client::connect(&wrong).await.unwrap_err();
    assert_eq!(e.code(), "POP3_AUTH_FAILED", "{e}");
}
