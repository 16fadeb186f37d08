-- The audit trail: one hash chain, in the order records are written, over every record
-- auditors rely on (access_events, operator_log, agent_alarms). Each chain entry names
-- its record and commits to the record's digest (every column) and to the entry before
-- it; `audit_head` holds the last position and hash so writers extend the chain one at
-- a time (its row lock orders them); `audit_checkpoints` are the server's Ed25519
-- signatures over the chain hash at a position, so rewriting the chain needs the
-- server's key, not only the database.

CREATE TABLE audit_chain (
    seq          BIGINT PRIMARY KEY CHECK (seq >= 1),
    source       TEXT NOT NULL CHECK (source IN ('event', 'operator', 'alarm')),
    record_id    UUID NOT NULL,
    digest       BYTEA NOT NULL CHECK (octet_length(digest) = 32),
    hash         BYTEA NOT NULL CHECK (octet_length(hash) = 32),
    recorded_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT audit_chain_record_key UNIQUE (source, record_id)
);
CREATE INDEX audit_chain_recorded ON audit_chain (recorded_at);

CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  BYTEA NOT NULL CHECK (octet_length(hash) = 32)
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE TABLE audit_checkpoints (
    seq        BIGINT PRIMARY KEY CHECK (seq >= 1),
    hash       BYTEA NOT NULL CHECK (octet_length(hash) = 32),
    signed_at  TIMESTAMPTZ NOT NULL,
    signature  BYTEA NOT NULL CHECK (octet_length(signature) = 64)
);

-- The operator log's before/after may hold personal data: each entry gets a random salt
-- and the chain commits to the salted hash of before/after, which `detail_hash` keeps
-- once they are purged (retention).
ALTER TABLE operator_log ADD COLUMN detail_salt BYTEA;
ALTER TABLE operator_log ADD COLUMN detail_hash BYTEA;

-- reject_change() comes from 0001_operators.sql.
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION reject_change();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION reject_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION reject_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION reject_change();
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION reject_change();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION reject_change();
CREATE TRIGGER agent_alarms_append_only BEFORE UPDATE OR DELETE ON agent_alarms
    FOR EACH ROW EXECUTE FUNCTION reject_change();
CREATE TRIGGER agent_alarms_no_truncate BEFORE TRUNCATE ON agent_alarms
    FOR EACH STATEMENT EXECUTE FUNCTION reject_change();
