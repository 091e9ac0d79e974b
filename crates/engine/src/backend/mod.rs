//! The servers crmsync talks to, behind small capability traits
//! ([`capability`]): a [`MailSource`] (incoming mail), a [`MailSender`] and
//! its [`SentItems`] (outgoing mail), an [`ItemStore`] (appointments,
//! contacts, tasks). Each backend is a file: [`imap`] (+ [`imap_pass`]),
//! [`pop3`] (+ [`pop3_pass`]), [`smtp`], [`dav`], for Exchange [`ews_items`],
//! and for Microsoft 365 [`graph_mail`] (+ [`graph_pass`]) and [`graph_items`].
//! [`factory`] is the one place a profile's kind picks them; the pipelines,
//! Test & Enable, Test Connection and the scheduler see only the traits.

pub mod capability;
pub mod dav;
pub mod ews;
pub mod ews_items;
mod ews_items_convert;
mod ews_items_series;
mod ews_items_update;
pub mod ews_pass;
pub mod factory;
pub mod graph_items;
mod graph_items_text;
mod graph_items_write;
pub mod graph_mail;
pub mod graph_pass;
pub mod imap;
pub mod imap_pass;
pub mod pop3;
pub mod pop3_pass;
pub mod smtp;

pub use capability::{
    FoundCollection, Incoming, ItemStore, Listing, MailSender, MailSource, SentFolder, SentItems,
    StoreAnswer, WatchEnd, WatchEvent,
};
pub use factory::{KindFacts, facts};

/// The host and port (the scheme's default when none is written) of an HTTP
/// backend's URL, as its errors name the server; `("", 443)` for a URL that
/// does not parse.
pub(crate) fn host_and_port(url: &str) -> (String, u16) {
    let u = reqwest::Url::parse(url).ok();
    let host = u.as_ref().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
    (host, u.as_ref().and_then(|u| u.port_or_known_default()).unwrap_or(443))
}
