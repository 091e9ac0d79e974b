//! Tracking tokens: `CRM:0001234` appended to the subject of outgoing mail and
//! found again in the subject of replies. Pure functions; the counter lives in the store.

/// Token format from settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFormat {
    /// Text before the digits, e.g. `CRM:`.
    pub prefix: String,
    /// Number of digits.
    pub digits: usize,
}

impl Default for TokenFormat {
    fn default() -> Self {
        TokenFormat { prefix: "CRM:".into(), digits: 7 }
    }
}

impl TokenFormat {
    /// The token for counter value `n` (wraps within the digit count).
    pub fn format(&self, n: u64) -> String {
        let modulo = 10u64.saturating_pow(self.digits as u32);
        format!("{}{:0width$}", self.prefix, n % modulo, width = self.digits)
    }

    /// Finds the last token in `subject`: the prefix (case-insensitive) followed by
    /// exactly `digits` digits that are not part of a longer number.
    pub fn find(&self, subject: &str) -> Option<String> {
        let lower = subject.to_lowercase();
        let prefix = self.prefix.to_lowercase();
        if prefix.is_empty() || lower.len() != subject.len() {
            return self.find_exact_case(subject);
        }
        let mut found = None;
        let mut start = 0;
        while let Some(pos) = lower[start..].find(&prefix) {
            let at = start + pos;
            let after = at + prefix.len();
            let rest = &subject[after..];
            let n = rest.bytes().take_while(u8::is_ascii_digit).count();
            let boundary_before =
                at == 0 || !subject[..at].chars().next_back().is_some_and(char::is_alphanumeric);
            if n == self.digits && boundary_before {
                found = Some(format!("{}{}", self.prefix, &rest[..n]));
            }
            start = after;
        }
        found
    }

    fn find_exact_case(&self, subject: &str) -> Option<String> {
        let mut found = None;
        for (at, _) in subject.match_indices(&self.prefix) {
            let rest = &subject[at + self.prefix.len()..];
            let n = rest.bytes().take_while(u8::is_ascii_digit).count();
            if n == self.digits {
                found = Some(format!("{}{}", self.prefix, &rest[..n]));
            }
        }
        found
    }

    /// Removes every token of this format from `subject`, tidying spaces.
    pub fn strip(&self, subject: &str) -> String {
        let mut s = subject.to_string();
        while let Some(t) = self.find(&s) {
            let lower = s.to_lowercase();
            let Some(pos) = lower.rfind(&t.to_lowercase()) else { break };
            if lower.len() != s.len() {
                break;
            }
            s.replace_range(pos..pos + t.len(), "");
        }
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Appends `token` to `subject`, truncating the subject (never the token) so the
/// result is at most `max_len` characters. A subject that already carries the
/// token is returned as is (truncated if needed).
pub fn subject_with_token(subject: &str, token: &str, max_len: usize) -> String {
    let subject = subject.trim();
    let base = if subject.to_lowercase().contains(&token.to_lowercase()) {
        subject.replace(token, "").split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        subject.to_string()
    };
    let room = max_len.saturating_sub(token.chars().count() + 1);
    let mut kept: String = base.chars().take(room).collect();
    if kept.chars().count() < base.chars().count() && room > 1 {
        kept = kept.chars().take(room - 1).collect::<String>().trim_end().to_string() + "…";
    }
    if kept.is_empty() { token.to_string() } else { format!("{kept} {token}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f() -> TokenFormat {
        TokenFormat::default()
    }

    #[test]
    fn formats_with_zero_padding_and_wraps_at_the_digit_count() {
        assert_eq!(f().format(1234), "CRM:0001234");
        assert_eq!(TokenFormat { prefix: "T#".into(), digits: 4 }.format(123_456), "T#3456");
    }

    #[test]
    fn finds_tokens_case_insensitively_with_exact_digit_count() {
        let cases: &[(&str, Option<&str>)] = &[
            ("Re: Quote CRM:0001234", Some("CRM:0001234")),
            ("RE: quote crm:0001234 thanks", Some("CRM:0001234")),
            ("CRM:0001234", Some("CRM:0001234")),
            ("Quote CRM:000123", None),
            ("Quote CRM:00012345", None),
            ("Quote XCRM:0001234", None),
            ("Two CRM:0000001 and CRM:0000002", Some("CRM:0000002")),
            ("Grüße CRM:0000042", Some("CRM:0000042")),
            ("no token", None),
        ];
        for (subject, want) in cases {
            assert_eq!(f().find(subject).as_deref(), *want, "{subject}");
        }
    }

    #[test]
    fn appending_keeps_the_token_and_respects_the_maximum_length() {
        assert_eq!(subject_with_token("Quote", "CRM:0000001", 255), "Quote CRM:0000001");
        assert_eq!(subject_with_token("Quote CRM:0000001", "CRM:0000001", 255), "Quote CRM:0000001");
        let long = "x".repeat(300);
        let s = subject_with_token(&long, "CRM:0000001", 255);
        assert_eq!(s.chars().count(), 255);
        assert!(s.ends_with(" CRM:0000001"));
        assert_eq!(subject_with_token("", "CRM:0000001", 255), "CRM:0000001");
    }

    #[test]
    fn strip_removes_the_token() {
        assert_eq!(f().strip("Re: Quote CRM:0001234"), "Re: Quote");
    }

    proptest::proptest! {
        #[test]
        fn a_token_appended_to_any_subject_is_found_again(subject in "\\PC{0,300}", n in 0u64..10_000_000) {
            let t = f().format(n);
            let s = subject_with_token(&subject, &t, 255);
            proptest::prop_assert!(s.chars().count() <= 255);
            proptest::prop_assert_eq!(f().find(&s), Some(t));
        }
    }
}
