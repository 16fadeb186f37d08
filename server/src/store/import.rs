//! Applying a checked HR file ([`crate::import`]) in one transaction: people matched by
//! `external_id`, created or updated; a vetting record appended only when it differs
//! from the current one; cards issued or their validity updated. What does not differ is
//! not written, so a second run of the same file changes nothing: no record, no log
//! entry, no policy version. A card that another holder has makes the whole import fail
//! with that line's error (all such lines are reported), as a rollback.

use super::credentials::{CredentialRow, insert_credential, select_credential};
use super::operator_log::{Actor, NewLogEntry, insert_log};
use super::people::{PersonRecord, fetch_person, insert_person, update_person_row};
use super::people_common::text;
use super::vetting::{NewVetting, VettingRecord, insert_vetting};
use super::{CredentialRecord, Store, StoreError, bump_policy_version, now, with_pool};
use crate::import::{ImportCard, ImportPerson, ImportSummary, LineError, Parsed, Progress};
use gatehouse_core::model::{CredentialState, PersonStatus};
use std::collections::HashSet;
use uuid::Uuid;

/// A person as the file describes them, over what is stored (`None`: a new person).
fn imported(person: &ImportPerson, before: Option<&PersonRecord>) -> PersonRecord {
    let at = now();
    let base = before.cloned().unwrap_or_else(|| PersonRecord {
        id: Uuid::now_v7(),
        external_id: Some(person.external_id.clone()),
        name: String::new(),
        kind: person.kind,
        employer: None,
        clearance: 0,
        status: PersonStatus::Active,
        vetting: None,
        group_ids: Vec::new(),
        created_at: at,
        updated_at: at,
    });
    PersonRecord {
        name: person.name.clone(),
        kind: person.kind,
        employer: person.employer.clone(),
        clearance: person.clearance,
        status: person.status.unwrap_or(base.status),
        ..base
    }
}

/// The vetting record to append, when the file's differs from the current one.
fn vetting_change(
    person: &ImportPerson,
    current: Option<&VettingRecord>,
    id: Uuid,
    actor: &Actor,
) -> Option<VettingRecord> {
    let wanted = person.vetting.as_ref()?;
    let key =
        |status, until, reference: Option<&str>| (status, until, reference.map(str::to_owned));
    let now = current.map(|c| key(c.status, c.cleared_until, c.reference.as_deref()));
    let new = key(
        wanted.status,
        wanted.cleared_until,
        wanted.reference.as_deref(),
    );
    (now.as_ref() != Some(&new)).then(|| {
        let new = NewVetting {
            status: wanted.status,
            cleared_until: wanted.cleared_until,
            reference: wanted.reference.clone(),
            note: None,
        };
        VettingRecord::checked(id, new, actor)
    })
}

/// What to do with a card of the file, given the live credential that has it.
enum CardStep {
    Issue(CredentialRecord),
    Update(CredentialRecord, CredentialRecord),
    Keep,
    Refuse(LineError),
}

fn card_step(card: &ImportCard, person_id: Uuid, live: Option<CredentialRecord>) -> CardStep {
    let Some(before) = live else {
        let at = now();
        return CardStep::Issue(CredentialRecord {
            id: Uuid::now_v7(),
            card: card.card.clone(),
            kind: card.kind.unwrap_or_default(),
            state: CredentialState::Active,
            valid_from: card.valid_from,
            valid_until: card.valid_until,
            person_id: Some(person_id),
            visit_id: None,
            has_pin: false,
            created_at: at,
            updated_at: at,
        });
    };
    if before.person_id != Some(person_id) {
        let holder = if before.visit_id.is_some() {
            "a visit"
        } else {
            "another person"
        };
        let message = format!("the card is issued to {holder}; revoke that credential first");
        return CardStep::Refuse(LineError::new(card.line, "card", message));
    }
    if let Some(kind) = card.kind.filter(|k| *k != before.kind) {
        let message = format!(
            "the card is issued as {}, not {}; a card's kind cannot change",
            text(&before.kind),
            text(&kind)
        );
        return CardStep::Refuse(LineError::new(card.line, "card_kind", message));
    }
    if (before.valid_from, before.valid_until) == (card.valid_from, card.valid_until) {
        return CardStep::Keep;
    }
    let after = CredentialRecord {
        valid_from: card.valid_from,
        valid_until: card.valid_until,
        updated_at: now(),
        ..before.clone()
    };
    CardStep::Update(before, after)
}

impl Store {
    /// Applies a checked file as `actor` in one transaction: the summary, or the lines
    /// whose cards other holders have (then nothing is changed).
    pub async fn apply_import(
        &self,
        parsed: &Parsed,
        actor: &Actor,
        progress: &dyn Progress,
    ) -> Result<Result<ImportSummary, Vec<LineError>>, StoreError> {
        progress.start("applying", parsed.people.len() as u64);
        let mut summary = ImportSummary::default();
        let mut changed_lines = HashSet::new();
        let mut errors = Vec::new();
        let outcome = with_pool!(self, pool, begin => {
            let mut tx = pool.begin_with(begin).await?;
            for person in &parsed.people {
                let id = sqlx::query_scalar::<_, Uuid>("SELECT id FROM people WHERE external_id = $1")
                    .bind(&person.external_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let before = match id {
                    Some(id) => Some(fetch_person!(&mut *tx, id)),
                    None => None,
                };
                let after = imported(person, before.as_ref());
                match &before {
                    None => {
                        insert_person!(&mut *tx, &after);
                        insert_log!(&mut *tx, NewLogEntry::new(actor, "person.create", "person", after.id, None, Some(&after)));
                        summary.people_created += 1;
                        changed_lines.insert(person.line);
                    }
                    Some(before) if *before != after => {
                        update_person_row!(&mut *tx, &after);
                        insert_log!(&mut *tx, NewLogEntry::new(actor, "person.update", "person", after.id, Some(before), Some(&after)));
                        summary.people_updated += 1;
                        changed_lines.insert(person.line);
                    }
                    Some(_) => {}
                }
                if let Some(record) = vetting_change(person, after.vetting.as_ref(), after.id, actor) {
                    insert_vetting!(&mut *tx, &record);
                    insert_log!(&mut *tx, NewLogEntry::new(actor, "person.vetting", "person", after.id, after.vetting.as_ref(), Some(&record)));
                    summary.vetting_recorded += 1;
                    changed_lines.insert(person.line);
                }
                for card in &person.cards {
                    let live = sqlx::query_as::<_, CredentialRow>(select_credential!("WHERE card = $1 AND state <> 'revoked'"))
                        .bind(&card.card)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(|row| row.record())
                        .transpose()?;
                    match card_step(card, after.id, live) {
                        CardStep::Issue(credential) => {
                            insert_credential!(&mut *tx, &credential, None);
                            insert_log!(&mut *tx, NewLogEntry::new(actor, "credential.create", "credential", credential.id, None, Some(&credential)));
                            summary.credentials_created += 1;
                            changed_lines.insert(card.line);
                        }
                        CardStep::Update(before, after) => {
                            sqlx::query("UPDATE credentials SET valid_from = $2, valid_until = $3, updated_at = $4 WHERE id = $1")
                                .bind(after.id)
                                .bind(after.valid_from)
                                .bind(after.valid_until)
                                .bind(after.updated_at)
                                .execute(&mut *tx)
                                .await?;
                            insert_log!(&mut *tx, NewLogEntry::new(actor, "credential.update", "credential", after.id, Some(&before), Some(&after)));
                            summary.credentials_updated += 1;
                            changed_lines.insert(card.line);
                        }
                        CardStep::Keep => {}
                        CardStep::Refuse(error) => errors.push(error),
                    }
                }
                progress.advance(1);
            }
            if !errors.is_empty() {
                tx.rollback().await?;
                Err(errors)
            } else {
                if summary.changed() {
                    bump_policy_version!(&mut *tx);
                }
                summary.policy_version = sqlx::query_scalar::<_, i64>("SELECT version FROM policy_state WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await?;
                summary.unchanged_rows = parsed.rows.saturating_sub(changed_lines.len() as u64);
                if summary.changed() {
                    insert_log!(&mut *tx, NewLogEntry::new(actor, "person.import", "import", Uuid::now_v7(), None, Some(&summary)));
                }
                tx.commit().await?;
                Ok(summary)
            }
        });
        Ok(outcome)
    }
}
