-- The audit trail: one hash chain, in the order records are written, over every record
-- auditors rely on (access_events, operator_log, agent_alarms). Each chain entry names
-- its record and commits to the record's digest (every column) and to the entry before
-- it; `audit_head` holds the last position and hash so writers extend the chain one at
-- a time; `audit_checkpoints` are the server's Ed25519 signatures over the chain hash at
-- a position, so rewriting the chain needs the server's key, not only the database.

CREATE TABLE audit_chain (
    seq          BIGINT PRIMARY KEY NOT NULL CHECK (seq >= 1),
    source       TEXT NOT NULL CHECK (source IN ('event', 'operator', 'alarm')),
    record_id    BLOB NOT NULL,
    digest       BLOB NOT NULL CHECK (length(digest) = 32),
    hash         BLOB NOT NULL CHECK (length(hash) = 32),
    recorded_at  TEXT NOT NULL,
    CONSTRAINT audit_chain_record_key UNIQUE (source, record_id)
);
CREATE INDEX audit_chain_recorded ON audit_chain (recorded_at);

CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  BLOB NOT NULL CHECK (length(hash) = 32)
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE audit_checkpoints (
    seq        BIGINT PRIMARY KEY NOT NULL CHECK (seq >= 1),
    hash       BLOB NOT NULL CHECK (length(hash) = 32),
    signed_at  TEXT NOT NULL,
    signature  BLOB NOT NULL CHECK (length(signature) = 64)
);

-- The operator log's before/after may hold personal data: each entry gets a random salt
-- and the chain commits to the salted hash of before/after, which `detail_hash` keeps
-- once they are purged (retention).
ALTER TABLE operator_log ADD COLUMN detail_salt BLOB;
ALTER TABLE operator_log ADD COLUMN detail_hash BLOB;

CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain
BEGIN
    SELECT RAISE(ABORT, 'audit_chain is append-only');
END;
CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
BEGIN
    SELECT RAISE(ABORT, 'audit_chain is append-only');
END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'audit_head cannot be deleted');
END;
CREATE TRIGGER agent_alarms_no_update BEFORE UPDATE ON agent_alarms
BEGIN
    SELECT RAISE(ABORT, 'agent_alarms is append-only');
END;
CREATE TRIGGER agent_alarms_no_delete BEFORE DELETE ON agent_alarms
BEGIN
    SELECT RAISE(ABORT, 'agent_alarms is append-only');
END;
