//! Event upload: the agent's journal records, oldest first, and what the server made of
//! them. A record's `hash` links it to the one before (see [`crate::event::chain_hash`]).

use serde::{Deserialize, Serialize};

use super::time::Timestamp;

/// Journal records uploaded (`POST /agent/events`).
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Upload {
    /// The agent's clock when it sent this (RFC 3339).
    pub agent_time: Timestamp,
    /// Up to 1,000 journal records, in any order.
    #[cfg_attr(feature = "openapi", schema(max_items = 1000))]
    pub records: Vec<UploadedRecord>,
}

/// One journal record as uploaded.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UploadedRecord {
    /// The agent's sequence number, from 1, without gaps.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub seq: u64,
    /// `postcard(DoorEvent)`, base64 (at most 64 KiB decoded).
    pub payload: String,
    /// `chain_hash(previous hash, seq, payload)`, 64 hex digits.
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, pattern = "^[0-9a-fA-F]{64}$")
    )]
    pub hash: HexHash,
}

/// What the 422 says of a hash that is not 64 hex digits.
pub const HASH_EXPECTED: &str = "must be 64 hex digits";

/// A chain hash as sent: written as 64 lower-case hex digits, read as any string, so
/// that the server refuses a malformed one ([`HASH_EXPECTED`]) in the order of its
/// other checks of the record rather than while reading the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HexHash(String);

impl HexHash {
    pub fn new(hash: &[u8; 32]) -> HexHash {
        HexHash(hex::encode(hash))
    }

    /// The 32 bytes, when the text is 64 hex digits (either case).
    pub fn bytes(&self) -> Option<[u8; 32]> {
        hex::FromHex::from_hex(self.0.as_bytes()).ok()
    }
}

/// What an upload achieved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestOutcome {
    /// The last sequence number processed (stored now or before); `null` when the first
    /// record already failed. Nothing after a failed record is acknowledged.
    pub acked_through: Option<u64>,
    pub stored: u32,
    pub duplicates: u32,
}

/// The answer to an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadAnswer {
    #[serde(flatten)]
    pub outcome: IngestOutcome,
    /// Server clock minus `agent_time`; beyond ±10 s the agent is alarmed.
    pub clock_offset_ms: i64,
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn record(hash: Value) -> Result<UploadedRecord, String> {
        serde_json::from_value(json!({"seq": 1, "payload": "", "hash": hash}))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn hashes_are_lower_case_hex_out_and_either_case_in() {
        let mut hash = [0u8; 32];
        hash[0] = 0xAB;
        hash[31] = 0x0F;
        let sent = UploadedRecord {
            seq: 7,
            payload: "AAEC".to_owned(),
            hash: HexHash::new(&hash),
        };
        let text = serde_json::to_string(&sent).unwrap();
        let lower = format!("ab{}0f", "00".repeat(30));
        assert_eq!(
            text,
            format!(r#"{{"seq":7,"payload":"AAEC","hash":"{lower}"}}"#)
        );
        assert_eq!(
            record(json!(lower.to_uppercase())).unwrap().hash.bytes(),
            Some(hash)
        );
    }

    #[test]
    fn a_hash_that_is_not_64_hex_digits_is_refused_by_name() {
        for bad in [
            json!("+f".repeat(32)),
            json!("0".repeat(63)),
            json!("0".repeat(65)),
            json!("0".repeat(128)),
            json!(""),
            json!("é".repeat(32)),
        ] {
            assert_eq!(record(bad.clone()).unwrap().hash.bytes(), None, "{bad}");
        }
        let error = record(json!(5)).err().unwrap_or_default();
        assert!(
            error.contains("invalid type: integer `5`, expected a string"),
            "{error}"
        );
    }

    #[test]
    fn the_answer_is_flat() {
        let answer = UploadAnswer {
            outcome: IngestOutcome {
                acked_through: Some(3),
                stored: 2,
                duplicates: 1,
            },
            clock_offset_ms: -5,
        };
        let text = serde_json::to_value(&answer).unwrap();
        assert_eq!(
            text,
            json!({"acked_through": 3, "stored": 2, "duplicates": 1, "clock_offset_ms": -5})
        );
        assert_eq!(
            serde_json::from_value::<UploadAnswer>(text).unwrap(),
            answer
        );
    }
}
