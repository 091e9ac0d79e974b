//! A small namespace-aware element tree for EWS answers, built with quick-xml.
//! Elements are matched by namespace URI and local name, never by prefix:
//! servers write `soap:`, `s:`, `SOAP:` or default namespaces for the same
//! element. Answers are bounded in size before they get here; the tree is
//! bounded in depth so a hostile answer cannot grow the stack without end.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// SOAP 1.1 envelope namespace.
pub const NS_SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// EWS messages namespace (`m:`).
pub const NS_M: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
/// EWS types namespace (`t:`).
pub const NS_T: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
/// EWS SOAP fault detail namespace (`e:`).
pub const NS_E: &str = "http://schemas.microsoft.com/exchange/services/2006/errors";

/// How deep an answer may nest elements (EWS answers nest about 15 deep).
const MAX_DEPTH: usize = 128;

/// One element: namespace URI, local name, attributes (local names), text and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Namespace URI ("" when none).
    pub ns: String,
    /// Local name.
    pub name: String,
    /// Attributes without namespace declarations, by local name.
    pub attrs: Vec<(String, String)>,
    /// Concatenated text content directly inside this element (entities decoded).
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// True when this element is `{ns}name`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// The first child `{ns}name`.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// Every child `{ns}name`.
    pub fn children_named<'a>(&'a self, ns: &'a str, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// The trimmed text of child `{ns}name`, if present.
    pub fn child_text(&self, ns: &str, name: &str) -> Option<String> {
        self.child(ns, name).map(|c| c.text.trim().to_string())
    }

    /// A types-namespace child's trimmed text.
    pub fn t(&self, name: &str) -> Option<String> {
        self.child_text(NS_T, name)
    }

    /// A types-namespace child's boolean (`true`/`1`).
    pub fn t_bool(&self, name: &str) -> Option<bool> {
        self.t(name).map(|v| v == "true" || v == "1")
    }

    /// The value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The first descendant `{ns}name` (depth first), including self.
    pub fn find(&self, ns: &str, name: &str) -> Option<&Element> {
        if self.is(ns, name) {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(ns, name))
    }
}

fn entity(name: &str) -> Option<String> {
    Some(match name {
        "lt" => "<".into(),
        "gt" => ">".into(),
        "amp" => "&".into(),
        "quot" => "\"".into(),
        "apos" => "'".into(),
        n if n.starts_with("#x") || n.starts_with("#X") => {
            char::from_u32(u32::from_str_radix(&n[2..], 16).ok()?)?.to_string()
        }
        n if n.starts_with('#') => char::from_u32(n[1..].parse().ok()?)?.to_string(),
        _ => return None,
    })
}

fn element(ns: ResolveResult<'_>, e: &quick_xml::events::BytesStart<'_>) -> Result<Element, String> {
    let ns = match ns {
        ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
        ResolveResult::Unbound => String::new(),
        ResolveResult::Unknown(p) => {
            return Err(format!("undeclared namespace prefix '{}'", String::from_utf8_lossy(&p)));
        }
    };
    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| format!("attribute of <{name}>: {err}"))?;
        let key = a.key.as_ref();
        if key == b"xmlns" || key.starts_with(b"xmlns:") {
            continue;
        }
        let value = a.unescape_value().map_err(|err| format!("attribute of <{name}>: {err}"))?.into_owned();
        attrs.push((String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned(), value));
    }
    Ok(Element { ns, name, attrs, text: String::new(), children: Vec::new() })
}

/// Parses a whole document into its root element; an error names the byte
/// position and what was wrong.
pub fn parse(doc: &str) -> Result<Element, String> {
    let mut reader = NsReader::from_str(doc);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let at = reader.buffer_position();
        let (ns, ev) = reader.read_resolved_event().map_err(|e| format!("XML error at byte {at}: {e}"))?;
        match ev {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("XML nested deeper than {MAX_DEPTH} elements at byte {at}"));
                }
                let el = element(ns, &e)?;
                stack.push(el);
            }
            Event::Empty(e) => {
                let el = element(ns, &e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None if root.is_none() => root = Some(el),
                    None => return Err(format!("a second root element at byte {at}")),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| format!("unbalanced end tag at byte {at}"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None if root.is_none() => root = Some(el),
                    None => return Err(format!("a second root element at byte {at}")),
                }
            }
            Event::Text(t) => {
                if let Some(cur) = stack.last_mut() {
                    let s = t.decode().map_err(|e| format!("XML text at byte {at}: {e}"))?;
                    cur.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                if let Some(cur) = stack.last_mut() {
                    cur.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(cur) = stack.last_mut() {
                    let name = r.decode().map_err(|e| format!("XML entity at byte {at}: {e}"))?;
                    let s =
                        entity(&name).ok_or_else(|| format!("unknown XML entity &{name}; at byte {at}"))?;
                    cur.text.push_str(&s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(format!(
            "the document ends inside <{}>",
            stack.last().map(|e| e.name.as_str()).unwrap_or("")
        ));
    }
    root.ok_or_else(|| "no XML element in the answer".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_matched_by_namespace_uri_whatever_the_prefix() {
        for doc in [
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"#,
            r#"<SOAP:Envelope xmlns:SOAP="http://schemas.xmlsoap.org/soap/envelope/"><SOAP:Body/></SOAP:Envelope>"#,
            r#"<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body></Body></Envelope>"#,
        ] {
            let root = parse(doc).unwrap();
            assert!(root.is(NS_SOAP, "Envelope"), "{doc}");
            assert!(root.child(NS_SOAP, "Body").is_some(), "{doc}");
        }
        let other = parse(r#"<x:Envelope xmlns:x="urn:other"/>"#).unwrap();
        assert!(!other.is(NS_SOAP, "Envelope"));
    }

    #[test]
    fn text_entities_are_decoded_and_bad_input_is_an_error() {
        let root = parse(r#"<a x="1&amp;2">&lt;id@x&gt; &#65;&#x42;</a>"#).unwrap();
        assert_eq!(root.text, "<id@x> AB");
        assert_eq!(root.attr("x"), Some("1&2"));
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("<p:a/>").unwrap_err().contains("prefix"));
        assert!(parse("").is_err());
        let deep = "<a>".repeat(1000);
        assert!(parse(&deep).unwrap_err().contains("deeper"));
    }
}
