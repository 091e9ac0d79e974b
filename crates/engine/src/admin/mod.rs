//! The admin API: every operation the admin can do from the CLI or the desktop
//! window, with its validation written once. Inputs are the raw text the admin
//! typed (so both front ends get the same field-naming errors); outputs are
//! serializable views that never carry a secret.

pub mod act_records;
pub mod activities;
pub mod connection_test;
pub mod history;
pub mod imports;
pub mod mailboxes;
pub mod outgoing;
pub mod principals;
#[cfg(test)]
mod profile_oauth_tests;
pub mod profiles;
pub mod settings;

use crmsync_core::CoreError;

use crate::error::Result;

/// Parses an optional whole number for `field` within `min..=max`.
pub(crate) fn parse_num(field: &str, raw: Option<&str>, min: i64, max: i64) -> Result<Option<i64>> {
    let Some(raw) = raw else { return Ok(None) };
    let n: i64 = raw
        .trim()
        .parse()
        .map_err(|_| CoreError::invalid(field, format!("'{raw}' is not a whole number")))?;
    if n < min || n > max {
        return Err(CoreError::invalid(field, format!("{n} is outside the allowed range {min}-{max}")).into());
    }
    Ok(Some(n))
}

/// Trims optional text, treating an empty string as absent.
pub(crate) fn opt_text(raw: Option<&str>) -> Option<String> {
    raw.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}
