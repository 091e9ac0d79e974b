-- crmsync store, version 1: the whole data model of DESIGN.md ("The store").
-- Times are RFC 3339 UTC text; ids are integers; enums are lower-case text
-- checked by CHECK constraints so a bad value can never be stored.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,           -- JSON value; absent key = the default in code
    modified_on TEXT NOT NULL
);

CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name       TEXT NOT NULL,
    active     INTEGER NOT NULL DEFAULT 1,
    created_on TEXT NOT NULL
);

CREATE TABLE queues (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name       TEXT NOT NULL,
    active     INTEGER NOT NULL DEFAULT 1,
    created_on TEXT NOT NULL
);

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    email         TEXT COLLATE NOCASE,
    phone         TEXT,
    owner_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    created_on    TEXT NOT NULL,
    modified_on   TEXT NOT NULL
);
CREATE INDEX accounts_email ON accounts(email);

CREATE TABLE contacts (
    id            INTEGER PRIMARY KEY,
    first_name    TEXT,
    last_name     TEXT,
    email         TEXT COLLATE NOCASE,
    email2        TEXT COLLATE NOCASE,
    email3        TEXT COLLATE NOCASE,
    company       TEXT,
    account_id    INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    phone         TEXT,
    mobile_phone  TEXT,
    street        TEXT,
    city          TEXT,
    postal_code   TEXT,
    region        TEXT,
    country       TEXT,
    owner_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    version       INTEGER NOT NULL DEFAULT 1,
    created_on    TEXT NOT NULL,
    modified_on   TEXT NOT NULL
);
CREATE INDEX contacts_email  ON contacts(email);
CREATE INDEX contacts_email2 ON contacts(email2);
CREATE INDEX contacts_email3 ON contacts(email3);

CREATE TABLE leads (
    id            INTEGER PRIMARY KEY,
    first_name    TEXT,
    last_name     TEXT,
    email         TEXT COLLATE NOCASE,
    company       TEXT,
    phone         TEXT,
    owner_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    created_on    TEXT NOT NULL,
    modified_on   TEXT NOT NULL
);
CREATE INDEX leads_email ON leads(email);

CREATE TABLE email_server_profiles (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE COLLATE NOCASE,
    kind               TEXT NOT NULL CHECK (kind IN ('imap-smtp', 'pop3-smtp', 'exchange')),
    incoming_host      TEXT,
    incoming_port      INTEGER CHECK (incoming_port BETWEEN 1 AND 65535),
    incoming_security  TEXT CHECK (incoming_security IN ('tls', 'starttls', 'none')),
    outgoing_host      TEXT,
    outgoing_port      INTEGER CHECK (outgoing_port BETWEEN 1 AND 65535),
    outgoing_security  TEXT CHECK (outgoing_security IN ('tls', 'starttls', 'none')),
    outgoing_auth      TEXT NOT NULL DEFAULT 'password' CHECK (outgoing_auth IN ('password', 'none')),
    ews_url            TEXT,
    dav_url            TEXT,
    credentials        TEXT NOT NULL DEFAULT 'mailbox' CHECK (credentials IN ('mailbox', 'profile')),
    username           TEXT,
    password_enc       BLOB,            -- AES-256-GCM, see core::secrets
    max_connections    INTEGER NOT NULL DEFAULT 10 CHECK (max_connections >= 1),
    min_poll_interval  INTEGER NOT NULL DEFAULT 60 CHECK (min_poll_interval >= 0),
    timeout            INTEGER NOT NULL DEFAULT 60 CHECK (timeout >= 1),
    process_from       TEXT,
    allow_insecure     INTEGER NOT NULL DEFAULT 0,
    last_test_on       TEXT,
    last_test_status   TEXT,
    last_test_message  TEXT,
    created_on         TEXT NOT NULL,
    modified_on        TEXT NOT NULL
);

CREATE TABLE mailboxes (
    id                      INTEGER PRIMARY KEY,
    email                   TEXT NOT NULL UNIQUE COLLATE NOCASE,
    user_id                 INTEGER REFERENCES users(id) ON DELETE RESTRICT,
    queue_id                INTEGER REFERENCES queues(id) ON DELETE RESTRICT,
    profile_id              INTEGER NOT NULL REFERENCES email_server_profiles(id) ON DELETE RESTRICT,
    username                TEXT,
    password_enc            BLOB,
    credentials_required    INTEGER NOT NULL DEFAULT 0,
    incoming_method         TEXT NOT NULL DEFAULT 'server-side' CHECK (incoming_method IN ('server-side', 'forward', 'none')),
    outgoing_method         TEXT NOT NULL DEFAULT 'server-side' CHECK (outgoing_method IN ('server-side', 'none')),
    act_method              TEXT NOT NULL DEFAULT 'none' CHECK (act_method IN ('server-side', 'none')),
    track                   TEXT NOT NULL DEFAULT 'responses' CHECK (track IN ('all', 'responses', 'crm-records', 'email-enabled', 'none')),
    process_from            TEXT,
    delete_after_processing INTEGER NOT NULL DEFAULT 0,
    is_forward_mailbox      INTEGER NOT NULL DEFAULT 0,
    approval                TEXT NOT NULL DEFAULT 'pending' CHECK (approval IN ('pending', 'approved', 'rejected')),
    incoming_status         TEXT NOT NULL DEFAULT 'not-run' CHECK (incoming_status IN ('not-run', 'success', 'failure')),
    outgoing_status         TEXT NOT NULL DEFAULT 'not-run' CHECK (outgoing_status IN ('not-run', 'success', 'failure')),
    act_status              TEXT NOT NULL DEFAULT 'not-run' CHECK (act_status IN ('not-run', 'success', 'failure')),
    incoming_enabled        INTEGER NOT NULL DEFAULT 0,
    outgoing_enabled        INTEGER NOT NULL DEFAULT 0,
    act_enabled             INTEGER NOT NULL DEFAULT 0,
    disabled_reason         TEXT,       -- why the engine disabled it (code), NULL when enabled by hand or never
    first_enabled_on        TEXT,
    last_test_on            TEXT,
    -- status telemetry (the sync service keeps these current)
    processing_state        TEXT NOT NULL DEFAULT 'idle',
    last_sync_started_on    TEXT,
    last_sync_succeeded_on  TEXT,
    next_poll_on            TEXT,
    items_processed_last    INTEGER NOT NULL DEFAULT 0,
    items_failed_last       INTEGER NOT NULL DEFAULT 0,
    transient_failures      INTEGER NOT NULL DEFAULT 0,
    last_error_code         TEXT,
    last_error_message      TEXT,
    last_error_on           TEXT,
    avg_duration_ms         INTEGER,
    created_on              TEXT NOT NULL,
    modified_on             TEXT NOT NULL,
    CHECK ((user_id IS NULL) <> (queue_id IS NULL))
);
CREATE INDEX mailboxes_profile ON mailboxes(profile_id);

-- Folder-level tracking: everything in FOLDER is tracked and regards the record.
CREATE TABLE mailbox_track_folders (
    mailbox_id     INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folder         TEXT NOT NULL,
    regarding_type TEXT NOT NULL CHECK (regarding_type IN ('contact', 'account', 'lead', 'user', 'queue')),
    regarding_id   INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, folder)
);

CREATE TABLE activities (
    id               INTEGER PRIMARY KEY,
    type             TEXT NOT NULL CHECK (type IN ('email', 'appointment', 'task')),
    subject          TEXT NOT NULL DEFAULT '',
    body_text        TEXT,
    body_html        TEXT,
    regarding_type   TEXT CHECK (regarding_type IN ('contact', 'account', 'lead', 'user', 'queue')),
    regarding_id     INTEGER,
    owner_user_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    owner_queue_id   INTEGER REFERENCES queues(id) ON DELETE SET NULL,
    state            TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'completed', 'canceled')),
    version          INTEGER NOT NULL DEFAULT 1,
    created_on       TEXT NOT NULL,
    modified_on      TEXT NOT NULL
);
CREATE INDEX activities_regarding ON activities(regarding_type, regarding_id);

CREATE TABLE emails (
    activity_id        INTEGER PRIMARY KEY REFERENCES activities(id) ON DELETE CASCADE,
    direction          TEXT NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
    status             TEXT NOT NULL CHECK (status IN ('received', 'draft', 'pending_send', 'sending', 'sent', 'failed', 'canceled')),
    message_id         TEXT,           -- without angle brackets
    dedupe_key         TEXT NOT NULL UNIQUE, -- Message-ID, or a digest of the headers when there is none
    in_reply_to        TEXT,
    references_ids     TEXT,           -- space separated Message-IDs
    tracking_token     TEXT,
    correlation_method TEXT NOT NULL DEFAULT 'none' CHECK (correlation_method IN ('none', 'in_reply_to', 'tracking_token', 'smart_match', 'folder')),
    subject_hash       TEXT,           -- smart matching: normalised subject digest
    sender_mailbox_id  INTEGER REFERENCES mailboxes(id) ON DELETE SET NULL,
    received_on        TEXT,
    sent_on            TEXT,
    send_at            TEXT,
    delivery_attempts  INTEGER NOT NULL DEFAULT 0,
    next_attempt_on    TEXT,
    sending_since      TEXT,
    last_error         TEXT,
    flags              TEXT NOT NULL DEFAULT '[]'  -- JSON array, e.g. ["attachments_skipped"]
);
CREATE INDEX emails_message_id ON emails(message_id);
CREATE INDEX emails_token ON emails(tracking_token);
CREATE INDEX emails_subject_hash ON emails(subject_hash);
CREATE INDEX emails_status ON emails(status);

CREATE TABLE appointments (
    activity_id INTEGER PRIMARY KEY REFERENCES activities(id) ON DELETE CASCADE,
    uid         TEXT NOT NULL UNIQUE,   -- iCalendar UID
    location    TEXT,
    starts_on   TEXT NOT NULL,
    ends_on     TEXT NOT NULL,
    all_day     INTEGER NOT NULL DEFAULT 0,
    time_zone   TEXT,
    rrule       TEXT,
    exdates     TEXT NOT NULL DEFAULT '[]',  -- JSON array of excluded occurrence starts
    overrides   TEXT NOT NULL DEFAULT '[]'   -- JSON array of moved/changed occurrences
);

CREATE TABLE tasks (
    activity_id      INTEGER PRIMARY KEY REFERENCES activities(id) ON DELETE CASCADE,
    uid              TEXT NOT NULL UNIQUE,
    due_on           TEXT,
    status           TEXT NOT NULL DEFAULT 'not_started' CHECK (status IN ('not_started', 'in_progress', 'waiting', 'completed', 'deferred')),
    priority         TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high')),
    percent_complete INTEGER NOT NULL DEFAULT 0 CHECK (percent_complete BETWEEN 0 AND 100)
);

CREATE TABLE activity_parties (
    id          INTEGER PRIMARY KEY,
    activity_id INTEGER NOT NULL REFERENCES activities(id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('from', 'to', 'cc', 'bcc', 'organizer', 'required', 'optional')),
    address     TEXT COLLATE NOCASE,
    name        TEXT,
    record_type TEXT CHECK (record_type IN ('contact', 'account', 'lead', 'user', 'queue')),
    record_id   INTEGER,
    position    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX activity_parties_activity ON activity_parties(activity_id);
CREATE INDEX activity_parties_record ON activity_parties(record_type, record_id);
CREATE INDEX activity_parties_address ON activity_parties(address);

CREATE TABLE attachments (
    id          INTEGER PRIMARY KEY,
    activity_id INTEGER NOT NULL REFERENCES activities(id) ON DELETE CASCADE,
    file_name   TEXT NOT NULL,
    mime_type   TEXT NOT NULL,
    size        INTEGER NOT NULL,
    content     BLOB,                  -- NULL when not saved (over the size limit)
    saved       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX attachments_activity ON attachments(activity_id);

-- Which mailboxes received an email activity (one activity, many mailboxes).
CREATE TABLE email_receipts (
    activity_id INTEGER NOT NULL REFERENCES activities(id) ON DELETE CASCADE,
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folder      TEXT NOT NULL,
    received_on TEXT NOT NULL,
    PRIMARY KEY (activity_id, mailbox_id)
);

CREATE TABLE queue_items (
    id          INTEGER PRIMARY KEY,
    queue_id    INTEGER NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    activity_id INTEGER NOT NULL REFERENCES activities(id) ON DELETE CASCADE,
    created_on  TEXT NOT NULL,
    UNIQUE (queue_id, activity_id)
);

CREATE TABLE alerts (
    id           INTEGER PRIMARY KEY,
    severity     TEXT NOT NULL CHECK (severity IN ('error', 'warning', 'info')),
    scope        TEXT NOT NULL CHECK (scope IN ('mailbox', 'profile', 'item', 'system')),
    mailbox_id   INTEGER REFERENCES mailboxes(id) ON DELETE CASCADE,
    profile_id   INTEGER REFERENCES email_server_profiles(id) ON DELETE CASCADE,
    activity_id  INTEGER REFERENCES activities(id) ON DELETE SET NULL,
    item_ref     TEXT,                 -- e.g. "INBOX/1234/17" for an item that never became an activity
    code         TEXT NOT NULL,
    message      TEXT NOT NULL,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    count        INTEGER NOT NULL DEFAULT 1,
    acknowledged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alerts_mailbox ON alerts(mailbox_id);
CREATE INDEX alerts_fold ON alerts(code, scope, mailbox_id, profile_id, item_ref);

-- Sync state: IMAP folder watermark (folder, UIDVALIDITY, last UID).
CREATE TABLE imap_folder_state (
    mailbox_id     INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folder         TEXT NOT NULL,
    uidvalidity    INTEGER NOT NULL,
    last_uid       INTEGER NOT NULL DEFAULT 0,
    highest_modseq INTEGER,
    PRIMARY KEY (mailbox_id, folder)
);

-- Idempotency key (mailbox, folder, UIDVALIDITY, UID) of every message processed.
CREATE TABLE imap_items (
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folder      TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid         INTEGER NOT NULL,
    activity_id INTEGER REFERENCES activities(id) ON DELETE SET NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('tracked', 'not_tracked', 'failed')),
    seen_set    INTEGER NOT NULL DEFAULT 0,  -- \Seen stored on the server after commit
    processed_on TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, folder, uidvalidity, uid)
);

-- POP3: the set of seen UIDLs.
CREATE TABLE pop3_items (
    mailbox_id   INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uidl         TEXT NOT NULL,
    activity_id  INTEGER REFERENCES activities(id) ON DELETE SET NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('tracked', 'not_tracked', 'failed')),
    deleted      INTEGER NOT NULL DEFAULT 0,
    processed_on TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, uidl)
);

-- A message that failed to parse or process, kept whole so nothing is lost.
CREATE TABLE failed_items (
    id          INTEGER PRIMARY KEY,
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    item_ref    TEXT NOT NULL,
    raw         BLOB NOT NULL,
    error       TEXT NOT NULL,
    created_on  TEXT NOT NULL,
    UNIQUE (mailbox_id, item_ref)
);

-- ACT (appointments, contacts, tasks): one row per remote collection.
CREATE TABLE act_collections (
    id          INTEGER PRIMARY KEY,
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('calendar', 'tasks', 'contacts')),
    url         TEXT NOT NULL,
    sync_token  TEXT,
    ctag        TEXT,
    last_sync_on TEXT,
    UNIQUE (mailbox_id, kind)
);

-- ACT: a status row per synced item (vdirsyncer model).
CREATE TABLE act_items (
    id            INTEGER PRIMARY KEY,
    collection_id INTEGER NOT NULL REFERENCES act_collections(id) ON DELETE CASCADE,
    record_type   TEXT NOT NULL CHECK (record_type IN ('appointment', 'task', 'contact')),
    record_id     INTEGER NOT NULL,
    crm_version   INTEGER NOT NULL,
    href          TEXT NOT NULL,
    etag          TEXT,
    content_hash  TEXT NOT NULL,
    UNIQUE (collection_id, href),
    UNIQUE (collection_id, record_type, record_id)
);

-- The single-runner lease: one engine (service or desktop app) per store.
CREATE TABLE lease (
    name         TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    host         TEXT NOT NULL,
    acquired_on  TEXT NOT NULL,
    heartbeat_on TEXT NOT NULL
);
