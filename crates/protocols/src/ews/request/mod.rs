//! Typed EWS requests and the SOAP 1.1 envelopes they are written into.
//! Each request is a plain struct; [`Request::write_body`] writes its
//! element and [`envelope`] wraps it with `RequestServerVersion` and, for a
//! service account, `ExchangeImpersonation`. Everything here is pure.

mod folders;
mod items;

pub use folders::{CreateFolder, FindFolder, FolderKind, GetFolder, Traversal};
pub use items::{
    ConflictResolution, CreateItem, DeleteItem, DeleteType, FindItem, GetItem, ItemChange,
    MessageDisposition, MoveItem, Restriction, SendMeeting, SyncFolderItems, Update, UpdateItem, View,
};

use super::types::{FolderId, FolderRef, ItemId};
use super::write::{self, Out};
use super::xml::{NS_M, NS_SOAP, NS_T};

/// The `RequestServerVersion` sent with every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerVersion {
    /// Exchange 2010 SP2 (the default: every server crmsync supports speaks it).
    #[default]
    Exchange2010Sp2,
    /// Exchange 2013.
    Exchange2013,
    /// Exchange 2013 SP1.
    Exchange2013Sp1,
    /// Exchange 2016 (also 2019 and Subscription Edition).
    Exchange2016,
}

impl ServerVersion {
    /// The schema value.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerVersion::Exchange2010Sp2 => "Exchange2010_SP2",
            ServerVersion::Exchange2013 => "Exchange2013",
            ServerVersion::Exchange2013Sp1 => "Exchange2013_SP1",
            ServerVersion::Exchange2016 => "Exchange2016",
        }
    }
}

/// What goes in the SOAP header of every request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// RequestServerVersion.
    pub version: ServerVersion,
    /// `ExchangeImpersonation` as this SMTP address (service-account profiles).
    pub impersonate: Option<String>,
}

/// `BaseShape` of an item or folder shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BaseShape {
    /// Ids only.
    #[default]
    IdOnly,
    /// The default property set.
    Default,
    /// All properties.
    AllProperties,
}

impl BaseShape {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BaseShape::IdOnly => "IdOnly",
            BaseShape::Default => "Default",
            BaseShape::AllProperties => "AllProperties",
        }
    }
}

/// A property path: `FieldURI`, or `IndexedFieldURI` for one slot of a dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyPath {
    /// `<t:FieldURI FieldURI="item:Subject"/>`.
    Field(String),
    /// `<t:IndexedFieldURI FieldURI="contacts:EmailAddress" FieldIndex="EmailAddress1"/>`.
    Indexed {
        /// FieldURI.
        uri: String,
        /// FieldIndex.
        index: String,
    },
}

impl PropertyPath {
    /// A `FieldURI` path such as `item:Subject` or `message:InternetMessageId`.
    pub fn field(uri: impl Into<String>) -> PropertyPath {
        PropertyPath::Field(uri.into())
    }

    pub(crate) fn write(&self, out: &mut Out) {
        match self {
            PropertyPath::Field(uri) => out.empty("t:FieldURI", &[("FieldURI", uri)]),
            PropertyPath::Indexed { uri, index } => {
                out.empty("t:IndexedFieldURI", &[("FieldURI", uri), ("FieldIndex", index)])
            }
        };
    }
}

/// `ItemShape`: which properties an answer carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ItemShape {
    /// BaseShape.
    pub base: BaseShape,
    /// IncludeMimeContent.
    pub include_mime: bool,
    /// BodyType (`Text`, `HTML`, `Best`), when asked.
    pub body_type: Option<String>,
    /// AdditionalProperties (e.g. `message:InternetMessageId`, `item:ConversationId`,
    /// `message:ConversationIndex`; the ChangeKey comes with every ItemId).
    pub additional: Vec<PropertyPath>,
}

impl ItemShape {
    /// IdOnly with these additional `FieldURI`s.
    pub fn id_only_with(fields: &[&str]) -> ItemShape {
        ItemShape {
            additional: fields.iter().map(|f| PropertyPath::field(*f)).collect(),
            ..Default::default()
        }
    }

    /// IdOnly with the message as MIME (for the incoming pipeline).
    pub fn mime() -> ItemShape {
        ItemShape { include_mime: true, ..Default::default() }
    }

    pub(crate) fn write(&self, out: &mut Out, name: &str) {
        out.open(name, &[]).leaf("t:BaseShape", self.base.as_str());
        if self.include_mime {
            out.leaf("t:IncludeMimeContent", "true");
        }
        out.opt("t:BodyType", self.body_type.as_deref());
        if !self.additional.is_empty() {
            out.open("t:AdditionalProperties", &[]);
            for p in &self.additional {
                p.write(out);
            }
            out.close("t:AdditionalProperties");
        }
        out.close(name);
    }
}

pub(crate) fn folder_ref(out: &mut Out, f: &FolderRef) {
    match f {
        FolderRef::Distinguished(d, None) => {
            out.empty("t:DistinguishedFolderId", &[("Id", d.as_str())]);
        }
        FolderRef::Distinguished(d, Some(mbx)) => {
            out.open("t:DistinguishedFolderId", &[("Id", d.as_str())]);
            out.open("t:Mailbox", &[]).leaf("t:EmailAddress", mbx).close("t:Mailbox");
            out.close("t:DistinguishedFolderId");
        }
        FolderRef::Id(FolderId { id, change_key: Some(ck) }) => {
            out.empty("t:FolderId", &[("Id", id), ("ChangeKey", ck)]);
        }
        FolderRef::Id(FolderId { id, change_key: None }) => {
            out.empty("t:FolderId", &[("Id", id)]);
        }
    }
}

pub(crate) fn folder_refs(out: &mut Out, name: &str, list: &[FolderRef]) {
    out.open(name, &[]);
    for f in list {
        folder_ref(out, f);
    }
    out.close(name);
}

pub(crate) fn item_ids(out: &mut Out, name: &str, ids: &[ItemId]) {
    out.open(name, &[]);
    for id in ids {
        write::item_id(out, "t:ItemId", id);
    }
    out.close(name);
}

/// An EWS operation that can be written as a SOAP body (`Send + Sync`, so a
/// request can be held across an await in a `Send` future).
pub trait Request: Send + Sync {
    /// The operation name (`GetItem`, ...), for errors and logs.
    fn operation(&self) -> &'static str;
    /// Writes the operation element.
    fn write_body(&self, out: &mut Out);
}

/// The whole SOAP envelope of `req` with `header`.
pub fn envelope(header: &Header, req: &dyn Request) -> String {
    let mut out = Out::new();
    out.open("soap:Envelope", &[("xmlns:soap", NS_SOAP), ("xmlns:t", NS_T), ("xmlns:m", NS_M)]);
    out.open("soap:Header", &[]);
    out.empty("t:RequestServerVersion", &[("Version", header.version.as_str())]);
    if let Some(smtp) = &header.impersonate {
        out.open("t:ExchangeImpersonation", &[]).open("t:ConnectingSID", &[]);
        out.leaf("t:SmtpAddress", smtp).close("t:ConnectingSID").close("t:ExchangeImpersonation");
    }
    out.close("soap:Header").open("soap:Body", &[]);
    req.write_body(&mut out);
    out.close("soap:Body").close("soap:Envelope");
    out.finish()
}
