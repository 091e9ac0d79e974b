//! Raw RFC 5322 bytes → a typed [`ParsedEmail`] with what the CRM keeps:
//! threading headers, addresses, text and HTML bodies, attachments and
//! forwarded originals. Never panics, whatever the input.

use chrono::{DateTime, Utc};
use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders};
use sha2::{Digest, Sha256};

/// An address with its display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress {
    /// `local@domain`, lower-cased.
    pub address: String,
    /// Display name, decoded.
    pub name: Option<String>,
}

/// One attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// File name (decoded; `attachment-N` when the message gives none).
    pub name: String,
    /// MIME type, e.g. `application/pdf`.
    pub mime_type: String,
    /// Decoded content.
    pub content: Vec<u8>,
}

/// A parsed email.
#[derive(Debug, Clone, Default)]
pub struct ParsedEmail {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// In-Reply-To Message-IDs.
    pub in_reply_to: Vec<String>,
    /// References Message-IDs, oldest first.
    pub references: Vec<String>,
    /// Decoded subject (empty when absent).
    pub subject: String,
    /// Sender.
    pub from: Option<EmailAddress>,
    /// To recipients.
    pub to: Vec<EmailAddress>,
    /// Cc recipients.
    pub cc: Vec<EmailAddress>,
    /// Bcc recipients (present on sent copies).
    pub bcc: Vec<EmailAddress>,
    /// Date header.
    pub date: Option<DateTime<Utc>>,
    /// Plain-text body.
    pub text_body: Option<String>,
    /// HTML body.
    pub html_body: Option<String>,
    /// Attachments (forwarded messages included as `message/rfc822` parts).
    pub attachments: Vec<Attachment>,
    /// Raw bytes of each attached `message/rfc822` original (forward mailboxes).
    pub forwarded: Vec<Vec<u8>>,
    /// Dedupe key: the Message-ID, or (`sha256v2:`) a digest of the whole
    /// message with line endings and trailing whitespace normalised and the
    /// per-mailbox trace headers (Received, Return-Path, Delivered-To, ...) left out.
    pub dedupe_key: String,
    /// Without a Message-ID: the key earlier versions computed (`sha256:` over
    /// From, To, Cc, Date, Subject and the text body), so mail tracked before the
    /// change can still be recognised.
    pub legacy_dedupe_key: Option<String>,
    /// Digest of what a Message-ID vouches for: the sender's address, the Date
    /// (as an instant) and the text (else HTML) body with whitespace runs made
    /// one space. Two copies of one message share it; a different message
    /// reusing the Message-ID (another sender, date or body) does not.
    pub content_hash: String,
}

/// Why a message could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing that looks like an email.
    #[error("not an email message ({0} bytes)")]
    NotAMessage(usize),
    /// The parser failed internally (kept whole as a failed item).
    #[error("the MIME parser failed on this message")]
    ParserFailed,
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    let clean = |s: &str| s.trim().trim_start_matches('<').trim_end_matches('>').trim().to_string();
    match v {
        HeaderValue::Text(t) => t.split_whitespace().map(clean).filter(|s| !s.is_empty()).collect(),
        HeaderValue::TextList(l) => l.iter().map(|s| clean(s)).filter(|s| !s.is_empty()).collect(),
        _ => Vec::new(),
    }
}

fn addresses(a: Option<&Address<'_>>) -> Vec<EmailAddress> {
    let Some(a) = a else { return Vec::new() };
    a.iter()
        .filter_map(|x| {
            let addr = x.address()?.trim();
            if addr.is_empty() {
                return None;
            }
            Some(EmailAddress {
                address: addr.to_lowercase(),
                name: x.name().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string),
            })
        })
        .collect()
}

fn digest(m: &Message<'_>, text: &Option<String>) -> String {
    let mut h = Sha256::new();
    for name in ["From", "To", "Cc", "Date", "Subject"] {
        h.update(name.as_bytes());
        h.update(b":");
        h.update(m.header_raw(name).unwrap_or("").trim().as_bytes());
        h.update(b"\n");
    }
    h.update(text.as_deref().unwrap_or("").as_bytes());
    format!("sha256:{}", hex(&h.finalize()[..16]))
}

/// Header fields that the receiving side adds or rewrites per mailbox (trace,
/// delivery, filtering and mail-store bookkeeping). Entries ending in `-` are prefixes.
const TRACE_HEADERS: &[&str] = &[
    "received",
    "x-received",
    "received-spf",
    "return-path",
    "delivered-to",
    "x-delivered-to",
    "x-original-to",
    "envelope-to",
    "x-envelope-to",
    "authentication-results",
    "arc-",
    "x-spam-",
    "x-virus-",
    "status",
    "x-status",
    "x-keywords",
    "x-uid",
    "content-length",
    "lines",
    "x-mozilla-",
];

fn is_trace_header(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    TRACE_HEADERS.iter().any(|t| if t.ends_with('-') { name.starts_with(t) } else { name == *t })
}

/// Digest of the normalised message: lines split on LF (a CR before it dropped),
/// trailing spaces and tabs removed, blank lines at either end removed, header
/// fields unfolded with runs of whitespace made one space, trace headers left out.
/// The same message fetched over IMAP and POP3, or from two mailboxes, gives one
/// digest; messages that differ in any other byte give different ones.
fn content_digest(raw: &[u8]) -> String {
    let lines: Vec<&[u8]> = raw
        .split(|&b| b == b'\n')
        .map(|l| {
            let end = l.iter().rposition(|&b| !matches!(b, b' ' | b'\t' | b'\r')).map_or(0, |i| i + 1);
            &l[..end]
        })
        .collect();
    let first = lines.iter().position(|l| !l.is_empty()).unwrap_or(lines.len());
    let last = lines.iter().rposition(|l| !l.is_empty()).map_or(first, |i| i + 1);
    let lines = &lines[first..last];
    let split = lines.iter().position(|l| l.is_empty()).unwrap_or(lines.len());
    let (head, body) = lines.split_at(split);
    // Unfold: a line starting with whitespace continues the field before it.
    let mut fields: Vec<Vec<u8>> = Vec::new();
    for l in head {
        match (l.first(), fields.last_mut()) {
            (Some(b' ' | b'\t'), Some(f)) => {
                f.push(b' ');
                f.extend_from_slice(l);
            }
            _ => fields.push(l.to_vec()),
        }
    }
    let mut h = Sha256::new();
    for f in &fields {
        let name = f.split(|&b| b == b':').next().unwrap_or_default();
        if is_trace_header(&String::from_utf8_lossy(name)) {
            continue;
        }
        let mut space = false;
        for &b in f {
            if matches!(b, b' ' | b'\t' | b'\r') {
                space = true;
            } else {
                if space {
                    h.update(b" ");
                    space = false;
                }
                h.update([b]);
            }
        }
        h.update(b"\n");
    }
    h.update(b"\n");
    for l in body {
        h.update(l);
        h.update(b"\n");
    }
    format!("sha256v2:{}", hex(&h.finalize()[..16]))
}

fn content_hash(
    from: Option<&EmailAddress>,
    date: Option<DateTime<Utc>>,
    text: Option<&str>,
    html: Option<&str>,
) -> String {
    let mut h = Sha256::new();
    h.update(from.map_or("", |a| a.address.as_str()).as_bytes());
    h.update(b"\n");
    h.update(date.map_or(String::new(), |d| d.timestamp().to_string()).as_bytes());
    h.update(b"\n");
    let body = text.or(html).unwrap_or("");
    for (i, word) in body.split_whitespace().enumerate() {
        if i > 0 {
            h.update(b" ");
        }
        h.update(word.as_bytes());
    }
    format!("sha256:{}", hex(&h.finalize()[..16]))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn convert(m: &Message<'_>, raw: &[u8]) -> ParsedEmail {
    let text_body = m.body_text(0).map(|c| c.into_owned());
    let html_body = if m.html_body_count() > 0 && m.html_part(0).is_some_and(|p| p.is_text_html()) {
        m.body_html(0).map(|c| c.into_owned())
    } else {
        None
    };
    let mut attachments = Vec::new();
    let mut forwarded = Vec::new();
    for (i, part) in m.attachments().enumerate() {
        let mime_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into())
            .to_lowercase();
        if let Some(inner) = part.message() {
            forwarded.push(inner.raw_message().to_vec());
        }
        let name = part
            .attachment_name()
            .map(str::to_string)
            .or_else(|| part.message().and_then(|inner| inner.subject()).map(|s| format!("{s}.eml")))
            .unwrap_or_else(|| format!("attachment-{}", i + 1));
        attachments.push(Attachment { name, mime_type, content: part.contents().to_vec() });
    }
    let message_id = m.message_id().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (dedupe_key, legacy_dedupe_key) = match &message_id {
        Some(id) => (id.clone(), None),
        None => (content_digest(raw), Some(digest(m, &text_body))),
    };
    let from = addresses(m.from()).into_iter().next();
    let date = m.date().and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0));
    let content_hash = content_hash(from.as_ref(), date, text_body.as_deref(), html_body.as_deref());
    ParsedEmail {
        in_reply_to: ids(m.in_reply_to()),
        references: ids(m.references()),
        subject: m.subject().unwrap_or("").trim().to_string(),
        from,
        to: addresses(m.to()),
        cc: addresses(m.cc()),
        bcc: addresses(m.bcc()),
        date,
        content_hash,
        text_body,
        html_body,
        attachments,
        forwarded,
        dedupe_key,
        legacy_dedupe_key,
        message_id,
    }
}

/// `raw` without the blank or whitespace-only lines (LF or CRLF) before the
/// first header, which some mail stores and forwarders leave there.
fn skip_leading_blank_lines(raw: &[u8]) -> &[u8] {
    let mut rest = raw;
    while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
        if !rest[..nl].iter().all(|&b| matches!(b, b' ' | b'\t' | b'\r')) {
            break;
        }
        rest = &rest[nl + 1..];
    }
    rest
}

/// Parses a raw message. Malformed MIME is parsed as far as it goes; only input
/// that is no message at all (or that trips the parser) is an error. Blank or
/// whitespace-only lines before the headers are skipped.
pub fn parse(raw: &[u8]) -> Result<ParsedEmail, ParseError> {
    let body = skip_leading_blank_lines(raw);
    let result = std::panic::catch_unwind(|| {
        MessageParser::default()
            .parse(body)
            .map(|m| if m.headers().is_empty() { None } else { Some(convert(&m, body)) })
    });
    match result {
        Ok(Some(Some(p))) => Ok(p),
        Ok(_) => Err(ParseError::NotAMessage(raw.len())),
        Err(_) => Err(ParseError::ParserFailed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_threading_headers_addresses_bodies_and_attachments() {
        let raw = b"Message-ID: <m2@example.test>\r\nIn-Reply-To: <m1@example.test>\r\nReferences: <m0@example.test> <m1@example.test>\r\nFrom: =?utf-8?q?Zo=C3=AB?= <Zoe@Example.test>\r\nTo: a@example.test, \"B\" <b@example.test>\r\nSubject: =?utf-8?b?UmU6IFF1b3RlIENSTTowMDAwMDAx?=\r\nDate: Tue, 1 Sep 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/pdf; name=q.pdf\r\nContent-Disposition: attachment; filename=q.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b--\r\n";
        let p = parse(raw).unwrap();
        assert_eq!(p.message_id.as_deref(), Some("m2@example.test"));
        assert_eq!(p.in_reply_to, vec!["m1@example.test"]);
        assert_eq!(p.references, vec!["m0@example.test", "m1@example.test"]);
        assert_eq!(p.subject, "Re: Quote CRM:0000001");
        assert_eq!(p.from.as_ref().unwrap().address, "zoe@example.test");
        assert_eq!(p.from.as_ref().unwrap().name.as_deref(), Some("Zoë"));
        assert_eq!(p.to.len(), 2);
        assert_eq!(p.text_body.as_deref().map(str::trim), Some("hello"));
        assert_eq!(p.attachments.len(), 1);
        assert_eq!(p.attachments[0].name, "q.pdf");
        assert_eq!(p.attachments[0].content, b"%PDF");
        assert_eq!(p.dedupe_key, "m2@example.test");
    }

    #[test]
    fn a_message_without_message_id_gets_a_stable_header_digest() {
        let a = b"From: a@x.test\r\nTo: b@x.test\r\nSubject: s\r\nDate: Tue, 1 Sep 2026 10:00:00 +0000\r\nReceived: from one\r\n\r\nbody\r\n";
        let b = b"Received: from two\r\nFrom: a@x.test\r\nTo: b@x.test\r\nSubject: s\r\nDate: Tue, 1 Sep 2026 10:00:00 +0000\r\n\r\nbody\r\n";
        let (pa, pb) = (parse(a).unwrap(), parse(b).unwrap());
        assert!(pa.dedupe_key.starts_with("sha256v2:"));
        assert!(pa.legacy_dedupe_key.as_deref().is_some_and(|k| k.starts_with("sha256:")));
        assert_eq!(pa.legacy_dedupe_key, pb.legacy_dedupe_key);
        assert_eq!(pa.dedupe_key, pb.dedupe_key, "Received lines differ between mailboxes; the key must not");
    }

    #[test]
    fn blank_and_whitespace_only_lines_before_the_headers_are_skipped() {
        for lead in ["\r\n", "\n", "  \t\r\n\r\n", " \n\t\n", "\r\n   \r\n"] {
            let raw = format!(
                "{lead}From: a@x.test\r\nSubject: hello\r\nMessage-ID: <lead@x.test>\r\n\r\nbody\r\n"
            );
            let p = parse(raw.as_bytes()).unwrap_or_else(|e| panic!("{lead:?}: {e}"));
            assert_eq!(p.subject, "hello", "{lead:?}");
            assert_eq!(p.from.unwrap().address, "a@x.test");
            assert_eq!(p.message_id.as_deref(), Some("lead@x.test"));
        }
        assert_eq!(parse(b" \r\n\r\n").unwrap_err(), ParseError::NotAMessage(5));
    }

    #[test]
    fn different_messages_without_message_id_never_share_a_key() {
        // No From, To, Subject, Date or body: the old digest was the same for all three.
        let msgs: [&[u8]; 3] = [b"X-Note: one\r\n\r\n", b"X-Note: two\r\n\r\n", b"MIME-Version: 1.0\r\n\r\n"];
        let keys: std::collections::BTreeSet<String> =
            msgs.iter().map(|m| parse(m).unwrap().dedupe_key).collect();
        assert_eq!(keys.len(), 3, "{keys:?}");
        let legacy: std::collections::BTreeSet<String> =
            msgs.iter().map(|m| parse(m).unwrap().legacy_dedupe_key.unwrap()).collect();
        assert_eq!(legacy.len(), 1, "the old form is kept as it was (for mail tracked before)");
        // Same headers, other attachment bytes (the text body is the same).
        let att = |b: &str| {
            format!(
                "From: a@x.test\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n{b}\r\n--b--\r\n"
            )
        };
        assert_ne!(
            parse(att("AAAA").as_bytes()).unwrap().dedupe_key,
            parse(att("BBBB").as_bytes()).unwrap().dedupe_key
        );
    }

    #[test]
    fn the_pop3_and_imap_copies_of_a_message_without_message_id_share_a_key() {
        let imap = b"From: a@x.test\r\nTo: b@x.test\r\nSubject: s\r\n\r\nlast line without CRLF";
        let pop3 = b"From: a@x.test\r\nTo: b@x.test\r\nSubject: s\r\n\r\nlast line without CRLF\r\n";
        let lf = b"From: a@x.test\nTo: b@x.test\nSubject: s  \n\nlast line without CRLF \n\n";
        let folded = b"Delivered-To: b@x.test\r\nFrom: a@x.test\r\nTo:\r\n b@x.test\r\nSubject: s\r\n\r\nlast line without CRLF\r\n";
        let k = parse(imap).unwrap().dedupe_key;
        assert!(k.starts_with("sha256v2:"), "{k}");
        assert_eq!(parse(pop3).unwrap().dedupe_key, k, "POP3 adds a final CRLF");
        assert_eq!(parse(lf).unwrap().dedupe_key, k, "line endings and trailing whitespace");
        assert_eq!(parse(folded).unwrap().dedupe_key, k, "folding and trace headers");
    }

    #[test]
    fn the_content_hash_tells_a_message_reusing_a_message_id_from_a_copy() {
        let m = |from: &str, date: &str, body: &str| {
            parse(
                format!(
                    "Message-ID: <x@y.test>\r\nFrom: {from}\r\nDate: {date}\r\nSubject: s\r\n\r\n{body}\r\n"
                )
                .as_bytes(),
            )
            .unwrap()
            .content_hash
        };
        let d = "Tue, 1 Sep 2026 10:00:00 +0000";
        let base = m("a@x.test", d, "hello there");
        assert_eq!(
            m("A@X.test", "Tue, 1 Sep 2026 12:00:00 +0200", "hello  there\r\n"),
            base,
            "same instant, same words"
        );
        assert_ne!(m("b@x.test", d, "hello there"), base, "other sender");
        assert_ne!(m("a@x.test", "Tue, 1 Sep 2026 10:00:01 +0000", "hello there"), base, "other date");
        assert_ne!(m("a@x.test", d, "hello here"), base, "other body");
    }

    #[test]
    fn empty_input_is_not_a_message() {
        assert_eq!(parse(b"").unwrap_err(), ParseError::NotAMessage(0));
    }
}
