//! `crmsync settings ...`

use crmsync_core::Store;
use crmsync_engine::admin::settings;

use super::Ctx;
use crate::CliError;
use crate::cli::SettingsCmd;
use crate::output;

/// Runs a settings command.
pub fn run(ctx: &Ctx, store: &mut Store, cmd: SettingsCmd) -> Result<(), CliError> {
    match cmd {
        SettingsCmd::Show => {
            let entries = settings::show(store)?;
            if ctx.json {
                return output::json(&entries);
            }
            let rows = entries
                .iter()
                .map(|e| {
                    let v = e.value.as_str().map_or_else(|| e.value.to_string(), str::to_string);
                    vec![
                        e.key.clone(),
                        v,
                        if e.is_default { String::new() } else { "(changed)".into() },
                        e.help.clone(),
                    ]
                })
                .collect::<Vec<_>>();
            output::table(&["KEY", "VALUE", "", "MEANING"], &rows);
            Ok(())
        }
        SettingsCmd::Set { key, value } => {
            let e = settings::set(store, &key, &value)?;
            if ctx.json {
                output::json(&e)
            } else {
                println!("{} = {}", e.key, e.value);
                Ok(())
            }
        }
    }
}
