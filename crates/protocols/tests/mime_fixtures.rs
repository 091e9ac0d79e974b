//! Every message of the shared MIME corpus (300 real-world and deliberately
//! broken files) goes through the parser: nothing panics, nothing is lost.

use std::path::{Path, PathBuf};

use crmsync_protocols::mime;

fn corpus() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/mime");
    if p.is_dir() {
        return p;
    }
    // A git worktree under /work/wt/NAME is one level deeper than /work/main.
    std::env::var_os("CRMSYNC_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/fixtures"))
        .join("mime")
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
    let (mut parsed, mut refused) = (0, Vec::new());
    for path in &all {
        let raw = std::fs::read(path).unwrap();
        match mime::parse(&raw) {
            Ok(p) => {
                parsed += 1;
                assert!(!p.dedupe_key.is_empty(), "{}: no dedupe key", path.display());
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
