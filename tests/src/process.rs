//! Server processes owned by a test: spawned as children, stopped by PID.
//!
//! Every server runs in a process group of its own (either because the harness
//! spawns it with `process_group(0)`, or because it calls `setsid` itself, as
//! Postfix's master does). Stopping sends SIGTERM to that group, waits up to
//! three seconds for the leader, then sends SIGKILL to the group, so worker
//! processes cannot be left behind. [`ServerProcess`] does this in `Drop`, which
//! also runs while a panicking test unwinds.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

use crate::error::{HarnessError, Result};

/// How long a stopped server gets to exit after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// A server process started by the harness, stopped when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    name: &'static str,
    child: Child,
    log: PathBuf,
    reaped: Option<ExitStatus>,
}

impl ServerProcess {
    /// Spawns `command` with stdin closed and stdout/stderr appended to `log`.
    ///
    /// With `own_group`, the child is put in a new process group (use this for
    /// every server that does not call `setsid` itself).
    pub fn spawn(name: &'static str, mut command: Command, log: &Path, own_group: bool) -> Result<Self> {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| HarnessError::io(name, format!("open log {}", log.display()), e))?;
        let err = out.try_clone().map_err(|e| HarnessError::io(name, "clone log handle", e))?;
        command.stdin(Stdio::null()).stdout(Stdio::from(out)).stderr(Stdio::from(err));
        if own_group {
            command.process_group(0);
        }
        become_subreaper();
        let child = command.spawn().map_err(|e| HarnessError::io(name, format!("spawn {command:?}"), e))?;
        Ok(ServerProcess { name, child, log: log.to_path_buf(), reaped: None })
    }

    /// The PID of the server's main process (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The file the server's output goes to.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The exit status if the process has exited, without blocking.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.reaped.is_none() {
            self.reaped = self.child.try_wait().ok().flatten();
        }
        self.reaped
    }

    /// The last `lines` lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }

    /// Builds a start-up error for this server, including its log tail.
    pub fn start_error(&self, detail: impl Into<String>) -> HarnessError {
        HarnessError::Start {
            server: self.name,
            detail: detail.into(),
            log: self.log.clone(),
            log_tail: self.log_tail(40),
        }
    }

    /// Waits until `probe` succeeds, failing early when the process exits and
    /// after `timeout` otherwise; errors carry the probe's last complaint and
    /// the tail of the server's log.
    pub fn wait_ready(
        &mut self,
        timeout: Duration,
        mut probe: impl FnMut() -> std::result::Result<(), String>,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("no probe made");
        loop {
            if let Some(status) = self.exit_status() {
                return Err(
                    self.start_error(format!("exited during start-up ({status}); last probe: {last}"))
                );
            }
            match probe() {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            if Instant::now() >= deadline {
                return Err(self.start_error(format!("not ready after {timeout:?}; last probe: {last}")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server: SIGTERM to its process group, up to [`STOP_GRACE`] to
    /// exit, then SIGKILL to the group. Idempotent.
    pub fn stop(&mut self) {
        let pid = Pid::from_raw(self.child.id() as i32);
        if self.exit_status().is_none() {
            signal_group(pid, Signal::SIGTERM);
            let deadline = Instant::now() + STOP_GRACE;
            while self.exit_status().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if self.reaped.is_none() {
                eprintln!(
                    "harness: {} (pid {pid}) still running {STOP_GRACE:?} after SIGTERM; sending SIGKILL",
                    self.name
                );
            }
        }
        // Sweep whatever is left in the group (workers of a master that exited
        // or was too slow), then reap the leader.
        signal_group(pid, Signal::SIGKILL);
        if self.reaped.is_none() {
            self.reaped = self.child.wait().ok();
        }
        reap_orphans(self.child.id());
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Makes this process the "child subreaper" of everything it starts, so
/// workers orphaned when a server's master exits (Postfix's master does not
/// wait for its children) are re-parented to us and can be reaped by
/// [`reap_orphans`], instead of going to an init that may never reap them
/// (PID 1 in this project's VMs does not).
fn become_subreaper() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = nix::sys::prctl::set_child_subreaper(true);
    });
}

/// Reaps the members of process group `pgid` that were re-parented to this
/// process, waiting up to two seconds for the group to empty.
fn reap_orphans(pgid: u32) {
    let me = std::process::id();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let members = group_entries(pgid);
        for m in members.iter().filter(|m| m.ppid == me) {
            let _ = waitpid(Pid::from_raw(m.pid as i32), Some(WaitPidFlag::WNOHANG));
        }
        let stuck = members.iter().all(|m| m.ppid != me && m.state == 'Z');
        if members.is_empty() || stuck || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `signal` to process group `pgid`; if no such group exists yet (a
/// server that has not called `setsid` yet), to the process itself.
fn signal_group(pgid: Pid, signal: Signal) {
    if killpg(pgid, signal) == Err(Errno::ESRCH) {
        let _ = kill(pgid, signal);
    }
}

/// The last `lines` lines of a text file (at most its last 64 KiB), or a note
/// saying why there is nothing to show.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return format!("(no log: {e})"),
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(64 * 1024);
    let _ = file.seek(SeekFrom::Start(start));
    let mut buf = Vec::new();
    let _ = file.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    if tail.trim().is_empty() { "(log is empty)".to_string() } else { tail }
}

/// True when the current process runs as root.
pub fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Creates a fresh temporary directory for a server, readable and traversable
/// by other users (the unprivileged users the servers switch to), and makes
/// sure every parent directory can be traversed by them too.
pub fn server_dir(prefix: &str) -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| HarnessError::io("harness", "create temp dir", e))?;
    set_mode(dir.path(), 0o755)?;
    if running_as_root() {
        make_parents_traversable(dir.path())?;
    }
    Ok(dir)
}

/// Adds the "others may traverse" bit to every ancestor of `path` lacking it.
fn make_parents_traversable(path: &Path) -> Result<()> {
    for parent in path.ancestors().skip(1) {
        let meta = match fs::metadata(parent) {
            Ok(m) => m,
            Err(_) => continue,
        };
        let mode = meta.permissions().mode();
        if mode & 0o001 == 0 {
            set_mode(parent, (mode & 0o7777) | 0o001)?;
        }
    }
    Ok(())
}

/// Sets the permission bits of `path`.
pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| HarnessError::io("harness", format!("chmod {}", path.display()), e))
}

/// Writes `contents` to `path` atomically (temporary file + rename) with `mode`.
pub fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let tmp = path.with_extension("harness-tmp");
    fs::write(&tmp, contents)
        .map_err(|e| HarnessError::io("harness", format!("write {}", tmp.display()), e))?;
    set_mode(&tmp, mode)?;
    fs::rename(&tmp, path)
        .map_err(|e| HarnessError::io("harness", format!("rename to {}", path.display()), e))
}

/// Creates a directory (and its parents) with `mode`.
pub fn make_dir(path: &Path, mode: u32) -> Result<()> {
    fs::create_dir_all(path)
        .map_err(|e| HarnessError::io("harness", format!("mkdir {}", path.display()), e))?;
    set_mode(path, mode)
}

/// Runs a short command to completion and returns its combined output, or a
/// [`HarnessError::Command`] naming it when it fails.
pub fn run_command(server: &'static str, mut command: Command) -> Result<String> {
    let shown = format!("{command:?}");
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| HarnessError::io(server, format!("run {shown}"), e))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(text)
    } else {
        Err(HarnessError::Command {
            server,
            command: shown,
            detail: format!("{}: {}", out.status, text.trim()),
        })
    }
}

/// PIDs of all live processes whose process group is `pgid` (Linux `/proc`).
pub fn process_group_members(pgid: u32) -> Vec<u32> {
    group_entries(pgid).into_iter().filter(|e| !matches!(e.state, 'Z' | 'X' | 'x')).map(|e| e.pid).collect()
}

/// True when `pid` names a running (not zombie, not dead) process.
pub fn pid_is_alive(pid: u32) -> bool {
    match proc_stat(pid) {
        Some(e) => !matches!(e.state, 'Z' | 'X' | 'x'),
        None => false,
    }
}

/// True when `pid` names any process, zombies included.
pub fn pid_exists(pid: u32) -> bool {
    proc_stat(pid).is_some()
}

/// One process as `/proc/PID/stat` describes it.
#[derive(Debug, Clone, Copy)]
struct ProcEntry {
    pid: u32,
    state: char,
    ppid: u32,
    pgrp: u32,
}

/// Every process (zombies included) in process group `pgid`.
fn group_entries(pgid: u32) -> Vec<ProcEntry> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter_map(proc_stat)
        .filter(|e| e.pgrp == pgid)
        .collect()
}

/// State, parent and process group of `pid`, from `/proc/PID/stat`.
fn proc_stat(pid: u32) -> Option<ProcEntry> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(ProcEntry { pid, state, ppid, pgrp })
}

/// A short id unique to this process and call, used in greetings and banners
/// so a readiness probe can tell our server from another one on the same port.
pub fn unique_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Polls `check` every 50 ms until it returns `Some` or `timeout` passes.
pub fn poll_until<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
