//! Graph groupware resources to crmsync's ACT items and back: `contact` ⇄
//! [`ContactItem`], `todoTask` ⇄ [`TaskItem`], and `event` (a single event,
//! or a series master with its exceptions and cancelled occurrences) ⇄
//! [`EventItem`] (see [`super::convert_event`]). The item store renders the
//! items as vCard / iCalendar with the DAV writers, so the engine sees the
//! same text whatever the server. Pure; what is not carried is listed in
//! docs/act-sync.md.

use chrono::{DateTime, NaiveDateTime, Utc};
use crmsync_core::act::item::{ContactItem, TaskItem, TaskPriority, TaskStatus as ItemStatus};

use super::enums::{BodyType, Importance, TaskStatus};
use super::pim::{Contact, TodoTask};
use super::types::{DateTimeTimeZone, EmailAddress, ItemBody, PhysicalAddress};

pub use super::convert_event::{
    event_from_item, event_to_item, expected_starts, instance_patch, recurrence_id, recurrence_to_rrule,
    rrule_to_recurrence,
};

/// A Graph item that cannot be converted, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConvertError {
    /// The Graph or iCalendar field.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl ConvertError {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> ConvertError {
        ConvertError { field, reason: reason.into() }
    }
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// The text of a body: HTML bodies lose their tags (crmsync keeps text).
pub(crate) fn body_text(b: Option<&ItemBody>) -> Option<String> {
    let b = b?;
    let text = match b.content_type {
        Some(BodyType::Html) => strip_html(&b.content),
        _ => b.content.replace("\r\n", "\n"),
    };
    non_empty(Some(&text))
}

fn strip_html(html: &str) -> String {
    let mut out = String::new();
    let mut tag = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let t = tag.to_ascii_lowercase();
                if t.starts_with("br") || t.starts_with("/p") || t.starts_with("/div") {
                    out.push('\n');
                }
            }
            (true, c) => tag.push(c),
            (false, c) => out.push(c),
        }
    }
    let out = out.replace("&nbsp;", " ").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"");
    out.replace("&amp;", "&").lines().map(str::trim_end).collect::<Vec<_>>().join("\n").trim().to_string()
}

/// A plain-text body for Graph.
pub(crate) fn text_body(s: &Option<String>) -> Option<ItemBody> {
    s.as_ref().map(|c| ItemBody { content_type: Some(BodyType::Text), content: c.clone() })
}

/// `YYYY-MM-DDTHH:MM:SS` of a Graph `dateTime` (fractions dropped); None
/// when it is no date-time.
fn local_part(dt: &str) -> Option<NaiveDateTime> {
    let dt = dt.trim().trim_end_matches('Z');
    let base = dt.split('.').next().unwrap_or(dt);
    NaiveDateTime::parse_from_str(base, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(base, "%Y-%m-%dT%H:%M"))
        .ok()
}

/// A Graph `dateTimeTimeZone` as an item time: `YYYY-MM-DD` when `date`,
/// else UTC with `Z` (UTC and IANA zones), or a local time with its zone
/// name when the zone is one chrono-tz does not know (a Windows name).
pub(crate) fn item_time(
    v: &DateTimeTimeZone,
    date: bool,
    field: &'static str,
) -> Result<(String, Option<String>), ConvertError> {
    let local = local_part(&v.date_time)
        .ok_or_else(|| ConvertError::new(field, format!("'{}' is no date-time", v.date_time)))?;
    if date {
        return Ok((local.format("%Y-%m-%d").to_string(), None));
    }
    let zone = v.time_zone.as_deref().unwrap_or("UTC");
    if zone.eq_ignore_ascii_case("UTC") || zone.eq_ignore_ascii_case("Etc/UTC") {
        return Ok((format!("{}Z", local.format("%Y-%m-%dT%H:%M:%S")), None));
    }
    match zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => {
            let at = local
                .and_local_timezone(tz)
                .earliest()
                .ok_or_else(|| ConvertError::new(field, format!("{local} does not exist in {zone}")))?;
            Ok((format!("{}Z", at.with_timezone(&Utc).format("%Y-%m-%dT%H:%M:%S")), None))
        }
        Err(_) => Ok((local.format("%Y-%m-%dT%H:%M:%S").to_string(), Some(zone.to_string()))),
    }
}

/// An item time (`YYYY-MM-DD`, `...Z` or local in `tz`) as a Graph `dateTimeTimeZone`.
pub(crate) fn graph_time(
    s: &str,
    tz: Option<&str>,
    field: &'static str,
) -> Result<DateTimeTimeZone, ConvertError> {
    let bad = || ConvertError::new(field, format!("'{s}' is no date or date-time"));
    if s.len() == 10 {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?;
        return Ok(DateTimeTimeZone { date_time: format!("{s}T00:00:00"), time_zone: Some("UTC".into()) });
    }
    let local = local_part(s).ok_or_else(bad)?;
    let zone = if s.ends_with('Z') { "UTC" } else { tz.unwrap_or("UTC") };
    Ok(DateTimeTimeZone {
        date_time: local.format("%Y-%m-%dT%H:%M:%S").to_string(),
        time_zone: Some(zone.to_string()),
    })
}

/// An ISO 8601 date-time with an offset (`originalStart`) as `...Z`.
pub(crate) fn utc_instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
        .or_else(|| local_part(s).map(|l| l.and_utc()))
}

// ------------------------------------------------------------------ contacts

/// A Graph contact as crmsync's contact; its UID is the Graph id.
pub fn contact_to_item(c: &Contact) -> ContactItem {
    let emails = c
        .email_addresses
        .iter()
        .flatten()
        .filter_map(|e| non_empty(e.address.as_deref()))
        .map(|a| a.to_lowercase())
        .collect();
    let addr = c.business_address.as_ref().or(c.home_address.as_ref());
    let (mut first, mut last) = (non_empty(c.given_name.as_deref()), non_empty(c.surname.as_deref()));
    if first.is_none() && last.is_none() {
        // A contact with only a display name: its last word is taken as the surname.
        if let Some(d) = non_empty(c.display_name.as_deref()) {
            match d.rsplit_once(' ') {
                Some((f, l)) => (first, last) = (Some(f.trim().to_string()), Some(l.to_string())),
                None => last = Some(d),
            }
        }
    }
    ContactItem {
        uid: c.id.clone(),
        first_name: first,
        last_name: last,
        emails,
        company: non_empty(c.company_name.as_deref()),
        phone: c.business_phones.iter().flatten().find_map(|p| non_empty(Some(p))),
        mobile_phone: non_empty(c.mobile_phone.as_deref()),
        street: addr.and_then(|a| non_empty(a.street.as_deref())),
        city: addr.and_then(|a| non_empty(a.city.as_deref())),
        postal_code: addr.and_then(|a| non_empty(a.postal_code.as_deref())),
        region: addr.and_then(|a| non_empty(a.state.as_deref())),
        country: addr.and_then(|a| non_empty(a.country_or_region.as_deref())),
    }
}

/// crmsync's contact as a Graph create/update body (every carried field
/// set, cleared ones as empty values so an update clears them on the server).
pub fn contact_from_item(c: &ContactItem) -> Contact {
    let display = [c.first_name.as_deref(), c.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>();
    let has_address = [&c.street, &c.city, &c.postal_code, &c.region, &c.country].iter().any(|f| f.is_some());
    Contact {
        display_name: Some(display.join(" ")),
        given_name: Some(c.first_name.clone().unwrap_or_default()),
        surname: Some(c.last_name.clone().unwrap_or_default()),
        company_name: Some(c.company.clone().unwrap_or_default()),
        email_addresses: Some(
            c.emails.iter().take(3).map(|a| EmailAddress { name: None, address: Some(a.clone()) }).collect(),
        ),
        business_phones: Some(c.phone.iter().cloned().collect()),
        mobile_phone: Some(c.mobile_phone.clone().unwrap_or_default()),
        business_address: Some(if has_address {
            PhysicalAddress {
                street: c.street.clone(),
                city: c.city.clone(),
                state: c.region.clone(),
                country_or_region: c.country.clone(),
                postal_code: c.postal_code.clone(),
            }
        } else {
            PhysicalAddress::default()
        }),
        ..Contact::default()
    }
}

// ------------------------------------------------------------------ tasks

/// A To Do task as crmsync's task; its UID is the Graph id.
pub fn task_to_item(t: &TodoTask) -> Result<TaskItem, ConvertError> {
    let status = match &t.status {
        Some(TaskStatus::InProgress) => ItemStatus::InProgress,
        Some(TaskStatus::Completed) => ItemStatus::Completed,
        Some(TaskStatus::WaitingOnOthers) => ItemStatus::Waiting,
        Some(TaskStatus::Deferred) => ItemStatus::Deferred,
        _ => ItemStatus::NotStarted,
    };
    let priority = match &t.importance {
        Some(Importance::High) => TaskPriority::High,
        Some(Importance::Low) => TaskPriority::Low,
        _ => TaskPriority::Normal,
    };
    // To Do due dates are days (Graph gives midnight of the day).
    let due = t.due_date_time.as_ref().map(|d| item_time(d, true, "dueDateTime")).transpose()?.map(|d| d.0);
    Ok(TaskItem {
        uid: t.id.clone(),
        summary: t.title.clone().unwrap_or_default(),
        description: body_text(t.body.as_ref()),
        due,
        percent_complete: if status == ItemStatus::Completed { 100 } else { 0 },
        status,
        priority,
    })
}

/// crmsync's task as a To Do create/update body.
pub fn task_from_item(t: &TaskItem) -> Result<TodoTask, ConvertError> {
    let status = match t.status {
        ItemStatus::NotStarted => TaskStatus::NotStarted,
        ItemStatus::InProgress => TaskStatus::InProgress,
        ItemStatus::Waiting => TaskStatus::WaitingOnOthers,
        ItemStatus::Completed => TaskStatus::Completed,
        ItemStatus::Deferred => TaskStatus::Deferred,
    };
    let importance = match t.priority {
        TaskPriority::High => Importance::High,
        TaskPriority::Normal => Importance::Normal,
        TaskPriority::Low => Importance::Low,
    };
    let due = t.due.as_deref().map(|d| graph_time(d.get(..10).unwrap_or(d), None, "DUE")).transpose()?;
    Ok(TodoTask {
        title: Some(t.summary.clone()),
        body: Some(
            text_body(&t.description)
                .unwrap_or(ItemBody { content_type: Some(BodyType::Text), content: String::new() }),
        ),
        status: Some(status),
        importance: Some(importance),
        due_date_time: due,
        ..TodoTask::default()
    })
}
