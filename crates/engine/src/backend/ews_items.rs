//! The Exchange (EWS) item store: the mailbox's Calendar, Contacts and
//! Tasks distinguished folders, converted at this edge to the iCalendar /
//! vCard text the ACT engine syncs ([`super::ews_items_convert`]).
//!
//! - A collection's URL is the EWS URL plus `/calendar/`, `/contacts/` or
//!   `/tasks/`; a member's href is the collection path plus the ItemId, or,
//!   for an item crmsync created, the href the engine chose.
//! - A member's ETag is `{ItemId}|{ChangeKey}`, so the status rows alone
//!   tell which Exchange item an href is: [`ItemStore::list`] learns the
//!   mapping from them at the start of every cycle.
//! - The sync token is the SyncFolderItems SyncState; a state the server
//!   refuses (`RESYNC_REQUIRED`) is a full listing, matched to the status
//!   rows by ItemId, so nothing is duplicated.
//! - Updates carry the ChangeKey with `ConflictResolution=NeverOverwrite`; a
//!   stale one (`ITEM_CONFLICT`) is [`WriteError::PreconditionFailed`], the
//!   engine's conflict path, decided by the configured policy.
//! - Meetings are deleted with `SendToNone`, unless the CRM user organizes
//!   them (then the attendees get the cancellation).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crmsync_core::act::item::EventItem;
use crmsync_protocols::dav::{Changes, WriteError, ical, vcard};
use crmsync_protocols::ews::{
    BaseShape, CalendarItem, ConflictResolution, CreateItem, DeleteItem, DeleteType, DistinguishedFolder,
    EwsClient, FolderRef, GetFolder, GetItem, Item, ItemChange, ItemId, ItemShape, SendMeeting, SyncChange,
    SyncFolderItems, UpdateItem,
};
use crmsync_protocols::{Proto, ProtocolError};
use futures::future::BoxFuture;

use super::capability::{FoundCollection, Fut, ItemStore, Listing, StoreAnswer};
use super::ews_items_convert as convert;
use super::ews_items_series as series;
use super::ews_items_update::updates_for;

/// Changes per SyncFolderItems page asked for.
const PAGE: u32 = 200;
/// Items per GetItem asked for.
const BATCH: usize = 50;

/// Which folder a collection URL is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Calendar,
    Contacts,
    Tasks,
}

impl Kind {
    fn all() -> [Kind; 3] {
        [Kind::Calendar, Kind::Contacts, Kind::Tasks]
    }
    fn segment(self) -> &'static str {
        match self {
            Kind::Calendar => "calendar",
            Kind::Contacts => "contacts",
            Kind::Tasks => "tasks",
        }
    }
    fn folder(self) -> DistinguishedFolder {
        match self {
            Kind::Calendar => DistinguishedFolder::Calendar,
            Kind::Contacts => DistinguishedFolder::Contacts,
            Kind::Tasks => DistinguishedFolder::Tasks,
        }
    }
    fn ext(self) -> &'static str {
        if self == Kind::Contacts { "vcf" } else { "ics" }
    }
}

#[derive(Default)]
struct State {
    /// href → ItemId.
    ids: HashMap<String, String>,
    /// ItemId → href.
    hrefs: HashMap<String, String>,
}

/// An Exchange mailbox as an item store.
pub struct EwsItems {
    client: EwsClient,
    base: String,
    host: String,
    port: u16,
    /// The CRM user's address (lower-case): meetings they organize are
    /// cancelled for the attendees when deleted.
    user: String,
    state: Mutex<State>,
}

/// The ETag crmsync keeps for an Exchange item.
fn member_etag(id: &ItemId) -> String {
    format!("{}|{}", id.id, id.change_key.as_deref().unwrap_or_default())
}

/// (ItemId, ChangeKey) of a member ETag.
fn split_etag(etag: &str) -> Option<(&str, &str)> {
    etag.split_once('|').filter(|(id, _)| !id.is_empty())
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl EwsItems {
    /// The store of the mailbox `client` reaches (its own, or the one it
    /// impersonates); `user` is the CRM user's address, the organizer whose
    /// meeting deletes are sent to the attendees.
    pub fn new(client: EwsClient, user: &str) -> EwsItems {
        let base = client.url().trim_end_matches('/').to_string();
        let (host, port) = super::host_and_port(&base);
        EwsItems {
            client,
            base,
            host,
            port,
            user: user.trim().to_ascii_lowercase(),
            state: Mutex::new(State::default()),
        }
    }

    fn url_of(&self, kind: Kind) -> String {
        format!("{}/{}/", self.base, kind.segment())
    }

    fn kind_of(&self, url_or_href: &str) -> Option<Kind> {
        let path = self.path(url_or_href);
        let base = self.path(&self.base);
        let rest = path.strip_prefix(base.trim_end_matches('/'))?.trim_start_matches('/');
        Kind::all().into_iter().find(|k| rest.starts_with(&format!("{}/", k.segment())))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn learn(&self, href: &str, id: &str) {
        let mut s = self.lock();
        s.ids.insert(href.to_string(), id.to_string());
        s.hrefs.insert(id.to_string(), href.to_string());
    }

    fn learn_known(&self, known: &BTreeMap<String, String>) {
        for (href, etag) in known {
            if let Some((id, _)) = split_etag(etag) {
                self.learn(href, id);
            }
        }
    }

    fn href_of(&self, kind: Kind, id: &str) -> String {
        if let Some(h) = self.lock().hrefs.get(id) {
            return h.clone();
        }
        let href = format!("{}{}.{}", self.path(&self.url_of(kind)), encode(id), kind.ext());
        self.learn(&href, id);
        href
    }

    fn id_of(&self, href: &str) -> Option<String> {
        self.lock().ids.get(href).cloned()
    }

    fn rejected(&self, href: &str, detail: String) -> ProtocolError {
        ProtocolError::ItemRejected {
            proto: Proto::Ews,
            host: self.host.clone(),
            port: self.port,
            item: href.to_string(),
            detail,
        }
    }

    /// Every change of `kind` since `state` (all pages): (changed id → etag,
    /// removed ids, new state). `Err` with `RESYNC_REQUIRED` when the state is refused.
    async fn sync(
        &self,
        kind: Kind,
        state: Option<&str>,
    ) -> std::result::Result<(Vec<(String, String)>, Vec<String>, String), ProtocolError> {
        let mut state = state.map(str::to_string);
        let (mut changed, mut removed) = (Vec::new(), Vec::new());
        loop {
            let req = SyncFolderItems {
                shape: ItemShape { base: BaseShape::IdOnly, ..Default::default() },
                folder: FolderRef::from(kind.folder()),
                sync_state: state.clone(),
                max_changes: PAGE,
                normal_items_scope: false,
            };
            let page = self.client.sync_folder_items(&req).await?;
            for c in page.changes.into_iter().flatten() {
                match c {
                    SyncChange::Create(i) | SyncChange::Update(i) => {
                        if let Some(id) = i.id() {
                            changed.push((id.id.clone(), member_etag(id)));
                        }
                    }
                    SyncChange::Delete(id) => removed.push(id.id),
                    SyncChange::ReadFlagChange { .. } => {}
                }
            }
            state = Some(page.sync_state);
            if page.last_page {
                break;
            }
        }
        Ok((changed, removed, state.unwrap_or_default()))
    }

    /// The item as the text the engine reads (href decides the UID of items Exchange keeps none of).
    fn text_of(&self, item: &Item, href: &str) -> std::result::Result<String, convert::ConvertError> {
        let id = item.id().map(|i| i.id.clone()).unwrap_or_default();
        // An item first seen on Exchange is named by its ItemId: its UID is
        // derived from that, not the ItemId itself.
        let named_by_id =
            href.rsplit('/').next().is_some_and(|n| n.starts_with(&format!("{}.", encode(&id))));
        let uid = uid_of_href(href).filter(|_| !named_by_id).unwrap_or_else(|| convert::uid_of_id(&id));
        match item {
            Item::CalendarItem(c) => Ok(ical::write_event(&convert::event_of(c, &id)?)),
            Item::Contact(c) => Ok(vcard::write_contact(&convert::contact_of(c, uid), false)),
            Item::Task(t) => Ok(ical::write_task(&convert::task_of(t, uid))),
            other => {
                Err(convert::ConvertError(format!("{} is not an appointment, contact or task", other.kind())))
            }
        }
    }

    async fn get(&self, ids: &[String]) -> std::result::Result<Vec<Option<Item>>, ProtocolError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(BATCH) {
            let req = GetItem {
                shape: ItemShape {
                    base: BaseShape::AllProperties,
                    body_type: Some("Text".into()),
                    ..Default::default()
                },
                ids: chunk.iter().map(ItemId::new).collect(),
            };
            for r in self.client.get_items(&req).await? {
                match r {
                    Ok(i) => out.push(Some(i)),
                    Err(e) if e.code() == "ITEM_NOT_FOUND" => out.push(None),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(out)
    }

    async fn create(&self, href: &str, kind: Kind, item: Item) -> std::result::Result<String, WriteError> {
        let req = CreateItem {
            disposition: None,
            send_invitations: (kind == Kind::Calendar).then_some(SendMeeting::None),
            folder: Some(FolderRef::from(kind.folder())),
            items: vec![item],
        };
        let made = self.client.create_items(&req).await?.into_iter().next();
        let made = match made {
            Some(Ok(Some(i))) => i,
            Some(Err(e)) => return Err(e.into()),
            _ => return Err(self.rejected(href, "CreateItem answered without the new item".into()).into()),
        };
        let id = made
            .id()
            .cloned()
            .ok_or_else(|| self.rejected(href, "CreateItem answered without ItemId".into()))?;
        self.learn(href, &id.id);
        Ok(member_etag(&id))
    }
}

impl EwsItems {
    /// Writes the moved and cancelled occurrences of `event` to the master
    /// `etag` names; the master's etag after them.
    async fn occurrences(
        &self,
        etag: String,
        event: Option<&EventItem>,
    ) -> std::result::Result<String, WriteError> {
        let (Some(e), Some((id, _))) = (event, split_etag(&etag)) else { return Ok(etag) };
        let send = |c: &CalendarItem| {
            if organized_by(c, &self.user) { SendMeeting::AllAndSaveCopy } else { SendMeeting::None }
        };
        if !series::apply(&self.client, id, e, send).await? {
            return Ok(etag);
        }
        Ok(series::current_id(&self.client, id).await?.map(|i| member_etag(&i)).unwrap_or(etag))
    }
}

/// The UID an href names, when crmsync chose it (`{uid}.vcf`, `{uid}.ics`):
/// Exchange keeps no UID of a contact or task.
fn uid_of_href(href: &str) -> Option<String> {
    let name = href.rsplit('/').next()?;
    let uid = name.strip_suffix(".vcf").or_else(|| name.strip_suffix(".ics"))?;
    (!uid.is_empty() && !uid.contains('%')).then(|| uid.to_string())
}

/// What the engine wrote, as an Exchange item of `kind`.
fn parse_written(body: &str, kind: Kind) -> std::result::Result<(Item, Option<EventItem>), String> {
    match kind {
        Kind::Contacts => {
            let c = vcard::parse_contact(body).map_err(|e| e.0)?.item;
            Ok((Item::Contact(convert::ews_contact_of(&c)), None))
        }
        Kind::Tasks => {
            let t = ical::parse_task(body).map_err(|e| e.0)?.item;
            Ok((Item::Task(convert::ews_task_of(&t).map_err(|e| e.0)?), None))
        }
        Kind::Calendar => {
            let e = ical::parse_event(body).map_err(|e| e.0)?.item;
            let c = convert::calendar_item_of(&e).map_err(|e| e.0)?;
            Ok((Item::CalendarItem(c), Some(e)))
        }
    }
}

impl ItemStore for EwsItems {
    fn describe(&self) -> String {
        format!("Exchange (EWS) {}", self.base)
    }

    /// Opens the Calendar folder: the login and the mailbox answer.
    fn probe(&self) -> Fut<'_, StoreAnswer> {
        Box::pin(async move {
            let req = GetFolder {
                shape: BaseShape::IdOnly,
                folders: vec![FolderRef::from(DistinguishedFolder::Calendar)],
            };
            match self.client.get_folders(&req).await?.into_iter().next() {
                Some(Err(e)) => Err(e.into()),
                _ => Ok(StoreAnswer::LoggedIn),
            }
        })
    }

    /// The Calendar, Contacts and Tasks folders every Exchange mailbox has;
    /// nothing is created.
    fn collections(&self, _create: bool) -> Fut<'_, Vec<FoundCollection>> {
        Box::pin(async move {
            let req = GetFolder {
                shape: BaseShape::Default,
                folders: Kind::all().iter().map(|k| FolderRef::from(k.folder())).collect(),
            };
            let answers = self.client.get_folders(&req).await?;
            let mut out = Vec::new();
            for (kind, a) in Kind::all().into_iter().zip(answers) {
                let folder = a?;
                out.push(FoundCollection {
                    kind: kind.segment(),
                    url: self.url_of(kind),
                    display_name: folder.display_name,
                });
            }
            Ok(out)
        })
    }

    fn list<'a>(
        &'a self,
        url: &'a str,
        token: Option<&'a str>,
        _ctag: Option<&'a str>,
        known: &'a BTreeMap<String, String>,
    ) -> Fut<'a, Listing> {
        Box::pin(async move {
            let kind =
                self.kind_of(url).ok_or_else(|| self.rejected(url, "not an Exchange folder URL".into()))?;
            self.learn_known(known);
            let first = match token {
                Some(t) => Some(self.sync(kind, Some(t)).await),
                None => None,
            };
            let (how, res) = match first {
                Some(r) if !matches!(&r, Err(e) if e.is_resync_required()) => ("sync-token", r),
                _ => {
                    tracing::info!(folder = kind.segment(), "full listing of the Exchange folder");
                    ("initial", self.sync(kind, None).await)
                }
            };
            let (changed, removed, state) = res?;
            let mut members = if how == "sync-token" { known.clone() } else { BTreeMap::new() };
            for id in removed {
                let href = self.lock().hrefs.get(&id).cloned();
                if let Some(h) = href {
                    members.remove(&h);
                }
            }
            for (id, etag) in changed {
                members.insert(self.href_of(kind, &id), etag);
            }
            Ok(Listing { members, token: Some(state), ctag: None, how })
        })
    }

    fn changes_since<'a>(&'a self, url: &'a str, token: &'a str) -> Fut<'a, Option<Changes>> {
        Box::pin(async move {
            let Some(kind) = self.kind_of(url) else { return Ok(None) };
            match self.sync(kind, Some(token)).await {
                Ok((changed, removed, state)) => Ok(Some(Changes {
                    changed: changed.into_iter().map(|(id, e)| (self.href_of(kind, &id), e)).collect(),
                    removed: removed.iter().filter_map(|id| self.lock().hrefs.get(id).cloned()).collect(),
                    token: Some(state),
                })),
                Err(e) if e.is_resync_required() => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn read_many<'a>(
        &'a self,
        _url: &'a str,
        hrefs: &'a [String],
        _contacts: bool,
    ) -> Fut<'a, Vec<(String, String, String)>> {
        Box::pin(async move {
            let pairs: Vec<(String, String)> =
                hrefs.iter().filter_map(|h| self.id_of(h).map(|id| (h.clone(), id))).collect();
            let ids: Vec<String> = pairs.iter().map(|p| p.1.clone()).collect();
            let items = self.get(&ids).await?;
            let mut out = Vec::new();
            for ((href, _), item) in pairs.into_iter().zip(items) {
                let Some(item) = item else { continue };
                let Some(id) = item.id() else { continue };
                match self.text_of(&item, &href) {
                    Ok(text) => out.push((href, member_etag(id), text)),
                    Err(e) => tracing::warn!(uid = %href, "Exchange item not synced: {e}"),
                }
            }
            Ok(out)
        })
    }

    fn read<'a>(&'a self, href: &'a str) -> Fut<'a, Option<(String, String)>> {
        Box::pin(async move {
            let Some(id) = self.id_of(href) else { return Ok(None) };
            let Some(item) = self.get(&[id]).await?.pop().flatten() else { return Ok(None) };
            let etag = item.id().map(member_etag).unwrap_or_default();
            let text = self.text_of(&item, href).map_err(|e| self.rejected(href, e.0))?;
            Ok(Some((etag, text)))
        })
    }

    fn write<'a>(
        &'a self,
        href: &'a str,
        body: String,
        _content_type: &'a str,
        if_match: Option<&'a str>,
    ) -> BoxFuture<'a, std::result::Result<String, WriteError>> {
        Box::pin(async move {
            let kind =
                self.kind_of(href).ok_or_else(|| self.rejected(href, "not an Exchange folder URL".into()))?;
            let (item, event) = parse_written(&body, kind).map_err(|e| self.rejected(href, e))?;
            let Some(etag) = if_match else {
                if self.id_of(href).is_some() {
                    return Err(WriteError::PreconditionFailed);
                }
                let etag = self.create(href, kind, item).await?;
                return self.occurrences(etag, event.as_ref()).await;
            };
            let (id, ck) = split_etag(etag)
                .ok_or_else(|| self.rejected(href, "no Exchange ItemId known for it".into()))?;
            let req = UpdateItem {
                conflict: ConflictResolution::NeverOverwrite,
                disposition: None,
                send_meeting: (kind == Kind::Calendar).then_some(SendMeeting::None),
                changes: vec![ItemChange {
                    id: ItemId::with_change_key(id, ck),
                    updates: updates_for(&item),
                }],
            };
            match self.client.update_items(&req).await?.into_iter().next() {
                Some(Ok(i)) => {
                    let etag = i.id().map(member_etag).unwrap_or_else(|| etag.to_string());
                    self.occurrences(etag, event.as_ref()).await
                }
                Some(Err(e)) if e.is_conflict() || e.code() == "ITEM_NOT_FOUND" => {
                    Err(WriteError::PreconditionFailed)
                }
                Some(Err(e)) => Err(e.into()),
                None => Err(self.rejected(href, "UpdateItem answered without the item".into()).into()),
            }
        })
    }

    fn delete<'a>(
        &'a self,
        href: &'a str,
        etag: Option<&'a str>,
    ) -> BoxFuture<'a, std::result::Result<(), WriteError>> {
        Box::pin(async move {
            let Some(id) = etag.and_then(split_etag).map(|(i, _)| i.to_string()).or_else(|| self.id_of(href))
            else {
                return Ok(());
            };
            let Some(current) = self.get(std::slice::from_ref(&id)).await?.pop().flatten() else {
                return Ok(());
            };
            if let (Some(want), Some(now)) = (etag, current.id())
                && split_etag(want)
                    .is_some_and(|(_, ck)| !ck.is_empty() && Some(ck) != now.change_key.as_deref())
            {
                return Err(WriteError::PreconditionFailed);
            }
            let send = match &current {
                Item::CalendarItem(c) => Some(if organized_by(c, &self.user) {
                    SendMeeting::AllAndSaveCopy
                } else {
                    SendMeeting::None
                }),
                _ => None,
            };
            let req = DeleteItem {
                delete_type: DeleteType::MoveToDeletedItems,
                send_cancellations: send,
                all_task_occurrences: matches!(current, Item::Task(_)),
                ids: vec![ItemId::new(id)],
            };
            match self.client.delete_items(&req).await?.into_iter().next() {
                Some(Err(e)) if e.code() != "ITEM_NOT_FOUND" => Err(e.into()),
                _ => Ok(()),
            }
        })
    }

    fn path(&self, url: &str) -> String {
        let after = url.split_once("://").map_or(url, |(_, r)| r);
        match after.find('/') {
            Some(i) => after[i..].to_string(),
            None => "/".into(),
        }
    }

    fn requests(&self) -> usize {
        self.client.requests()
    }
}

/// A meeting the CRM user organizes (a plain appointment has no attendees to tell).
fn organized_by(c: &CalendarItem, user: &str) -> bool {
    c.is_meeting != Some(false)
        && !user.is_empty()
        && c.organizer.as_ref().and_then(|o| o.email.as_deref()).is_some_and(|e| e.eq_ignore_ascii_case(user))
        && (!c.required_attendees.is_empty() || !c.optional_attendees.is_empty())
}
