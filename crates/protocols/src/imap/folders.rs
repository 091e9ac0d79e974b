//! Creating a folder: CREATE, with its special use (RFC 6154
//! CREATE-SPECIAL-USE) where the server announces that, and SUBSCRIBE so
//! that mail clients showing subscribed folders only list it.

use tracing::Instrument as _;

use super::ImapClient;
use super::exec::step;
use super::types::SpecialUse;
use super::wire;
use crate::error::Result;

impl ImapClient {
    /// Creates `folder` (UTF-8 name). With `special_use`, and when the server
    /// announces CREATE-SPECIAL-USE, the folder is created with that use
    /// (`CREATE "Sent" (USE (\Sent))`); otherwise a plain CREATE. Returns
    /// whether the special use was set. A folder that exists already fails
    /// with the server's words (`COMMAND_FAILED`).
    pub async fn create_folder(&mut self, folder: &str, special_use: Option<SpecialUse>) -> Result<bool> {
        let span = tracing::debug_span!(parent: &self.span, "imap_create", folder);
        async {
            let name = self.quoted_folder(folder)?;
            let with_use = special_use.filter(|_| self.caps.has("CREATE-SPECIAL-USE"));
            let command = wire::create_command(&name, with_use.map(SpecialUse::attribute));
            let t = self.begin_command();
            let session = self.session()?;
            let r = step(t, session.run_command_and_check_ok(&command)).await;
            self.settle("CREATE", r)?;
            tracing::debug!(special_use = ?with_use, "created");
            Ok(with_use.is_some())
        }
        .instrument(span)
        .await
    }

    /// Adds `folder` (UTF-8 name) to the subscribed folders (`SUBSCRIBE`).
    pub async fn subscribe(&mut self, folder: &str) -> Result<()> {
        let span = tracing::debug_span!(parent: &self.span, "imap_subscribe", folder);
        async {
            let name = self.quoted_folder(folder)?;
            let t = self.begin_command();
            let session = self.session()?;
            let r = step(t, session.run_command_and_check_ok(format!("SUBSCRIBE {name}"))).await;
            self.settle("SUBSCRIBE", r)
        }
        .instrument(span)
        .await
    }

    /// `folder` encoded (modified UTF-7) and quoted for a command line.
    fn quoted_folder(&self, folder: &str) -> Result<String> {
        wire::quote(&wire::encode_folder(folder))
            .ok_or_else(|| self.peer.invalid(format!("folder name {folder:?} contains a line break")))
    }
}
