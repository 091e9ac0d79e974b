//! Graph items as the iCalendar / vCard text the ACT engine reads, and that
//! text back as items to write: the DAV writers and readers on both sides
//! of [`crmsync_protocols::graph::convert`].

use chrono::{DateTime, Utc};
use crmsync_core::act::item::{ContactItem, EventItem, TaskItem};
use crmsync_protocols::dav::{ical, vcard};
use crmsync_protocols::graph::convert::{self, ConvertError};
use crmsync_protocols::graph::{Contact, Event, TodoTask};

/// The UID an href names, when crmsync chose it: Graph keeps no UID of a
/// contact or task, so the one the item was created with is read back from
/// the name the engine gave it (`{uid}.vcf`, `{uid}.ics`).
pub(crate) fn uid_of_href(href: &str) -> Option<String> {
    let name = href.rsplit('/').next()?;
    let uid = name.strip_suffix(".vcf").or_else(|| name.strip_suffix(".ics"))?;
    (!uid.is_empty()).then(|| uid.to_string())
}

/// A contact as a vCard 3.0, named `href`.
pub(crate) fn contact_text(c: &Contact, href: &str) -> String {
    let mut item = convert::contact_to_item(c);
    if let Some(uid) = uid_of_href(href) {
        item.uid = uid;
    }
    vcard::write_contact(&item, false)
}

/// What the engine gets for an item that cannot be converted: text that is
/// no calendar object or vCard, so the item is reported unreadable (alert)
/// and left as it is on both sides. The reason goes to the log.
fn unreadable(id: &str, e: &ConvertError) -> String {
    tracing::warn!(uid = %id, error = %e, "a Microsoft 365 item cannot be converted; it is left as it is");
    format!("Microsoft 365 item {id}: {e}")
}

/// A To Do task as a VTODO, named `href`.
pub(crate) fn task_text(t: &TodoTask, href: &str) -> String {
    match convert::task_to_item(t) {
        Ok(mut item) => {
            if let Some(uid) = uid_of_href(href) {
                item.uid = uid;
            }
            ical::write_task(&item)
        }
        Err(e) => unreadable(&t.id, &e),
    }
}

/// An event or series (with its instances in `[lo, hi)`) as a VEVENT with overrides.
pub(crate) fn event_text(
    master: &Event,
    instances: &[Event],
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
) -> String {
    match convert::event_to_item(master, instances, lo, hi) {
        Ok(item) => ical::write_event(&item),
        Err(e) => unreadable(&master.id, &e),
    }
}

/// What the engine wrote, read back as an item.
pub(crate) enum Written {
    Event(EventItem),
    Task(TaskItem),
    Contact(ContactItem),
}

/// Reads the text the engine writes; the error names what is wrong.
pub(crate) fn parse_written(body: &str) -> Result<Written, String> {
    let upper = body.to_ascii_uppercase();
    if upper.contains("BEGIN:VCARD") {
        vcard::parse_contact(body).map(|p| Written::Contact(p.item)).map_err(|e| e.0)
    } else if upper.contains("BEGIN:VTODO") {
        ical::parse_task(body).map(|p| Written::Task(p.item)).map_err(|e| e.0)
    } else {
        ical::parse_event(body).map(|p| Written::Event(p.item)).map_err(|e| e.0)
    }
}
