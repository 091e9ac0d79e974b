//! `crmsync profile ...`

use crmsync_core::Store;
use crmsync_core::model::{Endpoint, Profile};
use crmsync_engine::admin::profiles::{self, ProfileInput};
use serde_json::json;

use super::Ctx;
use crate::cli::{ProfileArgs, ProfileCmd};
use crate::output::{self, opt};
use crate::{CliError, secrets};

fn input(a: ProfileArgs, disallow_insecure: bool) -> Result<ProfileInput, CliError> {
    Ok(ProfileInput {
        password: secrets::read_password(a.password.password_stdin, a.password.password_env.as_deref())?,
        kind: a.kind,
        incoming_host: a.incoming_host,
        incoming_port: a.incoming_port,
        incoming_security: a.incoming_security,
        outgoing_host: a.outgoing_host,
        outgoing_port: a.outgoing_port,
        outgoing_security: a.outgoing_security,
        ews_url: a.ews_url,
        dav_url: a.dav_url,
        outgoing_auth: a.outgoing_auth,
        credentials: a.credentials,
        username: a.username,
        max_connections: a.max_connections,
        min_poll_interval: a.min_poll_interval,
        timeout: a.timeout,
        process_from: a.process_from,
        allow_insecure: if a.allow_insecure {
            Some(true)
        } else if disallow_insecure {
            Some(false)
        } else {
            None
        },
    })
}

fn endpoint(e: &Option<Endpoint>) -> String {
    e.as_ref().map_or("-".into(), |e| format!("{}:{} ({})", e.host, e.port, e.security))
}

fn print(p: &Profile) {
    let d = &p.data;
    output::fields(&[
        ("name", d.name.clone()),
        ("kind", d.kind.to_string()),
        ("incoming", endpoint(&d.incoming)),
        ("outgoing", endpoint(&d.outgoing)),
        ("outgoing auth", d.outgoing_auth.to_string()),
        ("ews url", opt(&d.ews_url)),
        ("dav url", opt(&d.dav_url)),
        ("credentials", d.credentials.to_string()),
        ("username", opt(&d.username)),
        ("password", if p.has_password { "(stored, encrypted)".into() } else { "-".into() }),
        ("max connections", d.max_connections.to_string()),
        ("min poll interval", format!("{} s", d.min_poll_interval)),
        ("timeout", format!("{} s", d.timeout)),
        ("process from", opt(&d.process_from)),
        ("allow insecure", d.allow_insecure.to_string()),
    ]);
}

/// Runs a profile command.
pub fn run(ctx: &Ctx, store: &mut Store, cmd: ProfileCmd) -> Result<(), CliError> {
    match cmd {
        ProfileCmd::Add { name, args } => {
            let p = profiles::add(store, &name, &input(args, false)?)?;
            if ctx.json {
                output::json(&p)
            } else {
                println!("profile '{}' added", p.data.name);
                Ok(())
            }
        }
        ProfileCmd::Update { name, args, disallow_insecure } => {
            let p = profiles::update(store, &name, &input(args, disallow_insecure)?)?;
            if ctx.json {
                output::json(&p)
            } else {
                println!("profile '{}' updated", p.data.name);
                Ok(())
            }
        }
        ProfileCmd::Remove { name } => {
            profiles::remove(store, &name)?;
            if ctx.json {
                output::json(&json!({ "removed": name }))
            } else {
                println!("profile '{name}' removed");
                Ok(())
            }
        }
        ProfileCmd::List => {
            let list = profiles::list(store)?;
            if ctx.json {
                return output::json(&list);
            }
            let rows = list
                .iter()
                .map(|p| {
                    vec![
                        p.data.name.clone(),
                        p.data.kind.to_string(),
                        endpoint(&p.data.incoming),
                        endpoint(&p.data.outgoing),
                    ]
                })
                .collect::<Vec<_>>();
            output::table(&["NAME", "KIND", "INCOMING", "OUTGOING"], &rows);
            Ok(())
        }
        ProfileCmd::Show { name } => {
            let p = profiles::show(store, &name)?;
            if ctx.json {
                output::json(&p)
            } else {
                print(&p);
                Ok(())
            }
        }
    }
}
