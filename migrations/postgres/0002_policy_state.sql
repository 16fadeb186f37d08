-- The policy version: bumped in the same transaction as every change to the security
-- model, so a compiled policy (and the snapshot door agents receive) is named by it.
CREATE TABLE policy_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    version     BIGINT NOT NULL,
    changed_at  TIMESTAMPTZ NOT NULL
);
INSERT INTO policy_state (id, version, changed_at) VALUES (1, 1, now());
