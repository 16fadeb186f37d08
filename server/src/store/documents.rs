//! Visitor documents: templates (an NDA, a safety briefing) per site and visit type, with
//! append-only versions; which of them a visit's visitor still has to sign; signing, which
//! stores the signed copy (PDF) and writes its SHA-256 into the chained operator log in
//! the same transaction; and the retention purge of signatures. Also the facts a badge
//! or a signed copy prints about a visit ([`VisitSheet`]).

use super::operator_log::{Actor, NewLogEntry};
use super::{Db, ModelError, Store, StoreError, now, on};
use crate::documents::signed_copy::{self, SignedCopy, Strokes};
use crate::store::stored_time::{OptionalStoredTime, StoredTime};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use gatehouse_core::local_time::in_zone;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Longest template text, in characters.
pub const MAX_BODY_CHARS: usize = 100_000;

/// A document template with its current text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = DocumentTemplate)]
pub struct TemplateRecord {
    pub id: Uuid,
    /// The site it applies to; absent: every site.
    pub site_id: Option<Uuid>,
    /// The visit type it applies to (e.g. `contractor`); absent: every type.
    pub visit_type: Option<String>,
    /// What kind of document, e.g. `nda`, `safety_briefing`.
    pub kind: String,
    pub title: String,
    /// Signed again this many days after the last signature; absent: only when a new
    /// version is published.
    pub resign_after_days: Option<i32>,
    pub current_version: i32,
    /// Inactive templates are no longer due; signatures already made are kept.
    pub active: bool,
    /// The current version's text.
    pub body: String,
    /// SHA-256 (hex) of the current version's text, as printed on signed copies.
    pub body_sha256: String,
    #[sqlx(try_from = "StoredTime")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    pub updated_at: DateTime<Utc>,
}

macro_rules! select_template {
    ($rest:literal) => {
        concat!(
            "SELECT t.id, t.site_id, t.visit_type, t.kind, t.title, t.resign_after_days, \
             t.current_version, t.active, v.body, v.body_sha256, t.created_at, t.updated_at \
             FROM document_templates t JOIN document_versions v \
             ON v.template_id = t.id AND v.version = t.current_version ",
            $rest
        )
    };
}

/// A template to create (its first version's text in `body`).
#[derive(Debug, Clone)]
pub struct NewTemplate {
    pub site_id: Option<Uuid>,
    pub visit_type: Option<String>,
    pub kind: String,
    pub title: String,
    pub resign_after_days: Option<i32>,
    pub body: String,
}

/// A change to a template; a `body` different from the current text is a new version.
#[derive(Debug, Clone, Default)]
pub struct TemplateChange {
    pub title: Option<String>,
    pub resign_after_days: Option<Option<i32>>,
    pub active: Option<bool>,
    pub body: Option<String>,
}

/// Why a document is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DueReason {
    /// Never signed by this visitor.
    NotSigned,
    /// Signed, but an earlier version.
    NewVersion,
    /// Signed more than `resign_after_days` ago.
    Expired,
}

/// A document the visitor has to sign for this visit, at its current version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DueDocument {
    pub template_id: Uuid,
    pub kind: String,
    pub title: String,
    pub version: i32,
    pub body: String,
    pub body_sha256: String,
    pub reason: DueReason,
    /// When this visitor last signed this template (any version).
    pub last_signed_at: Option<DateTime<Utc>>,
}

/// How the visitor signed.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::AsRefStr,
    strum::EnumString,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SignMethod {
    /// A typed name and the consent box.
    Typed,
    /// A signature drawn on the screen (and the consent box).
    Drawn,
}

/// What the visitor gives when signing.
#[derive(Debug, Clone)]
pub struct Signature {
    pub method: SignMethod,
    pub typed_name: Option<String>,
    pub consent: bool,
    pub strokes: Option<Strokes>,
    /// The version shown to the visitor; refused (409) when it is no longer current.
    pub version: Option<i32>,
}

/// A signature as served (without the PDF and the strokes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = DocumentSignature)]
pub struct SignatureRecord {
    pub id: Uuid,
    pub visit_id: Uuid,
    pub visitor_id: Option<Uuid>,
    pub template_id: Uuid,
    pub title: String,
    pub kind: String,
    pub version: i32,
    #[sqlx(try_from = "StoredTime")]
    pub signed_at: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    pub method: SignMethodText,
    /// Empty after the retention purge.
    pub typed_name: Option<String>,
    pub consent: bool,
    /// SHA-256 (hex) of the signed copy; kept after the purge.
    pub pdf_sha256: String,
    /// When retention removed the signed copy, the typed name and the drawing.
    #[sqlx(try_from = "OptionalStoredTime")]
    pub purged_at: Option<DateTime<Utc>>,
}

/// [`SignMethod`] as read from its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = SignMethod)]
pub struct SignMethodText(pub SignMethod);

impl TryFrom<String> for SignMethodText {
    type Error = sqlx::Error;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        super::site_model::parse(&text, "signature method").map(SignMethodText)
    }
}

macro_rules! select_signature {
    ($rest:literal) => {
        concat!(
            "SELECT s.id, s.visit_id, s.visitor_id, s.template_id, t.title, t.kind, s.version, \
             s.signed_at, s.method, s.typed_name, s.consent, s.pdf_sha256, s.purged_at \
             FROM document_signatures s JOIN document_templates t ON t.id = s.template_id ",
            $rest
        )
    };
}

/// The documents of one visit: still to sign, and signed for it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VisitDocuments {
    pub due: Vec<DueDocument>,
    pub signed: Vec<SignatureRecord>,
}

/// What a badge or a signed copy prints about a visit.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VisitSheet {
    pub id: Uuid,
    pub visitor_id: Option<Uuid>,
    pub visitor_name: String,
    pub visitor_organisation: Option<String>,
    pub host_name: String,
    pub site_id: Option<Uuid>,
    pub site_name: Option<String>,
    pub timezone: Option<String>,
    pub visit_type: String,
    #[sqlx(try_from = "StoredTime")]
    pub window_start: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    pub window_end: DateTime<Utc>,
    pub escort_required: bool,
    pub check_in_code: Option<String>,
}

impl VisitSheet {
    /// The site's time zone (UTC for a visit without a site or with an unknown zone).
    pub fn zone(&self) -> Tz {
        self.timezone
            .as_deref()
            .and_then(|name| name.parse().ok())
            .unwrap_or(Tz::UTC)
    }
}

/// SHA-256 as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A required single-line text: trimmed, not empty, at most `max` characters.
fn text(field: &'static str, value: &str, max: usize) -> Result<String, ModelError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ModelError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(ModelError::invalid(
            field,
            "is too long or holds control characters",
        ));
    }
    Ok(value.to_owned())
}

/// A short code (`nda`, `contractor`): 1 to 40 of a-z, 0-9, `_`, `-`.
fn code(field: &'static str, value: &str) -> Result<String, ModelError> {
    let value = value.trim();
    let ok = !value.is_empty()
        && value.len() <= 40
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(ModelError::invalid(
            field,
            "must be 1 to 40 of a-z, 0-9, _ and -",
        ))
    }
}

fn body(value: &str) -> Result<String, ModelError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ModelError::invalid("body", "must not be empty"));
    }
    if value.contains('\0') {
        return Err(ModelError::invalid("body", "holds a NUL character"));
    }
    if value.chars().count() > MAX_BODY_CHARS {
        return Err(ModelError::invalid(
            "body",
            "is longer than 100,000 characters",
        ));
    }
    // Line ends as \n, so the hash does not depend on the browser that sent the text.
    Ok(value.replace("\r\n", "\n"))
}

fn resign_days(value: Option<i32>) -> Result<Option<i32>, ModelError> {
    match value {
        Some(days) if !(1..=3650).contains(&days) => Err(ModelError::invalid(
            "resign_after_days",
            "must be between 1 and 3650",
        )),
        other => Ok(other),
    }
}

impl Signature {
    /// Checks the input before anything is read or written (a 422 naming the field).
    fn checked(self) -> Result<Signature, ModelError> {
        if !self.consent {
            return Err(ModelError::invalid(
                "consent",
                "must be given: the visitor confirms reading and accepting the text",
            ));
        }
        let typed_name = match self.typed_name.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => Some(text("typed_name", name, 200)?),
        };
        match self.method {
            SignMethod::Typed if typed_name.is_none() => {
                return Err(ModelError::invalid(
                    "typed_name",
                    "must not be empty: type the visitor's name",
                ));
            }
            SignMethod::Drawn => match &self.strokes {
                None => {
                    return Err(ModelError::invalid(
                        "strokes",
                        "is missing: draw the signature",
                    ));
                }
                Some(strokes) => {
                    strokes
                        .validate()
                        .map_err(|problem| ModelError::invalid("strokes", problem))?;
                }
            },
            SignMethod::Typed => {}
        }
        let strokes = match self.method {
            SignMethod::Drawn => self.strokes,
            // A typed signature keeps no drawing.
            SignMethod::Typed => None,
        };
        Ok(Signature {
            typed_name,
            strokes,
            ..self
        })
    }
}

impl Db<'_> {
    /// The facts printed about a visit ([`StoreError::NotFound`] when none).
    async fn visit_sheet(self, id: Uuid) -> Result<VisitSheet, StoreError> {
        Ok(on!(self, |c| {
            sqlx::query_as::<_, VisitSheet>(
                "SELECT v.id, v.visitor_id, v.visitor_name, v.visitor_organisation, \
                 p.name AS host_name, v.site_id, s.name AS site_name, s.timezone, \
                 v.visit_type, v.window_start, v.window_end, v.escort_required, \
                 v.check_in_code FROM visits v JOIN people p ON p.id = v.host_person_id \
                 LEFT JOIN sites s ON s.id = v.site_id WHERE v.id = $1",
            )
            .bind(id)
            .fetch_one(c)
            .await?
        }))
    }

    async fn template(self, id: Uuid) -> Result<TemplateRecord, StoreError> {
        Ok(on!(self, |c| {
            sqlx::query_as::<_, TemplateRecord>(select_template!("WHERE t.id = $1"))
                .bind(id)
                .fetch_one(c)
                .await?
        }))
    }

    /// The documents the visit's visitor still has to sign at `at`.
    async fn due(
        mut self,
        sheet: &VisitSheet,
        at: DateTime<Utc>,
    ) -> Result<Vec<DueDocument>, StoreError> {
        let (templates, signed) = on!(self.re(), |c| {
            let templates = sqlx::query_as::<_, TemplateRecord>(select_template!(
                "WHERE t.active AND (t.site_id IS NULL OR t.site_id = $1) \
                 AND (t.visit_type IS NULL OR t.visit_type = $2) ORDER BY t.title, t.id"
            ))
            .bind(sheet.site_id)
            .bind(&sheet.visit_type)
            .fetch_all(&mut *c)
            .await?;
            // The same visitor across visits; a visit without a visitor record only
            // counts its own signatures. Purged signatures no longer count.
            let signed = sqlx::query_as::<_, (Uuid, i32, StoredTime)>(
                "SELECT template_id, version, signed_at FROM document_signatures \
                 WHERE (visitor_id = $1 OR visit_id = $2) AND purged_at IS NULL",
            )
            .bind(sheet.visitor_id)
            .bind(sheet.id)
            .fetch_all(c)
            .await?;
            (templates, signed)
        });
        Ok(templates
            .into_iter()
            .filter_map(|t| {
                let of_template = signed.iter().filter(|s| s.0 == t.id);
                let last_signed_at = of_template.clone().map(|s| s.2.0).max();
                let current = of_template
                    .filter(|s| s.1 == t.current_version)
                    .map(|s| s.2.0)
                    .max();
                let reason = match (current, t.resign_after_days) {
                    (None, _) if last_signed_at.is_some() => DueReason::NewVersion,
                    (None, _) => DueReason::NotSigned,
                    (Some(signed), Some(days)) if at - signed > Duration::days(i64::from(days)) => {
                        DueReason::Expired
                    }
                    (Some(_), _) => return None,
                };
                Some(DueDocument {
                    template_id: t.id,
                    kind: t.kind,
                    title: t.title,
                    version: t.current_version,
                    body: t.body,
                    body_sha256: t.body_sha256,
                    reason,
                    last_signed_at,
                })
            })
            .collect())
    }

    /// Retention: empties the signatures of a purged visit (signed copy, typed name,
    /// drawing) and keeps their `pdf_sha256`. Called by the visitor-data purge.
    pub(crate) async fn purge_document_signatures(
        self,
        visit_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = on!(self, |c| {
            sqlx::query(
                "UPDATE document_signatures SET pdf = NULL, typed_name = NULL, strokes = NULL, \
                 purged_at = $2 WHERE visit_id = $1 AND purged_at IS NULL",
            )
            .bind(visit_id)
            .bind(at)
            .execute(c)
            .await?
            .rows_affected()
        });
        Ok(done)
    }
}

impl Store {
    /// The facts a badge or a signed copy prints about a visit.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn visit_sheet(&self, id: Uuid) -> Result<VisitSheet, StoreError> {
        let mut tx = self.read().await?;
        let sheet = tx.db().visit_sheet(id).await?;
        tx.commit().await?;
        Ok(sheet)
    }

    /// Every template, by title.
    #[tracing::instrument(skip_all)]
    pub async fn document_templates(&self) -> Result<Vec<TemplateRecord>, StoreError> {
        Ok(on!(self.pool(), |pool| {
            sqlx::query_as::<_, TemplateRecord>(select_template!("ORDER BY t.title, t.id"))
                .fetch_all(pool)
                .await?
        }))
    }

    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn document_template(&self, id: Uuid) -> Result<TemplateRecord, StoreError> {
        let mut tx = self.read().await?;
        let template = tx.db().template(id).await?;
        tx.commit().await?;
        Ok(template)
    }

    /// Creates a template with its first version (422 naming a bad field).
    #[tracing::instrument(skip_all)]
    pub async fn create_document_template(
        &self,
        new: NewTemplate,
        actor: &Actor,
    ) -> Result<TemplateRecord, ModelError> {
        let at = now();
        let body = body(&new.body)?;
        let record = TemplateRecord {
            id: Uuid::now_v7(),
            site_id: new.site_id,
            visit_type: new
                .visit_type
                .as_deref()
                .map(|t| code("visit_type", t))
                .transpose()?,
            kind: code("kind", &new.kind)?,
            title: text("title", &new.title, 200)?,
            resign_after_days: resign_days(new.resign_after_days)?,
            current_version: 1,
            active: true,
            body_sha256: sha256_hex(body.as_bytes()),
            body,
            created_at: at,
            updated_at: at,
        };
        let entry = NewLogEntry::new(
            actor,
            "document_template.create",
            "document_template",
            record.id,
            None,
            Some(&record),
        );
        on!(self.write().await?, |mut tx| {
            if let Some(site) = record.site_id {
                let n = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sites WHERE id = $1")
                    .bind(site)
                    .fetch_one(&mut *tx)
                    .await?;
                if n == 0 {
                    return Err(ModelError::invalid("site_id", "no such site"));
                }
            }
            sqlx::query(
                "INSERT INTO document_templates (id, site_id, visit_type, kind, title, \
                 resign_after_days, current_version, active, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 1, TRUE, $7, $7)",
            )
            .bind(record.id)
            .bind(record.site_id)
            .bind(&record.visit_type)
            .bind(&record.kind)
            .bind(&record.title)
            .bind(record.resign_after_days)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            insert_version(&mut Db::from(&mut *tx), &record, actor).await?;
            Db::from(&mut *tx).insert_log(&entry).await?;
            tx.commit().await?;
        });
        Ok(record)
    }

    /// Changes a template; a new text becomes the next version (the earlier versions and
    /// their signatures stay as they were).
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn update_document_template(
        &self,
        id: Uuid,
        change: TemplateChange,
        actor: &Actor,
    ) -> Result<TemplateRecord, ModelError> {
        let title = change
            .title
            .as_deref()
            .map(|t| text("title", t, 200))
            .transpose()?;
        let new_body = change.body.as_deref().map(body).transpose()?;
        let resign = change.resign_after_days.map(resign_days).transpose()?;
        let after = on!(self.write().await?, |mut tx| {
            let before = Db::from(&mut *tx).template(id).await?;
            let at = now();
            let mut after = TemplateRecord {
                title: title.unwrap_or_else(|| before.title.clone()),
                resign_after_days: resign.unwrap_or(before.resign_after_days),
                active: change.active.unwrap_or(before.active),
                updated_at: at,
                ..before.clone()
            };
            let new_version = new_body.filter(|b| *b != before.body);
            if let Some(text) = new_version {
                after.current_version = before.current_version + 1;
                after.body_sha256 = sha256_hex(text.as_bytes());
                after.body = text;
                insert_version(&mut Db::from(&mut *tx), &after, actor).await?;
            }
            sqlx::query(
                "UPDATE document_templates SET title = $2, resign_after_days = $3, \
                 active = $4, current_version = $5, updated_at = $6 WHERE id = $1",
            )
            .bind(id)
            .bind(&after.title)
            .bind(after.resign_after_days)
            .bind(after.active)
            .bind(after.current_version)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let entry = NewLogEntry::new(
                actor,
                "document_template.update",
                "document_template",
                id,
                Some(&before),
                Some(&after),
            );
            Db::from(&mut *tx).insert_log(&entry).await?;
            tx.commit().await?;
            after
        });
        Ok(after)
    }

    /// The documents the visit's visitor still has to sign at `at`: the active templates
    /// for the visit's site and type not signed at their current version, or signed more
    /// than `resign_after_days` ago.
    #[tracing::instrument(skip_all, fields(%visit_id))]
    pub async fn documents_due(
        &self,
        visit_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<Vec<DueDocument>, StoreError> {
        let mut tx = self.read().await?;
        let sheet = tx.db().visit_sheet(visit_id).await?;
        let due = tx.db().due(&sheet, at).await?;
        tx.commit().await?;
        Ok(due)
    }

    /// The documents still due and those signed for this visit.
    #[tracing::instrument(skip_all, fields(%visit_id))]
    pub async fn visit_documents(
        &self,
        visit_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<VisitDocuments, StoreError> {
        let mut tx = self.read().await?;
        let sheet = tx.db().visit_sheet(visit_id).await?;
        let due = tx.db().due(&sheet, at).await?;
        let signed = on!(tx.db(), |c| {
            sqlx::query_as::<_, SignatureRecord>(select_signature!(
                "WHERE s.visit_id = $1 ORDER BY s.signed_at, s.id"
            ))
            .bind(visit_id)
            .fetch_all(c)
            .await?
        });
        tx.commit().await?;
        Ok(VisitDocuments { due, signed })
    }

    /// One signature and its signed copy (`None` after the retention purge).
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn document_signature(
        &self,
        id: Uuid,
    ) -> Result<(SignatureRecord, Option<Vec<u8>>), StoreError> {
        let (record, pdf) = on!(self.read().await?, |mut tx| {
            let record = sqlx::query_as::<_, SignatureRecord>(select_signature!("WHERE s.id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            let pdf = sqlx::query_scalar::<_, Option<Vec<u8>>>(
                "SELECT pdf FROM document_signatures WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            (record, pdf)
        });
        Ok((record, pdf))
    }

    /// The visitor signs a due document: checks the input (422), that the document is
    /// due for the visit and the version shown is current (409), renders the signed copy,
    /// stores it and writes `visit.document_signed` with the template, version and the
    /// PDF's SHA-256 in the same transaction.
    #[tracing::instrument(skip_all, fields(%visit_id, %template_id))]
    pub async fn sign_document(
        &self,
        visit_id: Uuid,
        template_id: Uuid,
        signature: Signature,
        actor: &Actor,
    ) -> Result<SignatureRecord, ModelError> {
        let signature = signature.checked()?;
        let record = on!(self.write().await?, |mut tx| {
            let sheet = Db::from(&mut *tx).visit_sheet(visit_id).await?;
            let template = Db::from(&mut *tx).template(template_id).await?;
            let at = now();
            let due = Db::from(&mut *tx).due(&sheet, at).await?;
            if !due.iter().any(|d| d.template_id == template_id) {
                return Err(StoreError::Rejected(
                    "the document is not due for this visit (already signed, inactive, or \
                     for another site or visit type)",
                )
                .into());
            }
            if signature
                .version
                .is_some_and(|v| v != template.current_version)
            {
                return Err(StoreError::Rejected(
                    "the document has a newer version: show it to the visitor again",
                )
                .into());
            }
            let zone = sheet.zone();
            let pdf = signed_copy::render(&SignedCopy {
                title: &template.title,
                kind: &template.kind,
                version: i64::from(template.current_version),
                body: &template.body,
                body_sha256: &template.body_sha256,
                visitor_name: &sheet.visitor_name,
                organisation: sheet.visitor_organisation.as_deref(),
                host_name: &sheet.host_name,
                site_name: sheet.site_name.as_deref().unwrap_or("(no site)"),
                visit_date: &in_zone(sheet.window_start, zone)
                    .format("%A %-d %B %Y")
                    .to_string(),
                signed_at: &in_zone(at, zone).format("%Y-%m-%d %H:%M:%S %Z").to_string(),
                typed_name: signature.typed_name.as_deref(),
                strokes: signature.strokes.as_ref(),
            });
            let record = SignatureRecord {
                id: Uuid::now_v7(),
                visit_id,
                visitor_id: sheet.visitor_id,
                template_id,
                title: template.title.clone(),
                kind: template.kind.clone(),
                version: template.current_version,
                signed_at: at,
                method: SignMethodText(signature.method),
                typed_name: signature.typed_name.clone(),
                consent: true,
                pdf_sha256: sha256_hex(&pdf),
                purged_at: None,
            };
            let strokes = signature
                .strokes
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StoreError::Database(sqlx::Error::Encode(e.into())))?;
            sqlx::query(
                "INSERT INTO document_signatures (id, visit_id, visitor_id, template_id, \
                 version, signed_at, method, typed_name, consent, strokes, pdf, pdf_sha256) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE, $9, $10, $11)",
            )
            .bind(record.id)
            .bind(visit_id)
            .bind(record.visitor_id)
            .bind(template_id)
            .bind(record.version)
            .bind(at)
            .bind(signature.method.as_ref())
            .bind(&record.typed_name)
            .bind(strokes)
            .bind(&pdf)
            .bind(&record.pdf_sha256)
            .execute(&mut *tx)
            .await?;
            // No personal data here: the chain commits to the hash of the signed copy.
            let details = serde_json::json!({
                "signature_id": record.id,
                "template_id": template_id,
                "kind": template.kind,
                "title": template.title,
                "version": record.version,
                "body_sha256": template.body_sha256,
                "method": signature.method,
                "pdf_sha256": record.pdf_sha256,
            });
            let entry = NewLogEntry::new(
                actor,
                "visit.document_signed",
                "visit",
                visit_id,
                None,
                Some(&details),
            );
            Db::from(&mut *tx).insert_log(&entry).await?;
            tx.commit().await?;
            record
        });
        Ok(record)
    }
}

/// Appends the record's current text as its version `current_version`.
async fn insert_version(
    db: &mut Db<'_>,
    record: &TemplateRecord,
    actor: &Actor,
) -> Result<(), StoreError> {
    on!(db.re(), |c| {
        sqlx::query(
            "INSERT INTO document_versions (template_id, version, body, body_sha256, \
             created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(record.id)
        .bind(record.current_version)
        .bind(&record.body)
        .bind(&record.body_sha256)
        .bind(record.updated_at)
        .bind(&actor.name)
        .execute(c)
        .await?;
    });
    Ok(())
}
