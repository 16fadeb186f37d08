-- People, their vetting history, groups, credentials, grants and (minimal) visits.
-- References to zones and schedules use the default RESTRICT, so a zone or schedule a
-- grant or visit still names cannot be deleted. Timestamps are UTC RFC 3339 text.

CREATE TABLE people (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('staff', 'contractor')),
    employer    TEXT,
    clearance   INTEGER NOT NULL CHECK (clearance BETWEEN 0 AND 255),
    status      TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'left')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX people_name ON people (name);

-- Append-only: a vetting decision is never rewritten, a new one is recorded.
CREATE TABLE vetting_records (
    id             BLOB PRIMARY KEY NOT NULL,
    person_id      BLOB NOT NULL REFERENCES people (id),
    status         TEXT NOT NULL CHECK (status IN ('pending', 'cleared', 'expired', 'revoked')),
    cleared_until  TEXT,
    reference      TEXT,
    note           TEXT,
    checked_by     TEXT NOT NULL,
    checked_by_id  BLOB,
    checked_at     TEXT NOT NULL
);
CREATE INDEX vetting_records_person ON vetting_records (person_id, checked_at);

CREATE TRIGGER vetting_records_no_update BEFORE UPDATE ON vetting_records
BEGIN
    SELECT RAISE(ABORT, 'vetting_records is append-only');
END;

CREATE TRIGGER vetting_records_no_delete BEFORE DELETE ON vetting_records
BEGIN
    SELECT RAISE(ABORT, 'vetting_records is append-only');
END;

CREATE TABLE person_groups (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CONSTRAINT person_groups_name_key UNIQUE (name)
);

CREATE TABLE group_members (
    group_id   BLOB NOT NULL REFERENCES person_groups (id),
    person_id  BLOB NOT NULL REFERENCES people (id),
    PRIMARY KEY (group_id, person_id)
);
CREATE INDEX group_members_person ON group_members (person_id);

CREATE TABLE visits (
    id                    BLOB PRIMARY KEY NOT NULL,
    visitor_name          TEXT NOT NULL,
    visitor_organisation  TEXT,
    host_person_id        BLOB NOT NULL REFERENCES people (id),
    window_start          TEXT NOT NULL,
    window_end            TEXT NOT NULL,
    escort_required       INTEGER NOT NULL,
    checked_in_at         TEXT,
    checked_out_at        TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    CHECK (window_start < window_end)
);

CREATE TABLE visit_zones (
    visit_id  BLOB NOT NULL REFERENCES visits (id),
    zone_id   BLOB NOT NULL REFERENCES zones (id),
    PRIMARY KEY (visit_id, zone_id)
);
CREATE INDEX visit_zones_zone ON visit_zones (zone_id);

CREATE TABLE credentials (
    id           BLOB PRIMARY KEY NOT NULL,
    card         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('uid', 'secure')),
    state        TEXT NOT NULL CHECK (state IN ('active', 'suspended', 'lost', 'revoked')),
    valid_from   TEXT,
    valid_until  TEXT,
    person_id    BLOB REFERENCES people (id),
    visit_id     BLOB REFERENCES visits (id),
    pin_salt     BLOB,
    pin_hash     BLOB,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    CHECK ((person_id IS NULL) <> (visit_id IS NULL)),
    CHECK ((pin_salt IS NULL) = (pin_hash IS NULL))
);
-- A card is issued to one live credential at a time; a revoked card may be issued again
-- (visitor cards go back into the drawer).
CREATE UNIQUE INDEX credentials_live_card ON credentials (card) WHERE state <> 'revoked';
CREATE INDEX credentials_person ON credentials (person_id);
CREATE INDEX credentials_visit ON credentials (visit_id);

CREATE TABLE grants (
    id           BLOB PRIMARY KEY NOT NULL,
    person_id    BLOB REFERENCES people (id),
    group_id     BLOB REFERENCES person_groups (id),
    zone_id      BLOB NOT NULL REFERENCES zones (id),
    schedule_id  BLOB REFERENCES schedules (id),
    valid_from   TEXT,
    valid_until  TEXT,
    created_at   TEXT NOT NULL,
    CHECK ((person_id IS NULL) <> (group_id IS NULL))
);
CREATE INDEX grants_person ON grants (person_id);
CREATE INDEX grants_group ON grants (group_id);
CREATE INDEX grants_zone ON grants (zone_id);
CREATE INDEX grants_schedule ON grants (schedule_id);
