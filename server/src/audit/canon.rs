//! The canonical, unambiguous encoding that record digests, chain hashes and checkpoint
//! signatures are computed over. Each field is written as its name, whether it is
//! present, and its length-prefixed bytes, so no two different records encode alike.
//! Times are whole microseconds since the Unix epoch (both databases keep microseconds).

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

/// A SHA-256 over named fields, begun with a domain tag saying what is hashed.
pub struct Canon(Sha256);

impl Canon {
    pub fn new(domain: &str) -> Canon {
        let mut hasher = Sha256::new();
        hasher.update(domain.as_bytes());
        hasher.update([0]);
        Canon(hasher)
    }

    pub fn bytes(&mut self, name: &str, value: Option<&[u8]>) -> &mut Canon {
        // Names are short constants of this module's callers (well under 256 bytes).
        self.0.update([name.len() as u8]);
        self.0.update(name.as_bytes());
        match value {
            None => self.0.update([0]),
            Some(v) => {
                self.0.update([1]);
                self.0.update((v.len() as u64).to_be_bytes());
                self.0.update(v);
            }
        }
        self
    }

    pub fn text(&mut self, name: &str, value: Option<&str>) -> &mut Canon {
        self.bytes(name, value.map(str::as_bytes))
    }

    pub fn uuid(&mut self, name: &str, value: Option<Uuid>) -> &mut Canon {
        self.bytes(name, value.as_ref().map(|u| &u.as_bytes()[..]))
    }

    pub fn int(&mut self, name: &str, value: Option<i64>) -> &mut Canon {
        self.bytes(name, value.map(i64::to_be_bytes).as_ref().map(|b| &b[..]))
    }

    pub fn time(&mut self, name: &str, value: Option<DateTime<Utc>>) -> &mut Canon {
        self.int(name, value.map(|t| t.timestamp_micros()))
    }

    pub fn finish(&mut self) -> [u8; 32] {
        std::mem::take(&mut self.0).finalize().into()
    }
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_empty_and_moved_values_hash_differently() {
        let digest = |f: &dyn Fn(&mut Canon)| {
            let mut c = Canon::new("t");
            f(&mut c);
            c.finish()
        };
        let all = [
            digest(&|c| {
                c.text("a", None);
            }),
            digest(&|c| {
                c.text("a", Some(""));
            }),
            digest(&|c| {
                c.text("a", Some("xy")).text("b", None);
            }),
            digest(&|c| {
                c.text("a", Some("x")).text("b", Some("y"));
            }),
            digest(&|c| {
                c.text("b", Some("x")).text("a", Some("y"));
            }),
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let mut other_domain = Canon::new("u");
        other_domain.text("a", None);
        assert_ne!(other_domain.finish(), all[0]);
    }
}
