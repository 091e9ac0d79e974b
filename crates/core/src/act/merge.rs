//! What each side gets when both hold a version of an item: the winner's
//! content, except the fields whose direction says otherwise.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::{Direction, Directions, Field};
use super::item::Item;

/// A side of the sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The CRM.
    Crm,
    /// The CalDAV/CardDAV server.
    Server,
}

/// How the winner's content is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeMode {
    /// The winner's content, field by field directions aside.
    Replace,
    /// First sync of a matched pair: the winner's values, and the other
    /// side's where the winner has none (nothing non-empty is dropped).
    Fill,
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Fills the empty top-level fields of `base` from `other` (same kind).
fn fill(base: &Item, other: &Item) -> Item {
    let (Ok(Value::Object(mut b)), Ok(Value::Object(o))) =
        (serde_json::to_value(base), serde_json::to_value(other))
    else {
        return base.clone();
    };
    for (k, v) in o {
        if b.get(&k).is_none_or(is_empty) && !is_empty(&v) {
            b.insert(k, v);
        }
    }
    serde_json::from_value(Value::Object(b)).unwrap_or_else(|_| base.clone())
}

/// Returns `(new_crm, new_server)` for a pair of the same kind: the winner's
/// content on both sides, except that a subject, body or location whose
/// direction is one-way or none follows it (a CRM-to-server field changed on
/// the server stays as it is there and is not pulled, and so on). The UID is
/// the server's on both sides (a contact matched by email adopts it).
pub fn merge(crm: &Item, server: &Item, winner: Side, mode: MergeMode, dirs: &Directions) -> (Item, Item) {
    let (w, l) = match winner {
        Side::Crm => (crm, server),
        Side::Server => (server, crm),
    };
    let base = match mode {
        MergeMode::Replace => w.clone(),
        MergeMode::Fill => fill(w, l),
    };
    let mut new_crm = base.clone();
    let mut new_server = base;
    for f in Field::ALL {
        let (Some(cv), Some(sv)) = (crm.field(*f), server.field(*f)) else { continue };
        let wv = new_crm.field(*f).flatten();
        let (c, s) = match dirs.get(*f) {
            Direction::TwoWay => (wv.clone(), wv),
            Direction::CrmToServer => (cv.clone(), if winner == Side::Crm { cv } else { sv }),
            Direction::ServerToCrm => (if winner == Side::Server { sv.clone() } else { cv }, sv),
            Direction::None => (cv, sv),
        };
        new_crm.set_field(*f, c);
        new_server.set_field(*f, s);
    }
    let uid = server.uid().to_string();
    new_crm.set_uid(uid.clone());
    new_server.set_uid(uid);
    new_crm.normalize();
    new_server.normalize();
    (new_crm, new_server)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::act::item::{ContactItem, EventItem};

    fn ev(summary: &str, body: Option<&str>, loc: Option<&str>) -> Item {
        Item::Appointment(EventItem {
            uid: "u".into(),
            summary: summary.into(),
            description: body.map(Into::into),
            location: loc.map(Into::into),
            start: "2026-03-02T09:00:00Z".into(),
            end: "2026-03-02T10:00:00Z".into(),
            ..Default::default()
        })
    }

    #[test]
    fn two_way_takes_the_winner_everywhere() {
        let (c, s) = merge(
            &ev("crm", None, None),
            &ev("srv", None, None),
            Side::Crm,
            MergeMode::Replace,
            &Directions::default(),
        );
        assert_eq!(c, ev("crm", None, None));
        assert_eq!(s, ev("crm", None, None));
    }

    #[test]
    fn one_way_and_none_fields_follow_their_direction() {
        let dirs = Directions {
            subject: Direction::CrmToServer,
            body: Direction::ServerToCrm,
            location: Direction::None,
        };
        let crm = ev("crm-subj", Some("crm-body"), Some("crm-room"));
        let srv = ev("srv-subj", Some("srv-body"), Some("srv-room"));
        // The server changed: its body comes in, its subject does not, locations stay.
        let (c, s) = merge(&crm, &srv, Side::Server, MergeMode::Replace, &dirs);
        assert_eq!(c, ev("crm-subj", Some("srv-body"), Some("crm-room")));
        assert_eq!(s, ev("srv-subj", Some("srv-body"), Some("srv-room")));
        // The CRM changed: its subject goes out, its body does not.
        let (c, s) = merge(&crm, &srv, Side::Crm, MergeMode::Replace, &dirs);
        assert_eq!(c, ev("crm-subj", Some("crm-body"), Some("crm-room")));
        assert_eq!(s, ev("crm-subj", Some("srv-body"), Some("srv-room")));
    }

    #[test]
    fn fill_keeps_every_non_empty_value() {
        let crm = Item::Contact(ContactItem {
            uid: "crm".into(),
            first_name: Some("Ann".into()),
            emails: vec!["ann@x.test".into()],
            ..Default::default()
        });
        let srv = Item::Contact(ContactItem {
            uid: "srv".into(),
            first_name: Some("Anne".into()),
            phone: Some("+1 555".into()),
            emails: vec!["ann@x.test".into()],
            ..Default::default()
        });
        let (c, s) = merge(&crm, &srv, Side::Crm, MergeMode::Fill, &Directions::default());
        assert_eq!(c, s);
        let Item::Contact(m) = c else { panic!() };
        assert_eq!(
            (m.first_name.as_deref(), m.phone.as_deref(), m.uid.as_str()),
            (Some("Ann"), Some("+1 555"), "srv")
        );
    }
}
