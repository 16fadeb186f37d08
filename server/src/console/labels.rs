//! Words for the codes the API uses, as people read them.

use crate::store::AlarmKind;
use gatehouse_core::model::DoorMode;

pub fn door_mode(mode: DoorMode) -> &'static str {
    match mode {
        DoorMode::Normal => "Normal (cards decide)",
        DoorMode::Locked => "Locked",
        DoorMode::Unlocked => "Unlocked",
    }
}

pub fn alarm_kind(kind: AlarmKind) -> &'static str {
    match kind {
        AlarmKind::ForcedOpen => "Door forced open",
        AlarmKind::HeldOpen => "Door held open",
        AlarmKind::Duress => "Duress",
        AlarmKind::PinLockout => "PIN lock-out",
        AlarmKind::AntiPassbackViolation => "Anti-passback violation",
        AlarmKind::LockFault => "Lock fault",
        AlarmKind::Tamper => "Tamper",
        AlarmKind::PolicyStale => "Door policy out of date",
        AlarmKind::JournalFull => "Door journal full",
        AlarmKind::ClockOffset => "Door clock wrong",
        AlarmKind::JournalGap => "Events missing from a door",
        AlarmKind::ChainBroken => "Door records do not chain",
        AlarmKind::SeqConflict => "Door record reused",
        AlarmKind::AgentOffline => "Door agent offline",
        AlarmKind::RepeatedDenials => "Repeated denials",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn every_alarm_kind_has_its_own_words() {
        let labels: std::collections::HashSet<_> = AlarmKind::iter().map(alarm_kind).collect();
        assert_eq!(labels.len(), AlarmKind::iter().count());
    }
}
