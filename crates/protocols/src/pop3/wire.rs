//! POP3 wire format, without I/O: status lines (RFC 1939) with extended
//! response codes (RFC 2449, 3206), CAPA lists, STAT/UIDL/LIST lines, the
//! dot-stuffing of multi-line responses and SASL PLAIN (RFC 4616, 5034).
//! Everything here works on byte strings and is unit-tested.

use base64::Engine as _;

/// An extended response code of an `-ERR` reply (RFC 2449 section 8, RFC 3206).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RespCode {
    /// `[AUTH]`: the credentials are wrong.
    Auth,
    /// `[IN-USE]`: another session holds the maildrop lock.
    InUse,
    /// `[LOGIN-DELAY]`: logging in again too soon.
    LoginDelay,
    /// `[SYS/TEMP]`: a temporary server-side problem.
    SysTemp,
    /// `[SYS/PERM]`: a permanent server-side problem.
    SysPerm,
    /// Any other code, upper-cased.
    Other(String),
}

/// A parsed POP3 status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK text`.
    Ok(String),
    /// `-ERR [CODE] text`.
    Err {
        /// The extended response code, if any.
        code: Option<RespCode>,
        /// The human-readable rest.
        text: String,
    },
    /// `+ base64` (a SASL continuation).
    Continue(String),
}

/// Removes one trailing CRLF or LF.
pub fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

/// Parses a status line (`+OK`, `-ERR`, `+ `). `None` when it is none of these.
pub fn parse_reply(line: &[u8]) -> Option<Reply> {
    let line = trim_eol(line);
    if let Some(rest) = strip_prefix_ci(line, b"+OK") {
        if !rest.is_empty() && rest[0] != b' ' {
            return None;
        }
        return Some(Reply::Ok(text_of(rest)));
    }
    if let Some(rest) = strip_prefix_ci(line, b"-ERR") {
        if !rest.is_empty() && rest[0] != b' ' {
            return None;
        }
        let rest = text_of(rest);
        if let Some(inner) = rest.strip_prefix('[')
            && let Some(end) = inner.find(']')
        {
            let code = inner[..end].trim().to_ascii_uppercase();
            let code = match code.as_str() {
                "AUTH" => RespCode::Auth,
                "IN-USE" => RespCode::InUse,
                "LOGIN-DELAY" => RespCode::LoginDelay,
                "SYS/TEMP" => RespCode::SysTemp,
                "SYS/PERM" => RespCode::SysPerm,
                _ => RespCode::Other(code),
            };
            return Some(Reply::Err { code: Some(code), text: inner[end + 1..].trim().to_string() });
        }
        return Some(Reply::Err { code: None, text: rest });
    }
    if line == b"+" || line.starts_with(b"+ ") {
        return Some(Reply::Continue(text_of(&line[1..])));
    }
    None
}

fn strip_prefix_ci<'a>(line: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    if line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(&line[prefix.len()..])
    } else {
        None
    }
}

/// One line of a multi-line response after dot-unstuffing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unstuffed<'a> {
    /// The terminating `.` line.
    End,
    /// A data line, with its line terminator, leading stuffed dot removed.
    Data(&'a [u8]),
}

/// Undoes the dot-stuffing of one line of a multi-line response (RFC 1939 section 3):
/// a line that is just `.` ends the response, a leading `.` is otherwise removed.
pub fn unstuff(line: &[u8]) -> Unstuffed<'_> {
    if trim_eol(line) == b"." {
        Unstuffed::End
    } else if line.first() == Some(&b'.') {
        Unstuffed::Data(&line[1..])
    } else {
        Unstuffed::Data(line)
    }
}

/// Decodes a complete multi-line body (as received, after the status line).
/// Returns the message bytes and whether the terminator was seen.
pub fn decode_multiline(raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(raw.len());
    for line in raw.split_inclusive(|&b| b == b'\n') {
        match unstuff(line) {
            Unstuffed::End => return (out, true),
            Unstuffed::Data(d) => out.extend_from_slice(d),
        }
    }
    (out, false)
}

/// Parses the text of a `STAT` reply: message count and total size in octets.
pub fn parse_stat(text: &str) -> Option<(u32, u64)> {
    let mut parts = text.split_ascii_whitespace();
    let count = parts.next()?.parse().ok()?;
    let size = parts.next()?.parse().ok()?;
    Some((count, size))
}

/// Parses one `UIDL` listing line (or the text of a single-message `UIDL n` reply):
/// message number and unique id (RFC 1939: 1-70 printable characters 0x21-0x7E).
pub fn parse_uidl_line(line: &[u8]) -> Option<(u32, String)> {
    let text = std::str::from_utf8(trim_eol(line)).ok()?;
    let mut parts = text.split_ascii_whitespace();
    let n = parts.next()?.parse().ok()?;
    let uid = parts.next()?;
    if uid.is_empty() || uid.len() > 70 || !uid.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return None;
    }
    Some((n, uid.to_string()))
}

/// Parses one `LIST` listing line: message number and size in octets.
pub fn parse_list_line(line: &[u8]) -> Option<(u32, u64)> {
    let text = std::str::from_utf8(trim_eol(line)).ok()?;
    parse_stat(text)
}

/// What a POP3 server announced in its CAPA response (RFC 2449).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pop3Capabilities {
    /// `USER`: USER/PASS login is available.
    pub user: bool,
    /// `STLS`: TLS upgrade is available (RFC 2595).
    pub stls: bool,
    /// `SASL` mechanisms, upper-cased.
    pub sasl: Vec<String>,
    /// `UIDL` is available.
    pub uidl: bool,
    /// `TOP` is available.
    pub top: bool,
    /// `PIPELINING` is allowed.
    pub pipelining: bool,
    /// `RESP-CODES`: -ERR replies may carry extended response codes.
    pub resp_codes: bool,
    /// `AUTH-RESP-CODE`: login failures say [AUTH] when the credentials are wrong.
    pub auth_resp_code: bool,
    /// Every capability line as sent (without terminators).
    pub raw: Vec<String>,
}

impl Pop3Capabilities {
    /// True when the server lists `mechanism` among its SASL mechanisms.
    pub fn has_sasl(&self, mechanism: &str) -> bool {
        self.sasl.iter().any(|m| m.eq_ignore_ascii_case(mechanism))
    }
}

/// Parses the lines of a CAPA response (already unstuffed, terminator excluded).
pub fn parse_capa<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Pop3Capabilities {
    let mut caps = Pop3Capabilities::default();
    for line in lines {
        let text = String::from_utf8_lossy(trim_eol(line)).trim().to_string();
        if text.is_empty() {
            continue;
        }
        let mut words = text.split_ascii_whitespace();
        let name = words.next().unwrap_or_default().to_ascii_uppercase();
        match name.as_str() {
            "USER" => caps.user = true,
            "STLS" => caps.stls = true,
            "SASL" => caps.sasl.extend(words.map(|w| w.to_ascii_uppercase())),
            "UIDL" => caps.uidl = true,
            "TOP" => caps.top = true,
            "PIPELINING" => caps.pipelining = true,
            "RESP-CODES" => caps.resp_codes = true,
            "AUTH-RESP-CODE" => caps.auth_resp_code = true,
            _ => {}
        }
        caps.raw.push(text);
    }
    caps
}

/// The SASL PLAIN initial response (RFC 4616), base64: `\0user\0password`.
pub fn sasl_plain(user: &str, password: &str) -> String {
    let mut raw = Vec::with_capacity(user.len() + password.len() + 2);
    raw.push(0);
    raw.extend_from_slice(user.as_bytes());
    raw.push(0);
    raw.extend_from_slice(password.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// True when a value can be sent as a POP3 command argument (no CR, LF or NUL).
pub fn is_safe_argument(value: &str) -> bool {
    !value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_reply(b"+OK Dovecot ready.\r\n"), Some(Reply::Ok("Dovecot ready.".into())));
        assert_eq!(parse_reply(b"+OK\r\n"), Some(Reply::Ok(String::new())));
        assert_eq!(parse_reply(b"+ok lower\n"), Some(Reply::Ok("lower".into())));
        assert_eq!(
            parse_reply(b"-ERR [AUTH] Authentication failed.\r\n"),
            Some(Reply::Err { code: Some(RespCode::Auth), text: "Authentication failed.".into() })
        );
        assert_eq!(
            parse_reply(b"-ERR [IN-USE] Mailbox is locked\r\n"),
            Some(Reply::Err { code: Some(RespCode::InUse), text: "Mailbox is locked".into() })
        );
        assert_eq!(
            parse_reply(b"-ERR [SYS/TEMP] try later\r\n"),
            Some(Reply::Err { code: Some(RespCode::SysTemp), text: "try later".into() })
        );
        assert_eq!(
            parse_reply(b"-ERR [XFOO] hm\r\n"),
            Some(Reply::Err { code: Some(RespCode::Other("XFOO".into())), text: "hm".into() })
        );
        assert_eq!(
            parse_reply(b"-ERR no such message\r\n"),
            Some(Reply::Err { code: None, text: "no such message".into() })
        );
        assert_eq!(parse_reply(b"+ \r\n"), Some(Reply::Continue(String::new())));
        assert_eq!(parse_reply(b"+ Zm9v\r\n"), Some(Reply::Continue("Zm9v".into())));
        assert_eq!(parse_reply(b"* OK IMAP\r\n"), None);
        assert_eq!(parse_reply(b"+OKAY\r\n"), None);
        assert_eq!(parse_reply(b""), None);
    }

    #[test]
    fn dot_unstuffing() {
        assert_eq!(unstuff(b".\r\n"), Unstuffed::End);
        assert_eq!(unstuff(b".\n"), Unstuffed::End);
        assert_eq!(unstuff(b"..\r\n"), Unstuffed::Data(b".\r\n"));
        assert_eq!(unstuff(b"..hidden\r\n"), Unstuffed::Data(b".hidden\r\n"));
        assert_eq!(unstuff(b"plain\r\n"), Unstuffed::Data(b"plain\r\n"));
        assert_eq!(unstuff(b" .\r\n"), Unstuffed::Data(b" .\r\n"));
        let body =
            b"Subject: x\r\n\r\n..leading dot\r\n...\r\n.. \r\nmid.dle\r\n8-bit \xe9\xff\r\n.\r\nafter\r\n";
        let (out, done) = decode_multiline(body);
        assert!(done);
        assert_eq!(out, b"Subject: x\r\n\r\n.leading dot\r\n..\r\n. \r\nmid.dle\r\n8-bit \xe9\xff\r\n");
        let (out, done) = decode_multiline(b"a\r\nb\r\n");
        assert!(!done);
        assert_eq!(out, b"a\r\nb\r\n");
    }

    #[test]
    fn stat_uidl_list() {
        assert_eq!(parse_stat("2 320"), Some((2, 320)));
        assert_eq!(parse_stat("2 320 extra"), Some((2, 320)));
        assert_eq!(parse_stat("x 320"), None);
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_uidl_line(b"1 000000015e3f1a2b\r\n"), Some((1, "000000015e3f1a2b".into())));
        assert_eq!(
            parse_uidl_line(b"12 whqtswO00WBw418f9t5JxYwZ"),
            Some((12, "whqtswO00WBw418f9t5JxYwZ".into()))
        );
        assert_eq!(parse_uidl_line(b"1\r\n"), None);
        assert_eq!(parse_uidl_line(b"one abc\r\n"), None);
        assert_eq!(parse_uidl_line(&[b'1', b' ', 0xe9, b'\r', b'\n']), None);
        assert_eq!(parse_list_line(b"3 1205\r\n"), Some((3, 1205)));
    }

    #[test]
    fn capa() {
        let lines: Vec<&[u8]> = vec![
            b"CAPA\r\n",
            b"TOP\r\n",
            b"UIDL\r\n",
            b"RESP-CODES\r\n",
            b"PIPELINING\r\n",
            b"AUTH-RESP-CODE\r\n",
            b"STLS\r\n",
            b"USER\r\n",
            b"SASL PLAIN login\r\n",
        ];
        let caps = parse_capa(lines);
        assert!(caps.top && caps.uidl && caps.resp_codes && caps.pipelining && caps.auth_resp_code);
        assert!(caps.stls && caps.user);
        assert!(caps.has_sasl("plain") && caps.has_sasl("LOGIN") && !caps.has_sasl("CRAM-MD5"));
        assert_eq!(caps.raw.len(), 9);
        let none = parse_capa(Vec::<&[u8]>::new());
        assert!(!none.user && !none.stls && none.sasl.is_empty());
    }

    #[test]
    fn sasl_plain_encoding() {
        // RFC 4616 example shape: "\0tim\0tanstaaftanstaaf".
        assert_eq!(sasl_plain("tim", "tanstaaftanstaaf"), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
        assert!(is_safe_argument("anna@example.com"));
        assert!(!is_safe_argument("anna\r\nDELE 1"));
    }
}
