-- A zone's max_occupancy becomes a decision rule (an entry that would exceed it is
-- refused with `zone_full`), so the database holds only the limits the API accepts:
-- 1 to 1,000,000, or NULL for none. A stored 0 would now refuse every entry, and the
-- API never wrote one (nor anything above 1,000,000): such values can only come from
-- a manual edit, and are cleared to "no limit". The policy version moves on if any
-- was, so door agents fetch the corrected policy.
--
-- SQLite cannot change a column's CHECK constraint in place (that means rebuilding
-- the zones table that doors, grants and visits refer to), so triggers refuse the
-- out-of-range values the 0003 constraint still lets through.

UPDATE policy_state
SET version = version + 1, changed_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
WHERE id = 1
  AND EXISTS (SELECT 1 FROM zones WHERE max_occupancy NOT BETWEEN 1 AND 1000000);

UPDATE zones SET max_occupancy = NULL WHERE max_occupancy NOT BETWEEN 1 AND 1000000;

CREATE TRIGGER zones_max_occupancy_insert BEFORE INSERT ON zones
WHEN NEW.max_occupancy IS NOT NULL AND NEW.max_occupancy NOT BETWEEN 1 AND 1000000
BEGIN
    SELECT RAISE(ABORT, 'zones.max_occupancy must be between 1 and 1000000');
END;

CREATE TRIGGER zones_max_occupancy_update BEFORE UPDATE OF max_occupancy ON zones
WHEN NEW.max_occupancy IS NOT NULL AND NEW.max_occupancy NOT BETWEEN 1 AND 1000000
BEGIN
    SELECT RAISE(ABORT, 'zones.max_occupancy must be between 1 and 1000000');
END;
