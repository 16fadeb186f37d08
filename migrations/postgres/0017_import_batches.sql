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
-- PostgreSQL fixes a view's columns when it is created: a later migration that adds a
-- column to one of these tables recreates its view.
--
-- The import's operator-log entries are chained as one batch: `audit_import_members`
-- lists them in order with their digests, and the chain entry of the import's summary
-- entry (`person.import`) commits to that list (see `audit::batch_digest`).

CREATE TABLE import_pending (
    batch       UUID PRIMARY KEY,
    -- Written by every chunk: a batch silent for a minute lost its writer.
    updated_at  TIMESTAMPTZ NOT NULL
);

ALTER TABLE people ADD COLUMN import_batch UUID;
ALTER TABLE vetting_records ADD COLUMN import_batch UUID;
ALTER TABLE credentials ADD COLUMN import_batch UUID;
ALTER TABLE operator_log ADD COLUMN import_batch UUID;
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
    batch      UUID NOT NULL,
    pos        BIGINT NOT NULL CHECK (pos >= 1),
    record_id  UUID NOT NULL,
    digest     BYTEA NOT NULL CHECK (octet_length(digest) = 32),
    PRIMARY KEY (batch, pos)
);
CREATE INDEX audit_import_members_record ON audit_import_members (record_id);

-- Rows of a pending batch may be deleted (the sweep); nothing else may change.
CREATE FUNCTION import_pending_sweep_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.import_batch IS NOT NULL
       AND EXISTS (SELECT 1 FROM import_pending WHERE batch = OLD.import_batch)
    THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

CREATE FUNCTION audit_import_members_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM import_pending WHERE batch = OLD.batch)
    THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_import_members is append-only';
END;
$$;

CREATE TRIGGER audit_import_members_append_only
    BEFORE UPDATE OR DELETE ON audit_import_members
    FOR EACH ROW EXECUTE FUNCTION audit_import_members_guard();
CREATE TRIGGER audit_import_members_no_truncate BEFORE TRUNCATE ON audit_import_members
    FOR EACH STATEMENT EXECUTE FUNCTION reject_change();

DROP TRIGGER vetting_records_append_only ON vetting_records;
CREATE TRIGGER vetting_records_append_only BEFORE UPDATE OR DELETE ON vetting_records
    FOR EACH ROW EXECUTE FUNCTION import_pending_sweep_only();

-- The operator log's guard (0010) also lets retention purge visitor details.
CREATE OR REPLACE FUNCTION operator_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.import_batch IS NOT NULL
       AND EXISTS (SELECT 1 FROM import_pending WHERE batch = OLD.import_batch)
    THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE'
       AND OLD.target_type = 'visit' AND OLD.detail_salt IS NOT NULL
       AND NEW.before IS NULL AND NEW.after IS NULL
       AND NEW.detail_salt IS NULL AND NEW.detail_hash IS NOT NULL
       AND NEW.seq = OLD.seq AND NEW.id = OLD.id AND NEW.at = OLD.at
       AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id AND NEW.actor = OLD.actor
       AND NEW.action = OLD.action AND NEW.target_type = OLD.target_type
       AND NEW.target_id IS NOT DISTINCT FROM OLD.target_id
       AND NEW.request_id IS NOT DISTINCT FROM OLD.request_id
       AND NEW.import_batch IS NOT DISTINCT FROM OLD.import_batch
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'operator_log is append-only (only visitor details may be purged)';
END;
$$;
