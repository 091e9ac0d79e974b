//! `crmsync migrate email-router`: preview, then apply in one transaction.

use crmsync_core::Store;
use crmsync_engine::migrate::plan::{MigrationPlan, PlannedMailbox};
use crmsync_engine::migrate::{self, MigrationOptions};
use serde::Serialize;

use super::Ctx;
use crate::CliError;
use crate::cli::{EmailRouterArgs, MigrateCmd};
use crate::output::{self, opt};

/// The `--json` document: the plan plus whether it was written.
#[derive(Serialize)]
struct Report<'a> {
    applied: bool,
    #[serde(flatten)]
    plan: &'a MigrationPlan,
}

/// Runs a migrate command.
pub fn run(ctx: &Ctx, store: &mut Store, cmd: MigrateCmd) -> Result<(), CliError> {
    match cmd {
        MigrateCmd::EmailRouter(args) => email_router(ctx, store, args),
    }
}

fn email_router(ctx: &Ctx, store: &mut Store, a: EmailRouterArgs) -> Result<(), CliError> {
    let files = migrate::load(&a.config, a.state.as_deref(), a.directory.as_deref())?;
    let options = MigrationOptions { allow_insecure: a.allow_insecure };
    let plan = if a.dry_run {
        migrate::preview(store, &files, &options)?
    } else {
        migrate::apply(store, &files, &options)?
    };
    if ctx.json {
        return output::json(&Report { applied: !a.dry_run, plan: &plan });
    }
    print(&plan);
    println!();
    if a.dry_run {
        println!("dry run, nothing written");
    } else if plan.changes_nothing() {
        println!("applied: nothing to change, everything is already migrated");
    } else {
        println!(
            "applied: {} profile(s), {} user(s)/queue(s), {} mailbox(es) created, {} mailbox(es) updated",
            plan.profiles_to_create.len(),
            plan.users_or_queues_to_create.len(),
            plan.mailboxes_to_create.len(),
            plan.mailboxes_to_update.len()
        );
    }
    Ok(())
}

fn section(title: &str, n: usize) {
    println!();
    println!("{title} ({n})");
    if n == 0 {
        println!("  (none)");
    }
}

fn mailbox_line(m: &PlannedMailbox) -> String {
    let mut parts = vec![
        format!("{}, profile '{}'", m.owner.noun(), m.profile),
        format!("incoming {}", m.incoming),
        format!("outgoing {}", m.outgoing),
        format!("process from {}", opt(&m.process_from.map(crmsync_core::time::to_db))),
    ];
    if m.forward_mailbox {
        parts.push("forward mailbox".into());
    }
    if m.delete_after_processing {
        parts.push("delete after processing".into());
    }
    if m.credentials_required {
        parts.push("credentials required".into());
    }
    format!("  {}: {}", m.email, parts.join(", "))
}

/// Prints the preview: profiles, users and queues, mailboxes, credentials
/// required, not migrated, warnings.
fn print(plan: &MigrationPlan) {
    println!("Email Router migration of {}", plan.deployment.as_deref().unwrap_or("(no organization found)"));
    section("Profiles to create", plan.profiles_to_create.len());
    for p in &plan.profiles_to_create {
        let d = &p.settings;
        let server = match (&d.ews_url, &d.incoming, &d.outgoing) {
            (Some(url), _, _) => url.clone(),
            (None, Some(i), Some(o)) => {
                format!(
                    "in {}:{} ({}), out {}:{} ({})",
                    i.host, i.port, i.security, o.host, o.port, o.security
                )
            }
            _ => "-".into(),
        };
        let creds = match &d.username {
            Some(u) => format!("credentials {} ({u})", d.credentials),
            None => format!("credentials {}", d.credentials),
        };
        let auth = match (&d.outgoing, d.outgoing_auth) {
            (Some(_), a) => format!(", smtp auth {a}"),
            (None, _) => String::new(),
        };
        let insecure = if d.allow_insecure { ", ALLOW INSECURE" } else { "" };
        println!("  {} [{}] {server}, {creds}{auth}{insecure}", d.name, d.kind);
        println!("      from {}", p.from.join("; "));
    }
    section("Profiles reused", plan.profiles_reused.len());
    for p in &plan.profiles_reused {
        println!("  {}: {} (for {})", p.name, p.note, p.from.join("; "));
    }
    section("Users and queues to create", plan.users_or_queues_to_create.len());
    for p in &plan.users_or_queues_to_create {
        println!("  {} {} '{}' ({})", p.kind.noun(), p.email, p.name, p.reason);
    }
    section("Mailboxes to create", plan.mailboxes_to_create.len());
    for m in &plan.mailboxes_to_create {
        println!("{}", mailbox_line(m));
    }
    section("Mailboxes to update", plan.mailboxes_to_update.len());
    for u in &plan.mailboxes_to_update {
        let changes: Vec<String> =
            u.changes.iter().map(|c| format!("{} {} -> {}", c.field, c.from, c.to)).collect();
        println!("  {}: {}", u.mailbox.email, changes.join(", "));
    }
    section("Mailboxes unchanged", plan.mailboxes_unchanged.len());
    if !plan.mailboxes_unchanged.is_empty() {
        println!("  {}", plan.mailboxes_unchanged.join(", "));
    }
    section("Credentials required", plan.credentials_required.len());
    for c in &plan.credentials_required {
        println!("  {} {}: {}", c.kind, c.name, c.action);
    }
    section("Not migrated", plan.not_migrated.len());
    for n in &plan.not_migrated {
        println!("  {}: {}", n.item, n.reason);
    }
    section("Warnings", plan.warnings.len());
    for w in &plan.warnings {
        println!("  {w}");
    }
}
