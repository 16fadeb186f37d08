//! The records the audit chain commits to, as stored, and the digest of each: every
//! column, so a change to any of them is found. The same row type is built before an
//! insert (to bind and to digest) and read back when verifying.

use super::canon::{Canon, Sink, sha256};
use crate::store::stored_time::StoredTime;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// Which table a chained record lives in; its name (`event`, `operator`, `alarm`) is
/// stored in `audit_chain.source` and written in exports.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::AsRefStr,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::Display,
    strum::EnumIter,
)]
#[strum(serialize_all = "lowercase")]
pub enum Source {
    /// `access_events`: what door agents recorded.
    Event,
    /// `operator_log`: what operators (and the CLI) did.
    Operator,
    /// `agent_alarms`: problems found while ingesting agents' uploads.
    Alarm,
}

impl Source {
    /// The stored name (strum's).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The source a stored name names.
    pub fn parse(text: &str) -> Option<Source> {
        text.parse().ok()
    }
}

const EVENT_DOMAIN: &str = "gatehouse.audit.event.v1";

/// A row of `access_events`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub seq: i64,
    /// The agent's own chain hash of the record.
    pub hash: Vec<u8>,
    /// The record's bytes as the agent journalled them.
    pub payload: Vec<u8>,
    #[sqlx(try_from = "StoredTime")]
    pub occurred_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    pub received_at: DateTime<Utc>,
    pub door_id: Option<Uuid>,
    pub kind: String,
    pub reader: Option<String>,
    pub direction: Option<String>,
    pub card: Option<String>,
    pub outcome: Option<String>,
    pub reason: Option<String>,
    pub person_id: Option<Uuid>,
    pub visit_id: Option<Uuid>,
    pub credential_id: Option<Uuid>,
    pub zone_id: Option<Uuid>,
    pub policy_version: Option<i64>,
    /// On a `released_entry`: the holder (person or visit) whose presentation let this
    /// one's holder in (the escort, or the second person of a pair).
    pub released_by: Option<Uuid>,
    /// On a `released_entry`: the id of that releasing presentation's event.
    pub release_of: Option<Uuid>,
    /// On a presentation from an agent that records it: the decision trace (JSON, as
    /// stored; see migration 0019).
    pub trace: Option<String>,
}

impl EventRow {
    pub fn digest(&self) -> [u8; 32] {
        self.as_ref().digest()
    }

    /// The digest given the payload's SHA-256 (an export carries that, not the payload).
    pub fn digest_with(&self, payload_sha256: &[u8; 32]) -> [u8; 32] {
        self.as_ref().digest_with(payload_sha256)
    }

    /// Appends to `out` the bytes [`Self::digest`] hashes for the record (given the
    /// payload's SHA-256): what the audit_trail bench hashes in one pass as its baseline.
    pub fn canonical_bytes(&self, payload_sha256: &[u8; 32], out: &mut Vec<u8>) {
        let mut canon = Canon::to(std::mem::take(out), EVENT_DOMAIN);
        self.as_ref().canonical(&mut canon, payload_sha256);
        *out = canon.into_sink();
    }

    /// The row's fields borrowed, as [`EventRef`] reads them from the database.
    pub fn as_ref(&self) -> EventRef<'_> {
        EventRef {
            id: self.id,
            agent_id: self.agent_id,
            seq: self.seq,
            hash: &self.hash,
            payload: &self.payload,
            occurred_at: self.occurred_at,
            received_at: self.received_at,
            door_id: self.door_id,
            kind: &self.kind,
            reader: self.reader.as_deref(),
            direction: self.direction.as_deref(),
            card: self.card.as_deref(),
            outcome: self.outcome.as_deref(),
            reason: self.reason.as_deref(),
            person_id: self.person_id,
            visit_id: self.visit_id,
            credential_id: self.credential_id,
            zone_id: self.zone_id,
            policy_version: self.policy_version,
            released_by: self.released_by,
            release_of: self.release_of,
            trace: self.trace.as_deref(),
        }
    }
}

/// A row of `access_events` with its texts and bytes borrowed from the database's row:
/// the verifier digests each record from it without copying them (decoded exactly as
/// [`EventRow`] is, column by column, so a row that does not decode as one does not as
/// the other).
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct EventRef<'r> {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub seq: i64,
    pub hash: &'r [u8],
    pub payload: &'r [u8],
    #[sqlx(try_from = "StoredTime")]
    pub occurred_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    pub received_at: DateTime<Utc>,
    pub door_id: Option<Uuid>,
    pub kind: &'r str,
    pub reader: Option<&'r str>,
    pub direction: Option<&'r str>,
    pub card: Option<&'r str>,
    pub outcome: Option<&'r str>,
    pub reason: Option<&'r str>,
    pub person_id: Option<Uuid>,
    pub visit_id: Option<Uuid>,
    pub credential_id: Option<Uuid>,
    pub zone_id: Option<Uuid>,
    pub policy_version: Option<i64>,
    pub released_by: Option<Uuid>,
    pub release_of: Option<Uuid>,
    pub trace: Option<&'r str>,
}

impl EventRef<'_> {
    pub fn digest(&self) -> [u8; 32] {
        self.digest_with(&sha256(self.payload))
    }

    /// The digest given the payload's SHA-256.
    pub fn digest_with(&self, payload_sha256: &[u8; 32]) -> [u8; 32] {
        let mut canon = Canon::new(EVENT_DOMAIN);
        self.canonical(&mut canon, payload_sha256);
        canon.finish()
    }

    /// The owned row.
    pub fn to_row(&self) -> EventRow {
        let text = |v: Option<&str>| v.map(str::to_owned);
        EventRow {
            id: self.id,
            agent_id: self.agent_id,
            seq: self.seq,
            hash: self.hash.to_vec(),
            payload: self.payload.to_vec(),
            occurred_at: self.occurred_at,
            received_at: self.received_at,
            door_id: self.door_id,
            kind: self.kind.to_owned(),
            reader: text(self.reader),
            direction: text(self.direction),
            card: text(self.card),
            outcome: text(self.outcome),
            reason: text(self.reason),
            person_id: self.person_id,
            visit_id: self.visit_id,
            credential_id: self.credential_id,
            zone_id: self.zone_id,
            policy_version: self.policy_version,
            released_by: self.released_by,
            release_of: self.release_of,
            trace: text(self.trace),
        }
    }

    fn canonical<S: Sink>(&self, canon: &mut Canon<S>, payload_sha256: &[u8; 32]) {
        canon
            .uuid("id", Some(self.id))
            .uuid("agent_id", Some(self.agent_id))
            .int("seq", Some(self.seq))
            .bytes("agent_hash", Some(self.hash))
            // The payload by its hash, so an export can carry the hash instead.
            .bytes("payload_sha256", Some(payload_sha256))
            .time("occurred_at", Some(self.occurred_at))
            .time("received_at", Some(self.received_at))
            .uuid("door_id", self.door_id)
            .text("kind", Some(self.kind))
            .text("reader", self.reader)
            .text("direction", self.direction)
            .text("card", self.card)
            .text("outcome", self.outcome)
            .text("reason", self.reason)
            .uuid("person_id", self.person_id)
            .uuid("visit_id", self.visit_id)
            .uuid("credential_id", self.credential_id)
            .uuid("zone_id", self.zone_id)
            .int("policy_version", self.policy_version);
        // Added later (migration 0015): committed to only when set, so the digests of
        // the records chained before stay what they were. The fields are named, so a
        // record with them never encodes like one without.
        if self.released_by.is_some() || self.release_of.is_some() {
            canon
                .uuid("released_by", self.released_by)
                .uuid("release_of", self.release_of);
        }
        // Added later still (migration 0019), the same way.
        if self.trace.is_some() {
            canon.text("trace", self.trace);
        }
    }
}

/// A row of `operator_log`. Its `before` and `after` may hold personal data, so the
/// digest commits to them through a salted hash: purging them later (with the salt)
/// leaves that hash, stored in `detail_hash`, and the chain still verifies.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OperatorRow {
    pub id: Uuid,
    #[sqlx(try_from = "StoredTime")]
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub before: Option<Json<Value>>,
    pub after: Option<Json<Value>>,
    pub request_id: Option<String>,
    /// Random, per record; `None` once purged (and on entries older than the chain).
    pub detail_salt: Option<Vec<u8>>,
    /// Set only when `before`/`after` were purged: their salted hash.
    pub detail_hash: Option<Vec<u8>>,
}

impl OperatorRow {
    /// The salted hash of `before` and `after` (the stored one once they are purged).
    pub fn detail_hash(&self) -> Vec<u8> {
        if self.detail_salt.is_none()
            && let Some(stored) = &self.detail_hash
        {
            return stored.clone();
        }
        // serde_json keeps object keys sorted, so the text is canonical and survives
        // PostgreSQL's JSONB reordering.
        let text = |v: &Option<Json<Value>>| v.as_ref().map(|Json(v)| v.to_string());
        Canon::new("gatehouse.audit.operator-detail.v1")
            .bytes("salt", self.detail_salt.as_deref())
            .text("before", text(&self.before).as_deref())
            .text("after", text(&self.after).as_deref())
            .finish()
            .to_vec()
    }

    pub fn digest(&self) -> [u8; 32] {
        Canon::new("gatehouse.audit.operator.v1")
            .uuid("id", Some(self.id))
            .time("at", Some(self.at))
            .uuid("actor_id", self.actor_id)
            .text("actor", Some(&self.actor))
            .text("action", Some(&self.action))
            .text("target_type", Some(&self.target_type))
            .text("target_id", self.target_id.as_deref())
            .text("request_id", self.request_id.as_deref())
            .bytes("detail_hash", Some(&self.detail_hash()))
            .finish()
    }
}

/// A row of `agent_alarms`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlarmRow {
    pub id: Uuid,
    pub agent_id: Uuid,
    #[sqlx(try_from = "StoredTime")]
    pub at: DateTime<Utc>,
    pub kind: String,
    pub detail: String,
}

impl AlarmRow {
    pub fn digest(&self) -> [u8; 32] {
        Canon::new("gatehouse.audit.alarm.v1")
            .uuid("id", Some(self.id))
            .uuid("agent_id", Some(self.agent_id))
            .time("at", Some(self.at))
            .text("kind", Some(&self.kind))
            .text("detail", Some(&self.detail))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn operator_row() -> OperatorRow {
        OperatorRow {
            id: Uuid::from_u128(1),
            at: DateTime::from_timestamp_micros(1_700_000_000_000_001).unwrap_or_default(),
            actor_id: None,
            actor: "cli".into(),
            action: "visit.create".into(),
            target_type: "visit".into(),
            target_id: Some("v".into()),
            before: None,
            after: Some(Json(json!({"visitor_name": "Bo", "b": 1}))),
            request_id: None,
            detail_salt: Some(vec![7; 16]),
            detail_hash: None,
        }
    }

    #[test]
    fn source_names_are_the_stored_ones() {
        use strum::IntoEnumIterator;
        let names: Vec<_> = Source::iter().map(|s| (s, s.as_str())).collect();
        let stored = [
            (Source::Event, "event"),
            (Source::Operator, "operator"),
            (Source::Alarm, "alarm"),
        ];
        assert_eq!(names, stored);
        for source in Source::iter() {
            assert_eq!(Source::parse(source.as_ref()), Some(source));
            assert_eq!(source.to_string(), source.as_ref());
        }
    }

    #[test]
    fn purging_the_detail_keeps_the_digest_and_changing_it_does_not() {
        let row = operator_row();
        let digest = row.digest();
        let purged = OperatorRow {
            before: None,
            after: None,
            detail_salt: None,
            detail_hash: Some(row.detail_hash()),
            ..row.clone()
        };
        assert_eq!(purged.digest(), digest);
        let altered = OperatorRow {
            after: Some(Json(json!({"visitor_name": "Al", "b": 1}))),
            ..row.clone()
        };
        assert_ne!(altered.digest(), digest);
        let other_salt = OperatorRow {
            detail_salt: Some(vec![8; 16]),
            ..row
        };
        assert_ne!(other_salt.digest(), digest);
    }
}
