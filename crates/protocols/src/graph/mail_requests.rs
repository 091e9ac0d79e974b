//! Request builders for mail and the mailbox owner: folders, message
//! delta, MIME download, move, delete, read flag, sendMail with MIME and
//! the Sent Items lookup by Message-ID.

use base64::Engine as _;
use reqwest::Method;
use serde_json::json;

use super::request::{Body, GraphRequest, Mailbox, odata_string, segment};

/// Permission to read mail.
pub const MAIL_READ: &str = "Mail.Read";
/// Permission to change mail (move, delete, read flag).
pub const MAIL_READ_WRITE: &str = "Mail.ReadWrite";
/// Permission to send mail.
pub const MAIL_SEND: &str = "Mail.Send";
/// Permission to read the mailbox owner's profile.
pub const USER_READ: &str = "User.Read";

/// The operation name of a MIME download (bounded by the message size limit).
pub const DOWNLOAD_MESSAGE: &str = "download message";

/// Well-known folder names Graph accepts in place of a folder id.
pub const WELL_KNOWN_FOLDERS: &[&str] =
    &["inbox", "drafts", "sentitems", "deleteditems", "junkemail", "archive", "outbox"];

/// The properties a message delta selects: what the engine needs to
/// decide, without the body (the content comes from `$value`).
pub const MESSAGE_DELTA_SELECT: &str =
    "id,internetMessageId,conversationId,isRead,parentFolderId,receivedDateTime,subject";

impl Mailbox {
    /// `GET /mailFolders`: the top-level folders.
    pub fn mail_folders(&self) -> GraphRequest {
        GraphRequest::new(
            Method::GET,
            format!("{}/mailFolders", self.prefix()),
            "list mail folders",
            MAIL_READ,
        )
    }

    /// `GET /mailFolders/{id or well-known name}` (`inbox`, `sentitems`, ...).
    pub fn mail_folder(&self, folder: &str) -> GraphRequest {
        let path = format!("{}/mailFolders/{}", self.prefix(), segment(folder));
        GraphRequest::new(Method::GET, path, "get mail folder", MAIL_READ).item(folder)
    }

    /// `GET /mailFolders/{folder}/messages/delta` with `$select` and a page size:
    /// the first round of a folder; later rounds follow the saved delta link.
    pub fn messages_delta(&self, folder: &str, page_size: u32) -> GraphRequest {
        let path = format!("{}/mailFolders/{}/messages/delta", self.prefix(), segment(folder));
        GraphRequest::new(Method::GET, path, "messages delta", MAIL_READ)
            .query(&[("$select", MESSAGE_DELTA_SELECT)])
            .max_page_size(page_size)
            .item(folder)
    }

    /// `GET /messages/{id}`: the message's properties.
    pub fn message(&self, id: &str) -> GraphRequest {
        let path = format!("{}/messages/{}", self.prefix(), segment(id));
        GraphRequest::new(Method::GET, path, "get message", MAIL_READ).item(id)
    }

    /// `GET /messages/{id}/$value`: the message as MIME (RFC 5322 bytes).
    pub fn message_mime(&self, id: &str) -> GraphRequest {
        let path = format!("{}/messages/{}/$value", self.prefix(), segment(id));
        GraphRequest::new(Method::GET, path, DOWNLOAD_MESSAGE, MAIL_READ).item(id)
    }

    /// `POST /messages/{id}/move` to a folder id or well-known name; the
    /// answer is the message with its new id.
    pub fn move_message(&self, id: &str, destination: &str) -> GraphRequest {
        let path = format!("{}/messages/{}/move", self.prefix(), segment(id));
        GraphRequest::new(Method::POST, path, "move message", MAIL_READ_WRITE)
            .item(id)
            .json(json!({ "destinationId": destination }))
    }

    /// `DELETE /messages/{id}` (to Deleted Items), only at version `etag` when given.
    pub fn delete_message(&self, id: &str, etag: Option<&str>) -> GraphRequest {
        let path = format!("{}/messages/{}", self.prefix(), segment(id));
        GraphRequest::new(Method::DELETE, path, "delete message", MAIL_READ_WRITE).item(id).if_match(etag)
    }

    /// `PATCH /messages/{id}` setting `isRead`.
    pub fn set_read(&self, id: &str, read: bool, etag: Option<&str>) -> GraphRequest {
        let path = format!("{}/messages/{}", self.prefix(), segment(id));
        GraphRequest::new(Method::PATCH, path, "mark message read", MAIL_READ_WRITE)
            .item(id)
            .json(json!({ "isRead": read }))
            .if_match(etag)
    }

    /// `POST /sendMail` with the whole MIME message base64-encoded in a
    /// `text/plain` body: Graph sends it as is (Message-ID, tracking and
    /// other headers kept) and saves a copy in Sent Items (the MIME form
    /// always does; it takes no `saveToSentItems` switch).
    pub fn send_mime(&self, mime: &[u8]) -> GraphRequest {
        let mut r =
            GraphRequest::new(Method::POST, format!("{}/sendMail", self.prefix()), "sendMail", MAIL_SEND);
        r.body = Body::Text(base64::engine::general_purpose::STANDARD.encode(mime));
        r
    }

    /// `GET /mailFolders/sentitems/messages?$filter=internetMessageId eq '...'`:
    /// whether a message with this Message-ID (with angle brackets) was sent,
    /// checked after an unknown sendMail outcome before any resend.
    pub fn sent_by_message_id(&self, message_id: &str) -> GraphRequest {
        let path = format!("{}/mailFolders/sentitems/messages", self.prefix());
        let filter = format!("internetMessageId eq {}", odata_string(message_id));
        GraphRequest::new(Method::GET, path, "look up Sent Items", MAIL_READ)
            .query(&[("$filter", &filter), ("$select", "id,internetMessageId,sentDateTime")])
    }

    /// `GET /me` or `GET /users/{address}`: the mailbox owner (reachability and token check).
    pub fn user(&self) -> GraphRequest {
        GraphRequest::new(Method::GET, self.prefix(), "read the mailbox owner", USER_READ)
    }
}
