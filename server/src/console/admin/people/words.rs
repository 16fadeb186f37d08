//! People's states in words, as the administration pages show them.

use gatehouse_core::model::{CardKind, CredentialState, PersonKind, PersonStatus, VettingStatus};

pub fn kind(kind: PersonKind) -> &'static str {
    match kind {
        PersonKind::Staff => "Staff",
        PersonKind::Contractor => "Contractor",
    }
}

pub fn status(status: PersonStatus) -> &'static str {
    match status {
        PersonStatus::Active => "Active",
        PersonStatus::Suspended => "Suspended",
        PersonStatus::Left => "Left (leaver)",
    }
}

pub fn vetting(status: VettingStatus) -> &'static str {
    match status {
        VettingStatus::Pending => "Pending",
        VettingStatus::Cleared => "Cleared",
        VettingStatus::Expired => "Expired",
        VettingStatus::Revoked => "Revoked",
    }
}

pub fn card_state(state: CredentialState) -> &'static str {
    match state {
        CredentialState::Active => "Active",
        CredentialState::Suspended => "Suspended",
        CredentialState::Lost => "Reported lost",
        CredentialState::Revoked => "Revoked",
    }
}

pub fn card_kind(kind: CardKind) -> &'static str {
    match kind {
        CardKind::Uid => "Card number (UID)",
        CardKind::Secure => "Secure card",
    }
}
