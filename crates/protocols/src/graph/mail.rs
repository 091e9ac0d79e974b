//! Mail and directory resources: `mailFolder`, `message`, `user`.

use serde::{Deserialize, Serialize};

use super::types::{InternetMessageHeader, Recipient, Removed};

/// `mailFolder`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailFolder {
    /// Opaque id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Name shown.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Parent folder id.
    #[serde(default)]
    pub parent_folder_id: Option<String>,
    /// Number of direct child folders.
    #[serde(default)]
    pub child_folder_count: Option<u32>,
    /// Unread messages.
    #[serde(default)]
    pub unread_item_count: Option<u64>,
    /// All messages.
    #[serde(default)]
    pub total_item_count: Option<u64>,
}

/// `message` as the delta and list calls return it (the content itself is
/// fetched as MIME from `$value`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Opaque id (changes when the message moves to another folder).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The version, as a weak ETag.
    #[serde(rename = "@odata.etag", default)]
    pub etag: Option<String>,
    /// The version, as Exchange names it.
    #[serde(default)]
    pub change_key: Option<String>,
    /// The RFC 5322 Message-ID, with its angle brackets.
    #[serde(default)]
    pub internet_message_id: Option<String>,
    /// Conversation (thread) id.
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// Seen flag.
    #[serde(default)]
    pub is_read: Option<bool>,
    /// The folder it is in.
    #[serde(default)]
    pub parent_folder_id: Option<String>,
    /// When it arrived (ISO 8601, UTC).
    #[serde(default)]
    pub received_date_time: Option<String>,
    /// When it was sent.
    #[serde(default)]
    pub sent_date_time: Option<String>,
    /// Subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// From.
    #[serde(default)]
    pub from: Option<Recipient>,
    /// Sender.
    #[serde(default)]
    pub sender: Option<Recipient>,
    /// Whether it has attachments.
    #[serde(default)]
    pub has_attachments: Option<bool>,
    /// The headers, when selected.
    #[serde(default)]
    pub internet_message_headers: Option<Vec<InternetMessageHeader>>,
    /// Set in a delta answer when the message left the folder or was deleted.
    #[serde(rename = "@removed", default)]
    pub removed: Option<Removed>,
}

/// `user` (the mailbox owner; `GET /me` or `/users/{address}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Object id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Name shown.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Primary SMTP address.
    #[serde(default)]
    pub mail: Option<String>,
    /// Sign-in name.
    #[serde(default)]
    pub user_principal_name: Option<String>,
    /// Given name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Surname.
    #[serde(default)]
    pub surname: Option<String>,
    /// Job title.
    #[serde(default)]
    pub job_title: Option<String>,
}
