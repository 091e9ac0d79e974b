//! The two-way decision table: snapshots of both sides and the status rows
//! in, actions out. Pure; see docs/act-sync.md for the table in words.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::config::{ConflictPolicy, LeaveFilterAction};
use super::item::ItemKind;
use super::merge::{MergeMode, Side};

/// A CRM record as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmSnap {
    /// Record (activity or contact) id.
    pub record_id: i64,
    /// UID.
    pub uid: String,
    /// Addresses a contact is matched by on first sync.
    pub emails: Vec<String>,
    /// Content hash of the normalized item.
    pub hash: String,
    /// When it last changed.
    pub modified: Option<DateTime<Utc>>,
    /// Whether the mailbox's sync filter takes it.
    pub in_filter: bool,
}

/// A server item as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSnap {
    /// Href (path) on the server.
    pub href: String,
    /// Current ETag.
    pub etag: String,
    /// UID.
    pub uid: String,
    /// Addresses a contact is matched by on first sync.
    pub emails: Vec<String>,
    /// Content hash (the status row's when the item was not fetched because its ETag did not change).
    pub hash: String,
    /// LAST-MODIFIED / REV, when given.
    pub modified: Option<DateTime<Utc>>,
}

/// The status row of a synced pair, as of the last sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRow {
    /// CRM record id.
    pub record_id: i64,
    /// Server href.
    pub href: String,
    /// ETag then.
    pub etag: String,
    /// CRM content hash then.
    pub crm_hash: String,
    /// Server content hash then.
    pub remote_hash: String,
}

/// Policies the planner applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanContext {
    /// Item kind of the collection.
    pub kind: ItemKind,
    /// Conflict policy.
    pub policy: ConflictPolicy,
    /// What leaving the filter does on the server.
    pub leave: LeaveFilterAction,
    /// Mass-delete brake threshold, percent of the synced items.
    pub brake_percent: u8,
    /// The admin confirmed the held deletes of this collection.
    pub brake_confirmed: bool,
}

/// One decision.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Create the CRM record on the server (PUT If-None-Match: *).
    CreateServer {
        /// CRM record.
        record_id: i64,
        /// It was deleted on the server but changed in the CRM: brought back (a conflict).
        resurrect: bool,
    },
    /// Create a CRM record from the server item.
    CreateCrm {
        /// Server href.
        href: String,
        /// It was deleted in the CRM but changed on the server: brought back (a conflict).
        resurrect: bool,
    },
    /// First sync found the same content on both sides: write the status row only.
    Link {
        /// CRM record.
        record_id: i64,
        /// Server href.
        href: String,
    },
    /// Bring both sides to the merged content (write only the side that differs).
    Sync {
        /// CRM record.
        record_id: i64,
        /// Server href.
        href: String,
        /// Whose content wins.
        winner: Side,
        /// Replace, or fill (first-sync match).
        mode: MergeMode,
        /// Both sides changed; the policy chose the winner.
        conflict: bool,
    },
    /// Conflict under keep-both: the server version stays in place (and is
    /// written to the CRM record); the CRM version becomes a new record with a
    /// new UID, created on the server too.
    KeepBoth {
        /// CRM record.
        record_id: i64,
        /// Server href.
        href: String,
    },
    /// Delete the server item (If-Match), then the status row.
    DeleteServer {
        /// CRM record (gone or leaving the filter).
        record_id: i64,
        /// Server href.
        href: String,
    },
    /// Delete the CRM record and the status row.
    DeleteCrm {
        /// CRM record.
        record_id: i64,
        /// Server href (gone).
        href: String,
    },
    /// Drop the status row; both sides keep what they have.
    Unlink {
        /// CRM record.
        record_id: i64,
        /// Server href.
        href: String,
    },
    /// Mark the server item cancelled, then unlink.
    CancelServer {
        /// CRM record.
        record_id: i64,
        /// Server href.
        href: String,
    },
    /// Same content, new ETag or hashes: refresh the status row.
    Restatus {
        /// CRM record.
        record_id: i64,
        /// Server href.
        href: String,
    },
    /// Both sides are gone: drop the status row.
    Forget {
        /// CRM record.
        record_id: i64,
        /// Server href.
        href: String,
    },
}

impl Action {
    /// True for the actions that count as a conflict (alert DAV_CONFLICT).
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Action::Sync { conflict: true, .. }
                | Action::KeepBoth { .. }
                | Action::CreateCrm { resurrect: true, .. }
                | Action::CreateServer { resurrect: true, .. }
        )
    }
}

/// A mass delete the brake held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Brake {
    /// The side the deletes would have happened on.
    pub side: Side,
    /// How many deletes were held.
    pub deletes: usize,
    /// Synced items in the collection.
    pub total: usize,
}

/// The planner's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// What to do, in order.
    pub actions: Vec<Action>,
    /// Deletes held by the brake (nothing of them is in `actions`).
    pub held: Vec<Brake>,
}

/// True when `deletes` of `total` synced items is a mass delete the brake holds.
pub fn brake_applies(deletes: usize, total: usize, percent: u8) -> bool {
    deletes >= 2 && deletes * 100 > usize::from(percent) * total
}

fn remote_changed(r: &RemoteSnap, s: &StatusRow) -> bool {
    r.etag != s.etag && r.hash != s.remote_hash
}

fn winner_by_policy(policy: ConflictPolicy, c: &CrmSnap, r: &RemoteSnap) -> Option<Side> {
    match policy {
        ConflictPolicy::CrmWins => Some(Side::Crm),
        ConflictPolicy::ServerWins => Some(Side::Server),
        ConflictPolicy::MostRecent => Some(match (c.modified, r.modified) {
            (Some(a), Some(b)) if b > a => Side::Server,
            (None, Some(_)) => Side::Server,
            _ => Side::Crm,
        }),
        ConflictPolicy::KeepBoth => None,
    }
}

/// Decides what to do with every item of one collection.
pub fn plan(crm: &[CrmSnap], remote: &[RemoteSnap], status: &[StatusRow], ctx: &PlanContext) -> Plan {
    let crm_by_id: HashMap<i64, &CrmSnap> = crm.iter().map(|c| (c.record_id, c)).collect();
    let remote_by_href: HashMap<&str, &RemoteSnap> = remote.iter().map(|r| (r.href.as_str(), r)).collect();
    let mut crm_used: HashSet<i64> = HashSet::new();
    let mut remote_used: HashSet<&str> = HashSet::new();
    let mut actions = Vec::new();

    for s in status {
        if !crm_used.insert(s.record_id) || !remote_used.insert(s.href.as_str()) {
            continue; // a duplicate status row: the first one rules
        }
        let (record_id, href) = (s.record_id, s.href.clone());
        let a = match (crm_by_id.get(&s.record_id), remote_by_href.get(s.href.as_str())) {
            (None, None) => Some(Action::Forget { record_id, href }),
            (Some(c), None) => Some(if !c.in_filter {
                Action::Unlink { record_id, href }
            } else if c.hash == s.crm_hash {
                Action::DeleteCrm { record_id, href }
            } else {
                Action::CreateServer { record_id, resurrect: true }
            }),
            (None, Some(r)) => Some(if remote_changed(r, s) {
                Action::CreateCrm { href, resurrect: true }
            } else {
                Action::DeleteServer { record_id, href }
            }),
            (Some(c), Some(r)) if !c.in_filter => Some(match ctx.leave {
                // A server item changed since the last sync is never deleted or
                // cancelled because the CRM record left the filter: unlinked.
                _ if remote_changed(r, s) => Action::Unlink { record_id, href },
                LeaveFilterAction::Unlink => Action::Unlink { record_id, href },
                LeaveFilterAction::Delete => Action::DeleteServer { record_id, href },
                LeaveFilterAction::Cancel if ctx.kind != ItemKind::Contact => {
                    Action::CancelServer { record_id, href }
                }
                LeaveFilterAction::Cancel => Action::Unlink { record_id, href },
            }),
            (Some(c), Some(r)) => {
                let crm_changed = c.hash != s.crm_hash;
                let srv_changed = remote_changed(r, s);
                match (crm_changed, srv_changed) {
                    (false, false) if r.etag != s.etag || r.hash != s.remote_hash => {
                        Some(Action::Restatus { record_id, href })
                    }
                    (false, false) => None,
                    (true, false) => Some(Action::Sync {
                        record_id,
                        href,
                        winner: Side::Crm,
                        mode: MergeMode::Replace,
                        conflict: false,
                    }),
                    (false, true) => Some(Action::Sync {
                        record_id,
                        href,
                        winner: Side::Server,
                        mode: MergeMode::Replace,
                        conflict: false,
                    }),
                    (true, true) if c.hash == r.hash => Some(Action::Restatus { record_id, href }),
                    (true, true) => Some(match winner_by_policy(ctx.policy, c, r) {
                        Some(winner) => {
                            Action::Sync { record_id, href, winner, mode: MergeMode::Replace, conflict: true }
                        }
                        None => Action::KeepBoth { record_id, href },
                    }),
                }
            }
        };
        actions.extend(a);
    }

    // First sync (or items new on both sides since): match by UID, then contacts by email.
    let mut crm_by_uid: HashMap<&str, &CrmSnap> = HashMap::new();
    for c in crm.iter().filter(|c| !c.uid.is_empty()) {
        crm_by_uid.entry(c.uid.as_str()).or_insert(c);
    }
    let mut crm_by_email: HashMap<&str, Vec<&CrmSnap>> = HashMap::new();
    if ctx.kind == ItemKind::Contact {
        for c in crm.iter().filter(|c| !crm_used.contains(&c.record_id)) {
            for e in &c.emails {
                crm_by_email.entry(e.as_str()).or_default().push(c);
            }
        }
    }
    for r in remote {
        if remote_used.contains(r.href.as_str()) {
            continue;
        }
        remote_used.insert(r.href.as_str());
        let by_uid = crm_by_uid.get(r.uid.as_str()).copied().filter(|_| !r.uid.is_empty());
        if let Some(c) = by_uid
            && crm_used.contains(&c.record_id)
        {
            continue; // the UID is already synced under another href: a server-side duplicate
        }
        let matched = by_uid.or_else(|| {
            r.emails.iter().find_map(|e| {
                crm_by_email
                    .get(e.as_str())
                    .and_then(|cs| cs.iter().find(|c| !crm_used.contains(&c.record_id)).copied())
            })
        });
        let href = r.href.clone();
        match matched {
            Some(c) => {
                crm_used.insert(c.record_id);
                let record_id = c.record_id;
                if !c.in_filter {
                    continue; // an unlinked (or never synced) record outside the filter
                }
                if c.hash == r.hash {
                    actions.push(Action::Link { record_id, href });
                } else {
                    let (winner, mode) = match winner_by_policy(ctx.policy, c, r) {
                        Some(w) => (w, MergeMode::Replace),
                        None => (Side::Crm, MergeMode::Fill),
                    };
                    actions.push(Action::Sync { record_id, href, winner, mode, conflict: false });
                }
            }
            None => actions.push(Action::CreateCrm { href, resurrect: false }),
        }
    }
    for c in crm {
        if c.in_filter && !crm_used.contains(&c.record_id) {
            actions.push(Action::CreateServer { record_id: c.record_id, resurrect: false });
        }
    }

    // The mass-delete brake, per side.
    let mut held = Vec::new();
    if !ctx.brake_confirmed {
        let total = status.len();
        for side in [Side::Crm, Side::Server] {
            let is_delete = |a: &Action| match side {
                Side::Crm => matches!(a, Action::DeleteCrm { .. }),
                Side::Server => matches!(a, Action::DeleteServer { .. }),
            };
            let deletes = actions.iter().filter(|a| is_delete(a)).count();
            if brake_applies(deletes, total, ctx.brake_percent) {
                actions.retain(|a| !is_delete(a));
                held.push(Brake { side, deletes, total });
            }
        }
    }
    Plan { actions, held }
}
