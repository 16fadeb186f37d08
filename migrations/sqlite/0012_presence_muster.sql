-- Who is where: each person's or visit's last granted passage, kept by the server from
-- the door events it ingests (the events themselves stay in the audit trail). A later
-- passage replaces an earlier one; an upload that arrives late does not undo a newer one.

CREATE TABLE presence (
    holder_id  BLOB PRIMARY KEY NOT NULL,
    person_id  BLOB,
    visit_id   BLOB,
    zone_id    BLOB NOT NULL,
    door_id    BLOB NOT NULL,
    direction  TEXT NOT NULL,
    since      TEXT NOT NULL,
    event_id   BLOB NOT NULL,
    CHECK ((person_id IS NULL) <> (visit_id IS NULL))
);
CREATE INDEX presence_zone ON presence (zone_id);

-- A muster (evacuation roll call): who was inside the site when it started, and who
-- has been accounted for since. Starting it, each mark and closing it are also in the
-- operator log (so in the audit trail).
CREATE TABLE musters (
    id          BLOB PRIMARY KEY NOT NULL,
    site_id     BLOB NOT NULL REFERENCES sites (id),
    started_at  TEXT NOT NULL,
    started_by  TEXT NOT NULL,
    closed_at   TEXT
);

CREATE TABLE muster_people (
    muster_id      BLOB NOT NULL REFERENCES musters (id),
    holder_id      BLOB NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('person', 'visitor')),
    name           TEXT NOT NULL,
    zone_id        BLOB NOT NULL,
    zone_name      TEXT NOT NULL,
    door_id        BLOB NOT NULL,
    door_name      TEXT,
    direction      TEXT NOT NULL,
    since          TEXT NOT NULL,
    accounted_at   TEXT,
    accounted_by   TEXT,
    note           TEXT,
    PRIMARY KEY (muster_id, holder_id)
);
