//! The outbox: state transitions of outgoing email activities.
//!
//! ```text
//! draft ──submit──▶ pending_send ──claim──▶ sending ──250──▶ sent
//!   │                 ▲    │                  │  │
//!   │                 │    │ (retry later)    │  └─5xx / attempts used up──▶ failed ──submit──▶ pending_send
//!   └──cancel──▶ canceled ◀─cancel─┘   ◀──────┘ (transient: back with next_attempt_on)
//! ```
//!
//! `claim_due` commits `sending` (with `sending_since` and the attempt counted)
//! for a batch before the engine opens any SMTP transaction, and `mark_started`
//! records each transaction's start (a running pass writes starts and Sent
//! marks to its send log first, [`crate::store::send_log`], and folds them in
//! with its next commit), so after a crash the row says whether a send may have
//! happened; for those that may have, the engine looks for the Message-ID in
//! the Sent folder before sending again (see docs/outgoing.md).

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{CoreError, Result};

/// Whether the copy in the sender's Sent folder is filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentCopy {
    /// Sent, copy not yet appended (filed on the next pass, even after a crash).
    Pending,
    /// The copy is in the Sent folder.
    Saved,
    /// No copy is kept (no IMAP, or `outgoing.save_to_sent` off, or the folder refused it).
    None,
}

impl SentCopy {
    /// The word stored for it.
    pub fn as_str(self) -> &'static str {
        match self {
            SentCopy::Pending => "pending",
            SentCopy::Saved => "saved",
            SentCopy::None => "none",
        }
    }

    /// The state a stored word names.
    pub fn parse(word: &str) -> Option<SentCopy> {
        match word {
            "pending" => Some(SentCopy::Pending),
            "saved" => Some(SentCopy::Saved),
            "none" => Some(SentCopy::None),
            _ => None,
        }
    }
}

/// An address on an outgoing email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressee {
    /// Address.
    pub address: String,
    /// Display name, if any.
    pub name: Option<String>,
}

/// An attachment to send.
#[derive(Debug, Clone)]
pub struct OutgoingAttachment {
    /// File name.
    pub file_name: String,
    /// MIME type.
    pub mime_type: String,
    /// Content.
    pub content: Vec<u8>,
}

/// Everything needed to compose and send one outgoing email.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Activity id.
    pub id: i64,
    /// Current status.
    pub status: String,
    /// The sending mailbox.
    pub mailbox_id: i64,
    /// Subject as written (without the tracking token).
    pub subject: String,
    /// Plain-text body.
    pub body_text: Option<String>,
    /// HTML body.
    pub body_html: Option<String>,
    /// Message-ID (without brackets), fixed when the email was created.
    pub message_id: String,
    /// In-Reply-To (without brackets).
    pub in_reply_to: Option<String>,
    /// References, oldest first.
    pub references: Vec<String>,
    /// Tracking token to append to the subject, if any.
    pub tracking_token: Option<String>,
    /// Sender.
    pub from: Addressee,
    /// To recipients.
    pub to: Vec<Addressee>,
    /// Cc recipients.
    pub cc: Vec<Addressee>,
    /// Bcc recipients (envelope only; kept on the Sent copy).
    pub bcc: Vec<Addressee>,
    /// Attachments.
    pub attachments: Vec<OutgoingAttachment>,
    /// Send attempts so far (the current one included once claimed).
    pub delivery_attempts: i64,
    /// When it was sent.
    pub sent_on: Option<String>,
}

fn addressees(conn: &Connection, id: i64, role: &str) -> Result<Vec<Addressee>> {
    // A recipient resolving to several records has one party row per record:
    // one address on the message.
    let mut stmt = conn.prepare_cached(
        "SELECT address, name FROM activity_parties WHERE activity_id = ?1 AND role = ?2 AND address IS NOT NULL \
         ORDER BY position",
    )?;
    let rows =
        stmt.query_map(params![id, role], |r| Ok(Addressee { address: r.get(0)?, name: r.get(1)? }))?;
    let mut out: Vec<Addressee> = Vec::new();
    for row in rows {
        let a = row?;
        if !out.iter().any(|x| x.address.eq_ignore_ascii_case(&a.address)) {
            out.push(a);
        }
    }
    Ok(out)
}

/// Loads an outgoing email for sending (or for filing its Sent copy).
pub fn load(conn: &Connection, id: i64) -> Result<Outgoing> {
    let row = conn
        .query_row(
            "SELECT e.status, e.sender_mailbox_id, a.subject, b.body_text, b.body_html, e.message_id, e.in_reply_to, \
             e.references_ids, e.tracking_token, e.delivery_attempts, e.sent_on \
             FROM emails e JOIN activities a ON a.id = e.activity_id \
             LEFT JOIN activity_bodies b ON b.activity_id = a.id WHERE e.activity_id = ?1 AND e.direction = 'outgoing'",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, i64>(9)?,
                    r.get::<_, Option<String>>(10)?,
                ))
            },
        )
        .optional()?
        .ok_or_else(|| CoreError::not_found("outgoing email", id.to_string()))?;
    let (
        status,
        mailbox_id,
        subject,
        body_text,
        body_html,
        message_id,
        in_reply_to,
        refs,
        token,
        attempts,
        sent_on,
    ) = row;
    let mailbox_id = mailbox_id
        .ok_or_else(|| CoreError::invalid("id", format!("email {id} has no sender mailbox any more")))?;
    let message_id =
        message_id.ok_or_else(|| CoreError::invalid("id", format!("email {id} has no Message-ID")))?;
    let from = addressees(conn, id, "from")?
        .into_iter()
        .next()
        .ok_or_else(|| CoreError::invalid("id", format!("email {id} has no sender")))?;
    let mut att = conn.prepare_cached(
        "SELECT file_name, mime_type, content FROM attachments WHERE activity_id = ?1 AND content IS NOT NULL ORDER BY id",
    )?;
    let attachments = att
        .query_map([id], |r| {
            Ok(OutgoingAttachment { file_name: r.get(0)?, mime_type: r.get(1)?, content: r.get(2)? })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Outgoing {
        id,
        status,
        mailbox_id,
        subject,
        body_text,
        body_html,
        message_id,
        in_reply_to,
        references: refs.map(|r| r.split_whitespace().map(str::to_string).collect()).unwrap_or_default(),
        tracking_token: token,
        from,
        to: addressees(conn, id, "to")?,
        cc: addressees(conn, id, "cc")?,
        bcc: addressees(conn, id, "bcc")?,
        attachments,
        delivery_attempts: attempts,
        sent_on,
    })
}

/// Mailboxes with outbox work at `now`: due Pending Send mail, mail in Sending
/// since before `stuck_before` or claimed and never started, or Sent copies
/// still to file.
pub fn mailboxes_with_work(conn: &Connection, now: &str, stuck_before: &str) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT sender_mailbox_id FROM emails WHERE direction = 'outgoing' AND sender_mailbox_id IS NOT NULL AND ( \
           (status = 'pending_send' AND (send_at IS NULL OR send_at <= ?1) AND (next_attempt_on IS NULL OR next_attempt_on <= ?1)) \
           OR (status = 'sending' AND (sending_since <= ?2 OR smtp_started_on IS NULL)) \
           OR (status = 'sent' AND sent_copy = 'pending')) ORDER BY 1",
    )?;
    let rows = stmt.query_map(params![now, stuck_before], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Whether the mailbox has due Pending Send mail at `now`.
pub fn has_due(conn: &Connection, mailbox_id: i64, now: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM emails WHERE sender_mailbox_id = ?1 AND status = 'pending_send' \
             AND (send_at IS NULL OR send_at <= ?2) AND (next_attempt_on IS NULL OR next_attempt_on <= ?2) LIMIT 1",
            params![mailbox_id, now],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Claims up to `limit` of the oldest due Pending Send emails of a mailbox for
/// the pass holding `token`: each becomes Sending with `sending_since = now`,
/// one more delivery attempt and no SMTP start yet. Commit (to disk) before
/// sending any of them; mark each with [`mark_started`] before its transaction.
/// The activity row is left alone (its state changes when the email is sent or
/// fails): rewriting it would rewrite the body it holds, for every claim.
pub fn claim_due(conn: &Connection, mailbox_id: i64, now: &str, limit: i64, token: &str) -> Result<Vec<i64>> {
    let ids: Vec<i64> = {
        let mut stmt = conn.prepare(
            "SELECT activity_id FROM emails WHERE sender_mailbox_id = ?1 AND status = 'pending_send' \
             AND (send_at IS NULL OR send_at <= ?2) AND (next_attempt_on IS NULL OR next_attempt_on <= ?2) \
             ORDER BY activity_id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![mailbox_id, now, limit], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for &id in &ids {
        conn.execute(
            "UPDATE emails SET status = 'sending', sending_since = ?2, delivery_attempts = delivery_attempts + 1, \
             next_attempt_on = NULL, claim_token = ?3, smtp_started_on = NULL WHERE activity_id = ?1",
            params![id, now, token],
        )?;
    }
    Ok(ids)
}

/// Whether email `id` is still claimed by the pass holding `token` (another
/// pass may have put it back after presuming this one stopped: then it must
/// not be sent).
pub fn still_claimed(conn: &Connection, id: i64, token: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM emails WHERE activity_id = ?1 AND status = 'sending' AND claim_token = ?2 \
             AND smtp_started_on IS NULL",
            params![id, token],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Records that the SMTP transaction of a claimed email began at `now`.
/// False, changing nothing, when the email is no longer this pass's claim or
/// its start is already recorded. A running pass checks [`still_claimed`]
/// before it starts an email and records the start in its send log
/// ([`crate::store::send_log`]), which folds it in with this function.
pub fn mark_started(conn: &Connection, id: i64, token: &str, now: &str) -> Result<bool> {
    let n = conn.execute(
        "UPDATE emails SET smtp_started_on = ?3 WHERE activity_id = ?1 AND status = 'sending' \
         AND claim_token = ?2 AND smtp_started_on IS NULL",
        params![id, token, now],
    )?;
    Ok(n == 1)
}

/// Puts back a mailbox's claimed emails whose SMTP transaction never began
/// and whose pass stopped: Pending Send, due now, the attempt given back.
/// Claims of the passes in `running` (claim tokens) are left alone: their
/// starts may still be in their send logs. Returns how many.
pub fn release_unstarted(conn: &Connection, mailbox_id: i64, running: &[String]) -> Result<usize> {
    let running = serde_json::to_string(running).expect("a list of strings is JSON");
    Ok(conn.execute(
        "UPDATE emails SET status = 'pending_send', sending_since = NULL, claim_token = NULL, \
         delivery_attempts = max(delivery_attempts - 1, 0) \
         WHERE sender_mailbox_id = ?1 AND status = 'sending' AND smtp_started_on IS NULL \
         AND coalesce(claim_token, '') NOT IN (SELECT value FROM json_each(?2))",
        params![mailbox_id, running],
    )?)
}

/// Emails of a mailbox whose SMTP transaction began before `before` and that
/// are still in Sending (a crash, a kill or a lost final reply interrupted
/// them). Claims of the passes in `running` (claim tokens) are left out: such
/// a pass may still be waiting for the server's reply.
pub fn stuck_sending(
    conn: &Connection,
    mailbox_id: i64,
    before: &str,
    running: &[String],
) -> Result<Vec<i64>> {
    let running = serde_json::to_string(running).expect("a list of strings is JSON");
    let mut stmt = conn.prepare(
        "SELECT activity_id FROM emails WHERE sender_mailbox_id = ?1 AND status = 'sending' AND sending_since <= ?2 \
         AND smtp_started_on IS NOT NULL AND coalesce(claim_token, '') NOT IN (SELECT value FROM json_each(?3)) \
         ORDER BY activity_id",
    )?;
    let rows = stmt.query_map(params![mailbox_id, before, running], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The server's verdict on a started email never came (connection lost or
/// timed out after its closing dot): it may have been delivered. It stays in
/// Sending, its start recorded, with `note` as its last error, so it is
/// checked in the Sent folder after the sending retry interval instead of
/// being sent again blindly.
pub fn mark_outcome_unknown(conn: &Connection, id: i64, note: &str, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE emails SET last_error = ?2, smtp_started_on = coalesce(smtp_started_on, ?3) \
         WHERE activity_id = ?1 AND status = 'sending'",
        params![id, note, now],
    )?;
    Ok(())
}

/// Sent emails of a mailbox whose Sent copy is still to be filed.
pub fn copies_pending(conn: &Connection, mailbox_id: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare(
        "SELECT activity_id FROM emails WHERE sender_mailbox_id = ?1 AND status = 'sent' AND sent_copy = 'pending' \
         ORDER BY activity_id",
    )?;
    let rows = stmt.query_map([mailbox_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn touch(conn: &Connection, id: i64, state: Option<&str>, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE activities SET state = coalesce(?2, state), modified_on = ?3, version = version + 1 WHERE id = ?1",
        params![id, state, now],
    )?;
    Ok(())
}

/// Sending → Sent (the server accepted it); the activity is completed.
pub fn mark_sent(conn: &Connection, id: i64, sent_on: &str, copy: SentCopy) -> Result<()> {
    conn.execute(
        "UPDATE emails SET status = 'sent', sent_on = ?2, sending_since = NULL, next_attempt_on = NULL, \
         last_error = NULL, sent_copy = ?3 WHERE activity_id = ?1 AND status = 'sending'",
        params![id, sent_on, copy.as_str()],
    )?;
    touch(conn, id, Some("completed"), sent_on)
}

/// Records what became of the Sent copy.
pub fn mark_copy(conn: &Connection, id: i64, copy: SentCopy) -> Result<()> {
    conn.execute("UPDATE emails SET sent_copy = ?2 WHERE activity_id = ?1", params![id, copy.as_str()])?;
    Ok(())
}

/// Sending → Pending Send after a transient failure, due again at `next_attempt_on`.
pub fn schedule_retry(conn: &Connection, id: i64, error: &str, next_attempt_on: &str) -> Result<()> {
    conn.execute(
        "UPDATE emails SET status = 'pending_send', sending_since = NULL, next_attempt_on = ?2, last_error = ?3 \
         WHERE activity_id = ?1 AND status = 'sending'",
        params![id, next_attempt_on, error],
    )?;
    Ok(())
}

/// Sending → Failed, keeping the server's reply (or the reason) as the last error.
pub fn mark_failed(conn: &Connection, id: i64, error: &str, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE emails SET status = 'failed', sending_since = NULL, next_attempt_on = NULL, last_error = ?2 \
         WHERE activity_id = ?1 AND status = 'sending'",
        params![id, error],
    )?;
    touch(conn, id, None, now)
}

/// Sending → Pending Send without counting the attempt: the mailbox could not
/// send at all (authentication, TLS), so the mail waits instead of failing.
pub fn release(conn: &Connection, id: i64, error: &str, next_attempt_on: Option<&str>) -> Result<()> {
    conn.execute(
        "UPDATE emails SET status = 'pending_send', sending_since = NULL, next_attempt_on = ?3, last_error = ?2, \
         delivery_attempts = max(delivery_attempts - 1, 0) WHERE activity_id = ?1 AND status = 'sending'",
        params![id, error, next_attempt_on],
    )?;
    Ok(())
}

/// Sending (interrupted, not found in the Sent folder) → Pending Send, due now.
pub fn requeue_interrupted(conn: &Connection, id: i64, note: &str) -> Result<()> {
    conn.execute(
        "UPDATE emails SET status = 'pending_send', sending_since = NULL, next_attempt_on = NULL, last_error = ?2 \
         WHERE activity_id = ?1 AND status = 'sending'",
        params![id, note],
    )?;
    Ok(())
}

fn outgoing_status(conn: &Connection, id: i64) -> Result<String> {
    let row: Option<(Option<String>, Option<String>)> = conn
        .query_row(
            "SELECT e.direction, e.status FROM activities a LEFT JOIN emails e ON e.activity_id = a.id WHERE a.id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        None => Err(CoreError::invalid("id", format!("no activity {id}"))),
        Some((Some(d), Some(s))) if d == "outgoing" => Ok(s),
        Some(_) => Err(CoreError::invalid("id", format!("activity {id} is not an outgoing email"))),
    }
}

/// Draft (or Failed) → Pending Send. A failed email starts again with a fresh
/// attempt budget. Returns the previous status.
pub fn submit(conn: &Connection, id: i64, now: &str) -> Result<String> {
    let status = outgoing_status(conn, id)?;
    if status != "draft" && status != "failed" {
        return Err(CoreError::invalid(
            "id",
            format!("email {id} is {status}; only a draft or a failed email can be submitted"),
        ));
    }
    conn.execute(
        "UPDATE emails SET status = 'pending_send', next_attempt_on = NULL, sending_since = NULL, \
         delivery_attempts = 0 WHERE activity_id = ?1",
        [id],
    )?;
    touch(conn, id, Some("open"), now)?;
    Ok(status)
}

/// Draft, Pending Send or Failed → Canceled. Mail in Sending (the SMTP
/// transaction may be under way) or already Sent cannot be canceled.
pub fn cancel(conn: &Connection, id: i64, now: &str) -> Result<String> {
    let status = outgoing_status(conn, id)?;
    match status.as_str() {
        "draft" | "pending_send" | "failed" => {}
        "sending" => {
            return Err(CoreError::invalid(
                "id",
                format!("email {id} is being sent right now and can no longer be canceled"),
            ));
        }
        other => {
            return Err(CoreError::invalid(
                "id",
                format!("email {id} is {other}; only a draft, pending or failed email can be canceled"),
            ));
        }
    }
    conn.execute(
        "UPDATE emails SET status = 'canceled', next_attempt_on = NULL WHERE activity_id = ?1",
        [id],
    )?;
    touch(conn, id, Some("canceled"), now)?;
    Ok(status)
}

/// Marks a newly inserted outgoing email's activity open (not yet sent).
pub fn mark_open(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("UPDATE activities SET state = 'open' WHERE id = ?1", [id])?;
    Ok(())
}

/// How many due Pending Send emails each sender mailbox has at `now`.
pub fn due_counts(conn: &Connection, now: &str) -> Result<Vec<(i64, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT sender_mailbox_id, count(*) FROM emails WHERE direction = 'outgoing' AND sender_mailbox_id IS NOT NULL \
         AND status = 'pending_send' AND (send_at IS NULL OR send_at <= ?1) \
         AND (next_attempt_on IS NULL OR next_attempt_on <= ?1) GROUP BY 1 ORDER BY 1",
    )?;
    let rows = stmt.query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Writes `note` as the last error of the mailbox's due Pending Send emails
/// that do not carry it yet (why they wait); returns how many changed.
pub fn note_waiting(conn: &Connection, mailbox_id: i64, now: &str, note: &str) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE emails SET last_error = ?3 WHERE sender_mailbox_id = ?1 AND status = 'pending_send' \
         AND (send_at IS NULL OR send_at <= ?2) AND (next_attempt_on IS NULL OR next_attempt_on <= ?2) \
         AND last_error IS NOT ?3",
        params![mailbox_id, now, note],
    )?)
}

/// Clears the last error of the mailbox's Pending Send emails whose last error
/// starts with `prefix` (a wait that is over); returns how many changed.
pub fn clear_waiting_note(conn: &Connection, mailbox_id: i64, prefix: &str) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE emails SET last_error = NULL WHERE sender_mailbox_id = ?1 AND status = 'pending_send' \
         AND substr(last_error, 1, length(?2)) = ?2",
        params![mailbox_id, prefix],
    )?)
}
