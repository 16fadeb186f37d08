-- A zone's max_occupancy becomes a decision rule (an entry that would exceed it is
-- refused with `zone_full`), so the database holds only the limits the API accepts:
-- 1 to 1,000,000, or NULL for none. A stored 0 would now refuse every entry, and the
-- API never wrote one (nor anything above 1,000,000): such values can only come from
-- a manual edit, and are cleared to "no limit". The policy version moves on if any
-- was, so door agents fetch the corrected policy.

UPDATE policy_state
SET version = version + 1, changed_at = now()
WHERE id = 1
  AND EXISTS (SELECT 1 FROM zones WHERE max_occupancy NOT BETWEEN 1 AND 1000000);

UPDATE zones SET max_occupancy = NULL WHERE max_occupancy NOT BETWEEN 1 AND 1000000;

ALTER TABLE zones DROP CONSTRAINT zones_max_occupancy_check;
ALTER TABLE zones ADD CONSTRAINT zones_max_occupancy_check
    CHECK (max_occupancy BETWEEN 1 AND 1000000);
