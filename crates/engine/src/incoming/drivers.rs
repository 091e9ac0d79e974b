//! Protocol drivers of the incoming pipeline: fetch from IMAP or POP3 in
//! batches, process each batch in one transaction (a savepoint per message, so
//! one bad message rolls back alone), and only after the commit touch the
//! server (\Seen on queue and forward mailboxes, delete when asked).

use crmsync_core::model::RecordType;
use crmsync_core::store::sync_state::{self, FolderState, Outcome};
use crmsync_core::{CoreError, Store};
use crmsync_protocols::settings::ServerSettings;
use crmsync_protocols::{ImapClient, Pop3Client};
use rusqlite::Connection;
use serde::Serialize;
use tracing::{Instrument, info, info_span, warn};

use super::process::{self, MailboxContext, Source};
use crate::error::Result;

/// What one sync of a mailbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SyncStats {
    /// Messages looked at.
    pub processed: i64,
    /// New email activities created.
    pub created: i64,
    /// Messages tracked (new or joined an existing activity).
    pub tracked: i64,
    /// Messages that failed (kept whole, alert raised).
    pub failed: i64,
    /// Stopped at the per-cycle item cap; more is waiting.
    pub capped: bool,
}

/// Processes one message under a savepoint: a store error rolls back only this
/// message, which is then kept whole as a failed item.
fn process_one(conn: &Connection, ctx: &MailboxContext, raw: &[u8], src: &Source) -> Result<(Outcome, bool)> {
    conn.execute_batch("SAVEPOINT item").map_err(CoreError::from)?;
    match process::process(conn, ctx, raw, src) {
        Ok(p) => {
            conn.execute_batch("RELEASE item").map_err(CoreError::from)?;
            Ok((p.outcome, p.created))
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO item; RELEASE item").map_err(CoreError::from)?;
            warn!(mailbox = %ctx.mailbox.data.email, item = %src.item_ref, error = %e, "message failed");
            process::fail_item(
                conn,
                ctx,
                raw,
                src,
                "EMAIL_PROCESSING_FAILED",
                &format!("message {} could not be stored: {e}; kept whole", src.item_ref),
            )?;
            Ok((Outcome::Failed, false))
        }
    }
}

fn tally(stats: &mut SyncStats, outcome: Outcome, created: bool) {
    stats.processed += 1;
    match outcome {
        Outcome::Tracked => stats.tracked += 1,
        Outcome::Failed => stats.failed += 1,
        Outcome::NotTracked => {}
    }
    if created {
        stats.created += 1;
    }
}

fn machine_mailbox(ctx: &MailboxContext) -> bool {
    ctx.owner.record_type == RecordType::Queue || ctx.mailbox.data.is_forward_mailbox
}

/// Syncs the Inbox and the tracked folders of an IMAP mailbox.
pub async fn sync_imap(
    store: &mut Store,
    ctx: &MailboxContext,
    settings: &ServerSettings,
) -> Result<SyncStats> {
    let span = info_span!("imap_sync", mailbox = %ctx.mailbox.data.email, profile = %ctx.profile.data.name);
    async move {
        let mut client = ImapClient::connect(settings).await?;
        let cap = ctx.settings.int("incoming.max_items_per_cycle");
        let batch = ctx.settings.int("incoming.fetch_batch_size").max(1) as usize;
        let mut stats = SyncStats::default();
        let mut folders = vec!["INBOX".to_string()];
        folders
            .extend(ctx.mailbox.data.track_folders.iter().map(|f| f.folder.clone()).filter(|f| f != "INBOX"));
        for folder in folders {
            let fctx = ctx.for_folder(&folder);
            let status = client.select(&folder).await?;
            let uv = status.uidvalidity;
            let stored = sync_state::folder_state(store.conn(), ctx.mailbox.id, &folder)?;
            let after = match stored {
                Some(s) if s.uidvalidity == uv => s.last_uid,
                Some(s) => {
                    // The server reset the folder: rescan it; dedupe by Message-ID keeps one activity per message.
                    info!(folder = %folder, old = s.uidvalidity, new = uv, "UIDVALIDITY changed; rescanning");
                    0
                }
                None => 0,
            };
            // Nothing new since the last sync? CONDSTORE's HIGHESTMODSEQ (when the
            // server offers it) or UIDNEXT say so without a search.
            if let Some(s) = stored.filter(|s| s.uidvalidity == uv) {
                let unchanged_modseq =
                    matches!((s.highest_modseq, status.highest_modseq), (Some(a), Some(b)) if a == b);
                let no_new_uid = status.uidnext.is_some_and(|next| next <= s.last_uid.saturating_add(1));
                if unchanged_modseq || no_new_uid {
                    continue;
                }
            }
            let uids = client.uids_since(after).await?;
            let mut finished = true;
            for chunk in uids.chunks(batch) {
                let room = (cap - stats.processed).max(0) as usize;
                if room == 0 {
                    stats.capped = true;
                    finished = false;
                    break;
                }
                if chunk.len() > room {
                    finished = false;
                }
                let chunk = &chunk[..chunk.len().min(room)];
                let messages = client.fetch_uids(chunk).await?;
                let mut done_uids = Vec::new();
                let mut seen_uids = Vec::new();
                let max_uid = chunk.iter().copied().max().unwrap_or(after);
                store.write(|tx| -> Result<()> {
                    for m in &messages {
                        if sync_state::imap_item_done(tx, ctx.mailbox.id, &folder, uv, m.uid)? {
                            continue;
                        }
                        let src = Source {
                            folder: folder.clone(),
                            item_ref: format!("{folder}/{uv}/{}", m.uid),
                            received_at: m.internal_date,
                        };
                        let (outcome, created) = process_one(tx, &fctx, &m.raw, &src)?;
                        sync_state::record_imap_item(tx, ctx.mailbox.id, &folder, uv, m.uid, None, outcome)?;
                        tally(&mut stats, outcome, created);
                        if outcome != Outcome::Failed {
                            done_uids.push(m.uid);
                        }
                        if outcome == Outcome::Tracked {
                            seen_uids.push(m.uid);
                        }
                    }
                    sync_state::set_folder_state(
                        tx,
                        ctx.mailbox.id,
                        &folder,
                        FolderState { uidvalidity: uv, last_uid: max_uid, highest_modseq: None },
                    )?;
                    Ok(())
                })?;
                // Committed: now the server may change.
                if ctx.mailbox.data.delete_after_processing && !done_uids.is_empty() {
                    client.delete(&done_uids).await?;
                } else if machine_mailbox(ctx) && !seen_uids.is_empty() {
                    client.mark_seen(&seen_uids).await?;
                    store.write(|tx| {
                        sync_state::imap_mark_seen_set(tx, ctx.mailbox.id, &folder, uv, &seen_uids)
                    })?;
                }
            }
            // The whole folder is processed: remember HIGHESTMODSEQ for the next no-change check.
            if finished && status.highest_modseq.is_some() {
                let last_uid = uids.last().copied().unwrap_or(after).max(after);
                store.write(|tx| {
                    sync_state::set_folder_state(
                        tx,
                        ctx.mailbox.id,
                        &folder,
                        FolderState { uidvalidity: uv, last_uid, highest_modseq: status.highest_modseq },
                    )
                })?;
            }
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

/// Syncs a POP3 mailbox: new UIDLs are processed; with delete-after-processing,
/// committed messages are deleted (DELE takes effect at QUIT, so a crash before
/// QUIT leaves them on the server and the next sync deletes them).
pub async fn sync_pop3(
    store: &mut Store,
    ctx: &MailboxContext,
    settings: &ServerSettings,
) -> Result<SyncStats> {
    let span = info_span!("pop3_sync", mailbox = %ctx.mailbox.data.email, profile = %ctx.profile.data.name);
    async move {
        let mut client = Pop3Client::connect(settings).await?;
        let cap = ctx.settings.int("incoming.max_items_per_cycle");
        let batch = ctx.settings.int("incoming.fetch_batch_size").max(1) as usize;
        let listing = client.uidl().await?;
        let present: Vec<String> = listing.iter().map(|(_, u)| u.clone()).collect();
        store.write(|tx| sync_state::pop3_forget_absent(tx, ctx.mailbox.id, &present))?;
        let mut todo = Vec::new();
        for (n, uidl) in &listing {
            if !sync_state::pop3_item_done(store.conn(), ctx.mailbox.id, uidl)? {
                todo.push((*n, uidl.clone()));
            }
        }
        let mut stats = SyncStats::default();
        if todo.len() as i64 > cap {
            todo.truncate(cap.max(0) as usize);
            stats.capped = true;
        }
        for chunk in todo.chunks(batch) {
            let mut fetched = Vec::with_capacity(chunk.len());
            for (n, uidl) in chunk {
                fetched.push((*n, uidl.clone(), client.retr(*n).await?));
            }
            store.write(|tx| -> Result<()> {
                for (_, uidl, raw) in &fetched {
                    let src = Source {
                        folder: "INBOX".into(),
                        item_ref: format!("pop3:{uidl}"),
                        received_at: None,
                    };
                    let (outcome, created) = process_one(tx, ctx, raw, &src)?;
                    sync_state::record_pop3_item(tx, ctx.mailbox.id, uidl, None, outcome)?;
                    tally(&mut stats, outcome, created);
                }
                Ok(())
            })?;
        }
        if ctx.mailbox.data.delete_after_processing {
            let pending = sync_state::pop3_pending_deletes(store.conn(), ctx.mailbox.id)?;
            let mut deleted = Vec::new();
            for (n, uidl) in &listing {
                if pending.contains(uidl) {
                    client.dele(*n).await?;
                    deleted.push(uidl.clone());
                }
            }
            client.quit().await?;
            store.write(|tx| sync_state::pop3_mark_deleted(tx, ctx.mailbox.id, &deleted))?;
        } else {
            client.quit().await?;
        }
        Ok(stats)
    }
    .instrument(span)
    .await
}
