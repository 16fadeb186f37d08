//! Alarms the server raises on its own, as `agent_alarms` rows chained in the writing
//! transaction: `agent_offline` (here, called by the background task) and the rule that
//! `repeated_denials` follows at ingest (kept in the database, so every replica's ingest
//! applies the same one).

use crate::store::stored_time::OptionalStoredTime;
use crate::store::{AlarmKind, Db, Store, StoreError, now, on};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// When one card's denials raise `repeated_denials`: `count` denials within `window_s`
/// seconds (the window includes both ends), at any doors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DenialRule {
    pub count: u32,
    pub window_s: u64,
}

impl Default for DenialRule {
    fn default() -> Self {
        DenialRule {
            count: 5,
            window_s: 60,
        }
    }
}

impl DenialRule {
    /// The window as a duration (at most ten years, whatever is stored).
    pub(crate) fn window(self) -> chrono::Duration {
        const TEN_YEARS_S: u64 = 10 * 365 * 86_400;
        chrono::Duration::seconds(i64::try_from(self.window_s.min(TEN_YEARS_S)).unwrap_or(0))
    }

    /// `at` minus the window, or the earliest time when that is out of range (an agent's
    /// clock can say anything).
    pub(crate) fn window_before(self, at: DateTime<Utc>) -> DateTime<Utc> {
        at.checked_sub_signed(self.window())
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// An agent's name, when it was last heard from and when it enrolled.
type Quiet = (String, OptionalStoredTime, OptionalStoredTime);

impl Store {
    /// Makes `rule` the one ingest applies (each server writes its `[alarms]` at start).
    #[tracing::instrument(skip_all)]
    pub async fn set_denial_rule(&self, rule: DenialRule) -> Result<(), StoreError> {
        on!(self.pool(), |pool| {
            sqlx::query(
                "INSERT INTO alarm_settings (id, repeated_denials, repeated_denials_window_s, \
                 updated_at) VALUES (1, $1, $2, $3) ON CONFLICT (id) DO UPDATE SET \
                 repeated_denials = excluded.repeated_denials, \
                 repeated_denials_window_s = excluded.repeated_denials_window_s, \
                 updated_at = excluded.updated_at",
            )
            .bind(i64::from(rule.count))
            .bind(i64::try_from(rule.window_s).unwrap_or(i64::MAX))
            .bind(now())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The rule ingest applies: the one last written, or the default.
    #[tracing::instrument(skip_all)]
    pub async fn denial_rule(&self) -> Result<DenialRule, StoreError> {
        let row: Option<(i64, i64)> = on!(self.pool(), |pool| {
            sqlx::query_as(
                "SELECT repeated_denials, repeated_denials_window_s FROM alarm_settings \
                 WHERE id = 1",
            )
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map_or_else(DenialRule::default, rule_from))
    }

    /// Raises `agent_offline` for each active agent not heard from (an upload or a policy
    /// request) for longer than `after`, once per outage: not again until it has been
    /// heard from since. Each agent's check and alarm run in one transaction holding the
    /// agent's row, so replicas running this together raise it once. The agents alarmed.
    #[tracing::instrument(skip_all)]
    pub async fn raise_agent_offline(
        &self,
        after: std::time::Duration,
    ) -> Result<Vec<Uuid>, StoreError> {
        let after_s = after.as_secs();
        let cutoff = chrono::Duration::from_std(after)
            .ok()
            .and_then(|after| now().checked_sub_signed(after))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let candidates: Vec<Uuid> = on!(self.pool(), |pool| {
            sqlx::query_scalar(
                "SELECT g.id FROM agents g WHERE g.status = 'active' \
                 AND COALESCE(g.last_seen_at, g.enrolled_at) < $1 \
                 AND NOT EXISTS (SELECT 1 FROM agent_alarms a WHERE a.agent_id = g.id \
                 AND a.kind = 'agent_offline' AND a.at > COALESCE(g.last_seen_at, g.enrolled_at)) \
                 ORDER BY g.id",
            )
            .bind(cutoff)
            .fetch_all(pool)
            .await?
        });
        let mut alarmed = Vec::new();
        for agent_id in candidates {
            on!(self.write().await?, |mut tx| {
                // Holds the agent's row (PostgreSQL) and checks again under it.
                let quiet: Option<Quiet> = sqlx::query_as(
                    "UPDATE agents SET last_seen_at = last_seen_at WHERE id = $1 \
                         AND status = 'active' AND COALESCE(last_seen_at, enrolled_at) < $2 \
                         RETURNING name, last_seen_at, enrolled_at",
                )
                .bind(agent_id)
                .bind(cutoff)
                .fetch_optional(&mut *tx)
                .await?;
                let since = quiet
                    .as_ref()
                    .and_then(|(_, seen, enrolled)| seen.0.or(enrolled.0));
                if let (Some((name, seen, _)), Some(since)) = (quiet.as_ref(), since) {
                    let raised = sqlx::query_scalar::<_, i64>(
                        "SELECT COUNT(*) FROM agent_alarms WHERE agent_id = $1 \
                         AND kind = 'agent_offline' AND at > $2",
                    )
                    .bind(agent_id)
                    .bind(since)
                    .fetch_one(&mut *tx)
                    .await?;
                    if raised == 0 {
                        let what = if seen.0.is_some() {
                            "heard from"
                        } else {
                            "heard from since enrolling"
                        };
                        let detail = format!(
                            "agent {name:?} not {what} for over {after_s} s (last at {})",
                            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        );
                        let mut db = Db::from(&mut *tx);
                        let entry = db
                            .re()
                            .insert_agent_alarm(agent_id, AlarmKind::AgentOffline, detail)
                            .await?;
                        db.chain_records(&[entry]).await?;
                        alarmed.push(agent_id);
                    }
                }
                tx.commit().await?;
            });
        }
        Ok(alarmed)
    }
}

pub(super) fn rule_from((count, window_s): (i64, i64)) -> DenialRule {
    let default = DenialRule::default();
    DenialRule {
        count: u32::try_from(count).unwrap_or(default.count),
        window_s: u64::try_from(window_s).unwrap_or(default.window_s),
    }
}
