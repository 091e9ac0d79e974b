//! Time helpers: the store keeps RFC 3339 UTC text.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::error::{CoreError, Result};

/// Current time, truncated to milliseconds as stored.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Formats a time the way the store keeps it.
pub fn to_db(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Current time in store form.
pub fn now_db() -> String {
    to_db(now())
}

/// Reads a time kept by the store; a corrupt value reads as an error naming `field`.
pub fn from_db(field: &str, s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| CoreError::invalid(field, format!("'{s}' is not an RFC 3339 time ({e})")))
}

/// Parses admin input such as `2026-01-31T00:00:00Z` for `field`.
pub fn parse_rfc3339(field: &str, s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim()).map(|t| t.with_timezone(&Utc)).map_err(|_| {
        CoreError::invalid(field, format!("'{s}' is not an RFC 3339 date-time such as 2026-01-31T09:00:00Z"))
    })
}
