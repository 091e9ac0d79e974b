//! The serializable result of planning a migration: what a preview shows and
//! what `--json` prints. Produced by [`super::plan::plan`].

use chrono::{DateTime, Utc};
use crmsync_core::model::{ChannelMethod, IncomingMethod, ProfileData};
use crmsync_core::store::principals::Kind;
use serde::Serialize;

use super::Warning;

/// User or queue.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OwnerKind {
    /// A CRM user.
    User,
    /// A queue.
    Queue,
}

impl OwnerKind {
    /// The store's table selector.
    pub fn store_kind(self) -> Kind {
        match self {
            OwnerKind::User => Kind::User,
            OwnerKind::Queue => Kind::Queue,
        }
    }

    /// "user" or "queue".
    pub fn noun(self) -> &'static str {
        match self {
            OwnerKind::User => "user",
            OwnerKind::Queue => "queue",
        }
    }
}

/// A profile the migration creates.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedProfile {
    /// Validated settings (the name included).
    #[serde(flatten)]
    pub settings: ProfileData,
    /// The router providers merged into it.
    pub from: Vec<String>,
    /// Its password must be entered before Test & Enable.
    pub password_pending: bool,
}

/// An existing profile the migration uses instead of creating one.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReusedProfile {
    /// The existing profile's name.
    pub name: String,
    /// The router providers it stands for.
    pub from: Vec<String>,
    /// Why it was chosen, and whether its settings differ from the router's.
    pub note: String,
}

/// A user or queue the migration creates to own a mailbox.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedPrincipal {
    /// User or queue.
    pub kind: OwnerKind,
    /// Address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Where it comes from.
    pub reason: String,
}

/// A mailbox as the migration wants it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedMailbox {
    /// Address.
    pub email: String,
    /// Owner kind.
    pub owner: OwnerKind,
    /// Profile name.
    pub profile: String,
    /// Incoming delivery.
    pub incoming: IncomingMethod,
    /// Outgoing method.
    pub outgoing: ChannelMethod,
    /// From the router's threshold: mail already routed is not imported again.
    pub process_from: Option<DateTime<Utc>>,
    /// A forward mailbox.
    pub forward_mailbox: bool,
    /// Delete processed mail from the server.
    pub delete_after_processing: bool,
    /// Has no password and its profile uses per-mailbox credentials.
    pub credentials_required: bool,
}

/// One field an update changes.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Field name as the CLI spells it.
    pub field: String,
    /// Current value.
    pub from: String,
    /// New value.
    pub to: String,
}

/// An existing mailbox the migration changes.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxUpdate {
    /// The mailbox as it will be.
    #[serde(flatten)]
    pub mailbox: PlannedMailbox,
    /// What changes.
    pub changes: Vec<Change>,
}

/// Something that needs a password before it can work.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialNeed {
    /// "profile" or "mailbox".
    pub kind: String,
    /// Profile name or mailbox address.
    pub name: String,
    /// What the admin does about it.
    pub action: String,
}

/// Something in the router files that is not migrated.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotMigrated {
    /// What (a provider, a mailbox, a CRM id).
    pub item: String,
    /// Why, and what the admin can do.
    pub reason: String,
}

/// Everything a migration would do; the whole output of a dry run.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MigrationPlan {
    /// The organization (router `CrmServerUrl`) migrated.
    pub deployment: Option<String>,
    /// Profiles to create.
    pub profiles_to_create: Vec<PlannedProfile>,
    /// Existing profiles used instead.
    pub profiles_reused: Vec<ReusedProfile>,
    /// Users and queues to create to own mailboxes.
    pub users_or_queues_to_create: Vec<PlannedPrincipal>,
    /// Mailboxes to create.
    pub mailboxes_to_create: Vec<PlannedMailbox>,
    /// Mailboxes to change.
    pub mailboxes_to_update: Vec<MailboxUpdate>,
    /// Mailboxes already as the router wants them.
    pub mailboxes_unchanged: Vec<String>,
    /// Profiles and mailboxes that need a password.
    pub credentials_required: Vec<CredentialNeed>,
    /// What is left out, with reasons.
    pub not_migrated: Vec<NotMigrated>,
    /// What the admin should read.
    pub warnings: Vec<Warning>,
}

impl MigrationPlan {
    /// True when applying would write nothing.
    pub fn changes_nothing(&self) -> bool {
        self.profiles_to_create.is_empty()
            && self.users_or_queues_to_create.is_empty()
            && self.mailboxes_to_create.is_empty()
            && self.mailboxes_to_update.is_empty()
    }

    pub(crate) fn warn(&mut self, w: Warning) {
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }
}
