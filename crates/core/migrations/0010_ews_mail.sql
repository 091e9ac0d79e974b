-- crmsync store, version 8: Exchange (EWS) incoming mail.

-- The SyncState of each synced folder: the durable watermark of an Exchange
-- mailbox, moved in the same transaction as the messages it covers. NULL (or
-- no row): the next pass syncs the folder from the start (the first pass, and
-- after ErrorInvalidSyncStateData); dedupe keeps one activity per message.
CREATE TABLE ews_folder_state (
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folder      TEXT NOT NULL,
    sync_state  TEXT,
    PRIMARY KEY (mailbox_id, folder)
);

-- Idempotency key (mailbox, EWS ItemId) of every message a pass processed,
-- with the server change it still owes: `pending` is 'read' (mark read) or
-- 'delete' (delete-after-processing) until the change is made after the
-- commit, then NULL. A pass that died between commit and change finishes it.
CREATE TABLE ews_items (
    mailbox_id   INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folder       TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('tracked', 'not_tracked', 'failed')),
    pending      TEXT CHECK (pending IS NULL OR pending IN ('read', 'delete')),
    processed_on TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, item_id)
);
