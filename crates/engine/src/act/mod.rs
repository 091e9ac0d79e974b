//! The ACT pipeline: two-way sync of appointments, tasks and contacts with
//! CalDAV/CardDAV for mailboxes with ACT enabled. Decisions are core's pure
//! planner (`crmsync_core::act`); this module does the I/O around it:
//! discovery, listing (sync-collection, else CTag/ETag), fetching, applying
//! both ways, status rows, alerts and telemetry.

mod apply;
pub mod cycle;
mod listing;
mod load;
mod report;

pub use cycle::{
    ActCollectionStats, ActSync, confirm_brake, discover, set_before_apply_hook, set_item_store_maker,
    sync_act, sync_all_act,
};
