//! Correlation of incoming email to an existing conversation, first match wins:
//! In-Reply-To/References → tracking token → smart matching. Pure: lookups go
//! through [`ConversationIndex`], which the store implements.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::RecordRef;
use crate::tracking::TokenFormat;

/// How an email was linked to its conversation (stored on the activity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Not correlated.
    None,
    /// In-Reply-To or References named a stored Message-ID.
    InReplyTo,
    /// The subject carried a known tracking token.
    TrackingToken,
    /// Same normalised subject and at least two shared addresses.
    SmartMatch,
    /// The message was in a folder mapped to a record.
    Folder,
}

impl Method {
    /// The store/JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::None => "none",
            Method::InReplyTo => "in_reply_to",
            Method::TrackingToken => "tracking_token",
            Method::SmartMatch => "smart_match",
            Method::Folder => "folder",
        }
    }
}

/// An existing CRM email that a new one can correlate to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The earlier email activity.
    pub activity_id: i64,
    /// Its regarding record, inherited by the new email.
    pub regarding: Option<RecordRef>,
}

/// Lookups correlation needs; the engine answers them from the store.
pub trait ConversationIndex {
    /// The CRM email with this Message-ID (without angle brackets).
    fn by_message_id(&self, message_id: &str) -> Option<Conversation>;
    /// The CRM email that carried this tracking token.
    fn by_token(&self, token: &str) -> Option<Conversation>;
    /// The most recent CRM email with this subject hash sharing at least two addresses.
    fn by_subject(&self, subject_hash: &str, addresses: &BTreeSet<String>) -> Option<Conversation>;
}

/// What correlation looks at in a new message.
#[derive(Debug, Clone, Default)]
pub struct Clues {
    /// In-Reply-To Message-IDs (without brackets).
    pub in_reply_to: Vec<String>,
    /// References Message-IDs, oldest first.
    pub references: Vec<String>,
    /// Decoded subject.
    pub subject: String,
    /// Every address on the message (from, to, cc), normalised.
    pub addresses: BTreeSet<String>,
}

/// Correlation switches from settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Correlation at all.
    pub enabled: bool,
    /// Smart matching.
    pub smart_matching: bool,
    /// Token format.
    pub token: TokenFormat,
}

/// The outcome: the method and the conversation it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlation {
    /// How it matched.
    pub method: Method,
    /// The earlier email, if any.
    pub conversation: Option<Conversation>,
    /// Whether the message answers CRM email (used by the "responses" filter):
    /// In-Reply-To, References or token matched.
    pub is_response: bool,
}

/// Strips reply/forward prefixes (`Re:`, `AW: Fwd:` ...), the tracking token,
/// case and extra spaces; keeps at most 20 words.
pub fn normalize_subject(subject: &str, token: &TokenFormat) -> String {
    let mut s = token.strip(subject);
    loop {
        let t = s.trim_start();
        // A prefix is one word (letters/digits, at most 10 chars), an optional space, then ':'.
        let word_len = t.chars().take_while(|c| c.is_alphanumeric()).map(char::len_utf8).sum::<usize>();
        let rest = &t[word_len..];
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        if word_len > 0 && t[..word_len].chars().count() <= 10 && rest.starts_with(':') {
            s = rest[1..].to_string();
        } else {
            s = t.to_string();
            break;
        }
    }
    s.split_whitespace().take(20).map(str::to_lowercase).collect::<Vec<_>>().join(" ")
}

/// A stable digest of a normalised subject (None for an empty one: never smart-match on it).
pub fn subject_hash(normalized: &str) -> Option<String> {
    if normalized.is_empty() {
        return None;
    }
    let d = Sha256::digest(normalized.as_bytes());
    Some(hex::encode(&d[..12]))
}

/// Correlates a message: first match wins, in the order In-Reply-To/References,
/// tracking token, smart matching.
pub fn correlate(clues: &Clues, index: &dyn ConversationIndex, opts: &Options) -> Correlation {
    let none = Correlation { method: Method::None, conversation: None, is_response: false };
    if !opts.enabled {
        return none;
    }
    let by_id =
        clues.in_reply_to.iter().chain(clues.references.iter().rev()).find_map(|id| index.by_message_id(id));
    if let Some(c) = by_id {
        return Correlation { method: Method::InReplyTo, conversation: Some(c), is_response: true };
    }
    if let Some(c) = opts.token.find(&clues.subject).and_then(|t| index.by_token(&t)) {
        return Correlation { method: Method::TrackingToken, conversation: Some(c), is_response: true };
    }
    if opts.smart_matching && clues.addresses.len() >= 2 {
        let norm = normalize_subject(&clues.subject, &opts.token);
        if let Some(c) = subject_hash(&norm).and_then(|h| index.by_subject(&h, &clues.addresses)) {
            return Correlation { method: Method::SmartMatch, conversation: Some(c), is_response: false };
        }
    }
    none
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::model::RecordType;

    #[derive(Default)]
    struct Index {
        ids: HashMap<String, i64>,
        tokens: HashMap<String, i64>,
        subjects: Vec<(String, BTreeSet<String>, i64)>,
    }

    fn conv(id: i64) -> Conversation {
        Conversation {
            activity_id: id,
            regarding: Some(RecordRef { record_type: RecordType::Account, id, name: format!("A{id}") }),
        }
    }

    impl ConversationIndex for Index {
        fn by_message_id(&self, m: &str) -> Option<Conversation> {
            self.ids.get(m).map(|&i| conv(i))
        }
        fn by_token(&self, t: &str) -> Option<Conversation> {
            self.tokens.get(t).map(|&i| conv(i))
        }
        fn by_subject(&self, h: &str, addrs: &BTreeSet<String>) -> Option<Conversation> {
            self.subjects
                .iter()
                .rev()
                .find(|(sh, a, _)| sh == h && a.intersection(addrs).count() >= 2)
                .map(|(_, _, i)| conv(*i))
        }
    }

    fn opts() -> Options {
        Options { enabled: true, smart_matching: true, token: TokenFormat::default() }
    }

    fn addrs(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn index() -> Index {
        let mut ix = Index::default();
        ix.ids.insert("m1@x".into(), 1);
        ix.ids.insert("root@x".into(), 5);
        ix.tokens.insert("CRM:0000002".into(), 2);
        let h = subject_hash(&normalize_subject("Quarterly numbers", &TokenFormat::default())).unwrap();
        ix.subjects.push((h, addrs(&["a@x", "b@x", "c@x"]), 3));
        ix
    }

    #[test]
    fn correlation_case_table_first_match_wins() {
        let ix = index();
        struct Case {
            name: &'static str,
            irt: &'static [&'static str],
            refs: &'static [&'static str],
            subject: &'static str,
            addrs: &'static [&'static str],
            want: (Method, Option<i64>),
        }
        let cases = [
            Case {
                name: "in-reply-to",
                irt: &["m1@x"],
                refs: &[],
                subject: "x",
                addrs: &[],
                want: (Method::InReplyTo, Some(1)),
            },
            Case {
                name: "references newest first",
                irt: &["unknown@x"],
                refs: &["root@x", "m1@x"],
                subject: "x",
                addrs: &[],
                want: (Method::InReplyTo, Some(1)),
            },
            Case {
                name: "in-reply-to beats token",
                irt: &["m1@x"],
                refs: &[],
                subject: "Re: y CRM:0000002",
                addrs: &[],
                want: (Method::InReplyTo, Some(1)),
            },
            Case {
                name: "token",
                irt: &["unknown@x"],
                refs: &[],
                subject: "Re: y CRM:0000002",
                addrs: &[],
                want: (Method::TrackingToken, Some(2)),
            },
            Case {
                name: "unknown token falls through to smart",
                irt: &[],
                refs: &[],
                subject: "RE: AW: Quarterly  Numbers CRM:0000009",
                addrs: &["a@x", "b@x"],
                want: (Method::SmartMatch, Some(3)),
            },
            Case {
                name: "smart needs two shared addresses",
                irt: &[],
                refs: &[],
                subject: "Re: Quarterly numbers",
                addrs: &["a@x", "z@x"],
                want: (Method::None, None),
            },
            Case {
                name: "different subject",
                irt: &[],
                refs: &[],
                subject: "Re: Yearly numbers",
                addrs: &["a@x", "b@x"],
                want: (Method::None, None),
            },
            Case {
                name: "nothing",
                irt: &[],
                refs: &[],
                subject: "Hello",
                addrs: &[],
                want: (Method::None, None),
            },
        ];
        for c in cases {
            let clues = Clues {
                in_reply_to: c.irt.iter().map(|s| s.to_string()).collect(),
                references: c.refs.iter().map(|s| s.to_string()).collect(),
                subject: c.subject.into(),
                addresses: addrs(c.addrs),
            };
            let got = correlate(&clues, &ix, &opts());
            assert_eq!((got.method, got.conversation.map(|c| c.activity_id)), c.want, "{}", c.name);
        }
    }

    #[test]
    fn switches_turn_correlation_and_smart_matching_off() {
        let ix = index();
        let clues = Clues {
            subject: "Re: Quarterly numbers".into(),
            addresses: addrs(&["a@x", "b@x"]),
            ..Default::default()
        };
        assert_eq!(correlate(&clues, &ix, &Options { smart_matching: false, ..opts() }).method, Method::None);
        let clues = Clues { in_reply_to: vec!["m1@x".into()], ..Default::default() };
        assert_eq!(correlate(&clues, &ix, &Options { enabled: false, ..opts() }).method, Method::None);
    }

    #[test]
    fn subject_normalisation_strips_prefixes_tokens_case_and_spaces() {
        let t = TokenFormat::default();
        assert_eq!(normalize_subject("Re: RE:  Fwd: AW:Hello   World CRM:0000001", &t), "hello world");
        assert_eq!(normalize_subject("Meeting at 10:30", &t), "meeting at 10:30");
        assert_eq!(subject_hash(""), None);
    }
}
