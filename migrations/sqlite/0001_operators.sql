-- Operator accounts, their sessions, login throttling, server keys and the append-only
-- operator log. Ids are UUIDs (16-byte blobs); timestamps are UTC RFC 3339 text written
-- by the server, so they compare correctly as text.

CREATE TABLE server_keys (
    name        TEXT PRIMARY KEY NOT NULL,
    secret      BLOB NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE operators (
    id            BLOB PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'security', 'receptionist', 'host', 'auditor')),
    status        TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    CONSTRAINT operators_username_key UNIQUE (username)
);

CREATE TABLE sessions (
    id           BLOB PRIMARY KEY NOT NULL,
    operator_id  BLOB NOT NULL REFERENCES operators (id),
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX sessions_operator ON sessions (operator_id);

CREATE TABLE login_failures (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    key  TEXT NOT NULL,
    at   TEXT NOT NULL
);
CREATE INDEX login_failures_key_at ON login_failures (key, at);

CREATE TABLE operator_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           BLOB NOT NULL UNIQUE,
    at           TEXT NOT NULL,
    actor_id     BLOB,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    target_id    TEXT,
    before       TEXT,
    after        TEXT,
    request_id   TEXT
);

CREATE TRIGGER operator_log_no_update BEFORE UPDATE ON operator_log
BEGIN
    SELECT RAISE(ABORT, 'operator_log is append-only');
END;

CREATE TRIGGER operator_log_no_delete BEFORE DELETE ON operator_log
BEGIN
    SELECT RAISE(ABORT, 'operator_log is append-only');
END;
