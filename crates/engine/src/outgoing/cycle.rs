//! One outgoing pass over the mailboxes with outbox work.

use std::collections::HashSet;

use chrono::Duration;
use crmsync_core::model::{Approval, ChannelMethod, Mailbox, Profile, Severity};
use crmsync_core::settings::{BoolSetting, IntSetting, Settings};
use crmsync_core::store::alerts::{self, NewAlert, Scope};
use crmsync_core::store::outbox::{self, SentCopy};
use crmsync_core::store::send_log::{self, Fact};
use crmsync_core::store::{mailbox_state, mailboxes, profiles, settings as stored_settings};
use crmsync_core::time::{now, now_db, to_db};
use crmsync_core::{CoreError, ErrorClass, Store};
use crmsync_protocols::ProtocolError;
use tracing::{Instrument as _, info, info_span, warn};

use super::claims::Claims;
use super::pass::Ctx;
pub use super::pass::OutgoingSync;
use super::sent_folder::{file_copies, recover_stuck, unverifiable};
use crate::backend::factory;
use crate::error::{EngineError, Result};
use crate::outcome::RunOutcome;
use crate::permits::ConnectionPermits;
use crmsync_core::store::history::RunChannel;

/// Why a mailbox's outgoing channel is not processed now, if it is not.
pub(crate) fn outgoing_due(
    mb: &Mailbox,
    profile: &Profile,
    require_approval: bool,
) -> Option<(&'static str, String)> {
    if mb.data.outgoing_method != ChannelMethod::ServerSide {
        return Some(("NOT_SERVER_SIDE", "outgoing is not server-side".into()));
    }
    if !mb.outgoing.enabled {
        return Some(("NOT_ENABLED", "outgoing is not enabled; run Test & Enable".into()));
    }
    if require_approval && mb.approval != Approval::Approved {
        return Some(("NOT_APPROVED", "the mailbox is not approved".into()));
    }
    if let Some(why) = factory::facts(profile.data.kind).unsupported {
        return Some(("NOT_SUPPORTED", why.into()));
    }
    // Exchange sends through EWS, without an SMTP endpoint.
    if factory::facts(profile.data.kind).outgoing_endpoint && profile.data.outgoing.is_none() {
        return Some(("NOT_SUPPORTED", format!("profile '{}' has no outgoing server", profile.data.name)));
    }
    None
}

/// One outgoing pass with private connection permits (`crmsync sync`).
pub async fn send_due(store: &mut Store, only: Option<&str>) -> Result<Vec<OutgoingSync>> {
    send_due_with(store, only, &ConnectionPermits::default()).await
}

/// One outgoing pass over every mailbox with due outbox work (or just `only`;
/// a mailbox without work is not reported),
/// taking one connection permit of the mailbox's profile from `permits` while
/// it works on a mailbox (the scheduler shares them with the incoming pipeline).
pub async fn send_due_with(
    store: &mut Store,
    only: Option<&str>,
    permits: &ConnectionPermits,
) -> Result<Vec<OutgoingSync>> {
    let settings = stored_settings::load(store.conn())?;
    let list: Vec<Mailbox> = match only {
        Some(email) => vec![
            mailboxes::find(store.conn(), email)?
                .ok_or_else(|| CoreError::invalid("mailbox", format!("no mailbox for {email}")))?,
        ],
        None => {
            let t = now();
            let stuck_before = to_db(t - stuck_after(&settings));
            let ids = outbox::mailboxes_with_work(store.conn(), &to_db(t), &stuck_before)?;
            ids.into_iter()
                .map(|id| mailboxes::get_by_id(store.conn(), id))
                .collect::<crmsync_core::Result<_>>()?
        }
    };
    let mut out = Vec::new();
    for mb in list {
        if let Some(r) = send_mailbox(store, mb, settings.clone(), permits).await? {
            out.push(r);
        }
    }
    // Mail that still waits because its mailbox cannot send raises (or
    // updates) its alert; an alert whose mail went out is resolved.
    super::waiting::review(store, &settings)?;
    Ok(out)
}

/// One outgoing pass over mailbox `mb` (looked up by the caller, once), taking
/// one connection permit of its profile from `permits` while it works; `None`
/// when it had nothing to do.
pub async fn send_mailbox_due(
    store: &mut Store,
    mb: Mailbox,
    permits: &ConnectionPermits,
) -> Result<Option<OutgoingSync>> {
    let settings = stored_settings::load(store.conn())?;
    send_mailbox(store, mb, settings, permits).await
}

fn stuck_after(settings: &Settings) -> Duration {
    Duration::seconds(settings.int(IntSetting::OutgoingSendingRetryIntervalSecs))
}

/// The delay before attempt `attempts + 1`: the retry interval doubled per
/// attempt so far, at most a day.
pub fn retry_delay(settings: &Settings, attempts: i64) -> Duration {
    let base = settings.int(IntSetting::OutgoingRetryIntervalSecs).max(1);
    let factor = 1i64 << (attempts - 1).clamp(0, 16);
    Duration::seconds(base.saturating_mul(factor).min(86_400))
}

async fn send_mailbox(
    store: &mut Store,
    mb: Mailbox,
    settings: Settings,
    permits: &ConnectionPermits,
) -> Result<Option<OutgoingSync>> {
    let profile = profiles::get_by_id(store.conn(), mb.data.profile_id)?;
    let mut report = OutgoingSync::new(&mb.data.email);
    let t = now();
    // What stopped passes recorded in their send logs goes into the store
    // first; then their claims never started go back in the queue (nothing
    // reached a server). Claims of passes still running are theirs.
    let store_path = store.path().to_path_buf();
    let (released, mut recovery) = store.write(|tx| -> Result<_> {
        let recovery = send_log::recover(tx, &store_path)?;
        Ok((outbox::release_unstarted(tx, mb.id, &recovery.live)?, recovery))
    })?;
    if recovery.folded > 0 || recovery.skipped > 0 {
        info!(
            mailbox = %mb.data.email,
            folded = recovery.folded,
            skipped = recovery.skipped,
            "send logs of stopped passes are in the store"
        );
    }
    let live = std::mem::take(&mut recovery.live);
    recovery.finish()?;
    if released > 0 {
        info!(mailbox = %mb.data.email, released, "claimed emails never started are back in the queue");
    }
    // A pass still running may still be waiting for a reply: its emails are its own.
    let stuck = outbox::stuck_sending(store.conn(), mb.id, &to_db(t - stuck_after(&settings)), &live)?;
    let old_copies = outbox::copies_pending(store.conn(), mb.id)?;
    let due = outbox::has_due(store.conn(), mb.id, &to_db(t))?;
    if stuck.is_empty() && old_copies.is_empty() && !due {
        return Ok(None);
    }
    if let Some((code, why)) =
        outgoing_due(&mb, &profile, settings.bool(BoolSetting::IncomingRequireApproval))
    {
        // The mail waits until the channel works again.
        report.outcome = RunOutcome::skipped(code, why);
        return Ok(Some(report));
    }
    let ctx = Ctx { mailbox: mb, profile, settings };
    let span = info_span!("outgoing", mailbox = %ctx.mailbox.data.email, profile = %ctx.profile.data.name);
    let _permit = permits.acquire(ctx.profile.id, ctx.profile.data.max_connections).await;
    let run_id = crate::history::start(store, ctx.mailbox.id, RunChannel::Outgoing)?;
    let outcome = run(store, &ctx, &mut report, stuck, old_copies).instrument(span).await;
    report.outcome = match outcome {
        Ok(()) => RunOutcome::Ok(report.counts()),
        Err(e) => {
            mailbox_failure(store, &ctx, &e)?;
            RunOutcome::failed(&e)
        }
    };
    crate::history::finish(store, run_id, &report.outcome, 0, 0)?;
    Ok(Some(report))
}

/// A mailbox-level failure: telemetry and a mailbox alert (Warning when it will
/// pass by itself, Error when the admin must act). The queued mail waits.
fn mailbox_failure(store: &mut Store, ctx: &Ctx, e: &EngineError) -> Result<()> {
    if crate::oauth::bearer_refused(&ctx.profile, e) {
        // The next attempt renews the access token instead of offering the refused one again.
        crate::oauth::expire_access(store, &ctx.mailbox, &ctx.profile)?;
    }
    let transient = e.class() == ErrorClass::Transient;
    let severity = if transient { Severity::Warning } else { Severity::Error };
    let record = if transient {
        ctx.settings.bool(BoolSetting::AlertsRecordWarnings)
    } else {
        ctx.settings.bool(BoolSetting::AlertsRecordErrors)
    };
    let (code, message) = (e.code(), format!("outgoing email waits: {e}"));
    warn!(mailbox = %ctx.mailbox.data.email, code = %code, "outgoing failed: {e}");
    let id = ctx.mailbox.id;
    store.write(|tx| -> Result<()> {
        mailbox_state::set_last_error(tx, id, Some(&code), Some(&message))?;
        if record {
            alerts::raise(
                tx,
                &NewAlert {
                    severity,
                    scope: Scope::Mailbox(id),
                    code: code.clone(),
                    message: message.clone(),
                },
            )?;
        }
        Ok(())
    })
}

async fn run(
    store: &mut Store,
    ctx: &Ctx,
    report: &mut OutgoingSync,
    stuck: Vec<i64>,
    old_copies: Vec<i64>,
) -> Result<()> {
    let sent_items = factory::sent_items(store, &ctx.mailbox, &ctx.profile)?;
    let save_copies = sent_items.is_some() && factory::files_sent_copies(&ctx.profile, &ctx.settings);

    // Phase 1: interrupted sends and copies left to file.
    if !stuck.is_empty() || !old_copies.is_empty() {
        match &sent_items {
            Some(items) => {
                let mut sent = items.open().await?;
                recover_stuck(store, ctx, sent.as_mut(), &stuck, report).await?;
                let copies: Vec<i64> = outbox::copies_pending(store.conn(), ctx.mailbox.id)?;
                file_copies(store, ctx, sent.as_mut(), &copies, &HashSet::new(), report).await?;
                sent.close().await;
            }
            None => unverifiable(store, ctx, &stuck, &old_copies)?,
        }
    }

    // Phase 2: send everything due over one session.
    let smtp = factory::mail_sender(store, &ctx.mailbox, &ctx.profile, &ctx.settings)?;
    let cap = ctx.settings.int(IntSetting::OutgoingMaxItemsPerCycle);
    let max_attempts = ctx.settings.int(IntSetting::OutgoingMaxDeliveryAttempts);
    let copy_state = if save_copies { SentCopy::Pending } else { SentCopy::None };
    let mut just_sent = HashSet::new();
    let mut queue = Claims::new(store, cap)?;
    let mut mailbox_error = None;
    // Emails are claimed a few at a time (one disk flush for several). Each
    // start and each Sent mark goes to the pass's send log (one write, kept
    // by the kernel if we are killed) and into the store with the next claim,
    // whose flush carries them to disk. While the server takes in one email
    // (after its closing dot, until its reply) the next is composed — or the
    // next few claimed — so our bookkeeping overlaps the server's work.
    let mut prepared = match queue.next(store, ctx, report) {
        Ok(first) => first,
        Err(e) => {
            give_back(store, ctx, &mut queue, None, &e);
            mailbox_error = Some(e);
            None
        }
    };
    while let Some(cur) = prepared.take() {
        let submitted = smtp.submit(&ctx.mailbox.data.email, &cur.recipients, &cur.raw).await;
        // The next email, prepared while the server takes this one in. A
        // local error there (store busy, disk full, an email that cannot be
        // loaded) waits until this email's reply is read and recorded: the
        // server may have accepted it already, and without its Sent mark it
        // would be sent again.
        let mut ahead = None;
        let outcome = match submitted {
            Ok(submitted) => {
                // The message and its closing dot are on the wire.
                crmsync_core::crash::point("outgoing.after_dot");
                ahead = Some(queue.next(store, ctx, report));
                submitted.await.map_err(|e| (e, true))
            }
            Err(e) => Err((e, false)),
        };
        let handled = match outcome {
            Ok(reply) => {
                // The server took it; its Sent mark is not written yet.
                crmsync_core::crash::point("outgoing.after_reply");
                tracing::debug!(id = cur.id, %reply, "sent");
                record_sent(store, &mut queue, cur.id, copy_state).map(|()| {
                    report.sent += 1;
                    just_sent.insert(cur.id);
                    None
                })
            }
            Err((e, true)) if outcome_unknown(&e) => {
                report.unconfirmed += 1;
                delivery_unknown(store, ctx, &cur.email, e).map(Some)
            }
            Err((e, _)) => on_send_error(store, ctx, &cur.email, e, max_attempts, report),
        };
        let next_id = match &ahead {
            Some(Ok(Some(next))) => Some(next.id),
            _ => None,
        };
        let stop = match (handled, ahead) {
            (Err(local), _) | (Ok(None), Some(Err(local))) => Some(local),
            (Ok(Some(stop)), _) => Some(stop),
            (Ok(None), Some(Ok(next))) => {
                prepared = next;
                None
            }
            (Ok(None), None) => match queue.next(store, ctx, report) {
                Ok(next) => {
                    prepared = next;
                    None
                }
                Err(local) => Some(local),
            },
        };
        if let Some(stop) = stop {
            give_back(store, ctx, &mut queue, next_id, &stop);
            mailbox_error = Some(stop);
            break;
        }
    }
    // What the log holds goes into the store; should that fail, the log stays
    // beside the store and the next pass folds it in before anything else.
    if let Err(e) = queue.close(store) {
        warn!(mailbox = %ctx.mailbox.data.email, "send log not folded in yet: {e}");
        mailbox_error.get_or_insert(e);
    }
    smtp.close().await;

    // Phase 3: file the Sent copies of what was just sent.
    if save_copies && !just_sent.is_empty() {
        let items = sent_items.as_ref().expect("save_copies implies a Sent folder");
        let filed = async {
            let mut sent = items.open().await?;
            let copies: Vec<i64> = outbox::copies_pending(store.conn(), ctx.mailbox.id)?;
            file_copies(store, ctx, sent.as_mut(), &copies, &just_sent, report).await?;
            sent.close().await;
            Ok::<_, EngineError>(())
        }
        .await;
        if let Err(e) = filed {
            // The mail is sent; its copies stay pending and are filed next time.
            warn!(mailbox = %ctx.mailbox.data.email, "Sent copies not filed yet: {e}");
            if mailbox_error.is_none() {
                mailbox_error = Some(e);
            }
        }
    }
    match mailbox_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The pass stops for `why`: the prepared next email and the rest of the
/// batch never reached the server, so they go back in the queue without
/// losing an attempt. (Should that fail too, the next pass puts them back:
/// they were never started.)
fn give_back(store: &mut Store, ctx: &Ctx, queue: &mut Claims, next: Option<i64>, why: &EngineError) {
    let note = format!("{}: not sent yet: {why}", why.code());
    if let Err(e) = queue.release_all(store, next, &note) {
        warn!(mailbox = %ctx.mailbox.data.email, "claimed emails stay claimed until the next pass: {e}");
    }
}

/// Records that the server accepted email `id`: in the send log, or — when the
/// log cannot take it (disk full) — straight in the store.
fn record_sent(store: &mut Store, queue: &mut Claims, id: i64, copy: SentCopy) -> Result<()> {
    let at = now_db();
    match queue.log.record(Fact::Sent { id, at: at.clone(), copy }) {
        Ok(()) => Ok(()),
        Err(logged) => {
            warn!(id, "the send log cannot take the Sent mark, writing it to the store: {logged}");
            store.write(|tx| outbox::mark_sent(tx, id, &at, copy)).map_err(|_| logged.into())
        }
    }
}

/// Whether an error after the closing dot leaves the message's fate unknown:
/// no reply came (connection lost, timeout, garbage), so the server may have
/// accepted it. A reply (4xx, 5xx) says it did not.
fn outcome_unknown(e: &ProtocolError) -> bool {
    matches!(
        e,
        ProtocolError::ConnectionLost { .. } | ProtocolError::Timeout { .. } | ProtocolError::Protocol { .. }
    )
}

/// The server's reply to a message never came: the email stays in Sending
/// (started), to be looked up in the Sent folder after the sending retry
/// interval before it is sent again, and a Warning names it. Returns the
/// error that stops the mailbox's pass (the connection is gone).
fn delivery_unknown(
    store: &mut Store,
    ctx: &Ctx,
    o: &outbox::Outgoing,
    e: ProtocolError,
) -> Result<EngineError> {
    let id = o.id;
    warn!(id, message_id = %o.message_id, "no reply to the message: {e}");
    let note = format!(
        "DELIVERY_UNKNOWN: {}: {e}; the server may have accepted it, so it is looked up in the Sent folder before it is sent again",
        e.code()
    );
    store.write(|tx| -> Result<()> {
        outbox::mark_outcome_unknown(tx, id, &note, &now_db())?;
        ctx.item_alert(
            tx,
            id,
            Severity::Warning,
            "DELIVERY_UNKNOWN",
            &format!(
                "email {id} ({}) was handed to the server but its reply never came ({e}); it may have been delivered. \
                 It is not sent again blindly: after outgoing.sending_retry_interval_secs it is looked up in the Sent \
                 folder and sent again only if absent.",
                o.message_id
            ),
        )
    })?;
    Ok(EngineError::Protocol(e))
}

/// Handles a failed SMTP transaction of one claimed email. Returns the error
/// when the whole mailbox must stop for this pass.
fn on_send_error(
    store: &mut Store,
    ctx: &Ctx,
    o: &outbox::Outgoing,
    e: ProtocolError,
    max_attempts: i64,
    report: &mut OutgoingSync,
) -> Result<Option<EngineError>> {
    let id = o.id;
    let code = e.code();
    let text = format!("{code}: {e}");
    let now_s = now_db();
    match e.class() {
        ErrorClass::Item => {
            info!(id, %text, "rejected");
            store.write(|tx| -> Result<()> {
                outbox::mark_failed(tx, id, &text, &now_s)?;
                ctx.item_alert(tx, id, Severity::Error, code, &format!("email {id} was not sent: {e}"))
            })?;
            report.failed += 1;
            Ok(None)
        }
        ErrorClass::Transient => {
            let per_message = matches!(e, ProtocolError::SmtpDeferred { .. });
            if o.delivery_attempts >= max_attempts {
                let why = format!("{text} (gave up after {} attempts)", o.delivery_attempts);
                store.write(|tx| -> Result<()> {
                    outbox::mark_failed(tx, id, &why, &now_s)?;
                    ctx.item_alert(tx, id, Severity::Error, code, &format!("email {id} was not sent: {why}"))
                })?;
                report.failed += 1;
            } else {
                let next = to_db(now() + retry_delay(&ctx.settings, o.delivery_attempts));
                store.write(|tx| outbox::schedule_retry(tx, id, &text, &next))?;
                report.retried += 1;
            }
            // A 4xx concerns this message; a dead connection concerns them all.
            Ok((!per_message).then(|| EngineError::Protocol(e)))
        }
        ErrorClass::Permanent => {
            // Authentication, TLS: nothing can be sent until the admin acts; the
            // email waits without losing an attempt.
            let next = to_db(now() + retry_delay(&ctx.settings, 1));
            store.write(|tx| outbox::release(tx, id, &text, Some(&next)))?;
            Ok(Some(EngineError::Protocol(e)))
        }
    }
}
