//! Applying a checked HR file ([`crate::import`]) in one transaction: people matched by
//! `external_id`, created or updated; a vetting record appended only when it differs
//! from the current one; cards issued or their validity updated. What does not differ is
//! not written, so a second run of the same file changes nothing: no record, no log
//! entry, no policy version. A card that another holder has makes the whole import fail
//! with that line's error (all such lines are reported) before anything is written.
//!
//! # Holding the write lock briefly
//!
//! SQLite has one write lock for the whole database, and every login, upload and
//! checkpoint needs it. So the work is split: first a **plan** is made from plain reads
//! (no lock): who exists, which cards are live, what each row changes, and every line
//! error. Then one write transaction re-reads the policy version (which every change to
//! people, vetting and credentials bumps): unchanged, the plan still holds and is
//! written with multi-row statements, no reads in between, and the audit chain is
//! extended once at the end (on PostgreSQL that holds the chain's head row, which every
//! audited writer needs, only for that step). Changed, the plan is made again.

use super::credentials::{CredentialRow, select_credential};
use super::operator_log::{Actor, NewLogEntry};
use super::people::{PersonRecord, PersonRow, attach_groups, select_person};
use super::vetting::{NewVetting, VettingRecord};
use super::{CredentialRecord, Store, StoreError, now, on};
use crate::audit::records::{OperatorRow, Source};
use crate::import::{ImportCard, ImportPerson, ImportSummary, LineError, Parsed, Progress};
use crate::store::DatabaseKind;
use gatehouse_core::model::{CredentialState, PersonStatus};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Keys looked up per statement while planning, and rows written per statement.
const BATCH: usize = 500;
/// Plans made before giving up when other writers keep changing people or cards.
const PLAN_ATTEMPTS: u32 = 5;

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
            "the card is issued as {}, not {kind}; a card's kind cannot change",
            before.kind
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

/// What the import writes for one person of the file.
struct PersonPlan {
    before: Option<PersonRecord>,
    after: PersonRecord,
    vetting: Option<VettingRecord>,
    cards: Vec<CardStep>,
}

/// Everything the import writes, decided from plain reads.
struct Plan {
    /// The policy version the reads saw.
    version: i64,
    people: Vec<PersonPlan>,
    summary: ImportSummary,
}

/// A plan, or the lines the database refuses (cards of other holders).
type Planned = Result<Plan, Vec<LineError>>;

impl Store {
    /// Applies a checked file as `actor` in one transaction: the summary, or the lines
    /// whose cards other holders have (then nothing is changed).
    #[tracing::instrument(skip_all)]
    pub async fn apply_import(
        &self,
        parsed: &Parsed,
        actor: &Actor,
        progress: &dyn Progress,
    ) -> Result<Result<ImportSummary, Vec<LineError>>, StoreError> {
        let mut busy = None;
        for _ in 0..PLAN_ATTEMPTS {
            let started = std::time::Instant::now();
            let plan = self.plan_import(parsed, actor).await?;
            tracing::info!(
                took_ms = started.elapsed().as_millis() as u64,
                "import planned"
            );
            let plan = match plan {
                Ok(plan) => plan,
                Err(errors) => return Ok(Err(errors)),
            };
            progress.start("applying", plan.people.len() as u64);
            match self.write_import(plan, actor, progress).await {
                Ok(Some(summary)) => return Ok(Ok(summary)),
                Ok(None) => {}
                // A deadlock with a writer that committed meanwhile (PostgreSQL): plan
                // again against what it wrote.
                Err(StoreError::Busy(error)) => {
                    tracing::info!(%error, "the import met another writer; planning again");
                    busy = Some(StoreError::Busy(error));
                    continue;
                }
                Err(error) => return Err(error),
            }
            tracing::info!("people or cards changed while the import was planned; planning again");
            busy = None;
        }
        Err(busy.unwrap_or(StoreError::Rejected(
            "people and cards kept changing during the import; try again",
        )))
    }

    /// The plan for `parsed`, from reads without a lock.
    #[tracing::instrument(skip_all)]
    async fn plan_import(&self, parsed: &Parsed, actor: &Actor) -> Result<Planned, StoreError> {
        let version = self.policy_version().await?;
        let mut existing: HashMap<String, PersonRecord> = HashMap::new();
        let mut live: HashMap<String, CredentialRecord> = HashMap::new();
        for chunk in parsed.people.chunks(BATCH) {
            let ids = chunk.iter().map(|p| p.external_id.as_str());
            for person in self.people_by_external_id(ids).await? {
                if let Some(key) = person.external_id.clone() {
                    existing.insert(key, person);
                }
            }
            let cards = chunk
                .iter()
                .flat_map(|p| p.cards.iter().map(|c| c.card.as_str()));
            for credential in self.live_credentials(cards.collect()).await? {
                live.insert(credential.card.clone(), credential);
            }
        }
        let mut plan = Plan {
            version,
            people: Vec::with_capacity(parsed.people.len()),
            summary: ImportSummary::default(),
        };
        let mut changed_lines = HashSet::new();
        let mut errors = Vec::new();
        for person in &parsed.people {
            let before = existing.remove(&person.external_id);
            let after = imported(person, before.as_ref());
            match &before {
                None => plan.summary.people_created += 1,
                Some(before) if *before != after => plan.summary.people_updated += 1,
                Some(_) => {}
            }
            if before.as_ref() != Some(&after) {
                changed_lines.insert(person.line);
            }
            let vetting = vetting_change(person, after.vetting.as_ref(), after.id, actor);
            if vetting.is_some() {
                plan.summary.vetting_recorded += 1;
                changed_lines.insert(person.line);
            }
            let mut cards = Vec::new();
            for card in &person.cards {
                match card_step(card, after.id, live.remove(&card.card)) {
                    CardStep::Refuse(error) => errors.push(error),
                    CardStep::Keep => {}
                    step => {
                        match step {
                            CardStep::Issue(_) => plan.summary.credentials_created += 1,
                            _ => plan.summary.credentials_updated += 1,
                        }
                        changed_lines.insert(card.line);
                        cards.push(step);
                    }
                }
            }
            plan.people.push(PersonPlan {
                before,
                after,
                vetting,
                cards,
            });
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.line);
            return Ok(Err(errors));
        }
        plan.summary.unchanged_rows = parsed.rows.saturating_sub(changed_lines.len() as u64);
        Ok(Ok(plan))
    }

    /// The people (with vetting and groups) whose `external_id` is one of `ids`.
    async fn people_by_external_id<'a>(
        &self,
        ids: impl Iterator<Item = &'a str>,
    ) -> Result<Vec<PersonRecord>, StoreError> {
        let (rows, members) = on!(self.read().await?, |mut tx| {
            let mut query = sqlx::QueryBuilder::new(select_person!("WHERE p.external_id IN ("));
            let mut list = query.separated(", ");
            for id in ids {
                list.push_bind(id);
            }
            query.push(")");
            let rows: Vec<PersonRow> = query.build_query_as().fetch_all(&mut *tx).await?;
            let mut query = sqlx::QueryBuilder::new(
                "SELECT person_id, group_id FROM group_members WHERE person_id IN (NULL",
            );
            for row in &rows {
                query.push(", ").push_bind(row.id);
            }
            query.push(") ORDER BY group_id");
            let members: Vec<(Uuid, Uuid)> = query.build_query_as().fetch_all(&mut *tx).await?;
            tx.commit().await?;
            (rows, members)
        });
        Ok(attach_groups(rows, members)?)
    }

    /// The live (not revoked) credentials of `cards`.
    async fn live_credentials(
        &self,
        cards: Vec<&str>,
    ) -> Result<Vec<CredentialRecord>, StoreError> {
        if cards.is_empty() {
            return Ok(Vec::new());
        }
        let rows = on!(self.pool(), |pool| {
            let mut query = sqlx::QueryBuilder::new(select_credential!(
                "WHERE state <> 'revoked' AND card IN ("
            ));
            let mut list = query.separated(", ");
            for card in cards {
                list.push_bind(card);
            }
            query.push(")");
            let rows: Vec<CredentialRow> = query.build_query_as().fetch_all(pool).await?;
            rows
        });
        Ok(rows
            .iter()
            .map(CredentialRow::record)
            .collect::<Result<_, _>>()?)
    }

    /// Writes `plan` in one transaction, when the policy version is still the plan's:
    /// the summary, or `None` (nothing written) when people or cards changed since.
    #[tracing::instrument(skip_all)]
    async fn write_import(
        &self,
        plan: Plan,
        actor: &Actor,
        progress: &dyn Progress,
    ) -> Result<Option<ImportSummary>, StoreError> {
        let Plan {
            version,
            people,
            mut summary,
        } = plan;
        let mut tx = self.write().await?;
        let read_version = match tx.kind() {
            DatabaseKind::Postgres => "SELECT version FROM policy_state WHERE id = 1 FOR UPDATE",
            DatabaseKind::Sqlite => "SELECT version FROM policy_state WHERE id = 1",
        };
        // Measured from the moment the write lock is held (IMMEDIATE on SQLite).
        let locked = std::time::Instant::now();
        // SQLite's IMMEDIATE transaction already excludes other writers; on PostgreSQL
        // the row lock makes a change committed since the plan (or one committing now)
        // visible here, so the plan is redone rather than written over it.
        let now_version = on!(tx.db(), |c| {
            sqlx::query_scalar::<_, i64>(read_version)
                .fetch_one(c)
                .await?
        });
        if now_version != version {
            on!(tx, |tx| tx.rollback().await?);
            return Ok(None);
        }
        let mut chained = Vec::new();
        for chunk in people.chunks(BATCH) {
            let log = log_rows(chunk, actor);
            let new: Vec<_> = chunk
                .iter()
                .filter(|p| p.before.is_none())
                .map(|p| &p.after)
                .collect();
            tx.db().insert_people(&new).await?;
            for p in chunk {
                if p.before.as_ref().is_some_and(|before| *before != p.after) {
                    tx.db().update_person_row(&p.after).await?;
                }
            }
            let vetting: Vec<_> = chunk.iter().filter_map(|p| p.vetting.as_ref()).collect();
            tx.db().insert_vetting(&vetting).await?;
            let issued: Vec<_> = chunk
                .iter()
                .flat_map(|p| &p.cards)
                .filter_map(|step| match step {
                    CardStep::Issue(credential) => Some((credential, None)),
                    _ => None,
                })
                .collect();
            tx.db().insert_credentials(&issued).await?;
            for step in chunk.iter().flat_map(|p| &p.cards) {
                if let CardStep::Update(_, after) = step {
                    on!(tx.db(), |c| {
                        sqlx::query(
                            "UPDATE credentials SET valid_from = $2, valid_until = $3, \
                             updated_at = $4 WHERE id = $1",
                        )
                        .bind(after.id)
                        .bind(after.valid_from)
                        .bind(after.valid_until)
                        .bind(after.updated_at)
                        .execute(c)
                        .await?;
                    });
                }
            }
            chained.extend(log.iter().map(|e| (Source::Operator, e.id, e.digest())));
            tx.db().insert_logs(&log).await?;
            progress.advance(chunk.len() as u64);
        }
        if summary.changed() {
            tx.db().bump_policy_version().await?;
        }
        summary.policy_version = tx.db().policy_version().await?;
        // The chain last, so that PostgreSQL holds its head row only for this.
        tx.db().chain_records(&chained).await?;
        if summary.changed() {
            let entry = NewLogEntry::new(
                actor,
                "person.import",
                "import",
                Uuid::now_v7(),
                None,
                Some(&summary),
            );
            tx.db().insert_log(&entry).await?;
        }
        tx.commit().await?;
        let held_ms = locked.elapsed().as_millis() as u64;
        tracing::info!(
            held_ms,
            people = people.len(),
            "import written in one transaction"
        );
        Ok(Some(summary))
    }
}

/// The operator-log entries of `people`'s changes, in the order they are made: each
/// person's own change, their vetting, then their cards.
fn log_rows(people: &[PersonPlan], actor: &Actor) -> Vec<OperatorRow> {
    let mut log = Vec::new();
    for p in people {
        let id = p.after.id;
        match &p.before {
            None => log.push(NewLogEntry::new(
                actor,
                "person.create",
                "person",
                id,
                None,
                Some(&p.after),
            )),
            Some(before) if *before != p.after => log.push(NewLogEntry::new(
                actor,
                "person.update",
                "person",
                id,
                Some(before),
                Some(&p.after),
            )),
            Some(_) => {}
        }
        if let Some(record) = &p.vetting {
            log.push(NewLogEntry::new(
                actor,
                "person.vetting",
                "person",
                id,
                p.after.vetting.as_ref(),
                Some(record),
            ));
        }
        for step in &p.cards {
            match step {
                CardStep::Issue(c) => log.push(NewLogEntry::new(
                    actor,
                    "credential.create",
                    "credential",
                    c.id,
                    None,
                    Some(c),
                )),
                CardStep::Update(before, after) => log.push(NewLogEntry::new(
                    actor,
                    "credential.update",
                    "credential",
                    after.id,
                    Some(before),
                    Some(after),
                )),
                CardStep::Keep | CardStep::Refuse(_) => {}
            }
        }
    }
    log
}
