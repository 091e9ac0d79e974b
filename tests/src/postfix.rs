//! A private Postfix instance relaying the Dovecot domain into Dovecot's LMTP.
//!
//! Its own `main.cf`/`master.cf` live in a temp dir; `postfix -c DIR check`
//! creates the queue; then the harness runs `master -c DIR -s` itself, in the
//! foreground (the master calls `setsid`, so it leads its own process group
//! and `Drop` stops the whole instance by PID). Logging goes through postlogd
//! to a file, so no syslog is needed. Postfix needs root.
//!
//! Ports:
//! - [`Postfix::smtp_port`]: AUTH PLAIN/LOGIN through Dovecot, STARTTLS
//!   offered; every recipient needs AUTH (a submission port).
//! - [`Postfix::submission_port`]: like `smtp_port` but AUTH only after STARTTLS.
//! - [`Postfix::smtps_port`]: like `smtp_port` with implicit TLS.
//! - [`Postfix::smtp_open_port`]: no AUTH; trusts loopback (`mynetworks`).
//!
//! Recipients in the Dovecot domain go to Dovecot over LMTP; any other domain
//! is accepted and discarded. On every port, a local part starting with
//! `reject` gets `550 5.1.1 ... rejected by test policy` and one starting with
//! `tempfail` gets `451 4.3.0 ... temporarily rejected by test policy`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::dovecot::Dovecot;
use crate::error::{HarnessError, Result};
use crate::ports::{LOOPBACK, free_ports, log_shows_port_clash, probe_connect, probe_line};
use crate::process::{
    ServerProcess, make_dir, run_command, running_as_root, server_dir, unique_id, write_file,
};

const SERVER: &str = "postfix";
const MASTER: &str = "/usr/lib/postfix/sbin/master";
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 5;
/// Queue directories that hold messages not yet delivered.
const QUEUES: [&str; 5] = ["maildrop", "incoming", "active", "deferred", "hold"];

/// Settings for [`Postfix::start_with`].
#[derive(Debug, Clone, Default)]
pub struct PostfixOptions {
    /// Extra lines appended to `main.cf`.
    pub extra_main_cf: String,
}

#[derive(Debug, Clone, Copy)]
struct Ports {
    smtp: u16,
    submission: u16,
    smtps: u16,
    open: u16,
}

/// A running Postfix instance, stopped on drop.
#[derive(Debug)]
pub struct Postfix {
    process: ServerProcess,
    ports: Ports,
    queue_dir: PathBuf,
    dir: tempfile::TempDir,
}

impl Postfix {
    /// Starts Postfix relaying `dovecot`'s domain to its LMTP port and
    /// authenticating through its auth port; waits until every port answers.
    pub fn start(dovecot: &Dovecot) -> Result<Postfix> {
        Postfix::start_with(dovecot, PostfixOptions::default())
    }

    /// [`Postfix::start`] with extra `main.cf` settings.
    pub fn start_with(dovecot: &Dovecot, options: PostfixOptions) -> Result<Postfix> {
        if !running_as_root() {
            return Err(HarnessError::Unsupported {
                server: SERVER,
                detail: "a Postfix instance must be started as root".into(),
            });
        }
        let dir = server_dir("crmsync-postfix-")?;
        let etc = dir.path().join("etc");
        let queue_dir = dir.path().join("queue");
        make_dir(&etc, 0o755)?;
        make_dir(&queue_dir, 0o755)?;
        // Own copies of the certificate, so Postfix does not depend on the
        // Dovecot temp dir outliving it.
        let tls = dovecot.tls();
        let cert = etc.join("server.crt");
        let key = etc.join("server.key");
        copy(tls.cert_path(), &cert, 0o644)?;
        copy(tls.key_path(), &key, 0o600)?;
        let access = etc.join("recipient_access");
        write_file(
            &access,
            b"/^reject[^@]*@/ 550 5.1.1 rejected by test policy\n\
              /^tempfail[^@]*@/ 451 4.3.0 temporarily rejected by test policy\n",
            0o644,
        )?;
        let log = dir.path().join("postfix.log");
        let id = unique_id();

        let mut attempt = 0;
        loop {
            attempt += 1;
            let [smtp, submission, smtps, open] = free_ports::<4>()?;
            let ports = Ports { smtp, submission, smtps, open };
            let banner = format!("crmsync-postfix-{id}-{smtp}");
            let main = render_main_cf(dir.path(), dovecot, &banner, &cert, &key, &options);
            let master = render_master_cf(&ports, &access);
            write_file(&etc.join("main.cf"), main.as_bytes(), 0o644)?;
            write_file(&etc.join("master.cf"), master.as_bytes(), 0o644)?;
            write_file(&log, b"", 0o644)?;

            let mut check = Command::new("postfix");
            check.arg("-c").arg(&etc).arg("check");
            if let Err(e) = run_command(SERVER, check) {
                return Err(HarnessError::Start {
                    server: SERVER,
                    detail: format!("{e} (Postfix prints errors only to a terminal; see the log)"),
                    log: log.clone(),
                    log_tail: crate::process::log_tail(&log, 40),
                });
            }
            let mut command = Command::new(MASTER);
            command.arg("-c").arg(&etc).arg("-s");
            let mut process = ServerProcess::spawn(SERVER, command, &log, false)?;
            let ready = process.wait_ready(READY_TIMEOUT, || probe_all(&ports, &banner));
            match ready {
                Ok(()) => {
                    return Ok(Postfix { process, ports, queue_dir, dir });
                }
                Err(e) => {
                    let clash = log_shows_port_clash(&process.log_tail(200));
                    process.stop();
                    if !(clash && attempt < START_ATTEMPTS) {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// The address every port binds: `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        LOOPBACK
    }

    /// SMTP with AUTH (PLAIN, LOGIN) and optional STARTTLS; unauthenticated
    /// clients get `554 5.7.1 ... Access denied` at RCPT.
    pub fn smtp_port(&self) -> u16 {
        self.ports.smtp
    }

    /// Submission: STARTTLS required, AUTH offered only after it.
    pub fn submission_port(&self) -> u16 {
        self.ports.submission
    }

    /// SMTPS: implicit TLS, then AUTH as on [`Postfix::smtp_port`].
    pub fn smtps_port(&self) -> u16 {
        self.ports.smtps
    }

    /// SMTP without AUTH that relays for loopback clients (`mynetworks`).
    pub fn smtp_open_port(&self) -> u16 {
        self.ports.open
    }

    /// PID of the Postfix master (also its process group id).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The Postfix log file (written by postlogd).
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// The last `lines` lines of the Postfix log.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }

    /// The instance's temporary directory (`etc/`, `queue/`, `data/`, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Number of messages not yet delivered (maildrop, incoming, active,
    /// deferred and hold queues), counted on disk.
    pub fn queued_messages(&self) -> usize {
        QUEUES.iter().map(|q| count_files(&self.queue_dir.join(q))).sum()
    }

    /// Number of messages in the deferred queue (temporary delivery failures).
    pub fn deferred_messages(&self) -> usize {
        count_files(&self.queue_dir.join("deferred"))
    }

    /// Waits until every accepted message has left the queue (delivered,
    /// discarded or bounced); fails after `timeout` with the queue counts and
    /// the log tail.
    pub async fn wait_until_delivered(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let queued = self.queued_messages();
            if queued == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::Timeout {
                    server: SERVER,
                    what: format!(
                        "an empty queue ({queued} queued, {} deferred); postfix log:\n{}",
                        self.deferred_messages(),
                        self.log_tail(20)
                    ),
                    timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn probe_all(ports: &Ports, banner: &str) -> std::result::Result<(), String> {
    let t = Duration::from_secs(2);
    for port in [ports.smtp, ports.submission, ports.open] {
        let line = probe_line(port, None, t)?;
        if !(line.starts_with("220") && line.contains(banner)) {
            return Err(format!("SMTP banner {line:?} on port {port} is not ours"));
        }
    }
    probe_connect(ports.smtps, t)
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => count_files(&e.path()),
            Ok(_) => 1,
            Err(_) => 0,
        })
        .sum()
}

fn copy(from: &Path, to: &Path, mode: u32) -> Result<()> {
    let bytes =
        fs::read(from).map_err(|e| HarnessError::io(SERVER, format!("read {}", from.display()), e))?;
    write_file(to, &bytes, mode)
}

fn render_main_cf(
    dir: &Path,
    dovecot: &Dovecot,
    banner: &str,
    cert: &Path,
    key: &Path,
    options: &PostfixOptions,
) -> String {
    let d = dir.display();
    let domain = dovecot.domain();
    let lmtp = dovecot.lmtp_port();
    let auth = dovecot.auth_port();
    let cert = cert.display();
    let key = key.display();
    let extra = &options.extra_main_cf;
    format!(
        r#"# Generated by the crmsync test harness.
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.crmsync-harness.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains = {domain}
relay_recipient_maps =
transport_maps = inline:{{ {domain}=lmtp:inet:127.0.0.1:{lmtp} }}
default_transport = discard:delivered nowhere by the crmsync test harness
mynetworks = 127.0.0.0/8
maillog_file = {d}/postfix.log
maillog_file_prefixes = {d}
smtpd_banner = $myhostname ESMTP {banner}
biff = no
smtpd_error_sleep_time = 0
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 10s
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:{auth}
smtpd_sasl_auth_enable = yes
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access regexp:{d}/etc/recipient_access, permit_sasl_authenticated, reject
{extra}
"#
    )
}

fn render_master_cf(ports: &Ports, access: &Path) -> String {
    let access = access.display();
    let open_rcpt = format!("check_recipient_access,regexp:{access},permit_mynetworks,reject");
    format!(
        r#"# Generated by the crmsync test harness. No chroot anywhere.
127.0.0.1:{smtp} inet n - n - - smtpd
127.0.0.1:{submission} inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
127.0.0.1:{smtps} inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
127.0.0.1:{open} inet n - n - - smtpd
  -o smtpd_sasl_auth_enable=no
  -o smtpd_relay_restrictions=permit_mynetworks,reject_unauth_destination
  -o smtpd_recipient_restrictions={open_rcpt}
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"#,
        smtp = ports.smtp,
        submission = ports.submission,
        smtps = ports.smtps,
        open = ports.open,
    )
}
