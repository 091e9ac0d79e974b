//! Organization settings: every key, its type, default and meaning in one table.
//! The store keeps only values the admin changed; [`Settings`] applies the
//! defaults, so every reader sees a complete, validated set.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::error::{CoreError, Result};

/// The type and allowed range of a setting.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// true / false.
    Bool,
    /// An integer between `min` and `max` inclusive.
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// Free text up to `max_len` characters.
    Text {
        /// Longest allowed value.
        max_len: usize,
    },
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
}

/// One setting: key, kind, default and a line of help.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    /// Dotted key, e.g. `tracking_token.prefix`.
    pub key: &'static str,
    /// Type and range.
    pub kind: Kind,
    /// Default, as the admin would type it.
    pub default: &'static str,
    /// What it does.
    pub help: &'static str,
}

const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}

/// Every setting crmsync knows. Add new ones here and a typed accessor below.
pub const DEFS: &[Def] = &[
    Def {
        key: "tracking_token.enabled",
        kind: Kind::Bool,
        default: "true",
        help: "Append a tracking token such as CRM:0001234 to the subject of outgoing email",
    },
    Def {
        key: "tracking_token.prefix",
        kind: Kind::Text { max_len: 20 },
        default: "CRM:",
        help: "Text that starts every tracking token",
    },
    Def {
        key: "tracking_token.digits",
        kind: int(4, 12),
        default: "7",
        help: "Number of digits in a tracking token",
    },
    Def {
        key: "email.max_subject_length",
        kind: int(40, 1000),
        default: "255",
        help: "Subjects of outgoing mail are truncated to this length, keeping the token",
    },
    Def {
        key: "correlation.enabled",
        kind: Kind::Bool,
        default: "true",
        help: "Link incoming replies to their conversation",
    },
    Def {
        key: "correlation.smart_matching",
        kind: Kind::Bool,
        default: "true",
        help: "Also correlate by normalised subject and at least 2 shared addresses",
    },
    Def {
        key: "resolution.unresolved_when_ambiguous",
        kind: Kind::Bool,
        default: "false",
        help: "Leave an address unresolved when several records have it, instead of taking the first",
    },
    Def {
        key: "resolution.auto_create_contact",
        kind: Kind::Bool,
        default: "false",
        help: "Create a contact for an unresolved sender of tracked mail",
    },
    Def {
        key: "incoming.lookback_days",
        kind: int(0, 3650),
        default: "7",
        help: "Without a process-from date, mail up to this many days before the first enable is processed",
    },
    Def {
        key: "incoming.require_approval",
        kind: Kind::Bool,
        default: "false",
        help: "Process email only for approved mailboxes",
    },
    Def {
        key: "incoming.max_items_per_cycle",
        kind: int(1, 100000),
        default: "500",
        help: "Messages one mailbox may process in one cycle before others get their turn",
    },
    Def {
        key: "incoming.fetch_batch_size",
        kind: int(1, 1000),
        default: "50",
        help: "Messages fetched per IMAP UID FETCH",
    },
    Def {
        key: "incoming.max_message_size_mb",
        kind: int(1, 2048),
        default: "25",
        help: "Larger incoming messages are not downloaded: kept as a failed item with a MESSAGE_TOO_LARGE alert",
    },
    Def {
        key: "attachments.max_size_kb",
        kind: int(0, 1048576),
        default: "5120",
        help: "Attachments larger than this are not saved; the email is kept and flagged",
    },
    Def {
        key: "outgoing.max_delivery_attempts",
        kind: int(1, 100),
        default: "10",
        help: "Transient send failures tolerated before an email is marked Failed",
    },
    Def {
        key: "outgoing.retry_interval_secs",
        kind: int(1, 86400),
        default: "300",
        help: "Base delay before a failed send is retried (grows with each attempt)",
    },
    Def {
        key: "outgoing.sending_retry_interval_secs",
        kind: int(1, 86400),
        default: "600",
        help: "An email stuck in Sending this long is checked in the Sent folder and sent again if absent",
    },
    Def {
        key: "outgoing.final_reply_timeout_secs",
        kind: int(1, 3600),
        default: "600",
        help: "How long the server's reply to a sent message is awaited (RFC 5321: 10 minutes); without one its delivery is unknown and it is checked in the Sent folder before any resend",
    },
    Def {
        key: "outgoing.max_items_per_cycle",
        kind: int(1, 100000),
        default: "1000",
        help: "Emails one mailbox may send in one cycle before others get their turn",
    },
    Def {
        key: "outgoing.save_to_sent",
        kind: Kind::Bool,
        default: "true",
        help: "Append a copy of sent mail to the mailbox's Sent folder",
    },
    Def {
        key: "polling.active_interval_secs",
        kind: int(1, 86400),
        default: "60",
        help: "Poll interval of a mailbox that recently had mail",
    },
    Def {
        key: "polling.idle_max_interval_secs",
        kind: int(1, 86400),
        default: "900",
        help: "Longest poll interval of an idle mailbox",
    },
    Def {
        key: "polling.outgoing_interval_secs",
        kind: int(1, 3600),
        default: "10",
        help: "How often the service checks each enabled mailbox's outbox for mail to send",
    },
    Def {
        key: "polling.use_idle",
        kind: Kind::Bool,
        default: "true",
        help: "Use IMAP IDLE for near-instant tracking when the server offers it",
    },
    Def {
        key: "backoff.max_transient_failures",
        kind: int(1, 1000),
        default: "10",
        help: "Consecutive transient failures before a mailbox is disabled",
    },
    Def {
        key: "backoff.base_secs",
        kind: int(1, 3600),
        default: "30",
        help: "First retry delay after a transient failure (doubles each time, with jitter)",
    },
    Def {
        key: "backoff.max_secs",
        kind: int(1, 86400),
        default: "1800",
        help: "Longest retry delay after transient failures",
    },
    Def {
        key: "recovery.enabled",
        kind: Kind::Bool,
        default: "true",
        help: "Re-test mailboxes disabled by transient failures and re-enable them when the server is back",
    },
    Def {
        key: "recovery.interval_secs",
        kind: int(5, 86400),
        default: "900",
        help: "How often a disabled mailbox is re-tested",
    },
    Def { key: "queue.mailbox_workers", kind: int(1, 64), default: "4", help: "Mailboxes processed at once" },
    Def {
        key: "queue.outgoing_workers",
        kind: int(1, 64),
        default: "2",
        help: "Outgoing mailboxes sent from at once",
    },
    Def {
        key: "queue.async_workers",
        kind: int(1, 16),
        default: "1",
        help: "Async operations (Test & Enable, migration) run at once",
    },
    Def {
        key: "queue.mailbox_bound",
        kind: int(1, 100000),
        default: "1000",
        help: "Most mailbox jobs held in memory",
    },
    Def {
        key: "queue.outgoing_bound",
        kind: int(1, 100000),
        default: "1000",
        help: "Most outgoing jobs held in memory",
    },
    Def {
        key: "queue.async_bound",
        kind: int(1, 100000),
        default: "100",
        help: "Most async operations held in memory",
    },
    Def {
        key: "queue.job_timeout_secs",
        kind: int(5, 86400),
        default: "900",
        help: "Longest one job (a mailbox sync, a send pass, a test) may run before it is stopped and retried",
    },
    Def { key: "alerts.record_errors", kind: Kind::Bool, default: "true", help: "Record Error alerts" },
    Def { key: "alerts.record_warnings", kind: Kind::Bool, default: "true", help: "Record Warning alerts" },
    Def { key: "alerts.record_info", kind: Kind::Bool, default: "true", help: "Record Information alerts" },
    Def {
        key: "notifications.muted",
        kind: Kind::Bool,
        default: "false",
        help: "Silence desktop notifications",
    },
    Def {
        key: "act.conflict_policy",
        kind: Kind::Choice(&["keep-both", "crm-wins", "server-wins", "most-recent"]),
        default: "keep-both",
        help: "What to do when a record changed on both sides",
    },
    Def {
        key: "act.leave_filter_action",
        kind: Kind::Choice(&["unlink", "delete", "cancel"]),
        default: "unlink",
        help: "What happens on the server when a record leaves the sync filter",
    },
    Def {
        key: "act.mass_delete_brake_percent",
        kind: int(1, 100),
        default: "50",
        help: "Refuse to mirror deletes of more than this share of a collection until confirmed",
    },
    Def {
        key: "act.max_response_mb",
        kind: int(1, 1024),
        default: "64",
        help: "Largest CalDAV/CardDAV answer read, in MB; a larger one stops the sync with RESPONSE_TOO_LARGE",
    },
];

/// Looks up a setting by key.
pub fn def(key: &str) -> Option<&'static Def> {
    DEFS.iter().find(|d| d.key == key)
}

/// Validates admin input for `key` and returns the typed JSON value to store.
pub fn parse_value(key: &str, raw: &str) -> Result<Value> {
    let def = def(key).ok_or_else(|| {
        CoreError::invalid("key", format!("unknown setting '{key}' (see `crmsync settings show`)"))
    })?;
    let raw = raw.trim();
    match def.kind {
        Kind::Bool => match raw.to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" | "1" => Ok(Value::Bool(true)),
            "false" | "off" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err(CoreError::invalid(key, format!("'{raw}' is not true or false"))),
        },
        Kind::Int { min, max } => {
            let n: i64 =
                raw.parse().map_err(|_| CoreError::invalid(key, format!("'{raw}' is not a whole number")))?;
            if n < min || n > max {
                return Err(CoreError::invalid(key, format!("{n} is outside {min}..={max}")));
            }
            Ok(Value::from(n))
        }
        Kind::Text { max_len } => {
            if raw.is_empty() {
                return Err(CoreError::invalid(key, "must not be empty"));
            }
            if raw.chars().count() > max_len {
                return Err(CoreError::invalid(key, format!("longer than {max_len} characters")));
            }
            Ok(Value::String(raw.to_string()))
        }
        Kind::Choice(words) => {
            let w = raw.to_ascii_lowercase();
            if words.contains(&w.as_str()) {
                Ok(Value::String(w))
            } else {
                Err(CoreError::invalid(key, format!("'{raw}' is not one of {}", words.join(", "))))
            }
        }
    }
}

/// One setting as shown by `settings show`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Key.
    pub key: String,
    /// Effective value.
    pub value: Value,
    /// Default value.
    pub default: Value,
    /// Whether the admin changed it.
    pub is_default: bool,
    /// Help text.
    pub help: String,
}

/// The complete, effective settings: stored values over defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    values: BTreeMap<&'static str, Value>,
}

impl Settings {
    /// Builds the effective settings from the stored (key, JSON) pairs; stored values
    /// that no longer validate (or unknown keys) fall back to the default.
    pub fn from_stored(stored: &BTreeMap<String, Value>) -> Settings {
        let values = DEFS
            .iter()
            .map(|d| {
                let default = parse_value(d.key, d.default).expect("defaults validate");
                let v = stored
                    .get(d.key)
                    .and_then(|v| {
                        let text = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        parse_value(d.key, &text).ok()
                    })
                    .unwrap_or(default);
                (d.key, v)
            })
            .collect();
        Settings { values }
    }

    /// All defaults.
    pub fn defaults() -> Settings {
        Settings::from_stored(&BTreeMap::new())
    }

    /// The listing for `settings show`.
    pub fn entries(&self) -> Vec<Entry> {
        DEFS.iter()
            .map(|d| {
                let default = parse_value(d.key, d.default).expect("defaults validate");
                let value = self.values[d.key].clone();
                Entry {
                    key: d.key.to_string(),
                    is_default: value == default,
                    value,
                    default,
                    help: d.help.to_string(),
                }
            })
            .collect()
    }

    /// Boolean setting. Panics on an unknown key (a programming error caught by tests).
    pub fn bool(&self, key: &str) -> bool {
        self.values[key].as_bool().unwrap_or_else(|| panic!("setting {key} is not a bool"))
    }

    /// Integer setting.
    pub fn int(&self, key: &str) -> i64 {
        self.values[key].as_i64().unwrap_or_else(|| panic!("setting {key} is not an int"))
    }

    /// Text or choice setting.
    pub fn text(&self, key: &str) -> &str {
        self.values[key].as_str().unwrap_or_else(|| panic!("setting {key} is not text"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_validates_against_its_own_kind() {
        for d in DEFS {
            parse_value(d.key, d.default).unwrap_or_else(|e| panic!("{}: {e}", d.key));
        }
    }

    #[test]
    fn unknown_key_is_rejected_naming_the_key() {
        let err = parse_value("no.such", "1").unwrap_err();
        assert!(err.to_string().contains("no.such"), "{err}");
    }

    #[test]
    fn out_of_range_int_is_rejected_naming_the_setting() {
        let err = parse_value("tracking_token.digits", "99").unwrap_err();
        assert!(err.to_string().starts_with("tracking_token.digits:"), "{err}");
    }

    #[test]
    fn stored_value_overrides_default_and_bad_stored_value_falls_back() {
        let mut stored = BTreeMap::new();
        stored.insert("tracking_token.digits".to_string(), Value::from(9));
        stored.insert("incoming.lookback_days".to_string(), Value::from(-5));
        let s = Settings::from_stored(&stored);
        assert_eq!(s.int("tracking_token.digits"), 9);
        assert_eq!(s.int("incoming.lookback_days"), 7);
        assert_eq!(s.text("tracking_token.prefix"), "CRM:");
    }
}
