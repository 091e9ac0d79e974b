//! The long-running sync service behind [`crate::EngineHandle`]: a scheduler
//! thread that keeps every mailbox's schedule and three bounded queues
//! (mailboxes, outgoing, async operations), each with its own worker threads
//! and store connections; per-profile connection permits shared by all of
//! them; IMAP IDLE watchers; backoff, disable and recovery. See docs/service.md.

pub(crate) mod engine;
pub mod hold;
mod idle;
pub mod jobs;
pub mod policy;
pub(crate) mod shared;
mod worker;
