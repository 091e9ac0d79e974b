//! Groupware resources: `event` (with recurrence), `contact`, `todoTaskList`
//! and `todoTask`. The same types are read from the server and serialized
//! as create/update bodies; unset fields are left out of the JSON, and
//! read-only ones (`id`, `@odata.etag`, `changeKey`, `@removed`, times of
//! creation and change) are never written.

use serde::{Deserialize, Serialize};

use super::enums::{EventType, Importance, RecurrencePatternType, RecurrenceRangeType, TaskStatus};
use super::types::{
    Attendee, DateTimeTimeZone, EmailAddress, ItemBody, Location, PhysicalAddress, Recipient, Removed,
};

/// `recurrencePattern`: how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecurrencePattern {
    /// Daily, weekly, monthly or yearly (absolute or relative).
    #[serde(rename = "type")]
    pub kind: RecurrencePatternType,
    /// Every `interval` units.
    #[serde(default = "one")]
    pub interval: u32,
    /// Month 1-12 (yearly).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub month: u32,
    /// Day of the month (absolute patterns).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub day_of_month: u32,
    /// Weekdays (`monday`, ...; case as the server wrote it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days_of_week: Vec<String>,
    /// First day of the week (weekly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_day_of_week: Option<String>,
    /// `first`..`last` (relative patterns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
}

fn one() -> u32 {
    1
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// `recurrenceRange`: from when, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecurrenceRange {
    /// Until a date, numbered, or without end.
    #[serde(rename = "type")]
    pub kind: RecurrenceRangeType,
    /// First day, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// Last day, `YYYY-MM-DD` (endDate ranges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// Occurrences (numbered ranges).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub number_of_occurrences: u32,
    /// The zone the dates are in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence_time_zone: Option<String>,
}

/// `patternedRecurrence` of a series master (or a recurring task).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternedRecurrence {
    /// How often.
    pub pattern: RecurrencePattern,
    /// How long.
    pub range: RecurrenceRange,
}

/// `event`: a single event, a series master, an occurrence or an exception.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Opaque id.
    #[serde(default, skip_serializing)]
    pub id: String,
    /// The version, as a weak ETag (send it as `If-Match`).
    #[serde(rename = "@odata.etag", default, skip_serializing)]
    pub etag: Option<String>,
    /// The version, as Exchange names it.
    #[serde(default, skip_serializing)]
    pub change_key: Option<String>,
    /// The iCalendar UID shared by all instances of a series.
    #[serde(rename = "iCalUId", default, skip_serializing)]
    pub ical_uid: Option<String>,
    /// The client's own id of the event, set on create so a retried
    /// create is not made twice; Graph keeps it and returns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<ItemBody>,
    /// Start (local time plus zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTimeTimeZone>,
    /// End.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTimeTimeZone>,
    /// All-day event (start and end at midnight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_all_day: Option<bool>,
    /// Where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Attendees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attendees: Option<Vec<Attendee>>,
    /// Organizer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizer: Option<Recipient>,
    /// Single instance, occurrence, exception or series master.
    #[serde(rename = "type", default, skip_serializing)]
    pub kind: Option<EventType>,
    /// The series an occurrence or exception belongs to.
    #[serde(default, skip_serializing)]
    pub series_master_id: Option<String>,
    /// The original start of an occurrence or exception (ISO 8601 with offset).
    #[serde(default, skip_serializing)]
    pub original_start: Option<String>,
    /// The recurrence (series masters only; null elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<PatternedRecurrence>,
    /// Cancelled by the organizer.
    #[serde(default, skip_serializing)]
    pub is_cancelled: Option<bool>,
    /// free, tentative, busy, oof, workingElsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_as: Option<String>,
    /// normal, personal, private, confidential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<String>,
    /// Importance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance: Option<Importance>,
    /// Reminder on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_reminder_on: Option<bool>,
    /// Minutes before the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder_minutes_before_start: Option<i32>,
    /// Categories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// Last change on the server.
    #[serde(default, skip_serializing)]
    pub last_modified_date_time: Option<String>,
    /// Set in a delta answer when the event was deleted or left the window.
    #[serde(rename = "@removed", default, skip_serializing)]
    pub removed: Option<Removed>,
}

/// `contact` in the default contacts folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// Opaque id.
    #[serde(default, skip_serializing)]
    pub id: String,
    /// The version, as a weak ETag.
    #[serde(rename = "@odata.etag", default, skip_serializing)]
    pub etag: Option<String>,
    /// The version, as Exchange names it.
    #[serde(default, skip_serializing)]
    pub change_key: Option<String>,
    /// Folder.
    #[serde(default, skip_serializing)]
    pub parent_folder_id: Option<String>,
    /// Name shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Middle name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// Surname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    /// Title (Dr., ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// Department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// Email addresses (Graph keeps up to three).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_addresses: Option<Vec<EmailAddress>>,
    /// Business phones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_phones: Option<Vec<String>>,
    /// Home phones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_phones: Option<Vec<String>>,
    /// Mobile phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_phone: Option<String>,
    /// Business address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_address: Option<PhysicalAddress>,
    /// Home address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_address: Option<PhysicalAddress>,
    /// Birthday (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    /// Notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_notes: Option<String>,
    /// Categories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// Set in a delta answer when the contact was deleted.
    #[serde(rename = "@removed", default, skip_serializing)]
    pub removed: Option<Removed>,
}

/// `todoTaskList`: a Microsoft To Do list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TodoTaskList {
    /// Opaque id.
    #[serde(default)]
    pub id: String,
    /// Name shown.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `defaultList`, `flaggedEmails` or `none`.
    #[serde(default)]
    pub wellknown_list_name: Option<String>,
    /// Owned by the mailbox.
    #[serde(default)]
    pub is_owner: Option<bool>,
    /// Shared with others.
    #[serde(default)]
    pub is_shared: Option<bool>,
}

/// `todoTask`: one Microsoft To Do task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TodoTask {
    /// Opaque id.
    #[serde(default, skip_serializing)]
    pub id: String,
    /// The version, as a weak ETag.
    #[serde(rename = "@odata.etag", default, skip_serializing)]
    pub etag: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<ItemBody>,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    /// Importance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance: Option<Importance>,
    /// Due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date_time: Option<DateTimeTimeZone>,
    /// Start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<DateTimeTimeZone>,
    /// Completed at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_date_time: Option<DateTimeTimeZone>,
    /// Reminder at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder_date_time: Option<DateTimeTimeZone>,
    /// Reminder on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_reminder_on: Option<bool>,
    /// Recurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<PatternedRecurrence>,
    /// Categories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// Created on the server.
    #[serde(default, skip_serializing)]
    pub created_date_time: Option<String>,
    /// Last change on the server.
    #[serde(default, skip_serializing)]
    pub last_modified_date_time: Option<String>,
    /// Set in a delta answer when the task was deleted.
    #[serde(rename = "@removed", default, skip_serializing)]
    pub removed: Option<Removed>,
}
