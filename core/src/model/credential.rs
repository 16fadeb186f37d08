//! Credentials: card identifiers (normalised hex), their states and validity, and the
//! optional PIN ([`PinVerifier`]).

use super::pin::PinVerifier;
use super::{Card, Holder, Stamp};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest card identifier accepted, in bytes.
pub(super) const MAX_CARD_BYTES: usize = 32;

/// Longest card identifier accepted as typed, separators included, in characters.
pub const MAX_CARD_CHARS: usize = 128;

/// The card identifiers [`normalize_card`] accepts, as the OpenAPI schemas state them
/// (with `maxLength` [`MAX_CARD_CHARS`]): 1 to 32 pairs of hex digits, with `:`, `-` or
/// spaces anywhere. The schemas' `pattern` attributes must be this literal (a test reads
/// the document), and a property test holds the parser to it.
pub const CARD_PATTERN: &str = "^[:\\- ]*(?:[0-9A-Fa-f][:\\- ]*[0-9A-Fa-f][:\\- ]*){1,32}$";

/// Why a card identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// Nothing but separators.
    #[error("card identifier is empty")]
    Empty,
    /// A character that is neither a hex digit nor a separator.
    #[error("card identifier has a non-hex character {0:?}")]
    NotHex(char),
    /// Hex digits must pair up into bytes.
    #[error("card identifier has an odd number of hex digits")]
    OddLength,
    /// Longer than any card we read.
    #[error("card identifier is longer than {MAX_CARD_BYTES} bytes")]
    TooLong,
    /// Valid, but not in normal form (stored cards must be normalised).
    #[error("card identifier is not normalised (upper-case hex, no separators)")]
    NotNormalised,
}

/// Normalises a card identifier to upper-case hex without separators.
///
/// Accepts `:`, `-` and spaces between digits (`04:a2-2b 9c` → `04A22B9C`), so that the
/// same card typed by an operator and read by a reader maps to one key.
pub fn normalize_card(raw: &str) -> Result<String, CardError> {
    if raw.chars().count() > MAX_CARD_CHARS {
        return Err(CardError::TooLong);
    }
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            ':' | '-' | ' ' => {}
            c if c.is_ascii_hexdigit() => out.push(c.to_ascii_uppercase()),
            c => return Err(CardError::NotHex(c)),
        }
    }
    if out.is_empty() {
        Err(CardError::Empty)
    } else if !out.len().is_multiple_of(2) {
        Err(CardError::OddLength)
    } else if out.len() > MAX_CARD_BYTES * 2 {
        Err(CardError::TooLong)
    } else {
        Ok(out)
    }
}

/// Card technology.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum CardKind {
    /// Identified by its UID alone.
    #[default]
    Uid,
    /// Authenticated by a cryptographic scheme.
    Secure,
}

impl CardKind {
    /// The assurance a presentation of this kind of card proves when it is read as
    /// issued: a UID card its UID, a secure card an authentication with the site's keys.
    pub fn assurance(self) -> Assurance {
        match self {
            CardKind::Uid => Assurance::Uid,
            CardKind::Secure => Assurance::Secure,
        }
    }
}

/// How strongly a credential proves itself, weakest first: a zone's minimum
/// ([`super::Zone::min_assurance`]) is compared with the credential's [`CardKind`].
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum Assurance {
    /// The card's UID, which anyone can read and copy.
    #[default]
    Uid,
    /// The card authenticated itself with the site's keys (it cannot be cloned).
    Secure,
}

impl Assurance {
    /// The wire name, `uid` or `secure` (strum's, equal to serde's).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Lifecycle state of a credential.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum CredentialState {
    /// Usable.
    #[default]
    Active,
    /// Temporarily barred.
    Suspended,
    /// Reported lost.
    Lost,
    /// Withdrawn for good.
    Revoked,
}

/// A card issued to exactly one person or one visit.
///
/// A policy holds one per card (millions at a large site), so its size counts: the card
/// is inline, the validity instants packed ([`Stamp`]) and the PIN verifier, which most
/// credentials lack, out of line (96 bytes, no heap block without a PIN; a test holds
/// it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// Credential id.
    pub id: Uuid,
    /// Card identifier, normalised by [`normalize_card`] (a string on the wire).
    pub card: Card,
    /// Card technology.
    pub kind: CardKind,
    /// Lifecycle state.
    pub state: CredentialState,
    /// Start of validity (inclusive).
    pub valid_from: Option<Stamp>,
    /// End of validity (exclusive).
    pub valid_until: Option<Stamp>,
    /// The person or visit holding it.
    pub holder: Holder,
    /// What checks the PIN, if one was set (boxed: 8 bytes where most have none).
    pub pin: Option<Box<PinVerifier>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The schema's pattern (with its length bound) and the parser accept the same.
        #[test]
        fn the_card_pattern_and_the_parser_agree(raw in "[0-9a-fA-F:\\- xG]{0,140}") {
            let pattern = regex::Regex::new(CARD_PATTERN).unwrap();
            let by_schema = pattern.is_match(&raw) && raw.chars().count() <= MAX_CARD_CHARS;
            prop_assert_eq!(normalize_card(&raw).is_ok(), by_schema, "{:?}", raw);
        }

        /// Every identifier the pattern describes parses (proptest generates from it,
        /// with the separator runs bounded so that most fit the length).
        #[test]
        fn what_the_card_pattern_describes_parses(
            raw in proptest::string::string_regex(
                &CARD_PATTERN.trim_matches(['^', '$']).replace("]*", "]{0,1}"),
            )
            .unwrap()
        ) {
            prop_assume!(raw.chars().count() <= MAX_CARD_CHARS);
            prop_assert!(normalize_card(&raw).is_ok(), "{:?}", raw);
        }
    }

    #[test]
    fn credentials_and_people_stay_small() {
        // A policy holds millions of each (BENCHMARKS.md, "A compact agent").
        assert!(size_of::<Credential>() <= 96, "{}", size_of::<Credential>());
        assert!(size_of::<super::super::Person>() <= 64);
    }

    #[test]
    fn odd_and_separator_only_cards_are_refused_as_the_schema_says() {
        let pattern = regex::Regex::new(CARD_PATTERN).unwrap();
        for raw in ["4469:D", "::", "-", "A", "4469:DX", &"AB".repeat(33)] {
            assert!(normalize_card(raw).is_err(), "{raw}");
            assert!(!pattern.is_match(raw), "{raw}");
        }
        for raw in ["4469:D0", "04:a2-2b 9c", " AB ", &"AB".repeat(32)] {
            assert!(normalize_card(raw).is_ok(), "{raw}");
            assert!(pattern.is_match(raw), "{raw}");
        }
    }

    #[test]
    fn cards_normalise_and_refuse_bad_input() {
        assert_eq!(normalize_card("04:a2-2b 9c").as_deref(), Ok("04A22B9C"));
        assert_eq!(normalize_card("DEADBEEF").as_deref(), Ok("DEADBEEF"));
        assert_eq!(normalize_card(""), Err(CardError::Empty));
        assert_eq!(normalize_card(" : - "), Err(CardError::Empty));
        assert_eq!(normalize_card("abc"), Err(CardError::OddLength));
        assert_eq!(normalize_card("0g"), Err(CardError::NotHex('g')));
        assert_eq!(normalize_card("0x12"), Err(CardError::NotHex('x')));
        assert_eq!(normalize_card("é1"), Err(CardError::NotHex('é')));
        assert!(normalize_card(&"ab".repeat(32)).is_ok());
        assert_eq!(normalize_card(&"ab".repeat(33)), Err(CardError::TooLong));
    }
}
