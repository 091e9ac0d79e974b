-- A mailbox's history (issue 17): one row per sync run of a channel, and one
-- row per incoming message a run looked at, with why it was or was not
-- tracked. Both are kept `history.retention_days` and purged after that; the
-- idempotency rows (imap_items, pop3_items) are not affected.
CREATE TABLE sync_runs (
    id          INTEGER PRIMARY KEY,
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    channel     TEXT NOT NULL CHECK (channel IN ('incoming', 'outgoing', 'act')),
    started_on  TEXT NOT NULL,
    ended_on    TEXT,                       -- NULL: still running, or the process died
    result      TEXT CHECK (result IS NULL OR result IN ('ok', 'failed', 'skipped')),
    code        TEXT,
    message     TEXT,
    processed   INTEGER NOT NULL DEFAULT 0,
    created     INTEGER NOT NULL DEFAULT 0,
    tracked     INTEGER NOT NULL DEFAULT 0,
    not_tracked INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    capped      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sync_runs_mailbox ON sync_runs(mailbox_id, started_on);
CREATE INDEX sync_runs_started ON sync_runs(started_on);

CREATE TABLE seen_messages (
    id          INTEGER PRIMARY KEY,
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    run_id      INTEGER REFERENCES sync_runs(id) ON DELETE SET NULL,
    seen_on     TEXT NOT NULL,
    item_ref    TEXT NOT NULL,
    message_id  TEXT,
    subject     TEXT,
    sender      TEXT,
    received_on TEXT,
    outcome     TEXT NOT NULL CHECK (outcome IN ('tracked', 'not_tracked', 'failed')),
    reason      TEXT NOT NULL,              -- stable code, e.g. FILTER_RESPONSES
    detail      TEXT NOT NULL,              -- the reason in words
    activity_id INTEGER
);
CREATE INDEX seen_messages_mailbox ON seen_messages(mailbox_id, message_id);
CREATE INDEX seen_messages_run ON seen_messages(run_id);
CREATE INDEX seen_messages_seen ON seen_messages(seen_on);
