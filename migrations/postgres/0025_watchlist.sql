-- Watchlist screening (issue 13): the list security keeps, its version, and each
-- screening of a visitor against it with the officer's decision.

-- An entry of the watchlist. `aliases` is a JSON array of names; `search_text` the
-- normalised name and aliases (what the console's search looks in); dates of birth are
-- `YYYY-MM-DD` text on both databases.
CREATE TABLE watchlist_entries (
    id             UUID PRIMARY KEY,
    name           TEXT NOT NULL,
    aliases        JSONB NOT NULL,
    search_text    TEXT NOT NULL,
    date_of_birth  TEXT,
    organisation   TEXT,
    reason         TEXT NOT NULL,
    action         TEXT NOT NULL CHECK (action IN ('flag', 'block')),
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

-- The list's version, bumped by every change; `revision` is new at each change (a
-- UUID), so an index cached in memory is never taken for another database's.
CREATE TABLE watchlist_state (
    id          INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    version     BIGINT NOT NULL,
    revision    UUID,
    updated_at  TIMESTAMPTZ
);
INSERT INTO watchlist_state (id, version) VALUES (1, 0);

-- One screening of a visit's visitor: what was compared, with which list version and
-- algorithm, what matched, and what a security officer decided about a match.
CREATE TABLE screenings (
    id                      UUID PRIMARY KEY,
    visit_id                UUID NOT NULL REFERENCES visits (id),
    stage                   TEXT NOT NULL CHECK (stage IN ('invitation', 'check_in')),
    at                      TIMESTAMPTZ NOT NULL,
    list_version            BIGINT NOT NULL,
    algorithm               TEXT NOT NULL,
    candidate_name          TEXT NOT NULL,
    candidate_date_of_birth TEXT,
    candidate_organisation  TEXT,
    best_score              DOUBLE PRECISION NOT NULL,
    outcome                 TEXT NOT NULL CHECK (outcome IN ('clear', 'flag', 'block')),
    matches                 JSONB NOT NULL,
    decision                TEXT CHECK (decision IN ('allowed', 'refused')),
    decided_by              TEXT,
    decided_at              TIMESTAMPTZ,
    note                    TEXT,
    purged_at               TIMESTAMPTZ
);
CREATE INDEX screenings_visit ON screenings (visit_id, at);
CREATE INDEX screenings_open ON screenings (outcome, decision, at);
