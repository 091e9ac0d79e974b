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
fn one_entry(line: &str, comp: &str) -> Option<ICalendarEntry> {
    let line = line.trim_end_matches(['\r', '\n']);
    let probe = format!("BEGIN:VCALENDAR\r\nBEGIN:{comp}\r\n{line}\r\nEND:{comp}\r\nEND:VCALENDAR\r\n");
    let cal = ICalendar::parse(&probe).ok()?;
    cal.components
        .into_iter()
        .find(|c| c.component_type != ICalendarComponentType::VCalendar)?
        .entries
        .into_iter()
        .next()
}

fn clean_name(n: &Option<String>) -> Option<String> {
    n.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The VCALENDAR of a document and its `kind` components: (calendar, master, the others).
fn layout(doc: &Doc, kind: &str) -> Option<(usize, usize, Vec<usize>)> {
    let cal = *doc.children(None, "VCALENDAR").first()?;
    let all = doc.children(Some(cal), kind);
    let master =
        all.iter().copied().find(|c| doc.props(*c, "RECURRENCE-ID").is_empty()).or(all.first().copied())?;
    Some((cal, master, all.into_iter().filter(|c| *c != master).collect()))
}

fn rid_of(doc: &Doc, c: usize) -> Option<String> {
    let i = *doc.props(c, "RECURRENCE-ID").first()?;
    dt_values(&one_entry(doc.text(i), "VEVENT")?).into_iter().next()
}

fn not_a_calendar() -> ItemError {
    ItemError("the server's calendar object cannot be patched: no VCALENDAR with the item".into())
}

/// An update of an appointment on the server: `new` patched into the server's
/// calendar object `raw` (which reads as `old`). Only the properties whose
/// modelled value changed are rewritten (SUMMARY, DESCRIPTION, LOCATION,
/// DTSTART/DTEND, RRULE, EXDATE, STATUS, ORGANIZER, each changed ATTENDEE,
/// the changed fields of each RECURRENCE-ID override, DTSTAMP); every other
/// line — VALARMs, CATEGORIES, ATTACH, X- properties, parameters of untouched
/// attendees, VTIMEZONEs — stays byte-for-byte.
pub fn patch_event(raw: &str, old: &EventItem, new: &EventItem) -> Result<String, ItemError> {
    let mut doc = Doc::parse(raw);
    let fresh = Doc::parse(&write_event(new));
    let (cal, master, others) = layout(&doc, "VEVENT").ok_or_else(not_a_calendar)?;
    let (_, fmaster, fothers) = layout(&fresh, "VEVENT").ok_or_else(not_a_calendar)?;
    let timing = old.start != new.start || old.time_zone != new.time_zone || old.all_day != new.all_day;
    let mut names = Vec::new();
    if old.summary != new.summary {
        names.push("SUMMARY");
    }
    if old.description != new.description {
        names.push("DESCRIPTION");
    }
    if old.location != new.location {
        names.push("LOCATION");
    }
    if timing {
        names.push("DTSTART");
    }
    if timing || old.end != new.end {
        names.extend(["DTEND", "DURATION"]);
    }
    if old.rrule != new.rrule {
        names.push("RRULE");
    }
    if timing || old.exdates != new.exdates {
        names.push("EXDATE");
    }
    if old.cancelled != new.cancelled {
        names.push("STATUS");
    }
    if old.organizer != new.organizer {
        names.push("ORGANIZER");
    }
    let changed = !names.is_empty() || old.attendees != new.attendees || old.overrides != new.overrides;
    if !changed {
        return Ok(raw.to_string());
    }
    names.push("DTSTAMP");
    for n in names {
        doc.set_prop(master, n, fresh.prop_texts(fmaster, n));
    }
    if old.attendees != new.attendees {
        patch_attendees(&mut doc, master, &fresh, fmaster, new);
    }
    if timing || old.overrides != new.overrides {
        let fresh_rids: Vec<(usize, Option<String>)> =
            fothers.iter().map(|c| (*c, rid_of(&fresh, *c))).collect();
        let mut seen = Vec::new();
        for c in others {
            let Some(rid) = rid_of(&doc, c) else { continue };
            let before = old.overrides.iter().find(|o| o.recurrence_id == rid);
            match new.overrides.iter().find(|o| o.recurrence_id == rid) {
                // Only an override the CRM knew and dropped is removed.
                None if before.is_some() => doc.remove_comp(c),
                None => {}
                Some(now) => {
                    seen.push(rid.clone());
                    if before == Some(now) && !timing {
                        continue;
                    }
                    let Some(fc) = fresh_rids.iter().find(|(_, r)| r.as_deref() == Some(&rid)).map(|x| x.0)
                    else {
                        continue;
                    };
                    let b = before.cloned().unwrap_or_default();
                    let mut names = vec!["DTSTAMP"];
                    if timing {
                        names.push("RECURRENCE-ID");
                    }
                    if timing || b.start != now.start {
                        names.push("DTSTART");
                    }
                    if timing || b.end != now.end || b.start != now.start {
                        names.extend(["DTEND", "DURATION"]);
                    }
                    if b.summary != now.summary {
                        names.push("SUMMARY");
                    }
                    if b.description != now.description {
                        names.push("DESCRIPTION");
                    }
                    if b.location != now.location {
                        names.push("LOCATION");
                    }
                    if b.cancelled != now.cancelled {
                        names.push("STATUS");
                    }
                    for n in names {
                        doc.set_prop(c, n, fresh.prop_texts(fc, n));
                    }
                }
            }
        }
        for (fc, rid) in &fresh_rids {
            if rid.as_ref().is_some_and(|r| !seen.contains(r)) {
                doc.append_comp(cal, &fresh.comp_text(*fc));
            }
        }
    }
    Ok(doc.render())
}

/// Attendees: an unchanged one keeps its line (PARTSTAT, RSVP...), a changed
/// one gets a new line, a removed one loses it, a new one is added.
fn patch_attendees(doc: &mut Doc, master: usize, fresh: &Doc, fmaster: usize, new: &EventItem) {
    let rendered: Vec<(String, String)> = fresh
        .props(fmaster, "ATTENDEE")
        .into_iter()
        .filter_map(|i| {
            Some((person(&one_entry(fresh.text(i), "VEVENT")?)?.email, fresh.text(i).to_string()))
        })
        .collect();
    let organizer = new.organizer.as_ref().map(|o| o.email.clone());
    let mut placed: Vec<String> = Vec::new();
    for i in doc.props(master, "ATTENDEE") {
        // What crmsync does not model (a non-mailto URI, the organizer listed again) stays.
        let Some(p) = one_entry(doc.text(i), "VEVENT").as_ref().and_then(person) else { continue };
        if organizer.as_ref() == Some(&p.email) || placed.contains(&p.email) {
            continue;
        }
        match new.attendees.iter().find(|a| a.email == p.email) {
            None => doc.remove_line(i),
            Some(a) => {
                placed.push(p.email.clone());
                if (a.required != p.required || clean_name(&a.name) != clean_name(&p.name))
                    && let Some((_, t)) = rendered.iter().find(|(e, _)| *e == p.email)
                {
                    doc.replace_line(i, t);
                }
            }
        }
    }
    for (email, t) in &rendered {
        if !placed.contains(email) {
            doc.append_prop(master, t);
        }
    }
}

/// An update of a task on the server: `new` patched into the server's calendar
/// object `raw` (which reads as `old`); see [`patch_event`].
pub fn patch_task(raw: &str, old: &TaskItem, new: &TaskItem) -> Result<String, ItemError> {
    let mut doc = Doc::parse(raw);
    let fresh = Doc::parse(&write_task(new));
    let (_, master, _) = layout(&doc, "VTODO").ok_or_else(not_a_calendar)?;
    let (_, fmaster, _) = layout(&fresh, "VTODO").ok_or_else(not_a_calendar)?;
    let mut names = Vec::new();
    if old.summary != new.summary {
        names.push("SUMMARY");
    }
    if old.description != new.description {
        names.push("DESCRIPTION");
    }
    if old.due != new.due {
        names.push("DUE");
    }
    if old.status != new.status {
        names.extend(["STATUS", "X-CRMSYNC-WAITING"]);
    }
    if old.priority != new.priority {
        names.push("PRIORITY");
    }
    if old.percent_complete != new.percent_complete {
        names.push("PERCENT-COMPLETE");
    }
    if names.is_empty() {
        return Ok(raw.to_string());
    }
    names.push("DTSTAMP");
    for n in names {
        doc.set_prop(master, n, fresh.prop_texts(fmaster, n));
    }
    Ok(doc.render())
}

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
mod patch_tests {
    use super::*;

    const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:ev-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260302T090000\r\n\
DTEND;TZID=Europe/Berlin:20260302T100000\r\nSUMMARY:Planning\r\nDESCRIPTION:A long description that the other client fol\r\n ded over two lines\r\n\
CATEGORIES:Work,Important\r\nX-OTHER-CLIENT-COLOR;X-P=1:#ff0000\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n\
ORGANIZER;CN=Alice:mailto:alice@example.test\r\nATTENDEE;CN=Ben;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:ben@example.test\r\n\
ATTACH:https://files.example.test/agenda.pdf\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:ev-1\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260309T090000\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=Europe/Berlin:20260309T110000\r\nDTEND;TZID=Europe/Berlin:20260309T120000\r\nSUMMARY:Planning (moved)\r\n\
X-OVERRIDE-PROP:keep\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    fn dtstamp_line(body: &str) -> &str {
        body.split("\r\n").find(|l| l.starts_with("DTSTAMP:")).unwrap()
    }

    #[test]
    fn a_subject_edit_rewrites_only_summary_and_dtstamp() {
        let old = parse_event(EVENT).unwrap().item;
        let mut new = old.clone();
        new.summary = "Planning (new room)".into();
        let patched = patch_event(EVENT, &old, &new).unwrap();
        let stamp = dtstamp_line(&patched);
        let expected = EVENT.replacen("SUMMARY:Planning\r\n", "SUMMARY:Planning (new room)\r\n", 1).replacen(
            "DTSTAMP:20260101T000000Z",
            stamp,
            1,
        );
        assert_eq!(patched, expected);
        for kept in [
            "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM",
            "CATEGORIES:Work,Important\r\n",
            "X-OTHER-CLIENT-COLOR;X-P=1:#ff0000\r\n",
            "PARTSTAT=ACCEPTED",
            "X-OVERRIDE-PROP:keep",
        ] {
            assert!(patched.contains(kept), "{kept} lost:\n{patched}");
        }
        assert_eq!(parse_event(&patched).unwrap().item, new);
    }

    #[test]
    fn unchanged_items_are_not_rewritten() {
        let old = parse_event(EVENT).unwrap().item;
        assert_eq!(patch_event(EVENT, &old, &old).unwrap(), EVENT);
    }

    #[test]
    fn attendees_overrides_and_times_are_patched_one_by_one() {
        let old = parse_event(EVENT).unwrap().item;
        let mut new = old.clone();
        new.attendees.push(Attendee { email: "cy@example.test".into(), name: None, required: false });
        new.location = Some("Room 7".into());
        new.end = "2026-03-02T10:30:00".into();
        new.overrides[0].summary = Some("Planning (moved again)".into());
        new.overrides.push(Occurrence {
            recurrence_id: "2026-03-16T09:00:00".into(),
            start: "2026-03-16T09:00:00".into(),
            end: "2026-03-16T10:00:00".into(),
            summary: Some("Planning".into()),
            cancelled: true,
            ..Default::default()
        });
        let patched = patch_event(EVENT, &old, &new).unwrap();
        let reread = parse_event(&patched).unwrap().item;
        assert_eq!(reread, new, "{patched}");
        assert!(patched.contains("PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:ben@example.test"), "{patched}");
        assert!(patched.contains("X-OVERRIDE-PROP:keep") && patched.contains("BEGIN:VALARM"), "{patched}");
        // A property added to the master goes before its VALARM.
        let (loc, alarm) = (patched.find("LOCATION:Room 7").unwrap(), patched.find("BEGIN:VALARM").unwrap());
        assert!(loc < alarm, "{patched}");

        // A dropped attendee and a dropped override go; the rest stays.
        let mut fewer = old.clone();
        fewer.attendees.clear();
        fewer.overrides.clear();
        let patched = patch_event(EVENT, &old, &fewer).unwrap();
        assert!(!patched.contains("ben@example.test") && !patched.contains("RECURRENCE-ID"), "{patched}");
        assert!(
            patched.contains("CATEGORIES:Work,Important") && patched.contains("TRIGGER:-PT15M"),
            "{patched}"
        );
        assert_eq!(parse_event(&patched).unwrap().item, fewer);
    }

    #[test]
    fn a_task_edit_keeps_the_rest() {
        let raw = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\nBEGIN:VTODO\nUID:t1\nDTSTAMP:20260101T000000Z\nSUMMARY:Call\nPRIORITY:3\nCATEGORIES:Phone\nX-APPLE-SORT-ORDER:42\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT5M\nEND:VALARM\nEND:VTODO\nEND:VCALENDAR\n";
        let old = parse_task(raw).unwrap().item;
        let mut new = old.clone();
        new.summary = "Call back".into();
        new.percent_complete = 50;
        let patched = patch_task(raw, &old, &new).unwrap();
        assert!(!patched.contains('\r'), "the document's line endings are kept: {patched:?}");
        assert!(patched.contains("PRIORITY:3\n") && patched.contains("X-APPLE-SORT-ORDER:42\n"), "{patched}");
        assert!(patched.contains("CATEGORIES:Phone\n") && patched.contains("TRIGGER:-PT5M\n"), "{patched}");
        assert_eq!(parse_task(&patched).unwrap().item, new);
    }
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
