-- Live alarms. Three sources, one model in the API:
--
-- * alarms the server raises by itself (an agent gone quiet, one card denied again and
--   again) are new kinds of `agent_alarms`, so they are append-only and hash-chained
--   like the ingest alarms already there;
-- * alarms from door events stay in `access_events`: `event_alarms` only points at the
--   events that are alarms (a door incident, or a presentation that raised duress, a
--   PIN lock-out or an anti-passback violation, which only the payload says), so the
--   console finds them without scanning every event;
-- * `alarm_acks`: each alarm acknowledged once, with the officer's note; the operator
--   log entry written in the same transaction puts the acknowledgement in the chain.

-- SQLite cannot change a CHECK constraint: the table is rebuilt with the same rows
-- (every column unchanged, so the chain's digests still match), then its index and
-- append-only triggers are made again.
DROP TRIGGER agent_alarms_no_update;
DROP TRIGGER agent_alarms_no_delete;
CREATE TABLE agent_alarms_rebuilt (
    id        BLOB PRIMARY KEY NOT NULL,
    agent_id  BLOB NOT NULL REFERENCES agents (id),
    at        TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('journal_gap', 'chain_broken', 'clock_offset',
                                            'seq_conflict', 'agent_offline', 'repeated_denials')),
    detail    TEXT NOT NULL
);
INSERT INTO agent_alarms_rebuilt (id, agent_id, at, kind, detail)
    SELECT id, agent_id, at, kind, detail FROM agent_alarms;
DROP TABLE agent_alarms;
ALTER TABLE agent_alarms_rebuilt RENAME TO agent_alarms;
CREATE INDEX agent_alarms_agent ON agent_alarms (agent_id, id);
-- Finding the last alarm of a kind: one agent_offline per outage, one repeated_denials
-- per card and window.
CREATE INDEX agent_alarms_kind_at ON agent_alarms (kind, at);
CREATE TRIGGER agent_alarms_no_update BEFORE UPDATE ON agent_alarms
BEGIN
    SELECT RAISE(ABORT, 'agent_alarms is append-only');
END;
CREATE TRIGGER agent_alarms_no_delete BEFORE DELETE ON agent_alarms
BEGIN
    SELECT RAISE(ABORT, 'agent_alarms is append-only');
END;

CREATE TABLE event_alarms (
    id        BLOB PRIMARY KEY NOT NULL,
    -- No foreign key: access_events is append-only, and PostgreSQL would check one
    -- before the trigger that refuses TRUNCATE.
    event_id  BLOB NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('forced_open', 'held_open', 'lock_fault',
                                            'clock_offset', 'policy_stale', 'journal_full',
                                            'duress', 'pin_lockout', 'anti_passback_violation')),
    CONSTRAINT event_alarms_event_kind_key UNIQUE (event_id, kind)
);
CREATE TRIGGER event_alarms_no_update BEFORE UPDATE ON event_alarms
BEGIN
    SELECT RAISE(ABORT, 'event_alarms is append-only');
END;
CREATE TRIGGER event_alarms_no_delete BEFORE DELETE ON event_alarms
BEGIN
    SELECT RAISE(ABORT, 'event_alarms is append-only');
END;
-- Door incidents stored before this migration (one alarm per event: its id serves).
-- Presentation alarms live only in the payload and are found from now on.
INSERT INTO event_alarms (id, event_id, kind)
    SELECT id, id, kind FROM access_events
    WHERE kind IN ('forced_open', 'held_open', 'lock_fault', 'clock_offset', 'policy_stale',
                   'journal_full');

CREATE TABLE alarm_acks (
    id           BLOB PRIMARY KEY NOT NULL,
    -- An agent_alarms or event_alarms id.
    alarm_id     BLOB NOT NULL,
    at           TEXT NOT NULL,
    operator_id  BLOB NOT NULL REFERENCES operators (id),
    operator     TEXT NOT NULL,
    note         TEXT NOT NULL CHECK (length(note) >= 1),
    -- The operator log entry that records the acknowledgement (and chains it); no
    -- foreign key, as for event_id above.
    log_id       BLOB NOT NULL,
    CONSTRAINT alarm_acks_alarm_key UNIQUE (alarm_id),
    CONSTRAINT alarm_acks_log_key UNIQUE (log_id)
);
CREATE TRIGGER alarm_acks_no_update BEFORE UPDATE ON alarm_acks
BEGIN
    SELECT RAISE(ABORT, 'alarm_acks is append-only');
END;
CREATE TRIGGER alarm_acks_no_delete BEFORE DELETE ON alarm_acks
BEGIN
    SELECT RAISE(ABORT, 'alarm_acks is append-only');
END;

-- The repeated-denials rule, written by each server at start from `[alarms]`, read by
-- the ingest transaction (absent: the built-in defaults).
CREATE TABLE alarm_settings (
    id                         INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    repeated_denials           BIGINT NOT NULL,
    repeated_denials_window_s  BIGINT NOT NULL,
    updated_at                 TEXT NOT NULL
);

-- Counting one card's denials in a window at ingest.
CREATE INDEX access_events_denied_card ON access_events (card, occurred_at)
    WHERE outcome = 'denied';
