-- The policy version: bumped in the same transaction as every change to the security
-- model, so a compiled policy (and the snapshot door agents receive) is named by it.
CREATE TABLE policy_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    version     BIGINT NOT NULL,
    changed_at  TEXT NOT NULL
);
INSERT INTO policy_state (id, version, changed_at) VALUES (1, 1, '1970-01-01T00:00:00+00:00');
