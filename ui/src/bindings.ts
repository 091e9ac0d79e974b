// Generated from the Rust types by src-tauri (ipc.rs). Do not edit: run
// `UPDATE_BINDINGS=1 cargo test -p crmsync-desktop bindings` after changing them.

/**
 * An account (a company).
 */

export type Account = { 
/**
 * Store id.
 */
id: number, 
/**
 * Name.
 */
name: string, 
/**
 * Email.
 */
email: string | null, 
/**
 * Phone.
 */
phone: string | null, };

/**
 * Something the admin does about an alert, named once; the CLI and the
 * desktop each say how to do it there.
 */

export type Action = "enter_password" | "approve_mailbox" | "enable_mailbox" | "confirm_mass_delete" | "add_forward_mailbox" | "sign_in";

/**
 * Raw filter input for `activity list` (and the desktop's Activities page,
 * whose TypeScript type is `ActivityFilter`: the TS namespace is flat).
 */

export type ActivityFilter = { 
/**
 * email, appointment or task.
 */
activity_type: string | null, 
/**
 * Mailbox address.
 */
mailbox: string | null, 
/**
 * TYPE:KEY.
 */
regarding: string | null, 
/**
 * Maximum count.
 */
limit: string | null, };

/**
 * An activity as shown by `activity show` (emails carry the email fields).
 */

export type ActivityView = { 
/**
 * Id.
 */
id: number, 
/**
 * email, appointment, task.
 */
type: string, 
/**
 * incoming / outgoing (emails).
 */
direction: string | null, 
/**
 * Email status: received, draft, pending_send, sending, sent, failed, canceled.
 */
status: string | null, 
/**
 * Subject.
 */
subject: string, 
/**
 * Message-ID.
 */
message_id: string | null, 
/**
 * In-Reply-To.
 */
in_reply_to: string | null, 
/**
 * Tracking token.
 */
tracking_token: string | null, 
/**
 * none, in_reply_to, tracking_token, smart_match, folder.
 */
correlation_method: string | null, 
/**
 * Regarding record.
 */
regarding: RecordRef | null, 
/**
 * Sender.
 */
from: PartyView | null, 
/**
 * To recipients.
 */
to: Array<PartyView>, 
/**
 * Cc recipients.
 */
cc: Array<PartyView>, 
/**
 * Bcc recipients.
 */
bcc: Array<PartyView>, 
/**
 * Received time.
 */
received_on: string | null, 
/**
 * Mailboxes that received it.
 */
receiving_mailboxes: Array<string>, 
/**
 * Attachments.
 */
attachments: Array<AttachmentView>, 
/**
 * Flags, e.g. attachments_skipped.
 */
flags: Array<string>, 
/**
 * Send attempts (outgoing).
 */
delivery_attempts: number | null, 
/**
 * Last send error (outgoing).
 */
last_error: string | null, 
/**
 * When it was sent (outgoing).
 */
sent_on: string | null, 
/**
 * The mailbox it is sent from (outgoing).
 */
sender_mailbox: string | null, 
/**
 * Plain-text body.
 */
body_text: string | null, 
/**
 * HTML body (show it only in a sandbox).
 */
body_html: string | null, 
/**
 * Created.
 */
created_on: string, };

/**
 * An alert as listed.
 */

export type Alert = { 
/**
 * Id.
 */
id: number, 
/**
 * Severity.
 */
severity: Severity, 
/**
 * mailbox, profile, item or system.
 */
scope: string, 
/**
 * Mailbox address, if any.
 */
mailbox: string | null, 
/**
 * Profile name, if any.
 */
profile: string | null, 
/**
 * Activity id, if any.
 */
activity_id: number | null, 
/**
 * Server reference of the item, if any.
 */
item_ref: string | null, 
/**
 * Stable code.
 */
code: string, 
/**
 * What happened.
 */
message: string, 
/**
 * What to do about it, in words that suit every front end.
 */
hint: string, 
/**
 * What the admin does about it, if anything; each front end words it.
 */
action: Action | null, 
/**
 * First seen.
 */
first_seen: string, 
/**
 * Last seen.
 */
last_seen: string, 
/**
 * Times seen.
 */
count: number, 
/**
 * Acknowledged by the admin.
 */
acknowledged: boolean, };

/**
 * Raw filter input for `alert list` (and the desktop's Alerts page, whose
 * TypeScript type is `AlertFilter`).
 */

export type AlertFilter = { 
/**
 * Mailbox address.
 */
mailbox: string | null, 
/**
 * Profile name.
 */
profile: string | null, 
/**
 * error, warning or info.
 */
severity: string | null, 
/**
 * Include acknowledged.
 */
all: boolean, };

/**
 * Email address approval of a mailbox.
 */

export type Approval = "pending" | "approved" | "rejected";

/**
 * An attachment as shown.
 */

export type AttachmentView = { 
/**
 * File name.
 */
name: string, 
/**
 * MIME type.
 */
mime_type: string, 
/**
 * Size in bytes.
 */
size: number, 
/**
 * Whether the content was saved (false: over the size limit).
 */
saved: boolean, };

/**
 * How a profile's mailboxes sign in to the servers.
 */

export type AuthMethod = "password" | "oauth2";

/**
 * One field an update changes.
 */

export type Change = { 
/**
 * Field name as the CLI spells it.
 */
field: string, 
/**
 * Current value.
 */
from: string, 
/**
 * New value.
 */
to: string, };

/**
 * Outgoing mail or ACT method of a mailbox.
 */

export type ChannelMethod = "server-side" | "none";

/**
 * The result of testing one channel.
 */

export type ChannelResult = { 
/**
 * incoming, outgoing or act.
 */
channel: string, 
/**
 * success, failure, or not-run (channel not configured).
 */
status: ChannelStatus, 
/**
 * Whether the channel is now enabled.
 */
enabled: boolean, 
/**
 * Error code on failure.
 */
code: string | null, 
/**
 * What happened, in words.
 */
message: string, 
/**
 * What to do about a failure.
 */
hint: string | null, 
/**
 * What the admin does about the failure, if anything; each front end words it.
 */
action: Action | null, };

/**
 * Per-channel state of a mailbox.
 */

export type ChannelState = { 
/**
 * Whether the engine processes this channel.
 */
enabled: boolean, 
/**
 * Result of the last Test & Enable.
 */
status: ChannelStatus, };

/**
 * Result of the last Test & Enable of one channel.
 */

export type ChannelStatus = "not-run" | "success" | "failure";

/**
 * The result of Test Connection for one profile.
 */

export type ConnectionTest = { 
/**
 * Profile name.
 */
profile: string, 
/**
 * True when every server passed.
 */
ok: boolean, 
/**
 * The user name the test logged in as; none when only the connection
 * (reachability, TLS, greeting) was checked.
 */
login_as: string | null, 
/**
 * One row per configured server.
 */
servers: Array<ServerCheck>, };

/**
 * Test Connection form: both a user name and a password to also log in, or
 * neither to check the connection only. The password is never stored (nor
 * serialized: a [`Secret`] has no `Serialize`). The desktop's own: the
 * engine takes these as plain arguments (`connection_test::prepare`), as the
 * CLI gives them from its options.
 */

export type ConnectionTestForm = { username: string | null, 
/**
 * Empty means "not given", as `null` does.
 */
password: Secret | null, };

/**
 * A contact.
 */

export type Contact = { 
/**
 * Store id.
 */
id: number, 
/**
 * First name.
 */
first_name: string | null, 
/**
 * Last name.
 */
last_name: string | null, 
/**
 * Primary email.
 */
email: string | null, 
/**
 * Second email.
 */
email2: string | null, 
/**
 * Third email.
 */
email3: string | null, 
/**
 * Company name.
 */
company: string | null, 
/**
 * Business phone.
 */
phone: string | null, 
/**
 * Mobile phone.
 */
mobile_phone: string | null, 
/**
 * Street.
 */
street: string | null, 
/**
 * City.
 */
city: string | null, 
/**
 * Postal code.
 */
postal_code: string | null, 
/**
 * State or region.
 */
region: string | null, 
/**
 * Country.
 */
country: string | null, 
/**
 * Owning user's email.
 */
owner: string | null, 
/**
 * vCard UID once the contact was synced or created with one.
 */
uid: string | null, };

/**
 * Something that needs a password before it can work.
 */

export type CredentialNeed = { 
/**
 * "profile" or "mailbox".
 */
kind: string, 
/**
 * Profile name or mailbox address.
 */
name: string, 
/**
 * What the admin does about it.
 */
action: string, };

/**
 * Whose credentials a profile's mailboxes use.
 */

export type CredentialSource = "mailbox" | "profile";

/**
 * A host, port and security of one side of a profile.
 */

export type Endpoint = { 
/**
 * Host name or address.
 */
host: string, 
/**
 * TCP port.
 */
port: number, 
/**
 * Transport security.
 */
security: Security, };

/**
 * What the engine tells the shell (the desktop forwards it to its window as is).
 */

export type EngineEvent = { "type": "mailbox_status_changed", 
/**
 * Mailbox address.
 */
mailbox: string, 
/**
 * New health.
 */
health: Health, 
/**
 * Last error code, if any.
 */
code: string | null, 
/**
 * Last error message, if any.
 */
message: string | null, } | { "type": "alert_raised", 
/**
 * Alert id.
 */
id: number, 
/**
 * Severity.
 */
severity: Severity, 
/**
 * Mailbox address, if any.
 */
mailbox: string | null, 
/**
 * Profile name, if any.
 */
profile: string | null, 
/**
 * Stable code.
 */
code: string, 
/**
 * What happened.
 */
message: string, } | { "type": "sync_progress", 
/**
 * Mailbox address.
 */
mailbox: string, 
/**
 * Items looked at.
 */
processed: number, 
/**
 * New CRM records.
 */
created: number, 
/**
 * Items that failed.
 */
failed: number, } | { "type": "queue_depths", 
/**
 * Mailbox queue (incoming and ACT polls).
 */
mailboxes: number, 
/**
 * Outgoing queue.
 */
outgoing: number, 
/**
 * Async operations (Test & Enable, recovery re-tests).
 */
async_ops: number, } | { "type": "paused" } | { "type": "resumed" };

/**
 * One setting as shown by `settings show`.
 */

export type Entry = { 
/**
 * Key.
 */
key: string, 
/**
 * Effective value.
 */
value: JsonValue, 
/**
 * Default value.
 */
default: JsonValue, 
/**
 * Whether the admin changed it.
 */
is_default: boolean, 
/**
 * Help text.
 */
help: string, };

/**
 * One message found, with its answer in words.
 */

export type Explained = { 
/**
 * The answer in plain words.
 */
answer: string, 
/**
 * When crmsync saw it (RFC 3339 UTC).
 */
seen_on: string, 
/**
 * The mailbox that saw it.
 */
mailbox_id: number, 
/**
 * The run that saw it, if known.
 */
run_id: number | null, 
/**
 * Where it was on the server, e.g. `INBOX/1700000000/42`.
 */
item_ref: string, 
/**
 * Its Message-ID (without angle brackets), if it has one and could be read.
 */
message_id: string | null, 
/**
 * Its subject, if it could be read.
 */
subject: string | null, 
/**
 * Its sender's address, if it could be read.
 */
sender: string | null, 
/**
 * When the server (or its Date header) says it arrived.
 */
received_on: string | null, 
/**
 * `tracked`, `not_tracked` or `failed`.
 */
outcome: string, 
/**
 * Stable reason code, e.g. `FILTER_RESPONSES`, `BEFORE_PROCESS_FROM`, `DUPLICATE`.
 */
reason: string, 
/**
 * The reason in words.
 */
detail: string, 
/**
 * The email activity it became or joined.
 */
activity_id: number | null, };

/**
 * The answer to "why was this email (not) tracked?".
 */

export type Explanation = { 
/**
 * The mailbox asked about.
 */
mailbox: string, 
/**
 * The messages found, newest first.
 */
found: Array<Explained>, 
/**
 * When nothing was found: messages crmsync saw but could not read the
 * headers of (too large, not returned by the server), newest first.
 */
unidentified: Array<Explained>, 
/**
 * Days the reasons are kept (`history.retention_days`).
 */
retention_days: number, };

/**
 * How a mailbox is doing.
 */

export type Health = "ok" | "syncing" | "warning" | "error" | "disabled" | "not_configured";

/**
 * One run of the timeline: the stored row and a line in words.
 */

export type HistoryEntry = { 
/**
 * What happened, in words, e.g. "incoming: 3 tracked, 1 skipped (not a reply)".
 */
summary: string, 
/**
 * Row id.
 */
id: number, 
/**
 * `incoming`, `outgoing` or `act`.
 */
channel: string, 
/**
 * When it started (RFC 3339 UTC).
 */
started_on: string, 
/**
 * When it ended; null while it runs (or when the process died in it).
 */
ended_on: string | null, 
/**
 * `ok`, `failed`, `skipped`; null while it runs.
 */
result: string | null, 
/**
 * The error (or skip) code.
 */
code: string | null, 
/**
 * The error (or skip) message.
 */
message: string | null, 
/**
 * Items looked at.
 */
processed: number, 
/**
 * New CRM records or server items.
 */
created: number, 
/**
 * Incoming messages tracked.
 */
tracked: number, 
/**
 * Incoming messages not tracked.
 */
not_tracked: number, 
/**
 * Items that failed.
 */
failed: number, 
/**
 * Stopped at the per-cycle cap.
 */
capped: boolean, 
/**
 * Why messages of this run were not tracked: (reason code, count), most first.
 */
not_tracked_reasons: Array<ReasonCount>, };

/**
 * What an import did.
 */

export type ImportReport = { 
/**
 * Rows imported.
 */
imported: number, 
/**
 * Header columns that were not recognised and were ignored.
 */
ignored_columns: Array<string>, };

/**
 * Incoming mail delivery method of a mailbox.
 */

export type IncomingMethod = "server-side" | "forward" | "none";

/**
 * An error as the UI shows it: always words, and for invalid input the form
 * field to mark (the same kebab-case names the CLI options have).
 */

export type IpcError = { "kind": "invalid", field: string, message: string, } | { "kind": "not_found", message: string, } | { "kind": "server", code: string, message: string, hint: string, action: Action | null, } | { "kind": "lease_held", message: string, } | { "kind": "internal", message: string, };

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

/**
 * The last error seen on a mailbox.
 */

export type LastError = { 
/**
 * Stable code, e.g. `IMAP_AUTH_FAILED`.
 */
code: string, 
/**
 * What happened, in words.
 */
message: string, 
/**
 * When.
 */
at: string, };

/**
 * A lead.
 */

export type Lead = { 
/**
 * Store id.
 */
id: number, 
/**
 * First name.
 */
first_name: string | null, 
/**
 * Last name.
 */
last_name: string | null, 
/**
 * Email.
 */
email: string | null, 
/**
 * Company.
 */
company: string | null, 
/**
 * Phone.
 */
phone: string | null, };

/**
 * A mailbox as shown to the admin (the password is never included).
 */

export type Mailbox = { 
/**
 * Store id.
 */
id: number, 
/**
 * Profile name.
 */
profile: string, 
/**
 * Whether a mailbox password is stored.
 */
has_password: boolean, 
/**
 * Credentials must be entered before the mailbox can work (e.g. after a migration).
 */
credentials_required: boolean, 
/**
 * Email address approval.
 */
approval: Approval, 
/**
 * Incoming channel.
 */
incoming: ChannelState, 
/**
 * Outgoing channel.
 */
outgoing: ChannelState, 
/**
 * ACT channel.
 */
act: ChannelState, 
/**
 * When Test & Enable last ran.
 */
last_test_on: string | null, 
/**
 * When a channel was first enabled.
 */
first_enabled_on: string | null, 
/**
 * Status telemetry.
 */
telemetry: Telemetry, 
/**
 * Created.
 */
created_on: string, 
/**
 * Last changed.
 */
modified_on: string, 
/**
 * Email address (unique).
 */
email: string, 
/**
 * The user or queue it belongs to.
 */
owner: Owner, 
/**
 * Profile id.
 */
profile_id: number, 
/**
 * Mailbox user name (when the profile uses mailbox credentials).
 */
username: string | null, 
/**
 * Incoming delivery method.
 */
incoming_method: IncomingMethod, 
/**
 * Outgoing method.
 */
outgoing_method: ChannelMethod, 
/**
 * Appointments, contacts and tasks method.
 */
act_method: ChannelMethod, 
/**
 * Tracking filter of the owner.
 */
track: TrackFilter, 
/**
 * Only mail received after this is processed.
 */
process_from: string | null, 
/**
 * Delete mail from the server once committed (queue and forward mailboxes).
 */
delete_after_processing: boolean, 
/**
 * Whether this is a forward mailbox.
 */
is_forward_mailbox: boolean, 
/**
 * Folder-level tracking.
 */
track_folders: Array<TrackFolder>, };

/**
 * A mailbox's detail page: settings, telemetry, health and its alerts (one
 * call for the page, which the CLI makes as `mailbox show` and `alert list`).
 */

export type MailboxDetail = { mailbox: Mailbox, health: Health, alerts: Array<Alert>, 
/**
 * The OAuth2 sign-in state (never a token); null for a password profile.
 */
sign_in: SignInStatus | null, };

/**
 * Mailbox fields as the admin typed them; `None` = default on add, unchanged on update.
 * The CLI builds it from its options; the desktop receives it as JSON from its
 * mailbox form. Only deserialized: the password is never written back out.
 */

export type MailboxInput = { 
/**
 * Profile name (required on add).
 */
profile: string | null, 
/**
 * Mailbox user name; defaults to the address.
 */
username: string | null, 
/**
 * Mailbox password (an empty string means "not given").
 */
password: Secret | null, 
/**
 * server-side, forward or none.
 */
incoming: string | null, 
/**
 * server-side or none.
 */
outgoing: string | null, 
/**
 * server-side or none.
 */
act: string | null, 
/**
 * all, responses, crm-records, email-enabled, none.
 */
track: string | null, 
/**
 * Process mail received after (RFC 3339).
 */
process_from: string | null, 
/**
 * Delete mail from the server once committed.
 */
delete_after_processing: boolean | null, 
/**
 * This is a forward mailbox.
 */
forward_mailbox: boolean | null, 
/**
 * `FOLDER=TYPE:KEY` entries; when given they replace the current list.
 */
track_folders: Array<string> | null, };

/**
 * A mailbox with its health, as lists show it. The engine has no such pair:
 * the CLI prints a stored [`Mailbox`] and works the health out when it shows
 * it; the window gets both at once.
 */

export type MailboxRow = { mailbox: Mailbox, health: Health, };

/**
 * An existing mailbox the migration changes.
 */

export type MailboxUpdate = { 
/**
 * What changes.
 */
changes: Array<Change>, 
/**
 * Address.
 */
email: string, 
/**
 * Owner kind.
 */
owner: OwnerKind, 
/**
 * Profile name.
 */
profile: string, 
/**
 * Incoming delivery.
 */
incoming: IncomingMethod, 
/**
 * Outgoing method.
 */
outgoing: ChannelMethod, 
/**
 * From the router's threshold: mail already routed is not imported again.
 */
process_from: string | null, 
/**
 * A forward mailbox.
 */
forward_mailbox: boolean, 
/**
 * Delete processed mail from the server.
 */
delete_after_processing: boolean, 
/**
 * Has no password and its profile uses per-mailbox credentials.
 */
credentials_required: boolean, };

/**
 * Everything a migration would do; the whole output of a dry run.
 */

export type MigrationPlan = { 
/**
 * The organization (router `CrmServerUrl`) migrated.
 */
deployment: string | null, 
/**
 * Profiles to create.
 */
profiles_to_create: Array<PlannedProfile>, 
/**
 * Existing profiles used instead.
 */
profiles_reused: Array<ReusedProfile>, 
/**
 * Users and queues to create to own mailboxes.
 */
users_or_queues_to_create: Array<PlannedPrincipal>, 
/**
 * Mailboxes to create.
 */
mailboxes_to_create: Array<PlannedMailbox>, 
/**
 * Mailboxes to change.
 */
mailboxes_to_update: Array<MailboxUpdate>, 
/**
 * Mailboxes already as the router wants them.
 */
mailboxes_unchanged: Array<string>, 
/**
 * Profiles and mailboxes that need a password.
 */
credentials_required: Array<CredentialNeed>, 
/**
 * What is left out, with reasons.
 */
not_migrated: Array<NotMigrated>, 
/**
 * What the admin should read.
 */
warnings: Array<Warning>, };

/**
 * Something in the router files that is not migrated.
 */

export type NotMigrated = { 
/**
 * What (a provider, a mailbox, a CRM id).
 */
item: string, 
/**
 * Why, and what the admin can do.
 */
reason: string, };

/**
 * The OAuth2 settings of a profile (the client secret is stored apart,
 * encrypted, and never part of this).
 */

export type OAuthConfig = { 
/**
 * Who issues the tokens.
 */
provider: OAuthProvider, 
/**
 * The application (client) id the office registered.
 */
client_id: string, 
/**
 * Microsoft tenant (directory id or domain; default `organizations`).
 */
tenant: string | null, 
/**
 * Issuer URL (custom providers; informational).
 */
issuer: string | null, 
/**
 * Authorization endpoint (authorization code flow).
 */
authorize_url: string, 
/**
 * Token endpoint.
 */
token_url: string, 
/**
 * Device authorization endpoint (RFC 8628), when the provider has one.
 */
device_url: string | null, 
/**
 * Scopes asked for a mailbox's sign-in.
 */
scopes: Array<string>, };

/**
 * Who issues the OAuth2 tokens of a profile.
 */

export type OAuthProvider = "microsoft" | "google" | "custom";

/**
 * How SMTP authenticates.
 */

export type OutgoingAuth = "password" | "none";

/**
 * Who owns a mailbox.
 */

export type Owner = { "type": "user", 
/**
 * User id.
 */
id: number, 
/**
 * Display name.
 */
name: string, } | { "type": "queue", 
/**
 * Queue id.
 */
id: number, 
/**
 * Display name.
 */
name: string, };

/**
 * User or queue.
 */

export type OwnerKind = "user" | "queue";

/**
 * A party as shown: the address and what it resolved to.
 */

export type PartyView = { 
/**
 * Address.
 */
address: string | null, 
/**
 * Display name from the message.
 */
name: string | null, 
/**
 * The CRM record, or null when unresolved.
 */
resolved: RecordRef | null, };

/**
 * A mailbox as the migration wants it.
 */

export type PlannedMailbox = { 
/**
 * Address.
 */
email: string, 
/**
 * Owner kind.
 */
owner: OwnerKind, 
/**
 * Profile name.
 */
profile: string, 
/**
 * Incoming delivery.
 */
incoming: IncomingMethod, 
/**
 * Outgoing method.
 */
outgoing: ChannelMethod, 
/**
 * From the router's threshold: mail already routed is not imported again.
 */
process_from: string | null, 
/**
 * A forward mailbox.
 */
forward_mailbox: boolean, 
/**
 * Delete processed mail from the server.
 */
delete_after_processing: boolean, 
/**
 * Has no password and its profile uses per-mailbox credentials.
 */
credentials_required: boolean, };

/**
 * A user or queue the migration creates to own a mailbox.
 */

export type PlannedPrincipal = { 
/**
 * User or queue.
 */
kind: OwnerKind, 
/**
 * Address.
 */
email: string, 
/**
 * Display name.
 */
name: string, 
/**
 * Where it comes from.
 */
reason: string, };

/**
 * A profile the migration creates.
 */

export type PlannedProfile = { 
/**
 * The router providers merged into it.
 */
from: Array<string>, 
/**
 * Its password must be entered before Test & Enable.
 */
password_pending: boolean, 
/**
 * Unique name.
 */
name: string, 
/**
 * Server kind.
 */
kind: ProfileKind, 
/**
 * Incoming server (IMAP or POP3), if any.
 */
incoming: Endpoint | null, 
/**
 * Outgoing server (SMTP), if any.
 */
outgoing: Endpoint | null, 
/**
 * How SMTP authenticates.
 */
outgoing_auth: OutgoingAuth, 
/**
 * Exchange Web Services URL.
 */
ews_url: string | null, 
/**
 * Microsoft Graph service root of a microsoft365 profile, when not
 * Microsoft's own (`https://graph.microsoft.com/v1.0`).
 */
graph_url: string | null, 
/**
 * CalDAV/CardDAV base URL for appointments, contacts and tasks.
 */
dav_url: string | null, 
/**
 * Whose credentials are used.
 */
credentials: CredentialSource, 
/**
 * Profile user name (when credentials = profile).
 */
username: string | null, 
/**
 * Maximum concurrent connections to this profile's servers.
 */
max_connections: number, 
/**
 * Minimum seconds between two polls of one mailbox.
 */
min_poll_interval: number, 
/**
 * Connect and command timeout in seconds.
 */
timeout: number, 
/**
 * Only mail received after this is processed.
 */
process_from: string | null, 
/**
 * Whether plaintext connections are allowed.
 */
allow_insecure: boolean, 
/**
 * How the mailboxes sign in: password (the default) or oauth2.
 */
auth: AuthMethod, 
/**
 * The OAuth2 client and endpoints (auth = oauth2).
 */
oauth: OAuthConfig | null, };

/**
 * A CRM user or queue: the owner of a mailbox.
 */

export type Principal = { 
/**
 * Store id (in the users or queues table).
 */
id: number, 
/**
 * Primary email address.
 */
email: string, 
/**
 * Display name.
 */
name: string, };

/**
 * An email server profile as shown to the admin (the password is never included).
 */

export type Profile = { 
/**
 * Store id.
 */
id: number, 
/**
 * Whether a profile password is stored (never the password itself).
 */
has_password: boolean, 
/**
 * Whether an OAuth2 client secret is stored (never the secret itself).
 */
has_client_secret: boolean, 
/**
 * When the profile was created.
 */
created_on: string, 
/**
 * When it was last changed.
 */
modified_on: string, 
/**
 * Unique name.
 */
name: string, 
/**
 * Server kind.
 */
kind: ProfileKind, 
/**
 * Incoming server (IMAP or POP3), if any.
 */
incoming: Endpoint | null, 
/**
 * Outgoing server (SMTP), if any.
 */
outgoing: Endpoint | null, 
/**
 * How SMTP authenticates.
 */
outgoing_auth: OutgoingAuth, 
/**
 * Exchange Web Services URL.
 */
ews_url: string | null, 
/**
 * Microsoft Graph service root of a microsoft365 profile, when not
 * Microsoft's own (`https://graph.microsoft.com/v1.0`).
 */
graph_url: string | null, 
/**
 * CalDAV/CardDAV base URL for appointments, contacts and tasks.
 */
dav_url: string | null, 
/**
 * Whose credentials are used.
 */
credentials: CredentialSource, 
/**
 * Profile user name (when credentials = profile).
 */
username: string | null, 
/**
 * Maximum concurrent connections to this profile's servers.
 */
max_connections: number, 
/**
 * Minimum seconds between two polls of one mailbox.
 */
min_poll_interval: number, 
/**
 * Connect and command timeout in seconds.
 */
timeout: number, 
/**
 * Only mail received after this is processed.
 */
process_from: string | null, 
/**
 * Whether plaintext connections are allowed.
 */
allow_insecure: boolean, 
/**
 * How the mailboxes sign in: password (the default) or oauth2.
 */
auth: AuthMethod, 
/**
 * The OAuth2 client and endpoints (auth = oauth2).
 */
oauth: OAuthConfig | null, };

/**
 * Profile fields as the admin typed them; `None` means "not given" (default on
 * add, unchanged on update). The CLI builds it from its options; the desktop
 * receives it as JSON from its profile form (its TypeScript type is generated
 * from here). Only deserialized: the password is never written back out.
 */

export type ProfileInput = { 
/**
 * imap-smtp, pop3-smtp, exchange or microsoft365 (required on add).
 */
kind: string | null, 
/**
 * Incoming (IMAP/POP3) host.
 */
incoming_host: string | null, 
/**
 * Incoming port.
 */
incoming_port: string | null, 
/**
 * Incoming security: tls, starttls, none.
 */
incoming_security: string | null, 
/**
 * Outgoing (SMTP) host; defaults to the incoming host.
 */
outgoing_host: string | null, 
/**
 * Outgoing port.
 */
outgoing_port: string | null, 
/**
 * Outgoing security.
 */
outgoing_security: string | null, 
/**
 * Exchange Web Services URL.
 */
ews_url: string | null, 
/**
 * Microsoft Graph service root (microsoft365; empty: Microsoft's).
 */
graph_url?: string, 
/**
 * CalDAV/CardDAV URL.
 */
dav_url: string | null, 
/**
 * password or none.
 */
outgoing_auth: string | null, 
/**
 * mailbox or profile.
 */
credentials: string | null, 
/**
 * Profile user name.
 */
username: string | null, 
/**
 * Profile password (CLI: from stdin or an environment variable, never
 * argv; desktop: the password box, where empty means "not given").
 */
password: Secret | null, 
/**
 * Max concurrent connections.
 */
max_connections: string | null, 
/**
 * Min poll interval, seconds.
 */
min_poll_interval: string | null, 
/**
 * Timeout, seconds.
 */
timeout: string | null, 
/**
 * Process mail received after (RFC 3339).
 */
process_from: string | null, 
/**
 * Allow plaintext connections.
 */
allow_insecure: boolean | null, 
/**
 * password or oauth2 (default: oauth2 when a provider or preset is given).
 */
auth?: string, 
/**
 * microsoft or google: fills hosts, ports, security, endpoints and scopes
 * (and the DAV URL for Google) where they are not given.
 */
preset?: string, 
/**
 * OAuth2 provider: microsoft, google or custom.
 */
oauth_provider?: string, 
/**
 * OAuth2 application (client) id.
 */
oauth_client_id?: string, 
/**
 * OAuth2 client secret (CLI: from stdin, never argv), stored encrypted.
 */
oauth_client_secret?: Secret, 
/**
 * Microsoft tenant (directory id or domain).
 */
oauth_tenant?: string, 
/**
 * Issuer URL (custom provider).
 */
oauth_issuer?: string, 
/**
 * Authorization endpoint (custom provider).
 */
oauth_authorize_url?: string, 
/**
 * Token endpoint (custom provider).
 */
oauth_token_url?: string, 
/**
 * Device authorization endpoint (custom provider).
 */
oauth_device_url?: string, 
/**
 * Scopes, space or comma separated (default: the provider's).
 */
oauth_scopes?: string, };

/**
 * Which servers an email server profile talks to.
 */

export type ProfileKind = "imap-smtp" | "pop3-smtp" | "exchange" | "microsoft365";

/**
 * The last Test Connection of a profile, as kept in the store.
 */

export type ProfileTest = { 
/**
 * When it ran.
 */
on: string, 
/**
 * True when every server passed.
 */
ok: boolean, 
/**
 * One entry per server: what it is and what it answered.
 */
message: string, };

/**
 * Jobs waiting in each queue.
 */

export type QueueDepths = { 
/**
 * Mailbox queue (incoming and ACT polls).
 */
mailboxes: number, 
/**
 * Outgoing queue.
 */
outgoing: number, 
/**
 * Async operations.
 */
async_ops: number, };

/**
 * How many messages of a run had one reason.
 */

export type ReasonCount = { 
/**
 * The reason code, e.g. `FILTER_RESPONSES`.
 */
reason: string, 
/**
 * How many.
 */
count: number, };

/**
 * Which records a CSV file holds (`contact`, `account`, `lead` in JSON).
 */

export type RecordKind = "contact" | "account" | "lead";

/**
 * A reference to a CRM record, with its display name.
 */

export type RecordRef = { 
/**
 * Record kind.
 */
type: RecordType, 
/**
 * Store id.
 */
id: number, 
/**
 * Display name.
 */
name: string, };

/**
 * The kinds of CRM record an activity can regard or a party can resolve to.
 */

export type RecordType = "contact" | "account" | "lead" | "user" | "queue";

/**
 * An existing profile the migration uses instead of creating one.
 */

export type ReusedProfile = { 
/**
 * The existing profile's name.
 */
name: string, 
/**
 * The router providers it stands for.
 */
from: Array<string>, 
/**
 * Why it was chosen, and whether its settings differ from the router's.
 */
note: string, };

/**
 * The Email Router's files for the migration wizard.
 */

export type RouterUpload = { 
/**
 * Microsoft.Crm.Tools.EmailAgent.xml.
 */
config: UploadedFile, 
/**
 * Microsoft.Crm.Tools.EmailAgent.SystemState.xml, optional.
 */
state: UploadedFile | null, 
/**
 * Directory CSV (CRM id → address, name), optional.
 */
directory: UploadedFile | null, allow_insecure: boolean, };

/**
 * A secret value (a password). Its `Debug` never shows the value, and it has
 * no `Serialize`: it can be read from a form (the desktop's IPC) but is never
 * written out, so no view or `--json` output can carry it.
 */

export type Secret = string;

/**
 * Transport security of a connection.
 */

export type Security = "tls" | "starttls" | "none";

/**
 * The result of testing one server of a profile.
 */

export type ServerCheck = { 
/**
 * IMAP, POP3, SMTP, DAV or EWS.
 */
proto: string, 
/**
 * What the server is for: incoming, outgoing or act.
 */
role: string, 
/**
 * Host name or address as configured.
 */
host: string, 
/**
 * TCP port.
 */
port: number, 
/**
 * Transport security (a DAV URL's https is tls, http is none).
 */
security: Security, 
/**
 * Whether the check passed.
 */
ok: boolean, 
/**
 * Whether a login was part of the check.
 */
login: boolean, 
/**
 * Error code on failure (the same codes as alerts and Test & Enable).
 */
code: string | null, 
/**
 * What happened, in words.
 */
message: string, 
/**
 * What to do about a failure.
 */
hint: string | null, 
/**
 * What the admin does about the failure, if anything; each front end words it.
 */
action: Action | null, 
/**
 * How long the check took, milliseconds.
 */
elapsed_ms: number, };

/**
 * Alert severity.
 */

export type Severity = "error" | "warning" | "info";

/**
 * Events only the desktop shell has (serde tag `type`, snake_case, as the
 * engine's).
 */

export type ShellEvent = { "type": "engine_unavailable", message: string, } | { "type": "engine_started" } | { "type": "navigate", route: string, };

/**
 * A mailbox's OAuth2 sign-in as `mailbox show` tells it (never a token).
 */

export type SignInStatus = { 
/**
 * The provider word (microsoft, google, custom).
 */
provider: string, 
/**
 * The profile's app-only token serves this mailbox (no sign-in of its own).
 */
app_only: boolean, 
/**
 * Tokens are stored.
 */
signed_in: boolean, 
/**
 * Until when the stored access token is valid.
 */
access_valid_until: string | null, 
/**
 * A refresh token is stored (the access token renews itself).
 */
can_refresh: boolean, };

/**
 * Everything the Dashboard shows: the tray's words and state next to the
 * engine's own types. The engine's `StatusSnapshot` (`crmsync status --json`)
 * is leaner: no mailbox settings, alerts or tray words, and it is that
 * command's documented output, so the Dashboard has its own view.
 */

export type StatusView = { 
/**
 * "12 mailboxes OK · 1 failing" (the tray tooltip's words).
 */
summary: string, 
/**
 * ok, syncing, warning, error or paused: what the tray shows.
 */
tray: string, paused: boolean, 
/**
 * Mailboxes per health, every health present (the shape of `crmsync
 * status --json`'s `mailboxes_by_health`).
 */
counts: { [key in Health]?: number }, 
/**
 * Failing mailboxes first.
 */
mailboxes: Array<MailboxRow>, 
/**
 * Open alerts, newest first (at most 10).
 */
recent_alerts: Array<Alert>, queues: QueueDepths, profiles: number, 
/**
 * Where the store is.
 */
store_path: string, 
/**
 * Why this window's engine is not syncing: another process (`crmsync
 * run`) holds the store's lease, or the engine failed to start.
 */
engine_problem: string | null, };

/**
 * Live processing telemetry of a mailbox.
 */

export type Telemetry = { 
/**
 * idle, syncing, waiting, disabled.
 */
processing_state: string, 
/**
 * Start of the last sync.
 */
last_sync_started: string | null, 
/**
 * End of the last successful sync.
 */
last_sync_succeeded: string | null, 
/**
 * When the next poll is due.
 */
next_poll: string | null, 
/**
 * Items processed in the last sync.
 */
items_processed: number, 
/**
 * Items that failed in the last sync.
 */
items_failed: number, 
/**
 * Consecutive transient failures.
 */
transient_failures: number, 
/**
 * The last error, if any.
 */
last_error: LastError | null, 
/**
 * Average sync duration in milliseconds.
 */
average_duration_ms: number | null, 
/**
 * Why the engine (or the admin: `DISABLED_BY_ADMIN`) disabled a channel, if it did.
 */
disabled_reason: string | null, };

/**
 * The result of Test & Enable for one mailbox.
 */

export type TestReport = { 
/**
 * Mailbox address.
 */
mailbox: string, 
/**
 * Overall: success when every configured channel passed.
 */
overall: ChannelStatus, 
/**
 * One entry per channel.
 */
channels: Array<ChannelResult>, };

/**
 * Which incoming mail the mailbox owner wants tracked.
 */

export type TrackFilter = "all" | "responses" | "crm-records" | "email-enabled" | "none";

/**
 * A mail folder whose messages are all tracked and regard one record.
 */

export type TrackFolder = { 
/**
 * Folder name on the server, e.g. `Customers/Contoso`.
 */
folder: string, 
/**
 * The record everything in it regards.
 */
regarding: RecordRef, };

/**
 * What the window hears (event name `engine`): the engine's own events as
 * the engine serializes them, or the shell's. Both are tagged by `type`, so
 * the UI tells them apart by that alone.
 */

export type UiEvent = EngineEvent | ShellEvent;

/**
 * A file the admin picked in the UI, with its contents: the webview cannot
 * hand the shell a path, so the shell stages the contents in a temp dir and
 * gives the engine that path (as the CLI gives it the admin's path).
 */

export type UploadedFile = { 
/**
 * The file's name (kept, since error messages name the file).
 */
name: string, content: string, };

/**
 * Something the admin should read before applying; never stops the migration.
 */

export type Warning = { 
/**
 * The file it concerns, if any.
 */
file: string | null, 
/**
 * Element path, if it concerns one element.
 */
path: string | null, 
/**
 * 1-based line, if known.
 */
line: number | null, 
/**
 * What the admin should know.
 */
message: string, };

/** Every IPC command: its arguments (snake_case) and its result. */
export interface Commands {
  status: { args: Record<string, never>; ret: StatusView };
  profiles_list: { args: Record<string, never>; ret: Array<Profile> };
  profile_add: { args: { name: string; form: ProfileInput }; ret: Profile };
  profile_update: { args: { name: string; form: ProfileInput }; ret: Profile };
  profile_remove: { args: { name: string }; ret: null };
  profile_test: { args: { name: string; form: ConnectionTestForm }; ret: ConnectionTest };
  profile_last_test: { args: { name: string }; ret: ProfileTest | null };
  mailboxes_list: { args: Record<string, never>; ret: Array<MailboxRow> };
  mailbox_show: { args: { email: string }; ret: MailboxDetail };
  mailbox_history: { args: { email: string; limit: string | null }; ret: Array<HistoryEntry> };
  mailbox_explain: { args: { email: string; message_id: string | null; subject: string | null }; ret: Explanation };
  mailbox_add: { args: { email: string; form: MailboxInput }; ret: Mailbox };
  mailbox_update: { args: { email: string; form: MailboxInput }; ret: Mailbox };
  mailbox_remove: { args: { email: string }; ret: null };
  mailbox_test_enable: { args: { email: string }; ret: TestReport };
  mailbox_sign_in: { args: { email: string }; ret: SignInStatus };
  mailbox_sign_out: { args: { email: string }; ret: boolean };
  mailbox_approve: { args: { email: string; approve: boolean }; ret: null };
  mailbox_set_enabled: { args: { email: string; enabled: boolean }; ret: Mailbox };
  users_list: { args: Record<string, never>; ret: Array<Principal> };
  user_add: { args: { email: string; name: string }; ret: Principal };
  queues_list: { args: Record<string, never>; ret: Array<Principal> };
  queue_add: { args: { email: string; name: string }; ret: Principal };
  queue_items: { args: { email: string }; ret: Array<ActivityView> };
  contacts_list: { args: Record<string, never>; ret: Array<Contact> };
  accounts_list: { args: Record<string, never>; ret: Array<Account> };
  leads_list: { args: Record<string, never>; ret: Array<Lead> };
  records_import: { args: { kind: RecordKind; file: UploadedFile }; ret: ImportReport };
  alerts_list: { args: { filter: AlertFilter }; ret: Array<Alert> };
  alert_ack: { args: { id: number | null }; ret: number };
  activities_list: { args: { filter: ActivityFilter }; ret: Array<ActivityView> };
  activity_show: { args: { id: number }; ret: ActivityView };
  settings_list: { args: Record<string, never>; ret: Array<Entry> };
  setting_set: { args: { key: string; value: string }; ret: Entry };
  migrate_preview: { args: { files: RouterUpload }; ret: MigrationPlan };
  migrate_apply: { args: { allow_insecure: boolean }; ret: MigrationPlan };
  sync_now: { args: Record<string, never>; ret: null };
  pause: { args: Record<string, never>; ret: null };
  resume: { args: Record<string, never>; ret: null };
}

/** Name of the Tauri event carrying UiEvent. */
export const ENGINE_EVENT = "engine";
