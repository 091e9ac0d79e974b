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

/// The mailbox owner as the sync filter sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerFacts {
    /// Owning user id (when the mailbox belongs to a user).
    pub user_id: Option<i64>,
    /// Owning queue id (when it belongs to a queue).
    pub queue_id: Option<i64>,
    /// The owner's address (lower-case).
    pub email: String,
}

/// A party of an appointment as the filter sees it: (role, lower-case
/// address, resolved principal as `("user"|"queue", id)`).
pub type PartyFact = (String, String, Option<(&'static str, i64)>);

/// What the filter looks at on a record: its owner and its parties
/// (role, lower-case address, resolved user/queue id as `("user"|"queue", id)`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFacts {
    /// Owning user.
    pub owner_user_id: Option<i64>,
    /// Owning queue.
    pub owner_queue_id: Option<i64>,
    /// Parties of an appointment: (role, address, resolved principal).
    pub parties: Vec<PartyFact>,
}

impl OwnerFacts {
    fn owns(&self, r: &RecordFacts) -> bool {
        (self.user_id.is_some() && r.owner_user_id == self.user_id)
            || (self.queue_id.is_some() && r.owner_queue_id == self.queue_id)
    }

    fn is(&self, address: &str, principal: Option<(&'static str, i64)>) -> bool {
        address.eq_ignore_ascii_case(&self.email)
            || match principal {
                Some(("user", id)) => self.user_id == Some(id),
                Some(("queue", id)) => self.queue_id == Some(id),
                _ => false,
            }
    }
}

impl ActConfig {
    /// Whether the filter takes a record of `kind` (rules OR-ed). An
    /// appointment without an organizer counts as organized by its owner.
    pub fn takes(&self, kind: super::ItemKind, owner: &OwnerFacts, r: &RecordFacts) -> bool {
        use super::ItemKind as K;
        self.filters.iter().any(|rule| match (kind, rule) {
            (K::Appointment, FilterRule::AppointmentAll) => true,
            (K::Appointment, FilterRule::AppointmentOwned) => owner.owns(r),
            (K::Appointment, FilterRule::AppointmentOrganizer) => {
                match r.parties.iter().find(|p| p.0 == "organizer") {
                    Some((_, a, p)) => owner.is(a, *p),
                    None => owner.owns(r),
                }
            }
            (K::Appointment, FilterRule::AppointmentRequired) => {
                r.parties.iter().any(|(role, a, p)| role == "required" && owner.is(a, *p))
            }
            (K::Appointment, FilterRule::AppointmentOptional) => {
                r.parties.iter().any(|(role, a, p)| role == "optional" && owner.is(a, *p))
            }
            (K::Contact, FilterRule::ContactAll) | (K::Task, FilterRule::TaskAll) => true,
            (K::Contact, FilterRule::ContactOwned) => {
                owner.user_id.is_some() && r.owner_user_id == owner.user_id
            }
            (K::Task, FilterRule::TaskOwned) => owner.owns(r),
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::act::ItemKind;

    #[test]
    fn the_default_filter_takes_organized_required_and_owned_records() {
        let cfg = ActConfig::default();
        let owner = OwnerFacts { user_id: Some(1), queue_id: None, email: "alice@x.test".into() };
        type P<'a> = (&'a str, &'a str, Option<(&'static str, i64)>);
        let appt = |parties: Vec<P<'_>>, owner_id| RecordFacts {
            owner_user_id: owner_id,
            owner_queue_id: None,
            parties: parties.into_iter().map(|(r, a, p)| (r.to_string(), a.to_string(), p)).collect(),
        };
        let k = ItemKind::Appointment;
        assert!(cfg.takes(k, &owner, &appt(vec![("organizer", "alice@x.test", None)], Some(2))));
        assert!(cfg.takes(
            k,
            &owner,
            &appt(vec![("organizer", "bob@x.test", None), ("required", "a@y.test", Some(("user", 1)))], None)
        ));
        assert!(!cfg.takes(
            k,
            &owner,
            &appt(vec![("organizer", "bob@x.test", None), ("optional", "alice@x.test", None)], Some(1))
        ));
        assert!(cfg.takes(k, &owner, &appt(vec![], Some(1))), "no organizer: the owner organizes");
        assert!(!cfg.takes(k, &owner, &appt(vec![], Some(2))));
        let owned = RecordFacts { owner_user_id: Some(1), ..Default::default() };
        assert!(cfg.takes(ItemKind::Contact, &owner, &owned) && cfg.takes(ItemKind::Task, &owner, &owned));
        assert!(!cfg.takes(ItemKind::Contact, &owner, &RecordFacts::default()));
        let all = ActConfig { filters: vec![FilterRule::ContactAll], ..ActConfig::default() };
        assert!(all.takes(ItemKind::Contact, &owner, &RecordFacts::default()));
        assert!(!all.takes(ItemKind::Task, &owner, &owned));
        assert!(
            ActConfig::parse_filters("act-filter", "contact:owned, bogus")
                .unwrap_err()
                .to_string()
                .starts_with("act-filter:")
        );
        assert_eq!(
            ActConfig::parse_direction("act-direction", "body=crm-to-server").unwrap(),
            (Field::Body, Direction::CrmToServer)
        );
    }
}
