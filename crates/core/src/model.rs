//! Domain types shared by the store, the engine, the CLI and the desktop shell.
//! Enums serialize to the same lower-case words the CLI accepts and the store keeps.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
pub use crate::oauth::{AuthMethod, OAuthConfig, OAuthProvider};

/// Declares a text enum: its wire/CLI/store spelling, parsing with a field-naming
/// error, and `Display`.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling used by the CLI, the store and JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses admin input; the error names `field` and lists the accepted values.
            pub fn parse(field: &str, s: &str) -> Result<Self> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(CoreError::invalid(
                        field,
                        format!("'{}' is not one of {}", s, [$($text),+].join(", ")),
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use text_enum;

text_enum!(
    /// Which servers an email server profile talks to.
    ProfileKind {
        /// IMAP for incoming mail, SMTP for outgoing.
        ImapSmtp = "imap-smtp",
        /// POP3 for incoming mail, SMTP for outgoing.
        Pop3Smtp = "pop3-smtp",
        /// Exchange Web Services for everything.
        Exchange = "exchange",
        /// Microsoft 365 through Microsoft Graph for everything (OAuth2 only).
        Microsoft365 = "microsoft365",
    }
);

text_enum!(
    /// Transport security of a connection.
    Security {
        /// Implicit TLS from the first byte (IMAPS 993, POP3S 995, SMTPS 465).
        Tls = "tls",
        /// Plain connect, then STARTTLS / STLS before authenticating.
        Starttls = "starttls",
        /// No TLS at all; only with the profile's explicit `allow_insecure`.
        None = "none",
    }
);

text_enum!(
    /// How SMTP authenticates.
    OutgoingAuth {
        /// AUTH PLAIN/LOGIN with the mailbox's or the profile's credentials.
        Password = "password",
        /// No AUTH: a relay that trusts the office network.
        None = "none",
    }
);

text_enum!(
    /// Whose credentials a profile's mailboxes use.
    CredentialSource {
        /// Each mailbox has its own user name and password.
        Mailbox = "mailbox",
        /// One account in the profile serves every mailbox.
        Profile = "profile",
    }
);

text_enum!(
    /// Incoming mail delivery method of a mailbox.
    IncomingMethod {
        /// crmsync fetches the mailbox itself.
        ServerSide = "server-side",
        /// Mail arrives through a forward mailbox.
        Forward = "forward",
        /// No incoming mail.
        None = "none",
    }
);

text_enum!(
    /// Outgoing mail or ACT method of a mailbox.
    ChannelMethod {
        /// crmsync does it.
        ServerSide = "server-side",
        /// Off.
        None = "none",
    }
);

text_enum!(
    /// Which incoming mail the mailbox owner wants tracked.
    TrackFilter {
        /// Every message.
        All = "all",
        /// Replies to CRM email (In-Reply-To, References or a tracking token).
        Responses = "responses",
        /// Mail from or to contacts, accounts and leads.
        CrmRecords = "crm-records",
        /// Mail from or to any email-enabled CRM record (users and queues too).
        EmailEnabled = "email-enabled",
        /// Nothing (folder-level tracking still applies).
        None = "none",
    }
);

text_enum!(
    /// Email address approval of a mailbox.
    Approval {
        /// Not yet approved.
        Pending = "pending",
        /// Approved by the admin.
        Approved = "approved",
        /// Refused by the admin.
        Rejected = "rejected",
    }
);

text_enum!(
    /// Result of the last Test & Enable of one channel.
    ChannelStatus {
        /// Never tested.
        NotRun = "not-run",
        /// Passed.
        Success = "success",
        /// Failed; see the mailbox's last error and alerts.
        Failure = "failure",
    }
);

text_enum!(
    /// The kinds of CRM record an activity can regard or a party can resolve to.
    RecordType {
        /// A contact.
        Contact = "contact",
        /// An account.
        Account = "account",
        /// A lead.
        Lead = "lead",
        /// A CRM user.
        User = "user",
        /// A queue.
        Queue = "queue",
    }
);

text_enum!(
    /// Alert severity.
    Severity {
        /// Something stopped working.
        Error = "error",
        /// Something may stop working, or was retried.
        Warning = "warning",
        /// Good news: a recovery, a finished migration.
        Info = "info",
    }
);

/// A host, port and security of one side of a profile.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Transport security.
    pub security: Security,
}

/// The settings of an email server profile that the admin edits.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileData {
    /// Unique name.
    pub name: String,
    /// Server kind.
    pub kind: ProfileKind,
    /// Incoming server (IMAP or POP3), if any.
    pub incoming: Option<Endpoint>,
    /// Outgoing server (SMTP), if any.
    pub outgoing: Option<Endpoint>,
    /// How SMTP authenticates.
    pub outgoing_auth: OutgoingAuth,
    /// Exchange Web Services URL.
    pub ews_url: Option<String>,
    /// Microsoft Graph service root of a microsoft365 profile, when not
    /// Microsoft's own (`https://graph.microsoft.com/v1.0`).
    #[serde(default)]
    pub graph_url: Option<String>,
    /// CalDAV/CardDAV base URL for appointments, contacts and tasks.
    pub dav_url: Option<String>,
    /// Whose credentials are used.
    pub credentials: CredentialSource,
    /// Profile user name (when credentials = profile).
    pub username: Option<String>,
    /// Maximum concurrent connections to this profile's servers.
    pub max_connections: u32,
    /// Minimum seconds between two polls of one mailbox.
    pub min_poll_interval: u32,
    /// Connect and command timeout in seconds.
    pub timeout: u32,
    /// Only mail received after this is processed.
    pub process_from: Option<DateTime<Utc>>,
    /// Whether plaintext connections are allowed.
    pub allow_insecure: bool,
    /// How the mailboxes sign in: password (the default) or oauth2.
    #[serde(default)]
    pub auth: AuthMethod,
    /// The OAuth2 client and endpoints (auth = oauth2).
    #[serde(default)]
    pub oauth: Option<OAuthConfig>,
}

/// An email server profile as shown to the admin (the password is never included).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Store id.
    pub id: i64,
    /// The editable settings.
    #[serde(flatten)]
    pub data: ProfileData,
    /// Whether a profile password is stored (never the password itself).
    pub has_password: bool,
    /// Whether an OAuth2 client secret is stored (never the secret itself).
    #[serde(default)]
    pub has_client_secret: bool,
    /// When the profile was created.
    pub created_on: DateTime<Utc>,
    /// When it was last changed.
    pub modified_on: DateTime<Utc>,
}

/// The last Test Connection of a profile, as kept in the store.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileTest {
    /// When it ran.
    pub on: DateTime<Utc>,
    /// True when every server passed.
    pub ok: bool,
    /// One entry per server: what it is and what it answered.
    pub message: String,
}

/// A CRM user or queue: the owner of a mailbox.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// Store id (in the users or queues table).
    pub id: i64,
    /// Primary email address.
    pub email: String,
    /// Display name.
    pub name: String,
}

/// Who owns a mailbox.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Owner {
    /// A CRM user.
    User {
        /// User id.
        id: i64,
        /// Display name.
        name: String,
    },
    /// A queue.
    Queue {
        /// Queue id.
        id: i64,
        /// Display name.
        name: String,
    },
}

/// A reference to a CRM record, with its display name.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    /// Record kind.
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// Store id.
    pub id: i64,
    /// Display name.
    pub name: String,
}

/// A mail folder whose messages are all tracked and regard one record.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackFolder {
    /// Folder name on the server, e.g. `Customers/Contoso`.
    pub folder: String,
    /// The record everything in it regards.
    pub regarding: RecordRef,
}

/// The last error seen on a mailbox.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    /// Stable code, e.g. `IMAP_AUTH_FAILED`.
    pub code: String,
    /// What happened, in words.
    pub message: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Per-channel state of a mailbox.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelState {
    /// Whether the engine processes this channel.
    pub enabled: bool,
    /// Result of the last Test & Enable.
    pub status: ChannelStatus,
}

/// Live processing telemetry of a mailbox.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Telemetry {
    /// idle, syncing, waiting, disabled.
    pub processing_state: String,
    /// Start of the last sync.
    pub last_sync_started: Option<DateTime<Utc>>,
    /// End of the last successful sync.
    pub last_sync_succeeded: Option<DateTime<Utc>>,
    /// When the next poll is due.
    pub next_poll: Option<DateTime<Utc>>,
    /// Items processed in the last sync.
    pub items_processed: i64,
    /// Items that failed in the last sync.
    pub items_failed: i64,
    /// Consecutive transient failures.
    pub transient_failures: i64,
    /// The last error, if any.
    pub last_error: Option<LastError>,
    /// Average sync duration in milliseconds.
    pub average_duration_ms: Option<i64>,
    /// Why the engine (or the admin: `DISABLED_BY_ADMIN`) disabled a channel, if it did.
    #[serde(default)]
    pub disabled_reason: Option<String>,
}

/// The settings of a mailbox that the admin edits.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailboxData {
    /// Email address (unique).
    pub email: String,
    /// The user or queue it belongs to.
    pub owner: Owner,
    /// Profile id.
    pub profile_id: i64,
    /// Mailbox user name (when the profile uses mailbox credentials).
    pub username: Option<String>,
    /// Incoming delivery method.
    pub incoming_method: IncomingMethod,
    /// Outgoing method.
    pub outgoing_method: ChannelMethod,
    /// Appointments, contacts and tasks method.
    pub act_method: ChannelMethod,
    /// Tracking filter of the owner.
    pub track: TrackFilter,
    /// Only mail received after this is processed.
    pub process_from: Option<DateTime<Utc>>,
    /// Delete mail from the server once committed (queue and forward mailboxes).
    pub delete_after_processing: bool,
    /// Whether this is a forward mailbox.
    pub is_forward_mailbox: bool,
    /// Folder-level tracking.
    pub track_folders: Vec<TrackFolder>,
}

/// A mailbox as shown to the admin (the password is never included).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mailbox {
    /// Store id.
    pub id: i64,
    /// The editable settings.
    #[serde(flatten)]
    pub data: MailboxData,
    /// Profile name.
    pub profile: String,
    /// Whether a mailbox password is stored.
    pub has_password: bool,
    /// Credentials must be entered before the mailbox can work (e.g. after a migration).
    pub credentials_required: bool,
    /// Email address approval.
    pub approval: Approval,
    /// Incoming channel.
    pub incoming: ChannelState,
    /// Outgoing channel.
    pub outgoing: ChannelState,
    /// ACT channel.
    pub act: ChannelState,
    /// When Test & Enable last ran.
    pub last_test_on: Option<DateTime<Utc>>,
    /// When a channel was first enabled.
    pub first_enabled_on: Option<DateTime<Utc>>,
    /// Status telemetry.
    pub telemetry: Telemetry,
    /// Created.
    pub created_on: DateTime<Utc>,
    /// Last changed.
    pub modified_on: DateTime<Utc>,
}

/// A contact.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Contact {
    /// Store id.
    pub id: i64,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Primary email.
    pub email: Option<String>,
    /// Second email.
    pub email2: Option<String>,
    /// Third email.
    pub email3: Option<String>,
    /// Company name.
    pub company: Option<String>,
    /// Business phone.
    pub phone: Option<String>,
    /// Mobile phone.
    pub mobile_phone: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// State or region.
    pub region: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Owning user's email.
    pub owner: Option<String>,
    /// vCard UID once the contact was synced or created with one.
    #[serde(default)]
    pub uid: Option<String>,
}

/// An account (a company).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Account {
    /// Store id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// A lead.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Lead {
    /// Store id.
    pub id: i64,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// Display name of a person-like record from its parts.
pub fn person_name(first: Option<&str>, last: Option<&str>, email: Option<&str>) -> String {
    let name = [first, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() { email.unwrap_or_default().to_string() } else { name }
}
