//! Desktop end-to-end test in real WebKit: the built app under Xvfb +
//! `dbus-run-session` + dunst, driven through tauri-driver and
//! WebKitWebDriver by a Selenium client (ui/e2e/desktop.mjs), against the
//! harness's Dovecot. See ui/e2e/session.sh for the session set-up.
//!
//! Needs: xvfb dbus dunst webkit2gtk-driver, `tauri-driver` on PATH, node and
//! `npm --prefix ui/e2e ci`. Screenshots land in target/e2e/screenshots.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crmsync_tests::Dovecot;

const PASSWORD: &str = "first-Passw0rd";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn have(tool: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
}

fn scripted_email(to: &str) -> Vec<u8> {
    format!(
        "From: Bob Sender <bob@elsewhere.test>\r\nTo: {to}\r\nSubject: E2E scripted email\r\n\
         Message-ID: <e2e-script@elsewhere.test>\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <html><body><p id=\"hello\">Hello from the harness</p>\
         <script>document.body.setAttribute('data-ran','yes');try{{parent.document.title='pwned'}}catch(e){{}}</script>\
         <img src=\"http://127.0.0.1:9/track.gif\"></body></html>\r\n"
    )
    .into_bytes()
}

#[test]
fn desktop_end_to_end_in_webkit() {
    for tool in
        ["dbus-run-session", "Xvfb", "dunst", "dbus-monitor", "tauri-driver", "WebKitWebDriver", "node"]
    {
        assert!(have(tool), "{tool} is missing: see scripts/install-deps.sh (e2e) and .ci/run");
    }
    let e2e_dir = root().join("ui/e2e");
    assert!(e2e_dir.join("node_modules/selenium-webdriver").is_dir(), "run `npm --prefix ui/e2e ci` first");

    let dovecot = Dovecot::start().expect("start Dovecot");
    dovecot.add_user("alice", PASSWORD).unwrap();
    let user = dovecot.address("alice");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(dovecot.deliver("alice", &scripted_email(&user))).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let out = root().join("target/e2e");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(out.join("control")).unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let tray_file = out.join("tray-state");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };

    let mut session = Command::new("dbus-run-session")
        .arg("--")
        .arg("bash")
        .arg(e2e_dir.join("session.sh"))
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_RUNTIME_DIR", tmp.path())
        .env("CRMSYNC_KEYRING", "off")
        .env("CRMSYNC_DESKTOP_TRAY_STATE_FILE", &tray_file)
        .env("E2E_OUT", &out)
        .env("E2E_APP", env!("CARGO_BIN_EXE_crmsync-desktop"))
        .env("E2E_DB", tmp.path().join("crm.db"))
        .env("E2E_DRIVER_PORT", port.to_string())
        .env("E2E_IMAP_HOST", dovecot.host())
        .env("E2E_IMAP_PORT", dovecot.imap_port().to_string())
        .env("E2E_USER", &user)
        .env("E2E_PASSWORD", PASSWORD)
        .spawn()
        .expect("start the desktop session");

    // The client asks for the password change once the mailbox works.
    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        if out.join("control/change-password").exists() && !out.join("control/password-changed").exists() {
            dovecot.set_password("alice", "second-Passw0rd").unwrap();
            std::fs::write(out.join("control/password-changed"), "").unwrap();
        }
        if let Some(status) = session.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the desktop session did not finish in 10 minutes");
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
    assert!(
        status.success(),
        "desktop E2E failed ({status}); see target/e2e/ (screenshots/failure.png)\n--- tauri-driver.log:\n{}",
        log("tauri-driver.log")
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    let notifications = log("notifications.log");
    assert!(
        notifications.contains(&format!("{user} is failing")),
        "no Notify call on D-Bus:\n{notifications}"
    );
    assert!(log("tray-state").starts_with("error"), "tray state: {}", log("tray-state"));
    for page in [
        "dashboard-first-run",
        "profiles",
        "mailbox-test-enable",
        "activity-email",
        "dashboard-failing",
        "alerts",
        "settings",
        "profile-test-connection",
    ] {
        assert!(out.join(format!("screenshots/{page}.png")).is_file(), "no screenshot of {page}");
    }
}

/// Kills the process group `child` leads (xvfb-run, dbus, the app).
struct Group(std::process::Child);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.wait();
    }
}

/// A store whose lease another engine holds (as `crmsync run` holds it): the
/// tray says who holds it, and once that engine stops the app takes over.
#[test]
fn desktop_names_the_lease_holder_and_takes_over_when_it_stops() {
    use std::os::unix::process::CommandExt;

    use crmsync_engine::handle::{EngineHandle, EngineOptions};

    for tool in ["xvfb-run", "dbus-run-session", "Xvfb"] {
        assert!(have(tool), "{tool} is missing: see scripts/install-deps.sh (e2e)");
    }
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("crm.db");
    crmsync_core::Store::open(&db).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let other = rt
        .block_on(EngineHandle::start(
            db.clone(),
            EngineOptions { holder: "crmsync run".into(), ..EngineOptions::default() },
        ))
        .unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let tray_file = tmp.path().join("tray-state");
    let _app = Group(
        Command::new("xvfb-run")
            .args(["-a", "dbus-run-session", "--", env!("CARGO_BIN_EXE_crmsync-desktop"), "--db"])
            .arg(&db)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_RUNTIME_DIR", tmp.path())
            .env("CRMSYNC_KEYRING", "off")
            .env("CRMSYNC_DESKTOP_TRAY_STATE_FILE", &tray_file)
            .process_group(0)
            .spawn()
            .expect("start the app"),
    );
    let tray = || std::fs::read_to_string(&tray_file).unwrap_or_default();
    let wait_for = |what: &str, ok: &dyn Fn(&str) -> bool, secs: u64| {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !ok(&tray()) {
            assert!(Instant::now() < deadline, "{what}; tray state: {:?}", tray());
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let holder = format!("crmsync run (pid {} on ", std::process::id());
    wait_for("the tray names the lease holder", &|s| s.contains(&holder), 120);
    rt.block_on(other.shutdown());
    // The app retries the lease every 15 s.
    wait_for("the app took the lease over", &|s| !s.is_empty() && !s.contains(&holder), 60);
}
