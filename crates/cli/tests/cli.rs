//! The `crmsync` binary as an admin uses it: round trips through `--json`,
//! exit codes, one-line field-naming errors, an unchanged store on bad input,
//! and no secret on argv, stdout or stderr.

mod common;

use common::Env;
use serde_json::Value;

fn setup_basics(env: &Env) {
    env.ok(&["init"]);
    env.ok(&["profile", "add", "Office", "--kind", "imap-smtp", "--incoming-host", "mail.example.test"]);
    env.ok(&["user", "add", "alice@example.test", "--name", "Alice Adams"]);
    env.ok(&["queue", "add", "support@example.test", "--name", "Support"]);
}

#[test]
fn init_creates_the_store_and_reports_its_version() {
    let env = Env::new();
    let v = env.json(&["init"]);
    assert_eq!(v["schema_version"], crmsync_core::store::latest_version());
    assert!(env.db.exists());
}

#[test]
fn profile_round_trips_through_list_and_show_with_default_ports() {
    let env = Env::new();
    setup_basics(&env);
    let shown = env.json(&["profile", "show", "office"]);
    assert_eq!(shown["name"], "Office");
    assert_eq!(shown["kind"], "imap-smtp");
    assert_eq!(shown["incoming"]["host"], "mail.example.test");
    assert_eq!(shown["incoming"]["port"], 993);
    assert_eq!(shown["incoming"]["security"], "tls");
    assert_eq!(shown["outgoing"]["host"], "mail.example.test", "outgoing host defaults to the incoming host");
    assert_eq!(shown["outgoing"]["port"], 465);
    let list = env.json(&["profile", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0], shown);

    let pop = env.json(&[
        "profile",
        "add",
        "Pop",
        "--kind",
        "pop3-smtp",
        "--incoming-host",
        "pop.example.test",
        "--incoming-security",
        "starttls",
        "--outgoing-security",
        "starttls",
    ]);
    assert_eq!(pop["incoming"]["port"], 110);
    assert_eq!(pop["outgoing"]["port"], 587);

    let upd = env.json(&["profile", "update", "Pop", "--incoming-security", "tls", "--max-connections", "3"]);
    assert_eq!(upd["incoming"]["port"], 995, "a default port follows a security change");
    assert_eq!(upd["max_connections"], 3);
}

#[test]
fn users_queues_contacts_and_mailboxes_round_trip() {
    let env = Env::new();
    setup_basics(&env);
    let users = env.json(&["user", "list"]);
    assert_eq!(users[0]["email"], "alice@example.test");
    assert_eq!(users[0]["name"], "Alice Adams");
    assert_eq!(env.json(&["queue", "list"])[0]["name"], "Support");

    let csv = env.dir().join("contacts.csv");
    std::fs::write(
        &csv,
        "First_Name,last_name,email,company,phone,favourite_colour\nBen,Baker,ben@contoso.test,Contoso,+1 555 0100,blue\n\"Chloé\",\"Chen, Jr\",chloe@fabrikam.test,Fabrikam,,\n",
    )
    .unwrap();
    let report = env.json(&["contact", "import", csv.to_str().unwrap()]);
    assert_eq!(report["imported"], 2);
    assert_eq!(report["ignored_columns"][0], "favourite_colour");
    let contacts = env.json(&["contact", "list"]);
    assert_eq!(contacts.as_array().unwrap().len(), 2);
    assert_eq!(contacts[0]["last_name"], "Baker");
    assert_eq!(contacts[1]["last_name"], "Chen, Jr");
    assert_eq!(contacts[1]["first_name"], "Chloé");

    let accounts = env.dir().join("accounts.csv");
    std::fs::write(&accounts, "name,email,phone\nContoso,info@contoso.test,\n").unwrap();
    env.ok(&["account", "import", accounts.to_str().unwrap()]);
    let leads = env.dir().join("leads.csv");
    std::fs::write(&leads, "first_name,last_name,email\nDan,Dale,dan@lead.test\n").unwrap();
    env.ok(&["lead", "import", leads.to_str().unwrap()]);
    assert_eq!(env.json(&["account", "list"])[0]["name"], "Contoso");
    assert_eq!(env.json(&["lead", "list"])[0]["email"], "dan@lead.test");

    let added = env.json(&[
        "mailbox",
        "add",
        "support@example.test",
        "--profile",
        "Office",
        "--track",
        "all",
        "--delete-after-processing",
        "--track-folder",
        "Customers/Contoso=account:Contoso",
        "--process-from",
        "2026-01-01T00:00:00Z",
    ]);
    assert_eq!(added["owner"]["type"], "queue");
    assert_eq!(added["track"], "all");
    assert_eq!(added["delete_after_processing"], true);
    assert_eq!(added["track_folders"][0]["folder"], "Customers/Contoso");
    assert_eq!(added["track_folders"][0]["regarding"]["type"], "account");
    assert_eq!(added["track_folders"][0]["regarding"]["name"], "Contoso");
    assert_eq!(added["process_from"], "2026-01-01T00:00:00Z");
    let shown = env.json(&["mailbox", "show", "SUPPORT@example.test"]);
    assert_eq!(shown, added);
    env.ok(&["mailbox", "add", "alice@example.test", "--profile", "Office"]);
    let list = env.json(&["mailbox", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["email"], "alice@example.test");
    assert_eq!(list[0]["track"], "responses", "the default tracking filter is responses to CRM email");
    assert_eq!(list[0]["incoming"]["status"], "not-run");

    let upd = env.json(&["mailbox", "update", "alice@example.test", "--track", "crm-records"]);
    assert_eq!(upd["track"], "crm-records");
}

/// Runs a command that must fail as invalid input: exit 2, one line naming `field`, store unchanged.
fn assert_invalid(env: &Env, args: &[&str], field: &str) {
    let before = env.snapshot();
    let out = env.run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: expected exit 2, stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: not one line: {stderr}");
    assert!(stderr.contains(field), "{args:?}: error does not name '{field}': {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}: printed on stdout");
    assert_eq!(env.snapshot(), before, "{args:?}: the store changed");
}

#[test]
fn invalid_input_exits_2_naming_the_field_and_changes_nothing() {
    let env = Env::new();
    setup_basics(&env);
    assert_invalid(&env, &["profile", "add", "NoHost", "--kind", "imap-smtp"], "incoming-host");
    assert_invalid(
        &env,
        &["profile", "add", "P", "--kind", "imap-smtp", "--incoming-host", "h", "--incoming-port", "70000"],
        "incoming-port",
    );
    assert_invalid(
        &env,
        &[
            "profile",
            "add",
            "P",
            "--kind",
            "imap-smtp",
            "--incoming-host",
            "h",
            "--incoming-security",
            "bogus",
        ],
        "incoming-security",
    );
    assert_invalid(&env, &["profile", "add", "P", "--kind", "foo", "--incoming-host", "h"], "kind");
    assert_invalid(
        &env,
        &[
            "profile",
            "add",
            "P",
            "--kind",
            "imap-smtp",
            "--incoming-host",
            "h",
            "--outgoing-security",
            "none",
        ],
        "outgoing-security",
    );
    assert_invalid(
        &env,
        &["profile", "add", "Office", "--kind", "imap-smtp", "--incoming-host", "h"],
        "name",
    );
    assert_invalid(&env, &["profile", "add", "X", "--kind", "exchange"], "ews-url");
    assert_invalid(
        &env,
        &["profile", "add", "X", "--kind", "exchange", "--ews-url", "http://ex.test/EWS/Exchange.asmx"],
        "ews-url",
    );
    assert_invalid(
        &env,
        &[
            "profile",
            "add",
            "X",
            "--kind",
            "imap-smtp",
            "--incoming-host",
            "h",
            "--credentials",
            "profile",
            "--username",
            "u",
        ],
        "password",
    );
    assert_invalid(&env, &["mailbox", "add", "nobody@example.test", "--profile", "Office"], "email");
    assert_invalid(&env, &["mailbox", "add", "alice@example.test", "--profile", "Nope"], "profile");
    assert_invalid(
        &env,
        &["mailbox", "add", "alice@example.test", "--profile", "Office", "--track", "everything"],
        "track",
    );
    assert_invalid(
        &env,
        &["mailbox", "add", "alice@example.test", "--profile", "Office", "--delete-after-processing"],
        "delete-after-processing",
    );
    assert_invalid(
        &env,
        &[
            "mailbox",
            "add",
            "alice@example.test",
            "--profile",
            "Office",
            "--track-folder",
            "X=account:NoSuch",
        ],
        "track-folder",
    );
    assert_invalid(&env, &["user", "add", "not-an-address", "--name", "X"], "email");
    assert_invalid(&env, &["user", "add", "support@example.test", "--name", "X"], "email");
    assert_invalid(&env, &["settings", "set", "no.such.key", "1"], "key");
    assert_invalid(&env, &["settings", "set", "tracking_token.digits", "99"], "tracking_token.digits");
    assert_invalid(&env, &["profile", "remove", "Nope"], "name");
    assert_invalid(
        &env,
        &["profile", "add", "P", "--kind", "imap-smtp", "--incoming-host", "h", "--password", "x"],
        "--password",
    );

    let csv = env.dir().join("bad.csv");
    std::fs::write(
        &csv,
        "first_name,last_name,email\nAnn,Ash,ann@example.test\nBob,Bo,not-an-email\nCy,Co,cy@example.test\n",
    )
    .unwrap();
    assert_invalid(&env, &["contact", "import", csv.to_str().unwrap()], "line 3: email");
    let ragged = env.dir().join("ragged.csv");
    std::fs::write(&ragged, "name,email\nContoso,info@contoso.test\nFabrikam,a@b.test,extra\n").unwrap();
    assert_invalid(&env, &["account", "import", ragged.to_str().unwrap()], "line 3");
    assert_invalid(&env, &["contact", "import", "/nonexistent/contacts.csv"], "file");
}

#[test]
fn removing_a_profile_in_use_is_refused_naming_its_mailboxes() {
    let env = Env::new();
    setup_basics(&env);
    env.ok(&["mailbox", "add", "alice@example.test", "--profile", "Office"]);
    assert_invalid(&env, &["profile", "remove", "Office"], "alice@example.test");
    env.ok(&["mailbox", "remove", "alice@example.test"]);
    env.ok(&["profile", "remove", "Office"]);
    assert_eq!(env.json(&["profile", "list"]).as_array().unwrap().len(), 0);
}

#[test]
fn passwords_come_only_from_stdin_or_env_and_never_appear_in_output() {
    let env = Env::new();
    env.ok(&["init"]);
    let secret = "Vx9-never-print-me-Vx9";
    let out = env.run_stdin(
        &[
            "--json",
            "-vv",
            "profile",
            "add",
            "Svc",
            "--kind",
            "imap-smtp",
            "--incoming-host",
            "h.example.test",
            "--credentials",
            "profile",
            "--username",
            "svc",
            "--password-stdin",
        ],
        &format!("{secret}\n"),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains(secret) && !String::from_utf8_lossy(&out.stderr).contains(secret));
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["has_password"], true);
    assert!(v.get("password").is_none() && v.get("password_enc").is_none());

    env.ok(&["user", "add", "alice@example.test", "--name", "Alice"]);
    env.ok(&["profile", "add", "Per", "--kind", "imap-smtp", "--incoming-host", "h.example.test"]);
    let out = env
        .cmd(&[
            "--json",
            "mailbox",
            "add",
            "alice@example.test",
            "--profile",
            "Per",
            "--password-env",
            "MB_PW",
        ])
        .env("MB_PW", secret)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    for args in [["--json", "mailbox", "show", "alice@example.test"], ["--json", "profile", "show", "Svc"]] {
        assert!(!env.ok(&args).contains(secret));
    }
    assert_invalid(
        &env,
        &["mailbox", "update", "alice@example.test", "--password-env", "UNSET_VAR_X"],
        "password-env",
    );
}
