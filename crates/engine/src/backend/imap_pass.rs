//! The IMAP incoming pass ([`super::imap::ImapSource`]). Per folder: finish the server
//! changes an earlier pass committed but could not make (\Seen, delete), then
//! fetch the new UIDs in batches, process each batch in one transaction and
//! only after the commit touch the server. The folder watermark never passes a
//! UID the server listed but did not return: that UID is asked for again on the
//! next passes and, after [`MAX_FETCH_ATTEMPTS`], kept as a failed item with an
//! alert.

use crmsync_core::Store;
use crmsync_core::settings::IntSetting;
use crmsync_core::store::sync_state::{self, FolderState, ImapFolder, Outcome};
use crmsync_protocols::ImapClient;
use crmsync_protocols::settings::ServerSettings;
use tracing::{Instrument, info, info_span, warn};

use crate::error::Result;
use crate::ingest::batch::{SyncStats, machine_mailbox, process_one, tally};
use crate::ingest::process::{self, MailboxContext, Source};

/// Passes in which the server may fail to return a listed message before it is
/// recorded as a failed item (`EMAIL_NOT_RETURNED`) and no longer holds the
/// folder's watermark back.
pub const MAX_FETCH_ATTEMPTS: i64 = 3;

/// Syncs the Inbox and the tracked folders of an IMAP mailbox.
pub async fn sync_imap(
    store: &mut Store,
    ctx: &MailboxContext,
    settings: &ServerSettings,
) -> Result<SyncStats> {
    let span = info_span!("imap_sync", mailbox = %ctx.mailbox.data.email, profile = %ctx.profile.data.name);
    async move {
        let mut client = ImapClient::connect(settings).await?;
        let mut stats = SyncStats::default();
        let mut folders = vec!["INBOX".to_string()];
        folders
            .extend(ctx.mailbox.data.track_folders.iter().map(|f| f.folder.clone()).filter(|f| f != "INBOX"));
        for folder in folders {
            sync_folder(store, &mut client, ctx, &folder, &mut stats)
                .instrument(info_span!("imap_folder", folder = %folder))
                .await?;
            if stats.capped {
                break;
            }
        }
        let _ = client.logout().await;
        Ok(stats)
    }
    .instrument(span)
    .await
}

/// Makes the server changes that committed messages still wait for: deletes
/// (delete-after-processing) or \Seen (queue and forward mailboxes). Runs at
/// the start of every pass of a folder, before anything may skip it.
async fn finish_pending(
    store: &mut Store,
    client: &mut ImapClient,
    ctx: &MailboxContext,
    f: ImapFolder<'_>,
) -> Result<()> {
    if ctx.mailbox.data.delete_after_processing {
        let uids = sync_state::imap_pending_deletes(store.conn(), f)?;
        if !uids.is_empty() {
            info!(count = uids.len(), "deleting tracked messages an earlier pass could not delete");
            client.delete(&uids).await?;
            store.write(|tx| sync_state::imap_mark_deleted(tx, f, &uids))?;
        }
    } else if machine_mailbox(ctx) {
        let uids = sync_state::imap_unseen_tracked(store.conn(), f.mailbox_id, f.folder, f.uidvalidity)?;
        if !uids.is_empty() {
            info!(count = uids.len(), "marking \\Seen what an earlier pass tracked but could not flag");
            client.mark_seen(&uids).await?;
            store.write(|tx| {
                sync_state::imap_mark_seen_set(tx, f.mailbox_id, f.folder, f.uidvalidity, &uids)
            })?;
        }
    }
    Ok(())
}

async fn sync_folder(
    store: &mut Store,
    client: &mut ImapClient,
    ctx: &MailboxContext,
    folder: &str,
    stats: &mut SyncStats,
) -> Result<()> {
    let cap = ctx.settings.int(IntSetting::IncomingMaxItemsPerCycle);
    let batch = ctx.settings.int(IntSetting::IncomingFetchBatchSize).max(1) as usize;
    let fctx = ctx.for_folder(folder);
    let status = client.select(folder).await?;
    let uv = status.uidvalidity;
    let f = ImapFolder { mailbox_id: ctx.mailbox.id, folder, uidvalidity: uv };
    let stored = sync_state::folder_state(store.conn(), ctx.mailbox.id, folder)?.filter(|s| {
        if s.uidvalidity != uv {
            // The server reset the folder: rescan it; dedupe keeps one activity per message.
            info!(old = s.uidvalidity, new = uv, "UIDVALIDITY changed; rescanning");
        }
        s.uidvalidity == uv
    });
    if stored.is_some() {
        finish_pending(store, client, ctx, f).await?;
    }
    let after = stored.map_or(0, |s| s.last_uid);
    // Nothing new since the last sync? CONDSTORE's HIGHESTMODSEQ (when the
    // server offers it) or UIDNEXT say so without a search.
    if let Some(s) = stored {
        let unchanged_modseq =
            matches!((s.highest_modseq, status.highest_modseq), (Some(a), Some(b)) if a == b);
        let no_new_uid = status.uidnext.is_some_and(|next| next <= s.last_uid.saturating_add(1));
        if unchanged_modseq || no_new_uid {
            return Ok(());
        }
    }
    let listed = client.uids_since(after).await?;
    // UIDs above the watermark may be done already: a pass that was stopped
    // after its commit, or one held back by a message the server did not return.
    let mut todo = Vec::with_capacity(listed.len());
    for &uid in &listed {
        if !sync_state::imap_item_done(store.conn(), ctx.mailbox.id, folder, uv, uid)? {
            todo.push(uid);
        }
    }
    // The lowest UID this pass asked for and did not get: the watermark stays below it.
    let mut hold: Option<u32> = None;
    let mut finished = true;
    let mut next = 0;
    while next < todo.len() {
        let room = (cap - stats.processed).max(0) as usize;
        if room == 0 {
            stats.capped = true;
            finished = false;
            break;
        }
        let want = &todo[next..(next + batch).min(todo.len())];
        if want.len() > room {
            finished = false;
        }
        let chunk = &want[..want.len().min(room)];
        let fetched = client.fetch_batch(chunk).await?;
        // Past the batch's byte budget the rest of the chunk waits for the next round.
        let chunk = &chunk[..chunk.len() - fetched.deferred.len()];
        next += chunk.len();
        let (messages, too_large) = (fetched.messages, fetched.too_large);
        crmsync_core::crash::point("incoming.after_fetch");
        let missing: Vec<u32> = chunk
            .iter()
            .copied()
            .filter(|u| !messages.iter().any(|m| m.uid == *u) && !too_large.iter().any(|t| t.uid == *u))
            .collect();
        let mut del_uids = Vec::new();
        let mut seen_uids = Vec::new();
        let delete = ctx.mailbox.data.delete_after_processing;
        store.write(|tx| -> Result<()> {
            for m in &messages {
                if sync_state::imap_item_done(tx, ctx.mailbox.id, folder, uv, m.uid)? {
                    continue;
                }
                let src = Source {
                    folder: folder.to_string(),
                    item_ref: format!("{folder}/{uv}/{}", m.uid),
                    received_at: m.internal_date,
                };
                let (outcome, created) = process_one(tx, &fctx, &m.raw, &src)?;
                // Only mail committed in the CRM may leave the server; what the
                // mailbox does not track stays there.
                let tracked = outcome == Outcome::Tracked;
                sync_state::record_imap_item(tx, f, m.uid, None, outcome, delete && tracked)?;
                sync_state::imap_fetch_miss_clear(tx, f, m.uid)?;
                tally(stats, outcome, created);
                if tracked {
                    if delete {
                        del_uids.push(m.uid);
                    } else {
                        seen_uids.push(m.uid);
                    }
                }
            }
            for big in &too_large {
                if sync_state::imap_item_done(tx, ctx.mailbox.id, folder, uv, big.uid)? {
                    continue;
                }
                record_too_large(tx, &fctx, f, big.uid, big.size)?;
                tally(stats, Outcome::Failed, false);
            }
            for &uid in &missing {
                if not_returned(tx, &fctx, f, uid)? {
                    tally(stats, Outcome::Failed, false);
                } else {
                    hold = Some(hold.map_or(uid, |h| h.min(uid)));
                }
            }
            let max_uid = chunk.iter().copied().max().unwrap_or(after);
            let last_uid = hold.map_or(max_uid, |h| h - 1).max(after);
            sync_state::set_folder_state(
                tx,
                ctx.mailbox.id,
                folder,
                FolderState { uidvalidity: uv, last_uid, highest_modseq: None },
            )?;
            crmsync_core::crash::point("incoming.before_commit");
            Ok(())
        })?;
        crmsync_core::crash::point("incoming.after_commit");
        // Committed: now the server may change. Should this fail (or the
        // process die), the rows say what is pending and the next pass finishes it.
        if !del_uids.is_empty() {
            client.delete(&del_uids).await?;
            store.write(|tx| sync_state::imap_mark_deleted(tx, f, &del_uids))?;
        } else if machine_mailbox(ctx) && !seen_uids.is_empty() {
            client.mark_seen(&seen_uids).await?;
            store.write(|tx| sync_state::imap_mark_seen_set(tx, ctx.mailbox.id, folder, uv, &seen_uids))?;
        }
    }
    // The whole folder is processed: move the watermark over UIDs that were done
    // already, and remember HIGHESTMODSEQ for the next no-change check (not while
    // a message is held back: the next pass must ask for it again).
    if finished {
        let last_uid = match hold {
            Some(h) => h - 1,
            None => listed.last().copied().unwrap_or(after),
        }
        .max(after);
        let highest_modseq = if hold.is_none() { status.highest_modseq } else { None };
        store.write(|tx| {
            sync_state::set_folder_state(
                tx,
                ctx.mailbox.id,
                folder,
                FolderState { uidvalidity: uv, last_uid, highest_modseq },
            )
        })?;
    }
    Ok(())
}

/// A message over `incoming.max_message_size_mb`: recorded as a failed item
/// without its bytes and a `MESSAGE_TOO_LARGE` alert naming it; it stays on the
/// server and later passes leave it alone.
fn record_too_large(
    tx: &rusqlite::Connection,
    ctx: &MailboxContext,
    f: ImapFolder<'_>,
    uid: u32,
    size: u64,
) -> Result<()> {
    let limit = ctx.settings.int(IntSetting::IncomingMaxMessageSizeMb);
    let item_ref = format!("{}/{}/{uid}", f.folder, f.uidvalidity);
    warn!(uid, size, limit_mb = limit, "message over the size limit; not downloaded");
    let src = Source { folder: f.folder.to_string(), item_ref, received_at: None };
    process::fail_item(
        tx,
        ctx,
        b"",
        &src,
        "MESSAGE_TOO_LARGE",
        &format!(
            "message {} (folder {}, UIDVALIDITY {}, UID {uid}) has {size} bytes, more than \
             incoming.max_message_size_mb ({limit} MB); it was not downloaded or tracked and is left on the server",
            src.item_ref, f.folder, f.uidvalidity
        ),
    )?;
    sync_state::record_imap_item(tx, f, uid, None, Outcome::Failed, false)?;
    sync_state::imap_fetch_miss_clear(tx, f, uid)?;
    Ok(())
}

/// A UID the server listed but did not return in the FETCH (no UID, `BODY[]`
/// NIL, omitted). Counts the attempt; after [`MAX_FETCH_ATTEMPTS`] passes
/// records it as a failed item with an `EMAIL_NOT_RETURNED` alert and returns
/// true (the watermark may pass it), else false (asked for again next pass).
fn not_returned(
    tx: &rusqlite::Connection,
    ctx: &MailboxContext,
    f: ImapFolder<'_>,
    uid: u32,
) -> Result<bool> {
    let attempts = sync_state::imap_fetch_missed(tx, f, uid)?;
    let item_ref = format!("{}/{}/{uid}", f.folder, f.uidvalidity);
    warn!(uid, attempts, "the server did not return a message it listed");
    if attempts < MAX_FETCH_ATTEMPTS {
        return Ok(false);
    }
    let src = Source { folder: f.folder.to_string(), item_ref: item_ref.clone(), received_at: None };
    process::fail_item(
        tx,
        ctx,
        b"",
        &src,
        "EMAIL_NOT_RETURNED",
        &format!(
            "the server listed message {item_ref} (folder {}, UIDVALIDITY {}, UID {uid}) but did not return it \
             in {attempts} passes; it was not tracked and is left on the server",
            f.folder, f.uidvalidity
        ),
    )?;
    sync_state::record_imap_item(tx, f, uid, None, Outcome::Failed, false)?;
    sync_state::imap_fetch_miss_clear(tx, f, uid)?;
    Ok(true)
}
