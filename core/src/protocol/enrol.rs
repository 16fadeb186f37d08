//! Enrolment: the one-time code exchanged for the agent's token and PIN key, the PIN key
//! again for an agent enrolled before there was one, and the public key that verifies
//! policy snapshots (pinned by the agent at enrolment).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An enrolment (`POST /agent/enroll`).
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The enrolment code an admin was given (case, spaces and dashes do not matter).
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub code: String,
    /// The agent's X25519 public key (32 bytes, base64), to which the server seals the
    /// site card keys it sends it (`GET /agent/card-keys`). Optional: agents older than
    /// card keys register one later with `PUT /agent/card-public-key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub card_public_key: Option<String>,
}

/// The enrolled agent: its id, token, doors and PIN key, shown once.
// No `Debug`: it holds the token and the PIN key.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Enrolled {
    pub agent_id: Uuid,
    /// `gha_...`: send as `Authorization: Bearer <token>`. Shown once.
    pub token: String,
    pub door_ids: Vec<Uuid>,
    /// The secret PIN key, base64 (32 bytes): keep it beside the token, never with the
    /// policy snapshot. Also at `GET /agent/pin-key`.
    // Always sent; absent only from servers older than the PIN key (the agent then
    // fetches it at run time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true))]
    pub pin_key: Option<String>,
}

/// The PIN key (`GET /agent/pin-key`).
// No `Debug`: it holds the key.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PinKeyAnswer {
    /// The secret PIN key, base64 (32 bytes).
    pub pin_key: String,
}

/// The key that verifies policy snapshots (`GET /policy/public-key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicKey {
    /// Always `Ed25519`.
    pub algorithm: String,
    /// The 32-byte public key, base64.
    pub public_key: String,
    /// The 8-byte key id carried in every snapshot, hex.
    #[serde(with = "hex::serde")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub key_id: [u8; 8],
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_key_id_is_lower_case_hex_and_the_pin_key_may_be_absent() {
        let key = PublicKey {
            algorithm: "Ed25519".to_owned(),
            public_key: "AAAA".to_owned(),
            key_id: [0xAB, 0, 1, 2, 3, 4, 5, 0xFF],
        };
        let text = serde_json::to_value(&key).unwrap();
        assert_eq!(text["key_id"], "ab000102030405ff");
        assert_eq!(serde_json::from_value::<PublicKey>(text).unwrap(), key);

        let old_server = json!({"agent_id": Uuid::nil(), "token": "t", "door_ids": []});
        let enrolled: Enrolled = serde_json::from_value(old_server).unwrap();
        assert!(enrolled.pin_key.is_none());
    }
}
