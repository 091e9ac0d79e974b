//! Typed calls the mail backend needs often, on top of
//! [`GraphClient::send`]: MIME downloads in batches, sendMail and the
//! Sent Items lookup. Everything else is `client.json(&mailbox.builder(..))`.

use super::client::GraphClient;
use super::mail::Message;
use super::types::Page;
use crmsync_core::ErrorClass;

use crate::error::{ProtocolError, Result};

impl GraphClient {
    /// Sends `req` and expects no content back (DELETE, PATCH without
    /// representation, sendMail's 202).
    pub async fn execute(&self, req: &super::GraphRequest) -> Result<()> {
        self.send(req).await.map(|_| ())
    }

    /// The MIME of each message (`$value`), in `$batch` round trips of 20;
    /// one result per id, in order (a vanished message is `ITEM_NOT_FOUND`,
    /// one over the size limit `MESSAGE_TOO_LARGE`, for that id only; any
    /// other failure fails the whole call). When
    /// a batch answer is over the answer limit (many large messages), its
    /// messages are fetched one by one instead.
    pub async fn messages_mime(&self, ids: &[&str]) -> Result<Vec<Result<Vec<u8>>>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(super::batch::MAX_BATCH) {
            let reqs: Vec<_> = chunk.iter().map(|id| self.mailbox().message_mime(id)).collect();
            let batched = if reqs.len() > 1 { Some(self.batch(&reqs).await) } else { None };
            match batched {
                Some(Ok(answers)) => out.extend(answers.into_iter().map(|r| r.map(|r| r.body))),
                Some(Err(ProtocolError::ResponseTooLarge { .. })) | None => {
                    for r in &reqs {
                        out.push(self.send(r).await.map(|r| r.body));
                    }
                }
                Some(Err(e)) => return Err(e),
            }
        }
        // Only item failures stay per message; a refused token, a missing
        // permission or throttling concerns the whole mailbox.
        if let Some(pos) = out.iter().position(|r| r.as_ref().is_err_and(|e| e.class() != ErrorClass::Item)) {
            out.swap_remove(pos)?;
        }
        Ok(out)
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
