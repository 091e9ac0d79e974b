//! ACT configuration: the organization's policies (settings) and each
//! mailbox's sync filter and per-field directions.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

crate::model::text_enum!(
    /// What happens when a record changed on both sides since the last sync.
    ConflictPolicy {
        /// Keep both versions (the server's in place, the CRM's as a copy on both sides) and raise an alert.
        KeepBoth = "keep-both",
        /// The CRM version overwrites the server's.
        CrmWins = "crm-wins",
        /// The server version overwrites the CRM's.
        ServerWins = "server-wins",
        /// The version changed last wins (the CRM's on a tie or when unknown).
        MostRecent = "most-recent",
    }
);

crate::model::text_enum!(
    /// What happens on the server when a synced CRM record leaves the sync filter.
    LeaveFilterAction {
        /// Stop syncing it; the server keeps its copy.
        Unlink = "unlink",
        /// Delete it on the server.
        Delete = "delete",
        /// Mark it cancelled on the server (appointments and tasks; contacts are unlinked).
        Cancel = "cancel",
    }
);

crate::model::text_enum!(
    /// Which way a field flows.
    Direction {
        /// Both ways.
        TwoWay = "two-way",
        /// CRM changes go to the server; server changes stay there.
        CrmToServer = "crm-to-server",
        /// Server changes come to the CRM; CRM changes stay there.
        ServerToCrm = "server-to-crm",
        /// Not synced after the item was first created.
        None = "none",
    }
);

crate::model::text_enum!(
    /// The fields whose direction the admin can set.
    Field {
        /// Subject (SUMMARY).
        Subject = "subject",
        /// Body (DESCRIPTION).
        Body = "body",
        /// Location (LOCATION).
        Location = "location",
    }
);

crate::model::text_enum!(
    /// One rule of a mailbox's sync filter; a record is synced when any rule matches.
    FilterRule {
        /// Appointments whose organizer is the mailbox owner.
        AppointmentOrganizer = "appointment:organizer",
        /// Appointments where the owner is a required attendee.
        AppointmentRequired = "appointment:required",
        /// Appointments where the owner is an optional attendee.
        AppointmentOptional = "appointment:optional",
        /// Appointments owned by the owner.
        AppointmentOwned = "appointment:owned",
        /// Every appointment.
        AppointmentAll = "appointment:all",
        /// Contacts owned by the owner.
        ContactOwned = "contact:owned",
        /// Every contact.
        ContactAll = "contact:all",
        /// Tasks owned by the owner.
        TaskOwned = "task:owned",
        /// Every task.
        TaskAll = "task:all",
    }
);

/// The default sync filter: appointments where the owner is organizer or
/// required attendee, contacts and tasks the owner owns.
pub const DEFAULT_FILTERS: &[FilterRule] = &[
    FilterRule::AppointmentOrganizer,
    FilterRule::AppointmentRequired,
    FilterRule::ContactOwned,
    FilterRule::TaskOwned,
];

/// A mailbox's ACT configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActConfig {
    /// Sync filter rules, OR-ed.
    pub filters: Vec<FilterRule>,
    /// Direction of subject, body and location.
    pub directions: Directions,
}

/// Direction per field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directions {
    /// Subject.
    pub subject: Direction,
    /// Body.
    pub body: Direction,
    /// Location.
    pub location: Direction,
}

impl Default for Directions {
    fn default() -> Self {
        Directions { subject: Direction::TwoWay, body: Direction::TwoWay, location: Direction::TwoWay }
    }
}

impl Directions {
    /// The direction of `f`.
    pub fn get(&self, f: Field) -> Direction {
        match f {
            Field::Subject => self.subject,
            Field::Body => self.body,
            Field::Location => self.location,
        }
    }

    /// Sets the direction of `f`.
    pub fn set(&mut self, f: Field, d: Direction) {
        match f {
            Field::Subject => self.subject = d,
            Field::Body => self.body = d,
            Field::Location => self.location = d,
        }
    }
}

impl Default for ActConfig {
    fn default() -> Self {
        ActConfig { filters: DEFAULT_FILTERS.to_vec(), directions: Directions::default() }
    }
}

impl ActConfig {
    /// Whether any rule of the filter concerns `prefix` ("appointment", "contact", "task").
    pub fn syncs(&self, prefix: &str) -> bool {
        self.filters.iter().any(|r| r.as_str().starts_with(prefix))
    }

    /// Parses a comma-separated filter list (admin input for `field`); an
    /// empty list is refused (use act none on the mailbox instead).
    pub fn parse_filters(field: &str, raw: &str) -> Result<Vec<FilterRule>> {
        let mut out = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let r = FilterRule::parse(field, part)?;
            if !out.contains(&r) {
                out.push(r);
            }
        }
        if out.is_empty() {
            return Err(CoreError::invalid(field, "needs at least one rule, e.g. contact:owned"));
        }
        Ok(out)
    }

    /// Parses `FIELD=DIRECTION` (admin input for `field`).
    pub fn parse_direction(field: &str, raw: &str) -> Result<(Field, Direction)> {
        let (f, d) = raw.split_once('=').ok_or_else(|| {
            CoreError::invalid(field, format!("'{raw}' is not FIELD=DIRECTION, e.g. body=crm-to-server"))
        })?;
        Ok((Field::parse(field, f)?, Direction::parse(field, d)?))
    }
}
