-- Assurance per zone (issue 15): a zone's minimum credential assurance (`uid` or
-- `secure`), a site's threat level from which every zone needs secure cards, and the
-- alarm a door raises for a card that is not authentic (a clone, a forgery).
--
-- Existing zones accept UID cards and no site raises the assurance, as before: nothing
-- a door decides changes until an operator sets them, so the policy version stays.
-- The policy_changes triggers of 0030 fire on any update of zones and sites, whatever
-- the column, so the new columns travel in deltas with no trigger change.

ALTER TABLE zones ADD COLUMN min_assurance TEXT NOT NULL DEFAULT 'uid'
    CONSTRAINT zones_min_assurance_check CHECK (min_assurance IN ('uid', 'secure'));

ALTER TABLE sites ADD COLUMN secure_cards_from_threat_level INTEGER
    CONSTRAINT sites_secure_cards_from_threat_level_check
    CHECK (secure_cards_from_threat_level BETWEEN 0 AND 255);

ALTER TABLE event_alarms DROP CONSTRAINT event_alarms_kind_check;
ALTER TABLE event_alarms ADD CONSTRAINT event_alarms_kind_check
    CHECK (kind IN ('forced_open', 'held_open', 'lock_fault', 'clock_offset', 'policy_stale',
                    'journal_full', 'duress', 'pin_lockout', 'anti_passback_violation',
                    'tamper', 'credential_not_authentic'));
