//! OAuth2 profiles through the admin API: presets fill the servers, errors
//! name the option, the client secret is only flagged, and switching a
//! password profile to OAuth2 keeps its mailboxes and their sync state.

use crmsync_core::Store;
use crmsync_core::model::Security;
use crmsync_core::oauth::{AuthMethod, OAuthProvider};
use crmsync_core::secrets::Secret;
use crmsync_core::store::principals::Kind;
use crmsync_core::store::sync_state::{self, FolderState};

use super::mailboxes::{self, MailboxInput};
use super::principals;
use super::profiles::{self, ProfileInput};
use crate::error::EngineError;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("crm.db")).unwrap().without_keyring();
    (dir, store)
}

fn field(e: EngineError) -> String {
    match e {
        EngineError::Core(crmsync_core::CoreError::Invalid { field, .. }) => field,
        other => panic!("expected an invalid field, got {other}"),
    }
}

#[test]
fn the_microsoft_preset_fills_hosts_ports_security_and_oauth2() {
    let (_d, mut store) = store();
    let input = ProfileInput {
        preset: Some("microsoft".into()),
        oauth_client_id: Some("11111111-2222-3333-4444-555555555555".into()),
        oauth_tenant: Some("contoso.onmicrosoft.com".into()),
        ..Default::default()
    };
    let p = profiles::add(&mut store, "M365", &input).unwrap();
    let inc = p.data.incoming.as_ref().unwrap();
    let out = p.data.outgoing.as_ref().unwrap();
    assert_eq!((inc.host.as_str(), inc.port, inc.security), ("outlook.office365.com", 993, Security::Tls));
    assert_eq!((out.host.as_str(), out.port, out.security), ("smtp.office365.com", 587, Security::Starttls));
    assert_eq!(p.data.auth, AuthMethod::Oauth2);
    let o = p.data.oauth.as_ref().unwrap();
    assert_eq!(o.provider, OAuthProvider::Microsoft);
    assert!(o.token_url.contains("/contoso.onmicrosoft.com/oauth2/v2.0/token"), "{}", o.token_url);

    let g = ProfileInput {
        preset: Some("google".into()),
        oauth_client_id: Some("x.apps.googleusercontent.com".into()),
        ..Default::default()
    };
    let p = profiles::add(&mut store, "Google", &g).unwrap();
    assert_eq!(p.data.incoming.unwrap().host, "imap.gmail.com");
    assert_eq!(p.data.outgoing.unwrap().host, "smtp.gmail.com");
    assert_eq!(p.data.dav_url.as_deref(), Some("https://apidata.googleusercontent.com/caldav/v2/"));
}

#[test]
fn oauth2_options_are_checked_and_errors_name_the_option() {
    let (_d, mut store) = store();
    let base = ProfileInput {
        kind: Some("imap-smtp".into()),
        incoming_host: Some("mail.example.test".into()),
        ..Default::default()
    };
    let no_id =
        ProfileInput { auth: Some("oauth2".into()), oauth_provider: Some("google".into()), ..base.clone() };
    assert_eq!(field(profiles::add(&mut store, "a", &no_id).unwrap_err()), "oauth-client-id");
    let no_provider = ProfileInput { auth: Some("oauth2".into()), ..base.clone() };
    assert_eq!(field(profiles::add(&mut store, "a", &no_provider).unwrap_err()), "oauth-provider");
    let password_with_id = ProfileInput { oauth_client_id: Some("x".into()), ..base.clone() };
    assert_eq!(field(profiles::add(&mut store, "a", &password_with_id).unwrap_err()), "auth");
    let app_only_without_secret = ProfileInput {
        oauth_provider: Some("microsoft".into()),
        oauth_client_id: Some("x".into()),
        credentials: Some("profile".into()),
        ..base.clone()
    };
    assert_eq!(
        field(profiles::add(&mut store, "a", &app_only_without_secret).unwrap_err()),
        "oauth-client-secret"
    );
    let app_only = ProfileInput {
        oauth_client_secret: Some(Secret::new("s3cr3t-client-VALUE")),
        ..app_only_without_secret
    };
    let p = profiles::add(&mut store, "a", &app_only).unwrap();
    assert!(p.has_client_secret && !p.has_password);
    let json = serde_json::to_string(&p).unwrap();
    assert!(!json.contains("s3cr3t-client-VALUE"), "{json}");
    assert!(json.contains("\"has_client_secret\":true"), "{json}");
}

#[test]
fn switching_a_password_profile_to_oauth2_keeps_its_mailboxes_and_their_sync_state() {
    let (_d, mut store) = store();
    let input = ProfileInput {
        kind: Some("imap-smtp".into()),
        incoming_host: Some("mail.example.test".into()),
        ..Default::default()
    };
    profiles::add(&mut store, "Office", &input).unwrap();
    principals::add(&mut store, Kind::User, "alice@example.test", "Alice").unwrap();
    let mb = mailboxes::add(
        &mut store,
        "alice@example.test",
        &MailboxInput {
            profile: Some("Office".into()),
            password: Some(Secret::new("pw")),
            ..Default::default()
        },
    )
    .unwrap();
    let st = FolderState { uidvalidity: 7, last_uid: 42, highest_modseq: None };
    store.write(|tx| sync_state::set_folder_state(tx, mb.id, "INBOX", st)).unwrap();

    let switch = ProfileInput {
        auth: Some("oauth2".into()),
        oauth_provider: Some("custom".into()),
        oauth_client_id: Some("crmsync".into()),
        oauth_token_url: Some("https://idp.example.test/token".into()),
        oauth_authorize_url: Some("https://idp.example.test/authorize".into()),
        oauth_scopes: Some("email offline_access".into()),
        ..Default::default()
    };
    let p = profiles::update(&mut store, "Office", &switch).unwrap();
    assert_eq!(p.data.auth, AuthMethod::Oauth2);
    assert_eq!(p.data.incoming.unwrap().host, "mail.example.test", "the servers stay");
    let after = mailboxes::show(&store, "alice@example.test").unwrap();
    assert_eq!(after.id, mb.id, "the same mailbox row");
    assert_eq!(after.data.profile_id, mb.data.profile_id);
    assert_eq!(
        sync_state::folder_state(store.conn(), mb.id, "INBOX").unwrap(),
        Some(st),
        "the watermark stays"
    );
    let status =
        crate::oauth::status(&store, &after).unwrap().expect("an OAuth2 mailbox has a sign-in state");
    assert!(!status.signed_in);

    // And back: the OAuth2 client stays stored for another switch.
    let back = profiles::update(
        &mut store,
        "Office",
        &ProfileInput { auth: Some("password".into()), ..Default::default() },
    )
    .unwrap();
    assert_eq!(back.data.auth, AuthMethod::Password);
    assert!(back.data.oauth.is_some());
    assert!(crate::oauth::status(&store, &after).unwrap().is_none());
}

#[test]
fn a_mailbox_never_signed_in_is_told_to_sign_in_without_a_network_call() {
    let (_d, mut store) = store();
    let input = ProfileInput {
        preset: Some("google".into()),
        oauth_client_id: Some("x.apps.googleusercontent.com".into()),
        ..Default::default()
    };
    let p = profiles::add(&mut store, "Google", &input).unwrap();
    principals::add(&mut store, Kind::User, "bob@example.test", "Bob").unwrap();
    let mb = mailboxes::add(
        &mut store,
        "bob@example.test",
        &MailboxInput { profile: Some("Google".into()), ..Default::default() },
    )
    .unwrap();
    let err = crate::connect::login(&store, &mb, &p).unwrap_err();
    assert_eq!(err.code(), "OAUTH_SIGN_IN_REQUIRED");
    assert_eq!(err.class(), crmsync_core::ErrorClass::Permanent);
    assert!(err.to_string().contains("mailbox bob@example.test"), "{err}");
}

#[tokio::test]
async fn the_dav_item_store_of_an_oauth2_mailbox_sends_its_access_token_as_a_bearer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_d, mut store) = store();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}/dav/", listener.local_addr().unwrap().port());
    let input = ProfileInput {
        kind: Some("imap-smtp".into()),
        incoming_host: Some("mail.example.test".into()),
        dav_url: Some(url),
        allow_insecure: Some(true),
        auth: Some("oauth2".into()),
        oauth_provider: Some("custom".into()),
        oauth_client_id: Some("crmsync".into()),
        oauth_token_url: Some("http://127.0.0.1:9/token".into()),
        oauth_authorize_url: Some("http://127.0.0.1:9/authorize".into()),
        oauth_scopes: Some("dav".into()),
        ..Default::default()
    };
    let p = profiles::add(&mut store, "Dav", &input).unwrap();
    principals::add(&mut store, Kind::User, "carol@example.test", "Carol").unwrap();
    let mb = mailboxes::add(
        &mut store,
        "carol@example.test",
        &MailboxInput { profile: Some("Dav".into()), ..Default::default() },
    )
    .unwrap();
    let tokens = crate::oauth::Tokens {
        access: Secret::new("dav-access-token-xyz"),
        refresh: Some(Secret::new("r")),
        expires_on: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
        scope: None,
    };
    crate::oauth::store_tokens(&store, "carol@example.test", &tokens).unwrap();
    let items = crate::backend::factory::item_store(&store, &mb, &p).unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 8192];
        let n = s.read(&mut buf).await.unwrap();
        let head = String::from_utf8_lossy(&buf[..n]).to_string();
        let _ =
            s.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
        head
    });
    let _ = items.probe().await;
    let head = server.await.unwrap().to_ascii_lowercase();
    assert!(head.contains("authorization: bearer dav-access-token-xyz"), "{head}");
}
