-- Live door state and remote door commands (issue 11, items 5 and 6).
--
-- door_states: each door's current state as its agent last reported it (lock, contact,
-- mode in force, standing alarms, last event). One row per door, replaced when the
-- agent reports a change; `updated_at` is when the server took the last change. The
-- agent's heartbeat is its own row's `last_seen_at` in `agents`.
CREATE TABLE door_states (
    door_id            UUID PRIMARY KEY REFERENCES doors (id) ON DELETE CASCADE,
    agent_id           UUID NOT NULL REFERENCES agents (id),
    lock_state         TEXT NOT NULL CHECK (lock_state IN ('locked', 'released')),
    contact            TEXT NOT NULL CHECK (contact IN ('open', 'closed')),
    mode               TEXT NOT NULL CHECK (mode IN ('normal', 'locked', 'unlocked')),
    mode_until         TIMESTAMPTZ,
    -- Comma-separated: forced_open, held_open, tamper; empty when none.
    alarms             TEXT NOT NULL,
    last_event_kind    TEXT,
    last_event_at      TIMESTAMPTZ,
    last_event_detail  TEXT,
    updated_at         TIMESTAMPTZ NOT NULL
);

-- door_commands: what operators asked of doors, until the agent reports it done or it
-- expires. An agent is handed the commands of its own doors only.
CREATE TABLE door_commands (
    id            UUID PRIMARY KEY,
    door_id       UUID NOT NULL REFERENCES doors (id) ON DELETE CASCADE,
    agent_id      UUID NOT NULL REFERENCES agents (id),
    action        TEXT NOT NULL CHECK (action IN ('release', 'set_mode')),
    seconds       BIGINT,
    mode          TEXT CHECK (mode IN ('normal', 'locked', 'unlocked')),
    mode_until    TIMESTAMPTZ,
    operator_id   UUID NOT NULL,
    operator      TEXT NOT NULL,
    issued_at     TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    delivered_at  TIMESTAMPTZ,
    done_at       TIMESTAMPTZ
);
CREATE INDEX door_commands_agent_waiting ON door_commands (agent_id, done_at, expires_at);
