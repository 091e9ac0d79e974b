//! ACT's key scenarios against two CalDAV/CardDAV implementations: Radicale
//! and Xandikos, which follows RFC 6578 strictly (a sync-collection report
//! names as removed only members that existed when its token was issued).
//!
//! What these prove: items crmsync created and the user later deleted on the
//! server are deleted in the CRM too; a CRM edit of such an item re-creates it
//! on the server instead of failing every sync; server-side creates, edits and
//! deletes reach the CRM.

use std::path::PathBuf;

use crmsync_core::Store;
use crmsync_core::secrets::Secret;
use crmsync_core::store::alerts;
use crmsync_core::store::principals::Kind;
use crmsync_core::store::{appointments, records};
use crmsync_engine::act::{ActCollectionStats, ActSync, sync_act};
use crmsync_engine::admin::act_records::{self as api, AppointmentInput, ContactInput};
use crmsync_engine::admin::{mailboxes, principals, profiles};
use crmsync_protocols::dav::DavClient;
use crmsync_tests::{Radicale, Xandikos, xandikos};

const USER: &str = "alice";
const PW: &str = "alice-pw";
const EMAIL: &str = "alice@example.test";

/// One of the two servers, with the paths of its calendar and address book.
enum Server {
    Radicale(Radicale),
    Xandikos(Xandikos),
}

impl Server {
    async fn start(which: &str) -> Server {
        match which {
            "radicale" => {
                let rad = Radicale::start().unwrap();
                rad.add_user(USER, PW).unwrap();
                assert!(rad.mkcalendar(USER, PW, "/alice/cal/", "Calendar").await.unwrap().is_success());
                assert!(
                    rad.mkcol_addressbook(USER, PW, "/alice/book/", "Contacts").await.unwrap().is_success()
                );
                Server::Radicale(rad)
            }
            _ => Server::Xandikos(Xandikos::start().unwrap()),
        }
    }

    fn base_url(&self) -> String {
        match self {
            Server::Radicale(r) => r.base_url(),
            Server::Xandikos(x) => x.base_url(),
        }
    }

    fn calendar(&self) -> &'static str {
        match self {
            Server::Radicale(_) => "/alice/cal/",
            Server::Xandikos(_) => xandikos::CALENDAR,
        }
    }

    fn addressbook(&self) -> &'static str {
        match self {
            Server::Radicale(_) => "/alice/book/",
            Server::Xandikos(_) => xandikos::ADDRESSBOOK,
        }
    }

    async fn put(&self, path: &str, body: &str) {
        let ct = if path.ends_with(".vcf") { "text/vcard" } else { "text/calendar" };
        let r = match self {
            Server::Radicale(r) => r.put(USER, PW, path, body, ct).await,
            Server::Xandikos(x) => x.put(path, body, ct).await,
        }
        .unwrap();
        assert!(r.is_success(), "PUT {path}: {r:?}");
    }

    async fn get(&self, path: &str) -> Option<String> {
        let r = match self {
            Server::Radicale(r) => r.get(USER, PW, path).await,
            Server::Xandikos(x) => x.get(path).await,
        }
        .unwrap();
        (r.status == 200).then_some(r.body)
    }

    async fn delete(&self, path: &str) {
        let r = match self {
            Server::Radicale(r) => r.delete(USER, PW, path).await,
            Server::Xandikos(x) => x.delete(path).await,
        }
        .unwrap();
        assert!(r.is_success(), "DELETE {path}: {r:?}");
    }

    /// (href, ETag) of every member of `collection`, asked of the server.
    async fn members(&self, collection: &str) -> Vec<(String, String)> {
        let client = DavClient::new(
            &format!("{}/", self.base_url()),
            USER,
            PW,
            std::time::Duration::from_secs(30),
            &[],
        )
        .unwrap();
        client.list_etags(&format!("{}{collection}", self.base_url())).await.unwrap()
    }

    /// The href of the member of `collection` whose data has `UID:uid`.
    async fn href_of(&self, collection: &str, uid: &str) -> Option<String> {
        for (href, _) in self.members(collection).await {
            if self.get(&href).await.is_some_and(|b| b.contains(&format!("UID:{uid}"))) {
                return Some(href);
            }
        }
        None
    }
}

struct Env {
    _dir: tempfile::TempDir,
    store: Store,
    server: Server,
}

async fn setup(which: &str) -> Env {
    let server = Server::start(which).await;
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
            dav_url: Some(format!("{}/", server.base_url())),
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
    let mut env = Env { _dir: dir, store, server };
    let r = crmsync_engine::test_enable::test_and_enable(&mut env.store, EMAIL).await.unwrap();
    let act = r.channels.iter().find(|c| c.channel == "act").unwrap();
    assert!(act.enabled, "ACT Test & Enable failed against {which}: {act:?}");
    env
}

impl Env {
    async fn sync(&mut self) -> ActSync {
        let mb = crmsync_core::store::mailboxes::get(self.store.conn(), EMAIL).unwrap();
        let r = sync_act(&mut self.store, mb).await.unwrap();
        assert!(r.outcome.is_ok(), "{r:?}");
        r
    }

    fn codes(&self) -> Vec<String> {
        alerts::list(self.store.conn(), &alerts::Filter::default(), |_| String::new())
            .unwrap()
            .into_iter()
            .map(|a| a.code)
            .collect()
    }
}

fn total(r: &ActSync, f: impl Fn(&ActCollectionStats) -> usize) -> usize {
    r.collections.iter().map(f).sum()
}

fn appointment(subject: &str) -> AppointmentInput {
    AppointmentInput {
        subject: Some(subject.into()),
        start: Some("2026-04-01T09:00:00Z".into()),
        end: Some("2026-04-01T10:00:00Z".into()),
        organizer: Some(EMAIL.into()),
        owner: Some(EMAIL.into()),
        ..Default::default()
    }
}

fn vevent(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n\
         DTSTART:20260302T090000Z\r\nDTEND:20260302T100000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// An appointment and a contact that crmsync uploaded, then deleted by the
/// user on the server: both go from the CRM at the next sync.
async fn own_uploads_deleted_on_the_server_are_deleted_in_the_crm(which: &str) {
    let mut env = setup(which).await;
    let a = api::add_appointment(&mut env.store, &appointment("Budget review")).unwrap();
    let c = api::add_contact(
        &mut env.store,
        &ContactInput {
            first_name: Some("Carl".into()),
            last_name: Some("Crm".into()),
            emails: Some(vec!["carl@crm.test".into()]),
            owner: Some(EMAIL.into()),
            ..Default::default()
        },
    )
    .unwrap();
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.created_server), 2, "{which}: {r:?}");
    let event_href = env.server.href_of(env.server.calendar(), &a.uid).await.expect("uploaded event");
    let card_href =
        env.server.href_of(env.server.addressbook(), c.uid.as_deref().unwrap()).await.expect("uploaded card");

    env.server.delete(&event_href).await;
    env.server.delete(&card_href).await;
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.deleted_crm), 2, "{which}: the server's deletes reach the CRM: {r:?}");
    assert!(appointments::find_by_uid(env.store.conn(), &a.uid).unwrap().is_none(), "{which}");
    assert!(
        records::list_contacts(env.store.conn())
            .unwrap()
            .iter()
            .all(|x| x.email.as_deref() != Some("carl@crm.test")),
        "{which}"
    );
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.deleted_crm + c.created_server + c.failed), 0, "{which}: {r:?}");
}

/// An uploaded appointment deleted on the server and edited in the CRM
/// before the next sync: the CRM's change is not lost, it is created on the
/// server again (a conflict, per docs/act-sync.md), and nothing fails.
async fn a_crm_edit_of_an_item_deleted_on_the_server_recreates_it(which: &str) {
    let mut env = setup(which).await;
    let a = api::add_appointment(&mut env.store, &appointment("Kick-off")).unwrap();
    env.sync().await;
    let href = env.server.href_of(env.server.calendar(), &a.uid).await.expect("uploaded event");
    env.server.delete(&href).await;
    api::update_appointment(
        &mut env.store,
        &a.id.to_string(),
        &AppointmentInput { subject: Some("Kick-off (room 4)".into()), ..Default::default() },
    )
    .unwrap();
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.failed), 0, "{which}: {r:?} alerts {:?}", env.codes());
    assert!(!env.codes().iter().any(|c| c == "NOT_SUPPORTED"), "{which}: {:?}", env.codes());
    let mut found = false;
    for (h, _) in env.server.members(env.server.calendar()).await {
        if env.server.get(&h).await.is_some_and(|b| b.contains("SUMMARY:Kick-off (room 4)")) {
            found = true;
        }
    }
    assert!(found, "{which}: the edited appointment is on the server again");
    assert!(appointments::find_by_uid(env.store.conn(), &a.uid).unwrap().is_some(), "{which}");
}

/// Created, edited and deleted on the server: each reaches the CRM; the
/// CRM's own appointment reaches the server.
async fn server_side_changes_reach_the_crm(which: &str) {
    let mut env = setup(which).await;
    let cal = env.server.calendar();
    let path = format!("{cal}srv-event.ics");
    env.server.put(&path, &vevent("srv-event", "Server meeting")).await;
    let a = api::add_appointment(&mut env.store, &appointment("CRM meeting")).unwrap();
    let r = env.sync().await;
    assert_eq!((total(&r, |c| c.created_crm), total(&r, |c| c.created_server)), (1, 1), "{which}: {r:?}");
    assert!(env.server.href_of(cal, &a.uid).await.is_some(), "{which}");

    env.server.put(&path, &vevent("srv-event", "Server meeting (moved)")).await;
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.updated_crm), 1, "{which}: {r:?}");
    let id = appointments::find_by_uid(env.store.conn(), "srv-event").unwrap().unwrap();
    assert_eq!(appointments::view(env.store.conn(), id).unwrap().subject, "Server meeting (moved)");

    env.server.delete(&path).await;
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.deleted_crm), 1, "{which}: {r:?}");
    assert!(appointments::find_by_uid(env.store.conn(), "srv-event").unwrap().is_none(), "{which}");
}

#[tokio::test]
async fn own_uploads_deleted_on_xandikos_are_deleted_in_the_crm() {
    own_uploads_deleted_on_the_server_are_deleted_in_the_crm("xandikos").await;
}

#[tokio::test]
async fn own_uploads_deleted_on_radicale_are_deleted_in_the_crm() {
    own_uploads_deleted_on_the_server_are_deleted_in_the_crm("radicale").await;
}

#[tokio::test]
async fn a_crm_edit_of_an_item_deleted_on_xandikos_recreates_it() {
    a_crm_edit_of_an_item_deleted_on_the_server_recreates_it("xandikos").await;
}

#[tokio::test]
async fn a_crm_edit_of_an_item_deleted_on_radicale_recreates_it() {
    a_crm_edit_of_an_item_deleted_on_the_server_recreates_it("radicale").await;
}

#[tokio::test]
async fn server_side_changes_on_xandikos_reach_the_crm() {
    server_side_changes_reach_the_crm("xandikos").await;
}

#[tokio::test]
async fn server_side_changes_on_radicale_reach_the_crm() {
    server_side_changes_reach_the_crm("radicale").await;
}

/// A store that kept a token from before its own uploads (as every store
/// synced by earlier versions did): the listing still names an item the user
/// deleted on the server. The item is asked for on its own, found gone, and
/// the CRM's edit re-creates it instead of failing every sync.
#[tokio::test]
async fn a_stale_token_from_before_own_uploads_still_recreates_an_edited_item() {
    let mut env = setup("xandikos").await;
    let cal_url = format!("{}{}", env.server.base_url(), env.server.calendar());
    let client = DavClient::new(
        &format!("{}/", env.server.base_url()),
        USER,
        PW,
        std::time::Duration::from_secs(30),
        &[],
    )
    .unwrap();
    let crmsync_protocols::dav::SyncOutcome::Changes(before) =
        client.sync_collection(&cal_url, None).await.unwrap()
    else {
        panic!("xandikos answers sync-collection");
    };
    let stale = before.token.expect("a sync token");
    let a = api::add_appointment(&mut env.store, &appointment("Planning")).unwrap();
    env.sync().await;
    let href = env.server.href_of(env.server.calendar(), &a.uid).await.expect("uploaded event");
    env.store
        .conn()
        .execute("UPDATE act_collections SET sync_token = ?1 WHERE url = ?2", [&stale, &cal_url])
        .unwrap();

    env.server.delete(&href).await;
    api::update_appointment(
        &mut env.store,
        &a.id.to_string(),
        &AppointmentInput { subject: Some("Planning (moved)".into()), ..Default::default() },
    )
    .unwrap();
    let r = env.sync().await;
    assert_eq!(total(&r, |c| c.failed), 0, "{r:?} alerts {:?}", env.codes());
    assert!(!env.codes().iter().any(|c| c == "NOT_SUPPORTED"), "{:?}", env.codes());
    let mut found = false;
    for (h, _) in env.server.members(env.server.calendar()).await {
        if env.server.get(&h).await.is_some_and(|b| b.contains("SUMMARY:Planning (moved)")) {
            found = true;
        }
    }
    assert!(found, "the edited appointment is on the server again");
}
