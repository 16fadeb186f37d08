//! The console's search for people: by part of the name or of the organisation
//! (employer), or by a card number the person holds (any state, so a lost card finds
//! its holder), in creation order, a page at a time.

use super::people::{PersonRecord, PersonRow, attach_groups, contains_pattern, select_person};
use super::{Store, StoreError, on};
use uuid::Uuid;

/// `WHERE …` of the search: `$1` cursor, `$2` name or employer pattern, `$3` card.
macro_rules! search_page {
    () => {
        "WHERE ($1 IS NULL OR p.id > $1) AND ($2 IS NULL \
         OR LOWER(p.name) LIKE $2 ESCAPE '\\' \
         OR LOWER(COALESCE(p.employer, '')) LIKE $2 ESCAPE '\\' \
         OR p.id IN (SELECT c.person_id FROM visible_credentials c WHERE c.card = $3)) \
         ORDER BY p.id LIMIT $4"
    };
}

impl Store {
    /// People after the cursor whose name or employer contains `q` (ignoring case), or
    /// who hold the card `card` (normalised; `None` when `q` is not a card number).
    #[tracing::instrument(skip_all)]
    pub async fn search_people(
        &self,
        after: Option<Uuid>,
        q: Option<&str>,
        card: Option<&str>,
        limit: u32,
    ) -> Result<Vec<PersonRecord>, StoreError> {
        let pattern = q.map(contains_pattern);
        let (rows, memberships) = on!(self.read().await?, |mut tx| {
            let rows = sqlx::query_as::<_, PersonRow>(select_person!(search_page!()))
                .bind(after)
                .bind(&pattern)
                .bind(card)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
            let memberships = sqlx::query_as::<_, (Uuid, Uuid)>(concat!(
                "SELECT person_id, group_id FROM group_members WHERE person_id IN ",
                "(SELECT p.id FROM visible_people p ",
                search_page!(),
                ") ORDER BY group_id"
            ))
            .bind(after)
            .bind(&pattern)
            .bind(card)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            (rows, memberships)
        });
        Ok(attach_groups(rows, memberships)?)
    }
}
