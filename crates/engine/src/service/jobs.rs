//! The jobs the service's queues run. Each is a plain async function over a
//! worker's own store connection and a mailbox address that returns a
//! [`JobReport`]; the worker takes the profile's connection permit around it
//! and [`settle`] turns the report into the next schedule, a disable or a
//! recovery, with telemetry and alerts.
//!
//! A job kind whose pipeline is missing from a build returns
//! [`JobOutcome::NotAvailable`] (never a silent success).

use std::time::Duration;

use chrono::Utc;
use crmsync_core::health::{DISABLED_BY_ADMIN, TRANSIENT_FAILURES};
use crmsync_core::model::{Mailbox, Profile, Severity};
use crmsync_core::settings::{BoolSetting, IntSetting, Settings};
use crmsync_core::store::alerts::{self, NewAlert, Scope};
use crmsync_core::store::mailbox_state::{self, Channel};
use crmsync_core::store::profiles;
use crmsync_core::time::to_db;
use crmsync_core::{ErrorClass, Store};
use serde::Serialize;
use tracing::{info, warn};

use super::policy::{self, FailureAction, Policy, PollResult};
use crate::error::Result;
use crate::incoming::cycle;
use crate::outcome::RunOutcome;
use crate::permits::ConnectionPermits;
use crate::test_enable::{channel_word, channels_to_recover, retest};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Fetch new mail (mailbox queue).
    Incoming,
    /// Appointments, contacts and tasks (mailbox queue).
    Act,
    /// Send the outbox (outgoing queue).
    Outgoing,
    /// Re-test a mailbox disabled by transient failures (async queue).
    Recovery,
    /// Test & Enable requested through the handle (async queue).
    TestEnable,
}

impl JobKind {
    /// The channel a failure of this job disables.
    pub fn channel(self) -> Option<Channel> {
        match self {
            JobKind::Incoming | JobKind::Recovery => Some(Channel::Incoming),
            JobKind::Act => Some(Channel::Act),
            JobKind::Outgoing | JobKind::TestEnable => None,
        }
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum JobOutcome {
    /// It ran: counts of the items it looked at.
    Done {
        /// Items looked at.
        processed: i64,
        /// New CRM records.
        created: i64,
        /// Items that failed (kept, with an item alert).
        failed: i64,
        /// Stopped at the per-cycle cap; more is waiting.
        capped: bool,
    },
    /// Nothing to do now (not enabled, not approved).
    Skipped {
        /// Why, as a code.
        code: String,
        /// Why, in words.
        message: String,
    },
    /// The mailbox-level work failed (telemetry and a mailbox alert are recorded).
    Failed {
        /// Stable code.
        code: String,
        /// What happened.
        message: String,
        /// Transient, Permanent or Item.
        class: ErrorClass,
    },
    /// This build has no pipeline for this job kind.
    NotAvailable {
        /// What is missing.
        message: String,
    },
    /// Recovery found the server back and re-enabled at least one channel
    /// (its Information alert names them, and those still off).
    Recovered,
}

/// The report of one job.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    /// What ran.
    pub kind: JobKind,
    /// Mailbox address.
    pub mailbox: String,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: JobOutcome,
}

impl JobReport {
    fn new(kind: JobKind, mailbox: &str, outcome: JobOutcome) -> JobReport {
        JobReport { kind, mailbox: mailbox.to_string(), outcome }
    }
}

impl From<RunOutcome> for JobOutcome {
    fn from(o: RunOutcome) -> JobOutcome {
        match o {
            RunOutcome::Ok(c) => JobOutcome::Done {
                processed: c.processed,
                created: c.created,
                failed: c.failed,
                capped: c.capped,
            },
            RunOutcome::Failed { code, class, message } => JobOutcome::Failed { code, message, class },
            RunOutcome::Skipped { code, message } => JobOutcome::Skipped { code, message },
        }
    }
}

/// Incoming: one `incoming::cycle::sync_incoming` of the mailbox.
pub async fn incoming_job(store: &mut Store, mb: Mailbox) -> Result<JobReport> {
    let r = cycle::sync_incoming(store, mb).await?;
    Ok(JobReport::new(JobKind::Incoming, &r.mailbox, r.outcome.into()))
}

/// Outgoing: one send pass over the mailbox's outbox
/// (`outgoing::cycle::send_mailbox_due`), which takes the profile's connection
/// permit from the shared `permits` around its SMTP and IMAP sessions. A
/// mailbox with nothing due costs a few store reads and no connection.
pub async fn outgoing_job(store: &mut Store, mb: Mailbox, permits: &ConnectionPermits) -> Result<JobReport> {
    let email = mb.data.email.clone();
    let report = crate::outgoing::cycle::send_mailbox_due(store, mb, permits).await?;
    let outcome = match report.map(|r| r.outcome) {
        None => JobOutcome::Done { processed: 0, created: 0, failed: 0, capped: false },
        // The pass raised its own mailbox alert and the mail waits; the
        // schedule retries with backoff whatever the class (the outgoing
        // channel is not disabled by a failed pass).
        Some(RunOutcome::Failed { code, message, .. }) => {
            JobOutcome::Failed { code, message, class: ErrorClass::Transient }
        }
        Some(other) => other.into(),
    };
    Ok(JobReport::new(JobKind::Outgoing, &email, outcome))
}

/// ACT: one `act::cycle::sync_act` of the mailbox (CalDAV/CardDAV both ways).
pub async fn act_job(store: &mut Store, mb: Mailbox) -> Result<JobReport> {
    let r = crate::act::cycle::sync_act(store, mb).await?;
    Ok(JobReport::new(JobKind::Act, &r.mailbox, r.outcome.into()))
}

/// Recovery: re-tests each channel of a mailbox that transient failures
/// disabled (incoming, outgoing, ACT: the channels configured server-side that
/// passed their last Test & Enable and are off), the way Test & Enable does.
/// The channels that answer are enabled again (failure count reset) with an
/// Information alert naming them; the others stay disabled: a permanent error
/// (e.g. the password was changed meanwhile) turns the disable into a
/// permanent one, a transient error leaves them for the next re-test.
pub async fn recovery_job(store: &mut Store, mb: Mailbox) -> Result<JobReport> {
    let email = mb.data.email.as_str();
    let channels = channels_to_recover(&mb);
    if channels.is_empty() {
        return Ok(JobReport::new(
            JobKind::Recovery,
            email,
            JobOutcome::Skipped { code: "NOT_DISABLED".into(), message: "nothing to recover".into() },
        ));
    }
    let profile = profiles::get_by_id(store.conn(), mb.data.profile_id)?;
    let settings = crmsync_core::store::settings::load(store.conn())?;
    let mut passed = Vec::new();
    let mut failed = Vec::new();
    for ch in channels {
        match retest(store, &mb, &profile, ch).await {
            Ok(what) => passed.push((ch, what)),
            Err(e) => failed.push((ch, e.code(), e.to_string(), e.class())),
        }
    }
    let permanent = failed.iter().find(|f| f.3 == ErrorClass::Permanent).map(|f| f.1.clone());
    // What the mailbox is disabled for after this re-test, if anything.
    let reason = match (&permanent, failed.is_empty()) {
        (Some(code), _) => Some(code.clone()),
        (None, false) => Some(TRANSIENT_FAILURES.to_string()),
        (None, true) => None,
    };
    let recovered: Vec<String> =
        passed.iter().map(|(ch, what)| format!("{} ({what})", channel_word(*ch))).collect();
    let still: Vec<String> =
        failed.iter().map(|(ch, code, msg, _)| format!("{} ({code}: {msg})", channel_word(*ch))).collect();
    let mut message = String::new();
    if !recovered.is_empty() {
        message = format!("the server answers again; re-enabled automatically: {}", recovered.join(", "));
        if !still.is_empty() {
            message.push_str(&format!("; still disabled: {}", still.join(", ")));
        }
    }
    store.write(|tx| -> Result<()> {
        for (ch, _) in &passed {
            mailbox_state::set_enabled(tx, mb.id, *ch, true, reason.as_deref())?;
        }
        for (ch, code, msg, class) in &failed {
            if *class == ErrorClass::Permanent {
                raise(
                    tx,
                    &settings,
                    Severity::Error,
                    Scope::Mailbox(mb.id),
                    code,
                    &format!("re-test of a disabled mailbox, {}: {msg}", channel_word(*ch)),
                )?;
            }
            if let Some(r) = &reason {
                mailbox_state::engine_disable(tx, mb.id, *ch, r)?;
            }
        }
        match failed.first() {
            Some((_, code, msg, _)) => mailbox_state::set_last_error(tx, mb.id, Some(code), Some(msg))?,
            None => mailbox_state::set_last_error(tx, mb.id, None, None)?,
        }
        if !passed.is_empty() {
            raise(tx, &settings, Severity::Info, Scope::Mailbox(mb.id), "MAILBOX_RECOVERED", &message)?;
        }
        Ok(())
    })?;
    if !passed.is_empty() {
        info!(mailbox = %email, "recovered: {message}");
        return Ok(JobReport::new(JobKind::Recovery, email, JobOutcome::Recovered));
    }
    let (_, code, message, class) = failed.into_iter().next().expect("a channel was re-tested");
    Ok(JobReport::new(JobKind::Recovery, email, JobOutcome::Failed { code, message, class }))
}

/// Raises an alert when the settings record its severity.
pub fn raise(
    conn: &rusqlite::Connection,
    settings: &Settings,
    severity: Severity,
    scope: Scope,
    code: &str,
    message: &str,
) -> Result<Option<i64>> {
    let record = match severity {
        Severity::Error => settings.bool(BoolSetting::AlertsRecordErrors),
        Severity::Warning => settings.bool(BoolSetting::AlertsRecordWarnings),
        Severity::Info => settings.bool(BoolSetting::AlertsRecordInfo),
    };
    if !record {
        return Ok(None);
    }
    Ok(Some(alerts::raise(conn, &NewAlert { severity, scope, code: code.into(), message: message.into() })?))
}

/// Records a job that did not finish (stopped at the job timeout, or failed
/// before the pipeline could record anything): telemetry and a mailbox alert.
pub fn record_unfinished(
    store: &mut Store,
    mb: &Mailbox,
    settings: &Settings,
    code: &str,
    message: &str,
    class: ErrorClass,
) -> Result<()> {
    let transient = class != ErrorClass::Permanent;
    store.write(|tx| -> Result<()> {
        mailbox_state::sync_failed(tx, mb.id, code, message, transient)?;
        let severity = if transient { Severity::Warning } else { Severity::Error };
        raise(tx, settings, severity, Scope::Mailbox(mb.id), code, message)?;
        Ok(())
    })
}

/// What the scheduler does next with a mailbox's channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Delay before the next run (None: stopped).
    pub next: Option<Duration>,
    /// The poll interval to remember (idle doubling).
    pub interval: Duration,
    /// The channel was disabled.
    pub disabled: bool,
}

/// Applies the outcome of a poll job (incoming or ACT): the next poll time
/// (kept in the store as `next_poll`), exponential backoff after a transient
/// failure, or a disable with an Error alert (permanent error, or
/// `backoff.max_transient_failures` reached); then the profile alert when more
/// than half of the profile's mailboxes failed within the hour.
pub fn settle(
    store: &mut Store,
    mb: &Mailbox,
    profile: &Profile,
    settings: &Settings,
    report: &JobReport,
    previous: Duration,
    push: bool,
) -> Result<Settled> {
    let p = Policy::new(settings, profile.data.min_poll_interval);
    let random: f64 = rand::random();
    let at = |d: Duration| to_db(Utc::now() + chrono::Duration::from_std(d).unwrap_or_default());
    let poll = |result| policy::next_poll(&p, previous, result, push);
    let (delay, interval) = match &report.outcome {
        JobOutcome::Done { processed, capped, .. } => {
            poll(PollResult::Synced { items: *processed, capped: *capped })
        }
        JobOutcome::Skipped { .. } | JobOutcome::NotAvailable { .. } | JobOutcome::Recovered => {
            poll(PollResult::Skipped)
        }
        JobOutcome::Failed { code, message, class } => {
            let failures: i64 = store
                .conn()
                .query_row("SELECT transient_failures FROM mailboxes WHERE id = ?1", [mb.id], |r| r.get(0))
                .map_err(crmsync_core::CoreError::from)?;
            let action = policy::on_failure(&p, *class, failures, random);
            let settled = match action {
                FailureAction::Retry(d) => {
                    store.write(|tx| mailbox_state::set_next_poll(tx, mb.id, Some(&at(d))))?;
                    Settled { next: Some(d), interval: previous, disabled: false }
                }
                FailureAction::Disable { transient } => {
                    disable(store, mb, settings, report.kind, code, message, transient, failures)?;
                    Settled { next: None, interval: previous, disabled: true }
                }
            };
            profile_check(store, profile, settings, code)?;
            return Ok(settled);
        }
    };
    store.write(|tx| mailbox_state::set_next_poll(tx, mb.id, Some(&at(delay))))?;
    Ok(Settled { next: Some(delay), interval, disabled: false })
}

#[allow(clippy::too_many_arguments)]
fn disable(
    store: &mut Store,
    mb: &Mailbox,
    settings: &Settings,
    kind: JobKind,
    code: &str,
    message: &str,
    transient: bool,
    failures: i64,
) -> Result<()> {
    let Some(channel) = kind.channel() else { return Ok(()) };
    if mb.telemetry.disabled_reason.as_deref() == Some(DISABLED_BY_ADMIN) {
        return Ok(());
    }
    let (reason, text) = if transient {
        let every = settings.int(IntSetting::RecoveryIntervalSecs);
        let recovery = if settings.bool(BoolSetting::RecoveryEnabled) {
            format!("crmsync re-tests it every {every} s and re-enables it when the server is back")
        } else {
            "automatic recovery is off (recovery.enabled); re-enable it with `crmsync mailbox enable`".into()
        };
        (
            TRANSIENT_FAILURES.to_string(),
            format!(
                "disabled after {failures} consecutive transient failures (last: {code}: {message}); {recovery}"
            ),
        )
    } else {
        (code.to_string(), format!("disabled: {message}"))
    };
    warn!(mailbox = %mb.data.email, code, reason = %reason, "mailbox disabled: {text}");
    store.write(|tx| -> Result<()> {
        mailbox_state::engine_disable(tx, mb.id, channel, &reason)?;
        // A permanent error already raised its Error alert (same code, folded);
        // repeated transient failures get one of their own.
        if transient {
            raise(tx, settings, Severity::Error, Scope::Mailbox(mb.id), "MAILBOX_DISABLED", &text)?;
        }
        Ok(())
    })
}

/// Raises (or folds) the profile alert when more than half of the profile's
/// working mailboxes failed within the last hour.
fn profile_check(store: &mut Store, profile: &Profile, settings: &Settings, code: &str) -> Result<()> {
    let since = to_db(Utc::now() - chrono::Duration::hours(1));
    let (failing, total) = mailbox_state::profile_failures_since(store.conn(), profile.id, &since)?;
    if total > 0 && failing * 2 > total {
        let message = format!(
            "{failing} of {total} mailboxes of profile '{}' failed in the last hour (latest error {code})",
            profile.data.name
        );
        store.write(|tx| {
            raise(tx, settings, Severity::Error, Scope::Profile(profile.id), "PROFILE_FAILING", &message)
        })?;
    }
    Ok(())
}
