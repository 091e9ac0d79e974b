//! Email address checks and normalisation shared by admin input and mail processing.

use crate::error::{CoreError, Result};

/// Checks that `s` is a plain address `local@domain` (no display name, no brackets),
/// returning it trimmed. The error names `field`.
pub fn validate(field: &str, s: &str) -> Result<String> {
    let a = s.trim();
    let bad = |why: &str| CoreError::invalid(field, format!("'{s}' is not an email address ({why})"));
    let (local, domain) = a.rsplit_once('@').ok_or_else(|| bad("no @"))?;
    if local.is_empty() {
        return Err(bad("nothing before @"));
    }
    if domain.is_empty() {
        return Err(bad("nothing after @"));
    }
    if a.chars().any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c) && c != ':') {
        return Err(bad("contains spaces or special characters"));
    }
    if local.contains('@') {
        return Err(bad("more than one @"));
    }
    let labels_ok = domain.split('.').all(|l| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    });
    if !labels_ok {
        return Err(bad("the domain is not valid"));
    }
    Ok(a.to_string())
}

/// Lower-cases an address for comparisons (addresses are case-insensitive in practice).
pub fn normalize(s: &str) -> String {
    s.trim().trim_start_matches('<').trim_end_matches('>').to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_addresses_and_rejects_malformed_ones_naming_the_field() {
        assert_eq!(validate("to", " Alice@Example.test ").unwrap(), "Alice@Example.test");
        for bad in [
            "",
            "alice",
            "@x.test",
            "alice@",
            "a b@x.test",
            "a@b@c.test",
            "a@-x.test",
            "<a@x.test>",
            "a@x..test",
        ] {
            let e = validate("to", bad).unwrap_err().to_string();
            assert!(e.starts_with("to: "), "{bad}: {e}");
        }
    }
}
