//! Applying a checked HR file ([`crate::import`]), all or nothing: people matched by
//! `external_id`, created or updated; a vetting record appended only when it differs
//! from the current one; cards issued or their validity updated. What does not differ is
//! not written, so a second run of the same file changes nothing: no record, no log
//! entry, no policy version. A card that another holder has makes the whole import fail
//! with that line's error (all such lines are reported) before anything is written.
//!
//! # Holding the write lock briefly
//!
//! SQLite has one write lock for the whole database, and every login, upload and
//! checkpoint needs it; on PostgreSQL every audited writer needs the audit chain's head
//! row. So the work is split: first a **plan** is made from plain reads (no lock): who
//! exists, which cards are live, what each row changes, and every line error. Then the
//! plan is written as an import batch (`store/import_batch.rs`): the new rows in
//! transactions of [`CHUNK`] people that commit on their own but stay invisible to every
//! reader, then one short transaction publishes them all, with the changes to existing
//! people and cards, the policy version and one audit-chain entry for the whole batch.
//! A failed attempt is swept, never published. When the plan changes existing people or
//! cards and the policy version (which every change to people, vetting and credentials
//! bumps) moved meanwhile, or another writer took one of the plan's new cards or
//! external ids, the attempt is swept and the plan made again.

use super::credentials::{CredentialRow, select_credential};
use super::import_batch::{Chunk, NotPublished, Publish};
use super::operator_log::{Actor, NewLogEntry};
use super::people::{PersonRecord, PersonRow, attach_groups, select_person};
use super::vetting::{NewVetting, VettingRecord};
use super::{CredentialRecord, Store, StoreError, now, on};
use crate::audit::records::OperatorRow;
use crate::import::{ImportCard, ImportPerson, ImportSummary, LineError, Parsed, Progress};
use crate::store::DatabaseKind;
use gatehouse_core::model::{CredentialState, PersonStatus};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Keys looked up per statement while planning.
const BATCH: usize = 500;
/// People written per chunk transaction: a few thousand rows, some tens of milliseconds.
const CHUNK: usize = 1_000;
/// The least pause between two chunks on SQLite (see [`Store::write_import`]).
const MIN_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);
/// A batch not written for this long lost its writer: the next import sweeps it.
pub const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(60);
/// Plans made before giving up when other writers keep changing people or cards.
const PLAN_ATTEMPTS: u32 = 5;

/// A person as the file describes them, over what is stored (`None`: a new person);
/// `groups` are the ids of the file's `groups` column, when it names any.
fn imported(
    person: &ImportPerson,
    before: Option<&PersonRecord>,
    groups: Option<Vec<Uuid>>,
) -> PersonRecord {
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
        group_ids: groups.unwrap_or_else(|| base.group_ids.clone()),
        ..base
    }
}

/// The ids of the groups `person`'s row names (sorted, as stored records list them), or
/// an error naming each group that does not exist.
fn group_ids(
    person: &ImportPerson,
    groups: &HashMap<String, Uuid>,
) -> Result<Option<Vec<Uuid>>, LineError> {
    let Some(names) = &person.groups else {
        return Ok(None);
    };
    let unknown: Vec<&str> = names
        .iter()
        .filter(|n| !groups.contains_key(n.as_str()))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        let message = format!(
            "no group is named {}; create it first (names are matched exactly)",
            unknown
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Err(LineError::new(person.line, "groups", message));
    }
    let mut ids: Vec<Uuid> = names
        .iter()
        .filter_map(|n| groups.get(n).copied())
        .collect();
    ids.sort();
    Ok(Some(ids))
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
    /// Applies a checked file as `actor`, all or nothing: the summary, or the lines
    /// whose cards other holders have (then nothing is changed).
    #[tracing::instrument(skip_all)]
    pub async fn apply_import(
        &self,
        parsed: &Parsed,
        actor: &Actor,
        progress: &dyn Progress,
    ) -> Result<Result<ImportSummary, Vec<LineError>>, StoreError> {
        // Batches of imports whose server died hold their keys (cards, external ids).
        let silent = chrono::Duration::from_std(ABANDONED_AFTER).unwrap_or_default();
        self.sweep_abandoned_imports(Some(now() - silent)).await?;
        let mut retry = None;
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
            let batch = Uuid::now_v7();
            let written = self.write_import(batch, plan, actor, progress).await;
            if !matches!(written, Ok(Some(_))) {
                // Nothing of it was published; its rows go before anything else happens.
                if let Err(error) = self.sweep_import(batch).await {
                    tracing::error!(%batch, %error, "cannot sweep a failed import yet");
                }
            }
            match written {
                Ok(Some(summary)) => return Ok(Ok(summary)),
                Ok(None) => {
                    tracing::info!("people or cards changed during the import; planning again");
                    retry = None;
                }
                // A writer took a card or external id the plan gave out, or a deadlock
                // with one (PostgreSQL): plan again against what it wrote.
                Err(error @ (StoreError::Busy(_) | StoreError::Conflict { .. })) => {
                    tracing::info!(%error, "the import met another writer; planning again");
                    retry = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(match retry {
            Some(StoreError::Busy(error)) => StoreError::Busy(error),
            _ => {
                StoreError::Rejected("people and cards kept changing during the import; try again")
            }
        })
    }

    /// The plan for `parsed`, from reads without a lock.
    #[tracing::instrument(skip_all)]
    async fn plan_import(&self, parsed: &Parsed, actor: &Actor) -> Result<Planned, StoreError> {
        let version = self.policy_version().await?;
        let groups = self.group_names().await?;
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
        for (n, person) in parsed.people.iter().enumerate() {
            // Seconds of CPU at a million people: give the runtime's thread back now and
            // then, or the requests waiting on it (logins, uploads) wait that long.
            if n % BATCH == 0 {
                tokio::task::yield_now().await;
            }
            let before = existing.remove(&person.external_id);
            let ids = match group_ids(person, &groups) {
                Ok(ids) => ids,
                Err(error) => {
                    errors.push(error);
                    None
                }
            };
            let after = imported(person, before.as_ref(), ids);
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

    /// Every group's id by name (the `groups` column names them).
    async fn group_names(&self) -> Result<HashMap<String, Uuid>, StoreError> {
        let rows: Vec<(String, Uuid)> = on!(self.pool(), |pool| {
            sqlx::query_as("SELECT name, id FROM person_groups")
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().collect())
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

    /// Writes `plan` as batch `batch`: its rows in short transactions that commit on
    /// their own but stay invisible, then one short transaction that publishes them
    /// (see `store/import_batch.rs`). The summary, or `None` when existing people or
    /// cards the plan changes changed since it was made (then nothing is published and
    /// the caller sweeps the batch).
    #[tracing::instrument(skip_all, fields(%batch))]
    async fn write_import(
        &self,
        batch: Uuid,
        plan: Plan,
        actor: &Actor,
        progress: &dyn Progress,
    ) -> Result<Option<ImportSummary>, StoreError> {
        let Plan {
            version,
            people,
            mut summary,
        } = plan;
        if !summary.changed() {
            summary.policy_version = self.policy_version().await?;
            return Ok(Some(summary));
        }
        let started = std::time::Instant::now();
        self.begin_import(batch).await?;
        let (mut members, mut pos) = (crate::audit::GENESIS, 0_i64);
        let mut held = std::time::Duration::ZERO;
        for chunk in people.chunks(CHUNK) {
            let log = log_rows(chunk, actor);
            let digests: Vec<[u8; 32]> = log.iter().map(OperatorRow::digest).collect();
            for (entry, digest) in log.iter().zip(&digests) {
                pos += 1;
                members = crate::audit::member_hash(&members, pos, entry.id, digest);
            }
            let first_pos = pos - log.len() as i64 + 1;
            let chunk_rows = Chunk {
                people: chunk
                    .iter()
                    .filter(|p| p.before.is_none())
                    .map(|p| &p.after)
                    .collect(),
                vetting: chunk.iter().filter_map(|p| p.vetting.as_ref()).collect(),
                credentials: chunk
                    .iter()
                    .flat_map(|p| &p.cards)
                    .filter_map(|step| match step {
                        CardStep::Issue(credential) => Some((credential, None)),
                        _ => None,
                    })
                    .collect(),
                log,
                digests,
                first_pos,
            };
            let took = self.write_import_chunk(batch, &chunk_rows).await?;
            held += took;
            progress.advance(chunk.len() as u64);
            if self.kind() == DatabaseKind::Sqlite {
                // Leave the one write lock free at least as long as it was held, so that
                // logins and uploads waiting in SQLite's busy handler find it free.
                tokio::time::sleep(took.max(MIN_PAUSE)).await;
            }
        }
        // The plan's changes to rows that already exist, written when it is published.
        let changes_existing = people.iter().any(|p| {
            p.before.is_some() && (p.before.as_ref() != Some(&p.after) || p.vetting.is_some())
                || p.cards.iter().any(|c| matches!(c, CardStep::Update(..)))
        });
        let mut entry = NewLogEntry::new(
            actor,
            "person.import",
            "import",
            batch,
            None,
            Some(&summary),
        );
        // The summary entry is the batch's chain entry: its id names the batch.
        entry.id = batch;
        let publish = Publish {
            expect_version: changes_existing.then_some(version),
            people: people
                .iter()
                .filter(|p| p.before.as_ref().is_some_and(|before| *before != p.after))
                .map(|p| &p.after)
                .collect(),
            credentials: people
                .iter()
                .flat_map(|p| &p.cards)
                .filter_map(|step| match step {
                    CardStep::Update(_, after) => Some(after),
                    _ => None,
                })
                .collect(),
            memberships: people
                .iter()
                .filter(|p| {
                    let before = p.before.as_ref().map_or(&[][..], |b| &b.group_ids[..]);
                    before != p.after.group_ids.as_slice()
                })
                .map(|p| (p.after.id, p.after.group_ids.as_slice()))
                .collect(),
            bump_policy: true,
            entry,
            members: (members, pos),
        };
        match self.publish_import(batch, publish).await? {
            Ok(version) => summary.policy_version = version,
            Err(NotPublished::Changed) => return Ok(None),
            Err(NotPublished::Swept) => {
                return Err(StoreError::Rejected(
                    "the import was taken for abandoned and removed; nothing was imported",
                ));
            }
        }
        tracing::info!(
            took_ms = started.elapsed().as_millis() as u64,
            held_ms = held.as_millis() as u64,
            people = people.len(),
            "import written in chunks and published"
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
