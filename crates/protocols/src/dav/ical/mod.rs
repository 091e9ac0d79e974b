//! iCalendar (RFC 5545) ⇄ typed appointments and tasks, through calcard.
//! Parsing never panics on bad input (the shared fixtures and fuzz crashes
//! run over it); what cannot be read is an [`ItemError`].

use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarParameter,
    ICalendarParameterName, ICalendarParameterValue, ICalendarParticipationRole, ICalendarProperty,
    ICalendarStatus, ICalendarValue, ICalendarValueType,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use crmsync_core::act::item::{Attendee, EventItem, Occurrence, TaskItem, TaskPriority, TaskStatus};

use super::patch::Doc;

mod update;
pub use update::{patch_event, patch_task};

/// Why a calendar object could not be turned into an item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ItemError(pub String);

const PRODID: &str = "-//crmsync//ACT sync//EN";

/// A parsed object: the item and its LAST-MODIFIED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<T> {
    /// The item.
    pub item: T,
    /// LAST-MODIFIED (or DTSTAMP), for the most-recent conflict policy.
    pub modified: Option<DateTime<Utc>>,
}

fn text(c: &ICalendarComponent, p: &ICalendarProperty) -> Option<String> {
    c.property(p).and_then(|e| e.values.first()).and_then(|v| v.as_text()).map(str::to_string)
}

fn tzid(e: &ICalendarEntry) -> Option<String> {
    e.params.iter().find_map(|p| match (&p.name, &p.value) {
        (ICalendarParameterName::Tzid, ICalendarParameterValue::Text(t)) => Some(t.clone()),
        _ => None,
    })
}

/// `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS` or `...Z`; None when it is not a full date.
fn fmt_dt(d: &PartialDateTime) -> Option<String> {
    let (y, m, day) = (d.year?, d.month?, d.day?);
    NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(day))?;
    match d.hour {
        None => Some(format!("{y:04}-{m:02}-{day:02}")),
        Some(h) => {
            let (mi, s) = (d.minute.unwrap_or(0), d.second.unwrap_or(0).min(59));
            if h > 23 || mi > 59 {
                return None;
            }
            let utc = matches!((d.tz_hour, d.tz_minute), (Some(0), Some(0) | None)) && !d.tz_minus;
            Some(format!("{y:04}-{m:02}-{day:02}T{h:02}:{mi:02}:{s:02}{}", if utc { "Z" } else { "" }))
        }
    }
}

fn dt_values(e: &ICalendarEntry) -> Vec<String> {
    e.values.iter().filter_map(|v| v.as_partial_date_time()).filter_map(fmt_dt).collect()
}

fn first_dt(c: &ICalendarComponent, p: &ICalendarProperty) -> Option<(String, Option<String>)> {
    let e = c.property(p)?;
    dt_values(e).into_iter().next().map(|v| (v, tzid(e)))
}

fn to_ical_time(s: &str) -> String {
    s.replace(['-', ':'], "")
}

fn modified(c: &ICalendarComponent) -> Option<DateTime<Utc>> {
    let v =
        first_dt(c, &ICalendarProperty::LastModified).or_else(|| first_dt(c, &ICalendarProperty::Dtstamp))?.0;
    let v = v.strip_suffix('Z').unwrap_or(&v);
    NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S").ok().map(|t| t.and_utc())
}

fn add_duration(start: &str, c: &ICalendarComponent) -> Option<String> {
    let d = c.property(&ICalendarProperty::Duration)?.values.first()?;
    let ICalendarValue::Duration(d) = d else { return None };
    let secs = i64::from(d.weeks) * 604_800
        + i64::from(d.days) * 86_400
        + i64::from(d.hours) * 3600
        + i64::from(d.minutes) * 60
        + i64::from(d.seconds);
    let secs = if d.neg { -secs } else { secs };
    let delta = chrono::TimeDelta::try_seconds(secs)?;
    if start.len() == 10 {
        let n = NaiveDate::parse_from_str(start, "%Y-%m-%d").ok()?.checked_add_signed(delta)?;
        return Some(n.format("%Y-%m-%d").to_string());
    }
    let (body, z) = match start.strip_suffix('Z') {
        Some(b) => (b, "Z"),
        None => (start, ""),
    };
    let n = NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S").ok()?.checked_add_signed(delta)?;
    Some(format!("{}{z}", n.format("%Y-%m-%dT%H:%M:%S")))
}

fn person(e: &ICalendarEntry) -> Option<Attendee> {
    let v = e.values.first()?;
    let raw = match v {
        ICalendarValue::Uri(calcard::icalendar::Uri::Location(u)) => u.clone(),
        ICalendarValue::Uri(_) => return None,
        other => other.as_text()?.to_string(),
    };
    let raw = raw.trim();
    let email = match raw.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("mailto:") => &raw[7..],
        _ => raw,
    };
    let email = email.trim().to_ascii_lowercase();
    if email.is_empty() {
        return None;
    }
    let name = e.params.iter().find_map(|p| match (&p.name, &p.value) {
        (ICalendarParameterName::Cn, ICalendarParameterValue::Text(t)) => Some(t.clone()),
        _ => None,
    });
    let optional = e.params.iter().any(|p| {
        matches!(
            (&p.name, &p.value),
            (
                ICalendarParameterName::Role,
                ICalendarParameterValue::Role(
                    ICalendarParticipationRole::OptParticipant | ICalendarParticipationRole::NonParticipant
                )
            )
        )
    });
    Some(Attendee { email, name, required: !optional })
}

fn status_of(c: &ICalendarComponent) -> Option<&ICalendarStatus> {
    c.status()
}

fn parse_calendar(data: &str) -> Result<ICalendar, ItemError> {
    match ICalendar::parse(data) {
        Ok(cal) => Ok(cal),
        Err(e) => Err(ItemError(format!("not an iCalendar object: {}", short_entry(&e)))),
    }
}

fn short_entry(e: &calcard::Entry) -> String {
    let s = format!("{e:?}");
    s.chars().take(120).collect()
}

/// Reads the appointment (master VEVENT plus its RECURRENCE-ID overrides) of a calendar object.
pub fn parse_event(data: &str) -> Result<Parsed<EventItem>, ItemError> {
    let cal = parse_calendar(data)?;
    let events: Vec<&ICalendarComponent> =
        cal.components.iter().filter(|c| c.component_type == ICalendarComponentType::VEvent).collect();
    let master = events
        .iter()
        .find(|c| !c.has_property(&ICalendarProperty::RecurrenceId))
        .or(events.first())
        .ok_or_else(|| ItemError("the calendar object holds no VEVENT".into()))?;
    // A missing UID (against RFC 4791, but seen) is left empty: the engine names the item by its href.
    let uid = master.uid().map(|u| u.trim().to_string()).unwrap_or_default();
    let (start, tz) = first_dt(master, &ICalendarProperty::Dtstart)
        .ok_or_else(|| ItemError("VEVENT without a valid DTSTART".into()))?;
    let all_day = start.len() == 10;
    let end = first_dt(master, &ICalendarProperty::Dtend)
        .map(|e| e.0)
        .or_else(|| add_duration(&start, master))
        .unwrap_or_else(|| start.clone());
    let rrule = master.property(&ICalendarProperty::Rrule).and_then(|e| e.values.first()).map(|v| match v {
        ICalendarValue::RecurrenceRule(r) => r.to_string(),
        other => other.as_text().unwrap_or_default().to_string(),
    });
    let exdates = master.properties(&ICalendarProperty::Exdate).flat_map(dt_values).collect::<Vec<_>>();
    let mut overrides = Vec::new();
    for o in events.iter().filter(|c| !std::ptr::eq(**c, *master)) {
        let Some((rid, _)) = first_dt(o, &ICalendarProperty::RecurrenceId) else { continue };
        let ostart = first_dt(o, &ICalendarProperty::Dtstart).map(|d| d.0).unwrap_or_else(|| rid.clone());
        let oend = first_dt(o, &ICalendarProperty::Dtend)
            .map(|d| d.0)
            .or_else(|| add_duration(&ostart, o))
            .unwrap_or_else(|| ostart.clone());
        overrides.push(Occurrence {
            recurrence_id: rid,
            start: ostart,
            end: oend,
            summary: text(o, &ICalendarProperty::Summary),
            location: text(o, &ICalendarProperty::Location),
            description: text(o, &ICalendarProperty::Description),
            cancelled: matches!(status_of(o), Some(ICalendarStatus::Cancelled)),
        });
    }
    let item = EventItem {
        uid,
        summary: text(master, &ICalendarProperty::Summary).unwrap_or_default(),
        description: text(master, &ICalendarProperty::Description),
        location: text(master, &ICalendarProperty::Location),
        start,
        end,
        all_day,
        time_zone: if all_day { None } else { tz },
        rrule,
        exdates,
        overrides,
        organizer: master.property(&ICalendarProperty::Organizer).and_then(person),
        attendees: master.properties(&ICalendarProperty::Attendee).filter_map(person).collect(),
        cancelled: matches!(status_of(master), Some(ICalendarStatus::Cancelled)),
    };
    Ok(Parsed { item, modified: modified(master) })
}

/// Reads the task (VTODO) of a calendar object.
pub fn parse_task(data: &str) -> Result<Parsed<TaskItem>, ItemError> {
    let cal = parse_calendar(data)?;
    let todo = cal
        .components
        .iter()
        .find(|c| {
            c.component_type == ICalendarComponentType::VTodo
                && !c.has_property(&ICalendarProperty::RecurrenceId)
        })
        .ok_or_else(|| ItemError("the calendar object holds no VTODO".into()))?;
    let uid = todo.uid().map(|u| u.trim().to_string()).unwrap_or_default();
    let percent = todo
        .property(&ICalendarProperty::PercentComplete)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_integer())
        .unwrap_or(0)
        .clamp(0, 100) as u8;
    let status = match status_of(todo) {
        Some(ICalendarStatus::Completed) => TaskStatus::Completed,
        Some(ICalendarStatus::InProcess) => TaskStatus::InProgress,
        Some(ICalendarStatus::Cancelled) => TaskStatus::Deferred,
        _ if todo.has_property(&ICalendarProperty::Other("X-CRMSYNC-WAITING".into())) => TaskStatus::Waiting,
        _ => TaskStatus::NotStarted,
    };
    let priority = match todo
        .property(&ICalendarProperty::Priority)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_integer())
    {
        Some(1..=4) => TaskPriority::High,
        Some(6..=9) => TaskPriority::Low,
        _ => TaskPriority::Normal,
    };
    let item = TaskItem {
        uid,
        summary: text(todo, &ICalendarProperty::Summary).unwrap_or_default(),
        description: text(todo, &ICalendarProperty::Description),
        due: first_dt(todo, &ICalendarProperty::Due).map(|d| d.0),
        status,
        priority,
        percent_complete: percent,
    };
    Ok(Parsed { item, modified: modified(todo) })
}

fn entry(
    name: ICalendarProperty,
    params: Vec<ICalendarParameter>,
    value: impl Into<String>,
) -> ICalendarEntry {
    ICalendarEntry { name, params, values: vec![ICalendarValue::Text(value.into())] }
}

fn tz_param(tz: &Option<String>, v: &str) -> Vec<ICalendarParameter> {
    if v.len() == 10 {
        vec![ICalendarParameter {
            name: ICalendarParameterName::Value,
            value: ICalendarParameterValue::Value(ICalendarValueType::Date),
        }]
    } else {
        match tz {
            Some(tz) if !v.ends_with('Z') => {
                vec![ICalendarParameter {
                    name: ICalendarParameterName::Tzid,
                    value: ICalendarParameterValue::Text(tz.clone()),
                }]
            }
            _ => vec![],
        }
    }
}

fn dt_entry(name: ICalendarProperty, tz: &Option<String>, v: &str) -> ICalendarEntry {
    entry(name, tz_param(tz, v), to_ical_time(v))
}

fn party(name: ICalendarProperty, a: &Attendee, organizer: bool) -> ICalendarEntry {
    let mut params = Vec::new();
    if let Some(n) = &a.name {
        params.push(ICalendarParameter {
            name: ICalendarParameterName::Cn,
            value: ICalendarParameterValue::Text(n.clone()),
        });
    }
    if !organizer {
        let role = if a.required {
            ICalendarParticipationRole::ReqParticipant
        } else {
            ICalendarParticipationRole::OptParticipant
        };
        params.push(ICalendarParameter {
            name: ICalendarParameterName::Role,
            value: ICalendarParameterValue::Role(role),
        });
    }
    entry(name, params, format!("mailto:{}", a.email))
}

fn stamp() -> String {
    Utc::now().format("%Y%m%dT%H%M%SZ").to_string()
}

fn calendar(children: Vec<ICalendarComponent>) -> String {
    let mut components = vec![ICalendarComponent {
        component_type: ICalendarComponentType::VCalendar,
        entries: vec![
            entry(ICalendarProperty::Version, vec![], "2.0"),
            entry(ICalendarProperty::Prodid, vec![], PRODID),
        ],
        component_ids: (1..=children.len() as u32).collect(),
    }];
    components.extend(children);
    ICalendar { components }.to_string()
}

/// A calendar object whose events use the local time zone `tz`: the VTIMEZONE
/// (with its STANDARD/DAYLIGHT rules around `year`) comes first, so servers
/// that insist on one for every TZID (Radicale) accept the object. An unknown
/// zone is written without one.
fn calendar_in_zone(tz: Option<&str>, year: i32, children: Vec<ICalendarComponent>) -> String {
    let mut components = vec![ICalendarComponent {
        component_type: ICalendarComponentType::VCalendar,
        entries: vec![
            entry(ICalendarProperty::Version, vec![], "2.0"),
            entry(ICalendarProperty::Prodid, vec![], PRODID),
        ],
        component_ids: Vec::new(),
    }];
    let mut top = Vec::new();
    if let Some((mut vtz, rules)) = tz.and_then(|name| super::vtimezone::vtimezone(name, year)) {
        let at = components.len() as u32;
        vtz.component_ids = (at + 1..=at + rules.len() as u32).collect();
        top.push(at);
        components.push(vtz);
        components.extend(rules);
    }
    for c in children {
        top.push(components.len() as u32);
        components.push(c);
    }
    components[0].component_ids = top;
    ICalendar { components }.to_string()
}

fn opt_text(entries: &mut Vec<ICalendarEntry>, name: ICalendarProperty, v: &Option<String>) {
    if let Some(v) = v {
        entries.push(entry(name, vec![], v.clone()));
    }
}

/// Writes an appointment as a calendar object (master VEVENT and one VEVENT per override).
pub fn write_event(e: &EventItem) -> String {
    let dtstamp = stamp();
    let mut m = vec![
        entry(ICalendarProperty::Uid, vec![], e.uid.clone()),
        entry(ICalendarProperty::Dtstamp, vec![], dtstamp.clone()),
        dt_entry(ICalendarProperty::Dtstart, &e.time_zone, &e.start),
        dt_entry(ICalendarProperty::Dtend, &e.time_zone, &e.end),
        entry(ICalendarProperty::Summary, vec![], e.summary.clone()),
    ];
    opt_text(&mut m, ICalendarProperty::Description, &e.description);
    opt_text(&mut m, ICalendarProperty::Location, &e.location);
    if let Some(r) = &e.rrule {
        m.push(entry(ICalendarProperty::Rrule, vec![], r.clone()));
    }
    for x in &e.exdates {
        m.push(dt_entry(ICalendarProperty::Exdate, &e.time_zone, x));
    }
    if e.cancelled {
        m.push(entry(ICalendarProperty::Status, vec![], "CANCELLED"));
    }
    if let Some(o) = &e.organizer {
        m.push(party(ICalendarProperty::Organizer, o, true));
    }
    for a in &e.attendees {
        m.push(party(ICalendarProperty::Attendee, a, false));
    }
    let mut comps = vec![ICalendarComponent {
        component_type: ICalendarComponentType::VEvent,
        entries: m,
        component_ids: vec![],
    }];
    for o in &e.overrides {
        let mut x = vec![
            entry(ICalendarProperty::Uid, vec![], e.uid.clone()),
            entry(ICalendarProperty::Dtstamp, vec![], dtstamp.clone()),
            dt_entry(ICalendarProperty::RecurrenceId, &e.time_zone, &o.recurrence_id),
            dt_entry(ICalendarProperty::Dtstart, &e.time_zone, &o.start),
            dt_entry(ICalendarProperty::Dtend, &e.time_zone, &o.end),
            entry(ICalendarProperty::Summary, vec![], o.summary.clone().unwrap_or_else(|| e.summary.clone())),
        ];
        opt_text(&mut x, ICalendarProperty::Description, &o.description);
        opt_text(&mut x, ICalendarProperty::Location, &o.location);
        if o.cancelled {
            x.push(entry(ICalendarProperty::Status, vec![], "CANCELLED"));
        }
        comps.push(ICalendarComponent {
            component_type: ICalendarComponentType::VEvent,
            entries: x,
            component_ids: vec![],
        });
    }
    let year = e.start.get(..4).and_then(|y| y.parse().ok()).unwrap_or(2026);
    calendar_in_zone(e.time_zone.as_deref(), year, comps)
}

/// Writes a task as a calendar object (one VTODO).
pub fn write_task(t: &TaskItem) -> String {
    let mut x = vec![
        entry(ICalendarProperty::Uid, vec![], t.uid.clone()),
        entry(ICalendarProperty::Dtstamp, vec![], stamp()),
        entry(ICalendarProperty::Summary, vec![], t.summary.clone()),
    ];
    opt_text(&mut x, ICalendarProperty::Description, &t.description);
    if let Some(d) = &t.due {
        x.push(dt_entry(ICalendarProperty::Due, &None, d));
    }
    let status = match t.status {
        TaskStatus::NotStarted | TaskStatus::Waiting => "NEEDS-ACTION",
        TaskStatus::InProgress => "IN-PROCESS",
        TaskStatus::Completed => "COMPLETED",
        TaskStatus::Deferred => "CANCELLED",
    };
    x.push(entry(ICalendarProperty::Status, vec![], status));
    if t.status == TaskStatus::Waiting {
        x.push(entry(ICalendarProperty::Other("X-CRMSYNC-WAITING".into()), vec![], "TRUE"));
    }
    let prio = match t.priority {
        TaskPriority::High => "1",
        TaskPriority::Normal => "5",
        TaskPriority::Low => "9",
    };
    x.push(entry(ICalendarProperty::Priority, vec![], prio));
    x.push(entry(ICalendarProperty::PercentComplete, vec![], t.percent_complete.to_string()));
    calendar(vec![ICalendarComponent {
        component_type: ICalendarComponentType::VTodo,
        entries: x,
        component_ids: vec![],
    }])
}

/// One content line parsed alone, as a property of a `comp`.
/// Validates an RRULE typed by the admin (through calcard) and returns its canonical text.
pub fn canonical_rrule(raw: &str) -> Result<String, ItemError> {
    let raw = raw.trim().trim_start_matches("RRULE:");
    if raw.is_empty() || raw.contains(['\r', '\n']) {
        return Err(ItemError(format!("'{raw}' is not an RRULE such as FREQ=WEEKLY;COUNT=10")));
    }
    let probe = format!(
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20260101T000000Z\r\nRRULE:{raw}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let cal = parse_calendar(&probe)?;
    let rule = cal
        .components
        .iter()
        .find_map(|c| c.property(&ICalendarProperty::Rrule))
        .and_then(|e| e.values.first())
        .and_then(|v| match v {
            ICalendarValue::RecurrenceRule(r) => Some(r.to_string()),
            _ => None,
        });
    rule.ok_or_else(|| ItemError(format!("'{raw}' is not an RRULE such as FREQ=WEEKLY;COUNT=10")))
}

#[cfg(test)]
mod zone_tests {
    use super::*;

    #[test]
    fn a_new_event_in_a_named_zone_carries_its_vtimezone_first() {
        let old = parse_event(patch_tests_event()).unwrap().item;
        let text = write_event(&old);
        let vtz = text.find("BEGIN:VTIMEZONE").expect("a VTIMEZONE is written");
        let ev = text.find("BEGIN:VEVENT").unwrap();
        assert!(vtz < ev, "{text}");
        assert!(text.contains("TZID:Europe/Berlin"), "{text}");
        assert!(text.contains("BEGIN:STANDARD") && text.contains("BEGIN:DAYLIGHT"), "{text}");
        assert_eq!(text.matches("END:VTIMEZONE").count(), 1);
        // And it reads back to the same item.
        assert_eq!(parse_event(&text).unwrap().item, old);
    }

    fn patch_tests_event() -> &'static str {
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:z-1\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=Europe/Berlin:20260302T090000\r\nDTEND;TZID=Europe/Berlin:20260302T100000\r\nSUMMARY:Zoned\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    }
}
