//! Typed ACT items: what crmsync syncs of an appointment, a task and a
//! contact, in one shape for both sides. The CRM store and the iCalendar /
//! vCard converters (crates/protocols) both produce these, so comparing the
//! two sides is comparing values, and the content hash is a hash of the value.
//!
//! Times are kept as iCalendar writes them, without converting zones:
//! `YYYY-MM-DD` for all-day dates, `YYYY-MM-DDTHH:MM:SS` for local times (in
//! `time_zone`), and a trailing `Z` for UTC.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};

crate::model::text_enum!(
    /// The kinds of item ACT syncs (and the record_type of their status rows).
    ItemKind {
        /// An appointment (VEVENT).
        Appointment = "appointment",
        /// A task (VTODO).
        Task = "task",
        /// A contact (vCard).
        Contact = "contact",
    }
);

/// An attendee or organizer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, PartialOrd, Ord)]
pub struct Attendee {
    /// Email address (lower-case).
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Required (true) or optional (false) attendee; true for the organizer.
    pub required: bool,
}

/// One changed or cancelled occurrence of a recurring appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Occurrence {
    /// RECURRENCE-ID: the original start of the occurrence.
    pub recurrence_id: String,
    /// New start.
    pub start: String,
    /// New end.
    pub end: String,
    /// Subject, when it differs.
    pub summary: Option<String>,
    /// Location, when it differs.
    pub location: Option<String>,
    /// Body, when it differs.
    pub description: Option<String>,
    /// Cancelled (STATUS:CANCELLED) rather than moved.
    pub cancelled: bool,
}

/// An appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EventItem {
    /// iCalendar UID.
    pub uid: String,
    /// Subject.
    pub summary: String,
    /// Body.
    pub description: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// Start.
    pub start: String,
    /// End.
    pub end: String,
    /// All-day (dates, no times).
    pub all_day: bool,
    /// IANA time zone of local start and end times.
    pub time_zone: Option<String>,
    /// RRULE value, e.g. `FREQ=WEEKLY;COUNT=10`.
    pub rrule: Option<String>,
    /// Excluded occurrence starts (EXDATE).
    pub exdates: Vec<String>,
    /// Moved or cancelled occurrences.
    pub overrides: Vec<Occurrence>,
    /// Organizer.
    pub organizer: Option<Attendee>,
    /// Attendees.
    pub attendees: Vec<Attendee>,
    /// The whole appointment is cancelled.
    pub cancelled: bool,
}

crate::model::text_enum!(
    /// Task status (the CRM's values).
    TaskStatus {
        /// Not started (NEEDS-ACTION).
        NotStarted = "not_started",
        /// In progress (IN-PROCESS).
        InProgress = "in_progress",
        /// Waiting on someone else.
        Waiting = "waiting",
        /// Completed.
        Completed = "completed",
        /// Deferred (CANCELLED on the server).
        Deferred = "deferred",
    }
);

crate::model::text_enum!(
    /// Task priority (the CRM's values).
    TaskPriority {
        /// Low (PRIORITY 6-9).
        Low = "low",
        /// Normal (PRIORITY 5 or none).
        Normal = "normal",
        /// High (PRIORITY 1-4).
        High = "high",
    }
);

/// A task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskItem {
    /// iCalendar UID.
    pub uid: String,
    /// Subject.
    pub summary: String,
    /// Body.
    pub description: Option<String>,
    /// Due date or time.
    pub due: Option<String>,
    /// Status.
    pub status: TaskStatus,
    /// Priority.
    pub priority: TaskPriority,
    /// Percent complete, 0-100.
    pub percent_complete: u8,
}

/// A contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ContactItem {
    /// vCard UID.
    pub uid: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email addresses, primary first (at most three are kept in the CRM).
    pub emails: Vec<String>,
    /// Company (ORG).
    pub company: Option<String>,
    /// Business phone.
    pub phone: Option<String>,
    /// Mobile phone.
    pub mobile_phone: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// State or region.
    pub region: Option<String>,
    /// Country.
    pub country: Option<String>,
}

/// An item of any kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Item {
    /// An appointment.
    Appointment(EventItem),
    /// A task.
    Task(TaskItem),
    /// A contact.
    Contact(ContactItem),
}

fn clean(o: &mut Option<String>) {
    if let Some(s) = o {
        let t = s.trim_end_matches(['\r', '\n']).replace("\r\n", "\n");
        if t.trim().is_empty() {
            *o = None;
        } else {
            *s = t;
        }
    }
}

impl Item {
    /// The kind.
    pub fn kind(&self) -> ItemKind {
        match self {
            Item::Appointment(_) => ItemKind::Appointment,
            Item::Task(_) => ItemKind::Task,
            Item::Contact(_) => ItemKind::Contact,
        }
    }

    /// The UID.
    pub fn uid(&self) -> &str {
        match self {
            Item::Appointment(e) => &e.uid,
            Item::Task(t) => &t.uid,
            Item::Contact(c) => &c.uid,
        }
    }

    /// Sets the UID.
    pub fn set_uid(&mut self, uid: String) {
        match self {
            Item::Appointment(e) => e.uid = uid,
            Item::Task(t) => t.uid = uid,
            Item::Contact(c) => c.uid = uid,
        }
    }

    /// Email addresses a contact is matched by on first sync (empty for other kinds).
    pub fn match_emails(&self) -> Vec<String> {
        match self {
            Item::Contact(c) => c.emails.clone(),
            _ => Vec::new(),
        }
    }

    /// Puts the item in its canonical form: trimmed empties become absent,
    /// addresses lower-case, lists sorted, so equal content hashes equally.
    pub fn normalize(&mut self) {
        match self {
            Item::Appointment(e) => {
                e.summary = e.summary.trim_end_matches(['\r', '\n']).to_string();
                clean(&mut e.description);
                clean(&mut e.location);
                clean(&mut e.time_zone);
                clean(&mut e.rrule);
                if e.all_day {
                    e.time_zone = None;
                }
                e.exdates.sort();
                e.exdates.dedup();
                for o in &mut e.overrides {
                    clean(&mut o.summary);
                    clean(&mut o.location);
                    clean(&mut o.description);
                }
                e.overrides.sort_by(|a, b| a.recurrence_id.cmp(&b.recurrence_id));
                e.overrides.dedup_by(|a, b| a.recurrence_id == b.recurrence_id);
                if let Some(o) = &mut e.organizer {
                    o.email = o.email.trim().to_ascii_lowercase();
                    clean(&mut o.name);
                    o.required = true;
                }
                for a in &mut e.attendees {
                    a.email = a.email.trim().to_ascii_lowercase();
                    clean(&mut a.name);
                }
                let org = e.organizer.as_ref().map(|o| o.email.clone());
                e.attendees.retain(|a| !a.email.is_empty() && Some(&a.email) != org.as_ref());
                e.attendees.sort();
                e.attendees.dedup_by(|a, b| a.email == b.email);
            }
            Item::Task(t) => {
                t.summary = t.summary.trim_end_matches(['\r', '\n']).to_string();
                clean(&mut t.description);
                clean(&mut t.due);
                t.percent_complete = t.percent_complete.min(100);
            }
            Item::Contact(c) => {
                for f in [
                    &mut c.first_name,
                    &mut c.last_name,
                    &mut c.company,
                    &mut c.phone,
                    &mut c.mobile_phone,
                    &mut c.street,
                    &mut c.city,
                    &mut c.postal_code,
                    &mut c.region,
                    &mut c.country,
                ] {
                    clean(f);
                }
                let mut seen = Vec::new();
                for e in c.emails.drain(..) {
                    let e = e.trim().to_ascii_lowercase();
                    if !e.is_empty() && !seen.contains(&e) {
                        seen.push(e);
                    }
                }
                seen.truncate(3);
                c.emails = seen;
            }
        }
    }

    /// The normalized copy.
    pub fn normalized(mut self) -> Item {
        self.normalize();
        self
    }

    /// Hash of the content, UID excluded (a contact matched by email keeps
    /// the same content under either UID). Call on a normalized item.
    pub fn content_hash(&self) -> String {
        let mut copy = self.clone();
        copy.set_uid(String::new());
        let json = serde_json::to_vec(&copy).expect("items serialize");
        hex::encode(&Sha256::digest(&json)[..16])
    }

    /// Subject, body or location, when the kind has it.
    pub fn field(&self, f: super::Field) -> Option<Option<String>> {
        use super::Field;
        match (self, f) {
            (Item::Appointment(e), Field::Subject) => Some(Some(e.summary.clone())),
            (Item::Appointment(e), Field::Body) => Some(e.description.clone()),
            (Item::Appointment(e), Field::Location) => Some(e.location.clone()),
            (Item::Task(t), Field::Subject) => Some(Some(t.summary.clone())),
            (Item::Task(t), Field::Body) => Some(t.description.clone()),
            _ => None,
        }
    }

    /// Sets subject, body or location (ignored when the kind has no such field).
    pub fn set_field(&mut self, f: super::Field, v: Option<String>) {
        use super::Field;
        match (self, f) {
            (Item::Appointment(e), Field::Subject) => e.summary = v.unwrap_or_default(),
            (Item::Appointment(e), Field::Body) => e.description = v,
            (Item::Appointment(e), Field::Location) => e.location = v,
            (Item::Task(t), Field::Subject) => t.summary = v.unwrap_or_default(),
            (Item::Task(t), Field::Body) => t.description = v,
            _ => {}
        }
    }
}

/// Validates an iCalendar-style time for `field`: `YYYY-MM-DD` (all-day) or
/// `YYYY-MM-DDTHH:MM[:SS][Z]`; returns the canonical form.
pub fn parse_ical_time(field: &str, raw: &str, all_day: bool) -> Result<String> {
    let s = raw.trim();
    let bad = || {
        CoreError::invalid(
            field,
            if all_day {
                format!("'{raw}' is not a date such as 2026-03-02")
            } else {
                format!("'{raw}' is not a date-time such as 2026-03-02T09:30 or 2026-03-02T08:30:00Z")
            },
        )
    };
    if all_day {
        let d = chrono::NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d").map_err(|_| bad())?;
        if s.len() != 10 {
            return Err(bad());
        }
        return Ok(d.format("%Y-%m-%d").to_string());
    }
    let (body, utc) = match s.strip_suffix(['Z', 'z']) {
        Some(b) => (b, true),
        None => (s, false),
    };
    let t = chrono::NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M"))
        .map_err(|_| bad())?;
    Ok(format!("{}{}", t.format("%Y-%m-%dT%H:%M:%S"), if utc { "Z" } else { "" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizing_makes_equal_content_hash_equal() {
        let a = Item::Contact(ContactItem {
            uid: "a".into(),
            first_name: Some("Ann".into()),
            emails: vec!["Ann@X.test".into(), "ann@x.test".into(), " ".into()],
            company: Some("  ".into()),
            ..Default::default()
        })
        .normalized();
        let b = Item::Contact(ContactItem {
            uid: "b".into(),
            first_name: Some("Ann".into()),
            emails: vec!["ann@x.test".into()],
            ..Default::default()
        })
        .normalized();
        assert_eq!(a.content_hash(), b.content_hash());
        assert_eq!(a.match_emails(), vec!["ann@x.test".to_string()]);
    }

    #[test]
    fn times_are_validated_and_canonical() {
        assert_eq!(parse_ical_time("start", "2026-03-02T09:30", false).unwrap(), "2026-03-02T09:30:00");
        assert_eq!(parse_ical_time("start", "2026-03-02T09:30:00Z", false).unwrap(), "2026-03-02T09:30:00Z");
        assert_eq!(parse_ical_time("start", "2026-03-02", true).unwrap(), "2026-03-02");
        assert!(parse_ical_time("start", "2026-13-02", true).is_err());
        assert!(parse_ical_time("start", "tomorrow", false).unwrap_err().to_string().starts_with("start:"));
    }
}
