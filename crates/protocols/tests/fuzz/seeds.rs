//! Seeds and input generators of the proptest fuzz suite: the shared
//! real-world corpus (`shared/fixtures` beside the checkout) mutated byte by
//! byte, and plain arbitrary bytes.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::sample::Index;

/// Seeds larger than this are cut (keeps a case fast in a debug build).
const MAX_SEED: usize = 64 * 1024;

/// `shared/fixtures/<sub>` beside the checkout (which may be a nested worktree).
pub fn fixture_dir(sub: &str) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|dir| dir.join("shared/fixtures").join(sub))
        .find(|candidate| candidate.is_dir())
        .unwrap_or_else(|| panic!("the shared fixtures ({sub}) are missing beside {}", manifest.display()))
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            files(&p, out);
        } else if !name.starts_with("LICENSE") && !name.ends_with(".md") {
            out.push(p);
        }
    }
}

/// Every fixture file under `shared/fixtures/<sub>`, cut to [`MAX_SEED`] bytes, sorted by path.
pub fn load(sub: &str) -> Vec<Vec<u8>> {
    let mut paths = Vec::new();
    files(&fixture_dir(sub), &mut paths);
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let mut b = std::fs::read(p).unwrap();
            b.truncate(MAX_SEED);
            b
        })
        .collect()
}

/// The MIME corpus.
pub static MIME: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| load("mime"));
/// The iCalendar corpus.
pub static ICAL: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| load("ical"));
/// The vCard corpus.
pub static VCARD: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| load("vcard"));
/// The EWS answers and requests (Microsoft's examples and the gromox conversation).
pub static EWS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| [load("ews/docs"), load("ews/gromox")].concat());

/// Tokens that matter to the parsers, spliced in by the mutator.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b"\0",
    b":",
    b";",
    b"=?utf-8?B?",
    b"=?",
    b"?=",
    b"--",
    b"boundary=\"",
    b"Content-Type: multipart/mixed; boundary=x\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"BEGIN:VEVENT\r\n",
    b"END:VCALENDAR\r\n",
    b"BEGIN:VCARD\r\n",
    b"RRULE:FREQ=",
    b"\\",
    b"<",
    b"&#",
    b"]]>",
    b"<![CDATA[",
    b"{4000000000}",
    b"* OK ",
    b"+OK ",
    b"-ERR [",
    b"250-",
    b".\r\n",
    b"\xff\xfe",
    b"\xc3",
];

/// One edit of a seed.
#[derive(Debug, Clone)]
pub enum Edit {
    /// Sets the byte at the position.
    Set(Index, u8),
    /// Inserts a byte.
    Insert(Index, u8),
    /// Removes up to n bytes.
    Remove(Index, u8),
    /// Splices in a token.
    Token(Index, usize),
    /// Repeats a chunk of up to n bytes.
    Repeat(Index, u8),
    /// Cuts the input there.
    Truncate(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, n)| Edit::Remove(i, n)),
        (any::<Index>(), 0..TOKENS.len()).prop_map(|(i, t)| Edit::Token(i, t)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, n)| Edit::Repeat(i, n)),
        any::<Index>().prop_map(Edit::Truncate),
    ]
}

/// Applies the edits to a copy of `seed`.
pub fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for e in edits {
        let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
        match e {
            Edit::Set(i, b) if !v.is_empty() => {
                let p = i.index(v.len());
                v[p] = *b;
            }
            Edit::Set(..) => {}
            Edit::Insert(i, b) => {
                let p = at(i, v.len());
                v.insert(p, *b);
            }
            Edit::Remove(i, n) => {
                let p = at(i, v.len());
                let end = (p + usize::from(*n % 32)).min(v.len());
                v.drain(p..end);
            }
            Edit::Token(i, t) => {
                let p = at(i, v.len());
                v.splice(p..p, TOKENS[*t].iter().copied());
            }
            Edit::Repeat(i, n) => {
                let p = at(i, v.len());
                let end = (p + usize::from(*n)).min(v.len());
                let chunk = v[p..end].to_vec();
                for _ in 0..4 {
                    v.splice(end..end, chunk.iter().copied());
                }
            }
            Edit::Truncate(i) => {
                let p = at(i, v.len());
                v.truncate(p);
            }
        }
    }
    v
}

/// A seed of `corpus` with up to eight edits.
pub fn mutated(corpus: &'static LazyLock<Vec<Vec<u8>>>) -> impl Strategy<Value = Vec<u8>> {
    let n = corpus.len();
    assert!(n > 0, "an empty corpus");
    (0..n, prop::collection::vec(edit(), 0..8)).prop_map(move |(i, edits)| apply(&corpus[i], &edits))
}

/// A list of fixed seeds with up to eight edits.
pub fn mutated_from(seeds: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    (0..seeds.len(), prop::collection::vec(edit(), 0..8)).prop_map(move |(i, edits)| apply(seeds[i], &edits))
}

/// Arbitrary bytes, biased towards the line structure of the protocols.
pub fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        prop::collection::vec(
            prop_oneof![
                any::<u8>().prop_map(|b| vec![b]),
                (0..TOKENS.len()).prop_map(|t| TOKENS[t].to_vec())
            ],
            0..128
        )
        .prop_map(|parts| parts.concat()),
    ]
}

/// Every file under `tests/fuzz-regressions/<target>/` of this crate: the inputs that once broke it.
pub fn regressions(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions").join(target);
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries {
            let p = e.unwrap().path();
            if p.is_file() {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}
