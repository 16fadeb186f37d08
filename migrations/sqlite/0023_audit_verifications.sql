-- Whole-trail verifications (console, API or `gatehouse audit verify`): when each
-- finished and what it found, so the health page can say when the trail was last
-- verified. Not part of the chain: a record of checking it.
CREATE TABLE audit_verifications (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    finished_at TEXT NOT NULL,
    ok          BOOLEAN NOT NULL,
    records     INTEGER NOT NULL,
    checkpoints INTEGER NOT NULL,
    -- The first problem found, in words; NULL when ok.
    problem     TEXT
);
