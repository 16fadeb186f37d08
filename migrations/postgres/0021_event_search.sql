-- The events search of the console (issue 12) and the operator log's filters. See "The
-- events list" in server/src/store/events/list.rs for which query reads which index.
--
-- * Early events (received before they occurred, by the clocks) get a generated
--   column, `arrived_early`, like `arrived_late` (0008), and their partial indexes are
--   made again on it. PostgreSQL estimated `received_at < occurred_at` (two columns
--   compared) at a third of the rows, so it read a month's or a year's events from
--   `access_events_occurred` to find the few early ones (180-240 ms at 10 million
--   events, BENCHMARKS.md); with the column it has statistics (almost always false)
--   and reads the partial index.
-- * A card number drives a page like a credential: `(card, id)` and its early and
--   late partial indexes.
-- * A zone's events include the door incidents at the doors leading into it, which
--   carry no zone: they are read in id order from `access_events_incident`, whose
--   predicate lists the kinds of `INCIDENT_KINDS` (server/src/store/events/mod.rs)
--   exactly as the query spells them.
-- * The operator log is searched by actor, action, target and period, in `seq` order
--   (the page's order) from the cursor.

ALTER TABLE access_events ADD COLUMN arrived_early BOOLEAN GENERATED ALWAYS AS (
    received_at < occurred_at
) STORED;

DROP INDEX access_events_early;
DROP INDEX access_events_early_door;
DROP INDEX access_events_early_person;
DROP INDEX access_events_early_credential;
DROP INDEX access_events_early_zone;
DROP INDEX access_events_early_reason;
DROP INDEX access_events_early_kind;

CREATE INDEX access_events_early ON access_events (occurred_at, id) WHERE arrived_early;
CREATE INDEX access_events_early_door ON access_events (door_id, occurred_at, id)
    WHERE arrived_early;
CREATE INDEX access_events_early_person ON access_events (person_id, occurred_at, id)
    WHERE arrived_early;
CREATE INDEX access_events_early_credential
    ON access_events (credential_id, occurred_at, id)
    WHERE arrived_early;
CREATE INDEX access_events_early_zone ON access_events (zone_id, occurred_at, id)
    WHERE arrived_early;
CREATE INDEX access_events_early_reason ON access_events (reason, occurred_at, id)
    WHERE arrived_early;
CREATE INDEX access_events_early_kind ON access_events (kind, occurred_at, id)
    WHERE arrived_early;

CREATE INDEX access_events_card ON access_events (card, id);
CREATE INDEX access_events_early_card ON access_events (card, occurred_at, id)
    WHERE arrived_early;
CREATE INDEX access_events_late_card ON access_events (card, occurred_at, id)
    WHERE arrived_late;

CREATE INDEX access_events_incident ON access_events (id)
    WHERE kind IN ('forced_open', 'held_open', 'held_open_cleared', 'not_opened_after_grant',
                   'policy_stale', 'journal_full', 'reader_error', 'agent_started',
                   'lock_fault', 'clock_offset', 'tamper', 'tamper_cleared',
                   'presence_unconfirmed');

CREATE INDEX operator_log_actor ON operator_log (actor, seq);
CREATE INDEX operator_log_action ON operator_log (action, seq);
CREATE INDEX operator_log_target ON operator_log (target_type, target_id, seq);
CREATE INDEX operator_log_at ON operator_log (at);
