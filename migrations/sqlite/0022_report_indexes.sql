-- Reports (ISO 28000 monitoring): a card's last use is the newest of its events, one
-- look-up per card in this index instead of reading every event of the card (the
-- `(credential_id, id)` index of 0008 is in arrival order, not occurrence order).
CREATE INDEX access_events_credential_occurred ON access_events (credential_id, occurred_at);
