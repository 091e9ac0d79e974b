//! Carries a migration out in ONE store transaction: the plan is made again
//! from a snapshot read inside the transaction, then every profile, user,
//! queue and mailbox is written through the admin API's `_in` functions, so the
//! same validation applies as for hand-typed input. Any refusal rolls
//! everything back. A second apply of the same files finds everything in place
//! and writes nothing at all (not even a `modified_on`).

use crmsync_core::model::ChannelMethod;
use crmsync_core::store::mailboxes as store_mailboxes;
use crmsync_core::store::profiles::PasswordChange;
use crmsync_core::{CoreError, Store};
use rusqlite::Connection;

use super::plan::{self, MigrationPlan, PlannedMailbox, Snapshot};
use super::{MigrationOptions, RouterFiles};
use crate::admin::mailboxes::{self, MailboxInput};
use crate::admin::{principals, profiles};
use crate::error::{EngineError, Result};

/// Plans and applies the migration of `files` in one transaction; returns the
/// plan that was applied.
pub fn apply(store: &mut Store, files: &RouterFiles, options: &MigrationOptions) -> Result<MigrationPlan> {
    store.write(|tx| {
        let snapshot = Snapshot::read(tx)?;
        let plan = plan::plan(files, &snapshot, options)?;
        apply_plan(tx, &plan)?;
        Ok(plan)
    })
}

/// Names the mailbox or profile in an admin refusal, keeping it invalid input.
fn context(what: String) -> impl FnOnce(EngineError) -> EngineError {
    move |e| match e {
        EngineError::Core(CoreError::Invalid { field, reason }) => {
            CoreError::invalid(format!("{what}: {field}"), reason).into()
        }
        other => other,
    }
}

fn input(m: &PlannedMailbox) -> MailboxInput {
    MailboxInput {
        profile: Some(m.profile.clone()),
        incoming: Some(m.incoming.to_string()),
        outgoing: Some(m.outgoing.to_string()),
        act: Some(ChannelMethod::None.to_string()),
        process_from: m.process_from.map(crmsync_core::time::to_db),
        delete_after_processing: Some(m.delete_after_processing),
        forward_mailbox: Some(m.forward_mailbox),
        ..MailboxInput::default()
    }
}

/// Writes `plan` through the admin API inside the caller's transaction.
pub fn apply_plan(tx: &Connection, plan: &MigrationPlan) -> Result<()> {
    for p in &plan.profiles_to_create {
        profiles::insert_in(tx, &p.settings, None)
            .map_err(context(format!("profile '{}'", p.settings.name)))?;
    }
    for u in &plan.users_or_queues_to_create {
        principals::add_in(tx, u.kind.store_kind(), &u.email, &u.name).map_err(context(format!(
            "{} {}",
            u.kind.noun(),
            u.email
        )))?;
    }
    for m in &plan.mailboxes_to_create {
        let id = mailboxes::add_in(tx, &m.email, &input(m), None)
            .map_err(context(format!("mailbox {}", m.email)))?;
        store_mailboxes::set_credentials_required(tx, id, m.credentials_required)?;
    }
    for u in &plan.mailboxes_to_update {
        let m = &u.mailbox;
        let current = store_mailboxes::get(tx, &m.email)?;
        let fields = |f: &str| u.changes.iter().any(|c| c.field == f);
        let wanted = input(m);
        let partial = MailboxInput {
            profile: wanted.profile.filter(|_| fields("profile")),
            incoming: wanted.incoming.filter(|_| fields("incoming")),
            outgoing: wanted.outgoing.filter(|_| fields("outgoing")),
            process_from: wanted.process_from.filter(|_| fields("process-from")),
            delete_after_processing: wanted
                .delete_after_processing
                .filter(|_| fields("delete-after-processing")),
            forward_mailbox: wanted.forward_mailbox.filter(|_| fields("forward-mailbox")),
            ..MailboxInput::default()
        };
        let data_changes = u.changes.iter().any(|c| c.field != "credentials-required");
        if data_changes {
            mailboxes::update_in(tx, &current, &partial, &PasswordChange::Keep)
                .map_err(context(format!("mailbox {}", m.email)))?;
        }
        if fields("credentials-required") {
            store_mailboxes::set_credentials_required(tx, current.id, m.credentials_required)?;
        }
    }
    Ok(())
}
