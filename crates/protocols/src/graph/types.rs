//! Wire types shared by all Graph resources: collection pages with their
//! paging and delta links, the `@removed` marker, the error body, and the
//! small complex types (`emailAddress`, `itemBody`, `dateTimeTimeZone`, ...).
//!
//! Every field is optional where Graph may leave it out (`$select`, docs
//! examples, delta pages that only carry changed properties); absent
//! fields are not written back, so a PATCH built from a type sends only
//! what was set.

use serde::{Deserialize, Serialize};

use super::enums::{AttendeeType, BodyType, RemovedReason, ResponseType};

/// One page of a collection (`value`) with the link to the next page or,
/// on the last page of a delta round, the link to start the next round.
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    /// The items of this page.
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    /// The next page of this round (follow verbatim).
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
    /// The link that starts the next delta round (save it; follow verbatim).
    #[serde(rename = "@odata.deltaLink", default)]
    pub delta_link: Option<String>,
}

/// The `@removed` marker of a delta item: only its `id` is then meaningful.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    /// `deleted` or `changed` (moved out of the folder or window).
    #[serde(default)]
    pub reason: Option<RemovedReason>,
}

/// A Graph error answer: `{"error": {"code", "message", "innerError"}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The `error` object of an error answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorDetail {
    /// Machine-readable code (`ErrorAccessDenied`, `syncStateNotFound`,
    /// `TooManyRequests`); compare ignoring case.
    #[serde(default)]
    pub code: String,
    /// Human-readable message (never branch on it, except to name a permission).
    #[serde(default)]
    pub message: String,
    /// Server details (request id, date, nested code); shapes differ per service.
    #[serde(rename = "innerError", alias = "innererror", default)]
    pub inner_error: Option<serde_json::Value>,
}

impl ErrorDetail {
    /// The request id Graph gives for support cases, when present.
    pub fn request_id(&self) -> Option<&str> {
        let inner = self.inner_error.as_ref()?;
        inner.get("request-id").or_else(|| inner.get("requestId")).and_then(|v| v.as_str())
    }
}

/// `emailAddress`: a name and an address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailAddress {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// SMTP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// `recipient`: an email address wrapper (from, sender, organizer, toRecipients).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    /// The address.
    #[serde(default)]
    pub email_address: EmailAddress,
}

/// `itemBody`: content and its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemBody {
    /// `text` or `html`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<BodyType>,
    /// The content.
    #[serde(default)]
    pub content: String,
}

/// `dateTimeTimeZone`: a local time without offset plus a time zone name
/// (Windows or IANA; `UTC` unless `Prefer: outlook.timezone` asked otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateTimeTimeZone {
    /// `2019-04-16T20:30:00.0000000`.
    pub date_time: String,
    /// `UTC`, `Pacific Standard Time`, `Europe/Berlin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// `physicalAddress`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhysicalAddress {
    /// Street.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State or province.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Country or region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_or_region: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
}

/// `location` of an event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// Name shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<PhysicalAddress>,
}

/// `responseStatus` of an attendee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseStatus {
    /// The answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseType>,
    /// When it was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

/// `attendee` of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attendee {
    /// Who.
    #[serde(default)]
    pub email_address: EmailAddress,
    /// Required, optional or resource.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<AttendeeType>,
    /// Their answer (read-only on the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ResponseStatus>,
}

/// `internetMessageHeader`: one header of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InternetMessageHeader {
    /// Name.
    pub name: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}
