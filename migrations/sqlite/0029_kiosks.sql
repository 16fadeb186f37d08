-- Kiosks: self-service check-in tablets. A kiosk is a device account locked to one
-- browser: an administrator registers it and gets a one-time enrolment code; the tablet
-- types the code once and keeps a long-lived device cookie (only its SHA-256 is stored).
-- A kiosk can only check visitors in at its own site and register walk-ins there.
CREATE TABLE kiosks (
    id                BLOB PRIMARY KEY NOT NULL,
    site_id           BLOB NOT NULL REFERENCES sites (id),
    name              TEXT NOT NULL,
    enrolment_hash    BLOB,
    enrolment_expires TEXT,
    token_hash        BLOB,
    created_at        TEXT NOT NULL,
    enrolled_at       TEXT,
    revoked_at        TEXT
);
CREATE UNIQUE INDEX kiosks_token ON kiosks (token_hash);
CREATE UNIQUE INDEX kiosks_enrolment ON kiosks (enrolment_hash);
