//! Migration from the retired Dynamics CRM Email Router (docs/migration.md).
//!
//! A front end (the CLI's `migrate email-router`, the desktop wizard) calls, in order:
//! 1. [`load`]: read and parse the router's files (EmailAgent.xml, optionally
//!    SystemState.xml and a directory CSV mapping CRM ids to addresses); bad
//!    input is an [`EngineError::Migration`](crate::EngineError::Migration).
//! 2. [`preview`]: the [`MigrationPlan`] against the store as it is now; nothing is written.
//! 3. [`apply`]: plans again inside one store transaction and carries the plan
//!    out, all or nothing. Applying the same files twice changes nothing.

pub mod apply;
pub mod directory;
pub mod mapping;
pub mod plan;
pub mod report;
pub mod router;
pub mod state;
mod xml;

use std::path::Path;

use crmsync_core::Store;
use serde::{Deserialize, Serialize};

pub use apply::apply;
pub use plan::{MigrationPlan, Snapshot};

use crate::error::Result;

/// Something the admin should read before applying; never stops the migration.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The file it concerns, if any.
    pub file: Option<String>,
    /// Element path, if it concerns one element.
    pub path: Option<String>,
    /// 1-based line, if known.
    pub line: Option<u32>,
    /// What the admin should know.
    pub message: String,
}

impl Warning {
    /// A warning about one element (the file is filled in by the caller).
    pub(crate) fn at(el: &xml::Element, message: impl Into<String>) -> Warning {
        Warning { file: None, path: Some(el.path.clone()), line: Some(el.line), message: message.into() }
    }

    /// A warning about the migration as a whole.
    pub fn general(message: impl Into<String>) -> Warning {
        Warning { file: None, path: None, line: None, message: message.into() }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file} line {line}: ")?,
            (Some(file), None) => write!(f, "{file}: ")?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        if let Some(p) = &self.path {
            write!(f, "{p}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Choices the admin makes for a migration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationOptions {
    /// Migrate router profiles without SSL as crmsync profiles with
    /// `allow_insecure = true`; without it they are listed as not migrated.
    pub allow_insecure: bool,
}

/// The router's files, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouterFiles {
    /// EmailAgent.xml.
    pub config: router::RouterConfig,
    /// SystemState.xml (empty when not given, missing or corrupt).
    pub state: state::RouterState,
    /// CRM id → address and name (empty when not given).
    pub directory: directory::Directory,
}

/// Reads and parses the router's files. `state` and `directory` are optional;
/// a missing or corrupt state file is "no state" with a warning.
pub fn load(config: &Path, state: Option<&Path>, directory: Option<&Path>) -> Result<RouterFiles> {
    Ok(RouterFiles {
        config: router::load(config)?,
        state: state.map(state::load).unwrap_or_default(),
        directory: match directory {
            Some(d) => directory::load(d)?,
            None => directory::Directory::default(),
        },
    })
}

/// What applying `files` would do to the store now; writes nothing.
pub fn preview(store: &Store, files: &RouterFiles, options: &MigrationOptions) -> Result<MigrationPlan> {
    let snapshot = Snapshot::read(store.conn())?;
    plan::plan(files, &snapshot, options)
}

#[cfg(test)]
pub(crate) mod test_support;
