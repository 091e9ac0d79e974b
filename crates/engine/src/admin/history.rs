//! A mailbox's history for the admin: its sync runs as a timeline
//! ("09:41 incoming: 3 tracked, 1 skipped (not a reply)") and, for one
//! message, whether it was tracked and if not, why.

use crmsync_core::store::history::{self, RunRow, SeenQuery, SeenRow};
use crmsync_core::{CoreError, Store};
use serde::Serialize;

use super::parse_num;
use crate::error::Result;
use crate::history::reason_label;

/// Runs shown when no limit is given.
pub const DEFAULT_LIMIT: i64 = 50;

/// One run of the timeline: the stored row and a line in words.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    /// The stored run.
    #[serde(flatten)]
    pub run: RunRow,
    /// What happened, in words, e.g. "incoming: 3 tracked, 1 skipped (not a reply)".
    pub summary: String,
}

fn mailbox_id(store: &Store, email: &str) -> Result<i64> {
    Ok(crmsync_core::store::mailboxes::find(store.conn(), email.trim())?
        .ok_or_else(|| CoreError::invalid("email", format!("no mailbox for {}", email.trim())))?
        .id)
}

/// The newest runs of mailbox `email` (at most `limit`, text as typed; 50 by default), newest first.
pub fn mailbox_history(store: &Store, email: &str, limit: Option<&str>) -> Result<Vec<HistoryEntry>> {
    let id = mailbox_id(store, email)?;
    let limit = parse_num("limit", limit, 1, 10_000)?.unwrap_or(DEFAULT_LIMIT);
    let runs = history::list_runs(store.conn(), id, limit)?;
    Ok(runs.into_iter().map(|run| HistoryEntry { summary: summary(&run), run }).collect())
}

/// A run in words.
pub fn summary(r: &RunRow) -> String {
    let what = match r.result.as_deref() {
        None => "still running, or stopped before it ended".to_string(),
        Some("failed") => format!(
            "failed [{}] {}",
            r.code.as_deref().unwrap_or_default(),
            r.message.as_deref().unwrap_or_default()
        ),
        Some("skipped") => format!("skipped: {}", r.message.as_deref().unwrap_or_default()),
        Some(_) if r.channel == "incoming" => {
            let mut parts = vec![format!("{} tracked", r.tracked)];
            if r.not_tracked > 0 {
                let why: Vec<String> = r
                    .not_tracked_reasons
                    .iter()
                    .map(|c| {
                        if r.not_tracked_reasons.len() == 1 {
                            reason_label(&c.reason).to_string()
                        } else {
                            format!("{} {}", c.count, reason_label(&c.reason))
                        }
                    })
                    .collect();
                if why.is_empty() {
                    parts.push(format!("{} skipped", r.not_tracked));
                } else {
                    parts.push(format!("{} skipped ({})", r.not_tracked, why.join(", ")));
                }
            }
            if r.failed > 0 {
                parts.push(format!("{} failed", r.failed));
            }
            parts.join(", ")
        }
        Some(_) if r.channel == "outgoing" => {
            let mut parts = vec![format!("{} sent", r.created)];
            if r.failed > 0 {
                parts.push(format!("{} failed", r.failed));
            }
            parts.join(", ")
        }
        Some(_) => {
            let mut parts = vec![format!("{} changed", r.processed)];
            if r.failed > 0 {
                parts.push(format!("{} failed", r.failed));
            }
            parts.join(", ")
        }
    };
    let more = if r.capped { " (more waiting: per-cycle cap)" } else { "" };
    format!("{}: {what}{more}", r.channel)
}

/// What was asked in [`explain`].
#[derive(Debug, Clone, Copy)]
pub enum ExplainQuery<'a> {
    /// A Message-ID (angle brackets optional).
    MessageId(&'a str),
    /// Words of the subject.
    Subject(&'a str),
}

/// One message found, with its answer in words.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct Explained {
    /// The stored row (seen_on, outcome, reason, detail, activity_id, ...).
    #[serde(flatten)]
    pub seen: SeenRow,
    /// The answer in plain words.
    pub answer: String,
}

/// The answer to "why was this email (not) tracked?".
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The mailbox asked about.
    pub mailbox: String,
    /// The messages found, newest first.
    pub found: Vec<Explained>,
    /// When nothing was found: messages crmsync saw but could not read the
    /// headers of (too large, not returned by the server), newest first.
    pub unidentified: Vec<Explained>,
    /// Days the reasons are kept (`history.retention_days`).
    pub retention_days: i64,
}

/// Looks a message up among what mailbox `email` saw within the retention.
pub fn explain(store: &Store, email: &str, q: ExplainQuery<'_>) -> Result<Explanation> {
    let id = mailbox_id(store, email)?;
    let q = match q {
        ExplainQuery::MessageId(v) if !v.trim().is_empty() => SeenQuery::MessageId(v),
        ExplainQuery::Subject(v) if !v.trim().is_empty() => SeenQuery::Subject(v),
        ExplainQuery::MessageId(_) => {
            return Err(CoreError::invalid("message-id", "give the Message-ID to look for").into());
        }
        ExplainQuery::Subject(_) => {
            return Err(CoreError::invalid("subject", "give words of the subject to look for").into());
        }
    };
    let found: Vec<Explained> =
        history::find_seen(store.conn(), id, &q, 20)?.into_iter().map(explained).collect();
    let unidentified = if found.is_empty() {
        history::unidentified_seen(store.conn(), id, 20)?.into_iter().map(explained).collect()
    } else {
        Vec::new()
    };
    let settings = crmsync_core::store::settings::load(store.conn())?;
    Ok(Explanation {
        mailbox: email.trim().to_string(),
        found,
        unidentified,
        retention_days: settings.int(crmsync_core::settings::IntSetting::HistoryRetentionDays),
    })
}

fn explained(seen: SeenRow) -> Explained {
    let m = &seen.message;
    let when = seen.seen_on.get(..16).unwrap_or(&seen.seen_on).replace('T', " ");
    let what = match (m.subject.as_deref(), m.message_id.as_deref()) {
        (Some(s), _) => format!("the email \"{s}\""),
        (None, Some(id)) => format!("the email <{id}>"),
        (None, None) => format!("the email at {}", m.item_ref),
    };
    let answer = match m.outcome.as_str() {
        "tracked" => format!("{what} was tracked on {when} UTC: {}.", m.detail),
        "not_tracked" => format!("{what} was seen on {when} UTC and not tracked: {}.", m.detail),
        _ => format!("{what} was seen on {when} UTC and could not be tracked: {}.", m.detail),
    };
    Explained { seen, answer }
}
