//! The canonical, unambiguous encoding that record digests, chain hashes and checkpoint
//! signatures are computed over. Each field is written as its name, whether it is
//! present, and its length-prefixed bytes, so no two different records encode alike.
//! Times are whole microseconds since the Unix epoch (both databases keep microseconds).

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

/// Where canonical bytes go: a SHA-256 (digests) or a buffer (to see or measure the
/// exact bytes a digest is computed over, as the audit_trail bench's hashing baseline).
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A SHA-256 over named fields, begun with a domain tag saying what is hashed (or,
/// with another [`Sink`], those bytes themselves).
pub struct Canon<S: Sink = Sha256>(S);

impl Canon {
    pub fn new(domain: &str) -> Canon {
        Canon::to(Sha256::new(), domain)
    }

    pub fn finish(&mut self) -> [u8; 32] {
        std::mem::take(&mut self.0).finalize().into()
    }
}

impl<S: Sink> Canon<S> {
    /// The encoding written to `sink`, begun with the domain tag.
    pub fn to(mut sink: S, domain: &str) -> Canon<S> {
        sink.put(domain.as_bytes());
        sink.put(&[0]);
        Canon(sink)
    }

    /// The sink, with everything written so far.
    pub fn into_sink(self) -> S {
        self.0
    }

    pub fn bytes(&mut self, name: &str, value: Option<&[u8]>) -> &mut Canon<S> {
        // Names are short constants of this module's callers (well under 256 bytes).
        self.0.put(&[name.len() as u8]);
        self.0.put(name.as_bytes());
        match value {
            None => self.0.put(&[0]),
            Some(v) => {
                self.0.put(&[1]);
                self.0.put(&(v.len() as u64).to_be_bytes());
                self.0.put(v);
            }
        }
        self
    }

    pub fn text(&mut self, name: &str, value: Option<&str>) -> &mut Canon<S> {
        self.bytes(name, value.map(str::as_bytes))
    }

    pub fn uuid(&mut self, name: &str, value: Option<Uuid>) -> &mut Canon<S> {
        self.bytes(name, value.as_ref().map(|u| &u.as_bytes()[..]))
    }

    pub fn int(&mut self, name: &str, value: Option<i64>) -> &mut Canon<S> {
        self.bytes(name, value.map(i64::to_be_bytes).as_ref().map(|b| &b[..]))
    }

    pub fn time(&mut self, name: &str, value: Option<DateTime<Utc>>) -> &mut Canon<S> {
        self.int(name, value.map(|t| t.timestamp_micros()))
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
