//! Exchange items as crmsync's ACT items and back: a CalendarItem (a
//! recurring master with its ModifiedOccurrences and DeletedOccurrences) is
//! an appointment with an RRULE, RECURRENCE-ID overrides and EXDATEs; a
//! Contact a vCard contact; a Task a VTODO. Pure: no I/O, never panics on
//! what a server sends (a field it cannot read is left out, or named in the
//! error when the item is unusable without it).
//!
//! Times travel in UTC (`…Z`), as EWS answers them; a CRM time in a named
//! zone is converted to UTC on the way to Exchange.

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use crmsync_core::act::item::{
    Attendee, ContactItem, EventItem, Occurrence, TaskItem, TaskPriority, TaskStatus,
};
use crmsync_protocols::dav::ical;
use crmsync_protocols::ews::{
    Attendee as EwsAttendee, Body, CalendarItem, Contact, Entry, ItemCommon, Mailbox, PhysicalAddress,
    Recurrence, RecurrencePattern, RecurrenceRange, Task,
};
use sha2::{Digest, Sha256};

/// Why an item could not be converted; names the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConvertError(pub String);

impl std::fmt::Display for ConvertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A UID for an item Exchange keeps none of (contacts, tasks, a calendar
/// item without UID): stable for its ItemId.
pub(crate) fn uid_of_id(id: &str) -> String {
    let h = Sha256::digest(id.as_bytes());
    format!("ews-{}", h.iter().take(12).map(|b| format!("{b:02x}")).collect::<String>())
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn body_text(c: &ItemCommon) -> Option<String> {
    c.body.as_ref().map(|b| b.text.clone()).filter(|t| !t.trim().is_empty())
}

fn text_body(t: &Option<String>) -> Option<Body> {
    t.as_ref().map(|t| Body { html: false, text: t.clone() })
}

/// An EWS dateTime (`2026-12-01T09:00:00Z`, with or without fractions or an
/// offset) as the ACT form `YYYY-MM-DDTHH:MM:SSZ`.
fn utc(s: &str) -> Option<String> {
    let s = s.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .or_else(|| NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok().map(|d| d.to_string()))
}

/// An ACT time (`YYYY-MM-DD`, local `YYYY-MM-DDTHH:MM:SS` in `zone`, or UTC
/// with `Z`) as an EWS UTC dateTime.
pub(crate) fn to_ews_time(t: &str, zone: Option<&str>) -> Result<String, ConvertError> {
    let bad = || ConvertError(format!("time '{t}' is not a date or date-time"));
    if let Some(u) = t.strip_suffix('Z') {
        let d = NaiveDateTime::parse_from_str(u, "%Y-%m-%dT%H:%M:%S").map_err(|_| bad())?;
        return Ok(d.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    if t.len() == 10 {
        let d = NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| bad())?;
        return Ok(format!("{d}T00:00:00Z"));
    }
    let local = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S").map_err(|_| bad())?;
    let tz: chrono_tz::Tz = match zone {
        Some(z) => z.parse().map_err(|_| ConvertError(format!("time zone '{z}' is not known")))?,
        None => chrono_tz::UTC,
    };
    let at = tz.from_local_datetime(&local).earliest().ok_or_else(bad)?;
    Ok(at.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn party(m: &Mailbox, required: bool) -> Option<Attendee> {
    let email = m.email.as_ref()?.trim().to_ascii_lowercase();
    (!email.is_empty()).then(|| Attendee { email, name: nonempty(&m.name), required })
}

const DAYS: [(&str, &str); 7] = [
    ("Monday", "MO"),
    ("Tuesday", "TU"),
    ("Wednesday", "WE"),
    ("Thursday", "TH"),
    ("Friday", "FR"),
    ("Saturday", "SA"),
    ("Sunday", "SU"),
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const INDEX: [(&str, i32); 5] = [("First", 1), ("Second", 2), ("Third", 3), ("Fourth", 4), ("Last", -1)];

fn byday(days: &str) -> Result<String, ConvertError> {
    let mut out = Vec::new();
    for d in days.split_whitespace() {
        match d {
            "Day" => out.extend(DAYS.iter().map(|x| x.1)),
            "Weekday" => out.extend(DAYS[..5].iter().map(|x| x.1)),
            "WeekendDay" => out.extend(DAYS[5..].iter().map(|x| x.1)),
            _ => out.push(
                DAYS.iter()
                    .find(|x| x.0 == d)
                    .ok_or_else(|| ConvertError(format!("DaysOfWeek '{d}' is not a day")))?
                    .1,
            ),
        }
    }
    if out.is_empty() {
        return Err(ConvertError("DaysOfWeek is empty".into()));
    }
    Ok(out.join(","))
}

fn month_no(m: &str) -> Result<usize, ConvertError> {
    MONTHS
        .iter()
        .position(|x| *x == m)
        .map(|i| i + 1)
        .ok_or_else(|| ConvertError(format!("Month '{m}' is not a month")))
}

fn setpos(index: &str) -> Result<i32, ConvertError> {
    INDEX
        .iter()
        .find(|x| x.0 == index)
        .map(|x| x.1)
        .ok_or_else(|| ConvertError(format!("DayOfWeekIndex '{index}' is not First..Last")))
}

/// An EWS Recurrence as an RRULE (canonical, as the DAV reader writes it).
pub(crate) fn rrule_of(r: &Recurrence) -> Result<String, ConvertError> {
    let mut parts = match &r.pattern {
        RecurrencePattern::Daily { interval } => {
            vec!["FREQ=DAILY".to_string(), format!("INTERVAL={interval}")]
        }
        RecurrencePattern::Weekly { interval, days, first_day } => {
            let mut p =
                vec!["FREQ=WEEKLY".into(), format!("INTERVAL={interval}"), format!("BYDAY={}", byday(days)?)];
            if let Some(f) = first_day.as_deref().and_then(|f| DAYS.iter().find(|x| x.0 == f)) {
                p.push(format!("WKST={}", f.1));
            }
            p
        }
        RecurrencePattern::AbsoluteMonthly { interval, day_of_month } => {
            vec!["FREQ=MONTHLY".into(), format!("INTERVAL={interval}"), format!("BYMONTHDAY={day_of_month}")]
        }
        RecurrencePattern::RelativeMonthly { interval, days, index } => vec![
            "FREQ=MONTHLY".into(),
            format!("INTERVAL={interval}"),
            format!("BYDAY={}", byday(days)?),
            format!("BYSETPOS={}", setpos(index)?),
        ],
        RecurrencePattern::AbsoluteYearly { day_of_month, month } => vec![
            "FREQ=YEARLY".into(),
            format!("BYMONTH={}", month_no(month)?),
            format!("BYMONTHDAY={day_of_month}"),
        ],
        RecurrencePattern::RelativeYearly { days, index, month } => vec![
            "FREQ=YEARLY".into(),
            format!("BYMONTH={}", month_no(month)?),
            format!("BYDAY={}", byday(days)?),
            format!("BYSETPOS={}", setpos(index)?),
        ],
    };
    match &r.range {
        RecurrenceRange::NoEnd { .. } => {}
        RecurrenceRange::Numbered { count, .. } => parts.push(format!("COUNT={count}")),
        RecurrenceRange::EndDate { end, .. } => {
            let d = NaiveDate::parse_from_str(end.get(..10).unwrap_or(end), "%Y-%m-%d")
                .map_err(|_| ConvertError(format!("EndDate '{end}' is not a date")))?;
            parts.push(format!("UNTIL={}T235959Z", d.format("%Y%m%d")));
        }
    }
    ical::canonical_rrule(&parts.join(";")).map_err(|e| ConvertError(format!("Recurrence: {e}")))
}

/// An RRULE as an EWS Recurrence starting on `start_date` (`YYYY-MM-DD`).
pub(crate) fn recurrence_of(rrule: &str, start_date: &str) -> Result<Recurrence, ConvertError> {
    let bad = |what: &str| ConvertError(format!("RRULE '{rrule}': {what} has no Exchange recurrence"));
    let mut freq = "";
    let (mut interval, mut count, mut until) = (1u32, None::<u32>, None::<String>);
    let (mut days, mut monthday, mut month, mut pos) = (Vec::new(), None::<u32>, None::<usize>, None::<i32>);
    for part in rrule.trim_start_matches("RRULE:").split(';') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match k.to_ascii_uppercase().as_str() {
            "FREQ" => freq = v,
            "INTERVAL" => interval = v.parse().map_err(|_| bad("INTERVAL"))?,
            "COUNT" => count = Some(v.parse().map_err(|_| bad("COUNT"))?),
            "UNTIL" => until = Some(v.to_string()),
            "BYDAY" => {
                for d in v.split(',') {
                    // "-1TH" or "2MO": a position inside BYDAY.
                    let code = d.trim_start_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
                    let n = &d[..d.len() - code.len()];
                    if !n.is_empty() {
                        pos = Some(n.parse().map_err(|_| bad("BYDAY"))?);
                    }
                    days.push(DAYS.iter().find(|x| x.1 == code).ok_or_else(|| bad("BYDAY"))?.0);
                }
            }
            "BYMONTHDAY" => monthday = Some(v.parse().map_err(|_| bad("BYMONTHDAY"))?),
            "BYMONTH" => month = Some(v.parse().map_err(|_| bad("BYMONTH"))?),
            "BYSETPOS" => pos = Some(v.parse().map_err(|_| bad("BYSETPOS"))?),
            "WKST" => {}
            _ => return Err(bad(k)),
        }
    }
    let day_names = || days.join(" ");
    let index = |p: Option<i32>| -> Result<String, ConvertError> {
        let p = p.ok_or_else(|| bad("a weekday without a position"))?;
        Ok(INDEX.iter().find(|x| x.1 == p).ok_or_else(|| bad("BYSETPOS"))?.0.to_string())
    };
    let start = NaiveDate::parse_from_str(start_date, "%Y-%m-%d").map_err(|_| bad("the start date"))?;
    let month_name = |m: Option<usize>| -> Result<String, ConvertError> {
        let m = m.unwrap_or(chrono::Datelike::month(&start) as usize);
        MONTHS.get(m.wrapping_sub(1)).map(|s| s.to_string()).ok_or_else(|| bad("BYMONTH"))
    };
    let pattern = match freq {
        "DAILY" if days.is_empty() => RecurrencePattern::Daily { interval },
        "WEEKLY" => {
            let days = if days.is_empty() {
                DAYS[chrono::Datelike::weekday(&start).num_days_from_monday() as usize].0.to_string()
            } else {
                day_names()
            };
            RecurrencePattern::Weekly { interval, days, first_day: None }
        }
        "MONTHLY" if days.is_empty() => RecurrencePattern::AbsoluteMonthly {
            interval,
            day_of_month: monthday.unwrap_or(chrono::Datelike::day(&start)),
        },
        "MONTHLY" => RecurrencePattern::RelativeMonthly { interval, days: day_names(), index: index(pos)? },
        "YEARLY" if interval == 1 && days.is_empty() => RecurrencePattern::AbsoluteYearly {
            day_of_month: monthday.unwrap_or(chrono::Datelike::day(&start)),
            month: month_name(month)?,
        },
        "YEARLY" if interval == 1 => RecurrencePattern::RelativeYearly {
            days: day_names(),
            index: index(pos)?,
            month: month_name(month)?,
        },
        _ => return Err(bad("FREQ/INTERVAL")),
    };
    let start = start_date.to_string();
    let range = match (count, until) {
        (Some(count), _) => RecurrenceRange::Numbered { start, count },
        (None, Some(u)) => {
            let d =
                NaiveDate::parse_from_str(u.get(..8).unwrap_or(&u), "%Y%m%d").map_err(|_| bad("UNTIL"))?;
            RecurrenceRange::EndDate { start, end: d.to_string() }
        }
        (None, None) => RecurrenceRange::NoEnd { start },
    };
    Ok(Recurrence { pattern, range })
}

/// A CalendarItem (a single appointment or a recurring master) as an appointment.
pub(crate) fn event_of(c: &CalendarItem, id: &str) -> Result<EventItem, ConvertError> {
    let all_day = c.is_all_day.unwrap_or(false);
    let time = |v: &Option<String>, name: &str| -> Result<String, ConvertError> {
        let v = v.as_deref().ok_or_else(|| ConvertError(format!("CalendarItem without {name}")))?;
        let t = utc(v).ok_or_else(|| ConvertError(format!("{name} '{v}' is not a dateTime")))?;
        Ok(if all_day { t.get(..10).unwrap_or(&t).to_string() } else { t })
    };
    let start = time(&c.start, "Start")?;
    let end = time(&c.end, "End").unwrap_or_else(|_| start.clone());
    let rrule = match &c.recurrence {
        Some(r) => Some(rrule_of(r)?),
        None => None,
    };
    let mut exdates: Vec<String> = c.deleted_occurrences.iter().filter_map(|s| utc(s)).collect();
    exdates.sort();
    let mut overrides: Vec<Occurrence> = c
        .modified_occurrences
        .iter()
        .filter_map(|o| {
            Some(Occurrence {
                recurrence_id: utc(o.original_start.as_deref()?)?,
                start: utc(o.start.as_deref()?)?,
                end: utc(o.end.as_deref()?)?,
                ..Default::default()
            })
        })
        .collect();
    overrides.sort_by(|a, b| a.recurrence_id.cmp(&b.recurrence_id));
    let organizer = c.organizer.as_ref().and_then(|m| party(m, true));
    let mut attendees: Vec<Attendee> = c
        .required_attendees
        .iter()
        .filter_map(|a| party(&a.mailbox, true))
        .chain(c.optional_attendees.iter().filter_map(|a| party(&a.mailbox, false)))
        .filter(|a| organizer.as_ref().is_none_or(|o| o.email != a.email))
        .collect();
    attendees.sort();
    attendees.dedup_by(|a, b| a.email == b.email);
    Ok(EventItem {
        uid: nonempty(&c.uid).unwrap_or_else(|| uid_of_id(id)),
        summary: c.common.subject.clone().unwrap_or_default(),
        description: body_text(&c.common),
        location: nonempty(&c.location),
        start,
        end,
        all_day,
        time_zone: None,
        rrule,
        exdates,
        overrides,
        organizer,
        attendees,
        cancelled: c.is_cancelled.unwrap_or(false),
    })
}

/// An appointment as a CalendarItem to create (or to take fields from for an update).
/// Moved and cancelled occurrences are written separately, on the series' occurrences.
pub(crate) fn calendar_item_of(e: &EventItem) -> Result<CalendarItem, ConvertError> {
    let zone = e.time_zone.as_deref();
    let start = to_ews_time(&e.start, zone)?;
    let end = to_ews_time(&e.end, zone)?;
    let recurrence = match &e.rrule {
        Some(r) => Some(recurrence_of(r, start.get(..10).unwrap_or_default())?),
        None => None,
    };
    let mailbox = |a: &Attendee| EwsAttendee {
        mailbox: Mailbox { name: a.name.clone(), email: Some(a.email.clone()), routing_type: None },
        response: None,
    };
    Ok(CalendarItem {
        common: ItemCommon {
            subject: Some(e.summary.clone()),
            body: text_body(&e.description),
            ..Default::default()
        },
        uid: Some(e.uid.clone()),
        start: Some(start),
        end: Some(end),
        is_all_day: Some(e.all_day),
        location: e.location.clone(),
        required_attendees: e.attendees.iter().filter(|a| a.required).map(mailbox).collect(),
        optional_attendees: e.attendees.iter().filter(|a| !a.required).map(mailbox).collect(),
        recurrence,
        ..Default::default()
    })
}

fn entry<'a>(list: &'a [Entry], key: &str) -> Option<&'a str> {
    list.iter().find(|e| e.key == key).map(|e| e.value.trim()).filter(|v| !v.is_empty())
}

/// A Contact as a contact with UID `uid`.
pub(crate) fn contact_of(c: &Contact, uid: String) -> ContactItem {
    let mut emails: Vec<(String, String)> = c
        .email_addresses
        .iter()
        .filter(|e| !e.value.trim().is_empty())
        .map(|e| (e.key.clone(), e.value.trim().trim_start_matches("SMTP:").to_string()))
        .collect();
    emails.sort();
    let address =
        c.physical_addresses.iter().find(|a| a.key == "Business").or_else(|| c.physical_addresses.first());
    let pick = |f: fn(&PhysicalAddress) -> &Option<String>| address.and_then(|a| nonempty(f(a)));
    ContactItem {
        uid,
        first_name: nonempty(&c.given_name),
        last_name: nonempty(&c.surname),
        emails: emails.into_iter().map(|e| e.1).collect(),
        company: nonempty(&c.company_name),
        phone: entry(&c.phone_numbers, "BusinessPhone").map(str::to_string),
        mobile_phone: entry(&c.phone_numbers, "MobilePhone").map(str::to_string),
        street: pick(|a| &a.street),
        city: pick(|a| &a.city),
        postal_code: pick(|a| &a.postal_code),
        region: pick(|a| &a.state),
        country: pick(|a| &a.country),
    }
}

/// A contact as a Contact to create (or to take fields from for an update).
pub(crate) fn ews_contact_of(c: &ContactItem) -> Contact {
    let name =
        [c.first_name.as_deref(), c.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let name = if name.is_empty() { c.emails.first().cloned().unwrap_or_default() } else { name };
    let mut phones = Vec::new();
    if let Some(p) = &c.phone {
        phones.push(Entry { key: "BusinessPhone".into(), value: p.clone() });
    }
    if let Some(p) = &c.mobile_phone {
        phones.push(Entry { key: "MobilePhone".into(), value: p.clone() });
    }
    let has_address = [&c.street, &c.city, &c.postal_code, &c.region, &c.country].iter().any(|f| f.is_some());
    Contact {
        file_as: Some(name.clone()),
        display_name: Some(name),
        given_name: c.first_name.clone(),
        surname: c.last_name.clone(),
        company_name: c.company.clone(),
        email_addresses: c
            .emails
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, e)| Entry { key: format!("EmailAddress{}", i + 1), value: e.clone() })
            .collect(),
        phone_numbers: phones,
        physical_addresses: if has_address {
            vec![PhysicalAddress {
                key: "Business".into(),
                street: c.street.clone(),
                city: c.city.clone(),
                state: c.region.clone(),
                country: c.country.clone(),
                postal_code: c.postal_code.clone(),
            }]
        } else {
            vec![]
        },
        ..Default::default()
    }
}

/// A Task as a task with UID `uid`.
pub(crate) fn task_of(t: &Task, uid: String) -> TaskItem {
    let status = match t.status.as_deref() {
        Some("InProgress") => TaskStatus::InProgress,
        Some("Completed") => TaskStatus::Completed,
        Some("WaitingOnOthers") => TaskStatus::Waiting,
        Some("Deferred") => TaskStatus::Deferred,
        _ if t.is_complete == Some(true) => TaskStatus::Completed,
        _ => TaskStatus::NotStarted,
    };
    let priority = match t.common.importance.as_deref() {
        Some("High") => TaskPriority::High,
        Some("Low") => TaskPriority::Low,
        _ => TaskPriority::Normal,
    };
    let pct = t.percent_complete.unwrap_or(0.0);
    TaskItem {
        uid,
        summary: t.common.subject.clone().unwrap_or_default(),
        description: body_text(&t.common),
        due: t.due_date.as_deref().and_then(utc),
        status,
        priority,
        percent_complete: if pct.is_finite() { pct.clamp(0.0, 100.0) as u8 } else { 0 },
    }
}

/// A task as a Task to create (or to take fields from for an update).
pub(crate) fn ews_task_of(t: &TaskItem) -> Result<Task, ConvertError> {
    let status = match t.status {
        TaskStatus::NotStarted => "NotStarted",
        TaskStatus::InProgress => "InProgress",
        TaskStatus::Waiting => "WaitingOnOthers",
        TaskStatus::Completed => "Completed",
        TaskStatus::Deferred => "Deferred",
    };
    let importance = match t.priority {
        TaskPriority::High => "High",
        TaskPriority::Normal => "Normal",
        TaskPriority::Low => "Low",
    };
    let due = match &t.due {
        Some(d) => Some(to_ews_time(d, None)?),
        None => None,
    };
    Ok(Task {
        common: ItemCommon {
            subject: Some(t.summary.clone()),
            body: text_body(&t.description),
            importance: Some(importance.into()),
            ..Default::default()
        },
        due_date: due,
        percent_complete: Some(f64::from(t.percent_complete.min(100))),
        status: Some(status.into()),
        ..Default::default()
    })
}

#[cfg(test)]
#[path = "ews_items_convert_tests.rs"]
mod tests;
