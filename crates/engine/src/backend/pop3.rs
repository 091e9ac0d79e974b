//! The POP3 backend: a mail source (the pass is in [`super::pop3_pass`]).
//! POP3 cannot push, so a POP3 mailbox is polled.

use crmsync_core::Store;
use crmsync_protocols::Pop3Client;
use crmsync_protocols::settings::ServerSettings;

use super::capability::{Fut, Incoming, MailSource};
use crate::ingest::batch::SyncStats;
use crate::ingest::process::MailboxContext;

/// A mailbox's POP3 maildrop as a mail source.
pub struct Pop3Source {
    settings: ServerSettings,
}

impl Pop3Source {
    /// The source for these connection settings.
    pub fn new(settings: ServerSettings) -> Pop3Source {
        Pop3Source { settings }
    }
}

impl MailSource for Pop3Source {
    fn describe(&self) -> String {
        format!("POP3 {}:{}", self.settings.host, self.settings.port)
    }

    /// With a login it ends with QUIT, which must be answered.
    fn probe(&self, login: bool) -> Fut<'_, Incoming> {
        Box::pin(async move {
            if !login {
                Pop3Client::probe(&self.settings).await?;
                return Ok(Incoming::Answered);
            }
            let mut c = Pop3Client::connect(&self.settings).await?;
            let st = c.stat().await?;
            c.quit().await?;
            Ok(Incoming::Maildrop { messages: st.messages })
        })
    }

    fn pass<'a>(&'a self, store: &'a mut Store, ctx: &'a MailboxContext) -> Fut<'a, SyncStats> {
        Box::pin(super::pop3_pass::sync_pop3(store, ctx, &self.settings))
    }
}
