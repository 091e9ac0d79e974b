//! Graph events, contacts and To Do tasks to crmsync's items and back:
//! every documented example (`shared/fixtures/graph`) converts without a
//! panic and survives the iCalendar / vCard text the engine sees; items
//! survive the way to Graph and back; a series keeps its exception and its
//! deleted occurrence.

#[path = "graph/support.rs"]
mod support;

use chrono::{DateTime, TimeZone, Utc};
use crmsync_core::act::item::{
    Attendee, ContactItem, EventItem, Occurrence, TaskItem, TaskPriority, TaskStatus,
};
use crmsync_protocols::dav::{ical, vcard};
use crmsync_protocols::graph::convert::{self, ConvertError};
use crmsync_protocols::graph::enums::EventType;
use crmsync_protocols::graph::{Contact, Event, TodoTask};
use serde_json::Value;
use support::fixtures;

fn window() -> (DateTime<Utc>, DateTime<Utc>) {
    (Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap(), Utc.with_ymd_and_hms(2040, 1, 1, 0, 0, 0).unwrap())
}

/// The JSON objects of every response fixture of `dir` (a body or its `value` items).
fn objects(dir: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(fixtures().join(dir)).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".response.http") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let Some((_, body)) = text.split_once("\n\n") else { continue };
        let Ok(v) = serde_json::from_str::<Value>(body) else { continue };
        match v.get("value").and_then(Value::as_array) {
            Some(items) => out.extend(items.iter().map(|i| (name.clone(), i.clone()))),
            None => out.push((name, v)),
        }
    }
    out
}

#[test]
fn every_documented_event_converts_and_survives_the_icalendar_text() {
    let (lo, hi) = window();
    let mut converted = 0;
    for (name, v) in objects("calendar") {
        let Ok(ev) = serde_json::from_value::<Event>(v) else { continue };
        if ev.removed.is_some() || ev.start.is_none() {
            continue;
        }
        let item = match convert::event_to_item(&ev, &[], lo, hi) {
            Ok(i) => i,
            Err(ConvertError { field, reason }) => panic!("{name}: {field}: {reason}"),
        };
        let text = ical::write_event(&item);
        let back = ical::parse_event(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}")).item;
        assert_eq!(
            (back.start.as_str(), back.end.as_str()),
            (item.start.as_str(), item.end.as_str()),
            "{name}"
        );
        assert_eq!(back.summary, item.summary, "{name}");
        assert_eq!(back.rrule.is_some(), ev.recurrence.is_some(), "{name}: {:?}", back.rrule);
        // And on to Graph again: the same times and recurrence.
        let again = convert::event_from_item(&back).unwrap_or_else(|e| panic!("{name}: {e}"));
        let round = convert::event_to_item(&Event { id: ev.id.clone(), ..again }, &[], lo, hi).unwrap();
        assert_eq!((round.start, round.end, round.rrule), (item.start, item.end, item.rrule), "{name}");
        converted += 1;
    }
    assert!(converted >= 8, "only {converted} events in the fixtures");
}

#[test]
fn every_documented_contact_and_task_converts_and_survives_its_text() {
    let mut contacts = 0;
    for (name, v) in objects("contacts") {
        let Ok(c) = serde_json::from_value::<Contact>(v) else { continue };
        if c.removed.is_some() || c.id.is_empty() {
            continue;
        }
        let item = convert::contact_to_item(&c);
        let back = vcard::parse_contact(&vcard::write_contact(&item, false)).unwrap().item;
        assert_eq!(back, item, "{name}");
        let mut round =
            convert::contact_to_item(&Contact { id: c.id.clone(), ..convert::contact_from_item(&item) });
        round.uid = item.uid.clone();
        assert_eq!(round, item, "{name}");
        contacts += 1;
    }
    let mut tasks = 0;
    for (name, v) in objects("todo") {
        let Ok(t) = serde_json::from_value::<TodoTask>(v) else { continue };
        if t.removed.is_some() || t.id.is_empty() || t.title.is_none() {
            continue;
        }
        let item = convert::task_to_item(&t).unwrap_or_else(|e| panic!("{name}: {e}"));
        let back = ical::parse_task(&ical::write_task(&item)).unwrap().item;
        assert_eq!(back, item, "{name}");
        let round =
            convert::task_to_item(&TodoTask { id: t.id.clone(), ..convert::task_from_item(&item).unwrap() });
        assert_eq!(round.unwrap(), item, "{name}");
        tasks += 1;
    }
    assert!(contacts >= 2 && tasks >= 2, "{contacts} contacts, {tasks} tasks");
}

#[test]
fn a_series_keeps_its_exception_and_its_deleted_occurrence() {
    let v = |s: &str| serde_json::from_str::<Event>(s).unwrap();
    let master = v(r#"{"id":"M","@odata.etag":"W/\"1\"","subject":"Standup","type":"seriesMaster",
        "start":{"dateTime":"2026-03-02T09:00:00.0000000","timeZone":"UTC"},
        "end":{"dateTime":"2026-03-02T09:15:00.0000000","timeZone":"UTC"},
        "recurrence":{"pattern":{"type":"weekly","interval":1,"daysOfWeek":["monday"]},
                      "range":{"type":"numbered","startDate":"2026-03-02","numberOfOccurrences":4}}}"#);
    let inst = |id: &str, orig: &str, start: &str, kind: &str, subject: &str| {
        v(&format!(
            r#"{{"id":"{id}","seriesMasterId":"M","type":"{kind}","subject":"{subject}","originalStart":"{orig}",
            "start":{{"dateTime":"{start}","timeZone":"UTC"}},"end":{{"dateTime":"{start}","timeZone":"UTC"}}}}"#
        ))
    };
    let instances = vec![
        inst("a", "2026-03-02T09:00:00Z", "2026-03-02T09:00:00", "occurrence", "Standup"),
        inst("b", "2026-03-09T09:00:00Z", "2026-03-10T10:00:00", "exception", "Standup (moved)"),
        // 16 March was deleted.
        inst("d", "2026-03-23T09:00:00Z", "2026-03-23T09:00:00", "occurrence", "Standup"),
    ];
    assert_eq!(instances[1].kind, Some(EventType::Exception));
    let (lo, hi) = window();
    let item = convert::event_to_item(&master, &instances, lo, hi).unwrap();
    assert_eq!(item.rrule.as_deref(), Some("FREQ=WEEKLY;BYDAY=MO;COUNT=4"));
    assert_eq!(item.exdates, vec!["2026-03-16T09:00:00Z".to_string()]);
    assert_eq!(item.overrides.len(), 1);
    assert_eq!(item.overrides[0].recurrence_id, "2026-03-09T09:00:00Z");
    assert_eq!(item.overrides[0].start, "2026-03-10T10:00:00Z");
    assert_eq!(item.overrides[0].summary.as_deref(), Some("Standup (moved)"));
    // The text the engine sees keeps both.
    let back = ical::parse_event(&ical::write_event(&item)).unwrap().item;
    assert_eq!(back.exdates, item.exdates);
    assert_eq!(back.overrides, item.overrides);
}

#[test]
fn rrules_map_to_graph_patterns_and_back() {
    for rule in [
        "FREQ=DAILY;INTERVAL=2;COUNT=10",
        "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20261231T235959Z",
        "FREQ=MONTHLY;BYMONTHDAY=15",
        "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2",
        "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=2",
        "FREQ=YEARLY;BYMONTH=11;BYDAY=TH;BYSETPOS=4",
    ] {
        let r = convert::rrule_to_recurrence(rule, "2026-03-02T09:00:00Z").unwrap();
        assert_eq!(convert::recurrence_to_rrule(&r).unwrap(), rule);
    }
    // 2TU is the same as BYDAY=TU;BYSETPOS=2.
    let r = convert::rrule_to_recurrence("FREQ=MONTHLY;BYDAY=2TU", "2026-03-10").unwrap();
    assert_eq!(convert::recurrence_to_rrule(&r).unwrap(), "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2");
    for bad in ["FREQ=HOURLY", "FREQ=DAILY;BYHOUR=9", "FREQ=WEEKLY;BYDAY=XX", "COUNT"] {
        let e = convert::rrule_to_recurrence(bad, "2026-03-02").unwrap_err();
        assert_eq!(e.field, "RRULE", "{bad}");
    }
}

#[test]
fn items_survive_the_way_to_graph_and_back() {
    let (lo, hi) = window();
    let e = EventItem {
        uid: "crm-1".into(),
        summary: "Visit".into(),
        description: Some("Bring the offer".into()),
        location: Some("Main St 1".into()),
        start: "2026-05-04T08:00:00Z".into(),
        end: "2026-05-04T09:30:00Z".into(),
        organizer: Some(Attendee {
            email: "anna@example.com".into(),
            name: Some("Anna".into()),
            required: true,
        }),
        attendees: vec![
            Attendee { email: "bob@example.com".into(), name: Some("Bob".into()), required: true },
            Attendee { email: "cy@example.com".into(), name: None, required: false },
        ],
        ..EventItem::default()
    };
    let mut g = convert::event_from_item(&e).unwrap();
    assert_eq!(g.transaction_id.as_deref(), Some("crm-1"));
    g.organizer = Some(crmsync_protocols::graph::types::Recipient {
        email_address: crmsync_protocols::graph::types::EmailAddress {
            name: Some("Anna".into()),
            address: Some("anna@example.com".into()),
        },
    });
    assert_eq!(convert::event_to_item(&g, &[], lo, hi).unwrap(), e);

    // A local time in an IANA zone arrives as UTC; an all-day event as dates.
    let berlin = EventItem {
        start: "2026-07-01T10:00:00".into(),
        end: "2026-07-01T11:00:00".into(),
        time_zone: Some("Europe/Berlin".into()),
        ..e.clone()
    };
    let got = convert::event_to_item(&convert::event_from_item(&berlin).unwrap(), &[], lo, hi).unwrap();
    assert_eq!((got.start.as_str(), got.end.as_str()), ("2026-07-01T08:00:00Z", "2026-07-01T09:00:00Z"));
    let day = EventItem { start: "2026-07-01".into(), end: "2026-07-02".into(), all_day: true, ..e.clone() };
    let got = convert::event_to_item(&convert::event_from_item(&day).unwrap(), &[], lo, hi).unwrap();
    assert_eq!((got.start.as_str(), got.end.as_str(), got.all_day), ("2026-07-01", "2026-07-02", true));

    let c = ContactItem {
        uid: "c1".into(),
        first_name: Some("Anna".into()),
        last_name: Some("Berg".into()),
        emails: vec!["anna@example.com".into(), "a.berg@example.org".into()],
        company: Some("Acme".into()),
        phone: Some("+49 30 1234".into()),
        mobile_phone: Some("+49 170 1234".into()),
        street: Some("Main St 1".into()),
        city: Some("Berlin".into()),
        postal_code: Some("10115".into()),
        region: None,
        country: Some("Germany".into()),
    };
    let got = convert::contact_to_item(&Contact { id: "c1".into(), ..convert::contact_from_item(&c) });
    assert_eq!(got, c);

    let t = TaskItem {
        uid: "t1".into(),
        summary: "Call back".into(),
        description: Some("About the offer".into()),
        due: Some("2026-05-06".into()),
        status: TaskStatus::Completed,
        priority: TaskPriority::High,
        percent_complete: 100,
    };
    let got = convert::task_to_item(&TodoTask { id: "t1".into(), ..convert::task_from_item(&t).unwrap() });
    assert_eq!(got.unwrap(), t);
    let _ = Occurrence::default();
}

#[test]
fn bad_graph_values_are_errors_naming_the_field() {
    let (lo, hi) = window();
    let ev: Event =
        serde_json::from_str(r#"{"id":"x","start":{"dateTime":"soon","timeZone":"UTC"}}"#).unwrap();
    assert_eq!(convert::event_to_item(&ev, &[], lo, hi).unwrap_err().field, "start");
    let ev: Event = serde_json::from_str(r#"{"id":"x"}"#).unwrap();
    assert_eq!(convert::event_to_item(&ev, &[], lo, hi).unwrap_err().field, "start");
    let t: TodoTask =
        serde_json::from_str(r#"{"id":"x","dueDateTime":{"dateTime":"1.1.","timeZone":"UTC"}}"#).unwrap();
    assert_eq!(convert::task_to_item(&t).unwrap_err().field, "dueDateTime");
}
