-- Bulk imports from HR run as jobs: POST answers 202 with the job, which the caller
-- follows until it has succeeded or failed. Kept in the database so that every replica
-- answers for every job and a finished job's outcome survives a restart.
CREATE TABLE import_jobs (
    id              UUID PRIMARY KEY,
    state           TEXT NOT NULL
                    CHECK (state IN ('queued', 'checking', 'applying', 'succeeded', 'failed')),
    created_by      TEXT NOT NULL,
    created_by_id   UUID,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    bytes           BIGINT NOT NULL,
    bytes_checked   BIGINT NOT NULL DEFAULT 0,
    rows_checked    BIGINT NOT NULL DEFAULT 0,
    people          BIGINT,
    people_applied  BIGINT NOT NULL DEFAULT 0,
    error_count     BIGINT NOT NULL DEFAULT 0,
    -- The first line errors (JSON array of {line, field, message}); error_count has all.
    errors          JSONB,
    -- What the import changed (JSON), once it has succeeded.
    summary         JSONB,
    -- Why a job failed other than by line errors (e.g. the database stayed busy).
    failure         TEXT
);
CREATE INDEX import_jobs_created ON import_jobs (created_at);
