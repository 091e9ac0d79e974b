-- crmsync store, version 3 (numbered 3: version 2 belongs to the outgoing
-- branch and is reconciled at merge): two-way ACT sync of appointments,
-- contacts and tasks (docs/act-sync.md).

-- Contacts get an iCalendar/vCard UID so a synced contact keeps its identity.
ALTER TABLE contacts ADD COLUMN uid TEXT;
CREATE UNIQUE INDEX contacts_uid ON contacts(uid) WHERE uid IS NOT NULL;
-- Appointments and tasks are matched by UID on first sync.
CREATE INDEX appointments_uid_nocase ON appointments(uid COLLATE NOCASE);

-- Per-mailbox ACT configuration: the sync filter (rules OR-ed) and the
-- per-field directions. Absent row = the defaults in code (core::act::config).
CREATE TABLE act_mailbox_settings (
    mailbox_id  INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    filters     TEXT NOT NULL,          -- JSON array of rules, e.g. ["appointment:organizer", "contact:owned"]
    directions  TEXT NOT NULL,          -- JSON object field -> direction, e.g. {"body": "crm-to-server"}
    modified_on TEXT NOT NULL
);

-- The mass-delete brake of a collection: held until the admin confirms.
ALTER TABLE act_collections ADD COLUMN brake_held_on TEXT;
ALTER TABLE act_collections ADD COLUMN brake_side TEXT CHECK (brake_side IN ('crm', 'server'));
ALTER TABLE act_collections ADD COLUMN brake_deletes INTEGER;
ALTER TABLE act_collections ADD COLUMN brake_confirmed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE act_collections ADD COLUMN display_name TEXT;

-- The status row keeps a hash per side: the CRM item as last synced
-- (content_hash) and the server item as last seen (remote_hash), so fields
-- that flow one way only do not look like changes.
ALTER TABLE act_items ADD COLUMN remote_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE act_items ADD COLUMN uid TEXT;
ALTER TABLE act_items ADD COLUMN synced_on TEXT;
CREATE INDEX act_items_record ON act_items(record_type, record_id);
