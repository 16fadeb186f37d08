-- "Why was this denied?": a door agent journals the decision trace it computed with each
-- presentation (every rule checked, in order, up to the one that decided), and the server
-- keeps it with the event, as the agent sent it: a JSON array of
-- {"check", "passed", "detail"}, so an event's detail shows the rules the door held at
-- the time, not today's. NULL on every other event and on presentations from agents that
-- did not record one. Text on both databases, byte for byte as written, since the audit
-- chain commits to it. A nullable column keeps the rows; the append-only triggers stay.
ALTER TABLE access_events ADD COLUMN trace TEXT;
