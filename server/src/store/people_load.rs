//! Loading the people model for the policy compiler: people, visits, credentials and
//! grants as the decision engine's types, read in one consistent snapshot.

use super::credentials::{CredentialRow, select_credential};
use super::grants::{GrantRecord, select_grant};
use super::people::{PersonRecord, PersonRow, attach_groups, select_person};
use super::visits::{VisitRecord, attach_zones, select_visit};
use super::{Store, StoreError, on};
use gatehouse_core::model::{Card, Credential, CredentialState, Grant, Person, PinKey, Visit};
use std::collections::HashMap;
use uuid::Uuid;

/// Everything the policy compiler needs about holders and their access.
pub type PeopleModel = (Vec<Person>, Vec<Visit>, Vec<Credential>, Vec<Grant>);

impl Store {
    /// Every person (with their latest vetting and groups), visit, credential and grant.
    /// PINs come as verifiers keyed with `pin_key`.
    ///
    /// Credentials come one per card: the card's credential that is not revoked if there
    /// is one, otherwise its most recently issued (revoked) one, so a revoked card is
    /// still known and denied as `credential_inactive`.
    #[tracing::instrument(skip_all)]
    pub async fn load_people_model(&self, pin_key: &PinKey) -> Result<PeopleModel, StoreError> {
        let (people, members, visits, visit_zones, credentials, grants) =
            on!(self.read().await?, |mut tx| {
                let people = sqlx::query_as::<_, PersonRow>(select_person!("ORDER BY p.id"))
                    .fetch_all(&mut *tx)
                    .await?;
                let members = sqlx::query_as::<_, (Uuid, Uuid)>(
                    "SELECT person_id, group_id FROM group_members ORDER BY group_id",
                )
                .fetch_all(&mut *tx)
                .await?;
                let visits = sqlx::query_as::<_, VisitRecord>(select_visit!("ORDER BY id"))
                    .fetch_all(&mut *tx)
                    .await?;
                let visit_zones = sqlx::query_as::<_, (Uuid, Uuid)>(
                    "SELECT visit_id, zone_id FROM visit_zones ORDER BY zone_id",
                )
                .fetch_all(&mut *tx)
                .await?;
                let credentials =
                    sqlx::query_as::<_, CredentialRow>(select_credential!("ORDER BY id"))
                        .fetch_all(&mut *tx)
                        .await?;
                let grants = sqlx::query_as::<_, GrantRecord>(select_grant!("ORDER BY id"))
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                (people, members, visits, visit_zones, credentials, grants)
            });
        let people = attach_groups(people, members)?
            .iter()
            .map(PersonRecord::engine)
            .collect();
        let visits = attach_zones(visits, visit_zones)
            .iter()
            .map(VisitRecord::engine)
            .collect();
        let credentials = one_per_card(
            credentials
                .iter()
                .map(|row| row.engine(pin_key))
                .collect::<Result<Vec<_>, _>>()?,
        );
        let grants = grants.iter().filter_map(GrantRecord::engine).collect();
        Ok((people, visits, credentials, grants))
    }
}

/// Keeps one credential per card (see [`Store::load_people_model`]); `credentials` come
/// in issue order, and so does the result.
pub(super) fn one_per_card(credentials: Vec<Credential>) -> Vec<Credential> {
    let mut chosen: HashMap<Card, usize> = HashMap::new();
    for (i, credential) in credentials.iter().enumerate() {
        let replace = match chosen.get(&credential.card) {
            None => true,
            // Later revoked credentials replace earlier ones; a live one replaces any.
            Some(&j) => credentials[j].state == CredentialState::Revoked,
        };
        if replace {
            chosen.insert(credential.card, i);
        }
    }
    let mut keep: Vec<usize> = chosen.into_values().collect();
    keep.sort_unstable();
    let mut credentials: Vec<Option<Credential>> = credentials.into_iter().map(Some).collect();
    keep.into_iter()
        .filter_map(|i| credentials.get_mut(i).and_then(Option::take))
        .collect()
}
