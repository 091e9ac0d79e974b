//! Typed calls the mail backend needs often, on top of
//! [`GraphClient::send`]: MIME downloads in batches, sendMail and the
//! Sent Items lookup. Everything else is `client.json(&mailbox.builder(..))`.

use super::client::GraphClient;
use super::mail::Message;
use super::types::Page;
use crate::error::Result;

impl GraphClient {
    /// Sends `req` and expects no content back (DELETE, PATCH without
    /// representation, sendMail's 202).
    pub async fn execute(&self, req: &super::GraphRequest) -> Result<()> {
        self.send(req).await.map(|_| ())
    }

    /// The MIME of each message (`$value`), in `$batch` round trips of 20;
    /// one result per id, in order (a vanished message is `ITEM_NOT_FOUND`
    /// for that id only).
    pub async fn messages_mime(&self, ids: &[&str]) -> Result<Vec<Result<Vec<u8>>>> {
        let reqs: Vec<_> = ids.iter().map(|id| self.mailbox().message_mime(id)).collect();
        if reqs.len() == 1 {
            return Ok(vec![self.send(&reqs[0]).await.map(|r| r.body)]);
        }
        Ok(self.batch(&reqs).await?.into_iter().map(|r| r.map(|r| r.body)).collect())
    }

    /// Sends a MIME message as is with sendMail (a copy goes to Sent Items).
    /// An error other than a refusal leaves the outcome unknown: call
    /// [`find_sent`](Self::find_sent) before sending again.
    pub async fn send_mime(&self, mime: &[u8]) -> Result<()> {
        self.execute(&self.mailbox().send_mime(mime)).await
    }

    /// The Sent Items copy of the message with this Message-ID, if any.
    pub async fn find_sent(&self, message_id: &str) -> Result<Option<Message>> {
        let page: Page<Message> = self.json(&self.mailbox().sent_by_message_id(message_id)).await?;
        Ok(page.value.into_iter().next())
    }
}
