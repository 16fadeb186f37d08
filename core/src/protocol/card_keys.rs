//! Site card keys on their way to a door agent (issue 15): the agent's X25519 key pair,
//! the sealed box that carries one site key version's read and UID keys to that agent
//! alone, and the wire types of `PUT /agent/card-public-key` and `GET /agent/card-keys`.
//!
//! Sealing (server side, [`seal`]): a fresh ephemeral X25519 key pair per box, ECDH with
//! the agent's public key, HKDF-SHA256 (salt: both public keys) to one AES-256-GCM key,
//! which encrypts `read key ‖ UID key` once (so a fixed nonce is safe). The associated
//! data binds the agent id, the site id and the key version: a box made for another
//! agent, another site or another version does not open ([`open`]), nor does one with a
//! flipped bit. A low-order public key (an all-zero shared secret) is refused on both
//! sides. The card master (write) key is never sealed: no type here can carry it.
//!
//! Why not the policy snapshot: it is signed, not encrypted, and every agent of a site
//! may read it; these keys are secret and each agent gets its own box.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;
use x25519_dalek::{EphemeralSecret, PublicKey, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The header on every policy long-poll answer (200 and 204) carrying the server's card
/// key-set number: when it differs from the agent's, the agent fetches its keys again.
pub const CARD_KEY_SET_HEADER: &str = "x-card-key-set";

/// Domain separation for the HKDF info and the associated data.
const LABEL: &[u8] = b"gatehouse card keys v1";
/// Length of an AES-128 card key.
pub const CARD_KEY_LEN: usize = 16;
/// Length of an X25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of a sealed box: ephemeral public key, both keys, the GCM tag.
pub const SEALED_LEN: usize = PUBLIC_KEY_LEN + 2 * CARD_KEY_LEN + 16;

/// An agent's X25519 public key (`PUT /agent/card-public-key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CardPublicKey {
    /// The 32-byte X25519 public key, base64.
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub public_key: String,
}

/// The agent's card keys (`GET /agent/card-keys`): every accepted version (current and
/// previous) of each of its sites, each sealed to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardKeySet {
    /// The server's key-set number when this was read (also [`CARD_KEY_SET_HEADER`]).
    pub key_set: u64,
    pub keys: Vec<SealedCardKeys>,
}

/// One site's keys of one version, sealed to one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealedCardKeys {
    pub site_id: Uuid,
    /// The DESFire key version (1 to 255).
    pub version: u8,
    /// Whether this is the site's current version (else the previous one, still
    /// accepted during a rollover).
    pub current: bool,
    /// Ephemeral public key, then the AES-256-GCM ciphertext of read key ‖ UID key and
    /// its tag (80 bytes), base64.
    pub sealed: String,
}

/// A site key version's read key (the AN10922 base key of every card's read key) and
/// UID key (site-wide, opens `GetCardUID` on a random-UID card). Redacted in `Debug`,
/// wiped when dropped.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ReaderKeys {
    pub read: [u8; CARD_KEY_LEN],
    pub uid: [u8; CARD_KEY_LEN],
}

impl std::fmt::Debug for ReaderKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReaderKeys(<redacted>)")
    }
}

/// An agent's X25519 private key. Redacted in `Debug`; x25519-dalek wipes it on drop.
pub struct AgentSecret(StaticSecret);

impl std::fmt::Debug for AgentSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentSecret(<redacted>)")
    }
}

impl AgentSecret {
    /// A new key pair from the OS's random numbers.
    pub fn generate() -> Self {
        Self(StaticSecret::random_from_rng(rand::rngs::OsRng))
    }

    /// The key stored by [`Self::to_bytes`].
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(StaticSecret::from(bytes))
    }

    /// The private key's bytes, for the agent's key file only.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public key to register with the server.
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        PublicKey::from(&self.0).to_bytes()
    }
}

/// Why a sealed box did not open (or could not be made).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("a sealed box has 80 bytes")]
    Length,
    #[error("a low-order public key")]
    WeakKey,
    /// Another agent, site or version, or altered on the way.
    #[error("the sealed keys do not open for this agent, site and version")]
    Refused,
}

/// Whether boxes can be sealed to `agent_public`: refused for a low-order point, whose
/// shared secret anyone knows (the server checks a key when an agent registers it).
pub fn check_public_key(agent_public: &[u8; PUBLIC_KEY_LEN]) -> Result<(), SealError> {
    let probe = EphemeralSecret::random_from_rng(rand::rngs::OsRng);
    let shared = probe.diffie_hellman(&PublicKey::from(*agent_public));
    match shared.was_contributory() {
        true => Ok(()),
        false => Err(SealError::WeakKey),
    }
}

/// Seals `keys` of `site_id`'s `version` to the agent with `agent_public`.
pub fn seal(
    agent_public: &[u8; PUBLIC_KEY_LEN],
    agent_id: Uuid,
    site_id: Uuid,
    version: u8,
    keys: &ReaderKeys,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Vec<u8>, SealError> {
    let recipient = PublicKey::from(*agent_public);
    let ephemeral = EphemeralSecret::random_from_rng(rng);
    let ephemeral_public = PublicKey::from(&ephemeral).to_bytes();
    let shared = ephemeral.diffie_hellman(&recipient);
    if !shared.was_contributory() {
        return Err(SealError::WeakKey);
    }
    let cipher = box_cipher(shared.as_bytes(), &ephemeral_public, agent_public)?;
    let mut plain = Zeroizing::new([0u8; 2 * CARD_KEY_LEN]);
    let (read, uid) = plain.split_at_mut(CARD_KEY_LEN);
    read.copy_from_slice(&keys.read);
    uid.copy_from_slice(&keys.uid);
    let aad = associated_data(agent_id, site_id, version);
    let payload = Payload {
        msg: plain.as_slice(),
        aad: &aad,
    };
    let sealed = cipher
        .encrypt(&Nonce::default(), payload)
        .map_err(|_| SealError::Refused)?;
    let mut out = Vec::with_capacity(SEALED_LEN);
    out.extend_from_slice(&ephemeral_public);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens a box [`seal`]ed to this agent for `site_id`'s `version`.
pub fn open(
    secret: &AgentSecret,
    agent_id: Uuid,
    site_id: Uuid,
    version: u8,
    sealed: &[u8],
) -> Result<ReaderKeys, SealError> {
    if sealed.len() != SEALED_LEN {
        return Err(SealError::Length);
    }
    let (ephemeral_public, ciphertext) = sealed.split_at(PUBLIC_KEY_LEN);
    let ephemeral_public: [u8; PUBLIC_KEY_LEN] =
        ephemeral_public.try_into().map_err(|_| SealError::Length)?;
    let shared = secret.0.diffie_hellman(&PublicKey::from(ephemeral_public));
    if !shared.was_contributory() {
        return Err(SealError::WeakKey);
    }
    let cipher = box_cipher(shared.as_bytes(), &ephemeral_public, &secret.public_key())?;
    let aad = associated_data(agent_id, site_id, version);
    let payload = Payload {
        msg: ciphertext,
        aad: &aad,
    };
    let plain = Zeroizing::new(
        cipher
            .decrypt(&Nonce::default(), payload)
            .map_err(|_| SealError::Refused)?,
    );
    if plain.len() != 2 * CARD_KEY_LEN {
        return Err(SealError::Length);
    }
    let mut keys = ReaderKeys {
        read: [0; CARD_KEY_LEN],
        uid: [0; CARD_KEY_LEN],
    };
    let (read, uid) = plain.split_at(CARD_KEY_LEN);
    keys.read.copy_from_slice(read);
    keys.uid.copy_from_slice(uid);
    Ok(keys)
}

/// The box's AES-256-GCM key: HKDF-SHA256 of the shared secret, salted with both public
/// keys so the key belongs to this one exchange.
fn box_cipher(
    shared: &[u8; 32],
    ephemeral_public: &[u8; PUBLIC_KEY_LEN],
    agent_public: &[u8; PUBLIC_KEY_LEN],
) -> Result<Aes256Gcm, SealError> {
    let mut salt = [0u8; 2 * PUBLIC_KEY_LEN];
    let (first, second) = salt.split_at_mut(PUBLIC_KEY_LEN);
    first.copy_from_slice(ephemeral_public);
    second.copy_from_slice(agent_public);
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(&salt), shared)
        .expand(LABEL, key.as_mut_slice())
        .map_err(|_| SealError::Refused)?;
    Aes256Gcm::new_from_slice(key.as_slice()).map_err(|_| SealError::Refused)
}

/// What the box is for: label, agent, site, version.
fn associated_data(agent_id: Uuid, site_id: Uuid, version: u8) -> Vec<u8> {
    let mut aad = Vec::with_capacity(LABEL.len() + 33);
    aad.extend_from_slice(LABEL);
    aad.extend_from_slice(agent_id.as_bytes());
    aad.extend_from_slice(site_id.as_bytes());
    aad.push(version);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> ReaderKeys {
        ReaderKeys {
            read: [0x11; 16],
            uid: [0x22; 16],
        }
    }

    #[test]
    fn a_box_opens_for_its_agent_site_and_version_only() {
        let (agent, site) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let secret = AgentSecret::generate();
        let mut rng = rand::rngs::OsRng;
        let sealed = seal(&secret.public_key(), agent, site, 3, &keys(), &mut rng).unwrap();
        assert_eq!(sealed.len(), SEALED_LEN);
        assert_eq!(open(&secret, agent, site, 3, &sealed).unwrap(), keys());
        // The key bytes are not in the box in clear.
        assert!(
            !sealed
                .windows(16)
                .any(|w| w == [0x11; 16] || w == [0x22; 16])
        );

        let other = AgentSecret::generate();
        let refused = Err(SealError::Refused);
        assert_eq!(open(&other, agent, site, 3, &sealed), refused, "other key");
        let stranger = Uuid::from_u128(9);
        assert_eq!(open(&secret, stranger, site, 3, &sealed), refused, "agent");
        assert_eq!(open(&secret, agent, stranger, 3, &sealed), refused, "site");
        assert_eq!(open(&secret, agent, site, 4, &sealed), refused, "version");
        for i in [0, 40, SEALED_LEN - 1] {
            let mut tampered = sealed.clone();
            tampered[i] ^= 1;
            assert!(open(&secret, agent, site, 3, &tampered).is_err(), "bit {i}");
        }
        assert_eq!(
            open(&secret, agent, site, 3, &sealed[1..]),
            Err(SealError::Length)
        );
    }

    #[test]
    fn a_low_order_key_is_refused() {
        let mut rng = rand::rngs::OsRng;
        let zero = [0u8; 32];
        let sealed = seal(&zero, Uuid::nil(), Uuid::nil(), 1, &keys(), &mut rng);
        assert_eq!(sealed, Err(SealError::WeakKey));
        // The order-1 point (u = 1) too, and a real key passes.
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(check_public_key(&one), Err(SealError::WeakKey));
        assert_eq!(check_public_key(&zero), Err(SealError::WeakKey));
        assert!(check_public_key(&AgentSecret::generate().public_key()).is_ok());
        let mut forged = vec![0u8; SEALED_LEN];
        forged[..32].copy_from_slice(&zero);
        let secret = AgentSecret::generate();
        let opened = open(&secret, Uuid::nil(), Uuid::nil(), 1, &forged);
        assert_eq!(opened, Err(SealError::WeakKey));
    }

    #[test]
    fn secrets_are_redacted_and_the_secret_round_trips() {
        let secret = AgentSecret::generate();
        let again = AgentSecret::from_bytes(*secret.to_bytes());
        assert_eq!(again.public_key(), secret.public_key());
        assert_eq!(format!("{secret:?}"), "AgentSecret(<redacted>)");
        let shown = format!("{:?}", keys());
        assert_eq!(shown, "ReaderKeys(<redacted>)");
    }
}
