//! Address resolution and the tracking filter. Pure: record lookups go through
//! [`Directory`], which the store implements.

use serde::{Deserialize, Serialize};

use crate::model::{RecordRef, RecordType, TrackFilter};

/// The precedence in which a sender resolves: user, contact, account, lead, queue.
pub const SENDER_ORDER: [RecordType; 5] =
    [RecordType::User, RecordType::Contact, RecordType::Account, RecordType::Lead, RecordType::Queue];

/// Record lookups by email address.
pub trait Directory {
    /// Every active record with this address (any order).
    fn records_with_address(&self, address: &str) -> Vec<RecordRef>;
}

/// Resolution switches from settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Leave an address unresolved when several records of the winning type have it.
    pub unresolved_when_ambiguous: bool,
}

/// Role of a party on an email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sender.
    From,
    /// To recipient.
    To,
    /// Cc recipient.
    Cc,
    /// Bcc recipient.
    Bcc,
}

impl Role {
    /// Store spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::From => "from",
            Role::To => "to",
            Role::Cc => "cc",
            Role::Bcc => "bcc",
        }
    }
}

/// One party row: an address and what it resolved to (None = unresolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// Role.
    pub role: Role,
    /// The address as written (normalised to lower case).
    pub address: String,
    /// Display name from the header.
    pub name: Option<String>,
    /// The record, or None for an unresolved address.
    pub record: Option<RecordRef>,
}

fn rank(t: RecordType) -> usize {
    SENDER_ORDER.iter().position(|x| *x == t).unwrap_or(usize::MAX)
}

/// Resolves one address for `role`: the sender to the first match in
/// [`SENDER_ORDER`]; a recipient to every match. Unmatched → one unresolved party.
pub fn resolve(
    role: Role,
    address: &str,
    name: Option<&str>,
    dir: &dyn Directory,
    opts: Options,
) -> Vec<Party> {
    let address = crate::address::normalize(address);
    let mut matches = dir.records_with_address(&address);
    matches.sort_by_key(|r| (rank(r.record_type), r.id));
    let unresolved =
        || vec![Party { role, address: address.clone(), name: name.map(str::to_string), record: None }];
    if matches.is_empty() {
        return unresolved();
    }
    let chosen: Vec<RecordRef> = match role {
        Role::From => {
            let top = matches[0].record_type;
            let same: Vec<_> = matches.iter().filter(|r| r.record_type == top).cloned().collect();
            if same.len() > 1 && opts.unresolved_when_ambiguous {
                return unresolved();
            }
            vec![same[0].clone()]
        }
        _ => {
            if matches.len() > 1 && opts.unresolved_when_ambiguous {
                return unresolved();
            }
            matches
        }
    };
    chosen
        .into_iter()
        .map(|r| Party { role, address: address.clone(), name: name.map(str::to_string), record: Some(r) })
        .collect()
}

/// Decides whether a message is tracked for a mailbox owner.
/// `owner` is the mailbox owner's own record (never counts as "a CRM record").
pub fn passes_filter(
    filter: TrackFilter,
    is_response: bool,
    parties: &[Party],
    owner: Option<&RecordRef>,
) -> bool {
    let others = || {
        parties
            .iter()
            .filter_map(|p| p.record.as_ref())
            .filter(move |r| Some(*r) != owner)
            .map(|r| r.record_type)
    };
    match filter {
        TrackFilter::All => true,
        TrackFilter::Responses => is_response,
        TrackFilter::CrmRecords => {
            others().any(|t| matches!(t, RecordType::Contact | RecordType::Account | RecordType::Lead))
        }
        TrackFilter::EmailEnabled => others().next().is_some(),
        TrackFilter::None => false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Dir(HashMap<&'static str, Vec<RecordRef>>);

    impl Directory for Dir {
        fn records_with_address(&self, a: &str) -> Vec<RecordRef> {
            self.0.get(a).cloned().unwrap_or_default()
        }
    }

    fn r(t: RecordType, id: i64) -> RecordRef {
        RecordRef { record_type: t, id, name: format!("{t}{id}") }
    }

    fn dir() -> Dir {
        let mut m = HashMap::new();
        m.insert(
            "shared@x",
            vec![r(RecordType::Lead, 9), r(RecordType::Contact, 2), r(RecordType::Account, 4)],
        );
        m.insert("twins@x", vec![r(RecordType::Contact, 7), r(RecordType::Contact, 3)]);
        m.insert("alice@x", vec![r(RecordType::User, 1)]);
        m.insert("support@x", vec![r(RecordType::Queue, 1)]);
        Dir(m)
    }

    fn ids(p: &[Party]) -> Vec<Option<(RecordType, i64)>> {
        p.iter().map(|p| p.record.as_ref().map(|r| (r.record_type, r.id))).collect()
    }

    #[test]
    fn resolution_case_table() {
        use RecordType::*;
        let amb = Options { unresolved_when_ambiguous: true };
        type Case = (&'static str, Role, &'static str, Options, Vec<Option<(RecordType, i64)>>);
        let cases: Vec<Case> = vec![
            (
                "sender takes first by precedence",
                Role::From,
                "shared@x",
                Options::default(),
                vec![Some((Contact, 2))],
            ),
            (
                "recipient gets every match",
                Role::To,
                "shared@x",
                Options::default(),
                vec![Some((Contact, 2)), Some((Account, 4)), Some((Lead, 9))],
            ),
            ("sender twins: lowest id", Role::From, "twins@x", Options::default(), vec![Some((Contact, 3))]),
            ("sender twins ambiguous → unresolved", Role::From, "twins@x", amb, vec![None]),
            ("recipient several ambiguous → unresolved", Role::Cc, "shared@x", amb, vec![None]),
            ("sender across types is not ambiguous", Role::From, "shared@x", amb, vec![Some((Contact, 2))]),
            ("case-insensitive", Role::From, "ALICE@X", Options::default(), vec![Some((User, 1))]),
            ("unknown → unresolved", Role::To, "who@x", Options::default(), vec![None]),
        ];
        for (name, role, addr, opts, want) in cases {
            assert_eq!(ids(&resolve(role, addr, None, &dir(), opts)), want, "{name}");
        }
    }

    #[test]
    fn tracking_filter_case_table() {
        use TrackFilter::{All, CrmRecords, EmailEnabled, Responses};
        let d = dir();
        let owner = r(RecordType::User, 1);
        let from_contact = resolve(Role::From, "shared@x", None, &d, Options::default());
        let to_owner = resolve(Role::To, "alice@x", None, &d, Options::default());
        let to_queue = resolve(Role::To, "support@x", None, &d, Options::default());
        let stranger = resolve(Role::From, "who@x", None, &d, Options::default());
        let with = |a: &[Party], b: &[Party]| [a, b].concat();
        let cases = [
            ("all tracks strangers", All, false, with(&stranger, &to_owner), true),
            ("responses needs a response", Responses, false, with(&from_contact, &to_owner), false),
            ("responses tracks a response", Responses, true, with(&stranger, &to_owner), true),
            ("crm-records tracks contacts", CrmRecords, false, with(&from_contact, &to_owner), true),
            (
                "crm-records ignores queues and the owner",
                CrmRecords,
                false,
                with(&stranger, &to_queue),
                false,
            ),
            ("email-enabled tracks queues", EmailEnabled, false, with(&stranger, &to_queue), true),
            ("email-enabled ignores the owner", EmailEnabled, false, with(&stranger, &to_owner), false),
            ("none tracks nothing", TrackFilter::None, true, with(&from_contact, &to_owner), false),
        ];
        for (name, f, resp, parties, want) in cases {
            assert_eq!(passes_filter(f, resp, &parties, Some(&owner)), want, "{name}");
        }
    }
}
