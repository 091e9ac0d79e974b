//! The SMTP wire format (RFC 5321, RFC 2920 PIPELINING): replies, EHLO
//! keywords, commands and the DATA payload. Pure functions, no I/O; the
//! session that uses them is [`crate::smtp`].

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// Most lines accepted in one reply (an EHLO reply has a dozen).
const MAX_REPLY_LINES: usize = 256;

/// One SMTP reply: the three-digit code and the text of every line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply code (e.g. 250).
    pub code: u16,
    /// The text after the code on each line (enhanced status codes included).
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx: the command succeeded.
    pub fn is_ok(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 4xx: refused for now; the same command may work later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// The text of all lines, joined by spaces.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lines.iter().all(|l| l.is_empty()) {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{} {}", self.code, self.text())
        }
    }
}

/// Collects the lines of one (possibly multi-line) reply.
#[derive(Debug, Default)]
pub struct ReplyReader {
    code: Option<u16>,
    lines: Vec<String>,
}

impl ReplyReader {
    /// A reader for the next reply.
    pub fn new() -> ReplyReader {
        ReplyReader::default()
    }

    /// Takes one line (with or without its CRLF). Returns the reply after its
    /// last line (`250 ...`, as opposed to `250-...`), `None` while more lines
    /// follow, or an error naming what is wrong with the line.
    pub fn feed(&mut self, line: &[u8]) -> Result<Option<Reply>, String> {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches(['\r', '\n']);
        let bytes = line.as_bytes();
        if bytes.len() < 3 || !bytes[..3].iter().all(u8::is_ascii_digit) {
            return Err(format!("not an SMTP reply line: {:?}", truncate(line)));
        }
        let code: u16 = line[..3].parse().expect("three ASCII digits");
        if !(200..600).contains(&code) {
            return Err(format!("reply code {code} is out of range"));
        }
        if let Some(first) = self.code
            && first != code
        {
            return Err(format!("reply lines disagree on the code ({first}, then {code})"));
        }
        let (last, text) = match bytes.get(3) {
            None => (true, ""),
            Some(b' ') => (true, &line[4..]),
            Some(b'-') => (false, &line[4..]),
            Some(_) => return Err(format!("not an SMTP reply line: {:?}", truncate(line))),
        };
        if self.lines.len() >= MAX_REPLY_LINES {
            return Err(format!("a reply of more than {MAX_REPLY_LINES} lines"));
        }
        self.code = Some(code);
        self.lines.push(text.to_string());
        Ok(last.then(|| Reply { code, lines: std::mem::take(&mut self.lines) }))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// What the server offers after EHLO.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    /// RFC 2920: commands may be sent in groups.
    pub pipelining: bool,
    /// RFC 3207.
    pub starttls: bool,
    /// RFC 6152: 8-bit message bodies.
    pub eight_bit_mime: bool,
    /// RFC 6531: non-ASCII addresses.
    pub smtp_utf8: bool,
    /// SASL mechanisms offered, upper case.
    pub auth: Vec<String>,
    /// RFC 1870: the largest message accepted, when announced (0 = no limit).
    pub size: Option<u64>,
}

impl Extensions {
    /// Reads the keywords of an EHLO reply (its first line is the server's name).
    pub fn from_ehlo(reply: &Reply) -> Extensions {
        let mut ext = Extensions::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            let Some(keyword) = words.next() else { continue };
            match keyword.to_ascii_uppercase().as_str() {
                "PIPELINING" => ext.pipelining = true,
                "STARTTLS" => ext.starttls = true,
                "8BITMIME" => ext.eight_bit_mime = true,
                "SMTPUTF8" => ext.smtp_utf8 = true,
                "SIZE" => ext.size = words.next().and_then(|n| n.parse().ok()),
                "AUTH" => {
                    for m in words {
                        let m = m.to_ascii_uppercase();
                        if !ext.auth.contains(&m) {
                            ext.auth.push(m);
                        }
                    }
                }
                _ => {}
            }
        }
        ext
    }
}

/// Checks an envelope address: one `local@domain`, no spaces, angle brackets
/// or control characters (which could inject a command).
pub fn check_address(address: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("'{address}' is not a valid address: {why}"));
    if address.chars().any(|c| c.is_control() || c.is_whitespace() || c == '<' || c == '>') {
        return bad("it contains a space, a control character or an angle bracket");
    }
    match address.rsplit_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && (!local.contains('@') || local.starts_with('"')) =>
        {
            Ok(())
        }
        _ => bad("it needs one local part, an @ and a domain"),
    }
}

/// `MAIL FROM:<sender>` with BODY=8BITMIME and SMTPUTF8 when asked.
pub fn mail_from(sender: &str, eight_bit: bool, utf8: bool) -> String {
    let mut cmd = format!("MAIL FROM:<{sender}>");
    if eight_bit {
        cmd.push_str(" BODY=8BITMIME");
    }
    if utf8 {
        cmd.push_str(" SMTPUTF8");
    }
    cmd.push_str("\r\n");
    cmd
}

/// `RCPT TO:<recipient>`.
pub fn rcpt_to(recipient: &str) -> String {
    format!("RCPT TO:<{recipient}>\r\n")
}

/// The initial response of `AUTH PLAIN` (RFC 4616), base64.
pub fn auth_plain(user: &str, password: &str) -> String {
    B64.encode(format!("\0{user}\0{password}"))
}

/// The longest `AUTH` command line (CRLF included) that carries its initial
/// response: Postfix cuts command lines at 2048 bytes (`line_length_limit`)
/// and then refuses the response as invalid base64. A longer one (a
/// real-size OAuth2 token) is sent in two steps, after the server's `334`
/// (RFC 4954 4).
pub const MAX_AUTH_LINE: usize = 2048;

/// The `AUTH` command for `mechanism` with the base64 `initial` response:
/// `(line, true)` with the response on the line when it fits in
/// [`MAX_AUTH_LINE`], else `(line without it, false)`: send it after `334`.
pub fn auth_command(mechanism: &str, initial: &str) -> (String, bool) {
    let line = format!("AUTH {mechanism} {initial}\r\n");
    if line.len() <= MAX_AUTH_LINE { (line, true) } else { (format!("AUTH {mechanism}\r\n"), false) }
}

/// One base64 line for `AUTH LOGIN`.
pub fn base64_line(s: &str) -> String {
    B64.encode(s)
}

/// The DATA payload for `message`: line ends made CRLF, a line starting with
/// "." doubled (RFC 5321 4.5.2), a final CRLF when missing, then ".\r\n".
pub fn data_payload(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 8);
    let mut line_start = true;
    let mut i = 0;
    while i < message.len() {
        let b = message[i];
        if line_start && b == b'.' {
            out.push(b'.');
        }
        match b {
            b'\r' if message.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
                line_start = true;
            }
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                line_start = true;
            }
            _ => {
                out.push(b);
                line_start = false;
            }
        }
        i += 1;
    }
    if !line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_initial_responses_go_in_two_steps() {
        let short = "a".repeat(MAX_AUTH_LINE - "AUTH XOAUTH2 \r\n".len());
        assert_eq!(auth_command("XOAUTH2", &short), (format!("AUTH XOAUTH2 {short}\r\n"), true));
        let long = format!("{short}a");
        assert_eq!(auth_command("XOAUTH2", &long), ("AUTH XOAUTH2\r\n".to_string(), false));
    }

    fn read(lines: &[&str]) -> Result<Reply, String> {
        let mut r = ReplyReader::new();
        for (i, l) in lines.iter().enumerate() {
            if let Some(reply) = r.feed(l.as_bytes())? {
                assert_eq!(i, lines.len() - 1, "the reply ended early");
                return Ok(reply);
            }
        }
        Err("no last line".into())
    }

    #[test]
    fn a_multi_line_reply_ends_at_the_line_with_a_space_after_the_code() {
        let r = read(&["250-mx.example.test\r\n", "250-PIPELINING\r\n", "250 8BITMIME\r\n"]).unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(r.lines, ["mx.example.test", "PIPELINING", "8BITMIME"]);
        assert_eq!(read(&["354 End data with <CR><LF>.<CR><LF>"]).unwrap().code, 354);
        assert_eq!(read(&["250\r\n"]).unwrap().to_string(), "250");
    }

    #[test]
    fn replies_that_are_not_smtp_are_refused_with_the_line() {
        assert!(read(&["* OK IMAP4rev1\r\n"]).unwrap_err().contains("IMAP4rev1"));
        assert!(read(&["25 short"]).is_err());
        assert!(read(&["250x no separator"]).is_err());
        assert!(read(&["999 out of range"]).is_err());
        assert!(read(&["250-first", "251 second"]).unwrap_err().contains("disagree"));
        let endless: Vec<String> = (0..300).map(|i| format!("250-line {i}")).collect();
        let mut r = ReplyReader::new();
        let err = endless.iter().find_map(|l| r.feed(l.as_bytes()).err()).unwrap();
        assert!(err.contains("more than"), "{err}");
    }

    #[test]
    fn ehlo_keywords_are_read_case_insensitively() {
        let r = read(&[
            "250-mx.example.test Hello",
            "250-pipelining",
            "250-SIZE 10240000",
            "250-STARTTLS",
            "250-AUTH PLAIN login",
            "250-AUTH=PLAIN",
            "250-8BITMIME",
            "250 SMTPUTF8",
        ])
        .unwrap();
        let ext = Extensions::from_ehlo(&r);
        assert!(ext.pipelining && ext.starttls && ext.eight_bit_mime && ext.smtp_utf8);
        assert_eq!(ext.auth, ["PLAIN", "LOGIN"]);
        assert_eq!(ext.size, Some(10_240_000));
        let bare = Extensions::from_ehlo(&read(&["250 mx.example.test"]).unwrap());
        assert_eq!(bare, Extensions::default());
    }

    #[test]
    fn an_address_that_could_inject_a_command_is_refused() {
        assert!(check_address("alice@example.test").is_ok());
        assert!(check_address("jöhn@exämple.test").is_ok());
        for bad in ["alice", "@example.test", "alice@", "a b@example.test", "a@x>\r\nRCPT TO:<b@y", "a@b@c"] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_data_payload_doubles_leading_dots_and_ends_with_a_lone_dot() {
        assert_eq!(
            data_payload(b"Subject: x\r\n\r\n.hidden\r\nok\r\n"),
            b"Subject: x\r\n\r\n..hidden\r\nok\r\n.\r\n"
        );
        assert_eq!(data_payload(b".\r\n"), b"..\r\n.\r\n");
        assert_eq!(data_payload(b"bare\nlf\rcr"), b"bare\r\nlf\r\ncr\r\n.\r\n");
        assert_eq!(data_payload(b"a.b\r\n..c"), b"a.b\r\n...c\r\n.\r\n");
        assert_eq!(data_payload(b""), b".\r\n");
    }

    #[test]
    fn commands_follow_rfc_5321_syntax() {
        assert_eq!(mail_from("a@b.test", false, false), "MAIL FROM:<a@b.test>\r\n");
        assert_eq!(mail_from("a@b.test", true, true), "MAIL FROM:<a@b.test> BODY=8BITMIME SMTPUTF8\r\n");
        assert_eq!(rcpt_to("c@d.test"), "RCPT TO:<c@d.test>\r\n");
        assert_eq!(auth_plain("alice", "secret"), "AGFsaWNlAHNlY3JldA==");
    }
}
