//! CalDAV (RFC 4791) and CardDAV (RFC 6352) with sync-collection (RFC 6578):
//! discovery, incremental listing, multiget, conditional PUT and DELETE, and
//! the iCalendar/vCard converters. Parsing is pure and unit-tested; the
//! client is the only part that talks to a server. [`endpoint`] reads a URL
//! and holds the plaintext rule; [`probe`] is the reachability and login
//! check of Test & Enable and Test Connection.

mod auth;
pub mod client;
pub mod endpoint;
pub mod ical;
mod patch;
pub mod probe;
pub mod vcard;
pub mod vtimezone;
pub mod xml;

pub use client::{Changes, DavAuth, DavClient, DavCollection, Discovery, SyncOutcome, WriteError};
pub use endpoint::{DavEndpoint, check_plaintext, is_plaintext};
