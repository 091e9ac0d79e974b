//! EWS answers: the SOAP envelope, SOAP faults (a schema-validation fault
//! names the element, line and position), and one [`ResponseMessage`] per
//! requested thing with its ResponseClass, ResponseCode, MessageText and,
//! for `ErrorServerBusy`, the `BackOffMilliseconds` from MessageXml. The
//! typed readers turn successful messages into items, folders and sync
//! changes. Everything here is pure.

use super::parse_item::{self, ItemError};
use super::types::{Folder, Item, ItemId};
use super::xml::{self, Element, NS_E, NS_M, NS_SOAP, NS_T};

/// A SOAP fault (the whole request failed, e.g. schema validation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoapFault {
    /// faultcode.
    pub code: String,
    /// faultstring.
    pub message: String,
    /// The EWS ResponseCode in the detail (`ErrorSchemaValidation`, ...).
    pub response_code: Option<String>,
    /// The detail's Message (names the element or attribute for schema errors).
    pub detail: Option<String>,
    /// Line of the request the server objected to.
    pub line: Option<u32>,
    /// Position on that line.
    pub position: Option<u32>,
    /// BackOffMilliseconds in the detail's MessageXml (ErrorServerBusy as a fault).
    pub backoff_ms: Option<u64>,
}

impl SoapFault {
    /// One line for an admin or an engineer: code, what and where.
    pub fn describe(&self) -> String {
        let mut s = self.response_code.clone().unwrap_or_else(|| self.code.clone());
        s.push_str(": ");
        s.push_str(self.detail.as_deref().unwrap_or(&self.message));
        if let Some(l) = self.line {
            s.push_str(&format!(" (request line {l}"));
            if let Some(p) = self.position {
                s.push_str(&format!(", position {p}"));
            }
            s.push(')');
        }
        s
    }
}

/// Why an answer could not be used as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The server answered with a SOAP fault.
    #[error("SOAP fault {}", .0.describe())]
    Fault(Box<SoapFault>),
    /// Not XML, not SOAP, or not the answer to this operation.
    #[error("{0}")]
    Malformed(String),
}

/// The error part of a response message whose ResponseClass is not Success.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseError {
    /// ResponseCode (`ErrorItemNotFound`, ...).
    pub code: String,
    /// MessageText.
    pub text: String,
    /// BackOffMilliseconds from MessageXml (ErrorServerBusy).
    pub backoff_ms: Option<u64>,
    /// True for ResponseClass="Warning" (the message also carries data).
    pub warning: bool,
}

/// One `*ResponseMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseMessage {
    /// None when ResponseClass is Success.
    pub error: Option<ResponseError>,
    /// The element itself, for the typed readers.
    pub element: Element,
}

/// A parsed answer: the ResponseMessages in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The operation response element name (`GetItemResponse`, ...).
    pub operation: String,
    /// The messages.
    pub messages: Vec<ResponseMessage>,
    /// ServerVersionInfo Version attribute (`V2_10`, `V2017_07_11`), when sent.
    pub server_version: Option<String>,
}

fn fault(f: &Element) -> SoapFault {
    // faultcode/faultstring are unqualified in SOAP 1.1, but some servers qualify them.
    let text = |name: &str| {
        f.children.iter().find(|c| c.name == name).map(|c| c.text.trim().to_string()).unwrap_or_default()
    };
    let detail = f.children.iter().find(|c| c.name == "detail");
    let d = |name: &str| detail.and_then(|d| d.child_text(NS_E, name).or_else(|| d.child_text(NS_T, name)));
    SoapFault {
        code: text("faultcode"),
        message: text("faultstring"),
        response_code: d("ResponseCode"),
        detail: d("Message"),
        line: d("Line").and_then(|v| v.parse().ok()),
        position: d("Position").and_then(|v| v.parse().ok()),
        backoff_ms: detail.and_then(backoff),
    }
}

/// BackOffMilliseconds from a `MessageXml` child (of a response message or a fault detail).
fn backoff(parent: &Element) -> Option<u64> {
    let x = parent.children.iter().find(|c| c.name == "MessageXml")?;
    x.children
        .iter()
        .find(|v| v.name == "Value" && v.attr("Name") == Some("BackOffMilliseconds"))
        .and_then(|v| v.text.trim().parse().ok())
}

fn response_message(m: &Element) -> ResponseMessage {
    let class = m.attr("ResponseClass").unwrap_or("Success");
    let code = m.child_text(NS_M, "ResponseCode").unwrap_or_else(|| "NoError".into());
    let error = if class == "Success" && code == "NoError" {
        None
    } else {
        let backoff_ms = backoff(m);
        Some(ResponseError {
            code,
            text: m.child_text(NS_M, "MessageText").unwrap_or_default(),
            backoff_ms,
            warning: class == "Warning",
        })
    };
    ResponseMessage { error, element: m.clone() }
}

/// Parses an answer body: the envelope, a fault, or the response messages.
pub fn parse(doc: &str) -> Result<Answer, WireError> {
    let root = xml::parse(doc).map_err(WireError::Malformed)?;
    if !root.is(NS_SOAP, "Envelope") {
        return Err(WireError::Malformed(format!("expected a SOAP Envelope, got <{}>", root.name)));
    }
    let server_version = root
        .child(NS_SOAP, "Header")
        .and_then(|h| h.child(NS_T, "ServerVersionInfo"))
        .and_then(|v| v.attr("Version"))
        .map(str::to_string);
    let body = root.child(NS_SOAP, "Body").ok_or_else(|| WireError::Malformed("no SOAP Body".into()))?;
    if let Some(f) = body.child(NS_SOAP, "Fault") {
        return Err(WireError::Fault(Box::new(fault(f))));
    }
    let resp = body.children.first().ok_or_else(|| WireError::Malformed("empty SOAP Body".into()))?;
    let list = resp
        .child(NS_M, "ResponseMessages")
        .ok_or_else(|| WireError::Malformed(format!("<{}> has no ResponseMessages", resp.name)))?;
    Ok(Answer {
        operation: resp.name.clone(),
        messages: list.children.iter().filter(|c| c.ns == NS_M).map(response_message).collect(),
        server_version,
    })
}

/// One change of a `SyncFolderItems` answer.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncChange {
    /// A new item (with the properties the shape asked for).
    Create(Item),
    /// A changed item.
    Update(Item),
    /// A removed item.
    Delete(ItemId),
    /// Only the read flag changed.
    ReadFlagChange {
        /// The item.
        id: ItemId,
        /// Its new state.
        is_read: bool,
    },
}

/// A successful `SyncFolderItems` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncPage {
    /// The SyncState to send next time (store it only after the changes are processed).
    pub sync_state: String,
    /// IncludesLastItemInRange: false means more pages follow.
    pub last_page: bool,
    /// The changes, in server order. An item whose MimeContent is over the
    /// bound is an `Err` naming it (by id when it had one).
    pub changes: Vec<Result<SyncChange, (Option<ItemId>, ItemError)>>,
}

fn first_item(e: &Element) -> Option<&Element> {
    e.children.iter().find(|c| c.ns == NS_T)
}

/// Reads a successful SyncFolderItems response message.
pub fn sync_page(m: &ResponseMessage, mime_limit: u64) -> Result<SyncPage, WireError> {
    let e = &m.element;
    let sync_state = e
        .child_text(NS_M, "SyncState")
        .ok_or_else(|| WireError::Malformed("SyncFolderItems answer without SyncState".into()))?;
    let last_page = e.child_text(NS_M, "IncludesLastItemInRange").is_none_or(|v| v == "true" || v == "1");
    let mut changes = Vec::new();
    if let Some(list) = e.child(NS_M, "Changes") {
        for c in list.children.iter().filter(|c| c.ns == NS_T) {
            let id_of = |c: &Element| c.child(NS_T, "ItemId").map(parse_item::item_id);
            let change = match c.name.as_str() {
                "Create" | "Update" => {
                    let Some(el) = first_item(c) else { continue };
                    match parse_item::item(el, mime_limit) {
                        Ok(it) if c.name == "Create" => Ok(SyncChange::Create(it)),
                        Ok(it) => Ok(SyncChange::Update(it)),
                        Err(err) => Err((el.child(NS_T, "ItemId").map(parse_item::item_id), err)),
                    }
                }
                "Delete" => match id_of(c) {
                    Some(id) => Ok(SyncChange::Delete(id)),
                    None => continue,
                },
                "ReadFlagChange" => match id_of(c) {
                    Some(id) => {
                        Ok(SyncChange::ReadFlagChange { id, is_read: c.t_bool("IsRead").unwrap_or(false) })
                    }
                    None => continue,
                },
                _ => continue,
            };
            changes.push(change);
        }
    }
    Ok(SyncPage { sync_state, last_page, changes })
}

/// The items of a GetItem, CreateItem, UpdateItem or MoveItem response message.
pub fn items(m: &ResponseMessage, mime_limit: u64) -> Vec<Result<Item, ItemError>> {
    m.element
        .child(NS_M, "Items")
        .map(|l| {
            l.children.iter().filter(|c| c.ns == NS_T).map(|c| parse_item::item(c, mime_limit)).collect()
        })
        .unwrap_or_default()
}

/// A FindItem page: items and whether it was the last.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundItems {
    /// The items (ids and the properties asked for).
    pub items: Vec<Item>,
    /// IncludesLastItemInRange.
    pub last_page: bool,
    /// TotalItemsInView.
    pub total: Option<u64>,
}

/// Reads a FindItem response message.
pub fn found_items(m: &ResponseMessage, mime_limit: u64) -> FoundItems {
    let root = m.element.child(NS_M, "RootFolder");
    let items = root
        .and_then(|r| r.child(NS_T, "Items"))
        .map(|l| l.children.iter().filter_map(|c| parse_item::item(c, mime_limit).ok()).collect())
        .unwrap_or_default();
    FoundItems {
        items,
        last_page: root.and_then(|r| r.attr("IncludesLastItemInRange")).is_none_or(|v| v == "true"),
        total: root.and_then(|r| r.attr("TotalItemsInView")).and_then(|v| v.parse().ok()),
    }
}

/// The folders of a GetFolder, CreateFolder or FindFolder response message.
pub fn folders(m: &ResponseMessage) -> Vec<Folder> {
    let e = &m.element;
    let list = e
        .child(NS_M, "Folders")
        .or_else(|| e.child(NS_M, "RootFolder").and_then(|r| r.child(NS_T, "Folders")));
    list.map(|l| l.children.iter().filter(|c| c.ns == NS_T).map(parse_item::folder).collect())
        .unwrap_or_default()
}
