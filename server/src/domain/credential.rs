//! Credentials: a card issued to exactly one person or visit, its identifier normalised
//! (upper-case hex, no separators), an optional validity window and a PIN of 4 to 8 digits
//! kept only as a hash. Whether the card is already issued is the store's to say.

use super::checks::{check_one_of, check_window, stored};
use super::{FieldErrors, accept};
use crate::store::{CredentialChange, NewCredential};
use chrono::{DateTime, Utc};
use gatehouse_core::model::{CardKind, CredentialState, Holder, PinHash, normalize_card};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

/// A credential as a client asks for it.
pub struct CredentialInput {
    /// The holder, when a person (exactly one of `person_id` and `visit_id`).
    pub person_id: Option<Uuid>,
    /// The holder, when a visit.
    pub visit_id: Option<Uuid>,
    /// The card identifier as typed: hex, with `:`, `-` or spaces between digits.
    pub card: String,
    /// `uid` when not given.
    pub kind: Option<CardKind>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    /// In clear text; hashed here.
    pub pin: Option<SecretString>,
}

/// A change to a credential as a client asks for it; `Some(None)` clears.
pub struct CredentialChangeInput {
    pub state: Option<CredentialState>,
    pub valid_from: Option<Option<DateTime<Utc>>>,
    pub valid_until: Option<Option<DateTime<Utc>>>,
    /// In clear text; `Some(None)` removes the PIN.
    pub pin: Option<Option<SecretString>>,
}

impl NewCredential {
    /// The credential to issue: one holder, a normalised card, an ordered window, the
    /// PIN hashed.
    pub fn parse(input: CredentialInput) -> Result<NewCredential, FieldErrors> {
        let mut problems = FieldErrors::new();
        let ids = [input.person_id, input.visit_id];
        check_one_of(&mut problems, ["person_id", "visit_id"], ids);
        let holder = match ids {
            [Some(person), None] => Some(Holder::Person(person)),
            [None, Some(visit)] => Some(Holder::Visit(visit)),
            _ => None,
        };
        let card = normalize_card(&input.card)
            .inspect_err(|e| {
                problems.insert("card".into(), e.to_string());
            })
            .ok();
        check_window(
            &mut problems,
            "valid_until",
            input.valid_from,
            input.valid_until,
        );
        let pin = input.pin.as_ref().map(|p| pin_hash(&mut problems, p));
        match (holder, card) {
            (Some(holder), Some(card)) => accept(problems, || NewCredential {
                card,
                kind: input.kind.unwrap_or_default(),
                holder,
                valid_from: stored(input.valid_from),
                valid_until: stored(input.valid_until),
                pin: pin.flatten(),
            }),
            // Either one was missing, so a problem is recorded for it.
            _ => Err(problems),
        }
    }
}

impl CredentialChange {
    /// The change to make: an ordered window (when both ends are given here), the PIN
    /// hashed.
    pub fn parse(input: CredentialChangeInput) -> Result<CredentialChange, FieldErrors> {
        let mut problems = FieldErrors::new();
        let (from, until) = (input.valid_from.flatten(), input.valid_until.flatten());
        check_window(&mut problems, "valid_until", from, until);
        let pin = input
            .pin
            .map(|p| p.and_then(|p| pin_hash(&mut problems, &p)));
        accept(problems, || CredentialChange {
            state: input.state,
            valid_from: input.valid_from.map(stored),
            valid_until: input.valid_until.map(stored),
            pin,
        })
    }
}

/// Hashes a PIN of 4 to 8 digits, or records why it cannot be one.
fn pin_hash(problems: &mut FieldErrors, pin: &SecretString) -> Option<PinHash> {
    let pin = pin.expose_secret();
    let digits = (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit());
    match digits.then(|| PinHash::generate(pin).ok()).flatten() {
        Some(hash) => Some(hash),
        None => {
            problems.insert("pin".into(), "must be 4 to 8 digits".into());
            None
        }
    }
}
