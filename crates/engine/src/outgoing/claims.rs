//! A pass's claims: due emails claimed a batch at a time, each marked started
//! in the pass's send log and composed just before its SMTP transaction.

use crmsync_core::Store;
use crmsync_core::store::outbox;
use crmsync_core::store::send_log::{Fact, SendLog};
use crmsync_core::time::{now, now_db};
use crmsync_protocols::compose::compose;

use super::message::{envelope_recipients, outgoing_message};
use super::pass::{Ctx, OutgoingSync};
use crate::error::Result;

/// A claimed, composed email, ready for its SMTP transaction.
pub(super) struct Prepared {
    pub(super) id: i64,
    pub(super) email: outbox::Outgoing,
    pub(super) raw: Vec<u8>,
    pub(super) recipients: Vec<String>,
}

/// Emails claimed per store commit: one disk flush serves this many sends.
/// After a crash, at most this many wait in Sending; those never started go
/// back to the queue on the next pass.
pub const CLAIM_BATCH: i64 = 16;

/// Claims the mailbox's due emails a batch at a time, up to the per-pass cap.
pub(super) struct Claims {
    /// This pass's send log (named by its claim token).
    pub(super) log: SendLog,
    handled: i64,
    cap: i64,
    claimed: std::collections::VecDeque<i64>,
}

impl Claims {
    /// A new pass, with its send log created (and locked) before any claim.
    pub(super) fn new(store: &Store, cap: i64) -> Result<Claims> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let token = format!("{}-{}-{}", std::process::id(), nanos.as_nanos(), rand::random::<u32>());
        let log = SendLog::create(store.path(), &token)?;
        Ok(Claims { log, handled: 0, cap, claimed: Default::default() })
    }

    /// Folds the send log into the store with a flushed commit and removes it:
    /// every start and Sent mark of the pass is on disk.
    pub(super) fn close(self, store: &mut Store) -> Result<()> {
        let mut log = self.log;
        if !log.is_empty() {
            store.write(|tx| log.fold(tx))?;
            log.folded()?;
        }
        Ok(log.close()?)
    }

    /// The next claimed email, marked started and composed; when none is left
    /// in the batch, claims the next batch first (Sending, attempts counted,
    /// committed to disk). `None` when nothing is due or the cap is reached.
    pub(super) fn next(
        &mut self,
        store: &mut Store,
        ctx: &Ctx,
        report: &mut OutgoingSync,
    ) -> Result<Option<Prepared>> {
        let mailbox_id = ctx.mailbox.id;
        if self.claimed.is_empty() {
            if self.handled >= self.cap {
                report.capped = outbox::has_due(store.conn(), mailbox_id, &now_db())?;
                return Ok(None);
            }
            let want = CLAIM_BATCH.min(self.cap - self.handled);
            let log = &self.log;
            // One flushed commit: the last batch's starts and Sent marks, and this batch's claims.
            let ids = store.write(|tx| -> Result<Vec<i64>> {
                log.fold(tx)?;
                crmsync_core::crash::point("outgoing.folding");
                Ok(outbox::claim_due(tx, mailbox_id, &now_db(), want, log.token())?)
            })?;
            crmsync_core::crash::point("outgoing.after_claim");
            self.log.folded()?;
            self.handled += ids.len() as i64;
            self.claimed.extend(ids);
        }
        // An email leaves the batch only once it is started: when loading it
        // fails, it is still in the batch for `release_all`.
        loop {
            let Some(&id) = self.claimed.front() else { return Ok(None) };
            if !outbox::still_claimed(store.conn(), id, self.log.token())? {
                self.claimed.pop_front();
                continue; // another pass put it back and owns it now
            }
            let email = outbox::load(store.conn(), id)?;
            let raw = compose(&outgoing_message(&email, &ctx.settings, now()), false);
            let recipients = envelope_recipients(&email);
            // Recorded as started now, before its MAIL FROM: a crash from here
            // on sends it through the Sent-folder check, never blindly again.
            self.log.record(Fact::Started { id, at: now_db() })?;
            crmsync_core::crash::point("outgoing.after_start_mark");
            self.claimed.pop_front();
            return Ok(Some(Prepared { id, email, raw, recipients }));
        }
    }

    /// Puts `next` and the rest of the batch back in the queue (never started).
    pub(super) fn release_all(&mut self, store: &mut Store, next: Option<i64>, why: &str) -> Result<()> {
        let ids: Vec<i64> = next.into_iter().chain(self.claimed.drain(..)).collect();
        store.write(|tx| -> Result<()> {
            for id in ids {
                outbox::release(tx, id, why, None)?;
            }
            Ok(())
        })
    }
}
