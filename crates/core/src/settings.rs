//! Organization settings: every key, its type, default and meaning in one table.
//! The store keeps only values the admin changed; [`Settings`] applies the
//! defaults, so every reader sees a complete, validated set.
//!
//! The table is written once, in the `settings_table!` invocation below, and
//! yields both [`DEFS`] (what `crmsync settings show` lists and `settings set`
//! validates against) and one typed key per setting: [`BoolSetting`],
//! [`IntSetting`], [`TextSetting`] and [`ChoiceSetting`]. Code reads a setting
//! through its typed key (`settings.int(IntSetting::IncomingMaxItemsPerCycle)`),
//! so a misspelt key, or a key read as the wrong type, does not compile. Keys as
//! strings remain only where the admin types them: [`parse_value`] and [`def`]
//! check them against [`DEFS`] and name the key in their error.

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

/// Writes the settings table once and derives from it [`DEFS`] (in table order)
/// and the four typed key enums. Each entry is
/// `Variant = "dotted.key", Kind, "default", "help";` where Kind is `Bool`,
/// `Int(min, max)`, `Text(max_len)` or `Choice["word", ...]`; the kind picks the
/// enum the variant lands in, so the key's Rust type always matches its table kind.
macro_rules! settings_table {
    // All entries consumed: emit the table and the enums.
    (@go [$($b:tt)*] [$($i:tt)*] [$($t:tt)*] [$($c:tt)*] [$($d:tt)*]) => {
        /// Every setting crmsync knows, in the order `settings show` lists them.
        /// Add new ones to the `settings_table!` invocation, which also makes the typed key.
        pub const DEFS: &[Def] = &[$($d)*];
        typed_keys! {
            /// A true / false setting, read with [`Settings::bool`].
            BoolSetting { $($b)* }
        }
        typed_keys! {
            /// A whole-number setting, read with [`Settings::int`].
            IntSetting { $($i)* }
        }
        typed_keys! {
            /// A free-text setting, read with [`Settings::text`].
            TextSetting { $($t)* }
        }
        typed_keys! {
            /// A setting that is one of a fixed set of words, read with [`Settings::choice`].
            ChoiceSetting { $($c)* }
        }
    };
    (@go [$($b:tt)*] [$($i:tt)*] [$($t:tt)*] [$($c:tt)*] [$($d:tt)*]
        $name:ident = $key:literal, Bool, $default:literal, $help:literal; $($rest:tt)*) => {
        settings_table! { @go [$($b)* ($name, $key, $help)] [$($i)*] [$($t)*] [$($c)*]
            [$($d)* Def { key: $key, kind: Kind::Bool, default: $default, help: $help },] $($rest)* }
    };
    (@go [$($b:tt)*] [$($i:tt)*] [$($t:tt)*] [$($c:tt)*] [$($d:tt)*]
        $name:ident = $key:literal, Int($min:literal, $max:literal), $default:literal, $help:literal;
        $($rest:tt)*) => {
        settings_table! { @go [$($b)*] [$($i)* ($name, $key, $help)] [$($t)*] [$($c)*]
            [$($d)* Def { key: $key, kind: Kind::Int { min: $min, max: $max }, default: $default, help: $help },]
            $($rest)* }
    };
    (@go [$($b:tt)*] [$($i:tt)*] [$($t:tt)*] [$($c:tt)*] [$($d:tt)*]
        $name:ident = $key:literal, Text($max_len:literal), $default:literal, $help:literal; $($rest:tt)*) => {
        settings_table! { @go [$($b)*] [$($i)*] [$($t)* ($name, $key, $help)] [$($c)*]
            [$($d)* Def { key: $key, kind: Kind::Text { max_len: $max_len }, default: $default, help: $help },]
            $($rest)* }
    };
    (@go [$($b:tt)*] [$($i:tt)*] [$($t:tt)*] [$($c:tt)*] [$($d:tt)*]
        $name:ident = $key:literal, Choice[$($word:literal),+ $(,)?], $default:literal, $help:literal;
        $($rest:tt)*) => {
        settings_table! { @go [$($b)*] [$($i)*] [$($t)*] [$($c)* ($name, $key, $help)]
            [$($d)* Def { key: $key, kind: Kind::Choice(&[$($word),+]), default: $default, help: $help },]
            $($rest)* }
    };
    ($($entries:tt)*) => {
        settings_table! { @go [] [] [] [] [] $($entries)* }
    };
}

/// One typed key enum: a variant per setting of that kind, its dotted key and
/// the list of all variants.
macro_rules! typed_keys {
    ($(#[$meta:meta])* $ty:ident { $(($name:ident, $key:literal, $help:literal))* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $ty {
            $(
                #[doc = $help]
                #[doc = ""]
                #[doc = concat!("Key `", $key, "`.")]
                $name,
            )*
        }

        impl $ty {
            /// Every key of this type, in table order.
            pub const ALL: &'static [$ty] = &[$($ty::$name),*];

            /// The dotted key, as stored and as the admin types it.
            pub const fn key(self) -> &'static str {
                match self {
                    $($ty::$name => $key,)*
                }
            }

            /// The setting's row in [`DEFS`].
            pub fn def(self) -> &'static Def {
                def(self.key()).expect("every typed key is in DEFS (tested)")
            }
        }
    };
}

settings_table! {
    TrackingTokenEnabled = "tracking_token.enabled", Bool, "true",
        "Append a tracking token such as CRM:0001234 to the subject of outgoing email";
    TrackingTokenPrefix = "tracking_token.prefix", Text(20), "CRM:",
        "Text that starts every tracking token";
    TrackingTokenDigits = "tracking_token.digits", Int(4, 12), "7",
        "Number of digits in a tracking token";
    EmailMaxSubjectLength = "email.max_subject_length", Int(40, 1000), "255",
        "Subjects of outgoing mail are truncated to this length, keeping the token";
    CorrelationEnabled = "correlation.enabled", Bool, "true",
        "Link incoming replies to their conversation";
    CorrelationSmartMatching = "correlation.smart_matching", Bool, "true",
        "Also correlate by normalised subject and at least 2 shared addresses";
    ResolutionUnresolvedWhenAmbiguous = "resolution.unresolved_when_ambiguous", Bool, "false",
        "Leave an address unresolved when several records have it, instead of taking the first";
    ResolutionAutoCreateContact = "resolution.auto_create_contact", Bool, "false",
        "Create a contact for an unresolved sender of tracked mail";
    IncomingLookbackDays = "incoming.lookback_days", Int(0, 3650), "7",
        "Without a process-from date, mail up to this many days before the first enable is processed";
    IncomingRequireApproval = "incoming.require_approval", Bool, "false",
        "Process email only for approved mailboxes";
    IncomingMaxItemsPerCycle = "incoming.max_items_per_cycle", Int(1, 100000), "500",
        "Messages one mailbox may process in one cycle before others get their turn";
    IncomingFetchBatchSize = "incoming.fetch_batch_size", Int(1, 1000), "50",
        "Messages fetched per IMAP UID FETCH";
    IncomingMaxMessageSizeMb = "incoming.max_message_size_mb", Int(1, 2048), "25",
        "Larger incoming messages are not downloaded: kept as a failed item with a MESSAGE_TOO_LARGE alert";
    AttachmentsMaxSizeKb = "attachments.max_size_kb", Int(0, 1048576), "5120",
        "Attachments larger than this are not saved; the email is kept and flagged";
    OutgoingMaxDeliveryAttempts = "outgoing.max_delivery_attempts", Int(1, 100), "10",
        "Transient send failures tolerated before an email is marked Failed";
    OutgoingRetryIntervalSecs = "outgoing.retry_interval_secs", Int(1, 86400), "300",
        "Base delay before a failed send is retried (grows with each attempt)";
    OutgoingSendingRetryIntervalSecs = "outgoing.sending_retry_interval_secs", Int(1, 86400), "600",
        "An email stuck in Sending this long is checked in the Sent folder and sent again if absent";
    OutgoingFinalReplyTimeoutSecs = "outgoing.final_reply_timeout_secs", Int(1, 3600), "600",
        "How long the server's reply to a sent message is awaited (RFC 5321: 10 minutes); without one its delivery is unknown and it is checked in the Sent folder before any resend";
    OutgoingMaxItemsPerCycle = "outgoing.max_items_per_cycle", Int(1, 100000), "1000",
        "Emails one mailbox may send in one cycle before others get their turn";
    OutgoingSaveToSent = "outgoing.save_to_sent", Bool, "true",
        "Append a copy of sent mail to the mailbox's Sent folder";
    PollingActiveIntervalSecs = "polling.active_interval_secs", Int(1, 86400), "60",
        "Poll interval of a mailbox that recently had mail";
    PollingIdleMaxIntervalSecs = "polling.idle_max_interval_secs", Int(1, 86400), "900",
        "Longest poll interval of an idle mailbox";
    PollingOutgoingIntervalSecs = "polling.outgoing_interval_secs", Int(1, 3600), "10",
        "How often the service checks each enabled mailbox's outbox for mail to send";
    PollingUseIdle = "polling.use_idle", Bool, "true",
        "Use IMAP IDLE for near-instant tracking when the server offers it";
    BackoffMaxTransientFailures = "backoff.max_transient_failures", Int(1, 1000), "10",
        "Consecutive transient failures before a mailbox is disabled";
    BackoffBaseSecs = "backoff.base_secs", Int(1, 3600), "30",
        "First retry delay after a transient failure (doubles each time, with jitter)";
    BackoffMaxSecs = "backoff.max_secs", Int(1, 86400), "1800",
        "Longest retry delay after transient failures";
    RecoveryEnabled = "recovery.enabled", Bool, "true",
        "Re-test mailboxes disabled by transient failures and re-enable them when the server is back";
    RecoveryIntervalSecs = "recovery.interval_secs", Int(5, 86400), "900",
        "How often a disabled mailbox is re-tested";
    QueueMailboxWorkers = "queue.mailbox_workers", Int(1, 64), "4",
        "Mailboxes processed at once";
    QueueOutgoingWorkers = "queue.outgoing_workers", Int(1, 64), "2",
        "Outgoing mailboxes sent from at once";
    QueueAsyncWorkers = "queue.async_workers", Int(1, 16), "1",
        "Async operations (Test & Enable, migration) run at once";
    QueueMailboxBound = "queue.mailbox_bound", Int(1, 100000), "1000",
        "Most mailbox jobs held in memory";
    QueueOutgoingBound = "queue.outgoing_bound", Int(1, 100000), "1000",
        "Most outgoing jobs held in memory";
    QueueAsyncBound = "queue.async_bound", Int(1, 100000), "100",
        "Most async operations held in memory";
    QueueJobTimeoutSecs = "queue.job_timeout_secs", Int(5, 86400), "900",
        "Longest one job (a mailbox sync, a send pass, a test) may run before it is stopped and retried";
    AlertsRecordErrors = "alerts.record_errors", Bool, "true",
        "Record Error alerts";
    AlertsRecordWarnings = "alerts.record_warnings", Bool, "true",
        "Record Warning alerts";
    AlertsRecordInfo = "alerts.record_info", Bool, "true",
        "Record Information alerts";
    HistoryRetentionDays = "history.retention_days", Int(1, 3650), "30",
        "Days a mailbox's sync history and the reasons for untracked email are kept";
    NotificationsMuted = "notifications.muted", Bool, "false",
        "Silence desktop notifications";
    ActConflictPolicy = "act.conflict_policy", Choice["keep-both", "crm-wins", "server-wins", "most-recent"], "keep-both",
        "What to do when a record changed on both sides";
    ActLeaveFilterAction = "act.leave_filter_action", Choice["unlink", "delete", "cancel"], "unlink",
        "What happens on the server when a record leaves the sync filter";
    ActMassDeleteBrakePercent = "act.mass_delete_brake_percent", Int(1, 100), "50",
        "Refuse to mirror deletes of more than this share of a collection until confirmed";
    ActMaxResponseMb = "act.max_response_mb", Int(1, 1024), "64",
        "Largest CalDAV/CardDAV answer read, in MB; a larger one stops the sync with RESPONSE_TOO_LARGE";
}

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
///
/// Read a setting through its typed key:
///
/// ```
/// use crmsync_core::settings::{BoolSetting, ChoiceSetting, IntSetting, Settings, TextSetting};
/// let s = Settings::defaults();
/// assert_eq!(s.int(IntSetting::IncomingMaxItemsPerCycle), 500);
/// assert!(s.bool(BoolSetting::PollingUseIdle));
/// assert_eq!(s.text(TextSetting::TrackingTokenPrefix), "CRM:");
/// assert_eq!(s.choice(ChoiceSetting::ActConflictPolicy), "keep-both");
/// ```
///
/// A key given as a string does not compile:
///
/// ```compile_fail,E0308
/// use crmsync_core::settings::Settings;
/// let _ = Settings::defaults().int("incoming.max_items_per_cycle");
/// ```
///
/// nor does a misspelt key:
///
/// ```compile_fail,E0599
/// use crmsync_core::settings::{IntSetting, Settings};
/// let _ = Settings::defaults().int(IntSetting::IncomingMaxItemsPerCyle);
/// ```
///
/// nor a key read as the wrong type:
///
/// ```compile_fail,E0308
/// use crmsync_core::settings::{BoolSetting, Settings};
/// let _ = Settings::defaults().int(BoolSetting::PollingUseIdle);
/// ```
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

    /// Boolean setting.
    pub fn bool(&self, key: BoolSetting) -> bool {
        self.value(key.key()).as_bool().expect("bool settings hold booleans (tested)")
    }

    /// Integer setting, within its table range.
    pub fn int(&self, key: IntSetting) -> i64 {
        self.value(key.key()).as_i64().expect("int settings hold integers (tested)")
    }

    /// Text setting.
    pub fn text(&self, key: TextSetting) -> &str {
        self.value(key.key()).as_str().expect("text settings hold strings (tested)")
    }

    /// Choice setting: one of its words, in lower case.
    pub fn choice(&self, key: ChoiceSetting) -> &str {
        self.value(key.key()).as_str().expect("choice settings hold strings (tested)")
    }

    fn value(&self, key: &'static str) -> &Value {
        self.values.get(key).expect("from_stored fills every key of DEFS")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed enum a table kind belongs to.
    fn enum_of(kind: Kind) -> &'static str {
        match kind {
            Kind::Bool => "BoolSetting",
            Kind::Int { .. } => "IntSetting",
            Kind::Text { .. } => "TextSetting",
            Kind::Choice(_) => "ChoiceSetting",
        }
    }

    #[test]
    fn every_setting_has_exactly_one_typed_key_of_its_own_kind_and_vice_versa() {
        let typed: Vec<(&str, &str)> = BoolSetting::ALL
            .iter()
            .map(|k| (k.key(), "BoolSetting"))
            .chain(IntSetting::ALL.iter().map(|k| (k.key(), "IntSetting")))
            .chain(TextSetting::ALL.iter().map(|k| (k.key(), "TextSetting")))
            .chain(ChoiceSetting::ALL.iter().map(|k| (k.key(), "ChoiceSetting")))
            .collect();
        for d in DEFS {
            assert_eq!(DEFS.iter().filter(|o| o.key == d.key).count(), 1, "{} is twice in DEFS", d.key);
            let mine: Vec<_> = typed.iter().filter(|(k, _)| *k == d.key).collect();
            assert_eq!(mine.len(), 1, "{} has {} typed keys", d.key, mine.len());
            assert_eq!(mine[0].1, enum_of(d.kind), "{} is typed as the wrong kind", d.key);
        }
        for (key, ty) in &typed {
            let d = def(key).unwrap_or_else(|| panic!("{ty} key {key} is not in DEFS"));
            assert_eq!(*ty, enum_of(d.kind), "{key}");
        }
        assert_eq!(typed.len(), DEFS.len());
    }

    #[test]
    fn every_default_parses_under_its_own_kind() {
        for d in DEFS {
            parse_value(d.key, d.default).unwrap_or_else(|e| panic!("{}: {e}", d.key));
        }
    }

    #[test]
    fn every_default_reads_back_through_its_typed_key() {
        let s = Settings::defaults();
        let default = |key: &str| parse_value(key, def(key).unwrap().default).unwrap();
        for k in BoolSetting::ALL {
            assert_eq!(Value::Bool(s.bool(*k)), default(k.key()), "{}", k.key());
        }
        for k in IntSetting::ALL {
            let Kind::Int { min, max } = k.def().kind else { panic!("{} is not an int", k.key()) };
            let n = s.int(*k);
            assert!((min..=max).contains(&n), "{}: {n}", k.key());
            assert_eq!(Value::from(n), default(k.key()), "{}", k.key());
        }
        for k in TextSetting::ALL {
            assert_eq!(s.text(*k), k.def().default, "{}", k.key());
        }
        for k in ChoiceSetting::ALL {
            let Kind::Choice(words) = k.def().kind else { panic!("{} is not a choice", k.key()) };
            assert!(words.contains(&s.choice(*k)), "{}", k.key());
            assert_eq!(s.choice(*k), k.def().default, "{}", k.key());
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
        assert_eq!(s.int(IntSetting::TrackingTokenDigits), 9);
        assert_eq!(s.int(IntSetting::IncomingLookbackDays), 7);
        assert_eq!(s.text(TextSetting::TrackingTokenPrefix), "CRM:");
    }
}
