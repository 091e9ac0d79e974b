//! IMAP helpers without I/O: the lines exchanged before login (greeting,
//! CAPABILITY, STARTTLS), UID sets, quoting, modified UTF-7 folder names
//! (RFC 3501 section 5.1.3) and the server text inside async-imap's errors.

use base64::Engine as _;

/// What the server's greeting says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Greeting {
    /// `* OK`, with the capabilities when the greeting carries a `[CAPABILITY ...]` code.
    Ok(Option<Vec<String>>),
    /// `* PREAUTH`: already authenticated (not supported: we always log in).
    PreAuth,
    /// `* BYE`: the server refuses the connection, with its reason.
    Bye(String),
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn words(text: &str) -> Vec<String> {
    text.split_ascii_whitespace().map(str::to_string).collect()
}

/// Capabilities from a `[CAPABILITY a b c] text` response code at the start of `text`.
fn capability_code(text: &str) -> Option<Vec<String>> {
    let inner = text.strip_prefix('[')?;
    let end = inner.find(']')?;
    let code = &inner[..end];
    let (name, rest) = code.split_once(' ').unwrap_or((code, ""));
    name.eq_ignore_ascii_case("CAPABILITY").then(|| words(rest))
}

/// Parses the server greeting; `None` when it is not a greeting.
pub fn parse_greeting(line: &[u8]) -> Option<Greeting> {
    let text = String::from_utf8_lossy(trim_eol(line));
    let rest = text.strip_prefix("* ")?;
    let (status, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    match status.to_ascii_uppercase().as_str() {
        "OK" => Some(Greeting::Ok(capability_code(tail))),
        "PREAUTH" => Some(Greeting::PreAuth),
        "BYE" => Some(Greeting::Bye(tail.trim().to_string())),
        _ => None,
    }
}

/// Capabilities from an untagged `* CAPABILITY ...` line.
pub fn parse_capability_line(line: &[u8]) -> Option<Vec<String>> {
    let text = String::from_utf8_lossy(trim_eol(line));
    let rest = text.strip_prefix("* ")?;
    let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    name.eq_ignore_ascii_case("CAPABILITY").then(|| words(tail))
}

/// Status of a tagged completion line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tagged {
    /// `tag OK text`.
    Ok(String),
    /// `tag NO text`.
    No(String),
    /// `tag BAD text`.
    Bad(String),
}

/// Parses `line` as the completion of the command tagged `tag`; `None` for other lines.
pub fn parse_tagged(line: &[u8], tag: &str) -> Option<Tagged> {
    let text = String::from_utf8_lossy(trim_eol(line));
    let rest = text.strip_prefix(tag)?.strip_prefix(' ')?;
    let (status, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    let tail = tail.trim().to_string();
    match status.to_ascii_uppercase().as_str() {
        "OK" => Some(Tagged::Ok(tail)),
        "NO" => Some(Tagged::No(tail)),
        "BAD" => Some(Tagged::Bad(tail)),
        _ => None,
    }
}

/// Compresses UIDs into an IMAP sequence set (`1:3,7,9:10`); sorts and dedups.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// Quotes an ASCII string for IMAP; `None` when it cannot be a quoted string
/// (CR, LF, NUL or 8-bit characters would need a literal).
pub fn quote(value: &str) -> Option<String> {
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0) || !b.is_ascii()) {
        return None;
    }
    Some(format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")))
}

/// True for a flag we can send as an atom: `\Seen`, `$Forwarded`, `Junk`.
pub fn is_flag_atom(flag: &str) -> bool {
    let body = flag.strip_prefix('\\').unwrap_or(flag);
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
        })
}

const MUTF7: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::IMAP_MUTF7,
    base64::engine::general_purpose::NO_PAD
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Encodes a folder name to modified UTF-7 for the wire (`Entwürfe` → `Entw&APw-rfe`).
pub fn encode_folder(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&MUTF7.encode(bytes));
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Decodes a modified UTF-7 folder name from the wire; names that are not valid
/// modified UTF-7 are returned unchanged.
pub fn decode_folder(wire: &str) -> String {
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(dash) = after.find('-') else { return wire.to_string() };
        let chunk = &after[..dash];
        if chunk.is_empty() {
            out.push('&');
        } else {
            let Ok(bytes) = MUTF7.decode(chunk) else { return wire.to_string() };
            if bytes.len() % 2 != 0 {
                return wire.to_string();
            }
            let units: Vec<u16> = bytes.chunks(2).map(|p| u16::from_be_bytes([p[0], p[1]])).collect();
            match String::from_utf16(&units) {
                Ok(s) => out.push_str(&s),
                Err(_) => return wire.to_string(),
            }
        }
        rest = &after[dash + 1..];
    }
    out.push_str(rest);
    out
}

/// The server's words inside an async-imap `No`/`Bad` error, which formats them as
/// `code: Some(X), info: Some("text")`. Falls back to the whole string.
pub fn server_text(error_text: &str) -> String {
    let code = error_text
        .strip_prefix("code: Some(")
        .and_then(|rest| rest.split_once("), info:"))
        .map(|(code, _)| code.to_string());
    let info = error_text
        .find("info: Some(\"")
        .map(|i| &error_text[i + "info: Some(\"".len()..])
        .and_then(|rest| rest.strip_suffix("\")"))
        .map(|s| s.replace("\\\"", "\"").replace("\\\\", "\\"));
    match (code, info) {
        (Some(code), Some(info)) => format!("[{code}] {info}"),
        (None, Some(info)) => info,
        (Some(code), None) => format!("[{code}]"),
        (None, None) => error_text.to_string(),
    }
}

/// The CREATE command for a folder (`quoted`: encoded and quoted), with the
/// special-use attribute (RFC 6154 CREATE-SPECIAL-USE, e.g. `\\Sent`) when given.
pub fn create_command(quoted: &str, special_use: Option<&str>) -> String {
    match special_use {
        Some(attr) => format!("CREATE {quoted} (USE ({attr}))"),
        None => format!("CREATE {quoted}"),
    }
}

/// True when the server text says the folder does not exist.
pub fn says_nonexistent(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("[nonexistent]")
        || t.contains("trycreate")
        || t.contains("doesn't exist")
        || t.contains("does not exist")
        || t.contains("no such mailbox")
}

/// True when the server text says it is temporarily unable to serve (RFC 5530).
pub fn says_unavailable(text: &str) -> bool {
    let t = text.to_ascii_uppercase();
    t.contains("[UNAVAILABLE]") || t.contains("[INUSE]") || t.contains("[LIMIT]") || t.contains("[SERVERBUG]")
}

/// The SASL PLAIN response (RFC 4616) before base64 (async-imap encodes it).
pub fn plain_response(user: &str, password: &str) -> Vec<u8> {
    let mut raw = Vec::with_capacity(user.len() + password.len() + 2);
    raw.push(0);
    raw.extend_from_slice(user.as_bytes());
    raw.push(0);
    raw.extend_from_slice(password.as_bytes());
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_carries_the_special_use_only_when_asked() {
        let name = quote(&encode_folder("Gesendete Objekte")).unwrap();
        assert_eq!(create_command(&name, Some("\\Sent")), "CREATE \"Gesendete Objekte\" (USE (\\Sent))");
        assert_eq!(create_command(&name, None), "CREATE \"Gesendete Objekte\"");
    }

    #[test]
    fn greetings() {
        assert_eq!(
            parse_greeting(b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] Dovecot ready.\r\n"),
            Some(Greeting::Ok(Some(vec!["IMAP4rev1".into(), "STARTTLS".into(), "AUTH=PLAIN".into()])))
        );
        assert_eq!(parse_greeting(b"* OK ready\r\n"), Some(Greeting::Ok(None)));
        assert_eq!(parse_greeting(b"* PREAUTH hi\r\n"), Some(Greeting::PreAuth));
        assert_eq!(parse_greeting(b"* BYE too many\r\n"), Some(Greeting::Bye("too many".into())));
        assert_eq!(parse_greeting(b"+OK pop3\r\n"), None);
    }

    #[test]
    fn capability_and_tagged_lines() {
        assert_eq!(
            parse_capability_line(b"* CAPABILITY IMAP4rev1 IDLE\r\n"),
            Some(vec!["IMAP4rev1".into(), "IDLE".into()])
        );
        assert_eq!(parse_capability_line(b"* OK x\r\n"), None);
        assert_eq!(parse_tagged(b"C1 OK done\r\n", "C1"), Some(Tagged::Ok("done".into())));
        assert_eq!(parse_tagged(b"C1 NO [X] nope\r\n", "C1"), Some(Tagged::No("[X] nope".into())));
        assert_eq!(parse_tagged(b"C1 BAD\r\n", "C1"), Some(Tagged::Bad(String::new())));
        assert_eq!(parse_tagged(b"C10 OK\r\n", "C1"), None);
        assert_eq!(parse_tagged(b"* OK\r\n", "C1"), None);
    }

    #[test]
    fn uid_sets() {
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[3, 1, 2, 7, 9, 10, 10]), "1:3,7,9:10");
    }

    #[test]
    fn quoting_and_flags() {
        assert_eq!(quote("<a\"b\\c@x>").unwrap(), r#""<a\"b\\c@x>""#);
        assert_eq!(quote("a\r\nb"), None);
        assert_eq!(quote("é"), None);
        assert!(is_flag_atom("\\Seen") && is_flag_atom("$Forwarded"));
        assert!(!is_flag_atom("\\") && !is_flag_atom("a b") && !is_flag_atom("x)"));
    }

    #[test]
    fn modified_utf7() {
        for (name, wire) in [
            ("INBOX", "INBOX"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("Tom & Jerry", "Tom &- Jerry"),
            ("日本語", "&ZeVnLIqe-"),
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("😀", "&2D3eAA-"),
        ] {
            assert_eq!(encode_folder(name), wire, "{name}");
            assert_eq!(decode_folder(wire), name, "{wire}");
        }
        assert_eq!(decode_folder("broken&AP"), "broken&AP");
    }

    #[test]
    fn server_text_from_async_imap_errors() {
        assert_eq!(
            server_text(r#"code: None, info: Some("[NONEXISTENT] Mailbox doesn't exist: Nope")"#),
            "[NONEXISTENT] Mailbox doesn't exist: Nope"
        );
        assert_eq!(
            server_text(r#"code: Some(TryCreate), info: Some("Mailbox doesn't exist: X")"#),
            "[TryCreate] Mailbox doesn't exist: X"
        );
        assert_eq!(server_text("plain"), "plain");
        assert!(says_nonexistent("[NONEXISTENT] Mailbox doesn't exist: Nope"));
        assert!(says_nonexistent("[TryCreate] x"));
        assert!(!says_nonexistent("[AUTHENTICATIONFAILED] Authentication failed."));
        assert!(says_unavailable("[UNAVAILABLE] Temporary failure"));
        assert!(!says_unavailable("[AUTHENTICATIONFAILED] Authentication failed."));
    }

    #[test]
    fn sasl_plain() {
        assert_eq!(plain_response("tim", "pw"), b"\0tim\0pw");
    }
}
