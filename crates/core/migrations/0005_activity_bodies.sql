-- crmsync store, version 5: activity bodies in a table of their own.
-- An activity's state, version and modified_on change over its life (an email
-- claimed, sent, correlated; a task completed); its body does not. SQLite
-- writes a row that changes size anew, overflow pages and all, so with the
-- body in the activity row each state change rewrote the whole body: ~16 KB
-- of store log for a 10 KB email being marked Sent.

CREATE TABLE activity_bodies (
    activity_id INTEGER PRIMARY KEY REFERENCES activities(id) ON DELETE CASCADE,
    body_text   TEXT,
    body_html   TEXT
);

INSERT INTO activity_bodies (activity_id, body_text, body_html)
    SELECT id, body_text, body_html FROM activities WHERE body_text IS NOT NULL OR body_html IS NOT NULL;

ALTER TABLE activities DROP COLUMN body_text;
ALTER TABLE activities DROP COLUMN body_html;
