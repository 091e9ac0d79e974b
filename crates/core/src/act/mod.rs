//! ACT (appointments, contacts, tasks) two-way sync: the pure part.
//!
//! Everything here works on snapshots and returns decisions; the engine does
//! the I/O. The model is vdirsyncer's: a status row per synced item holds the
//! CRM record id and version, the server href and ETag, and a content hash per
//! side as of the last sync. Comparing each side with its status row tells
//! what changed where; [`plan()`] turns that into [`Action`]s (docs/act-sync.md
//! has the whole table), [`merge()`] builds what each side gets, honouring the
//! per-field directions, and the brake holds mass deletes.

pub mod config;
pub mod item;
pub mod merge;
pub mod plan;

pub use config::{
    ActConfig, ConflictPolicy, Direction, Directions, Field, FilterRule, LeaveFilterAction, OwnerFacts,
    RecordFacts,
};
pub use item::{Attendee, ContactItem, EventItem, Item, ItemKind, Occurrence, TaskItem};
pub use merge::{MergeMode, Side, merge};
pub use plan::{Action, Brake, CrmSnap, Plan, PlanContext, RemoteSnap, StatusRow, brake_applies, plan};

#[cfg(test)]
mod plan_tests;
