//! Test support: named crash points for the kill -9 matrix.
//!
//! Each place where a crash would leave a different state on disk (after a
//! FETCH, inside a commit, after the commit and before the server is changed,
//! after a claim, after the final `.` of an SMTP message, …) calls
//! [`point`] with a fixed name. In a debug build, a process started with
//! `CRMSYNC_TEST_KILL_AT=NAME` (or `NAME:N` for the N-th time the point is
//! reached) sends itself SIGKILL there: no destructor runs, nothing is flushed,
//! exactly as `kill -9` from outside at that moment. Release builds ignore the
//! variable (the check is compiled out), so an installed crmsync cannot be
//! made to crash by its environment.
//!
//! The names in use are listed in [`POINTS`]; `crates/cli/tests/kill_matrix.rs`
//! kills at each and checks that a clean pass afterwards leaves every message
//! in the CRM exactly once and every email delivered at most once.

/// Every crash point, for tests that iterate over them.
pub const POINTS: &[&str] = &[
    "incoming.after_fetch",
    "incoming.before_commit",
    "incoming.after_commit",
    "incoming.before_quit",
    "outgoing.folding",
    "outgoing.after_claim",
    "outgoing.after_start_mark",
    "outgoing.after_dot",
    "outgoing.after_reply",
    "act.after_server_write",
    "secrets.after_key_file",
];

/// Marks crash point `name` (one of [`POINTS`]); see the module doc.
#[inline]
pub fn point(name: &str) {
    #[cfg(debug_assertions)]
    debug_only::point(name);
    #[cfg(not(debug_assertions))]
    let _ = name;
}

#[cfg(debug_assertions)]
mod debug_only {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static SPEC: OnceLock<Option<(String, usize)>> = OnceLock::new();
    static HITS: AtomicUsize = AtomicUsize::new(0);

    pub(super) fn point(name: &str) {
        let spec = SPEC.get_or_init(|| {
            let v = std::env::var("CRMSYNC_TEST_KILL_AT").ok()?;
            let (p, n) = match v.split_once(':') {
                Some((p, n)) => (p.to_string(), n.parse().unwrap_or(1)),
                None => (v, 1),
            };
            Some((p, n.max(1)))
        });
        let Some((wanted, nth)) = spec else { return };
        if wanted != name {
            return;
        }
        if HITS.fetch_add(1, Ordering::SeqCst) + 1 == *nth {
            eprintln!("CRMSYNC_TEST_KILL_AT: killing myself at {name}");
            let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
        }
    }
}
