//! JSON batching (`POST /$batch`): up to [`MAX_BATCH`] requests in one
//! round trip, each answered with its own status, headers and body. Non-JSON
//! bodies (a message's MIME from `$value`) come base64-encoded. Pure.

use std::collections::HashMap;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::request::{Body, GraphRequest};

/// Graph's limit of requests in one batch.
pub const MAX_BATCH: usize = 20;

/// The `$batch` body for `requests` (ids are their positions, `"0"`..).
/// Links cannot be batched; the caller sends those alone.
pub fn batch_body(requests: &[GraphRequest]) -> Value {
    let items: Vec<Value> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut item = Map::new();
            item.insert("id".into(), json!(i.to_string()));
            item.insert("method".into(), json!(r.method.as_str()));
            item.insert("url".into(), json!(r.relative().unwrap_or_default()));
            let mut headers: Map<String, Value> =
                r.headers.iter().map(|(n, v)| (n.clone(), json!(v))).collect();
            match &r.body {
                Body::None => {}
                Body::Json(v) => {
                    headers.insert("Content-Type".into(), json!("application/json"));
                    item.insert("body".into(), v.clone());
                }
                Body::Text(t) => {
                    headers.insert("Content-Type".into(), json!("text/plain"));
                    item.insert("body".into(), json!(t));
                }
            }
            if !headers.is_empty() {
                item.insert("headers".into(), Value::Object(headers));
            }
            Value::Object(item)
        })
        .collect();
    json!({ "requests": items })
}

/// One answer inside a batch response.
#[derive(Debug, Clone, Deserialize)]
pub struct BatchItemResponse {
    /// The id of the request it answers.
    pub id: String,
    /// HTTP status.
    pub status: u16,
    /// Headers (names as the server wrote them).
    #[serde(default)]
    pub headers: HashMap<String, String>,
    /// Body: JSON, or a base64 string for other content types.
    #[serde(default)]
    pub body: Option<Value>,
}

impl BatchItemResponse {
    /// Header `name`, ignoring case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as bytes: JSON re-serialized, other content base64-decoded
    /// (or taken as text if it is not base64).
    pub fn body_bytes(&self) -> Vec<u8> {
        let is_json = self.header("content-type").is_none_or(|c| c.to_ascii_lowercase().contains("json"));
        match &self.body {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) if !is_json => {
                base64::engine::general_purpose::STANDARD.decode(s).unwrap_or_else(|_| s.clone().into_bytes())
            }
            Some(v) => serde_json::to_vec(v).unwrap_or_default(),
        }
    }
}

/// A `$batch` response.
#[derive(Debug, Clone, Deserialize)]
pub struct BatchResponse {
    /// The answers, in any order.
    pub responses: Vec<BatchItemResponse>,
}

impl BatchResponse {
    /// The answers ordered like the requests (position = id); None where an answer is missing.
    pub fn in_order(self, count: usize) -> Vec<Option<BatchItemResponse>> {
        let mut out: Vec<Option<BatchItemResponse>> = (0..count).map(|_| None).collect();
        for r in self.responses {
            if let Some(slot) = r.id.parse::<usize>().ok().and_then(|i| out.get_mut(i)) {
                *slot = Some(r);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Mailbox;

    #[test]
    fn a_batch_names_each_request_relative_to_the_root() {
        let mb = Mailbox::Me;
        let body = batch_body(&[mb.message_mime("a"), mb.set_read("b", true, Some("W/\"1\""))]);
        assert_eq!(body["requests"][0]["url"], "/me/messages/a/$value");
        assert_eq!(body["requests"][0]["method"], "GET");
        assert_eq!(body["requests"][1]["body"]["isRead"], true);
        assert_eq!(body["requests"][1]["headers"]["If-Match"], "W/\"1\"");
        assert_eq!(body["requests"][1]["headers"]["Content-Type"], "application/json");
    }

    #[test]
    fn mime_answers_are_decoded_and_put_in_request_order() {
        let raw = br#"{"responses":[
            {"id":"1","status":429,"headers":{"Retry-After":"3"},"body":{"error":{"code":"TooManyRequests","message":"x"}}},
            {"id":"0","status":200,"headers":{"Content-Type":"text/plain"},"body":"RnJvbTogYUBiDQoNCmhp"}]}"#;
        let r: BatchResponse = serde_json::from_slice(raw).unwrap();
        let items = r.in_order(3);
        assert_eq!(items[0].as_ref().unwrap().body_bytes(), b"From: a@b\r\n\r\nhi");
        assert_eq!(items[1].as_ref().unwrap().header("retry-after"), Some("3"));
        assert!(items[2].is_none());
    }
}
