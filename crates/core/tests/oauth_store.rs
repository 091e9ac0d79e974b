//! OAuth2 settings and tokens in the store: the profile's OAuth2 client round
//! trips, tokens are encrypted at rest (no token byte sequence in the SQLite
//! files), and a lost key forgets them like passwords.

use std::path::Path;

use chrono::{TimeZone, Utc};
use crmsync_core::Store;
use crmsync_core::model::{CredentialSource, Endpoint, OutgoingAuth, ProfileData, ProfileKind, Security};
use crmsync_core::oauth::{AuthMethod, OAuthConfig, OAuthProvider};
use crmsync_core::secrets::{Secret, key_file_path};
use crmsync_core::store::oauth_tokens::{self, StoredToken, TokenOwner};
use crmsync_core::store::profiles;

fn open_store(path: &Path) -> Store {
    Store::open(path).unwrap().without_keyring()
}

fn data() -> ProfileData {
    ProfileData {
        name: "M365".into(),
        kind: ProfileKind::ImapSmtp,
        incoming: Some(Endpoint { host: "outlook.office365.com".into(), port: 993, security: Security::Tls }),
        outgoing: Some(Endpoint {
            host: "smtp.office365.com".into(),
            port: 587,
            security: Security::Starttls,
        }),
        outgoing_auth: OutgoingAuth::Password,
        ews_url: None,
        graph_url: None,
        dav_url: None,
        credentials: CredentialSource::Mailbox,
        username: None,
        max_connections: 10,
        min_poll_interval: 60,
        timeout: 60,
        process_from: None,
        allow_insecure: false,
        auth: AuthMethod::Oauth2,
        oauth: Some(OAuthConfig {
            provider: OAuthProvider::Microsoft,
            client_id: "11111111-2222-3333-4444-555555555555".into(),
            tenant: Some("contoso.onmicrosoft.com".into()),
            issuer: None,
            authorize_url: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
                .into(),
            token_url: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token".into(),
            device_url: Some(
                "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode".into(),
            ),
            scopes: vec!["https://outlook.office.com/IMAP.AccessAsUser.All".into(), "offline_access".into()],
        }),
    }
}

/// Every byte of the store's files (database, WAL), to look for a secret in clear.
fn store_bytes(path: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", path.display());
        if let Ok(b) = std::fs::read(&p) {
            all.extend(b);
        }
    }
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn an_oauth2_profile_round_trips_with_its_client_and_the_secret_is_only_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    let mut store = open_store(&path);
    let secret = store.cipher().unwrap().seal(&Secret::new("client-secret-VALUE-42"));
    let id = store
        .write(|tx| {
            let id = profiles::insert(tx, &data(), None)?;
            profiles::set_client_secret(tx, id, Some(&secret))?;
            Ok::<_, crmsync_core::CoreError>(id)
        })
        .unwrap();
    let p = profiles::get_by_id(store.conn(), id).unwrap();
    assert_eq!(p.data, data());
    assert!(p.has_client_secret && !p.has_password);
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.contains("\"auth\":\"oauth2\"") && json.contains("\"provider\":\"microsoft\""), "{json}");
    assert!(!json.contains("client-secret-VALUE-42"), "{json}");
    let enc = profiles::client_secret_enc(store.conn(), id).unwrap().unwrap();
    assert_eq!(store.cipher().unwrap().open(&enc).unwrap().expose(), "client-secret-VALUE-42");
    store.conn().execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    assert!(
        !contains(&store_bytes(&path), "client-secret-VALUE-42"),
        "the client secret is in the store in clear"
    );
}

#[test]
fn tokens_are_encrypted_at_rest_and_kept_per_mailbox_and_per_profile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    let mut store = open_store(&path);
    let pid = store.write(|tx| profiles::insert(tx, &data(), None)).unwrap();
    let access = "eyJhbGciOiJSUzI1NiJ9.ACCESS-TOKEN-IN-CLEAR.sig";
    let refresh = "REFRESH-TOKEN-IN-CLEAR-0123456789";
    let cipher = store.cipher().unwrap();
    let expires = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
    let token = StoredToken {
        access_enc: Some(cipher.seal(&Secret::new(access))),
        refresh_enc: Some(cipher.seal(&Secret::new(refresh))),
        expires_on: Some(expires),
        scope: Some("offline_access".into()),
    };
    let app = TokenOwner { profile_id: pid, mailbox_id: None };
    store.write(|tx| oauth_tokens::put(tx, app, &token)).unwrap();
    // Replacing keeps one row.
    store.write(|tx| oauth_tokens::put(tx, app, &token)).unwrap();
    let n: i64 = store.conn().query_row("SELECT COUNT(*) FROM oauth_tokens", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
    let back = oauth_tokens::get(store.conn(), app).unwrap().unwrap();
    assert_eq!(back.expires_on, Some(expires));
    assert_eq!(store.cipher().unwrap().open(back.refresh_enc.as_ref().unwrap()).unwrap().expose(), refresh);
    assert!(
        oauth_tokens::get(store.conn(), TokenOwner { profile_id: pid, mailbox_id: Some(7) })
            .unwrap()
            .is_none()
    );

    store.conn().execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    let bytes = store_bytes(&path);
    assert!(!bytes.is_empty());
    assert!(!contains(&bytes, "ACCESS-TOKEN-IN-CLEAR"), "the access token is in the store in clear");
    assert!(!contains(&bytes, "REFRESH-TOKEN-IN-CLEAR"), "the refresh token is in the store in clear");

    assert!(store.write(|tx| oauth_tokens::delete(tx, app)).unwrap());
    assert!(oauth_tokens::get(store.conn(), app).unwrap().is_none());
}

#[test]
fn a_lost_key_forgets_tokens_and_client_secrets_like_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    {
        let mut store = open_store(&path);
        let sealed = store.cipher().unwrap().seal(&Secret::new("x"));
        let pid = store.write(|tx| profiles::insert(tx, &data(), None)).unwrap();
        store
            .write(|tx| {
                profiles::set_client_secret(tx, pid, Some(&sealed))?;
                let t = StoredToken {
                    access_enc: Some(sealed.clone()),
                    refresh_enc: None,
                    expires_on: None,
                    scope: None,
                };
                oauth_tokens::put(tx, TokenOwner { profile_id: pid, mailbox_id: None }, &t)
            })
            .unwrap();
    }
    std::fs::remove_file(key_file_path(&path)).unwrap();
    let store = open_store(&path);
    store.cipher().expect("a new key");
    let p = profiles::get(store.conn(), "M365").unwrap();
    assert!(!p.has_client_secret, "a secret sealed with the lost key is removed");
    let n: i64 = store.conn().query_row("SELECT COUNT(*) FROM oauth_tokens", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0, "tokens sealed with the lost key are removed");
}
