-- The tamper alarm: a door's tamper switch (enclosure opened) is an alarm like a forced
-- door. Only the list of kinds an event alarm may have changes.

ALTER TABLE event_alarms DROP CONSTRAINT event_alarms_kind_check;
ALTER TABLE event_alarms ADD CONSTRAINT event_alarms_kind_check
    CHECK (kind IN ('forced_open', 'held_open', 'lock_fault', 'clock_offset', 'policy_stale',
                    'journal_full', 'duress', 'pin_lockout', 'anti_passback_violation',
                    'tamper'));
