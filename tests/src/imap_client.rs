//! A tiny IMAP4rev1 client, just enough for tests to look into and prepare
//! mailboxes: LOGIN, SELECT/EXAMINE, STATUS, LIST, CREATE, APPEND, UID FETCH.
//! Mailbox names are ASCII (no modified UTF-7).

use std::sync::Arc;

use crate::error::{HarnessError, Result};
use crate::wire::Conn;

const SERVER: &str = "imap";

/// One message as stored on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMessage {
    /// The message's UID in its folder.
    pub uid: u32,
    /// Its flags, e.g. `\Seen`; the session-dependent `\Recent` is left out.
    pub flags: Vec<String>,
    /// The full message (`BODY[]`), byte for byte as the server returns it.
    pub raw: Vec<u8>,
}

impl FetchedMessage {
    /// True when the message carries `flag` (case-insensitive).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }
}

/// What SELECT or EXAMINE reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailboxInfo {
    /// UIDVALIDITY.
    pub uidvalidity: u32,
    /// UIDNEXT.
    pub uidnext: u32,
    /// Number of messages.
    pub exists: u32,
}

/// One LIST entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// Attributes such as `\Sent` or `\HasNoChildren`.
    pub attributes: Vec<String>,
    /// The mailbox name.
    pub name: String,
}

/// One response: text pieces and the literals between them, in order.
#[derive(Debug, Default)]
struct Response {
    text: String,
    literals: Vec<Vec<u8>>,
}

/// An IMAP session.
#[derive(Debug)]
pub struct ImapClient {
    conn: Conn,
    next_tag: u32,
    /// The server's greeting line.
    pub greeting: String,
}

impl ImapClient {
    /// Connects over plain TCP and reads the greeting.
    pub async fn connect(host: &str, port: u16) -> Result<ImapClient> {
        ImapClient::greet(Conn::connect(SERVER, host, port).await?).await
    }

    /// Connects with implicit TLS (IMAPS), verifying the server as `server_name`.
    pub async fn connect_tls(
        host: &str,
        port: u16,
        server_name: &str,
        config: Arc<rustls::ClientConfig>,
    ) -> Result<ImapClient> {
        ImapClient::greet(Conn::connect_tls(SERVER, host, port, server_name, config).await?).await
    }

    async fn greet(mut conn: Conn) -> Result<ImapClient> {
        let greeting = conn.read_text_line().await?;
        if !greeting.starts_with("* OK") {
            return Err(HarnessError::protocol(SERVER, "greeting", greeting));
        }
        Ok(ImapClient { conn, next_tag: 1, greeting })
    }

    /// True when the session is protected by TLS.
    pub fn is_tls(&self) -> bool {
        self.conn.is_tls()
    }

    async fn read_response(&mut self) -> Result<Response> {
        let mut response = Response::default();
        loop {
            let line = self.conn.read_line().await?;
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            if let Some(n) = literal_len(text) {
                response.text.push_str(&text[..text.rfind('{').unwrap_or(text.len())]);
                response.text.push('\u{0}');
                let literal = self.conn.read_exact(n).await?;
                response.literals.push(literal);
            } else {
                response.text.push_str(text);
                return Ok(response);
            }
        }
    }

    /// Runs one command (without tag) and returns the untagged responses, or a
    /// [`HarnessError::Protocol`] with the tagged reply if it is not OK.
    async fn run(&mut self, command: &str) -> Result<Vec<Response>> {
        let tag = format!("h{}", self.next_tag);
        self.next_tag += 1;
        self.conn.write_all(format!("{tag} {command}\r\n").as_bytes()).await?;
        self.collect(&tag, command).await
    }

    async fn collect(&mut self, tag: &str, command: &str) -> Result<Vec<Response>> {
        let mut untagged = Vec::new();
        loop {
            let response = self.read_response().await?;
            if let Some(rest) = response.text.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')) {
                if rest.starts_with("OK") {
                    return Ok(untagged);
                }
                let shown = if command.starts_with("LOGIN") { "LOGIN" } else { command };
                return Err(HarnessError::protocol(SERVER, shown.to_string(), response.text));
            }
            untagged.push(response);
        }
    }

    /// LOGIN with a user name and password.
    pub async fn login(&mut self, user: &str, password: &str) -> Result<()> {
        self.run(&format!("LOGIN {} {}", quote(user), quote(password))).await?;
        Ok(())
    }

    /// CAPABILITY: the capability names, upper-case.
    pub async fn capabilities(&mut self) -> Result<Vec<String>> {
        let responses = self.run("CAPABILITY").await?;
        Ok(responses
            .iter()
            .filter_map(|r| r.text.strip_prefix("* CAPABILITY "))
            .flat_map(|t| t.split_whitespace().map(|c| c.to_ascii_uppercase()))
            .collect())
    }

    /// SELECT a mailbox (read-write).
    pub async fn select(&mut self, mailbox: &str) -> Result<MailboxInfo> {
        let responses = self.run(&format!("SELECT {}", quote(mailbox))).await?;
        Ok(mailbox_info(&responses))
    }

    /// EXAMINE a mailbox (read-only).
    pub async fn examine(&mut self, mailbox: &str) -> Result<MailboxInfo> {
        let responses = self.run(&format!("EXAMINE {}", quote(mailbox))).await?;
        Ok(mailbox_info(&responses))
    }

    /// STATUS (UIDVALIDITY UIDNEXT MESSAGES) without selecting.
    pub async fn status(&mut self, mailbox: &str) -> Result<MailboxInfo> {
        let responses =
            self.run(&format!("STATUS {} (UIDVALIDITY UIDNEXT MESSAGES)", quote(mailbox))).await?;
        let mut info = MailboxInfo::default();
        for r in &responses {
            if r.text.starts_with("* STATUS ") {
                info.uidvalidity = number_after(&r.text, "UIDVALIDITY ").unwrap_or(0);
                info.uidnext = number_after(&r.text, "UIDNEXT ").unwrap_or(0);
                info.exists = number_after(&r.text, "MESSAGES ").unwrap_or(0);
            }
        }
        Ok(info)
    }

    /// LIST "" "*".
    pub async fn list(&mut self) -> Result<Vec<ListEntry>> {
        let responses = self.run("LIST \"\" \"*\"").await?;
        Ok(responses.iter().filter_map(|r| parse_list(&r.text, &r.literals)).collect())
    }

    /// CREATE a mailbox.
    pub async fn create(&mut self, mailbox: &str) -> Result<()> {
        self.run(&format!("CREATE {}", quote(mailbox))).await?;
        Ok(())
    }

    /// APPEND a message with `flags` (e.g. `["\\Seen"]`); returns the new UID
    /// when the server reports it (UIDPLUS).
    pub async fn append(&mut self, mailbox: &str, flags: &[&str], raw: &[u8]) -> Result<Option<u32>> {
        let tag = format!("h{}", self.next_tag);
        self.next_tag += 1;
        let command = format!("APPEND {} ({}) {{{}}}", quote(mailbox), flags.join(" "), raw.len());
        self.conn.write_all(format!("{tag} {command}\r\n").as_bytes()).await?;
        let cont = self.read_response().await?;
        if !cont.text.starts_with('+') {
            return Err(HarnessError::protocol(SERVER, command, cont.text));
        }
        let mut body = raw.to_vec();
        body.extend_from_slice(b"\r\n");
        self.conn.write_all(&body).await?;
        // The tagged OK carries [APPENDUID validity uid]; read it ourselves.
        loop {
            let response = self.read_response().await?;
            if let Some(rest) = response.text.strip_prefix(&tag).and_then(|r| r.strip_prefix(' ')) {
                if !rest.starts_with("OK") {
                    return Err(HarnessError::protocol(SERVER, command, response.text));
                }
                let uid = rest
                    .split("[APPENDUID ")
                    .nth(1)
                    .and_then(|r| r.split([' ', ']']).nth(1))
                    .and_then(|u| u.parse().ok());
                return Ok(uid);
            }
        }
    }

    /// UID FETCH 1:* (UID FLAGS BODY.PEEK[]) in the selected mailbox, sorted by
    /// UID. Does not set \Seen.
    pub async fn fetch_all(&mut self) -> Result<Vec<FetchedMessage>> {
        let responses = self.run("UID FETCH 1:* (UID FLAGS BODY.PEEK[])").await?;
        let mut messages: Vec<FetchedMessage> = responses.iter().filter_map(parse_fetch).collect();
        messages.sort_by_key(|m| m.uid);
        Ok(messages)
    }

    /// Sends any command and returns the untagged response lines (literals
    /// replaced by `{literal}`), for what the helpers do not cover.
    pub async fn raw_command(&mut self, command: &str) -> Result<Vec<String>> {
        let responses = self.run(command).await?;
        Ok(responses.into_iter().map(|r| r.text.replace('\u{0}', "{literal}")).collect())
    }

    /// LOGOUT and close the connection, ignoring errors.
    pub async fn logout(mut self) {
        let _ = self.run("LOGOUT").await;
        self.conn.shutdown().await;
    }
}

/// The length of the literal announced at the end of `line`, if any.
fn literal_len(line: &str) -> Option<usize> {
    let inner = line.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    inner[open + 1..].trim_end_matches('+').parse().ok()
}

/// Quotes a string for IMAP.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn number_after(text: &str, key: &str) -> Option<u32> {
    let start = text.find(key)? + key.len();
    let digits: String = text[start..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

fn mailbox_info(responses: &[Response]) -> MailboxInfo {
    let mut info = MailboxInfo::default();
    for r in responses {
        if let Some(v) = number_after(&r.text, "[UIDVALIDITY ") {
            info.uidvalidity = v;
        }
        if let Some(v) = number_after(&r.text, "[UIDNEXT ") {
            info.uidnext = v;
        }
        if r.text.ends_with(" EXISTS") {
            info.exists = number_after(&r.text, "* ").unwrap_or(0);
        }
    }
    info
}

fn parse_fetch(r: &Response) -> Option<FetchedMessage> {
    let text = &r.text;
    let after_star = text.strip_prefix("* ")?;
    let rest = after_star.split_once(' ')?.1;
    if !rest.starts_with("FETCH") {
        return None;
    }
    let uid = number_after(text, "UID ")?;
    let flags = text
        .split_once("FLAGS (")
        .and_then(|(_, f)| f.split_once(')'))
        .map(|(f, _)| {
            f.split_whitespace().filter(|f| !f.eq_ignore_ascii_case("\\Recent")).map(String::from).collect()
        })
        .unwrap_or_default();
    let body_pos = text.find("BODY[]")?;
    let raw = if text[body_pos..].starts_with("BODY[] \u{0}") {
        let index = text[..body_pos].matches('\u{0}').count();
        r.literals.get(index)?.clone()
    } else {
        // Quoted string or NIL: only for empty or tiny bodies.
        let value = text[body_pos + 6..].trim_start();
        if let Some(q) = value.strip_prefix('"') {
            q.split('"').next().unwrap_or("").as_bytes().to_vec()
        } else {
            Vec::new()
        }
    };
    Some(FetchedMessage { uid, flags, raw })
}

fn parse_list(text: &str, literals: &[Vec<u8>]) -> Option<ListEntry> {
    let rest = text.strip_prefix("* LIST (")?;
    let (attrs, rest) = rest.split_once(')')?;
    let rest = rest.trim_start();
    // Skip the delimiter: a quoted character or NIL.
    let rest = if let Some(r) = rest.strip_prefix("NIL") {
        r
    } else {
        let r = rest.strip_prefix('"')?;
        let r = r.strip_prefix('\\').unwrap_or(r);
        r.get(1..)?.strip_prefix('"')?
    };
    let name = rest.trim();
    let name = if name == "\u{0}" {
        String::from_utf8_lossy(literals.first()?).into_owned()
    } else if let Some(q) = name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        q.replace("\\\"", "\"").replace("\\\\", "\\")
    } else {
        name.to_string()
    };
    Some(ListEntry { attributes: attrs.split_whitespace().map(String::from).collect(), name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_lengths_are_recognised() {
        assert_eq!(literal_len("* 1 FETCH (UID 1 BODY[] {79}"), Some(79));
        assert_eq!(literal_len("h1 APPEND x {5+}"), Some(5));
        assert_eq!(literal_len("* OK done"), None);
    }

    #[test]
    fn fetch_response_yields_uid_flags_and_body() {
        let r = Response {
            text: "* 3 FETCH (UID 7 FLAGS (\\Seen \\Recent) BODY[] \u{0})".into(),
            literals: vec![b"Subject: x\r\n\r\nbody".to_vec()],
        };
        let m = parse_fetch(&r).unwrap();
        assert_eq!(m.uid, 7);
        assert_eq!(m.flags, vec!["\\Seen".to_string()]);
        assert_eq!(m.raw, b"Subject: x\r\n\r\nbody");
    }

    #[test]
    fn list_response_yields_attributes_and_name() {
        let e = parse_list("* LIST (\\HasNoChildren \\Sent) \"/\" Sent", &[]).unwrap();
        assert_eq!(e.name, "Sent");
        assert!(e.attributes.contains(&"\\Sent".to_string()));
        let e = parse_list("* LIST (\\HasNoChildren) \"/\" \"Two Words\"", &[]).unwrap();
        assert_eq!(e.name, "Two Words");
    }
}
