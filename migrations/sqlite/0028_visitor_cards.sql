-- Visitor cards (issue 13): the pool of cards reception hands out to visitors, the
-- alarm for a card not returned, and musters that list visitors who never badged.

-- A site's visitor cards, registered once. `credential_id` and `visit_id` name the
-- current (or last) issue; an `unreturned` card keeps them so the desk knows who has it.
CREATE TABLE visitor_cards (
    id             BLOB PRIMARY KEY NOT NULL,
    site_id        BLOB NOT NULL REFERENCES sites (id),
    -- Normalised like a credential's card (upper-case hex, no separators).
    card           TEXT NOT NULL,
    label          TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN
                       ('available', 'issued', 'unreturned', 'lost', 'retired')),
    credential_id  BLOB REFERENCES credentials (id),
    visit_id       BLOB REFERENCES visits (id),
    -- The `visitor_card_unreturned` alarm raised for the current issue (once).
    alarm_id       BLOB,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CONSTRAINT visitor_cards_card_key UNIQUE (card),
    CONSTRAINT visitor_cards_label_key UNIQUE (site_id, label)
);
CREATE INDEX visitor_cards_state ON visitor_cards (site_id, state);
CREATE INDEX visitor_cards_visit ON visitor_cards (visit_id);

-- A pool card not returned by its visit's end is a server alarm. SQLite cannot change a
-- CHECK constraint: the table is rebuilt with the same rows (every column unchanged, so
-- the chain's digests still match), then its indexes and append-only triggers again.
DROP TRIGGER agent_alarms_no_update;
DROP TRIGGER agent_alarms_no_delete;
CREATE TABLE agent_alarms_rebuilt (
    id        BLOB PRIMARY KEY NOT NULL,
    agent_id  BLOB NOT NULL REFERENCES agents (id),
    at        TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('journal_gap', 'chain_broken', 'clock_offset',
                                            'seq_conflict', 'agent_offline', 'repeated_denials',
                                            'visitor_card_unreturned')),
    detail    TEXT NOT NULL
);
INSERT INTO agent_alarms_rebuilt (id, agent_id, at, kind, detail)
    SELECT id, agent_id, at, kind, detail FROM agent_alarms;
DROP TABLE agent_alarms;
ALTER TABLE agent_alarms_rebuilt RENAME TO agent_alarms;
CREATE INDEX agent_alarms_agent ON agent_alarms (agent_id, id);
CREATE INDEX agent_alarms_kind_at ON agent_alarms (kind, at);
CREATE TRIGGER agent_alarms_no_update BEFORE UPDATE ON agent_alarms
BEGIN
    SELECT RAISE(ABORT, 'agent_alarms is append-only');
END;
CREATE TRIGGER agent_alarms_no_delete BEFORE DELETE ON agent_alarms
BEGIN
    SELECT RAISE(ABORT, 'agent_alarms is append-only');
END;

-- A checked-in visitor who never badged is on the muster with no zone or door.
CREATE TABLE muster_people_rebuilt (
    muster_id      BLOB NOT NULL REFERENCES musters (id),
    holder_id      BLOB NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('person', 'visitor')),
    name           TEXT NOT NULL,
    zone_id        BLOB,
    zone_name      TEXT NOT NULL,
    door_id        BLOB,
    door_name      TEXT,
    direction      TEXT NOT NULL,
    since          TEXT NOT NULL,
    accounted_at   TEXT,
    accounted_by   TEXT,
    note           TEXT,
    PRIMARY KEY (muster_id, holder_id)
);
INSERT INTO muster_people_rebuilt SELECT muster_id, holder_id, kind, name, zone_id, zone_name,
    door_id, door_name, direction, since, accounted_at, accounted_by, note FROM muster_people;
DROP TABLE muster_people;
ALTER TABLE muster_people_rebuilt RENAME TO muster_people;
