//! The EWS client against the harness's Exchange emulator (HTTPS with the
//! harness CA; every request validated against the EWS schema by the server,
//! an invalid one fails the test): what the engine backend will do with a
//! mailbox — sync the Inbox, read a message's MIME, create, update and delete
//! a contact, impersonate, log in with NTLM, find the EWS URL by autodiscover.

use std::time::Duration;

use crmsync_protocols::ews::*;
use crmsync_tests::ews::EwsServer;

const ANNA: &str = "anna@example.test";
const SVC: &str = "svc-crm@example.test";
const PW: &str = "anna-pw";

async fn server() -> EwsServer {
    let ews = EwsServer::start().expect("the EWS emulator (python3-lxml, python3-pycryptodome)");
    ews.add_user(ANNA, PW).await.unwrap();
    ews
}

fn client(ews: &EwsServer, auth: EwsAuth) -> EwsClient {
    let mut s = EwsSettings::new(ews.ews_url(), auth);
    s.extra_roots = ews.ca().ca_pem().as_bytes().to_vec();
    s.timeout = Duration::from_secs(10);
    EwsClient::new(&s).unwrap()
}

fn basic(user: &str, pw: &str) -> EwsAuth {
    EwsAuth::Basic { user: user.into(), password: pw.into() }
}

fn inbox_sync(state: Option<String>) -> SyncFolderItems {
    SyncFolderItems {
        shape: ItemShape::id_only_with(&["message:InternetMessageId", "item:ConversationId"]),
        folder: DistinguishedFolder::Inbox.into(),
        sync_state: state,
        max_changes: 1,
        normal_items_scope: false,
    }
}

#[tokio::test]
async fn the_inbox_syncs_in_pages_and_a_message_is_read_as_its_mime() {
    let ews = server().await;
    let mime = |n: u32| {
        format!(
            "From: a@b.test\r\nTo: {ANNA}\r\nSubject: hello {n}\r\nMessage-ID: <m{n}@b.test>\r\n\r\nbody {n}\r\n"
        )
    };
    ews.seed_mime(ANNA, "inbox", mime(1).as_bytes(), false).await.unwrap();
    ews.seed_mime(ANNA, "inbox", mime(2).as_bytes(), false).await.unwrap();
    let c = client(&ews, basic(ANNA, PW));

    let p1 = c.sync_folder_items(&inbox_sync(None)).await.unwrap();
    assert!(!p1.last_page, "one change per page, two messages");
    let p2 = c.sync_folder_items(&inbox_sync(Some(p1.sync_state.clone()))).await.unwrap();
    assert!(p2.last_page);
    let ids: Vec<ItemId> = p1
        .changes
        .iter()
        .chain(&p2.changes)
        .map(|ch| match ch {
            Ok(SyncChange::Create(item)) => item.id().unwrap().clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids.len(), 2);
    let got = c.get_items(&GetItem { shape: ItemShape::mime(), ids: ids.clone() }).await.unwrap();
    let Ok(Item::Message(m)) = &got[0] else { panic!("{got:?}") };
    let text = String::from_utf8_lossy(m.common.mime_content.as_ref().unwrap()).to_string();
    assert!(text.contains("Subject: hello 1") && text.contains("body 1"), "{text}");

    // Nothing new: an empty last page.
    let p3 = c.sync_folder_items(&inbox_sync(Some(p2.sync_state.clone()))).await.unwrap();
    assert!(p3.last_page && p3.changes.is_empty());

    // A vanished item fails alone.
    ews.delete_item(&ids[1].id).await.unwrap();
    let got = c.get_items(&GetItem { shape: ItemShape::default(), ids }).await.unwrap();
    assert!(got[0].is_ok());
    assert_eq!(got[1].as_ref().unwrap_err().code(), "ITEM_NOT_FOUND");
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn a_contact_is_created_updated_with_its_change_key_and_deleted() {
    let ews = server().await;
    let c = client(&ews, basic(ANNA, PW));
    let created = c
        .create_items(&CreateItem {
            disposition: None,
            send_invitations: None,
            folder: Some(DistinguishedFolder::Contacts.into()),
            items: vec![Item::Contact(Contact {
                given_name: Some("Jane".into()),
                surname: Some("Doe".into()),
                email_addresses: vec![Entry { key: "EmailAddress1".into(), value: "jane@acme.test".into() }],
                ..Default::default()
            })],
        })
        .await
        .unwrap();
    let id = created[0].as_ref().unwrap().as_ref().unwrap().id().unwrap().clone();
    assert!(id.change_key.is_some());

    let change = |id: ItemId, title: &str| UpdateItem {
        conflict: ConflictResolution::NeverOverwrite,
        disposition: None,
        send_meeting: None,
        changes: vec![ItemChange {
            id,
            updates: vec![Update::Set {
                path: PropertyPath::field("contacts:JobTitle"),
                item: Item::Contact(Contact { job_title: Some(title.into()), ..Default::default() }),
            }],
        }],
    };
    let updated = c.update_items(&change(id.clone(), "Engineer")).await.unwrap();
    let new_id = updated[0].as_ref().unwrap().id().unwrap().clone();
    assert_ne!(new_id.change_key, id.change_key, "a new version");
    let stored = ews.items(ANNA, "contacts").await.unwrap();
    assert!(stored[0].fields.get("JobTitle").is_some_and(|f| f.contains("Engineer")), "{stored:?}");

    // The old change key is stale now: a conflict for this item only.
    let stale = c.update_items(&change(id, "Manager")).await.unwrap();
    let e = stale[0].as_ref().unwrap_err();
    assert!(e.is_conflict(), "{e}");

    let deleted = c
        .delete_items(&DeleteItem {
            delete_type: DeleteType::HardDelete,
            send_cancellations: None,
            all_task_occurrences: false,
            ids: vec![new_id],
        })
        .await
        .unwrap();
    assert!(deleted[0].is_ok());
    assert!(ews.items(ANNA, "contacts").await.unwrap().is_empty());
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn a_service_account_reaches_a_mailbox_only_with_the_impersonation_role() {
    let ews = server().await;
    ews.add_user(SVC, "svc-pw").await.unwrap();
    let svc = client(&ews, basic(SVC, "svc-pw")).impersonating(Some(ANNA));
    let inbox = GetFolder { shape: BaseShape::Default, folders: vec![DistinguishedFolder::Inbox.into()] };
    let e = match svc.get_folders(&inbox).await {
        Err(e) => e,
        Ok(r) => r.into_iter().next().unwrap().unwrap_err(),
    };
    assert_eq!(e.code(), "EWS_IMPERSONATION_DENIED", "{e}");
    assert!(e.to_string().contains("ApplicationImpersonation"));
    ews.grant_impersonation(SVC, true).await.unwrap();
    let folders = svc.get_folders(&inbox).await.unwrap();
    assert!(folders[0].is_ok(), "{folders:?}");
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn ntlm_logs_in_and_a_wrong_password_is_a_login_error() {
    let ews = server().await;
    let ntlm = |pw: &str| EwsAuth::Ntlm { user: "EXAMPLE\\anna".into(), password: pw.into() };
    let inbox = GetFolder { shape: BaseShape::IdOnly, folders: vec![DistinguishedFolder::Inbox.into()] };
    let folders = client(&ews, ntlm(PW)).get_folders(&inbox).await.unwrap();
    assert!(folders[0].is_ok());
    let e = client(&ews, ntlm("wrong")).get_folders(&inbox).await.unwrap_err();
    assert_eq!(e.code(), "EWS_AUTH_FAILED", "{e}");
    let e = client(&ews, basic(ANNA, "wrong")).get_folders(&inbox).await.unwrap_err();
    assert_eq!(e.code(), "EWS_AUTH_FAILED", "{e}");
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn autodiscover_finds_the_ews_url_and_says_how() {
    let ews = server().await;
    let s = AutodiscoverSettings {
        email: ANNA.into(),
        auth: basic(ANNA, PW),
        base_url: Some(ews.base_url()),
        allow_insecure: false,
        timeout: Duration::from_secs(10),
        extra_roots: ews.ca().ca_pem().as_bytes().to_vec(),
    };
    let found = discover_ews_url(&s).await.unwrap();
    assert_eq!(found.how, How::Override);
    assert!(found.ews_url.ends_with("/EWS/Exchange.asmx"), "{found:?}");
    assert_eq!(found.autodiscover_url, ews.autodiscover_url());
}

#[tokio::test]
async fn a_recurring_meeting_reads_back_with_its_moved_and_deleted_occurrences() {
    let ews = server().await;
    let c = client(&ews, basic(ANNA, PW));
    let series = CalendarItem {
        common: ItemCommon { subject: Some("Weekly sync".into()), ..Default::default() },
        start: Some("2026-12-01T09:00:00Z".into()),
        end: Some("2026-12-01T09:30:00Z".into()),
        required_attendees: vec![Attendee { mailbox: Mailbox::smtp("bob@example.test"), response: None }],
        recurrence: Some(Recurrence {
            pattern: RecurrencePattern::Weekly { interval: 1, days: "Tuesday".into(), first_day: None },
            range: RecurrenceRange::Numbered { start: "2026-12-01".into(), count: 5 },
        }),
        start_time_zone: Some("W. Europe Standard Time".into()),
        end_time_zone: Some("W. Europe Standard Time".into()),
        ..Default::default()
    };
    let created = c
        .create_items(&CreateItem {
            disposition: None,
            send_invitations: Some(SendMeeting::None),
            folder: Some(DistinguishedFolder::Calendar.into()),
            items: vec![Item::CalendarItem(series)],
        })
        .await
        .unwrap();
    let master = created[0].as_ref().unwrap().as_ref().unwrap().id().unwrap().clone();
    ews.modify_occurrence(
        &master.id,
        2,
        serde_json::json!({ "start": "2026-12-08T10:00:00Z", "end": "2026-12-08T10:30:00Z" }),
    )
    .await
    .unwrap();
    ews.delete_occurrence(&master.id, 4).await.unwrap();

    let shape = ItemShape {
        base: BaseShape::AllProperties,
        ..ItemShape::id_only_with(&[
            "calendar:Recurrence",
            "calendar:ModifiedOccurrences",
            "calendar:DeletedOccurrences",
            "calendar:RequiredAttendees",
            "calendar:StartTimeZone",
        ])
    };
    let got = c.get_items(&GetItem { shape, ids: vec![ItemId::new(master.id.clone())] }).await.unwrap();
    let Ok(Item::CalendarItem(m)) = &got[0] else { panic!("{got:?}") };
    assert_eq!(m.calendar_item_type.as_deref(), Some("RecurringMaster"));
    assert!(matches!(m.recurrence.as_ref().unwrap().range, RecurrenceRange::Numbered { count: 5, .. }));
    assert_eq!(m.modified_occurrences.len(), 1, "{m:?}");
    assert!(m.modified_occurrences[0].start.as_deref().unwrap().starts_with("2026-12-08T10:00:00"));
    assert!(m.modified_occurrences[0].original_start.as_deref().unwrap().starts_with("2026-12-08T09:00:00"));
    assert_eq!(m.deleted_occurrences.len(), 1);
    assert!(m.deleted_occurrences[0].starts_with("2026-12-22"), "{:?}", m.deleted_occurrences);
    assert_eq!(m.required_attendees[0].mailbox.email.as_deref(), Some("bob@example.test"));
    assert_eq!(m.start_time_zone.as_deref(), Some("W. Europe Standard Time"));
    ews.assert_no_invalid_requests();
}
