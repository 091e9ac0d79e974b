//! `crmsync alert ...`

use crmsync_core::Store;
use crmsync_engine::admin::activities::{self, AlertInput};
use serde_json::json;

use super::Ctx;
use crate::CliError;
use crate::cli::AlertCmd;
use crate::output::{self, opt};

/// Runs an alert command.
pub fn run(ctx: &Ctx, store: &mut Store, cmd: AlertCmd) -> Result<(), CliError> {
    match cmd {
        AlertCmd::List { mailbox, profile, severity, all } => {
            let list = activities::alerts(store, &AlertInput { mailbox, profile, severity, all })?;
            if ctx.json {
                return output::json(&list);
            }
            if list.is_empty() {
                println!("no alerts");
            }
            for a in &list {
                let about = opt(&a.mailbox.clone().or(a.profile.clone()));
                println!(
                    "#{} {} {} [{}] {} (x{}, last {})",
                    a.id, a.severity, about, a.code, a.message, a.count, a.last_seen
                );
                let subject = a.mailbox.as_deref().or(a.profile.as_deref());
                println!("    what to do: {}", crate::hints::what_to_do(&a.hint, a.action, subject));
            }
            Ok(())
        }
        AlertCmd::Ack { id, all } => {
            let n = activities::ack(store, if all { None } else { id.as_deref() })?;
            if ctx.json {
                output::json(&json!({ "acknowledged": n }))
            } else {
                println!("{n} alert(s) acknowledged");
                Ok(())
            }
        }
    }
}
