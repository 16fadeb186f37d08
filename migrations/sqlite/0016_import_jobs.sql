-- Bulk imports from HR run as jobs: POST answers 202 with the job, which the caller
-- follows until it has succeeded or failed. Kept in the database so that every replica
-- answers for every job and a finished job's outcome survives a restart.
CREATE TABLE import_jobs (
    id              BLOB PRIMARY KEY NOT NULL,
    state           TEXT NOT NULL
                    CHECK (state IN ('queued', 'checking', 'applying', 'succeeded', 'failed')),
    created_by      TEXT NOT NULL,
    created_by_id   BLOB,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    finished_at     TEXT,
    bytes           INTEGER NOT NULL,
    bytes_checked   INTEGER NOT NULL DEFAULT 0,
    rows_checked    INTEGER NOT NULL DEFAULT 0,
    people          INTEGER,
    people_applied  INTEGER NOT NULL DEFAULT 0,
    error_count     INTEGER NOT NULL DEFAULT 0,
    -- The first line errors (JSON array of {line, field, message}); error_count has all.
    errors          TEXT,
    -- What the import changed (JSON), once it has succeeded.
    summary         TEXT,
    -- Why a job failed other than by line errors (e.g. the database stayed busy).
    failure         TEXT
);
CREATE INDEX import_jobs_created ON import_jobs (created_at);
