//! The POP3 incoming pass ([`super::pop3::Pop3Source`]): new UIDLs fetched in
//! batches, each batch processed in one transaction (a savepoint per message,
//! so one bad message rolls back alone), and only after the commit are
//! tracked messages deleted (when the mailbox asks for it).

use crmsync_core::Store;
use crmsync_core::settings::IntSetting;
use crmsync_core::store::sync_state::{self, Outcome};
use crmsync_protocols::settings::ServerSettings;
use crmsync_protocols::{Pop3Client, ProtocolError};
use rusqlite::Connection;
use tracing::{Instrument, info_span, warn};

use crate::error::Result;
use crate::ingest::batch::{SyncStats, process_one, tally};
use crate::ingest::process::{self, MailboxContext, Source};

/// The listing with each UIDL once, at its first message number. RFC 1939
/// makes UIDLs unique; a server that repeats one would otherwise have one
/// message processed twice or an unprocessed one deleted in its place.
fn unique_uidls(listing: Vec<(u32, String)>) -> Vec<(u32, String)> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(listing.len());
    for (n, uidl) in listing {
        if seen.insert(uidl.clone()) {
            out.push((n, uidl));
        } else {
            warn!(msg_no = n, %uidl, "the server lists this UIDL twice; only its first message is processed");
        }
    }
    out
}

/// A POP3 message over `incoming.max_message_size_mb`: a failed item without
/// its bytes and a `MESSAGE_TOO_LARGE` alert naming its UIDL and size.
fn pop3_too_large(
    conn: &Connection,
    ctx: &MailboxContext,
    src: &Source,
    uidl: &str,
    size: u64,
) -> Result<()> {
    let limit = ctx.settings.int(IntSetting::IncomingMaxMessageSizeMb);
    warn!(%uidl, size, limit_mb = limit, "message over the size limit; not downloaded");
    process::fail_item(
        conn,
        ctx,
        b"",
        src,
        "MESSAGE_TOO_LARGE",
        &format!(
            "message {} (UIDL {uidl}) has {size} bytes, more than incoming.max_message_size_mb ({limit} MB); \
             it was not downloaded or tracked and is left on the server",
            src.item_ref
        ),
    )?;
    Ok(())
}

/// Syncs a POP3 mailbox: new UIDLs are processed; with delete-after-processing,
/// tracked messages are deleted (mail the mailbox does not track stays) (DELE takes effect at QUIT, so a crash before
/// QUIT leaves them on the server and the next sync deletes them).
pub async fn sync_pop3(
    store: &mut Store,
    ctx: &MailboxContext,
    settings: &ServerSettings,
) -> Result<SyncStats> {
    let span = info_span!("pop3_sync", mailbox = %ctx.mailbox.data.email, profile = %ctx.profile.data.name);
    async move {
        let mut client = Pop3Client::connect(settings).await?;
        let cap = ctx.settings.int(IntSetting::IncomingMaxItemsPerCycle);
        let batch = ctx.settings.int(IntSetting::IncomingFetchBatchSize).max(1) as usize;
        let listing = unique_uidls(client.uidl().await?);
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
        let mut broken = false;
        // A batch holds at most about one size limit of message bytes (always one message).
        let byte_cap = (ctx.settings.int(IntSetting::IncomingMaxMessageSizeMb).max(1) as usize) << 20;
        let mut next = 0;
        while next < todo.len() {
            let mut fetched = Vec::with_capacity(batch);
            let mut bytes = 0usize;
            for (n, uidl) in &todo[next..(next + batch).min(todo.len())] {
                if bytes >= byte_cap {
                    break;
                }
                next += 1;
                match client.retr(*n).await {
                    Ok(raw) => {
                        bytes += raw.len();
                        fetched.push((uidl.clone(), Ok(raw)));
                    }
                    Err(ProtocolError::MessageTooLarge { size, .. }) => {
                        fetched.push((uidl.clone(), Err(size)));
                        // A server that sent more than it announced was cut off mid-message.
                        if client.is_broken() {
                            broken = true;
                            break;
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            crmsync_core::crash::point("incoming.after_fetch");
            store.write(|tx| -> Result<()> {
                for (uidl, got) in &fetched {
                    let src = Source {
                        folder: "INBOX".into(),
                        item_ref: format!("pop3:{uidl}"),
                        received_at: None,
                    };
                    let (outcome, created) = match got {
                        Ok(raw) => process_one(tx, ctx, raw, &src)?,
                        Err(size) => {
                            pop3_too_large(tx, ctx, &src, uidl, *size)?;
                            (Outcome::Failed, false)
                        }
                    };
                    sync_state::record_pop3_item(tx, ctx.mailbox.id, uidl, None, outcome)?;
                    tally(&mut stats, outcome, created);
                }
                crmsync_core::crash::point("incoming.before_commit");
                Ok(())
            })?;
            crmsync_core::crash::point("incoming.after_commit");
            if broken {
                // The rest waits for the next pass on a new session; nothing was marked for deletion.
                return Ok(stats);
            }
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
            // DELE takes effect at QUIT: a crash here deletes nothing.
            crmsync_core::crash::point("incoming.before_quit");
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
