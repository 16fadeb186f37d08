//! DESFire EV2 (also EV3, DESFire Light and NTAG 424 DNA): `AuthenticateEV2First` and the
//! secure messaging of the session it opens.

pub mod auth;
pub mod session;

/// A 16-byte random challenge (RndA or RndB).
pub type Nonce = [u8; 16];

/// A fresh nonce from a cryptographic random number generator.
pub fn nonce(rng: &mut (impl rand::RngCore + rand::CryptoRng)) -> Nonce {
    let mut n = [0u8; 16];
    rng.fill_bytes(&mut n);
    n
}
