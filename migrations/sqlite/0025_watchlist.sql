-- Watchlist screening (issue 13): the list security keeps, its version, and each
-- screening of a visitor against it with the officer's decision.

-- An entry of the watchlist. `aliases` is a JSON array of names; `search_text` the
-- normalised name and aliases (what the console's search looks in); dates of birth are
-- `YYYY-MM-DD` text on both databases.
CREATE TABLE watchlist_entries (
    id             BLOB PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    aliases        TEXT NOT NULL,
    search_text    TEXT NOT NULL,
    date_of_birth  TEXT,
    organisation   TEXT,
    reason         TEXT NOT NULL,
    action         TEXT NOT NULL CHECK (action IN ('flag', 'block')),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

-- The list's version, bumped by every change; `revision` is new at each change (a
-- UUID), so an index cached in memory is never taken for another database's.
CREATE TABLE watchlist_state (
    id          INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    version     INTEGER NOT NULL,
    revision    BLOB,
    updated_at  TEXT
);
INSERT INTO watchlist_state (id, version) VALUES (1, 0);

-- One screening of a visit's visitor: what was compared, with which list version and
-- algorithm, what matched, and what a security officer decided about a match.
CREATE TABLE screenings (
    id                      BLOB PRIMARY KEY NOT NULL,
    visit_id                BLOB NOT NULL REFERENCES visits (id),
    stage                   TEXT NOT NULL CHECK (stage IN ('invitation', 'check_in')),
    at                      TEXT NOT NULL,
    list_version            INTEGER NOT NULL,
    algorithm               TEXT NOT NULL,
    candidate_name          TEXT NOT NULL,
    candidate_date_of_birth TEXT,
    candidate_organisation  TEXT,
    best_score              REAL NOT NULL,
    outcome                 TEXT NOT NULL CHECK (outcome IN ('clear', 'flag', 'block')),
    matches                 TEXT NOT NULL,
    decision                TEXT CHECK (decision IN ('allowed', 'refused')),
    decided_by              TEXT,
    decided_at              TEXT,
    note                    TEXT,
    purged_at               TEXT
);
CREATE INDEX screenings_visit ON screenings (visit_id, at);
CREATE INDEX screenings_open ON screenings (outcome, decision, at);
