//! What is on the server: listing one collection URL's members (sync-collection
//! with the stored token, else CTag and ETags), and the token to keep after a
//! cycle that wrote to the server.
//!
//! The token matters after crmsync's own writes. A server that follows
//! RFC 6578 strictly (Xandikos, for one) reports as removed only members that
//! existed when a token was issued. Had we kept the token taken *before* our
//! PUTs, an item we created and the user later deleted would never be reported
//! gone, and would stay in the CRM for ever. So after writing we ask for the
//! changes since that token once more: if they are exactly our own writes
//! (each changed member has the ETag its status row holds, each removed one
//! has no status row), the new token covers them and is kept; if anything else
//! changed meanwhile, or the server cannot say, no token is kept and the next
//! cycle lists every member (which any server answers correctly).

use std::collections::{BTreeMap, HashMap};

use crmsync_core::Store;
use crmsync_core::act::item::ItemKind;
use crmsync_core::store::act::{self as act_store, Collection};
use crmsync_protocols::dav::{DavClient, SyncOutcome};
use tracing::info;

use crate::error::Result;

/// The server's state of one collection URL.
pub(crate) struct Listing {
    /// href -> etag of every member now.
    pub members: BTreeMap<String, String>,
    /// The sync-collection token this listing is as of, if the server gave one.
    pub token: Option<String>,
    /// The collection's CTag, when listed without sync-collection.
    pub ctag: Option<String>,
    /// How changes were listed: sync-token, initial, ctag-unchanged or etags.
    pub how: &'static str,
}

/// Lists `col`'s members: the changes since its stored token applied to
/// `known` (href -> etag from the status rows), or every member.
pub(crate) async fn list(
    client: &DavClient,
    col: &Collection,
    known: &BTreeMap<String, String>,
) -> Result<Listing> {
    let url = &col.url;
    let mut outcome = client.sync_collection(url, col.sync_token.as_deref()).await?;
    let mut how = if col.sync_token.is_some() { "sync-token" } else { "initial" };
    if outcome == SyncOutcome::InvalidToken {
        outcome = client.sync_collection(url, None).await?;
        how = "initial";
    }
    match outcome {
        SyncOutcome::Changes(c) => {
            let mut members = if how == "sync-token" { known.clone() } else { BTreeMap::new() };
            for h in c.removed {
                members.remove(&h);
            }
            for (h, e) in c.changed {
                members.insert(h, e);
            }
            Ok(Listing { members, token: c.token, ctag: None, how })
        }
        _ => {
            let (ctag, _) = client.collection_state(url).await?;
            if ctag.is_some() && ctag == col.ctag {
                return Ok(Listing { members: known.clone(), token: None, ctag, how: "ctag-unchanged" });
            }
            let members = client.list_etags(url).await?.into_iter().collect();
            Ok(Listing { members, token: None, ctag, how: "etags" })
        }
    }
}

/// The token to keep for `cols` (which share `url`) after this cycle wrote
/// to the server, given the token `before` the writes: a token that covers
/// our own writes, or None (the next cycle lists every member).
pub(crate) async fn token_after_own_writes(
    store: &Store,
    client: &DavClient,
    url: &str,
    cols: &[Collection],
    before: &str,
) -> Result<Option<String>> {
    let changes = match client.sync_collection(url, Some(before)).await {
        Ok(SyncOutcome::Changes(c)) => c,
        Ok(_) => return Ok(None),
        Err(e) => {
            info!(url, error = %e, "changes after our writes not listed; the next cycle lists every member");
            return Ok(None);
        }
    };
    let mut ours: HashMap<String, String> = HashMap::new();
    for c in cols {
        for s in act_store::status_rows(store.conn(), c.id, kinds_of(&c.kind))? {
            ours.insert(s.row.href, s.row.etag);
        }
    }
    let only_ours = changes
        .changed
        .iter()
        .all(|(href, etag)| !etag.is_empty() && ours.get(href).is_some_and(|mine| mine == etag))
        && changes.removed.iter().all(|href| !ours.contains_key(href));
    if !only_ours {
        info!(url, "the collection changed while we wrote to it; the next cycle lists every member");
        return Ok(None);
    }
    Ok(changes.token)
}

/// The item kind a collection row of `kind` (calendar, tasks, contacts) holds.
pub(crate) fn kinds_of(kind: &str) -> ItemKind {
    match kind {
        "calendar" => ItemKind::Appointment,
        "tasks" => ItemKind::Task,
        _ => ItemKind::Contact,
    }
}
