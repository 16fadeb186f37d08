-- The policy change log: which records of the security model each policy version
-- changed, so a server brings its compiled policy from version n to m by reading only
-- those records, and an agent at n receives just them (a signed delta).
--
-- Triggers on every table the policy is compiled from add a row per changed record with
-- no version; bump_policy_version stamps the transaction's rows with the version it
-- makes. A reader takes, in one snapshot, the rows of versions after its own and any
-- not stamped yet (a write after the bump in the same transaction, or a change that did
-- not bump), then the records they name as they are now. A credential row also names
-- its card (old and new): the policy holds one credential per card, chosen among all of
-- the card's credentials, so a change to one may change which is chosen.
--
-- `changes_from`: changes of every version after it are in the log (older rows are
-- pruned; an agent or server further behind than that gets a full snapshot or compile).
CREATE TABLE policy_changes (
    version  BIGINT,
    kind     TEXT NOT NULL,
    id       UUID NOT NULL,
    card     TEXT
);
CREATE INDEX policy_changes_version ON policy_changes (version);
-- A card's credentials are read together; the live-card index is partial and cannot serve.
CREATE INDEX credentials_card ON credentials (card);
ALTER TABLE policy_state ADD COLUMN changes_from BIGINT NOT NULL DEFAULT 1;
UPDATE policy_state SET changes_from = version;

-- One trigger function per key column (the kind comes as the argument); credentials
-- also log their card. An update that moves the key or card logs both. Plain field
-- access, no row-to-JSON conversion: a large import fires these for every row.
CREATE FUNCTION policy_change_by_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO policy_changes (kind, id) VALUES (TG_ARGV[0], NEW.id);
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.id IS DISTINCT FROM NEW.id) THEN
        INSERT INTO policy_changes (kind, id) VALUES (TG_ARGV[0], OLD.id);
    END IF;
    RETURN NULL;
END;
$$;
CREATE FUNCTION policy_change_by_person_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO policy_changes (kind, id) VALUES (TG_ARGV[0], NEW.person_id);
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.person_id IS DISTINCT FROM NEW.person_id) THEN
        INSERT INTO policy_changes (kind, id) VALUES (TG_ARGV[0], OLD.person_id);
    END IF;
    RETURN NULL;
END;
$$;
CREATE FUNCTION policy_change_by_visit_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO policy_changes (kind, id) VALUES (TG_ARGV[0], NEW.visit_id);
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.visit_id IS DISTINCT FROM NEW.visit_id) THEN
        INSERT INTO policy_changes (kind, id) VALUES (TG_ARGV[0], OLD.visit_id);
    END IF;
    RETURN NULL;
END;
$$;
CREATE FUNCTION policy_change_credential() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO policy_changes (kind, id, card) VALUES ('credential', NEW.id, NEW.card);
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD.id IS DISTINCT FROM NEW.id
            OR OLD.card IS DISTINCT FROM NEW.card)) THEN
        INSERT INTO policy_changes (kind, id, card) VALUES ('credential', OLD.id, OLD.card);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER sites_policy_change AFTER INSERT OR UPDATE OR DELETE ON sites
    FOR EACH ROW EXECUTE FUNCTION policy_change_by_id('site');
CREATE TRIGGER zones_policy_change AFTER INSERT OR UPDATE OR DELETE ON zones
    FOR EACH ROW EXECUTE FUNCTION policy_change_by_id('zone');
CREATE TRIGGER doors_policy_change AFTER INSERT OR UPDATE OR DELETE ON doors
    FOR EACH ROW EXECUTE FUNCTION policy_change_by_id('door');
CREATE TRIGGER schedules_policy_change AFTER INSERT OR UPDATE OR DELETE ON schedules
    FOR EACH ROW EXECUTE FUNCTION policy_change_by_id('schedule');
CREATE TRIGGER people_policy_change AFTER INSERT OR UPDATE OR DELETE ON people
    FOR EACH ROW EXECUTE FUNCTION policy_change_by_id('person');
CREATE TRIGGER vetting_records_policy_change AFTER INSERT OR UPDATE OR DELETE ON vetting_records
    FOR EACH ROW EXECUTE FUNCTION policy_change_by_person_id('person');
CREATE TRIGGER group_members_policy_change AFTER INSERT OR UPDATE OR DELETE ON group_members
    FOR EACH ROW EXECUTE FUNCTION policy_change_by_person_id('person');
CREATE TRIGGER visits_policy_change AFTER INSERT OR UPDATE OR DELETE ON visits
    FOR EACH ROW EXECUTE FUNCTION policy_change_by_id('visit');
CREATE TRIGGER visit_zones_policy_change AFTER INSERT OR UPDATE OR DELETE ON visit_zones
    FOR EACH ROW EXECUTE FUNCTION policy_change_by_visit_id('visit');
CREATE TRIGGER grants_policy_change AFTER INSERT OR UPDATE OR DELETE ON grants
    FOR EACH ROW EXECUTE FUNCTION policy_change_by_id('grant');
CREATE TRIGGER credentials_policy_change AFTER INSERT OR UPDATE OR DELETE ON credentials
    FOR EACH ROW EXECUTE FUNCTION policy_change_credential();

-- Publishing an import makes its rows visible without touching them: log them then.
CREATE FUNCTION import_published() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO policy_changes (kind, id)
        SELECT 'person', id FROM people WHERE import_batch = OLD.batch;
    INSERT INTO policy_changes (kind, id)
        SELECT 'person', person_id FROM vetting_records WHERE import_batch = OLD.batch;
    INSERT INTO policy_changes (kind, id, card)
        SELECT 'credential', id, card FROM credentials WHERE import_batch = OLD.batch;
    RETURN NULL;
END;
$$;
CREATE TRIGGER import_pending_policy_delete AFTER DELETE ON import_pending
    FOR EACH ROW EXECUTE FUNCTION import_published();
