//! Screenings: each comparison of a visit's visitor with the watchlist, recorded with the
//! list version, the algorithm, the best score and what matched, in the transaction of
//! its operator-log entry (`visit.screening`); a security officer's decision on a match
//! (`visit.screening_decision`). Both log entries target the visit, so retention purges
//! their details with the visit's (the audit chain keeps their hashes).

use super::{ModelError, WatchAction, format_date, parse_date, text};
use crate::store::operator_log::{Actor, NewLogEntry};
use crate::store::people_common::Table;
use crate::store::retention::PURGED_NAME;
use crate::store::stored_time::{OptionalStoredTime, StoredTime};
use crate::store::{Db, Store, StoreError, now, on};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

/// When the visitor was screened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::EnumString, strum::Display)]
#[strum(serialize_all = "snake_case")]
pub enum ScreeningStage {
    Invitation,
    CheckIn,
}

/// `clear`: nothing matched; otherwise the strongest action among the matched entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[derive(strum::AsRefStr, strum::EnumString, strum::Display)]
#[strum(serialize_all = "lowercase")]
pub enum ScreeningOutcome {
    Clear,
    Flag,
    Block,
}

/// A security officer's decision on a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[derive(strum::AsRefStr, strum::EnumString, strum::Display)]
#[strum(serialize_all = "lowercase")]
pub enum ScreeningDecision {
    Allowed,
    Refused,
}

/// One listed entry a screening matched, with the two names compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScreeningMatch {
    pub entry_id: Uuid,
    /// The entry's name, as listed at the time.
    pub entry_name: String,
    /// The listed name or alias that matched best.
    pub listed_name: String,
    /// The visitor's name as compared.
    pub candidate_name: String,
    pub score: f64,
    pub action: WatchAction,
    pub reason: String,
}

/// A screening as stored and served.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Screening)]
pub struct ScreeningRecord {
    pub id: Uuid,
    pub visit_id: Uuid,
    pub stage: ScreeningStage,
    pub at: DateTime<Utc>,
    pub list_version: i64,
    /// The matching algorithm and its version, e.g. `nfkd-translit-dm1-jw/1`.
    pub algorithm: String,
    pub candidate_name: String,
    pub candidate_date_of_birth: Option<NaiveDate>,
    pub candidate_organisation: Option<String>,
    /// 0 to 1; 0 when nothing matched.
    pub best_score: f64,
    pub outcome: ScreeningOutcome,
    /// Best first.
    pub matches: Vec<ScreeningMatch>,
    pub decision: Option<ScreeningDecision>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

/// A screening to record (its matching done by `crate::screening`).
#[derive(Debug, Clone)]
pub struct NewScreening {
    pub visit_id: Uuid,
    pub stage: ScreeningStage,
    pub list_version: i64,
    pub algorithm: &'static str,
    pub candidate_name: String,
    pub candidate_date_of_birth: Option<NaiveDate>,
    pub candidate_organisation: Option<String>,
    pub matches: Vec<ScreeningMatch>,
}

/// Which screenings to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScreeningFilter {
    /// `Some(true)`: matches awaiting a decision; `Some(false)`: decided matches.
    pub pending: Option<bool>,
    pub visit_id: Option<Uuid>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    visit_id: Uuid,
    stage: String,
    #[sqlx(try_from = "StoredTime")]
    at: DateTime<Utc>,
    list_version: i64,
    algorithm: String,
    candidate_name: String,
    candidate_date_of_birth: Option<String>,
    candidate_organisation: Option<String>,
    best_score: f64,
    outcome: String,
    matches: Json<Vec<ScreeningMatch>>,
    decision: Option<String>,
    decided_by: Option<String>,
    #[sqlx(try_from = "OptionalStoredTime")]
    decided_at: Option<DateTime<Utc>>,
    note: Option<String>,
}

/// `SELECT <Row columns> FROM screenings <rest>`.
macro_rules! select {
    ($($rest:literal),*) => {
        concat!(
            "SELECT id, visit_id, stage, at, list_version, algorithm, candidate_name, ",
            "candidate_date_of_birth, candidate_organisation, best_score, outcome, matches, ",
            "decision, decided_by, decided_at, note FROM screenings ",
            $($rest),*
        )
    };
}

/// Screenings newest first before `$1`, of visit `$2` when given, then `$pending`.
macro_rules! listed {
    ($pending:literal) => {
        select!(
            "WHERE ($1 IS NULL OR id < $1) AND ($2 IS NULL OR visit_id = $2) ",
            $pending,
            " ORDER BY id DESC LIMIT $3"
        )
    };
}

impl TryFrom<Row> for ScreeningRecord {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        let bad = |what: &str| {
            StoreError::Database(sqlx::Error::Decode(
                format!("stored screening {what} is not valid").into(),
            ))
        };
        Ok(ScreeningRecord {
            id: row.id,
            visit_id: row.visit_id,
            stage: row.stage.parse().map_err(|_| bad("stage"))?,
            at: row.at,
            list_version: row.list_version,
            algorithm: row.algorithm,
            candidate_name: row.candidate_name,
            candidate_date_of_birth: parse_date(row.candidate_date_of_birth.as_deref())
                .map_err(|_| bad("date of birth"))?,
            candidate_organisation: row.candidate_organisation,
            best_score: row.best_score,
            outcome: row.outcome.parse().map_err(|_| bad("outcome"))?,
            matches: row.matches.0,
            decision: row
                .decision
                .map(|d| d.parse())
                .transpose()
                .map_err(|_| bad("decision"))?,
            decided_by: row.decided_by,
            decided_at: row.decided_at,
            note: row.note,
        })
    }
}

/// What the operator log records of a screening: no names (they are in the screening
/// row, purged with the visit), the facts the audit needs.
#[derive(Serialize)]
struct Logged<'a> {
    screening_id: Uuid,
    stage: ScreeningStage,
    list_version: i64,
    algorithm: &'a str,
    best_score: f64,
    outcome: ScreeningOutcome,
    matched_entries: Vec<(Uuid, f64)>,
    decision: Option<ScreeningDecision>,
    note: Option<&'a str>,
}

impl Logged<'_> {
    fn of(s: &ScreeningRecord) -> Logged<'_> {
        Logged {
            screening_id: s.id,
            stage: s.stage,
            list_version: s.list_version,
            algorithm: &s.algorithm,
            best_score: s.best_score,
            outcome: s.outcome,
            matched_entries: s.matches.iter().map(|m| (m.entry_id, m.score)).collect(),
            decision: s.decision,
            note: s.note.as_deref(),
        }
    }
}

impl Db<'_> {
    async fn screening(self, id: Uuid) -> Result<ScreeningRecord, StoreError> {
        let row = on!(self, |c| {
            sqlx::query_as::<_, Row>(select!("WHERE id = $1"))
                .bind(id)
                .fetch_one(c)
                .await?
        });
        row.try_into()
    }

    /// Retention: the visitor's name, date of birth and organisation leave the visit's
    /// screenings, and so do the names compared (entries' ids, scores and reasons stay).
    pub(crate) async fn purge_screenings(mut self, visit_id: Uuid) -> Result<u64, StoreError> {
        let rows = on!(self.re(), |c| {
            sqlx::query_as::<_, (Uuid, Json<Vec<ScreeningMatch>>)>(
                "SELECT id, matches FROM screenings WHERE visit_id = $1 AND purged_at IS NULL",
            )
            .bind(visit_id)
            .fetch_all(c)
            .await?
        });
        let at = now();
        for (id, Json(mut matches)) in rows.iter().cloned() {
            for m in &mut matches {
                m.candidate_name = PURGED_NAME.to_owned();
            }
            on!(self.re(), |c| {
                sqlx::query(
                    "UPDATE screenings SET candidate_name = $2, candidate_date_of_birth = NULL, \
                     candidate_organisation = NULL, matches = $3, purged_at = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(PURGED_NAME)
                .bind(Json(&matches))
                .bind(at)
                .execute(c)
                .await?;
            });
        }
        Ok(rows.len() as u64)
    }
}

impl Store {
    /// Records a screening and its operator-log entry `visit.screening` (list version,
    /// algorithm, best score, outcome) in one transaction. The outcome is derived from
    /// the matches: `block` if any matched entry blocks, else `flag` if any matched.
    #[tracing::instrument(skip_all, fields(visit_id = %new.visit_id))]
    pub async fn record_screening(
        &self,
        new: NewScreening,
        actor: &Actor,
    ) -> Result<ScreeningRecord, ModelError> {
        let candidate_name = text(&new.candidate_name, "name", super::MAX_NAME)?;
        let outcome = if new.matches.iter().any(|m| m.action == WatchAction::Block) {
            ScreeningOutcome::Block
        } else if new.matches.is_empty() {
            ScreeningOutcome::Clear
        } else {
            ScreeningOutcome::Flag
        };
        let record = ScreeningRecord {
            id: Uuid::now_v7(),
            visit_id: new.visit_id,
            stage: new.stage,
            at: now(),
            list_version: new.list_version,
            algorithm: new.algorithm.to_owned(),
            candidate_name,
            candidate_date_of_birth: new.candidate_date_of_birth,
            candidate_organisation: new.candidate_organisation,
            best_score: new.matches.iter().map(|m| m.score).fold(0.0, f64::max),
            outcome,
            matches: new.matches,
            decision: None,
            decided_by: None,
            decided_at: None,
            note: None,
        };
        let mut tx = self.write().await?;
        tx.db()
            .require_row(Table::Visits, record.visit_id, "visit_id")
            .await?;
        on!(tx.db(), |c| {
            sqlx::query(
                "INSERT INTO screenings (id, visit_id, stage, at, list_version, algorithm, \
                 candidate_name, candidate_date_of_birth, candidate_organisation, best_score, \
                 outcome, matches) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(record.id)
            .bind(record.visit_id)
            .bind(record.stage.as_ref())
            .bind(record.at)
            .bind(record.list_version)
            .bind(&record.algorithm)
            .bind(&record.candidate_name)
            .bind(format_date(record.candidate_date_of_birth))
            .bind(&record.candidate_organisation)
            .bind(record.best_score)
            .bind(record.outcome.as_ref())
            .bind(Json(&record.matches))
            .execute(c)
            .await?;
        });
        let log = NewLogEntry::new(
            actor,
            "visit.screening",
            "visit",
            record.visit_id,
            None,
            Some(&Logged::of(&record)),
        );
        tx.db().insert_log(&log).await?;
        tx.commit().await?;
        Ok(record)
    }

    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn screening(&self, id: Uuid) -> Result<ScreeningRecord, StoreError> {
        let mut tx = self.read().await?;
        let screening = tx.db().screening(id).await?;
        tx.commit().await?;
        Ok(screening)
    }

    /// Screenings, newest first, before the cursor id.
    #[tracing::instrument(skip_all)]
    pub async fn list_screenings(
        &self,
        filter: ScreeningFilter,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ScreeningRecord>, StoreError> {
        // Pending: a match nobody has decided on.
        let sql = match filter.pending {
            None => listed!(""),
            Some(true) => listed!("AND outcome <> 'clear' AND decision IS NULL"),
            Some(false) => listed!("AND decision IS NOT NULL"),
        };
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, Row>(sql)
                .bind(before)
                .bind(filter.visit_id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Records a security officer's decision on a match (a note is required), with its
    /// operator-log entry `visit.screening_decision`. Refused (409) for a screening that
    /// matched nothing or is already decided.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn decide_screening(
        &self,
        id: Uuid,
        decision: ScreeningDecision,
        note: &str,
        actor: &Actor,
    ) -> Result<ScreeningRecord, ModelError> {
        let note = text(note, "note", super::MAX_REASON)?;
        let mut tx = self.write().await?;
        let before = tx.db().screening(id).await?;
        if before.outcome == ScreeningOutcome::Clear {
            return Err(StoreError::Rejected("the screening matched nothing").into());
        }
        if before.decision.is_some() {
            return Err(StoreError::Rejected("the screening is already decided").into());
        }
        let after = ScreeningRecord {
            decision: Some(decision),
            decided_by: Some(actor.name.clone()),
            decided_at: Some(now()),
            note: Some(note),
            ..before.clone()
        };
        on!(tx.db(), |c| {
            sqlx::query(
                "UPDATE screenings SET decision = $2, decided_by = $3, decided_at = $4, \
                 note = $5 WHERE id = $1 AND decision IS NULL",
            )
            .bind(id)
            .bind(decision.as_ref())
            .bind(&after.decided_by)
            .bind(after.decided_at)
            .bind(&after.note)
            .execute(c)
            .await?;
        });
        let log = NewLogEntry::new(
            actor,
            "visit.screening_decision",
            "visit",
            after.visit_id,
            Some(&Logged::of(&before)),
            Some(&Logged::of(&after)),
        );
        tx.db().insert_log(&log).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Why the visit may not check in, if a screening stops it: a `block` match that no
    /// officer has allowed (pending or refused). A `flag` match never blocks; the desk
    /// shows it as a warning.
    #[tracing::instrument(skip_all, fields(%visit_id))]
    pub async fn check_in_blocked(&self, visit_id: Uuid) -> Result<Option<String>, StoreError> {
        let decisions = on!(self.pool(), |pool| {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT decision FROM screenings WHERE visit_id = $1 AND outcome = 'block' \
                 AND (decision IS NULL OR decision <> 'allowed')",
            )
            .bind(visit_id)
            .fetch_all(pool)
            .await?
        });
        Ok(
            if decisions.iter().any(|d| d.as_deref() == Some("refused")) {
                Some("a security officer refused this visitor after a watchlist match".to_owned())
            } else if decisions.is_empty() {
                None
            } else {
                Some("a watchlist match awaits a security officer's decision".to_owned())
            },
        )
    }
}
