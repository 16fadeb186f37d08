//! AES-128 key diversification per NXP AN10922 ("Symmetric key diversifications", §2.2):
//! one site key gives every card its own key, so reading one card's key out of its chip
//! tells an attacker nothing about another card's.
//!
//! `D = 0x01 ‖ M`, where `M` is the diversification input (1-31 bytes; here the card's
//! UID, the application's AID and a site's system identifier). When `D` is shorter than
//! 32 bytes it is padded with `80 00 …` to 32 bytes and the last block is masked with the
//! CMAC subkey K2; a full 32-byte `D` uses K1. The key is the CMAC of that. Note that this
//! differs from plain CMAC for inputs under 16 bytes: AN10922 always pads to 32 bytes.

use crate::Error;
use crate::cmac::{cbc_encrypt, subkeys};
use crate::key::{AesKey, KEY_LEN};

/// The AN10922 diversification constant for an AES-128 key.
const DIV_CONSTANT_AES128: u8 = 0x01;

/// Longest diversification input `M` AN10922 allows for AES-128.
pub const MAX_INPUT: usize = 31;

/// The AN10922 input `M = UID ‖ AID ‖ system identifier`; the AID as it goes on the wire
/// (3 bytes, least significant first), the UID as the card reports it (4, 7 or 10 bytes).
pub fn input(uid: &[u8], aid: [u8; 3], system_id: &[u8]) -> Result<Vec<u8>, Error> {
    if !matches!(uid.len(), 4 | 7 | 10) {
        return Err(Error::Malformed("a UID has 4, 7 or 10 bytes"));
    }
    let mut m = Vec::with_capacity(uid.len() + 3 + system_id.len());
    m.extend_from_slice(uid);
    m.extend_from_slice(&aid);
    m.extend_from_slice(system_id);
    if m.len() > MAX_INPUT {
        return Err(Error::Malformed("diversification input over 31 bytes"));
    }
    Ok(m)
}

/// The diversified AES-128 key for input `m` (1-31 bytes).
pub fn diversify(master: &AesKey, m: &[u8]) -> Result<AesKey, Error> {
    if m.is_empty() || m.len() > MAX_INPUT {
        return Err(Error::Malformed("diversification input must be 1-31 bytes"));
    }
    let (k1, k2) = subkeys(master);
    let mut d = Vec::with_capacity(2 * KEY_LEN);
    d.push(DIV_CONSTANT_AES128);
    d.extend_from_slice(m);
    let mask = if d.len() == 2 * KEY_LEN {
        k1
    } else {
        d.push(0x80);
        d.resize(2 * KEY_LEN, 0);
        k2
    };
    for (b, k) in d[KEY_LEN..].iter_mut().zip(mask) {
        *b ^= k;
    }
    // CMAC = last block of CBC with a zero IV over the masked message.
    let mut c = cbc_encrypt(master, &[0; KEY_LEN], &d)?;
    let mut out = [0u8; KEY_LEN];
    out.copy_from_slice(&c[KEY_LEN..]);
    zeroize::Zeroize::zeroize(&mut c);
    zeroize::Zeroize::zeroize(&mut d);
    Ok(AesKey::new(out))
}

/// Convenience: the card key for `uid` in application `aid` under `system_id`.
pub fn card_key(
    master: &AesKey,
    uid: &[u8],
    aid: [u8; 3],
    system_id: &[u8],
) -> Result<AesKey, Error> {
    diversify(master, &input(uid, aid, system_id)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmac::cmac;
    use crate::hex;

    fn key(h: &str) -> AesKey {
        AesKey::from_slice(&hex(h)).unwrap()
    }

    /// AN10922 §2.2.1 (AES-128 example): master key 00112233…EEFF, UID 04782E21801D80,
    /// AID 3042F5, system identifier 4E585020416275 ("NXP Abu") → A8DD63A3….
    /// Sources read for this value: python-desfire's tests/test_diversify.py
    /// (waza-ari/python-desfire, "section 2.2.1 from AN10922.pdf"), libfreefare's
    /// test_mifare_key_deriver (AN10922 §2.2.1), and the ntag424 Java library's
    /// KeyInfoTest ("Example from pg. 7").
    #[test]
    fn an10922_aes128_example() {
        let master = key("00112233445566778899AABBCCDDEEFF");
        let m = input(
            &hex("04782E21801D80"),
            [0x30, 0x42, 0xF5],
            &hex("4E585020416275"),
        )
        .unwrap();
        assert_eq!(m, hex("04782E21801D803042F54E585020416275"));
        let k = diversify(&master, &m).unwrap();
        assert_eq!(k.expose().to_vec(), hex("A8DD63A3B89D54B37CA802473FDA9175"));
    }

    /// The short-input padding rule: AN10957's example (master F3F93776…, M = UID
    /// 04DEADBEEFFEED only, so D is 8 bytes and is padded to 32), as listed among the
    /// "Test cases from AN10957" in Tim Hawes' CircuitPython DESFire library's tests.
    #[test]
    fn an10957_short_input_is_padded_to_32_bytes() {
        let master = key("F3F9377698707B688EAF84ABE39E3791");
        let k = diversify(&master, &hex("04DEADBEEFFEED")).unwrap();
        assert_eq!(k.expose().to_vec(), hex("0BB408BAFF98B6EE9F2E1585777F6A51"));
        // …which is not plain CMAC of the 8 bytes (plain CMAC pads to 16 only).
        let mut d = vec![0x01];
        d.extend(hex("04DEADBEEFFEED"));
        assert_ne!(
            cmac(&master, &d).to_vec(),
            hex("0BB408BAFF98B6EE9F2E1585777F6A51")
        );
    }

    /// A full 31-byte M (D = 32 bytes) takes the K1 path, which is exactly plain CMAC.
    #[test]
    fn full_length_input_is_plain_cmac() {
        let master = key("00112233445566778899AABBCCDDEEFF");
        let m = [0x5Au8; 31];
        let mut d = vec![0x01];
        d.extend(m);
        assert_eq!(diversify(&master, &m).unwrap().expose(), &cmac(&master, &d));
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let master = AesKey::factory_default();
        assert!(diversify(&master, &[]).is_err());
        assert!(diversify(&master, &[0; 32]).is_err());
        assert!(input(&[0; 5], [0; 3], b"x").is_err());
        assert!(input(&[0; 10], [0; 3], &[0; 19]).is_err());
        assert!(input(&[0; 10], [0; 3], &[0; 18]).is_ok());
    }

    #[test]
    fn different_cards_get_different_keys() {
        let master = key("00112233445566778899AABBCCDDEEFF");
        let a = card_key(&master, &hex("04782E21801D80"), [1, 0, 0], b"site").unwrap();
        let b = card_key(&master, &hex("04782E21801D81"), [1, 0, 0], b"site").unwrap();
        assert_ne!(a, b);
    }
}
