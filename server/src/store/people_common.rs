//! Helpers shared by the people-model stores (people, vetting, groups, credentials,
//! grants, visits): the bind limit of multi-row statements, and reference checks inside
//! the writing transaction (an unknown id is a 422 naming the field).

use super::{Db, ModelError, StoreError, on};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use uuid::Uuid;

/// Bind parameters per statement at most: under SQLite's 32,766 and PostgreSQL's 65,535.
/// Multi-row statements (the bulk import's) are cut by rows to stay under it.
pub(crate) const MAX_BINDS: usize = 30_000;

/// `from` strictly before `until`, when both are given.
pub fn window_ok(from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> bool {
    match (from, until) {
        (Some(from), Some(until)) => from < until,
        _ => true,
    }
}

/// Groups `(owner, item)` pairs by owner, keeping their order.
pub(crate) fn by_owner(pairs: Vec<(Uuid, Uuid)>) -> HashMap<Uuid, Vec<Uuid>> {
    let mut map: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (owner, item) in pairs {
        map.entry(owner).or_default().push(item);
    }
    map
}

/// A table other records refer to by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    People,
    Groups,
    Visits,
    Zones,
    Schedules,
}

impl Table {
    fn exists_sql(self) -> &'static str {
        match self {
            Table::People => "SELECT COUNT(*) FROM visible_people WHERE id = $1",
            Table::Groups => "SELECT COUNT(*) FROM person_groups WHERE id = $1",
            Table::Visits => "SELECT COUNT(*) FROM visits WHERE id = $1",
            Table::Zones => "SELECT COUNT(*) FROM zones WHERE id = $1",
            Table::Schedules => "SELECT COUNT(*) FROM schedules WHERE id = $1",
        }
    }

    /// What a 422 says about an id naming no row here.
    fn unknown(self) -> &'static str {
        match self {
            Table::People => "no such person",
            Table::Groups => "no such group",
            Table::Visits => "no such visit",
            Table::Zones => "no such zone",
            Table::Schedules => "no such schedule",
        }
    }
}

impl Db<'_> {
    /// Whether `id` names a row of `table`.
    pub(crate) async fn exists(self, table: Table, id: Uuid) -> Result<bool, StoreError> {
        let n = on!(self, |c| {
            sqlx::query_scalar::<_, i64>(table.exists_sql())
                .bind(id)
                .fetch_one(c)
                .await?
        });
        Ok(n > 0)
    }

    /// Refuses a change whose `field` names no row of `table` (a 422), checked in the
    /// transaction about to refer to it.
    pub(crate) async fn require_row(
        self,
        table: Table,
        id: Uuid,
        field: &'static str,
    ) -> Result<(), ModelError> {
        if self.exists(table, id).await? {
            Ok(())
        } else {
            Err(ModelError::invalid(field, table.unknown()))
        }
    }
}
