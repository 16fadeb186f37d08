//! MIFARE DESFire EV2 protocol for Gatehouse's secure credentials (issue 15): pure code,
//! no I/O, used by the door agent and the issuing station (reader side, [`pcd`]) and by
//! the virtual card (card side, [`card`]).
//!
//! - [`diversify`]: per-card AES-128 keys from a site key (NXP AN10922).
//! - [`cmac`]: AES-CMAC, the truncated EV2 MAC, CBC, padding; [`crc`]: DESFire CRC32.
//! - [`ev2::auth`]: `AuthenticateEV2First` as a state machine for both sides.
//! - [`ev1`]: EV1 `AuthenticateAES` and EV1 secure messaging (reading), both sides.
//! - [`ev2::session`]: EV2 secure messaging (CommMode MAC and Full), command counter.
//! - [`apdu`]: ISO 7816 wrapping and typed status words.
//! - [`pcd`]: the reader side's commands over a caller-supplied transceive function.
//! - [`card`]: an in-memory DESFire EV2 card answering APDUs (ISO-wrapped or native).
//! - [`types`]: access rights, `GetVersion`'s answer.
//! - [`app`]: the Gatehouse application on a card, the door's read and the issuing
//!   station's issue, re-key and wipe.
//!
//! Every byte from a card or a reader is untrusted: malformed input is an [`Error`] (or,
//! on the card side, a DESFire error status), never a panic. Keys are [`AesKey`]s:
//! redacted in `Debug`, zeroized on drop.

pub mod apdu;
pub mod app;
pub mod card;
pub mod cmac;
pub mod crc;
pub mod diversify;
pub mod ev1;
pub mod ev2;
pub mod key;
pub mod pcd;
pub mod types;

pub use apdu::Status;
pub use ev2::session::{CommMode, Session};
pub use key::AesKey;

/// What went wrong talking to a card, on the reader side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The card did not prove it holds the key: it refused our proof (`91 AE`), or its own
    /// proof (RndA') did not match. A clone with a copied UID but no keys ends here; the
    /// door agent maps it to the reason `credential_not_authentic`.
    #[error("the card failed mutual authentication")]
    NotAuthentic,
    /// A MAC, padding or CRC did not verify on data the card sent inside a session:
    /// tampering or a relay, never radio noise (ISO 14443 has its own CRC).
    #[error("a response failed its integrity check")]
    Integrity,
    /// The card answered with a DESFire error status.
    #[error("the card answered {0:?}")]
    Card(Status),
    /// The answer was not a DESFire status word at all (`sw1 sw2`).
    #[error("not a DESFire answer: status {sw1:02X} {sw2:02X}")]
    NotDesfire {
        /// SW1 received.
        sw1: u8,
        /// SW2 received.
        sw2: u8,
    },
    /// The answer's length or layout is wrong.
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
    /// A command that would need ISO chaining (data over 255 bytes).
    #[error("command data too long for one APDU")]
    TooLong,
    /// A command that needs an authenticated session was called without one.
    #[error("no authenticated session")]
    NotAuthenticated,
    /// The 16-bit command counter is used up; authenticate again.
    #[error("command counter exhausted")]
    CounterExhausted,
    /// Something this crate does not do (named), e.g. writing in an EV1 session.
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    /// The transport (PC/SC, …) failed; the text comes from the caller's transceive.
    #[error("transport: {0}")]
    Transport(String),
}

impl Error {
    /// Whether this failure means the card is not the genuine, keyed card: the agent's
    /// `credential_not_authentic` (and alarm) rather than a read error to retry.
    pub fn is_not_authentic(&self) -> bool {
        matches!(self, Self::NotAuthentic | Self::Integrity)
    }
}

#[cfg(test)]
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
