//! A small SMTP/LMTP client that exposes every reply, so tests can check the
//! exact codes a server answers (e.g. 550 at RCPT, 451 at RCPT).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::error::{HarnessError, Result};
use crate::wire::{Conn, dot_stuff};

/// One SMTP reply: the code and the text of every line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpReply {
    /// The three-digit reply code.
    pub code: u16,
    /// The text after the code on each line.
    pub lines: Vec<String>,
}

impl SmtpReply {
    /// 2xx or 3xx.
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// All lines joined with newlines.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// True when any line (e.g. an EHLO keyword) starts with `prefix`,
    /// compared case-insensitively.
    pub fn has_line_starting(&self, prefix: &str) -> bool {
        let prefix = prefix.to_ascii_uppercase();
        self.lines.iter().any(|l| l.to_ascii_uppercase().starts_with(&prefix))
    }
}

impl std::fmt::Display for SmtpReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.lines.join(" / "))
    }
}

/// An SMTP or LMTP session.
#[derive(Debug)]
pub struct SmtpClient {
    conn: Conn,
    server: &'static str,
    /// The server's greeting (220 ...).
    pub greeting: SmtpReply,
}

impl SmtpClient {
    /// Connects over plain TCP and reads the greeting. `server` labels errors
    /// (use "smtp" or "lmtp").
    pub async fn connect(server: &'static str, host: &str, port: u16) -> Result<SmtpClient> {
        let conn = Conn::connect(server, host, port).await?;
        SmtpClient::greet(server, conn).await
    }

    /// Connects with implicit TLS (SMTPS, port-465 style) and reads the greeting.
    pub async fn connect_tls(
        server: &'static str,
        host: &str,
        port: u16,
        server_name: &str,
        config: Arc<rustls::ClientConfig>,
    ) -> Result<SmtpClient> {
        let conn = Conn::connect_tls(server, host, port, server_name, config).await?;
        SmtpClient::greet(server, conn).await
    }

    async fn greet(server: &'static str, conn: Conn) -> Result<SmtpClient> {
        let mut client = SmtpClient { conn, server, greeting: SmtpReply { code: 0, lines: vec![] } };
        let greeting = client.read_reply().await?;
        if greeting.code != 220 {
            return Err(HarnessError::protocol(server, "greeting", greeting.to_string()));
        }
        client.greeting = greeting;
        Ok(client)
    }

    /// True when the session is protected by TLS.
    pub fn is_tls(&self) -> bool {
        self.conn.is_tls()
    }

    /// Reads one (possibly multi-line) reply.
    pub async fn read_reply(&mut self) -> Result<SmtpReply> {
        let mut lines = Vec::new();
        loop {
            let line = self.conn.read_text_line().await?;
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| HarnessError::protocol(self.server, "read reply", line.clone()))?;
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_string());
            if !more {
                return Ok(SmtpReply { code, lines });
            }
        }
    }

    /// Sends one command line (CRLF added) and returns the reply, whatever it is.
    pub async fn command(&mut self, line: &str) -> Result<SmtpReply> {
        self.conn.write_all(format!("{line}\r\n").as_bytes()).await?;
        self.read_reply().await
    }

    /// Sends a command and fails unless the reply code is `expect`.
    pub async fn expect(&mut self, line: &str, expect: u16) -> Result<SmtpReply> {
        let reply = self.command(line).await?;
        if reply.code != expect {
            let shown = if line.starts_with("AUTH") { "AUTH ..." } else { line };
            return Err(HarnessError::protocol(self.server, shown.to_string(), reply.to_string()));
        }
        Ok(reply)
    }

    /// EHLO; the reply lists the extensions.
    pub async fn ehlo(&mut self, name: &str) -> Result<SmtpReply> {
        self.expect(&format!("EHLO {name}"), 250).await
    }

    /// LHLO (LMTP); the reply lists the extensions.
    pub async fn lhlo(&mut self, name: &str) -> Result<SmtpReply> {
        self.expect(&format!("LHLO {name}"), 250).await
    }

    /// STARTTLS, then the TLS handshake, verifying the server as `server_name`.
    /// Send EHLO again afterwards.
    pub async fn starttls(self, server_name: &str, config: Arc<rustls::ClientConfig>) -> Result<SmtpClient> {
        let mut this = self;
        this.expect("STARTTLS", 220).await?;
        let SmtpClient { conn, server, greeting } = this;
        let conn = conn.upgrade_tls(server_name, config).await?;
        Ok(SmtpClient { conn, server, greeting })
    }

    /// AUTH PLAIN with an initial response; returns the reply (235 on success).
    pub async fn auth_plain(&mut self, user: &str, password: &str) -> Result<SmtpReply> {
        let token = B64.encode(format!("\0{user}\0{password}"));
        self.command(&format!("AUTH PLAIN {token}")).await
    }

    /// AUTH LOGIN; returns the final reply (235 on success).
    pub async fn auth_login(&mut self, user: &str, password: &str) -> Result<SmtpReply> {
        let reply = self.command("AUTH LOGIN").await?;
        if reply.code != 334 {
            return Ok(reply);
        }
        let reply = self.command(&B64.encode(user)).await?;
        if reply.code != 334 {
            return Ok(reply);
        }
        self.command(&B64.encode(password)).await
    }

    /// MAIL FROM:<addr>; returns the reply.
    pub async fn mail_from(&mut self, addr: &str) -> Result<SmtpReply> {
        self.command(&format!("MAIL FROM:<{addr}>")).await
    }

    /// RCPT TO:<addr>; returns the reply (tests look at its code).
    pub async fn rcpt_to(&mut self, addr: &str) -> Result<SmtpReply> {
        self.command(&format!("RCPT TO:<{addr}>")).await
    }

    /// DATA: sends the message (CRLF-normalised, dot-stuffed) and returns the
    /// final reply. For LMTP, read the remaining per-recipient replies with
    /// [`SmtpClient::read_reply`].
    pub async fn data(&mut self, raw: &[u8]) -> Result<SmtpReply> {
        self.expect("DATA", 354).await?;
        self.conn.write_all(&dot_stuff(raw)).await?;
        self.read_reply().await
    }

    /// QUIT and close the connection, ignoring errors.
    pub async fn quit(mut self) {
        let _ = self.command("QUIT").await;
        self.conn.shutdown().await;
    }
}

/// Sends one message in one session: optional AUTH PLAIN, MAIL, RCPT for every
/// recipient, DATA. Fails with the first negative reply.
pub async fn send_mail(
    host: &str,
    port: u16,
    auth: Option<(&str, &str)>,
    from: &str,
    to: &[&str],
    raw: &[u8],
) -> Result<SmtpReply> {
    let mut client = SmtpClient::connect("smtp", host, port).await?;
    client.ehlo("client.crmsync-harness.test").await?;
    if let Some((user, password)) = auth {
        let reply = client.auth_plain(user, password).await?;
        if reply.code != 235 {
            return Err(HarnessError::protocol("smtp", "AUTH PLAIN", reply.to_string()));
        }
    }
    let reply = client.mail_from(from).await?;
    if !reply.is_positive() {
        return Err(HarnessError::protocol("smtp", format!("MAIL FROM:<{from}>"), reply.to_string()));
    }
    for rcpt in to {
        let reply = client.rcpt_to(rcpt).await?;
        if !reply.is_positive() {
            return Err(HarnessError::protocol("smtp", format!("RCPT TO:<{rcpt}>"), reply.to_string()));
        }
    }
    let reply = client.data(raw).await?;
    if reply.code != 250 {
        return Err(HarnessError::protocol("smtp", "DATA", reply.to_string()));
    }
    client.quit().await;
    Ok(reply)
}
