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
    id       BLOB NOT NULL,
    card     TEXT
);
CREATE INDEX policy_changes_version ON policy_changes (version);
-- A card's credentials are read together; the live-card index is partial and cannot serve.
CREATE INDEX credentials_card ON credentials (card);
ALTER TABLE policy_state ADD COLUMN changes_from BIGINT NOT NULL DEFAULT 1;
UPDATE policy_state SET changes_from = version;

CREATE TRIGGER sites_policy_insert AFTER INSERT ON sites
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('site', NEW.id);
END;
CREATE TRIGGER sites_policy_update AFTER UPDATE ON sites
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('site', NEW.id);
    INSERT INTO policy_changes (kind, id) SELECT 'site', OLD.id
        WHERE OLD.id IS NOT NEW.id;
END;
CREATE TRIGGER sites_policy_delete AFTER DELETE ON sites
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('site', OLD.id);
END;

CREATE TRIGGER zones_policy_insert AFTER INSERT ON zones
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('zone', NEW.id);
END;
CREATE TRIGGER zones_policy_update AFTER UPDATE ON zones
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('zone', NEW.id);
    INSERT INTO policy_changes (kind, id) SELECT 'zone', OLD.id
        WHERE OLD.id IS NOT NEW.id;
END;
CREATE TRIGGER zones_policy_delete AFTER DELETE ON zones
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('zone', OLD.id);
END;

CREATE TRIGGER doors_policy_insert AFTER INSERT ON doors
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('door', NEW.id);
END;
CREATE TRIGGER doors_policy_update AFTER UPDATE ON doors
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('door', NEW.id);
    INSERT INTO policy_changes (kind, id) SELECT 'door', OLD.id
        WHERE OLD.id IS NOT NEW.id;
END;
CREATE TRIGGER doors_policy_delete AFTER DELETE ON doors
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('door', OLD.id);
END;

CREATE TRIGGER schedules_policy_insert AFTER INSERT ON schedules
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('schedule', NEW.id);
END;
CREATE TRIGGER schedules_policy_update AFTER UPDATE ON schedules
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('schedule', NEW.id);
    INSERT INTO policy_changes (kind, id) SELECT 'schedule', OLD.id
        WHERE OLD.id IS NOT NEW.id;
END;
CREATE TRIGGER schedules_policy_delete AFTER DELETE ON schedules
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('schedule', OLD.id);
END;

CREATE TRIGGER people_policy_insert AFTER INSERT ON people
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('person', NEW.id);
END;
CREATE TRIGGER people_policy_update AFTER UPDATE ON people
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('person', NEW.id);
    INSERT INTO policy_changes (kind, id) SELECT 'person', OLD.id
        WHERE OLD.id IS NOT NEW.id;
END;
CREATE TRIGGER people_policy_delete AFTER DELETE ON people
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('person', OLD.id);
END;

CREATE TRIGGER vetting_records_policy_insert AFTER INSERT ON vetting_records
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('person', NEW.person_id);
END;
CREATE TRIGGER vetting_records_policy_update AFTER UPDATE ON vetting_records
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('person', NEW.person_id);
    INSERT INTO policy_changes (kind, id) SELECT 'person', OLD.person_id
        WHERE OLD.person_id IS NOT NEW.person_id;
END;
CREATE TRIGGER vetting_records_policy_delete AFTER DELETE ON vetting_records
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('person', OLD.person_id);
END;

CREATE TRIGGER group_members_policy_insert AFTER INSERT ON group_members
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('person', NEW.person_id);
END;
CREATE TRIGGER group_members_policy_update AFTER UPDATE ON group_members
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('person', NEW.person_id);
    INSERT INTO policy_changes (kind, id) SELECT 'person', OLD.person_id
        WHERE OLD.person_id IS NOT NEW.person_id;
END;
CREATE TRIGGER group_members_policy_delete AFTER DELETE ON group_members
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('person', OLD.person_id);
END;

CREATE TRIGGER visits_policy_insert AFTER INSERT ON visits
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('visit', NEW.id);
END;
CREATE TRIGGER visits_policy_update AFTER UPDATE ON visits
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('visit', NEW.id);
    INSERT INTO policy_changes (kind, id) SELECT 'visit', OLD.id
        WHERE OLD.id IS NOT NEW.id;
END;
CREATE TRIGGER visits_policy_delete AFTER DELETE ON visits
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('visit', OLD.id);
END;

CREATE TRIGGER visit_zones_policy_insert AFTER INSERT ON visit_zones
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('visit', NEW.visit_id);
END;
CREATE TRIGGER visit_zones_policy_update AFTER UPDATE ON visit_zones
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('visit', NEW.visit_id);
    INSERT INTO policy_changes (kind, id) SELECT 'visit', OLD.visit_id
        WHERE OLD.visit_id IS NOT NEW.visit_id;
END;
CREATE TRIGGER visit_zones_policy_delete AFTER DELETE ON visit_zones
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('visit', OLD.visit_id);
END;

CREATE TRIGGER credentials_policy_insert AFTER INSERT ON credentials
BEGIN
    INSERT INTO policy_changes (kind, id, card) VALUES ('credential', NEW.id, NEW.card);
END;
CREATE TRIGGER credentials_policy_update AFTER UPDATE ON credentials
BEGIN
    INSERT INTO policy_changes (kind, id, card) VALUES ('credential', NEW.id, NEW.card);
    INSERT INTO policy_changes (kind, id, card) SELECT 'credential', OLD.id, OLD.card
        WHERE OLD.id IS NOT NEW.id OR OLD.card IS NOT NEW.card;
END;
CREATE TRIGGER credentials_policy_delete AFTER DELETE ON credentials
BEGIN
    INSERT INTO policy_changes (kind, id, card) VALUES ('credential', OLD.id, OLD.card);
END;

CREATE TRIGGER grants_policy_insert AFTER INSERT ON grants
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('grant', NEW.id);
END;
CREATE TRIGGER grants_policy_update AFTER UPDATE ON grants
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('grant', NEW.id);
    INSERT INTO policy_changes (kind, id) SELECT 'grant', OLD.id
        WHERE OLD.id IS NOT NEW.id;
END;
CREATE TRIGGER grants_policy_delete AFTER DELETE ON grants
BEGIN
    INSERT INTO policy_changes (kind, id) VALUES ('grant', OLD.id);
END;

-- Publishing an import makes its rows visible without touching them: log them then.
CREATE TRIGGER import_pending_policy_delete AFTER DELETE ON import_pending
BEGIN
    INSERT INTO policy_changes (kind, id)
        SELECT 'person', id FROM people WHERE import_batch = OLD.batch;
    INSERT INTO policy_changes (kind, id)
        SELECT 'person', person_id FROM vetting_records WHERE import_batch = OLD.batch;
    INSERT INTO policy_changes (kind, id, card)
        SELECT 'credential', id, card FROM credentials WHERE import_batch = OLD.batch;
END;
