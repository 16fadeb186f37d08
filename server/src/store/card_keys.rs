//! Site card keys as stored: per site and key version, the three keys encrypted under the
//! key-encryption key (see `crate::cards`; this module never sees a key in clear), the
//! version's state, and the rollover steps, each written with its operator-log entry in
//! one transaction. The log records versions and states, never key bytes.
//!
//! Also the agents' X25519 public keys, to which their sites' keys are sealed.

use super::operator_log::{Actor, NewLogEntry};
use super::{Db, Store, StoreError, on};
use crate::store::stored_time::StoredTime;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// Where a key version stands. One `current` and at most one `previous` per site: doors
/// accept both (a rollover); `retired` is refused for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[derive(strum::AsRefStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "lowercase")]
pub enum CardKeyState {
    Current,
    Previous,
    Retired,
}

/// One key version of a site, as operators see it: never its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CardKeyVersion {
    /// The DESFire key version (1 to 255).
    pub version: u8,
    pub state: CardKeyState,
    pub created_at: DateTime<Utc>,
    /// When it took its present state.
    pub changed_at: DateTime<Utc>,
}

/// The three keys of a version, each `nonce ‖ ciphertext` under the key-encryption key.
#[derive(Clone)]
pub struct EncryptedKeys {
    pub master: Vec<u8>,
    pub read: Vec<u8>,
    pub uid: Vec<u8>,
}

/// A stored version with its encrypted keys.
#[derive(Clone)]
pub struct CardKeyRow {
    pub site_id: Uuid,
    pub version: u8,
    pub state: CardKeyState,
    pub keys: EncryptedKeys,
}

/// What a new version is: a site's first keys, or the next version after the current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewVersion {
    First,
    Rotate,
}

#[derive(sqlx::FromRow)]
struct Row {
    site_id: Uuid,
    version: i16,
    state: String,
    master_key: Vec<u8>,
    read_key: Vec<u8>,
    uid_key: Vec<u8>,
    #[sqlx(try_from = "StoredTime")]
    created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    changed_at: DateTime<Utc>,
}

impl Row {
    fn state(&self) -> Result<CardKeyState, StoreError> {
        self.state
            .parse()
            .map_err(|_| StoreError::Rejected("a card key row has an unknown state"))
    }

    fn version(&self) -> CardKeyVersion {
        CardKeyVersion {
            version: u8::try_from(self.version).unwrap_or(0),
            state: self.state().unwrap_or(CardKeyState::Retired),
            created_at: self.created_at,
            changed_at: self.changed_at,
        }
    }

    fn into_key_row(self) -> Result<CardKeyRow, StoreError> {
        Ok(CardKeyRow {
            site_id: self.site_id,
            version: u8::try_from(self.version)
                .map_err(|_| StoreError::Rejected("a card key row has a bad version"))?,
            state: self.state()?,
            keys: EncryptedKeys {
                master: self.master_key,
                read: self.read_key,
                uid: self.uid_key,
            },
        })
    }
}

const SELECT: &str = "SELECT site_id, version, state, master_key, read_key, uid_key, \
                      created_at, changed_at FROM card_keys";

impl Db<'_> {
    /// One more on the card key-set number, in the caller's transaction.
    async fn bump_card_key_set(self) -> Result<(), StoreError> {
        on!(self, |c| {
            sqlx::query("UPDATE card_key_set SET number = number + 1 WHERE id = 1")
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }

    /// Logs `action` on the site with its versions `before` and now, in the caller's
    /// transaction; returns the versions now.
    async fn log_versions(
        mut self,
        actor: &Actor,
        action: &'static str,
        site_id: Uuid,
        before: &[Row],
    ) -> Result<Vec<CardKeyVersion>, StoreError> {
        let after = versions(&self.re().card_key_rows_of(site_id).await?);
        let (was, now) = (logged(&versions(before)), logged(&after));
        let entry = NewLogEntry::new(actor, action, "site", site_id, Some(&was), Some(&now));
        self.insert_log(&entry).await?;
        Ok(after)
    }

    async fn card_key_rows_of(self, site_id: Uuid) -> Result<Vec<Row>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE site_id = $1 ORDER BY version"));
        Ok(on!(self, |c| {
            sqlx::query_as::<_, Row>(sql)
                .bind(site_id)
                .fetch_all(&mut *c)
                .await?
        }))
    }
}

impl Store {
    /// A site's key versions, oldest first; `NotFound` when the site is unknown.
    #[tracing::instrument(skip_all)]
    pub async fn card_key_versions(
        &self,
        site_id: Uuid,
    ) -> Result<Vec<CardKeyVersion>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            let mut c = pool.acquire().await?;
            sqlx::query("SELECT id FROM sites WHERE id = $1")
                .bind(site_id)
                .fetch_one(&mut *c)
                .await?;
            Db::from(&mut *c).card_key_rows_of(site_id).await?
        });
        Ok(rows.iter().map(Row::version).collect())
    }

    /// Every stored version of the given sites (all sites when `None`), with its
    /// encrypted keys; with `accepted_only`, only current and previous ones.
    #[tracing::instrument(skip_all)]
    pub async fn card_key_rows(
        &self,
        site_ids: Option<&[Uuid]>,
        accepted_only: bool,
    ) -> Result<Vec<CardKeyRow>, StoreError> {
        let filter = if accepted_only {
            " WHERE state <> 'retired'"
        } else {
            ""
        };
        let sql = sqlx::AssertSqlSafe(format!("{SELECT}{filter} ORDER BY site_id, version"));
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, Row>(sql).fetch_all(pool).await?
        });
        rows.into_iter()
            .filter(|r| site_ids.is_none_or(|ids| ids.contains(&r.site_id)))
            .map(Row::into_key_row)
            .collect()
    }

    /// Adds a site's first version (1) or its next one (the current becomes previous).
    /// `make` encrypts fresh keys for the version number it is given (which is part of
    /// their associated data). Refused (409): first keys for a site that has some; a
    /// rotation without keys, while a previous version is still accepted, or past 255.
    #[tracing::instrument(skip_all)]
    pub async fn add_card_key_version(
        &self,
        site_id: Uuid,
        kind: NewVersion,
        make: impl FnOnce(u8) -> EncryptedKeys,
        actor: &Actor,
    ) -> Result<Vec<CardKeyVersion>, StoreError> {
        let at = super::now();
        let after = on!(self.write().await?, |mut tx| {
            sqlx::query("SELECT id FROM sites WHERE id = $1")
                .bind(site_id)
                .fetch_one(&mut *tx)
                .await?;
            let before = Db::from(&mut *tx).card_key_rows_of(site_id).await?;
            let states = before
                .iter()
                .map(Row::state)
                .collect::<Result<Vec<_>, _>>()?;
            let current = before
                .iter()
                .zip(&states)
                .find(|(_, s)| **s == CardKeyState::Current);
            let version = match (kind, current) {
                (NewVersion::First, None) if before.is_empty() => 1,
                (NewVersion::First, _) => {
                    return Err(StoreError::Rejected(
                        "the site has card keys already; rotate them instead",
                    ));
                }
                (NewVersion::Rotate, None) => {
                    return Err(StoreError::Rejected(
                        "the site has no current card keys; create them first",
                    ));
                }
                (NewVersion::Rotate, Some(_)) if states.contains(&CardKeyState::Previous) => {
                    return Err(StoreError::Rejected(
                        "a previous key version is still accepted; retire it before rotating",
                    ));
                }
                (NewVersion::Rotate, Some((row, _))) => {
                    let next = before
                        .iter()
                        .map(|r| r.version)
                        .max()
                        .unwrap_or(row.version);
                    u8::try_from(next + 1).map_err(|_| {
                        StoreError::Rejected("the site's key versions (1 to 255) are used up")
                    })?
                }
            };
            let keys = make(version);
            Db::from(&mut *tx).bump_card_key_set().await?;
            sqlx::query(
                "UPDATE card_keys SET state = 'previous', changed_at = $2 \
                 WHERE site_id = $1 AND state = 'current'",
            )
            .bind(site_id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO card_keys (site_id, version, state, master_key, read_key, \
                 uid_key, created_at, changed_at) VALUES ($1, $2, 'current', $3, $4, $5, $6, $6)",
            )
            .bind(site_id)
            .bind(i16::from(version))
            .bind(&keys.master)
            .bind(&keys.read)
            .bind(&keys.uid)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let action = match kind {
                NewVersion::First => "card_keys.create",
                NewVersion::Rotate => "card_keys.rotate",
            };
            let after = Db::from(&mut *tx)
                .log_versions(actor, action, site_id, &before)
                .await?;
            tx.commit().await?;
            after
        });
        Ok(after)
    }

    /// Retires a site's previous version: doors refuse it from then on. Refused (409)
    /// unless `version` is the site's previous version.
    #[tracing::instrument(skip_all)]
    pub async fn retire_card_key_version(
        &self,
        site_id: Uuid,
        version: u8,
        actor: &Actor,
    ) -> Result<Vec<CardKeyVersion>, StoreError> {
        let at = super::now();
        let after = on!(self.write().await?, |mut tx| {
            sqlx::query("SELECT id FROM sites WHERE id = $1")
                .bind(site_id)
                .fetch_one(&mut *tx)
                .await?;
            let before = Db::from(&mut *tx).card_key_rows_of(site_id).await?;
            let retired = sqlx::query(
                "UPDATE card_keys SET state = 'retired', changed_at = $3 \
                 WHERE site_id = $1 AND version = $2 AND state = 'previous'",
            )
            .bind(site_id)
            .bind(i16::from(version))
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if retired.rows_affected() == 0 {
                return Err(StoreError::Rejected(
                    "only the site's previous key version can be retired",
                ));
            }
            Db::from(&mut *tx).bump_card_key_set().await?;
            let after = Db::from(&mut *tx)
                .log_versions(actor, "card_keys.retire", site_id, &before)
                .await?;
            tx.commit().await?;
            after
        });
        Ok(after)
    }

    /// The card key-set number: one more with every change of any site's versions (a
    /// version added, one retired), so an agent that saw another number fetches its keys
    /// again.
    #[tracing::instrument(skip_all)]
    pub async fn card_key_set(&self) -> Result<u64, StoreError> {
        let n = on!(self.pool(), |pool| {
            sqlx::query_scalar::<_, i64>("SELECT number FROM card_key_set WHERE id = 1")
                .fetch_one(pool)
                .await?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The X25519 public key an agent registered, if any.
    #[tracing::instrument(skip_all)]
    pub async fn agent_card_public_key(
        &self,
        agent_id: Uuid,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(on!(self.pool(), |pool| {
            sqlx::query_scalar::<_, Option<Vec<u8>>>(
                "SELECT card_public_key FROM agents WHERE id = $1",
            )
            .bind(agent_id)
            .fetch_one(pool)
            .await?
        }))
    }

    /// Registers an agent's public key when it has none (an agent enrolled before card
    /// keys); the same key again is accepted. Another key is refused (409): only a new
    /// enrolment replaces it, so a stolen token alone cannot redirect the keys.
    #[tracing::instrument(skip_all)]
    pub async fn register_agent_card_key(
        &self,
        agent_id: Uuid,
        public_key: &[u8],
    ) -> Result<(), StoreError> {
        let updated = on!(self.write().await?, |mut tx| {
            let updated = sqlx::query(
                "UPDATE agents SET card_public_key = $2 WHERE id = $1 \
                 AND (card_public_key IS NULL OR card_public_key = $2)",
            )
            .bind(agent_id)
            .bind(public_key)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            updated.rows_affected()
        });
        if updated == 0 {
            return Err(StoreError::Rejected(
                "the agent has another card key; re-enrol it to replace the key",
            ));
        }
        Ok(())
    }
}

fn versions(rows: &[Row]) -> Vec<CardKeyVersion> {
    rows.iter().map(Row::version).collect()
}

/// A site's versions as the operator log keeps them (an object, as every log record).
fn logged(versions: &[CardKeyVersion]) -> serde_json::Value {
    serde_json::json!({ "versions": versions })
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn state_names_are_the_serde_names() {
        for state in CardKeyState::iter() {
            let json = serde_json::to_value(state).unwrap_or_default();
            assert_eq!(json.as_str(), Some(state.as_ref()));
            assert_eq!(state.as_ref().parse::<CardKeyState>().ok(), Some(state));
        }
    }
}
