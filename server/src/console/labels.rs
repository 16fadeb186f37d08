//! Words for the codes the API uses, as people read them.

use crate::store::AlarmKind;
use gatehouse_core::decide::{Check, Outcome, Reason};
use gatehouse_core::model::DoorMode;

pub fn outcome(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Granted => "Granted",
        Outcome::Denied => "Denied",
        Outcome::Pending => "Waiting (escort or second person)",
    }
}

/// A stored outcome and reason in words (`Denied: No access grant for the zone`); a code
/// this server does not know is shown as it is.
pub fn decision(outcome: Option<&str>, reason: Option<&str>) -> String {
    let outcome = outcome.map(|o| o.parse::<Outcome>().map(self::outcome).unwrap_or(o));
    let reason = reason.map(|r| r.parse::<Reason>().map(self::reason).unwrap_or(r));
    match (outcome, reason) {
        (Some(outcome), Some(reason)) => format!("{outcome}: {reason}"),
        (Some(outcome), None) => outcome.to_owned(),
        _ => String::new(),
    }
}

pub fn reason(reason: Reason) -> &'static str {
    match reason {
        Reason::UnknownDoor => "Unknown door",
        Reason::UnknownCredential => "Unknown card",
        Reason::CredentialInactive => "Card not active or not valid now",
        Reason::HolderInactive => "Holder not active",
        Reason::VettingInvalid => "Vetting missing or expired",
        Reason::InsufficientClearance => "Clearance too low",
        Reason::NoGrant => "No access grant for the zone",
        Reason::OutsideSchedule => "Outside the grant's schedule",
        Reason::DoorLocked => "Door locked or site in lockdown",
        Reason::AntiPassback => "Anti-passback",
        Reason::PinRequired => "PIN required",
        Reason::PinIncorrect => "Wrong PIN",
        Reason::EscortRequired => "Escort required",
        Reason::SecondPersonRequired => "Second person required",
        Reason::Granted => "All rules passed",
        Reason::PolicyStale => "Door's policy out of date",
        Reason::ZoneFull => "Zone full",
        Reason::ZoneNotInVisit => "Zone not part of the visit",
        Reason::CredentialNotAuthentic => "Card not authentic (clone or forgery)",
        Reason::AssuranceInsufficient => "Zone needs a secure card",
    }
}

pub fn check(check: Check) -> &'static str {
    match check {
        Check::Door => "Door known",
        Check::Credential => "1. Card known",
        Check::CredentialActive => "2. Card active and valid",
        Check::HolderActive => "3. Holder active",
        Check::Vetting => "4. Vetting",
        Check::Clearance => "5. Clearance",
        Check::Grant => "6. Access grant",
        Check::Schedule => "7. Schedule",
        Check::DoorMode => "8. Door mode and lockdown",
        Check::AntiPassback => "9. Anti-passback",
        Check::Occupancy => "9b. Occupancy",
        Check::Pin => "10. PIN",
        Check::Escort => "11. Escort",
        Check::TwoPerson => "12. Two-person rule",
        Check::Exit => "Exit (never blocked)",
        Check::Policy => "Door's policy current",
        Check::Authenticity => "1b. Card authentic",
        Check::Assurance => "5b. Card assurance",
    }
}

pub fn door_mode(mode: DoorMode) -> &'static str {
    match mode {
        DoorMode::Normal => "Normal",
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
        AlarmKind::VisitorCardUnreturned => "Visitor card not returned",
        AlarmKind::CredentialNotAuthentic => "Card not authentic (clone or forgery)",
    }
}

/// The event kinds a search offers, as `(code, words)`, in the order people look for
/// them: passages first, then door incidents, then the rest.
pub const EVENT_KINDS: [(&str, &str); 19] = [
    ("presentation", "Card presented"),
    (
        "released_entry",
        "Entry released by an escort or second person",
    ),
    ("exit_requested", "Exit button pressed"),
    ("forced_open", "Door forced open"),
    ("held_open", "Door held open"),
    ("held_open_cleared", "Held-open door closed"),
    ("not_opened_after_grant", "Not opened after a grant"),
    ("lock_fault", "Lock fault"),
    ("tamper", "Tamper"),
    ("tamper_cleared", "Tamper cleared"),
    ("reader_error", "Reader error"),
    ("door_opened", "Door opened"),
    ("door_closed", "Door closed"),
    ("remote_command", "Remote command"),
    ("policy_stale", "Door policy out of date"),
    ("journal_full", "Door journal full"),
    ("clock_offset", "Door clock wrong"),
    ("presence_unconfirmed", "Presence feed lost"),
    ("agent_started", "Door agent started"),
];

/// An event kind in words; a kind this server does not know, as it is with spaces.
pub fn event_kind(kind: &str) -> String {
    EVENT_KINDS
        .iter()
        .find(|(code, _)| *code == kind)
        .map_or_else(|| kind.replace('_', " "), |(_, words)| (*words).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn every_event_kind_has_its_own_words() {
        use gatehouse_core::event::EventKind;
        let words: std::collections::HashSet<_> = EVENT_KINDS.iter().map(|k| k.1).collect();
        assert_eq!(words.len(), EVENT_KINDS.len());
        let codes: std::collections::HashSet<_> = EVENT_KINDS.iter().map(|k| k.0).collect();
        assert_eq!(codes.len(), EVENT_KINDS.len());
        for kind in [
            EventKind::Tamper,
            EventKind::AgentStarted,
            EventKind::ExitRequested,
        ] {
            assert!(codes.contains(kind.name()), "{}", kind.name());
        }
        for incident in crate::store::INCIDENT_KINDS {
            assert!(codes.contains(incident), "{incident}");
        }
    }

    #[test]
    fn every_alarm_kind_has_its_own_words() {
        let labels: std::collections::HashSet<_> = AlarmKind::iter().map(alarm_kind).collect();
        assert_eq!(labels.len(), AlarmKind::iter().count());
    }
}
