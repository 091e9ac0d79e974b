//! `crmsync activity ...`

use crmsync_core::Store;
use crmsync_core::store::activities::{ActivityView, PartyView};
use crmsync_engine::admin::activities::{self, ListInput};

use super::Ctx;
use crate::CliError;
use crate::cli::ActivityCmd;
use crate::output::{self, opt};

fn party(p: &PartyView) -> String {
    let addr = p.address.clone().unwrap_or_default();
    match &p.resolved {
        Some(r) => format!("{addr} ({} {})", r.record_type, r.name),
        None => format!("{addr} (unresolved)"),
    }
}

/// Prints activities as a table.
pub fn print_list(list: &[ActivityView]) {
    let rows = list
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                a.activity_type.clone(),
                opt(&a.status),
                a.subject.chars().take(50).collect(),
                a.from.as_ref().map_or("-".into(), party),
                a.regarding.as_ref().map_or("-".into(), |r| format!("{} {}", r.record_type, r.name)),
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["ID", "TYPE", "STATUS", "SUBJECT", "FROM", "REGARDING"], &rows);
}

fn print(a: &ActivityView) {
    let list = |v: &[PartyView]| {
        if v.is_empty() { "-".into() } else { v.iter().map(party).collect::<Vec<_>>().join(", ") }
    };
    let mut pairs = vec![
        ("id", a.id.to_string()),
        ("type", a.activity_type.clone()),
        ("direction", opt(&a.direction)),
        ("status", opt(&a.status)),
        ("subject", a.subject.clone()),
        ("from", a.from.as_ref().map_or("-".into(), party)),
        ("to", list(&a.to)),
        ("cc", list(&a.cc)),
        ("regarding", a.regarding.as_ref().map_or("-".into(), |r| format!("{} {}", r.record_type, r.name))),
        ("correlation", opt(&a.correlation_method)),
        ("message id", opt(&a.message_id)),
        ("tracking token", opt(&a.tracking_token)),
        ("received", opt(&a.received_on)),
        ("mailboxes", a.receiving_mailboxes.join(", ")),
    ];
    for at in &a.attachments {
        pairs.push((
            "attachment",
            format!(
                "{} ({} bytes{})",
                at.name,
                at.size,
                if at.saved { "" } else { ", not saved: over the size limit" }
            ),
        ));
    }
    if !a.flags.is_empty() {
        pairs.push(("flags", a.flags.join(", ")));
    }
    if a.direction.as_deref() == Some("outgoing") {
        pairs.push(("sender mailbox", opt(&a.sender_mailbox)));
        pairs.push(("attempts", opt(&a.delivery_attempts)));
        pairs.push(("sent", opt(&a.sent_on)));
        pairs.push(("last error", opt(&a.last_error)));
    }
    output::fields(&pairs);
    if let Some(t) = &a.body_text {
        println!();
        println!("{}", t.trim_end());
    }
}

/// Runs an activity command.
pub fn run(ctx: &Ctx, store: &Store, cmd: ActivityCmd) -> Result<(), CliError> {
    match cmd {
        ActivityCmd::List { activity_type, mailbox, regarding, limit } => {
            let list = activities::list(store, &ListInput { activity_type, mailbox, regarding, limit })?;
            if ctx.json {
                return output::json(&list);
            }
            print_list(&list);
            Ok(())
        }
        ActivityCmd::Show { id } => {
            let a = activities::show(store, &id)?;
            if ctx.json {
                output::json(&a)
            } else {
                print(&a);
                Ok(())
            }
        }
    }
}
