//! crmsync protocol clients: IMAP and POP3 for incoming mail (SMTP, EWS and
//! CalDAV/CardDAV follow). Clients turn server bytes into typed items and
//! report failures as [`ProtocolError`]s with a stable code and an
//! [`crmsync_core::ErrorClass`]. This crate never touches the store.

pub mod compose;
pub mod dav;
pub mod dav_probe;
pub mod error;
pub mod imap;
mod imap_connect;
mod imap_exec;
pub mod imap_types;
pub mod imap_wire;
mod limits;
pub mod mime;
pub mod pop3;
pub mod pop3_wire;
pub mod settings;
pub mod smtp;
pub mod smtp_wire;
pub mod tls;
pub mod transport;

pub use error::{Proto, ProtocolError, Result};
pub use imap::ImapClient;
pub use imap_types::{
    AppendUid, Capabilities, FetchBatch, FetchedMessage, Folder, FolderStatus, IdleOutcome, SpecialUse,
    TooLarge,
};
pub use pop3::{MaildropStat, Pop3Client};
pub use pop3_wire::Pop3Capabilities;
pub use settings::{ImapSettings, Password, Pop3Settings, ServerSettings};
