//! The outgoing pipeline: CRM email in Pending Send is sent over SMTP and
//! filed in the sender's Sent folder; see docs/outgoing.md for the states and
//! the exactly-once argument.
//!
//! [`cycle::send_due`] runs one pass over the mailboxes with outbox work. Per
//! mailbox it holds one connection permit of the profile and has at most one
//! connection open at a time, in three phases:
//!
//! 1. IMAP (only when needed): mail left in Sending by a crash, or by a
//!    reply that never came (delivery unknown), is looked up in the Sent
//!    folder by Message-ID; found → Sent, absent (or no Sent folder) → sent
//!    again, once per lookup.
//!    Sent copies still to file from an earlier run are filed.
//! 2. SMTP: one connection, reused for every due message; messages are
//!    claimed (Sending committed to disk) a batch at a time before any of them
//!    is sent (`claims.rs`), each is marked started right before its
//!    transaction and Sent right after the server's 250 in the pass's send log
//!    (folded into the store with the next claim); the next message is
//!    prepared while the server takes in the current one, and an error there
//!    waits until the current message's reply is read and recorded.
//! 3. IMAP: the Sent copies of phase 2 are appended.
//!
//! Phases 1 and 3 are in `sent_folder.rs`; what a pass works with and reports
//! in `pass.rs`, below the others. Mail that waits because its mailbox
//! cannot send raises one alert (`waiting.rs`).

mod claims;
pub mod cycle;
pub mod message;
mod pass;
mod sent_folder;
pub mod waiting;

pub use cycle::{OutgoingSync, send_due, send_due_with, send_mailbox_due};
