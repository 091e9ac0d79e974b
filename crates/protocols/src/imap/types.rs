//! The typed results of the IMAP client: capabilities, folder status, folders
//! with their special use, fetched messages.

use async_imap::imap_proto::NameAttribute;
use async_imap::types::{Capability, Flag};
use chrono::{DateTime, Utc};

/// What the server supports after login.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// UIDPLUS (RFC 4315): UID EXPUNGE, APPENDUID.
    pub uidplus: bool,
    /// CONDSTORE (RFC 7162): HIGHESTMODSEQ.
    pub condstore: bool,
    /// SPECIAL-USE (RFC 6154): \Sent, \Trash, ... folder attributes.
    pub special_use: bool,
    /// IDLE (RFC 2177): push notification of new mail.
    pub idle: bool,
    /// MOVE (RFC 6851).
    pub move_: bool,
    /// Every capability as announced, e.g. `IMAP4rev1`, `AUTH=PLAIN`.
    pub names: Vec<String>,
}

impl Capabilities {
    /// Builds the flags from capability names (case-insensitive).
    pub fn from_names(names: Vec<String>) -> Capabilities {
        let has = |n: &str| names.iter().any(|c| c.eq_ignore_ascii_case(n));
        Capabilities {
            uidplus: has("UIDPLUS"),
            condstore: has("CONDSTORE"),
            special_use: has("SPECIAL-USE"),
            idle: has("IDLE"),
            move_: has("MOVE"),
            names,
        }
    }

    /// True when `name` (e.g. `AUTH=PLAIN`, `LOGINDISABLED`) was announced.
    pub fn has(&self, name: &str) -> bool {
        self.names.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    pub(crate) fn from_async_imap(caps: &async_imap::types::Capabilities) -> Capabilities {
        let names = caps
            .iter()
            .map(|c| match c {
                Capability::Imap4rev1 => "IMAP4rev1".to_string(),
                Capability::Auth(m) => format!("AUTH={m}"),
                Capability::Atom(a) => a.to_string(),
            })
            .collect();
        Capabilities::from_names(names)
    }
}

/// The state of a selected folder: what the incoming sync keys on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderStatus {
    /// UIDVALIDITY: when it changes, every stored UID of the folder is void.
    pub uidvalidity: u32,
    /// The UID the next message will get (a lower bound), if the server said.
    pub uidnext: Option<u32>,
    /// Number of messages.
    pub exists: u32,
    /// HIGHESTMODSEQ with CONDSTORE, if the server said.
    pub highest_modseq: Option<u64>,
}

/// A folder's special use (RFC 6154).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecialUse {
    /// `\All`.
    All,
    /// `\Archive`.
    Archive,
    /// `\Drafts`.
    Drafts,
    /// `\Flagged`.
    Flagged,
    /// `\Junk`.
    Junk,
    /// `\Sent`.
    Sent,
    /// `\Trash`.
    Trash,
}

impl SpecialUse {
    /// Folder names commonly used for this purpose by servers without SPECIAL-USE.
    pub fn fallback_names(self) -> &'static [&'static str] {
        match self {
            SpecialUse::All => &["All Mail"],
            SpecialUse::Archive => &["Archive", "Archives"],
            SpecialUse::Drafts => &["Drafts", "Draft"],
            SpecialUse::Flagged => &["Flagged", "Starred"],
            SpecialUse::Junk => &["Junk", "Spam", "Junk E-mail"],
            SpecialUse::Sent => &["Sent", "Sent Items", "Sent Messages", "Sent Mail"],
            SpecialUse::Trash => &["Trash", "Deleted Items", "Deleted Messages"],
        }
    }

    /// The attribute as IMAP writes it, e.g. `\Sent`.
    pub fn attribute(self) -> &'static str {
        match self {
            SpecialUse::All => "\\All",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Trash => "\\Trash",
        }
    }

    pub(crate) fn from_attribute(attr: &NameAttribute<'_>) -> Option<SpecialUse> {
        Some(match attr {
            NameAttribute::All => SpecialUse::All,
            NameAttribute::Archive => SpecialUse::Archive,
            NameAttribute::Drafts => SpecialUse::Drafts,
            NameAttribute::Flagged => SpecialUse::Flagged,
            NameAttribute::Junk => SpecialUse::Junk,
            NameAttribute::Sent => SpecialUse::Sent,
            NameAttribute::Trash => SpecialUse::Trash,
            _ => return None,
        })
    }
}

/// A folder as listed by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// Full name, decoded from modified UTF-7 (`Entwürfe`, `Customers/Contoso`).
    pub name: String,
    /// Hierarchy delimiter, if the server has one.
    pub delimiter: Option<String>,
    /// The special use the server announced, if any.
    pub special_use: Option<SpecialUse>,
    /// False for `\NoSelect` placeholders (hierarchy levels that hold no mail).
    pub selectable: bool,
}

/// The result of a successful APPEND on a UIDPLUS server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendUid {
    /// UIDVALIDITY of the target folder.
    pub uidvalidity: u32,
    /// UID of the appended message.
    pub uid: u32,
}

/// One message as fetched, never marked \Seen by fetching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMessage {
    /// The message's UID in the selected folder.
    pub uid: u32,
    /// INTERNALDATE: when the server received it.
    pub internal_date: Option<DateTime<Utc>>,
    /// Flags such as `\Seen`, `\Answered`, `$Forwarded`.
    pub flags: Vec<String>,
    /// The whole message (RFC 5322), exactly as stored.
    pub raw: Vec<u8>,
}

/// A message not downloaded because it is larger than the size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// Its UID in the selected folder.
    pub uid: u32,
    /// Its size in bytes (RFC822.SIZE).
    pub size: u64,
}

/// What [`crate::ImapClient::fetch_batch`] got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchBatch {
    /// The messages downloaded, ascending by UID.
    pub messages: Vec<FetchedMessage>,
    /// The messages over the size limit, not downloaded.
    pub too_large: Vec<TooLarge>,
    /// The last UIDs asked for, not fetched because the messages before them
    /// already fill the batch's byte budget (the size limit); ask again.
    /// Never the first UID asked for.
    pub deferred: Vec<u32>,
}

/// How [`crate::ImapClient::idle_wait`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleOutcome {
    /// The server reported new or changed messages in the selected folder.
    NewMail,
    /// The wait time passed without news.
    TimedOut,
}

/// Spells a flag as on the wire (`\Seen`, keywords unchanged).
pub(crate) fn flag_name(flag: &Flag<'_>) -> String {
    match flag {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent => "\\Recent".into(),
        Flag::MayCreate => "\\*".into(),
        Flag::Custom(s) => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_flags() {
        let caps = Capabilities::from_names(
            ["IMAP4rev1", "UIDPLUS", "condstore", "SPECIAL-USE", "IDLE", "MOVE", "AUTH=PLAIN"]
                .map(String::from)
                .to_vec(),
        );
        assert!(caps.uidplus && caps.condstore && caps.special_use && caps.idle && caps.move_);
        assert!(caps.has("auth=plain") && !caps.has("LOGINDISABLED"));
        assert_eq!(Capabilities::from_names(vec![]), Capabilities::default());
    }

    #[test]
    fn flags_are_spelled_as_on_the_wire() {
        assert_eq!(flag_name(&Flag::Seen), "\\Seen");
        assert_eq!(flag_name(&Flag::Custom("$Forwarded".into())), "$Forwarded");
    }
}
