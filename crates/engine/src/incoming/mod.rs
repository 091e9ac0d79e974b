//! The incoming pipeline: server messages become tracked, correlated CRM email.
//! [`process`] turns one raw message into CRM data inside a transaction;
//! [`drivers`] (POP3) and [`imap_pass`] (IMAP) fetch and touch the server only after the
//! commit; [`cycle`] runs one mailbox sync with telemetry and alerts.

pub mod cycle;
pub mod drivers;
pub mod imap_pass;
pub mod process;
