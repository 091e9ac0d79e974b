//! The Exchange incoming pass ([`super::ews::EwsSource`]): SyncFolderItems on
//! the Inbox from the stored SyncState, one page of at most a batch of
//! changes at a time; the new messages' MimeContent by GetItem; each page
//! processed in one transaction that also stores the page's SyncState; and
//! only after the commit the server changes (mark read, delete), recorded as
//! pending so a pass that dies in between finishes them next time.

use std::time::Duration;

use crmsync_core::Store;
use crmsync_core::settings::IntSetting;
use crmsync_core::store::ews_state::{self, Pending};
use crmsync_core::store::sync_state::Outcome;
use crmsync_protocols::ProtocolError;
use crmsync_protocols::ews::{
    DeleteItem, DeleteType, DistinguishedFolder, EwsClient, GetItem, ItemId, ItemShape, PropertyPath,
    SyncChange, SyncFolderItems, SyncPage, UpdateItem,
};
use tracing::{Instrument, info, info_span, warn};

use crate::error::Result;
use crate::ingest::batch::{SyncStats, machine_mailbox, process_one, tally};
use crate::ingest::process::{self, MailboxContext, Source};

/// The folder name the Inbox's state and items are kept under.
pub const INBOX: &str = "INBOX";

/// How often one request is retried after `ErrorServerBusy` before the pass gives up (transient).
const MAX_BUSY_RETRIES: u32 = 3;

/// The longest back-off honoured inside a pass; a longer one ends the pass (transient).
const MAX_BACKOFF: Duration = Duration::from_secs(120);

/// Syncs the Inbox of an Exchange mailbox.
pub async fn sync_ews(store: &mut Store, ctx: &MailboxContext, client: &EwsClient) -> Result<SyncStats> {
    let span = info_span!("ews_sync", mailbox = %ctx.mailbox.data.email, profile = %ctx.profile.data.name);
    async move {
        let mut stats = SyncStats::default();
        sync_folder(store, client, ctx, &mut stats)
            .instrument(info_span!("ews_folder", folder = INBOX))
            .await?;
        Ok(stats)
    }
    .instrument(span)
    .await
}

/// Runs `call` again after the back-off an `ErrorServerBusy` asked for.
async fn with_backoff<T, F, Fut>(mut call: F) -> std::result::Result<T, ProtocolError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, ProtocolError>>,
{
    let mut tries = 0;
    loop {
        match call().await {
            Err(e) if tries < MAX_BUSY_RETRIES && e.retry_after().is_some_and(|d| d <= MAX_BACKOFF) => {
                let wait = e.retry_after().unwrap_or_default();
                warn!(wait_ms = wait.as_millis() as u64, "the server is busy; waiting as it asked");
                tokio::time::sleep(wait).await;
                tries += 1;
            }
            r => return r,
        }
    }
}

/// Makes the server changes committed messages still wait for.
async fn finish_pending(store: &mut Store, client: &EwsClient, ctx: &MailboxContext) -> Result<()> {
    for what in [Pending::Delete, Pending::Read] {
        let ids = ews_state::pending(store.conn(), ctx.mailbox.id, INBOX, what)?;
        if !ids.is_empty() {
            info!(count = ids.len(), ?what, "making server changes an earlier pass could not make");
            change_server(client, &ids, what).await?;
            store.write(|tx| ews_state::settle(tx, ctx.mailbox.id, &ids))?;
        }
    }
    Ok(())
}

/// Deletes (to Deleted Items) or marks read these items. An item that is
/// gone already needs nothing more.
async fn change_server(client: &EwsClient, ids: &[String], what: Pending) -> Result<()> {
    let results: Vec<std::result::Result<(), ProtocolError>> = match what {
        Pending::Delete => {
            let req = DeleteItem {
                delete_type: DeleteType::MoveToDeletedItems,
                send_cancellations: None,
                all_task_occurrences: false,
                ids: ids.iter().map(ItemId::new).collect(),
            };
            with_backoff(|| client.delete_items(&req)).await?
        }
        Pending::Read => {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let req = UpdateItem::set_read(ItemId::new(id), true);
                let r = with_backoff(|| client.update_items(&req)).await?;
                out.extend(r.into_iter().map(|r| r.map(|_| ())));
            }
            out
        }
    };
    for r in results {
        match r {
            Ok(()) => {}
            Err(e) if e.code() == "ITEM_NOT_FOUND" => info!("item gone from the server already"),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// One SyncFolderItems page from `state`; an invalid SyncState starts the folder over once.
async fn page(
    store: &mut Store,
    client: &EwsClient,
    ctx: &MailboxContext,
    state: &mut Option<String>,
    max: u32,
) -> Result<SyncPage> {
    let mut restarted = false;
    loop {
        let req = SyncFolderItems {
            shape: ItemShape::default(),
            folder: DistinguishedFolder::Inbox.into(),
            sync_state: state.clone(),
            max_changes: max,
            normal_items_scope: false,
        };
        match with_backoff(|| client.sync_folder_items(&req)).await {
            Ok(p) => return Ok(p),
            Err(e) if e.is_resync_required() && !restarted && state.is_some() => {
                // Every message already processed is in ews_items: the full
                // resync lists them again and they are skipped.
                warn!("the server refused the stored SyncState; syncing the Inbox from the start");
                store.write(|tx| ews_state::set_sync_state(tx, ctx.mailbox.id, INBOX, None))?;
                *state = None;
                restarted = true;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn sync_folder(
    store: &mut Store,
    client: &EwsClient,
    ctx: &MailboxContext,
    stats: &mut SyncStats,
) -> Result<()> {
    let cap = ctx.settings.int(IntSetting::IncomingMaxItemsPerCycle);
    let batch = ctx.settings.int(IntSetting::IncomingFetchBatchSize).clamp(1, 512) as u32;
    let fctx = ctx.for_folder(INBOX);
    let mut state = ews_state::sync_state(store.conn(), ctx.mailbox.id, INBOX)?;
    if state.is_some() {
        finish_pending(store, client, ctx).await?;
    }
    loop {
        let room = (cap - stats.processed).max(0);
        if room == 0 {
            stats.capped = true;
            return Ok(());
        }
        let max = batch.min(u32::try_from(room).unwrap_or(u32::MAX)).max(1);
        let page = page(store, client, ctx, &mut state, max).await?;
        // New messages of this page not processed yet (a resync, or a rerun
        // after a kill before the commit, lists some again).
        let mut todo: Vec<ItemId> = Vec::new();
        let mut too_large: Vec<String> = Vec::new();
        for change in &page.changes {
            match change {
                Ok(SyncChange::Create(item)) => {
                    if let Some(id) = &item.common().item_id
                        && !ews_state::item_done(store.conn(), ctx.mailbox.id, &id.id)?
                    {
                        todo.push(id.clone());
                    }
                }
                Ok(_) => {}
                Err((Some(id), _)) => too_large.push(id.id.clone()),
                Err((None, e)) => warn!(error = %e, "the server listed an item crmsync cannot read"),
            }
        }
        let fetched = if todo.is_empty() {
            Vec::new()
        } else {
            // DateTimeReceived is when the mail arrived (the IMAP INTERNALDATE):
            // "process email from" compares against it, not the Date header.
            let mut shape = ItemShape::mime();
            shape.additional.push(PropertyPath::field("item:DateTimeReceived"));
            let req = GetItem { shape, ids: todo.clone() };
            with_backoff(|| client.get_items(&req)).await?
        };
        crmsync_core::crash::point("incoming.after_fetch");
        let delete = ctx.mailbox.data.delete_after_processing;
        let mark_read = machine_mailbox(ctx);
        let mut changes: Vec<String> = Vec::new();
        store.write(|tx| -> Result<()> {
            for (id, got) in todo.iter().zip(fetched.iter()) {
                if ews_state::item_done(tx, ctx.mailbox.id, &id.id)? {
                    continue;
                }
                let received_at =
                    got.as_ref().ok().and_then(|i| received(i.common().date_time_received.as_deref()));
                let src = Source { folder: INBOX.into(), item_ref: format!("ews:{}", id.id), received_at };
                let (outcome, created, pending) = match got {
                    Ok(item) => match &item.common().mime_content {
                        Some(raw) => {
                            let (outcome, created) = process_one(tx, &fctx, raw, &src)?;
                            // Only mail committed in the CRM may change on the server.
                            let pending = (outcome == Outcome::Tracked)
                                .then_some(if delete {
                                    Some(Pending::Delete)
                                } else {
                                    mark_read.then_some(Pending::Read)
                                })
                                .flatten();
                            (outcome, created, pending)
                        }
                        None => {
                            not_readable(
                                tx,
                                &fctx,
                                &src,
                                "the server returned the message without its MIME content",
                            )?;
                            (Outcome::Failed, false, None)
                        }
                    },
                    Err(e) if e.code() == "ITEM_NOT_FOUND" => {
                        info!(item = %id.id, "the message was removed before it could be read");
                        continue;
                    }
                    Err(e) if e.code() == "MESSAGE_TOO_LARGE" => {
                        not_readable(tx, &fctx, &src, &e.to_string())?;
                        (Outcome::Failed, false, None)
                    }
                    Err(e) => {
                        not_readable(
                            tx,
                            &fctx,
                            &src,
                            &format!("the server did not return the message: {e}"),
                        )?;
                        (Outcome::Failed, false, None)
                    }
                };
                ews_state::record_item(tx, ctx.mailbox.id, INBOX, &id.id, outcome, pending)?;
                tally(stats, outcome, created);
                if pending.is_some() {
                    changes.push(id.id.clone());
                }
            }
            for id in &too_large {
                if ews_state::item_done(tx, ctx.mailbox.id, id)? {
                    continue;
                }
                let src = Source { folder: INBOX.into(), item_ref: format!("ews:{id}"), received_at: None };
                not_readable(tx, &fctx, &src, "the message is larger than incoming.max_message_size_mb")?;
                ews_state::record_item(tx, ctx.mailbox.id, INBOX, id, Outcome::Failed, None)?;
                tally(stats, Outcome::Failed, false);
            }
            ews_state::set_sync_state(tx, ctx.mailbox.id, INBOX, Some(&page.sync_state))?;
            crmsync_core::crash::point("incoming.before_commit");
            Ok(())
        })?;
        crmsync_core::crash::point("incoming.after_commit");
        state = Some(page.sync_state.clone());
        // Committed: now the server may change; should this fail, the rows
        // say what is pending and the next pass finishes it.
        if !changes.is_empty() {
            let what = if delete { Pending::Delete } else { Pending::Read };
            change_server(client, &changes, what).await?;
            store.write(|tx| ews_state::settle(tx, ctx.mailbox.id, &changes))?;
        }
        if page.last_page {
            return Ok(());
        }
    }
}

/// An EWS dateTime (`2026-12-05T09:00:00Z`) as a UTC time.
fn received(v: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(v?).ok().map(|d| d.with_timezone(&chrono::Utc))
}

/// A message that could not be read: kept as a failed item with an alert; it stays on the server.
fn not_readable(tx: &rusqlite::Connection, ctx: &MailboxContext, src: &Source, why: &str) -> Result<()> {
    warn!(item = %src.item_ref, why, "message not processed");
    process::fail_item(
        tx,
        ctx,
        b"",
        src,
        "EMAIL_NOT_RETURNED",
        &format!("Exchange message {}: {why}; it was not tracked and is left on the server", src.item_ref),
    )?;
    Ok(())
}
