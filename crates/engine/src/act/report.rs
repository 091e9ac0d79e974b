//! What one ACT cycle reports: counts per collection and the run's outcome.
//! Below both the cycle and the apply step, which fill it in.

use serde::Serialize;

use crate::outcome::RunOutcome;

/// Counts for one collection.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ActCollectionStats {
    /// appointment, task or contact.
    pub kind: String,
    /// Collection URL.
    pub url: String,
    /// How changes were listed: sync-token, initial, ctag-unchanged or etags.
    pub listing: String,
    /// Records created in the CRM.
    pub created_crm: usize,
    /// Items created on the server.
    pub created_server: usize,
    /// Records updated in the CRM.
    pub updated_crm: usize,
    /// Items updated on the server.
    pub updated_server: usize,
    /// Records deleted in the CRM.
    pub deleted_crm: usize,
    /// Items deleted on the server.
    pub deleted_server: usize,
    /// Pairs matched on first sync.
    pub linked: usize,
    /// Pairs unlinked (left the filter).
    pub unlinked: usize,
    /// Conflicts (each raised a DAV_CONFLICT alert).
    pub conflicts: usize,
    /// Items that failed (each raised an alert).
    pub failed: usize,
    /// Deletes held by the brake.
    pub held: usize,
}

/// The result of one ACT cycle of a mailbox.
#[derive(Debug, Clone, Serialize)]
pub struct ActSync {
    /// Mailbox address.
    pub mailbox: String,
    /// How it ended (`result`, `code`, `message` in JSON).
    #[serde(flatten)]
    pub outcome: RunOutcome,
    /// Per collection.
    pub collections: Vec<ActCollectionStats>,
    /// HTTP requests sent.
    pub requests: usize,
}
