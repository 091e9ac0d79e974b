//! Command-line definitions (clap). Values are taken as text and validated by
//! the engine's admin API, so the CLI and the desktop window report the same
//! field-naming errors.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod act;

pub use act::{AppointmentArgs, AppointmentCmd, ContactArgs, ContactCmd, TaskArgs, TaskCmd};

/// crmsync — server-side synchronization between your CRM and your mail servers.
#[derive(Debug, Parser)]
#[command(name = "crmsync", version, about, propagate_version = true)]
pub struct Cli {
    /// The CRM store (default: $CRMSYNC_DB, else the platform data dir's crmsync/crmsync.db).
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output on stderr (-v info, -vv debug); CRMSYNC_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the store, or upgrade it to this version (every command does this too).
    Init,
    /// Email server profiles.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// CRM users (mailbox owners).
    #[command(subcommand)]
    User(PrincipalCmd),
    /// Queues (shared mailboxes).
    #[command(subcommand)]
    Queue(PrincipalCmd),
    /// Contacts.
    #[command(subcommand)]
    Contact(ContactCmd),
    /// Appointments (synced with CalDAV calendars).
    #[command(subcommand)]
    Appointment(AppointmentCmd),
    /// Tasks (synced with CalDAV task lists).
    #[command(subcommand)]
    Task(TaskCmd),
    /// Accounts.
    #[command(subcommand)]
    Account(RecordCmd),
    /// Leads.
    #[command(subcommand)]
    Lead(RecordCmd),
    /// Mailboxes.
    #[command(subcommand)]
    Mailbox(MailboxCmd),
    /// Organization settings.
    #[command(subcommand)]
    Settings(SettingsCmd),
    /// CRM activities (emails, appointments, tasks).
    #[command(subcommand)]
    Activity(ActivityCmd),
    /// Alerts: what failed and what to do about it.
    #[command(subcommand)]
    Alert(AlertCmd),
    /// Outgoing email: create, submit drafts, cancel.
    #[command(subcommand)]
    Email(EmailCmd),
    /// Run one processing cycle over the enabled mailboxes (incoming mail, then
    /// outgoing mail that is due), then exit.
    Sync {
        /// Only this mailbox.
        #[arg(long, value_name = "EMAIL")]
        mailbox: Option<String>,
    },
    /// Import the configuration of another system.
    #[command(subcommand)]
    Migrate(MigrateCmd),
    /// Run the sync service (incoming, outgoing, ACT, recovery) until SIGINT or
    /// SIGTERM; only one service or desktop app may process a store at a time.
    Run {
        /// Log format on stderr: human or json.
        #[arg(long, value_name = "FORMAT", default_value = "human")]
        log_format: String,
        /// Seconds without a heartbeat after which a crashed service's lease is taken over.
        #[arg(long, value_name = "SECONDS")]
        lease_timeout: Option<String>,
    },
    /// Mailbox health counts, queue depths and the running service, if any.
    Status,
}

/// `crmsync activity ...`
#[derive(Debug, Subcommand)]
pub enum ActivityCmd {
    /// List activities, newest first.
    List {
        /// email, appointment or task.
        #[arg(long = "type", value_name = "TYPE")]
        activity_type: Option<String>,
        /// Only those received by or sent from this mailbox.
        #[arg(long, value_name = "EMAIL")]
        mailbox: Option<String>,
        /// Only those regarding this record, e.g. account:Contoso.
        #[arg(long, value_name = "TYPE:KEY")]
        regarding: Option<String>,
        /// At most N.
        #[arg(long, value_name = "N")]
        limit: Option<String>,
    },
    /// Show one activity with its parties, attachments and status.
    Show {
        /// Activity id.
        id: String,
    },
}

/// `crmsync email ...`
#[derive(Debug, Subcommand)]
pub enum EmailCmd {
    /// Create an outgoing email in Pending Send (or Draft); `crmsync sync` sends it.
    Send(Box<EmailSendArgs>),
    /// Move a draft (or a failed email) to Pending Send.
    Submit {
        /// Activity id.
        id: String,
    },
    /// Cancel an email that is not sent yet (draft, pending or failed).
    Cancel {
        /// Activity id.
        id: String,
    },
}

/// `crmsync email send` options.
#[derive(Debug, Args)]
pub struct EmailSendArgs {
    /// The sending user's or queue's address: its mailbox sends the email.
    #[arg(long, value_name = "EMAIL")]
    pub from: String,
    /// Recipients, comma separated (repeatable); `Name <addr>` is accepted.
    #[arg(long, value_name = "ADDR[,ADDR...]")]
    pub to: Vec<String>,
    /// Cc recipients.
    #[arg(long, value_name = "ADDR[,ADDR...]")]
    pub cc: Vec<String>,
    /// Bcc recipients (on the envelope only).
    #[arg(long, value_name = "ADDR[,ADDR...]")]
    pub bcc: Vec<String>,
    /// Subject (the tracking token is appended when sent).
    #[arg(long)]
    pub subject: String,
    /// Plain-text body.
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the plain-text body from this UTF-8 file.
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// HTML alternative from this UTF-8 file.
    #[arg(long, value_name = "FILE")]
    pub html_file: Option<PathBuf>,
    /// Attach this file (repeatable).
    #[arg(long, value_name = "FILE")]
    pub attach: Vec<PathBuf>,
    /// The record it regards, e.g. account:Contoso.
    #[arg(long, value_name = "TYPE:KEY")]
    pub regarding: Option<String>,
    /// Reply to this email activity (threading headers and its regarding record).
    #[arg(long, value_name = "ACTIVITY_ID")]
    pub in_reply_to: Option<String>,
    /// Send no earlier than this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub send_at: Option<String>,
    /// Keep it as a draft until `crmsync email submit`.
    #[arg(long)]
    pub draft: bool,
}

/// `crmsync alert ...`
#[derive(Debug, Subcommand)]
pub enum AlertCmd {
    /// List unacknowledged alerts, newest first.
    List {
        /// Only this mailbox.
        #[arg(long, value_name = "EMAIL")]
        mailbox: Option<String>,
        /// Only this profile and its mailboxes.
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
        /// error, warning or info.
        #[arg(long)]
        severity: Option<String>,
        /// Include acknowledged alerts.
        #[arg(long)]
        all: bool,
    },
    /// Acknowledge one alert, or all with --all.
    Ack {
        /// Alert id.
        #[arg(required_unless_present = "all")]
        id: Option<String>,
        /// Acknowledge every alert.
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

/// Password options shared by profiles and mailboxes.
#[derive(Debug, Args, Default)]
pub struct PasswordArgs {
    /// Read the password from the first line of standard input.
    #[arg(long, conflicts_with = "password_env")]
    pub password_stdin: bool,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
}

/// Profile options (all optional on update).
#[derive(Debug, Args, Default)]
pub struct ProfileArgs {
    /// imap-smtp, pop3-smtp, exchange or microsoft365 (Microsoft Graph, OAuth2 only).
    #[arg(long)]
    pub kind: Option<String>,
    /// IMAP or POP3 server host.
    #[arg(long, value_name = "H")]
    pub incoming_host: Option<String>,
    /// Incoming port (default by kind and security).
    #[arg(long, value_name = "P")]
    pub incoming_port: Option<String>,
    /// tls, starttls or none.
    #[arg(long, value_name = "S")]
    pub incoming_security: Option<String>,
    /// SMTP server host (default: the incoming host).
    #[arg(long, value_name = "H")]
    pub outgoing_host: Option<String>,
    /// Outgoing port (default by security: 465, 587, 25).
    #[arg(long, value_name = "P")]
    pub outgoing_port: Option<String>,
    /// tls, starttls or none.
    #[arg(long, value_name = "S")]
    pub outgoing_security: Option<String>,
    /// Exchange Web Services URL (exchange profiles).
    #[arg(long, value_name = "URL")]
    pub ews_url: Option<String>,
    /// Microsoft Graph service root (microsoft365 profiles; default
    /// https://graph.microsoft.com/v1.0).
    #[arg(long, value_name = "URL")]
    pub graph_url: Option<String>,
    /// CalDAV/CardDAV URL for appointments, contacts and tasks.
    #[arg(long, value_name = "URL")]
    pub dav_url: Option<String>,
    /// password or none (a relay that trusts the office network).
    #[arg(long, value_name = "A")]
    pub outgoing_auth: Option<String>,
    /// Whose credentials: mailbox (each its own) or profile (one account for all).
    #[arg(long, value_name = "C")]
    pub credentials: Option<String>,
    /// Profile user name (with --credentials profile).
    #[arg(long, value_name = "U")]
    pub username: Option<String>,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Most concurrent connections to these servers.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<String>,
    /// Least seconds between two polls of a mailbox.
    #[arg(long, value_name = "SECONDS")]
    pub min_poll_interval: Option<String>,
    /// Connect and command timeout in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<String>,
    /// Only process mail received after this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub process_from: Option<String>,
    /// Allow security `none` and http:// URLs (clear-text passwords).
    #[arg(long)]
    pub allow_insecure: bool,
    #[command(flatten)]
    pub oauth: Box<OAuthArgs>,
}

/// OAuth2 options of a profile (see docs/oauth.md).
#[derive(Debug, Args, Default)]
pub struct OAuthArgs {
    /// How mailboxes sign in: password or oauth2.
    #[arg(long, value_name = "A")]
    pub auth: Option<String>,
    /// microsoft or google: fill hosts, ports, security, endpoints and scopes
    /// of that provider (and sign in with OAuth2).
    #[arg(long, value_name = "P")]
    pub preset: Option<String>,
    /// OAuth2 provider: microsoft, google or custom.
    #[arg(long, value_name = "P")]
    pub provider: Option<String>,
    /// The application (client) id the office registered.
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Read the OAuth2 client secret from the first line of standard input.
    #[arg(long, conflicts_with_all = ["client_secret_env", "password_stdin"])]
    pub client_secret_stdin: bool,
    /// Read the OAuth2 client secret from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub client_secret_env: Option<String>,
    /// Microsoft tenant: directory id or domain (default: organizations).
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
    /// Issuer URL (custom provider; the authorize URL defaults to ISSUER/authorize).
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// Authorization endpoint (custom provider).
    #[arg(long, value_name = "URL")]
    pub authorize_url: Option<String>,
    /// Token endpoint (custom provider).
    #[arg(long, value_name = "URL")]
    pub token_url: Option<String>,
    /// Device authorization endpoint (custom provider).
    #[arg(long, value_name = "URL")]
    pub device_url: Option<String>,
    /// Scopes, space or comma separated (default: the provider's).
    #[arg(long, value_name = "SCOPES")]
    pub scopes: Option<String>,
}

/// `crmsync profile ...`
#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Add a profile.
    Add {
        /// Unique profile name.
        name: String,
        #[command(flatten)]
        args: ProfileArgs,
    },
    /// List profiles.
    List,
    /// Show one profile.
    Show {
        /// Profile name.
        name: String,
    },
    /// Change a profile (only the options given).
    Update {
        /// Profile name.
        name: String,
        #[command(flatten)]
        args: ProfileArgs,
        /// Forbid insecure connections again.
        #[arg(long, conflicts_with = "allow_insecure")]
        disallow_insecure: bool,
    },
    /// Remove a profile that no mailbox uses.
    Remove {
        /// Profile name.
        name: String,
    },
    /// Test the connection to each server of a profile (nothing is sent);
    /// with --username and a password, or --mailbox, also log in.
    Test {
        /// Profile name.
        name: String,
        /// Log in as this user (the password comes from --password-stdin or --password-env).
        #[arg(long, value_name = "U")]
        username: Option<String>,
        /// Log in as this mailbox of the profile with its stored sign-in: its
        /// password, or its OAuth2 token (renewed first when about to expire).
        #[arg(long, value_name = "EMAIL", conflicts_with = "username")]
        mailbox: Option<String>,
        #[command(flatten)]
        password: PasswordArgs,
    },
}

/// `crmsync user|queue ...`
#[derive(Debug, Subcommand)]
pub enum PrincipalCmd {
    /// Add one.
    Add {
        /// Email address.
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
    },
    /// List them.
    List,
    /// The activities in a queue (queues only).
    Items {
        /// Queue address.
        email: String,
    },
}

/// `crmsync contact|account|lead ...`
#[derive(Debug, Subcommand)]
pub enum RecordCmd {
    /// Import a CSV file with a header row; all rows or none.
    Import {
        /// The CSV file.
        file: PathBuf,
    },
    /// List them.
    List,
}

/// Mailbox options (all optional on update).
#[derive(Debug, Args, Default)]
pub struct MailboxArgs {
    /// Email server profile name (required on add).
    #[arg(long)]
    pub profile: Option<String>,
    /// Mailbox user name (default: the address).
    #[arg(long, value_name = "U")]
    pub username: Option<String>,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// server-side, forward or none.
    #[arg(long, value_name = "METHOD")]
    pub incoming: Option<String>,
    /// server-side or none.
    #[arg(long, value_name = "METHOD")]
    pub outgoing: Option<String>,
    /// Appointments, contacts and tasks: server-side or none.
    #[arg(long, value_name = "METHOD")]
    pub act: Option<String>,
    /// all, responses, crm-records, email-enabled or none.
    #[arg(long, value_name = "FILTER")]
    pub track: Option<String>,
    /// Only process mail received after this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub process_from: Option<String>,
    /// Delete mail from the server once it is in the CRM (queue and forward mailboxes).
    #[arg(long)]
    pub delete_after_processing: bool,
    /// This mailbox receives other mailboxes' mail as forwarded attachments.
    #[arg(long)]
    pub forward_mailbox: bool,
    /// Track everything in FOLDER and link it to a record, e.g. Customers/Contoso=account:Contoso.
    #[arg(long, value_name = "FOLDER=TYPE:KEY")]
    pub track_folder: Vec<String>,
}

/// `crmsync mailbox ...`
#[derive(Debug, Subcommand)]
pub enum MailboxCmd {
    /// Add a mailbox for an existing user or queue.
    Add {
        /// The user's or queue's email address.
        email: String,
        #[command(flatten)]
        args: MailboxArgs,
    },
    /// List mailboxes.
    List,
    /// Show one mailbox with its status.
    Show {
        /// Mailbox address.
        email: String,
    },
    /// Change a mailbox (only the options given).
    Update {
        /// Mailbox address.
        email: String,
        #[command(flatten)]
        args: MailboxArgs,
        /// Stop deleting processed mail.
        #[arg(long, conflicts_with = "delete_after_processing")]
        keep_after_processing: bool,
        /// Remove every folder-level tracking entry.
        #[arg(long, conflicts_with = "track_folder")]
        clear_track_folders: bool,
    },
    /// Remove a mailbox (tracked email stays in the CRM).
    Remove {
        /// Mailbox address.
        email: String,
    },
    /// Test each configured channel against its servers (nothing is sent), then
    /// enable the channels that passed and explain every failure.
    TestEnable {
        /// Mailbox address.
        #[arg(required_unless_present = "all")]
        email: Option<String>,
        /// Every mailbox.
        #[arg(long, conflicts_with = "email")]
        all: bool,
    },
    /// Approve a mailbox's email address (see the incoming.require_approval setting).
    Approve {
        /// Mailbox address.
        #[arg(required_unless_present = "all")]
        email: Option<String>,
        /// Every mailbox.
        #[arg(long, conflicts_with = "email")]
        all: bool,
        /// Reject instead of approve.
        #[arg(long)]
        reject: bool,
    },
    /// Re-enable the channels that passed Test & Enable.
    Enable {
        /// Mailbox address.
        email: String,
    },
    /// Stop processing a mailbox (every channel).
    Disable {
        /// Mailbox address.
        email: String,
    },
    /// Sign a mailbox of an OAuth2 profile in (device flow: prints a URL and a
    /// code to enter there, from any device; the tokens are stored encrypted).
    SignIn {
        /// Mailbox address.
        email: String,
        /// Sign in in a browser on this machine instead (authorization code
        /// with a loopback redirect to http://127.0.0.1:PORT/): prints the URL to open.
        #[arg(long)]
        auth_code: bool,
        /// How long to wait for the browser, in seconds (with --auth-code).
        #[arg(long, value_name = "SECONDS", default_value_t = 300)]
        wait: u64,
    },
    /// Forget a mailbox's OAuth2 tokens (it stops syncing until signed in again).
    SignOut {
        /// Mailbox address.
        email: String,
    },
    /// The mailbox's sync runs, newest first: when, which channel, what it
    /// tracked, skipped (and why) or sent, and the error of a failed run.
    History {
        /// Mailbox address.
        email: String,
        /// How many runs to show (default 50).
        #[arg(long, value_name = "N")]
        limit: Option<String>,
    },
    /// Why was an email tracked or not? Looks it up among what the mailbox
    /// saw within history.retention_days.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["message_id", "subject"])))]
    Explain {
        /// Mailbox address.
        email: String,
        /// The email's Message-ID (angle brackets optional).
        #[arg(long, value_name = "ID")]
        message_id: Option<String>,
        /// Words of the email's subject.
        #[arg(long, value_name = "TEXT")]
        subject: Option<String>,
    },
    /// Confirm a mass delete the ACT brake held: the next sync mirrors it.
    ActConfirm {
        /// Mailbox address.
        email: String,
    },
    /// Show or change the ACT sync filter and field directions of a mailbox.
    ActSettings {
        /// Mailbox address.
        email: String,
        /// Rules, OR-ed, comma-separated: appointment:organizer, appointment:required,
        /// appointment:optional, appointment:owned, appointment:all, contact:owned,
        /// contact:all, task:owned, task:all.
        #[arg(long, value_name = "RULES")]
        filter: Option<String>,
        /// FIELD=DIRECTION for subject, body, location: two-way, crm-to-server,
        /// server-to-crm or none (repeatable).
        #[arg(long, value_name = "FIELD=DIR")]
        direction: Vec<String>,
    },
}

/// `crmsync settings ...`
#[derive(Debug, Subcommand)]
pub enum SettingsCmd {
    /// Every setting with its value, default and meaning.
    Show,
    /// Change one setting.
    Set {
        /// Setting key, e.g. tracking_token.prefix.
        key: String,
        /// New value.
        value: String,
    },
}

/// `crmsync migrate ...`
#[derive(Debug, Subcommand)]
pub enum MigrateCmd {
    /// Import the Dynamics CRM Email Router's profiles, users, queues and forward
    /// mailboxes (all or nothing; running it again changes nothing).
    EmailRouter(EmailRouterArgs),
}

/// `crmsync migrate email-router` options.
#[derive(Debug, Args)]
pub struct EmailRouterArgs {
    /// The router's Microsoft.Crm.Tools.EmailAgent.xml.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Its Microsoft.Crm.Tools.EmailAgent.SystemState.xml: mail the router already
    /// processed is not imported again.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// CSV export of the CRM's users and queues (id,email,name): the router names
    /// them by CRM id only.
    #[arg(long, value_name = "FILE")]
    pub directory: Option<PathBuf>,
    /// Print the preview and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Migrate router profiles without SSL, with allow_insecure on (clear-text connections).
    #[arg(long)]
    pub allow_insecure: bool,
}
