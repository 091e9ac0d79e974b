//! ACT end to end with Microsoft 365: the real ACT engine syncs a CRM store
//! with the harness's Graph emulator (tokens from the harness's OAuth2
//! server) through the Graph item store. Events, contacts and To Do tasks are
//! created, changed and deleted each way; a weekly series keeps its exception
//! and its deleted occurrence both ways; a 412 is a conflict decided by the
//! policy; a lost delta state is a full listing without duplicates. Every
//! test ends with no request the emulator found invalid.
//!
//! The store is made by the test (one per run, as the profile factory makes
//! it); the factory's own path is `crates/cli/tests/graph_act.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Datelike, Duration, Utc};
use crmsync_core::Store;
use crmsync_core::store::principals::Kind;
use crmsync_core::store::records;
use crmsync_core::{CoreError, store::appointments};
use crmsync_engine::act::{ActSync, set_before_apply_hook, set_item_store_maker, sync_act};
use crmsync_engine::admin::act_records::{self as api, AppointmentInput, ContactInput, TaskInput};
use crmsync_engine::admin::{mailboxes, principals, profiles, settings};
use crmsync_engine::backend::ItemStore;
use crmsync_engine::backend::graph_items::GraphItems;
use crmsync_protocols::graph::enums::TaskStatus;
use crmsync_protocols::graph::types::ItemBody;
use crmsync_protocols::graph::{Contact, Event, GraphClient, GraphConfig, Mailbox, SharedToken, TodoTask};
use crmsync_tests::{GraphServer, OAuthServer};
use serde_json::{Value, json};

const PERMS: &[&str] = &["User.Read", "Calendars.ReadWrite", "Contacts.ReadWrite", "Tasks.ReadWrite"];

struct Env {
    _dir: tempfile::TempDir,
    store: Store,
    email: String,
    _oauth: OAuthServer,
    graph: GraphServer,
    client: GraphClient,
}

/// How the test signs in: as the mailbox (`/me`) or as an app (`/users/{address}`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Delegated,
    AppOnly,
}

async fn setup(email: &str) -> Env {
    setup_with(email, Access::Delegated).await
}

async fn setup_with(email: &str, access: Access) -> Env {
    let oauth = OAuthServer::start().unwrap();
    let graph = GraphServer::start(&oauth).unwrap();
    graph.add_user(email, "Alice Adams").await.unwrap();
    let (token, mailbox) = match access {
        Access::Delegated => {
            let scope: Vec<String> =
                PERMS.iter().map(|p| format!("https://graph.microsoft.com/{p}")).collect();
            let token = oauth
                .issue(email, &format!("{} offline_access", scope.join(" ")), 3600)
                .await
                .unwrap()
                .access;
            (token, Mailbox::Me)
        }
        Access::AppOnly => {
            let roles = ["User.Read.All", "Calendars.ReadWrite", "Contacts.ReadWrite", "Tasks.ReadWrite.All"];
            oauth.register_graph_app("crm-daemon", "daemon-secret", &roles).await.unwrap();
            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", "crm-daemon"),
                ("client_secret", "daemon-secret"),
                ("scope", "https://graph.microsoft.com/.default"),
            ];
            let resp = reqwest::Client::new().post(oauth.token_url()).form(&form).send().await.unwrap();
            let v: Value = resp.json().await.unwrap();
            (v["access_token"].as_str().unwrap().to_string(), Mailbox::User(email.to_string()))
        }
    };
    let config = GraphConfig {
        base_url: graph.base_url(),
        extra_roots: graph.ca().ca_pem().as_bytes().to_vec(),
        ..GraphConfig::default()
    };
    let token = SharedToken::new(token);
    let client = GraphClient::new(config.clone(), mailbox.clone(), Arc::new(token.clone()))
        .unwrap()
        .for_account(email);

    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("crm.db");
    let mut store = Store::open(&path).unwrap().without_keyring();
    principals::add(&mut store, Kind::User, email, "Alice Adams").unwrap();
    profiles::add(
        &mut store,
        "Office",
        &profiles::ProfileInput {
            kind: Some("imap-smtp".into()),
            incoming_host: Some("127.0.0.1".into()),
            dav_url: Some("https://127.0.0.1:9/".into()),
            ..Default::default()
        },
    )
    .unwrap();
    mailboxes::add(
        &mut store,
        email,
        &mailboxes::MailboxInput {
            profile: Some("Office".into()),
            username: Some(email.into()),
            password: Some(crmsync_core::secrets::Secret::new("unused")),
            incoming: Some("none".into()),
            outgoing: Some("none".into()),
            act: Some("server-side".into()),
            ..Default::default()
        },
    )
    .unwrap();
    // What Test & Enable does once the profile kind exists.
    store
        .write(|tx| -> Result<(), CoreError> {
            tx.execute("UPDATE mailboxes SET act_enabled = 1 WHERE email = ?1", [email])
                .map_err(CoreError::from)?;
            Ok(())
        })
        .unwrap();
    // A client per run, as the factory makes one: its request count is the run's.
    let address = email.to_string();
    set_item_store_maker(
        email,
        Arc::new(move || {
            let c = GraphClient::new(config.clone(), mailbox.clone(), Arc::new(token.clone())).unwrap();
            Box::new(GraphItems::new(c.for_account(&address)).unwrap()) as Box<dyn ItemStore>
        }),
    );
    Env { _dir: dir, store, email: email.to_string(), _oauth: oauth, graph, client }
}

impl Env {
    async fn sync(&mut self) -> ActSync {
        let mb = crmsync_core::store::mailboxes::get(self.store.conn(), &self.email).unwrap();
        let r = sync_act(&mut self.store, mb).await.unwrap();
        assert!(r.outcome.is_ok(), "{r:?}");
        r
    }

    fn set(&mut self, key: &str, value: &str) {
        settings::set(&mut self.store, key, value).unwrap();
    }

    async fn events(&self) -> Vec<Value> {
        self.graph.events(&self.email).await.unwrap()
    }

    async fn contacts(&self) -> Vec<Value> {
        self.graph.contacts(&self.email).await.unwrap()
    }

    async fn tasks(&self) -> Vec<Value> {
        self.graph.tasks(&self.email).await.unwrap()
    }

    fn crm_contact(&self, email: &str) -> Option<crmsync_core::model::Contact> {
        records::list_contacts(self.store.conn())
            .unwrap()
            .into_iter()
            .find(|c| c.email.as_deref() == Some(email))
    }

    fn crm_task(&self, subject: &str) -> Option<crmsync_core::store::tasks::TaskView> {
        api::list_tasks(&self.store).unwrap().into_iter().find(|t| t.subject == subject)
    }

    fn crm_appointment(&self, subject: &str) -> Option<appointments::AppointmentView> {
        api::list_appointments(&self.store).unwrap().into_iter().find(|a| a.subject == subject)
    }
}

fn by<'a>(items: &'a [Value], key: &str, value: &str) -> Option<&'a Value> {
    items.iter().find(|v| v[key].as_str() == Some(value))
}

fn total(r: &ActSync, f: impl Fn(&crmsync_engine::act::ActCollectionStats) -> usize) -> usize {
    r.collections.iter().map(f).sum()
}

fn changes(r: &ActSync) -> usize {
    total(r, |c| {
        c.created_crm
            + c.created_server
            + c.updated_crm
            + c.updated_server
            + c.deleted_crm
            + c.deleted_server
            + c.linked
            + c.unlinked
            + c.conflicts
            + c.failed
    })
}

/// 09:00 UTC on the Monday four weeks from now (inside the calendar window).
fn monday() -> chrono::DateTime<Utc> {
    let d = Utc::now().date_naive() + Duration::days(28);
    let d = d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
    d.and_hms_opt(9, 0, 0).unwrap().and_utc()
}

fn graph_time(t: chrono::DateTime<Utc>) -> Value {
    json!({"dateTime": t.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"})
}

fn z(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[tokio::test]
async fn events_contacts_and_tasks_are_created_changed_and_deleted_both_ways() {
    let mut env = setup("anna@example.test").await;
    let at = monday();
    // In Microsoft 365 already.
    let ev = env
        .graph
        .seed_event(
            &env.email,
            json!({"subject": "Server meeting", "start": graph_time(at), "end": graph_time(at + Duration::hours(1)),
                   "attendees": [{"emailAddress": {"address": "ben@contoso.test", "name": "Ben"}, "type": "required"}]}),
            vec![],
            &[],
        )
        .await
        .unwrap();
    let contact = env
        .graph
        .seed_contact(
            &env.email,
            json!({"givenName": "Sam", "surname": "Server", "emailAddresses": [{"address": "sam@server.test"}],
                   "businessPhones": ["+1 555 0001"]}),
        )
        .await
        .unwrap();
    let task = env.graph.seed_task(&env.email, None, json!({"title": "Server task"})).await.unwrap();
    // In the CRM already.
    let a = api::add_appointment(
        &mut env.store,
        &AppointmentInput {
            subject: Some("CRM meeting".into()),
            start: Some(z(at + Duration::days(1))),
            end: Some(z(at + Duration::days(1) + Duration::hours(1))),
            organizer: Some(env.email.clone()),
            attendees: Some(vec!["Cy <cy@contoso.test>".into()]),
            owner: Some(env.email.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let t = api::add_task(
        &mut env.store,
        &TaskInput { subject: Some("CRM task".into()), owner: Some(env.email.clone()), ..Default::default() },
    )
    .unwrap();
    let c = api::add_contact(
        &mut env.store,
        &ContactInput {
            first_name: Some("Carl".into()),
            last_name: Some("Crm".into()),
            emails: Some(vec!["carl@crm.test".into()]),
            owner: Some(env.email.clone()),
            ..Default::default()
        },
    )
    .unwrap();

    let r = env.sync().await;
    assert_eq!((total(&r, |c| c.created_crm), total(&r, |c| c.created_server)), (3, 3), "{r:?}");
    let events = env.events().await;
    assert_eq!(events.len(), 2, "{events:?}");
    let made = by(&events, "subject", "CRM meeting").expect("the CRM meeting is in the calendar");
    assert_eq!(made["attendees"][0]["emailAddress"]["address"], "cy@contoso.test");
    assert_eq!(made["transactionId"].as_str(), Some(a.uid.as_str()));
    assert!(by(&env.contacts().await, "surname", "Crm").is_some());
    assert!(by(&env.tasks().await, "title", "CRM task").is_some());
    let shown = env.crm_appointment("Server meeting").expect("the server meeting is in the CRM");
    assert_eq!(shown.start, z(at));
    assert_eq!(shown.attendees.len(), 1, "{:?}", shown.attendees);
    assert_eq!(env.crm_contact("sam@server.test").unwrap().phone.as_deref(), Some("+1 555 0001"));
    assert!(env.crm_task("Server task").is_some());
    // Nothing changed: nothing to do, one delta request per collection, and
    // nothing is duplicated.
    let r = env.sync().await;
    assert_eq!((changes(&r), r.requests), (0, 3), "{r:?}");
    assert_eq!((env.events().await.len(), env.contacts().await.len(), env.tasks().await.len()), (2, 2, 2));

    // Changes each way.
    let mb = env.client.mailbox().clone();
    let moved = Event { subject: Some("Server meeting (moved)".into()), ..Event::default() };
    env.client.send(&mb.update_event(&ev, &moved, None)).await.unwrap();
    let phone = Contact { business_phones: Some(vec!["+1 555 9999".into()]), ..Contact::default() };
    env.client.send(&mb.update_contact(&contact, &phone, None)).await.unwrap();
    let list = env.tasks().await[0]["list"].as_str().map(str::to_string);
    assert_eq!(list.as_deref(), Some("Tasks"));
    api::update_task(
        &mut env.store,
        &t.id.to_string(),
        &TaskInput {
            subject: Some("CRM task (done)".into()),
            status: Some("completed".into()),
            ..Default::default()
        },
    )
    .unwrap();
    api::update_appointment(
        &mut env.store,
        &a.id.to_string(),
        &AppointmentInput { location: Some("Room 7".into()), ..Default::default() },
    )
    .unwrap();
    let r = env.sync().await;
    assert_eq!((total(&r, |c| c.updated_server), total(&r, |c| c.updated_crm)), (2, 2), "{r:?}");
    assert!(env.crm_appointment("Server meeting (moved)").is_some());
    assert_eq!(env.crm_contact("sam@server.test").unwrap().phone.as_deref(), Some("+1 555 9999"));
    let tasks = env.tasks().await;
    let done = by(&tasks, "title", "CRM task (done)").expect("the task changed in To Do");
    assert_eq!(done["status"], "completed");
    let events = env.events().await;
    assert_eq!(by(&events, "subject", "CRM meeting").unwrap()["location"]["displayName"], "Room 7");
    assert_eq!(changes(&env.sync().await), 0);

    // Deletes each way.
    let list_id = {
        let (lists, _): (Vec<crmsync_protocols::graph::TodoTaskList>, _) =
            env.client.collect(&mb.todo_lists()).await.unwrap();
        lists.into_iter().find(|l| l.display_name.as_deref() == Some("Tasks")).unwrap().id
    };
    env.client.send(&mb.delete_todo_task(&list_id, &task, None)).await.unwrap();
    env.client.send(&mb.delete_event(&ev, None)).await.unwrap();
    api::delete_contact(&mut env.store, &c.id.to_string()).unwrap();
    let r = env.sync().await;
    assert_eq!((total(&r, |c| c.deleted_server), total(&r, |c| c.deleted_crm)), (1, 2), "{r:?}");
    assert!(env.crm_task("Server task").is_none());
    assert!(env.crm_appointment("Server meeting (moved)").is_none());
    assert!(by(&env.contacts().await, "surname", "Crm").is_none());
    assert_eq!(env.contacts().await.len(), 1);
    assert_eq!(changes(&env.sync().await), 0);
    env.graph.assert_no_invalid_requests();
}

#[tokio::test]
async fn app_only_access_syncs_another_mailbox_both_ways() {
    let mut env = setup_with("gus@example.test", Access::AppOnly).await;
    let at = monday();
    env.graph
        .seed_event(
            &env.email,
            json!({"subject": "Site visit", "start": graph_time(at), "end": graph_time(at + Duration::hours(2))}),
            vec![],
            &[],
        )
        .await
        .unwrap();
    env.graph.seed_contact(&env.email, json!({"givenName": "Pia", "surname": "Park"})).await.unwrap();
    api::add_task(
        &mut env.store,
        &TaskInput {
            subject: Some("Prepare visit".into()),
            owner: Some(env.email.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let r = env.sync().await;
    assert_eq!((total(&r, |c| c.created_crm), total(&r, |c| c.created_server)), (2, 1), "{r:?}");
    assert!(r.collections.iter().all(|c| c.url.contains("/users/gus@example.test/")), "{r:?}");
    assert!(env.crm_appointment("Site visit").is_some());
    assert!(by(&env.tasks().await, "title", "Prepare visit").is_some());
    assert_eq!(changes(&env.sync().await), 0);
    let paths: Vec<String> = env.graph.requests().await.unwrap().into_iter().map(|q| q.path).collect();
    assert!(paths.iter().any(|p| p.contains("/users/gus@example.test/todo/")), "{paths:?}");
    assert!(paths.iter().all(|p| !p.contains("/me/")), "{paths:?}");
    env.graph.assert_no_invalid_requests();
}

#[tokio::test]
async fn a_crm_change_keeps_what_microsoft_365_holds_beyond_it() {
    let mut env = setup("emma@example.test").await;
    let at = monday();
    let ben = json!({"emailAddress": {"address": "ben@contoso.test", "name": "Ben"}, "type": "required",
                     "status": {"response": "accepted", "time": "2026-01-01T00:00:00Z"}});
    let ev = env
        .graph
        .seed_event(
            &env.email,
            json!({"subject": "Review", "start": graph_time(at), "end": graph_time(at + Duration::hours(1)),
                   "body": {"contentType": "html", "content": "<p>Agenda: <b>numbers</b></p>"},
                   "attendees": [ben]}),
            vec![],
            &[],
        )
        .await
        .unwrap();
    let contact = env
        .graph
        .seed_contact(
            &env.email,
            json!({"givenName": "Sam", "surname": "Server",
                   "emailAddresses": [{"address": "sam@server.test", "name": "Sam S."}],
                   "businessPhones": ["+1 555 0001", "+1 555 0002"],
                   "homeAddress": {"city": "Springfield"}}),
        )
        .await
        .unwrap();
    env.sync().await;
    let a = env.crm_appointment("Review").unwrap();
    assert_eq!(a.body.as_deref(), Some("Agenda: numbers"));
    api::update_appointment(
        &mut env.store,
        &a.id.to_string(),
        &AppointmentInput { subject: Some("Review (final)".into()), ..Default::default() },
    )
    .unwrap();
    let c = env.crm_contact("sam@server.test").unwrap();
    api::update_contact(
        &mut env.store,
        &c.id.to_string(),
        &ContactInput { company: Some("Acme".into()), ..Default::default() },
    )
    .unwrap();
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.updated_server), 2, "{r:?}");
    let events = env.events().await;
    let e = by(&events, "id", &ev).unwrap();
    assert_eq!(e["subject"], "Review (final)");
    assert_eq!(e["body"]["contentType"], "html", "{e}");
    assert_eq!(e["attendees"][0]["status"]["response"], "accepted", "{e}");
    let contacts = env.contacts().await;
    let k = by(&contacts, "id", &contact).unwrap();
    assert_eq!(k["companyName"], "Acme");
    assert_eq!(k["emailAddresses"][0]["name"], "Sam S.", "{k}");
    assert_eq!(k["businessPhones"].as_array().map(|p| p.len()), Some(2), "{k}");
    assert_eq!(changes(&env.sync().await), 0);
    env.graph.assert_no_invalid_requests();
}

#[tokio::test]
async fn a_weekly_series_keeps_its_exception_and_deleted_occurrence_both_ways() {
    let mut env = setup("bea@example.test").await;
    let at = monday();
    let week = Duration::weeks(1);
    let series = json!({
        "subject": "Weekly sync", "start": graph_time(at), "end": graph_time(at + Duration::hours(1)),
        "recurrence": {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                       "range": {"type": "numbered", "startDate": at.format("%Y-%m-%d").to_string(), "numberOfOccurrences": 6}}
    });
    let moved_to = at + week + Duration::days(1) + Duration::hours(5);
    env.graph
        .seed_event(
            &env.email,
            series,
            vec![json!({"originalStart": z(at + week), "subject": "Weekly sync (moved)",
                        "start": graph_time(moved_to), "end": graph_time(moved_to + Duration::hours(1))})],
            &[&z(at + week * 2)],
        )
        .await
        .unwrap();
    env.sync().await;
    let v = env.crm_appointment("Weekly sync").expect("the series is in the CRM");
    assert_eq!(v.recurrence.as_deref(), Some("FREQ=WEEKLY;COUNT=6;BYDAY=MO"));
    assert_eq!(v.exdates, vec![z(at + week * 2)]);
    assert_eq!(v.exceptions.len(), 1, "{:?}", v.exceptions);
    assert_eq!(
        (v.exceptions[0].recurrence_id.as_str(), v.exceptions[0].start.as_str()),
        (z(at + week).as_str(), z(moved_to).as_str())
    );
    assert_eq!(changes(&env.sync().await), 0);

    // The CRM renames the series and cancels one more occurrence: the
    // exception stays, the occurrence goes, in Microsoft 365.
    let mut exdates = v.exdates.clone();
    exdates.push(z(at + week * 4));
    api::update_appointment(
        &mut env.store,
        &v.id.to_string(),
        &AppointmentInput {
            subject: Some("Weekly sync v2".into()),
            exdates: Some(exdates),
            ..Default::default()
        },
    )
    .unwrap();
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.updated_server), 1, "{r:?}");
    let events = env.events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    let master = &events[0];
    assert_eq!(master["subject"], "Weekly sync v2");
    assert_eq!(master["exceptions"].as_array().map(|e| e.len()), Some(1), "{master}");
    let cancelled: Vec<&str> =
        master["cancelled"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(cancelled.len(), 2, "{master}");
    assert_eq!(changes(&env.sync().await), 0);

    // And a series made in the CRM with a moved occurrence arrives whole.
    let start = at + Duration::days(2);
    api::add_appointment(
        &mut env.store,
        &AppointmentInput {
            subject: Some("Daily check".into()),
            start: Some(z(start)),
            end: Some(z(start + Duration::minutes(15))),
            recurrence: Some("FREQ=DAILY;COUNT=5".into()),
            moved: Some(vec![format!(
                "{}={}/{}",
                z(start + Duration::days(1)),
                z(start + Duration::days(1) + Duration::hours(2)),
                z(start + Duration::days(1) + Duration::hours(2) + Duration::minutes(15))
            )]),
            cancelled: Some(vec![z(start + Duration::days(3))]),
            organizer: Some(env.email.clone()),
            owner: Some(env.email.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.created_server), 1, "{r:?}");
    let events = env.events().await;
    let daily = by(&events, "subject", "Daily check").expect("the series is in the calendar");
    assert_eq!(daily["type"], "seriesMaster");
    assert_eq!(daily["exceptions"].as_array().map(|e| e.len()), Some(1), "{daily}");
    assert_eq!(daily["cancelled"].as_array().map(|e| e.len()), Some(1), "{daily}");
    assert_eq!(changes(&env.sync().await), 0);

    // Deleting a whole series in Outlook deletes it in the CRM (Graph reports
    // its instances gone, not the series).
    let weekly =
        by(&env.events().await, "subject", "Weekly sync v2").unwrap()["id"].as_str().unwrap().to_string();
    let mb = env.client.mailbox().clone();
    env.client.send(&mb.delete_event(&weekly, None)).await.unwrap();
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.deleted_crm), 1, "{r:?}");
    assert!(env.crm_appointment("Weekly sync v2").is_none());
    assert!(env.crm_appointment("Daily check").is_some());
    assert_eq!(changes(&env.sync().await), 0);
    env.graph.assert_no_invalid_requests();
}

#[tokio::test]
async fn a_412_is_a_conflict_decided_by_the_policy() {
    let mut env = setup("cleo@example.test").await;
    env.sync().await;
    for policy in ["server-wins", "crm-wins"] {
        env.set("act.conflict_policy", policy);
        let t = api::add_task(
            &mut env.store,
            &TaskInput {
                subject: Some(format!("base {policy}")),
                owner: Some(env.email.clone()),
                ..Default::default()
            },
        )
        .unwrap();
        env.sync().await;
        let task = by(&env.tasks().await, "title", &format!("base {policy}")).unwrap().clone();
        let (id, list) =
            (task["id"].as_str().unwrap().to_string(), task["list"].as_str().unwrap().to_string());
        api::update_task(
            &mut env.store,
            &t.id.to_string(),
            &TaskInput { subject: Some(format!("crm {policy}")), ..Default::default() },
        )
        .unwrap();
        // The user changes the task in To Do after crmsync planned its write.
        let (client, srv) = (env.client.clone(), format!("srv {policy}"));
        let (lists, _): (Vec<crmsync_protocols::graph::TodoTaskList>, _) =
            client.collect(&client.mailbox().todo_lists()).await.unwrap();
        let list_id =
            lists.into_iter().find(|l| l.display_name.as_deref() == Some(list.as_str())).unwrap().id;
        let prefix = format!("{}/me/todo/lists/", env.graph.base_url());
        set_before_apply_hook(
            &prefix,
            Arc::new(move || {
                let (client, srv, list_id, id) = (client.clone(), srv.clone(), list_id.clone(), id.clone());
                Box::pin(async move {
                    let edit = TodoTask {
                        title: Some(srv),
                        status: Some(TaskStatus::InProgress),
                        body: Some(ItemBody { content_type: None, content: String::new() }),
                        ..TodoTask::default()
                    };
                    client
                        .send(&client.mailbox().update_todo_task(&list_id, &id, &edit, None))
                        .await
                        .unwrap();
                })
            }),
        );
        let r = env.sync().await;
        assert_eq!(total(&r, |c| c.conflicts), 1, "{policy}: {r:?}");
        // The next cycle sees the server's version and applies the policy.
        env.sync().await;
        let crm = api::show_task(&env.store, &t.id.to_string()).unwrap().subject;
        let srv = by(&env.tasks().await, "id", task["id"].as_str().unwrap()).unwrap()["title"].clone();
        match policy {
            "server-wins" => {
                assert_eq!((crm.as_str(), srv.as_str()), ("srv server-wins", Some("srv server-wins")))
            }
            _ => assert_eq!((crm.as_str(), srv.as_str()), ("crm crm-wins", Some("crm crm-wins"))),
        }
        assert_eq!(changes(&env.sync().await), 0, "{policy}");
    }
    env.graph.assert_no_invalid_requests();
}

#[tokio::test]
async fn a_synced_event_outside_a_new_listing_window_is_kept() {
    let mut env = setup("ivan@example.test").await;
    let at = monday();
    env.graph
        .seed_event(
            &env.email,
            json!({"subject": "Old review", "start": graph_time(at), "end": graph_time(at + Duration::hours(1))}),
            vec![],
            &[],
        )
        .await
        .unwrap();
    env.sync().await;
    assert!(env.crm_appointment("Old review").is_some());
    // Months later the delta state is lost: the full listing's window starts after the event.
    env.graph.force_resync(&env.email, "syncStateNotFound").await.unwrap();
    let c = env.client.clone();
    set_item_store_maker(
        &env.email,
        Arc::new(move || {
            let (lo, hi) = (at + Duration::days(7), at + Duration::days(400));
            Box::new(GraphItems::new(c.clone()).unwrap().with_window(lo, hi)) as Box<dyn ItemStore>
        }),
    );
    let r = env.sync().await;
    assert_eq!(changes(&r), 0, "{r:?}");
    assert!(env.crm_appointment("Old review").is_some(), "an old appointment is not deleted");
    env.graph.assert_no_invalid_requests();
}

#[tokio::test]
async fn an_item_that_cannot_be_converted_is_reported_and_the_rest_syncs() {
    let mut env = setup("finn@example.test").await;
    env.graph.seed_task(&env.email, None, json!({"title": "Good task"})).await.unwrap();
    let odd = env
        .graph
        .seed_task(
            &env.email,
            None,
            json!({"title": "Odd task", "dueDateTime": {"dateTime": "soon", "timeZone": "UTC"}}),
        )
        .await
        .unwrap();
    let r = env.sync().await;
    assert_eq!((total(&r, |c| c.created_crm), total(&r, |c| c.failed)), (1, 1), "{r:?}");
    assert!(env.crm_task("Good task").is_some());
    assert!(env.crm_task("Odd task").is_none());
    let alerts = crmsync_core::store::alerts::list(
        env.store.conn(),
        &crmsync_core::store::alerts::Filter::default(),
        |_| String::new(),
    )
    .unwrap();
    let alert = alerts.iter().find(|a| a.code == "DAV_ITEM_UNREADABLE").expect("an alert names the item");
    assert!(alert.message.contains(&odd) && alert.message.contains("left as it is"), "{}", alert.message);
    assert_eq!(env.tasks().await.len(), 2, "nothing was deleted");
    env.graph.assert_no_invalid_requests();
}

#[tokio::test]
async fn a_412_on_an_event_or_a_contact_is_a_conflict_too() {
    let mut env = setup("hana@example.test").await;
    let at = monday();
    let ev = env
        .graph
        .seed_event(
            &env.email,
            json!({"subject": "Plan", "start": graph_time(at), "end": graph_time(at + Duration::hours(1))}),
            vec![],
            &[],
        )
        .await
        .unwrap();
    let contact = env
        .graph
        .seed_contact(
            &env.email,
            json!({"givenName": "Ola", "surname": "Olsen", "emailAddresses": [{"address": "ola@x.test"}]}),
        )
        .await
        .unwrap();
    env.sync().await;
    let mb = env.client.mailbox().clone();

    // The event: changed in the CRM, then in Outlook before crmsync writes; the server wins.
    env.set("act.conflict_policy", "server-wins");
    let a = env.crm_appointment("Plan").unwrap();
    api::update_appointment(
        &mut env.store,
        &a.id.to_string(),
        &AppointmentInput { subject: Some("Plan (crm)".into()), ..Default::default() },
    )
    .unwrap();
    let (client, id, m) = (env.client.clone(), ev.clone(), mb.clone());
    set_before_apply_hook(
        &format!("{}/me/calendar/", env.graph.base_url()),
        Arc::new(move || {
            let (client, id, m) = (client.clone(), id.clone(), m.clone());
            Box::pin(async move {
                let edit = Event { subject: Some("Plan (outlook)".into()), ..Event::default() };
                client.send(&m.update_event(&id, &edit, None)).await.unwrap();
            })
        }),
    );
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.conflicts), 1, "{r:?}");
    env.sync().await;
    assert!(env.crm_appointment("Plan (outlook)").is_some());
    assert_eq!(by(&env.events().await, "id", &ev).unwrap()["subject"], "Plan (outlook)");

    // The contact: the CRM wins.
    env.set("act.conflict_policy", "crm-wins");
    let c = env.crm_contact("ola@x.test").unwrap();
    api::update_contact(
        &mut env.store,
        &c.id.to_string(),
        &ContactInput { company: Some("CRM Inc".into()), ..Default::default() },
    )
    .unwrap();
    let (client, id, m) = (env.client.clone(), contact.clone(), mb.clone());
    set_before_apply_hook(
        &format!("{}/me/contacts/", env.graph.base_url()),
        Arc::new(move || {
            let (client, id, m) = (client.clone(), id.clone(), m.clone());
            Box::pin(async move {
                let edit = Contact { company_name: Some("Outlook Ltd".into()), ..Contact::default() };
                client.send(&m.update_contact(&id, &edit, None)).await.unwrap();
            })
        }),
    );
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.conflicts), 1, "{r:?}");
    env.sync().await;
    assert_eq!(env.crm_contact("ola@x.test").unwrap().company.as_deref(), Some("CRM Inc"));
    assert_eq!(by(&env.contacts().await, "id", &contact).unwrap()["companyName"], "CRM Inc");
    assert_eq!(changes(&env.sync().await), 0);
    env.graph.assert_no_invalid_requests();
}

#[tokio::test]
async fn a_lost_delta_state_is_listed_again_without_duplicates() {
    let mut env = setup("dora@example.test").await;
    let at = monday();
    env.graph
        .seed_event(
            &env.email,
            json!({"subject": "Kickoff", "start": graph_time(at), "end": graph_time(at + Duration::hours(1))}),
            vec![],
            &[],
        )
        .await
        .unwrap();
    env.graph.seed_contact(&env.email, json!({"givenName": "Pavel", "surname": "Bansky"})).await.unwrap();
    env.graph.seed_task(&env.email, None, json!({"title": "Send invoice"})).await.unwrap();
    api::add_task(
        &mut env.store,
        &TaskInput { subject: Some("CRM task".into()), owner: Some(env.email.clone()), ..Default::default() },
    )
    .unwrap();
    let r = env.sync().await;
    assert_eq!((total(&r, |c| c.created_crm), total(&r, |c| c.created_server)), (3, 1), "{r:?}");

    env.graph.force_resync(&env.email, "syncStateNotFound").await.unwrap();
    env.graph.seed_contact(&env.email, json!({"givenName": "Nina", "surname": "New"})).await.unwrap();
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.created_crm), 1, "only the new contact: {r:?}");
    assert_eq!(changes(&r), 1, "{r:?}");
    assert!(r.collections.iter().any(|c| c.listing == "initial"), "{r:?}");
    assert_eq!(api::list_appointments(&env.store).unwrap().len(), 1);
    assert_eq!(api::list_tasks(&env.store).unwrap().len(), 2);
    assert_eq!(records::list_contacts(env.store.conn()).unwrap().len(), 2);
    assert_eq!((env.events().await.len(), env.contacts().await.len(), env.tasks().await.len()), (1, 2, 2));
    assert_eq!(changes(&env.sync().await), 0);
    env.graph.assert_no_invalid_requests();
}
