//! Exchange Web Services (EWS) client for Exchange 2010 SP2 to Subscription
//! Edition: SOAP 1.1 requests written by [`request`] (in schema order, see
//! [`write`](mod@write)), answers read by [`response`] into the typed model of
//! [`types`], both pure; the HTTP [`session`] (Basic or NTLM, the
//! profile's TLS rules, timeouts, bounded answers) and the mapping of
//! response codes to errors in [`errors`]. [`autodiscover`] finds the EWS
//! URL when the profile has none ([`discover`] does its I/O).

pub mod autodiscover;
pub mod discover;
pub mod errors;
mod http;
mod ntlm;
pub mod parse_item;
pub mod request;
pub mod response;
pub mod session;
pub mod types;
pub mod write;
pub mod xml;

pub use autodiscover::{Discovered, How};
pub use discover::{AutodiscoverSettings, autodiscover as discover_ews_url};
pub use request::{
    BaseShape, ConflictResolution, CreateFolder, CreateItem, DeleteItem, DeleteType, FindFolder, FindItem,
    FolderKind, GetFolder, GetItem, Header, ItemChange, ItemShape, MessageDisposition, MoveItem,
    PropertyPath, Request, Restriction, SendMeeting, ServerVersion, SyncFolderItems, Traversal, Update,
    UpdateItem, View, envelope,
};
pub use response::{FoundItems, SyncChange, SyncPage};
pub use session::{EwsAuth, EwsClient, EwsSettings, ItemResult};
pub use types::*;
