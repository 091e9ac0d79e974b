//! Applying a plan: the server side first (PUT/DELETE with If-Match or
//! If-None-Match, several in flight), then the CRM side and the status rows
//! in one transaction per batch with a savepoint per item, so one bad item
//! rolls back alone. A 412 is a conflict: nothing is written for the item,
//! and the next cycle sees the server's new version.

use std::collections::HashMap;

use crmsync_core::act::item::{Item, ItemKind, TaskStatus};
use crmsync_core::act::merge::{MergeMode, Side, merge};
use crmsync_core::act::plan::{Action, RemoteSnap};
use crmsync_core::act::{ConflictPolicy, Directions};
use crmsync_core::model::Severity;
use crmsync_core::store::act::{self as act_store, ItemStatus};
use crmsync_core::store::alerts::{self, NewAlert, Scope};
use crmsync_core::store::appointments::{self, OwnerIds};
use crmsync_core::store::{records, tasks};
use crmsync_core::{CoreError, Store};
use crmsync_protocols::dav::{WriteError, ical, vcard};
use futures::StreamExt;
use rusqlite::Connection;

use super::load::CrmRecord;
use super::report::ActCollectionStats;
use crate::backend::ItemStore;
use crate::error::{EngineError, Result};

/// A server item as fetched.
#[derive(Debug, Clone)]
pub struct RemoteItem {
    pub item: Item,
    pub etag: String,
    pub v4: bool,
    /// The object as the server sent it: an update is patched into it, so
    /// what crmsync does not model (alarms, photos, X- properties) stays.
    pub raw: String,
}

/// Everything the applier needs about one collection.
pub struct Ctx<'a> {
    pub client: &'a dyn ItemStore,
    pub mailbox_id: i64,
    pub collection_id: i64,
    pub collection_path: String,
    pub kind: ItemKind,
    pub owner: OwnerIds,
    pub dirs: Directions,
    pub policy: ConflictPolicy,
    pub crm: &'a HashMap<i64, CrmRecord>,
    pub remote: &'a HashMap<String, RemoteSnap>,
    pub content: &'a HashMap<String, RemoteItem>,
    pub concurrency: usize,
}

/// Serializes an item for the server: (body, content type).
pub fn render(item: &Item, v4: bool) -> (String, &'static str) {
    match item {
        Item::Appointment(e) => (ical::write_event(e), "text/calendar; charset=utf-8"),
        Item::Task(t) => (ical::write_task(t), "text/calendar; charset=utf-8"),
        Item::Contact(c) => (vcard::write_contact(c, v4), "text/vcard; charset=utf-8"),
    }
}

/// Serializes an update of the server item `srv` to `item`: only the changed
/// modelled properties are patched into the server's own text.
pub fn render_update(srv: &RemoteItem, item: &Item) -> std::result::Result<(String, &'static str), String> {
    let body = match (&srv.item, item) {
        (Item::Appointment(old), Item::Appointment(new)) => ical::patch_event(&srv.raw, old, new),
        (Item::Task(old), Item::Task(new)) => ical::patch_task(&srv.raw, old, new),
        (Item::Contact(old), Item::Contact(new)) => vcard::patch_contact(&srv.raw, old, new),
        _ => return Err("the server item is of another kind".into()),
    }
    .map_err(|e| e.0)?;
    Ok((body, render(item, srv.v4).1))
}

/// Parses a server object of `kind`; a missing UID is named after the href.
pub fn parse(
    kind: ItemKind,
    data: &str,
    href: &str,
) -> std::result::Result<(Item, Option<chrono::DateTime<chrono::Utc>>), String> {
    let (mut item, modified) = match kind {
        ItemKind::Appointment => ical::parse_event(data).map(|p| (Item::Appointment(p.item), p.modified)),
        ItemKind::Task => ical::parse_task(data).map(|p| (Item::Task(p.item), p.modified)),
        ItemKind::Contact => vcard::parse_contact(data).map(|p| (Item::Contact(p.item), p.modified)),
    }
    .map_err(|e| e.0)?;
    if item.uid().is_empty() {
        let name = href.rsplit('/').next().unwrap_or(href);
        item.set_uid(name.rsplit_once('.').map_or(name, |(n, _)| n).to_string());
    }
    item.normalize();
    Ok((item, modified))
}

/// What the server will hand back for `item`: written and read again.
pub fn as_written(item: &Item, v4: bool) -> Item {
    let (body, _) = render(item, v4);
    parse(item.kind(), &body, "x").map(|p| p.0).unwrap_or_else(|_| item.clone())
}

fn new_uid() -> String {
    use rand::RngCore;
    let mut b = [0u8; 12];
    rand::rng().fill_bytes(&mut b);
    format!("{}-crmsync", b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

fn href_for(ctx: &Ctx<'_>, uid: &str) -> String {
    let ext = if ctx.kind == ItemKind::Contact { "vcf" } else { "ics" };
    let safe = uid.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
        && !uid.is_empty()
        && uid.len() < 200;
    let name = if safe {
        uid.to_string()
    } else {
        use sha2_shim::digest;
        digest(uid)
    };
    format!("{}{}.{ext}", ctx.collection_path, name)
}

mod sha2_shim {
    pub fn digest(s: &str) -> String {
        // FNV-1a 128 bits is plenty for a file name and needs no dependency.
        let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
        for b in s.bytes() {
            h ^= u128::from(b);
            h = h.wrapping_mul(0x0000000001000000000000000000013B);
        }
        format!("{h:032x}")
    }
}

#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // short-lived, one per action of a batch
enum Net {
    None,
    Put {
        href: String,
        etag: String,
        written: Item,
    },
    Sync {
        new_crm: Item,
        put: Option<(String, Item)>,
    },
    KeepBoth {
        copy: Item,
        copy_href: String,
        copy_etag: String,
        copy_written: Item,
        new_crm: Item,
        put: Option<(String, Item)>,
    },
    Deleted,
    Conflict(String),
    Failed(EngineError),
}

async fn put(
    ctx: &Ctx<'_>,
    href: &str,
    item: &Item,
    v4: bool,
    if_match: Option<&str>,
) -> std::result::Result<(String, Item), WriteError> {
    let (body, ct) = render(item, v4);
    let etag = ctx.client.write(href, body, ct, if_match).await?;
    Ok((etag, as_written(item, v4)))
}

/// Updates the server item `srv` (fetched this cycle) to `item`, patching its text.
async fn put_update(ctx: &Ctx<'_>, href: &str, srv: &RemoteItem, item: &Item) -> Net {
    let (body, ct) = match render_update(srv, item) {
        Ok(b) => b,
        Err(e) => {
            return Net::Failed(EngineError::Unsupported(format!(
                "{href}: the server's object cannot be updated without losing what crmsync does not model ({e}); it is left as it is"
            )));
        }
    };
    let written = parse(item.kind(), &body, href).map(|p| p.0).unwrap_or_else(|_| item.clone());
    match ctx.client.write(href, body, ct, Some(&srv.etag)).await {
        Ok(etag) => Net::Put { href: href.to_string(), etag, written },
        Err(e) => conflict_or_fail(e, "update"),
    }
}

fn conflict_or_fail(e: WriteError, what: &str) -> Net {
    match e {
        WriteError::PreconditionFailed => Net::Conflict(format!(
            "{what}: the item changed on the server meanwhile (HTTP 412); it is synced again next cycle"
        )),
        WriteError::Protocol(p) => Net::Failed(p.into()),
    }
}

async fn net(ctx: &Ctx<'_>, a: &Action) -> Net {
    let v4_of = |href: &str| ctx.content.get(href).is_some_and(|c| c.v4);
    match a {
        Action::CreateServer { record_id, .. } => {
            let Some(rec) = ctx.crm.get(record_id) else { return Net::None };
            let mut href = href_for(ctx, rec.item.uid());
            // A resurrected item or a taken name gets a fresh name.
            if ctx.remote.contains_key(&href) {
                href = href_for(ctx, &new_uid());
            }
            match put(ctx, &href, &rec.item, false, None).await {
                Ok((etag, written)) => Net::Put { href, etag, written },
                Err(WriteError::PreconditionFailed) => {
                    let href = href_for(ctx, &new_uid());
                    match put(ctx, &href, &rec.item, false, None).await {
                        Ok((etag, written)) => Net::Put { href, etag, written },
                        Err(e) => conflict_or_fail(e, "create"),
                    }
                }
                Err(e) => conflict_or_fail(e, "create"),
            }
        }
        Action::Sync { record_id, href, winner, mode, .. } => {
            let (Some(rec), Some(srv)) = (ctx.crm.get(record_id), ctx.content.get(href)) else {
                return Net::Failed(EngineError::Unsupported(format!(
                    "{href}: the server item could not be read"
                )));
            };
            let (new_crm, new_srv) = merge(&rec.item, &srv.item, *winner, *mode, &ctx.dirs);
            let mut put_done = None;
            if new_srv != srv.item {
                match put_update(ctx, href, srv, &new_srv).await {
                    Net::Put { etag, written, .. } => put_done = Some((etag, written)),
                    other => return other,
                }
            }
            Net::Sync { new_crm, put: put_done }
        }
        Action::KeepBoth { record_id, href } => {
            let (Some(rec), Some(srv)) = (ctx.crm.get(record_id), ctx.content.get(href)) else {
                return Net::Failed(EngineError::Unsupported(format!(
                    "{href}: the server item could not be read"
                )));
            };
            let mut copy = rec.item.clone();
            copy.set_uid(new_uid());
            let copy_href = href_for(ctx, copy.uid());
            let (copy_etag, copy_written) = match put(ctx, &copy_href, &copy, v4_of(href), None).await {
                Ok(d) => d,
                Err(e) => return conflict_or_fail(e, "keep both"),
            };
            let (new_crm, new_srv) = merge(&rec.item, &srv.item, Side::Server, MergeMode::Replace, &ctx.dirs);
            let mut put_done = None;
            if new_srv != srv.item {
                match put_update(ctx, href, srv, &new_srv).await {
                    Net::Put { etag, written, .. } => put_done = Some((etag, written)),
                    other => return other,
                }
            }
            Net::KeepBoth { copy, copy_href, copy_etag, copy_written, new_crm, put: put_done }
        }
        Action::DeleteServer { href, .. } => {
            let etag = ctx.remote.get(href).map(|r| r.etag.as_str());
            match ctx.client.delete(href, etag).await {
                Ok(()) => Net::Deleted,
                Err(e) => conflict_or_fail(e, "delete"),
            }
        }
        Action::CancelServer { href, .. } => {
            let Some(srv) = ctx.content.get(href) else {
                return Net::Failed(EngineError::Unsupported(format!(
                    "{href}: the server item could not be read"
                )));
            };
            let mut item = srv.item.clone();
            match &mut item {
                Item::Appointment(e) => e.cancelled = true,
                Item::Task(t) => t.status = TaskStatus::Deferred,
                Item::Contact(_) => return Net::None,
            }
            put_update(ctx, href, srv, &item).await
        }
        _ => Net::None,
    }
}

fn insert_item(conn: &Connection, item: &Item, owner: OwnerIds) -> Result<i64> {
    Ok(match item {
        Item::Appointment(e) => appointments::insert(conn, e, None, owner)?,
        Item::Task(t) => tasks::insert(conn, t, None, owner)?,
        Item::Contact(c) => records::insert_contact(conn, &records::contact_from_item(c), owner.user_id)?,
    })
}

fn update_item(conn: &Connection, id: i64, item: &Item) -> Result<()> {
    match item {
        Item::Appointment(e) => appointments::update(conn, id, e)?,
        Item::Task(t) => tasks::update(conn, id, t)?,
        Item::Contact(c) => records::update_contact(conn, id, &records::contact_from_item(c), None)?,
    }
    Ok(())
}

fn delete_item(conn: &Connection, kind: ItemKind, id: i64) -> Result<()> {
    match kind {
        ItemKind::Contact => records::delete_contact(conn, id)?,
        _ => appointments::delete(conn, id)?,
    };
    Ok(())
}

fn status(
    ctx: &Ctx<'_>,
    record_id: i64,
    href: &str,
    etag: &str,
    crm: &Item,
    srv: &Item,
    version: i64,
) -> ItemStatus {
    ItemStatus {
        kind: ctx.kind,
        row: crmsync_core::act::plan::StatusRow {
            record_id,
            href: href.to_string(),
            etag: etag.to_string(),
            crm_hash: crm.content_hash(),
            remote_hash: srv.content_hash(),
        },
        crm_version: version,
        uid: Some(srv.uid().to_string()),
    }
}

fn item_alert(
    conn: &Connection,
    ctx: &Ctx<'_>,
    severity: Severity,
    code: &str,
    record_id: Option<i64>,
    href: &str,
    message: String,
) -> Result<()> {
    let activity_id = record_id.filter(|_| ctx.kind != ItemKind::Contact);
    alerts::raise(
        conn,
        &NewAlert {
            severity,
            scope: Scope::Item { mailbox_id: ctx.mailbox_id, activity_id, item_ref: Some(href.to_string()) },
            code: code.into(),
            message,
        },
    )?;
    Ok(())
}

fn kind_word(k: ItemKind) -> &'static str {
    match k {
        ItemKind::Appointment => "appointment",
        ItemKind::Task => "task",
        ItemKind::Contact => "contact",
    }
}

/// Writes the CRM side and the status row of one action (inside a savepoint).
fn db(conn: &Connection, ctx: &Ctx<'_>, a: &Action, n: Net, st: &mut ActCollectionStats) -> Result<()> {
    let cid = ctx.collection_id;
    let crm = |id: &i64| ctx.crm.get(id);
    let srv = |h: &String| ctx.content.get(h);
    let what = kind_word(ctx.kind);
    let policy = ctx.policy;
    match (a, n) {
        (_, Net::Conflict(msg)) => {
            st.conflicts += 1;
            let (rid, href) = action_ids(a);
            item_alert(
                conn,
                ctx,
                Severity::Warning,
                "DAV_CONFLICT",
                rid,
                &href,
                format!("{what} {href}: {msg}"),
            )?;
        }
        (_, Net::Failed(e)) => {
            st.failed += 1;
            let (rid, href) = action_ids(a);
            item_alert(conn, ctx, Severity::Error, &e.code(), rid, &href, format!("{what} {href}: {e}"))?;
        }
        (Action::CreateServer { record_id, resurrect }, Net::Put { href, etag, written }) => {
            let Some(rec) = crm(record_id) else { return Ok(()) };
            act_store::put_status(
                conn,
                cid,
                &status(ctx, *record_id, &href, &etag, &rec.item, &written, rec.version),
            )?;
            st.created_server += 1;
            if *resurrect {
                st.conflicts += 1;
                item_alert(
                    conn,
                    ctx,
                    Severity::Warning,
                    "DAV_CONFLICT",
                    Some(*record_id),
                    &href,
                    format!(
                        "{what} {record_id} was deleted on the server but changed in the CRM; it was created on the server again"
                    ),
                )?;
            }
        }
        (Action::CreateCrm { href, resurrect }, _) => {
            let Some(s) = srv(href) else { return Ok(()) };
            let id = insert_item(conn, &s.item, ctx.owner)?;
            act_store::put_status(conn, cid, &status(ctx, id, href, &s.etag, &s.item, &s.item, 1))?;
            st.created_crm += 1;
            if *resurrect {
                st.conflicts += 1;
                item_alert(
                    conn,
                    ctx,
                    Severity::Warning,
                    "DAV_CONFLICT",
                    Some(id),
                    href,
                    format!(
                        "{what} {href} was deleted in the CRM but changed on the server; it was created in the CRM again (id {id})"
                    ),
                )?;
            }
        }
        (Action::Link { record_id, href } | Action::Restatus { record_id, href }, _) => {
            let (Some(rec), Some(r)) = (crm(record_id), ctx.remote.get(href)) else { return Ok(()) };
            let srv_item = srv(href).map(|s| s.item.clone());
            let remote_hash = srv_item.as_ref().map(|i| i.content_hash()).unwrap_or_else(|| r.hash.clone());
            let mut s = status(ctx, *record_id, href, &r.etag, &rec.item, &rec.item, rec.version);
            s.row.remote_hash = remote_hash;
            s.uid = Some(r.uid.clone());
            act_store::put_status(conn, cid, &s)?;
            if matches!(a, Action::Link { .. }) {
                st.linked += 1;
            }
        }
        (Action::Sync { record_id, href, winner, conflict, .. }, Net::Sync { new_crm, put }) => {
            let (Some(rec), Some(s)) = (crm(record_id), srv(href)) else { return Ok(()) };
            let mut version = rec.version;
            if new_crm != rec.item {
                update_item(conn, *record_id, &new_crm)?;
                version += 1;
                st.updated_crm += 1;
            }
            let (etag, srv_item) = match put {
                Some((etag, written)) => {
                    st.updated_server += 1;
                    (etag, written)
                }
                None => (s.etag.clone(), s.item.clone()),
            };
            act_store::put_status(
                conn,
                cid,
                &status(ctx, *record_id, href, &etag, &new_crm, &srv_item, version),
            )?;
            if *conflict {
                st.conflicts += 1;
                let side = if *winner == Side::Crm { "the CRM version" } else { "the server version" };
                item_alert(
                    conn,
                    ctx,
                    Severity::Warning,
                    "DAV_CONFLICT",
                    Some(*record_id),
                    href,
                    format!(
                        "{what} {record_id} changed in the CRM and on the server; conflict policy {policy}: {side} was kept on both sides"
                    ),
                )?;
            }
        }
        (
            Action::KeepBoth { record_id, href },
            Net::KeepBoth { copy, copy_href, copy_etag, copy_written, new_crm, put },
        ) => {
            let (Some(rec), Some(s)) = (crm(record_id), srv(href)) else { return Ok(()) };
            let copy_id = insert_item(conn, &copy, rec.owner)?;
            act_store::put_status(
                conn,
                cid,
                &status(ctx, copy_id, &copy_href, &copy_etag, &copy, &copy_written, 1),
            )?;
            update_item(conn, *record_id, &new_crm)?;
            let (etag, srv_item) = put.unwrap_or_else(|| (s.etag.clone(), s.item.clone()));
            act_store::put_status(
                conn,
                cid,
                &status(ctx, *record_id, href, &etag, &new_crm, &srv_item, rec.version + 1),
            )?;
            st.conflicts += 1;
            st.created_crm += 1;
            st.created_server += 1;
            st.updated_crm += 1;
            item_alert(
                conn,
                ctx,
                Severity::Warning,
                "DAV_CONFLICT",
                Some(*record_id),
                href,
                format!(
                    "{what} {record_id} changed in the CRM and on the server; both versions were kept: the server's in {record_id}, the CRM's as the new {what} {copy_id} (also on the server as {copy_href})"
                ),
            )?;
        }
        (Action::DeleteServer { record_id: _, href }, Net::Deleted) => {
            act_store::delete_status(conn, cid, href)?;
            st.deleted_server += 1;
        }
        (Action::DeleteCrm { record_id, href }, _) => {
            delete_item(conn, ctx.kind, *record_id)?;
            act_store::delete_status(conn, cid, href)?;
            st.deleted_crm += 1;
        }
        (Action::Unlink { href, .. } | Action::Forget { href, .. }, _) => {
            act_store::delete_status(conn, cid, href)?;
            if matches!(a, Action::Unlink { .. }) {
                st.unlinked += 1;
            }
        }
        (Action::CancelServer { href, .. }, _) => {
            act_store::delete_status(conn, cid, href)?;
            st.unlinked += 1;
            st.updated_server += 1;
        }
        _ => {}
    }
    Ok(())
}

fn action_ids(a: &Action) -> (Option<i64>, String) {
    match a {
        Action::CreateServer { record_id, .. } => (Some(*record_id), String::new()),
        Action::CreateCrm { href, .. } => (None, href.clone()),
        Action::Link { record_id, href }
        | Action::Sync { record_id, href, .. }
        | Action::KeepBoth { record_id, href }
        | Action::DeleteServer { record_id, href }
        | Action::DeleteCrm { record_id, href }
        | Action::Unlink { record_id, href }
        | Action::CancelServer { record_id, href }
        | Action::Restatus { record_id, href }
        | Action::Forget { record_id, href } => (Some(*record_id), href.clone()),
    }
}

/// Applies `actions` in batches; returns false when an item coming from the
/// server could not be written (the sync token must then not advance).
pub async fn apply(
    store: &mut Store,
    ctx: &Ctx<'_>,
    actions: &[Action],
    st: &mut ActCollectionStats,
) -> Result<bool> {
    let mut all_server_items_written = true;
    for batch in actions.chunks(100) {
        let mut outcomes: Vec<(usize, Net)> = futures::stream::iter(batch.iter().enumerate())
            .map(|(i, a)| async move { (i, net(ctx, a).await) })
            .buffer_unordered(ctx.concurrency.max(1))
            .collect()
            .await;
        outcomes.sort_by_key(|(i, _)| *i);
        // The server has this batch's writes; the CRM and the status rows not yet.
        crmsync_core::crash::point("act.after_server_write");
        let mut failures: Vec<(Action, String)> = Vec::new();
        store.write(|tx| -> Result<()> {
            for (i, n) in outcomes {
                let a = &batch[i];
                tx.execute_batch("SAVEPOINT act_item").map_err(CoreError::from)?;
                match db(tx, ctx, a, n, st) {
                    Ok(()) => tx.execute_batch("RELEASE act_item").map_err(CoreError::from)?,
                    Err(e) => {
                        tx.execute_batch("ROLLBACK TO act_item; RELEASE act_item")
                            .map_err(CoreError::from)?;
                        failures.push((a.clone(), e.to_string()));
                    }
                }
            }
            Ok(())
        })?;
        if !failures.is_empty() {
            store.write(|tx| -> Result<()> {
                for (a, msg) in &failures {
                    st.failed += 1;
                    if matches!(a, Action::CreateCrm { .. } | Action::Sync { .. } | Action::KeepBoth { .. }) {
                        all_server_items_written = false;
                    }
                    let (rid, href) = action_ids(a);
                    item_alert(
                        tx,
                        ctx,
                        Severity::Error,
                        "ACT_ITEM_FAILED",
                        rid,
                        &href,
                        format!("{} {href}: {msg}", kind_word(ctx.kind)),
                    )?;
                }
                Ok(())
            })?;
        }
    }
    Ok(all_server_items_written)
}
