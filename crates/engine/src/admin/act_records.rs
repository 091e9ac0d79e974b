//! Appointments, tasks and contacts as the admin edits them (`crmsync
//! appointment|task|contact add|update|delete|list|show`): raw text in,
//! validated here once, field-naming errors out.

use crmsync_core::act::item::{
    Attendee, ContactItem, EventItem, Item, Occurrence, TaskItem, TaskPriority, TaskStatus, parse_ical_time,
};
use crmsync_core::model::{Contact, RecordType};
use crmsync_core::store::appointments::{self, AppointmentView, OwnerIds};
use crmsync_core::store::principals::{self, Kind};
use crmsync_core::store::records;
use crmsync_core::store::tasks::{self, TaskView};
use crmsync_core::{CoreError, Store, address};
use crmsync_protocols::dav::ical;

use super::{opt_text, parse_num};
use crate::error::Result;

/// Raw appointment input; on update only what is `Some` changes (an empty string clears).
#[derive(Debug, Clone, Default)]
pub struct AppointmentInput {
    /// Subject.
    pub subject: Option<String>,
    /// Body.
    pub body: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// Start: 2026-03-02T09:00 (local, with --time-zone), ...Z (UTC) or 2026-03-02 (all-day).
    pub start: Option<String>,
    /// End.
    pub end: Option<String>,
    /// All-day.
    pub all_day: Option<bool>,
    /// IANA time zone.
    pub time_zone: Option<String>,
    /// RRULE, e.g. FREQ=WEEKLY;COUNT=10.
    pub recurrence: Option<String>,
    /// Excluded occurrences (replace the list when given).
    pub exdates: Option<Vec<String>>,
    /// Moved occurrences: ORIGINAL_START=NEW_START/NEW_END.
    pub moved: Option<Vec<String>>,
    /// Cancelled occurrences: ORIGINAL_START.
    pub cancelled: Option<Vec<String>>,
    /// Organizer: address or "Name <address>".
    pub organizer: Option<String>,
    /// Required attendees (replace the list when given).
    pub attendees: Option<Vec<String>>,
    /// Optional attendees (replace the list when given).
    pub optional_attendees: Option<Vec<String>>,
    /// Regarding record, TYPE:KEY.
    pub regarding: Option<String>,
    /// Owner: a user's or queue's address.
    pub owner: Option<String>,
}

fn person(field: &str, raw: &str, required: bool) -> Result<Attendee> {
    let raw = raw.trim();
    let (name, addr) = match (raw.find('<'), raw.rfind('>')) {
        (Some(a), Some(b)) if a < b => {
            (Some(raw[..a].trim().trim_matches('"').to_string()).filter(|n| !n.is_empty()), &raw[a + 1..b])
        }
        _ => (None, raw),
    };
    Ok(Attendee { email: address::validate(field, addr)?, name, required })
}

fn owner_ids(store: &Store, field: &str, raw: &str) -> Result<OwnerIds> {
    let raw = raw.trim();
    if let Some(u) = principals::find(store.conn(), Kind::User, raw)? {
        return Ok(OwnerIds { user_id: Some(u.id), queue_id: None });
    }
    if let Some(q) = principals::find(store.conn(), Kind::Queue, raw)? {
        return Ok(OwnerIds { user_id: None, queue_id: Some(q.id) });
    }
    Err(CoreError::invalid(field, format!("no user or queue {raw}")).into())
}

fn regarding(store: &Store, raw: &str) -> Result<Option<(RecordType, i64)>> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let (t, k) = raw.split_once(':').ok_or_else(|| {
        CoreError::invalid("regarding", format!("'{raw}' is not TYPE:KEY, e.g. account:Contoso"))
    })?;
    let rt = RecordType::parse("regarding", t)?;
    Ok(Some((rt, records::resolve_ref(store.conn(), "regarding", rt, k)?.id)))
}

fn new_uid() -> String {
    use rand::RngCore;
    let mut b = [0u8; 12];
    rand::rng().fill_bytes(&mut b);
    format!("{}-crmsync", b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

fn id_of(field: &str, raw: &str, what: &str) -> Result<i64> {
    raw.trim().parse().map_err(|_| CoreError::invalid(field, format!("'{raw}' is not a {what} id")).into())
}

fn apply_event(e: &mut EventItem, i: &AppointmentInput) -> Result<()> {
    if let Some(s) = &i.subject {
        e.summary = s.trim().to_string();
    }
    if let Some(b) = &i.body {
        e.description = opt_text(Some(b));
    }
    if let Some(l) = &i.location {
        e.location = opt_text(Some(l));
    }
    if let Some(a) = i.all_day {
        e.all_day = a;
    }
    if let Some(tz) = &i.time_zone {
        e.time_zone = opt_text(Some(tz));
    }
    let all_day = e.all_day;
    if let Some(s) = &i.start {
        e.start = parse_ical_time("start", s, all_day)?;
    } else if !e.start.is_empty() {
        e.start = parse_ical_time("start", &e.start, all_day).map_err(|_| {
            CoreError::invalid("all-day", "give --start and --end again when switching all-day")
        })?;
    }
    if let Some(s) = &i.end {
        e.end = parse_ical_time("end", s, all_day)?;
    } else if !e.end.is_empty() {
        e.end = parse_ical_time("end", &e.end, all_day).map_err(|_| {
            CoreError::invalid("all-day", "give --start and --end again when switching all-day")
        })?;
    }
    if e.start.is_empty() {
        return Err(CoreError::invalid("start", "is required").into());
    }
    if e.end.is_empty() {
        e.end = e.start.clone();
    }
    if e.end < e.start {
        return Err(CoreError::invalid("end", format!("{} is before the start {}", e.end, e.start)).into());
    }
    if let Some(r) = &i.recurrence {
        e.rrule = match opt_text(Some(r)) {
            Some(r) => {
                Some(ical::canonical_rrule(&r).map_err(|err| CoreError::invalid("recurrence", err.0))?)
            }
            None => None,
        };
    }
    if let Some(x) = &i.exdates {
        e.exdates =
            x.iter().map(|d| parse_ical_time("exdate", d, all_day)).collect::<crmsync_core::Result<_>>()?;
    }
    if i.moved.is_some() || i.cancelled.is_some() {
        let mut overrides = Vec::new();
        for m in i.moved.iter().flatten() {
            let bad =
                || CoreError::invalid("moved", format!("'{m}' is not ORIGINAL_START=NEW_START/NEW_END"));
            let (rid, rest) = m.split_once('=').ok_or_else(bad)?;
            let (s, en) = rest.split_once('/').ok_or_else(bad)?;
            overrides.push(Occurrence {
                recurrence_id: parse_ical_time("moved", rid, all_day)?,
                start: parse_ical_time("moved", s, all_day)?,
                end: parse_ical_time("moved", en, all_day)?,
                ..Default::default()
            });
        }
        for c in i.cancelled.iter().flatten() {
            let rid = parse_ical_time("cancelled", c, all_day)?;
            overrides.push(Occurrence {
                recurrence_id: rid.clone(),
                start: rid.clone(),
                end: rid,
                cancelled: true,
                ..Default::default()
            });
        }
        e.overrides = overrides;
    }
    if (!e.exdates.is_empty() || !e.overrides.is_empty()) && e.rrule.is_none() {
        return Err(CoreError::invalid("recurrence", "exdates and exceptions need a recurrence").into());
    }
    if let Some(o) = &i.organizer {
        e.organizer = match opt_text(Some(o)) {
            Some(o) => Some(person("organizer", &o, true)?),
            None => None,
        };
    }
    if i.attendees.is_some() || i.optional_attendees.is_some() {
        let mut list = Vec::new();
        for a in i.attendees.iter().flatten() {
            list.push(person("attendee", a, true)?);
        }
        for a in i.optional_attendees.iter().flatten() {
            list.push(person("optional-attendee", a, false)?);
        }
        e.attendees = list;
    }
    Ok(())
}

/// Adds an appointment.
pub fn add_appointment(store: &mut Store, i: &AppointmentInput) -> Result<AppointmentView> {
    let mut e = EventItem { uid: new_uid(), ..Default::default() };
    if i.subject.as_deref().is_none_or(|s| s.trim().is_empty()) {
        return Err(CoreError::invalid("subject", "is required").into());
    }
    apply_event(&mut e, i)?;
    let e = normalized_event(e);
    let reg = match &i.regarding {
        Some(r) => regarding(store, r)?,
        None => None,
    };
    let owner = match &i.owner {
        Some(o) => owner_ids(store, "owner", o)?,
        None => OwnerIds::default(),
    };
    let id = store.write(|tx| appointments::insert(tx, &e, reg, owner))?;
    Ok(appointments::view(store.conn(), id)?)
}

fn normalized_event(e: EventItem) -> EventItem {
    let Item::Appointment(e) = Item::Appointment(e).normalized() else { unreachable!() };
    e
}

/// Changes an appointment (only what is given).
pub fn update_appointment(store: &mut Store, id: &str, i: &AppointmentInput) -> Result<AppointmentView> {
    let id = id_of("id", id, "appointment")?;
    let mut e = appointments::get(store.conn(), id)?.item;
    apply_event(&mut e, i)?;
    if e.summary.is_empty() {
        return Err(CoreError::invalid("subject", "must not be empty").into());
    }
    let e = normalized_event(e);
    let reg = match &i.regarding {
        Some(r) => Some(regarding(store, r)?),
        None => None,
    };
    let owner = match &i.owner {
        Some(o) => Some(owner_ids(store, "owner", o)?),
        None => None,
    };
    store.write(|tx| -> Result<()> {
        appointments::update(tx, id, &e)?;
        appointments::set_regarding_owner(tx, id, reg, owner)?;
        Ok(())
    })?;
    Ok(appointments::view(store.conn(), id)?)
}

/// Deletes an appointment or a task (the sync mirrors the delete).
pub fn delete_activity(store: &mut Store, id: &str, what: &str) -> Result<()> {
    let id = id_of("id", id, what)?;
    let exists = match what {
        "task" => tasks::rows(store.conn(), Some(id))?.pop().is_some(),
        _ => appointments::rows(store.conn(), Some(id))?.pop().is_some(),
    };
    if !exists {
        return Err(CoreError::invalid("id", format!("no {what} {id}")).into());
    }
    store.write(|tx| appointments::delete(tx, id))?;
    Ok(())
}

/// One appointment.
pub fn show_appointment(store: &Store, id: &str) -> Result<AppointmentView> {
    Ok(appointments::view(store.conn(), id_of("id", id, "appointment")?)?)
}

/// Every appointment, by start.
pub fn list_appointments(store: &Store) -> Result<Vec<AppointmentView>> {
    appointments::list_ids(store.conn())?
        .into_iter()
        .map(|id| Ok(appointments::view(store.conn(), id)?))
        .collect()
}

/// Raw task input; on update only what is `Some` changes.
#[derive(Debug, Clone, Default)]
pub struct TaskInput {
    /// Subject.
    pub subject: Option<String>,
    /// Body.
    pub body: Option<String>,
    /// Due: a date or a date-time.
    pub due: Option<String>,
    /// not_started, in_progress, waiting, completed, deferred.
    pub status: Option<String>,
    /// low, normal, high.
    pub priority: Option<String>,
    /// 0-100.
    pub percent_complete: Option<String>,
    /// TYPE:KEY.
    pub regarding: Option<String>,
    /// Owner's address.
    pub owner: Option<String>,
}

fn apply_task(t: &mut TaskItem, i: &TaskInput) -> Result<()> {
    if let Some(s) = &i.subject {
        t.summary = s.trim().to_string();
    }
    if let Some(b) = &i.body {
        t.description = opt_text(Some(b));
    }
    if let Some(d) = &i.due {
        t.due = match opt_text(Some(d)) {
            Some(d) => Some(parse_ical_time("due", &d, d.len() == 10)?),
            None => None,
        };
    }
    if let Some(s) = &i.status {
        t.status = TaskStatus::parse("status", &s.replace('-', "_"))?;
    }
    if let Some(p) = &i.priority {
        t.priority = TaskPriority::parse("priority", p)?;
    }
    if let Some(p) = parse_num("percent-complete", i.percent_complete.as_deref(), 0, 100)? {
        t.percent_complete = p as u8;
    }
    if t.summary.is_empty() {
        return Err(CoreError::invalid("subject", "is required").into());
    }
    Ok(())
}

/// Adds a task.
pub fn add_task(store: &mut Store, i: &TaskInput) -> Result<TaskView> {
    let mut t = TaskItem {
        uid: new_uid(),
        summary: String::new(),
        description: None,
        due: None,
        status: TaskStatus::NotStarted,
        priority: TaskPriority::Normal,
        percent_complete: 0,
    };
    apply_task(&mut t, i)?;
    let reg = match &i.regarding {
        Some(r) => regarding(store, r)?,
        None => None,
    };
    let owner = match &i.owner {
        Some(o) => owner_ids(store, "owner", o)?,
        None => OwnerIds::default(),
    };
    let id = store.write(|tx| tasks::insert(tx, &t, reg, owner))?;
    Ok(tasks::view(store.conn(), id)?)
}

/// Changes a task.
pub fn update_task(store: &mut Store, id: &str, i: &TaskInput) -> Result<TaskView> {
    let id = id_of("id", id, "task")?;
    let mut t = tasks::get(store.conn(), id)?.item;
    apply_task(&mut t, i)?;
    let reg = match &i.regarding {
        Some(r) => Some(regarding(store, r)?),
        None => None,
    };
    let owner = match &i.owner {
        Some(o) => Some(owner_ids(store, "owner", o)?),
        None => None,
    };
    store.write(|tx| -> Result<()> {
        tasks::update(tx, id, &t)?;
        appointments::set_regarding_owner(tx, id, reg, owner)?;
        Ok(())
    })?;
    Ok(tasks::view(store.conn(), id)?)
}

/// One task.
pub fn show_task(store: &Store, id: &str) -> Result<TaskView> {
    Ok(tasks::view(store.conn(), id_of("id", id, "task")?)?)
}

/// Every task.
pub fn list_tasks(store: &Store) -> Result<Vec<TaskView>> {
    tasks::list_ids(store.conn())?.into_iter().map(|id| Ok(tasks::view(store.conn(), id)?)).collect()
}

/// Raw contact input; on update only what is `Some` changes.
#[derive(Debug, Clone, Default)]
pub struct ContactInput {
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Up to three addresses, primary first (replace the list when given).
    pub emails: Option<Vec<String>>,
    /// Company.
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
    /// Region.
    pub region: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Owning user's address.
    pub owner: Option<String>,
}

fn apply_contact(c: &mut ContactItem, i: &ContactInput) -> Result<()> {
    for (dst, src) in [
        (&mut c.first_name, &i.first_name),
        (&mut c.last_name, &i.last_name),
        (&mut c.company, &i.company),
        (&mut c.phone, &i.phone),
        (&mut c.mobile_phone, &i.mobile_phone),
        (&mut c.street, &i.street),
        (&mut c.city, &i.city),
        (&mut c.postal_code, &i.postal_code),
        (&mut c.region, &i.region),
        (&mut c.country, &i.country),
    ] {
        if let Some(v) = src {
            *dst = opt_text(Some(v));
        }
    }
    if let Some(list) = &i.emails {
        if list.len() > 3 {
            return Err(CoreError::invalid("email", "at most three addresses").into());
        }
        c.emails = list.iter().map(|e| address::validate("email", e)).collect::<crmsync_core::Result<_>>()?;
    }
    if c.first_name.is_none() && c.last_name.is_none() && c.emails.is_empty() && c.company.is_none() {
        return Err(
            CoreError::invalid("last-name", "a contact needs a name, an email address or a company").into()
        );
    }
    Ok(())
}

fn user_id(store: &Store, raw: &str) -> Result<i64> {
    Ok(principals::find(store.conn(), Kind::User, raw.trim())?
        .ok_or_else(|| CoreError::invalid("owner", format!("no user {}", raw.trim())))?
        .id)
}

/// Adds a contact.
pub fn add_contact(store: &mut Store, i: &ContactInput) -> Result<Contact> {
    let mut c = ContactItem { uid: new_uid(), ..Default::default() };
    apply_contact(&mut c, i)?;
    let Item::Contact(c) = Item::Contact(c).normalized() else { unreachable!() };
    let owner = match &i.owner {
        Some(o) => Some(user_id(store, o)?),
        None => None,
    };
    let id = store.write(|tx| records::insert_contact(tx, &records::contact_from_item(&c), owner))?;
    Ok(records::get_contact(store.conn(), id)?)
}

/// Changes a contact.
pub fn update_contact(store: &mut Store, id: &str, i: &ContactInput) -> Result<Contact> {
    let id = id_of("id", id, "contact")?;
    let current = records::get_contact(store.conn(), id)?;
    let mut c = records::contact_item(&current);
    apply_contact(&mut c, i)?;
    let Item::Contact(c) = Item::Contact(c).normalized() else { unreachable!() };
    let owner = match &i.owner {
        Some(o) => Some(Some(user_id(store, o)?)),
        None => None,
    };
    store.write(|tx| records::update_contact(tx, id, &records::contact_from_item(&c), owner))?;
    Ok(records::get_contact(store.conn(), id)?)
}

/// Deletes a contact (the sync mirrors the delete).
pub fn delete_contact(store: &mut Store, id: &str) -> Result<()> {
    let id = id_of("id", id, "contact")?;
    records::get_contact(store.conn(), id)?;
    store.write(|tx| records::delete_contact(tx, id))?;
    Ok(())
}

/// One contact.
pub fn show_contact(store: &Store, id: &str) -> Result<Contact> {
    Ok(records::get_contact(store.conn(), id_of("id", id, "contact")?)?)
}

/// A mailbox's ACT settings as shown.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ActSettingsView {
    /// Mailbox address.
    pub mailbox: String,
    /// Filter and directions.
    #[serde(flatten)]
    pub config: crmsync_core::act::ActConfig,
    /// The remembered collections with their brake state.
    pub collections: Vec<crmsync_core::store::act::Collection>,
}

/// Shows, or with `filters` / `directions` changes, a mailbox's ACT filter and field directions.
pub fn act_settings(
    store: &mut Store,
    email: &str,
    filters: Option<&str>,
    directions: &[String],
) -> Result<ActSettingsView> {
    use crmsync_core::act::ActConfig;
    use crmsync_core::store::{act as act_store, mailboxes};
    let mb = mailboxes::find(store.conn(), email)?
        .ok_or_else(|| CoreError::invalid("email", format!("no mailbox for {email}")))?;
    let mut cfg = act_store::mailbox_config(store.conn(), mb.id)?;
    if let Some(f) = filters {
        cfg.filters = ActConfig::parse_filters("filter", f)?;
    }
    for d in directions {
        let (f, dir) = ActConfig::parse_direction("direction", d)?;
        cfg.directions.set(f, dir);
    }
    if filters.is_some() || !directions.is_empty() {
        store.write(|tx| act_store::set_mailbox_config(tx, mb.id, &cfg))?;
    }
    Ok(ActSettingsView {
        mailbox: mb.data.email,
        config: cfg,
        collections: act_store::collections(store.conn(), mb.id)?,
    })
}
