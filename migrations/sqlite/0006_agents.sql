-- Door agents, the doors each serves, the events they upload and the alarms raised while
-- ingesting them. Secrets (enrolment codes, tokens) are stored only as SHA-256: both are
-- long random strings, so a fast hash is enough and a stolen database reveals neither.

CREATE TABLE agents (
    id                     BLOB PRIMARY KEY NOT NULL,
    name                   TEXT NOT NULL,
    status                 TEXT NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
    token_hash             BLOB,
    enrollment_code_hash   BLOB,
    enrollment_expires_at  TEXT,
    enrolled_at            TEXT,
    last_seen_at           TEXT,
    clock_offset_ms        BIGINT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    -- UNIQUE lets any number of NULLs through: only live secrets must be unique.
    CONSTRAINT agents_token_hash_key UNIQUE (token_hash),
    CONSTRAINT agents_enrollment_code_hash_key UNIQUE (enrollment_code_hash)
);

-- A door is served by one agent; an agent serves one or more doors.
CREATE TABLE agent_doors (
    agent_id  BLOB NOT NULL REFERENCES agents (id),
    door_id   BLOB NOT NULL REFERENCES doors (id),
    PRIMARY KEY (agent_id, door_id),
    CONSTRAINT agent_doors_door_key UNIQUE (door_id)
);

-- What the agents recorded, each (agent, seq) once. `payload` holds the postcard bytes as
-- uploaded and `hash` their chain hash: the columns after them are decoded copies for
-- searching. `door_id` has no foreign key: events outlive doors.
CREATE TABLE access_events (
    id              BLOB PRIMARY KEY NOT NULL,
    agent_id        BLOB NOT NULL REFERENCES agents (id),
    seq             BIGINT NOT NULL CHECK (seq >= 1),
    hash            BLOB NOT NULL CHECK (length(hash) = 32),
    payload         BLOB NOT NULL,
    occurred_at     TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    door_id         BLOB,
    kind            TEXT NOT NULL,
    reader          TEXT,
    direction       TEXT,
    card            TEXT,
    outcome         TEXT,
    reason          TEXT,
    person_id       BLOB,
    visit_id        BLOB,
    credential_id   BLOB,
    zone_id         BLOB,
    policy_version  BIGINT,
    CONSTRAINT access_events_agent_seq_key UNIQUE (agent_id, seq)
);
CREATE INDEX access_events_occurred ON access_events (occurred_at);
CREATE INDEX access_events_door_occurred ON access_events (door_id, occurred_at);
CREATE INDEX access_events_person_occurred ON access_events (person_id, occurred_at);

CREATE TRIGGER access_events_no_update BEFORE UPDATE ON access_events
BEGIN
    SELECT RAISE(ABORT, 'access_events is append-only');
END;

CREATE TRIGGER access_events_no_delete BEFORE DELETE ON access_events
BEGIN
    SELECT RAISE(ABORT, 'access_events is append-only');
END;

-- Problems found while ingesting an agent's upload. Minimal on purpose: full alarm
-- handling (acknowledging, notifying) comes with issue 5.
CREATE TABLE agent_alarms (
    id        BLOB PRIMARY KEY NOT NULL,
    agent_id  BLOB NOT NULL REFERENCES agents (id),
    at        TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('journal_gap', 'chain_broken', 'clock_offset', 'seq_conflict')),
    detail    TEXT NOT NULL
);
CREATE INDEX agent_alarms_agent ON agent_alarms (agent_id, id);
