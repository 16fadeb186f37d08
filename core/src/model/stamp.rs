//! [`Stamp`]: an instant held in 10 bytes, exactly the `DateTime<Utc>` it was made from.
//!
//! A credential carries two optional instants (its validity), and a policy millions of
//! credentials. `Option<DateTime<Utc>>` is 12 bytes; `Option<Stamp>` is 10, which with
//! the other fields takes a credential from 104 to 96 bytes (15 MiB at 2,000,000
//! credentials). Nothing is rounded: the seconds since the epoch and the nanoseconds
//! (leap seconds included) are both kept, and on the wire it is the `DateTime<Utc>`
//! itself, so decisions, snapshots and signatures are what they were.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::num::NonZeroU8;

/// An instant, as exact as `DateTime<Utc>` (see the module documentation).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    /// Bits 0 to 71 of the packed value (little-endian).
    low: [u8; 9],
    /// Bits 72 to 78, and bit 7 always set: the niche that keeps `Option<Stamp>` at
    /// 10 bytes.
    high: NonZeroU8,
}

/// Added to the seconds so that every instant chrono represents (about ±262,000
/// years, under 2^43 seconds) packs unsigned in 48 bits.
const SECONDS_OFFSET: i64 = 1 << 47;
/// The nanoseconds take 31 bits (a leap second's reach up to 1,999,999,999).
const NANO_BITS: u32 = 31;
const MARK: u8 = 0x80;

impl Stamp {
    /// The instant.
    pub fn get(self) -> DateTime<Utc> {
        let mut bytes = [0u8; 16];
        for (to, from) in bytes.iter_mut().zip(self.low) {
            *to = from;
        }
        if let Some(top) = bytes.get_mut(9) {
            *top = self.high.get() & !MARK;
        }
        let packed = u128::from_le_bytes(bytes);
        let nanos = u32::try_from(packed & ((1 << NANO_BITS) - 1)).unwrap_or(0);
        let seconds = i64::try_from(packed >> NANO_BITS).unwrap_or(0) - SECONDS_OFFSET;
        // Only `from` makes a stamp, so every one decodes; should one not, the earliest
        // instant makes a validity end refuse rather than admit.
        DateTime::from_timestamp(seconds, nanos).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

impl From<DateTime<Utc>> for Stamp {
    fn from(at: DateTime<Utc>) -> Stamp {
        let seconds = u128::try_from(at.timestamp() + SECONDS_OFFSET).unwrap_or(0);
        let packed = seconds << NANO_BITS | u128::from(at.timestamp_subsec_nanos());
        let bytes = packed.to_le_bytes();
        let mut low = [0u8; 9];
        low.copy_from_slice(bytes.get(..9).unwrap_or(&[0; 9]));
        let top = bytes.get(9).copied().unwrap_or(0);
        Stamp {
            low,
            high: NonZeroU8::new(top | MARK).unwrap_or(NonZeroU8::MAX),
        }
    }
}

impl From<Stamp> for DateTime<Utc> {
    fn from(stamp: Stamp) -> DateTime<Utc> {
        stamp.get()
    }
}

impl PartialEq<DateTime<Utc>> for Stamp {
    fn eq(&self, other: &DateTime<Utc>) -> bool {
        self.get() == *other
    }
}

impl PartialOrd for Stamp {
    fn partial_cmp(&self, other: &Stamp) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Stamp {
    fn cmp(&self, other: &Stamp) -> std::cmp::Ordering {
        self.get().cmp(&other.get())
    }
}

impl fmt::Debug for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.get(), f)
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.get(), f)
    }
}

impl Serialize for Stamp {
    /// As the `DateTime<Utc>` (so the bytes are the same).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Stamp, D::Error> {
        DateTime::<Utc>::deserialize(deserializer).map(Stamp::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn instants() -> Vec<DateTime<Utc>> {
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
            .unwrap()
            .and_utc();
        vec![
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::UNIX_EPOCH,
            DateTime::from_timestamp(-1, 999_999_999).unwrap(),
            "2026-12-07T09:00:00.123456789Z".parse().unwrap(),
            leap,
        ]
    }

    #[test]
    fn a_stamp_is_its_instant_exactly_and_small() {
        for at in instants() {
            assert_eq!(Stamp::from(at).get(), at, "{at:?}");
            let stamp = Some(Stamp::from(at));
            let dated = Some(at);
            assert_eq!(
                postcard::to_allocvec(&stamp).unwrap(),
                postcard::to_allocvec(&dated).unwrap()
            );
            assert_eq!(
                serde_json::to_string(&stamp).unwrap(),
                serde_json::to_string(&dated).unwrap()
            );
            let bytes = postcard::to_allocvec(&dated).unwrap();
            assert_eq!(
                postcard::from_bytes::<Option<Stamp>>(&bytes).unwrap(),
                stamp
            );
        }
        assert_eq!(size_of::<Option<Stamp>>(), 10);
    }

    proptest! {
        #[test]
        fn stamps_keep_instants_and_their_order(
            a in -8_000_000_000_000i64..8_000_000_000_000,
            an in 0u32..1_000_000_000,
            b in -8_000_000_000_000i64..8_000_000_000_000,
            bn in 0u32..1_000_000_000,
        ) {
            let (a, b) = (
                DateTime::from_timestamp(a, an).unwrap(),
                DateTime::from_timestamp(b, bn).unwrap(),
            );
            prop_assert_eq!(Stamp::from(a).get(), a);
            prop_assert_eq!(Stamp::from(a).cmp(&Stamp::from(b)), a.cmp(&b));
        }
    }
}
