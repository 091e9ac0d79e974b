//! Loading both sides of a collection into the planner's snapshots.

use std::collections::HashMap;

use crmsync_core::Store;
use crmsync_core::act::item::{Item, ItemKind};
use crmsync_core::act::plan::CrmSnap;
use crmsync_core::act::{ActConfig, OwnerFacts, RecordFacts};
use crmsync_core::model::{Owner, RecordType};
use crmsync_core::store::appointments::OwnerIds;
use crmsync_core::store::{appointments, records, tasks};
use crmsync_core::time::from_db;

use crate::error::Result;

/// One CRM record of the collection's kind.
#[derive(Debug, Clone)]
pub struct CrmRecord {
    pub item: Item,
    pub version: i64,
    pub snap: CrmSnap,
    pub owner: OwnerIds,
}

pub fn owner_facts(owner: &Owner, email: &str) -> OwnerFacts {
    match owner {
        Owner::User { id, .. } => {
            OwnerFacts { user_id: Some(*id), queue_id: None, email: email.to_ascii_lowercase() }
        }
        Owner::Queue { id, .. } => {
            OwnerFacts { user_id: None, queue_id: Some(*id), email: email.to_ascii_lowercase() }
        }
    }
}

fn principal(rec: &Option<(RecordType, i64)>) -> Option<(&'static str, i64)> {
    match rec {
        Some((RecordType::User, id)) => Some(("user", *id)),
        Some((RecordType::Queue, id)) => Some(("queue", *id)),
        _ => None,
    }
}

fn snap(id: i64, item: &Item, modified_on: &str, in_filter: bool) -> CrmSnap {
    CrmSnap {
        record_id: id,
        uid: item.uid().to_string(),
        emails: item.match_emails(),
        hash: item.content_hash(),
        modified: from_db("modified_on", modified_on).ok(),
        in_filter,
    }
}

/// Every CRM record of `kind`, with the filter applied.
pub fn crm_records(
    store: &Store,
    kind: ItemKind,
    cfg: &ActConfig,
    owner: &OwnerFacts,
) -> Result<HashMap<i64, CrmRecord>> {
    let conn = store.conn();
    let mut out = HashMap::new();
    match kind {
        ItemKind::Appointment => {
            for a in appointments::rows(conn, None)? {
                let facts = RecordFacts {
                    owner_user_id: a.owner.user_id,
                    owner_queue_id: a.owner.queue_id,
                    parties: a
                        .parties
                        .iter()
                        .map(|(r, ad, rec)| (r.clone(), ad.clone(), principal(rec)))
                        .collect(),
                };
                let item = Item::Appointment(a.item);
                let s = snap(a.id, &item, &a.modified_on, cfg.takes(kind, owner, &facts));
                out.insert(a.id, CrmRecord { item, version: a.version, snap: s, owner: a.owner });
            }
        }
        ItemKind::Task => {
            for t in tasks::rows(conn, None)? {
                let facts = RecordFacts {
                    owner_user_id: t.owner.user_id,
                    owner_queue_id: t.owner.queue_id,
                    parties: vec![],
                };
                let item = Item::Task(t.item);
                let s = snap(t.id, &item, &t.modified_on, cfg.takes(kind, owner, &facts));
                out.insert(t.id, CrmRecord { item, version: t.version, snap: s, owner: t.owner });
            }
        }
        ItemKind::Contact => {
            for c in records::contact_rows(conn)? {
                let facts = RecordFacts { owner_user_id: c.owner_user_id, ..Default::default() };
                let item = Item::Contact(c.item);
                let s = snap(c.id, &item, &c.modified_on, cfg.takes(kind, owner, &facts));
                out.insert(
                    c.id,
                    CrmRecord {
                        item,
                        version: c.version,
                        snap: s,
                        owner: OwnerIds { user_id: c.owner_user_id, queue_id: None },
                    },
                );
            }
        }
    }
    Ok(out)
}
