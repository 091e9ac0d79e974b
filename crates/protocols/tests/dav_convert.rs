//! iCalendar and vCard conversion: round trips of the typed items, and every
//! file of the shared real-world and fuzz corpus (shared/fixtures beside the checkout, or
//! $CRMSYNC_FIXTURES) through every parser: nothing may panic; what cannot
//! be read fails with an error, and the counts are printed.

use std::path::{Path, PathBuf};

use crmsync_core::act::item::{
    Attendee, ContactItem, EventItem, Item, Occurrence, TaskItem, TaskPriority, TaskStatus,
};
use crmsync_protocols::dav::{ical, vcard, xml};

fn event() -> EventItem {
    EventItem {
        uid: "evt-1@crm.test".into(),
        summary: "Board; review, Q1 \\ plan".into(),
        description: Some("Line 1\nLine 2 with ünïcödé and a long line that needs folding because it goes on and on past seventy-five octets".into()),
        location: Some("Room 1, floor 2".into()),
        start: "2026-03-02T09:00:00".into(),
        end: "2026-03-02T10:00:00".into(),
        all_day: false,
        time_zone: Some("Europe/Berlin".into()),
        rrule: Some("FREQ=WEEKLY;COUNT=10;BYDAY=MO".into()),
        exdates: vec!["2026-03-16T09:00:00".into()],
        overrides: vec![
            Occurrence {
                recurrence_id: "2026-03-09T09:00:00".into(),
                start: "2026-03-10T14:00:00".into(),
                end: "2026-03-10T15:00:00".into(),
                summary: Some("Board (moved)".into()),
                location: None,
                description: None,
                cancelled: false,
            },
            Occurrence {
                recurrence_id: "2026-03-23T09:00:00".into(),
                start: "2026-03-23T09:00:00".into(),
                end: "2026-03-23T10:00:00".into(),
                summary: None,
                location: None,
                description: None,
                cancelled: true,
            },
        ],
        organizer: Some(Attendee { email: "alice@example.test".into(), name: Some("Alice Adams".into()), required: true }),
        attendees: vec![
            Attendee { email: "ben@contoso.test".into(), name: Some("Ben, Baker".into()), required: true },
            Attendee { email: "chloe@fabrikam.test".into(), name: None, required: false },
        ],
        cancelled: false,
    }
}

fn norm(i: Item) -> Item {
    i.normalized()
}

#[test]
fn an_appointment_with_recurrence_exceptions_round_trips() {
    let e = event();
    let text = ical::write_event(&e);
    assert!(text.contains("RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO"), "{text}");
    assert!(text.lines().all(|l| l.len() <= 76), "folded:\n{text}");
    let back = ical::parse_event(&text).unwrap().item;
    let (a, mut b) = (norm(Item::Appointment(e.clone())), norm(Item::Appointment(back)));
    if let Item::Appointment(x) = &mut b {
        // The override keeps the master's subject when it had none.
        for o in &mut x.overrides {
            if o.summary.as_deref() == Some(e.summary.as_str()) {
                o.summary = None;
            }
        }
    }
    assert_eq!(a, b);
    let all_day = EventItem {
        uid: "d".into(),
        start: "2026-05-01".into(),
        end: "2026-05-02".into(),
        all_day: true,
        summary: "Holiday".into(),
        ..Default::default()
    };
    let back = ical::parse_event(&ical::write_event(&all_day)).unwrap().item;
    assert_eq!(norm(Item::Appointment(back)), norm(Item::Appointment(all_day)));
}

#[test]
fn a_task_round_trips() {
    for (status, priority) in [
        (TaskStatus::NotStarted, TaskPriority::Low),
        (TaskStatus::InProgress, TaskPriority::High),
        (TaskStatus::Waiting, TaskPriority::Normal),
        (TaskStatus::Completed, TaskPriority::Normal),
        (TaskStatus::Deferred, TaskPriority::High),
    ] {
        let t = TaskItem {
            uid: "t-1".into(),
            summary: "Call back".into(),
            description: Some("about the offer".into()),
            due: Some("2026-03-05T17:00:00Z".into()),
            status,
            priority,
            percent_complete: 40,
        };
        let back = ical::parse_task(&ical::write_task(&t)).unwrap().item;
        assert_eq!(back, t);
    }
}

#[test]
fn a_contact_round_trips_as_vcard_3_and_4() {
    let c = ContactItem {
        uid: "c-1".into(),
        first_name: Some("Chloé".into()),
        last_name: Some("Chen, Jr".into()),
        emails: vec!["chloe@fabrikam.test".into(), "c.chen@home.test".into()],
        company: Some("Fabrikam; Inc".into()),
        phone: Some("+1 555 0100".into()),
        mobile_phone: Some("+1 555 0199".into()),
        street: Some("1 Main St".into()),
        city: Some("Springfield".into()),
        postal_code: Some("12345".into()),
        region: Some("IL".into()),
        country: Some("USA".into()),
    };
    for v4 in [false, true] {
        let text = vcard::write_contact(&c, v4);
        assert!(text.contains(if v4 { "VERSION:4.0" } else { "VERSION:3.0" }), "{text}");
        let back = vcard::parse_contact(&text).unwrap().item;
        assert_eq!(back, c, "v4={v4}\n{text}");
    }
}

#[test]
fn rrules_are_validated_through_calcard() {
    assert_eq!(ical::canonical_rrule("freq=daily;count=3").unwrap(), "FREQ=DAILY;COUNT=3");
    assert!(ical::canonical_rrule("every tuesday").is_err());
    assert!(ical::canonical_rrule("").is_err());
}

/// The shared fixtures beside the checkout (which may be a nested worktree).
fn fixtures() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CRMSYNC_FIXTURES") {
        return Some(PathBuf::from(p));
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().map(|d| d.join("shared/fixtures")).find(|d| d.is_dir())
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if !p.file_name().unwrap().to_string_lossy().starts_with("LICENSE")
            && !p.ends_with("SOURCES.md")
        {
            out.push(p);
        }
    }
}

#[test]
fn every_fixture_goes_through_every_parser_without_panicking() {
    let root = fixtures().expect("the shared fixtures (shared/fixtures beside the checkout)");
    let mut all = Vec::new();
    files(&root.join("ical"), &mut all);
    files(&root.join("vcard"), &mut all);
    assert!(all.len() >= 290, "only {} fixture files", all.len());
    let (mut events, mut tasks, mut contacts, mut failed) = (0, 0, 0, Vec::new());
    for p in &all {
        let bytes = std::fs::read(p).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let name = p.strip_prefix(&root).unwrap().display().to_string();
        let r = std::panic::catch_unwind(|| {
            let e = ical::parse_event(&text);
            let t = ical::parse_task(&text);
            let c = vcard::parse_contact(&text);
            let _ = xml::parse_multistatus(&text);
            // Whatever was read must write back and read again to the same item.
            if let Ok(e) = &e {
                let again = ical::parse_event(&ical::write_event(&e.item)).expect("re-read event");
                assert_eq!(again.item.uid, e.item.uid);
            }
            if let Ok(t) = &t {
                let again = ical::parse_task(&ical::write_task(&t.item)).expect("re-read task");
                assert_eq!(again.item, t.item);
            }
            if let Ok(c) = &c {
                let again =
                    vcard::parse_contact(&vcard::write_contact(&c.item, true)).expect("re-read contact");
                assert_eq!(
                    Item::Contact(again.item).normalized(),
                    Item::Contact(c.item.clone()).normalized()
                );
            }
            (e.is_ok(), t.is_ok(), c.is_ok(), e.err().or(t.err()).or(c.err()))
        });
        match r {
            Ok((e, t, c, err)) => {
                events += usize::from(e);
                tasks += usize::from(t);
                contacts += usize::from(c);
                if !(e || t || c) {
                    failed.push(format!("{name}: {}", err.map(|e| e.0).unwrap_or_default()));
                }
            }
            Err(_) => panic!("a parser panicked on {name}"),
        }
    }
    eprintln!(
        "{} files: {events} read as appointments, {tasks} as tasks, {contacts} as contacts; {} failed cleanly",
        all.len(),
        failed.len()
    );
    for f in &failed {
        eprintln!("  clean failure: {f}");
    }
    assert!(events > 100 && contacts > 40, "too few files read: {events} events, {contacts} contacts");
}
