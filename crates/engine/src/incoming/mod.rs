//! The incoming pipeline: server messages become tracked, correlated CRM email.
//! [`process`] turns one raw message into CRM data inside a transaction;
//! [`drivers`] fetch from IMAP and POP3 and touch the server only after the
//! commit; [`cycle`] runs one mailbox sync with telemetry and alerts.

pub mod cycle;
pub mod drivers;
pub mod process;
