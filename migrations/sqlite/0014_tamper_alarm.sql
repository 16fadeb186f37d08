-- The tamper alarm: a door's tamper switch (enclosure opened) is an alarm like a forced
-- door. Only the list of kinds an event alarm may have changes; SQLite cannot alter a
-- CHECK, so the table is rebuilt with its rows, key, constraint and triggers as they were.

CREATE TABLE event_alarms_next (
    id        BLOB PRIMARY KEY NOT NULL,
    -- No foreign key: access_events is append-only, and PostgreSQL would check one
    -- before the trigger that refuses TRUNCATE.
    event_id  BLOB NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('forced_open', 'held_open', 'lock_fault',
                                            'clock_offset', 'policy_stale', 'journal_full',
                                            'duress', 'pin_lockout', 'anti_passback_violation',
                                            'tamper')),
    CONSTRAINT event_alarms_event_kind_key UNIQUE (event_id, kind)
);
INSERT INTO event_alarms_next (id, event_id, kind) SELECT id, event_id, kind FROM event_alarms;
DROP TABLE event_alarms;
ALTER TABLE event_alarms_next RENAME TO event_alarms;
CREATE TRIGGER event_alarms_no_update BEFORE UPDATE ON event_alarms
BEGIN
    SELECT RAISE(ABORT, 'event_alarms is append-only');
END;
CREATE TRIGGER event_alarms_no_delete BEFORE DELETE ON event_alarms
BEGIN
    SELECT RAISE(ABORT, 'event_alarms is append-only');
END;
