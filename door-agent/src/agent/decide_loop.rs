//! Card events to decisions: map the reader to its door and direction, decide from the
//! policy in use, journal the presentation durably, and only then tell the door to
//! release. A stale policy denies every entry (exits are decided as usual); no policy
//! at all denies everything. Both refusals carry reason `policy_stale` (see [`verdict`]).
//! Changes from the server's presence feed are merged into the engine state between
//! cards; while that feed is unconfirmed, hard anti-passback is applied as soft.
//!
//! Card + PIN: a card the engine refuses only for want of a PIN (`pin_required`), at a
//! reader with a keypad, is not recorded yet: it waits in [`PinEntries`] for its PIN
//! (the loop goes on deciding other cards meanwhile) and is decided again with it, or
//! without it once `keypad.pin_timeout_s` is up (then refused `pin_required`). The PIN
//! goes to the engine only: it is in no log, event or status.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gatehouse_core::decide::{
    Check, Decision, Direction, EngineState, Outcome, Presentation, Reason, Release, TraceStep,
    decide,
};
use gatehouse_core::event::{DoorEvent, EventKind, PresentationRecord, ReleasedEntryRecord};
use gatehouse_core::protocol::FedPresence;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::doors::send;
use super::journal_cell::JournalCell;
use super::status::StatusState;
use crate::door::{Input, InputSink};
use crate::reader::keypad::Pin;
use crate::reader::keypad::entry::{PinEntries, PinEntryConfig};
use crate::reader::{CardEvent, ReaderEvent, ReaderMap};

/// The outcome and reason recorded for a presentation. `decision` is the engine's
/// answer on the policy in use (`None`: no policy at all); `refuse_entry` says the
/// policy is stale and the presentation is an entry.
///
/// Whatever the engine would have let through (granted, or pending an escort or a second
/// person, which a later badge could complete) is refused with `policy_stale` when the
/// policy is stale, and everything is refused with it without a policy: the agent cannot
/// vouch for a grant. A denial the engine finds on its own keeps its own reason (an
/// unknown card stays `unknown_credential`), as it would have been refused either way.
pub fn verdict(decision: Option<&Decision>, refuse_entry: bool) -> (Outcome, Reason) {
    match decision {
        None => (Outcome::Denied, Reason::PolicyStale),
        Some(d) if refuse_entry && d.outcome != Outcome::Denied => {
            (Outcome::Denied, Reason::PolicyStale)
        }
        Some(d) => (d.outcome, d.reason),
    }
}

/// The trace journalled with a presentation: the engine's, and when [`verdict`] refused
/// what the engine did not (stale policy) or there was no policy at all, a failed
/// `policy` step saying so, so that the trace ends with the step that decided.
pub fn recorded_trace(decision: Option<&Decision>, refuse_entry: bool) -> Vec<TraceStep> {
    let refused = |detail: &'static str| TraceStep {
        check: Check::Policy,
        passed: false,
        detail: detail.into(),
    };
    match decision {
        None => vec![refused(
            "the agent has no policy: every presentation is refused",
        )],
        Some(d) if refuse_entry && d.outcome != Outcome::Denied => {
            let mut trace = d.trace.clone();
            trace.push(refused(
                "the agent's policy is older than agent.max_policy_age_s: entries are refused",
            ));
            trace
        }
        Some(d) => d.trace.clone(),
    }
}

/// What the decide loop works with.
pub struct DecideContext {
    /// Reader name → door and direction.
    pub readers: ReaderMap,
    /// Each door's input channel.
    pub doors: BTreeMap<Uuid, InputSink>,
    /// The journal.
    pub journal: Arc<JournalCell>,
    /// Status, and the policy in use.
    pub status: Arc<StatusState>,
    /// Whether `policy_stale` has been journalled for the current stale period.
    pub stale_raised: Arc<AtomicBool>,
    /// Whether `presence_unconfirmed` has been journalled for the current period.
    pub presence_raised: AtomicBool,
    /// Which readers take a PIN, and how long a card waits for it.
    pub pin_entry: PinEntryConfig,
}

impl DecideContext {
    /// Journals `event` on a blocking thread, returning its sequence number; errors are
    /// logged loudly (deciding goes on).
    async fn journal(&self, event: DoorEvent) -> Option<u64> {
        let journal = Arc::clone(&self.journal);
        let result = tokio::task::spawn_blocking(move || journal.append(&event)).await;
        match result {
            Ok(Ok(seq)) => Some(seq),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "EVENT NOT JOURNALLED");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "journal task failed");
                None
            }
        }
    }

    /// Journals the entry of the holder that `release` names, released by the
    /// presentation `by` (journalled at `at` as `by_seq`), if `by` let anyone in;
    /// returns whether nothing was left unrecorded.
    async fn journal_release(
        &self,
        by: &PresentationRecord,
        by_seq: u64,
        release: Release,
        door_id: Uuid,
        at: DateTime<Utc>,
    ) -> bool {
        let card = self.status.policy.current.borrow().as_ref().and_then(|p| {
            let credential = p.policy.credential(release.credential_id)?;
            Some(credential.card.to_string())
        });
        let Some(record) = ReleasedEntryRecord::of(by, by_seq, &release, card) else {
            return true;
        };
        tracing::info!(door = %door_id, released = %release.holder.id(),
            waited_for = release.reason.as_str(), "released entry");
        let event = DoorEvent {
            occurred_at: at,
            door_id: Some(door_id),
            kind: EventKind::ReleasedEntry(record),
        };
        self.journal(event).await.is_some()
    }

    /// Journals `policy_stale` once per stale period; returns whether the policy is stale.
    pub async fn check_stale(&self) -> bool {
        let stale = self.status.policy.is_stale(self.status.max_policy_age_s);
        if stale && !self.stale_raised.swap(true, Ordering::SeqCst) {
            tracing::error!(
                "policy_stale: the policy is older than agent.max_policy_age_s; denying every entry"
            );
            self.journal(DoorEvent {
                occurred_at: Utc::now(),
                door_id: None,
                kind: EventKind::PolicyStale,
            })
            .await;
        } else if !stale {
            self.stale_raised.store(false, Ordering::SeqCst);
        }
        stale
    }

    /// Journals `presence_unconfirmed` once per period without the server's presence
    /// feed; returns whether the feed is unconfirmed.
    pub async fn check_presence(&self) -> bool {
        let unconfirmed = self.status.presence.is_unconfirmed();
        if unconfirmed && !self.presence_raised.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                "presence_unconfirmed: no answer from the server's presence feed within \
                 agent.presence_max_age_s; hard anti-passback applies as soft"
            );
            self.journal(DoorEvent {
                occurred_at: Utc::now(),
                door_id: None,
                kind: EventKind::PresenceUnconfirmed,
            })
            .await;
        } else if !unconfirmed {
            self.presence_raised.store(false, Ordering::SeqCst);
        }
        unconfirmed
    }

    /// Decides `card` at once, without a PIN.
    #[cfg(test)]
    async fn on_card(&self, card: CardEvent, engine: &mut EngineState) {
        self.present(card, None, None, engine).await;
    }

    /// Decides `card` with `pin`, journals the decision and tells the door. With
    /// `entries` (a card just read, no PIN yet), a card the engine refuses only for want
    /// of a PIN at a reader with a keypad is held there instead, unrecorded; the card it
    /// displaces at that reader, if any, is returned, to be decided without its PIN.
    async fn present(
        &self,
        card: CardEvent,
        pin: Option<Pin>,
        entries: Option<&mut PinEntries>,
        engine: &mut EngineState,
    ) -> Option<CardEvent> {
        let Some(reader) = self.readers.get(&card.reader).cloned() else {
            tracing::warn!(reader = %card.reader, "card at a reader not in the configuration");
            self.journal(DoorEvent {
                occurred_at: Utc::now(),
                door_id: None,
                kind: EventKind::ReaderError {
                    reader: card.reader,
                    detail: "reader not in the agent's configuration".into(),
                },
            })
            .await;
            return None;
        };
        let stale = self.check_stale().await;
        engine.presence_unconfirmed = self.check_presence().await;
        let policy = self.status.policy.current.borrow().clone();
        let at = Utc::now();
        let presentation = Presentation {
            card: card.card.clone(),
            pin: pin.as_ref().map(|p| p.expose().to_owned()),
            door_id: reader.door_id,
            direction: reader.direction,
            at,
            authentication: card.proof.authentication(),
        };
        let deny_entry = stale && reader.direction == Direction::Entry;
        let (decision, version, unlock_ms) = match &policy {
            Some(p) => {
                let decision = if deny_entry {
                    // Decided on a scratch state: a refused entry must not count as presence.
                    let mut scratch = engine.clone();
                    decide(&p.policy, &presentation, &mut scratch)
                } else {
                    decide(&p.policy, &presentation, engine)
                };
                let unlock_ms = p.policy.door(reader.door_id).map(|d| d.unlock_ms);
                (Some(decision), p.version, unlock_ms)
            }
            None => (None, 0, None),
        };
        if let Some(entries) = entries
            && decision
                .as_ref()
                .is_some_and(|d| d.reason == Reason::PinRequired)
            && !deny_entry
            && entries.has_keypad(&card.reader)
        {
            // Rule 10 refuses a missing PIN before it counts anything, and the rules
            // before it only read the state: holding the card changed nothing.
            tracing::info!(reader = %card.reader, door = %reader.door_id, "waiting for the PIN");
            return entries.wait(card, Instant::now());
        }
        let (outcome, reason) = verdict(decision.as_ref(), deny_entry);
        let mut record = PresentationRecord {
            reader: card.reader.clone(),
            card: card.card.clone(),
            direction: reader.direction,
            outcome,
            reason,
            person_id: None,
            visit_id: None,
            credential_id: None,
            zone_id: None,
            alarms: vec![],
            policy_version: version,
            trace: Some(recorded_trace(decision.as_ref(), deny_entry)),
        };
        if let Some(d) = &decision {
            record.person_id = d.person_id;
            record.visit_id = d.visit_id;
            record.credential_id = d.credential_id;
            record.zone_id = d.zone_id;
            record.alarms = d.alarms.clone();
        }
        let granted = record.outcome == Outcome::Granted;
        let mut summary = json!({
            "at": at, "reader": record.reader, "door_id": reader.door_id,
            "direction": record.direction, "card": record.card,
            "outcome": record.outcome, "reason": record.reason,
            "person_id": record.person_id, "policy_version": version, "policy_stale": stale,
        });
        tracing::info!(reader = %record.reader, door = %reader.door_id,
            outcome = record.outcome.as_str(), reason = record.reason.as_str(), "decision");
        let released = decision.as_ref().and_then(|d| d.releases);
        let by = released.map(|_| record.clone());
        let event = DoorEvent {
            occurred_at: at,
            door_id: Some(reader.door_id),
            kind: EventKind::Presentation(record),
        };
        // Durable before the relay acts: an entry that cannot be recorded is not let in
        // (no unrecorded access); an exit still is (egress is never blocked). The holder
        // this entry releases (an escorted visitor, the first of a pair) goes in through
        // the same opening, so their entry is journalled before it too.
        let mut journalled = false;
        if let Some(seq) = self.journal(event).await {
            journalled = match (by, released) {
                (Some(by), Some(r)) => self.journal_release(&by, seq, r, reader.door_id, at).await,
                _ => true,
            };
        }
        let release = granted && (journalled || reader.direction == Direction::Exit);
        if granted && !release {
            tracing::error!(door = %reader.door_id, "ENTRY REFUSED: the grant could not be journalled");
        }
        note(&mut summary, "released", json!(release));
        note(
            &mut summary,
            "releases_holder",
            json!(released.map(|r| r.holder.id())),
        );
        if release {
            match (self.doors.get(&reader.door_id), unlock_ms) {
                (Some(sink), Some(ms)) => send(
                    sink,
                    Input::Grant {
                        unlock_for: Duration::from_millis(u64::from(ms)),
                    },
                ),
                _ => {
                    tracing::error!(door = %reader.door_id, "granted, but the door is not driven by this agent")
                }
            }
        }
        // From the card's detection to the event journalled and the relay commanded
        // (the UID exchange included), and the exchange alone: the agent's own latency.
        let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        note(
            &mut summary,
            "detected_to_done_us",
            json!(micros(card.at.elapsed())),
        );
        note(&mut summary, "exchange_us", json!(micros(card.exchange)));
        *self
            .status
            .last_decision
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(summary);
        None
    }

    /// A card just read: decided, or held for its PIN (a card it displaces is decided
    /// without one).
    async fn on_read(&self, card: CardEvent, entries: &mut PinEntries, engine: &mut EngineState) {
        if let Some(displaced) = self.present(card, None, Some(entries), engine).await {
            self.present(displaced, None, None, engine).await;
        }
    }
}

/// Sets `key` of a decision summary (always an object: `json!({...})`).
fn note(summary: &mut serde_json::Value, key: &str, value: serde_json::Value) {
    if let Some(fields) = summary.as_object_mut() {
        fields.insert(key.to_owned(), value);
    }
}

/// Runs until the reader channel closes or `stop` is cancelled; stops only between
/// events, so a decision in hand is journalled and sent to its door first.
pub async fn decide_loop(
    ctx: Arc<DecideContext>,
    mut events: mpsc::Receiver<ReaderEvent>,
    mut presence: mpsc::Receiver<Vec<FedPresence>>,
    stop: CancellationToken,
) {
    let mut engine = EngineState::default();
    let mut entries = PinEntries::new(ctx.pin_entry.clone());
    loop {
        let deadline = entries.next_deadline();
        let pin_due = tokio::time::sleep_until(
            deadline.map_or_else(tokio::time::Instant::now, tokio::time::Instant::from_std),
        );
        let event = tokio::select! {
            // What the server knows of who is where goes in before the next card.
            biased;
            () = stop.cancelled() => break,
            Some(changes) = presence.recv() => {
                for c in changes {
                    engine.learn_presence(c.holder_id, c.zone_id, c.since);
                }
                continue;
            }
            () = pin_due, if deadline.is_some() => {
                for card in entries.expired(Instant::now()) {
                    ctx.present(card, None, None, &mut engine).await;
                }
                continue;
            }
            event = events.recv() => event,
        };
        let Some(event) = event else { break };
        match event {
            ReaderEvent::Card(card) => ctx.on_read(card, &mut entries, &mut engine).await,
            ReaderEvent::Key { reader, key } => {
                if let Some((card, pin)) = entries.key(&reader, key, Instant::now()) {
                    ctx.present(card, Some(pin), None, &mut engine).await;
                }
            }
            ReaderEvent::ReadFailed { reader, kind, .. } => {
                tracing::warn!(reader = %reader, error = %kind, "read failed");
                ctx.journal(DoorEvent {
                    occurred_at: Utc::now(),
                    door_id: ctx.readers.get(&reader).map(|r| r.door_id),
                    kind: EventKind::ReaderError {
                        reader,
                        detail: kind.to_string(),
                    },
                })
                .await;
            }
            ReaderEvent::Attached { reader } => ctx.status.reader_attached(&reader, true),
            ReaderEvent::Detached { reader } => ctx.status.reader_attached(&reader, false),
            ReaderEvent::Removed { .. } => {}
        }
    }
    // A card still waiting for its PIN is refused for want of it, and recorded.
    for card in entries.drain() {
        ctx.present(card, None, None, &mut engine).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Instant;

    use chrono::{DateTime, Duration as Age};
    use gatehouse_core::decide::Alarm;
    use gatehouse_core::model::{
        AntiPassback, CardKind, Credential, CredentialState, Door, DoorMode, Grant, Holder, Person,
        PersonKind, PersonStatus, Site, Subject, Zone,
    };
    use gatehouse_core::policy::{PolicySource, generate_key, sign_at};

    use super::*;
    use crate::agent::policy_sync::PolicyState;
    use crate::agent::presence_sync::PresenceFeed;
    use crate::agent::presence_sync::tests::started_ago;
    use crate::door::TimedInput;
    use crate::reader::CardProof;
    use crate::reader::ReaderConfig;

    const SITE: Uuid = Uuid::from_u128(1);
    const LOBBY: Uuid = Uuid::from_u128(2);
    const OFFICE: Uuid = Uuid::from_u128(3);
    const DOOR: Uuid = Uuid::from_u128(4);
    const ADA: Uuid = Uuid::from_u128(5);
    const CARD: &str = "04A1B2C3";

    fn decision(outcome: Outcome, reason: Reason) -> Decision {
        Decision {
            outcome,
            reason,
            person_id: None,
            visit_id: None,
            credential_id: None,
            zone_id: None,
            trace: vec![TraceStep {
                check: Check::Credential,
                passed: reason != Reason::UnknownCredential,
                detail: "the engine's step".into(),
            }],
            alarms: vec![],
            releases: None,
        }
    }

    #[test]
    fn verdict_table() {
        use Outcome::{Denied, Pending};
        use Reason::{EscortRequired, PolicyStale, UnknownCredential};
        let granted = decision(Outcome::Granted, Reason::Granted);
        let pending = decision(Pending, EscortRequired);
        let unknown = decision(Denied, UnknownCredential);
        type Row<'a> = (&'a str, Option<&'a Decision>, bool, (Outcome, Reason));
        let rows: [Row; 7] = [
            ("no policy", None, false, (Denied, PolicyStale)),
            ("no policy, entry", None, true, (Denied, PolicyStale)),
            (
                "fresh grant",
                Some(&granted),
                false,
                (Outcome::Granted, Reason::Granted),
            ),
            ("stale grant", Some(&granted), true, (Denied, PolicyStale)),
            ("stale pending", Some(&pending), true, (Denied, PolicyStale)),
            (
                "fresh pending",
                Some(&pending),
                false,
                (Pending, EscortRequired),
            ),
            (
                "stale denial keeps its reason",
                Some(&unknown),
                true,
                (Denied, UnknownCredential),
            ),
        ];
        for (name, d, refuse_entry, expected) in rows {
            assert_eq!(verdict(d, refuse_entry), expected, "{name}");
            // The journalled trace ends with the step that decided: a failed `policy` step
            // exactly when the verdict is the agent's own `policy_stale`.
            let trace = recorded_trace(d, refuse_entry);
            let own =
                d.is_none_or(|d| d.reason != Reason::PolicyStale) && expected.1 == PolicyStale;
            let last = trace.last().map(|s| (s.check, s.passed));
            assert_eq!(last == Some((Check::Policy, false)), own, "{name}");
            let engine = d.map(|d| d.trace.clone()).unwrap_or_default();
            assert_eq!(
                trace[..engine.len()],
                engine[..],
                "{name}: the engine's steps first"
            );
        }
    }

    fn source() -> PolicySource {
        let zone = |id, parent, level| Zone {
            id,
            site_id: SITE,
            parent_id: parent,
            level,
            vetting_required: false,
            escort_required: false,
            two_person: false,
            pin_required: false,
            anti_passback: AntiPassback::Off,
            anti_passback_timeout_s: None,
            max_occupancy: None,
            min_assurance: Default::default(),
        };
        PolicySource {
            sites: vec![Site {
                id: SITE,
                name: "HQ".into(),
                timezone: "UTC".parse().unwrap(),
                threat: Default::default(),
                secure_cards_from_threat_level: None,
            }],
            zones: vec![zone(LOBBY, None, 0), zone(OFFICE, Some(LOBBY), 1)],
            doors: vec![Door {
                id: DOOR,
                site_id: SITE,
                from_zone_id: LOBBY,
                to_zone_id: OFFICE,
                mode: DoorMode::Normal,
                unlock_ms: 3000,
                held_open_ms: 30_000,
            }],
            people: vec![Person {
                id: ADA,
                kind: PersonKind::Staff,
                status: PersonStatus::Active,
                clearance: 1,
                vetting: None,
                group_ids: Default::default(),
            }],
            credentials: vec![Credential {
                id: Uuid::from_u128(6),
                card: CARD.parse().unwrap(),
                kind: CardKind::Uid,
                state: CredentialState::Active,
                valid_from: None,
                valid_until: None,
                holder: Holder::Person(ADA),
                pin: None,
            }],
            grants: vec![Grant {
                id: Uuid::from_u128(7),
                subject: Subject::Person(ADA),
                zone_id: OFFICE,
                schedule_id: None,
                valid_from: None,
                valid_until: None,
            }],
            ..Default::default()
        }
    }

    /// No reader takes a PIN: a card needing one is refused at once.
    fn no_keypads() -> PinEntryConfig {
        PinEntryConfig {
            timeout: Duration::from_secs(10),
            keypads: Some(Default::default()),
        }
    }

    struct Agent {
        ctx: DecideContext,
        door: std::sync::mpsc::Receiver<TimedInput>,
        _dir: tempfile::TempDir,
    }

    /// A decide context whose policy on disk was signed at `issued_at`, with a maximum
    /// policy age of one hour and a confirmed presence feed.
    fn agent(issued_at: DateTime<Utc>) -> Agent {
        agent_with(issued_at, |_| {})
    }

    fn agent_with(issued_at: DateTime<Utc>, setup: impl FnOnce(&mut PolicySource)) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key();
        let mut source = source();
        setup(&mut source);
        let snapshot = sign_at(&source, 3, issued_at, &key).unwrap();
        std::fs::write(
            dir.path().join("policy.snapshot"),
            snapshot.to_bytes().unwrap(),
        )
        .unwrap();
        let policy = Arc::new(PolicyState::load(dir.path(), key.verifying_key()));
        assert_eq!(policy.version(), Some(3));
        let journal = Arc::new(JournalCell::open(dir.path().join("journal")).unwrap());
        let readers = vec![
            ReaderConfig {
                name: "front".into(),
                door_id: DOOR,
                direction: Direction::Entry,
            },
            ReaderConfig {
                name: "back".into(),
                door_id: DOOR,
                direction: Direction::Exit,
            },
        ];
        let (tx, door) = std::sync::mpsc::channel();
        let presence = Arc::new(PresenceFeed::new(60));
        presence.confirm_now();
        let status = Arc::new(StatusState {
            relays: BTreeMap::new(),
            policy,
            presence,
            journal: Arc::clone(&journal),
            readers: Mutex::new(vec![]),
            last_decision: Mutex::new(None),
            max_policy_age_s: 3600,
            card_keys: Default::default(),
        });
        let ctx = DecideContext {
            readers: ReaderMap::new(readers).unwrap(),
            doors: BTreeMap::from([(DOOR, tx)]),
            journal,
            status,
            stale_raised: Arc::new(AtomicBool::new(false)),
            presence_raised: AtomicBool::new(false),
            pin_entry: no_keypads(),
        };
        Agent {
            ctx,
            door,
            _dir: dir,
        }
    }

    fn journalled(ctx: &DecideContext) -> Vec<EventKind> {
        ctx.journal
            .pending(100)
            .unwrap()
            .iter()
            .map(|r| DoorEvent::decode(&r.payload).unwrap().kind)
            .collect()
    }

    fn card(reader: &str) -> CardEvent {
        CardEvent {
            reader: reader.into(),
            card: CARD.parse().unwrap(),
            at: Instant::now(),
            exchange: Duration::ZERO,
            proof: CardProof::Uid,
        }
    }

    #[tokio::test]
    async fn a_stale_policy_refuses_entries_with_policy_stale_and_lets_exits_out() {
        // (policy age, reader, outcome, reason, whether the door is told to release)
        let rows = [
            (
                Age::minutes(5),
                "front",
                Outcome::Granted,
                Reason::Granted,
                true,
            ),
            (
                Age::hours(2),
                "front",
                Outcome::Denied,
                Reason::PolicyStale,
                false,
            ),
            (
                Age::hours(2),
                "back",
                Outcome::Granted,
                Reason::Granted,
                true,
            ),
        ];
        for (age, reader, outcome, reason, released) in rows {
            let name = format!("{reader} at age {age}");
            let agent = agent(Utc::now() - age);
            let mut engine = EngineState::default();
            agent.ctx.on_card(card(reader), &mut engine).await;
            let events = journalled(&agent.ctx);
            let Some(EventKind::Presentation(record)) = events.last() else {
                panic!("{name}: no presentation journalled: {events:?}");
            };
            assert_eq!((record.outcome, record.reason), (outcome, reason), "{name}");
            assert_eq!(
                record.person_id,
                Some(ADA),
                "{name}: the holder is still named"
            );
            assert_eq!(record.policy_version, 3, "{name}");
            // The trace the door computed is journalled, ending with the step that decided.
            let trace = record.trace.as_ref().expect("a journalled trace");
            let last = trace.last().map(|s| (s.check, s.passed));
            let expected_last = if reason == Reason::PolicyStale {
                (Check::Policy, false)
            } else if reader == "back" {
                (Check::Exit, true)
            } else {
                (Check::TwoPerson, true)
            };
            assert_eq!(last, Some(expected_last), "{name}: {trace:?}");
            let stale = age > Age::hours(1);
            assert_eq!(
                events
                    .iter()
                    .filter(|k| **k == EventKind::PolicyStale)
                    .count(),
                usize::from(stale),
                "{name}: the policy_stale alarm is journalled once, before the decision"
            );
            let sent: Vec<Input> = agent.door.try_iter().map(|t| t.input).collect();
            assert_eq!(
                sent,
                if released {
                    vec![Input::Grant {
                        unlock_for: Duration::from_millis(3000),
                    }]
                } else {
                    vec![]
                },
                "{name}"
            );
            if reason == Reason::PolicyStale {
                assert!(
                    engine.presence.is_empty(),
                    "{name}: a refused entry does not count as presence"
                );
            }
        }
    }

    /// Every reader of the agent reads UIDs only: a secure credential's card is refused as
    /// not authentic, with the alarm journalled; a card that authenticated (the read path
    /// to come) goes in; a UID card is refused where the zone needs secure cards.
    #[tokio::test]
    async fn what_the_reader_proved_reaches_the_engine_and_the_journal() {
        let secure_card = |s: &mut PolicySource| s.credentials[0].kind = CardKind::Secure;
        let agent = agent_with(Utc::now(), secure_card);
        let mut engine = EngineState::default();
        agent.ctx.on_card(card("front"), &mut engine).await;
        let authenticated = CardEvent {
            proof: CardProof::Authentic {
                site_id: Uuid::nil(),
                key_version: 1,
            },
            ..card("front")
        };
        agent.ctx.on_card(authenticated, &mut engine).await;
        let secure_zone = |s: &mut PolicySource| {
            s.zones[1].min_assurance = gatehouse_core::model::Assurance::Secure;
        };
        let uid_agent = agent_with(Utc::now(), secure_zone);
        uid_agent.ctx.on_card(card("front"), &mut engine).await;
        let records = [journalled(&agent.ctx), journalled(&uid_agent.ctx)].concat();
        let got: Vec<(Reason, Vec<Alarm>)> = records
            .into_iter()
            .filter_map(|k| match k {
                EventKind::Presentation(p) => Some((p.reason, p.alarms)),
                _ => None,
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    Reason::CredentialNotAuthentic,
                    vec![Alarm::CredentialNotAuthentic]
                ),
                (Reason::Granted, vec![]),
                (Reason::AssuranceInsufficient, vec![]),
            ]
        );
    }

    /// A denial journals the engine's trace up to the rule that refused; a presentation an
    /// older agent journalled (no trace) is still read from the journal after an upgrade.
    #[tokio::test]
    async fn a_denial_journals_its_trace_and_an_older_record_reads_without_one() {
        let agent = agent(Utc::now());
        let mut engine = EngineState::default();
        let unknown = CardEvent {
            card: "04FFFF".into(),
            ..card("front")
        };
        agent.ctx.on_card(unknown, &mut engine).await;
        let Some(EventKind::Presentation(record)) = journalled(&agent.ctx).pop() else {
            panic!("no presentation journalled");
        };
        assert_eq!(record.reason, Reason::UnknownCredential);
        let steps: Vec<(Check, bool)> = (record.trace.iter().flatten())
            .map(|s| (s.check, s.passed))
            .collect();
        assert_eq!(steps, [(Check::Credential, false)]);

        // The same record as an older agent journalled it: without the trace's final byte.
        let untraced = PresentationRecord {
            trace: None,
            ..record
        };
        let event = DoorEvent {
            occurred_at: Utc::now(),
            door_id: Some(DOOR),
            kind: EventKind::Presentation(untraced),
        };
        let mut old_payload = event.encode().unwrap();
        assert_eq!(old_payload.pop(), Some(0));
        let dir = agent._dir.path().join("old-journal");
        std::fs::create_dir_all(&dir).unwrap();
        {
            let options = crate::journal::JournalOptions::default();
            let (mut old, _) = crate::journal::Journal::open(&dir, options).unwrap();
            old.append(&old_payload).unwrap();
        }
        let upgraded = JournalCell::open(dir).unwrap();
        let records = upgraded.pending(10).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].payload, old_payload, "uploaded as journalled");
        assert_eq!(DoorEvent::decode(&records[0].payload).unwrap(), event);
    }

    #[tokio::test]
    async fn a_grant_that_cannot_be_journalled_opens_for_exits_only() {
        let agent = agent(Utc::now());
        // The disk is gone: the journal's folder is a file now, so reopening fails too.
        let dir = agent._dir.path().join("journal");
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::write(&dir, b"not a folder").unwrap();
        let mut engine = EngineState::default();
        for (reader, released) in [("front", false), ("back", true)] {
            agent.ctx.journal.poison();
            agent.ctx.on_card(card(reader), &mut engine).await;
            let sent: Vec<Input> = agent.door.try_iter().map(|t| t.input).collect();
            let expected = if released {
                vec![Input::Grant {
                    unlock_for: Duration::from_millis(3000),
                }]
            } else {
                vec![]
            };
            assert_eq!(sent, expected, "{reader}");
            let last = agent
                .ctx
                .status
                .last_decision
                .lock()
                .unwrap()
                .clone()
                .unwrap();
            assert_eq!(last["outcome"], "granted", "{reader}");
            assert_eq!(last["released"], released, "{reader}");
        }
    }

    #[tokio::test]
    async fn the_policy_stale_alarm_is_raised_once_per_stale_period() {
        let agent = agent(Utc::now() - Age::hours(2));
        let mut engine = EngineState::default();
        for _ in 0..3 {
            agent.ctx.on_card(card("front"), &mut engine).await;
        }
        let events = journalled(&agent.ctx);
        let stale = events
            .iter()
            .filter(|k| **k == EventKind::PolicyStale)
            .count();
        let refusals = events
            .iter()
            .filter(|k| matches!(k, EventKind::Presentation(p) if p.reason == Reason::PolicyStale))
            .count();
        assert_eq!((stale, refusals), (1, 3), "{events:?}");
    }

    fn presentations(ctx: &DecideContext) -> Vec<(Outcome, Reason, Vec<Alarm>)> {
        journalled(ctx)
            .into_iter()
            .filter_map(|k| match k {
                EventKind::Presentation(p) => Some((p.outcome, p.reason, p.alarms)),
                _ => None,
            })
            .collect()
    }

    fn hard_anti_passback(source: &mut PolicySource) {
        source.zones[1].anti_passback = AntiPassback::Hard;
    }

    /// The context of `agent` with another presence feed.
    fn with_feed(agent: &Agent, feed: PresenceFeed) -> DecideContext {
        DecideContext {
            status: Arc::new(StatusState {
                relays: BTreeMap::new(),
                policy: Arc::clone(&agent.ctx.status.policy),
                presence: Arc::new(feed),
                journal: Arc::clone(&agent.ctx.journal),
                readers: Mutex::new(vec![]),
                last_decision: Mutex::new(None),
                max_policy_age_s: 3600,
                card_keys: Default::default(),
            }),
            readers: ReaderMap::new(vec![ReaderConfig {
                name: "front".into(),
                door_id: DOOR,
                direction: Direction::Entry,
            }])
            .unwrap(),
            doors: agent.ctx.doors.clone(),
            journal: Arc::clone(&agent.ctx.journal),
            stale_raised: Arc::new(AtomicBool::new(false)),
            presence_raised: AtomicBool::new(false),
            pin_entry: no_keypads(),
        }
    }

    #[tokio::test]
    async fn right_after_a_start_the_presence_feed_is_not_yet_overdue() {
        // (feed started this long ago and never answered, presence_unconfirmed raised,
        // the second of two entries)
        let rows = [
            (0, 0, (Outcome::Denied, Reason::AntiPassback)),
            (120_000, 1, (Outcome::Granted, Reason::Granted)),
        ];
        for (ago_ms, raised, second) in rows {
            let agent = agent_with(Utc::now(), hard_anti_passback);
            let ctx = with_feed(&agent, started_ago(60, ago_ms));
            let mut engine = EngineState::default();
            ctx.on_card(card("front"), &mut engine).await;
            ctx.on_card(card("front"), &mut engine).await;
            let kinds = journalled(&ctx);
            let unconfirmed = kinds
                .iter()
                .filter(|k| **k == EventKind::PresenceUnconfirmed)
                .count();
            assert_eq!(unconfirmed, raised, "started {ago_ms} ms ago: {kinds:?}");
            let decided = presentations(&ctx);
            assert_eq!(
                (decided[1].0, decided[1].1),
                second,
                "started {ago_ms} ms ago"
            );
        }
    }

    #[tokio::test]
    async fn without_the_presence_feed_hard_anti_passback_is_soft_and_recorded() {
        let agent = agent_with(Utc::now(), hard_anti_passback);
        let feed = Arc::clone(&agent.ctx.status.presence);
        let mut engine = EngineState::default();
        agent.ctx.on_card(card("front"), &mut engine).await;
        agent.ctx.on_card(card("front"), &mut engine).await;
        // The same agent, its feed lost: re-entries pass with the alarm.
        let offline = with_feed(&agent, started_ago(60, 120_000));
        offline.on_card(card("front"), &mut engine).await;
        offline.on_card(card("front"), &mut engine).await;
        feed.confirm_now();
        agent.ctx.on_card(card("front"), &mut engine).await;
        let granted = (Outcome::Granted, Reason::Granted, vec![]);
        let softened = (
            Outcome::Granted,
            Reason::Granted,
            vec![Alarm::AntiPassbackViolation],
        );
        let refused = (Outcome::Denied, Reason::AntiPassback, vec![]);
        assert_eq!(
            presentations(&agent.ctx),
            [
                granted,
                refused.clone(),
                softened.clone(),
                softened,
                refused
            ]
        );
        let kinds = journalled(&agent.ctx);
        let raised = kinds
            .iter()
            .filter(|k| **k == EventKind::PresenceUnconfirmed)
            .count();
        assert_eq!(raised, 1, "once per period: {kinds:?}");
    }

    #[tokio::test]
    async fn the_decide_loop_takes_in_the_servers_presence_before_the_next_card() {
        let agent = agent_with(Utc::now(), hard_anti_passback);
        let Agent {
            ctx,
            door: _door,
            _dir,
        } = agent;
        let ctx = Arc::new(ctx);
        let (cards, card_rx) = mpsc::channel(8);
        let (presence, presence_rx) = mpsc::channel(8);
        let task = tokio::spawn(decide_loop(
            Arc::clone(&ctx),
            card_rx,
            presence_rx,
            CancellationToken::new(),
        ));
        let send_card = |reader: &'static str| {
            let cards = cards.clone();
            async move { cards.send(ReaderEvent::Card(card(reader))).await.unwrap() }
        };
        // Where the server says Ada is, in turn: in the office (another agent let her
        // in), gone to another site, and an older passage that must not undo a newer one.
        let an_hour_ago = Utc::now() - Age::hours(1);
        let steps = [
            (Some(OFFICE), Utc::now(), Reason::AntiPassback),
            (None, Utc::now() + Age::seconds(1), Reason::Granted),
            (Some(LOBBY), an_hour_ago, Reason::AntiPassback),
        ];
        for (i, (zone_id, since, expected)) in steps.into_iter().enumerate() {
            let change = FedPresence {
                holder_id: ADA,
                zone_id,
                since,
            };
            presence.send(vec![change]).await.unwrap();
            send_card("front").await;
            let deadline = Instant::now() + Duration::from_secs(10);
            while presentations(&ctx).len() <= i {
                assert!(Instant::now() < deadline, "step {i} not decided");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(presentations(&ctx)[i].1, expected, "step {i}");
        }
        drop(cards);
        task.await.unwrap();
    }

    const VISIT: Uuid = Uuid::from_u128(8);
    const VISIT_CARD: &str = "04B2C3D4";

    /// The office needs an escort, and a checked-in visit of Ada's needs one.
    fn escorted(source: &mut PolicySource) {
        source.zones[1].escort_required = true;
        source.visits.push(gatehouse_core::model::Visit {
            id: VISIT,
            host_person_id: ADA,
            window_start: Utc::now() - Age::hours(1),
            window_end: Utc::now() + Age::hours(1),
            checked_in: true,
            checked_out: false,
            allowed_zone_ids: vec![OFFICE],
            escort_required: true,
        });
        source.credentials.push(Credential {
            id: Uuid::from_u128(9),
            card: VISIT_CARD.parse().unwrap(),
            kind: CardKind::Uid,
            state: CredentialState::Active,
            valid_from: None,
            valid_until: None,
            holder: Holder::Visit(VISIT),
            pin: None,
        });
    }

    #[tokio::test]
    async fn an_escort_journals_the_visitors_entry_as_granted_and_counts_them_inside() {
        let agent = agent_with(Utc::now(), escorted);
        let mut engine = EngineState::default();
        let visitor = CardEvent {
            card: VISIT_CARD.parse().unwrap(),
            ..card("front")
        };
        agent.ctx.on_card(visitor, &mut engine).await;
        agent.ctx.on_card(card("front"), &mut engine).await;
        let records = agent.ctx.journal.pending(100).unwrap();
        let events: Vec<(u64, DoorEvent)> = records
            .iter()
            .map(|r| (r.seq, DoorEvent::decode(&r.payload).unwrap()))
            .collect();
        let [(_, waiting), (ada_seq, ada), (_, released)] = events.as_slice() else {
            panic!("three events expected: {events:?}");
        };
        let EventKind::Presentation(waiting) = &waiting.kind else {
            panic!("{waiting:?}");
        };
        assert_eq!(
            (waiting.outcome, waiting.visit_id),
            (Outcome::Pending, Some(VISIT)),
            "the waiting presentation stays as it was"
        );
        let EventKind::Presentation(ada_record) = &ada.kind else {
            panic!("{ada:?}");
        };
        assert_eq!(ada_record.outcome, Outcome::Granted);
        let EventKind::ReleasedEntry(entry) = &released.kind else {
            panic!("{released:?}");
        };
        assert_eq!(
            (entry.visit_id, entry.person_id, entry.card.as_deref()),
            (Some(VISIT), None, Some(VISIT_CARD))
        );
        assert_eq!(
            (entry.released_by, entry.release_of, entry.waited_for),
            (ADA, *ada_seq, Reason::EscortRequired),
            "names the escort and the escort's event"
        );
        assert_eq!(
            (entry.zone_id, released.door_id),
            (Some(OFFICE), Some(DOOR))
        );
        assert_eq!(released.occurred_at, ada.occurred_at);
        assert_eq!(
            engine.presence[&VISIT].zone_id, OFFICE,
            "the visitor is inside"
        );
        assert_eq!(engine.presence[&ADA].zone_id, OFFICE);
        let sent: Vec<Input> = agent.door.try_iter().map(|t| t.input).collect();
        assert_eq!(sent.len(), 1, "one opening for both: {sent:?}");
    }

    /// The office needs a PIN; Ada's is 1234 and the agent has the PIN key.
    fn pin_office(source: &mut PolicySource) {
        use gatehouse_core::model::{PinHash, PinKey, PinVerifier};
        source.zones[1].pin_required = true;
        let hash = PinHash::with_salt("1234", [7; 16]).unwrap();
        source.credentials[0].pin = Some(Box::new(PinVerifier::keyed(
            &hash,
            &PinKey::from_bytes([3; 32]),
        )));
    }

    /// A card needing a PIN at a reader with a keypad is held, unrecorded, while other
    /// cards are decided; its PIN's keys decide it; one still waiting when the loop ends
    /// is refused `pin_required`. Keys typed with no card waiting go nowhere.
    #[tokio::test]
    async fn a_card_needing_a_pin_waits_for_its_keypad_while_the_loop_goes_on() {
        use crate::reader::keypad::Key;
        let Agent { ctx, door, _dir } = agent_with(Utc::now(), pin_office);
        ctx.status
            .policy
            .set_pin_key(gatehouse_core::model::PinKey::from_bytes([3; 32]))
            .await;
        let keypads = Some(["front".to_owned()].into());
        let pin_entry = PinEntryConfig {
            timeout: Duration::from_secs(600),
            keypads,
        };
        let ctx = Arc::new(DecideContext { pin_entry, ..ctx });
        let (events, rx) = mpsc::channel(16);
        let (_presence, presence_rx) = mpsc::channel(1);
        let task = tokio::spawn(decide_loop(
            Arc::clone(&ctx),
            rx,
            presence_rx,
            CancellationToken::new(),
        ));
        let key = |key| ReaderEvent::Key {
            reader: "front".into(),
            key,
        };
        let wait_for = async |n: usize| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while presentations(&ctx).len() < n {
                assert!(Instant::now() < deadline, "{n} decisions expected");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            presentations(&ctx)
        };
        for event in [
            key(Key::Digit(9)),
            key(Key::Enter),
            ReaderEvent::Card(card("front")),
            ReaderEvent::Card(card("back")),
        ] {
            events.send(event).await.unwrap();
        }
        // The exit is decided while the entry waits for its PIN.
        let decided = wait_for(1).await;
        assert_eq!(decided[0].1, Reason::Granted);
        for k in [9, 1, 2, 3, 4] {
            events.send(key(Key::Digit(k))).await.unwrap();
        }
        events.send(key(Key::Clear)).await.unwrap();
        for k in [1, 2, 3, 4] {
            events.send(key(Key::Digit(k))).await.unwrap();
        }
        events.send(key(Key::Enter)).await.unwrap();
        let decided = wait_for(2).await;
        assert_eq!(
            (decided[1].0, decided[1].1),
            (Outcome::Granted, Reason::Granted)
        );
        // Left waiting when the reader closes: refused for want of its PIN.
        events.send(ReaderEvent::Card(card("front"))).await.unwrap();
        drop(events);
        task.await.unwrap();
        let decided = presentations(&ctx);
        assert_eq!(decided.len(), 3, "{decided:?}");
        let opened = door.try_iter().count();
        assert_eq!(opened, 2, "the exit and the entry");
        assert_eq!(
            (decided[2].0, decided[2].1),
            (Outcome::Denied, Reason::PinRequired)
        );
        let summary = ctx.status.last_decision.lock().unwrap().clone().unwrap();
        assert!(!summary.to_string().contains("1234"), "{summary}");
    }
}
