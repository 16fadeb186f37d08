//! Alarms found in an upload, inside the ingesting transaction (`Store::ingest_events`
//! makes one call, [`Db::raise_ingest_alarms`], before it chains what it wrote):
//!
//! * each newly stored door incident that is an alarm (forced or held open, lock fault,
//!   stale policy, full journal, clock offset), and each presentation that raised one
//!   (duress, PIN lock-out, anti-passback), gets an `event_alarms` row pointing at it;
//! * `repeated_denials` ([`DenialRule`]): when a newly stored denial of a card is one of
//!   `count` denials of that card within `window_s` (by `occurred_at`, both ends
//!   included, at any doors; a late upload counts with the denials around it), an alarm
//!   is raised, at most one per card within `window_s` (by the server's clock).
//!   The transaction takes the audit chain head first, so concurrent uploads of the same
//!   card's denials are counted one after the other and raise it once.
//!
//! Uploads with neither cost no query.

use super::{AlarmKind, DenialRule};
use crate::audit::records::Source;
use crate::store::audit::ChainItem;
use crate::store::people_common::MAX_BINDS;
use crate::store::stored_time::StoredTime;
use crate::store::{Db, StoreError, UploadRecord, now, on};
use chrono::{DateTime, SubsecRound, Utc};
use gatehouse_core::decide::{Alarm, Outcome};
use gatehouse_core::event::EventKind;
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

/// Cards whose denials one statement reads: each adds an `OR` to its condition, and
/// SQLite refuses an expression more than 1,000 deep (an upload of 1,000 different
/// denied cards failed).
const CARDS_PER_STATEMENT: usize = 250;
const _: () = assert!(CARDS_PER_STATEMENT * 3 <= MAX_BINDS);

/// The alarm kinds a door event is (`event_alarms` stores their names).
fn door_alarm_kinds(kind: &EventKind) -> Vec<AlarmKind> {
    match kind {
        EventKind::ForcedOpen => vec![AlarmKind::ForcedOpen],
        EventKind::HeldOpen => vec![AlarmKind::HeldOpen],
        EventKind::LockFault { .. } => vec![AlarmKind::LockFault],
        EventKind::Tamper => vec![AlarmKind::Tamper],
        EventKind::PolicyStale => vec![AlarmKind::PolicyStale],
        EventKind::JournalFull => vec![AlarmKind::JournalFull],
        EventKind::ClockOffset { .. } => vec![AlarmKind::ClockOffset],
        EventKind::Presentation(p) => {
            let mut kinds: Vec<AlarmKind> = Vec::new();
            for alarm in &p.alarms {
                let kind = match alarm {
                    Alarm::Duress => AlarmKind::Duress,
                    Alarm::PinLockout => AlarmKind::PinLockout,
                    Alarm::AntiPassbackViolation => AlarmKind::AntiPassbackViolation,
                    Alarm::CredentialNotAuthentic => AlarmKind::CredentialNotAuthentic,
                };
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            kinds
        }
        _ => Vec::new(),
    }
}

/// Each card denied in the upload, with the first and last time (as stored).
fn denied_cards(records: &[UploadRecord]) -> BTreeMap<&str, (DateTime<Utc>, DateTime<Utc>)> {
    let mut cards: BTreeMap<&str, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for record in records {
        if let EventKind::Presentation(p) = &record.event.kind
            && p.outcome == Outcome::Denied
        {
            let at = record.event.occurred_at.trunc_subsecs(6);
            let span = cards.entry(p.card.as_str()).or_insert((at, at));
            span.0 = span.0.min(at);
            span.1 = span.1.max(at);
        }
    }
    cards
}

/// A stored denial: the event, when, at which door (a struct, not a tuple alias: the
/// stored-time guard reads a tuple alias of times as a direct decode).
#[derive(Debug, Clone, Copy)]
struct Denial {
    id: Uuid,
    at: DateTime<Utc>,
    door: Option<Uuid>,
}

/// The fullest window that holds a newly stored denial, when it reaches the rule's
/// count: (count, the door and time of the denial that ends it). A late upload can fill
/// a window that ends at a denial stored before, so every window end is tried.
/// `denials` are sorted by time and cover every window holding a new one.
fn window_reached(
    denials: &[Denial],
    stored: &HashSet<Uuid>,
    rule: DenialRule,
) -> Option<(usize, Option<Uuid>, DateTime<Utc>)> {
    let needed = usize::try_from(rule.count).unwrap_or(usize::MAX);
    // new_before[i]: how many of denials[..i] this upload stored.
    let mut new_before = Vec::with_capacity(denials.len() + 1);
    new_before.push(0usize);
    for denial in denials {
        let last = new_before.last().copied().unwrap_or(0);
        new_before.push(last + usize::from(stored.contains(&denial.id)));
    }
    let mut best: Option<(usize, Option<Uuid>, DateTime<Utc>)> = None;
    for &Denial { at, door, .. } in denials {
        let start = rule.window_before(at);
        let first = denials.partition_point(|d| d.at < start);
        let end = denials.partition_point(|d| d.at <= at);
        let count = end.saturating_sub(first);
        let holds_new = new_before.get(end) > new_before.get(first);
        if holds_new && count >= needed && best.is_none_or(|(c, _, _)| count > c) {
            best = Some((count, door, at));
        }
    }
    best
}

impl Db<'_> {
    /// Finds the alarms of an upload whose stored records are the events in `chained`,
    /// and appends the alarms it raises to `chained`.
    pub(crate) async fn raise_ingest_alarms(
        self,
        chained: &mut Vec<ChainItem>,
        agent_id: Uuid,
        records: &[UploadRecord],
    ) -> Result<(), StoreError> {
        on!(self, |c| {
            let stored: HashSet<Uuid> = chained
                .iter()
                .filter(|(source, _, _)| *source == Source::Event)
                .map(|(_, id, _)| *id)
                .collect();
            if stored.is_empty() {
                return Ok(());
            }
            let mut pointed = HashSet::new();
            for record in records {
                let kinds = door_alarm_kinds(&record.event.kind);
                let Ok(seq) = i64::try_from(record.seq) else {
                    continue;
                };
                if kinds.is_empty() {
                    continue;
                }
                let event_id = Db::from(&mut *c).event_id(agent_id, seq).await?;
                // Only events this upload stored: a duplicate was seen before.
                let Some(event_id) = event_id.filter(|id| stored.contains(id)) else {
                    continue;
                };
                if !pointed.insert(event_id) {
                    continue;
                }
                for kind in kinds {
                    sqlx::query(
                        "INSERT INTO event_alarms (id, event_id, kind) VALUES ($1, $2, $3)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(event_id)
                    .bind(kind.as_ref())
                    .execute(&mut *c)
                    .await?;
                }
            }

            let cards = denied_cards(records);
            if cards.is_empty() {
                return Ok(());
            }
            let rule: Option<(i64, i64)> = sqlx::query_as(
                "SELECT repeated_denials, repeated_denials_window_s FROM alarm_settings \
                 WHERE id = 1",
            )
            .fetch_optional(&mut *c)
            .await?;
            let rule = rule.map_or_else(DenialRule::default, super::raise::rule_from);
            // Uploads counting denials take turns from here (the chain head's row
            // lock on PostgreSQL; SQLite's write lock is held already), so each sees
            // the others' denials and alarms.
            sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
                .execute(&mut *c)
                .await?;
            // Every denied card's denials around its own span, read together (one
            // statement per few hundred cards, not one per card), by card then time.
            let spans: Vec<(&str, DateTime<Utc>, DateTime<Utc>)> = cards
                .iter()
                .map(|(card, (first, last))| {
                    let end = last
                        .checked_add_signed(rule.window())
                        .unwrap_or(DateTime::<Utc>::MAX_UTC);
                    (*card, rule.window_before(*first), end)
                })
                .collect();
            let mut by_card: BTreeMap<String, Vec<Denial>> = BTreeMap::new();
            for chunk in spans.chunks(CARDS_PER_STATEMENT) {
                let mut query = sqlx::QueryBuilder::new(
                    "SELECT card, id, occurred_at, door_id FROM access_events \
                     WHERE outcome = 'denied' AND (",
                );
                for (i, (card, start, end)) in chunk.iter().enumerate() {
                    if i > 0 {
                        query.push(" OR ");
                    }
                    query
                        .push("(card = ")
                        .push_bind(*card)
                        .push(" AND occurred_at >= ")
                        .push_bind(*start)
                        .push(" AND occurred_at <= ")
                        .push_bind(*end)
                        .push(")");
                }
                query.push(") ORDER BY card, occurred_at, id");
                let rows = query
                    .build_query_as::<(String, Uuid, StoredTime, Option<Uuid>)>()
                    .fetch_all(&mut *c)
                    .await?;
                for (card, id, at, door) in rows {
                    by_card.entry(card).or_default().push(Denial {
                        id,
                        at: DateTime::from(at),
                        door,
                    });
                }
            }
            for card in cards.keys() {
                let Some(denials) = by_card.get(*card) else {
                    continue;
                };
                let Some((count, door, at)) = window_reached(denials, &stored, rule) else {
                    continue;
                };
                let prefix = format!("card {card} ");
                let recent = sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM agent_alarms WHERE kind = 'repeated_denials' \
                     AND at >= $1 AND substr(detail, 1, $2) = $3",
                )
                .bind(rule.window_before(now()))
                .bind(i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX))
                .bind(&prefix)
                .fetch_one(&mut *c)
                .await?;
                if recent > 0 {
                    continue;
                }
                let door =
                    door.map_or_else(|| "an unknown door".to_owned(), |d| format!("door {d}"));
                let detail = format!(
                    "{prefix}was denied {count} times within {} s, the last at {door} at {}",
                    rule.window_s,
                    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                );
                let entry = Db::from(&mut *c)
                    .insert_agent_alarm(agent_id, AlarmKind::RepeatedDenials, detail)
                    .await?;
                chained.push(entry);
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap_or_default()
    }

    #[test]
    fn the_window_counts_both_ends_and_must_hold_a_new_denial() {
        let rule = DenialRule {
            count: 3,
            window_s: 10,
        };
        let ids: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
        let denials: Vec<Denial> = [(0, 0), (1, 5), (2, 10), (3, 21)]
            .map(|(i, s)| Denial {
                id: ids[i],
                at: at(s),
                door: None,
            })
            .into();
        let all: HashSet<Uuid> = ids.iter().copied().collect();
        assert_eq!(window_reached(&denials, &all, rule).map(|r| r.0), Some(3));
        // Only the last is new: the 10 s up to it hold just itself.
        let last: HashSet<Uuid> = HashSet::from([ids[3]]);
        assert_eq!(window_reached(&denials, &last, rule), None);
        // The third is new: 0, 5 and 10 are within 10 s of it (both ends).
        let third: HashSet<Uuid> = HashSet::from([ids[2]]);
        assert_eq!(
            window_reached(&denials, &third, rule),
            Some((3, None, at(10)))
        );
        // The first arrives late: it fills the window ending at the third.
        let first: HashSet<Uuid> = HashSet::from([ids[0]]);
        assert_eq!(
            window_reached(&denials, &first, rule),
            Some((3, None, at(10)))
        );
        let four = DenialRule { count: 4, ..rule };
        assert_eq!(window_reached(&denials, &all, four), None);
    }
}
