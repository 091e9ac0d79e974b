//! Parses the router's `Microsoft.Crm.Tools.EmailAgent.SystemState.xml`
//! tolerantly: the router rewrites it constantly and it is often truncated, so a
//! missing, unreadable or corrupt file means "no state" with a warning, never an
//! error. Entries are keyed by `EmailAddress`; the per-instance element names
//! are opaque tokens and are ignored.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;

use super::Warning;
use super::xml;

/// What the router knew about one mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxState {
    /// Only mail newer than this was still to be processed; `None` when the
    /// router had no threshold (`0001-01-01`, absent or unreadable).
    pub threshold: Option<DateTime<Utc>>,
    /// The router's last error for the mailbox, if any.
    pub last_error: Option<String>,
}

/// The parsed state file: per lower-cased address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RouterState {
    /// Entries by lower-cased email address.
    pub mailboxes: BTreeMap<String, MailboxState>,
    /// Why state was (partly) ignored.
    pub warnings: Vec<Warning>,
}

impl RouterState {
    /// The state of `email`, if the router had any.
    pub fn get(&self, email: &str) -> Option<&MailboxState> {
        self.mailboxes.get(&email.trim().to_lowercase())
    }
}

fn warning(file: &str, line: Option<u32>, path: Option<String>, message: String) -> Warning {
    Warning { file: Some(file.to_string()), path, line, message }
}

/// Parses a router threshold; `Ok(None)` for the "no threshold" year 1.
pub fn parse_threshold(s: &str) -> Result<Option<DateTime<Utc>>, String> {
    let s = s.trim();
    if s.starts_with("0001-01-01") {
        return Ok(None);
    }
    let t = DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            // The router also wrote local times without an offset; read them as UTC.
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").map(|n| n.and_utc())
        })
        .map_err(|_| format!("'{s}' is not a date-time such as 2014-03-18T09:41:07.0000000Z"))?;
    Ok(if t.year() <= 1 { None } else { Some(t) })
}

/// Parses the text of a SystemState file; never fails.
pub fn parse(file: &str, src: &str) -> RouterState {
    let root = match xml::parse(file, src) {
        Ok(r) => r,
        Err(e) => {
            return RouterState {
                mailboxes: BTreeMap::new(),
                warnings: vec![warning(
                    file,
                    None,
                    None,
                    format!("{e}; the router state is ignored, so every mailbox is processed from the start"),
                )],
            };
        }
    };
    let mut state = RouterState::default();
    for entry in &root.children {
        let one = |name: &str| entry.all(&[name]).next();
        let Some(address) = one("EmailAddress").filter(|e| !e.text.is_empty()) else {
            state.warnings.push(warning(
                file,
                Some(entry.line),
                Some(entry.path.clone()),
                "no EmailAddress; entry ignored".into(),
            ));
            continue;
        };
        let threshold = match one("ThresholdDate").filter(|e| !e.text.is_empty()) {
            Some(el) => parse_threshold(&el.text).unwrap_or_else(|why| {
                state.warnings.push(warning(
                    file,
                    Some(el.line),
                    Some(el.path.clone()),
                    format!("{why}; {} is processed from the start", address.text),
                ));
                None
            }),
            None => None,
        };
        let last_error = one("LastError").map(|e| e.text.clone()).filter(|t| !t.is_empty());
        let key = address.text.trim().to_lowercase();
        if state.mailboxes.contains_key(&key) {
            state.warnings.push(warning(
                file,
                Some(entry.line),
                Some(entry.path.clone()),
                format!("{} appears twice; the later threshold is used", address.text),
            ));
            let prev = state.mailboxes.get(&key).and_then(|m| m.threshold);
            let threshold = threshold.max(prev);
            state.mailboxes.insert(key, MailboxState { threshold, last_error });
        } else {
            state.mailboxes.insert(key, MailboxState { threshold, last_error });
        }
    }
    state
}

/// Reads a SystemState file; a missing or unreadable file is "no state" with a warning.
pub fn load(path: &std::path::Path) -> RouterState {
    let file =
        path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned());
    let text = std::fs::read(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
        .and_then(|b| xml::decode(&file, &b).map_err(|e| e.to_string()));
    match text {
        Ok(t) => parse(&file, &t),
        Err(why) => RouterState {
            mailboxes: BTreeMap::new(),
            warnings: vec![warning(
                &file,
                None,
                None,
                format!("{why}; the router state is ignored, so every mailbox is processed from the start"),
            )],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_round_trip_form_and_year_one_means_none() {
        let cases: &[(&str, Result<Option<&str>, ()>)] = &[
            ("2014-03-18T09:41:07.0000000Z", Ok(Some("2014-03-18T09:41:07Z"))),
            ("2010-06-19T02:37:42Z", Ok(Some("2010-06-19T02:37:42Z"))),
            ("2014-03-18T09:41:07.5+01:00", Ok(Some("2014-03-18T08:41:07.500Z"))),
            ("2014-03-18T09:41:07", Ok(Some("2014-03-18T09:41:07Z"))),
            ("0001-01-01T00:00:00.0000000Z", Ok(None)),
            ("0001-01-01", Ok(None)),
            ("yesterday", Err(())),
        ];
        for (raw, want) in cases {
            let got = parse_threshold(raw).map(|t| t.map(crmsync_core::time::to_db)).map_err(|_| ());
            let want = want.map(|w| w.map(|s| crmsync_core::time::to_db(s.parse().unwrap())));
            assert_eq!(got, want, "{raw}");
        }
    }

    #[test]
    fn entries_are_keyed_by_address_case_insensitively_with_lower_case_tags() {
        let src = "<SystemState><abc><emailaddress>Alice@Contoso.com</emailaddress><lasterror>HTTP 503</lasterror>\
                   <thresholddate>2014-03-18T09:41:07.0000000Z</thresholddate></abc>\
                   <def><EmailAddress>carol@contoso.com</EmailAddress><ThresholdDate>0001-01-01T00:00:00Z</ThresholdDate></def>\
                   <ghi><LastError/></ghi></SystemState>";
        let s = parse("s.xml", src);
        let alice = s.get("alice@contoso.com").unwrap();
        assert_eq!(alice.last_error.as_deref(), Some("HTTP 503"));
        assert!(alice.threshold.is_some());
        assert_eq!(s.get("CAROL@contoso.com").unwrap().threshold, None);
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(s.warnings[0].message.contains("no EmailAddress"));
    }

    #[test]
    fn corrupt_or_missing_state_is_no_state_with_a_warning() {
        let truncated = "<SystemState><abc><EmailAddress>alice@contoso.com</EmailAddress><Thresh";
        let s = parse("s.xml", truncated);
        assert!(s.mailboxes.is_empty());
        assert!(s.warnings[0].message.contains("ignored"), "{:?}", s.warnings);
        let s = load(std::path::Path::new("/nonexistent/SystemState.xml"));
        assert!(s.mailboxes.is_empty());
        assert!(s.warnings[0].message.contains("cannot read"));
    }
}
