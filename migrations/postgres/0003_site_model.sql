-- The site model: sites (with their threat level), the zone tree, doors between zones,
-- and schedules with holidays. Deleting something still referenced is refused by the
-- foreign keys (no ON DELETE action), which the store reports as "in use".
--
-- Composite keys (id, site_id) let zones and doors reference zones of their own site
-- only: a zone's parent and a door's two zones can never sit on another site.

CREATE TABLE sites (
    id                     UUID PRIMARY KEY,
    name                   TEXT NOT NULL,
    timezone               TEXT NOT NULL,
    threat_level           INTEGER NOT NULL DEFAULT 0 CHECK (threat_level BETWEEN 0 AND 255),
    threat_clearance_raise INTEGER NOT NULL DEFAULT 0 CHECK (threat_clearance_raise BETWEEN 0 AND 255),
    threat_lockdown        BOOLEAN NOT NULL DEFAULT FALSE,
    -- JSON array of person ids exempt from the threat level (unknown ids match no one).
    threat_exempt          JSONB NOT NULL DEFAULT '[]',
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL
);

CREATE TABLE zones (
    id                       UUID PRIMARY KEY,
    site_id                  UUID NOT NULL REFERENCES sites (id),
    parent_id                UUID,
    name                     TEXT NOT NULL,
    level                    INTEGER NOT NULL CHECK (level BETWEEN 0 AND 255),
    vetting_required         BOOLEAN NOT NULL DEFAULT FALSE,
    escort_required          BOOLEAN NOT NULL DEFAULT FALSE,
    two_person               BOOLEAN NOT NULL DEFAULT FALSE,
    pin_required             BOOLEAN NOT NULL DEFAULT FALSE,
    anti_passback            TEXT NOT NULL DEFAULT 'off' CHECK (anti_passback IN ('off', 'soft', 'hard')),
    anti_passback_timeout_s  BIGINT CHECK (anti_passback_timeout_s >= 0),
    max_occupancy            BIGINT CHECK (max_occupancy >= 0),
    created_at               TIMESTAMPTZ NOT NULL,
    updated_at               TIMESTAMPTZ NOT NULL,
    CONSTRAINT zones_id_site_key UNIQUE (id, site_id),
    CONSTRAINT zones_parent_fkey FOREIGN KEY (parent_id, site_id) REFERENCES zones (id, site_id)
);
CREATE INDEX zones_parent ON zones (parent_id);

CREATE TABLE doors (
    id            UUID PRIMARY KEY,
    site_id       UUID NOT NULL REFERENCES sites (id),
    name          TEXT NOT NULL,
    from_zone_id  UUID NOT NULL,
    to_zone_id    UUID NOT NULL,
    mode          TEXT NOT NULL DEFAULT 'normal' CHECK (mode IN ('normal', 'locked', 'unlocked')),
    unlock_ms     BIGINT NOT NULL CHECK (unlock_ms BETWEEN 1000 AND 60000),
    held_open_ms  BIGINT NOT NULL CHECK (held_open_ms >= 0),
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT doors_zones_differ CHECK (from_zone_id <> to_zone_id),
    CONSTRAINT doors_from_zone_fkey FOREIGN KEY (from_zone_id, site_id) REFERENCES zones (id, site_id),
    CONSTRAINT doors_to_zone_fkey FOREIGN KEY (to_zone_id, site_id) REFERENCES zones (id, site_id)
);
CREATE INDEX doors_from_zone ON doors (from_zone_id);
CREATE INDEX doors_to_zone ON doors (to_zone_id);

CREATE TABLE schedules (
    id          UUID PRIMARY KEY,
    site_id     UUID NOT NULL REFERENCES sites (id),
    name        TEXT NOT NULL,
    -- JSON: [{"days":["mon",...],"start":"HH:MM","end":"HH:MM"}]
    windows     JSONB NOT NULL,
    -- JSON: ["YYYY-MM-DD", ...]
    holidays    JSONB NOT NULL DEFAULT '[]',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX schedules_site ON schedules (site_id);
