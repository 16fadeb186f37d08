-- HR's key for a person (the employee number): what makes a re-import of the HR file
-- update the same person instead of creating another. Optional; unique when present.

ALTER TABLE people ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX people_external_id_key ON people (external_id) WHERE external_id IS NOT NULL;
