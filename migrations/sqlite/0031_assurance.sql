-- Assurance per zone (issue 15): a zone's minimum credential assurance (`uid` or
-- `secure`), a site's threat level from which every zone needs secure cards, and the
-- alarm a door raises for a card that is not authentic (a clone, a forgery).
--
-- Existing zones accept UID cards and no site raises the assurance, as before: nothing
-- a door decides changes until an operator sets them, so the policy version stays.
-- The policy_changes triggers of 0030 fire on any update of zones and sites, whatever
-- the column, so the new columns travel in deltas with no trigger change.

ALTER TABLE zones ADD COLUMN min_assurance TEXT NOT NULL DEFAULT 'uid'
    CHECK (min_assurance IN ('uid', 'secure'));

ALTER TABLE sites ADD COLUMN secure_cards_from_threat_level INTEGER
    CHECK (secure_cards_from_threat_level BETWEEN 0 AND 255);

-- SQLite cannot alter a CHECK: event_alarms is rebuilt with its rows, key, constraint
-- and triggers as 0014 left them, plus the new kind.
CREATE TABLE event_alarms_next (
    id        BLOB PRIMARY KEY NOT NULL,
    -- No foreign key: access_events is append-only, and PostgreSQL would check one
    -- before the trigger that refuses TRUNCATE.
    event_id  BLOB NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('forced_open', 'held_open', 'lock_fault',
                                            'clock_offset', 'policy_stale', 'journal_full',
                                            'duress', 'pin_lockout', 'anti_passback_violation',
                                            'tamper', 'credential_not_authentic')),
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
