//! Autodiscover (POX, `[MS-OXDSCLI]`): finds a mailbox's EWS URL when the
//! profile has none. The request body, the answer parser and the order of
//! places to ask are pure; [`autodiscover`](super::discover::autodiscover)
//! does the I/O. The result says which URL was found and how, for Test Connection.
//!
//! Order without Active Directory (no SCP lookup here):
//! 1. `https://DOMAIN/autodiscover/autodiscover.xml`
//! 2. `https://autodiscover.DOMAIN/autodiscover/autodiscover.xml`
//! 3. an HTTP `GET http://autodiscover.DOMAIN/autodiscover/autodiscover.xml`
//!    whose redirect is followed only to an `https://` URL (the login is never
//!    sent over plain HTTP, and nothing is posted there)
//! 4. DNS SRV `_autodiscover._tcp.DOMAIN` → `https://TARGET:PORT/autodiscover/autodiscover.xml`
//!
//! A `redirectAddr` answer starts over with the new address, a `redirectUrl`
//! answer posts to the new (https) URL; at most [`MAX_HOPS`] redirects.

use super::write::Out;
use super::xml::{self, Element};

/// Request schema namespace.
const NS_REQ: &str = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
/// The response schema asked for.
pub const NS_RESP_A: &str = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/// Redirects (address or URL) followed before giving up.
pub const MAX_HOPS: usize = 10;

/// The POX request body for `email`.
pub fn request_body(email: &str) -> String {
    let mut out = Out::new();
    out.open("Autodiscover", &[("xmlns", NS_REQ)]).open("Request", &[]);
    out.leaf("EMailAddress", email).leaf("AcceptableResponseSchema", NS_RESP_A);
    out.close("Request").close("Autodiscover");
    out.finish()
}

/// What an autodiscover answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoxAnswer {
    /// Settings: the EWS URL (EwsUrl, else ASUrl; external EXPR first, then internal EXCH).
    Settings {
        /// The EWS URL.
        ews_url: String,
        /// Which protocol block it came from (`EXPR`, `EXCH`, `EXHTTP`).
        protocol: String,
    },
    /// Ask again with this address.
    RedirectAddr(String),
    /// Ask again at this URL.
    RedirectUrl(String),
    /// The server answered with an error.
    Error {
        /// ErrorCode (e.g. 500 unknown mailbox, 600 invalid request).
        code: String,
        /// Message.
        message: String,
    },
}

/// Parses a POX autodiscover answer; an error says what was missing.
pub fn parse_answer(doc: &str) -> Result<PoxAnswer, String> {
    let root = xml::parse(doc)?;
    if root.name != "Autodiscover" {
        return Err(format!("expected <Autodiscover>, got <{}>", root.name));
    }
    let resp = root.children.iter().find(|c| c.name == "Response").ok_or("no <Response> in the answer")?;
    let text = |e: &Element, n: &str| {
        e.children.iter().find(|c| c.name == n).map(|c| c.text.trim().to_string()).filter(|t| !t.is_empty())
    };
    if let Some(err) = resp.children.iter().find(|c| c.name == "Error") {
        return Ok(PoxAnswer::Error {
            code: text(err, "ErrorCode").unwrap_or_default(),
            message: text(err, "Message").unwrap_or_default(),
        });
    }
    let account = resp.children.iter().find(|c| c.name == "Account").ok_or("no <Account> in the answer")?;
    match text(account, "Action").as_deref() {
        Some("redirectAddr") => {
            return text(account, "RedirectAddr")
                .map(PoxAnswer::RedirectAddr)
                .ok_or_else(|| "redirectAddr without <RedirectAddr>".into());
        }
        Some("redirectUrl") => {
            return text(account, "RedirectUrl")
                .map(PoxAnswer::RedirectUrl)
                .ok_or_else(|| "redirectUrl without <RedirectUrl>".into());
        }
        _ => {}
    }
    let protocols: Vec<&Element> = account.children.iter().filter(|c| c.name == "Protocol").collect();
    for wanted in ["EXPR", "EXCH", "EXHTTP"] {
        for p in &protocols {
            let ty = text(p, "Type").or_else(|| p.attr("Type").map(str::to_string));
            if ty.as_deref() != Some(wanted) {
                continue;
            }
            if let Some(url) = text(p, "EwsUrl").or_else(|| text(p, "ASUrl")) {
                return Ok(PoxAnswer::Settings { ews_url: url, protocol: wanted.to_string() });
            }
        }
    }
    Err("the answer names no EWS URL (no EwsUrl or ASUrl in an EXPR or EXCH protocol)".into())
}

/// How a candidate autodiscover URL was arrived at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// The base URL given by the caller (tests, or an admin's override).
    Override,
    /// `https://DOMAIN/autodiscover/autodiscover.xml`.
    Domain,
    /// `https://autodiscover.DOMAIN/autodiscover/autodiscover.xml`.
    AutodiscoverHost,
    /// An HTTP redirect from `http://autodiscover.DOMAIN/...` to https.
    HttpRedirect,
    /// DNS SRV `_autodiscover._tcp.DOMAIN`.
    Srv,
}

impl How {
    /// Words for Test Connection.
    pub fn describe(self) -> &'static str {
        match self {
            How::Override => "the configured autodiscover URL",
            How::Domain => "https://DOMAIN/autodiscover",
            How::AutodiscoverHost => "https://autodiscover.DOMAIN",
            How::HttpRedirect => "the HTTP redirect from http://autodiscover.DOMAIN",
            How::Srv => "the DNS SRV record _autodiscover._tcp.DOMAIN",
        }
    }
}

/// One step of the search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// POST the request to this https URL.
    Post(String, How),
    /// GET this plain-HTTP URL without credentials and follow its redirect if it goes to https.
    RedirectProbe(String),
    /// Look up this SRV name.
    Srv(String),
}

/// The autodiscover path.
pub const PATH: &str = "/autodiscover/autodiscover.xml";

/// The domain part of an address (lower case); None for an address without one.
pub fn domain_of(email: &str) -> Option<String> {
    let (_, d) = email.rsplit_once('@')?;
    let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
    (!d.is_empty() && !d.contains(['/', ':', '?', '#', ' ', '@'])).then_some(d)
}

/// The places to ask for `email`, in order. With `base` (a URL such as
/// `https://127.0.0.1:4443`) only `base` + the autodiscover path is tried.
pub fn plan(email: &str, base: Option<&str>) -> Vec<Step> {
    if let Some(b) = base {
        return vec![Step::Post(format!("{}{PATH}", b.trim_end_matches('/')), How::Override)];
    }
    let Some(d) = domain_of(email) else { return vec![] };
    vec![
        Step::Post(format!("https://{d}{PATH}"), How::Domain),
        Step::Post(format!("https://autodiscover.{d}{PATH}"), How::AutodiscoverHost),
        Step::RedirectProbe(format!("http://autodiscover.{d}{PATH}")),
        Step::Srv(format!("_autodiscover._tcp.{d}")),
    ]
}

/// What autodiscover found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The EWS URL.
    pub ews_url: String,
    /// The autodiscover URL that answered.
    pub autodiscover_url: String,
    /// How that URL was found.
    pub how: How,
    /// The protocol block (`EXPR`, `EXCH`).
    pub protocol: String,
    /// The address finally asked for (after redirectAddr).
    pub email: String,
    /// Redirects followed, in order (addresses and URLs), for Test Connection.
    pub redirects: Vec<String>,
}

impl Discovered {
    /// One line for Test Connection.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "EWS URL {} found at {} (via {})",
            self.ews_url,
            self.autodiscover_url,
            self.how.describe()
        );
        if !self.redirects.is_empty() {
            s.push_str(&format!(" after redirects: {}", self.redirects.join(" -> ")));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_follows_the_documented_order_and_an_override_replaces_it() {
        let p = plan("Anna@Contoso.com", None);
        assert_eq!(
            p,
            vec![
                Step::Post("https://contoso.com/autodiscover/autodiscover.xml".into(), How::Domain),
                Step::Post(
                    "https://autodiscover.contoso.com/autodiscover/autodiscover.xml".into(),
                    How::AutodiscoverHost
                ),
                Step::RedirectProbe("http://autodiscover.contoso.com/autodiscover/autodiscover.xml".into()),
                Step::Srv("_autodiscover._tcp.contoso.com".into()),
            ]
        );
        assert_eq!(
            plan("a@b.c", Some("https://127.0.0.1:4443/")),
            vec![Step::Post("https://127.0.0.1:4443/autodiscover/autodiscover.xml".into(), How::Override)]
        );
        assert!(plan("no-domain", None).is_empty());
        assert!(plan("a@evil.com/x", None).is_empty());
    }

    #[test]
    fn the_request_names_the_address_and_the_response_schema() {
        let body = request_body("a&b@contoso.com");
        let root = xml::parse(&body).unwrap();
        assert_eq!(root.ns, NS_REQ);
        let req = &root.children[0];
        assert_eq!(req.children[0].text, "a&b@contoso.com");
        assert_eq!(req.children[1].text, NS_RESP_A);
    }
}
