-- Visitor management (issue 13): the rules security sets for visits, visitors as people
-- who come back (contact details and ID kept apart from each visit), and the visit's
-- lifecycle, check-in code, group and series.

-- A zone open to visitors: receptionists and hosts may put it on a visit, for at most
-- `longest_visit_minutes` per visit. No row: closed to visitors. Whether a visitor needs
-- an escort there is the zone's own `escort_required` (the decision engine reads it).
CREATE TABLE zone_visitor_rules (
    zone_id                UUID PRIMARY KEY REFERENCES zones (id) ON DELETE CASCADE,
    longest_visit_minutes  INTEGER NOT NULL CHECK (longest_visit_minutes BETWEEN 1 AND 527040),
    updated_at             TIMESTAMPTZ NOT NULL
);

-- Per site: whether a visit to a zone outside the rules waits for a security officer's
-- approval (instead of being refused), and the grace after a window's end before a
-- visit still checked in is checked out automatically.
CREATE TABLE site_visit_settings (
    site_id                 UUID PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    approval_outside_rules  BOOLEAN NOT NULL DEFAULT FALSE,
    checkout_grace_minutes  INTEGER NOT NULL DEFAULT 60 CHECK (checkout_grace_minutes BETWEEN 0 AND 1440),
    updated_at              TIMESTAMPTZ NOT NULL
);

CREATE TABLE visitors (
    id                       UUID PRIMARY KEY,
    name                     TEXT NOT NULL,
    organisation             TEXT,
    email                    TEXT,
    phone                    TEXT,
    date_of_birth            TEXT,
    id_document_type         TEXT,
    id_document_last_digits  TEXT,
    photo                    BYTEA,
    photo_type               TEXT,
    created_at               TIMESTAMPTZ NOT NULL,
    updated_at               TIMESTAMPTZ NOT NULL,
    purged_at                TIMESTAMPTZ
);
CREATE INDEX visitors_name ON visitors (name);
CREATE INDEX visitors_email ON visitors (email);

-- Each earlier visit becomes its own visitor (same id), its lifecycle read from its times.
INSERT INTO visitors (id, name, organisation, created_at, updated_at, purged_at)
SELECT id, visitor_name, visitor_organisation, created_at, updated_at, purged_at FROM visits;

ALTER TABLE visits ADD COLUMN visitor_id UUID REFERENCES visitors (id);
ALTER TABLE visits ADD COLUMN site_id UUID REFERENCES sites (id);
ALTER TABLE visits ADD COLUMN purpose TEXT;
-- Which documents apply (e.g. guest, contractor, interview, delivery).
ALTER TABLE visits ADD COLUMN visit_type TEXT NOT NULL DEFAULT 'guest';
ALTER TABLE visits ADD COLUMN status TEXT NOT NULL DEFAULT 'invited' CHECK (status IN
    ('invited', 'awaiting_approval', 'checked_in', 'checked_out', 'cancelled', 'no_show', 'expired'));
-- What the visitor types or scans at the kiosk or desk; unique while it is kept.
ALTER TABLE visits ADD COLUMN check_in_code TEXT;
-- Visits invited together (a group) share an invitation; occurrences of a recurring
-- visit share a series.
ALTER TABLE visits ADD COLUMN invitation_id UUID;
ALTER TABLE visits ADD COLUMN series_id UUID;
ALTER TABLE visits ADD COLUMN ended_at TIMESTAMPTZ;
-- Why the visit awaits approval (the zones outside the rules, in words).
ALTER TABLE visits ADD COLUMN approval_reason TEXT;
UPDATE visits SET visitor_id = id, status = CASE
    WHEN checked_out_at IS NOT NULL THEN 'checked_out'
    WHEN checked_in_at IS NOT NULL THEN 'checked_in'
    ELSE 'invited' END;
CREATE UNIQUE INDEX visits_check_in_code ON visits (check_in_code);
CREATE INDEX visits_visitor ON visits (visitor_id);
CREATE INDEX visits_status_window ON visits (status, window_start);
CREATE INDEX visits_host ON visits (host_person_id, window_start);
CREATE INDEX visits_invitation ON visits (invitation_id);

-- Hosts: an operator account may be linked to the person it is (one account a person).
ALTER TABLE operators ADD COLUMN person_id UUID REFERENCES people (id);
CREATE UNIQUE INDEX operators_person ON operators (person_id);
-- Where a host is told a visitor arrived (and HR imports may fill it).
ALTER TABLE people ADD COLUMN email TEXT;
