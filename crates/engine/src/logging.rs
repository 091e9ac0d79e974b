//! Log output for the `crmsync` command and the desktop app: one
//! [`init`] both call, so logs never carry a secret at any level.
//!
//! Two guards. The filter caps the crates that trace wire traffic (async-imap
//! logs every IMAP command, LOGIN and AUTHENTICATE included, at trace) at
//! debug when `CRMSYNC_LOG` turns trace on globally, unless it names such a
//! crate itself. And every line is redacted before it is written: IMAP
//! `LOGIN` / `AUTHENTICATE` arguments and continuation lines, SMTP `AUTH`
//! initial responses, POP3 `PASS`, `Authorization:` headers, bearer tokens,
//! and base64 SASL blobs (PLAIN, XOAUTH2, OAUTHBEARER) become `[redacted]`.

use std::io::Write;

use base64::Engine as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The environment variable holding the log filter (`tracing` `EnvFilter` syntax).
pub const LOG_ENV: &str = "CRMSYNC_LOG";

/// Crates that trace wire traffic or key material: capped at debug unless named in the filter.
const CAPPED: &[&str] =
    &["async_imap", "imap_proto", "rustls", "tokio_rustls", "hyper", "hyper_util", "reqwest", "h2"];

/// What replaces a secret.
const REDACTED: &str = "[redacted]";

/// Installs the process's log subscriber on stderr: the filter from
/// `CRMSYNC_LOG`, else `default_filter` (e.g. "warn"); one JSON object per
/// line when `json`. Does nothing when a subscriber is installed already.
pub fn init(default_filter: &str, json: bool) {
    let spec = std::env::var(LOG_ENV).ok().filter(|s| !s.trim().is_empty());
    let filter = filter(spec.as_deref(), default_filter);
    let ansi = !json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(RedactedStderr).with_ansi(ansi);
    let _ = if json { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
}

/// The filter for `spec` (or `default_filter` when absent or invalid), with
/// the wire-tracing crates capped at debug when trace is on globally and the
/// spec does not name them.
pub fn filter(spec: Option<&str>, default_filter: &str) -> EnvFilter {
    let (text, mut filter) = match spec.map(|s| (s, EnvFilter::try_new(s))) {
        Some((s, Ok(f))) => (s.to_string(), f),
        _ => (default_filter.to_string(), EnvFilter::new(default_filter)),
    };
    let global_trace = text.split(',').any(|d| d.trim().eq_ignore_ascii_case("trace"));
    if global_trace {
        for target in CAPPED.iter().filter(|t| !text.contains(*t)) {
            if let Ok(d) = format!("{target}=debug").parse() {
                filter = filter.add_directive(d);
            }
        }
    }
    filter
}

/// Writes each log event to stderr after [`redact`].
#[derive(Debug, Clone, Copy)]
struct RedactedStderr;

impl<'a> MakeWriter<'a> for RedactedStderr {
    type Writer = EventBuffer;

    fn make_writer(&'a self) -> EventBuffer {
        EventBuffer(Vec::new())
    }
}

/// Collects one formatted event; redacts and writes it when dropped.
#[derive(Debug)]
struct EventBuffer(Vec<u8>);

impl Write for EventBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventBuffer {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let text = redact(&String::from_utf8_lossy(&self.0));
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

/// Removes secrets from formatted log text (see the module doc). In a JSON
/// line a redaction ends at the end of the string value it starts in, so the
/// line stays valid JSON.
pub fn redact(text: &str) -> String {
    text.split_inclusive('\n').map(redact_line).collect()
}

fn redact_line(line: &str) -> String {
    let json = line.trim_start().starts_with('{');
    let mut out = line.to_string();
    // Keyword rules: (keyword, case-sensitive, keep the next word).
    const RULES: &[(&str, bool, bool)] = &[
        ("LOGIN ", true, false),
        ("PASS ", true, false),
        ("AUTHENTICATE ", true, true),
        ("AUTH ", true, true),
        ("authorization:", false, false),
        ("encode: input: None,", false, false),
    ];
    for &(keyword, case_sensitive, keep_word) in RULES {
        let mut from = 0;
        while let Some(at) = find(&out, keyword, from, case_sensitive) {
            let mut start = at + keyword.len();
            if keep_word {
                let bytes = out.as_bytes();
                while start < out.len() && bytes[start] == b' ' {
                    start += 1;
                }
                while start < out.len()
                    && (bytes[start].is_ascii_alphanumeric() || b"-_".contains(&bytes[start]))
                {
                    start += 1;
                }
            }
            let mut end = value_end(&out, start, json);
            if keep_word {
                // After the mechanism only an initial response (base64, or
                // "=") is secret; prose such as "AUTH PLAIN: unexpected
                // challenge" stays readable.
                let arg = out[start..end].trim_start_matches(' ');
                let len = arg
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "+/=".contains(c)))
                    .unwrap_or(arg.len());
                end = if len > 0 { end - arg.len() + len } else { start };
            }
            if out[start..end].trim().is_empty() || out[start..end].trim() == REDACTED {
                from = end;
                continue;
            }
            let with =
                if out[..start].ends_with(' ') { REDACTED.to_string() } else { format!(" {REDACTED}") };
            out.replace_range(start..end, &with);
            from = start + with.len();
        }
    }
    let out = redact_bearer(&out);
    redact_sasl_blobs(&out)
}

/// The next occurrence of `keyword` at or after `from` that starts a word.
fn find(s: &str, keyword: &str, from: usize, case_sensitive: bool) -> Option<usize> {
    let (hay, keyword) = if case_sensitive {
        (s.to_string(), keyword.to_string())
    } else {
        (s.to_ascii_lowercase(), keyword.to_ascii_lowercase())
    };
    let mut pos = from;
    while let Some(i) = hay.get(pos..)?.find(&keyword) {
        let at = pos + i;
        let before = s[..at].chars().next_back();
        if before.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
            return Some(at);
        }
        pos = at + keyword.len();
    }
    None
}

/// Where the value that `start` is in ends: the end of the line (before its
/// newline), or in JSON the closing quote of the string.
fn value_end(s: &str, start: usize, json: bool) -> usize {
    let line_end = s[start..].find(['\r', '\n']).map_or(s.len(), |i| start + i);
    if !json {
        return line_end;
    }
    let bytes = s.as_bytes();
    let mut i = start;
    while i < line_end {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    line_end
}

/// `Bearer TOKEN` → `Bearer [redacted]`.
fn redact_bearer(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut pos = 0;
    while let Some(i) = lower[pos..].find("bearer ") {
        let start = pos + i + "bearer ".len();
        let end = s[start..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\\')
            .map_or(s.len(), |j| start + j);
        if end > start && &s[start..end] != REDACTED {
            out.push_str(&s[last..start]);
            out.push_str(REDACTED);
            last = end;
        }
        pos = end.max(start);
    }
    out.push_str(&s[last..]);
    out
}

/// Base64 tokens that decode to SASL messages (PLAIN's NUL-separated
/// fields, XOAUTH2's and OAUTHBEARER's ^A-separated ones).
fn redact_sasl_blobs(s: &str) -> String {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find(is_b64) {
        let (before, tail) = rest.split_at(start);
        out.push_str(before);
        let mut end = tail.find(|c: char| !is_b64(c)).unwrap_or(tail.len());
        while end < tail.len() && tail.as_bytes()[end] == b'=' {
            end += 1;
        }
        let token = &tail[..end];
        if token.len() >= 8 && is_sasl(token) {
            out.push_str(REDACTED);
        } else {
            out.push_str(token);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn is_sasl(token: &str) -> bool {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    let decoded = STANDARD.decode(token).or_else(|_| STANDARD_NO_PAD.decode(token.trim_end_matches('=')));
    // Separators present, and otherwise text: random base64-looking tokens
    // (ids, hashes) almost never decode to that.
    decoded.is_ok_and(|b| {
        b.iter().any(|&c| c == 0 || c == 1)
            && std::str::from_utf8(&b)
                .is_ok_and(|t| !t.chars().any(|c| c.is_control() && !matches!(c, '\0' | '\x01')))
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    const PW: &str = "s3cr3t pa\"ss";

    fn clean(line: &str) -> String {
        clean_of(line, &[])
    }

    fn clean_of(line: &str, secrets: &[&str]) -> String {
        let out = redact(line);
        assert!(!out.contains("s3cr3t"), "{line}\n=> {out}");
        for s in secrets {
            assert!(!out.contains(s), "{s} in {out}");
        }
        out
    }

    #[test]
    fn imap_login_and_authenticate_lose_their_arguments_in_text_and_json() {
        let out = clean(&format!(
            "TRACE async_imap::imap_stream: encode: input: Some(\"A0001\"), Ok(\"LOGIN \\\"alice\\\" \\\"{PW}\\\"\")\n"
        ));
        assert!(out.contains("LOGIN [redacted]"), "{out}");
        let blob = STANDARD.encode(format!("\0alice\0{PW}"));
        let out = clean_of(
            &format!("{{\"message\":\"encode: input: None, Ok(\\\"{blob}\\\")\",\"level\":\"TRACE\"}}\n"),
            &[&blob],
        );
        assert!(serde_json::from_str::<serde_json::Value>(&out).is_ok(), "still JSON: {out}");
        let out = clean_of(&format!("AUTHENTICATE PLAIN {blob}\n"), &[&blob]);
        assert!(out.starts_with("AUTHENTICATE PLAIN [redacted]"), "{out}");
    }

    #[test]
    fn smtp_pop3_headers_bearer_tokens_and_bare_sasl_blobs_are_redacted() {
        let plain = STANDARD.encode(format!("alice\0alice\0{PW}"));
        clean_of(&format!("C: AUTH PLAIN {plain}\n"), &[&plain]);
        clean(&format!("C: PASS {PW}\n"));
        clean(&format!("authorization: Basic {}\n", STANDARD.encode(format!("alice:{PW}"))));
        clean("header Authorization=\"Bearer s3cr3t-token\"\n");
        assert_eq!(clean_of(&format!("got {plain} back\n"), &[&plain]), "got [redacted] back\n");
        let xoauth = STANDARD.encode("user=alice\x01auth=Bearer s3cr3t\x01\x01");
        clean_of(&format!("sent {xoauth}\n"), &[&xoauth]);
    }

    #[test]
    fn ordinary_lines_are_left_alone() {
        for line in [
            "INFO crmsync: mailbox a@b.test: 3 message(s), login ok\n",
            "WARN job failed: AUTH PLAIN: unexpected challenge\n",
            "WARN the server offers AUTH CRAM-MD5; crmsync speaks PLAIN and LOGIN\n",
            "* OK [CAPABILITY IMAP4rev1 LOGIN-REFERRALS AUTH=PLAIN] ready\n",
            "DEBUG fetched requested=5 fetched=5 message_id=<abcdefgh12345678@x>\n",
        ] {
            assert_eq!(redact(line), line);
        }
    }

    #[test]
    fn trace_caps_the_wire_crates_unless_named() {
        let f = filter(Some("trace"), "warn").to_string();
        assert!(f.contains("async_imap=debug"), "{f}");
        let f = filter(Some("trace,async_imap=trace"), "warn").to_string();
        assert!(!f.contains("async_imap=debug"), "{f}");
        let f = filter(Some("debug"), "warn").to_string();
        assert!(!f.contains("async_imap"), "{f}");
    }
}
