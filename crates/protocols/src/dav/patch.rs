//! Line-level editing of an iCalendar object or vCard as the server holds
//! it, so an update replaces only the properties crmsync owns and leaves
//! every other line (alarms, categories, photos, X- properties, other
//! clients' parameters, unknown components) byte-for-byte as it was.
//!
//! The document is split into logical content lines (a line and its folded
//! continuations, with its line ending); `BEGIN`/`END` lines delimit the
//! components. New property lines are rendered by calcard (the converters'
//! writers) and spliced in; the converters decide what changed.

/// One logical content line.
#[derive(Debug, Clone)]
struct Line {
    /// The raw text: the line, its folded continuations and its line ending.
    text: String,
    /// The property name, upper case, without a vCard group (`ITEM1.TEL` → `TEL`).
    name: String,
    /// The innermost component the line belongs to (a BEGIN/END line belongs to its own component).
    owner: Option<usize>,
}

/// A component: its kind (VEVENT, VALARM, VCARD...) and the lines of its BEGIN and END.
#[derive(Debug, Clone)]
pub(crate) struct Comp {
    pub kind: String,
    pub begin: usize,
    pub end: usize,
    pub parent: Option<usize>,
}

/// A parsed document and the edits made to it.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    lines: Vec<Line>,
    pub comps: Vec<Comp>,
    crlf: bool,
    removed: Vec<bool>,
    replaced: Vec<Option<String>>,
    before: Vec<Vec<String>>,
}

fn unfold(s: &str) -> String {
    s.replace("\r\n ", "").replace("\r\n\t", "").replace("\n ", "").replace("\n\t", "")
}

fn name_of(text: &str) -> String {
    let head = text.split([';', ':']).next().unwrap_or("").trim();
    let head = head.rsplit('.').next().unwrap_or(head);
    head.to_ascii_uppercase()
}

impl Doc {
    /// Splits `raw` into logical lines and components (an unbalanced END is ignored).
    pub fn parse(raw: &str) -> Doc {
        let mut texts: Vec<String> = Vec::new();
        for phys in raw.split_inclusive('\n') {
            match texts.last_mut() {
                Some(prev) if phys.starts_with([' ', '\t']) => prev.push_str(phys),
                _ => texts.push(phys.to_string()),
            }
        }
        let mut lines = Vec::with_capacity(texts.len());
        let mut comps: Vec<Comp> = Vec::new();
        let mut stack: Vec<usize> = Vec::new();
        for (i, text) in texts.into_iter().enumerate() {
            let name = name_of(&text);
            let value = || unfold(&text).split_once(':').map(|(_, v)| v.trim().to_ascii_uppercase());
            let owner = match name.as_str() {
                "BEGIN" => {
                    let c = comps.len();
                    comps.push(Comp {
                        kind: value().unwrap_or_default(),
                        begin: i,
                        end: i,
                        parent: stack.last().copied(),
                    });
                    stack.push(c);
                    Some(c)
                }
                "END" => {
                    let v = value().unwrap_or_default();
                    match stack.iter().rposition(|c| comps[*c].kind == v) {
                        Some(pos) => {
                            let c = stack[pos];
                            stack.truncate(pos);
                            comps[c].end = i;
                            Some(c)
                        }
                        None => stack.last().copied(),
                    }
                }
                _ => stack.last().copied(),
            };
            lines.push(Line { text, name, owner });
        }
        let n = lines.len();
        Doc {
            crlf: raw.contains("\r\n") || !raw.contains('\n'),
            lines,
            comps,
            removed: vec![false; n],
            replaced: vec![None; n],
            before: vec![Vec::new(); n],
        }
    }

    /// The components of `kind` directly inside `parent` (None: top level), in document order.
    pub fn children(&self, parent: Option<usize>, kind: &str) -> Vec<usize> {
        (0..self.comps.len())
            .filter(|c| self.comps[*c].parent == parent && self.comps[*c].kind == kind)
            .collect()
    }

    /// The line indices of property `name` directly in component `c` (not in its sub-components).
    pub fn props(&self, c: usize, name: &str) -> Vec<usize> {
        let comp = &self.comps[c];
        (comp.begin + 1..comp.end)
            .filter(|i| self.lines[*i].owner == Some(c) && self.lines[*i].name == name)
            .collect()
    }

    /// The raw text of a line.
    pub fn text(&self, i: usize) -> &str {
        &self.lines[i].text
    }

    /// The text of component `c` with its sub-components, BEGIN to END.
    pub fn comp_text(&self, c: usize) -> String {
        let comp = &self.comps[c];
        (comp.begin..=comp.end).map(|i| self.lines[i].text.as_str()).collect()
    }

    /// The raw texts of property `name` in component `c`.
    pub fn prop_texts(&self, c: usize, name: &str) -> Vec<String> {
        self.props(c, name).into_iter().map(|i| self.lines[i].text.clone()).collect()
    }

    /// `text` with this document's line endings (and one at its end).
    pub fn eol(&self, text: &str) -> String {
        let lf = text.replace("\r\n", "\n");
        let mut out = if self.crlf { lf.replace('\n', "\r\n") } else { lf };
        if !out.ends_with('\n') {
            out.push_str(if self.crlf { "\r\n" } else { "\n" });
        }
        out
    }

    /// Where a new property of `c` goes: before its first sub-component (RFC 5545
    /// puts properties before VALARMs), else before its END.
    fn prop_end(&self, c: usize) -> usize {
        let comp = &self.comps[c];
        (comp.begin + 1..comp.end)
            .find(|i| self.lines[*i].name == "BEGIN" && self.lines[*i].owner != Some(c))
            .unwrap_or(comp.end)
    }

    /// Replaces every `name` line of component `c` with `new` (rendered lines),
    /// where the first one was, or after its other properties when there was none.
    pub fn set_prop(&mut self, c: usize, name: &str, new: Vec<String>) {
        let old = self.props(c, name);
        let at = old.first().copied().unwrap_or_else(|| self.prop_end(c));
        for i in &old {
            self.removed[*i] = true;
        }
        let new: Vec<String> = new.iter().map(|t| self.eol(t)).collect();
        self.before[at].extend(new);
    }

    /// Replaces one line.
    pub fn replace_line(&mut self, i: usize, text: &str) {
        self.replaced[i] = Some(self.eol(text));
    }

    /// Removes one line.
    pub fn remove_line(&mut self, i: usize) {
        self.removed[i] = true;
    }

    /// Inserts `text` (one or more lines) before line `i`.
    pub fn insert_before(&mut self, i: usize, text: &str) {
        let t = self.eol(text);
        self.before[i].push(t);
    }

    /// Adds property line(s) `text` to component `c`, after its other properties.
    pub fn append_prop(&mut self, c: usize, text: &str) {
        self.insert_before(self.prop_end(c), text);
    }

    /// Adds a sub-component `text` at the end of component `c`.
    pub fn append_comp(&mut self, c: usize, text: &str) {
        self.insert_before(self.comps[c].end, text);
    }

    /// Removes component `c` with everything in it.
    pub fn remove_comp(&mut self, c: usize) {
        let comp = self.comps[c].clone();
        for i in comp.begin..=comp.end {
            self.removed[i] = true;
        }
    }

    /// The edited document.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, l) in self.lines.iter().enumerate() {
            for b in &self.before[i] {
                out.push_str(b);
            }
            if self.removed[i] {
                continue;
            }
            match &self.replaced[i] {
                Some(r) => out.push_str(r),
                None => out.push_str(&l.text),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untouched_document_renders_byte_for_byte() {
        let raw = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:a long\r\n  folded line\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR";
        let d = Doc::parse(raw);
        assert_eq!(d.render(), raw);
        let cal = d.children(None, "VCALENDAR")[0];
        let ev = d.children(Some(cal), "VEVENT")[0];
        assert_eq!(d.props(ev, "SUMMARY").len(), 1);
        assert!(d.props(ev, "ACTION").is_empty(), "a VALARM's lines are not the event's");
        assert_eq!(d.children(Some(ev), "VALARM").len(), 1);
    }

    #[test]
    fn set_prop_replaces_in_place_and_keeps_line_endings() {
        let raw = "BEGIN:VCARD\nVERSION:3.0\nitem1.EMAIL:a@b.c\nFN:X\nEND:VCARD\n";
        let mut d = Doc::parse(raw);
        let c = d.children(None, "VCARD")[0];
        assert_eq!(d.props(c, "EMAIL").len(), 1);
        d.set_prop(c, "FN", vec!["FN:Y\r\n".into()]);
        d.set_prop(c, "NOTE", vec!["NOTE:n\r\n".into()]);
        assert_eq!(d.render(), "BEGIN:VCARD\nVERSION:3.0\nitem1.EMAIL:a@b.c\nFN:Y\nNOTE:n\nEND:VCARD\n");
    }
}
