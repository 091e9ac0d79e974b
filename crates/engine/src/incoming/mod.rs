//! The incoming pipeline: server messages become tracked, correlated CRM email.
//! Processing of one message is in [`process`]; the protocol drivers (IMAP,
//! POP3) fetch, call it inside a transaction per batch, and only after the
//! commit touch the server (\Seen, delete).

pub mod process;
