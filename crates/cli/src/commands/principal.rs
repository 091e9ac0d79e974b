//! `crmsync user|queue ...`

use crmsync_core::Store;
use crmsync_core::store::principals::Kind;
use crmsync_engine::admin::{activities, principals};

use super::Ctx;
use crate::CliError;
use crate::cli::PrincipalCmd;
use crate::output;

/// Runs a user or queue command.
pub fn run(ctx: &Ctx, store: &mut Store, kind: Kind, cmd: PrincipalCmd) -> Result<(), CliError> {
    match cmd {
        PrincipalCmd::Add { email, name } => {
            let p = principals::add(store, kind, &email, &name)?;
            if ctx.json {
                output::json(&p)
            } else {
                println!("{} {} added", kind.noun(), p.email);
                Ok(())
            }
        }
        PrincipalCmd::List => {
            let list = principals::list(store, kind)?;
            if ctx.json {
                return output::json(&list);
            }
            let rows = list.iter().map(|p| vec![p.email.clone(), p.name.clone()]).collect::<Vec<_>>();
            output::table(&["EMAIL", "NAME"], &rows);
            Ok(())
        }
        PrincipalCmd::Items { email } => {
            if kind != Kind::Queue {
                return Err(CliError::Invalid(
                    "items: only queues have items; use `crmsync queue items EMAIL`".into(),
                ));
            }
            let list = activities::queue_items(store, &email)?;
            if ctx.json {
                return output::json(&list);
            }
            super::activity::print_list(&list);
            Ok(())
        }
    }
}
