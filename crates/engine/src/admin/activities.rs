//! Reading activities, queue items and alerts.

use crmsync_core::model::{RecordType, Severity};
use crmsync_core::store::activities::{self, ActivityView, Filter};
use crmsync_core::store::alerts::{self, Alert};
use crmsync_core::store::principals::{self, Kind};
use crmsync_core::store::{mailboxes, profiles, records};
use crmsync_core::{CoreError, Store, hints};

use super::parse_num;
use crate::error::Result;

/// Raw filter input for `activity list` (and the desktop's Activities page,
/// whose TypeScript type is `ActivityFilter`: the TS namespace is flat).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "ActivityFilter"))]
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ListInput {
    /// email, appointment or task.
    pub activity_type: Option<String>,
    /// Mailbox address.
    pub mailbox: Option<String>,
    /// TYPE:KEY.
    pub regarding: Option<String>,
    /// Maximum count.
    pub limit: Option<String>,
}

/// Lists activities, newest first.
pub fn list(store: &Store, input: &ListInput) -> Result<Vec<ActivityView>> {
    let conn = store.conn();
    let activity_type = match &input.activity_type {
        Some(t) => {
            let t = t.trim().to_ascii_lowercase();
            if !["email", "appointment", "task"].contains(&t.as_str()) {
                return Err(CoreError::invalid(
                    "type",
                    format!("'{t}' is not one of email, appointment, task"),
                )
                .into());
            }
            Some(t)
        }
        None => None,
    };
    let mailbox_id = match &input.mailbox {
        Some(m) => Some(
            mailboxes::find(conn, m)?
                .ok_or_else(|| CoreError::invalid("mailbox", format!("no mailbox for {m}")))?
                .id,
        ),
        None => None,
    };
    let regarding = match &input.regarding {
        Some(r) => {
            let (t, k) = r
                .split_once(':')
                .ok_or_else(|| CoreError::invalid("regarding", format!("'{r}' is not TYPE:KEY")))?;
            let rt = RecordType::parse("regarding", t)?;
            Some((rt, records::resolve_ref(conn, "regarding", rt, k)?.id))
        }
        None => None,
    };
    let limit = parse_num("limit", input.limit.as_deref(), 1, 1_000_000)?;
    let ids = activities::list_ids(conn, &Filter { activity_type, mailbox_id, regarding, limit })?;
    ids.into_iter().map(|id| Ok(activities::show(conn, id)?)).collect()
}

/// One activity.
pub fn show(store: &Store, id: &str) -> Result<ActivityView> {
    let id: i64 =
        id.trim().parse().map_err(|_| CoreError::invalid("id", format!("'{id}' is not an activity id")))?;
    Ok(activities::show(store.conn(), id)?)
}

/// The activities in a queue.
pub fn queue_items(store: &Store, queue_email: &str) -> Result<Vec<ActivityView>> {
    let conn = store.conn();
    let q = principals::find(conn, Kind::Queue, queue_email)?
        .ok_or_else(|| CoreError::invalid("queue", format!("no queue {queue_email}")))?;
    activities::queue_item_ids(conn, q.id)?.into_iter().map(|id| Ok(activities::show(conn, id)?)).collect()
}

/// Raw filter input for `alert list` (and the desktop's Alerts page, whose
/// TypeScript type is `AlertFilter`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "AlertFilter"))]
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AlertInput {
    /// Mailbox address.
    pub mailbox: Option<String>,
    /// Profile name.
    pub profile: Option<String>,
    /// error, warning or info.
    pub severity: Option<String>,
    /// Include acknowledged.
    pub all: bool,
}

/// Lists alerts with their "what to do" hints.
pub fn alerts(store: &Store, input: &AlertInput) -> Result<Vec<Alert>> {
    let conn = store.conn();
    let mailbox_id = match &input.mailbox {
        Some(m) => Some(
            mailboxes::find(conn, m)?
                .ok_or_else(|| CoreError::invalid("mailbox", format!("no mailbox for {m}")))?
                .id,
        ),
        None => None,
    };
    let profile_id = match &input.profile {
        Some(p) => Some(
            profiles::find(conn, p)?
                .ok_or_else(|| CoreError::invalid("profile", format!("no profile named '{p}'")))?
                .id,
        ),
        None => None,
    };
    let severity = match &input.severity {
        Some(s) => Some(Severity::parse("severity", s)?),
        None => None,
    };
    let f = alerts::Filter { mailbox_id, profile_id, severity, include_acknowledged: input.all };
    Ok(alerts::list(conn, &f, hints::hint)?)
}

/// Acknowledges one alert (by id) or all; returns how many changed.
pub fn ack(store: &mut Store, id: Option<&str>) -> Result<usize> {
    match id {
        Some(id) => {
            let n: i64 = id
                .trim()
                .parse()
                .map_err(|_| CoreError::invalid("id", format!("'{id}' is not an alert id")))?;
            let changed = store.write(|tx| alerts::ack(tx, n))?;
            if !changed {
                return Err(CoreError::invalid("id", format!("no alert {n}")).into());
            }
            Ok(1)
        }
        None => Ok(store.write(|tx| alerts::ack_all(tx))?),
    }
}
