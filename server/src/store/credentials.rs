//! Credentials: cards issued to exactly one person or one visit, with state, validity
//! and an optional PIN (stored as the core's salted hash, never served or logged).
//!
//! A card identifier belongs to one credential that is not revoked; a revoked card may
//! be issued again (visitor cards go back into the drawer). A revoked credential is
//! final: it cannot be changed, so it cannot collide with the card's new credential.

use super::operator_log::{Actor, NewLogEntry};
use super::people_common::{MAX_BINDS, Table, window_ok};
use super::site_model::{decode_error, parse};
use super::{Db, ModelError, Store, StoreError, now, on};
use crate::store::stored_time::{OptionalStoredTime, StoredTime};
use chrono::{DateTime, Utc};
use gatehouse_core::model::{
    Card, CardKind, CredentialState, Holder, PinHash, PinKey, PinVerifier, Stamp,
};
use serde::Serialize;
use uuid::Uuid;

/// A credential as served: whether it has a PIN, never the PIN's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Credential)]
pub struct CredentialRecord {
    pub id: Uuid,
    /// Card identifier: upper-case hex, no separators.
    pub card: String,
    pub kind: CardKind,
    pub state: CredentialState,
    /// Start of validity (inclusive).
    pub valid_from: Option<DateTime<Utc>>,
    /// End of validity (exclusive).
    pub valid_until: Option<DateTime<Utc>>,
    /// The holder, when a person.
    pub person_id: Option<Uuid>,
    /// The holder, when a visit.
    pub visit_id: Option<Uuid>,
    pub has_pin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A credential to issue; `card` is already normalised.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub card: String,
    pub kind: CardKind,
    pub holder: Holder,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub pin: Option<PinHash>,
}

/// Fields that may change; `None` keeps the value, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct CredentialChange {
    pub state: Option<CredentialState>,
    pub valid_from: Option<Option<DateTime<Utc>>>,
    pub valid_until: Option<Option<DateTime<Utc>>>,
    pub pin: Option<Option<PinHash>>,
}

/// Which credentials to list.
#[derive(Debug, Clone, Default)]
pub struct CredentialFilter {
    pub person_id: Option<Uuid>,
    pub visit_id: Option<Uuid>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialRow {
    id: Uuid,
    card: String,
    kind: String,
    state: String,
    #[sqlx(try_from = "OptionalStoredTime")]
    valid_from: Option<DateTime<Utc>>,
    #[sqlx(try_from = "OptionalStoredTime")]
    valid_until: Option<DateTime<Utc>>,
    person_id: Option<Uuid>,
    visit_id: Option<Uuid>,
    pin_salt: Option<Vec<u8>>,
    pin_hash: Option<Vec<u8>>,
    #[sqlx(try_from = "StoredTime")]
    created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    updated_at: DateTime<Utc>,
}

impl CredentialRow {
    pub(crate) fn record(&self) -> Result<CredentialRecord, sqlx::Error> {
        Ok(CredentialRecord {
            id: self.id,
            card: self.card.clone(),
            kind: parse(&self.kind, "card kind")?,
            state: parse(&self.state, "credential state")?,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            person_id: self.person_id,
            visit_id: self.visit_id,
            has_pin: self.pin_hash.is_some(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    /// The stored PIN hash, if any.
    pub(crate) fn pin(&self) -> Result<Option<PinHash>, sqlx::Error> {
        match (&self.pin_salt, &self.pin_hash) {
            (Some(salt), Some(hash)) => Ok(Some(PinHash {
                salt: salt
                    .as_slice()
                    .try_into()
                    .map_err(|_| decode_error("PIN salt"))?,
                hash: hash
                    .as_slice()
                    .try_into()
                    .map_err(|_| decode_error("PIN hash"))?,
            })),
            _ => Ok(None),
        }
    }

    /// The credential as the decision engine sees it: the stored PIN hash becomes a
    /// verifier keyed with `pin_key` (the hash itself never leaves the server).
    pub(crate) fn engine(
        &self,
        pin_key: &PinKey,
    ) -> Result<gatehouse_core::model::Credential, sqlx::Error> {
        let record = self.record()?;
        let holder = match (record.person_id, record.visit_id) {
            (Some(person), None) => Holder::Person(person),
            (None, Some(visit)) => Holder::Visit(visit),
            _ => return Err(decode_error("credential holder")),
        };
        Ok(gatehouse_core::model::Credential {
            id: record.id,
            // Stored normalised; one that is not cannot enter a policy.
            card: Card::from_normalised(&record.card).ok_or_else(|| decode_error("card"))?,
            kind: record.kind,
            state: record.state,
            valid_from: record.valid_from.map(Stamp::from),
            valid_until: record.valid_until.map(Stamp::from),
            holder,
            pin: (self.pin()?).map(|hash| Box::new(PinVerifier::keyed(&hash, pin_key))),
        })
    }
}

/// The 422 for a validity window that ends before it starts.
pub(crate) const WINDOW: &str = "must be after valid_from";

/// `SELECT <CredentialRow columns> FROM credentials <rest>`.
macro_rules! select_credential {
    ($rest:expr) => {
        concat!(
            "SELECT id, card, kind, state, valid_from, valid_until, person_id, visit_id, ",
            "pin_salt, pin_hash, created_at, updated_at FROM visible_credentials ",
            $rest
        )
    };
}
pub(crate) use select_credential;

/// A credential to insert, with the hash of its PIN if it has one.
pub(crate) type WithPin<'a> = (&'a CredentialRecord, Option<&'a PinHash>);

impl Db<'_> {
    /// Inserts `credentials`, many per statement.
    pub(crate) async fn insert_credentials(
        mut self,
        credentials: &[WithPin<'_>],
        batch: Option<Uuid>,
    ) -> Result<(), StoreError> {
        for credentials in credentials.chunks(MAX_BINDS / 13) {
            on!(self.re(), |c| {
                let mut query = sqlx::QueryBuilder::new(
                    "INSERT INTO credentials (id, card, kind, state, valid_from, valid_until, \
                     person_id, visit_id, pin_salt, pin_hash, created_at, updated_at, \
                     import_batch) ",
                );
                query.push_values(credentials, |mut row, (credential, pin)| {
                    row.push_bind(credential.id)
                        .push_bind(&credential.card)
                        .push_bind(credential.kind.as_ref())
                        .push_bind(credential.state.as_ref())
                        .push_bind(credential.valid_from)
                        .push_bind(credential.valid_until)
                        .push_bind(credential.person_id)
                        .push_bind(credential.visit_id)
                        .push_bind(pin.map(|p| p.salt.to_vec()))
                        .push_bind(pin.map(|p| p.hash.to_vec()))
                        .push_bind(credential.created_at)
                        .push_bind(credential.updated_at)
                        .push_bind(batch);
                });
                query.build().execute(c).await?;
            });
        }
        Ok(())
    }

    /// One credential's row ([`StoreError::NotFound`] when none).
    async fn credential_row(self, id: Uuid) -> Result<CredentialRow, StoreError> {
        let row = on!(self, |c| {
            sqlx::query_as::<_, CredentialRow>(select_credential!("WHERE id = $1"))
                .bind(id)
                .fetch_one(c)
                .await?
        });
        Ok(row)
    }
}

impl Store {
    /// Issues a credential. The holder must exist (422); a visit that is over cannot
    /// receive one (409).
    #[tracing::instrument(skip_all)]
    pub async fn create_credential(
        &self,
        new: NewCredential,
        actor: &Actor,
    ) -> Result<CredentialRecord, ModelError> {
        if !window_ok(new.valid_from, new.valid_until) {
            return Err(ModelError::invalid("valid_until", WINDOW));
        }
        let at = now();
        let (person_id, visit_id) = match new.holder {
            Holder::Person(id) => (Some(id), None),
            Holder::Visit(id) => (None, Some(id)),
        };
        let credential = CredentialRecord {
            id: Uuid::now_v7(),
            card: new.card,
            kind: new.kind,
            state: CredentialState::Active,
            valid_from: new.valid_from,
            valid_until: new.valid_until,
            person_id,
            visit_id,
            has_pin: new.pin.is_some(),
            created_at: at,
            updated_at: at,
        };
        let entry = NewLogEntry::new(
            actor,
            "credential.create",
            "credential",
            credential.id,
            None,
            Some(&credential),
        );
        on!(self.write().await?, |mut tx| {
            if let Some(person_id) = person_id {
                Db::from(&mut *tx)
                    .require_row(Table::People, person_id, "person_id")
                    .await?;
            }
            if let Some(visit_id) = visit_id {
                Db::from(&mut *tx)
                    .require_row(Table::Visits, visit_id, "visit_id")
                    .await?;
                let over = sqlx::query_scalar::<_, OptionalStoredTime>(
                    "SELECT checked_out_at FROM visits WHERE id = $1",
                )
                .bind(visit_id)
                .fetch_one(&mut *tx)
                .await?;
                if over.0.is_some() {
                    return Err(StoreError::Rejected("the visit is checked out").into());
                }
            }
            Db::from(&mut *tx)
                .insert_credentials(&[(&credential, new.pin.as_ref())], None)
                .await?;
            Db::from(&mut *tx).log_change(&entry).await?;
            tx.commit().await?;
        });
        Ok(credential)
    }

    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn credential(&self, id: Uuid) -> Result<CredentialRecord, StoreError> {
        let row = on!(self.pool(), |pool| {
            Db::from(&mut *pool.acquire().await?)
                .credential_row(id)
                .await?
        });
        Ok(row.record()?)
    }

    /// The credential of `card` (normalised): the live one, else the last one issued.
    #[tracing::instrument(skip_all)]
    pub async fn credential_by_card(
        &self,
        card: &str,
    ) -> Result<Option<CredentialRecord>, StoreError> {
        let row = on!(self.pool(), |pool| {
            sqlx::query_as::<_, CredentialRow>(select_credential!(
                "WHERE card = $1 ORDER BY state = 'revoked', id DESC LIMIT 1"
            ))
            .bind(card)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.as_ref().map(CredentialRow::record).transpose()?)
    }

    /// Credentials ordered by id (issue order) after the cursor, optionally of one holder.
    #[tracing::instrument(skip_all)]
    pub async fn list_credentials(
        &self,
        filter: CredentialFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<CredentialRecord>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, CredentialRow>(select_credential!(
                "WHERE ($1 IS NULL OR person_id = $1) AND ($2 IS NULL OR visit_id = $2) \
                 AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4"
            ))
            .bind(filter.person_id)
            .bind(filter.visit_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .iter()
            .map(CredentialRow::record)
            .collect::<Result<_, _>>()?)
    }

    /// Changes state, validity or PIN. A revoked credential cannot change (409).
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn update_credential(
        &self,
        id: Uuid,
        change: CredentialChange,
        actor: &Actor,
    ) -> Result<CredentialRecord, ModelError> {
        let after = on!(self.write().await?, |mut tx| {
            let row = Db::from(&mut *tx).credential_row(id).await?;
            let before = row.record()?;
            let pin = change.pin.clone().map_or_else(|| row.pin(), Ok)?;
            let after = CredentialRecord {
                state: change.state.unwrap_or(before.state),
                valid_from: change.valid_from.unwrap_or(before.valid_from),
                valid_until: change.valid_until.unwrap_or(before.valid_until),
                has_pin: pin.is_some(),
                updated_at: now(),
                ..before.clone()
            };
            let changed = after
                != CredentialRecord {
                    updated_at: after.updated_at,
                    ..before.clone()
                }
                || change.pin.is_some();
            if before.state == CredentialState::Revoked && changed {
                return Err(StoreError::Rejected(
                    "a revoked credential cannot be changed; issue a new one",
                )
                .into());
            }
            if !window_ok(after.valid_from, after.valid_until) {
                return Err(ModelError::invalid("valid_until", WINDOW));
            }
            sqlx::query(
                "UPDATE credentials SET state = $2, valid_from = $3, valid_until = $4, \
                 pin_salt = $5, pin_hash = $6, updated_at = $7 WHERE id = $1",
            )
            .bind(id)
            .bind(after.state.as_ref())
            .bind(after.valid_from)
            .bind(after.valid_until)
            .bind(pin.as_ref().map(|p| p.salt.to_vec()))
            .bind(pin.as_ref().map(|p| p.hash.to_vec()))
            .bind(after.updated_at)
            .execute(&mut *tx)
            .await?;
            let entry = NewLogEntry::new(
                actor,
                "credential.update",
                "credential",
                id,
                Some(&before),
                Some(&after),
            );
            Db::from(&mut *tx).insert_log(&entry).await?;
            if change.pin.is_some() {
                // The log records that the PIN was set or removed, never the PIN or hash.
                let entry = NewLogEntry::new::<()>(
                    actor,
                    "credential.set_pin",
                    "credential",
                    id,
                    None,
                    None,
                );
                Db::from(&mut *tx).insert_log(&entry).await?;
            }
            Db::from(&mut *tx).bump_policy_version().await?;
            tx.commit().await?;
            after
        });
        Ok(after)
    }
}
