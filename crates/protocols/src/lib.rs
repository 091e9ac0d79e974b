//! crmsync protocol clients, one folder per protocol: [`imap`] and [`pop3`]
//! for incoming mail, [`smtp`] for sending, [`dav`] for CalDAV/CardDAV, [`ews`]
//! for Exchange, [`graph`] for Microsoft Graph. In each folder the wire parsing (pure, unit-tested)
//! is apart from the session that does the I/O; all of them reach their
//! servers through the one [`transport`] (TCP, TLS, STARTTLS, line reader).
//! Clients turn server bytes into typed items and report failures as
//! [`ProtocolError`]s with a stable code and an [`crmsync_core::ErrorClass`].
//! This crate never touches the store.

pub mod compose;
pub mod dav;
pub mod error;
pub mod ews;
pub mod graph;
pub mod imap;
mod limits;
pub mod mime;
mod peer;
pub mod pop3;
pub mod sasl;
pub mod settings;
pub mod smtp;
pub mod tls;
pub mod transport;

// Old paths, kept for tests.
#[doc(hidden)]
pub use dav::probe as dav_probe;
#[doc(hidden)]
pub use imap::wire as imap_wire;
#[doc(hidden)]
pub use pop3::wire as pop3_wire;
#[doc(hidden)]
pub use smtp::wire as smtp_wire;

pub use dav::DavClient;
pub use error::{EwsFailure, PermissionDenial, Proto, ProtocolError, Result};
pub use imap::ImapClient;
pub use imap::types::{
    AppendUid, Capabilities, FetchBatch, FetchedMessage, Folder, FolderStatus, IdleOutcome, SpecialUse,
    TooLarge,
};
pub use pop3::{MaildropStat, Pop3Capabilities, Pop3Client};
pub use settings::{ImapSettings, Password, Pop3Settings, ServerSettings};
pub use smtp::SmtpClient;
