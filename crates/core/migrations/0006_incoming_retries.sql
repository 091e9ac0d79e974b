-- crmsync store, version 6: incoming server changes and fetches that must
-- survive a crash or a lost connection.

-- Delete-after-processing of an IMAP message, kept with the message's row so a
-- delete that did not happen after the commit (kill, connection lost) is
-- finished at the start of the next pass: NULL no delete wanted (rows from
-- before this version included), 0 delete pending, 1 deleted on the server.
ALTER TABLE imap_items ADD COLUMN deleted INTEGER;

-- What an incoming email's Message-ID vouches for: a digest of its sender,
-- Date and body (NULL for email stored before this version, and for email the
-- CRM sent). A later message with the same Message-ID but another digest is
-- kept as an activity of its own, not merged.
ALTER TABLE emails ADD COLUMN content_hash TEXT;

-- A UID the server listed but did not return in a FETCH (no UID, BODY[] NIL,
-- omitted). The folder watermark stays below it until it is fetched, or until
-- it failed `attempts` passes and was recorded as a failed item.
CREATE TABLE imap_fetch_misses (
    mailbox_id      INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folder          TEXT NOT NULL,
    uidvalidity     INTEGER NOT NULL,
    uid             INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    last_attempt_on TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, folder, uidvalidity, uid)
);
