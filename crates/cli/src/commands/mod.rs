//! Command handlers: each opens the store, calls the engine's admin API and prints.

mod act_records;
mod activity;
mod alert;
mod email;
mod history;
mod mailbox;
mod migrate;
mod principal;
mod profile;
mod record;
mod run;
mod settings;
mod sync;

use std::path::PathBuf;

use crmsync_core::Store;
use serde_json::json;

use crate::CliError;
use crate::cli::{Cli, Command};
use crate::output;

/// Resolved global options.
pub struct Ctx {
    /// Print JSON.
    pub json: bool,
}

/// Opens (creating or upgrading) the store the command works on.
fn open_store(db: Option<PathBuf>) -> Result<Store, CliError> {
    let path = db.unwrap_or_else(crmsync_core::store::default_path);
    Store::open(&path).map_err(|e| CliError::Runtime(e.to_string()))
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let ctx = Ctx { json: cli.json };
    let mut store = open_store(cli.db)?;
    match cli.command {
        Command::Init => {
            let version = store.schema_version()?;
            let path = store.path().display().to_string();
            if ctx.json {
                output::json(&json!({ "path": path, "schema_version": version }))
            } else {
                println!("store {path} is ready (schema version {version})");
                Ok(())
            }
        }
        Command::Profile(cmd) => profile::run(&ctx, &mut store, cmd),
        Command::User(cmd) => {
            principal::run(&ctx, &mut store, crmsync_core::store::principals::Kind::User, cmd)
        }
        Command::Queue(cmd) => {
            principal::run(&ctx, &mut store, crmsync_core::store::principals::Kind::Queue, cmd)
        }
        Command::Contact(cmd) => act_records::contact(&ctx, &mut store, cmd),
        Command::Appointment(cmd) => act_records::appointment(&ctx, &mut store, cmd),
        Command::Task(cmd) => act_records::task(&ctx, &mut store, cmd),
        Command::Account(cmd) => {
            record::run(&ctx, &mut store, crmsync_engine::admin::imports::RecordKind::Account, cmd)
        }
        Command::Lead(cmd) => {
            record::run(&ctx, &mut store, crmsync_engine::admin::imports::RecordKind::Lead, cmd)
        }
        Command::Mailbox(cmd) => mailbox::run(&ctx, &mut store, cmd),
        Command::Settings(cmd) => settings::run(&ctx, &mut store, cmd),
        Command::Activity(cmd) => activity::run(&ctx, &store, cmd),
        Command::Alert(cmd) => alert::run(&ctx, &mut store, cmd),
        Command::Email(cmd) => email::run(&ctx, &mut store, cmd),
        Command::Sync { mailbox } => sync::run(&ctx, &mut store, mailbox),
        Command::Migrate(cmd) => migrate::run(&ctx, &mut store, cmd),
        Command::Run { lease_timeout, .. } => run::service(store, lease_timeout),
        Command::Status => run::status(&ctx, &store),
    }
}

/// A single-threaded runtime for commands that talk to servers.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Runtime(format!("cannot start the async runtime: {e}")))
}
