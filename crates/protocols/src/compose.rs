//! Outgoing mail → RFC 5322 bytes with mail-builder: text and HTML as
//! `multipart/alternative`, attachments in `multipart/mixed`, RFC 2047 encoded
//! words for non-ASCII headers, RFC 2231 `filename*` parameters for non-ASCII
//! file names, our own Message-ID and the threading headers of a reply.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};

use crate::mime::EmailAddress;

/// An attachment to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingAttachment {
    /// File name (any Unicode).
    pub name: String,
    /// MIME type, e.g. `application/pdf`.
    pub mime_type: String,
    /// Content.
    pub content: Vec<u8>,
}

/// One message to compose.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// Sender.
    pub from: EmailAddress,
    /// To recipients.
    pub to: Vec<EmailAddress>,
    /// Cc recipients.
    pub cc: Vec<EmailAddress>,
    /// Bcc recipients: written only when composing the Sent copy.
    pub bcc: Vec<EmailAddress>,
    /// Subject (with the tracking token already appended).
    pub subject: String,
    /// Plain-text body.
    pub text: Option<String>,
    /// HTML body (sent as the alternative to the text).
    pub html: Option<String>,
    /// Attachments.
    pub attachments: Vec<OutgoingAttachment>,
    /// Message-ID without angle brackets.
    pub message_id: String,
    /// In-Reply-To (without brackets).
    pub in_reply_to: Option<String>,
    /// References (without brackets), oldest first.
    pub references: Vec<String>,
    /// Date header.
    pub date: DateTime<Utc>,
}

/// A new globally unique Message-ID (without brackets) in `domain`, e.g.
/// `crm.3f2a…@example.com`.
pub fn new_message_id(domain: &str) -> String {
    use rand::RngCore as _;
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let domain = domain.trim().trim_matches(|c| c == '<' || c == '>' || c == '@');
    let domain =
        if domain.is_empty() || !domain.chars().all(|c| c.is_ascii_alphanumeric() || ".-".contains(c)) {
            "crmsync.invalid"
        } else {
            domain
        };
    format!("crm.{hex}@{domain}")
}

/// A header value is one line: every control character (CR and LF above all,
/// which would end the header and let the rest of the text add its own
/// fields) becomes a space. Borrowed when there is none.
fn one_line(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect())
    } else {
        Cow::Borrowed(text)
    }
}

fn address(a: &EmailAddress) -> Address<'_> {
    Address::new_address(a.name.as_deref().filter(|n| !n.trim().is_empty()).map(one_line), a.address.as_str())
}

fn list(v: &[EmailAddress]) -> Address<'_> {
    Address::new_list(v.iter().map(address).collect())
}

/// `attachment; filename="x"` for ASCII names, RFC 2231 `filename*=utf-8''…`
/// (with continuations for long names) otherwise.
fn disposition(name: &str) -> String {
    let printable = name.bytes().all(|b| (0x20..0x7f).contains(&b)) && name.len() <= 60;
    if printable {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        return format!("attachment; filename=\"{escaped}\"");
    }
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    // Split into continuations of at most ~60 characters, never inside a %XX.
    let mut chunks = Vec::new();
    let mut rest = encoded.as_str();
    while !rest.is_empty() {
        let mut cut = rest.len().min(60);
        while cut < rest.len() && rest.as_bytes()[cut.saturating_sub(1)] == b'%' {
            cut -= 1;
        }
        if cut < rest.len() && cut >= 2 && rest.as_bytes()[cut - 2] == b'%' {
            cut -= 2;
        }
        // Nor inside a character: readers decode each continuation on its own,
        // so a UTF-8 sequence cut in two arrives as two replacement characters.
        while cut >= 3 && cut < rest.len() && continues_a_character(&rest[cut..]) {
            cut -= 3;
        }
        chunks.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    if chunks.len() == 1 {
        return format!("attachment; filename*=utf-8''{}", chunks[0]);
    }
    let mut out = String::from("attachment");
    for (i, c) in chunks.iter().enumerate() {
        if i == 0 {
            out.push_str(&format!("; filename*0*=utf-8''{c}"));
        } else {
            out.push_str(&format!("; filename*{i}*={c}"));
        }
    }
    out
}

/// Whether `encoded` starts with `%XX` for a UTF-8 continuation byte (0x80-0xBF).
fn continues_a_character(encoded: &str) -> bool {
    let b = encoded.as_bytes();
    b.len() >= 3 && b[0] == b'%' && matches!(b[1], b'8' | b'9' | b'A' | b'B')
}

fn attachment_part(a: &OutgoingAttachment) -> MimePart<'_> {
    let mime = if a.mime_type.contains('/') { a.mime_type.as_str() } else { "application/octet-stream" };
    // Attachments travel base64-encoded whatever their type (mail-builder would
    // send a text/* attachment as text, normalising its line ends), so they
    // arrive byte for byte. With our own Content-Transfer-Encoding header
    // mail-builder writes the part body as given.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&a.content);
    let mut body = Vec::with_capacity(b64.len() + b64.len() / 38 + 2);
    for line in b64.as_bytes().chunks(76) {
        body.extend_from_slice(line);
        body.extend_from_slice(b"\r\n");
    }
    let ct = ContentType::new(mime).attribute("name", one_line(&a.name));
    MimePart::new(ct, BodyPart::Binary(Cow::Owned(body)))
        .header("Content-Disposition", Raw::new(disposition(&a.name)))
        .transfer_encoding("base64")
}

/// Builds the message. `include_bcc` writes the Bcc header (for the Sent copy
/// only: the copy sent over SMTP never names its Bcc recipients).
pub fn compose(m: &OutgoingMessage, include_bcc: bool) -> Vec<u8> {
    let mut b = MessageBuilder::new()
        .from(address(&m.from))
        .subject(one_line(&m.subject))
        .message_id(MessageId::new(m.message_id.as_str()))
        .date(m.date.timestamp());
    if !m.to.is_empty() {
        b = b.to(list(&m.to));
    }
    if !m.cc.is_empty() {
        b = b.cc(list(&m.cc));
    }
    if include_bcc && !m.bcc.is_empty() {
        b = b.bcc(list(&m.bcc));
    }
    if let Some(parent) = &m.in_reply_to {
        b = b.in_reply_to(MessageId::new(parent.as_str()));
    }
    if !m.references.is_empty() {
        b = b.references(MessageId::new_list(m.references.iter().map(String::as_str)));
    }
    let text = m.text.as_deref().unwrap_or("");
    let body = match &m.html {
        Some(html) => MimePart::new(
            "multipart/alternative",
            vec![MimePart::new("text/plain", text), MimePart::new("text/html", html.as_str())],
        ),
        None => MimePart::new("text/plain", text),
    };
    let body = if m.attachments.is_empty() {
        body
    } else {
        let mut parts = vec![body];
        parts.extend(m.attachments.iter().map(attachment_part));
        MimePart::new("multipart/mixed", parts)
    };
    b = b.body(body);
    b.write_to_vec().expect("writing to a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::parse;

    fn addr(a: &str, n: Option<&str>) -> EmailAddress {
        EmailAddress { address: a.into(), name: n.map(str::to_string) }
    }

    fn message() -> OutgoingMessage {
        OutgoingMessage {
            from: addr("alice@example.test", Some("Alice Adams")),
            to: vec![addr("zoe@example.test", Some("Zoë Özdemir")), addr("bob@example.test", None)],
            cc: vec![addr("carol@example.test", None)],
            bcc: vec![addr("secret@example.test", None)],
            subject: "Angebot für Grüße — 報告 CRM:0000042".into(),
            text: Some("Hallo Zoë,\r\nanbei das Angebot.\r\n".into()),
            html: Some("<p>Hallo <b>Zoë</b>,</p><p>anbei das Angebot.</p>".into()),
            attachments: vec![
                OutgoingAttachment {
                    name: "Angebot Größe.pdf".into(),
                    mime_type: "application/pdf".into(),
                    content: b"%PDF-1.4 \x00\x01\x02\xff binary".to_vec(),
                },
                OutgoingAttachment {
                    name: "notes.txt".into(),
                    mime_type: "text/plain".into(),
                    content: b"line one\nline two without CR\n".to_vec(),
                },
                OutgoingAttachment {
                    name: format!("{}.csv", "ДлинноеИмяФайла".repeat(6)),
                    mime_type: "text/csv".into(),
                    content: b"a,b\r\n1,2\r\n".to_vec(),
                },
            ],
            message_id: "crm.0123@example.test".into(),
            in_reply_to: Some("m1@example.test".into()),
            references: vec!["m0@example.test".into(), "m1@example.test".into()],
            date: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn round_trips_through_the_parser_with_unicode_alternative_attachments_and_threading() {
        let m = message();
        let raw = compose(&m, false);
        assert!(raw.is_ascii(), "the wire form is 7-bit: every non-ASCII text is encoded");
        let p = parse(&raw).unwrap();
        assert_eq!(p.subject, m.subject);
        assert_eq!(p.message_id.as_deref(), Some("crm.0123@example.test"));
        assert_eq!(p.dedupe_key, "crm.0123@example.test");
        assert_eq!(p.in_reply_to, vec!["m1@example.test"]);
        assert_eq!(p.references, vec!["m0@example.test", "m1@example.test"]);
        assert_eq!(p.from, Some(addr("alice@example.test", Some("Alice Adams"))));
        assert_eq!(p.to, m.to);
        assert_eq!(p.cc, m.cc);
        assert!(p.bcc.is_empty(), "the SMTP copy never names Bcc recipients");
        assert_eq!(p.date, Some(m.date));
        assert_eq!(p.text_body.as_deref().map(str::trim_end), Some("Hallo Zoë,\r\nanbei das Angebot."));
        assert!(p.html_body.as_deref().unwrap().contains("<b>Zoë</b>"));
        assert_eq!(p.attachments.len(), 3);
        for (got, want) in p.attachments.iter().zip(&m.attachments) {
            assert_eq!(got.name, want.name);
            assert_eq!(got.mime_type, want.mime_type);
            assert_eq!(got.content, want.content, "{}", want.name);
        }
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("multipart/alternative"));
        assert!(text.contains("filename*=utf-8''Angebot%20Gr%C3%B6%C3%9Fe.pdf"), "RFC 2231 name:\n{text}");
        assert!(text.contains("filename*0*=utf-8''"), "long names use RFC 2231 continuations");
        assert!(text.contains("=?utf-8?"), "RFC 2047 encoded words for non-ASCII headers");
    }

    #[test]
    fn the_sent_copy_keeps_bcc() {
        let p = parse(&compose(&message(), true)).unwrap();
        assert_eq!(p.bcc, vec![addr("secret@example.test", None)]);
    }

    #[test]
    fn a_plain_message_has_no_multipart_and_no_threading_headers() {
        let mut m = message();
        m.html = None;
        m.attachments.clear();
        m.in_reply_to = None;
        m.references.clear();
        m.subject = "Quote".into();
        let raw = compose(&m, false);
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.contains("multipart"), "{text}");
        assert!(!text.contains("In-Reply-To"), "{text}");
        let p = parse(&raw).unwrap();
        assert_eq!(p.subject, "Quote");
        assert!(p.html_body.is_none());
        assert!(p.in_reply_to.is_empty());
    }

    #[test]
    fn message_ids_are_unique_and_fall_back_to_a_safe_domain() {
        let a = new_message_id("example.test");
        let b = new_message_id("example.test");
        assert_ne!(a, b);
        assert!(a.starts_with("crm.") && a.ends_with("@example.test"), "{a}");
        assert!(new_message_id("bad domain>").ends_with("@crmsync.invalid"));
    }
}
