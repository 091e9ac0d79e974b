//! Appointments: an activity row plus the `appointments` row and its
//! organizer/attendee parties. The typed content is [`EventItem`], the same
//! shape the CalDAV converter produces.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::act::item::{Attendee, EventItem, Occurrence};
use crate::error::{CoreError, Result};
use crate::model::{RecordRef, RecordType};
use crate::resolution::{self, Role};
use crate::store::activities::PartyView;
use crate::store::emails::Lookups;
use crate::store::records::record_name;
use crate::time::now_db;

/// Who owns an activity: a user or a queue (or nobody).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnerIds {
    /// Owning user.
    pub user_id: Option<i64>,
    /// Owning queue.
    pub queue_id: Option<i64>,
}

/// An attendee as shown: address, name, required/optional and the CRM record it resolved to.
#[derive(Debug, Clone, Serialize)]
pub struct AttendeeView {
    /// Address.
    pub address: String,
    /// Display name.
    pub name: Option<String>,
    /// required or optional.
    pub role: String,
    /// The CRM record, or null when unresolved.
    pub resolved: Option<RecordRef>,
}

/// An appointment as `appointment show` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct AppointmentView {
    /// Activity id.
    pub id: i64,
    /// iCalendar UID.
    pub uid: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// Start.
    pub start: String,
    /// End.
    pub end: String,
    /// All-day.
    pub all_day: bool,
    /// Time zone of local times.
    pub time_zone: Option<String>,
    /// RRULE.
    pub recurrence: Option<String>,
    /// Excluded occurrences.
    pub exdates: Vec<String>,
    /// Moved or cancelled occurrences.
    pub exceptions: Vec<Occurrence>,
    /// Organizer.
    pub organizer: Option<PartyView>,
    /// Attendees.
    pub attendees: Vec<AttendeeView>,
    /// Regarding record.
    pub regarding: Option<RecordRef>,
    /// Owning user's or queue's address.
    pub owner: Option<String>,
    /// open, completed or canceled.
    pub state: String,
    /// Version, bumped on every change.
    pub version: i64,
    /// Last change.
    pub modified_on: String,
}

pub(crate) fn resolve_party(conn: &Connection, address: &str, name: Option<&str>) -> Option<RecordRef> {
    let opts = resolution::Options::default();
    resolution::resolve(Role::From, address, name, &Lookups::new(conn), opts).into_iter().next()?.record
}

fn write_parties(conn: &Connection, id: i64, e: &EventItem) -> Result<()> {
    conn.execute("DELETE FROM activity_parties WHERE activity_id = ?1", [id])?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO activity_parties (activity_id, role, address, name, record_type, record_id, position) \
         VALUES (?1,?2,?3,?4,?5,?6,?7)",
    )?;
    let all = e
        .organizer
        .iter()
        .map(|o| ("organizer", o))
        .chain(e.attendees.iter().map(|a| (if a.required { "required" } else { "optional" }, a)));
    for (i, (role, p)) in all.enumerate() {
        let rec = resolve_party(conn, &p.email, p.name.as_deref());
        stmt.execute(params![
            id,
            role,
            p.email,
            p.name,
            rec.as_ref().map(|r| r.record_type.as_str()),
            rec.as_ref().map(|r| r.id),
            i as i64
        ])?;
    }
    Ok(())
}

fn state_of(e: &EventItem) -> &'static str {
    if e.cancelled { "canceled" } else { "open" }
}

/// Inserts an appointment; returns its activity id. A UID already used is refused naming `uid`.
pub fn insert(
    conn: &Connection,
    e: &EventItem,
    regarding: Option<(RecordType, i64)>,
    owner: OwnerIds,
) -> Result<i64> {
    let now = now_db();
    conn.execute(
        "INSERT INTO activities (type, subject, regarding_type, regarding_id, owner_user_id, owner_queue_id, \
         state, created_on, modified_on) VALUES ('appointment', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![
            e.summary,
            regarding.map(|r| r.0.as_str()),
            regarding.map(|r| r.1),
            owner.user_id,
            owner.queue_id,
            state_of(e),
            now
        ],
    )?;
    let id = conn.last_insert_rowid();
    crate::store::activities::set_body(conn, id, e.description.as_deref(), None)?;
    conn.execute(
        "INSERT INTO appointments (activity_id, uid, location, starts_on, ends_on, all_day, time_zone, rrule, exdates, overrides) \
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
        params![
            id,
            e.uid,
            e.location,
            e.start,
            e.end,
            e.all_day,
            e.time_zone,
            e.rrule,
            serde_json::to_string(&e.exdates).expect("json"),
            serde_json::to_string(&e.overrides).expect("json"),
        ],
    )
    .map_err(crate::store::unique_to_exists("appointment with uid", &e.uid))?;
    write_parties(conn, id, e)?;
    Ok(id)
}

/// Replaces the content of appointment `id` and bumps its version.
pub fn update(conn: &Connection, id: i64, e: &EventItem) -> Result<()> {
    let n = conn.execute(
        "UPDATE activities SET subject = ?2, state = ?3, version = version + 1, modified_on = ?4 \
         WHERE id = ?1 AND type = 'appointment'",
        params![id, e.summary, state_of(e), now_db()],
    )?;
    if n == 0 {
        return Err(CoreError::not_found("appointment", id.to_string()));
    }
    crate::store::activities::set_body(conn, id, e.description.as_deref(), None)?;
    conn.execute(
        "UPDATE appointments SET uid = ?2, location = ?3, starts_on = ?4, ends_on = ?5, all_day = ?6, time_zone = ?7, \
         rrule = ?8, exdates = ?9, overrides = ?10 WHERE activity_id = ?1",
        params![
            id,
            e.uid,
            e.location,
            e.start,
            e.end,
            e.all_day,
            e.time_zone,
            e.rrule,
            serde_json::to_string(&e.exdates).expect("json"),
            serde_json::to_string(&e.overrides).expect("json"),
        ],
    )
    .map_err(crate::store::unique_to_exists("appointment with uid", &e.uid))?;
    write_parties(conn, id, e)
}

/// Sets the regarding record and owner of an activity (appointment or task).
pub fn set_regarding_owner(
    conn: &Connection,
    id: i64,
    regarding: Option<Option<(RecordType, i64)>>,
    owner: Option<OwnerIds>,
) -> Result<()> {
    if let Some(r) = regarding {
        conn.execute(
            "UPDATE activities SET regarding_type = ?2, regarding_id = ?3, version = version + 1, modified_on = ?4 WHERE id = ?1",
            params![id, r.map(|r| r.0.as_str()), r.map(|r| r.1), now_db()],
        )?;
    }
    if let Some(o) = owner {
        conn.execute(
            "UPDATE activities SET owner_user_id = ?2, owner_queue_id = ?3, version = version + 1, modified_on = ?4 WHERE id = ?1",
            params![id, o.user_id, o.queue_id, now_db()],
        )?;
    }
    Ok(())
}

/// Deletes an activity (appointment or task) with its parties.
pub fn delete(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.execute("DELETE FROM activities WHERE id = ?1 AND type IN ('appointment', 'task')", [id])? > 0)
}

/// A party row: (role, lower-case address, resolved record).
pub type PartyRow = (String, String, Option<(RecordType, i64)>);

type PartyLine = (i64, String, String, Option<String>, Option<(RecordType, i64)>);

/// The facts the sync filter looks at, plus the item.
#[derive(Debug, Clone)]
pub struct AppointmentRow {
    /// Activity id.
    pub id: i64,
    /// Content.
    pub item: EventItem,
    /// Version.
    pub version: i64,
    /// Last change (RFC 3339).
    pub modified_on: String,
    /// Owner.
    pub owner: OwnerIds,
    /// Parties: (role, lower-case address, resolved record).
    pub parties: Vec<PartyRow>,
}

fn parties_of(conn: &Connection, id: Option<i64>) -> Result<Vec<PartyLine>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.activity_id, p.role, lower(coalesce(p.address, '')), p.name, p.record_type, p.record_id \
         FROM activity_parties p JOIN activities a ON a.id = p.activity_id \
         WHERE a.type = 'appointment' AND (?1 IS NULL OR p.activity_id = ?1) ORDER BY p.activity_id, p.position",
    )?;
    let rows = stmt.query_map([id], |r| {
        let t: Option<String> = r.get(4)?;
        let rid: Option<i64> = r.get(5)?;
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            t.and_then(|t| RecordType::parse("record_type", &t).ok()).zip(rid),
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every appointment (or just `id`) with what the sync needs.
pub fn rows(conn: &Connection, id: Option<i64>) -> Result<Vec<AppointmentRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, p.uid, a.subject, b.body_text, p.location, p.starts_on, p.ends_on, p.all_day, p.time_zone, p.rrule, \
         p.exdates, p.overrides, a.state, a.version, a.modified_on, a.owner_user_id, a.owner_queue_id \
         FROM activities a JOIN appointments p ON p.activity_id = a.id \
         LEFT JOIN activity_bodies b ON b.activity_id = a.id WHERE (?1 IS NULL OR a.id = ?1) ORDER BY a.id",
    )?;
    let mut out: Vec<AppointmentRow> = stmt
        .query_map([id], |r| {
            let exdates: String = r.get(10)?;
            let overrides: String = r.get(11)?;
            let state: String = r.get(12)?;
            Ok(AppointmentRow {
                id: r.get(0)?,
                item: EventItem {
                    uid: r.get(1)?,
                    summary: r.get(2)?,
                    description: r.get(3)?,
                    location: r.get(4)?,
                    start: r.get(5)?,
                    end: r.get(6)?,
                    all_day: r.get(7)?,
                    time_zone: r.get(8)?,
                    rrule: r.get(9)?,
                    exdates: serde_json::from_str(&exdates).unwrap_or_default(),
                    overrides: serde_json::from_str(&overrides).unwrap_or_default(),
                    organizer: None,
                    attendees: Vec::new(),
                    cancelled: state == "canceled",
                },
                version: r.get(13)?,
                modified_on: r.get(14)?,
                owner: OwnerIds { user_id: r.get(15)?, queue_id: r.get(16)? },
                parties: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let index: std::collections::HashMap<i64, usize> =
        out.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
    for (aid, role, address, name, rec) in parties_of(conn, id)? {
        let Some(&i) = index.get(&aid) else { continue };
        let a = &mut out[i];
        let person = Attendee { email: address.clone(), name, required: role != "optional" };
        if role == "organizer" {
            a.item.organizer = Some(person);
        } else {
            a.item.attendees.push(person);
        }
        a.parties.push((role, address, rec));
    }
    for a in &mut out {
        let mut it = crate::act::Item::Appointment(std::mem::take(&mut a.item));
        it.normalize();
        let crate::act::Item::Appointment(e) = it else { unreachable!() };
        a.item = e;
    }
    Ok(out)
}

/// One appointment's content.
pub fn get(conn: &Connection, id: i64) -> Result<AppointmentRow> {
    rows(conn, Some(id))?.pop().ok_or_else(|| CoreError::invalid("id", format!("no appointment {id}")))
}

/// The appointment with this UID, if any.
pub fn find_by_uid(conn: &Connection, uid: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row("SELECT activity_id FROM appointments WHERE uid = ?1", [uid], |r| r.get(0))
        .optional()?)
}

fn regarding_ref(conn: &Connection, id: i64) -> Result<(Option<RecordRef>, Option<String>, String)> {
    let (t, rid, ou, oq, state): (Option<String>, Option<i64>, Option<i64>, Option<i64>, String) = conn.query_row(
        "SELECT regarding_type, regarding_id, owner_user_id, owner_queue_id, state FROM activities WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    let regarding = match (t, rid) {
        (Some(t), Some(rid)) => {
            let record_type = RecordType::parse("regarding_type", &t)?;
            Some(RecordRef {
                record_type,
                id: rid,
                name: record_name(conn, record_type, rid)?.unwrap_or_default(),
            })
        }
        _ => None,
    };
    let owner = match (ou, oq) {
        (Some(u), _) => {
            conn.query_row("SELECT email FROM users WHERE id = ?1", [u], |r| r.get(0)).optional()?
        }
        (_, Some(q)) => {
            conn.query_row("SELECT email FROM queues WHERE id = ?1", [q], |r| r.get(0)).optional()?
        }
        _ => None,
    };
    Ok((regarding, owner, state))
}

pub(crate) fn owner_and_regarding(
    conn: &Connection,
    id: i64,
) -> Result<(Option<RecordRef>, Option<String>, String)> {
    regarding_ref(conn, id)
}

/// The view `appointment show` prints.
pub fn view(conn: &Connection, id: i64) -> Result<AppointmentView> {
    let row = get(conn, id)?;
    let (regarding, owner, state) = regarding_ref(conn, id)?;
    let mk = |role: &str, address: &str, rec: &Option<(RecordType, i64)>| -> Result<Option<RecordRef>> {
        let _ = role;
        let _ = address;
        Ok(match rec {
            Some((t, rid)) => Some(RecordRef {
                record_type: *t,
                id: *rid,
                name: record_name(conn, *t, *rid)?.unwrap_or_default(),
            }),
            None => None,
        })
    };
    let mut organizer = None;
    let mut attendees = Vec::new();
    for (role, address, rec) in &row.parties {
        let resolved = mk(role, address, rec)?;
        let name = if role == "organizer" {
            row.item.organizer.as_ref().and_then(|o| o.name.clone())
        } else {
            row.item.attendees.iter().find(|a| &a.email == address).and_then(|a| a.name.clone())
        };
        if role == "organizer" {
            organizer = Some(PartyView { address: Some(address.clone()), name, resolved });
        } else {
            attendees.push(AttendeeView { address: address.clone(), name, role: role.clone(), resolved });
        }
    }
    let e = row.item;
    Ok(AppointmentView {
        id,
        uid: e.uid,
        subject: e.summary,
        body: e.description,
        location: e.location,
        start: e.start,
        end: e.end,
        all_day: e.all_day,
        time_zone: e.time_zone,
        recurrence: e.rrule,
        exdates: e.exdates,
        exceptions: e.overrides,
        organizer,
        attendees,
        regarding,
        owner,
        state,
        version: row.version,
        modified_on: row.modified_on,
    })
}

/// Ids of every appointment, by start.
pub fn list_ids(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare("SELECT activity_id FROM appointments ORDER BY starts_on, activity_id")?;
    Ok(stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?)
}
