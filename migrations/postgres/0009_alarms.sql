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

ALTER TABLE agent_alarms DROP CONSTRAINT agent_alarms_kind_check;
ALTER TABLE agent_alarms ADD CONSTRAINT agent_alarms_kind_check
    CHECK (kind IN ('journal_gap', 'chain_broken', 'clock_offset', 'seq_conflict',
                    'agent_offline', 'repeated_denials'));
-- Finding the last alarm of a kind: one agent_offline per outage, one repeated_denials
-- per card and window.
CREATE INDEX agent_alarms_kind_at ON agent_alarms (kind, at);

CREATE TABLE event_alarms (
    id        UUID PRIMARY KEY,
    -- No foreign key: access_events is append-only, and PostgreSQL would check one
    -- before the trigger that refuses TRUNCATE.
    event_id  UUID NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('forced_open', 'held_open', 'lock_fault',
                                            'clock_offset', 'policy_stale', 'journal_full',
                                            'duress', 'pin_lockout', 'anti_passback_violation')),
    CONSTRAINT event_alarms_event_kind_key UNIQUE (event_id, kind)
);
-- reject_change() comes from 0001_operators.sql.
CREATE TRIGGER event_alarms_append_only BEFORE UPDATE OR DELETE ON event_alarms
    FOR EACH ROW EXECUTE FUNCTION reject_change();
CREATE TRIGGER event_alarms_no_truncate BEFORE TRUNCATE ON event_alarms
    FOR EACH STATEMENT EXECUTE FUNCTION reject_change();
-- Door incidents stored before this migration (one alarm per event: its id serves).
-- Presentation alarms live only in the payload and are found from now on.
INSERT INTO event_alarms (id, event_id, kind)
    SELECT id, id, kind FROM access_events
    WHERE kind IN ('forced_open', 'held_open', 'lock_fault', 'clock_offset', 'policy_stale',
                   'journal_full');

CREATE TABLE alarm_acks (
    id           UUID PRIMARY KEY,
    -- An agent_alarms or event_alarms id.
    alarm_id     UUID NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    operator_id  UUID NOT NULL REFERENCES operators (id),
    operator     TEXT NOT NULL,
    note         TEXT NOT NULL CHECK (char_length(note) >= 1),
    -- The operator log entry that records the acknowledgement (and chains it); no
    -- foreign key, as for event_id above.
    log_id       UUID NOT NULL,
    CONSTRAINT alarm_acks_alarm_key UNIQUE (alarm_id),
    CONSTRAINT alarm_acks_log_key UNIQUE (log_id)
);
CREATE TRIGGER alarm_acks_append_only BEFORE UPDATE OR DELETE ON alarm_acks
    FOR EACH ROW EXECUTE FUNCTION reject_change();
CREATE TRIGGER alarm_acks_no_truncate BEFORE TRUNCATE ON alarm_acks
    FOR EACH STATEMENT EXECUTE FUNCTION reject_change();

-- The repeated-denials rule, written by each server at start from `[alarms]`, read by
-- the ingest transaction (absent: the built-in defaults).
CREATE TABLE alarm_settings (
    id                         INTEGER PRIMARY KEY CHECK (id = 1),
    repeated_denials           BIGINT NOT NULL,
    repeated_denials_window_s  BIGINT NOT NULL,
    updated_at                 TIMESTAMPTZ NOT NULL
);

-- Counting one card's denials in a window at ingest.
CREATE INDEX access_events_denied_card ON access_events (card, occurred_at)
    WHERE outcome = 'denied';
