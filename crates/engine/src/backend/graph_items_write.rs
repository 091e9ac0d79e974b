//! The calendar side of [`GraphItems`] (a delta round over the calendar
//! window, series read as master plus instances) and every write: create
//! (POST), update (PATCH with `If-Match`; a series' exceptions and deleted
//! occurrences applied to its instances) and delete (DELETE with `If-Match`).

use std::collections::{BTreeMap, BTreeSet};

use crmsync_core::act::item::{ContactItem, EventItem};
use crmsync_protocols::ProtocolError;
use crmsync_protocols::dav::WriteError;
use crmsync_protocols::graph::convert;
use crmsync_protocols::graph::{Contact, Event, EventType, TodoTask};
use serde::de::DeserializeOwned;

use super::graph_items::{GraphItems, Kind, Round, member_etag, split_etag};
use super::graph_items_text::{Written, event_text, parse_written};
use crate::error::{EngineError, Result};

/// Marks the member etag of a series (its instances are read with it).
const SERIES: &str = "|series";

/// (Graph id, Graph etag) of a member etag, without the series mark.
fn graph_etag(etag: &str) -> Option<(&str, &str)> {
    split_etag(etag).map(|(id, e)| (id, e.strip_suffix(SERIES).unwrap_or(e)))
}

/// Leaves out of an update what the CRM did not change, so what Graph holds
/// beyond crmsync's fields (email display names, further phones, the home
/// address) stays.
fn unchanged_contact_fields(graph: &mut Contact, old: &ContactItem, new: &ContactItem) {
    if old.first_name == new.first_name && old.last_name == new.last_name {
        (graph.given_name, graph.surname, graph.display_name) = (None, None, None);
    }
    if old.emails == new.emails {
        graph.email_addresses = None;
    }
    if old.phone == new.phone {
        graph.business_phones = None;
    }
    if old.mobile_phone == new.mobile_phone {
        graph.mobile_phone = None;
    }
    if old.company == new.company {
        graph.company_name = None;
    }
    let address = |c: &ContactItem| {
        (c.street.clone(), c.city.clone(), c.postal_code.clone(), c.region.clone(), c.country.clone())
    };
    if address(old) == address(new) {
        graph.business_address = None;
    }
}

/// Leaves out of an event update what the CRM did not change: an HTML body
/// stays HTML, and attendees are not sent again (which would resend
/// invitations and reset their answers).
fn unchanged_event_fields(graph: &mut Event, old: &EventItem, new: &EventItem) {
    if old.description == new.description {
        graph.body = None;
    }
    if old.location == new.location {
        graph.location = None;
    }
    let people = |e: &EventItem| {
        let mut v: Vec<_> = e
            .attendees
            .iter()
            .filter(|a| e.organizer.as_ref().is_none_or(|o| o.email != a.email))
            .map(|a| (a.email.clone(), a.required))
            .collect();
        v.sort();
        v
    };
    if people(old) == people(new) {
        graph.attendees = None;
    }
}

impl GraphItems {
    /// The server's version of `href` as read in this cycle, if it was.
    fn before(&self, href: &str) -> Option<Written> {
        let text = self.state().cache.get(href).map(|(_, t)| t.clone())?;
        parse_written(&text).ok()
    }

    /// One calendarView delta round: single events directly, series (any
    /// of whose instances changed) read again as master plus instances.
    pub(crate) async fn calendar_round(&self, url: &str, token: Option<&str>) -> Result<Round> {
        let (lo, hi) = self.window();
        let first = self.client.mailbox().calendar_view_delta(&lo, &hi, 100);
        let req = token.map_or_else(|| first.clone(), |t| first.follow(t));
        let (items, link): (Vec<Event>, _) = self.client.collect(&req).await?;
        let mut r = Round { changed: vec![], removed: vec![], token: link, full: false };
        let mut masters = BTreeSet::new();
        let mut unknown_removed = false;
        for ev in items {
            if ev.removed.is_some() {
                match self.state().hrefs.get(&ev.id) {
                    Some(h) => r.removed.push(h.clone()),
                    None => unknown_removed = true,
                }
                continue;
            }
            match (&ev.kind, &ev.series_master_id) {
                (Some(EventType::Occurrence | EventType::Exception), Some(m)) => {
                    masters.insert(m.clone());
                }
                (Some(EventType::SeriesMaster), _) => {
                    masters.insert(ev.id.clone());
                }
                _ => {
                    let href = self.href_of(url, &ev.id);
                    let etag = member_etag(&ev.id, ev.etag.as_deref().unwrap_or_default());
                    let text = event_text(&ev, &[], self.lo, self.hi);
                    self.state().cache.insert(href.clone(), (etag.clone(), text));
                    r.changed.push((href, etag));
                }
            }
        }
        if unknown_removed {
            // An occurrence (or a whole series, instance by instance) went:
            // every series crmsync knows is read again.
            let known: Vec<String> = self.state().series.iter().cloned().collect();
            masters.extend(known);
        }
        for id in masters {
            let href = self.href_of(url, &id);
            match self.read_event(&id).await? {
                Some((etag, text)) => {
                    self.state().cache.insert(href.clone(), (etag.clone(), text));
                    r.changed.push((href, etag));
                }
                None => r.removed.push(href),
            }
        }
        Ok(r)
    }

    /// An event or series by id: (member etag, text), or None when gone.
    pub(crate) async fn read_event(&self, id: &str) -> Result<Option<(String, String)>> {
        let mb = self.client.mailbox();
        let master: Event = match self.client.json(&mb.event(id)).await {
            Ok(m) => m,
            Err(ProtocolError::ItemNotFound { .. }) => {
                self.state().series.remove(id);
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let mut etag = member_etag(&master.id, master.etag.as_deref().unwrap_or_default());
        let instances = if master.recurrence.is_some() {
            etag.push_str(SERIES);
            self.state().series.insert(master.id.clone());
            let (lo, hi) = self.window();
            self.client.collect::<Event>(&mb.event_instances(&master.id, &lo, &hi)).await?.0
        } else {
            vec![]
        };
        let text = event_text(&master, &instances, self.lo, self.hi);
        Ok(Some((etag, text)))
    }

    fn reply<T: DeserializeOwned>(&self, href: &str, body: &[u8]) -> std::result::Result<T, WriteError> {
        serde_json::from_slice(body)
            .map_err(|e| WriteError::Protocol(self.bad(href, format!("unreadable answer: {e}"))))
    }

    /// Writes what the engine rendered for `href`: a create when `if_match`
    /// is None, else an update of the version it names.
    pub(crate) async fn write_item(
        &self,
        href: &str,
        body: &str,
        if_match: Option<&str>,
    ) -> std::result::Result<String, WriteError> {
        let (_, kind) =
            self.owner(href).ok_or_else(|| self.bad(href, "not in a collection of this mailbox".into()))?;
        let written = parse_written(body).map_err(|e| self.bad(href, e))?;
        let target = match if_match {
            None => {
                if self.state().ids.contains_key(href) {
                    return Err(WriteError::PreconditionFailed);
                }
                None
            }
            Some(m) => {
                let (id, etag) = match graph_etag(m) {
                    Some((id, e)) => (id.to_string(), e.to_string()),
                    None => (self.id_of(href).ok_or(WriteError::PreconditionFailed)?, m.to_string()),
                };
                Some((id, etag))
            }
        };
        let mb = self.client.mailbox();
        let conv = |e: convert::ConvertError| WriteError::Protocol(self.bad(href, e.to_string()));
        match (kind, written) {
            (Kind::Contacts, Written::Contact(c)) => {
                let mut graph = convert::contact_from_item(&c);
                if let (Some(Written::Contact(old)), Some(_)) = (self.before(href), &target) {
                    unchanged_contact_fields(&mut graph, &old, &c);
                }
                let req = match &target {
                    None => mb.create_contact(&graph),
                    Some((id, etag)) => mb.update_contact(id, &graph, Some(etag)),
                };
                let got: Contact = self.reply(href, &self.send_write(&req).await?)?;
                self.learn(href, &got.id);
                Ok(member_etag(&got.id, got.etag.as_deref().unwrap_or_default()))
            }
            (Kind::Tasks(list), Written::Task(t)) => {
                let mut graph = convert::task_from_item(&t).map_err(conv)?;
                if let (Some(Written::Task(old)), Some(_)) = (self.before(href), &target) {
                    if old.description == t.description {
                        graph.body = None;
                    }
                    if old.due == t.due {
                        graph.due_date_time = None;
                    }
                }
                let req = match &target {
                    None => mb.create_todo_task(&list, &graph),
                    Some((id, etag)) => mb.update_todo_task(&list, id, &graph, Some(etag)),
                };
                let got: TodoTask = self.reply(href, &self.send_write(&req).await?)?;
                self.learn(href, &got.id);
                Ok(member_etag(&got.id, got.etag.as_deref().unwrap_or_default()))
            }
            (Kind::Calendar, Written::Event(e)) => self.write_event(href, &e, target).await,
            _ => Err(WriteError::Protocol(
                self.bad(href, "the item is of another kind than its collection".into()),
            )),
        }
    }

    async fn write_event(
        &self,
        href: &str,
        e: &EventItem,
        target: Option<(String, String)>,
    ) -> std::result::Result<String, WriteError> {
        let mb = self.client.mailbox();
        let mut graph =
            convert::event_from_item(e).map_err(|x| WriteError::Protocol(self.bad(href, x.to_string())))?;
        let id = match target {
            None => {
                let got: Event = self.reply(href, &self.send_write(&mb.create_event(&graph)).await?)?;
                self.learn(href, &got.id);
                got.id
            }
            Some((id, etag)) => {
                let now: Event = match self.client.json(&mb.event(&id)).await {
                    Ok(n) => n,
                    Err(ProtocolError::ItemNotFound { .. }) => return Err(WriteError::PreconditionFailed),
                    Err(x) => return Err(x.into()),
                };
                if now.etag.as_deref() != Some(etag.as_str()) {
                    return Err(WriteError::PreconditionFailed);
                }
                // The recurrence is sent only when it changes: Graph drops a
                // series' exceptions when it is given again.
                let same = |r: &Option<_>| r.as_ref().map(convert::recurrence_to_rrule).and_then(|r| r.ok());
                if same(&now.recurrence) == same(&graph.recurrence) && now.start == graph.start {
                    graph.recurrence = None;
                }
                graph.transaction_id = None;
                if let Ok(old) = convert::event_to_item(&now, &[], self.lo, self.hi) {
                    unchanged_event_fields(&mut graph, &old, e);
                }
                self.send_write(&mb.update_event(&id, &graph, Some(&etag))).await?;
                id
            }
        };
        if e.rrule.is_some() {
            self.write_instances(href, &id, e).await?;
        }
        match self.read_event(&id).await {
            Ok(Some((etag, _))) => Ok(etag),
            Ok(None) => Err(WriteError::PreconditionFailed),
            Err(EngineError::Protocol(x)) => Err(WriteError::Protocol(x)),
            Err(x) => Err(WriteError::Protocol(self.bad(href, x.to_string()))),
        }
    }

    /// Makes the series' instances match the overrides and EXDATEs of `e`:
    /// a moved or changed occurrence is patched, a deleted one deleted.
    async fn write_instances(
        &self,
        href: &str,
        id: &str,
        e: &EventItem,
    ) -> std::result::Result<(), WriteError> {
        let mb = self.client.mailbox();
        let (lo, hi) = self.window();
        let (instances, _) = self.client.collect::<Event>(&mb.event_instances(id, &lo, &hi)).await?;
        let overrides: BTreeMap<&str, _> =
            e.overrides.iter().map(|o| (o.recurrence_id.as_str(), o)).collect();
        for inst in &instances {
            let rid = convert::recurrence_id(inst, e.all_day)
                .map_err(|x| WriteError::Protocol(self.bad(href, x.to_string())))?;
            let o = overrides.get(rid.as_str());
            if e.exdates.contains(&rid) || o.is_some_and(|o| o.cancelled) {
                self.send_write(&mb.delete_event(&inst.id, None)).await?;
                continue;
            }
            let Some(o) = o else { continue };
            let now = convert::event_to_item(inst, &[], self.lo, self.hi).ok();
            let unchanged = now.is_some_and(|n| {
                n.start == o.start
                    && n.end == o.end
                    && Some(&n.summary) == o.summary.as_ref()
                    && (o.location.is_none() || n.location == o.location)
            });
            if !unchanged {
                let patch = convert::instance_patch(o, e.time_zone.as_deref())
                    .map_err(|x| WriteError::Protocol(self.bad(href, x.to_string())))?;
                self.send_write(&mb.update_event(&inst.id, &patch, None)).await?;
            }
        }
        Ok(())
    }

    /// Deletes `href` if it still has `etag` (when given); gone already is done.
    pub(crate) async fn delete_item(
        &self,
        href: &str,
        etag: Option<&str>,
    ) -> std::result::Result<(), WriteError> {
        let (_, kind) =
            self.owner(href).ok_or_else(|| self.bad(href, "not in a collection of this mailbox".into()))?;
        let (id, tag) = match etag.and_then(graph_etag) {
            Some((id, e)) => (id.to_string(), Some(e.to_string())),
            None => (self.id_of(href).ok_or_else(|| self.bad(href, "unknown item".into()))?, None),
        };
        let mb = self.client.mailbox();
        let req = match kind {
            Kind::Calendar => mb.delete_event(&id, tag.as_deref()),
            Kind::Contacts => mb.delete_contact(&id, tag.as_deref()),
            Kind::Tasks(list) => mb.delete_todo_task(&list, &id, tag.as_deref()),
        };
        match self.client.send(&req).await {
            Ok(_) | Err(ProtocolError::ItemNotFound { .. }) => {
                self.state().series.remove(&id);
                Ok(())
            }
            Err(x) if x.is_conflict() => Err(WriteError::PreconditionFailed),
            Err(x) => Err(WriteError::Protocol(x)),
        }
    }
}
