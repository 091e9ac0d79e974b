use chrono::{DateTime, Utc};
use crmsync_core::Store;
use crmsync_core::model::{ChannelMethod, IncomingMethod};

use super::*;
use crate::migrate::test_support::*;
use crate::migrate::{MigrationOptions, RouterFiles, apply, directory, router, state};

fn files(cfg: &str, st: Option<&str>, dir: Option<&str>) -> RouterFiles {
    RouterFiles {
        config: router::parse("EmailAgent.xml", cfg).unwrap(),
        state: st.map(|s| state::parse("SystemState.xml", s)).unwrap_or_default(),
        directory: dir.map(|d| directory::parse("users.csv", d).unwrap()).unwrap_or_default(),
    }
}

fn sample() -> RouterFiles {
    files(&sample_config(), Some(&sample_state()), Some(SAMPLE_DIRECTORY))
}

fn insecure() -> MigrationOptions {
    MigrationOptions { allow_insecure: true }
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("crm.db")).unwrap().without_keyring();
    (dir, store)
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    Some(s.parse().unwrap())
}

fn emails(list: &[PlannedMailbox]) -> Vec<&str> {
    list.iter().map(|m| m.email.as_str()).collect()
}

fn profile_names(p: &MigrationPlan) -> Vec<&str> {
    p.profiles_to_create.iter().map(|p| p.settings.name.as_str()).collect()
}

#[test]
fn the_sample_becomes_one_exchange_profile_with_four_mailboxes_and_carol_waits_for_allow_insecure() {
    let plan = plan(&sample(), &Snapshot::default(), &MigrationOptions::default()).unwrap();
    assert_eq!(plan.deployment.as_deref(), Some("http://crm.contoso.local/Contoso"));
    assert_eq!(profile_names(&plan), ["Exchange 2010 Incoming"]);
    let ex = &plan.profiles_to_create[0];
    assert_eq!(ex.settings.ews_url.as_deref(), Some("https://mail.contoso.local/EWS/Exchange.asmx"));
    assert_eq!(ex.settings.credentials, CredentialSource::Profile);
    assert!(ex.password_pending);
    assert_eq!(ex.from.len(), 2, "the users' provider and the forward mailbox's are merged: {:?}", ex.from);
    assert_eq!(
        emails(&plan.mailboxes_to_create),
        ["alice@contoso.com", "bob@contoso.com", "crm-forward@contoso.com", "support@contoso.com"]
    );
    let created: Vec<_> = plan.users_or_queues_to_create.iter().map(|p| (p.kind, p.email.as_str())).collect();
    assert_eq!(
        created,
        [
            (OwnerKind::User, "alice@contoso.com"),
            (OwnerKind::User, "bob@contoso.com"),
            (OwnerKind::Queue, "crm-forward@contoso.com"),
            (OwnerKind::Queue, "support@contoso.com"),
        ]
    );
    let carol = plan.not_migrated.iter().find(|n| n.item == "mailbox carol@contoso.com").unwrap();
    assert!(carol.reason.contains("--allow-insecure"), "{}", carol.reason);
    let creds: Vec<_> =
        plan.credentials_required.iter().map(|c| (c.kind.as_str(), c.name.as_str())).collect();
    assert_eq!(creds, [("profile", "Exchange 2010 Incoming")]);
    let warnings: Vec<_> = plan.warnings.iter().map(ToString::to_string).collect();
    assert!(warnings.iter().any(|w| w.contains("Exchange/SMTP")), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("bob@contoso.com: the router's last error")), "{warnings:?}");
}

#[test]
fn mailboxes_take_process_from_owner_and_forward_settings_from_the_router() {
    let plan = plan(&sample(), &Snapshot::default(), &insecure()).unwrap();
    let m = |e: &str| plan.mailboxes_to_create.iter().find(|m| m.email == e).unwrap().clone();
    // (email, owner, profile, incoming, outgoing, process_from, forward, delete, credentials required)
    let cases = [
        (
            "alice@contoso.com",
            OwnerKind::User,
            "Exchange 2010 Incoming",
            IncomingMethod::ServerSide,
            ChannelMethod::ServerSide,
            time("2014-03-18T09:41:07Z"),
            false,
            false,
            false,
        ),
        (
            "bob@contoso.com",
            OwnerKind::User,
            "Exchange 2010 Incoming",
            IncomingMethod::ServerSide,
            ChannelMethod::ServerSide,
            time("2014-03-17T16:02:55Z"),
            false,
            false,
            false,
        ),
        (
            "carol@contoso.com",
            OwnerKind::User,
            "POP3 Incoming + SMTP Outgoing",
            IncomingMethod::ServerSide,
            ChannelMethod::ServerSide,
            None,
            false,
            false,
            true,
        ),
        (
            "crm-forward@contoso.com",
            OwnerKind::Queue,
            "Exchange 2010 Incoming",
            IncomingMethod::ServerSide,
            ChannelMethod::None,
            time("2014-03-18T09:39:12Z"),
            true,
            true,
            false,
        ),
        (
            "support@contoso.com",
            OwnerKind::Queue,
            "Exchange 2010 Incoming",
            IncomingMethod::ServerSide,
            ChannelMethod::ServerSide,
            time("2014-03-18T09:40:51Z"),
            false,
            false,
            false,
        ),
    ];
    for (email, owner, profile, inc, out, from, fwd, del, creds) in cases {
        let got = m(email);
        assert_eq!(
            (
                got.owner,
                got.profile.as_str(),
                got.incoming,
                got.outgoing,
                got.process_from,
                got.forward_mailbox,
                got.delete_after_processing,
                got.credentials_required
            ),
            (owner, profile, inc, out, from, fwd, del, creds),
            "{email}"
        );
    }
    let pop = &plan.profiles_to_create[1].settings;
    assert_eq!(pop.name, "POP3 Incoming + SMTP Outgoing");
    assert!(pop.allow_insecure);
    assert_eq!(pop.outgoing.as_ref().map(|e| (e.port, e.security.as_str())), Some((25, "none")));
    assert_eq!(pop.incoming.as_ref().map(|e| (e.port, e.security.as_str())), Some((995, "tls")));
    let warnings: Vec<_> = plan.warnings.iter().map(ToString::to_string).collect();
    assert!(
        warnings.iter().any(|w| w.starts_with("INSECURE: profile 'POP3 Incoming + SMTP Outgoing'")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("carol@contoso.com: the router had no threshold")),
        "{warnings:?}"
    );
    assert!(plan.credentials_required.iter().any(|c| c.kind == "mailbox" && c.name == "carol@contoso.com"));
}

#[test]
fn without_a_directory_router_ids_are_listed_as_not_migrated() {
    let plan = plan(&files(&sample_config(), None, None), &Snapshot::default(), &insecure()).unwrap();
    assert_eq!(emails(&plan.mailboxes_to_create), ["crm-forward@contoso.com"]);
    let ids: Vec<_> = plan
        .not_migrated
        .iter()
        .filter(|n| n.reason.contains("--directory"))
        .map(|n| n.item.as_str())
        .collect();
    assert_eq!(ids.len(), 4, "{:?}", plan.not_migrated);
    assert!(ids.contains(&"CRM queue 8a0d3c55-4b7e-e311-9401-00155d0a1b01"));
}

#[test]
fn equivalent_profiles_merge_into_one_and_different_ones_with_the_same_name_get_a_suffix() {
    let url = "https://mail.contoso.test/EWS/Exchange.asmx";
    // (blocks, expected profile names, expected mailbox → profile)
    type Placement<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Vec<String>, Vec<&str>, Placement<'_>)> = vec![
        (
            vec![exchange("Exchange A", url, &[&uid(1)]), exchange("Exchange B", url, &[&uid(2)])],
            vec!["Exchange A"],
            vec![("user1@contoso.test", "Exchange A"), ("user2@contoso.test", "Exchange A")],
        ),
        (
            vec![
                exchange("Exchange", url, &[&uid(1)]),
                exchange("Exchange", "https://other.test/EWS/Exchange.asmx", &[&uid(2)]),
            ],
            vec!["Exchange", "Exchange (2)"],
            vec![("user1@contoso.test", "Exchange"), ("user2@contoso.test", "Exchange (2)")],
        ),
        (
            vec![
                pop3("P", "pop.test", &[&uid(1), &uid(2)]),
                smtp("S", "smtp.test", true, &[&uid(1)]),
                smtp("S2", "smtp2.test", true, &[&uid(2)]),
            ],
            vec!["P + S", "P + S2"],
            vec![("user1@contoso.test", "P + S"), ("user2@contoso.test", "P + S2")],
        ),
    ];
    for (blocks, names, placement) in cases {
        let plan =
            plan(&files(&config(&blocks), None, Some(&directory_for(2))), &Snapshot::default(), &insecure())
                .unwrap();
        assert_eq!(profile_names(&plan), names);
        let got: Vec<_> =
            plan.mailboxes_to_create.iter().map(|m| (m.email.as_str(), m.profile.as_str())).collect();
        assert_eq!(got, placement);
    }
}

#[test]
fn blocks_of_another_organization_and_unsupported_providers_are_not_migrated() {
    let other = exchange("Fabrikam", "https://mail.fabrikam.test/EWS/Exchange.asmx", &[&uid(2)])
        .replace(ORG, "http://crm.fabrikam.test/Fabrikam");
    let webdav =
        block(&[("EmailServerType", "Exchange2007"), ("EmailProtocol", "WebDAV"), ("UserId", &uid(3))]);
    let cfg =
        config(&[exchange("Ex", "https://mail.contoso.test/EWS/Exchange.asmx", &[&uid(1)]), other, webdav]);
    let plan = plan(&files(&cfg, None, Some(&directory_for(3))), &Snapshot::default(), &insecure()).unwrap();
    assert_eq!(emails(&plan.mailboxes_to_create), ["user1@contoso.test"]);
    let items: Vec<_> = plan.not_migrated.iter().map(|n| (n.item.as_str(), n.reason.as_str())).collect();
    assert!(
        items
            .iter()
            .any(|(i, r)| i.contains("ProviderConfiguration[2]") && r.contains("another organization")),
        "{items:?}"
    );
    assert!(
        items.iter().any(|(i, r)| *i == "mailbox user3@contoso.test" && r.contains("WebDAV")),
        "{items:?}"
    );
}

#[test]
fn a_user_with_only_an_outgoing_profile_gets_forward_delivery_when_the_router_has_a_forward_mailbox() {
    let fwd = block(&[
        ("EmailServerType", "Exchange2010"),
        ("CrmServerUrl", ORG),
        ("EmailServerLocation", "https://mail.contoso.test/EWS/Exchange.asmx"),
        ("IsForwardMailbox", "true"),
        ("EmailAddress", "fwd@contoso.test"),
    ]);
    let cfg = config(&[fwd, smtp("S", "smtp.test", true, &[&uid(1)])]);
    let plan = plan(&files(&cfg, None, Some(&directory_for(1))), &Snapshot::default(), &insecure()).unwrap();
    let u = plan.mailboxes_to_create.iter().find(|m| m.email == "user1@contoso.test").unwrap();
    assert_eq!((u.incoming, u.outgoing), (IncomingMethod::Forward, ChannelMethod::ServerSide));
    assert!(u.credentials_required, "UserSpecified-less Exchange uses per-mailbox credentials");
}

#[test]
fn five_hundred_users_plan_onto_one_profile() {
    let ids: Vec<String> = (1..=500).map(uid).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let cfg = config(&[
        exchange("Ex", "https://mail.contoso.test/EWS/Exchange.asmx", &refs),
        smtp("S", "smtp.test", true, &refs),
    ]);
    let plan =
        plan(&files(&cfg, None, Some(&directory_for(500))), &Snapshot::default(), &insecure()).unwrap();
    assert_eq!(profile_names(&plan), ["Ex"]);
    assert_eq!(plan.mailboxes_to_create.len(), 500);
    assert_eq!(plan.users_or_queues_to_create.len(), 500);
}

#[test]
fn a_second_plan_after_apply_reuses_everything_and_changes_nothing() {
    let (_d, mut store) = store();
    let first = apply(&mut store, &sample(), &insecure()).unwrap();
    assert_eq!(first.profiles_to_create.len(), 2);
    let second = crate::migrate::preview(&store, &sample(), &insecure()).unwrap();
    assert!(second.changes_nothing(), "{second:#?}");
    assert_eq!(second.mailboxes_unchanged.len(), 5);
    assert_eq!(second.profiles_reused.len(), 2);
    let mb = crmsync_core::store::mailboxes::get(store.conn(), "carol@contoso.com").unwrap();
    assert!(mb.credentials_required);
}

#[test]
fn existing_owners_profiles_and_mailboxes_are_used_and_only_differences_updated() {
    let (_d, mut store) = store();
    use crate::admin::{mailboxes, principals, profiles};
    principals::add(&mut store, crmsync_core::store::principals::Kind::User, "alice@contoso.com", "Alice A.")
        .unwrap();
    let office = profiles::ProfileInput {
        kind: Some("imap-smtp".into()),
        incoming_host: Some("imap.contoso.com".into()),
        ..Default::default()
    };
    profiles::add(&mut store, "Office", &office).unwrap();
    mailboxes::add(
        &mut store,
        "alice@contoso.com",
        &mailboxes::MailboxInput { profile: Some("Office".into()), ..Default::default() },
    )
    .unwrap();
    let plan = crate::migrate::preview(&store, &sample(), &MigrationOptions::default()).unwrap();
    assert!(!plan.users_or_queues_to_create.iter().any(|p| p.email == "alice@contoso.com"));
    let upd = &plan.mailboxes_to_update[0];
    assert_eq!(upd.mailbox.email, "alice@contoso.com");
    let fields: Vec<_> =
        upd.changes.iter().map(|c| (c.field.as_str(), c.from.as_str(), c.to.as_str())).collect();
    assert_eq!(
        fields,
        [("profile", "Office", "Exchange 2010 Incoming"), ("process-from", "-", "2014-03-18T09:41:07.000Z")]
    );
    apply(&mut store, &sample(), &MigrationOptions::default()).unwrap();
    let again = crate::migrate::preview(&store, &sample(), &MigrationOptions::default()).unwrap();
    assert!(again.changes_nothing(), "{again:#?}");
}

#[test]
fn a_refusal_while_applying_rolls_everything_back() {
    let (_d, mut store) = store();
    let mut plan = plan(&sample(), &Snapshot::default(), &MigrationOptions::default()).unwrap();
    plan.mailboxes_to_create[0].profile = "No such profile".into();
    let r = store.write(|tx| super::super::apply::apply_plan(tx, &plan));
    let e = r.unwrap_err();
    assert!(e.is_invalid_input());
    assert!(e.to_string().starts_with("mailbox alice@contoso.com: profile:"), "{e}");
    assert!(crmsync_core::store::profiles::list(store.conn()).unwrap().is_empty());
    assert!(
        crmsync_core::store::principals::list(store.conn(), crmsync_core::store::principals::Kind::User)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn test_and_enable_learns_which_migrated_mailboxes_lack_credentials() {
    use crmsync_core::store::{mailboxes, profiles};
    let (_d, mut store) = store();
    apply(&mut store, &sample(), &insecure()).unwrap();
    let c = store.conn();
    let check = |email: &str| {
        let m = mailboxes::get(c, email).unwrap();
        let p = profiles::get_by_id(c, m.data.profile_id).unwrap();
        crate::admin::mailboxes::credentials_missing(&p, &m)
    };
    let carol = check("carol@contoso.com").unwrap();
    assert!(carol.contains("mailbox carol@contoso.com has no password"), "{carol}");
    let alice = check("alice@contoso.com").unwrap();
    assert!(
        alice.contains("profile 'Exchange 2010 Incoming' has no password for CONTOSO\\svc-crmrouter"),
        "{alice}"
    );
}
