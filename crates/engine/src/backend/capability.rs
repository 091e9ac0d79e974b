//! What the pipelines ask of a server, as small capability traits. A backend
//! (IMAP, POP3, SMTP, CalDAV/CardDAV; later EWS and Graph) implements the ones
//! its server offers; [`super::factory`] turns a profile into them, and the
//! pipelines, Test & Enable, Test Connection and the scheduler use nothing
//! else. Every method is one request-shaped step, so a backend that cannot
//! do a thing says so with an error carrying a code, never by panicking.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crmsync_core::Store;
use crmsync_protocols::ProtocolError;
use crmsync_protocols::dav::{Changes, WriteError};
use futures::future::BoxFuture;

use crate::error::Result;
use crate::ingest::batch::SyncStats;
use crate::ingest::process::MailboxContext;

/// A boxed future of an engine result, the return type of every async capability.
pub type Fut<'a, T> = BoxFuture<'a, Result<T>>;

/// What an incoming server showed to a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming {
    /// Logged in and opened the inbox, which holds this many messages.
    Mailbox {
        /// Messages in the inbox.
        messages: u32,
    },
    /// Logged in; the maildrop (POP3) holds this many messages.
    Maildrop {
        /// Messages in the maildrop.
        messages: u32,
    },
    /// Connected, secured and read the capabilities; no login was tried.
    Answered,
}

impl Incoming {
    /// What the login found, in the words both reports use.
    pub fn login_words(&self, user: &str) -> String {
        match self {
            Incoming::Mailbox { messages } => format!("login as {user} and INBOX ({messages} messages) OK"),
            Incoming::Maildrop { messages } => format!("login as {user} OK ({messages} messages)"),
            Incoming::Answered => "login not tested".into(),
        }
    }
}

/// What a calendar/contacts server answered to a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreAnswer {
    /// It accepted the login.
    LoggedIn,
    /// No login was tried and it answered without asking for one.
    Answered,
    /// No login was tried and it asked for one: it answers, which is the check.
    AsksForLogin,
}

/// What a watcher reports while it watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEvent {
    /// The watch is set up; new mail is reported from now on.
    Up,
    /// New mail arrived (or may have): sync now.
    NewMail,
}

/// How a watch ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEnd {
    /// The server cannot push changes; the mailbox is polled.
    Unsupported,
    /// crmsync is stopping.
    Stopped,
}

/// Where a mailbox's incoming mail comes from.
pub trait MailSource: Send + Sync {
    /// The protocol and server, as reports name them ("IMAP mail.example.com:993").
    fn describe(&self) -> String;

    /// What Test & Enable and Test Connection ask: connect (securing the
    /// connection as configured) and, with `login`, log in and look at the
    /// inbox. Nothing is read, stored or changed.
    fn probe(&self, login: bool) -> Fut<'_, Incoming>;

    /// One incoming pass of `ctx`'s mailbox: list what is new since the
    /// durable watermark the backend keeps in the store, fetch it in batches
    /// bounded by count and bytes, process each batch with
    /// [`crate::ingest::batch::process_one`] in one transaction that also
    /// moves the watermark, and only after the commit change the server
    /// (mark read, delete) for tracked mail, recording what is pending so the
    /// next pass finishes it. Stops at `incoming.max_items_per_cycle`.
    fn pass<'a>(&'a self, store: &'a mut Store, ctx: &'a MailboxContext) -> Fut<'a, SyncStats>;

    /// Watches the inbox for new mail where the server can push (IMAP IDLE),
    /// calling `event` as things happen, until `stop` is set or an error. A
    /// server that cannot push returns [`WatchEnd::Unsupported`].
    fn watch<'a>(
        &'a self,
        max_wait: Duration,
        event: &'a (dyn Fn(WatchEvent) + Send + Sync),
        stop: &'a AtomicBool,
    ) -> Fut<'a, WatchEnd> {
        let _ = (max_wait, event, stop);
        Box::pin(async { Ok(WatchEnd::Unsupported) })
    }
}

/// The server's reply to a submitted message, read later (the next message
/// is prepared meanwhile). Dropping it unread marks the session unusable.
pub type PendingReply<'a> = BoxFuture<'a, std::result::Result<String, ProtocolError>>;

/// How a mailbox sends mail.
pub trait MailSender: Send + Sync {
    /// The protocol and server, as reports name them ("SMTP mail.example.com:587").
    fn describe(&self) -> String;

    /// The user the sender logs in as, when it logs in.
    fn login(&self) -> Option<&str>;

    /// What Test & Enable and Test Connection ask: connect and, when the
    /// sender was made to log in, authenticate. Nothing is sent.
    fn probe(&self) -> Fut<'_, ()>;

    /// Hands one message to the server. Resolves once the whole message is on
    /// the wire (the point after which it may have been accepted) into the
    /// reply still to read. The errors are the protocol's, so the outgoing
    /// pipeline can tell a rejected message (item), a deferred one
    /// (transient) and an unknown outcome (no reply) apart.
    fn submit<'a>(
        &'a self,
        from: &'a str,
        recipients: &'a [String],
        raw: &'a [u8],
    ) -> BoxFuture<'a, std::result::Result<PendingReply<'a>, ProtocolError>>;

    /// Ends the session politely (errors are of no interest by then).
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// Where copies of sent mail are kept and looked up: the Sent folder.
pub trait SentItems: Send + Sync {
    /// Opens a session on the Sent folder.
    fn open(&self) -> Fut<'_, Box<dyn SentFolder>>;
}

/// An open session on the Sent folder.
pub trait SentFolder: Send {
    /// The folder's name on the server.
    fn name(&self) -> &str;

    /// Whether a message with this Message-ID is in the folder. A server
    /// without the folder holds nothing there: false, not an error.
    fn holds<'a>(&'a mut self, message_id: &'a str) -> Fut<'a, bool>;

    /// Files a copy of a sent message (marked read). `MailboxNotFound` when
    /// the folder does not exist.
    fn file<'a>(&'a mut self, raw: &'a [u8]) -> BoxFuture<'a, std::result::Result<(), ProtocolError>>;

    /// Ends the session.
    fn close(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// One collection an item store found for a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCollection {
    /// `calendar`, `tasks` or `contacts`.
    pub kind: &'static str,
    /// Its URL.
    pub url: String,
    /// Its display name, when the server gives one.
    pub display_name: Option<String>,
}

/// The server's state of one collection URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// href -> etag of every member now.
    pub members: BTreeMap<String, String>,
    /// The sync token this listing is as of, if the server gave one.
    pub token: Option<String>,
    /// The collection's CTag, when listed without a sync token.
    pub ctag: Option<String>,
    /// How changes were listed: sync-token, initial, ctag-unchanged or etags.
    pub how: &'static str,
}

/// Where a mailbox's appointments, contacts and tasks live. Items travel as
/// iCalendar (appointments, tasks) and vCard (contacts) text; a backend whose
/// server speaks another format converts at its edge.
pub trait ItemStore: Send + Sync {
    /// The protocol and URL, as reports name them ("CalDAV/CardDAV https://…").
    fn describe(&self) -> String;

    /// What Test & Enable and Test Connection ask: is the server there, and
    /// does it take the login (when the store was made with one).
    fn probe(&self) -> Fut<'_, StoreAnswer>;

    /// What the login was found to allow, as Test & Enable says it, when
    /// the store checks that itself (Microsoft Graph: the permissions granted).
    fn granted(&self) -> Option<String> {
        None
    }

    /// The mailbox's calendar, task list and address book. With `create`,
    /// what is missing is created first (the first sync); without, nothing
    /// on the server changes (Test & Enable).
    fn collections(&self, create: bool) -> Fut<'_, Vec<FoundCollection>>;

    /// Lists the members of collection `url`: the changes since `token`
    /// applied to `known` (href -> etag from the status rows), or every
    /// member; `ctag` (the stored CTag) lets an unchanged collection cost one request.
    fn list<'a>(
        &'a self,
        url: &'a str,
        token: Option<&'a str>,
        ctag: Option<&'a str>,
        known: &'a BTreeMap<String, String>,
    ) -> Fut<'a, Listing>;

    /// The changes to `url` since `token`, or None when the server cannot say.
    fn changes_since<'a>(&'a self, url: &'a str, token: &'a str) -> Fut<'a, Option<Changes>>;

    /// Reads members of `url` by href: (href, etag, data) of each one found.
    fn read_many<'a>(
        &'a self,
        url: &'a str,
        hrefs: &'a [String],
        contacts: bool,
    ) -> Fut<'a, Vec<(String, String, String)>>;

    /// Reads one member: (etag, data), or None when it is gone.
    fn read<'a>(&'a self, href: &'a str) -> Fut<'a, Option<(String, String)>>;

    /// Writes one member with a precondition: `if_match` its current ETag,
    /// or None for "must not exist yet". Returns the new ETag.
    fn write<'a>(
        &'a self,
        href: &'a str,
        body: String,
        content_type: &'a str,
        if_match: Option<&'a str>,
    ) -> BoxFuture<'a, std::result::Result<String, WriteError>>;

    /// Deletes one member, if it still has `etag` (when given).
    fn delete<'a>(
        &'a self,
        href: &'a str,
        etag: Option<&'a str>,
    ) -> BoxFuture<'a, std::result::Result<(), WriteError>>;

    /// The path part of `url`, how hrefs of its members begin.
    fn path(&self, url: &str) -> String;

    /// Requests made so far (for the cycle's report).
    fn requests(&self) -> usize;
}
