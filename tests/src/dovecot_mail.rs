//! Mail helpers of [`Dovecot`]: LMTP delivery and IMAP access to mailboxes.
//!
//! Delivery speaks LMTP over TCP; reading and preparing folders uses the
//! harness's own IMAP client over plain TCP with LOGIN.

use std::time::{Duration, Instant};

use crate::dovecot::Dovecot;
use crate::error::{HarnessError, Result};
use crate::imap_client::{FetchedMessage, ImapClient, ListEntry};
use crate::smtp_client::SmtpClient;

impl Dovecot {
    /// Delivers `raw` to `local`'s INBOX over LMTP with the null envelope
    /// sender. Line endings are sent as CRLF and leading dots are stuffed.
    /// Dovecot prepends one header, `Return-Path: <>`, to the stored message
    /// (Received and Delivered-To are switched off).
    pub async fn deliver(&self, local: &str, raw: &[u8]) -> Result<()> {
        self.deliver_from(local, "", raw).await
    }

    /// Like [`Dovecot::deliver`] with envelope sender `sender` (stored as
    /// `Return-Path: <sender>`). `local` may also be a full address.
    pub async fn deliver_from(&self, local: &str, sender: &str, raw: &[u8]) -> Result<()> {
        let rcpt = if local.contains('@') { local.to_string() } else { self.address(local) };
        let mut lmtp = SmtpClient::connect("lmtp", self.host(), self.lmtp_port()).await?;
        lmtp.lhlo("harness.crmsync.test").await?;
        let reply = lmtp.mail_from(sender).await?;
        if reply.code != 250 {
            return Err(HarnessError::protocol("lmtp", format!("MAIL FROM:<{sender}>"), reply.to_string()));
        }
        let reply = lmtp.rcpt_to(&rcpt).await?;
        if reply.code != 250 {
            return Err(HarnessError::protocol("lmtp", format!("RCPT TO:<{rcpt}>"), reply.to_string()));
        }
        let reply = lmtp.data(raw).await?;
        if reply.code != 250 {
            return Err(HarnessError::protocol("lmtp", format!("DATA for {rcpt}"), reply.to_string()));
        }
        lmtp.quit().await;
        Ok(())
    }

    /// Opens an IMAP session over plain TCP, logged in as `local`.
    pub async fn imap_session(&self, local: &str, password: &str) -> Result<ImapClient> {
        let mut imap = ImapClient::connect(self.host(), self.imap_port()).await?;
        imap.login(local, password).await?;
        Ok(imap)
    }

    /// Every message in `local`'s INBOX, by UID (read-only; flags untouched).
    pub async fn list_inbox(&self, local: &str, password: &str) -> Result<Vec<FetchedMessage>> {
        self.fetch_folder(local, password, "INBOX").await
    }

    /// Every message in `local`'s `folder`, by UID (read-only; flags untouched).
    pub async fn fetch_folder(
        &self,
        local: &str,
        password: &str,
        folder: &str,
    ) -> Result<Vec<FetchedMessage>> {
        let mut imap = self.imap_session(local, password).await?;
        let info = imap.examine(folder).await?;
        let messages = if info.exists == 0 { Vec::new() } else { imap.fetch_all().await? };
        imap.logout().await;
        Ok(messages)
    }

    /// The UIDVALIDITY of `local`'s `folder` (as reported by EXAMINE).
    pub async fn uidvalidity(&self, local: &str, password: &str, folder: &str) -> Result<u32> {
        let mut imap = self.imap_session(local, password).await?;
        let info = imap.examine(folder).await?;
        imap.logout().await;
        Ok(info.uidvalidity)
    }

    /// Creates `folder` (hierarchy separator `/`) for `local`.
    pub async fn create_folder(&self, local: &str, password: &str, folder: &str) -> Result<()> {
        let mut imap = self.imap_session(local, password).await?;
        imap.create(folder).await?;
        imap.logout().await;
        Ok(())
    }

    /// Appends `raw` byte for byte to `local`'s `folder` with `flags` (e.g.
    /// `&["\\Seen"]`); returns the new message's UID.
    pub async fn append(
        &self,
        local: &str,
        password: &str,
        folder: &str,
        flags: &[&str],
        raw: &[u8],
    ) -> Result<u32> {
        let mut imap = self.imap_session(local, password).await?;
        let uid = imap.append(folder, flags, raw).await?;
        imap.logout().await;
        uid.ok_or_else(|| HarnessError::protocol("imap", "APPEND", "no APPENDUID in the reply"))
    }

    /// The folders of `local` with their attributes (LIST "" "*").
    pub async fn list_folders(&self, local: &str, password: &str) -> Result<Vec<ListEntry>> {
        let mut imap = self.imap_session(local, password).await?;
        let folders = imap.list().await?;
        imap.logout().await;
        Ok(folders)
    }

    /// Polls `local`'s `folder` every 100 ms until a message containing
    /// `needle` shows up, and returns it; fails after `timeout` with the tail
    /// of the Dovecot log.
    pub async fn wait_for_message(
        &self,
        local: &str,
        password: &str,
        folder: &str,
        needle: &[u8],
        timeout: Duration,
    ) -> Result<FetchedMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.fetch_folder(local, password, folder).await?;
            if let Some(m) =
                messages.into_iter().find(|m| m.raw.windows(needle.len().max(1)).any(|w| w == needle))
            {
                return Ok(m);
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::Timeout {
                    server: "dovecot",
                    what: format!(
                        "a message containing {:?} in {local}'s {folder}; dovecot log:\n{}",
                        String::from_utf8_lossy(needle),
                        self.log_tail(20)
                    ),
                    timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
