//! Graph events ⇄ [`EventItem`]: a single event, or a series master whose
//! `recurrence` becomes an RRULE, whose exceptions (instances of type
//! `exception`) become RECURRENCE-ID overrides and whose deleted occurrences
//! (expected by the RRULE within the listing window but not among the
//! instances) become EXDATEs. Times are carried in UTC.

use chrono::{DateTime, Utc};
use crmsync_core::act::item::{Attendee, EventItem, Occurrence};

use super::convert::{ConvertError, body_text, graph_time, item_time, text_body, utc_instant};
use super::enums::{AttendeeType, EventType, RecurrencePatternType, RecurrenceRangeType};
use super::pim::{Event, PatternedRecurrence, RecurrencePattern, RecurrenceRange};
use super::types::{Attendee as GraphAttendee, EmailAddress, Location};

const DAYS: [(&str, &str); 7] = [
    ("MO", "monday"),
    ("TU", "tuesday"),
    ("WE", "wednesday"),
    ("TH", "thursday"),
    ("FR", "friday"),
    ("SA", "saturday"),
    ("SU", "sunday"),
];
const INDEXES: [(&str, &str); 5] =
    [("1", "first"), ("2", "second"), ("3", "third"), ("4", "fourth"), ("-1", "last")];

fn day_name(ical: &str) -> Option<&'static str> {
    DAYS.iter().find(|(i, _)| i.eq_ignore_ascii_case(ical)).map(|(_, g)| *g)
}

fn day_code(graph: &str) -> Option<&'static str> {
    DAYS.iter().find(|(_, g)| g.eq_ignore_ascii_case(graph)).map(|(i, _)| *i)
}

/// A Graph `patternedRecurrence` as an RRULE.
pub fn recurrence_to_rrule(r: &PatternedRecurrence) -> Result<String, ConvertError> {
    let p = &r.pattern;
    let days = || -> Result<String, ConvertError> {
        let codes: Option<Vec<&str>> = p.days_of_week.iter().map(|d| day_code(d)).collect();
        let codes = codes.ok_or_else(|| {
            ConvertError::new("recurrence.pattern.daysOfWeek", format!("unknown day in {:?}", p.days_of_week))
        })?;
        Ok(codes.join(","))
    };
    let index = || -> Result<&str, ConvertError> {
        let i = p.index.as_deref().unwrap_or("first");
        INDEXES.iter().find(|(_, g)| g.eq_ignore_ascii_case(i)).map(|(n, _)| *n).ok_or_else(|| {
            ConvertError::new("recurrence.pattern.index", format!("'{i}' is not first..fourth or last"))
        })
    };
    let mut rule = match &p.kind {
        RecurrencePatternType::Daily => "FREQ=DAILY".to_string(),
        RecurrencePatternType::Weekly => {
            let d = days()?;
            if d.is_empty() { "FREQ=WEEKLY".into() } else { format!("FREQ=WEEKLY;BYDAY={d}") }
        }
        RecurrencePatternType::AbsoluteMonthly => {
            format!("FREQ=MONTHLY;BYMONTHDAY={}", p.day_of_month.max(1))
        }
        RecurrencePatternType::RelativeMonthly => {
            format!("FREQ=MONTHLY;BYDAY={};BYSETPOS={}", days()?, index()?)
        }
        RecurrencePatternType::AbsoluteYearly => {
            format!("FREQ=YEARLY;BYMONTH={};BYMONTHDAY={}", p.month.max(1), p.day_of_month.max(1))
        }
        RecurrencePatternType::RelativeYearly => {
            format!("FREQ=YEARLY;BYMONTH={};BYDAY={};BYSETPOS={}", p.month.max(1), days()?, index()?)
        }
        RecurrencePatternType::Other(o) => {
            return Err(ConvertError::new(
                "recurrence.pattern.type",
                format!("'{o}' is not a known pattern"),
            ));
        }
    };
    if p.interval > 1 {
        rule.push_str(&format!(";INTERVAL={}", p.interval));
    }
    match &r.range.kind {
        RecurrenceRangeType::Numbered => {
            rule.push_str(&format!(";COUNT={}", r.range.number_of_occurrences.max(1)))
        }
        RecurrenceRangeType::EndDate => {
            let end = r.range.end_date.as_deref().unwrap_or_default().replace('-', "");
            if end.len() != 8 || !end.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConvertError::new("recurrence.range.endDate", format!("'{end}' is no date")));
            }
            rule.push_str(&format!(";UNTIL={end}T235959Z"));
        }
        _ => {}
    }
    Ok(rule)
}

/// An RRULE as a Graph `patternedRecurrence` starting on `start` (item time).
pub fn rrule_to_recurrence(rrule: &str, start: &str) -> Result<PatternedRecurrence, ConvertError> {
    let bad = |why: String| ConvertError::new("RRULE", why);
    let mut parts = std::collections::BTreeMap::new();
    for p in rrule.trim().trim_start_matches("RRULE:").split(';').filter(|p| !p.is_empty()) {
        let (k, v) = p.split_once('=').ok_or_else(|| bad(format!("'{p}' is not NAME=VALUE")))?;
        parts.insert(k.trim().to_ascii_uppercase(), v.trim().to_string());
    }
    let num = |k: &str| -> Result<u32, ConvertError> {
        parts
            .get(k)
            .map(|v| v.parse::<u32>().map_err(|_| bad(format!("{k}={v} is no number"))))
            .unwrap_or(Ok(0))
    };
    for k in parts.keys() {
        if !["FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST"]
            .contains(&k.as_str())
        {
            return Err(bad(format!("{k} cannot be carried to Microsoft 365")));
        }
    }
    let start_date = start.get(..10).unwrap_or(start).to_string();
    let start_day: u32 = start.get(8..10).and_then(|d| d.parse().ok()).unwrap_or(1);
    let start_month: u32 = start.get(5..7).and_then(|d| d.parse().ok()).unwrap_or(1);
    // BYDAY entries: ("2", "TU") for 2TU, ("", "TU") for TU.
    let mut byday: Vec<(String, String)> = Vec::new();
    for d in parts.get("BYDAY").map(|s| s.split(',').collect::<Vec<_>>()).unwrap_or_default() {
        let split = d.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(d.len());
        byday.push((d[..split].trim_start_matches('+').to_string(), d[split..].to_ascii_uppercase()));
    }
    let names: Vec<String> = byday
        .iter()
        .map(|(_, c)| day_name(c).map(str::to_string).ok_or_else(|| bad(format!("BYDAY day '{c}'"))))
        .collect::<Result<_, _>>()?;
    let setpos = parts
        .get("BYSETPOS")
        .cloned()
        .or_else(|| byday.iter().find(|(n, _)| !n.is_empty()).map(|(n, _)| n.clone()));
    let index = setpos
        .map(|n| {
            INDEXES
                .iter()
                .find(|(i, _)| *i == n)
                .map(|(_, g)| g.to_string())
                .ok_or_else(|| bad(format!("position {n}")))
        })
        .transpose()?;
    let mut pattern = RecurrencePattern {
        kind: RecurrencePatternType::Daily,
        interval: num("INTERVAL")?.max(1),
        month: 0,
        day_of_month: 0,
        days_of_week: vec![],
        first_day_of_week: None,
        index: None,
    };
    match parts.get("FREQ").map(String::as_str) {
        Some("DAILY") => {}
        Some("WEEKLY") => {
            pattern.kind = RecurrencePatternType::Weekly;
            pattern.days_of_week = if names.is_empty() {
                let wd = chrono::NaiveDate::parse_from_str(&start_date, "%Y-%m-%d")
                    .map_err(|_| bad(format!("start '{start}'")))?
                    .format("%A")
                    .to_string()
                    .to_lowercase();
                vec![wd]
            } else {
                names
            };
            pattern.first_day_of_week =
                Some(parts.get("WKST").and_then(|w| day_name(w)).unwrap_or("monday").to_string());
        }
        Some("MONTHLY") if index.is_some() => {
            pattern.kind = RecurrencePatternType::RelativeMonthly;
            pattern.days_of_week = names;
            pattern.index = index;
        }
        Some("MONTHLY") => {
            pattern.kind = RecurrencePatternType::AbsoluteMonthly;
            pattern.day_of_month = match num("BYMONTHDAY")? {
                0 => start_day,
                d => d,
            };
        }
        Some("YEARLY") => {
            pattern.month = match num("BYMONTH")? {
                0 => start_month,
                m => m,
            };
            if index.is_some() {
                pattern.kind = RecurrencePatternType::RelativeYearly;
                pattern.days_of_week = names;
                pattern.index = index;
            } else {
                pattern.kind = RecurrencePatternType::AbsoluteYearly;
                pattern.day_of_month = match num("BYMONTHDAY")? {
                    0 => start_day,
                    d => d,
                };
            }
        }
        other => return Err(bad(format!("FREQ={} cannot be carried to Microsoft 365", other.unwrap_or("")))),
    }
    let mut range = RecurrenceRange {
        kind: RecurrenceRangeType::NoEnd,
        start_date: Some(start_date),
        end_date: None,
        number_of_occurrences: 0,
        recurrence_time_zone: None,
    };
    if let Some(until) = parts.get("UNTIL") {
        let d = until
            .get(..8)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| bad(format!("UNTIL={until}")))?;
        range.kind = RecurrenceRangeType::EndDate;
        range.end_date = Some(format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..]));
    } else if parts.contains_key("COUNT") {
        range.kind = RecurrenceRangeType::Numbered;
        range.number_of_occurrences = num("COUNT")?.max(1);
    }
    Ok(PatternedRecurrence { pattern, range })
}

fn person(e: &EmailAddress, required: bool) -> Option<Attendee> {
    let email = e.address.as_deref()?.trim().to_lowercase();
    (!email.is_empty()).then(|| Attendee {
        email,
        name: e.name.clone().filter(|n| !n.trim().is_empty()),
        required,
    })
}

fn location_name(l: Option<&Location>) -> Option<String> {
    l.and_then(|l| l.display_name.clone()).filter(|n| !n.trim().is_empty())
}

/// The start (item time) of each occurrence the RRULE of `e` gives within
/// `[lo, hi)`, from the series' start, as the iCalendar expansion computes it.
pub fn expected_starts(e: &EventItem, lo: DateTime<Utc>, hi: DateTime<Utc>) -> Vec<String> {
    let Some(rrule) = &e.rrule else { return vec![] };
    let (start, end) = if e.all_day {
        (format!("DTSTART;VALUE=DATE:{}", e.start.replace('-', "")), String::new())
    } else {
        let t = e.start.replace(['-', ':'], "");
        (format!("DTSTART:{t}"), String::new())
    };
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTAMP:20000101T000000Z\r\n{start}\r\n{end}RRULE:{rrule}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let Ok(cal) = calcard::icalendar::ICalendar::parse(&ics) else { return vec![] };
    let mut out: Vec<String> = cal
        .expand_dates(Utc, 3000)
        .events
        .into_iter()
        .map(|ev| ev.start.with_timezone(&Utc))
        .filter(|s| *s >= lo && *s < hi)
        .map(|s| {
            if e.all_day {
                s.format("%Y-%m-%d").to_string()
            } else {
                s.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The RECURRENCE-ID (item time) of an occurrence or exception: its
/// `originalStart`, as a date for an all-day series.
pub fn recurrence_id(inst: &Event, all_day: bool) -> Result<String, ConvertError> {
    let raw = inst
        .original_start
        .as_deref()
        .ok_or_else(|| ConvertError::new("originalStart", "missing on an instance"))?;
    let at = utc_instant(raw)
        .ok_or_else(|| ConvertError::new("originalStart", format!("'{raw}' is no date-time")))?;
    Ok(if all_day { at.format("%Y-%m-%d").to_string() } else { at.format("%Y-%m-%dT%H:%M:%SZ").to_string() })
}

/// A single event or series master (with the instances of the series that
/// fall in `[lo, hi)`, the window they were listed for) as crmsync's
/// appointment. Its UID is the `transactionId` crmsync gave it, else the
/// `iCalUId`, else the id.
pub fn event_to_item(
    master: &Event,
    instances: &[Event],
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
) -> Result<EventItem, ConvertError> {
    let all_day = master.is_all_day.unwrap_or(false);
    let (start, tz) = item_time(
        master.start.as_ref().ok_or_else(|| ConvertError::new("start", "missing"))?,
        all_day,
        "start",
    )?;
    let (end, _) = match &master.end {
        Some(e) => item_time(e, all_day, "end")?,
        None => (start.clone(), None),
    };
    let organizer = master.organizer.as_ref().and_then(|o| person(&o.email_address, true));
    let attendees = master
        .attendees
        .iter()
        .flatten()
        .filter(|a| a.kind != Some(AttendeeType::Resource))
        .filter_map(|a| person(&a.email_address, a.kind != Some(AttendeeType::Optional)))
        .collect();
    let uid = master
        .transaction_id
        .clone()
        .or_else(|| master.ical_uid.clone())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| master.id.clone());
    let summary = master.subject.clone().unwrap_or_default();
    let description = body_text(master.body.as_ref());
    let location = location_name(master.location.as_ref());
    let mut item = EventItem {
        uid,
        summary: summary.clone(),
        description: description.clone(),
        location: location.clone(),
        start,
        end,
        all_day,
        time_zone: tz,
        rrule: master.recurrence.as_ref().map(recurrence_to_rrule).transpose()?,
        exdates: vec![],
        overrides: vec![],
        organizer,
        attendees,
        cancelled: master.is_cancelled.unwrap_or(false),
    };
    if item.rrule.is_none() {
        return Ok(item);
    }
    let mut present = std::collections::BTreeSet::new();
    for inst in instances.iter().filter(|i| i.series_master_id.as_deref() == Some(master.id.as_str())) {
        let rid = recurrence_id(inst, all_day)?;
        present.insert(rid.clone());
        let cancelled = inst.is_cancelled.unwrap_or(false);
        if inst.kind != Some(EventType::Exception) && !cancelled {
            continue;
        }
        let (ostart, _) = match &inst.start {
            Some(s) => item_time(s, all_day, "start")?,
            None => (rid.clone(), None),
        };
        let (oend, _) = match &inst.end {
            Some(e) => item_time(e, all_day, "end")?,
            None => (ostart.clone(), None),
        };
        item.overrides.push(Occurrence {
            recurrence_id: rid,
            start: ostart,
            end: oend,
            summary: Some(inst.subject.clone().unwrap_or_else(|| summary.clone())),
            location: location_name(inst.location.as_ref()).or_else(|| location.clone()),
            description: body_text(inst.body.as_ref()).or_else(|| description.clone()),
            cancelled,
        });
    }
    item.overrides.sort_by(|a, b| a.recurrence_id.cmp(&b.recurrence_id));
    item.exdates = expected_starts(&item, lo, hi).into_iter().filter(|s| !present.contains(s)).collect();
    Ok(item)
}

/// crmsync's appointment as a Graph create/update body of the event or
/// series master (overrides and EXDATEs are applied to the instances by the
/// caller). A new event carries the UID as `transactionId`.
pub fn event_from_item(e: &EventItem) -> Result<Event, ConvertError> {
    let tz = e.time_zone.as_deref();
    let attendees = e
        .attendees
        .iter()
        .filter(|a| e.organizer.as_ref().is_none_or(|o| o.email != a.email))
        .map(|a| GraphAttendee {
            email_address: EmailAddress { name: a.name.clone(), address: Some(a.email.clone()) },
            kind: Some(if a.required { AttendeeType::Required } else { AttendeeType::Optional }),
            status: None,
        })
        .collect();
    Ok(Event {
        transaction_id: Some(e.uid.clone()).filter(|u| !u.is_empty()),
        subject: Some(e.summary.clone()),
        body: Some(text_body(&e.description).unwrap_or(super::types::ItemBody {
            content_type: Some(super::enums::BodyType::Text),
            content: String::new(),
        })),
        start: Some(graph_time(&e.start, tz, "DTSTART")?),
        end: Some(graph_time(&e.end, tz, "DTEND")?),
        is_all_day: Some(e.all_day),
        location: Some(Location {
            display_name: Some(e.location.clone().unwrap_or_default()),
            address: None,
        }),
        attendees: Some(attendees),
        recurrence: e.rrule.as_deref().map(|r| rrule_to_recurrence(r, &e.start)).transpose()?,
        ..Event::default()
    })
}

/// The PATCH body that turns an occurrence into override `o`.
pub fn instance_patch(o: &Occurrence, tz: Option<&str>) -> Result<Event, ConvertError> {
    Ok(Event {
        subject: o.summary.clone(),
        body: text_body(&o.description),
        start: Some(graph_time(&o.start, tz, "DTSTART")?),
        end: Some(graph_time(&o.end, tz, "DTEND")?),
        location: o.location.as_ref().map(|l| Location { display_name: Some(l.clone()), address: None }),
        ..Event::default()
    })
}
