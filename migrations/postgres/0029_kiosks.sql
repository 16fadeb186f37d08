-- Kiosks: self-service check-in tablets. A kiosk is a device account locked to one
-- browser: an administrator registers it and gets a one-time enrolment code; the tablet
-- types the code once and keeps a long-lived device cookie (only its SHA-256 is stored).
-- A kiosk can only check visitors in at its own site and register walk-ins there.
CREATE TABLE kiosks (
    id                UUID PRIMARY KEY,
    site_id           UUID NOT NULL REFERENCES sites (id),
    name              TEXT NOT NULL,
    enrolment_hash    BYTEA,
    enrolment_expires TIMESTAMPTZ,
    token_hash        BYTEA,
    created_at        TIMESTAMPTZ NOT NULL,
    enrolled_at       TIMESTAMPTZ,
    revoked_at        TIMESTAMPTZ
);
CREATE UNIQUE INDEX kiosks_token ON kiosks (token_hash);
CREATE UNIQUE INDEX kiosks_enrolment ON kiosks (enrolment_hash);
