//! Desktop end-to-end test in real WebKit: the built app under Xvfb +
//! `dbus-run-session` + dunst, driven through tauri-driver and
//! WebKitWebDriver by a Selenium client (ui/e2e/desktop.mjs), against the
//! harness's Dovecot. See ui/e2e/session.sh for the session set-up.
//!
//! Needs: xvfb dbus dunst webkit2gtk-driver, `tauri-driver` on PATH, node,
//! `npm --prefix ui/e2e ci` and `npm --prefix tests/oauth2 ci`. Screenshots
//! land in target/e2e/screenshots.
//!
//! The OAuth2 part: a profile with the Microsoft 365 preset whose endpoints
//! point at the local authorization server (oauth2-mock-server) and whose
//! IMAP server is this Dovecot with its `oauth2` passdb; a mailbox signed in
//! with the window's Sign in button, no password typed anywhere. The app's
//! "browser" (`CRMSYNC_BROWSER`, ui/e2e/browser.sh) hands the sign-in URL to
//! this test, which plays the browser: it opens the URL at the authorization
//! server and follows the redirect to the app's loopback listener.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crmsync_tests::{Dovecot, DovecotOptions, Introspection, OAuthServer};

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

/// An email whose HTML tries every way to reach `base` (the [`HitCounter`]):
/// images, CSS `url()` and `@import`, `<link>` prefetch/preload/stylesheet,
/// a meta refresh, a form that submits itself, frames, media, `srcset`.
/// Each URL has its own path, so a hit names what leaked.
fn remote_content_email(to: &str, base: &str) -> Vec<u8> {
    let html = r#"<html><head>
<meta http-equiv="refresh" content="0;url=URL/meta-refresh">
<link rel="stylesheet" href="URL/link-stylesheet.css">
<link rel="prefetch" href="URL/link-prefetch">
<link rel="preload" as="image" href="URL/link-preload.png">
<link rel="preconnect" href="URL/">
<link rel="dns-prefetch" href="URL/">
<link rel="icon" href="URL/link-icon.png">
<style>
@import url(URL/css-import.css);
@font-face { font-family: Tracked; src: url(URL/css-font.woff); }
body { background: url(URL/css-background.png); font-family: Tracked, sans-serif; }
</style>
<script src="URL/script-src.js"></script>
</head>
<body background="URL/body-background.png">
<p id="remote-marker">Remote content stays out</p>
<img src="URL/img.png" alt="img">
<img srcset="URL/img-srcset-1x.png 1x, URL/img-srcset-2x.png 2x" alt="srcset">
<picture><source srcset="URL/picture-source.png"><img alt="picture"></picture>
<video poster="URL/video-poster.png" src="URL/video.mp4" preload="auto"></video>
<audio src="URL/audio.mp3" preload="auto" autoplay></audio>
<iframe src="URL/iframe"></iframe>
<object data="URL/object"></object>
<embed src="URL/embed">
<svg width="10" height="10"><image href="URL/svg-image.png" width="10" height="10"/></svg>
<input type="image" src="URL/input-image.png" alt="input">
<div style="background-image:url(URL/inline-style.png)">styled</div>
<form id="remote-form" action="URL/form-action" method="post">
<input id="remote-input" name="q" value="secret">
<button id="remote-submit" type="submit" autofocus>Send</button>
<button type="submit" formaction="URL/button-formaction">Other</button>
</form>
<script>document.getElementById('remote-form').submit();location.href='URL/script-navigation';</script>
<a id="remote-link" href="URL/link-href" ping="URL/link-ping">a link (not clicked)</a>
</body></html>"#
        .replace("URL", base)
        .replace('\n', "\r\n");
    format!(
        "From: Eve Tracker <eve@elsewhere.test>\r\nTo: {to}\r\nSubject: E2E remote content\r\n\
         Message-ID: <e2e-remote@elsewhere.test>\r\nDate: Mon, 01 Jan 2024 11:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
    )
    .into_bytes()
}

/// A loopback HTTP listener that counts every connection it gets (any path,
/// with or without a request) and answers `200` with an empty body.
struct HitCounter {
    port: u16,
    /// One entry per connection: its request line, once read.
    hits: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl HitCounter {
    fn start() -> Self {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the hit counter");
        let port = listener.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let record = hits.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let index = {
                    let mut h = record.lock().unwrap();
                    h.push("(connection, no request line)".into());
                    h.len() - 1
                };
                let record = record.clone();
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 2048];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                        match conn.read(&mut chunk) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    if let Some(line) = String::from_utf8_lossy(&buf).lines().next().filter(|l| !l.is_empty())
                    {
                        record.lock().unwrap()[index] = line.to_string();
                    }
                    let _ =
                        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                });
            }
        });
        HitCounter { port, hits }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
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

    let oauth = OAuthServer::start().expect("start the OAuth2 authorization server");
    let dovecot = Dovecot::start_with(DovecotOptions {
        oauth2: Some(oauth.passdb(Introspection::Local)),
        ..Default::default()
    })
    .expect("start Dovecot");
    dovecot.add_user("alice", PASSWORD).unwrap();
    let user = dovecot.address("alice");
    // Carol signs in with OAuth2 only: her Dovecot password is never typed.
    dovecot.add_user("carol", "never-typed-Passw0rd").unwrap();
    let carol = dovecot.address("carol");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(dovecot.deliver("alice", &scripted_email(&user))).unwrap();
    // The mail frame must load nothing remote: this email points everything
    // at a loopback listener that counts its hits (it must count none).
    let trap = HitCounter::start();
    rt.block_on(dovecot.deliver("alice", &remote_content_email(&user, &trap.base()))).unwrap();

    // Access tokens that always need renewing (under the 5-minute margin), so
    // each connection asks for a new one: a revoked sign-in shows at once.
    rt.block_on(oauth.configure(serde_json::json!({ "access_ttl": 120 }))).unwrap();

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
        .env("E2E_OAUTH_USER", &carol)
        .env("E2E_OAUTH_ISSUER", oauth.issuer())
        .env("E2E_OAUTH_AUTHORIZE_URL", oauth.authorize_url())
        .env("E2E_OAUTH_TOKEN_URL", oauth.token_url())
        .env("CRMSYNC_BROWSER", e2e_dir.join("browser.sh"))
        .spawn()
        .expect("start the desktop session");

    // The client asks for the password change once the mailbox works.
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut hits_written = String::new();
    let status = loop {
        // The client checks this file right after opening the email and after clicking in it.
        let hits: String = trap.hits().iter().map(|h| format!("{h}\n")).collect();
        if hits != hits_written {
            std::fs::write(out.join("control/trap-hits"), &hits).unwrap();
            hits_written = hits;
        }
        if out.join("control/change-password").exists() && !out.join("control/password-changed").exists() {
            dovecot.set_password("alice", "second-Passw0rd").unwrap();
            std::fs::write(out.join("control/password-changed"), "").unwrap();
        }
        // The app "opened the browser" for the sign-in: play it.
        if out.join("control/authorize-url").exists() && !out.join("control/browsed").exists() {
            let url = std::fs::read_to_string(out.join("control/authorize-url")).unwrap();
            let url = url.trim();
            let answer = if url.starts_with(&oauth.authorize_url()) {
                match rt.block_on(oauth.browse(url)) {
                    Ok((status, page)) => format!("{status}\n{page}"),
                    Err(e) => format!("error\n{e}"),
                }
            } else {
                format!("error\nthe app opened {url}, not the authorization server")
            };
            std::fs::write(out.join("control/browsed"), answer).unwrap();
        }
        // The admin of the provider revokes Carol's sign-in.
        if out.join("control/revoke-sign-in").exists() && !out.join("control/sign-in-revoked").exists() {
            rt.block_on(oauth.revoke_user(&carol)).unwrap();
            std::fs::write(out.join("control/sign-in-revoked"), "").unwrap();
        }
        if let Some(status) = session.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the desktop session did not finish in 10 minutes");
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
    // Checked first: a remote load may also be what broke the session.
    let hits = trap.hits();
    assert!(
        hits.is_empty(),
        "the mail frame reached the network: {} hit(s) on {}:\n{}",
        hits.len(),
        trap.base(),
        hits.join("\n")
    );
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
    let browsed = log("control/browsed");
    assert!(
        browsed.starts_with("200\n") && browsed.contains("You can close this window"),
        "the sign-in page the browser got back from the app: {browsed}"
    );
    let stats = rt.block_on(oauth.stats()).unwrap();
    assert_eq!(stats.authorizations, 1, "one sign-in at the authorization server: {stats:?}");
    // The revoked sign-in's notification says what to do, its action is Sign in.
    let at = notifications.find(&format!("{carol} needs a new sign-in")).expect("a sign-in notification");
    let rest = &notifications[at..];
    assert!(rest.contains("Press Sign in"), "{rest}");
    let body = &rest[..rest.find("array").unwrap_or(rest.len())];
    assert!(!body.contains("the server may be down"), "a refused sign-in is no server outage: {body}");
    assert!(rest.contains("\"Sign in\""), "the notification's action: {rest}");
    for page in [
        "dashboard-first-run",
        "profiles",
        "mailbox-test-enable",
        "activity-email",
        "activity-remote-content",
        "dashboard-failing",
        "alerts",
        "settings",
        "profile-test-connection",
        "profile-oauth-microsoft",
        "mailbox-signed-in",
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
