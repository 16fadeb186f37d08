//! Kiosks: self-service check-in tablets, each a device account locked to one browser.
//! An administrator registers a kiosk at a site and gets a one-time enrolment code; the
//! tablet trades the code for a device token kept in a cookie. Only hashes are stored.

use super::operator_log::{Actor, NewLogEntry};
use super::stored_time::OptionalStoredTime;
use super::{Db, Store, StoreError, now, on};
use crate::store::stored_time::StoredTime;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// A kiosk as shown (never its hashes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct KioskRecord {
    pub id: Uuid,
    pub site_id: Uuid,
    pub name: String,
    #[sqlx(try_from = "StoredTime")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "OptionalStoredTime")]
    pub enrolled_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "OptionalStoredTime")]
    pub revoked_at: Option<DateTime<Utc>>,
}

macro_rules! select_kiosk {
    ($rest:literal) => {
        concat!(
            "SELECT id, site_id, name, created_at, enrolled_at, revoked_at FROM kiosks ",
            $rest
        )
    };
}

impl Store {
    /// Registers a kiosk with a one-time enrolment code (its hash) valid until
    /// `expires`. Logged as `kiosk.create`.
    #[tracing::instrument(skip_all)]
    pub async fn create_kiosk(
        &self,
        site_id: Uuid,
        name: &str,
        code_hash: &[u8],
        expires: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<KioskRecord, StoreError> {
        let kiosk = KioskRecord {
            id: Uuid::now_v7(),
            site_id,
            name: name.to_owned(),
            created_at: now(),
            enrolled_at: None,
            revoked_at: None,
        };
        on!(self.write().await?, |mut tx| {
            sqlx::query(
                "INSERT INTO kiosks (id, site_id, name, enrolment_hash, enrolment_expires, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(kiosk.id)
            .bind(site_id)
            .bind(name)
            .bind(code_hash)
            .bind(expires)
            .bind(kiosk.created_at)
            .execute(&mut *tx)
            .await?;
            let entry =
                NewLogEntry::new(actor, "kiosk.create", "kiosk", kiosk.id, None, Some(&kiosk));
            Db::from(&mut *tx).insert_log(&entry).await?;
            tx.commit().await?;
        });
        Ok(kiosk)
    }

    /// Trades a valid, unexpired enrolment code for the device token (its hash): the
    /// code works once, and a new enrolment replaces the kiosk's previous device.
    #[tracing::instrument(skip_all)]
    pub async fn enrol_kiosk(
        &self,
        code_hash: &[u8],
        token_hash: &[u8],
    ) -> Result<Option<KioskRecord>, StoreError> {
        let at = now();
        let kiosk = on!(self.write().await?, |mut tx| {
            let kiosk = sqlx::query_as::<_, KioskRecord>(select_kiosk!(
                "WHERE enrolment_hash = $1 AND enrolment_expires > $2 AND revoked_at IS NULL"
            ))
            .bind(code_hash)
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(kiosk) = &kiosk {
                sqlx::query(
                    "UPDATE kiosks SET enrolment_hash = NULL, enrolment_expires = NULL, \
                     token_hash = $2, enrolled_at = $3 WHERE id = $1",
                )
                .bind(kiosk.id)
                .bind(token_hash)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                let actor = Actor {
                    id: Some(kiosk.id),
                    name: format!("kiosk {}", kiosk.name),
                    request_id: None,
                };
                let entry =
                    NewLogEntry::new(&actor, "kiosk.enrol", "kiosk", kiosk.id, None, Some(kiosk));
                Db::from(&mut *tx).insert_log(&entry).await?;
            }
            tx.commit().await?;
            kiosk
        });
        Ok(kiosk)
    }

    /// The enrolled, unrevoked kiosk holding this device token.
    #[tracing::instrument(skip_all)]
    pub async fn kiosk_by_token(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<KioskRecord>, StoreError> {
        on!(self.pool(), |pool| {
            sqlx::query_as::<_, KioskRecord>(select_kiosk!(
                "WHERE token_hash = $1 AND revoked_at IS NULL"
            ))
            .bind(token_hash)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)
        })
    }

    /// Every kiosk, by name.
    #[tracing::instrument(skip_all)]
    pub async fn list_kiosks(&self) -> Result<Vec<KioskRecord>, StoreError> {
        on!(self.pool(), |pool| {
            sqlx::query_as::<_, KioskRecord>(select_kiosk!("ORDER BY name, id"))
                .fetch_all(pool)
                .await
                .map_err(StoreError::from)
        })
    }

    /// Revokes a kiosk: its device stops working at once. Logged as `kiosk.revoke`.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn revoke_kiosk(&self, id: Uuid, actor: &Actor) -> Result<(), StoreError> {
        on!(self.write().await?, |mut tx| {
            let before = sqlx::query_as::<_, KioskRecord>(select_kiosk!("WHERE id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            let at = now();
            sqlx::query(
                "UPDATE kiosks SET revoked_at = $2, token_hash = NULL, enrolment_hash = NULL \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let after = KioskRecord {
                revoked_at: Some(at),
                ..before.clone()
            };
            let entry = NewLogEntry::new(
                actor,
                "kiosk.revoke",
                "kiosk",
                id,
                Some(&before),
                Some(&after),
            );
            Db::from(&mut *tx).insert_log(&entry).await?;
            tx.commit().await?;
        });
        Ok(())
    }
}
