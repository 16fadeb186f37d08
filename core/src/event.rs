//! What a door agent records and uploads: one event per card presentation and per door
//! incident, numbered per agent without gaps and hash-chained, so the server can prove
//! that it received every event, unaltered and in order.
//!
//! The agent journals each event as `payload = postcard(DoorEvent)` and
//! `hash = chain_hash(previous hash, seq, payload)`; it uploads `(seq, payload, hash)`.
//! The server recomputes the hash from the payload and the previous record's hash: an
//! altered payload, a missing record or a reordering breaks the chain.
//!
//! A presentation carries the decision's trace ([`PresentationRecord::trace`]), so the
//! server can show later why a card was refused by the rules the door held at the time.
//! The field came later; a record journalled before it (by an older agent, or in an
//! upgraded agent's journal) is exactly a traced record's encoding less its final byte
//! (`None`): [`DoorEvent::decode`] reads it as a record without a trace.

use crate::decide::{Alarm, Direction, Outcome, Reason, Release, TraceStep};
use crate::model::Holder;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The hash before an agent's first record.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Domain separation: these hashes mean nothing anywhere else.
const DOMAIN: &[u8] = b"gatehouse-journal-v1";

/// The chain hash of record `seq`: SHA-256 over a domain tag, the previous record's hash,
/// the sequence number (8 bytes, big-endian) and the payload.
pub fn chain_hash(previous: &[u8; 32], seq: u64, payload: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    hasher.update(previous);
    hasher.update(seq.to_be_bytes());
    hasher.update(payload);
    hasher.finalize().into()
}

/// One thing that happened at a door (or to the agent), as journalled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorEvent {
    /// When, by the agent's clock (UTC).
    pub occurred_at: DateTime<Utc>,
    /// The door, when the event concerns one.
    pub door_id: Option<Uuid>,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of event an agent records. New kinds go at the end: the journal payload
/// encodes a kind by its position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum EventKind {
    /// A card was presented and decided.
    Presentation(PresentationRecord),
    /// The door contact opened (an opening without a grant or exit request is followed
    /// by `ForcedOpen`).
    DoorOpened,
    /// The door contact closed.
    DoorClosed,
    /// The door opened with no grant and no exit request.
    ForcedOpen,
    /// The door stayed open past its held-open time.
    HeldOpen,
    /// A held-open door closed.
    HeldOpenCleared,
    /// The lock was released for a grant but the door was never opened.
    NotOpenedAfterGrant,
    /// The request-to-exit button was pressed.
    ExitRequested,
    /// The agent's policy is older than its configured maximum age: entries refused.
    PolicyStale,
    /// The journal holds more unsent events than its capacity.
    JournalFull,
    /// A reader failed to read a card (too slow, no answer, unplugged).
    ReaderError { reader: String, detail: String },
    /// The agent started (after a reboot or a crash).
    AgentStarted,
    /// The lock relay did not move when the door commanded it (alarm: the door may be
    /// open when it should be locked, or the reverse).
    LockFault { detail: String },
    /// The agent's clock differs from the server's by more than 10 s (IEC 60839-11-1);
    /// journalled when the offset crosses that bound, not at every sync. `offset_ms` as
    /// the server measures it: server time minus agent time (positive: the agent is
    /// behind).
    ClockOffset { offset_ms: i64 },
    /// The agent has not heard from the server's presence feed (who is inside where)
    /// for longer than its configured maximum: until it has, hard anti-passback is
    /// applied as soft, each re-entry granted with an `anti_passback_violation` alarm.
    /// Journalled once per such period.
    PresenceUnconfirmed,
    /// The tamper switch of the door's reader or controller enclosure opened (alarm).
    Tamper,
    /// The tamper switch closed again.
    TamperCleared,
    /// A holder who was waiting at the door (`pending`) went in because another holder's
    /// granted presentation completed their request: the visitor an escort released, or
    /// the first person of a completed two-person entry. Journalled right after that
    /// presentation; it is the waiting holder's passage (their `pending` event only
    /// says they waited).
    ReleasedEntry(ReleasedEntryRecord),
    /// An operator's remote command (a momentary release, a mode change), executed at
    /// the door; names the operator who gave it.
    RemoteCommand(RemoteCommandRecord),
}

/// A remote command as executed at the door (see [`EventKind::RemoteCommand`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteCommandRecord {
    /// The command's id on the server.
    pub command_id: Uuid,
    /// The operator who gave it, and their username then.
    pub operator_id: Uuid,
    pub operator: String,
    /// What was done.
    pub action: RemoteAction,
}

/// What a remote command did at the door: the journal's copy of
/// [`crate::protocol::CommandAction`] (externally tagged, as the journal's postcard
/// encoding needs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteAction {
    Release {
        seconds: u32,
    },
    SetMode {
        mode: crate::model::DoorMode,
        until: Option<DateTime<Utc>>,
    },
}

impl From<crate::protocol::CommandAction> for RemoteAction {
    fn from(action: crate::protocol::CommandAction) -> Self {
        use crate::protocol::CommandAction as A;
        match action {
            A::Release { seconds } => RemoteAction::Release { seconds },
            A::SetMode { mode, until } => RemoteAction::SetMode { mode, until },
        }
    }
}

impl From<RemoteAction> for crate::protocol::CommandAction {
    fn from(action: RemoteAction) -> Self {
        use crate::protocol::CommandAction as A;
        match action {
            RemoteAction::Release { seconds } => A::Release { seconds },
            RemoteAction::SetMode { mode, until } => A::SetMode { mode, until },
        }
    }
}

/// A card presentation and the engine's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentationRecord {
    /// The reader the card was read at.
    pub reader: String,
    /// The card identifier (normalised hex).
    pub card: String,
    pub direction: Direction,
    pub outcome: Outcome,
    pub reason: Reason,
    pub person_id: Option<Uuid>,
    pub visit_id: Option<Uuid>,
    pub credential_id: Option<Uuid>,
    pub zone_id: Option<Uuid>,
    pub alarms: Vec<Alarm>,
    /// The policy version the decision was made on.
    pub policy_version: u64,
    /// Every rule the door checked, in order, up to the one that decided (the engine's
    /// trace, plus a failed `policy` step when the agent refused for a stale or missing
    /// policy). `None` on a record journalled before agents recorded it. Must stay the
    /// last field: see the module doc.
    #[serde(default)]
    pub trace: Option<Vec<TraceStep>>,
}

/// The entry of a holder released by another holder's presentation (see
/// [`EventKind::ReleasedEntry`]): always a granted entry at the releasing presentation's
/// door and reader, into its zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedEntryRecord {
    /// The reader the releasing card was read at.
    pub reader: String,
    /// The released holder's card, when the policy in use still knows the credential.
    pub card: Option<String>,
    /// What the holder waited for: `escort_required` or `second_person_required`.
    pub waited_for: Reason,
    pub person_id: Option<Uuid>,
    pub visit_id: Option<Uuid>,
    pub credential_id: Uuid,
    pub zone_id: Option<Uuid>,
    /// The holder (person or visit id) whose presentation released this one: the escort,
    /// or the second person.
    pub released_by: Uuid,
    /// The releasing presentation's credential.
    pub released_by_credential: Option<Uuid>,
    /// The agent's sequence number of the releasing presentation's event.
    pub release_of: u64,
    /// The policy version the decision was made on.
    pub policy_version: u64,
}

impl ReleasedEntryRecord {
    /// The released entry that the presentation `by`, journalled as `by_seq`, completed:
    /// `None` unless `by` is a granted entry of a known holder and `release` names a
    /// waiting holder. `card` is the released credential's card, if known.
    pub fn of(
        by: &PresentationRecord,
        by_seq: u64,
        release: &Release,
        card: Option<String>,
    ) -> Option<ReleasedEntryRecord> {
        if by.outcome != Outcome::Granted || by.direction != Direction::Entry {
            return None;
        }
        let (person_id, visit_id) = match release.holder {
            Holder::Person(id) => (Some(id), None),
            Holder::Visit(id) => (None, Some(id)),
        };
        Some(ReleasedEntryRecord {
            reader: by.reader.clone(),
            card,
            waited_for: release.reason,
            person_id,
            visit_id,
            credential_id: release.credential_id,
            zone_id: by.zone_id,
            released_by: by.person_id.or(by.visit_id)?,
            released_by_credential: by.credential_id,
            release_of: by_seq,
            policy_version: by.policy_version,
        })
    }
}

impl EventKind {
    /// The kind's wire name (`presentation`, `forced_open`, ...), as serde names it (strum's
    /// name; `kinds_keep_their_positions_and_names` holds the two together).
    pub fn name(&self) -> &'static str {
        self.into()
    }
}

impl DoorEvent {
    /// The journal payload of this event.
    pub fn encode(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_allocvec(self)
    }

    /// Decodes a journal payload, a presentation journalled before it carried a trace
    /// included (read with `trace: None`).
    pub fn decode(payload: &[u8]) -> Result<DoorEvent, postcard::Error> {
        let error = match postcard::from_bytes(payload) {
            Ok(event) => return Ok(event),
            Err(error) => error,
        };
        // An untraced presentation is a traced one's encoding without its final byte,
        // the `None` of `trace` (the last field of the last field). Only a payload that
        // is exactly that is read so: anything else keeps its error.
        let mut traced = Vec::with_capacity(payload.len() + 1);
        traced.extend_from_slice(payload);
        traced.push(0);
        match postcard::from_bytes::<DoorEvent>(&traced) {
            Ok(event)
                if matches!(&event.kind, EventKind::Presentation(p) if p.trace.is_none())
                    && event.encode().is_ok_and(|e| e == traced) =>
            {
                Ok(event)
            }
            _ => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_and_chain() {
        let event = DoorEvent {
            occurred_at: Utc::now(),
            door_id: Some(Uuid::from_u128(7)),
            kind: EventKind::Presentation(PresentationRecord {
                reader: "Virtual PCD 00 00".into(),
                card: "04A1B2".into(),
                direction: Direction::Entry,
                outcome: Outcome::Denied,
                reason: Reason::NoGrant,
                person_id: None,
                visit_id: None,
                credential_id: None,
                zone_id: None,
                alarms: vec![],
                policy_version: 3,
                trace: None,
            }),
        };
        let payload = event.encode().unwrap();
        assert_eq!(DoorEvent::decode(&payload).unwrap(), event);

        let first = chain_hash(&GENESIS_HASH, 1, &payload);
        let second = chain_hash(&first, 2, &payload);
        assert_ne!(first, second, "the same payload chains to a new hash");
        assert_ne!(
            chain_hash(&GENESIS_HASH, 2, &payload),
            first,
            "the number is covered"
        );
        let mut altered = payload.clone();
        altered[0] ^= 1;
        assert_ne!(
            chain_hash(&GENESIS_HASH, 1, &altered),
            first,
            "the payload is covered"
        );
        assert!(DoorEvent::decode(&[0xFF; 3]).is_err());
        let serde_name = serde_json::to_value(&event.kind).unwrap();
        assert!(serde_name.get(event.kind.name()).is_some(), "{serde_name}");
    }

    /// Every kind, by its position in the enum (which the journal payload encodes, so a
    /// kind may never move) and its name.
    #[test]
    fn kinds_keep_their_positions_and_names() {
        let presentation = PresentationRecord {
            reader: "front".into(),
            card: "04A1".into(),
            direction: Direction::Exit,
            outcome: Outcome::Granted,
            reason: Reason::Granted,
            person_id: None,
            visit_id: None,
            credential_id: None,
            zone_id: None,
            alarms: vec![],
            policy_version: 1,
            trace: None,
        };
        let kinds = [
            (EventKind::Presentation(presentation), "presentation"),
            (EventKind::DoorOpened, "door_opened"),
            (EventKind::DoorClosed, "door_closed"),
            (EventKind::ForcedOpen, "forced_open"),
            (EventKind::HeldOpen, "held_open"),
            (EventKind::HeldOpenCleared, "held_open_cleared"),
            (EventKind::NotOpenedAfterGrant, "not_opened_after_grant"),
            (EventKind::ExitRequested, "exit_requested"),
            (EventKind::PolicyStale, "policy_stale"),
            (EventKind::JournalFull, "journal_full"),
            (
                EventKind::ReaderError {
                    reader: "front".into(),
                    detail: "unplugged".into(),
                },
                "reader_error",
            ),
            (EventKind::AgentStarted, "agent_started"),
            (
                EventKind::LockFault {
                    detail: "relay stuck".into(),
                },
                "lock_fault",
            ),
            (
                EventKind::ClockOffset { offset_ms: -12_345 },
                "clock_offset",
            ),
            (EventKind::PresenceUnconfirmed, "presence_unconfirmed"),
            (EventKind::Tamper, "tamper"),
            (EventKind::TamperCleared, "tamper_cleared"),
            (
                EventKind::ReleasedEntry(ReleasedEntryRecord {
                    reader: "front".into(),
                    card: Some("04B2".into()),
                    waited_for: Reason::EscortRequired,
                    person_id: None,
                    visit_id: Some(Uuid::from_u128(2)),
                    credential_id: Uuid::from_u128(3),
                    zone_id: Some(Uuid::from_u128(4)),
                    released_by: Uuid::from_u128(5),
                    released_by_credential: Some(Uuid::from_u128(6)),
                    release_of: 41,
                    policy_version: 1,
                }),
                "released_entry",
            ),
            (
                EventKind::RemoteCommand(RemoteCommandRecord {
                    command_id: Uuid::from_u128(1),
                    operator_id: Uuid::from_u128(2),
                    operator: "alice".into(),
                    action: RemoteAction::SetMode {
                        mode: crate::model::DoorMode::Locked,
                        until: Some(Utc::now()),
                    },
                }),
                "remote_command",
            ),
        ];
        for (position, (kind, name)) in kinds.into_iter().enumerate() {
            assert_eq!(kind.name(), name);
            let json = serde_json::to_value(&kind).unwrap();
            let serde_name = json
                .as_str()
                .or_else(|| json.as_object()?.keys().next().map(String::as_str));
            assert_eq!(serde_name, Some(name), "{json}");
            let payload = postcard::to_allocvec(&kind).unwrap();
            assert_eq!(usize::from(payload[0]), position, "{name} moved");
            let event = DoorEvent {
                occurred_at: Utc::now(),
                door_id: None,
                kind,
            };
            assert_eq!(DoorEvent::decode(&event.encode().unwrap()).unwrap(), event);
        }
        // A truncated new kind is an error, not a panic.
        let clock = DoorEvent {
            occurred_at: Utc::now(),
            door_id: Some(Uuid::from_u128(1)),
            kind: EventKind::ClockOffset { offset_ms: 1 },
        }
        .encode()
        .unwrap();
        assert!(DoorEvent::decode(&clock[..clock.len() - 1]).is_err());
    }

    /// A presentation as journalled before records carried a trace (the old types, field
    /// for field) still decodes, with no trace; a traced one round-trips; a payload cut
    /// anywhere else stays an error.
    #[test]
    fn an_untraced_presentation_of_an_older_agent_still_decodes() {
        use crate::decide::Check;
        #[derive(Serialize)]
        struct OldRecord {
            reader: String,
            card: String,
            direction: Direction,
            outcome: Outcome,
            reason: Reason,
            person_id: Option<Uuid>,
            visit_id: Option<Uuid>,
            credential_id: Option<Uuid>,
            zone_id: Option<Uuid>,
            alarms: Vec<Alarm>,
            policy_version: u64,
        }
        #[derive(Serialize)]
        enum OldKind {
            Presentation(OldRecord),
        }
        #[derive(Serialize)]
        struct OldEvent {
            occurred_at: DateTime<Utc>,
            door_id: Option<Uuid>,
            kind: OldKind,
        }
        let at = Utc::now();
        let old = OldEvent {
            occurred_at: at,
            door_id: Some(Uuid::from_u128(7)),
            kind: OldKind::Presentation(OldRecord {
                reader: "front".into(),
                card: "04A1".into(),
                direction: Direction::Entry,
                outcome: Outcome::Denied,
                reason: Reason::NoGrant,
                person_id: Some(Uuid::from_u128(8)),
                visit_id: None,
                credential_id: Some(Uuid::from_u128(9)),
                zone_id: Some(Uuid::from_u128(10)),
                alarms: vec![Alarm::Duress],
                policy_version: 300,
            }),
        };
        let old_payload = postcard::to_allocvec(&old).unwrap();
        let mut record = PresentationRecord {
            reader: "front".into(),
            card: "04A1".into(),
            direction: Direction::Entry,
            outcome: Outcome::Denied,
            reason: Reason::NoGrant,
            person_id: Some(Uuid::from_u128(8)),
            visit_id: None,
            credential_id: Some(Uuid::from_u128(9)),
            zone_id: Some(Uuid::from_u128(10)),
            alarms: vec![Alarm::Duress],
            policy_version: 300,
            trace: None,
        };
        let event = |record: &PresentationRecord| DoorEvent {
            occurred_at: at,
            door_id: Some(Uuid::from_u128(7)),
            kind: EventKind::Presentation(record.clone()),
        };
        assert_eq!(DoorEvent::decode(&old_payload).unwrap(), event(&record));

        record.trace = Some(vec![
            crate::decide::TraceStep {
                check: Check::Credential,
                passed: true,
                detail: "known card".into(),
            },
            crate::decide::TraceStep {
                check: Check::Grant,
                passed: false,
                detail: "no grant covers the zone".into(),
            },
        ]);
        let traced = event(&record).encode().unwrap();
        assert_eq!(DoorEvent::decode(&traced).unwrap(), event(&record));
        // Cut anywhere but before its trace, a traced record is an error; cut there, it is
        // the untraced record (the chain hash, not the encoding, finds a cut payload).
        for len in 0..traced.len() {
            let decoded = DoorEvent::decode(&traced[..len]);
            if len == old_payload.len() {
                assert_eq!(traced[..len], old_payload[..]);
            } else {
                assert!(decoded.is_err(), "cut at {len}");
            }
        }
        // An older server's decoder (the old types) reads a traced record too: postcard
        // leaves the trailing trace unread.
        #[derive(Deserialize)]
        struct OldRead {
            #[allow(dead_code)]
            occurred_at: DateTime<Utc>,
            door_id: Option<Uuid>,
        }
        let read: OldRead = postcard::from_bytes(&traced).unwrap();
        assert_eq!(read.door_id, Some(Uuid::from_u128(7)));
    }

    /// Which presentations release a waiting holder's entry, and what it records.
    #[test]
    fn a_released_entry_names_the_releasing_holder_and_event() {
        const VISIT: Uuid = Uuid::from_u128(10);
        const ALICE: Uuid = Uuid::from_u128(11);
        const ZONE: Uuid = Uuid::from_u128(12);
        let escort = |outcome, direction, person_id| PresentationRecord {
            reader: "front".into(),
            card: "04A1".into(),
            direction,
            outcome,
            reason: Reason::Granted,
            person_id,
            visit_id: None,
            credential_id: Some(Uuid::from_u128(13)),
            zone_id: Some(ZONE),
            alarms: vec![],
            policy_version: 7,
            trace: None,
        };
        let waiting = |holder| Release {
            holder,
            credential_id: Uuid::from_u128(14),
            reason: Reason::EscortRequired,
        };
        let (granted, denied) = (Outcome::Granted, Outcome::Denied);
        let (entry, exit) = (Direction::Entry, Direction::Exit);
        let visitor = Holder::Visit(VISIT);
        // (case, releasing presentation, released holder, expected (person, visit))
        type Row = (
            &'static str,
            PresentationRecord,
            Holder,
            Option<(Option<Uuid>, Option<Uuid>)>,
        );
        let rows: [Row; 5] = [
            (
                "escort lets a visitor in",
                escort(granted, entry, Some(ALICE)),
                visitor,
                Some((None, Some(VISIT))),
            ),
            (
                "second person completes a pair",
                escort(granted, entry, Some(ALICE)),
                Holder::Person(Uuid::from_u128(15)),
                Some((Some(Uuid::from_u128(15)), None)),
            ),
            // The agent refused the grant (stale policy): nobody goes in.
            (
                "refused releasing presentation",
                escort(denied, entry, Some(ALICE)),
                visitor,
                None,
            ),
            (
                "exit reader",
                escort(granted, exit, Some(ALICE)),
                visitor,
                None,
            ),
            (
                "unknown releasing holder",
                escort(granted, entry, None),
                visitor,
                None,
            ),
        ];
        for (case, by, holder, expected) in rows {
            let got = ReleasedEntryRecord::of(&by, 41, &waiting(holder), Some("04B2".into()));
            assert_eq!(
                got.as_ref().map(|r| (r.person_id, r.visit_id)),
                expected,
                "{case}"
            );
            if let Some(r) = got {
                assert_eq!(
                    (r.released_by, r.released_by_credential, r.release_of),
                    (ALICE, by.credential_id, 41),
                    "{case}"
                );
                assert_eq!((r.zone_id, r.policy_version), (Some(ZONE), 7), "{case}");
                assert_eq!(
                    (r.reader.as_str(), r.waited_for),
                    ("front", Reason::EscortRequired),
                    "{case}"
                );
                assert_eq!(
                    (r.credential_id, r.card.as_deref()),
                    (Uuid::from_u128(14), Some("04B2")),
                    "{case}"
                );
            }
        }
    }
}
