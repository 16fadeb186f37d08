-- Site card keys (issue 15): per site and DESFire key version (1-255), the application
-- master (write) key, the read key (AN10922 base of every card's read key) and the UID
-- key, each AES-128, each stored only as nonce ‖ AES-256-GCM ciphertext under the
-- server's key-encryption key (never in this database), with the site, version and key
-- role as associated data so a ciphertext cannot be moved to another row or column.
-- States: one current and at most one previous per site (both accepted at doors during
-- a rollover), then retired for good.
CREATE TABLE card_keys (
    site_id    UUID NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    version    SMALLINT NOT NULL CHECK (version BETWEEN 1 AND 255),
    state      TEXT NOT NULL CHECK (state IN ('current', 'previous', 'retired')),
    master_key BYTEA NOT NULL,
    read_key   BYTEA NOT NULL,
    uid_key    BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (site_id, version)
);
CREATE UNIQUE INDEX card_keys_one_current ON card_keys (site_id) WHERE state = 'current';
CREATE UNIQUE INDEX card_keys_one_previous ON card_keys (site_id) WHERE state = 'previous';

-- The card key-set number: one more with every change of any site's versions, in the
-- changing transaction, so an agent that saw another number fetches its keys again
-- (never lower, whatever is deleted).
CREATE TABLE card_key_set (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    number BIGINT NOT NULL
);
INSERT INTO card_key_set (id, number) VALUES (1, 0);

-- The X25519 public key each agent made at enrolment (or registered once after), to
-- which its sites' read and UID keys are sealed.
ALTER TABLE agents ADD COLUMN card_public_key BYTEA;
