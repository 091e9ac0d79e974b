//! crmsync engine: the admin API shared by the CLI and the desktop shell,
//! Test & Enable, the incoming/outgoing/ACT pipelines, the backends they talk
//! to, and the scheduler. docs/architecture.md shows the layers.

pub mod act;
pub mod admin;
pub mod backend;
pub mod connect;
pub mod error;
pub mod handle;
pub mod history;
pub mod incoming;
pub mod ingest;
pub mod logging;
pub mod migrate;
pub mod oauth;
pub mod outcome;
pub mod outgoing;
pub mod permits;
pub mod service;
pub mod test_enable;

pub use error::{EngineError, Result};
pub use handle::{
    EngineEvent, EngineHandle, EngineOptions, Health, LeaseInfo, MailboxHealth, QueueDepths, StatusSnapshot,
    status_from_store,
};
pub use outcome::{RunCounts, RunOutcome};
pub use service::hold::StoreLease;
