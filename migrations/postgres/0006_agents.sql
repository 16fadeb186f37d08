-- Door agents, the doors each serves, the events they upload and the alarms raised while
-- ingesting them. Secrets (enrolment codes, tokens) are stored only as SHA-256: both are
-- long random strings, so a fast hash is enough and a stolen database reveals neither.

CREATE TABLE agents (
    id                     UUID PRIMARY KEY,
    name                   TEXT NOT NULL,
    status                 TEXT NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
    token_hash             BYTEA,
    enrollment_code_hash   BYTEA,
    enrollment_expires_at  TIMESTAMPTZ,
    enrolled_at            TIMESTAMPTZ,
    last_seen_at           TIMESTAMPTZ,
    clock_offset_ms        BIGINT,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    -- UNIQUE lets any number of NULLs through: only live secrets must be unique.
    CONSTRAINT agents_token_hash_key UNIQUE (token_hash),
    CONSTRAINT agents_enrollment_code_hash_key UNIQUE (enrollment_code_hash)
);

-- A door is served by one agent; an agent serves one or more doors.
CREATE TABLE agent_doors (
    agent_id  UUID NOT NULL REFERENCES agents (id),
    door_id   UUID NOT NULL REFERENCES doors (id),
    PRIMARY KEY (agent_id, door_id),
    CONSTRAINT agent_doors_door_key UNIQUE (door_id)
);

-- What the agents recorded, each (agent, seq) once. `payload` holds the postcard bytes as
-- uploaded and `hash` their chain hash: the columns after them are decoded copies for
-- searching. `door_id` has no foreign key: events outlive doors.
CREATE TABLE access_events (
    id              UUID PRIMARY KEY,
    agent_id        UUID NOT NULL REFERENCES agents (id),
    seq             BIGINT NOT NULL CHECK (seq >= 1),
    hash            BYTEA NOT NULL CHECK (octet_length(hash) = 32),
    payload         BYTEA NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL,
    door_id         UUID,
    kind            TEXT NOT NULL,
    reader          TEXT,
    direction       TEXT,
    card            TEXT,
    outcome         TEXT,
    reason          TEXT,
    person_id       UUID,
    visit_id        UUID,
    credential_id   UUID,
    zone_id         UUID,
    policy_version  BIGINT,
    CONSTRAINT access_events_agent_seq_key UNIQUE (agent_id, seq)
);
CREATE INDEX access_events_occurred ON access_events (occurred_at);
CREATE INDEX access_events_door_occurred ON access_events (door_id, occurred_at);
CREATE INDEX access_events_person_occurred ON access_events (person_id, occurred_at);

-- reject_change() comes from 0001_operators.sql.
CREATE TRIGGER access_events_append_only BEFORE UPDATE OR DELETE ON access_events
    FOR EACH ROW EXECUTE FUNCTION reject_change();
CREATE TRIGGER access_events_no_truncate BEFORE TRUNCATE ON access_events
    FOR EACH STATEMENT EXECUTE FUNCTION reject_change();

-- Problems found while ingesting an agent's upload. Minimal on purpose: full alarm
-- handling (acknowledging, notifying) comes with issue 5.
CREATE TABLE agent_alarms (
    id        UUID PRIMARY KEY,
    agent_id  UUID NOT NULL REFERENCES agents (id),
    at        TIMESTAMPTZ NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('journal_gap', 'chain_broken', 'clock_offset', 'seq_conflict')),
    detail    TEXT NOT NULL
);
CREATE INDEX agent_alarms_agent ON agent_alarms (agent_id, id);
