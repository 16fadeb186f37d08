//! The visitor card pool: a site's cards that reception registers once and hands out to
//! checked-in visitors. Issuing one makes a credential held by the visit (so the decision
//! engine lets it only into the visit's zones, inside its window, while it is checked
//! in); ending the visit's cards revokes that credential and puts the card back in the
//! pool, or marks it `unreturned` when the visitor left with it.
//!
//! A receptionist issues cards only through here: the credentials API itself needs the
//! security model's write permission.

use super::credentials::{CredentialRow, select_credential};
use super::operator_log::{Actor, NewLogEntry};
use super::stored_time::{OptionalStoredTime, StoredTime};
use super::{CredentialRecord, Db, ModelError, Store, StoreError, now, on};
use chrono::{DateTime, Utc};
use gatehouse_core::model::{CardKind, CredentialState};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where a pool card is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::EnumString, strum::Display, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum VisitorCardState {
    /// In the drawer, ready to hand out.
    Available,
    /// With a checked-in visitor.
    Issued,
    /// The visit ended and the card did not come back (deactivated at every door).
    Unreturned,
    /// Reported lost.
    Lost,
    /// Out of use.
    Retired,
}

impl TryFrom<String> for VisitorCardState {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
            .map_err(|_| format!("unknown visitor card state {s:?}"))
    }
}

/// A card of the pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = VisitorCard)]
pub struct VisitorCardRecord {
    pub id: Uuid,
    pub site_id: Uuid,
    /// Card identifier: upper-case hex, no separators.
    pub card: String,
    /// What is printed on it, e.g. `V-07`; unique within the site.
    pub label: String,
    #[sqlx(try_from = "String")]
    pub state: VisitorCardState,
    /// The credential of the current (or, when unreturned, the last) issue.
    pub credential_id: Option<Uuid>,
    /// The visit it is (or, when unreturned, was last) issued to.
    pub visit_id: Option<Uuid>,
    #[sqlx(try_from = "StoredTime")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    pub updated_at: DateTime<Utc>,
}

/// A card to register; `card` is already normalised, `label` checked.
#[derive(Debug, Clone)]
pub struct NewVisitorCard {
    pub site_id: Uuid,
    pub card: String,
    pub label: String,
}

/// `SELECT <VisitorCardRecord columns> FROM visitor_cards <rest>`.
macro_rules! select_card {
    ($rest:literal) => {
        concat!(
            "SELECT id, site_id, card, label, state, credential_id, visit_id, created_at, ",
            "updated_at FROM visitor_cards ",
            $rest
        )
    };
}

/// What a visit is, as far as issuing a card needs.
#[derive(sqlx::FromRow)]
struct VisitFacts {
    status: String,
    site_id: Option<Uuid>,
    #[sqlx(try_from = "StoredTime")]
    window_end: DateTime<Utc>,
    #[sqlx(try_from = "OptionalStoredTime")]
    checked_out_at: Option<DateTime<Utc>>,
}

/// The 422 for a card number already live as a credential.
const LIVE: &str = "is live as a credential: revoke it before adding the card to the pool";

impl Db<'_> {
    async fn visitor_card_row(self, id: Uuid) -> Result<VisitorCardRecord, StoreError> {
        Ok(on!(self, |c| {
            sqlx::query_as::<_, VisitorCardRecord>(select_card!("WHERE id = $1"))
                .bind(id)
                .fetch_one(c)
                .await?
        }))
    }

    /// Sets a card's state and issue, and records the change as `action`.
    async fn set_card(
        mut self,
        before: &VisitorCardRecord,
        after: VisitorCardRecord,
        action: &'static str,
        actor: &Actor,
    ) -> Result<VisitorCardRecord, StoreError> {
        on!(self.re(), |c| {
            sqlx::query(
                "UPDATE visitor_cards SET state = $2, credential_id = $3, visit_id = $4, \
                 label = $5, updated_at = $6, alarm_id = CASE WHEN $2 = 'unreturned' \
                 THEN alarm_id ELSE NULL END WHERE id = $1",
            )
            .bind(after.id)
            .bind(after.state.as_ref())
            .bind(after.credential_id)
            .bind(after.visit_id)
            .bind(&after.label)
            .bind(after.updated_at)
            .execute(c)
            .await?;
        });
        let entry = NewLogEntry::new(
            actor,
            action,
            "visitor_card",
            after.id,
            Some(before),
            Some(&after),
        );
        self.insert_log(&entry).await?;
        Ok(after)
    }

    /// Revokes `credential_id` when it is still live (logged as the credentials API logs
    /// a revocation); whether it was.
    async fn revoke_if_live(
        mut self,
        credential_id: Uuid,
        at: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let row = on!(self.re(), |c| {
            sqlx::query_as::<_, CredentialRow>(select_credential!(
                "WHERE id = $1 AND state <> 'revoked'"
            ))
            .bind(credential_id)
            .fetch_optional(c)
            .await?
        });
        let Some(row) = row else { return Ok(false) };
        self.revoke(&row, at, actor).await?;
        Ok(true)
    }

    async fn revoke(
        mut self,
        row: &CredentialRow,
        at: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let before = row.record()?;
        let revoked = CredentialRecord {
            state: CredentialState::Revoked,
            updated_at: at,
            ..before.clone()
        };
        on!(self.re(), |c| {
            sqlx::query("UPDATE credentials SET state = 'revoked', updated_at = $2 WHERE id = $1")
                .bind(revoked.id)
                .bind(at)
                .execute(c)
                .await?;
        });
        let entry = NewLogEntry::new(
            actor,
            "credential.update",
            "credential",
            revoked.id,
            Some(&before),
            Some(&revoked),
        );
        self.insert_log(&entry).await
    }

    /// Ends a visit's cards, inside the caller's transaction (check-out, cancel, no-show,
    /// the automatic end): revokes every live credential the visit holds (each logged;
    /// the policy version bumped when one was, so doors learn it), and puts each pool card
    /// issued to it back `available` when `returned`, else marks it `unreturned` (it then
    /// raises `visitor_card_unreturned` once the visit's window is over). The pool cards
    /// changed.
    pub(crate) async fn end_visit_cards(
        mut self,
        visit_id: Uuid,
        at: DateTime<Utc>,
        returned: bool,
        actor: &Actor,
    ) -> Result<Vec<VisitorCardRecord>, StoreError> {
        let (live, cards) = on!(self.re(), |c| {
            let live = sqlx::query_as::<_, CredentialRow>(select_credential!(
                "WHERE visit_id = $1 AND state <> 'revoked' ORDER BY id"
            ))
            .bind(visit_id)
            .fetch_all(&mut *c)
            .await?;
            let cards = sqlx::query_as::<_, VisitorCardRecord>(select_card!(
                "WHERE visit_id = $1 AND state = 'issued' ORDER BY id"
            ))
            .bind(visit_id)
            .fetch_all(&mut *c)
            .await?;
            (live, cards)
        });
        for row in &live {
            self.re().revoke(row, at, actor).await?;
        }
        if !live.is_empty() {
            self.re().bump_policy_version().await?;
        }
        let (state, action) = match returned {
            true => (VisitorCardState::Available, "visitor_card.return"),
            false => (VisitorCardState::Unreturned, "visitor_card.unreturned"),
        };
        let mut changed = Vec::with_capacity(cards.len());
        for before in cards {
            let after = VisitorCardRecord {
                state,
                updated_at: at,
                ..before.clone()
            };
            changed.push(self.re().set_card(&before, after, action, actor).await?);
        }
        Ok(changed)
    }
}

/// A change to a pool card from the desk: its state (`available` = returned, `lost`,
/// `retired`) or its label.
#[derive(Debug, Clone, Default)]
pub struct VisitorCardChange {
    pub state: Option<VisitorCardState>,
    pub label: Option<String>,
}

impl Store {
    /// Registers a card in a site's pool. Refused (422) for an unknown site, a card already
    /// in the pool or live as a credential (`card`), a label the site already uses.
    #[tracing::instrument(skip_all)]
    pub async fn create_visitor_card(
        &self,
        new: NewVisitorCard,
        actor: &Actor,
    ) -> Result<VisitorCardRecord, ModelError> {
        let at = now();
        let card = VisitorCardRecord {
            id: Uuid::now_v7(),
            site_id: new.site_id,
            card: new.card,
            label: new.label,
            state: VisitorCardState::Available,
            credential_id: None,
            visit_id: None,
            created_at: at,
            updated_at: at,
        };
        on!(self.write().await?, |mut tx| {
            Db::from(&mut *tx).site_exists(card.site_id).await?;
            let live = sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM credentials WHERE card = $1 AND state <> 'revoked'",
            )
            .bind(&card.card)
            .fetch_one(&mut *tx)
            .await?;
            if live > 0 {
                return Err(ModelError::invalid("card", LIVE));
            }
            let taken = sqlx::query_as::<_, (String, Uuid)>(
                "SELECT card, site_id FROM visitor_cards WHERE card = $1 \
                 OR (site_id = $2 AND label = $3)",
            )
            .bind(&card.card)
            .bind(card.site_id)
            .bind(&card.label)
            .fetch_all(&mut *tx)
            .await?;
            if taken.iter().any(|(c, _)| *c == card.card) {
                return Err(ModelError::invalid(
                    "card",
                    "is already in the visitor card pool",
                ));
            }
            if !taken.is_empty() {
                return Err(ModelError::invalid("label", "is already used at this site"));
            }
            sqlx::query(
                "INSERT INTO visitor_cards (id, site_id, card, label, state, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(card.id)
            .bind(card.site_id)
            .bind(&card.card)
            .bind(&card.label)
            .bind(card.state.as_ref())
            .bind(card.created_at)
            .bind(card.updated_at)
            .execute(&mut *tx)
            .await?;
            let entry = NewLogEntry::new(
                actor,
                "visitor_card.create",
                "visitor_card",
                card.id,
                None,
                Some(&card),
            );
            Db::from(&mut *tx).insert_log(&entry).await?;
            tx.commit().await?;
        });
        Ok(card)
    }

    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn visitor_card(&self, id: Uuid) -> Result<VisitorCardRecord, StoreError> {
        on!(self.pool(), |pool| {
            Db::from(&mut *pool.acquire().await?)
                .visitor_card_row(id)
                .await
        })
    }

    /// The pool, of one site or all, in one state or all, by site and label. Pools are
    /// a few dozen cards a site: the list is whole.
    #[tracing::instrument(skip_all)]
    pub async fn list_visitor_cards(
        &self,
        site_id: Option<Uuid>,
        state: Option<VisitorCardState>,
    ) -> Result<Vec<VisitorCardRecord>, StoreError> {
        let state = state.map(|s| s.as_ref().to_owned());
        Ok(on!(self.pool(), |pool| {
            sqlx::query_as::<_, VisitorCardRecord>(select_card!(
                "WHERE ($1 IS NULL OR site_id = $1) AND ($2 IS NULL OR state = $2) \
                 ORDER BY site_id, label, id"
            ))
            .bind(site_id)
            .bind(state)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The desk's change to a card: `available` (returned), `lost` or `retired`, or a new
    /// label. Leaving `issued` or `unreturned` revokes the card's live credential (so a
    /// card reported lost stops opening doors); `issued` and `unreturned` are set only by
    /// issuing and ending visits (422 on `state`).
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn update_visitor_card(
        &self,
        id: Uuid,
        change: VisitorCardChange,
        actor: &Actor,
    ) -> Result<VisitorCardRecord, ModelError> {
        if let Some(VisitorCardState::Issued | VisitorCardState::Unreturned) = change.state {
            return Err(ModelError::invalid(
                "state",
                "is set by handing the card out and by the visit's end",
            ));
        }
        let after = on!(self.write().await?, |mut tx| {
            // Holds the card's row (PostgreSQL) while it changes.
            sqlx::query("UPDATE visitor_cards SET updated_at = updated_at WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let before = Db::from(&mut *tx).visitor_card_row(id).await?;
            if let Some(label) = &change.label
                && *label != before.label
            {
                let used = sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM visitor_cards WHERE site_id = $1 AND label = $2",
                )
                .bind(before.site_id)
                .bind(label)
                .fetch_one(&mut *tx)
                .await?;
                if used > 0 {
                    return Err(ModelError::invalid("label", "is already used at this site"));
                }
            }
            let at = now();
            let state = change.state.unwrap_or(before.state);
            let mut after = VisitorCardRecord {
                state,
                label: change.label.clone().unwrap_or_else(|| before.label.clone()),
                updated_at: at,
                ..before.clone()
            };
            if state != before.state
                && let Some(credential_id) = before.credential_id
                && Db::from(&mut *tx)
                    .revoke_if_live(credential_id, at, actor)
                    .await?
            {
                Db::from(&mut *tx).bump_policy_version().await?;
            }
            if state == VisitorCardState::Available {
                after.credential_id = None;
                after.visit_id = None;
            }
            let action = match state {
                VisitorCardState::Available if before.state != state => "visitor_card.return",
                VisitorCardState::Lost if before.state != state => "visitor_card.lost",
                VisitorCardState::Retired if before.state != state => "visitor_card.retire",
                _ => "visitor_card.update",
            };
            let after = Db::from(&mut *tx)
                .set_card(&before, after, action, actor)
                .await?;
            tx.commit().await?;
            after
        });
        Ok(after)
    }

    /// Hands pool card `visitor_card_id` to visit `visit_id`: only an `available` card of
    /// the visit's site (422 on `visitor_card_id` otherwise; 409 when not available), only
    /// to a checked-in visit (409). Issues a credential held by the visit, valid until the
    /// visit's window ends, logged as `credential.create` and `visitor_card.issue`; the
    /// policy version is bumped so doors learn it. Unknown visit: `NotFound`.
    #[tracing::instrument(skip_all, fields(%visit_id, %visitor_card_id))]
    pub async fn issue_pool_card(
        &self,
        visit_id: Uuid,
        visitor_card_id: Uuid,
        actor: &Actor,
    ) -> Result<(VisitorCardRecord, CredentialRecord), ModelError> {
        let issued = on!(self.write().await?, |mut tx| {
            let visit = sqlx::query_as::<_, VisitFacts>(
                "SELECT v.status, COALESCE(v.site_id, (SELECT z.site_id FROM visit_zones vz \
                 JOIN zones z ON z.id = vz.zone_id WHERE vz.visit_id = v.id \
                 ORDER BY vz.zone_id LIMIT 1)) AS site_id, v.window_end, v.checked_out_at \
                 FROM visits v WHERE v.id = $1",
            )
            .bind(visit_id)
            .fetch_one(&mut *tx)
            .await?;
            let card = sqlx::query_as::<_, VisitorCardRecord>(select_card!("WHERE id = $1"))
                .bind(visitor_card_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(ModelError::invalid(
                    "visitor_card_id",
                    "no such card in the visitor card pool",
                ))?;
            if visit.site_id != Some(card.site_id) {
                return Err(ModelError::invalid(
                    "visitor_card_id",
                    "is a card of another site's pool",
                ));
            }
            if visit.status != "checked_in" || visit.checked_out_at.is_some() {
                return Err(StoreError::Rejected("the visit is not checked in").into());
            }
            let at = now();
            if at >= visit.window_end {
                return Err(StoreError::Rejected("the visit's window has ended").into());
            }
            // Takes the card (and, on PostgreSQL, its row) only while it is available:
            // two desks handing out the same card cannot both succeed.
            let taken = sqlx::query(
                "UPDATE visitor_cards SET state = 'issued', updated_at = $2 \
                 WHERE id = $1 AND state = 'available'",
            )
            .bind(card.id)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if taken == 0 {
                return Err(StoreError::Rejected("the card is not available").into());
            }
            let credential = CredentialRecord {
                id: Uuid::now_v7(),
                card: card.card.clone(),
                kind: CardKind::default(),
                state: CredentialState::Active,
                valid_from: None,
                valid_until: Some(visit.window_end),
                person_id: None,
                visit_id: Some(visit_id),
                has_pin: false,
                created_at: at,
                updated_at: at,
            };
            Db::from(&mut *tx)
                .insert_credentials(&[(&credential, None)], None)
                .await?;
            let entry = NewLogEntry::new(
                actor,
                "credential.create",
                "credential",
                credential.id,
                None,
                Some(&credential),
            );
            Db::from(&mut *tx).log_change(&entry).await?;
            let after = VisitorCardRecord {
                state: VisitorCardState::Issued,
                credential_id: Some(credential.id),
                visit_id: Some(visit_id),
                updated_at: at,
                ..card.clone()
            };
            let after = Db::from(&mut *tx)
                .set_card(&card, after, "visitor_card.issue", actor)
                .await?;
            tx.commit().await?;
            (after, credential)
        });
        Ok(issued)
    }

    /// [`Db::end_visit_cards`] in a transaction of its own, for a caller that has none.
    #[tracing::instrument(skip_all, fields(%visit_id))]
    pub async fn end_visit_cards(
        &self,
        visit_id: Uuid,
        returned: bool,
        actor: &Actor,
    ) -> Result<Vec<VisitorCardRecord>, StoreError> {
        let mut tx = self.write().await?;
        let changed = tx
            .db()
            .end_visit_cards(visit_id, now(), returned, actor)
            .await?;
        tx.commit().await?;
        Ok(changed)
    }
}
