//! A private Dovecot instance: IMAP, IMAPS, POP3, POP3S, LMTP and an auth
//! listener for Postfix SASL, all on loopback ports picked at run time.
//!
//! Mail helpers (LMTP delivery, reading and preparing mailboxes over IMAP) are
//! in [`crate::dovecot_mail`].

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use nix::unistd::{Gid, Group, Uid, User};

use crate::error::{HarnessError, Result};
use crate::oauth::OAuth2Passdb;
use crate::ports::{LOOPBACK, free_ports, log_shows_port_clash, probe_connect, probe_line};
use crate::process::{ServerProcess, make_dir, running_as_root, server_dir, unique_id, write_file};
use crate::tls::TestCa;

const SERVER: &str = "dovecot";
/// How long Dovecot gets to answer on all its ports.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// Attempts with fresh ports when a port turned out to be taken.
const START_ATTEMPTS: usize = 5;

/// Settings for [`Dovecot::start_with`].
#[derive(Debug, Clone)]
pub struct DovecotOptions {
    /// The mail domain (`user@domain` logs in as `user`). Default `example.test`.
    pub domain: String,
    /// `mail_max_userip_connections` for IMAP and POP3. Default 100 (Dovecot's
    /// own default of 10 is easily hit by parallel sync tests).
    pub max_userip_connections: u32,
    /// Extra lines appended to `dovecot.conf`, for tests that need a setting
    /// the harness does not expose.
    pub extra_config: String,
    /// An `oauth2` passdb for SASL XOAUTH2 and OAUTHBEARER (IMAP, POP3, and
    /// SMTP through Postfix's Dovecot SASL), validating tokens of an
    /// [`crate::OAuthServer`] (see [`crate::OAuthServer::passdb`]). None: the
    /// server offers PLAIN and LOGIN only.
    pub oauth2: Option<OAuth2Passdb>,
}

impl Default for DovecotOptions {
    fn default() -> Self {
        DovecotOptions {
            domain: "example.test".into(),
            max_userip_connections: 100,
            extra_config: String::new(),
            oauth2: None,
        }
    }
}

/// The loopback ports of one Dovecot instance.
#[derive(Debug, Clone, Copy)]
struct Ports {
    imap: u16,
    imaps: u16,
    pop3: u16,
    pop3s: u16,
    lmtp: u16,
    auth: u16,
}

/// Which system user owns the mail files, and who runs Dovecot's internals.
#[derive(Debug, Clone)]
struct Identity {
    mail_user: String,
    mail_uid: u32,
    mail_gid: u32,
    /// Set when not running as root: the current user and group run everything.
    internal_user: Option<(String, String)>,
}

/// A running Dovecot, stopped (process group SIGTERM, then SIGKILL) on drop.
#[derive(Debug)]
pub struct Dovecot {
    process: ServerProcess,
    ports: Ports,
    domain: String,
    ca: TestCa,
    identity: Identity,
    users_dir: PathBuf,
    mail_root: PathBuf,
    dir: tempfile::TempDir,
}

impl Dovecot {
    /// Starts Dovecot with [`DovecotOptions::default`] and waits until every
    /// listener answers.
    pub fn start() -> Result<Dovecot> {
        Dovecot::start_with(DovecotOptions::default())
    }

    /// Starts Dovecot with `options` and waits until every listener answers.
    /// Retries with fresh ports when one turns out to be taken.
    pub fn start_with(options: DovecotOptions) -> Result<Dovecot> {
        let dir = server_dir("crmsync-dovecot-")?;
        let identity = Identity::detect()?;
        let ca = TestCa::generate(dir.path())?;
        let mail_root = dir.path().join("mail");
        make_dir(&mail_root, 0o755)?;
        if running_as_root() {
            std::os::unix::fs::chown(&mail_root, Some(identity.mail_uid), Some(identity.mail_gid))
                .map_err(|e| HarnessError::io(SERVER, "chown mail dir", e))?;
        }
        let users_dir = dir.path().join("users");
        make_dir(&users_dir.join("passdb"), 0o755)?;
        make_dir(&users_dir.join("userdb"), 0o755)?;
        make_dir(&users_dir.join("master"), 0o755)?;
        make_dir(&users_dir, 0o755)?;
        let dict_conf = dir.path().join("dict-auth.conf.ext");
        let dict = format!(
            "uri = fs:posix:prefix={}/\npassword_key = passdb/%n\nuser_key = userdb/%n\nvalue_format = json\n",
            users_dir.display()
        );
        write_file(&dict_conf, dict.as_bytes(), 0o644)?;
        // Master users (SASL PLAIN with an authorization identity): a passdb
        // of its own, looked up by the authentication identity.
        let master = format!(
            "uri = fs:posix:prefix={}/\npassword_key = master/%n\nvalue_format = json\n",
            users_dir.display()
        );
        write_file(&dir.path().join("dict-master.conf.ext"), master.as_bytes(), 0o644)?;
        if let Some(oauth2) = &options.oauth2 {
            write_file(&dir.path().join("oauth2.conf.ext"), oauth2.render().as_bytes(), 0o644)?;
        }
        let conf_path = dir.path().join("dovecot.conf");
        let log = dir.path().join("dovecot.log");
        let id = unique_id();

        let mut attempt = 0;
        loop {
            attempt += 1;
            let [imap, imaps, pop3, pop3s, lmtp, auth] = free_ports::<6>()?;
            let ports = Ports { imap, imaps, pop3, pop3s, lmtp, auth };
            let conf =
                render_config(dir.path(), &ports, &id, &identity, &ca, &options, &mail_root, &dict_conf);
            write_file(&conf_path, conf.as_bytes(), 0o644)?;
            write_file(&log, b"", 0o644)?;
            let mut command = Command::new("dovecot");
            command.arg("-F").arg("-c").arg(&conf_path);
            let mut process = ServerProcess::spawn(SERVER, command, &log, true)?;
            let greeting = format!("crmsync {id} ready");
            let ready = process.wait_ready(READY_TIMEOUT, || probe_all(&ports, &greeting));
            match ready {
                Ok(()) => {
                    return Ok(Dovecot {
                        process,
                        ports,
                        domain: options.domain.clone(),
                        ca,
                        identity,
                        users_dir,
                        mail_root,
                        dir,
                    });
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

    /// The address every listener binds: `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        LOOPBACK
    }

    /// IMAP port (plaintext LOGIN allowed, STARTTLS offered).
    pub fn imap_port(&self) -> u16 {
        self.ports.imap
    }

    /// IMAPS port (implicit TLS, certificate signed by [`Dovecot::ca_pem`]).
    pub fn imaps_port(&self) -> u16 {
        self.ports.imaps
    }

    /// POP3 port (plaintext USER/PASS allowed, STLS offered).
    pub fn pop3_port(&self) -> u16 {
        self.ports.pop3
    }

    /// POP3S port (implicit TLS).
    pub fn pop3s_port(&self) -> u16 {
        self.ports.pop3s
    }

    /// LMTP port (TCP).
    pub fn lmtp_port(&self) -> u16 {
        self.ports.lmtp
    }

    /// Dovecot auth protocol port (Postfix `smtpd_sasl_path = inet:...`).
    pub fn auth_port(&self) -> u16 {
        self.ports.auth
    }

    /// The mail domain, e.g. `example.test`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// `local@domain`.
    pub fn address(&self, local: &str) -> String {
        format!("{local}@{}", self.domain)
    }

    /// The per-run CA certificate (PEM) that signed the server certificate.
    pub fn ca_pem(&self) -> &str {
        self.ca.ca_pem()
    }

    /// Path of the CA certificate file (PEM).
    pub fn ca_path(&self) -> &Path {
        self.ca.ca_path()
    }

    /// The CA and the server certificate/key files (shared with Postfix).
    pub fn tls(&self) -> &TestCa {
        &self.ca
    }

    /// A rustls client configuration that trusts only the harness CA.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>> {
        self.ca.client_config()
    }

    /// PID of the Dovecot master (also its process group id).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The Dovecot log file.
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// The last `lines` lines of the Dovecot log.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }

    /// The instance's temporary directory (config, log, mail).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Adds a user (or replaces its password). `local` is lower-cased, since
    /// logins are normalised with `%Ln`; any password characters work.
    pub fn add_user(&self, local: &str, password: &str) -> Result<()> {
        let local = validate_local(local)?;
        // userdb first, so the user is complete once its password exists.
        write_file(&self.users_dir.join("userdb").join(&local), b"{}\n", 0o644)?;
        self.write_password(&local, password)
    }

    /// Changes a user's password; the very next login must use the new one.
    pub fn set_password(&self, local: &str, new_password: &str) -> Result<()> {
        let local = validate_local(local)?;
        if !self.users_dir.join("passdb").join(&local).exists() {
            return Err(HarnessError::Invalid { server: SERVER, detail: format!("no user {local:?}") });
        }
        self.write_password(&local, new_password)
    }

    /// Removes a user: logins fail and LMTP rejects its address; its mail stays
    /// on disk.
    pub fn remove_user(&self, local: &str) -> Result<()> {
        let local = validate_local(local)?;
        for db in ["passdb", "userdb"] {
            let path = self.users_dir.join(db).join(&local);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(HarnessError::io(SERVER, format!("remove {}", path.display()), e)),
            }
        }
        Ok(())
    }

    /// Adds a master user: it logs in with SASL PLAIN as itself (the
    /// authentication identity) on behalf of any existing user named as the
    /// authorization identity (RFC 4616), and then works in that user's
    /// mailbox. It is not a mailbox of its own.
    pub fn add_master_user(&self, local: &str, password: &str) -> Result<()> {
        let local = validate_local(local)?;
        let json = format!("{{\"password\":\"{{PLAIN.b64}}{}\"}}\n", B64.encode(password));
        write_file(&self.users_dir.join("master").join(local), json.as_bytes(), 0o644)
    }

    /// Users live in one small JSON file per user read through Dovecot's
    /// `dict` passdb/userdb with the `fs:posix` driver, which reads the file on
    /// every lookup. (A passwd-file is re-checked at most once a second, so a
    /// password changed right after a login would go unseen.)
    fn write_password(&self, local: &str, password: &str) -> Result<()> {
        let json = format!("{{\"password\":\"{{PLAIN.b64}}{}\"}}\n", B64.encode(password));
        write_file(&self.users_dir.join("passdb").join(local), json.as_bytes(), 0o644)
    }

    /// The Maildir directory of `local`'s `folder` (`INBOX` or a folder name
    /// with `/` as hierarchy separator).
    pub fn mailbox_dir(&self, local: &str, folder: &str) -> PathBuf {
        let maildir = self.mail_root.join(local.to_ascii_lowercase()).join("Maildir");
        if folder.eq_ignore_ascii_case("INBOX") {
            maildir
        } else {
            maildir.join(format!(".{}", folder.replace('/', ".")))
        }
    }

    /// Forces a new UIDVALIDITY for `local`'s `folder` while keeping its
    /// messages: deletes the folder's `dovecot-uidlist` and index files (and
    /// the mailbox list index), so Dovecot rebuilds them, numbering the same
    /// messages from UID 1 under a UIDVALIDITY greater than any it handed out
    /// before. Call it while no session has the folder selected.
    pub fn reset_uidvalidity(&self, local: &str, folder: &str) -> Result<()> {
        let dir = self.mailbox_dir(local, folder);
        let maildir = self.mailbox_dir(local, "INBOX");
        let mut removed = 0;
        for (d, prefixes) in
            [(&dir, &["dovecot-uidlist", "dovecot.index"][..]), (&maildir, &["dovecot.list.index"][..])]
        {
            let entries =
                fs::read_dir(d).map_err(|e| HarnessError::io(SERVER, format!("read {}", d.display()), e))?;
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if prefixes.iter().any(|p| name.starts_with(p)) {
                    fs::remove_file(entry.path())
                        .map_err(|e| HarnessError::io(SERVER, format!("remove {name}"), e))?;
                    removed += 1;
                }
            }
        }
        if removed == 0 {
            return Err(HarnessError::Invalid {
                server: SERVER,
                detail: format!("{folder:?} of {local:?} has no Dovecot index yet (open it over IMAP first)"),
            });
        }
        Ok(())
    }

    /// The system user that owns the mail files (`mail` when running as root).
    pub fn mail_user(&self) -> &str {
        &self.identity.mail_user
    }
}

/// Probes every listener once; the greeting must carry this instance's id so
/// that a clash with another server on the same port cannot pass.
fn probe_all(ports: &Ports, greeting: &str) -> std::result::Result<(), String> {
    let t = Duration::from_secs(2);
    let imap = probe_line(ports.imap, None, t)?;
    if !(imap.starts_with("* OK") && imap.contains(greeting)) {
        return Err(format!("IMAP greeting {imap:?} is not ours"));
    }
    let pop3 = probe_line(ports.pop3, None, t)?;
    if !(pop3.starts_with("+OK") && pop3.contains(greeting)) {
        return Err(format!("POP3 greeting {pop3:?} is not ours"));
    }
    let lmtp = probe_line(ports.lmtp, None, t)?;
    if !lmtp.starts_with("220") {
        return Err(format!("LMTP greeting {lmtp:?}"));
    }
    let auth = probe_line(ports.auth, Some(b"VERSION\t1\t2\n"), t)?;
    if !auth.starts_with("VERSION") {
        return Err(format!("auth handshake {auth:?}"));
    }
    probe_connect(ports.imaps, t)?;
    probe_connect(ports.pop3s, t)
}

impl Identity {
    fn detect() -> Result<Identity> {
        if running_as_root() {
            let user = User::from_name("mail").ok().flatten().ok_or_else(|| HarnessError::Unsupported {
                server: SERVER,
                detail: "no `mail` system user to own the mail files".into(),
            })?;
            Ok(Identity {
                mail_user: user.name,
                mail_uid: user.uid.as_raw(),
                mail_gid: user.gid.as_raw(),
                internal_user: None,
            })
        } else {
            let uid = Uid::current();
            let name = User::from_uid(uid).ok().flatten().map(|u| u.name).unwrap_or_else(|| uid.to_string());
            let gid = Gid::current();
            let group =
                Group::from_gid(gid).ok().flatten().map(|g| g.name).unwrap_or_else(|| gid.to_string());
            Ok(Identity {
                mail_user: name.clone(),
                mail_uid: uid.as_raw(),
                mail_gid: gid.as_raw(),
                internal_user: Some((name, group)),
            })
        }
    }
}

/// Local parts: letters, digits and `._+-`, lower-cased.
fn validate_local(local: &str) -> Result<String> {
    let ok = !local.is_empty()
        && local.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'));
    if ok {
        Ok(local.to_ascii_lowercase())
    } else {
        Err(HarnessError::Invalid {
            server: SERVER,
            detail: format!("user name {local:?} must be ASCII letters, digits or ._+-"),
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn render_config(
    dir: &Path,
    ports: &Ports,
    id: &str,
    identity: &Identity,
    ca: &TestCa,
    options: &DovecotOptions,
    mail_root: &Path,
    dict_conf: &Path,
) -> String {
    let d = dir.display();
    let mail = mail_root.display();
    let dict_conf = dict_conf.display();
    let cert = ca.cert_path().display();
    let key = ca.key_path().display();
    let uid = identity.mail_uid;
    let gid = identity.mail_gid;
    let internal = match &identity.internal_user {
        Some((user, group)) => format!(
            "default_internal_user = {user}\ndefault_internal_group = {group}\ndefault_login_user = {user}\n"
        ),
        None => String::new(),
    };
    let max_conn = options.max_userip_connections;
    let extra = &options.extra_config;
    let (oauth_mechs, oauth_passdb) = match &options.oauth2 {
        Some(o) => (
            format!(" {}", o.mechanisms),
            format!(
                "passdb {{\n  driver = oauth2\n  mechanisms = {}\n  args = {d}/oauth2.conf.ext\n}}\n",
                o.mechanisms
            ),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        r#"# Generated by the crmsync test harness.
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
instance_name = crmsync-{id}
protocols = imap pop3 lmtp
listen = 127.0.0.1
login_greeting = crmsync {id} ready
{internal}ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login{oauth_mechs}
auth_username_format = %Ln
auth_cache_size = 0
auth_failure_delay = 0
auth_verbose = yes
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
mail_location = maildir:{mail}/%n/Maildir
mail_fsync = never
mail_max_userip_connections = {max_conn}
lmtp_add_received_header = no
lmtp_hdr_delivery_address = none
passdb {{
  driver = dict
  args = {d}/dict-master.conf.ext
  master = yes
  pass = yes
}}
passdb {{
  driver = dict
  args = {dict_conf}
  mechanisms = plain login
}}
{oauth_passdb}
userdb {{
  driver = dict
  args = {dict_conf}
  default_fields = uid={uid} gid={gid} home={mail}/%n
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \Drafts
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \Trash
    auto = subscribe
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
service anvil {{
  chroot =
  # No auth penalty: failed-login tests would wait up to 15 s otherwise.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  inet_listener auth-inet {{
    address = 127.0.0.1
    port = {auth}
  }}
}}
{extra}
"#,
        imap = ports.imap,
        imaps = ports.imaps,
        pop3 = ports.pop3,
        pop3s = ports.pop3s,
        lmtp = ports.lmtp,
        auth = ports.auth,
    )
}
