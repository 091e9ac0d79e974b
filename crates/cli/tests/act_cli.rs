//! `crmsync appointment|task|contact` and the ACT mailbox commands as an admin
//! uses them: --json round trips, exit 2 with one line naming the field and
//! an unchanged store on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

struct Env {
    _dir: tempfile::TempDir,
    db: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("crm.db");
        Env { _dir: dir, db }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_crmsync"))
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env("CRMSYNC_KEYRING", "off")
            .env_remove("CRMSYNC_DB")
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.run(&a);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn invalid(&self, args: &[&str], field: &str) {
        let before = dump(&self.db);
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(field), "{args:?}: {err} does not name {field}");
        assert_eq!(dump(&self.db), before, "{args:?} changed the store");
    }
}

fn dump(db: &Path) -> String {
    let store = crmsync_core::Store::open(db).unwrap();
    let c = store.conn();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = String::new();
    for t in tables {
        let mut stmt = c.prepare(&format!("SELECT * FROM \"{t}\" ORDER BY 1")).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                Ok((0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|"))
            })
            .unwrap();
        for r in rows {
            out.push_str(&format!("{t}: {}\n", r.unwrap()));
        }
    }
    out
}

#[test]
fn appointments_tasks_and_contacts_round_trip_and_bad_input_changes_nothing() {
    let env = Env::new();
    env.json(&["user", "add", "alice@example.test", "--name", "Alice Adams"]);
    let ben = env.json(&[
        "contact",
        "add",
        "--first-name",
        "Ben",
        "--last-name",
        "Baker",
        "--email",
        "ben@contoso.test",
        "--company",
        "Contoso",
        "--phone",
        "+1 555 0100",
        "--city",
        "Springfield",
        "--owner",
        "alice@example.test",
    ]);
    assert_eq!(ben["owner"], "alice@example.test");
    assert!(ben["uid"].as_str().is_some_and(|u| !u.is_empty()));
    let id = ben["id"].to_string();
    assert_eq!(env.json(&["contact", "show", &id]), ben);
    let ben2 = env.json(&["contact", "update", &id, "--mobile-phone", "+1 555 0199", "--city", ""]);
    assert_eq!(ben2["mobile_phone"], "+1 555 0199");
    assert_eq!(ben2["city"], Value::Null);
    assert_eq!(env.json(&["contact", "list"]).as_array().unwrap().len(), 1);

    let a = env.json(&[
        "appointment",
        "add",
        "--subject",
        "Weekly review",
        "--start",
        "2026-03-02T09:00",
        "--end",
        "2026-03-02T10:00",
        "--time-zone",
        "Europe/Berlin",
        "--location",
        "Room 1",
        "--recurrence",
        "freq=weekly;count=8",
        "--exdate",
        "2026-03-16T09:00",
        "--moved",
        "2026-03-09T09:00=2026-03-10T14:00/2026-03-10T15:00",
        "--cancelled",
        "2026-03-23T09:00",
        "--organizer",
        "Alice <alice@example.test>",
        "--attendee",
        "ben@contoso.test",
        "--optional-attendee",
        "x@unknown.test",
        "--regarding",
        "contact:ben@contoso.test",
        "--owner",
        "alice@example.test",
    ]);
    assert_eq!(a["recurrence"], "FREQ=WEEKLY;COUNT=8");
    assert_eq!(a["exdates"][0], "2026-03-16T09:00:00");
    assert_eq!(a["exceptions"].as_array().unwrap().len(), 2);
    assert_eq!(a["organizer"]["resolved"]["type"], "user");
    let ben_att =
        a["attendees"].as_array().unwrap().iter().find(|x| x["address"] == "ben@contoso.test").unwrap();
    assert_eq!(ben_att["resolved"]["type"], "contact");
    assert_eq!(ben_att["role"], "required");
    assert_eq!(a["regarding"]["name"], "Ben Baker");
    let aid = a["id"].to_string();
    assert_eq!(env.json(&["appointment", "show", &aid]), a);
    let a2 =
        env.json(&["appointment", "update", &aid, "--subject", "Weekly review v2", "--clear-exceptions"]);
    assert_eq!(a2["subject"], "Weekly review v2");
    assert_eq!(a2["exceptions"].as_array().unwrap().len(), 0);
    assert_eq!(a2["version"], a["version"].as_i64().unwrap() + 1);

    let t = env.json(&[
        "task",
        "add",
        "--subject",
        "Call Ben",
        "--due",
        "2026-03-05",
        "--priority",
        "high",
        "--status",
        "in-progress",
        "--percent-complete",
        "30",
        "--owner",
        "alice@example.test",
    ]);
    assert_eq!(
        (t["status"].as_str(), t["priority"].as_str(), t["percent_complete"].as_i64()),
        (Some("in_progress"), Some("high"), Some(30))
    );
    let tid = t["id"].to_string();
    assert_eq!(env.json(&["task", "update", &tid, "--status", "completed"])["state"], "completed");
    assert_eq!(env.json(&["task", "list"]).as_array().unwrap().len(), 1);

    env.invalid(&["appointment", "add", "--start", "2026-03-02T09:00"], "subject");
    env.invalid(&["appointment", "add", "--subject", "x", "--start", "tomorrow"], "start");
    env.invalid(
        &["appointment", "add", "--subject", "x", "--start", "2026-03-02T09:00", "--end", "2026-03-01T09:00"],
        "end",
    );
    env.invalid(
        &[
            "appointment",
            "add",
            "--subject",
            "x",
            "--start",
            "2026-03-02T09:00",
            "--recurrence",
            "every tuesday",
        ],
        "recurrence",
    );
    env.invalid(
        &[
            "appointment",
            "add",
            "--subject",
            "x",
            "--start",
            "2026-03-02T09:00",
            "--attendee",
            "not-an-address",
        ],
        "attendee",
    );
    env.invalid(&["appointment", "update", &aid, "--owner", "nobody@example.test"], "owner");
    env.invalid(&["appointment", "show", "999"], "id");
    env.invalid(&["task", "add", "--subject", "x", "--percent-complete", "101"], "percent-complete");
    env.invalid(&["task", "add", "--subject", "x", "--status", "sleeping"], "status");
    env.invalid(&["task", "update", &tid, "--priority", "urgent"], "priority");
    env.invalid(
        &[
            "contact", "add", "--email", "a@b.test", "--email", "c@d.test", "--email", "e@f.test", "--email",
            "g@h.test",
        ],
        "email",
    );
    env.invalid(&["contact", "add", "--phone", "1"], "last-name");
    env.invalid(&["contact", "update", &id, "--email", "nope"], "email");
    env.invalid(&["contact", "delete", "abc"], "id");

    env.json(&["appointment", "delete", &aid]);
    env.json(&["task", "delete", &tid]);
    env.json(&["contact", "delete", &id]);
    assert_eq!(env.json(&["appointment", "list"]).as_array().unwrap().len(), 0);
}

#[test]
fn act_settings_and_confirm_validate_their_input() {
    let env = Env::new();
    env.json(&["user", "add", "alice@example.test", "--name", "Alice"]);
    env.json(&[
        "profile",
        "add",
        "Dav",
        "--kind",
        "imap-smtp",
        "--incoming-host",
        "127.0.0.1",
        "--dav-url",
        "http://127.0.0.1:1/",
        "--allow-insecure",
    ]);
    env.json(&[
        "mailbox",
        "add",
        "alice@example.test",
        "--profile",
        "Dav",
        "--act",
        "server-side",
        "--incoming",
        "none",
        "--outgoing",
        "none",
    ]);
    let s = env.json(&["mailbox", "act-settings", "alice@example.test"]);
    assert_eq!(
        s["filters"],
        serde_json::json!(["appointment:organizer", "appointment:required", "contact:owned", "task:owned"])
    );
    assert_eq!(s["directions"]["body"], "two-way");
    let s = env.json(&[
        "mailbox",
        "act-settings",
        "alice@example.test",
        "--filter",
        "contact:all,task:owned",
        "--direction",
        "body=crm-to-server",
    ]);
    assert_eq!(s["filters"], serde_json::json!(["contact:all", "task:owned"]));
    assert_eq!(s["directions"]["body"], "crm-to-server");
    env.invalid(&["mailbox", "act-settings", "alice@example.test", "--filter", "contact:mine"], "filter");
    env.invalid(
        &["mailbox", "act-settings", "alice@example.test", "--direction", "subject=sideways"],
        "direction",
    );
    env.invalid(&["mailbox", "act-settings", "alice@example.test", "--direction", "title=none"], "direction");
    env.invalid(&["mailbox", "act-confirm", "alice@example.test"], "email");
    env.invalid(&["settings", "set", "act.conflict_policy", "coin-toss"], "act.conflict_policy");
}
