//! [`Card`]: a normalised card identifier held inline, as its bytes.
//!
//! A policy holds one per credential (2,000,000 at a large site). As a `String` each
//! was 24 bytes plus a heap block (32 bytes from glibc for a 14-digit UID); as bytes
//! inline it is 33, with no allocation. On the wire it is the same upper-case hex
//! string as before, so snapshots and deltas keep their bytes and signatures.

use super::credential::{CardError, MAX_CARD_BYTES, normalize_card};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A card identifier in normal form: 1 to 32 bytes, shown as upper-case hex without
/// separators (what [`normalize_card`] produces).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Card {
    /// Bytes in use (1 to [`MAX_CARD_BYTES`]).
    len: u8,
    /// The identifier's bytes, zero after `len` (so derived equality and hashing hold).
    bytes: [u8; MAX_CARD_BYTES],
}

/// Room for the hex form of the longest card.
type HexBuffer = [u8; MAX_CARD_BYTES * 2];

impl Card {
    /// The card a normalised identifier names; `None` for anything not in normal form
    /// (lower case, separators, odd length, empty, too long). Allocates nothing: the
    /// engine looks every presented card up through this.
    pub fn from_normalised(hex: &str) -> Option<Card> {
        let digits = hex.as_bytes();
        if digits.is_empty() || !digits.len().is_multiple_of(2) {
            return None;
        }
        let mut card = Card {
            len: u8::try_from(digits.len() / 2).ok()?,
            bytes: [0; MAX_CARD_BYTES],
        };
        if usize::from(card.len) > MAX_CARD_BYTES {
            return None;
        }
        for (byte, pair) in card.bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let [high, low] = pair else { return None };
            *byte = upper_hex_value(*high)? << 4 | upper_hex_value(*low)?;
        }
        Some(card)
    }

    /// Normalises an identifier as typed (`04:a2-2b 9c`) into a card; see
    /// [`normalize_card`] for what is accepted.
    pub fn normalize(raw: &str) -> Result<Card, CardError> {
        // Normal form needs no second pass (and no allocation).
        if let Some(card) = Card::from_normalised(raw) {
            return Ok(card);
        }
        let normal = normalize_card(raw)?;
        Card::from_normalised(&normal).ok_or(CardError::NotNormalised)
    }

    /// The identifier's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Writes the hex form into `buffer`; returns it as text.
    fn hex<'b>(&self, buffer: &'b mut HexBuffer) -> &'b str {
        let digit = |value: u8| match value {
            0..=9 => b'0' + value,
            _ => b'A' + value - 10,
        };
        for (pair, byte) in buffer.chunks_exact_mut(2).zip(self.as_bytes()) {
            if let [high, low] = pair {
                *high = digit(byte >> 4);
                *low = digit(byte & 0xF);
            }
        }
        let used = buffer.get(..self.as_bytes().len() * 2).unwrap_or(&[]);
        // Only ASCII hex digits were written.
        std::str::from_utf8(used).unwrap_or_default()
    }
}

/// The value of an upper-case hex digit (normal form has no lower case).
fn upper_hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex(&mut [0; MAX_CARD_BYTES * 2]))
    }
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As the `String` it replaces showed it.
        fmt::Debug::fmt(self.hex(&mut [0; MAX_CARD_BYTES * 2]), f)
    }
}

impl std::str::FromStr for Card {
    type Err = CardError;

    /// Parses an identifier as typed (see [`Card::normalize`]).
    fn from_str(raw: &str) -> Result<Card, CardError> {
        Card::normalize(raw)
    }
}

impl PartialEq<str> for Card {
    fn eq(&self, other: &str) -> bool {
        Card::from_normalised(other).is_some_and(|c| c == *self)
    }
}

impl PartialEq<String> for Card {
    fn eq(&self, other: &String) -> bool {
        *self == **other
    }
}

impl PartialEq<&str> for Card {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl From<Card> for String {
    fn from(card: Card) -> String {
        card.to_string()
    }
}

impl Serialize for Card {
    /// The upper-case hex string, byte for byte what the `String` was.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.hex(&mut [0; MAX_CARD_BYTES * 2]))
    }
}

impl<'de> Deserialize<'de> for Card {
    /// Only the normal form: a policy's cards were normalised when they were stored.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Card, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Card;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a normalised card identifier (1 to 32 bytes in upper-case hex)")
            }

            fn visit_str<E: serde::de::Error>(self, hex: &str) -> Result<Card, E> {
                Card::from_normalised(hex).ok_or_else(|| {
                    let error = normalize_card(hex)
                        .err()
                        .unwrap_or(CardError::NotNormalised);
                    E::custom(format_args!("card {hex:?}: {error}"))
                })
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_is_its_normal_form_and_nothing_else() {
        let card = Card::from_normalised("04A22B9C").unwrap();
        assert_eq!(card.as_bytes(), &[0x04, 0xA2, 0x2B, 0x9C]);
        assert_eq!(card.to_string(), "04A22B9C");
        assert_eq!(format!("{card:?}"), "\"04A22B9C\"");
        assert_eq!(card, "04A22B9C");
        assert_ne!(card, "04a22b9c");
        for bad in ["", "0", "04a2", "04:A2", "0G", &"AB".repeat(33), "é1"] {
            assert_eq!(Card::from_normalised(bad), None, "{bad:?}");
        }
        let longest = "AB".repeat(32);
        assert_eq!(
            Card::from_normalised(&longest).unwrap().to_string(),
            longest
        );
        assert_ne!(
            Card::from_normalised("0400"),
            Card::from_normalised("04"),
            "trailing zero bytes count"
        );
    }

    #[test]
    fn typed_cards_normalise_as_normalize_card_does() {
        for raw in ["04:a2-2b 9c", "DEADBEEF", " AB ", &"ab".repeat(32)] {
            let card = Card::normalize(raw).unwrap();
            assert_eq!(card.to_string(), normalize_card(raw).unwrap(), "{raw:?}");
        }
        for raw in ["", "abc", "0x12", &"ab".repeat(33)] {
            assert_eq!(
                Card::normalize(raw).err(),
                normalize_card(raw).err(),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn on_the_wire_a_card_is_the_string_it_was() {
        for hex in ["04A22B9C", "00", &"F0".repeat(32)] {
            let card = Card::from_normalised(hex).unwrap();
            let as_string = hex.to_string();
            assert_eq!(
                postcard::to_allocvec(&card).unwrap(),
                postcard::to_allocvec(&as_string).unwrap()
            );
            assert_eq!(serde_json::to_string(&card).unwrap(), format!("\"{hex}\""));
            let bytes = postcard::to_allocvec(&as_string).unwrap();
            assert_eq!(postcard::from_bytes::<Card>(&bytes).unwrap(), card);
            let json = serde_json::to_string(&as_string).unwrap();
            assert_eq!(serde_json::from_str::<Card>(&json).unwrap(), card);
        }
        let refused = serde_json::from_str::<Card>("\"04:a2\"").unwrap_err();
        assert!(refused.to_string().contains("04:a2"), "{refused}");
        assert!(postcard::from_bytes::<Card>(&postcard::to_allocvec("a1").unwrap()).is_err());
    }
}
