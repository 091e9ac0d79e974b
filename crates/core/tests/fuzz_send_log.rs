//! Fuzzing the send-log line parser (issue 15, "Fuzzing") through recovery,
//! the only reader of a stopped pass's log: whatever bytes a log holds (a
//! disk error, a power cut in the middle of a line), recovery folds the whole
//! facts, skips and counts the rest, and never fails or panics. Bounded by
//! `PROPTEST_CASES` (default below, sized for CI).

use std::cell::RefCell;

use crmsync_core::Store;
use crmsync_core::store::outbox::SentCopy;
use crmsync_core::store::send_log::{self, Fact, SendLog};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn runner(default: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default);
    TestRunner::new(Config { cases, failure_persistence: None, rng_seed: seed(), ..Config::default() })
}

/// Writes `bytes` as the log of a stopped pass, recovers, and returns (folded, skipped).
fn recover_log(store: &mut Store, bytes: &[u8]) -> (usize, usize) {
    let dir = send_log::dir_of(store.path());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("stopped-pass.log"), bytes).unwrap();
    let path = store.path().to_path_buf();
    let recovery = store
        .write(|tx| send_log::recover(tx, &path))
        .unwrap_or_else(|e| panic!("recovery failed on {:?}: {e}", bytes.escape_ascii().to_string()));
    assert!(recovery.live.is_empty());
    let counts = (recovery.folded, recovery.skipped);
    recovery.finish().unwrap();
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "the stopped pass's log is removed");
    counts
}

/// Lines recovery looks at: every line that is not blank (or NULs, as a
/// filesystem may leave after a crash).
fn lines(bytes: &[u8]) -> usize {
    String::from_utf8_lossy(bytes).lines().filter(|l| !l.trim_matches('\0').trim().is_empty()).count()
}

fn store() -> (tempfile::TempDir, RefCell<Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("crm.db")).unwrap().without_keyring();
    (dir, RefCell::new(store))
}

fn fact() -> impl Strategy<Value = Fact> {
    let at = (0i64..4_000_000_000_000)
        .prop_map(|ms| crmsync_core::time::to_db(chrono::DateTime::from_timestamp_millis(ms).unwrap()));
    let copy = prop::sample::select(vec![SentCopy::Pending, SentCopy::Saved, SentCopy::None]);
    prop_oneof![
        (any::<i64>(), at.clone()).prop_map(|(id, at)| Fact::Started { id, at }),
        (any::<i64>(), at, copy).prop_map(|(id, at, copy)| Fact::Sent { id, at, copy }),
    ]
}

#[test]
fn any_bytes_in_a_send_log_are_folded_or_skipped_never_a_failure() {
    let (_d, store) = store();
    let line = prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..60),
        2 => "(started|sent|STARTED) -?[0-9]{1,20} [0-9T:.Z+-]{0,30}( (pending|saved|none|x))?( x)?"
            .prop_map(String::into_bytes),
        1 => Just(b"\0\0\0\0".to_vec()),
    ];
    let log = prop::collection::vec(line, 0..12).prop_map(|l| l.join(&b'\n'));
    runner(4000)
        .run(&log, |bytes| {
            let (folded, skipped) = recover_log(&mut store.borrow_mut(), &bytes);
            prop_assert_eq!(folded + skipped, lines(&bytes), "every line is folded or counted as skipped");
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_log_torn_anywhere_folds_exactly_its_whole_facts() {
    let (_d, store) = store();
    let case = (prop::collection::vec(fact(), 1..10), any::<prop::sample::Index>());
    runner(3000)
        .run(&case, |(facts, cut)| {
            let mut s = store.borrow_mut();
            // The pass writes its facts and is killed; a power cut tears the file.
            let mut log = SendLog::create(s.path(), "torn-pass").unwrap();
            for f in &facts {
                log.record(f.clone()).unwrap();
            }
            drop(log);
            let file = send_log::dir_of(s.path()).join("torn-pass.log");
            let mut bytes = std::fs::read(&file).unwrap();
            let full = bytes.len();
            bytes.truncate(cut.index(full + 1));
            std::fs::remove_file(&file).unwrap();
            let text = String::from_utf8(bytes.clone()).unwrap();
            // A line is whole when it ends in its newline, or only the newline was lost.
            let whole =
                text.lines().filter(|l| text.contains(&format!("{l}\n")) || is_complete(l, &facts)).count();
            let (folded, skipped) = recover_log(&mut s, &bytes);
            prop_assert_eq!(folded, whole, "whole facts folded ({:?})", text);
            prop_assert_eq!(skipped, lines(&bytes) - whole, "the torn line is skipped");
            Ok(())
        })
        .unwrap();
}

/// Whether the last (newline-less) line is still a whole fact: a cut just before the newline.
fn is_complete(line: &str, facts: &[Fact]) -> bool {
    facts.iter().any(|f| {
        let (kind, id, at, copy) = match f {
            Fact::Started { id, at } => ("started", id, at, None),
            Fact::Sent { id, at, copy } => ("sent", id, at, Some(copy.as_str())),
        };
        let whole = match copy {
            Some(c) => format!("{kind} {id} {at} {c}"),
            None => format!("{kind} {id} {at}"),
        };
        whole == line
    })
}

/// The same cases on every run (CI must not pass or fail by chance):
/// `PROPTEST_RNG_SEED=N` explores others, e.g. in a longer local run.
fn seed() -> proptest::test_runner::RngSeed {
    let n = std::env::var("PROPTEST_RNG_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_c0de);
    proptest::test_runner::RngSeed::Fixed(n)
}
