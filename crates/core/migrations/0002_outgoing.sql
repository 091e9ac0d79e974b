-- crmsync store, version 2: outgoing email.
-- The emails table of version 1 already has the send state (status, send_at,
-- delivery_attempts, next_attempt_on, sending_since, last_error, sent_on,
-- sender_mailbox_id). Added here: whether the copy in the sender's Sent folder
-- is still to be filed (so a crash between the SMTP acceptance and the IMAP
-- APPEND files it on the next run instead of losing it), and an index for the
-- outbox queries of one mailbox.

ALTER TABLE emails ADD COLUMN sent_copy TEXT CHECK (sent_copy IN ('pending', 'saved', 'none'));

CREATE INDEX emails_outbox ON emails(sender_mailbox_id, status);
