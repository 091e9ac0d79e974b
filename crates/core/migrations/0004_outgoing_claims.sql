-- crmsync store, version 4: outgoing emails are claimed a few at a time (one
-- disk flush for several) and each records when its SMTP transaction began.
-- An email claimed by a pass that stopped before starting it is put back at
-- once, without a Sent-folder lookup or a duplicate warning; the claim token
-- keeps two passes from both sending an email one of them put back.

ALTER TABLE emails ADD COLUMN claim_token TEXT;
ALTER TABLE emails ADD COLUMN smtp_started_on TEXT;

-- Mail left in Sending by an earlier version may have been started.
UPDATE emails SET smtp_started_on = sending_since WHERE status = 'sending';
