//! Byte-level fuzz targets of crmsync-protocols: each takes any input and
//! panics only when a property breaks (or the parser itself panics). Shared
//! by the proptest suite (`tests/fuzz_parsers.rs`) and the coverage-guided
//! AFL harness (`fuzz/src/main.rs`), so a crash found by one replays in the other.

#![allow(dead_code)]

use crmsync_core::act::item::Item;
use crmsync_protocols::dav::{ical, vcard, xml};
use crmsync_protocols::{imap_wire, mime, pop3_wire, smtp_wire};

/// A fuzz target: any input; it panics when a property breaks.
pub type Target = fn(&[u8]);

/// The targets by name (the AFL harness's first argument, the regression folders' names).
pub const TARGETS: &[(&str, Target)] = &[
    ("mime", mime_parse),
    ("imap", imap_lines),
    ("pop3", pop3_lines),
    ("smtp", smtp_lines),
    ("dav_xml", dav_multistatus),
    ("ical", ical_parse),
    ("vcard", vcard_parse),
    ("ews", ews_answer),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// MIME parse: never panics; what parses has its keys, what does not says why.
pub fn mime_parse(data: &[u8]) {
    match mime::parse(data) {
        Ok(p) => {
            assert!(!p.dedupe_key.is_empty(), "a parsed message without a dedupe key");
            assert!(!p.content_hash.is_empty(), "a parsed message without a content hash");
            for a in &p.attachments {
                assert!(!a.name.is_empty() && !a.mime_type.is_empty(), "an attachment without name or type");
            }
        }
        Err(e) => assert!(!e.to_string().is_empty(), "an error that says nothing"),
    }
}

/// IMAP pre-login lines, tagged completions and folder names.
pub fn imap_lines(data: &[u8]) {
    for line in data.split_inclusive(|&b| b == b'\n') {
        let _ = imap_wire::parse_greeting(line);
        if let Some(caps) = imap_wire::parse_capability_line(line) {
            // Split at ASCII whitespace (RFC 3501 atoms); other bytes stay inside a word.
            assert!(caps.iter().all(|c| !c.is_empty() && !c.contains(|ch: char| ch.is_ascii_whitespace())));
        }
        let _ = imap_wire::parse_tagged(line, "A0001");
        let text = String::from_utf8_lossy(line);
        let _ = imap_wire::server_text(&text);
        let _ = imap_wire::decode_folder(&text);
        // Any name goes to the wire in modified UTF-7 and comes back the same.
        let wire = imap_wire::encode_folder(&text);
        assert!(wire.bytes().all(|b| (0x20..0x7f).contains(&b)), "non-ASCII on the wire: {wire:?}");
        assert_eq!(imap_wire::decode_folder(&wire), text, "folder name round trip");
        if let Some(q) = imap_wire::quote(&text) {
            assert!(!q.contains(['\r', '\n', '\0']), "a quoted string carrying a line end");
        }
    }
}

/// POP3 status lines, listings, CAPA and the dot-stuffed multi-line body.
pub fn pop3_lines(data: &[u8]) {
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    for line in &lines {
        if let Some(pop3_wire::Reply::Err { text, .. } | pop3_wire::Reply::Ok(text)) =
            pop3_wire::parse_reply(line)
        {
            assert_eq!(text, text.trim(), "the status text is trimmed");
        }
        let _ = pop3_wire::unstuff(line);
        if let Some((_, uid)) = pop3_wire::parse_uidl_line(line) {
            assert!(!uid.is_empty() && uid.len() <= 70);
        }
        let _ = pop3_wire::parse_list_line(line);
        let _ = pop3_wire::parse_stat(&String::from_utf8_lossy(line));
    }
    let _ = pop3_wire::parse_capa(lines.iter().copied());
    let _ = pop3_wire::decode_multiline(data);
    // What a client dot-stuffs (SMTP DATA) a POP3 reader unstuffs to the same
    // message, line ends made CRLF, up to the terminator and no further.
    let payload = smtp_wire::data_payload(data);
    let (back, ended) = pop3_wire::decode_multiline(&payload);
    assert!(ended, "the terminator was not seen");
    assert_eq!(back, crlf(data), "dot-stuffing round trip");
}

/// `data` with every CR, LF or CRLF made CRLF and a final CRLF when missing.
fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 2);
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' if data.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// SMTP replies line by line: a reply or an error naming the line, never a panic.
pub fn smtp_lines(data: &[u8]) {
    let mut reader = smtp_wire::ReplyReader::new();
    for line in data.split_inclusive(|&b| b == b'\n') {
        match reader.feed(line) {
            Ok(Some(reply)) => {
                assert!((200..600).contains(&reply.code), "code {} accepted", reply.code);
                assert!(reply.to_string().starts_with(&reply.code.to_string()));
                let _ = smtp_wire::Extensions::from_ehlo(&reply);
                reader = smtp_wire::ReplyReader::new();
            }
            Ok(None) => {}
            Err(e) => {
                assert!(!e.is_empty(), "an error that says nothing");
                reader = smtp_wire::ReplyReader::new();
            }
        }
    }
    let text = String::from_utf8_lossy(data);
    if smtp_wire::check_address(&text).is_ok() {
        // An accepted address cannot end the command line early.
        for cmd in [smtp_wire::mail_from(&text, true, true), smtp_wire::rcpt_to(&text)] {
            assert_eq!(cmd.matches("\r\n").count(), 1, "{cmd:?}");
            assert!(cmd.ends_with("\r\n") && !cmd.trim_end().contains(['\r', '\n']), "{cmd:?}");
        }
    }
}

/// DAV multistatus: parsed or refused with a reason.
pub fn dav_multistatus(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = xml::parse_multistatus(&text) {
        assert!(!e.is_empty(), "an error that says nothing");
    }
}

/// iCalendar: what reads as an appointment or task writes back and reads the same.
pub fn ical_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match ical::parse_event(&text) {
        Ok(e) => {
            let again = ical::parse_event(&ical::write_event(&e.item))
                .unwrap_or_else(|err| panic!("an appointment read does not re-read: {err}"));
            assert_eq!(again.item.uid, e.item.uid);
            assert_eq!(again.item.summary.trim_end(), e.item.summary.trim_end());
        }
        Err(err) => assert!(!err.0.is_empty(), "an error that says nothing"),
    }
    match ical::parse_task(&text) {
        Ok(t) => {
            let again = ical::parse_task(&ical::write_task(&t.item))
                .unwrap_or_else(|err| panic!("a task read does not re-read: {err}"));
            assert_eq!(again.item, t.item);
        }
        Err(err) => assert!(!err.0.is_empty(), "an error that says nothing"),
    }
}

/// vCard: what reads as a contact writes back (3.0 and 4.0) and reads the same.
pub fn vcard_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match vcard::parse_contact(&text) {
        Ok(c) => {
            for v4 in [false, true] {
                let again = vcard::parse_contact(&vcard::write_contact(&c.item, v4))
                    .unwrap_or_else(|err| panic!("a contact read does not re-read (v4={v4}): {err}"));
                assert_eq!(
                    Item::Contact(again.item).normalized(),
                    Item::Contact(c.item.clone()).normalized(),
                    "v4={v4}"
                );
            }
        }
        Err(err) => assert!(!err.0.is_empty(), "an error that says nothing"),
    }
}

/// An EWS SOAP answer or autodiscover answer: never panics, an error says
/// what was wrong, and every part of a parsed answer can be read.
pub fn ews_answer(data: &[u8]) {
    use crmsync_protocols::ews::{autodiscover, response};
    let text = String::from_utf8_lossy(data);
    match response::parse(&text) {
        Ok(a) => {
            for m in &a.messages {
                for item in response::items(m, 1 << 20) {
                    if let Err(e) = item {
                        assert!(!e.to_string().is_empty(), "an item error that says nothing");
                    }
                }
                let _ = response::folders(m);
                let _ = response::found_items(m, 1 << 20);
                if let Err(e) = response::sync_page(m, 1 << 20) {
                    assert!(!e.to_string().is_empty(), "a sync error that says nothing");
                }
            }
        }
        Err(e) => assert!(!e.to_string().is_empty(), "an error that says nothing"),
    }
    if let Err(e) = autodiscover::parse_answer(&text) {
        assert!(!e.is_empty(), "an autodiscover error that says nothing");
    }
}
