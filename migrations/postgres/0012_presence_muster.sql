-- Who is where: each person's or visit's last granted passage, kept by the server from
-- the door events it ingests (the events themselves stay in the audit trail). A later
-- passage replaces an earlier one; an upload that arrives late does not undo a newer one.

CREATE TABLE presence (
    holder_id  UUID PRIMARY KEY,
    person_id  UUID,
    visit_id   UUID,
    zone_id    UUID NOT NULL,
    door_id    UUID NOT NULL,
    direction  TEXT NOT NULL,
    since      TIMESTAMPTZ NOT NULL,
    event_id   UUID NOT NULL,
    CHECK ((person_id IS NULL) <> (visit_id IS NULL))
);
CREATE INDEX presence_zone ON presence (zone_id);

-- A muster (evacuation roll call): who was inside the site when it started, and who
-- has been accounted for since. Starting it, each mark and closing it are also in the
-- operator log (so in the audit trail).
CREATE TABLE musters (
    id          UUID PRIMARY KEY,
    site_id     UUID NOT NULL REFERENCES sites (id),
    started_at  TIMESTAMPTZ NOT NULL,
    started_by  TEXT NOT NULL,
    closed_at   TIMESTAMPTZ
);

CREATE TABLE muster_people (
    muster_id      UUID NOT NULL REFERENCES musters (id),
    holder_id      UUID NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('person', 'visitor')),
    name           TEXT NOT NULL,
    zone_id        UUID NOT NULL,
    zone_name      TEXT NOT NULL,
    door_id        UUID NOT NULL,
    door_name      TEXT,
    direction      TEXT NOT NULL,
    since          TIMESTAMPTZ NOT NULL,
    accounted_at   TIMESTAMPTZ,
    accounted_by   TEXT,
    note           TEXT,
    PRIMARY KEY (muster_id, holder_id)
);
