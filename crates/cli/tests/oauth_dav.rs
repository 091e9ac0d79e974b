//! Appointments over CalDAV with OAuth2 bearer tokens, as a Google mailbox
//! syncs them: a real Radicale whose auth plugin verifies the private
//! authorization server's (oauth2-mock-server) tokens, a profile shaped like
//! the Google preset (IMAP + a CalDAV URL, scopes for mail and calendar)
//! pointed at them. The appointment goes both ways with a bearer token; an
//! access token the server refuses is renewed once and the sync goes on; no
//! token appears in `--json` output or in the trace log.

mod common;

use chrono::Utc;
use common::Env;
use crmsync_engine::oauth::{self, Tokens};
use crmsync_tests::{OAuthServer, Radicale, RadicaleOptions};
use serde_json::Value;

const EMAIL: &str = "alice@example.test";
const PW: &str = "alice-pw";

struct World {
    oauth: OAuthServer,
    rad: Radicale,
    env: Env,
    rt: tokio::runtime::Runtime,
}

impl World {
    fn new() -> World {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let oauth = OAuthServer::start().unwrap();
        // Like Google's CalDAV: the token must carry the calendar scope.
        let rad =
            Radicale::start_with(RadicaleOptions { oauth: Some(oauth.radicale(Some("calendar"))) }).unwrap();
        // A password only for the test's own look at the server.
        rad.add_user("alice", PW).unwrap();
        assert!(rt.block_on(rad.mkcalendar("alice", PW, "/alice/cal/", "Calendar")).unwrap().is_success());
        let env = Env::new();
        let (dav, token, authorize) =
            (format!("{}/", rad.base_url()), oauth.token_url(), oauth.authorize_url());
        env.ok(&[
            "profile",
            "add",
            "Google-like",
            "--kind",
            "imap-smtp",
            "--incoming-host",
            "127.0.0.1",
            "--dav-url",
            &dav,
            "--allow-insecure",
            "--timeout",
            "20",
            "--auth",
            "oauth2",
            "--provider",
            "custom",
            "--client-id",
            "crmsync-test",
            "--token-url",
            &token,
            "--authorize-url",
            &authorize,
            "--scopes",
            "mail calendar",
        ]);
        env.ok(&["user", "add", EMAIL, "--name", "Alice"]);
        env.ok(&[
            "mailbox",
            "add",
            EMAIL,
            "--profile",
            "Google-like",
            "--incoming",
            "none",
            "--outgoing",
            "none",
            "--act",
            "server-side",
        ]);
        World { oauth, rad, env, rt }
    }

    /// Stores tokens for alice as a sign-in would, the access token believed
    /// valid for `valid_for` seconds.
    fn store_tokens(&self, access: &str, refresh: &str, valid_for: i64) {
        let t = Tokens {
            access: crmsync_core::secrets::Secret::new(access),
            refresh: Some(crmsync_core::secrets::Secret::new(refresh)),
            expires_on: Some(Utc::now() + chrono::Duration::seconds(valid_for)),
            scope: Some("mail calendar".into()),
        };
        oauth::store_tokens(&self.env.store(), EMAIL, &t).unwrap();
    }

    /// The access and refresh token stored for alice, decrypted.
    fn stored(&self) -> Vec<String> {
        let store = self.env.store();
        let mb = crmsync_core::store::mailboxes::find(store.conn(), EMAIL).unwrap().unwrap();
        let owner = crmsync_core::store::oauth_tokens::TokenOwner {
            profile_id: mb.data.profile_id,
            mailbox_id: Some(mb.id),
        };
        let t = crmsync_core::store::oauth_tokens::get(store.conn(), owner).unwrap().expect("tokens stored");
        let cipher = store.cipher().unwrap();
        [t.access_enc, t.refresh_enc]
            .into_iter()
            .flatten()
            .map(|e| cipher.open(&e).unwrap().expose().to_string())
            .collect()
    }

    fn refreshes(&self) -> u64 {
        self.rt.block_on(self.oauth.stats()).unwrap().refresh_requests
    }

    /// `crmsync --json sync` with trace logging: (the ACT result, stdout + stderr).
    fn sync(&self) -> (Value, String) {
        let out = self.env.cmd(&["--json", "sync"]).env("CRMSYNC_LOG", "trace").output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(stderr.contains("TRACE") || stderr.contains("DEBUG"), "trace logging is on");
        let all: Value = serde_json::from_str(&stdout).unwrap();
        let act = all
            .as_array()
            .and_then(|a| a.iter().find(|r| r["mailbox"] == EMAIL && r["channel"] == "act"))
            .cloned()
            .unwrap_or_else(|| panic!("an ACT result: {all:#}"));
        (act, format!("{stdout}{stderr}"))
    }

    /// The bodies of the calendar's items on the server.
    fn server_items(&self) -> Vec<String> {
        let r = self
            .rt
            .block_on(self.rad.request("PROPFIND", "alice", PW, "/alice/cal/", &[("Depth", "1")], None))
            .unwrap();
        let hrefs: Vec<String> = r
            .body
            .split("<href>")
            .skip(1)
            .filter_map(|s| s.split("</href>").next())
            .filter(|h| h.ends_with(".ics"))
            .map(str::to_string)
            .collect();
        hrefs.iter().map(|h| self.rt.block_on(self.rad.get("alice", PW, h)).unwrap().body).collect()
    }

    fn put_event(&self, uid: &str, summary: &str) {
        let body = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
             DTSTAMP:20260101T000000Z\r\nDTSTART:20260302T090000Z\r\nDTEND:20260302T100000Z\r\n\
             SUMMARY:{summary}\r\nORGANIZER:mailto:{EMAIL}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let path = format!("/alice/cal/{uid}.ics");
        let r = self.rt.block_on(self.rad.put("alice", PW, &path, &body, "text/calendar")).unwrap();
        assert!(r.is_success(), "{r:?}");
    }

    fn crm_subjects(&self) -> Vec<String> {
        let list = self.env.json(&["appointment", "list"]);
        list.as_array()
            .unwrap()
            .iter()
            .map(|a| a["subject"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

fn assert_no_token(tokens: &[String], what: &str, text: &str) {
    for t in tokens {
        assert!(t.len() > 8, "a real token");
        assert!(!text.contains(t.as_str()), "a token appears in {what}");
    }
}

#[test]
fn an_oauth2_mailbox_syncs_an_appointment_both_ways_through_caldav_with_a_bearer_token() {
    let w = World::new();
    let t = w.rt.block_on(w.oauth.issue(EMAIL, "mail calendar", 3600)).unwrap();
    w.store_tokens(&t.access, &t.refresh, 3600);
    let report = w.env.json(&["mailbox", "test-enable", EMAIL]);
    let act = report["channels"].as_array().unwrap().iter().find(|c| c["channel"] == "act").cloned();
    assert_eq!(act.as_ref().map(|c| c["enabled"].clone()), Some(Value::Bool(true)), "{report:#}");

    w.put_event("srv-event", "Server meeting");
    w.env.json(&[
        "appointment",
        "add",
        "--subject",
        "CRM meeting",
        "--start",
        "2026-04-01T09:00",
        "--end",
        "2026-04-01T10:00",
        "--organizer",
        EMAIL,
        "--owner",
        EMAIL,
    ]);
    let (act, output) = w.sync();
    assert_eq!(act["result"], "ok", "{act:#}");
    assert!(w.crm_subjects().contains(&"Server meeting".to_string()), "server -> CRM: {act:#}");
    let items = w.server_items();
    assert!(items.iter().any(|b| b.contains("SUMMARY:CRM meeting")), "CRM -> server: {items:?}");
    assert_eq!(items.len(), 2, "{items:?}");
    let tokens = w.stored();
    assert_no_token(&tokens, "sync --json output or its trace log", &output);

    // The server refuses the stored access token (it expired early): renewed
    // once, and the same sync goes on.
    let expired = w.rt.block_on(w.oauth.issue(EMAIL, "mail calendar", -60)).unwrap();
    w.store_tokens(&expired.access, &expired.refresh, 3600);
    w.put_event("srv-event-2", "Second server meeting");
    let before = w.refreshes();
    let (act, output) = w.sync();
    assert_eq!(act["result"], "ok", "{act:#}");
    assert_eq!(w.refreshes() - before, 1, "renewed exactly once: {act:#}");
    assert!(w.crm_subjects().contains(&"Second server meeting".to_string()), "{act:#}");
    let renewed = w.stored();
    assert!(!renewed.contains(&expired.access), "the renewed token is stored");
    let mut all = renewed.clone();
    all.extend([expired.access.clone(), expired.refresh.clone()]);
    assert_no_token(&all, "sync --json output or its trace log after a renewal", &output);

    // Test Connection with the mailbox logs in to CalDAV with its token.
    let out = w
        .env
        .cmd(&["--json", "profile", "test", "Google-like", "--mailbox", EMAIL])
        .env("CRMSYNC_LOG", "trace")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
    let dav = report["servers"].as_array().unwrap().iter().find(|s| s["proto"] == "DAV").cloned().unwrap();
    assert_eq!((dav["ok"].as_bool(), dav["login"].as_bool()), (Some(true), Some(true)), "{dav:#}");
    assert_no_token(&all, "profile test --json output or its trace log", &text);
}
