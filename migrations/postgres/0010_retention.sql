-- Retention of visitors' personal data. A visit whose window ended long enough ago has
-- its visitor's name and organisation replaced (`purged_at` says when), and the operator
-- log entries about it lose their before/after: the log stays append-only except for
-- exactly that change, which keeps every other column and leaves the salted hash of
-- what was removed (`detail_hash`) so the audit chain still verifies.

ALTER TABLE visits ADD COLUMN purged_at TIMESTAMPTZ;

CREATE FUNCTION operator_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.target_type = 'visit' AND OLD.detail_salt IS NOT NULL
       AND NEW.before IS NULL AND NEW.after IS NULL
       AND NEW.detail_salt IS NULL AND NEW.detail_hash IS NOT NULL
       AND NEW.seq = OLD.seq AND NEW.id = OLD.id AND NEW.at = OLD.at
       AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id AND NEW.actor = OLD.actor
       AND NEW.action = OLD.action AND NEW.target_type = OLD.target_type
       AND NEW.target_id IS NOT DISTINCT FROM OLD.target_id
       AND NEW.request_id IS NOT DISTINCT FROM OLD.request_id
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'operator_log is append-only (only visitor details may be purged)';
END;
$$;

DROP TRIGGER operator_log_append_only ON operator_log;
CREATE TRIGGER operator_log_append_only BEFORE UPDATE OR DELETE ON operator_log
    FOR EACH ROW EXECUTE FUNCTION operator_log_guard();
