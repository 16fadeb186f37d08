-- Visitor documents (issue 13): templates (an NDA, a safety briefing) per site and visit
-- type with append-only versions, and the visitors' signatures with the signed copy.

-- site_id NULL: every site; visit_type NULL: every visit type. resign_after_days NULL:
-- signed once per version; otherwise signed again that many days after the last time.
CREATE TABLE document_templates (
    id                 BLOB PRIMARY KEY NOT NULL,
    site_id            BLOB REFERENCES sites (id),
    visit_type         TEXT,
    kind               TEXT NOT NULL,
    title              TEXT NOT NULL,
    resign_after_days  INTEGER CHECK (resign_after_days BETWEEN 1 AND 3650),
    current_version    INTEGER NOT NULL CHECK (current_version >= 1),
    active             BOOLEAN NOT NULL DEFAULT TRUE,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX document_templates_site ON document_templates (site_id);

-- Each text a template ever had, kept as it was signed.
CREATE TABLE document_versions (
    template_id  BLOB NOT NULL REFERENCES document_templates (id),
    version      INTEGER NOT NULL CHECK (version >= 1),
    body         TEXT NOT NULL,
    body_sha256  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (template_id, version)
);
CREATE TRIGGER document_versions_no_update BEFORE UPDATE ON document_versions
BEGIN
    SELECT RAISE(ABORT, 'document_versions is append-only');
END;
CREATE TRIGGER document_versions_no_delete BEFORE DELETE ON document_versions
BEGIN
    SELECT RAISE(ABORT, 'document_versions is append-only');
END;

-- A visitor's signature of one version, with its signed copy (PDF). Retention empties
-- the personal parts (typed name, strokes, PDF) and keeps the PDF's hash, which the
-- operator log's chained entry also committed to.
CREATE TABLE document_signatures (
    id           BLOB PRIMARY KEY NOT NULL,
    visit_id     BLOB NOT NULL REFERENCES visits (id),
    visitor_id   BLOB REFERENCES visitors (id),
    template_id  BLOB NOT NULL,
    version      INTEGER NOT NULL,
    signed_at    TEXT NOT NULL,
    method       TEXT NOT NULL CHECK (method IN ('typed', 'drawn')),
    typed_name   TEXT,
    consent      BOOLEAN NOT NULL CHECK (consent),
    strokes      TEXT,
    pdf          BLOB,
    pdf_sha256   TEXT NOT NULL,
    purged_at    TEXT,
    FOREIGN KEY (template_id, version) REFERENCES document_versions (template_id, version)
);
CREATE INDEX document_signatures_visit ON document_signatures (visit_id);
CREATE INDEX document_signatures_visitor ON document_signatures (visitor_id, template_id);
