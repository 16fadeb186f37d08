//! The door's local state that the stateful rules read and write: who is inside which
//! zone (anti-passback, occupancy), pending escort and two-person requests, PIN failure counts and
//! credentials suspended at the door. The engine touches nothing else, so the agent and
//! the server, given the same state, decide the same.

use crate::model::Holder;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;
use uuid::Uuid;

/// Where a holder was last let in (or out) to, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// The zone the holder is in.
    pub zone_id: Uuid,
    /// When they passed into it.
    pub since: DateTime<Utc>,
}

/// Who is where: holder id (person or visit) → their [`Presence`], read as a map.
///
/// Alongside it, how many holders each zone holds (their last recorded zone exactly), so
/// the occupancy rule sums a few zones instead of looking at every holder. Only
/// [`Presences::insert`] and [`Presences::remove`] change it, and they keep both in
/// step; equality and the serialised form are the map's alone.
#[derive(Debug, Clone, Default)]
pub struct Presences {
    by_holder: BTreeMap<Uuid, Presence>,
    per_zone: BTreeMap<Uuid, usize>,
}

impl Presences {
    /// Records where `holder` is, returning where they were.
    pub fn insert(&mut self, holder: Uuid, presence: Presence) -> Option<Presence> {
        let before = self.by_holder.insert(holder, presence);
        if let Some(before) = before {
            self.uncount(before.zone_id);
        }
        *self.per_zone.entry(presence.zone_id).or_default() += 1;
        before
    }

    /// Forgets where `holder` is, returning where they were.
    pub fn remove(&mut self, holder: &Uuid) -> Option<Presence> {
        let before = self.by_holder.remove(holder)?;
        self.uncount(before.zone_id);
        Some(before)
    }

    /// Every zone some holder is in, with how many (zones within it not included).
    pub fn per_zone(&self) -> impl Iterator<Item = (Uuid, usize)> + '_ {
        self.per_zone.iter().map(|(&zone, &n)| (zone, n))
    }

    fn uncount(&mut self, zone: Uuid) {
        if let Some(n) = self.per_zone.get_mut(&zone) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_zone.remove(&zone);
            }
        }
    }
}

impl Deref for Presences {
    type Target = BTreeMap<Uuid, Presence>;

    fn deref(&self) -> &Self::Target {
        &self.by_holder
    }
}

impl From<BTreeMap<Uuid, Presence>> for Presences {
    fn from(by_holder: BTreeMap<Uuid, Presence>) -> Self {
        let mut per_zone = BTreeMap::<Uuid, usize>::new();
        for p in by_holder.values() {
            *per_zone.entry(p.zone_id).or_default() += 1;
        }
        Presences {
            by_holder,
            per_zone,
        }
    }
}

impl PartialEq for Presences {
    fn eq(&self, other: &Self) -> bool {
        self.by_holder == other.by_holder
    }
}

impl Eq for Presences {}

impl Serialize for Presences {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.by_holder.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Presences {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::deserialize(deserializer).map(Presences::from)
    }
}

/// What a pending presentation waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum PendingKind {
    /// A visitor waiting for an escort.
    Escort,
    /// The first of two people in a two-person zone.
    TwoPerson,
}

/// A presentation held pending at a door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRequest {
    /// What it waits for.
    pub kind: PendingKind,
    /// Who waits.
    pub holder: Holder,
    /// With which credential.
    pub credential_id: Uuid,
    /// The instant it lapses (exclusive: a badge at exactly this instant is too late).
    pub expires_at: DateTime<Utc>,
}

/// Local state of the stateful rules, passed into and updated by every decision.
///
/// Ordered maps keep the serialised form deterministic, so two equal states encode to
/// equal bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineState {
    /// Holder id (person or visit) → where they are.
    pub presence: Presences,
    /// Door id → requests pending there, oldest first.
    pub pending: BTreeMap<Uuid, Vec<PendingRequest>>,
    /// Credential id → consecutive wrong PINs.
    pub pin_failures: BTreeMap<Uuid, u8>,
    /// Credentials suspended at the door after too many wrong PINs.
    pub pin_suspended: BTreeSet<Uuid>,
    /// Whether `presence` may be out of date: a door agent that has lost the server's
    /// feed of who is where cannot know whether a holder it saw enter has left through
    /// another agent's door, so hard anti-passback is applied as soft (granted, with the
    /// alarm) until the feed is back. Set by the caller before deciding; not saved.
    #[serde(skip)]
    pub presence_unconfirmed: bool,
}

impl EngineState {
    /// Lifts a PIN suspension (an operator's decision, after the alarm).
    pub fn reinstate(&mut self, credential_id: Uuid) {
        self.pin_suspended.remove(&credential_id);
        self.pin_failures.remove(&credential_id);
    }

    /// Takes in where the server last saw `holder` pass to (`zone_id` `None`: into a
    /// zone this state does not cover), unless this state knows of a passage as recent
    /// or later.
    pub fn learn_presence(&mut self, holder: Uuid, zone_id: Option<Uuid>, since: DateTime<Utc>) {
        if self.presence.get(&holder).is_some_and(|p| p.since >= since) {
            return;
        }
        match zone_id {
            Some(zone_id) => {
                self.presence.insert(holder, Presence { zone_id, since });
            }
            None => {
                self.presence.remove(&holder);
            }
        }
    }

    /// Records that `holder` passed into `zone_id` at `at`.
    pub(crate) fn enter(&mut self, holder: Holder, zone_id: Uuid, since: DateTime<Utc>) {
        self.presence
            .insert(holder.id(), Presence { zone_id, since });
    }

    /// Drops the requests at `door` that have lapsed by `at`.
    pub(crate) fn expire(&mut self, door: Uuid, at: DateTime<Utc>) {
        if let Some(list) = self.pending.get_mut(&door) {
            list.retain(|r| at < r.expires_at);
            if list.is_empty() {
                self.pending.remove(&door);
            }
        }
    }

    /// Holds `request` at `door`, replacing an earlier one by the same holder (the same
    /// person badging twice is still one person).
    pub(crate) fn hold(&mut self, door: Uuid, request: PendingRequest) {
        let list = self.pending.entry(door).or_default();
        list.retain(|r| r.holder != request.holder);
        list.push(request);
    }

    /// Removes and returns the oldest request at `door` that `accept` takes.
    pub(crate) fn take(
        &mut self,
        door: Uuid,
        accept: impl Fn(&PendingRequest) -> bool,
    ) -> Option<PendingRequest> {
        let list = self.pending.get_mut(&door)?;
        let i = list.iter().position(accept)?;
        let request = list.remove(i);
        if list.is_empty() {
            self.pending.remove(&door);
        }
        Some(request)
    }

    /// Counts a wrong PIN; returns the count, and whether the credential is now
    /// suspended (`max` 0 disables suspension).
    pub(crate) fn pin_failed(&mut self, credential_id: Uuid, max: u8) -> (u8, bool) {
        let count = self.pin_failures.entry(credential_id).or_default();
        *count = count.saturating_add(1);
        let n = *count;
        if max > 0 && n >= max {
            self.pin_failures.remove(&credential_id);
            self.pin_suspended.insert(credential_id);
            (n, true)
        } else {
            (n, false)
        }
    }

    /// A correct (or duress) PIN ends a run of failures.
    pub(crate) fn pin_ok(&mut self, credential_id: Uuid) {
        self.pin_failures.remove(&credential_id);
    }
}

/// `at + seconds`, saturating instead of overflowing at the end of time.
pub(crate) fn plus_seconds(at: DateTime<Utc>, seconds: u32) -> DateTime<Utc> {
    at.checked_add_signed(Duration::seconds(i64::from(seconds)))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
