//! Door agents: registration for a set of doors, single-use enrolment codes, the token an
//! agent authenticates with, and revocation. Operator changes are written with their
//! operator-log entry in one transaction; neither a code nor a token (nor their hashes)
//! ever reaches the log.

use super::operator_log::{Actor, NewLogEntry};
use super::{Db, ModelError, Store, StoreError, on};
use crate::store::stored_time::{OptionalStoredTime, StoredTime};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// Where an agent stands: registered, enrolled (holds a token) or revoked for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "lowercase")]
pub enum AgentStatus {
    Pending,
    Active,
    Revoked,
}

/// For the `#[sqlx(try_from = "String")]` column.
impl TryFrom<String> for AgentStatus {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse().map_err(|_| format!("unknown agent status {s:?}"))
    }
}

/// An agent as stored and served (never a hash of its secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AgentRecord {
    pub id: Uuid,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub status: AgentStatus,
    /// The doors it serves, in id order.
    #[sqlx(skip)]
    pub door_ids: Vec<Uuid>,
    /// Until when the current enrolment code may be used; absent when none is pending.
    #[sqlx(try_from = "OptionalStoredTime")]
    pub enrollment_expires_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "OptionalStoredTime")]
    pub enrolled_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "OptionalStoredTime")]
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Server clock minus agent clock at the last upload, in milliseconds.
    pub clock_offset_ms: Option<i64>,
    #[sqlx(try_from = "StoredTime")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    pub updated_at: DateTime<Utc>,
}

/// A new agent with its first enrolment code (already hashed).
pub struct NewAgent {
    pub name: String,
    pub door_ids: Vec<Uuid>,
    pub code_hash: Vec<u8>,
    pub code_expires_at: DateTime<Utc>,
}

macro_rules! select_agent {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, status, enrollment_expires_at, enrolled_at, last_seen_at, ",
            "clock_offset_ms, created_at, updated_at FROM agents ",
            $rest
        )
    };
}

impl Db<'_> {
    /// One agent with its doors; `NotFound` when unknown.
    async fn fetch_agent(self, id: Uuid) -> Result<AgentRecord, StoreError> {
        Ok(on!(self, |c| {
            let mut agent = sqlx::query_as::<_, AgentRecord>(select_agent!("WHERE id = $1"))
                .bind(id)
                .fetch_one(&mut *c)
                .await?;
            agent.door_ids = sqlx::query_scalar::<_, Uuid>(
                "SELECT door_id FROM agent_doors WHERE agent_id = $1 ORDER BY door_id",
            )
            .bind(id)
            .fetch_all(&mut *c)
            .await?;
            agent
        }))
    }
}

/// The operator-log actor for what an agent does by itself (enrolling).
fn agent_actor() -> Actor {
    Actor {
        id: None,
        name: "agent".to_owned(),
        request_id: None,
    }
}

impl Store {
    /// Registers an agent for `door_ids`: each door must exist (422 on `door_ids`) and be
    /// served by no other agent ([`StoreError::Rejected`], a 409).
    #[tracing::instrument(skip_all)]
    pub async fn create_agent(
        &self,
        new: NewAgent,
        actor: &Actor,
    ) -> Result<AgentRecord, ModelError> {
        let at = super::now();
        let door_ids: BTreeSet<Uuid> = new.door_ids.iter().copied().collect();
        let agent = AgentRecord {
            id: Uuid::now_v7(),
            name: new.name,
            status: AgentStatus::Pending,
            door_ids: door_ids.into_iter().collect(),
            enrollment_expires_at: Some(new.code_expires_at),
            enrolled_at: None,
            last_seen_at: None,
            clock_offset_ms: None,
            created_at: at,
            updated_at: at,
        };
        on!(self.write().await?, |mut tx| {
            for door_id in &agent.door_ids {
                let known = sqlx::query("SELECT id FROM doors WHERE id = $1")
                    .bind(door_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if known.is_none() {
                    return Err(ModelError::invalid("door_ids", "no such door"));
                }
                let served = sqlx::query("SELECT agent_id FROM agent_doors WHERE door_id = $1")
                    .bind(door_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if served.is_some() {
                    return Err(StoreError::Rejected(
                        "a door in door_ids is already served by another agent",
                    )
                    .into());
                }
            }
            sqlx::query(
                "INSERT INTO agents (id, name, status, enrollment_code_hash, \
                 enrollment_expires_at, created_at, updated_at) \
                 VALUES ($1, $2, 'pending', $3, $4, $5, $6)",
            )
            .bind(agent.id)
            .bind(&agent.name)
            .bind(&new.code_hash)
            .bind(new.code_expires_at)
            .bind(at)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            for door_id in &agent.door_ids {
                sqlx::query("INSERT INTO agent_doors (agent_id, door_id) VALUES ($1, $2)")
                    .bind(agent.id)
                    .bind(door_id)
                    .execute(&mut *tx)
                    .await?;
            }
            Db::from(&mut *tx)
                .insert_log(&NewLogEntry::new(
                    actor,
                    "agent.create",
                    "agent",
                    agent.id,
                    None,
                    Some(&agent),
                ))
                .await?;
            tx.commit().await?;
        });
        Ok(agent)
    }

    #[tracing::instrument(skip_all)]
    pub async fn agent(&self, id: Uuid) -> Result<AgentRecord, StoreError> {
        // One pooled connection, no snapshot: cheaper on PostgreSQL (every upload
        // reads its agent), and the lists change only with their parent row's writer.
        on!(self.pool(), |pool| {
            Db::from(&mut *pool.acquire().await?).fetch_agent(id).await
        })
    }

    /// Agents in creation order after the cursor id, each with its doors.
    #[tracing::instrument(skip_all)]
    pub async fn list_agents(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<AgentRecord>, StoreError> {
        let (mut agents, doors) = on!(self.pool(), |pool| {
            let agents = sqlx::query_as::<_, AgentRecord>(select_agent!(
                "WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2"
            ))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            let doors = sqlx::query_as::<_, (Uuid, Uuid)>(
                "SELECT agent_id, door_id FROM agent_doors WHERE agent_id IN \
                 (SELECT id FROM agents WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2) \
                 ORDER BY door_id",
            )
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            (agents, doors)
        });
        let mut by_agent: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
        for (agent_id, door_id) in doors {
            by_agent.entry(agent_id).or_default().push(door_id);
        }
        for agent in &mut agents {
            agent.door_ids = by_agent.remove(&agent.id).unwrap_or_default();
        }
        Ok(agents)
    }

    /// Revokes an agent for good: its token stops working at once and any pending
    /// enrolment code with it.
    #[tracing::instrument(skip_all)]
    pub async fn revoke_agent(&self, id: Uuid, actor: &Actor) -> Result<AgentRecord, StoreError> {
        let change = SecretChange {
            revoke: true,
            code_hash: None,
            expires_at: None,
        };
        self.change_agent(id, actor, "agent.revoke", change).await
    }

    /// Replaces the agent's enrolment code (re-enrolment; enrolling replaces the token).
    /// Refused for a revoked agent: register a new one instead.
    #[tracing::instrument(skip_all)]
    pub async fn issue_enrollment_code(
        &self,
        id: Uuid,
        code_hash: &[u8],
        expires_at: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<AgentRecord, StoreError> {
        let change = SecretChange {
            revoke: false,
            code_hash: Some(code_hash.to_vec()),
            expires_at: Some(expires_at),
        };
        self.change_agent(id, actor, "agent.enrollment_code", change)
            .await
    }

    /// Applies one change to an agent's secrets, logged with before and after.
    async fn change_agent(
        &self,
        id: Uuid,
        actor: &Actor,
        action: &'static str,
        change: SecretChange,
    ) -> Result<AgentRecord, StoreError> {
        let at = super::now();
        let after = on!(self.write().await?, |mut tx| {
            let before = Db::from(&mut *tx).fetch_agent(id).await?;
            if before.status == AgentStatus::Revoked {
                return Err(StoreError::Rejected(
                    "the agent is revoked; register a new one",
                ));
            }
            let status = if change.revoke {
                AgentStatus::Revoked
            } else {
                before.status
            };
            sqlx::query(
                "UPDATE agents SET status = $2, enrollment_code_hash = $3, \
                 enrollment_expires_at = $4, updated_at = $5, \
                 token_hash = CASE WHEN $6 THEN NULL ELSE token_hash END WHERE id = $1",
            )
            .bind(id)
            .bind(status.as_ref())
            .bind(change.code_hash)
            .bind(change.expires_at)
            .bind(at)
            .bind(change.revoke)
            .execute(&mut *tx)
            .await?;
            let after = AgentRecord {
                status,
                enrollment_expires_at: change.expires_at,
                updated_at: at,
                ..before.clone()
            };
            Db::from(&mut *tx)
                .insert_log(&NewLogEntry::new(
                    actor,
                    action,
                    "agent",
                    id,
                    Some(&before),
                    Some(&after),
                ))
                .await?;
            tx.commit().await?;
            after
        });
        Ok(after)
    }

    /// Consumes a live enrolment code and makes `token_hash` the agent's token, in one
    /// statement: of two enrolments with one code exactly one wins. `None` when the code
    /// is unknown, used or expired, or the agent is revoked.
    pub async fn enroll_agent(
        &self,
        code_hash: &[u8],
        token_hash: &[u8],
        at: DateTime<Utc>,
    ) -> Result<Option<AgentRecord>, StoreError> {
        self.enroll_agent_with_key(code_hash, token_hash, None, at)
            .await
    }

    /// [`Store::enroll_agent`], the agent's card public key replaced by `card_public_key`
    /// (cleared without one: that install registers its own later).
    #[tracing::instrument(skip_all)]
    pub async fn enroll_agent_with_key(
        &self,
        code_hash: &[u8],
        token_hash: &[u8],
        card_public_key: Option<&[u8]>,
        at: DateTime<Utc>,
    ) -> Result<Option<AgentRecord>, StoreError> {
        let enrolled = on!(self.write().await?, |mut tx| {
            let id = sqlx::query_scalar::<_, Uuid>(
                "UPDATE agents SET status = 'active', token_hash = $2, enrolled_at = $3, \
                 updated_at = $3, enrollment_code_hash = NULL, enrollment_expires_at = NULL, \
                 card_public_key = $4 \
                 WHERE enrollment_code_hash = $1 AND enrollment_expires_at > $3 \
                 AND status <> 'revoked' RETURNING id",
            )
            .bind(code_hash)
            .bind(token_hash)
            .bind(at)
            .bind(card_public_key)
            .fetch_optional(&mut *tx)
            .await?;
            match id {
                None => None,
                Some(id) => {
                    let agent = Db::from(&mut *tx).fetch_agent(id).await?;
                    Db::from(&mut *tx)
                        .insert_log(&NewLogEntry::new(
                            &agent_actor(),
                            "agent.enroll",
                            "agent",
                            id,
                            None,
                            Some(&agent),
                        ))
                        .await?;
                    tx.commit().await?;
                    Some(agent)
                }
            }
        });
        Ok(enrolled)
    }

    /// The active agent holding the token with this hash, marked as seen at `at`.
    #[tracing::instrument(skip_all)]
    pub async fn touch_agent(
        &self,
        token_hash: &[u8],
        at: DateTime<Utc>,
    ) -> Result<Option<Uuid>, StoreError> {
        // The token is checked by a read, and the stamp joins a batch written in one
        // transaction (see `agent_stamps`). On SQLite one write each queued the agents'
        // calls behind each other at the write gate; on PostgreSQL one commit (a WAL
        // flush) each held a pooled connection for it: 1,000 agents' 200 calls a second
        // doubled the tail of operators' requests (BENCHMARKS.md, "1,000 agents").
        let id = on!(self.pool(), |pool| {
            sqlx::query_scalar::<_, Uuid>(
                "SELECT id FROM agents WHERE token_hash = $1 AND status = 'active'",
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await?
        });
        if let Some(id) = id {
            self.stamp_agent_seen(id, at).await?;
        }
        Ok(id)
    }

    /// The sites of the doors an agent serves: what its policy snapshot covers.
    #[tracing::instrument(skip_all)]
    pub async fn agent_site_ids(&self, agent_id: Uuid) -> Result<BTreeSet<Uuid>, StoreError> {
        let ids = on!(self.pool(), |pool| {
            sqlx::query_scalar::<_, Uuid>(
                "SELECT DISTINCT d.site_id FROM agent_doors a JOIN doors d ON d.id = a.door_id \
                 WHERE a.agent_id = $1",
            )
            .bind(agent_id)
            .fetch_all(pool)
            .await?
        });
        Ok(ids.into_iter().collect())
    }
}

/// What [`Store::change_agent`] writes: always the code columns (cleared unless a new
/// code is given), and the token cleared on revocation.
struct SecretChange {
    revoke: bool,
    code_hash: Option<Vec<u8>>,
    expires_at: Option<DateTime<Utc>>,
}
