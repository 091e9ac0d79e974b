//! How one pipeline run for one mailbox ended: the one outcome type of the
//! incoming, outgoing and ACT pipelines, which the scheduler and `crmsync sync`
//! read as it is (nothing is parsed back from strings).

use crmsync_core::ErrorClass;
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::error::EngineError;

/// What a run that completed did, counted the same way for every channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    /// Items looked at (messages, emails, appointments/contacts/tasks changed).
    pub processed: i64,
    /// New CRM records, or items created on the server.
    pub created: i64,
    /// Items that failed (each kept, with an item alert).
    pub failed: i64,
    /// Stopped at the per-cycle cap; more is waiting.
    pub capped: bool,
}

/// How one run of a pipeline for one mailbox ended.
///
/// In JSON (`crmsync sync --json`, flattened into each channel's report) it is
/// `"result": "ok" | "failed" | "skipped"` with `"code"` and `"message"`
/// (null when ok); the counts are in the channel's own fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// It ran to the end.
    Ok(RunCounts),
    /// The mailbox-level work failed; telemetry and a mailbox alert are recorded.
    Failed {
        /// Stable code, e.g. `IMAP_AUTH_FAILED`.
        code: String,
        /// Transient (retried with backoff), Permanent (the admin must act) or Item.
        class: ErrorClass,
        /// What happened, in words.
        message: String,
    },
    /// It did not run, and why (not enabled, not approved, not server-side).
    Skipped {
        /// Why, as a code, e.g. `NOT_ENABLED`.
        code: String,
        /// Why, in words.
        message: String,
    },
}

impl RunOutcome {
    /// A failure from an engine error: its code, class and message.
    pub fn failed(e: &EngineError) -> RunOutcome {
        RunOutcome::Failed { code: e.code(), class: e.class(), message: e.to_string() }
    }

    /// A skip with its code and reason.
    pub fn skipped(code: &str, message: impl Into<String>) -> RunOutcome {
        RunOutcome::Skipped { code: code.to_string(), message: message.into() }
    }

    /// `ok`, `failed` or `skipped`, as `crmsync sync --json` prints it.
    pub fn result(&self) -> &'static str {
        match self {
            RunOutcome::Ok(_) => "ok",
            RunOutcome::Failed { .. } => "failed",
            RunOutcome::Skipped { .. } => "skipped",
        }
    }

    /// Whether it ran to the end.
    pub fn is_ok(&self) -> bool {
        matches!(self, RunOutcome::Ok(_))
    }

    /// Whether it failed.
    pub fn is_failed(&self) -> bool {
        matches!(self, RunOutcome::Failed { .. })
    }

    /// The code of a failure or a skip.
    pub fn code(&self) -> Option<&str> {
        match self {
            RunOutcome::Ok(_) => None,
            RunOutcome::Failed { code, .. } | RunOutcome::Skipped { code, .. } => Some(code),
        }
    }

    /// The message of a failure or the reason of a skip.
    pub fn message(&self) -> Option<&str> {
        match self {
            RunOutcome::Ok(_) => None,
            RunOutcome::Failed { message, .. } | RunOutcome::Skipped { message, .. } => Some(message),
        }
    }
}

impl Default for RunOutcome {
    fn default() -> RunOutcome {
        RunOutcome::Ok(RunCounts::default())
    }
}

impl Serialize for RunOutcome {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("result", self.result())?;
        map.serialize_entry("code", &self.code())?;
        map.serialize_entry("message", &self.message())?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_result_code_and_message() {
        let ok =
            serde_json::to_value(RunOutcome::Ok(RunCounts { processed: 3, ..Default::default() })).unwrap();
        assert_eq!(ok, serde_json::json!({"result": "ok", "code": null, "message": null}));
        let failed = RunOutcome::Failed {
            code: "IMAP_AUTH_FAILED".into(),
            class: ErrorClass::Permanent,
            message: "no".into(),
        };
        let v = serde_json::to_value(&failed).unwrap();
        assert_eq!(v, serde_json::json!({"result": "failed", "code": "IMAP_AUTH_FAILED", "message": "no"}));
        let v = serde_json::to_value(RunOutcome::skipped("NOT_ENABLED", "run Test & Enable")).unwrap();
        assert_eq!(v["result"], "skipped");
        assert_eq!(v["code"], "NOT_ENABLED");
    }
}
