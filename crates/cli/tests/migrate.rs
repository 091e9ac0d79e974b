//! `crmsync migrate email-router` as an admin runs it: against the reference
//! sample files and against router files generated here (missing elements, an
//! unknown provider, duplicate equivalent profiles, a forward mailbox, 500
//! users, malformed XML, a second apply). Bad input exits 2 with one line
//! naming the file, line and element path, and leaves the store unchanged.

mod common;

use std::path::PathBuf;

use common::Env;
use serde_json::Value;

/// A fresh store, initialised.
fn new_env() -> Env {
    let env = Env::new();
    env.ok(&["init"]);
    env
}

/// The reference samples: `shared/reference/email-router-sample` beside the
/// repository (or beside one of its parents, for worktrees). Missing = failure.
fn sample(name: &str) -> String {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = here
        .ancestors()
        .map(|a| a.join("shared/reference/email-router-sample"))
        .find(|p| p.is_dir())
        .expect("shared/reference/email-router-sample must exist beside the repository");
    dir.join(name).to_str().unwrap().to_string()
}

const CONFIG: &str = "Microsoft.Crm.Tools.EmailAgent.xml";
const STATE: &str = "Microsoft.Crm.Tools.EmailAgent.SystemState.xml";
const DIRECTORY: &str = "id,email,name\n\
    6f1c2a10-4b7e-e311-9401-00155d0a1a01,alice@contoso.com,Alice Adams\n\
    6f1c2a10-4b7e-e311-9401-00155d0a1a02,bob@contoso.com,Bob Brown\n\
    6f1c2a10-4b7e-e311-9401-00155d0a1a03,carol@contoso.com,Carol Clark\n\
    8a0d3c55-4b7e-e311-9401-00155d0a1b01,support@contoso.com,Support\n";
const ORG: &str = "http://crm.contoso.local/Contoso";

fn sample_args(env: &Env) -> Vec<String> {
    let dir = env.file("users.csv", DIRECTORY);
    ["migrate", "email-router", "--config", &sample(CONFIG), "--state", &sample(STATE), "--directory", &dir]
        .map(String::from)
        .to_vec()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn block(children: &[(&str, &str)]) -> String {
    let mut s = String::from("  <ProviderConfiguration>\n");
    for (k, v) in children {
        s.push_str(&format!("    <{k}>{v}</{k}>\n"));
    }
    s + "  </ProviderConfiguration>\n"
}

fn config(blocks: &[String]) -> String {
    format!("<?xml version=\"1.0\"?>\n<Configuration>\n{}</Configuration>\n", blocks.concat())
}

fn exchange(name: &str, url: &str, ids: &[String]) -> String {
    let mut c: Vec<(&str, &str)> = vec![
        ("ProfileName", name),
        ("EmailServerType", "Exchange2010"),
        ("CrmServerUrl", ORG),
        ("EmailServerLocation", url),
        ("EmailAccessType", "UserSpecified"),
    ];
    c.extend(ids.iter().map(|i| ("UserId", i.as_str())));
    block(&c)
}

fn uid(n: usize) -> String {
    format!("00000000-0000-0000-0000-{n:012}")
}

fn directory_for(n: usize) -> String {
    (1..=n).fold(String::from("id,email,name\n"), |s, i| {
        s + &format!("{},user{i}@contoso.test,User {i}\n", uid(i))
    })
}

/// Runs a migration that must be refused: exit 2, one line naming `fragments`, store unchanged.
fn assert_invalid(env: &Env, args: &[&str], fragments: &[&str]) {
    let before = env.snapshot();
    let out = env.run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: expected exit 2, stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "not one line: {stderr}");
    for f in fragments {
        assert!(stderr.contains(f), "'{f}' not in: {stderr}");
    }
    assert!(out.stdout.is_empty(), "printed on stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(env.snapshot(), before, "the store changed");
}

#[test]
fn dry_run_of_the_sample_previews_every_section_and_writes_nothing() {
    let env = new_env();
    let before = env.snapshot();
    let mut args = sample_args(&env);
    args.push("--dry-run".into());
    let text = env.ok(&strs(&args));
    for heading in [
        "Profiles to create (1)",
        "Mailboxes to create (4)",
        "Credentials required (1)",
        "Not migrated (1)",
        "Warnings (2)",
        "dry run, nothing written",
    ] {
        assert!(text.contains(heading), "'{heading}' missing from:\n{text}");
    }
    let mut json_args = vec!["--json"];
    json_args.extend(strs(&args));
    let v: Value = serde_json::from_str(&env.ok(&json_args)).unwrap();
    assert_eq!(v["applied"], false);
    assert_eq!(v["profiles_to_create"][0]["name"], "Exchange 2010 Incoming");
    assert_eq!(v["profiles_to_create"][0]["kind"], "exchange");
    assert_eq!(v["not_migrated"][0]["item"], "mailbox carol@contoso.com");
    assert!(v["not_migrated"][0]["reason"].as_str().unwrap().contains("--allow-insecure"));
    assert_eq!(env.snapshot(), before, "a dry run wrote to the store");
}

#[test]
fn applying_the_sample_creates_profiles_owners_and_mailboxes_with_router_thresholds() {
    let env = new_env();
    let mut args = vec!["--json".to_string()];
    args.extend(sample_args(&env));
    args.push("--allow-insecure".into());
    let v: Value = serde_json::from_str(&env.ok(&strs(&args))).unwrap();
    assert_eq!(v["applied"], true);

    let profiles = env.json(&["profile", "list"]);
    let names: Vec<_> = profiles.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Exchange 2010 Incoming", "POP3 Incoming + SMTP Outgoing"]);
    assert_eq!(profiles[1]["allow_insecure"], true);
    assert_eq!(profiles[0]["credentials"], "profile");
    assert_eq!(profiles[0]["has_password"], false);

    let alice = env.json(&["mailbox", "show", "alice@contoso.com"]);
    assert_eq!(alice["owner"]["name"], "Alice Adams");
    assert_eq!(alice["profile"], "Exchange 2010 Incoming");
    assert_eq!(alice["process_from"], "2014-03-18T09:41:07Z");
    assert_eq!(alice["credentials_required"], false, "the profile's service account serves it");
    let carol = env.json(&["mailbox", "show", "carol@contoso.com"]);
    assert_eq!(carol["credentials_required"], true);
    assert_eq!(carol["process_from"], Value::Null, "0001-01-01 means no threshold");
    let fwd = env.json(&["mailbox", "show", "crm-forward@contoso.com"]);
    assert_eq!(
        (fwd["is_forward_mailbox"].clone(), fwd["delete_after_processing"].clone()),
        (true.into(), true.into())
    );
    assert_eq!(fwd["owner"]["type"], "queue");
    assert_eq!(fwd["outgoing_method"], "none");
    assert_eq!(env.json(&["queue", "list"]).as_array().unwrap().len(), 2);
}

#[test]
fn a_second_apply_changes_nothing_byte_for_byte() {
    let env = new_env();
    let mut args = sample_args(&env);
    args.push("--allow-insecure".into());
    env.ok(&strs(&args));
    let after_first = env.snapshot();
    let mut json_args = vec!["--json"];
    json_args.extend(strs(&args));
    let v: Value = serde_json::from_str(&env.ok(&json_args)).unwrap();
    for empty in
        ["profiles_to_create", "users_or_queues_to_create", "mailboxes_to_create", "mailboxes_to_update"]
    {
        assert_eq!(v[empty].as_array().unwrap().len(), 0, "{empty}: {}", v[empty]);
    }
    assert_eq!(v["mailboxes_unchanged"].as_array().unwrap().len(), 5);
    assert_eq!(v["profiles_reused"].as_array().unwrap().len(), 2);
    assert_eq!(env.snapshot(), after_first, "the second apply changed the store");
    assert!(env.ok(&strs(&args)).contains("applied: nothing to change"));
}

#[test]
fn without_allow_insecure_the_non_ssl_profile_is_left_out_and_the_rest_applied() {
    let env = new_env();
    let text = env.ok(&strs(&sample_args(&env)));
    assert!(text.contains("mailbox carol@contoso.com: SMTP Outgoing (SMTP without SSL)"), "{text}");
    let list = env.json(&["mailbox", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 4);
    assert!(
        env.json(&["user", "list"]).as_array().unwrap().iter().all(|u| u["email"] != "carol@contoso.com")
    );
}

#[test]
fn malformed_xml_exits_2_with_the_line_and_writes_nothing() {
    let env = new_env();
    let broken = std::fs::read_to_string(sample(CONFIG)).unwrap().replace("</EmailPort>", "</EmailPrt>");
    let path = env.file("EmailAgent.xml", &broken);
    assert_invalid(
        &env,
        &["migrate", "email-router", "--config", &path],
        &["EmailAgent.xml line 85: Configuration/ProviderConfiguration[2]/EmailPort:", "not well-formed"],
    );
    // Cut after the first provider block, as a crash mid-write would leave it.
    let whole = std::fs::read_to_string(sample(CONFIG)).unwrap();
    let cut = whole.find("</ProviderConfiguration>").unwrap() + "</ProviderConfiguration>".len();
    let truncated = env.file("Truncated.xml", &whole[..cut]);
    assert_invalid(
        &env,
        &["migrate", "email-router", "--config", &truncated],
        &["Truncated.xml line 68: Configuration: the file ends before </Configuration>"],
    );
    // Cut inside a tag.
    let mid = env.file("MidTag.xml", &whole[..whole.find("<UserId>").unwrap() + 4]);
    assert_invalid(
        &env,
        &["migrate", "email-router", "--config", &mid],
        &["MidTag.xml line 65:", "not well-formed"],
    );
}

#[test]
fn missing_elements_and_impossible_values_exit_2_naming_the_element_path() {
    let env = new_env();
    let ok = exchange("Ex", "https://mail.contoso.test/EWS/Exchange.asmx", &[uid(1)]);
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            config(&[ok.clone(), block(&[("EmailServerType", "POP3"), ("CrmServerUrl", ORG)])]),
            vec![
                "line 11: Configuration/ProviderConfiguration[2]/EmailServerLocation: missing required element",
            ],
        ),
        (
            config(&[
                ok.clone(),
                block(&[("EmailServerType", "SMTP"), ("EmailServerLocation", "smtp.test")]),
            ]),
            vec!["line 11: Configuration/ProviderConfiguration[2]/CrmServerUrl: missing required element"],
        ),
        (
            config(&[ok.clone(), block(&[("ProviderType", "Foo"), ("CrmServerUrl", ORG)])]),
            vec![
                "line 12: Configuration/ProviderConfiguration[2]/ProviderType: 'Foo' is not a known provider type",
            ],
        ),
        (
            config(&[block(&[
                ("EmailServerType", "POP3"),
                ("CrmServerUrl", ORG),
                ("EmailServerLocation", "pop.test"),
                ("EmailPort", "99999"),
            ])]),
            vec!["line 7: Configuration/ProviderConfiguration/EmailPort: '99999' is not a port number"],
        ),
    ];
    let dir = env.file("users.csv", &directory_for(1));
    for (i, (xml, fragments)) in cases.into_iter().enumerate() {
        let path = env.file(&format!("EmailAgent{i}.xml"), &xml);
        assert_invalid(
            &env,
            &["migrate", "email-router", "--config", &path, "--directory", &dir],
            &fragments,
        );
    }
    assert_invalid(
        &env,
        &["migrate", "email-router", "--config", "/nonexistent/EmailAgent.xml"],
        &["config:"],
    );
}

#[test]
fn duplicate_equivalent_profiles_become_one_profile_for_all_their_mailboxes() {
    let env = new_env();
    let url = "https://mail.contoso.test/EWS/Exchange.asmx";
    let xml =
        config(&[exchange("Exchange North", url, &[uid(1)]), exchange("Exchange South", url, &[uid(2)])]);
    let path = env.file("EmailAgent.xml", &xml);
    let dir = env.file("users.csv", &directory_for(2));
    let v = env.json(&["migrate", "email-router", "--config", &path, "--directory", &dir]);
    assert_eq!(v["profiles_to_create"].as_array().unwrap().len(), 1);
    assert_eq!(v["profiles_to_create"][0]["from"].as_array().unwrap().len(), 2);
    let list = env.json(&["mailbox", "list"]);
    assert!(list.as_array().unwrap().iter().all(|m| m["profile"] == "Exchange North"), "{list}");
    assert!(list.as_array().unwrap().iter().all(|m| m["credentials_required"] == true));
}

#[test]
fn a_forward_mailbox_gets_a_queue_of_its_own_and_forward_settings() {
    let env = new_env();
    let fwd = block(&[
        ("EmailServerType", "Exchange2010"),
        ("CrmServerUrl", ORG),
        ("EmailServerLocation", "https://mail.contoso.test/EWS/Exchange.asmx"),
        ("EmailAccessType", "UserSpecified"),
        ("IsForwardMailbox", "true"),
        ("DeleteEmails", "true"),
        ("EmailAddress", "forward@contoso.test"),
    ]);
    let path = env.file("EmailAgent.xml", &config(&[fwd]));
    let v = env.json(&["migrate", "email-router", "--config", &path]);
    assert_eq!(v["users_or_queues_to_create"][0]["kind"], "queue");
    let m = env.json(&["mailbox", "show", "forward@contoso.test"]);
    assert_eq!(m["is_forward_mailbox"], true);
    assert_eq!(m["delete_after_processing"], true);
    assert_eq!(m["incoming_method"], "server-side");
    assert_eq!(m["credentials_required"], true);
}

#[test]
fn five_hundred_users_migrate_in_one_apply() {
    let env = new_env();
    let ids: Vec<String> = (1..=500).map(uid).collect();
    let path = env.file(
        "EmailAgent.xml",
        &config(&[exchange("Ex", "https://mail.contoso.test/EWS/Exchange.asmx", &ids)]),
    );
    let dir = env.file("users.csv", &directory_for(500));
    let v = env.json(&["migrate", "email-router", "--config", &path, "--directory", &dir]);
    assert_eq!(v["mailboxes_to_create"].as_array().unwrap().len(), 500);
    assert_eq!(env.json(&["mailbox", "list"]).as_array().unwrap().len(), 500);
    assert_eq!(env.json(&["user", "list"]).as_array().unwrap().len(), 500);
    let again = env.json(&["migrate", "email-router", "--config", &path, "--directory", &dir]);
    assert_eq!(again["mailboxes_unchanged"].as_array().unwrap().len(), 500);
}

#[test]
fn unknown_elements_and_a_corrupt_state_file_are_warnings_not_errors() {
    let env = new_env();
    let xml = config(&[exchange("Ex", "https://mail.contoso.test/EWS/Exchange.asmx", &[uid(1)])])
        .replace("<EmailAccessType>", "<Mood>calm</Mood>\n    <EmailAccessType>");
    let path = env.file("EmailAgent.xml", &xml);
    let state = env.file("SystemState.xml", "<SystemState><abc><EmailAddress>user1@contoso.test</Email");
    let dir = env.file("users.csv", &directory_for(1));
    let v = env.json(&["migrate", "email-router", "--config", &path, "--state", &state, "--directory", &dir]);
    let warnings = v["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w["path"] == "Configuration/ProviderConfiguration/Mood" && w["line"] == 8),
        "{warnings:?}"
    );
    assert!(warnings.iter().any(|w| w["file"] == "SystemState.xml"), "{warnings:?}");
    assert_eq!(v["mailboxes_to_create"][0]["process_from"], Value::Null);
}

#[test]
fn entering_the_passwords_the_preview_asks_for_clears_them_and_a_rerun_keeps_them() {
    let env = new_env();
    let mut args = vec!["--json".to_string()];
    args.extend(sample_args(&env));
    args.push("--allow-insecure".into());
    let first: Value = serde_json::from_str(&env.ok(&strs(&args))).unwrap();
    assert_eq!(first["credentials_required"].as_array().unwrap().len(), 2);
    env.ok_stdin(&["profile", "update", "Exchange 2010 Incoming", "--password-stdin"], "svc-secret\n");
    env.ok_stdin(&["mailbox", "update", "carol@contoso.com", "--password-stdin"], "carol-secret\n");
    assert_eq!(env.json(&["mailbox", "show", "carol@contoso.com"])["credentials_required"], false);
    let before = env.snapshot();
    let again: Value = serde_json::from_str(&env.ok(&strs(&args))).unwrap();
    assert_eq!(
        again["credentials_required"].as_array().unwrap().len(),
        0,
        "{}",
        again["credentials_required"]
    );
    assert_eq!(again["mailboxes_unchanged"].as_array().unwrap().len(), 5);
    assert_eq!(env.snapshot(), before, "the re-run undid the admin's passwords");
}

#[test]
fn test_enable_of_a_migrated_mailbox_says_credentials_are_required_without_connecting() {
    let env = new_env();
    let mut args = sample_args(&env);
    args.push("--allow-insecure".into());
    env.ok(&strs(&args));
    // carol's POP3 server does not exist here: the answer must come before any connection.
    let out = env.run(&["--json", "mailbox", "test-enable", "carol@contoso.com"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let incoming =
        report["channels"].as_array().unwrap().iter().find(|c| c["channel"] == "incoming").unwrap();
    assert_eq!(incoming["code"], "CREDENTIALS_REQUIRED", "{report:#}");
    assert!(
        incoming["message"]
            .as_str()
            .unwrap()
            .contains("crmsync mailbox update carol@contoso.com --password-stdin")
    );
}
