//! Every message of the shared MIME corpus (300 real-world and deliberately
//! broken files) goes through the parser: nothing panics, nothing is lost.

use std::path::{Path, PathBuf};

use crmsync_protocols::mime;

/// The shared corpus lives in `shared/fixtures/mime` beside the checkout; the
/// checkout may be nested (a git worktree), so look in every ancestor.
fn corpus() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|dir| dir.join("shared/fixtures/mime"))
        .find(|candidate| candidate.is_dir())
        .unwrap_or_else(|| manifest.join("../../../shared/fixtures/mime"))
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if !p.file_name().unwrap().to_string_lossy().starts_with("LICENSE")
            && p.file_name().unwrap() != "SOURCES.md"
        {
            out.push(p);
        }
    }
}

#[test]
fn every_corpus_message_parses_or_is_refused_cleanly_without_panicking() {
    let root = corpus();
    assert!(root.is_dir(), "the shared MIME corpus is missing at {}", root.display());
    let mut all = Vec::new();
    files(&root, &mut all);
    assert!(all.len() >= 300, "expected the 300-file corpus, found {}", all.len());
    let (mut parsed, mut refused, mut leading_blank) = (0, Vec::new(), 0);
    for path in &all {
        let raw = std::fs::read(path).unwrap();
        // Some stored messages (flanker's) start with a whitespace-only line: they are mail all the same.
        let first_line = raw.split(|&b| b == b'\n').next().unwrap_or_default();
        let starts_blank = raw.contains(&b'\n') && first_line.iter().all(|b| b" \t\r".contains(b));
        if starts_blank {
            leading_blank += 1;
            assert!(mime::parse(&raw).is_ok(), "{}: blank lines before the headers", path.display());
        }
        match mime::parse(&raw) {
            Ok(p) => {
                parsed += 1;
                assert!(!p.dedupe_key.is_empty(), "{}: no dedupe key", path.display());
                // Blank lines put before the headers change nothing.
                let mut padded = b"\r\n \t\r\n\n".to_vec();
                padded.extend_from_slice(&raw);
                let q = mime::parse(&padded).unwrap_or_else(|e| panic!("{} padded: {e}", path.display()));
                assert_eq!((&q.subject, &q.dedupe_key), (&p.subject, &p.dedupe_key), "{}", path.display());
                // Nothing lost: every attachment carries its bytes, every part a type.
                for a in &p.attachments {
                    assert!(!a.mime_type.is_empty() && !a.name.is_empty(), "{}", path.display());
                }
            }
            Err(e) => refused.push(format!("{}: {e}", path.display())),
        }
    }
    // A refused input is kept whole by the pipeline as a failed item; here we only
    // require that refusals are rare and are real non-messages.
    assert!(refused.len() * 20 < all.len(), "too many refused: {refused:#?}");
    assert!(parsed > 280, "parsed only {parsed}");
    assert!(leading_blank >= 5, "the corpus has messages starting with blank lines; found {leading_blank}");
}

#[test]
fn the_same_bytes_always_give_the_same_dedupe_key() {
    let mut all = Vec::new();
    files(&corpus(), &mut all);
    for path in all.iter().take(60) {
        let raw = std::fs::read(path).unwrap();
        if let (Ok(a), Ok(b)) = (mime::parse(&raw), mime::parse(&raw)) {
            assert_eq!(a.dedupe_key, b.dedupe_key, "{}", path.display());
        }
    }
}
