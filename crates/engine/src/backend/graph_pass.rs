//! The Microsoft 365 incoming pass ([`super::graph_mail::GraphSource`]). Per
//! folder (the Inbox, then each tracked folder): finish the server changes an
//! earlier pass committed but could not make, list what changed with a
//! message delta round from the stored delta link (all its pages), fetch the
//! new messages' MIME in bounded `$batch` round trips, process each batch in
//! one transaction, and store the round's delta link with the last batch. A
//! pass stopped before that (a kill, the per-cycle cap) repeats the round from
//! the old link, and the idempotency rows skip what was done. A delta link the
//! server no longer knows (410) starts the folder over: the rows, and the
//! pipeline's Message-ID dedupe, keep that from making duplicates.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use crmsync_core::Store;
use crmsync_core::settings::IntSetting;
use crmsync_core::store::graph_state::{self, ServerChange};
use crmsync_core::store::sync_state::Outcome;
use crmsync_protocols::ProtocolError;
use crmsync_protocols::graph::{GraphClient, MailFolder, Message};
use tracing::{Instrument, info, info_span, warn};

use crate::error::{EngineError, Result};
use crate::ingest::batch::{SyncStats, machine_mailbox, process_one, tally};
use crate::ingest::process::{self, MailboxContext, Source};

/// Largest delta page asked for (Graph's own maximum for messages).
const MAX_PAGE: i64 = 1000;

/// Syncs the Inbox and the tracked folders of a Microsoft 365 mailbox.
pub async fn sync_graph(store: &mut Store, ctx: &MailboxContext, client: &GraphClient) -> Result<SyncStats> {
    let span = info_span!("graph_sync", mailbox = %ctx.mailbox.data.email, profile = %ctx.profile.data.name);
    async move {
        let mut stats = SyncStats::default();
        let mut folders = vec![("INBOX".to_string(), "inbox".to_string())];
        let tracked: Vec<String> = ctx
            .mailbox
            .data
            .track_folders
            .iter()
            .map(|f| f.folder.clone())
            .filter(|f| !f.eq_ignore_ascii_case("INBOX"))
            .collect();
        if !tracked.is_empty() {
            let (all, _) = client.collect::<MailFolder>(&client.mailbox().mail_folders()).await?;
            for name in tracked {
                let found = all
                    .iter()
                    .find(|f| f.display_name.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(&name)));
                match found {
                    Some(f) => folders.push((name, f.id.clone())),
                    None => {
                        let url = client.url_of(&client.mailbox().mail_folders()).unwrap_or_default();
                        let (host, port) = super::host_and_port(&url);
                        return Err(ProtocolError::MailboxNotFound {
                            proto: crmsync_protocols::Proto::Graph,
                            host,
                            port,
                            folder: name,
                        }
                        .into());
                    }
                }
            }
        }
        for (name, id) in folders {
            sync_folder(store, client, ctx, &name, &id, &mut stats)
                .instrument(info_span!("graph_folder", folder = %name))
                .await?;
            if stats.capped {
                break;
            }
        }
        Ok(stats)
    }
    .instrument(span)
    .await
}

/// Makes the server changes committed messages still wait for (read flag,
/// delete), then records them done.
async fn finish_pending(
    store: &mut Store,
    client: &GraphClient,
    ctx: &MailboxContext,
    folder: &str,
) -> Result<()> {
    let pending = graph_state::pending_changes(store.conn(), ctx.mailbox.id, folder)?;
    if !pending.is_empty() {
        info!(count = pending.len(), "making the server changes an earlier pass committed");
    }
    apply_changes(store, client, ctx, folder, &pending).await
}

async fn apply_changes(
    store: &mut Store,
    client: &GraphClient,
    ctx: &MailboxContext,
    folder: &str,
    changes: &[(String, ServerChange)],
) -> Result<()> {
    for (id, change) in changes {
        let req = match change {
            ServerChange::Delete => client.mailbox().delete_message(id, None),
            ServerChange::Read => client.mailbox().set_read(id, true, None),
        };
        match client.execute(&req).await {
            // Gone already (moved or deleted by someone else): nothing left to do.
            Ok(()) | Err(ProtocolError::ItemNotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        store.write(|tx| graph_state::change_done(tx, ctx.mailbox.id, folder, id))?;
    }
    Ok(())
}

/// Lists one delta round of `folder_id` from `link` (or from scratch), all pages.
async fn delta_round(
    client: &GraphClient,
    folder_id: &str,
    page: u32,
    link: Option<&str>,
) -> std::result::Result<(Vec<Message>, Option<String>), ProtocolError> {
    let first = client.mailbox().messages_delta(folder_id, page);
    let req = match link {
        Some(l) => first.follow(l),
        None => first,
    };
    client.collect::<Message>(&req).await
}

async fn sync_folder(
    store: &mut Store,
    client: &GraphClient,
    ctx: &MailboxContext,
    folder: &str,
    folder_id: &str,
    stats: &mut SyncStats,
) -> Result<()> {
    let cap = ctx.settings.int(IntSetting::IncomingMaxItemsPerCycle);
    let batch = ctx.settings.int(IntSetting::IncomingFetchBatchSize).max(1) as usize;
    let page = ctx.settings.int(IntSetting::IncomingFetchBatchSize).clamp(1, MAX_PAGE) as u32;
    let mbid = ctx.mailbox.id;
    let fctx = ctx.for_folder(folder);
    finish_pending(store, client, ctx, folder).await?;
    let link = graph_state::delta_link(store.conn(), mbid, folder)?;
    let (items, next_link) = match delta_round(client, folder_id, page, link.as_deref()).await {
        Err(e) if e.is_resync_required() && link.is_some() => {
            warn!("the server no longer knows the folder's delta state; listing the folder again: {e}");
            store.write(|tx| graph_state::set_delta_link(tx, mbid, folder, None))?;
            delta_round(client, folder_id, page, None).await?
        }
        r => r?,
    };
    let mut removed = Vec::new();
    let mut seen = HashSet::new();
    let mut todo: Vec<Message> = Vec::new();
    for m in items {
        if m.removed.is_some() {
            removed.push(m.id);
        } else if seen.insert(m.id.clone()) && !graph_state::item_done(store.conn(), mbid, folder, &m.id)? {
            todo.push(m);
        }
    }
    if !removed.is_empty() {
        store.write(|tx| -> Result<()> {
            for id in &removed {
                graph_state::forget_item(tx, mbid, folder, id)?;
            }
            Ok(())
        })?;
    }
    let room = (cap - stats.processed).max(0) as usize;
    let finished = todo.len() <= room;
    if !finished {
        todo.truncate(room);
        stats.capped = true;
    }
    let delete = ctx.mailbox.data.delete_after_processing;
    let mark_read = machine_mailbox(ctx);
    let chunks: Vec<&[Message]> = todo.chunks(batch).collect();
    let last = chunks.len();
    for (n, chunk) in chunks.into_iter().enumerate() {
        let ids: Vec<&str> = chunk.iter().map(|m| m.id.as_str()).collect();
        let mimes = client.messages_mime(&ids).await?;
        crmsync_core::crash::point("incoming.after_fetch");
        let mut changes = Vec::new();
        store.write(|tx| -> Result<()> {
            for (m, got) in chunk.iter().zip(&mimes) {
                if graph_state::item_done(tx, mbid, folder, &m.id)? {
                    continue;
                }
                let src = Source {
                    folder: folder.to_string(),
                    item_ref: format!("graph:{folder}/{}", m.id),
                    received_at: m
                        .received_date_time
                        .as_deref()
                        .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
                        .map(|d| d.with_timezone(&Utc)),
                };
                let outcome = match got {
                    Ok(raw) => {
                        let (outcome, created) = process_one(tx, &fctx, raw, &src)?;
                        tally(stats, outcome, created);
                        outcome
                    }
                    // Gone since the listing: it shows up as removed next round.
                    Err(ProtocolError::ItemNotFound { .. }) => continue,
                    Err(e) => {
                        fail(tx, &fctx, &src, e)?;
                        tally(stats, Outcome::Failed, false);
                        Outcome::Failed
                    }
                };
                // Only mail committed in the CRM may change on the server.
                let change = match (outcome == Outcome::Tracked, delete, mark_read) {
                    (true, true, _) => Some(ServerChange::Delete),
                    (true, false, true) => Some(ServerChange::Read),
                    _ => None,
                };
                graph_state::record_item(tx, mbid, folder, &m.id, outcome, change)?;
                if let Some(c) = change {
                    changes.push((m.id.clone(), c));
                }
            }
            if finished && n + 1 == last {
                graph_state::set_delta_link(tx, mbid, folder, next_link.as_deref())?;
            }
            crmsync_core::crash::point("incoming.before_commit");
            Ok(())
        })?;
        crmsync_core::crash::point("incoming.after_commit");
        // Committed: now the server may change. Should this fail (or the
        // process die), the rows say what is pending and the next pass finishes it.
        apply_changes(store, client, ctx, folder, &changes).await?;
    }
    if finished && last == 0 {
        store.write(|tx| graph_state::set_delta_link(tx, mbid, folder, next_link.as_deref()))?;
    }
    Ok(())
}

/// A message that could not be fetched (over the size limit, rejected):
/// a failed item with an alert naming it; it stays on the server.
fn fail(tx: &rusqlite::Connection, ctx: &MailboxContext, src: &Source, e: &ProtocolError) -> Result<()> {
    let limit = ctx.settings.int(IntSetting::IncomingMaxMessageSizeMb);
    let (code, detail) = match e {
        ProtocolError::MessageTooLarge { size, .. } => (
            "MESSAGE_TOO_LARGE",
            format!(
                "message {} has {size} bytes, more than incoming.max_message_size_mb ({limit} MB); \
                 it was not downloaded or tracked and is left on the server",
                src.item_ref
            ),
        ),
        other => (
            other.code(),
            format!(
                "message {} could not be fetched ({other}); it was not tracked and is left on the server",
                src.item_ref
            ),
        ),
    };
    warn!(item = %src.item_ref, code, "message not fetched");
    process::fail_item(tx, ctx, b"", src, code, &detail).map_err(EngineError::from)?;
    Ok(())
}
