//! The Microsoft 365 item store: the mailbox's default calendar, its
//! default contacts folder and its default To Do list through Microsoft
//! Graph, converted at this edge to the iCalendar / vCard text the ACT engine
//! syncs (see [`crmsync_protocols::graph::convert`]).
//!
//! - A collection's URL is a path below the Graph root (`…/me/calendar/`,
//!   `…/me/contacts/`, `…/me/todo/lists/{id}/`); a member's href is the
//!   collection path plus the Graph id, or, for an item crmsync created, the
//!   href the engine chose.
//! - A member's ETag is `{graph id}|{@odata.etag}` (a series: the master's),
//!   so the status rows alone tell which Graph item an href is: every cycle
//!   starts with [`ItemStore::list`], which learns the mapping from them.
//! - The sync token is the delta link; a delta state the server no longer
//!   has (410) is a full listing, matched to the status rows by id, so
//!   nothing is duplicated.
//! - Writes go with `If-Match`; a 412 is [`WriteError::PreconditionFailed`],
//!   the engine's conflict path.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use crmsync_protocols::dav::{Changes, WriteError};
use crmsync_protocols::graph::{Contact, GraphClient, GraphRequest, TodoTask, TodoTaskList};
use crmsync_protocols::{Proto, ProtocolError};
use futures::future::BoxFuture;

use super::capability::{FoundCollection, Fut, ItemStore, Listing, StoreAnswer};
use super::graph_items_text::{contact_text, task_text};
use super::graph_mail::covers;
use crate::error::{EngineError, Result};

/// What a sync needs the token to carry (an app's `.All` role covers its permission).
const PERMISSIONS: [&str; 3] = ["Calendars.ReadWrite", "Contacts.ReadWrite", "Tasks.ReadWrite"];
/// Items per delta page asked for.
const PAGE: u32 = 100;
/// Days before today the calendar window starts.
const WINDOW_PAST_DAYS: i64 = 180;
/// Days after today the calendar window ends.
const WINDOW_FUTURE_DAYS: i64 = 540;

/// Which Graph collection a URL is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Calendar,
    Contacts,
    Tasks(String),
}

/// What one delta round found: members (href → etag) changed, hrefs removed,
/// the next delta link, and whether the old one was refused (a full round).
pub(crate) struct Round {
    pub changed: Vec<(String, String)>,
    pub removed: Vec<String>,
    pub token: Option<String>,
    pub full: bool,
}

#[derive(Default)]
pub(crate) struct State {
    /// href → Graph id.
    pub ids: HashMap<String, String>,
    /// Graph id → href.
    pub hrefs: HashMap<String, String>,
    /// href → (etag, text) read during this cycle.
    pub cache: HashMap<String, (String, String)>,
    /// Ids of the series (recurring events) known.
    pub series: HashSet<String>,
}

/// A Microsoft 365 mailbox as an item store.
pub struct GraphItems {
    pub(crate) client: GraphClient,
    /// `https://graph.microsoft.com/v1.0/me` (or `/users/{address}`).
    pub(crate) base: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) lo: DateTime<Utc>,
    pub(crate) hi: DateTime<Utc>,
    pub(crate) state: Mutex<State>,
    /// The permissions the access token carries, when its claims say.
    pub(crate) granted: Option<Vec<String>>,
}

/// The etag crmsync keeps for a Graph item.
pub(crate) fn member_etag(id: &str, etag: &str) -> String {
    format!("{id}|{etag}")
}

/// (Graph id, Graph etag) of a member etag.
pub(crate) fn split_etag(etag: &str) -> Option<(&str, &str)> {
    etag.split_once('|').filter(|(id, _)| !id.is_empty())
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~=".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl GraphItems {
    /// The store of the mailbox `client` addresses. The calendar is listed
    /// over a window from 180 days before today to 540 days after (Graph's
    /// calendar delta needs one); events outside it are not synced.
    pub fn new(client: GraphClient) -> Result<GraphItems> {
        let base = client.url_of(&client.mailbox().user())?;
        let (host, port) = super::host_and_port(&base);
        let today = Utc::now().date_naive().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        Ok(GraphItems {
            client,
            base,
            host,
            port,
            lo: today - Duration::days(WINDOW_PAST_DAYS),
            hi: today + Duration::days(WINDOW_FUTURE_DAYS),
            state: Mutex::default(),
            granted: None,
        })
    }

    /// The same store knowing the permissions its token carries (from
    /// [`super::graph_mail::permissions_of`]): Test & Enable checks them.
    pub fn with_permissions(mut self, granted: Option<Vec<String>>) -> GraphItems {
        self.granted = granted;
        self
    }

    /// The same store with the calendar listed over `[lo, hi)` instead.
    pub fn with_window(mut self, lo: DateTime<Utc>, hi: DateTime<Utc>) -> GraphItems {
        (self.lo, self.hi) = (lo, hi);
        self
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn window(&self) -> (String, String) {
        let f = |d: DateTime<Utc>| d.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        (f(self.lo), f(self.hi))
    }

    fn kind(&self, url: &str) -> Option<Kind> {
        let rest = url.strip_prefix(&self.base)?;
        match rest {
            "/calendar/" => Some(Kind::Calendar),
            "/contacts/" => Some(Kind::Contacts),
            _ => rest
                .strip_prefix("/todo/lists/")
                .and_then(|l| l.strip_suffix('/'))
                .filter(|l| !l.is_empty() && !l.contains('/'))
                .map(|l| Kind::Tasks(decode(l))),
        }
    }

    /// The collection URL and kind an href belongs to.
    pub(crate) fn owner(&self, href: &str) -> Option<(String, Kind)> {
        let path = self.path(&self.base);
        let rest = href.strip_prefix(&path)?;
        let col = if rest.starts_with("/calendar/") {
            "/calendar/".to_string()
        } else if rest.starts_with("/contacts/") {
            "/contacts/".to_string()
        } else {
            let list = rest.strip_prefix("/todo/lists/")?.split('/').next()?;
            format!("/todo/lists/{list}/")
        };
        let url = format!("{}{col}", self.base);
        let kind = self.kind(&url)?;
        Some((url, kind))
    }

    pub(crate) fn bad(&self, item: &str, detail: String) -> ProtocolError {
        ProtocolError::ItemRejected {
            proto: Proto::Graph,
            host: self.host.clone(),
            port: self.port,
            item: item.to_string(),
            detail,
        }
    }

    /// The href of Graph item `id` in the collection at `url`.
    pub(crate) fn href_of(&self, url: &str, id: &str) -> String {
        let mut st = self.state();
        if let Some(h) = st.hrefs.get(id) {
            return h.clone();
        }
        let href = format!("{}{}", self.path(url), encode(id));
        st.hrefs.insert(id.to_string(), href.clone());
        st.ids.insert(href.clone(), id.to_string());
        href
    }

    /// Remembers that `href` is Graph item `id`.
    pub(crate) fn learn(&self, href: &str, id: &str) {
        let mut st = self.state();
        st.hrefs.insert(id.to_string(), href.to_string());
        st.ids.insert(href.to_string(), id.to_string());
    }

    /// The Graph id of `href`, from what was learnt or the href itself.
    pub(crate) fn id_of(&self, href: &str) -> Option<String> {
        if let Some(id) = self.state().ids.get(href) {
            return Some(id.clone());
        }
        let (url, _) = self.owner(href)?;
        let name = href.strip_prefix(&self.path(&url))?;
        // A name the engine chose ends in .ics/.vcf; Graph ids have no dot.
        (!name.is_empty() && !name.contains('.')).then(|| decode(name))
    }

    /// One delta round of the collection at `url` from `token` (or a full
    /// one); a refused token gives a full round.
    async fn round(&self, url: &str, token: Option<&str>) -> Result<Round> {
        let kind = self
            .kind(url)
            .ok_or_else(|| self.bad(url, "not a Microsoft 365 collection of this mailbox".into()))?;
        match self.round_of(url, &kind, token).await {
            Err(EngineError::Protocol(e)) if e.is_resync_required() && token.is_some() => {
                tracing::info!(folder = url, "the delta state is gone; listing every member again");
                let mut r = self.round_of(url, &kind, None).await?;
                r.full = true;
                Ok(r)
            }
            other => other.map(|mut r| {
                r.full = token.is_none();
                r
            }),
        }
    }

    async fn round_of(&self, url: &str, kind: &Kind, token: Option<&str>) -> Result<Round> {
        let mb = self.client.mailbox();
        match kind {
            Kind::Calendar => self.calendar_round(url, token).await,
            Kind::Contacts => {
                let first = mb.contacts_delta(None, PAGE);
                let req = token.map_or_else(|| first.clone(), |t| first.follow(t));
                let (items, link): (Vec<Contact>, _) = self.client.collect(&req).await?;
                let mut r = Round { changed: vec![], removed: vec![], token: link, full: false };
                for c in items {
                    if c.removed.is_some() {
                        r.removed.push(self.href_of(url, &c.id));
                        continue;
                    }
                    let href = self.href_of(url, &c.id);
                    let etag = member_etag(&c.id, c.etag.as_deref().unwrap_or_default());
                    let text = contact_text(&c, &href);
                    self.state().cache.insert(href.clone(), (etag.clone(), text));
                    r.changed.push((href, etag));
                }
                Ok(r)
            }
            Kind::Tasks(list) => {
                let first = mb.todo_tasks_delta(list, PAGE);
                let req = token.map_or_else(|| first.clone(), |t| first.follow(t));
                let (items, link): (Vec<TodoTask>, _) = self.client.collect(&req).await?;
                let mut r = Round { changed: vec![], removed: vec![], token: link, full: false };
                for t in items {
                    if t.removed.is_some() {
                        r.removed.push(self.href_of(url, &t.id));
                        continue;
                    }
                    let href = self.href_of(url, &t.id);
                    let etag = member_etag(&t.id, t.etag.as_deref().unwrap_or_default());
                    let text = task_text(&t, &href);
                    self.state().cache.insert(href.clone(), (etag.clone(), text));
                    r.changed.push((href, etag));
                }
                Ok(r)
            }
        }
    }

    /// A full calendar listing covers only its window, which moves with the
    /// days: a synced event it does not list is read by id, and kept while
    /// it exists (an old appointment is not taken as deleted).
    async fn keep_outside_window(
        &self,
        known: &BTreeMap<String, String>,
        members: &mut BTreeMap<String, String>,
    ) -> Result<()> {
        let unlisted: Vec<&String> = known.keys().filter(|h| !members.contains_key(*h)).collect();
        for href in unlisted {
            let Some(id) = self.id_of(href) else { continue };
            if let Some((etag, text)) = self.read_event(&id).await? {
                self.state().cache.insert(href.clone(), (etag.clone(), text));
                members.insert(href.clone(), etag);
            }
        }
        Ok(())
    }

    /// Learns href ↔ id from the status rows' etags.
    fn learn_known(&self, known: &BTreeMap<String, String>) {
        for (href, etag) in known {
            if let Some((id, e)) = split_etag(etag) {
                self.learn(href, id);
                if e.ends_with("|series") {
                    self.state().series.insert(id.to_string());
                }
            }
        }
    }

    /// Reads one member by href: (etag, text), or None when it is gone.
    async fn fetch(&self, href: &str) -> Result<Option<(String, String)>> {
        if let Some(hit) = self.state().cache.get(href) {
            return Ok(Some(hit.clone()));
        }
        let (Some((_, kind)), Some(id)) = (self.owner(href), self.id_of(href)) else { return Ok(None) };
        let mb = self.client.mailbox();
        let got = match kind {
            Kind::Calendar => self.read_event(&id).await,
            Kind::Contacts => self
                .client
                .json::<Contact>(&mb.contact(&id))
                .await
                .map(|c| {
                    Some((member_etag(&c.id, c.etag.as_deref().unwrap_or_default()), contact_text(&c, href)))
                })
                .map_err(Into::into),
            Kind::Tasks(list) => match self.client.json::<TodoTask>(&mb.todo_task(&list, &id)).await {
                Ok(t) => {
                    let text = task_text(&t, href);
                    Ok(Some((member_etag(&t.id, t.etag.as_deref().unwrap_or_default()), text)))
                }
                Err(e) => Err(e.into()),
            },
        };
        match got {
            Err(EngineError::Protocol(ProtocolError::ItemNotFound { .. })) => Ok(None),
            Ok(Some(v)) => {
                self.state().cache.insert(href.to_string(), v.clone());
                Ok(Some(v))
            }
            other => other,
        }
    }

    /// Sends a write request; 412 (and 404 on an item that must exist) is a conflict.
    pub(crate) async fn send_write(&self, req: &GraphRequest) -> std::result::Result<Vec<u8>, WriteError> {
        match self.client.send(req).await {
            Ok(r) => Ok(r.body),
            Err(e) if e.is_conflict() => Err(WriteError::PreconditionFailed),
            Err(ProtocolError::ItemNotFound { .. }) => Err(WriteError::PreconditionFailed),
            Err(e) => Err(WriteError::Protocol(e)),
        }
    }
}

impl ItemStore for GraphItems {
    fn describe(&self) -> String {
        format!("Microsoft Graph {}", self.base)
    }

    /// Reads the mailbox's To Do lists (the token, the mailbox and the tasks
    /// permission), then checks that the token carries what a sync writes
    /// with: Calendars.ReadWrite, Contacts.ReadWrite and Tasks.ReadWrite.
    fn probe(&self) -> Fut<'_, StoreAnswer> {
        Box::pin(async move {
            let _: serde_json::Value = self.client.json(&self.client.mailbox().todo_lists()).await?;
            let missing =
                self.granted.as_deref().and_then(|g| PERMISSIONS.into_iter().find(|p| !covers(g, p)));
            if let Some(p) = missing {
                return Err(ProtocolError::PermissionDenied(Box::new(crmsync_protocols::PermissionDenial {
                    proto: Proto::Graph,
                    host: self.host.clone(),
                    port: self.port,
                    user: self.client.account().to_string(),
                    operation: "sync appointments, contacts and tasks".into(),
                    permission: p.to_string(),
                    detail: "the access token does not carry it; an administrator must grant it".into(),
                }))
                .into());
            }
            Ok(StoreAnswer::LoggedIn)
        })
    }

    fn granted(&self) -> Option<String> {
        self.granted.as_ref().map(|_| format!("{} granted", PERMISSIONS.join(", ")))
    }

    /// The default calendar, the default contacts folder and the default
    /// To Do list (`defaultList`, else the one named "Tasks"). Nothing is created.
    fn collections(&self, _create: bool) -> Fut<'_, Vec<FoundCollection>> {
        Box::pin(async move {
            let (lists, _): (Vec<TodoTaskList>, _) =
                self.client.collect(&self.client.mailbox().todo_lists()).await?;
            let default = lists
                .iter()
                .find(|l| l.wellknown_list_name.as_deref() == Some("defaultList"))
                .or_else(|| lists.iter().find(|l| l.display_name.as_deref() == Some("Tasks")));
            let mut out = vec![
                FoundCollection {
                    kind: "calendar",
                    url: format!("{}/calendar/", self.base),
                    display_name: Some("Calendar".into()),
                },
                FoundCollection {
                    kind: "contacts",
                    url: format!("{}/contacts/", self.base),
                    display_name: Some("Contacts".into()),
                },
            ];
            if let Some(l) = default {
                out.push(FoundCollection {
                    kind: "tasks",
                    url: format!("{}/todo/lists/{}/", self.base, encode(&l.id)),
                    display_name: l.display_name.clone(),
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
            self.learn_known(known);
            let round = self.round(url, token).await?;
            let how = if round.full { "initial" } else { "sync-token" };
            let mut members = if round.full { BTreeMap::new() } else { known.clone() };
            for h in &round.removed {
                members.remove(h);
            }
            for (h, e) in round.changed {
                members.insert(h, e);
            }
            if round.full && self.kind(url) == Some(Kind::Calendar) {
                self.keep_outside_window(known, &mut members).await?;
            }
            Ok(Listing { members, token: round.token, ctag: None, how })
        })
    }

    fn changes_since<'a>(&'a self, url: &'a str, token: &'a str) -> Fut<'a, Option<Changes>> {
        Box::pin(async move {
            let round = self.round(url, Some(token)).await?;
            if round.full {
                return Ok(None);
            }
            Ok(Some(Changes { changed: round.changed, removed: round.removed, token: round.token }))
        })
    }

    fn read_many<'a>(
        &'a self,
        _url: &'a str,
        hrefs: &'a [String],
        _contacts: bool,
    ) -> Fut<'a, Vec<(String, String, String)>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for h in hrefs {
                if let Some((etag, data)) = self.fetch(h).await? {
                    out.push((h.clone(), etag, data));
                }
            }
            Ok(out)
        })
    }

    fn read<'a>(&'a self, href: &'a str) -> Fut<'a, Option<(String, String)>> {
        Box::pin(async move {
            self.state().cache.remove(href);
            self.fetch(href).await
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
            let result = self.write_item(href, &body, if_match).await;
            self.state().cache.remove(href);
            result
        })
    }

    fn delete<'a>(
        &'a self,
        href: &'a str,
        etag: Option<&'a str>,
    ) -> BoxFuture<'a, std::result::Result<(), WriteError>> {
        Box::pin(async move {
            self.state().cache.remove(href);
            self.delete_item(href, etag).await
        })
    }

    fn path(&self, url: &str) -> String {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        rest.find('/').map_or_else(|| "/".to_string(), |i| rest[i..].to_string())
    }

    fn requests(&self) -> usize {
        self.client.requests()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crmsync_protocols::graph::{GraphConfig, Mailbox, SharedToken};

    use super::*;
    use crate::backend::graph_items_text::uid_of_href;

    fn store(mailbox: Mailbox) -> GraphItems {
        let client =
            GraphClient::new(GraphConfig::default(), mailbox, Arc::new(SharedToken::new("t"))).unwrap();
        GraphItems::new(client).unwrap()
    }

    #[test]
    fn collections_and_hrefs_are_paths_below_the_mailbox() {
        let s = store(Mailbox::User("anna@example.com".into()));
        assert_eq!(s.base, "https://graph.microsoft.com/v1.0/users/anna@example.com");
        let tasks = format!("{}/todo/lists/{}/", s.base, encode("AQMk/x+y="));
        assert_eq!(s.kind(&tasks), Some(Kind::Tasks("AQMk/x+y=".into())));
        assert_eq!(s.kind(&format!("{}/calendar/", s.base)), Some(Kind::Calendar));
        assert_eq!(s.kind("https://graph.microsoft.com/v1.0/users/bob@example.com/calendar/"), None);
        let href = s.href_of(&tasks, "AAMk+1/=");
        assert_eq!(href, format!("{}AAMk%2B1%2F=", s.path(&tasks)));
        assert_eq!(s.owner(&href).map(|o| o.1), Some(Kind::Tasks("AQMk/x+y=".into())));
        assert_eq!(s.id_of(&href).as_deref(), Some("AAMk+1/="));
        // An href the engine chose is known only once learnt.
        let mine = format!("{}abc-crmsync.ics", s.path(&tasks));
        assert_eq!(s.id_of(&mine), None);
        s.learn(&mine, "AAMk2");
        assert_eq!(s.id_of(&mine).as_deref(), Some("AAMk2"));
        assert_eq!(s.href_of(&tasks, "AAMk2"), mine);
        assert_eq!(uid_of_href(&mine).as_deref(), Some("abc-crmsync"));
        assert_eq!(uid_of_href(&href), None);
    }

    #[test]
    fn the_status_rows_etags_map_hrefs_to_graph_items() {
        let s = store(Mailbox::Me);
        assert_eq!(split_etag(&member_etag("AAMk1", "W/\"x|y\"")), Some(("AAMk1", "W/\"x|y\"")));
        assert_eq!(split_etag("\"plain\""), None);
        let known = BTreeMap::from([
            ("/v1.0/me/calendar/uid-1.ics".to_string(), member_etag("E1", "W/\"a\"|series")),
            ("/v1.0/me/contacts/uid-2.vcf".to_string(), member_etag("C1", "W/\"b\"")),
        ]);
        s.learn_known(&known);
        assert_eq!(s.id_of("/v1.0/me/calendar/uid-1.ics").as_deref(), Some("E1"));
        assert_eq!(s.id_of("/v1.0/me/contacts/uid-2.vcf").as_deref(), Some("C1"));
        assert!(s.state().series.contains("E1"));
        assert!(!s.state().series.contains("C1"));
    }
}
