//! The automatic end of visits, one pass at a time (the background task in
//! `crate::visit_expiry` runs it every few seconds): a visit still checked in at its
//! window's end plus its site's grace is checked out and its cards deactivated (a pool
//! card it holds becomes `unreturned`); an invited visit never checked in by its window's
//! end is a no-show, and one still awaiting a security officer's approval then is
//! `expired` (nobody decided in time: the visitor could not have come); either way a card
//! issued ahead goes back to the pool (it was never handed out); a pool card still
//! unreturned after its visit's window raises `visitor_card_unreturned`.
//!
//! Each visit ends in a transaction of its own that changes it only if it is still in the
//! state the pass found, so replicas running passes together end it once.

use super::operator_log::{Actor, NewLogEntry};
use super::stored_time::StoredTime;
use super::{AlarmKind, Store, StoreError, on};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

/// Minutes after a window's end before a visit still checked in is checked out, when the
/// site has no `site_visit_settings` row.
pub const DEFAULT_CHECKOUT_GRACE_MINUTES: i64 = 60;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExpirySummary {
    /// Visits checked out automatically.
    pub checked_out: Vec<Uuid>,
    /// Visits marked no-show.
    pub no_shows: Vec<Uuid>,
    /// Visits still awaiting approval at their window's end, marked expired.
    pub expired: Vec<Uuid>,
    /// Pool cards for which `visitor_card_unreturned` was raised.
    pub alarms: Vec<Uuid>,
}

/// How a visit ends by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Still checked in after the window and grace.
    CheckOut,
    /// Invited, never checked in by the window's end.
    NoShow,
    /// Still awaiting approval at the window's end.
    Expire,
}

impl End {
    /// The status it ends from, the status it ends in, and the log's action.
    fn step(self) -> (&'static str, &'static str, &'static str) {
        match self {
            End::CheckOut => ("checked_in", "checked_out", "visit.check_out"),
            End::NoShow => ("invited", "no_show", "visit.no_show"),
            End::Expire => ("awaiting_approval", "expired", "visit.expire"),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Overdue {
    id: Uuid,
    #[sqlx(try_from = "StoredTime")]
    window_end: DateTime<Utc>,
    grace_minutes: i64,
}

/// A pool card left unreturned, with what the desk needs to find it.
#[derive(sqlx::FromRow)]
struct Unreturned {
    id: Uuid,
    site_id: Uuid,
    card: String,
    label: String,
    visit_id: Uuid,
    site_name: String,
}

/// The state change of a visit that ended by itself, as the operator log records it.
#[derive(Serialize)]
struct VisitEnd<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    checked_out_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_at: Option<DateTime<Utc>>,
}

impl Store {
    /// One pass of the automatic end at `now` (see the module's documentation); each
    /// change logged as `actor` (the task passes [`Actor::system`]).
    #[tracing::instrument(skip_all)]
    pub async fn end_overdue_visits(
        &self,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<ExpirySummary, StoreError> {
        let mut summary = ExpirySummary::default();
        let (overdue, absent) = on!(self.pool(), |pool| {
            let overdue = sqlx::query_as::<_, Overdue>(
                "SELECT v.id, v.window_end, COALESCE(s.checkout_grace_minutes, $2) \
                 AS grace_minutes FROM visits v \
                 LEFT JOIN site_visit_settings s ON s.site_id = v.site_id \
                 WHERE v.status = 'checked_in' AND v.window_end <= $1 ORDER BY v.window_end",
            )
            .bind(now)
            .bind(DEFAULT_CHECKOUT_GRACE_MINUTES)
            .fetch_all(pool)
            .await?;
            let absent = sqlx::query_as::<_, (Uuid, String)>(
                "SELECT id, status FROM visits WHERE status IN ('invited', 'awaiting_approval') \
                 AND window_end <= $1 ORDER BY window_end",
            )
            .bind(now)
            .fetch_all(pool)
            .await?;
            (overdue, absent)
        });
        for visit in overdue {
            let grace = Duration::minutes(visit.grace_minutes);
            if visit
                .window_end
                .checked_add_signed(grace)
                .is_some_and(|due| due <= now)
                && self.end_visit(visit.id, now, End::CheckOut, actor).await?
            {
                summary.checked_out.push(visit.id);
            }
        }
        for (id, status) in absent {
            let (end, ended) = match status.as_str() {
                "awaiting_approval" => (End::Expire, &mut summary.expired),
                _ => (End::NoShow, &mut summary.no_shows),
            };
            if self.end_visit(id, now, end, actor).await? {
                ended.push(id);
            }
        }
        summary.alarms = self.raise_unreturned_cards(now).await?;
        Ok(summary)
    }

    /// Checks a visit out, marks it a no-show or expires it, if it is still in the status
    /// that end starts from; whether it changed.
    async fn end_visit(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        end: End,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let (from, to, action) = end.step();
        let checked_in = end == End::CheckOut;
        let mut tx = self.write().await?;
        let before: Option<String> = on!(tx.db(), |c| {
            // `FOR UPDATE` is PostgreSQL's alone: the no-op update holds the row on both.
            sqlx::query("UPDATE visits SET updated_at = updated_at WHERE id = $1")
                .bind(id)
                .execute(&mut *c)
                .await?;
            sqlx::query_scalar("SELECT status FROM visits WHERE id = $1 AND status = $2")
                .bind(id)
                .bind(from)
                .fetch_optional(&mut *c)
                .await?
        });
        let Some(before) = before else {
            return Ok(false);
        };
        let checked_out_at = checked_in.then_some(at);
        on!(tx.db(), |c| {
            sqlx::query(
                "UPDATE visits SET status = $2, checked_out_at = COALESCE($3, checked_out_at), \
                 ended_at = $4, updated_at = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(to)
            .bind(checked_out_at)
            .bind(at)
            .execute(&mut *c)
            .await?;
        });
        let entry = NewLogEntry::new(
            actor,
            action,
            "visit",
            id,
            Some(&VisitEnd {
                status: &before,
                checked_out_at: None,
                ended_at: None,
            }),
            Some(&VisitEnd {
                status: to,
                checked_out_at,
                ended_at: Some(at),
            }),
        );
        tx.db().insert_log(&entry).await?;
        // A checked-in visitor who left kept the card; a no-show's or an expired visit's
        // card was never handed out, so it is back in the drawer.
        tx.db().end_visit_cards(id, at, !checked_in, actor).await?;
        // The engine reads the check-out time: doors must learn the visit is over even
        // when it held no card.
        tx.db().bump_policy_version().await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Raises `visitor_card_unreturned` for each pool card still unreturned after its
    /// visit's window, once per issue, on a door agent serving the visit's zones (else
    /// one serving the card's site: the alarm desk filters by site through the agent).
    /// The cards alarmed; a site without any door agent cannot carry the alarm (warned).
    async fn raise_unreturned_cards(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>, StoreError> {
        let cards = on!(self.pool(), |pool| {
            sqlx::query_as::<_, Unreturned>(
                "SELECT c.id, c.site_id, c.card, c.label, c.visit_id, s.name AS site_name \
                 FROM visitor_cards c JOIN visits v ON v.id = c.visit_id \
                 JOIN sites s ON s.id = c.site_id WHERE c.state = 'unreturned' \
                 AND c.alarm_id IS NULL AND v.window_end <= $1 ORDER BY c.id",
            )
            .bind(now)
            .fetch_all(pool)
            .await?
        });
        let mut alarmed = Vec::new();
        for card in cards {
            let mut tx = self.write().await?;
            let (agent, zones): (Option<Uuid>, Vec<String>) = on!(tx.db(), |c| {
                // Holds the card's row and checks again under it.
                let still = sqlx::query(
                    "UPDATE visitor_cards SET updated_at = updated_at WHERE id = $1 \
                     AND state = 'unreturned' AND alarm_id IS NULL",
                )
                .bind(card.id)
                .execute(&mut *c)
                .await?
                .rows_affected();
                if still == 0 {
                    continue;
                }
                let agent = sqlx::query_scalar::<_, Uuid>(
                    "SELECT ad.agent_id FROM agent_doors ad JOIN doors d ON d.id = ad.door_id \
                     JOIN agents g ON g.id = ad.agent_id WHERE g.status <> 'revoked' \
                     AND d.site_id = $1 ORDER BY CASE WHEN d.to_zone_id IN \
                     (SELECT zone_id FROM visit_zones WHERE visit_id = $2) THEN 0 ELSE 1 END, \
                     ad.agent_id LIMIT 1",
                )
                .bind(card.site_id)
                .bind(card.visit_id)
                .fetch_optional(&mut *c)
                .await?;
                let zones = sqlx::query_scalar::<_, String>(
                    "SELECT z.name FROM visit_zones vz JOIN zones z ON z.id = vz.zone_id \
                     WHERE vz.visit_id = $1 ORDER BY z.name",
                )
                .bind(card.visit_id)
                .fetch_all(&mut *c)
                .await?;
                (agent, zones)
            });
            let Some(agent) = agent else {
                tracing::warn!(
                    visitor_card = %card.id,
                    site = %card.site_id,
                    "visitor card not returned, but no door agent serves its site to carry \
                     the alarm"
                );
                continue;
            };
            // No visitor's name: the alarm is append-only and chained, and names are
            // purged with the visit (retention); the visit's id leads to them meanwhile.
            let detail = format!(
                "visitor card {} (card {}) not returned after visit {}, site {}, zones {}",
                card.label,
                card.card,
                card.visit_id,
                card.site_name,
                zones.join(", ")
            );
            let mut db = tx.db();
            let entry = db
                .re()
                .insert_agent_alarm(agent, AlarmKind::VisitorCardUnreturned, detail)
                .await?;
            let alarm_id = entry.1;
            on!(db.re(), |c| {
                sqlx::query("UPDATE visitor_cards SET alarm_id = $2 WHERE id = $1")
                    .bind(card.id)
                    .bind(alarm_id)
                    .execute(c)
                    .await?;
            });
            db.chain_records(&[entry]).await?;
            tx.commit().await?;
            alarmed.push(card.id);
        }
        Ok(alarmed)
    }
}
