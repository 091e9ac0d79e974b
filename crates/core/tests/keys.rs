//! The store's files and its credential key: private whatever the umask,
//! created atomically when several openers race, and a key file left beside a
//! new store adopted or explained.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier};

use crmsync_core::Store;
use crmsync_core::model::{CredentialSource, Endpoint, OutgoingAuth, ProfileData, ProfileKind, Security};
use crmsync_core::secrets::{Secret, key_file_path};
use crmsync_core::store::profiles;
use crmsync_core::store::send_log::{self, Fact, SendLog};

/// Tests never touch a developer's real keyring.
fn open_store(path: &Path) -> Store {
    Store::open(path).unwrap().without_keyring()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

#[test]
#[ignore = "run as a child process (under a set umask) by every_file_of_the_store_is_private_whatever_the_umask"]
fn child_creates_the_store_files_and_checks_their_modes() {
    let Ok(dir) = std::env::var("CRMSYNC_CHILD_DIR") else { return };
    // A folder that does not exist yet: crmsync creates it.
    let path = Path::new(&dir).join("data").join("crm.db");
    let store = open_store(&path);
    store.cipher().unwrap();
    store.conn().execute("INSERT INTO meta(key, value) VALUES ('umask-test', 'x')", []).unwrap();
    let mut log = SendLog::create(&path, "pass-1").unwrap();
    log.record(Fact::Started { id: 1, at: "2026-01-01T00:00:00.000Z".into() }).unwrap();
    let mut report = String::new();
    for (p, want) in [
        (path.parent().unwrap().to_path_buf(), 0o700),
        (path.clone(), 0o600),
        (with_suffix(&path, "-wal"), 0o600),
        (with_suffix(&path, "-shm"), 0o600),
        (key_file_path(&path), 0o600),
        (send_log::dir_of(&path), 0o700),
        (send_log::dir_of(&path).join("pass-1.log"), 0o600),
    ] {
        let got = mode(&p);
        report.push_str(&format!("{} {:o}\n", p.display(), got));
        assert_eq!(got, want, "{} has mode {got:o}, not {want:o}\n{report}", p.display());
    }
    println!("MODES-OK");
}

#[test]
fn every_file_of_the_store_is_private_whatever_the_umask() {
    let exe = std::env::current_exe().unwrap();
    for umask in ["022", "000"] {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask {umask} && exec \"$0\" --exact child_creates_the_store_files_and_checks_their_modes --ignored --nocapture"
            ))
            .arg(&exe)
            .env("CRMSYNC_CHILD_DIR", dir.path())
            .env("CRMSYNC_KEYRING", "off")
            .output()
            .unwrap();
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && text.contains("MODES-OK"), "umask {umask}:\n{text}");
    }
}

#[test]
fn two_openers_of_one_new_store_at_once_end_with_one_key_and_read_each_others_secrets() {
    for round in 0..40 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crm.db");
        let barrier = Arc::new(Barrier::new(2));
        let threads: Vec<_> = ["first", "second"]
            .into_iter()
            .map(|who| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let store = open_store(&path);
                    let sealed = store.cipher().map_err(|e| format!("{who}: {e}"))?.seal(&Secret::new(who));
                    Ok::<_, String>(sealed)
                })
            })
            .collect();
        let sealed: Vec<Vec<u8>> = threads
            .into_iter()
            .map(|t| t.join().unwrap().unwrap_or_else(|e| panic!("round {round}: {e}")))
            .collect();
        // A third opener reads both: there is one key.
        let store = open_store(&path);
        let cipher = store.cipher().unwrap();
        assert_eq!(cipher.open(&sealed[0]).unwrap().expose(), "first", "round {round}");
        assert_eq!(cipher.open(&sealed[1]).unwrap().expose(), "second", "round {round}");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary key files left: {leftovers:?}");
    }
}

#[test]
fn a_key_file_left_by_a_deleted_store_is_adopted_by_a_new_store_at_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    {
        let store = open_store(&path);
        store.cipher().unwrap();
    }
    let old_key = std::fs::read(key_file_path(&path)).unwrap();
    // The store is deleted; its key file stays.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(&path, suffix));
    }
    let store = open_store(&path);
    let sealed =
        store.cipher().expect("a new store adopts the key file left beside it").seal(&Secret::new("pw"));
    drop(store);
    assert_eq!(std::fs::read(key_file_path(&path)).unwrap(), old_key, "the key file is kept as it was");
    let store = open_store(&path);
    assert_eq!(store.cipher().unwrap().open(&sealed).unwrap().expose(), "pw", "the adopted key is recorded");
}

#[test]
fn a_key_file_of_another_store_says_what_it_is_and_what_to_do_and_moving_it_away_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    let other = dir.path().join("other.db");
    {
        let store = open_store(&path);
        let sealed = store.cipher().unwrap().seal(&Secret::new("pw"));
        store
            .conn()
            .execute("INSERT INTO meta(key, value) VALUES ('sealed', ?1)", [hex_of(&sealed)])
            .unwrap();
        let mut store = store;
        store.write(|tx| profiles::insert(tx, &profile_data(), Some(&sealed))).unwrap();
        open_store(&other).cipher().unwrap();
    }
    // This store's key file is replaced by another store's.
    std::fs::copy(key_file_path(&other), key_file_path(&path)).unwrap();
    let store = open_store(&path);
    let err = store.cipher().unwrap_err().to_string();
    let key = key_file_path(&path).display().to_string();
    assert!(err.contains(&format!("{key} is the credential key of a crmsync store")), "{err}");
    assert!(err.contains("does not match this store"), "{err}");
    assert!(err.contains(&format!("move {key} away")), "{err}");
    assert!(err.contains("must be entered again"), "{err}");
    drop(store);

    // The admin moves it away, as the message says: a new key, and the
    // passwords (which nobody can decrypt any more) must be entered again.
    std::fs::rename(key_file_path(&path), dir.path().join("moved.key")).unwrap();
    let store = open_store(&path);
    let cipher = store.cipher().expect("a store whose key file is gone starts over with a new key");
    let sealed = cipher.seal(&Secret::new("new"));
    assert_eq!(cipher.open(&sealed).unwrap().expose(), "new");
    assert_eq!(mode(&key_file_path(&path)), 0o600);
    let profile = profiles::get(store.conn(), "Office").unwrap();
    assert!(!profile.has_password, "a password sealed with the lost key is removed");
    drop(store);
    assert!(open_store(&path).cipher().is_ok(), "the new key is recorded");
}

fn profile_data() -> ProfileData {
    ProfileData {
        name: "Office".into(),
        kind: ProfileKind::ImapSmtp,
        incoming: Some(Endpoint { host: "imap.example.test".into(), port: 993, security: Security::Tls }),
        outgoing: Some(Endpoint { host: "smtp.example.test".into(), port: 465, security: Security::Tls }),
        outgoing_auth: OutgoingAuth::Password,
        ews_url: None,
        graph_url: None,
        dav_url: None,
        credentials: CredentialSource::Profile,
        username: Some("svc".into()),
        max_connections: 10,
        min_poll_interval: 60,
        timeout: 60,
        process_from: None,
        allow_insecure: false,
        auth: Default::default(),
        oauth: None,
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
