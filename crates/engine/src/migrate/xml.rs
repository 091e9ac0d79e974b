//! A small element tree over quick-xml that remembers, for every element, its
//! path (`Configuration/ProviderConfiguration[2]/EmailPort`) and the line it
//! starts on, so every migration error and warning can point the admin at the
//! exact place in the router's file. Names keep their spelling; lookups are
//! case-insensitive (the router's own reader lower-cases child names).

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::error::EngineError;

/// Largest router file accepted (the Dynamics wizard's default cap is 32 MiB).
pub const MAX_FILE_SIZE: usize = 32 * 1024 * 1024;

/// One XML element with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The element name as written.
    pub name: String,
    /// Path from the root, with `[n]` where a name repeats among siblings.
    pub path: String,
    /// 1-based line of the start tag.
    pub line: u32,
    /// Concatenated text content, trimmed.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// True when the element is named `name` (case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// Children named like any of `names` (case-insensitive).
    pub fn all(&self, names: &[&str]) -> std::vec::IntoIter<&Element> {
        self.children.iter().filter(|c| names.iter().any(|n| c.is(n))).collect::<Vec<_>>().into_iter()
    }
}

/// Maps byte offsets to 1-based line numbers.
struct Lines(Vec<usize>);

impl Lines {
    fn new(src: &str) -> Lines {
        Lines(src.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i).collect())
    }

    fn line(&self, offset: u64) -> u32 {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        (self.0.partition_point(|&nl| nl < offset) + 1) as u32
    }
}

/// Decodes a file's bytes: UTF-8 (with or without BOM) or UTF-16 with a BOM.
pub fn decode(file: &str, bytes: &[u8]) -> Result<String, EngineError> {
    let err = |message: &str| EngineError::Migration {
        file: file.to_string(),
        line: 1,
        path: "(file)".into(),
        message: message.to_string(),
    };
    if bytes.len() > MAX_FILE_SIZE {
        return Err(err("the file is larger than 32 MiB"));
    }
    let utf16 = |be: bool| {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| if be { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_le_bytes([c[0], c[1]]) })
            .collect();
        String::from_utf16(&units).map_err(|_| err("the file is not valid UTF-16"))
    };
    let text = match bytes {
        [0xFF, 0xFE, ..] => utf16(false)?,
        [0xFE, 0xFF, ..] => utf16(true)?,
        [0xEF, 0xBB, 0xBF, rest @ ..] => {
            String::from_utf8(rest.to_vec()).map_err(|_| err("the file is not valid UTF-8"))?
        }
        _ => String::from_utf8(bytes.to_vec()).map_err(|_| err("the file is not valid UTF-8"))?,
    };
    if text.trim().is_empty() {
        return Err(err("the file is empty"));
    }
    Ok(text)
}

struct Open {
    el: Element,
    /// Names of the children seen so far, for the `[n]` of error paths.
    seen: Vec<String>,
}

fn error_path(stack: &[Open]) -> String {
    let mut parts = Vec::new();
    for (i, o) in stack.iter().enumerate() {
        let n = if i == 0 {
            1
        } else {
            stack[i - 1].seen.iter().filter(|s| s.eq_ignore_ascii_case(&o.el.name)).count()
        };
        parts.push(if n > 1 { format!("{}[{n}]", o.el.name) } else { o.el.name.clone() });
    }
    if parts.is_empty() { "(document)".into() } else { parts.join("/") }
}

/// Parses `src` into its root element; `file` names the file in errors.
pub fn parse(file: &str, src: &str) -> Result<Element, EngineError> {
    let lines = Lines::new(src);
    let mut reader = Reader::from_str(src);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Element> = None;
    let fail = |stack: &[Open], offset: u64, message: String| EngineError::Migration {
        file: file.to_string(),
        line: lines.line(offset),
        path: error_path(stack),
        message,
    };
    loop {
        let start = reader.buffer_position();
        let event = reader.read_event().map_err(|e| {
            fail(&stack, reader.error_position(), format!("the file is not well-formed XML: {e}"))
        })?;
        let text_of = |bytes: Result<std::borrow::Cow<'_, str>, _>| {
            bytes.map(|c| c.into_owned()).map_err(|e| fail(&stack, start, format!("cannot decode text: {e}")))
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if stack.is_empty() && root.is_some() {
                    return Err(fail(&stack, start, format!("a second root element <{name}>")));
                }
                if let Some(parent) = stack.last_mut() {
                    parent.seen.push(name.clone());
                }
                let el = Element {
                    name,
                    path: String::new(),
                    line: lines.line(start),
                    text: String::new(),
                    children: Vec::new(),
                };
                stack.push(Open { el, seen: Vec::new() });
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, &mut root);
                }
            }
            Event::End(_) => close(&mut stack, &mut root),
            Event::Text(t) => {
                let s = text_of(t.decode())?;
                match stack.last_mut() {
                    Some(o) => o.el.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err(fail(&stack, start, "text outside the root element".into())),
                }
            }
            Event::CData(t) => {
                let s = text_of(t.decode())?;
                if let Some(o) = stack.last_mut() {
                    o.el.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                let name = text_of(r.decode())?;
                let ch = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => quick_xml::escape::resolve_xml_entity(&name)
                        .ok_or_else(|| fail(&stack, start, format!("unknown entity &{name};")))?
                        .to_string(),
                    Err(e) => return Err(fail(&stack, start, format!("bad character reference: {e}"))),
                };
                if let Some(o) = stack.last_mut() {
                    o.el.text.push_str(&ch);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        let name = stack.last().map(|o| o.el.name.clone()).unwrap_or_default();
        return Err(fail(
            &stack,
            src.len() as u64,
            format!("the file ends before </{name}> (truncated or not well-formed XML)"),
        ));
    }
    let mut root = root.ok_or_else(|| fail(&stack, 0, "no root element".into()))?;
    let name = root.name.clone();
    assign_paths(&mut root, &name);
    Ok(root)
}

fn close(stack: &mut Vec<Open>, root: &mut Option<Element>) {
    if let Some(mut o) = stack.pop() {
        o.el.text = o.el.text.trim().to_string();
        match stack.last_mut() {
            Some(parent) => parent.el.children.push(o.el),
            None => *root = Some(o.el),
        }
    }
}

fn assign_paths(el: &mut Element, path: &str) {
    el.path = path.to_string();
    let names: Vec<String> = el.children.iter().map(|c| c.name.to_ascii_lowercase()).collect();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (child, lname) in el.children.iter_mut().zip(&names) {
        let total = names.iter().filter(|n| *n == lname).count();
        let k = seen.entry(lname.clone()).or_default();
        *k += 1;
        let p = if total > 1 {
            format!("{path}/{}[{}]", child.name, k)
        } else {
            format!("{path}/{}", child.name)
        };
        assign_paths(child, &p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_index_repeated_siblings_and_lines_count_from_one() {
        let src = "<?xml version=\"1.0\"?>\n<A>\n  <B>x &amp; y</B>\n  <B><C>&#65;</C></B>\n  <D/>\n</A>\n";
        let root = parse("f.xml", src).unwrap();
        assert_eq!(root.path, "A");
        assert_eq!(root.line, 2);
        let paths: Vec<_> = root.children.iter().map(|c| (c.path.as_str(), c.line)).collect();
        assert_eq!(paths, [("A/B[1]", 3), ("A/B[2]", 4), ("A/D", 5)]);
        assert_eq!(root.children[0].text, "x & y");
        assert_eq!(root.children[1].children[0].path, "A/B[2]/C");
        assert_eq!(root.children[1].children[0].text, "A");
        assert_eq!(root.all(&["b"]).count(), 2, "lookups ignore case");
    }

    #[test]
    fn malformed_xml_is_reported_with_line_and_open_element_path() {
        let cases: &[(&str, u32, &str, &str)] = &[
            ("<A>\n<B>\n</C>\n</A>", 3, "A/B", "not well-formed"),
            ("<A>\n<B>text\n", 3, "A/B", "ends before </B>"),
            ("<A>\n<B>&bogus;</B></A>", 2, "A/B", "unknown entity"),
            ("<A/><B/>", 1, "(document)", "second root"),
            ("<A>\n<B x='1></B></A>", 2, "A", "not well-formed"),
        ];
        for (src, line, path, msg) in cases {
            match parse("f.xml", src) {
                Err(EngineError::Migration { line: l, path: p, message, .. }) => {
                    assert_eq!((l, p.as_str()), (*line, *path), "{src}: {message}");
                    assert!(message.contains(msg), "{src}: {message}");
                }
                other => panic!("{src}: {other:?}"),
            }
        }
    }

    #[test]
    fn decodes_utf8_bom_and_utf16_and_rejects_empty_files() {
        assert_eq!(decode("f", b"\xEF\xBB\xBF<A/>").unwrap(), "<A/>");
        let mut le = vec![0xFF, 0xFE];
        le.extend("<A/>".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode("f", &le).unwrap(), "<A/>");
        assert!(decode("f", b"  \n").unwrap_err().to_string().contains("empty"));
    }
}
