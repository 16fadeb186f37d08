//! DESFire EV1 `AuthenticateAES` (command `AA`) and EV1 secure messaging, for EV1 cards
//! at the door and for EV1-only clients (python-desfire) talking to the virtual card.
//!
//! Authentication: the card sends `E(K, RndB)` (CBC, zero IV); the reader answers
//! `E(K, RndA ‖ RndB<<<1)` with the IV chained on from the card's cipher text; the card
//! answers `E(K, RndA<<<1)`, IV chained from the reader's last block. Session key
//! `RndA[0..4] ‖ RndB[0..4] ‖ RndA[12..16] ‖ RndB[12..16]`, IV zero.
//!
//! Secure messaging keeps one running IV on both sides: every command (sent in plain)
//! is CMACed with the current IV to move it; a MACed answer is `data ‖ CMAC(data ‖
//! 00)[0..8]`; an encrypted answer is `E(data ‖ CRC32(data ‖ 00) ‖ 00-padding)`, the IV
//! moving to the last cipher block. Unlike EV2 there is no counter or TI: the running IV
//! is what makes an earlier message fail later.

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::Error;
use crate::apdu::{self, Status, cmd};
use crate::cmac::{Block, cbc_decrypt, cbc_encrypt, subkeys};
use crate::crc::crc32;
use crate::ev2::Nonce;
use crate::key::AesKey;

fn rotate_left(n: &Nonce) -> Nonce {
    let mut out = *n;
    out.rotate_left(1);
    out
}

fn last_block(data: &[u8]) -> Block {
    let mut b = [0u8; 16];
    if let Some(tail) = data.len().checked_sub(16).and_then(|s| data.get(s..)) {
        b.copy_from_slice(tail);
    }
    b
}

fn session_key(rnd_a: &Nonce, rnd_b: &Nonce) -> AesKey {
    let mut k = [0u8; 16];
    k[0..4].copy_from_slice(&rnd_a[0..4]);
    k[4..8].copy_from_slice(&rnd_b[0..4]);
    k[8..12].copy_from_slice(&rnd_a[12..16]);
    k[12..16].copy_from_slice(&rnd_b[12..16]);
    let key = AesKey::new(k);
    k.zeroize();
    key
}

/// CMAC (SP 800-38B) chained from `iv` instead of zero, as EV1 computes it.
pub fn cmac_with_iv(key: &AesKey, iv: &Block, data: &[u8]) -> Result<Block, Error> {
    let (k1, k2) = subkeys(key);
    let mut m = data.to_vec();
    let mask = if !m.is_empty() && m.len().is_multiple_of(16) {
        k1
    } else {
        m.push(0x80);
        while !m.len().is_multiple_of(16) {
            m.push(0);
        }
        k2
    };
    let start = m.len() - 16;
    for (b, k) in m[start..].iter_mut().zip(mask) {
        *b ^= k;
    }
    let c = cbc_encrypt(key, iv, &m)?;
    Ok(last_block(&c))
}

/// An EV1 AES session: session key and the running IV.
pub struct Ev1Session {
    key: AesKey,
    iv: Block,
    key_no: u8,
}

impl std::fmt::Debug for Ev1Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ev1Session")
            .field("key_no", &self.key_no)
            .finish_non_exhaustive()
    }
}

impl Drop for Ev1Session {
    fn drop(&mut self) {
        self.iv.zeroize();
    }
}

impl Ev1Session {
    /// Key number the session was opened with.
    pub fn key_no(&self) -> u8 {
        self.key_no
    }

    /// The session key (tests, diagnostics).
    pub fn key(&self) -> &AesKey {
        &self.key
    }

    /// Both sides, for each command sent in plain: `native` is the command code and its
    /// data; the IV moves to their CMAC.
    pub fn command(&mut self, native: &[u8]) -> Result<(), Error> {
        self.iv = cmac_with_iv(&self.key, &self.iv, native)?;
        Ok(())
    }

    /// Card side: `data ‖ MAC` of a successful answer.
    pub fn seal_mac(&mut self, data: &[u8]) -> Result<Vec<u8>, Status> {
        let mut input = data.to_vec();
        input.push(Status::Ok.code());
        self.iv = cmac_with_iv(&self.key, &self.iv, &input).map_err(|_| Status::IntegrityError)?;
        let mut out = data.to_vec();
        out.extend_from_slice(&self.iv[..8]);
        Ok(out)
    }

    /// Card side: the encrypted form of a successful answer's data.
    pub fn seal_enc(&mut self, data: &[u8]) -> Result<Vec<u8>, Status> {
        let mut plain = data.to_vec();
        let mut crc_input = data.to_vec();
        crc_input.push(Status::Ok.code());
        plain.extend_from_slice(&crc32(&crc_input));
        crc_input.zeroize();
        while !plain.len().is_multiple_of(16) {
            plain.push(0);
        }
        let c = cbc_encrypt(&self.key, &self.iv, &plain).map_err(|_| Status::IntegrityError)?;
        plain.zeroize();
        self.iv = last_block(&c);
        Ok(c)
    }

    /// Reader side: checks a MACed answer, returns its data.
    pub fn open_mac(&mut self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let Some((body, mac)) = data.split_last_chunk::<8>() else {
            return Err(Error::Malformed("answer shorter than its MAC"));
        };
        let mut input = body.to_vec();
        input.push(Status::Ok.code());
        let expected = cmac_with_iv(&self.key, &self.iv, &input)?;
        if !bool::from(expected[..8].ct_eq(&mac[..])) {
            return Err(Error::Integrity);
        }
        self.iv = expected;
        Ok(body.to_vec())
    }

    /// Reader side: decrypts an encrypted answer whose data is `len` bytes long, or, for
    /// `None`, finds the length from the CRC and the zero padding.
    pub fn open_enc(&mut self, data: &[u8], len: Option<usize>) -> Result<Vec<u8>, Error> {
        if data.is_empty() || !data.len().is_multiple_of(16) {
            return Err(Error::Malformed("encrypted answer is not whole blocks"));
        }
        let mut p = cbc_decrypt(&self.key, &self.iv, data)?;
        let fits = |l: usize| {
            let Some(tail) = p.get(l..l + 4) else {
                return false;
            };
            if p[l + 4..].iter().any(|&b| b != 0) || p.len() - l - 4 >= 16 {
                return false;
            }
            let mut input = p[..l].to_vec();
            input.push(Status::Ok.code());
            let ok: bool = crc32(&input).ct_eq(tail).into();
            input.zeroize();
            ok
        };
        let found = match len {
            Some(l) => fits(l).then_some(l),
            None => (0..=p.len() - 4).rev().find(|&l| fits(l)),
        };
        let out = found.map(|l| p[..l].to_vec());
        p.zeroize();
        let out = out.ok_or(Error::Integrity)?;
        self.iv = last_block(data);
        Ok(out)
    }
}

// ---- reader side ----

/// First step on the reader side: `AuthenticateAES` for `key_no`.
pub fn start(key: AesKey, key_no: u8) -> Result<(Vec<u8>, AwaitChallenge), Error> {
    Ok((
        apdu::wrap(cmd::AUTH_AES, &[key_no])?,
        AwaitChallenge { key, key_no },
    ))
}

/// Reader waiting for `E(K, RndB)`.
#[derive(Debug)]
pub struct AwaitChallenge {
    key: AesKey,
    key_no: u8,
}

impl AwaitChallenge {
    /// Takes the card's challenge and a fresh `rnd_a`; returns the second APDU.
    pub fn on_challenge(
        self,
        answer: &[u8],
        rnd_a: Nonce,
    ) -> Result<(Vec<u8>, AwaitAnswer), Error> {
        let r = apdu::parse_response(answer)?;
        r.status.expect_in_auth(Status::AdditionalFrame)?;
        if r.data.len() != 16 {
            return Err(Error::Malformed(
                "AuthenticateAES challenge is not 16 bytes",
            ));
        }
        let mut rnd_b: Nonce = [0; 16];
        rnd_b.copy_from_slice(&cbc_decrypt(&self.key, &[0; 16], &r.data)?);
        let mut plain = [0u8; 32];
        plain[..16].copy_from_slice(&rnd_a);
        plain[16..].copy_from_slice(&rotate_left(&rnd_b));
        let proof = cbc_encrypt(&self.key, &last_block(&r.data), &plain)?;
        plain.zeroize();
        let iv = last_block(&proof);
        let apdu = apdu::wrap(cmd::ADDITIONAL_FRAME, &proof)?;
        Ok((
            apdu,
            AwaitAnswer {
                key: self.key,
                key_no: self.key_no,
                rnd_a,
                rnd_b,
                iv,
            },
        ))
    }
}

/// Reader waiting for `E(K, RndA')`.
pub struct AwaitAnswer {
    key: AesKey,
    key_no: u8,
    rnd_a: Nonce,
    rnd_b: Nonce,
    iv: Block,
}

impl std::fmt::Debug for AwaitAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwaitAnswer")
            .field("key_no", &self.key_no)
            .finish_non_exhaustive()
    }
}

impl Drop for AwaitAnswer {
    fn drop(&mut self) {
        self.rnd_a.zeroize();
        self.rnd_b.zeroize();
    }
}

impl AwaitAnswer {
    /// Checks the card's RndA' and opens the session.
    pub fn on_answer(self, answer: &[u8]) -> Result<Ev1Session, Error> {
        let r = apdu::parse_response(answer)?;
        r.status.expect_in_auth(Status::Ok)?;
        if r.data.len() != 16 {
            return Err(Error::Malformed("AuthenticateAES answer is not 16 bytes"));
        }
        let mut plain = cbc_decrypt(&self.key, &self.iv, &r.data)?;
        let genuine: bool = plain.ct_eq(&rotate_left(&self.rnd_a)).into();
        plain.zeroize();
        if !genuine {
            return Err(Error::NotAuthentic);
        }
        let key = session_key(&self.rnd_a, &self.rnd_b);
        Ok(Ev1Session {
            key,
            iv: [0; 16],
            key_no: self.key_no,
        })
    }
}

// ---- card side ----

/// Card side, first step: `E(K, RndB)` (sent with `91 AF`).
pub fn challenge(key: &AesKey, key_no: u8, rnd_b: Nonce) -> Result<(Vec<u8>, AwaitProof), Status> {
    let enc = cbc_encrypt(key, &[0; 16], &rnd_b).map_err(|_| Status::IntegrityError)?;
    let iv = last_block(&enc);
    Ok((
        enc,
        AwaitProof {
            key: key.clone(),
            key_no,
            rnd_b,
            iv,
        },
    ))
}

/// Card waiting for the reader's proof.
pub struct AwaitProof {
    key: AesKey,
    key_no: u8,
    rnd_b: Nonce,
    iv: Block,
}

impl std::fmt::Debug for AwaitProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwaitProof")
            .field("key_no", &self.key_no)
            .finish_non_exhaustive()
    }
}

impl Drop for AwaitProof {
    fn drop(&mut self) {
        self.rnd_b.zeroize();
    }
}

impl AwaitProof {
    /// Checks the reader's proof; the answer data (sent with `91 00`) and the session.
    pub fn on_proof(self, data: &[u8]) -> Result<(Vec<u8>, Ev1Session), Status> {
        if data.len() != 32 {
            return Err(Status::LengthError);
        }
        let mut plain = cbc_decrypt(&self.key, &self.iv, data).map_err(|_| Status::LengthError)?;
        let genuine: bool = plain[16..].ct_eq(&rotate_left(&self.rnd_b)).into();
        let mut rnd_a: Nonce = [0; 16];
        rnd_a.copy_from_slice(&plain[..16]);
        plain.zeroize();
        if !genuine {
            rnd_a.zeroize();
            return Err(Status::AuthenticationError);
        }
        let answer = cbc_encrypt(&self.key, &last_block(data), &rotate_left(&rnd_a))
            .map_err(|_| Status::IntegrityError)?;
        let key = session_key(&rnd_a, &self.rnd_b);
        rnd_a.zeroize();
        Ok((
            answer,
            Ev1Session {
                key,
                iv: [0; 16],
                key_no: self.key_no,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmac::cmac;

    #[test]
    fn cmac_with_a_zero_iv_is_cmac() {
        let key = AesKey::new([7; 16]);
        for len in [0, 1, 15, 16, 17, 32, 40] {
            let data = vec![0xA5; len];
            assert_eq!(
                cmac_with_iv(&key, &[0; 16], &data).unwrap(),
                cmac(&key, &data)
            );
        }
    }

    fn pair(key: &AesKey, rnd_a: Nonce, rnd_b: Nonce) -> (Ev1Session, Ev1Session) {
        let (_, reader) = start(key.clone(), 2).unwrap();
        let (enc, card) = challenge(key, 2, rnd_b).unwrap();
        let (apdu, reader) = reader
            .on_challenge(&apdu::response(&enc, Status::AdditionalFrame), rnd_a)
            .unwrap();
        let c = apdu::parse_command(&apdu).unwrap();
        let (answer, card) = card.on_proof(&c.data).unwrap();
        let reader = reader
            .on_answer(&apdu::response(&answer, Status::Ok))
            .unwrap();
        (reader, card)
    }

    #[test]
    fn sides_agree_and_keep_their_ivs_in_step() {
        let key = AesKey::new([0x42; 16]);
        let rnd_a: Nonce = core::array::from_fn(|i| i as u8);
        let rnd_b: Nonce = core::array::from_fn(|i| 0xF0 ^ i as u8);
        let (mut reader, mut card) = pair(&key, rnd_a, rnd_b);
        let mut expected = [0u8; 16];
        expected[0..4].copy_from_slice(&rnd_a[0..4]);
        expected[4..8].copy_from_slice(&rnd_b[0..4]);
        expected[8..12].copy_from_slice(&rnd_a[12..16]);
        expected[12..16].copy_from_slice(&rnd_b[12..16]);
        assert_eq!(reader.key().expose(), &expected);
        assert_eq!(reader.key(), card.key());
        for len in [0usize, 3, 7, 12, 16, 28, 48] {
            let data = vec![0x3C; len];
            reader
                .command(&[0xBD, 1, 0, 0, 0, len as u8, 0, 0])
                .unwrap();
            card.command(&[0xBD, 1, 0, 0, 0, len as u8, 0, 0]).unwrap();
            let sealed = card.seal_enc(&data).unwrap();
            assert_eq!(reader.open_enc(&sealed, Some(len)).unwrap(), data);
            reader.command(&[0xF5, 1]).unwrap();
            card.command(&[0xF5, 1]).unwrap();
            let sealed = card.seal_mac(&data).unwrap();
            assert_eq!(reader.open_mac(&sealed).unwrap(), data);
            reader.command(&[0x51]).unwrap();
            card.command(&[0x51]).unwrap();
            let sealed = card.seal_enc(&data[..len.min(7)]).unwrap();
            assert_eq!(reader.open_enc(&sealed, None).unwrap(), data[..len.min(7)]);
        }
    }

    #[test]
    fn an_old_answer_fails_once_the_iv_moved() {
        let key = AesKey::new([0x42; 16]);
        let (mut reader, mut card) = pair(&key, [1; 16], [2; 16]);
        card.command(&[0x51]).unwrap();
        reader.command(&[0x51]).unwrap();
        let first = card.seal_mac(b"abc").unwrap();
        assert!(reader.open_mac(&first).is_ok());
        card.command(&[0x51]).unwrap();
        reader.command(&[0x51]).unwrap();
        assert_eq!(reader.open_mac(&first), Err(Error::Integrity));
    }

    #[test]
    fn wrong_key_fails_both_ways() {
        let (_, reader) = start(AesKey::new([1; 16]), 0).unwrap();
        let (enc, card) = challenge(&AesKey::new([2; 16]), 0, [3; 16]).unwrap();
        let (apdu, reader) = reader
            .on_challenge(&apdu::response(&enc, Status::AdditionalFrame), [4; 16])
            .unwrap();
        let c = apdu::parse_command(&apdu).unwrap();
        assert_eq!(
            card.on_proof(&c.data).unwrap_err(),
            Status::AuthenticationError
        );
        assert_eq!(
            reader.on_answer(&[0x91, 0xAE]).unwrap_err(),
            Error::NotAuthentic
        );
    }

    #[test]
    fn garbage_is_an_error() {
        let (_, r) = start(AesKey::factory_default(), 0).unwrap();
        assert!(r.on_challenge(&[0x01, 0x91, 0xAF], [0; 16]).is_err());
        let (_, c) = challenge(&AesKey::factory_default(), 0, [0; 16]).unwrap();
        assert_eq!(c.on_proof(&[0; 5]).unwrap_err(), Status::LengthError);
        let (mut s, _) = pair(&AesKey::factory_default(), [5; 16], [6; 16]);
        assert!(s.open_enc(&[0; 15], None).is_err());
        assert!(s.open_enc(&[], None).is_err());
        assert!(s.open_mac(&[0; 3]).is_err());
        assert_eq!(s.open_enc(&[0; 32], Some(40)), Err(Error::Integrity));
    }
}
