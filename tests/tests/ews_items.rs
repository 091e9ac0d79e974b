//! The Exchange item store against the harness's EWS emulator (HTTPS with
//! the harness CA; every request validated against the EWS schema): what
//! the ACT engine asks of it — list the Calendar, Contacts and Tasks folders
//! by SyncState, read members as iCalendar/vCard, write them back with the
//! ChangeKey as the precondition, delete them. A recurring master keeps its
//! moved and deleted occurrences; a stale ChangeKey is the engine's conflict;
//! a refused SyncState is a full listing without duplicates; a meeting is
//! cancelled for its attendees only when the CRM user organizes it. Every
//! test ends with no request the emulator found invalid.

use std::collections::BTreeMap;
use std::time::Duration;

use crmsync_engine::backend::ItemStore;
use crmsync_engine::backend::ews_items::EwsItems;
use crmsync_protocols::dav::{WriteError, ical, vcard};
use crmsync_protocols::ews::{EwsAuth, EwsClient, EwsSettings};
use crmsync_tests::{EwsFault, EwsServer};
use serde_json::json;

const ALICE: &str = "alice@example.test";
const PW: &str = "alice-pw";

async fn setup() -> (EwsServer, EwsItems) {
    let ews = EwsServer::start().expect("the EWS emulator (python3-lxml, python3-pycryptodome)");
    ews.add_user(ALICE, PW).await.unwrap();
    let mut s = EwsSettings::new(ews.ews_url(), EwsAuth::Basic { user: ALICE.into(), password: PW.into() });
    s.extra_roots = ews.ca().ca_pem().as_bytes().to_vec();
    s.timeout = Duration::from_secs(20);
    let store = EwsItems::new(EwsClient::new(&s).unwrap(), ALICE);
    (ews, store)
}

async fn url(store: &EwsItems, kind: &str) -> String {
    let cols = store.collections(false).await.unwrap();
    cols.into_iter().find(|c| c.kind == kind).unwrap_or_else(|| panic!("no {kind} collection")).url
}

const MASTER: &str = r#"<t:CalendarItem xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <t:Subject>Weekly review</t:Subject>
  <t:Start>2026-12-01T09:00:00Z</t:Start><t:End>2026-12-01T10:00:00Z</t:End>
  <t:Location>Room 1</t:Location>
  <t:Recurrence>
    <t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Tuesday</t:DaysOfWeek></t:WeeklyRecurrence>
    <t:NumberedRecurrence><t:StartDate>2026-12-01</t:StartDate><t:NumberOfOccurrences>5</t:NumberOfOccurrences></t:NumberedRecurrence>
  </t:Recurrence>
  <t:ModifiedOccurrences><t:Occurrence><t:ItemId Id="AAAA"/>
    <t:Start>2026-12-08T10:00:00Z</t:Start><t:End>2026-12-08T11:00:00Z</t:End>
    <t:OriginalStart>2026-12-08T09:00:00Z</t:OriginalStart></t:Occurrence></t:ModifiedOccurrences>
  <t:DeletedOccurrences><t:DeletedOccurrence><t:Start>2026-12-22T09:00:00Z</t:Start></t:DeletedOccurrence></t:DeletedOccurrences>
</t:CalendarItem>"#;

fn vevent(uid: &str, summary: &str, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20261101T000000Z\r\nDTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\n\
         SUMMARY:{summary}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn vtodo(uid: &str, summary: &str, status: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\n\
         DTSTAMP:20261101T000000Z\r\nSUMMARY:{summary}\r\nDUE:20261215T170000Z\r\nSTATUS:{status}\r\n\
         PRIORITY:1\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
}

fn vcf(uid: &str, first: &str, last: &str, email: &str) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{first} {last}\r\nN:{last};{first};;;\r\n\
         EMAIL:{email}\r\nTEL;TYPE=WORK:+49 30 1234\r\nORG:Acme\r\nEND:VCARD\r\n"
    )
}

#[tokio::test]
async fn a_recurring_master_keeps_its_moved_and_deleted_occurrences_both_ways() {
    let (ews, store) = setup().await;
    let cal = url(&store, "calendar").await;
    let master = ews.seed_item(ALICE, None, MASTER).await.unwrap();

    // Exchange -> CRM: the series as RRULE, the moved occurrence as an override, the deleted one as EXDATE.
    let first = store.list(&cal, None, None, &BTreeMap::new()).await.unwrap();
    assert_eq!(first.members.len(), 1);
    let href = first.members.keys().next().unwrap().clone();
    let (_, text) = store.read(&href).await.unwrap().unwrap();
    let e = ical::parse_event(&text).unwrap().item;
    assert!(e.rrule.as_deref().unwrap().contains("FREQ=WEEKLY"), "{text}");
    assert!(e.rrule.as_deref().unwrap().contains("COUNT=5"), "{text}");
    assert_eq!(e.exdates, ["2026-12-22T09:00:00Z"]);
    assert_eq!(e.overrides.len(), 1, "{text}");
    assert_eq!(e.overrides[0].recurrence_id, "2026-12-08T09:00:00Z");
    assert_eq!(e.overrides[0].start, "2026-12-08T10:00:00Z");
    assert_eq!(e.location.as_deref(), Some("Room 1"));

    // Outlook moves occurrence 3 and deletes occurrence 5: the master changes.
    ews.modify_occurrence(
        &master.id,
        3,
        json!({ "start": "2026-12-15T14:00:00Z", "end": "2026-12-15T15:00:00Z" }),
    )
    .await
    .unwrap();
    ews.delete_occurrence(&master.id, 5).await.unwrap();
    let next = store.list(&cal, first.token.as_deref(), None, &first.members).await.unwrap();
    assert_eq!(next.how, "sync-token");
    assert_eq!(next.members.keys().collect::<Vec<_>>(), [&href], "the same member, not a new one");
    assert_ne!(next.members[&href], first.members[&href], "its ChangeKey changed");
    let (_, text) = store.read(&href).await.unwrap().unwrap();
    let e = ical::parse_event(&text).unwrap().item;
    assert_eq!(e.exdates, ["2026-12-22T09:00:00Z", "2026-12-29T09:00:00Z"], "{text}");
    assert_eq!(e.overrides.len(), 2, "{text}");
    assert_eq!(e.overrides[1].start, "2026-12-15T14:00:00Z");

    // CRM -> Exchange: a weekly series is created as a recurring master.
    let body = vevent("series-1@crm", "Stand-up", "RRULE:FREQ=WEEKLY;COUNT=4;BYDAY=TU\r\n");
    let crm_href = format!("{}series-1@crm.ics", store.path(&cal));
    store.write(&crm_href, body, "text/calendar", None).await.unwrap();
    let items = ews.items(ALICE, "calendar").await.unwrap();
    let made = items.iter().find(|i| i.subject.as_deref() == Some("Stand-up")).unwrap();
    let rec = &made.fields["Recurrence"];
    assert!(rec.contains("WeeklyRecurrence") && rec.contains("Tuesday"), "{rec}");
    assert!(rec.contains("<t:NumberOfOccurrences>4</t:NumberOfOccurrences>"), "{rec}");
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn a_crm_series_with_a_moved_and_a_cancelled_occurrence_reaches_exchange() {
    let (ews, store) = setup().await;
    let cal = url(&store, "calendar").await;
    let href = format!("{}series-2@crm.ics", store.path(&cal));
    let body = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n\
        BEGIN:VEVENT\r\nUID:series-2@crm\r\nDTSTAMP:20261101T000000Z\r\n\
        DTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\nSUMMARY:Planning\r\n\
        RRULE:FREQ=WEEKLY;COUNT=5;BYDAY=TU\r\nEXDATE:20261222T090000Z\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:series-2@crm\r\nDTSTAMP:20261101T000000Z\r\n\
        RECURRENCE-ID:20261208T090000Z\r\nDTSTART:20261208T130000Z\r\nDTEND:20261208T140000Z\r\n\
        SUMMARY:Planning\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let etag = store.write(&href, body.to_string(), "text/calendar", None).await.unwrap();
    let masters = ews.items(ALICE, "calendar").await.unwrap();
    assert_eq!(masters.len(), 1, "one master, the occurrences live in it");
    assert!(etag.ends_with(&masters[0].change_key), "the etag is the master's after its occurrences: {etag}");

    let (_, text) = store.read(&href).await.unwrap().unwrap();
    let e = ical::parse_event(&text).unwrap().item;
    assert_eq!(e.exdates, ["2026-12-22T09:00:00Z"], "{text}");
    assert_eq!(e.overrides.len(), 1, "{text}");
    assert_eq!(e.overrides[0].recurrence_id, "2026-12-08T09:00:00Z");
    assert_eq!(
        (e.overrides[0].start.as_str(), e.overrides[0].end.as_str()),
        ("2026-12-08T13:00:00Z", "2026-12-08T14:00:00Z")
    );

    // Writing the same again changes nothing on Exchange.
    let again = store.write(&href, body.to_string(), "text/calendar", Some(&etag)).await.unwrap();
    let (_, text2) = store.read(&href).await.unwrap().unwrap();
    assert_eq!(ical::parse_event(&text2).unwrap().item.overrides, e.overrides);
    assert_eq!(ical::parse_event(&text2).unwrap().item.exdates, e.exdates);
    assert!(!again.is_empty());
    let log = ews.request_log().await.unwrap();
    let deletes = log.iter().filter(|r| r.operation.as_deref() == Some("DeleteItem")).count();
    assert_eq!(deletes, 1, "the cancelled occurrence is deleted once");
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn each_kind_is_created_changed_and_deleted_from_the_crm_side() {
    let (ews, store) = setup().await;
    let cases = [
        (
            "calendar",
            "ev-1@crm.ics",
            vevent("ev-1@crm", "Kick-off", "LOCATION:Room 2\r\n"),
            vevent("ev-1@crm", "Kick-off (moved)", ""),
        ),
        (
            "tasks",
            "task-1@crm.ics",
            vtodo("task-1@crm", "Call back", "NEEDS-ACTION"),
            vtodo("task-1@crm", "Call back", "COMPLETED"),
        ),
        (
            "contacts",
            "c-1@crm.vcf",
            vcf("c-1@crm", "Ada", "Lovelace", "ada@example.test"),
            vcf("c-1@crm", "Ada", "King", "ada@example.test"),
        ),
    ];
    for (kind, name, body, changed) in cases {
        let col = url(&store, kind).await;
        let href = format!("{}{name}", store.path(&col));
        let etag = store.write(&href, body, "text/plain", None).await.unwrap();
        let on_server = ews.items(ALICE, kind).await.unwrap();
        assert_eq!(on_server.len(), 1, "{kind}");
        assert!(etag.starts_with(&on_server[0].id), "{etag}");

        // The listing shows it under the href the engine chose.
        let known = BTreeMap::from([(href.clone(), etag.clone())]);
        let listing = store.list(&col, None, None, &known).await.unwrap();
        assert_eq!(listing.members, known, "{kind}");
        let (_, text) = store.read(&href).await.unwrap().unwrap();

        let etag2 = store.write(&href, changed, "text/plain", Some(&etag)).await.unwrap();
        assert_ne!(etag2, etag, "{kind}: a new ChangeKey");
        let (_, text2) = store.read(&href).await.unwrap().unwrap();
        assert_ne!(text, text2, "{kind}");
        match kind {
            "calendar" => {
                let e = ical::parse_event(&text2).unwrap().item;
                assert_eq!(
                    (e.uid.as_str(), e.summary.as_str(), e.location),
                    ("ev-1@crm", "Kick-off (moved)", None)
                );
            }
            "tasks" => {
                let t = ical::parse_task(&text2).unwrap().item;
                assert_eq!(t.uid, "task-1@crm");
                assert_eq!(t.status.as_str(), "completed");
                assert_eq!(t.priority.as_str(), "high");
                assert_eq!(t.due.as_deref(), Some("2026-12-15T17:00:00Z"));
            }
            _ => {
                let c = vcard::parse_contact(&text2).unwrap().item;
                assert_eq!(c.uid, "c-1@crm");
                assert_eq!(c.last_name.as_deref(), Some("King"));
                assert_eq!(c.emails, ["ada@example.test"]);
                assert_eq!(c.phone.as_deref(), Some("+49 30 1234"));
                assert_eq!(c.company.as_deref(), Some("Acme"));
            }
        }

        store.delete(&href, Some(&etag2)).await.unwrap();
        assert!(ews.items(ALICE, kind).await.unwrap().is_empty(), "{kind}");
        let after = store.list(&col, listing.token.as_deref(), None, &listing.members).await.unwrap();
        assert!(after.members.is_empty(), "{kind}: {after:?}");
    }
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn each_kind_created_changed_and_deleted_in_outlook_shows_in_the_listing() {
    let (ews, store) = setup().await;
    let seeds = [
        (
            "calendar",
            r#"<t:CalendarItem xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Subject>Lunch</t:Subject><t:Start>2026-12-03T12:00:00Z</t:Start><t:End>2026-12-03T13:00:00Z</t:End></t:CalendarItem>"#,
        ),
        (
            "tasks",
            r#"<t:Task xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Subject>Send offer</t:Subject><t:Status>InProgress</t:Status></t:Task>"#,
        ),
        (
            "contacts",
            r#"<t:Contact xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:GivenName>Grace</t:GivenName><t:EmailAddresses><t:Entry Key="EmailAddress1">grace@example.test</t:Entry></t:EmailAddresses><t:Surname>Hopper</t:Surname></t:Contact>"#,
        ),
    ];
    for (kind, xml) in seeds {
        let col = url(&store, kind).await;
        let first = store.list(&col, None, None, &BTreeMap::new()).await.unwrap();
        assert!(first.members.is_empty());
        let seeded = ews.seed_item(ALICE, Some(kind), xml).await.unwrap();
        let created = store.list(&col, first.token.as_deref(), None, &first.members).await.unwrap();
        assert_eq!(created.members.len(), 1, "{kind}");
        let (href, etag) = created.members.iter().next().unwrap();
        let read = store.read_many(&col, std::slice::from_ref(href), kind == "contacts").await.unwrap();
        assert_eq!(read.len(), 1, "{kind}");
        assert_eq!(&read[0].1, etag);
        let uid = match kind {
            "calendar" => ical::parse_event(&read[0].2).unwrap().item.uid,
            "tasks" => {
                let t = ical::parse_task(&read[0].2).unwrap().item;
                assert_eq!(t.status.as_str(), "in_progress");
                t.uid
            }
            _ => {
                let c = vcard::parse_contact(&read[0].2).unwrap().item;
                assert_eq!(c.emails, ["grace@example.test"]);
                c.uid
            }
        };

        ews.update_item(&seeded.id, json!({ "subject": "Changed in Outlook" })).await.unwrap();
        let changed = store.list(&col, created.token.as_deref(), None, &created.members).await.unwrap();
        assert_eq!(changed.members.keys().collect::<Vec<_>>(), [href], "{kind}");
        assert_ne!(&changed.members[href], etag, "{kind}");
        let (_, again) = store.read(href).await.unwrap().unwrap();
        let uid_again = if kind == "contacts" {
            vcard::parse_contact(&again).unwrap().item.uid
        } else if kind == "tasks" {
            ical::parse_task(&again).unwrap().item.uid
        } else {
            ical::parse_event(&again).unwrap().item.uid
        };
        assert_eq!(uid, uid_again, "{kind}: the UID is stable across changes");
        assert!(uid.len() < 64 && !uid.contains(&seeded.id), "{kind}: a short UID, not the ItemId: {uid}");

        ews.delete_item(&seeded.id).await.unwrap();
        let gone = store.list(&col, changed.token.as_deref(), None, &changed.members).await.unwrap();
        assert!(gone.members.is_empty(), "{kind}: {gone:?}");
        assert!(store.read(href).await.unwrap().is_none(), "{kind}");
    }
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn a_stale_change_key_is_a_conflict_and_changes_nothing() {
    let (ews, store) = setup().await;
    let col = url(&store, "tasks").await;
    let href = format!("{}t-9@crm.ics", store.path(&col));
    let etag =
        store.write(&href, vtodo("t-9@crm", "Quote", "NEEDS-ACTION"), "text/calendar", None).await.unwrap();
    let id = ews.items(ALICE, "tasks").await.unwrap()[0].id.clone();
    ews.update_item(&id, json!({ "subject": "Quote (edited in Outlook)" })).await.unwrap();

    let w =
        store.write(&href, vtodo("t-9@crm", "Quote (CRM)", "COMPLETED"), "text/calendar", Some(&etag)).await;
    assert!(matches!(w, Err(WriteError::PreconditionFailed)), "{w:?}");
    let d = store.delete(&href, Some(&etag)).await;
    assert!(matches!(d, Err(WriteError::PreconditionFailed)), "{d:?}");
    let items = ews.items(ALICE, "tasks").await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].subject.as_deref(), Some("Quote (edited in Outlook)"));
    let log = ews.request_log().await.unwrap();
    let upd = log.iter().find(|r| r.operation.as_deref() == Some("UpdateItem")).unwrap();
    assert_eq!(upd.attributes.get("ConflictResolution").map(String::as_str), Some("NeverOverwrite"));
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn a_refused_sync_state_is_a_full_listing_without_duplicates() {
    let (ews, store) = setup().await;
    let col = url(&store, "contacts").await;
    let href = format!("{}k-1@crm.vcf", store.path(&col));
    let etag = store
        .write(&href, vcf("k-1@crm", "Alan", "Turing", "alan@example.test"), "text/vcard", None)
        .await
        .unwrap();
    let known = BTreeMap::from([(href.clone(), etag)]);
    let first = store.list(&col, None, None, &known).await.unwrap();
    let xml = r#"<t:Contact xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:GivenName>Joan</t:GivenName><t:Surname>Clarke</t:Surname></t:Contact>"#;
    ews.seed_item(ALICE, Some("contacts"), xml).await.unwrap();
    ews.inject(EwsFault::InvalidSyncState(None)).await.unwrap();

    let again = store.list(&col, first.token.as_deref(), None, &first.members).await.unwrap();
    assert_eq!(again.how, "initial");
    assert_eq!(again.members.len(), 2, "{again:?}");
    assert!(again.members.contains_key(&href), "crmsync's contact keeps its href: {again:?}");
    assert_ne!(again.token, first.token);
    let log = ews.request_log().await.unwrap();
    assert!(log.iter().any(|r| r.codes.iter().any(|c| c == "ErrorInvalidSyncStateData")));
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn a_meeting_is_cancelled_for_its_attendees_only_when_the_crm_user_organizes_it() {
    let (ews, store) = setup().await;
    let col = url(&store, "calendar").await;
    let meeting = |organizer: &str, attendee: &str| {
        format!(
            r#"<t:CalendarItem xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Subject>Meeting by {organizer}</t:Subject><t:Start>2026-12-04T09:00:00Z</t:Start><t:End>2026-12-04T10:00:00Z</t:End><t:Organizer><t:Mailbox><t:EmailAddress>{organizer}</t:EmailAddress></t:Mailbox></t:Organizer><t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>{attendee}</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees></t:CalendarItem>"#
        )
    };
    ews.seed_item(ALICE, None, &meeting("bob@example.test", ALICE)).await.unwrap();
    let listing = store.list(&col, None, None, &BTreeMap::new()).await.unwrap();
    let (theirs, etag) = listing.members.iter().next().unwrap();
    let (_, text) = store.read(theirs).await.unwrap().unwrap();
    let e = ical::parse_event(&text).unwrap().item;
    assert_eq!(e.organizer.unwrap().email, "bob@example.test");
    assert_eq!(e.attendees.iter().map(|a| a.email.as_str()).collect::<Vec<_>>(), [ALICE]);
    store.delete(theirs, Some(etag)).await.unwrap();

    ews.seed_item(ALICE, None, &meeting(ALICE, "carol@example.test")).await.unwrap();
    let listing = store.list(&col, listing.token.as_deref(), None, &listing.members).await.unwrap();
    let (mine, etag) = listing.members.iter().next().unwrap();
    store.delete(mine, Some(etag)).await.unwrap();

    let log = ews.request_log().await.unwrap();
    let sends: Vec<_> = log
        .iter()
        .filter(|r| r.operation.as_deref() == Some("DeleteItem"))
        .map(|r| r.attributes.get("SendMeetingCancellations").cloned().unwrap_or_default())
        .collect();
    assert_eq!(sends, ["SendToNone", "SendToAllAndSaveCopy"]);
    assert!(ews.items(ALICE, "calendar").await.unwrap().is_empty());
    ews.assert_no_invalid_requests();
}
