//! What happened around many visits at once, for the visitor log: each visit's last
//! screening, the documents signed during it and the cards issued to it — three queries
//! for a whole page of visits instead of three per visit.

use super::people_common::MAX_BINDS;
use super::watchlist::{ScreeningDecision, ScreeningOutcome};
use super::{Store, StoreError, on};
use std::collections::HashMap;
use uuid::Uuid;

/// A visit's last screening: its outcome, best score and the officer's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailScreening {
    pub outcome: ScreeningOutcome,
    pub best_score: f64,
    pub decision: Option<ScreeningDecision>,
}

/// What the visitor log shows of one visit beyond the visit itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VisitTrail {
    pub screening: Option<TrailScreening>,
    /// Title and version of each document signed during the visit, in signing order.
    pub documents: Vec<(String, i64)>,
    /// Card number and state of each card issued to the visit.
    pub cards: Vec<(String, String)>,
}

/// The rows of `T` for `$select <ids> $order`, a chunk of ids at a time (both databases
/// bound the parameters of one statement).
macro_rules! in_chunks {
    ($pool:expr, $ids:expr, $T:ty, $select:literal, $order:literal) => {{
        let mut rows: Vec<$T> = Vec::new();
        for chunk in $ids.chunks(MAX_BINDS) {
            let mut q = sqlx::QueryBuilder::new($select);
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            q.push($order);
            rows.extend(q.build_query_as::<$T>().fetch_all($pool).await?);
        }
        rows
    }};
}

impl Store {
    /// The trail of each visit in `visits` (visits with nothing to show are absent).
    #[tracing::instrument(skip_all, fields(visits = visits.len()))]
    pub async fn visit_trails(
        &self,
        visits: &[Uuid],
    ) -> Result<HashMap<Uuid, VisitTrail>, StoreError> {
        let (screenings, documents, cards) = on!(self.pool(), |pool| {
            let screenings = in_chunks!(
                pool,
                visits,
                (Uuid, String, f64, Option<String>),
                "SELECT visit_id, outcome, best_score, decision FROM screenings \
                 WHERE visit_id IN (",
                ") ORDER BY id"
            );
            let documents = in_chunks!(
                pool,
                visits,
                (Uuid, String, i64),
                "SELECT s.visit_id, t.title, CAST(s.version AS BIGINT) \
                 FROM document_signatures s JOIN document_templates t ON t.id = s.template_id \
                 WHERE s.visit_id IN (",
                ") ORDER BY s.id"
            );
            let cards = in_chunks!(
                pool,
                visits,
                (Uuid, String, String),
                "SELECT visit_id, card, state FROM credentials WHERE visit_id IN (",
                ") ORDER BY id"
            );
            (screenings, documents, cards)
        });
        let mut trails: HashMap<Uuid, VisitTrail> = HashMap::new();
        // Ordered by id (time-ordered UUIDs): the last one written wins.
        for (visit, outcome, best_score, decision) in screenings {
            let outcome = outcome.parse().map_err(|_| unreadable("outcome"))?;
            let decision = match decision {
                Some(d) => Some(d.parse().map_err(|_| unreadable("decision"))?),
                None => None,
            };
            trails.entry(visit).or_default().screening = Some(TrailScreening {
                outcome,
                best_score,
                decision,
            });
        }
        for (visit, title, version) in documents {
            trails
                .entry(visit)
                .or_default()
                .documents
                .push((title, version));
        }
        for (visit, card, state) in cards {
            trails.entry(visit).or_default().cards.push((card, state));
        }
        Ok(trails)
    }
}

fn unreadable(column: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(
        format!("stored screening {column} is not valid").into(),
    ))
}
