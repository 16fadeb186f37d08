//! A visitor's contact and ID document details for the front desk's visit page (read
//! only; registered with the visit, purged by retention like the rest of the visitor).

use super::{Store, StoreError, on};
use uuid::Uuid;

/// What the desk may see of a visitor beyond the name on the visit.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct VisitorContact {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub id_document_type: Option<String>,
    pub id_document_last_digits: Option<String>,
}

impl Store {
    /// The visitor's contact details; `None` for an unknown or purged visitor.
    #[tracing::instrument(skip_all, fields(%visitor_id))]
    pub async fn visitor_contact(
        &self,
        visitor_id: Uuid,
    ) -> Result<Option<VisitorContact>, StoreError> {
        Ok(on!(self.pool(), |pool| {
            sqlx::query_as::<_, VisitorContact>(
                "SELECT email, phone, id_document_type, id_document_last_digits \
                 FROM visitors WHERE id = $1 AND purged_at IS NULL",
            )
            .bind(visitor_id)
            .fetch_optional(pool)
            .await?
        }))
    }
}
