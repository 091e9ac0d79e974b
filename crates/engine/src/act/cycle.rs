//! One ACT cycle of a mailbox: discover (first time), list what changed on
//! the server, fetch it, plan with the CRM side, apply, record telemetry and
//! alerts. A no-change cycle costs one request per collection (a
//! sync-collection REPORT with the stored token, or a CTag PROPFIND).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use crmsync_core::act::item::ItemKind;
use crmsync_core::act::merge::Side;
use crmsync_core::act::plan::{Action, PlanContext, RemoteSnap, plan};
use crmsync_core::act::{ConflictPolicy, LeaveFilterAction};
use crmsync_core::model::{ChannelMethod, Mailbox, Owner, Severity};
use crmsync_core::settings::{BoolSetting, ChoiceSetting, IntSetting};
use crmsync_core::store::act::{self as act_store, Collection, ItemStatus};
use crmsync_core::store::alerts::{self, NewAlert, Scope};
use crmsync_core::store::appointments::OwnerIds;
use crmsync_core::store::{mailbox_state, mailboxes, profiles, settings as stored_settings};
use crmsync_core::{CoreError, ErrorClass, Store};
use tracing::info;

use super::apply::{self, Ctx, RemoteItem};
use super::listing::{kinds_of, token_after_own_writes};
use super::load::{crm_records, owner_facts};
pub use super::report::{ActCollectionStats, ActSync};
use crate::backend::{ItemStore, factory};
use crate::error::Result;
use crate::outcome::{RunCounts, RunOutcome};
use crmsync_core::store::history::RunChannel;

type Hook = std::sync::Arc<dyn Fn() -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

static BEFORE_APPLY: std::sync::Mutex<Option<HashMap<String, Hook>>> = std::sync::Mutex::new(None);

/// Test support: runs `hook` once, for the first collection whose URL starts
/// with `url_prefix`, after the next plan and before it is applied
/// (end-to-end tests change the server there to provoke a 412). Keyed by URL,
/// not by mailbox, so tests running in parallel against their own servers
/// with the same mailbox address do not take each other's hook.
#[doc(hidden)]
pub fn set_before_apply_hook(url_prefix: &str, hook: Hook) {
    let mut g = BEFORE_APPLY.lock().unwrap_or_else(|p| p.into_inner());
    g.get_or_insert_with(HashMap::new).insert(url_prefix.to_string(), hook);
}

type StoreMaker = std::sync::Arc<dyn Fn() -> Box<dyn ItemStore> + Send + Sync>;

static ITEM_STORES: std::sync::Mutex<Option<HashMap<String, StoreMaker>>> = std::sync::Mutex::new(None);

/// Test support: ACT runs of mailbox `email` take their item store from
/// `make` (one per run, as the profile's factory would) instead of the
/// profile. For stores whose profile kind is not wired into the factory
/// yet; keyed by address, so parallel tests use different mailboxes.
#[doc(hidden)]
pub fn set_item_store_maker(email: &str, make: StoreMaker) {
    let mut g = ITEM_STORES.lock().unwrap_or_else(|p| p.into_inner());
    g.get_or_insert_with(HashMap::new).insert(email.to_ascii_lowercase(), make);
}

fn item_store_maker(email: &str) -> Option<StoreMaker> {
    let g = ITEM_STORES.lock().unwrap_or_else(|p| p.into_inner());
    g.as_ref()?.get(&email.to_ascii_lowercase()).cloned()
}

fn take_hook(url: &str) -> Option<Hook> {
    let mut g = BEFORE_APPLY.lock().unwrap_or_else(|p| p.into_inner());
    let map = g.as_mut()?;
    let key = map.keys().find(|k| url.starts_with(k.as_str()))?.clone();
    map.remove(&key)
}

/// Discovers the mailbox's calendar, task list and address book (creating
/// what is missing) and remembers them.
pub async fn discover(store: &mut Store, mb: &Mailbox, items: &dyn ItemStore) -> Result<Vec<Collection>> {
    let found = items.collections(true).await?;
    let id = mb.id;
    store.write(|tx| -> Result<Vec<Collection>> {
        let mut out = Vec::new();
        for c in &found {
            out.push(act_store::upsert_collection(tx, id, c.kind, &c.url, c.display_name.as_deref())?);
        }
        Ok(out)
    })
}

fn slash(s: &str) -> String {
    if s.ends_with('/') { s.to_string() } else { format!("{s}/") }
}

/// Releases the mass-delete brake of a mailbox: the next cycle mirrors the held deletes.
pub fn confirm_brake(store: &mut Store, email: &str) -> Result<Vec<Collection>> {
    let mb = mailboxes::find(store.conn(), email)?
        .ok_or_else(|| CoreError::invalid("email", format!("no mailbox for {email}")))?;
    let released = store.write(|tx| act_store::confirm_brake(tx, mb.id))?;
    if released.is_empty() {
        return Err(CoreError::invalid("email", format!("{email} has no held mass delete to confirm")).into());
    }
    Ok(released)
}

fn component_kind(data: &str) -> Option<ItemKind> {
    let u = data.to_ascii_uppercase();
    if u.contains("BEGIN:VCARD") {
        Some(ItemKind::Contact)
    } else if u.contains("BEGIN:VEVENT") {
        Some(ItemKind::Appointment)
    } else if u.contains("BEGIN:VTODO") {
        Some(ItemKind::Task)
    } else {
        None
    }
}

struct MailboxSettings {
    policy: ConflictPolicy,
    leave: LeaveFilterAction,
    brake_percent: u8,
}

/// Syncs one collection URL (one or two kinds share it); returns per-kind stats.
async fn sync_url(
    store: &mut Store,
    mb: &Mailbox,
    client: &dyn ItemStore,
    cols: &[Collection],
    ms: &MailboxSettings,
    concurrency: usize,
) -> Result<Vec<ActCollectionStats>> {
    let first = &cols[0];
    let mut statuses: HashMap<ItemKind, Vec<ItemStatus>> = HashMap::new();
    let mut known: BTreeMap<String, String> = BTreeMap::new();
    for c in cols {
        let kind = kinds_of(&c.kind);
        let rows = act_store::status_rows(store.conn(), c.id, kind)?;
        for s in &rows {
            known.insert(s.row.href.clone(), s.row.etag.clone());
        }
        statuses.insert(kind, rows);
    }
    let listing = client.list(&first.url, first.sync_token.as_deref(), first.ctag.as_deref(), &known).await?;
    let status_by_href: HashMap<String, (ItemKind, String)> = statuses
        .iter()
        .flat_map(|(k, v)| v.iter().map(move |s| (s.row.href.clone(), (*k, s.row.etag.clone()))))
        .collect();

    // Fetch what is new or has a new ETag.
    let to_fetch: Vec<String> = listing
        .members
        .iter()
        .filter(|(h, e)| status_by_href.get(h.as_str()).is_none_or(|(_, etag)| etag != *e || e.is_empty()))
        .map(|(h, _)| h.clone())
        .collect();
    let addressbook = cols.iter().any(|c| c.kind == "contacts");
    let fetched = if to_fetch.is_empty() {
        Vec::new()
    } else {
        client.read_many(&first.url, &to_fetch, addressbook).await?
    };
    let mut content: HashMap<String, (ItemKind, RemoteItem, Option<chrono::DateTime<chrono::Utc>>)> =
        HashMap::new();
    let mut unreadable: Vec<(String, String)> = Vec::new();
    for (href, etag, data) in fetched {
        let Some(kind) = component_kind(&data) else {
            unreadable.push((href, "neither a VEVENT, a VTODO nor a vCard".into()));
            continue;
        };
        match apply::parse(kind, &data, &href) {
            Ok((item, modified)) => {
                let v4 = data.contains("VERSION:4.0");
                content.insert(href, (kind, RemoteItem { item, etag, v4, raw: data }, modified));
            }
            Err(e) => unreadable.push((href, e)),
        }
    }

    let mut server_ok = true;
    let mut out = Vec::new();
    for col in cols {
        let kind = kinds_of(&col.kind);
        let status = statuses.remove(&kind).unwrap_or_default();
        let mut st = ActCollectionStats {
            kind: kind.to_string(),
            url: col.url.clone(),
            listing: listing.how.into(),
            ..Default::default()
        };
        // The server side of this kind: fetched items, and unchanged ones from their status rows.
        let mut remote: HashMap<String, RemoteSnap> = HashMap::new();
        let mut items: HashMap<String, RemoteItem> = HashMap::new();
        for (href, etag) in &listing.members {
            if let Some((k, ri, modified)) = content.get(href) {
                if *k == kind {
                    remote.insert(
                        href.clone(),
                        RemoteSnap {
                            href: href.clone(),
                            etag: etag.clone(),
                            uid: ri.item.uid().into(),
                            emails: ri.item.match_emails(),
                            hash: ri.item.content_hash(),
                            modified: *modified,
                        },
                    );
                    items.insert(href.clone(), ri.clone());
                }
            } else if let Some(s) = status.iter().find(|s| &s.row.href == href) {
                // Unchanged (or changed but unreadable: kept as it was, never taken as deleted).
                remote.insert(
                    href.clone(),
                    RemoteSnap {
                        href: href.clone(),
                        etag: s.row.etag.clone(),
                        uid: s.uid.clone().unwrap_or_default(),
                        emails: vec![],
                        hash: s.row.remote_hash.clone(),
                        modified: None,
                    },
                );
            }
        }
        if kind == ItemKind::Contact {
            // A contact gets its vCard UID before it is first synced.
            store.write(|tx| -> Result<()> {
                tx.execute(
                    "UPDATE contacts SET uid = lower(hex(randomblob(12))) || '-crmsync' WHERE uid IS NULL",
                    [],
                )
                .map_err(CoreError::from)?;
                Ok(())
            })?;
        }
        let owner = owner_facts(&mb.data.owner, &mb.data.email);
        let cfg = act_store::mailbox_config(store.conn(), mb.id)?;
        let crm = crm_records(store, kind, &cfg, &owner)?;
        let crm_snaps: Vec<_> = crm.values().map(|r| r.snap.clone()).collect();
        let rows: Vec<_> = status.iter().map(|s| s.row.clone()).collect();
        let cx = PlanContext {
            kind,
            policy: ms.policy,
            leave: ms.leave,
            brake_percent: ms.brake_percent,
            brake_confirmed: col.brake_confirmed,
        };
        let p = plan(&crm_snaps, &remote.values().cloned().collect::<Vec<_>>(), &rows, &cx);

        // Server content the actions need but the listing did not fetch.
        let need: Vec<String> = p
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Sync { href, .. }
                | Action::KeepBoth { href, .. }
                | Action::CancelServer { href, .. } => Some(href.clone()),
                _ => None,
            })
            .filter(|h| !items.contains_key(h))
            .collect();
        let mut p = p;
        if !need.is_empty() {
            for (href, etag, data) in client.read_many(&col.url, &need, kind == ItemKind::Contact).await? {
                if let Ok((item, _)) = apply::parse(kind, &data, &href) {
                    let v4 = data.contains("VERSION:4.0");
                    items.insert(href, RemoteItem { item, etag, v4, raw: data });
                }
            }
            // Listed but not returned: asked once more on its own. Gone (404/410)
            // means deleted on the server since the listing's token, whatever
            // the listing said; plan again with it gone (docs/act-sync.md: a CRM
            // change is then created on the server again, no change deletes it
            // in the CRM).
            let mut gone = Vec::new();
            let missing: Vec<String> = need.iter().filter(|h| !items.contains_key(*h)).cloned().collect();
            for href in &missing {
                match client.read(href).await? {
                    Some((etag, data)) => {
                        if let Ok((item, _)) = apply::parse(kind, &data, href) {
                            let v4 = data.contains("VERSION:4.0");
                            items.insert(href.clone(), RemoteItem { item, etag, v4, raw: data });
                        }
                    }
                    None => gone.push(href.clone()),
                }
            }
            if !gone.is_empty() {
                info!(mailbox = %mb.data.email, count = gone.len(), "listed items are gone from the server; planning again");
                for href in &gone {
                    remote.remove(href);
                }
                p = plan(&crm_snaps, &remote.values().cloned().collect::<Vec<_>>(), &rows, &cx);
            }
        }

        let owner_ids = match &mb.data.owner {
            Owner::User { id, .. } => OwnerIds { user_id: Some(*id), queue_id: None },
            Owner::Queue { id, .. } => OwnerIds { user_id: None, queue_id: Some(*id) },
        };
        let ctx = Ctx {
            client,
            mailbox_id: mb.id,
            collection_id: col.id,
            collection_path: slash(&client.path(&col.url)),
            kind,
            owner: owner_ids,
            dirs: cfg.directions,
            policy: ms.policy,
            crm: &crm,
            remote: &remote,
            content: &items,
            concurrency,
        };
        if !p.actions.is_empty()
            && let Some(hook) = take_hook(&col.url)
        {
            hook().await;
        }
        server_ok &= apply::apply(store, &ctx, &p.actions, &mut st).await?;

        // Brake bookkeeping and alerts.
        let (cid, mid) = (col.id, mb.id);
        let email = mb.data.email.clone();
        let held = p.held.clone();
        // Held deletes must be listed again next cycle: the token stays where it was.
        server_ok &= held.is_empty();
        let was_confirmed = col.brake_confirmed;
        let unreadable_here: Vec<_> = unreadable
            .iter()
            .filter(|(h, _)| !status_by_href.get(h.as_str()).is_some_and(|(k, _)| *k != kind))
            .cloned()
            .collect();
        store.write(|tx| -> Result<()> {
            if let Some(b) = held.first() {
                st.held = held.iter().map(|b| b.deletes).sum();
                let side = if b.side == Side::Crm { "crm" } else { "server" };
                act_store::hold_brake(tx, cid, side, b.deletes)?;
                let where_ = if b.side == Side::Crm { "in the CRM" } else { "on the server" };
                let from = if b.side == Side::Crm { "the server" } else { "the CRM" };
                alerts::raise(tx, &NewAlert {
                    severity: Severity::Warning,
                    scope: Scope::Mailbox(mid),
                    code: "ACT_MASS_DELETE_HELD".into(),
                    message: format!(
                        "{} of {} synced {}s were deleted from {from}; the deletes are not mirrored {where_} until you confirm with `crmsync mailbox act-confirm {email}`",
                        b.deletes, b.total, kind
                    ),
                })?;
            } else if was_confirmed || col.brake_held_on.is_some() {
                act_store::clear_brake(tx, cid)?;
            }
            if (cols.len() == 1 || kind != ItemKind::Task) && !unreadable_here.is_empty() {
                for (href, why) in &unreadable_here {
                    st.failed += 1;
                    alerts::raise(tx, &NewAlert {
                        severity: Severity::Warning,
                        scope: Scope::Item { mailbox_id: mid, activity_id: None, item_ref: Some(href.clone()) },
                        code: "DAV_ITEM_UNREADABLE".into(),
                        message: format!("{href} on the server cannot be read and is left as it is: {why}"),
                    })?;
                }
            }
            Ok(())
        })?;
        out.push(st);
    }
    // Which token and CTag to keep (listing.rs says why writes matter).
    let wrote = out.iter().any(|s| s.created_server + s.updated_server + s.deleted_server + s.conflicts > 0);
    let keep = match (server_ok, wrote, listing.token.as_deref()) {
        (true, false, _) => Some((listing.token.clone(), listing.ctag.clone())),
        (true, true, Some(before)) => Some((
            token_after_own_writes(store, client, &first.url, cols, before).await?,
            listing.ctag.clone(),
        )),
        (true, true, None) => Some((None, listing.ctag.clone())),
        // Something is left to do next cycle; had we written, our writes must
        // be covered too: list every member next time.
        (false, true, _) => Some((None, None)),
        (false, false, _) => None,
    };
    if let Some((token, ctag)) = keep {
        let ids: Vec<i64> = cols.iter().map(|c| c.id).collect();
        store.write(|tx| -> Result<()> {
            for id in &ids {
                act_store::set_sync_state(tx, *id, token.as_deref(), ctag.as_deref())?;
            }
            Ok(())
        })?;
    }
    Ok(out)
}

async fn run(store: &mut Store, mb: &Mailbox) -> Result<(Vec<ActCollectionStats>, usize)> {
    let profile = profiles::get_by_id(store.conn(), mb.data.profile_id)?;
    let items = match item_store_maker(&mb.data.email) {
        Some(make) => make(),
        None => factory::item_store(store, mb, &profile)?,
    };
    let client = items.as_ref();
    let settings = stored_settings::load(store.conn())?;
    let (conflict, leave) = (ChoiceSetting::ActConflictPolicy, ChoiceSetting::ActLeaveFilterAction);
    let ms = MailboxSettings {
        policy: ConflictPolicy::parse(conflict.key(), settings.choice(conflict))?,
        leave: LeaveFilterAction::parse(leave.key(), settings.choice(leave))?,
        brake_percent: settings.int(IntSetting::ActMassDeleteBrakePercent).clamp(1, 100) as u8,
    };
    let cfg = act_store::mailbox_config(store.conn(), mb.id)?;
    let mut cols = act_store::collections(store.conn(), mb.id)?;
    let wanted: Vec<&str> = [("calendar", "appointment"), ("tasks", "task"), ("contacts", "contact")]
        .iter()
        .filter(|(_, p)| cfg.syncs(p))
        .map(|(k, _)| *k)
        .collect();
    if wanted.iter().any(|k| !cols.iter().any(|c| c.kind == *k)) {
        cols = discover(store, mb, client).await?;
    }
    cols.retain(|c| wanted.contains(&c.kind.as_str()));
    let mut by_url: BTreeMap<String, Vec<Collection>> = BTreeMap::new();
    for c in cols {
        by_url.entry(c.url.clone()).or_default().push(c);
    }
    let concurrency = (profile.data.max_connections as usize).clamp(1, 8);
    let mut stats = Vec::new();
    for (_, group) in by_url {
        stats.extend(sync_url(store, mb, client, &group, &ms, concurrency).await?);
    }
    Ok((stats, client.requests()))
}

/// One ACT run; when the server refuses an OAuth2 access token (expired or
/// revoked before its time), the token is renewed and the run tried once
/// more, so the sync goes on. A refused request changed nothing, and a run
/// picks up from the stored state, so the second try redoes nothing twice.
async fn run_renewing(store: &mut Store, mb: &Mailbox) -> Result<(Vec<ActCollectionStats>, usize)> {
    match run(store, mb).await {
        Err(e) => {
            let profile = profiles::get_by_id(store.conn(), mb.data.profile_id)?;
            if !crate::oauth::bearer_refused(&profile, &e) {
                return Err(e);
            }
            tracing::info!(mailbox = %mb.data.email, code = %e.code(), "access token refused; refreshing it once");
            crate::oauth::expire_access(store, mb, &profile)?;
            run(store, mb).await
        }
        ok => ok,
    }
}

/// Runs one ACT cycle for mailbox `mb` (looked up by the caller, once) and
/// records telemetry and alerts.
pub async fn sync_act(store: &mut Store, mb: Mailbox) -> Result<ActSync> {
    let skip = |code: &str, why: &str| ActSync {
        mailbox: mb.data.email.clone(),
        outcome: RunOutcome::skipped(code, why),
        collections: vec![],
        requests: 0,
    };
    if mb.data.act_method != ChannelMethod::ServerSide {
        return Ok(skip("NOT_SERVER_SIDE", "appointments, contacts and tasks are not server-side"));
    }
    if !mb.act.enabled {
        return Ok(skip("NOT_ENABLED", "ACT is not enabled; run Test & Enable"));
    }
    let id = mb.id;
    store.write(|tx| mailbox_state::sync_started(tx, id))?;
    let run_id = crate::history::start(store, id, RunChannel::Act)?;
    let sync = act_pass(store, mb).await?;
    crate::history::finish(store, run_id, &sync.outcome, 0, 0)?;
    Ok(sync)
}

/// The pass of [`sync_act`] once the mailbox is due: telemetry and alerts recorded.
async fn act_pass(store: &mut Store, mb: Mailbox) -> Result<ActSync> {
    let id = mb.id;
    let started = Instant::now();
    match run_renewing(store, &mb).await {
        Ok((collections, requests)) => {
            let processed: usize = collections
                .iter()
                .map(|s| {
                    s.created_crm
                        + s.created_server
                        + s.updated_crm
                        + s.updated_server
                        + s.deleted_crm
                        + s.deleted_server
                })
                .sum();
            let failed: usize = collections.iter().map(|s| s.failed).sum();
            let created: usize = collections.iter().map(|s| s.created_crm + s.created_server).sum();
            let ms = started.elapsed().as_millis() as i64;
            store.write(|tx| mailbox_state::sync_succeeded(tx, id, processed as i64, failed as i64, ms))?;
            let counts = RunCounts {
                processed: processed as i64,
                created: created as i64,
                failed: failed as i64,
                capped: false,
            };
            Ok(ActSync { mailbox: mb.data.email, outcome: RunOutcome::Ok(counts), collections, requests })
        }
        Err(e) => {
            let profile = profiles::get_by_id(store.conn(), mb.data.profile_id)?;
            if crate::oauth::bearer_refused(&profile, &e) {
                // Refused again after a renewal: the next sync renews it
                // instead of offering the refused one again.
                crate::oauth::expire_access(store, &mb, &profile)?;
            }
            let transient = e.class() == ErrorClass::Transient;
            let code = e.code();
            let message = format!("ACT: {e}");
            let settings = stored_settings::load(store.conn())?;
            let record = if transient {
                settings.bool(BoolSetting::AlertsRecordWarnings)
            } else {
                settings.bool(BoolSetting::AlertsRecordErrors)
            };
            store.write(|tx| -> Result<()> {
                mailbox_state::sync_failed(tx, id, &code, &message, transient)?;
                if record {
                    alerts::raise(
                        tx,
                        &NewAlert {
                            severity: if transient { Severity::Warning } else { Severity::Error },
                            scope: Scope::Mailbox(id),
                            code: code.clone(),
                            message: message.clone(),
                        },
                    )?;
                }
                Ok(())
            })?;
            let class = if transient { ErrorClass::Transient } else { ErrorClass::Permanent };
            Ok(ActSync {
                mailbox: mb.data.email,
                outcome: RunOutcome::Failed { code, class, message },
                collections: vec![],
                requests: 0,
            })
        }
    }
}

/// One ACT cycle over every mailbox with ACT enabled (or just `only`).
pub async fn sync_all_act(store: &mut Store, only: Option<&str>) -> Result<Vec<ActSync>> {
    let list = match only {
        Some(email) => vec![
            mailboxes::find(store.conn(), email)?
                .ok_or_else(|| CoreError::invalid("mailbox", format!("no mailbox for {email}")))?,
        ],
        None => mailboxes::list(store.conn())?,
    };
    let mut out = Vec::new();
    for mb in list {
        if mb.data.act_method != ChannelMethod::ServerSide || (only.is_none() && !mb.act.enabled) {
            continue;
        }
        out.push(sync_act(store, mb).await?);
    }
    Ok(out)
}
