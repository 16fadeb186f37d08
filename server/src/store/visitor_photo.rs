//! A visitor's photo (issue 13 item 2): set, read and removed through a visit, kept on
//! the visitor (`visitors.photo`, `photo_type`) so a returning visitor keeps it, and
//! purged with the rest of the visitor by retention (`store::retention`). Each change is
//! an operator-log entry on the visit naming only the photo's type, size and SHA-256 —
//! never its bytes — and that entry's details are purged with the visit too.

use super::operator_log::{Actor, NewLogEntry};
use super::{Store, StoreError, now, on};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A photo as stored: its media type (`image/jpeg` or `image/png`) and bytes.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VisitorPhoto {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for VisitorPhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VisitorPhoto")
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// What the operator log records of a photo.
#[derive(Serialize)]
struct PhotoFacts<'a> {
    content_type: &'a str,
    bytes: usize,
    sha256: String,
}

impl VisitorPhoto {
    fn facts(&self) -> PhotoFacts<'_> {
        PhotoFacts {
            content_type: &self.content_type,
            bytes: self.bytes.len(),
            sha256: hex::encode(Sha256::digest(&self.bytes)),
        }
    }
}

impl Store {
    /// The visitor's photo; `None` when there is none (or the visitor was purged).
    #[tracing::instrument(skip_all, fields(%visitor_id))]
    pub async fn visitor_photo(
        &self,
        visitor_id: Uuid,
    ) -> Result<Option<VisitorPhoto>, StoreError> {
        Ok(on!(self.pool(), |pool| {
            sqlx::query_as::<_, VisitorPhoto>(
                "SELECT photo_type AS content_type, photo AS bytes FROM visitors \
                 WHERE id = $1 AND purged_at IS NULL AND photo IS NOT NULL \
                 AND photo_type IS NOT NULL",
            )
            .bind(visitor_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Whether the visitor has a photo; `None` for an unknown or purged visitor (who can
    /// take none).
    #[tracing::instrument(skip_all, fields(%visitor_id))]
    pub async fn visitor_has_photo(&self, visitor_id: Uuid) -> Result<Option<bool>, StoreError> {
        Ok(on!(self.pool(), |pool| {
            sqlx::query_scalar::<_, bool>(
                "SELECT photo IS NOT NULL FROM visitors WHERE id = $1 AND purged_at IS NULL",
            )
            .bind(visitor_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Sets (`Some`) or removes (`None`) the photo of the visit's visitor, logged on the
    /// visit as `visit.visitor_photo_set` or `visit.visitor_photo_removed`. Whether
    /// anything changed (removing no photo changes and logs nothing).
    /// [`StoreError::NotFound`] for an unknown visit, or one without a visitor or whose
    /// visitor was purged. The photo is checked by the caller (`badges::photo::check`).
    #[tracing::instrument(skip_all, fields(%visit_id))]
    pub async fn set_visitor_photo(
        &self,
        visit_id: Uuid,
        photo: Option<&VisitorPhoto>,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let before: Option<(Uuid, Option<VisitorPhoto>)> = on!(tx.db(), |c| {
            let visitor = sqlx::query_scalar::<_, Option<Uuid>>(
                "SELECT visitor_id FROM visits WHERE id = $1",
            )
            .bind(visit_id)
            .fetch_optional(&mut *c)
            .await?
            .flatten();
            match visitor {
                None => None,
                Some(visitor) => {
                    // The no-op update holds the visitor's row on both databases.
                    let live = sqlx::query(
                        "UPDATE visitors SET updated_at = updated_at \
                         WHERE id = $1 AND purged_at IS NULL",
                    )
                    .bind(visitor)
                    .execute(&mut *c)
                    .await?
                    .rows_affected();
                    if live == 0 {
                        None
                    } else {
                        let photo = sqlx::query_as::<_, VisitorPhoto>(
                            "SELECT photo_type AS content_type, photo AS bytes FROM visitors \
                             WHERE id = $1 AND photo IS NOT NULL AND photo_type IS NOT NULL",
                        )
                        .bind(visitor)
                        .fetch_optional(&mut *c)
                        .await?;
                        Some((visitor, photo))
                    }
                }
            }
        });
        let Some((visitor, old)) = before else {
            return Err(StoreError::NotFound);
        };
        if old.is_none() && photo.is_none() {
            return Ok(false);
        }
        let at = now();
        on!(tx.db(), |c| {
            sqlx::query(
                "UPDATE visitors SET photo = $2, photo_type = $3, updated_at = $4 WHERE id = $1",
            )
            .bind(visitor)
            .bind(photo.map(|p| p.bytes.as_slice()))
            .bind(photo.map(|p| p.content_type.as_str()))
            .bind(at)
            .execute(&mut *c)
            .await?;
        });
        let action = match photo {
            Some(_) => "visit.visitor_photo_set",
            None => "visit.visitor_photo_removed",
        };
        let before = old.as_ref().map(VisitorPhoto::facts);
        let after = photo.map(VisitorPhoto::facts);
        let entry = NewLogEntry::new(
            actor,
            action,
            "visit",
            visit_id,
            Some(&serde_json::json!({ "photo": before })),
            Some(&serde_json::json!({ "photo": after })),
        );
        tx.db().insert_log(&entry).await?;
        tx.commit().await?;
        Ok(true)
    }
}
