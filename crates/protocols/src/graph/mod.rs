//! Microsoft Graph (v1.0) for Microsoft 365 mailboxes: mail, events,
//! contacts and To Do tasks. The wire side is pure and unit-tested: serde
//! types ([`types`], [`mail`], [`pim`], [`enums`]), request builders on
//! [`Mailbox`] ([`mail_requests`], [`pim_requests`]), `$batch` bodies
//! ([`batch`]) and the meaning of error answers ([`status`]). The I/O is
//! [`GraphClient`] ([`client`], [`ops`]): bearer token from a
//! [`TokenSource`], paging and delta links, throttling shared per tenant
//! ([`throttle`]), bounded answers and timeouts ([`config`]).

pub mod batch;
pub mod client;
pub mod config;
pub mod convert;
mod convert_event;
pub mod enums;
pub mod mail;
pub mod mail_requests;
mod ops;
pub mod pim;
pub mod pim_requests;
pub mod request;
pub mod status;
pub mod throttle;
pub mod types;

pub use client::{GraphClient, GraphResponse};
pub use config::{GRAPH_ROOT, GraphConfig, SharedToken, TokenSource};
pub use enums::{BodyType, EventType};
pub use mail::{MailFolder, Message, User};
pub use pim::{Contact, Event, PatternedRecurrence, TodoTask, TodoTaskList};
pub use request::{Body, GraphRequest, Mailbox, Target};
pub use throttle::{Scope, Throttle};
pub use types::{DateTimeTimeZone, ErrorDetail, Page, Removed};
