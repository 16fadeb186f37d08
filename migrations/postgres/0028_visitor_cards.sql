-- Visitor cards (issue 13): the pool of cards reception hands out to visitors, the
-- alarm for a card not returned, and musters that list visitors who never badged.

-- A site's visitor cards, registered once. `credential_id` and `visit_id` name the
-- current (or last) issue; an `unreturned` card keeps them so the desk knows who has it.
CREATE TABLE visitor_cards (
    id             UUID PRIMARY KEY,
    site_id        UUID NOT NULL REFERENCES sites (id),
    -- Normalised like a credential's card (upper-case hex, no separators).
    card           TEXT NOT NULL,
    label          TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN
                       ('available', 'issued', 'unreturned', 'lost', 'retired')),
    credential_id  UUID REFERENCES credentials (id),
    visit_id       UUID REFERENCES visits (id),
    -- The `visitor_card_unreturned` alarm raised for the current issue (once).
    alarm_id       UUID,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT visitor_cards_card_key UNIQUE (card),
    CONSTRAINT visitor_cards_label_key UNIQUE (site_id, label)
);
CREATE INDEX visitor_cards_state ON visitor_cards (site_id, state);
CREATE INDEX visitor_cards_visit ON visitor_cards (visit_id);

-- A pool card not returned by its visit's end is a server alarm.
ALTER TABLE agent_alarms DROP CONSTRAINT agent_alarms_kind_check;
ALTER TABLE agent_alarms ADD CONSTRAINT agent_alarms_kind_check
    CHECK (kind IN ('journal_gap', 'chain_broken', 'clock_offset', 'seq_conflict',
                    'agent_offline', 'repeated_denials', 'visitor_card_unreturned'));

-- A checked-in visitor who never badged is on the muster with no zone or door.
ALTER TABLE muster_people ALTER COLUMN zone_id DROP NOT NULL;
ALTER TABLE muster_people ALTER COLUMN door_id DROP NOT NULL;
