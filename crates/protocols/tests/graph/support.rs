//! Shared helpers of the Graph tests: where the fixtures are, and the
//! fixtures' request validator run over what the client sent.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// `shared/fixtures/graph` beside the checkout (which may be a nested worktree).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("shared/fixtures/graph"))
        .find(|d| d.is_dir())
        .expect("the shared Graph fixtures (shared/fixtures/graph beside the checkout)")
}

/// Runs `check_requests.py` over `cases` (see its doc for their shape) and
/// returns one result per case: `status` (`VALID`, `INVALID`, ...), `errors`, `diffs`.
pub fn check_requests(cases: &[Value]) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/graph/check_requests.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(fixtures())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the fixtures' request validator");
    serde_json::to_writer(child.stdin.take().unwrap(), cases).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the validator failed");
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results.len(), cases.len());
    results
}
