//! One processing cycle of a mailbox: connect, sync, record telemetry and
//! alerts. `crmsync sync` runs it once over the due mailboxes; the service
//! drives the same function on its schedule.

use std::time::Instant;

use crmsync_core::model::{Approval, IncomingMethod, Mailbox, Severity};
use crmsync_core::settings::BoolSetting;
use crmsync_core::store::alerts::{self, NewAlert, Scope};
use crmsync_core::store::history::RunChannel;
use crmsync_core::store::mailbox_state;
use crmsync_core::store::{mailboxes, profiles, settings as stored_settings};
use crmsync_core::{ErrorClass, Store};
use serde::Serialize;

use crate::backend::factory;
use crate::error::{EngineError, Result};
use crate::history;
use crate::ingest::batch::SyncStats;
use crate::ingest::process::MailboxContext;
use crate::oauth;
use crate::outcome::{RunCounts, RunOutcome};

/// The result of syncing one mailbox.
#[derive(Debug, Clone, Serialize)]
pub struct MailboxSync {
    /// Mailbox address.
    pub mailbox: String,
    /// How it ended (`result`, `code`, `message` in JSON).
    #[serde(flatten)]
    pub outcome: RunOutcome,
    /// Counts (when it ran).
    pub stats: Option<SyncStats>,
}

impl From<SyncStats> for RunCounts {
    fn from(s: SyncStats) -> RunCounts {
        RunCounts { processed: s.processed, created: s.created, failed: s.failed, capped: s.capped }
    }
}

/// Whether the incoming channel of a mailbox should be processed now.
pub fn incoming_due(mb: &Mailbox, require_approval: bool) -> std::result::Result<(), (&'static str, String)> {
    if mb.data.incoming_method != IncomingMethod::ServerSide {
        return Err(("NOT_SERVER_SIDE", "incoming is not server-side".into()));
    }
    if !mb.incoming.enabled {
        return Err(("NOT_ENABLED", "incoming is not enabled; run Test & Enable".into()));
    }
    if require_approval && mb.approval != Approval::Approved {
        return Err(("NOT_APPROVED", "the mailbox is not approved".into()));
    }
    Ok(())
}

/// Syncs the incoming mail of mailbox `mb` (looked up by the caller, once)
/// and records telemetry and alerts.
pub async fn sync_incoming(store: &mut Store, mb: Mailbox) -> Result<MailboxSync> {
    let profile = profiles::get_by_id(store.conn(), mb.data.profile_id)?;
    let settings = stored_settings::load(store.conn())?;
    if let Err((code, why)) = incoming_due(&mb, settings.bool(BoolSetting::IncomingRequireApproval)) {
        return Ok(MailboxSync {
            mailbox: mb.data.email,
            outcome: RunOutcome::skipped(code, why),
            stats: None,
        });
    }
    let id = mb.id;
    let email = mb.data.email.clone();
    store.write(|tx| mailbox_state::sync_started(tx, id))?;
    let run_id = history::start(store, id, RunChannel::Incoming)?;
    let started = Instant::now();
    let mut ctx = MailboxContext::new(mb, profile, settings);
    ctx.run_id = Some(run_id);
    let outcome = run_pass(store, &ctx).await;
    let ms = started.elapsed().as_millis() as i64;
    let sync = match outcome {
        Ok(stats) => {
            store.write(|tx| mailbox_state::sync_succeeded(tx, id, stats.processed, stats.failed, ms))?;
            MailboxSync { mailbox: email, outcome: RunOutcome::Ok(stats.into()), stats: Some(stats) }
        }
        Err(e) => {
            record_failure(store, &ctx, &e)?;
            MailboxSync { mailbox: email, outcome: RunOutcome::failed(&e), stats: None }
        }
    };
    let (tracked, not_tracked) =
        sync.stats.map_or((0, 0), |s| (s.tracked, s.processed - s.tracked - s.failed));
    history::finish(store, run_id, &sync.outcome, tracked, not_tracked)?;
    Ok(sync)
}

/// One pass through the profile's mail source (IMAP, POP3, ...). When the
/// server refuses an OAuth2 access token, the token is refreshed and the pass
/// tried once more (a refused login changed nothing on either side).
async fn run_pass(store: &mut Store, ctx: &MailboxContext) -> Result<SyncStats> {
    let source = factory::mail_source(store, &ctx.mailbox, &ctx.profile)?;
    match source.pass(store, ctx).await {
        Err(e) if oauth::bearer_refused(&ctx.profile, &e) => {
            tracing::info!(mailbox = %ctx.mailbox.data.email, code = %e.code(), "access token refused; refreshing it once");
            oauth::expire_access(store, &ctx.mailbox, &ctx.profile)?;
            let source = factory::mail_source(store, &ctx.mailbox, &ctx.profile)?;
            source.pass(store, ctx).await
        }
        r => r,
    }
}

/// Records a failed sync: telemetry, and a mailbox alert (Warning for a
/// transient failure, Error for a permanent one).
pub fn record_failure(store: &mut Store, ctx: &MailboxContext, e: &EngineError) -> Result<()> {
    let transient = e.class() == ErrorClass::Transient;
    let code = e.code();
    let message = e.to_string();
    let severity = if transient { Severity::Warning } else { Severity::Error };
    let record = match severity {
        Severity::Warning => ctx.settings.bool(BoolSetting::AlertsRecordWarnings),
        _ => ctx.settings.bool(BoolSetting::AlertsRecordErrors),
    };
    let id = ctx.mailbox.id;
    store.write(|tx| -> Result<()> {
        mailbox_state::sync_failed(tx, id, &code, &message, transient)?;
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

/// One cycle: every mailbox with incoming enabled (or just `only`), in turn.
pub async fn sync_all(store: &mut Store, only: Option<&str>) -> Result<Vec<MailboxSync>> {
    let list =
        match only {
            Some(email) => vec![mailboxes::find(store.conn(), email)?.ok_or_else(|| {
                crmsync_core::CoreError::invalid("mailbox", format!("no mailbox for {email}"))
            })?],
            None => mailboxes::list(store.conn())?,
        };
    let mut out = Vec::new();
    for mb in list {
        if only.is_none() && !mb.incoming.enabled {
            continue;
        }
        out.push(sync_incoming(store, mb).await?);
    }
    Ok(out)
}
