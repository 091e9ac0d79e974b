-- crmsync store, version 8: Microsoft 365 profiles (Microsoft Graph).
-- The profile kind is checked by the table's CHECK constraint, which SQLite
-- cannot alter: the profiles table is rebuilt (the 12-step procedure of
-- SQLite's ALTER TABLE documentation; the migration runs with foreign keys
-- off and checks them before it commits, so mailboxes and OAuth2 tokens keep
-- pointing at their profiles). New: kind 'microsoft365' and `graph_url`, the
-- Graph service root when it is not Microsoft's (NULL: the preset's).

CREATE TABLE email_server_profiles_v8 (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE COLLATE NOCASE,
    kind               TEXT NOT NULL CHECK (kind IN ('imap-smtp', 'pop3-smtp', 'exchange', 'microsoft365')),
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
    password_enc       BLOB,
    max_connections    INTEGER NOT NULL DEFAULT 10 CHECK (max_connections >= 1),
    min_poll_interval  INTEGER NOT NULL DEFAULT 60 CHECK (min_poll_interval >= 0),
    timeout            INTEGER NOT NULL DEFAULT 60 CHECK (timeout >= 1),
    process_from       TEXT,
    allow_insecure     INTEGER NOT NULL DEFAULT 0,
    last_test_on       TEXT,
    last_test_status   TEXT,
    last_test_message  TEXT,
    created_on         TEXT NOT NULL,
    modified_on        TEXT NOT NULL,
    auth               TEXT NOT NULL DEFAULT 'password' CHECK (auth IN ('password', 'oauth2')),
    oauth_provider     TEXT CHECK (oauth_provider IS NULL OR oauth_provider IN ('microsoft', 'google', 'custom')),
    oauth_client_id    TEXT,
    oauth_client_secret_enc BLOB,
    oauth_tenant       TEXT,
    oauth_issuer       TEXT,
    oauth_authorize_url TEXT,
    oauth_token_url    TEXT,
    oauth_device_url   TEXT,
    oauth_scopes       TEXT,
    graph_url          TEXT
);

INSERT INTO email_server_profiles_v8 (id, name, kind, incoming_host, incoming_port, incoming_security,
    outgoing_host, outgoing_port, outgoing_security, outgoing_auth, ews_url, dav_url, credentials, username,
    password_enc, max_connections, min_poll_interval, timeout, process_from, allow_insecure, last_test_on,
    last_test_status, last_test_message, created_on, modified_on, auth, oauth_provider, oauth_client_id,
    oauth_client_secret_enc, oauth_tenant, oauth_issuer, oauth_authorize_url, oauth_token_url,
    oauth_device_url, oauth_scopes)
SELECT id, name, kind, incoming_host, incoming_port, incoming_security,
    outgoing_host, outgoing_port, outgoing_security, outgoing_auth, ews_url, dav_url, credentials, username,
    password_enc, max_connections, min_poll_interval, timeout, process_from, allow_insecure, last_test_on,
    last_test_status, last_test_message, created_on, modified_on, auth, oauth_provider, oauth_client_id,
    oauth_client_secret_enc, oauth_tenant, oauth_issuer, oauth_authorize_url, oauth_token_url,
    oauth_device_url, oauth_scopes
FROM email_server_profiles;

DROP TABLE email_server_profiles;
ALTER TABLE email_server_profiles_v8 RENAME TO email_server_profiles;

-- Graph mail sync state. The delta link of each folder is the durable
-- watermark (NULL: the next round starts from scratch, e.g. after a 410).
CREATE TABLE graph_folder_state (
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folder      TEXT NOT NULL,
    delta_link  TEXT,
    PRIMARY KEY (mailbox_id, folder)
);

-- Idempotency key (mailbox, folder, Graph message id) of every message
-- processed; `server_change` is the change still to make on the server after
-- the commit: NULL none, 'read' or 'delete' pending, 'done' made.
CREATE TABLE graph_items (
    mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folder        TEXT NOT NULL,
    item_id       TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('tracked', 'not_tracked', 'failed')),
    server_change TEXT CHECK (server_change IN ('read', 'delete', 'done')),
    processed_on  TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, folder, item_id)
);
