//! The incoming pipeline: server messages become tracked, correlated CRM
//! email. [`cycle`] runs one mailbox's pass with telemetry and alerts, asking
//! the profile's [`crate::backend::MailSource`] for the pass itself; what one
//! message becomes is [`crate::ingest`].

pub mod cycle;
