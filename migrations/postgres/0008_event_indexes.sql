-- Indexes for the events list (`GET /api/v1/events`), which pages in id order (arrival:
-- ids are UUIDv7 taken at ingest) and must stay fast at 10 million events whatever the
-- filters. "The events list" in server/src/store/events.rs says which query reads which.
--
-- * One `(column, id)` index per equality filter that can drive a page: its rows are
--   read in id order from the cursor until the page is full. Reason and kind have few
--   values, but the rare ones (anti_passback, forced_open...) are what auditors look for.
--   They replace the `(door_id, occurred_at)` and `(person_id, occurred_at)` indexes of
--   0006, which no query reads any more.
-- * A period is walked in id order through the window of ids its events can have. The
--   events outside that window are the early ones (received before they occurred, by
--   the clocks: an agent whose clock runs ahead) and the late ones (received more than
--   an hour after they occurred: an agent that was offline). They are few, and have
--   partial indexes of their own, by period and by period within each filter that can
--   drive a page, the id last so that the cursor is tested before a row is read.
--   `arrived_late` is computed from the row (generated, so it cannot be changed apart
--   from it).

ALTER TABLE access_events ADD COLUMN arrived_late BOOLEAN GENERATED ALWAYS AS (
    received_at - occurred_at > interval '1 hour'
) STORED;

DROP INDEX access_events_door_occurred;
DROP INDEX access_events_person_occurred;

CREATE INDEX access_events_door ON access_events (door_id, id);
CREATE INDEX access_events_person ON access_events (person_id, id);
CREATE INDEX access_events_credential ON access_events (credential_id, id);
CREATE INDEX access_events_zone ON access_events (zone_id, id);
CREATE INDEX access_events_reason ON access_events (reason, id);
CREATE INDEX access_events_kind ON access_events (kind, id);

CREATE INDEX access_events_early ON access_events (occurred_at, id)
    WHERE received_at < occurred_at;
CREATE INDEX access_events_early_door ON access_events (door_id, occurred_at, id)
    WHERE received_at < occurred_at;
CREATE INDEX access_events_early_person ON access_events (person_id, occurred_at, id)
    WHERE received_at < occurred_at;
CREATE INDEX access_events_early_credential
    ON access_events (credential_id, occurred_at, id)
    WHERE received_at < occurred_at;
CREATE INDEX access_events_early_zone ON access_events (zone_id, occurred_at, id)
    WHERE received_at < occurred_at;
CREATE INDEX access_events_early_reason ON access_events (reason, occurred_at, id)
    WHERE received_at < occurred_at;
CREATE INDEX access_events_early_kind ON access_events (kind, occurred_at, id)
    WHERE received_at < occurred_at;

CREATE INDEX access_events_late ON access_events (occurred_at, id)
    WHERE arrived_late;
CREATE INDEX access_events_late_door ON access_events (door_id, occurred_at, id)
    WHERE arrived_late;
CREATE INDEX access_events_late_person ON access_events (person_id, occurred_at, id)
    WHERE arrived_late;
CREATE INDEX access_events_late_credential
    ON access_events (credential_id, occurred_at, id)
    WHERE arrived_late;
CREATE INDEX access_events_late_zone ON access_events (zone_id, occurred_at, id)
    WHERE arrived_late;
CREATE INDEX access_events_late_reason ON access_events (reason, occurred_at, id)
    WHERE arrived_late;
CREATE INDEX access_events_late_kind ON access_events (kind, occurred_at, id)
    WHERE arrived_late;
