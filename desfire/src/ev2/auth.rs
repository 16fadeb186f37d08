//! `AuthenticateEV2First` (command `71`): AES-128 mutual authentication, as a pure state
//! machine for the reader (PCD) and for the card (PICC).
//!
//! ```text
//! PCD → PICC  90 71 00 00 02 KeyNo 00 00
//! PICC → PCD  E(K, RndB)                                   91 AF
//! PCD → PICC  90 AF 00 00 20 E(K, RndA ‖ RndB<<<1) 00
//! PICC → PCD  E(K, TI ‖ RndA<<<1 ‖ PDcap2 ‖ PCDcap2)       91 00
//! ```
//!
//! `E` is AES-CBC with a zero IV, `<<<1` a rotation left by one byte. Each side proves it
//! holds `K` by returning the other's nonce rotated; a nonce is fresh per attempt, so a
//! recorded exchange does not authenticate again. Session keys (NXP's EV2 documents,
//! AN12196 §4.4):
//!
//! ```text
//! SV1 = A5 5A 00 01 00 80 ‖ RndA[0..2] ‖ (RndA[2..8] ⊕ RndB[0..6])
//!       ‖ RndB[6..16] ‖ RndA[8..16]
//! SV2 = 5A A5 00 01 00 80 ‖ (same 26 bytes)
//! SesAuthENCKey = CMAC(K, SV1), SesAuthMACKey = CMAC(K, SV2)
//! ```
//!
//! and the command counter starts at 0. The reader's checks turn every way the card can
//! fail into [`Error::NotAuthentic`], which the agent reports as
//! `credential_not_authentic`.

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::Nonce;
use super::session::Session;
use crate::Error;
use crate::apdu::{self, Status, cmd};
use crate::cmac::{cbc_decrypt, cbc_encrypt, cmac};
use crate::key::AesKey;

const ZERO_IV: [u8; 16] = [0; 16];

fn rotate_left(n: &Nonce) -> Nonce {
    let mut out = *n;
    out.rotate_left(1);
    out
}

/// The two session keys for a key and a pair of nonces.
pub fn session_keys(key: &AesKey, rnd_a: &Nonce, rnd_b: &Nonce) -> (AesKey, AesKey) {
    let mut sv = [0u8; 32];
    sv[2..6].copy_from_slice(&[0x00, 0x01, 0x00, 0x80]);
    sv[6..8].copy_from_slice(&rnd_a[0..2]);
    for i in 0..6 {
        sv[8 + i] = rnd_a[2 + i] ^ rnd_b[i];
    }
    sv[14..24].copy_from_slice(&rnd_b[6..16]);
    sv[24..32].copy_from_slice(&rnd_a[8..16]);
    sv[0..2].copy_from_slice(&[0xA5, 0x5A]);
    let enc = AesKey::new(cmac(key, &sv));
    sv[0..2].copy_from_slice(&[0x5A, 0xA5]);
    let mac = AesKey::new(cmac(key, &sv));
    sv.zeroize();
    (enc, mac)
}

// ---- reader (PCD) side ----

/// First step on the reader side: the `AuthenticateEV2First` APDU for `key_no`.
pub fn start(key: AesKey, key_no: u8) -> Result<(Vec<u8>, AwaitChallenge), Error> {
    let apdu = apdu::wrap(cmd::AUTH_EV2_FIRST, &[key_no, 0x00])?;
    Ok((apdu, AwaitChallenge { key, key_no }))
}

/// Reader waiting for the card's encrypted RndB.
#[derive(Debug)]
pub struct AwaitChallenge {
    key: AesKey,
    key_no: u8,
}

impl AwaitChallenge {
    /// Takes the card's first answer and the reader's fresh `rnd_a`; returns the second
    /// APDU. A card that refuses to start (`91 AE`, `91 40` no such key, …) is
    /// [`Error::NotAuthentic`] when it says authentication failed, else the status.
    pub fn on_challenge(
        self,
        answer: &[u8],
        rnd_a: Nonce,
    ) -> Result<(Vec<u8>, AwaitAnswer), Error> {
        let r = apdu::parse_response(answer)?;
        r.status.expect_in_auth(Status::AdditionalFrame)?;
        if r.data.len() != 16 {
            return Err(Error::Malformed("EV2First challenge is not 16 bytes"));
        }
        let mut rnd_b: Nonce = [0; 16];
        rnd_b.copy_from_slice(&cbc_decrypt(&self.key, &ZERO_IV, &r.data)?);
        let mut plain = [0u8; 32];
        plain[..16].copy_from_slice(&rnd_a);
        plain[16..].copy_from_slice(&rotate_left(&rnd_b));
        let proof = cbc_encrypt(&self.key, &ZERO_IV, &plain)?;
        plain.zeroize();
        let apdu = apdu::wrap(cmd::ADDITIONAL_FRAME, &proof)?;
        Ok((
            apdu,
            AwaitAnswer {
                key: self.key,
                key_no: self.key_no,
                rnd_a,
                rnd_b,
            },
        ))
    }
}

/// Reader waiting for the card's proof.
pub struct AwaitAnswer {
    key: AesKey,
    key_no: u8,
    rnd_a: Nonce,
    rnd_b: Nonce,
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
    /// Checks the card's proof (its RndA') and opens the session.
    pub fn on_answer(self, answer: &[u8]) -> Result<Session, Error> {
        let r = apdu::parse_response(answer)?;
        r.status.expect_in_auth(Status::Ok)?;
        if r.data.len() != 32 {
            return Err(Error::Malformed("EV2First answer is not 32 bytes"));
        }
        let mut plain = cbc_decrypt(&self.key, &ZERO_IV, &r.data)?;
        let expected = rotate_left(&self.rnd_a);
        let genuine: bool = plain[4..20].ct_eq(&expected).into();
        let mut ti = [0u8; 4];
        ti.copy_from_slice(&plain[..4]);
        plain.zeroize();
        if !genuine {
            return Err(Error::NotAuthentic);
        }
        let (enc, mac) = session_keys(&self.key, &self.rnd_a, &self.rnd_b);
        Ok(Session::new(enc, mac, ti, self.key_no))
    }
}

// ---- card (PICC) side ----

/// Card side, first step: the encrypted challenge for a fresh `rnd_b` (answer data, to be
/// sent with status `91 AF`).
pub fn challenge(key: &AesKey, key_no: u8, rnd_b: Nonce) -> Result<(Vec<u8>, AwaitProof), Status> {
    let enc = cbc_encrypt(key, &ZERO_IV, &rnd_b).map_err(|_| Status::IntegrityError)?;
    Ok((
        enc,
        AwaitProof {
            key: key.clone(),
            key_no,
            rnd_b,
        },
    ))
}

/// Card waiting for the reader's proof.
pub struct AwaitProof {
    key: AesKey,
    key_no: u8,
    rnd_b: Nonce,
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
    /// Checks the reader's proof; on success the answer data (sent with `91 00`) and the
    /// card's session. A wrong proof (wrong key, or a replay against a new RndB) is
    /// `91 AE`; a wrong length `91 7E`.
    pub fn on_proof(self, data: &[u8], ti: [u8; 4]) -> Result<(Vec<u8>, Session), Status> {
        if data.len() != 32 {
            return Err(Status::LengthError);
        }
        let mut plain = cbc_decrypt(&self.key, &ZERO_IV, data).map_err(|_| Status::LengthError)?;
        let genuine: bool = plain[16..32].ct_eq(&rotate_left(&self.rnd_b)).into();
        let mut rnd_a: Nonce = [0; 16];
        rnd_a.copy_from_slice(&plain[..16]);
        plain.zeroize();
        if !genuine {
            rnd_a.zeroize();
            return Err(Status::AuthenticationError);
        }
        let mut answer = [0u8; 32];
        answer[..4].copy_from_slice(&ti);
        answer[4..20].copy_from_slice(&rotate_left(&rnd_a));
        // PDcap2 and PCDcap2: six zero bytes each (no capabilities negotiated).
        let enc = cbc_encrypt(&self.key, &ZERO_IV, &answer).map_err(|_| Status::IntegrityError)?;
        answer.zeroize();
        let (k_enc, k_mac) = session_keys(&self.key, &rnd_a, &self.rnd_b);
        rnd_a.zeroize();
        Ok((enc, Session::new(k_enc, k_mac, ti, self.key_no)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex;

    fn nonce(h: &str) -> Nonce {
        hex(h).try_into().unwrap()
    }

    fn card_side_with(key: &AesKey, rnd_b: Nonce) -> AwaitProof {
        challenge(key, 0, rnd_b).unwrap().1
    }

    /// NXP AN12196 (NTAG 424 DNA, same EV2First), Table 14: key 0 = all zero,
    /// RndA 13C5DB8A…, the card's E(K, RndB) A04C1242…, its answer 3FA64DB5…, giving
    /// TI 9D00C4DF and the two session keys. Read from pylibsdm's tests
    /// (trustchain-dev/pylibsdm tests/tag/ntag424dna/test_tag.py, "ref: page 29,
    /// table 14") and, the same values, an AN12196-based Python EV2 module found with the
    /// code search (its `__main__` self-test).
    #[test]
    fn an12196_table14_reader_side() {
        let (apdu, st) = start(AesKey::factory_default(), 0).unwrap();
        assert_eq!(apdu, hex("9071000002000000"));
        let (apdu, st) = st
            .on_challenge(
                &hex("A04C124213C186F22399D33AC2A3021591AF"),
                nonce("13C5DB8A5930439FC3DEF9A4C675360F"),
            )
            .unwrap();
        assert_eq!(
            apdu,
            hex("90AF00002035C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D00")
        );
        let s = st
            .on_answer(&hex(
                "3FA64DB5446D1F34CD6EA311167F5E4985B89690C04A05F17FA7AB2F081206639100",
            ))
            .unwrap();
        assert_eq!(s.ti(), [0x9D, 0x00, 0xC4, 0xDF]);
        assert_eq!(s.counter(), 0);
        assert_eq!(
            s.enc_key().expose().to_vec(),
            hex("1309C877509E5A215007FF0ED19CA564")
        );
        assert_eq!(
            s.mac_key().expose().to_vec(),
            hex("4C6626F5E72EA694202139295C7A7FC7")
        );
    }

    /// The same example from the card side: RndB B9E2FC78… (the plaintext of A04C1242…
    /// under the zero key) gives the card's challenge and answer byte for byte.
    #[test]
    fn an12196_table14_card_side() {
        let key = AesKey::factory_default();
        let rnd_b = nonce("B9E2FC789B64BF237CCCAA20EC7E6E48");
        let (enc, st) = challenge(&key, 0, rnd_b).unwrap();
        assert_eq!(enc, hex("A04C124213C186F22399D33AC2A30215"));
        let proof = hex("35C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D");
        let (answer, s) = st.on_proof(&proof, [0x9D, 0x00, 0xC4, 0xDF]).unwrap();
        assert_eq!(
            answer,
            hex("3FA64DB5446D1F34CD6EA311167F5E4985B89690C04A05F17FA7AB2F08120663")
        );
        assert_eq!(
            s.enc_key().expose().to_vec(),
            hex("1309C877509E5A215007FF0ED19CA564")
        );
        assert_eq!(
            s.mac_key().expose().to_vec(),
            hex("4C6626F5E72EA694202139295C7A7FC7")
        );
    }

    /// AN12196 Table 20: key 3 (all zero), RndA B98F4C50…, TI 7614281A (pylibsdm's tests,
    /// "ref: page 35, table 20").
    #[test]
    fn an12196_table20_key3() {
        let (apdu, st) = start(AesKey::factory_default(), 3).unwrap();
        assert_eq!(apdu, hex("9071000002030000"));
        let (apdu, st) = st
            .on_challenge(
                &hex("B875CEB0E66A6C5CD00898DC371F92D191AF"),
                nonce("B98F4C50CF1C2E084FD150E33992B048"),
            )
            .unwrap();
        assert_eq!(
            apdu,
            hex("90AF000020FF0306E47DFBC50087C4D8A78E88E62DE1E8BE457AA477C707E2F0874916A8B100")
        );
        let s = st
            .on_answer(&hex(
                "0CC9A8094A8EEA683ECAAC5C7BF20584206D0608D477110FC6B3D5D3F65C3A6A9100",
            ))
            .unwrap();
        assert_eq!(s.ti(), [0x76, 0x14, 0x28, 0x1A]);
        assert_eq!(s.key_no(), 3);
        assert_eq!(
            s.enc_key().expose().to_vec(),
            hex("7A93D6571E4B180FCA6AC90C9A7488D4")
        );
        assert_eq!(
            s.mac_key().expose().to_vec(),
            hex("FC4AF159B62E549B5812394CAB1918CC")
        );
    }

    #[test]
    fn sides_agree_on_random_nonces() {
        let key = AesKey::new([0x42; 16]);
        for i in 0..20u8 {
            let (_, reader) = start(key.clone(), 1).unwrap();
            let (enc, card) = challenge(&key, 1, [i; 16]).unwrap();
            let mut ans = enc.clone();
            ans.extend([0x91, 0xAF]);
            let (apdu, reader) = reader.on_challenge(&ans, [i.wrapping_mul(7); 16]).unwrap();
            let cmd = apdu::parse_command(&apdu).unwrap();
            let (data, card_session) = card.on_proof(&cmd.data, [i, 1, 2, 3]).unwrap();
            let reader_session = reader
                .on_answer(&apdu::response(&data, Status::Ok))
                .unwrap();
            assert_eq!(reader_session.enc_key(), card_session.enc_key());
            assert_eq!(reader_session.mac_key(), card_session.mac_key());
            assert_eq!(reader_session.ti(), [i, 1, 2, 3]);
        }
    }

    #[test]
    fn wrong_key_is_not_authentic_on_both_sides() {
        let card_key = AesKey::new([1; 16]);
        let (enc, card) = challenge(&card_key, 0, [9; 16]).unwrap();
        let (_, reader) = start(AesKey::new([2; 16]), 0).unwrap();
        let (apdu, reader) = reader
            .on_challenge(&apdu::response(&enc, Status::AdditionalFrame), [5; 16])
            .unwrap();
        let cmd = apdu::parse_command(&apdu).unwrap();
        assert_eq!(
            card.on_proof(&cmd.data, [0; 4]).unwrap_err(),
            Status::AuthenticationError
        );
        assert_eq!(
            reader.on_answer(&hex("91AE")).unwrap_err(),
            Error::NotAuthentic
        );
    }

    /// A card without the key (a clone) cannot produce RndA': whatever 32 bytes it sends,
    /// the reader refuses them.
    #[test]
    fn clone_answer_is_not_authentic() {
        let (_, reader) = start(AesKey::new([3; 16]), 0).unwrap();
        let (_, reader) = reader
            .on_challenge(&hex("00112233445566778899AABBCCDDEEFF91AF"), [7; 16])
            .unwrap();
        let mut forged = vec![0x5A; 32];
        forged.extend([0x91, 0x00]);
        assert_eq!(reader.on_answer(&forged).unwrap_err(), Error::NotAuthentic);
    }

    #[test]
    fn garbage_answers_are_errors() {
        let (_, r) = start(AesKey::factory_default(), 0).unwrap();
        assert!(matches!(
            r.on_challenge(&hex("010291AF"), [0; 16]),
            Err(Error::Malformed(_))
        ));
        let (_, r) = start(AesKey::factory_default(), 0).unwrap();
        assert_eq!(
            r.on_challenge(&hex("91AE"), [0; 16]).unwrap_err(),
            Error::NotAuthentic
        );
        let (_, r) = start(AesKey::factory_default(), 0).unwrap();
        assert_eq!(
            r.on_challenge(&hex("9140"), [0; 16]).unwrap_err(),
            Error::Card(Status::NoSuchKey)
        );
        let (_, r) = start(AesKey::factory_default(), 0).unwrap();
        let (_, r) = r
            .on_challenge(&hex("00112233445566778899AABBCCDDEEFF91AF"), [0; 16])
            .unwrap();
        assert!(r.on_answer(&hex("00119100")).is_err());
        let card = card_side_with(&AesKey::factory_default(), [1; 16]);
        assert_eq!(
            card.on_proof(&[0; 31], [0; 4]).unwrap_err(),
            Status::LengthError
        );
    }
}
