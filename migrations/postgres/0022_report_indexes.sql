-- Reports (ISO 28000 monitoring): a card's last use is the newest of its events, one
-- look-up per card in this index instead of reading every event of the card (the
-- `(credential_id, id)` index of 0008 is in arrival order, not occurrence order).
CREATE INDEX access_events_credential_occurred ON access_events (credential_id, occurred_at);

-- A site's passages over a period, counted per quarter hour, door, outcome, kind,
-- direction and reason from this index alone: one range per door of the site, without
-- reading the rows (their payloads make the table ten times the index). Without it, a
-- year's report read every row of the year (BENCHMARKS.md, "Reports").
CREATE INDEX access_events_door_period
    ON access_events (door_id, occurred_at, outcome, kind, direction, reason);
