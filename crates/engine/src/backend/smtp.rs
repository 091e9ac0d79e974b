//! The SMTP backend: sending (with PIPELINING, the reply to one message read
//! while the next is prepared) and the probe Test & Enable runs.

use crmsync_protocols::ProtocolError;
use crmsync_protocols::settings::ServerSettings;
use crmsync_protocols::smtp::SmtpClient;
use futures::future::BoxFuture;

use super::capability::{Fut, MailSender, PendingReply};

/// A mailbox's SMTP server as a mail sender.
pub struct SmtpSender {
    client: SmtpClient,
    host: String,
    port: u16,
    login: Option<String>,
}

impl SmtpSender {
    /// A sender for these settings; it authenticates when `login` is set.
    /// Nothing connects until the first probe or submission.
    pub fn new(settings: &ServerSettings, login: bool) -> crate::error::Result<SmtpSender> {
        Ok(SmtpSender {
            client: SmtpClient::new(settings, login)?,
            host: settings.host.clone(),
            port: settings.port,
            login: login.then(|| settings.username.clone()),
        })
    }

    /// How long to wait for the reply after a message's closing dot.
    pub fn with_final_reply_timeout(mut self, wait: std::time::Duration) -> SmtpSender {
        self.client = self.client.with_final_reply_timeout(wait);
        self
    }
}

impl MailSender for SmtpSender {
    fn describe(&self) -> String {
        format!("SMTP {}:{}", self.host, self.port)
    }

    fn login(&self) -> Option<&str> {
        self.login.as_deref()
    }

    fn probe(&self) -> Fut<'_, ()> {
        Box::pin(async move {
            self.client.probe().await?;
            Ok(())
        })
    }

    fn submit<'a>(
        &'a self,
        from: &'a str,
        recipients: &'a [String],
        raw: &'a [u8],
    ) -> BoxFuture<'a, Result<PendingReply<'a>, ProtocolError>> {
        Box::pin(async move {
            let submitted = self.client.submit(from, recipients, raw).await?;
            Ok(Box::pin(submitted.reply()) as PendingReply<'a>)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.client.close())
    }
}
