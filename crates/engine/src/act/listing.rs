//! The token to keep after a cycle that wrote to the server (listing a
//! collection's members is the item store's
//! [`crate::backend::ItemStore::list`]).
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

use std::collections::HashMap;

use crmsync_core::Store;
use crmsync_core::act::item::ItemKind;
use crmsync_core::store::act::{self as act_store, Collection};
use tracing::info;

use crate::backend::ItemStore;
use crate::error::Result;

/// The token to keep for `cols` (which share `url`) after this cycle wrote
/// to the server, given the token `before` the writes: a token that covers
/// our own writes, or None (the next cycle lists every member).
pub(crate) async fn token_after_own_writes(
    store: &Store,
    client: &dyn ItemStore,
    url: &str,
    cols: &[Collection],
    before: &str,
) -> Result<Option<String>> {
    let changes = match client.changes_since(url, before).await {
        Ok(Some(c)) => c,
        Ok(None) => return Ok(None),
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
