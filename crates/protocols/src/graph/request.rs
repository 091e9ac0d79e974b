//! A Graph request as data: method, target relative to the service root
//! (`/me/...` or `/users/{address}/...`), headers and body, plus what it is
//! for (the operation and the permission it needs, named in errors). The
//! builders in [`super::mail_requests`] and [`super::pim_requests`] make
//! them; [`super::client::GraphClient`] sends them. No I/O here.

use reqwest::Method;
use serde_json::Value;

/// Whose mailbox a request addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mailbox {
    /// The signed-in user (delegated access): `/me/...`.
    Me,
    /// A mailbox by address or id (app-only access): `/users/{address}/...`.
    User(String),
}

impl Mailbox {
    /// The path prefix: `/me` or `/users/{address}`.
    pub fn prefix(&self) -> String {
        match self {
            Mailbox::Me => "/me".to_string(),
            Mailbox::User(address) => format!("/users/{}", segment(address)),
        }
    }

    /// The name used for throttling and in errors (`me` for delegated access).
    pub fn name(&self) -> &str {
        match self {
            Mailbox::Me => "me",
            Mailbox::User(address) => address,
        }
    }
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A path and query below the service root (`/me/mailFolders?$top=10`), already encoded.
    Relative(String),
    /// A `@odata.nextLink` or `@odata.deltaLink`, followed verbatim.
    Link(String),
}

/// The body of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No body.
    None,
    /// JSON (`Content-Type: application/json`).
    Json(Value),
    /// Text (`Content-Type: text/plain`): base64 MIME for sendMail.
    Text(String),
}

/// One Graph request.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphRequest {
    /// HTTP method.
    pub method: Method,
    /// Where it goes.
    pub target: Target,
    /// Extra headers (`Prefer`, `If-Match`); never the token.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Body,
    /// What it does, for errors and logs (`messages delta`, `sendMail`).
    pub operation: &'static str,
    /// The permission it needs, named when the server answers 403.
    pub permission: &'static str,
    /// The item it addresses, named when the server answers 404 or 412.
    pub item: Option<String>,
}

impl GraphRequest {
    /// A request to `path` (below the mailbox or the root, already encoded).
    pub(crate) fn new(
        method: Method,
        path: String,
        operation: &'static str,
        permission: &'static str,
    ) -> Self {
        GraphRequest {
            method,
            target: Target::Relative(path),
            headers: Vec::new(),
            body: Body::None,
            operation,
            permission,
            item: None,
        }
    }

    /// A GET of a paging or delta link, for the same operation as `self`.
    pub fn follow(&self, link: &str) -> GraphRequest {
        let headers =
            self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("prefer")).cloned().collect();
        GraphRequest {
            method: Method::GET,
            target: Target::Link(link.to_string()),
            headers,
            body: Body::None,
            operation: self.operation,
            permission: self.permission,
            item: self.item.clone(),
        }
    }

    /// Adds query options (`name=value`, encoded here).
    pub(crate) fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        if let Target::Relative(path) = &mut self.target {
            for (i, (k, v)) in pairs.iter().enumerate() {
                path.push(if i == 0 && !path.contains('?') { '?' } else { '&' });
                path.push_str(&query_component(k));
                path.push('=');
                path.push_str(&query_component(v));
            }
        }
        self
    }

    /// Names the item, for 404 and 412 errors.
    pub(crate) fn item(mut self, id: &str) -> Self {
        self.item = Some(id.to_string());
        self
    }

    /// Sets a JSON body.
    pub(crate) fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    /// Adds a preference to the `Prefer` header (several are comma-separated).
    pub fn prefer(mut self, preference: &str) -> Self {
        match self.headers.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case("prefer")) {
            Some((_, v)) => {
                v.push_str(", ");
                v.push_str(preference);
            }
            None => self.headers.push(("Prefer".into(), preference.into())),
        }
        self
    }

    /// `Prefer: odata.maxpagesize=N`: at most `n` items per page.
    pub fn max_page_size(self, n: u32) -> Self {
        self.prefer(&format!("odata.maxpagesize={n}"))
    }

    /// `Prefer: outlook.timezone="..."`: event times in this zone instead of UTC.
    pub fn time_zone(self, zone: &str) -> Self {
        self.prefer(&format!("outlook.timezone=\"{}\"", zone.replace('"', "")))
    }

    /// `Prefer: outlook.body-content-type="text"` (or `"html"`).
    pub fn body_type(self, kind: super::enums::BodyType) -> Self {
        self.prefer(&format!("outlook.body-content-type=\"{}\"", kind.as_str()))
    }

    /// `If-Match: <etag>`: the write happens only if the item is still at
    /// this version; otherwise the server answers 412 (`ITEM_CONFLICT`).
    pub fn if_match(mut self, etag: Option<&str>) -> Self {
        if let Some(etag) = etag.filter(|e| !e.is_empty()) {
            self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("if-match"));
            self.headers.push(("If-Match".into(), etag.into()));
        }
        self
    }

    /// The value of header `name`, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The relative target, for batching (None for links).
    pub fn relative(&self) -> Option<&str> {
        match &self.target {
            Target::Relative(p) => Some(p),
            Target::Link(_) => None,
        }
    }

    /// The absolute URL below `root` (e.g. `https://graph.microsoft.com/v1.0`).
    pub fn url_below(&self, root: &str) -> String {
        match &self.target {
            Target::Relative(p) => format!("{}{p}", root.trim_end_matches('/')),
            Target::Link(l) => l.clone(),
        }
    }
}

/// Percent-encodes one path segment (an id or an address).
pub(crate) fn segment(s: &str) -> String {
    encode(s, |b| b.is_ascii_alphanumeric() || b"-._~=@!$'()*+,;:".contains(&b))
}

/// Percent-encodes a query name or value, keeping the characters OData
/// expressions use so the URL stays readable (`$select=id,subject`).
fn query_component(s: &str) -> String {
    encode(s, |b| b.is_ascii_alphanumeric() || b"-._~$,:'()@!*/".contains(&b))
}

fn encode(s: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Quotes a string for an OData `$filter` literal (`'` doubled).
pub(crate) fn odata_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_query_values_are_encoded_but_odata_syntax_stays_readable() {
        assert_eq!(segment("AAMk/x+y=="), "AAMk%2Fx+y==");
        assert_eq!(Mailbox::User("anna@example.com".into()).prefix(), "/users/anna@example.com");
        let r = GraphRequest::new(Method::GET, "/me/x".into(), "t", "Mail.Read")
            .query(&[("$select", "id,subject"), ("$filter", "a eq 'b&c'")]);
        assert_eq!(r.relative(), Some("/me/x?$select=id,subject&$filter=a%20eq%20'b%26c'"));
        assert_eq!(odata_string("it's"), "'it''s'");
    }

    #[test]
    fn preferences_accumulate_and_links_keep_them() {
        let r = GraphRequest::new(Method::GET, "/me/x".into(), "t", "Mail.Read")
            .max_page_size(50)
            .time_zone("W. Europe Standard Time")
            .if_match(Some("W/\"1\""));
        assert_eq!(
            r.header("prefer"),
            Some("odata.maxpagesize=50, outlook.timezone=\"W. Europe Standard Time\"")
        );
        let next = r.follow("https://graph.microsoft.com/v1.0/me/x?$skiptoken=1");
        assert_eq!(next.header("prefer"), r.header("prefer"));
        assert_eq!(next.header("if-match"), None);
        assert_eq!(next.url_below("http://ignored"), "https://graph.microsoft.com/v1.0/me/x?$skiptoken=1");
    }
}
