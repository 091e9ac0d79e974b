//! A tiny POP3 client for checking that the POP3 and POP3S services answer
//! and authenticate.

use std::sync::Arc;

use crate::error::{HarnessError, Result};
use crate::wire::Conn;

const SERVER: &str = "pop3";

/// A POP3 session.
#[derive(Debug)]
pub struct Pop3Client {
    conn: Conn,
    /// The server's greeting line.
    pub greeting: String,
}

impl Pop3Client {
    /// Connects over plain TCP and reads the greeting.
    pub async fn connect(host: &str, port: u16) -> Result<Pop3Client> {
        Pop3Client::greet(Conn::connect(SERVER, host, port).await?).await
    }

    /// Connects with implicit TLS (POP3S), verifying the server as `server_name`.
    pub async fn connect_tls(
        host: &str,
        port: u16,
        server_name: &str,
        config: Arc<rustls::ClientConfig>,
    ) -> Result<Pop3Client> {
        Pop3Client::greet(Conn::connect_tls(SERVER, host, port, server_name, config).await?).await
    }

    async fn greet(mut conn: Conn) -> Result<Pop3Client> {
        let greeting = conn.read_text_line().await?;
        if !greeting.starts_with("+OK") {
            return Err(HarnessError::protocol(SERVER, "greeting", greeting));
        }
        Ok(Pop3Client { conn, greeting })
    }

    /// True when the session is protected by TLS.
    pub fn is_tls(&self) -> bool {
        self.conn.is_tls()
    }

    /// Sends a command and returns the `+OK` line, or an error with the `-ERR` line.
    pub async fn command(&mut self, line: &str) -> Result<String> {
        self.conn.write_all(format!("{line}\r\n").as_bytes()).await?;
        let reply = self.conn.read_text_line().await?;
        if reply.starts_with("+OK") {
            Ok(reply)
        } else {
            let shown = if line.starts_with("PASS") { "PASS" } else { line };
            Err(HarnessError::protocol(SERVER, shown.to_string(), reply))
        }
    }

    /// USER + PASS.
    pub async fn login(&mut self, user: &str, password: &str) -> Result<()> {
        self.command(&format!("USER {user}")).await?;
        self.command(&format!("PASS {password}")).await?;
        Ok(())
    }

    /// STAT: (message count, total size in octets).
    pub async fn stat(&mut self) -> Result<(u32, u64)> {
        let reply = self.command("STAT").await?;
        let mut parts = reply.split_whitespace().skip(1);
        let count = parts.next().and_then(|c| c.parse().ok());
        let size = parts.next().and_then(|s| s.parse().ok());
        match (count, size) {
            (Some(c), Some(s)) => Ok((c, s)),
            _ => Err(HarnessError::protocol(SERVER, "STAT", reply)),
        }
    }

    /// QUIT and close, ignoring errors.
    pub async fn quit(mut self) {
        let _ = self.command("QUIT").await;
        self.conn.shutdown().await;
    }
}
