-- Notifications (issue 13): the visitor's invitation email and the host's arrival notice
-- by email and signed webhook. An outbox: a row is written in the same transaction as
-- what it tells of, and a background worker sends it, retrying with backoff, recording
-- each attempt's result. The message is stored whole, so a retry sends the same bytes.
CREATE TABLE notifications (
    id               BLOB PRIMARY KEY NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('invitation', 'arrival')),
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    -- What people see: the email address, or the webhook URL's host.
    recipient        TEXT NOT NULL,
    -- A webhook's whole URL (Slack and Teams put a token in it): used to send, never served.
    endpoint         TEXT,
    subject          TEXT NOT NULL,
    visit_id         BLOB REFERENCES visits (id),
    message          BLOB NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    delivered_at     TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    -- Set when retention removed the recipient, subject and message.
    purged_at        TEXT
);
-- The worker's question: what is pending and due.
CREATE INDEX notifications_due ON notifications (state, next_attempt_at);
CREATE INDEX notifications_visit ON notifications (visit_id);
