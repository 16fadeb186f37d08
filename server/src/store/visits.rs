//! Visits: a visitor coming to see a host within a window, allowed into a list of zones,
//! possibly only with an escort, and the visit's lifecycle: `invited` (or
//! `awaiting_approval` when outside the visit rules) → `checked_in` → `checked_out`, or
//! `cancelled`, `no_show`, `expired`. A visit holds credentials; they work only while it
//! is checked in and inside its window. Ending a visit revokes them, so the card can go
//! back into the drawer. Whether a visit keeps the visit rules is decided before it gets
//! here (`crate::visits`): this is storage.

use super::operator_log::{Actor, NewLogEntry};
use super::people_common::{Table, by_owner};
use super::{Db, ModelError, Store, StoreError, now, on};
use crate::store::stored_time::{OptionalStoredTime, StoredTime};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeSet;
use uuid::Uuid;

/// Where a visit is in its lifecycle.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
    strum::AsRefStr,
    strum::EnumString,
    strum::Display,
)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum VisitStatus {
    #[default]
    Invited,
    AwaitingApproval,
    CheckedIn,
    CheckedOut,
    Cancelled,
    NoShow,
    Expired,
}

impl VisitStatus {
    /// Not yet arrived: may still be edited, approved, cancelled or checked in.
    pub fn upcoming(self) -> bool {
        matches!(self, VisitStatus::Invited | VisitStatus::AwaitingApproval)
    }
}

/// For the `#[sqlx(try_from = "String")]` column.
impl TryFrom<String> for VisitStatus {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse().map_err(|_| format!("unknown visit status {s:?}"))
    }
}

/// A visit as stored and served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = Visit)]
pub struct VisitRecord {
    pub id: Uuid,
    /// The visitor (the same visitor across visits: documents, screening history).
    pub visitor_id: Option<Uuid>,
    pub visitor_name: String,
    pub visitor_organisation: Option<String>,
    /// The person the visitor comes to see.
    pub host_person_id: Uuid,
    /// The site of the visit (that of its zones).
    pub site_id: Option<Uuid>,
    pub purpose: Option<String>,
    /// Which documents apply: guest, contractor, interview, delivery, …
    pub visit_type: String,
    #[sqlx(try_from = "String")]
    pub status: VisitStatus,
    /// Typed or scanned (QR) at the kiosk or desk to find the visit.
    pub check_in_code: Option<String>,
    /// Shared by the visits of one group invitation.
    pub invitation_id: Option<Uuid>,
    /// Shared by the occurrences of a recurring visit.
    pub series_id: Option<Uuid>,
    /// Start of the expected window (inclusive).
    #[sqlx(try_from = "StoredTime")]
    pub window_start: DateTime<Utc>,
    /// End of the expected window (exclusive).
    #[sqlx(try_from = "StoredTime")]
    pub window_end: DateTime<Utc>,
    /// Zones the visit may enter (exactly these; no inheritance), ordered by id.
    #[sqlx(skip)]
    pub allowed_zone_ids: Vec<Uuid>,
    pub escort_required: bool,
    /// Why the visit needed a security officer's approval (kept once approved).
    pub approval_reason: Option<String>,
    #[sqlx(skip)]
    pub checked_in: bool,
    #[sqlx(try_from = "OptionalStoredTime")]
    pub checked_in_at: Option<DateTime<Utc>>,
    #[sqlx(skip)]
    pub checked_out: bool,
    #[sqlx(try_from = "OptionalStoredTime")]
    pub checked_out_at: Option<DateTime<Utc>>,
    /// When it was cancelled, marked a no-show or expired.
    #[sqlx(try_from = "OptionalStoredTime")]
    pub ended_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "StoredTime")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    pub updated_at: DateTime<Utc>,
}

impl VisitRecord {
    fn with_zones(mut self, allowed_zone_ids: Vec<Uuid>) -> VisitRecord {
        self.allowed_zone_ids = allowed_zone_ids;
        self.checked_in = self.checked_in_at.is_some();
        self.checked_out = self.checked_out_at.is_some();
        self
    }

    /// The visit as the decision engine sees it.
    pub fn engine(&self) -> gatehouse_core::model::Visit {
        gatehouse_core::model::Visit {
            id: self.id,
            host_person_id: self.host_person_id,
            window_start: self.window_start,
            window_end: self.window_end,
            checked_in: self.status == VisitStatus::CheckedIn,
            checked_out: self.status != VisitStatus::CheckedIn && self.checked_in_at.is_some(),
            allowed_zone_ids: self.allowed_zone_ids.clone(),
            escort_required: self.escort_required,
        }
    }
}

/// A visitor as stored: the same person across visits (documents, screening history).
/// The date of birth is kept as `YYYY-MM-DD` text on both databases (as the watchlist
/// keeps it), so no database decodes a date type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Visitor)]
pub struct VisitorRecord {
    pub id: Uuid,
    pub name: String,
    pub organisation: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<chrono::NaiveDate>,
    pub id_document_type: Option<String>,
    pub id_document_last_digits: Option<String>,
    /// When retention replaced the details (absent while kept).
    pub purged_at: Option<DateTime<Utc>>,
}

/// A [`VisitorRecord`] as selected.
#[derive(sqlx::FromRow)]
struct VisitorRow {
    id: Uuid,
    name: String,
    organisation: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    date_of_birth: Option<String>,
    id_document_type: Option<String>,
    id_document_last_digits: Option<String>,
    #[sqlx(try_from = "OptionalStoredTime")]
    purged_at: Option<DateTime<Utc>>,
}

impl TryFrom<VisitorRow> for VisitorRecord {
    type Error = StoreError;

    fn try_from(r: VisitorRow) -> Result<Self, StoreError> {
        let date_of_birth = super::watchlist::parse_date(r.date_of_birth.as_deref())
            .map_err(|_| sqlx::Error::Decode("stored date of birth is not a date".into()))?;
        Ok(VisitorRecord {
            id: r.id,
            name: r.name,
            organisation: r.organisation,
            email: r.email,
            phone: r.phone,
            date_of_birth,
            id_document_type: r.id_document_type,
            id_document_last_digits: r.id_document_last_digits,
            purged_at: r.purged_at,
        })
    }
}

/// A visitor's details as registered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NewVisitor {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<chrono::NaiveDate>,
    pub id_document_type: Option<String>,
    pub id_document_last_digits: Option<String>,
}

/// A visit to register.
#[derive(Debug, Clone, Default)]
pub struct NewVisit {
    pub visitor_name: String,
    pub visitor_organisation: Option<String>,
    /// A returning visitor; `None` registers a new one with [`NewVisit::visitor`].
    pub visitor_id: Option<Uuid>,
    pub visitor: NewVisitor,
    pub host_person_id: Uuid,
    pub site_id: Option<Uuid>,
    pub purpose: Option<String>,
    /// Empty means `guest`.
    pub visit_type: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub allowed_zone_ids: BTreeSet<Uuid>,
    pub escort_required: bool,
    /// `Some` when the visit is outside the rules and waits for approval.
    pub approval_reason: Option<String>,
    pub invitation_id: Option<Uuid>,
    pub series_id: Option<Uuid>,
}

/// `SELECT <VisitRecord columns> FROM visits <rest>`.
macro_rules! select_visit {
    ($rest:expr) => {
        concat!(
            "SELECT id, visitor_id, visitor_name, visitor_organisation, host_person_id, site_id, ",
            "purpose, visit_type, status, check_in_code, invitation_id, series_id, window_start, ",
            "window_end, escort_required, approval_reason, checked_in_at, checked_out_at, ",
            "ended_at, created_at, updated_at ",
            "FROM visits ",
            $rest
        )
    };
}
pub(crate) use select_visit;

impl Db<'_> {
    /// One visit with its zones ([`StoreError::NotFound`] when none).
    async fn visit(self, id: Uuid) -> Result<VisitRecord, StoreError> {
        let (visit, zones) = on!(self, |c| {
            let visit = sqlx::query_as::<_, VisitRecord>(select_visit!("WHERE id = $1"))
                .bind(id)
                .fetch_one(&mut *c)
                .await?;
            let zones = sqlx::query_scalar::<_, Uuid>(
                "SELECT zone_id FROM visit_zones WHERE visit_id = $1 ORDER BY zone_id",
            )
            .bind(id)
            .fetch_all(c)
            .await?;
            (visit, zones)
        });
        Ok(visit.with_zones(zones))
    }
}

/// Attaches the zones in `zones` (visit → zone pairs) to each visit.
pub(crate) fn attach_zones(visits: Vec<VisitRecord>, zones: Vec<(Uuid, Uuid)>) -> Vec<VisitRecord> {
    let mut zones = by_owner(zones);
    visits
        .into_iter()
        .map(|v| {
            let ids = zones.remove(&v.id).unwrap_or_default();
            v.with_zones(ids)
        })
        .collect()
}

/// Letters and digits that cannot be misread (no 0/O, 1/I/L, 5/S, 8/B).
const CODE_ALPHABET: &[u8] = b"2346779ACDEFGHJKMNPQRTUVWXYZ";
/// Length of a check-in code: 28^10, about 48 bits.
pub const CODE_LEN: usize = 10;

/// A new random check-in code.
fn new_check_in_code() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..CODE_LEN)
        .map(|_| char::from(CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())]))
        .collect()
}

/// A typed or scanned code as stored: upper case, without spaces or dashes.
pub fn normalise_check_in_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// A code as people read it: two groups of five.
pub fn display_check_in_code(code: &str) -> String {
    match code.char_indices().nth(5) {
        Some((i, _)) => format!("{}-{}", &code[..i], &code[i..]),
        None => code.to_owned(),
    }
}

/// Which visits to list (all filters optional; every one given must match).
#[derive(Debug, Clone, Default)]
pub struct VisitFilter {
    pub statuses: Vec<VisitStatus>,
    pub host_person_id: Option<Uuid>,
    pub site_id: Option<Uuid>,
    pub invitation_id: Option<Uuid>,
    pub visitor_id: Option<Uuid>,
    /// Windows overlapping `from..to`.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// A part of the visitor's name or organisation, or of the host's name.
    pub text: Option<String>,
}

/// Why nothing moves an expired visit any more (it is final).
const EXPIRED: &str = "the visit expired: nobody approved it before its window ended";

/// A visit's move from one status to another, as the log names it.
struct Transition {
    action: &'static str,
    from: &'static [VisitStatus],
    to: VisitStatus,
    refused: &'static str,
}

impl Store {
    /// Registers a visit (and its visitor, unless a returning one is named); the host,
    /// the visitor and every zone must exist (422 naming the field). Visit rules are
    /// the caller's (`crate::visits`).
    #[tracing::instrument(skip_all)]
    pub async fn create_visit(
        &self,
        new: NewVisit,
        actor: &Actor,
    ) -> Result<VisitRecord, ModelError> {
        if new.window_start >= new.window_end {
            return Err(ModelError::invalid(
                "window_end",
                "must be after window_start",
            ));
        }
        let at = now();
        let status = match new.approval_reason {
            Some(_) => VisitStatus::AwaitingApproval,
            None => VisitStatus::Invited,
        };
        let visit_type = match new.visit_type.as_str() {
            "" => "guest".to_owned(),
            other => other.to_owned(),
        };
        let id = Uuid::now_v7();
        let visit = VisitRecord {
            id,
            visitor_id: Some(new.visitor_id.unwrap_or(id)),
            visitor_name: new.visitor_name,
            visitor_organisation: new.visitor_organisation,
            host_person_id: new.host_person_id,
            site_id: new.site_id,
            purpose: new.purpose,
            visit_type,
            status,
            check_in_code: Some(new_check_in_code()),
            invitation_id: new.invitation_id,
            series_id: new.series_id,
            window_start: new.window_start,
            window_end: new.window_end,
            allowed_zone_ids: new.allowed_zone_ids.iter().copied().collect(),
            escort_required: new.escort_required,
            approval_reason: new.approval_reason,
            checked_in: false,
            checked_in_at: None,
            checked_out: false,
            checked_out_at: None,
            ended_at: None,
            created_at: at,
            updated_at: at,
        };
        let entry = NewLogEntry::new(actor, "visit.create", "visit", visit.id, None, Some(&visit));
        on!(self.write().await?, |mut tx| {
            Db::from(&mut *tx)
                .require_row(Table::People, visit.host_person_id, "host_person_id")
                .await?;
            for &zone_id in &visit.allowed_zone_ids {
                Db::from(&mut *tx)
                    .require_row(Table::Zones, zone_id, "allowed_zone_ids")
                    .await?;
            }
            match new.visitor_id {
                Some(visitor_id) => {
                    let known = sqlx::query_scalar::<_, i64>(
                        "SELECT COUNT(*) FROM visitors WHERE id = $1 AND purged_at IS NULL",
                    )
                    .bind(visitor_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    if known == 0 {
                        return Err(ModelError::invalid("visitor_id", "no such visitor"));
                    }
                }
                None => {
                    let v = &new.visitor;
                    sqlx::query(
                        "INSERT INTO visitors (id, name, organisation, email, phone, \
                         date_of_birth, id_document_type, id_document_last_digits, created_at, \
                         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
                    )
                    .bind(visit.id)
                    .bind(&visit.visitor_name)
                    .bind(&visit.visitor_organisation)
                    .bind(&v.email)
                    .bind(&v.phone)
                    .bind(super::watchlist::format_date(v.date_of_birth))
                    .bind(&v.id_document_type)
                    .bind(&v.id_document_last_digits)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            sqlx::query(
                "INSERT INTO visits (id, visitor_id, visitor_name, visitor_organisation, \
                 host_person_id, site_id, purpose, visit_type, status, check_in_code, \
                 invitation_id, series_id, window_start, window_end, escort_required, \
                 approval_reason, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18)",
            )
            .bind(visit.id)
            .bind(visit.visitor_id)
            .bind(&visit.visitor_name)
            .bind(&visit.visitor_organisation)
            .bind(visit.host_person_id)
            .bind(visit.site_id)
            .bind(&visit.purpose)
            .bind(&visit.visit_type)
            .bind(visit.status.as_ref())
            .bind(&visit.check_in_code)
            .bind(visit.invitation_id)
            .bind(visit.series_id)
            .bind(visit.window_start)
            .bind(visit.window_end)
            .bind(visit.escort_required)
            .bind(&visit.approval_reason)
            .bind(visit.created_at)
            .bind(visit.updated_at)
            .execute(&mut *tx)
            .await?;
            for zone_id in &visit.allowed_zone_ids {
                sqlx::query("INSERT INTO visit_zones (visit_id, zone_id) VALUES ($1, $2)")
                    .bind(visit.id)
                    .bind(zone_id)
                    .execute(&mut *tx)
                    .await?;
            }
            Db::from(&mut *tx).log_change(&entry).await?;
            tx.commit().await?;
        });
        Ok(visit)
    }

    /// Changes an upcoming visit's purpose, window, zones and escort (already judged by
    /// the visit rules: `approval_reason` is `Some` when the change needs approval
    /// again). Refused (409) once the visitor has arrived or the visit has ended.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn update_visit(
        &self,
        id: Uuid,
        change: NewVisit,
        actor: &Actor,
    ) -> Result<VisitRecord, ModelError> {
        if change.window_start >= change.window_end {
            return Err(ModelError::invalid(
                "window_end",
                "must be after window_start",
            ));
        }
        let after = on!(self.write().await?, |mut tx| {
            let before = Db::from(&mut *tx).visit(id).await?;
            if before.status == VisitStatus::Expired {
                return Err(StoreError::Rejected(EXPIRED).into());
            }
            if !before.status.upcoming() {
                return Err(
                    StoreError::Rejected("only a visit not yet arrived can be changed").into(),
                );
            }
            for &zone_id in &change.allowed_zone_ids {
                Db::from(&mut *tx)
                    .require_row(Table::Zones, zone_id, "allowed_zone_ids")
                    .await?;
            }
            let status = match change.approval_reason {
                Some(_) => VisitStatus::AwaitingApproval,
                None => VisitStatus::Invited,
            };
            let after = VisitRecord {
                purpose: change.purpose.clone(),
                site_id: change.site_id,
                window_start: change.window_start,
                window_end: change.window_end,
                allowed_zone_ids: change.allowed_zone_ids.iter().copied().collect(),
                escort_required: change.escort_required,
                approval_reason: change.approval_reason.clone(),
                status,
                updated_at: now(),
                ..before.clone()
            };
            sqlx::query(
                "UPDATE visits SET purpose = $2, site_id = $3, window_start = $4, \
                 window_end = $5, escort_required = $6, approval_reason = $7, status = $8, \
                 updated_at = $9 WHERE id = $1",
            )
            .bind(id)
            .bind(&after.purpose)
            .bind(after.site_id)
            .bind(after.window_start)
            .bind(after.window_end)
            .bind(after.escort_required)
            .bind(&after.approval_reason)
            .bind(after.status.as_ref())
            .bind(after.updated_at)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM visit_zones WHERE visit_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for zone_id in &after.allowed_zone_ids {
                sqlx::query("INSERT INTO visit_zones (visit_id, zone_id) VALUES ($1, $2)")
                    .bind(id)
                    .bind(zone_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let entry = NewLogEntry::new(
                actor,
                "visit.update",
                "visit",
                id,
                Some(&before),
                Some(&after),
            );
            Db::from(&mut *tx).log_change(&entry).await?;
            tx.commit().await?;
            after
        });
        Ok(after)
    }

    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn visit(&self, id: Uuid) -> Result<VisitRecord, StoreError> {
        let mut tx = self.read().await?;
        let visit = tx.db().visit(id).await?;
        tx.commit().await?;
        Ok(visit)
    }

    /// One visitor ([`StoreError::NotFound`] when none).
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn visitor(&self, id: Uuid) -> Result<VisitorRecord, StoreError> {
        on!(self.pool(), |pool| {
            sqlx::query_as::<_, VisitorRow>(
                "SELECT id, name, organisation, email, phone, date_of_birth, id_document_type, \
                 id_document_last_digits, purged_at FROM visitors WHERE id = $1",
            )
            .bind(id)
            .fetch_one(pool)
            .await
            .map_err(StoreError::from)
            .and_then(VisitorRecord::try_from)
        })
    }

    /// The visit a check-in code (as typed or scanned) belongs to.
    #[tracing::instrument(skip_all)]
    pub async fn visit_by_code(&self, typed: &str) -> Result<VisitRecord, StoreError> {
        let code = normalise_check_in_code(typed);
        let mut tx = self.read().await?;
        let id = on!(tx.db(), |c| {
            sqlx::query_scalar::<_, Uuid>("SELECT id FROM visits WHERE check_in_code = $1")
                .bind(&code)
                .fetch_one(c)
                .await?
        });
        let visit = tx.db().visit(id).await?;
        tx.commit().await?;
        Ok(visit)
    }

    /// Visits ordered by id (registration order), after the cursor id.
    #[tracing::instrument(skip_all)]
    pub async fn list_visits(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<VisitRecord>, StoreError> {
        self.search_visits(&VisitFilter::default(), after, limit)
            .await
    }

    /// Visits matching `filter`, in registration order after the cursor id.
    #[tracing::instrument(skip_all)]
    pub async fn search_visits(
        &self,
        filter: &VisitFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<VisitRecord>, StoreError> {
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_ref()).collect();
        let text = filter
            .text
            .as_deref()
            .map(|t| format!("%{}%", t.to_lowercase().replace(['%', '_'], "")));
        let (visits, zones) = on!(self.pool(), |pool| {
            // The matching ids in a subquery, so the visit columns keep their plain names.
            let mut q = sqlx::QueryBuilder::new(select_visit!(
                "WHERE id IN (SELECT v.id FROM visits v \
                 JOIN people h ON h.id = v.host_person_id WHERE 1 = 1"
            ));
            if let Some(after) = after {
                q.push(" AND v.id > ").push_bind(after);
            }
            if !statuses.is_empty() {
                q.push(" AND v.status IN (");
                let mut list = q.separated(", ");
                for status in &statuses {
                    list.push_bind(*status);
                }
                q.push(")");
            }
            let eq = [
                (" AND v.host_person_id = ", filter.host_person_id),
                (" AND v.site_id = ", filter.site_id),
                (" AND v.invitation_id = ", filter.invitation_id),
                (" AND v.visitor_id = ", filter.visitor_id),
            ];
            for (sql, value) in eq {
                if let Some(value) = value {
                    q.push(sql).push_bind(value);
                }
            }
            if let Some(to) = filter.to {
                q.push(" AND v.window_start < ").push_bind(to);
            }
            if let Some(from) = filter.from {
                q.push(" AND v.window_end > ").push_bind(from);
            }
            if let Some(text) = &text {
                q.push(" AND (LOWER(v.visitor_name) LIKE ")
                    .push_bind(text.clone())
                    .push(" OR LOWER(COALESCE(v.visitor_organisation, '')) LIKE ")
                    .push_bind(text.clone())
                    .push(" OR LOWER(h.name) LIKE ")
                    .push_bind(text.clone())
                    .push(")");
            }
            q.push(" ORDER BY v.id LIMIT ").push_bind(i64::from(limit));
            q.push(") ORDER BY id");
            let visits = q.build_query_as::<VisitRecord>().fetch_all(pool).await?;
            let mut zones = Vec::new();
            // In chunks: both databases bound the number of parameters in one statement.
            for chunk in visits.chunks(super::people_common::MAX_BINDS) {
                let mut z = sqlx::QueryBuilder::new(
                    "SELECT visit_id, zone_id FROM visit_zones WHERE visit_id IN (",
                );
                let mut list = z.separated(", ");
                for visit in chunk {
                    list.push_bind(visit.id);
                }
                z.push(") ORDER BY zone_id");
                zones.extend(z.build_query_as::<(Uuid, Uuid)>().fetch_all(pool).await?);
            }
            (visits, zones)
        });
        let visits = attach_zones(visits, zones);
        Ok(visits)
    }

    /// Visits whose window overlaps `from..to`, by window start, at most `limit`.
    #[tracing::instrument(skip_all)]
    pub async fn visits_overlapping(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<VisitRecord>, StoreError> {
        let filter = VisitFilter {
            from: Some(from),
            to: Some(to),
            ..VisitFilter::default()
        };
        let mut visits = self.search_visits(&filter, None, limit).await?;
        visits.sort_by_key(|v| (v.window_start, v.id));
        Ok(visits)
    }

    /// Checks a visitor in. Refused (409) unless invited (not awaiting approval,
    /// cancelled or ended), or when the window has ended; an early arrival may check
    /// in, the card works from `window_start`.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn check_in_visit(&self, id: Uuid, actor: &Actor) -> Result<VisitRecord, StoreError> {
        let step = Transition {
            action: "visit.check_in",
            from: &[VisitStatus::Invited],
            to: VisitStatus::CheckedIn,
            refused: "only an invited visit (approved, not cancelled or ended) can check in",
        };
        self.move_visit(id, step, actor).await
    }

    /// Checks a visitor out and revokes the visit's credentials that are not revoked yet
    /// (each revocation logged). Refused (409) unless checked in.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn check_out_visit(
        &self,
        id: Uuid,
        actor: &Actor,
    ) -> Result<VisitRecord, StoreError> {
        let step = Transition {
            action: "visit.check_out",
            from: &[VisitStatus::CheckedIn],
            to: VisitStatus::CheckedOut,
            refused: "the visit is not checked in",
        };
        self.move_visit(id, step, actor).await
    }

    /// Cancels a visit not yet arrived (its pre-issued cards revoked). 409 otherwise.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn cancel_visit(&self, id: Uuid, actor: &Actor) -> Result<VisitRecord, StoreError> {
        let step = Transition {
            action: "visit.cancel",
            from: &[VisitStatus::Invited, VisitStatus::AwaitingApproval],
            to: VisitStatus::Cancelled,
            refused: "only a visit not yet arrived can be cancelled",
        };
        self.move_visit(id, step, actor).await
    }

    /// A security officer accepts a visit outside the rules: it becomes `invited`
    /// (its `approval_reason` kept). 409 unless awaiting approval.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn approve_visit(&self, id: Uuid, actor: &Actor) -> Result<VisitRecord, StoreError> {
        let step = Transition {
            action: "visit.approve",
            from: &[VisitStatus::AwaitingApproval],
            to: VisitStatus::Invited,
            refused: "the visit is not awaiting approval",
        };
        self.move_visit(id, step, actor).await
    }

    /// One lifecycle step in one transaction: checks the status, stamps the time,
    /// revokes the visit's live credentials when the visit ends, logs and bumps the
    /// policy version (doors learn the visit's new state).
    async fn move_visit(
        &self,
        id: Uuid,
        step: Transition,
        actor: &Actor,
    ) -> Result<VisitRecord, StoreError> {
        let after = on!(self.write().await?, |mut tx| {
            let before = Db::from(&mut *tx).visit(id).await?;
            let at = now();
            if before.status == VisitStatus::Expired {
                return Err(StoreError::Rejected(EXPIRED));
            }
            if !step.from.contains(&before.status) {
                return Err(StoreError::Rejected(step.refused));
            }
            if step.to == VisitStatus::CheckedIn && at >= before.window_end {
                return Err(StoreError::Rejected("the visit's window has ended"));
            }
            let mut after = VisitRecord {
                status: step.to,
                updated_at: at,
                ..before.clone()
            };
            match step.to {
                VisitStatus::CheckedIn => after.checked_in_at = Some(at),
                VisitStatus::CheckedOut => after.checked_out_at = Some(at),
                VisitStatus::Cancelled | VisitStatus::NoShow | VisitStatus::Expired => {
                    after.ended_at = Some(at)
                }
                VisitStatus::Invited | VisitStatus::AwaitingApproval => {}
            }
            let zones = after.allowed_zone_ids.clone();
            after = after.with_zones(zones);
            sqlx::query(
                "UPDATE visits SET status = $2, checked_in_at = $3, checked_out_at = $4, \
                 ended_at = $5, updated_at = $6 WHERE id = $1",
            )
            .bind(id)
            .bind(after.status.as_ref())
            .bind(after.checked_in_at)
            .bind(after.checked_out_at)
            .bind(after.ended_at)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let entry =
                NewLogEntry::new(actor, step.action, "visit", id, Some(&before), Some(&after));
            Db::from(&mut *tx).insert_log(&entry).await?;
            if !after.status.upcoming() && after.status != VisitStatus::CheckedIn {
                // The desk takes the card back at check-out; a cancelled visit's card
                // was never handed out. (An automatic end marks it unreturned.)
                Db::from(&mut *tx)
                    .end_visit_cards(id, at, true, actor)
                    .await?;
            }
            Db::from(&mut *tx).bump_policy_version().await?;
            tx.commit().await?;
            after
        });
        Ok(after)
    }
}
