-- A large HR import writes its rows in short transactions that commit on their own, so
-- no reader or writer waits for the whole file; the rows stay invisible until one short
-- transaction publishes them all at once (all or nothing, as before).
--
-- Each attempt at an import is a batch: its id is in `import_pending` while it is being
-- written, and every row it writes carries it in `import_batch`. Readers read the
-- `visible_*` views, which leave out the rows of pending batches. Publishing deletes the
-- batch's `import_pending` row (O(1)); a failed or abandoned batch (its server killed) is
-- swept: its rows deleted, then its `import_pending` row. The append-only tables allow
-- exactly that delete, of rows of a pending batch, and nothing else.
--
-- The import's operator-log entries are chained as one batch: `audit_import_members`
-- lists them in order with their digests, and the chain entry of the import's summary
-- entry (`person.import`) commits to that list (see `audit::batch_digest`).

CREATE TABLE import_pending (
    batch       BLOB PRIMARY KEY NOT NULL,
    -- Written by every chunk: a batch silent for a minute lost its writer.
    updated_at  TEXT NOT NULL
);

ALTER TABLE people ADD COLUMN import_batch BLOB;
ALTER TABLE vetting_records ADD COLUMN import_batch BLOB;
ALTER TABLE credentials ADD COLUMN import_batch BLOB;
ALTER TABLE operator_log ADD COLUMN import_batch BLOB;
CREATE INDEX people_import_batch ON people (import_batch) WHERE import_batch IS NOT NULL;
CREATE INDEX vetting_records_import_batch ON vetting_records (import_batch)
    WHERE import_batch IS NOT NULL;
CREATE INDEX credentials_import_batch ON credentials (import_batch)
    WHERE import_batch IS NOT NULL;
CREATE INDEX operator_log_import_batch ON operator_log (import_batch)
    WHERE import_batch IS NOT NULL;

CREATE VIEW visible_people AS SELECT * FROM people
    WHERE import_batch IS NULL OR import_batch NOT IN (SELECT batch FROM import_pending);
CREATE VIEW visible_vetting_records AS SELECT * FROM vetting_records
    WHERE import_batch IS NULL OR import_batch NOT IN (SELECT batch FROM import_pending);
CREATE VIEW visible_credentials AS SELECT * FROM credentials
    WHERE import_batch IS NULL OR import_batch NOT IN (SELECT batch FROM import_pending);
CREATE VIEW visible_operator_log AS SELECT * FROM operator_log
    WHERE import_batch IS NULL OR import_batch NOT IN (SELECT batch FROM import_pending);

CREATE TABLE audit_import_members (
    -- The id of the import's summary entry in operator_log (its chain entry's record).
    batch      BLOB NOT NULL,
    pos        INTEGER NOT NULL CHECK (pos >= 1),
    record_id  BLOB NOT NULL,
    digest     BLOB NOT NULL CHECK (length(digest) = 32),
    PRIMARY KEY (batch, pos)
);
CREATE INDEX audit_import_members_record ON audit_import_members (record_id);

CREATE TRIGGER audit_import_members_no_update BEFORE UPDATE ON audit_import_members
BEGIN
    SELECT RAISE(ABORT, 'audit_import_members is append-only');
END;
CREATE TRIGGER audit_import_members_no_delete BEFORE DELETE ON audit_import_members
WHEN OLD.batch NOT IN (SELECT batch FROM import_pending)
BEGIN
    SELECT RAISE(ABORT, 'audit_import_members is append-only');
END;

DROP TRIGGER operator_log_no_delete;
CREATE TRIGGER operator_log_no_delete BEFORE DELETE ON operator_log
WHEN OLD.import_batch IS NULL OR OLD.import_batch NOT IN (SELECT batch FROM import_pending)
BEGIN
    SELECT RAISE(ABORT, 'operator_log is append-only');
END;

DROP TRIGGER vetting_records_no_delete;
CREATE TRIGGER vetting_records_no_delete BEFORE DELETE ON vetting_records
WHEN OLD.import_batch IS NULL OR OLD.import_batch NOT IN (SELECT batch FROM import_pending)
BEGIN
    SELECT RAISE(ABORT, 'vetting_records is append-only');
END;
