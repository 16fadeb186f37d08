-- People, their vetting history, groups, credentials, grants and (minimal) visits.
-- References to zones and schedules use the default RESTRICT, so a zone or schedule a
-- grant or visit still names cannot be deleted.

CREATE TABLE people (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('staff', 'contractor')),
    employer    TEXT,
    clearance   INTEGER NOT NULL CHECK (clearance BETWEEN 0 AND 255),
    status      TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'left')),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX people_name ON people (name);

-- Append-only: a vetting decision is never rewritten, a new one is recorded.
CREATE TABLE vetting_records (
    id             UUID PRIMARY KEY,
    person_id      UUID NOT NULL REFERENCES people (id),
    status         TEXT NOT NULL CHECK (status IN ('pending', 'cleared', 'expired', 'revoked')),
    cleared_until  TIMESTAMPTZ,
    reference      TEXT,
    note           TEXT,
    checked_by     TEXT NOT NULL,
    checked_by_id  UUID,
    checked_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX vetting_records_person ON vetting_records (person_id, checked_at);

CREATE TRIGGER vetting_records_append_only BEFORE UPDATE OR DELETE ON vetting_records
    FOR EACH ROW EXECUTE FUNCTION reject_change();
CREATE TRIGGER vetting_records_no_truncate BEFORE TRUNCATE ON vetting_records
    FOR EACH STATEMENT EXECUTE FUNCTION reject_change();

CREATE TABLE person_groups (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT person_groups_name_key UNIQUE (name)
);

CREATE TABLE group_members (
    group_id   UUID NOT NULL REFERENCES person_groups (id),
    person_id  UUID NOT NULL REFERENCES people (id),
    PRIMARY KEY (group_id, person_id)
);
CREATE INDEX group_members_person ON group_members (person_id);

CREATE TABLE visits (
    id                    UUID PRIMARY KEY,
    visitor_name          TEXT NOT NULL,
    visitor_organisation  TEXT,
    host_person_id        UUID NOT NULL REFERENCES people (id),
    window_start          TIMESTAMPTZ NOT NULL,
    window_end            TIMESTAMPTZ NOT NULL,
    escort_required       BOOLEAN NOT NULL,
    checked_in_at         TIMESTAMPTZ,
    checked_out_at        TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    CHECK (window_start < window_end)
);

CREATE TABLE visit_zones (
    visit_id  UUID NOT NULL REFERENCES visits (id),
    zone_id   UUID NOT NULL REFERENCES zones (id),
    PRIMARY KEY (visit_id, zone_id)
);
CREATE INDEX visit_zones_zone ON visit_zones (zone_id);

CREATE TABLE credentials (
    id           UUID PRIMARY KEY,
    card         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('uid', 'secure')),
    state        TEXT NOT NULL CHECK (state IN ('active', 'suspended', 'lost', 'revoked')),
    valid_from   TIMESTAMPTZ,
    valid_until  TIMESTAMPTZ,
    person_id    UUID REFERENCES people (id),
    visit_id     UUID REFERENCES visits (id),
    pin_salt     BYTEA,
    pin_hash     BYTEA,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    CHECK ((person_id IS NULL) <> (visit_id IS NULL)),
    CHECK ((pin_salt IS NULL) = (pin_hash IS NULL))
);
-- A card is issued to one live credential at a time; a revoked card may be issued again
-- (visitor cards go back into the drawer).
CREATE UNIQUE INDEX credentials_live_card ON credentials (card) WHERE state <> 'revoked';
CREATE INDEX credentials_person ON credentials (person_id);
CREATE INDEX credentials_visit ON credentials (visit_id);

CREATE TABLE grants (
    id           UUID PRIMARY KEY,
    person_id    UUID REFERENCES people (id),
    group_id     UUID REFERENCES person_groups (id),
    zone_id      UUID NOT NULL REFERENCES zones (id),
    schedule_id  UUID REFERENCES schedules (id),
    valid_from   TIMESTAMPTZ,
    valid_until  TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    CHECK ((person_id IS NULL) <> (group_id IS NULL))
);
CREATE INDEX grants_person ON grants (person_id);
CREATE INDEX grants_group ON grants (group_id);
CREATE INDEX grants_zone ON grants (zone_id);
CREATE INDEX grants_schedule ON grants (schedule_id);
