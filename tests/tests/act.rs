//! ACT end to end against a real Radicale: first sync both ways, edits and
//! deletes each way, a conflict under each policy, a recurring event with a
//! moved and a cancelled occurrence, contacts matched by email, the
//! mass-delete brake, a 1000-item collection and a server answering 412.

use std::path::PathBuf;

use crmsync_core::Store;
use crmsync_core::secrets::Secret;
use crmsync_core::store::alerts;
use crmsync_core::store::principals::Kind;
use crmsync_core::store::{appointments, records, tasks};
use crmsync_engine::act::{ActSync, set_before_apply_hook, sync_act};
use crmsync_engine::admin::act_records::{self as api, AppointmentInput, ContactInput, TaskInput};
use crmsync_engine::admin::{mailboxes, principals, profiles, settings};
use crmsync_protocols::dav::DavClient;
use crmsync_tests::Radicale;

const USER: &str = "alice";
const PW: &str = "alice-pw";
const EMAIL: &str = "alice@example.test";

struct Env {
    _dir: tempfile::TempDir,
    store: Store,
    rad: Radicale,
}

fn setup() -> Env {
    let rad = Radicale::start().unwrap();
    rad.add_user(USER, PW).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("crm.db");
    let mut store = Store::open(&path).unwrap().without_keyring();
    principals::add(&mut store, Kind::User, EMAIL, "Alice Adams").unwrap();
    profiles::add(
        &mut store,
        "Dav",
        &profiles::ProfileInput {
            kind: Some("imap-smtp".into()),
            incoming_host: Some("127.0.0.1".into()),
            dav_url: Some(format!("{}/", rad.base_url())),
            allow_insecure: Some(true),
            timeout: Some("30".into()),
            ..Default::default()
        },
    )
    .unwrap();
    mailboxes::add(
        &mut store,
        EMAIL,
        &mailboxes::MailboxInput {
            profile: Some("Dav".into()),
            username: Some(USER.into()),
            password: Some(Secret::new(PW)),
            incoming: Some("none".into()),
            outgoing: Some("none".into()),
            act: Some("server-side".into()),
            ..Default::default()
        },
    )
    .unwrap();
    Env { _dir: dir, store, rad }
}

impl Env {
    async fn test_enable(&mut self) {
        let r = crmsync_engine::test_enable::test_and_enable(&mut self.store, EMAIL).await.unwrap();
        let act = r.channels.iter().find(|c| c.channel == "act").unwrap();
        assert!(act.enabled, "ACT Test & Enable failed: {act:?}");
    }

    async fn sync(&mut self) -> ActSync {
        let mb = crmsync_core::store::mailboxes::get(self.store.conn(), EMAIL).unwrap();
        let r = sync_act(&mut self.store, mb).await.unwrap();
        assert!(r.outcome.is_ok(), "{r:?}");
        r
    }

    fn client(&self) -> DavClient {
        DavClient::new(
            &format!("{}/", self.rad.base_url()),
            USER,
            PW,
            std::time::Duration::from_secs(30),
            &[],
        )
        .unwrap()
    }

    async fn mkcal(&self) {
        assert!(self.rad.mkcalendar(USER, PW, "/alice/cal/", "Calendar").await.unwrap().is_success());
        assert!(self.rad.mkcol_addressbook(USER, PW, "/alice/book/", "Contacts").await.unwrap().is_success());
    }

    async fn put(&self, path: &str, body: &str) {
        let ct = if path.ends_with(".vcf") { "text/vcard" } else { "text/calendar" };
        let r = self.rad.put(USER, PW, path, body, ct).await.unwrap();
        assert!(r.is_success(), "PUT {path}: {r:?}");
    }

    async fn get(&self, path: &str) -> Option<String> {
        let r = self.rad.get(USER, PW, path).await.unwrap();
        (r.status == 200).then_some(r.body)
    }

    async fn members(&self, collection: &str) -> Vec<(String, String)> {
        self.client().list_etags(&self.rad.url(collection)).await.unwrap()
    }

    fn codes(&self) -> Vec<String> {
        alerts::list(self.store.conn(), &alerts::Filter::default(), |_| String::new())
            .unwrap()
            .into_iter()
            .map(|a| a.code)
            .collect()
    }

    fn set(&mut self, key: &str, value: &str) {
        settings::set(&mut self.store, key, value).unwrap();
    }
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

fn vevent(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n\
         DTSTART:20260302T090000Z\r\nDTEND:20260302T100000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn vtodo(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n\
         SUMMARY:{summary}\r\nPRIORITY:1\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
}

fn vcard(uid: &str, first: &str, last: &str, email: &str, phone: &str) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{first} {last}\r\nN:{last};{first};;;\r\nEMAIL:{email}\r\nTEL;TYPE=WORK:{phone}\r\nEND:VCARD\r\n"
    )
}

fn contact(first: &str, last: &str, email: &str) -> ContactInput {
    ContactInput {
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        emails: Some(vec![email.into()]),
        owner: Some(EMAIL.into()),
        ..Default::default()
    }
}

fn appointment(subject: &str) -> AppointmentInput {
    AppointmentInput {
        subject: Some(subject.into()),
        start: Some("2026-04-01T09:00:00Z".into()),
        end: Some("2026-04-01T10:00:00Z".into()),
        organizer: Some(EMAIL.into()),
        attendees: Some(vec!["Ben Baker <ben@contoso.test>".into()]),
        owner: Some(EMAIL.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn first_sync_both_ways_then_edits_and_deletes_each_way() {
    let mut env = setup();
    env.mkcal().await;
    // Already on the server.
    env.put("/alice/cal/srv-event.ics", &vevent("srv-event", "Server meeting")).await;
    env.put("/alice/cal/srv-task.ics", &vtodo("srv-task", "Server task")).await;
    env.put(
        "/alice/book/srv-contact.vcf",
        &vcard("srv-contact", "Sam", "Server", "sam@server.test", "+1 555 0001"),
    )
    .await;
    // Already in the CRM.
    let a = api::add_appointment(&mut env.store, &appointment("CRM meeting")).unwrap();
    let t = api::add_task(
        &mut env.store,
        &TaskInput { subject: Some("CRM task".into()), owner: Some(EMAIL.into()), ..Default::default() },
    )
    .unwrap();
    let c1 = api::add_contact(&mut env.store, &contact("Carl", "Crm", "carl@crm.test")).unwrap();
    let _c2 = api::add_contact(&mut env.store, &contact("Cora", "Crm", "cora@crm.test")).unwrap();
    let _c3 = api::add_contact(&mut env.store, &contact("Cyd", "Crm", "cyd@crm.test")).unwrap();
    // Not the owner's: stays out of the sync.
    api::add_contact(
        &mut env.store,
        &ContactInput { owner: None, ..contact("Nora", "Nobody", "nora@x.test") },
    )
    .unwrap();

    env.test_enable().await;
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.created_crm), 3, "{r:?}");
    assert_eq!(total(&r, |c| c.created_server), 5, "{r:?}");
    assert_eq!(env.members("/alice/cal/").await.len(), 4);
    assert_eq!(env.members("/alice/book/").await.len(), 4);
    assert_eq!(appointments::list_ids(env.store.conn()).unwrap().len(), 2);
    assert_eq!(tasks::list_ids(env.store.conn()).unwrap().len(), 2);
    assert_eq!(records::list_contacts(env.store.conn()).unwrap().len(), 5);
    let shown = appointments::view(
        env.store.conn(),
        appointments::find_by_uid(env.store.conn(), "srv-event").unwrap().unwrap(),
    )
    .unwrap();
    assert_eq!(shown.subject, "Server meeting");
    assert_eq!(shown.owner.as_deref(), Some(EMAIL));

    // A no-change sync: nothing to do, one request per collection URL (calendar+tasks share one).
    let r = env.sync().await;
    assert_eq!(changes(&r), 0, "{r:?}");
    assert_eq!(r.requests, 2, "{r:?}");

    // Edits each way.
    api::update_appointment(
        &mut env.store,
        &a.id.to_string(),
        &AppointmentInput {
            subject: Some("CRM meeting (moved room)".into()),
            location: Some("Room 7".into()),
            ..Default::default()
        },
    )
    .unwrap();
    env.put(
        "/alice/book/srv-contact.vcf",
        &vcard("srv-contact", "Sam", "Server", "sam@server.test", "+1 555 9999"),
    )
    .await;
    let r = env.sync().await;
    assert_eq!((total(&r, |c| c.updated_server), total(&r, |c| c.updated_crm)), (1, 1), "{r:?}");
    let href = href_of(&env, "/alice/cal/", &a.uid).await.unwrap();
    let body = env.get(&href).await.unwrap();
    assert!(body.contains("SUMMARY:CRM meeting (moved room)") && body.contains("LOCATION:Room 7"), "{body}");
    let sam = records::list_contacts(env.store.conn())
        .unwrap()
        .into_iter()
        .find(|c| c.email.as_deref() == Some("sam@server.test"))
        .unwrap();
    assert_eq!(sam.phone.as_deref(), Some("+1 555 9999"));
    assert_eq!(changes(&env.sync().await), 0);

    // Deletes each way.
    api::delete_contact(&mut env.store, &c1.id.to_string()).unwrap();
    assert!(env.rad.delete(USER, PW, "/alice/cal/srv-task.ics").await.unwrap().is_success());
    let r = env.sync().await;
    assert_eq!((total(&r, |c| c.deleted_server), total(&r, |c| c.deleted_crm)), (1, 1), "{r:?}");
    assert!(href_of(&env, "/alice/book/", &c1.uid.clone().unwrap()).await.is_none());
    assert!(tasks::find_by_uid(env.store.conn(), "srv-task").unwrap().is_none());
    assert!(tasks::find_by_uid(env.store.conn(), &t.uid).unwrap().is_some());
    assert_eq!(changes(&env.sync().await), 0);
}

async fn href_of(env: &Env, collection: &str, uid: &str) -> Option<String> {
    for (href, _) in env.members(collection).await {
        if env.get(&href).await.is_some_and(|b| b.contains(&format!("UID:{uid}"))) {
            return Some(href);
        }
    }
    None
}

async fn synced_task(env: &mut Env, subject: &str) -> (i64, String) {
    let t = api::add_task(
        &mut env.store,
        &TaskInput { subject: Some(subject.into()), owner: Some(EMAIL.into()), ..Default::default() },
    )
    .unwrap();
    env.sync().await;
    let href = href_of(env, "/alice/crmsync-calendar/", &t.uid).await.expect("the task is on the server");
    (t.id, href)
}

async fn edit_both(env: &mut Env, id: i64, href: &str, crm: &str, srv: &str) {
    api::update_task(
        &mut env.store,
        &id.to_string(),
        &TaskInput { subject: Some(crm.into()), ..Default::default() },
    )
    .unwrap();
    let uid = tasks::get(env.store.conn(), id).unwrap().item.uid;
    // The server's change is the later one.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let body = vtodo(&uid, srv).replace(
        "DTSTAMP:20260101T000000Z",
        &format!("DTSTAMP:20260101T000000Z\r\nLAST-MODIFIED:{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")),
    );
    env.put(href, &body).await;
}

#[tokio::test]
async fn a_conflict_under_each_policy() {
    let mut env = setup();
    env.test_enable().await;
    env.sync().await;
    for policy in ["crm-wins", "server-wins", "most-recent", "keep-both"] {
        env.set("act.conflict_policy", policy);
        let (id, href) = synced_task(&mut env, &format!("base {policy}")).await;
        edit_both(&mut env, id, &href, &format!("crm {policy}"), &format!("srv {policy}")).await;
        let before = tasks::list_ids(env.store.conn()).unwrap().len();
        let r = env.sync().await;
        assert_eq!(total(&r, |c| c.conflicts), 1, "{policy}: {r:?}");
        let crm = tasks::get(env.store.conn(), id).unwrap().item.summary;
        let srv = env.get(&href).await.unwrap();
        match policy {
            "crm-wins" => {
                assert_eq!(crm, "crm crm-wins");
                assert!(srv.contains("SUMMARY:crm crm-wins"), "{srv}");
            }
            "server-wins" | "most-recent" => {
                assert_eq!(crm, format!("srv {policy}"));
                assert!(srv.contains(&format!("SUMMARY:srv {policy}")));
            }
            _ => {
                // Both versions kept on both sides: the server's in place, the CRM's as a copy.
                assert_eq!(crm, "srv keep-both");
                let all = tasks::list_ids(env.store.conn()).unwrap();
                assert_eq!(all.len(), before + 1);
                let copy = all
                    .iter()
                    .map(|i| tasks::get(env.store.conn(), *i).unwrap().item)
                    .find(|t| t.summary == "crm keep-both")
                    .unwrap();
                assert!(href_of(&env, "/alice/crmsync-calendar/", &copy.uid).await.is_some());
            }
        }
        assert_eq!(changes(&env.sync().await), 0, "{policy}: not converged");
    }
    let codes = env.codes();
    assert!(codes.iter().filter(|c| *c == "DAV_CONFLICT").count() >= 1, "{codes:?}");
}

#[tokio::test]
async fn a_recurring_event_with_a_moved_and_a_cancelled_occurrence_round_trips() {
    let mut env = setup();
    env.mkcal().await;
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n\
BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n\
BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n\
END:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260302T090000\r\nDTEND;TZID=Europe/Berlin:20260302T100000\r\n\
SUMMARY:Weekly sync\r\nRRULE:FREQ=WEEKLY;COUNT=8;BYDAY=MO\r\nEXDATE;TZID=Europe/Berlin:20260316T090000\r\nORGANIZER;CN=Alice:mailto:alice@example.test\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260309T090000\r\nDTSTART;TZID=Europe/Berlin:20260310T140000\r\nDTEND;TZID=Europe/Berlin:20260310T150000\r\nSUMMARY:Weekly sync (moved)\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260323T090000\r\nDTSTART;TZID=Europe/Berlin:20260323T090000\r\nDTEND;TZID=Europe/Berlin:20260323T100000\r\nSUMMARY:Weekly sync\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";
    env.put("/alice/cal/weekly-1.ics", ics).await;
    env.test_enable().await;
    env.sync().await;
    let id = appointments::find_by_uid(env.store.conn(), "weekly-1").unwrap().unwrap();
    let v = appointments::view(env.store.conn(), id).unwrap();
    assert_eq!(v.recurrence.as_deref(), Some("FREQ=WEEKLY;COUNT=8;BYDAY=MO"));
    assert_eq!(v.time_zone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(v.exdates, vec!["2026-03-16T09:00:00".to_string()]);
    assert_eq!(v.exceptions.len(), 2);
    assert_eq!(v.exceptions[0].start, "2026-03-10T14:00:00");
    assert!(v.exceptions[1].cancelled);
    // Edit the series in the CRM: the exceptions survive on the server.
    api::update_appointment(
        &mut env.store,
        &id.to_string(),
        &AppointmentInput { subject: Some("Weekly sync v2".into()), ..Default::default() },
    )
    .unwrap();
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.updated_server), 1, "{r:?}");
    let body = env.get("/alice/cal/weekly-1.ics").await.unwrap();
    assert!(body.contains("SUMMARY:Weekly sync v2"), "{body}");
    assert_eq!(body.matches("RECURRENCE-ID").count(), 2, "{body}");
    assert!(body.contains("EXDATE;TZID=Europe/Berlin:20260316T090000"), "{body}");
    assert!(
        body.contains("STATUS:CANCELLED") && body.contains("DTSTART;TZID=Europe/Berlin:20260310T140000"),
        "{body}"
    );
    // And back: cancel one more occurrence on the server.
    let more = body.replace(
        "EXDATE;TZID=Europe/Berlin:20260316T090000",
        "EXDATE;TZID=Europe/Berlin:20260316T090000,20260330T090000",
    );
    env.put("/alice/cal/weekly-1.ics", &more).await;
    env.sync().await;
    let v = appointments::view(env.store.conn(), id).unwrap();
    assert_eq!(v.exdates.len(), 2, "{:?}", v.exdates);
    assert_eq!(v.exceptions.len(), 2);
    assert_eq!(changes(&env.sync().await), 0);
}

#[tokio::test]
async fn contacts_are_matched_by_email_on_first_sync() {
    let mut env = setup();
    env.mkcal().await;
    env.put(
        "/alice/book/phone-export.vcf",
        &vcard("phone-uid-1", "Ann", "Archer", "ANN@example.test", "+1 555 0101"),
    )
    .await;
    env.put("/alice/book/other.vcf", &vcard("phone-uid-2", "Bo", "Brand", "bo@example.test", "+1 555 0102"))
        .await;
    let ann = api::add_contact(
        &mut env.store,
        &ContactInput { company: Some("Archer Ltd".into()), ..contact("Ann", "Archer", "ann@example.test") },
    )
    .unwrap();
    env.test_enable().await;
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.created_server), 0, "{r:?}");
    assert_eq!(records::list_contacts(env.store.conn()).unwrap().len(), 2);
    assert_eq!(env.members("/alice/book/").await.len(), 2);
    // Both sides' data kept: the CRM's company, the server's phone, the server's UID.
    let ann = records::get_contact(env.store.conn(), ann.id).unwrap();
    assert_eq!(ann.uid.as_deref(), Some("phone-uid-1"));
    assert_eq!(ann.phone.as_deref(), Some("+1 555 0101"));
    let body = env.get("/alice/book/phone-export.vcf").await.unwrap();
    assert!(body.contains("ORG:Archer Ltd"), "{body}");
    assert_eq!(changes(&env.sync().await), 0);
}

#[tokio::test]
async fn the_brake_holds_a_mass_delete_until_the_admin_confirms() {
    let mut env = setup();
    for i in 0..6 {
        api::add_contact(&mut env.store, &contact("P", &format!("Person{i}"), &format!("p{i}@x.test")))
            .unwrap();
    }
    env.test_enable().await;
    env.sync().await;
    // Someone empties the address book on the server.
    for (href, _) in env.members("/alice/crmsync-contacts/").await {
        assert!(env.rad.delete(USER, PW, &href).await.unwrap().is_success());
    }
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.held), 6, "{r:?}");
    assert_eq!(records::list_contacts(env.store.conn()).unwrap().len(), 6);
    assert!(env.codes().contains(&"ACT_MASS_DELETE_HELD".to_string()));
    // Held until confirmed, also on the next cycle.
    assert_eq!(total(&env.sync().await, |c| c.held), 6);
    assert!(crmsync_engine::act::confirm_brake(&mut env.store, EMAIL).unwrap().len() == 1);
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.deleted_crm), 6, "{r:?}");
    assert_eq!(records::list_contacts(env.store.conn()).unwrap().len(), 0);
    // Nothing left to confirm.
    assert!(crmsync_engine::act::confirm_brake(&mut env.store, EMAIL).is_err());
}

#[tokio::test]
async fn a_thousand_item_collection_syncs_and_a_no_change_sync_is_one_request() {
    let mut env = setup();
    env.store
        .write(|tx| -> crmsync_core::Result<()> {
            let owner = crmsync_core::store::principals::find(tx, Kind::User, EMAIL)?.unwrap().id;
            for i in 0..1000 {
                let c = crmsync_core::model::Contact {
                    first_name: Some(format!("First{i}")),
                    last_name: Some(format!("Last{i}")),
                    email: Some(format!("c{i}@bulk.test")),
                    ..Default::default()
                };
                records::insert_contact(tx, &c, Some(owner))?;
            }
            Ok(())
        })
        .unwrap();
    settings::set(&mut env.store, "act.mass_delete_brake_percent", "50").unwrap();
    mailboxes_act_filter(&mut env, "contact:owned");
    env.test_enable().await;
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.created_server), 1000, "{r:?}");
    assert_eq!(env.members("/alice/crmsync-contacts/").await.len(), 1000);
    let r = env.sync().await;
    assert_eq!(changes(&r), 0);
    assert_eq!(r.requests, 1, "{r:?}");
}

fn mailboxes_act_filter(env: &mut Env, rules: &str) {
    api::act_settings(&mut env.store, EMAIL, Some(rules), &[]).unwrap();
}

#[tokio::test]
async fn a_412_from_the_server_is_a_conflict_and_nothing_is_lost() {
    let mut env = setup();
    env.test_enable().await;
    let (id, href) = synced_task(&mut env, "original").await;
    api::update_task(
        &mut env.store,
        &id.to_string(),
        &TaskInput { subject: Some("crm edit".into()), ..Default::default() },
    )
    .unwrap();
    // Between plan and apply, someone else changes the item on the server.
    let uid = tasks::get(env.store.conn(), id).unwrap().item.uid;
    let url = env.rad.url(&href);
    let body = vtodo(&uid, "server edit during sync");
    set_before_apply_hook(
        &format!("{}/", env.rad.base_url()),
        std::sync::Arc::new(move || {
            let (url, body) = (url.clone(), body.clone());
            Box::pin(async move {
                let r = reqwest::Client::new()
                    .put(url)
                    .basic_auth(USER, Some(PW))
                    .header("Content-Type", "text/calendar")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
            })
        }),
    );
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.conflicts), 1, "{r:?}");
    assert_eq!(total(&r, |c| c.updated_server), 0, "{r:?}");
    assert!(env.codes().contains(&"DAV_CONFLICT".to_string()));
    // Nothing was overwritten: the server keeps its edit, the CRM its own.
    assert!(env.get(&href).await.unwrap().contains("SUMMARY:server edit during sync"));
    assert_eq!(tasks::get(env.store.conn(), id).unwrap().item.summary, "crm edit");
    // The next cycle sees both changes: the conflict policy (keep-both) keeps both.
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.conflicts), 1, "{r:?}");
    let subjects: Vec<String> = tasks::list_ids(env.store.conn())
        .unwrap()
        .into_iter()
        .map(|i| tasks::get(env.store.conn(), i).unwrap().item.summary)
        .collect();
    assert!(
        subjects.contains(&"crm edit".to_string())
            && subjects.contains(&"server edit during sync".to_string()),
        "{subjects:?}"
    );
    assert_eq!(changes(&env.sync().await), 0);
}

#[tokio::test]
async fn a_crm_edit_keeps_what_crmsync_does_not_model_on_the_server() {
    let mut env = setup();
    env.mkcal().await;
    let event = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\nBEGIN:VEVENT\r\nUID:alarm-event\r\n\
DTSTAMP:20260101T000000Z\r\nDTSTART:20260302T090000Z\r\nDTEND:20260302T100000Z\r\nSUMMARY:Board meeting\r\n\
CATEGORIES:Board,Quarterly\r\nX-OTHER-CLIENT-COLOR:#336699\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\n\
TRIGGER:-PT30M\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    env.put("/alice/cal/alarm-event.ics", event).await;
    let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:photo-contact\r\nFN:Pia Photo\r\nN:Photo;Pia;;;\r\n\
EMAIL:pia@photo.test\r\nPHOTO;ENCODING=b;TYPE=PNG:iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABh6FO1AAAAABJRU5ErkJggg==\r\n\
X-SOCIALPROFILE;TYPE=mastodon:https://social.example/@pia\r\nEND:VCARD\r\n";
    env.put("/alice/book/photo-contact.vcf", card).await;

    env.test_enable().await;
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.created_crm), 2, "{r:?}");

    // The CRM edits the subject and the name (what `crmsync appointment update` / `contact update` run).
    let a = appointments::find_by_uid(env.store.conn(), "alarm-event").unwrap().unwrap();
    api::update_appointment(
        &mut env.store,
        &a.to_string(),
        &AppointmentInput { subject: Some("Board meeting (Q2)".into()), ..Default::default() },
    )
    .unwrap();
    let pia = records::list_contacts(env.store.conn())
        .unwrap()
        .into_iter()
        .find(|c| c.email.as_deref() == Some("pia@photo.test"))
        .unwrap();
    api::update_contact(
        &mut env.store,
        &pia.id.to_string(),
        &ContactInput { first_name: Some("Pina".into()), ..Default::default() },
    )
    .unwrap();
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.updated_server), 2, "{r:?}");
    assert_eq!(total(&r, |c| c.failed + c.conflicts), 0, "{r:?}");

    let body = env.get("/alice/cal/alarm-event.ics").await.unwrap();
    assert!(body.contains("SUMMARY:Board meeting (Q2)"), "{body}");
    for kept in
        ["BEGIN:VALARM", "TRIGGER:-PT30M", "CATEGORIES:Board,Quarterly", "X-OTHER-CLIENT-COLOR:#336699"]
    {
        assert!(body.contains(kept), "{kept} lost on the server:\n{body}");
    }
    let body = env.get("/alice/book/photo-contact.vcf").await.unwrap();
    let unfolded = body.replace("\r\n ", "").replace("\n ", "");
    assert!(unfolded.contains("N:Photo;Pina;;;") && unfolded.contains("FN:Pina Photo"), "{body}");
    for kept in [
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABh6FO1AAAAABJRU5ErkJggg==",
        "X-SOCIALPROFILE;TYPE=mastodon:https://social.example/@pia",
    ] {
        assert!(unfolded.contains(kept), "{kept} lost on the server:\n{body}");
    }
    assert_eq!(changes(&env.sync().await), 0);
}
