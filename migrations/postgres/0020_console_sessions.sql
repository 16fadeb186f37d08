-- Console sessions (the web console's login): the cookie's SHA-256 (never the cookie
-- itself) and when the session ends for want of use. API sessions leave both NULL: their
-- bearer tokens carry the session id and end at `expires_at`.
ALTER TABLE sessions ADD COLUMN cookie_hash BYTEA;
ALTER TABLE sessions ADD COLUMN idle_expires_at TIMESTAMPTZ;
CREATE UNIQUE INDEX sessions_cookie_hash ON sessions (cookie_hash);
