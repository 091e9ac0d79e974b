//! Turning fetched mail into CRM data, the same for every backend:
//! [`process`] makes one raw message a tracked, correlated email (or a kept
//! failed item) inside the caller's transaction; [`batch`] runs it under a
//! savepoint and counts the pass.

pub mod batch;
pub mod process;
