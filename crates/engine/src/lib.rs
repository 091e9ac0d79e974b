//! crmsync engine: the admin API shared by the CLI and the desktop shell, and
//! (in later modules) Test & Enable, the incoming/outgoing/ACT pipelines and the
//! scheduler.

pub mod act;
pub mod admin;
pub mod connect;
pub mod error;
pub mod handle;
pub mod incoming;
pub mod logging;
pub mod migrate;
pub mod outcome;
pub mod outgoing;
pub mod permits;
mod probe;
pub mod service;
pub mod test_enable;

pub use error::{EngineError, Result};
pub use handle::{
    EngineEvent, EngineHandle, EngineOptions, Health, LeaseInfo, MailboxHealth, QueueDepths, StatusSnapshot,
    status_from_store,
};
pub use outcome::{RunCounts, RunOutcome};
pub use service::hold::StoreLease;
