//! WebDAV multistatus parsing (RFC 4918, 4791, 6352, 6578), pure. Elements
//! are matched by local name, so any namespace prefix works; only properties
//! inside a 2xx `propstat` count.

use quick_xml::Reader;
use quick_xml::events::Event;

/// One `response` of a multistatus.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropResponse {
    /// The href, percent-encoding kept as sent.
    pub href: String,
    /// The response-level status (sync-collection reports a removed member as 404).
    pub status: Option<u16>,
    /// getetag.
    pub etag: Option<String>,
    /// calendar-data or address-data.
    pub data: Option<String>,
    /// displayname.
    pub displayname: Option<String>,
    /// getctag (CalendarServer extension).
    pub ctag: Option<String>,
    /// sync-token property.
    pub sync_token: Option<String>,
    /// resourcetype children: collection, calendar, addressbook, principal...
    pub resource_types: Vec<String>,
    /// supported-calendar-component-set: VEVENT, VTODO...
    pub components: Vec<String>,
    /// current-user-principal href.
    pub principal: Option<String>,
    /// calendar-home-set hrefs.
    pub calendar_home: Vec<String>,
    /// addressbook-home-set hrefs.
    pub addressbook_home: Vec<String>,
}

/// A parsed multistatus.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Multistatus {
    /// The responses.
    pub responses: Vec<PropResponse>,
    /// The top-level sync-token of a sync-collection report.
    pub sync_token: Option<String>,
}

fn status_code(s: &str) -> Option<u16> {
    // "HTTP/1.1 200 OK"
    s.split_whitespace().nth(1).and_then(|c| c.parse().ok())
}

fn local(name: &[u8]) -> String {
    let n = match name.iter().rposition(|b| *b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    };
    String::from_utf8_lossy(n).to_ascii_lowercase()
}

/// How deep a multistatus may nest elements. DAV answers nest about ten deep;
/// the limit keeps a hostile answer from growing the element stack without end.
const MAX_DEPTH: usize = 64;

/// Parses a multistatus body; an error names what was wrong.
pub fn parse_multistatus(body: &str) -> Result<Multistatus, String> {
    let mut reader = Reader::from_str(body);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<String> = Vec::new();
    let mut out = Multistatus::default();
    let mut cur: Option<PropResponse> = None;
    // Properties of the propstat being read; merged into `cur` when its status is 2xx.
    let mut pending = PropResponse::default();
    let mut propstat_status: Option<u16> = None;
    let mut text = String::new();
    let mut seen_multistatus = false;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| format!("XML error at byte {}: {e}", reader.buffer_position()))?;
        match ev {
            Event::Start(e) => {
                let name = local(e.name().as_ref());
                match name.as_str() {
                    "multistatus" => seen_multistatus = true,
                    "response" => cur = Some(PropResponse::default()),
                    "propstat" => {
                        pending = PropResponse::default();
                        propstat_status = None;
                    }
                    _ => {}
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(format!(
                        "XML nested deeper than {MAX_DEPTH} elements at byte {}; not a DAV answer",
                        reader.buffer_position()
                    ));
                }
                stack.push(name);
                text.clear();
            }
            Event::Empty(e) => {
                let name = local(e.name().as_ref());
                let parent = stack.last().map(String::as_str).unwrap_or("");
                match parent {
                    "resourcetype" => pending.resource_types.push(name.clone()),
                    "supported-calendar-component-set" if name == "comp" => {
                        for a in e.attributes().flatten() {
                            if local(a.key.as_ref()) == "name" {
                                pending
                                    .components
                                    .push(String::from_utf8_lossy(&a.value).to_ascii_uppercase());
                            }
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| format!("XML text: {e}"))?;
                let s = quick_xml::escape::unescape(&s).map_err(|e| format!("XML entity: {e}"))?;
                text.push_str(&s);
            }
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| format!("XML entity: {e}"))?;
                let s = match name.as_ref() {
                    "lt" => "<".to_string(),
                    "gt" => ">".to_string(),
                    "amp" => "&".to_string(),
                    "quot" => "\"".to_string(),
                    "apos" => "'".to_string(),
                    n if n.starts_with("#x") => u32::from_str_radix(&n[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                        .map(String::from)
                        .unwrap_or_default(),
                    n if n.starts_with('#') => n[1..]
                        .parse::<u32>()
                        .ok()
                        .and_then(char::from_u32)
                        .map(String::from)
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                text.push_str(&s);
            }
            Event::CData(c) => text.push_str(&String::from_utf8_lossy(&c.into_inner())),
            Event::End(e) => {
                let name = local(e.name().as_ref());
                stack.pop();
                let parent = stack.last().map(String::as_str).unwrap_or("");
                let value = std::mem::take(&mut text);
                match (name.as_str(), parent) {
                    ("href", "response") => {
                        if let Some(c) = cur.as_mut() {
                            c.href = value.trim().to_string();
                        }
                    }
                    ("status", "response") => {
                        if let Some(c) = cur.as_mut() {
                            c.status = status_code(value.trim());
                        }
                    }
                    ("status", "propstat") => propstat_status = status_code(value.trim()),
                    ("getetag", "prop") => pending.etag = Some(value.trim().to_string()),
                    ("calendar-data" | "address-data", "prop") => pending.data = Some(value),
                    ("displayname", "prop") => pending.displayname = Some(value.trim().to_string()),
                    ("getctag", "prop") => pending.ctag = Some(value.trim().to_string()),
                    ("sync-token", "prop") => pending.sync_token = Some(value.trim().to_string()),
                    ("sync-token", "multistatus") => out.sync_token = Some(value.trim().to_string()),
                    ("href", "current-user-principal") => pending.principal = Some(value.trim().to_string()),
                    ("href", "calendar-home-set") => pending.calendar_home.push(value.trim().to_string()),
                    ("href", "addressbook-home-set") => {
                        pending.addressbook_home.push(value.trim().to_string())
                    }
                    ("propstat", _) => {
                        if let Some(c) = cur.as_mut()
                            && propstat_status.is_none_or(|s| (200..300).contains(&s))
                        {
                            let p = std::mem::take(&mut pending);
                            c.etag = c.etag.take().or(p.etag);
                            c.data = c.data.take().or(p.data);
                            c.displayname = c.displayname.take().or(p.displayname);
                            c.ctag = c.ctag.take().or(p.ctag);
                            c.sync_token = c.sync_token.take().or(p.sync_token);
                            c.principal = c.principal.take().or(p.principal);
                            c.resource_types.extend(p.resource_types);
                            c.components.extend(p.components);
                            c.calendar_home.extend(p.calendar_home);
                            c.addressbook_home.extend(p.addressbook_home);
                        }
                    }
                    ("response", _) => {
                        if let Some(c) = cur.take() {
                            out.responses.push(c);
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_multistatus {
        return Err("the answer is not a DAV multistatus".into());
    }
    Ok(out)
}

/// Escapes text for an XML element body.
pub fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_sync_collection_report_with_removed_members() {
        let body = r#"<?xml version="1.0"?>
<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:response><D:href>/u/cal/a.ics</D:href>
    <D:propstat><D:prop><D:getetag>"e1"</D:getetag><C:calendar-data>BEGIN:VCALENDAR&#13;
X:a&amp;b
END:VCALENDAR</C:calendar-data></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
    <D:propstat><D:prop><D:displayname/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>
  </D:response>
  <D:response><D:href>/u/cal/gone.ics</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response>
  <D:sync-token>http://radicale.org/ns/sync/42</D:sync-token>
</D:multistatus>"#;
        let m = parse_multistatus(body).unwrap();
        assert_eq!(m.sync_token.as_deref(), Some("http://radicale.org/ns/sync/42"));
        assert_eq!(m.responses.len(), 2);
        assert_eq!(m.responses[0].etag.as_deref(), Some("\"e1\""));
        assert_eq!(m.responses[0].data.as_deref(), Some("BEGIN:VCALENDAR\r\nX:a&b\nEND:VCALENDAR"));
        assert_eq!(m.responses[0].displayname, None);
        assert_eq!(m.responses[1].status, Some(404));
    }

    #[test]
    fn parses_discovery_properties_with_any_prefix() {
        let body = r#"<multistatus xmlns="DAV:"><response><href>/u/</href><propstat><prop>
<current-user-principal><href>/u/</href></current-user-principal>
<x:calendar-home-set xmlns:x="urn:ietf:params:xml:ns:caldav"><href>/u/</href></x:calendar-home-set>
<resourcetype><collection/><C:calendar xmlns:C="urn:ietf:params:xml:ns:caldav"/></resourcetype>
<C:supported-calendar-component-set xmlns:C="urn:ietf:params:xml:ns:caldav"><C:comp name="VEVENT"/><C:comp name="vtodo"/></C:supported-calendar-component-set>
</prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"#;
        let m = parse_multistatus(body).unwrap();
        let r = &m.responses[0];
        assert_eq!(r.principal.as_deref(), Some("/u/"));
        assert_eq!(r.calendar_home, vec!["/u/".to_string()]);
        assert_eq!(r.resource_types, vec!["collection".to_string(), "calendar".to_string()]);
        assert_eq!(r.components, vec!["VEVENT".to_string(), "VTODO".to_string()]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in ["", "<html>nope</html>", "<D:multistatus xmlns:D=\"DAV:\"><D:response>", "\0\0<<>>&&"] {
            let _ = parse_multistatus(body);
        }
        assert!(parse_multistatus("<html/>").is_err());
    }

    #[test]
    fn a_million_deep_nesting_is_refused_quickly_with_its_depth() {
        let deep = format!("<d:multistatus xmlns:d=\"DAV:\">{}", "<d:x>".repeat(1_000_000));
        let e = parse_multistatus(&deep).unwrap_err();
        assert!(e.contains("nested deeper than 64"), "{e}");
    }
}
