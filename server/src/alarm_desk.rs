//! What the security desk is told about each kind of alarm: its priority and what to do
//! (`[alarms.priority]` and `[alarms.instructions]` in the configuration, keyed by alarm
//! kind). Every kind has a built-in default (duress and a forced door first); the file
//! changes only the kinds it names, since the configuration merges key by key onto the
//! defaults. Every alarm the API serves carries both ([`AlarmDesk::annotate`]).

use crate::store::{Alarm, AlarmKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use strum::IntoEnumIterator;

/// The most urgent priority; larger numbers are less urgent.
pub const HIGHEST: u8 = 1;
/// The least urgent priority.
pub const LOWEST: u8 = 5;
/// The longest instructions text, in characters.
pub const MAX_INSTRUCTIONS: usize = 2000;

/// Each kind's priority, [`HIGHEST`] (1) to [`LOWEST`] (5) (`[alarms.priority]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Priorities(pub BTreeMap<AlarmKind, u8>);

/// Each kind's instructions for the officer (`[alarms.instructions]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Instructions(pub BTreeMap<AlarmKind, String>);

/// The built-in priority and instructions of `kind`.
fn built_in(kind: AlarmKind) -> (u8, &'static str) {
    use AlarmKind::*;
    match kind {
        Duress => (
            1,
            "Someone at this door is being forced to let someone in. Do not call or approach \
             them in a way that shows the alarm was seen. Call the police, watch the door's \
             camera and follow the duress procedure.",
        ),
        ForcedOpen => (
            1,
            "The door opened without a grant or an exit request. Check the door's camera, \
             send a patrol to the door and find out who went through.",
        ),
        Tamper => (
            2,
            "The reader or controller enclosure was opened. Send a patrol to inspect it; \
             treat the door as unprotected until it is checked.",
        ),
        LockFault => (
            2,
            "The lock did not move when commanded: the door may be open when it should be \
             locked. Send someone to check the door and call maintenance.",
        ),
        AgentOffline => (
            2,
            "The door agent stopped answering. Its doors keep deciding on their own; check \
             its network and power and watch the doors it serves.",
        ),
        PolicyStale => (
            2,
            "The door agent's policy is too old: it refuses every entry. Check its \
             connection to the server.",
        ),
        JournalFull => (
            2,
            "The door agent holds more unsent events than its journal's capacity. Restore \
             its connection to the server before events are lost.",
        ),
        ChainBroken | SeqConflict => (
            2,
            "The door agent's records do not chain as they should: they may have been \
             altered. Keep the agent as it is and tell the system administrator.",
        ),
        HeldOpen => (
            3,
            "The door stayed open past its held-open time. Ask someone nearby to close it \
             or send a patrol.",
        ),
        CredentialNotAuthentic => (
            2,
            "A card that is not genuine was presented: it failed authentication, or it \
             copies a secure card's UID. Check the door's camera, find out who holds the \
             card, and report the credential lost if it has been cloned.",
        ),
        PinLockout => (
            3,
            "Too many wrong PINs: the card is suspended at the door. Check who holds the \
             card before reinstating it.",
        ),
        VisitorCardUnreturned => (
            3,
            "A visitor left without returning the pool card (it no longer opens doors). \
             Call the visitor or their host to get it back, or mark it lost on the visitor \
             cards page.",
        ),
        RepeatedDenials => (
            3,
            "One card was refused again and again. Check the door's camera and who holds \
             the card.",
        ),
        JournalGap => (
            3,
            "Events are missing from the door agent's upload. Tell the system \
             administrator.",
        ),
        AntiPassbackViolation => (
            4,
            "A card entered twice without leaving. Check whether a card was passed back.",
        ),
        ClockOffset => (
            4,
            "The door agent's clock is more than 10 s off. Check its time synchronisation.",
        ),
    }
}

impl Default for Priorities {
    fn default() -> Self {
        Priorities(AlarmKind::iter().map(|k| (k, built_in(k).0)).collect())
    }
}

impl Default for Instructions {
    fn default() -> Self {
        Instructions(
            AlarmKind::iter()
                .map(|k| (k, built_in(k).1.to_owned()))
                .collect(),
        )
    }
}

impl Priorities {
    /// The first bad value: (its key, what is wrong).
    pub fn problem(&self) -> Option<(String, &'static str)> {
        (self.0.iter())
            .find(|(_, p)| !(HIGHEST..=LOWEST).contains(*p))
            .map(|(k, _)| (format!("alarms.priority.{k}"), "must be between 1 and 5"))
    }
}

impl Instructions {
    /// The first bad value: (its key, what is wrong).
    pub fn problem(&self) -> Option<(String, &'static str)> {
        (self.0.iter())
            .find(|(_, text)| text.chars().count() > MAX_INSTRUCTIONS)
            .map(|(k, _)| {
                let key = format!("alarms.instructions.{k}");
                (key, "must be at most 2000 characters")
            })
    }
}

/// Priorities and instructions of every kind, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmDesk {
    pub priority: Priorities,
    pub instructions: Instructions,
}

impl AlarmDesk {
    /// `kind`'s priority (the built-in one for a kind the map lacks).
    pub fn priority(&self, kind: AlarmKind) -> u8 {
        (self.priority.0.get(&kind).copied()).unwrap_or_else(|| built_in(kind).0)
    }

    /// `kind`'s instructions (the built-in ones for a kind the map lacks).
    pub fn instructions(&self, kind: AlarmKind) -> &str {
        (self.instructions.0.get(&kind).map(String::as_str)).unwrap_or_else(|| built_in(kind).1)
    }

    /// Sets `alarm`'s priority and instructions from this configuration.
    pub fn annotate(&self, alarm: &mut Alarm) {
        alarm.priority = self.priority(alarm.kind);
        self.instructions(alarm.kind)
            .clone_into(&mut alarm.instructions);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults, kind by kind: the people-in-danger and broken-door kinds first.
    #[test]
    fn every_kind_has_a_default_and_the_urgent_ones_come_first() {
        let desk = AlarmDesk::default();
        let rows = [
            (AlarmKind::Duress, 1),
            (AlarmKind::ForcedOpen, 1),
            (AlarmKind::Tamper, 2),
            (AlarmKind::AgentOffline, 2),
            (AlarmKind::HeldOpen, 3),
            (AlarmKind::RepeatedDenials, 3),
            (AlarmKind::AntiPassbackViolation, 4),
            (AlarmKind::ClockOffset, 4),
        ];
        for (kind, priority) in rows {
            assert_eq!(desk.priority(kind), priority, "{kind}");
        }
        for kind in AlarmKind::iter() {
            assert!((HIGHEST..=LOWEST).contains(&desk.priority(kind)), "{kind}");
            assert!(!desk.instructions(kind).is_empty(), "{kind}");
        }
        assert_eq!(desk.priority.problem(), None);
        assert_eq!(desk.instructions.problem(), None);
    }

    /// The shipped `config/server.toml` states exactly the built-in defaults.
    #[test]
    fn the_shipped_config_states_the_defaults() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/server.toml");
        let settings = crate::config::Settings::load(Some(&path)).unwrap();
        let desk = AlarmDesk::default();
        assert_eq!(settings.alarms.priority, desk.priority);
        assert_eq!(settings.alarms.instructions, desk.instructions);
    }

    /// A file names the kinds it changes: the others keep their defaults; an unknown kind
    /// or a bad value is refused, naming the key.
    #[test]
    fn a_file_changes_only_the_kinds_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let file = |text: &str| {
            let path = dir.path().join("server.toml");
            std::fs::write(&path, text).unwrap();
            crate::config::Settings::load(Some(&path)).map_err(|e| e.to_string())
        };
        let settings = file(
            "[alarms.priority]\nheld_open = 1\n\
             [alarms.instructions]\nforced_open = \"Call the site manager.\"\n",
        )
        .unwrap();
        let desk = AlarmDesk {
            priority: settings.alarms.priority,
            instructions: settings.alarms.instructions,
        };
        let defaults = AlarmDesk::default();
        assert_eq!(desk.priority(AlarmKind::HeldOpen), 1);
        assert_eq!(
            desk.instructions(AlarmKind::ForcedOpen),
            "Call the site manager."
        );
        for kind in AlarmKind::iter() {
            if kind != AlarmKind::HeldOpen {
                assert_eq!(desk.priority(kind), defaults.priority(kind), "{kind}");
            }
            if kind != AlarmKind::ForcedOpen {
                assert_eq!(
                    desk.instructions(kind),
                    defaults.instructions(kind),
                    "{kind}"
                );
            }
        }
        let unknown = file("[alarms.instructions]\ndoor_forced = \"x\"\n").unwrap_err();
        assert!(unknown.contains("door_forced"), "{unknown}");
        let zero = file("[alarms.priority]\nduress = 0\n").unwrap_err();
        assert!(zero.contains("alarms.priority.duress"), "{zero}");
        let negative = file("[alarms.priority]\nduress = -1\n").unwrap_err();
        assert!(negative.contains("duress"), "{negative}");
    }

    #[test]
    fn bad_values_are_named_by_key() {
        let mut desk = AlarmDesk::default();
        desk.priority.0.insert(AlarmKind::HeldOpen, 0);
        assert_eq!(
            desk.priority.problem().map(|p| p.0),
            Some("alarms.priority.held_open".to_owned())
        );
        desk.instructions
            .0
            .insert(AlarmKind::Tamper, "x".repeat(MAX_INSTRUCTIONS + 1));
        assert_eq!(
            desk.instructions.problem().map(|p| p.0),
            Some("alarms.instructions.tamper".to_owned())
        );
    }
}
