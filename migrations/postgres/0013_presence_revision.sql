-- The presence feed door agents follow (GET /api/v1/agent/presence): each presence row
-- carries the audit chain seq of the event that last moved it, a number given out in
-- commit order, so "everything after revision N" never skips a change.

ALTER TABLE presence ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
UPDATE presence SET revision = COALESCE(
    (SELECT seq FROM audit_chain WHERE audit_chain.source = 'event' AND audit_chain.record_id = presence.event_id), 0);
CREATE INDEX presence_revision ON presence (revision);
