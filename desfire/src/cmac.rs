//! AES primitives DESFire uses: AES-CMAC (NIST SP 800-38B / RFC 4493), the truncated
//! 8-byte MAC of EV2 secure messaging, AES-CBC over whole blocks, one-block ECB and the
//! ISO/IEC 9797-1 method 2 padding (`80 00 …`).
//!
//! Thin wrappers over RustCrypto's `aes`, `cmac` and `cbc`, shaped so callers cannot pass
//! a partial block: CBC works on `Vec<u8>` whose length is checked, and returns an error
//! rather than panicking.

use aes::Aes128;
use aes::cipher::{BlockDecryptMut, BlockEncrypt, BlockEncryptMut, KeyInit, KeyIvInit};
use cbc::cipher::block_padding::NoPadding;
use cmac::{Cmac, Mac};

use crate::Error;
use crate::key::{AesKey, KEY_LEN};

/// One AES block.
pub type Block = [u8; KEY_LEN];

/// Full 16-byte AES-CMAC of `data`.
pub fn cmac(key: &AesKey, data: &[u8]) -> Block {
    // `new_from_slice` only fails on a wrong key length, impossible for a 16-byte array;
    // the fixed-size constructor avoids even that branch.
    let mut mac = <Cmac<Aes128> as KeyInit>::new(key.expose().into());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The EV2 truncated MAC (`MACt`): bytes 1, 3, 5, … 15 of the CMAC ("odd bytes" when
/// counting from 0), as NXP's EV2 secure messaging and AN12196 use it.
pub fn cmac_t(key: &AesKey, data: &[u8]) -> [u8; 8] {
    let full = cmac(key, data);
    let mut out = [0u8; 8];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = full[2 * i + 1];
    }
    out
}

/// Encrypts one block with AES-128 (ECB of a single block; EV2 IV derivation).
pub fn encrypt_block(key: &AesKey, block: &Block) -> Block {
    let cipher = Aes128::new(key.expose().into());
    let mut b = aes::Block::from(*block);
    cipher.encrypt_block(&mut b);
    b.into()
}

/// AES-128-CBC encryption of whole blocks.
pub fn cbc_encrypt(key: &AesKey, iv: &Block, data: &[u8]) -> Result<Vec<u8>, Error> {
    if !data.len().is_multiple_of(KEY_LEN) {
        return Err(Error::Malformed(
            "cipher text is not a whole number of blocks",
        ));
    }
    let mut buf = data.to_vec();
    let len = buf.len();
    cbc::Encryptor::<Aes128>::new(key.expose().into(), iv.into())
        .encrypt_padded_mut::<NoPadding>(&mut buf, len)
        .map_err(|_| Error::Malformed("cipher text is not a whole number of blocks"))?;
    Ok(buf)
}

/// AES-128-CBC decryption of whole blocks.
pub fn cbc_decrypt(key: &AesKey, iv: &Block, data: &[u8]) -> Result<Vec<u8>, Error> {
    if !data.len().is_multiple_of(KEY_LEN) {
        return Err(Error::Malformed(
            "cipher text is not a whole number of blocks",
        ));
    }
    let mut buf = data.to_vec();
    cbc::Decryptor::<Aes128>::new(key.expose().into(), iv.into())
        .decrypt_padded_mut::<NoPadding>(&mut buf)
        .map_err(|_| Error::Malformed("cipher text is not a whole number of blocks"))?;
    Ok(buf)
}

/// ISO/IEC 9797-1 padding method 2: append `80`, then `00` up to a whole block. Always
/// adds at least one byte, so 16 bytes of data become 32 (EV2 CommMode.Full does this).
pub fn pad(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    out.push(0x80);
    while !out.len().is_multiple_of(KEY_LEN) {
        out.push(0);
    }
    out
}

/// Removes ISO/IEC 9797-1 method 2 padding; an integrity error when there is none (the
/// padding is only ever checked on decrypted, MAC-verified data, so a bad one means a bug
/// or a forgery).
pub fn unpad(data: &[u8]) -> Result<&[u8], Error> {
    let end = data.iter().rposition(|&b| b != 0).ok_or(Error::Integrity)?;
    if data[end] != 0x80 || data.len() - end > KEY_LEN {
        return Err(Error::Integrity);
    }
    Ok(&data[..end])
}

/// The CMAC subkeys K1 and K2 (SP 800-38B §6.1); AN10922 needs K2 for its padded case.
pub fn subkeys(key: &AesKey) -> (Block, Block) {
    let l = encrypt_block(key, &[0; KEY_LEN]);
    let k1 = dbl(&l);
    let k2 = dbl(&k1);
    (k1, k2)
}

/// Doubling in GF(2^128): shift left one bit, xor `0x87` into the last byte on carry.
fn dbl(block: &Block) -> Block {
    let mut out = [0u8; KEY_LEN];
    for i in 0..KEY_LEN {
        let next = block.get(i + 1).copied().unwrap_or(0);
        out[i] = (block[i] << 1) | (next >> 7);
    }
    if block[0] & 0x80 != 0 {
        out[KEY_LEN - 1] ^= 0x87;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex;

    fn key(h: &str) -> AesKey {
        AesKey::from_slice(&hex(h)).unwrap()
    }

    // RFC 4493 §4 test vectors (AES-128 key 2b7e1516…, examples 1-4), read from the RFC
    // text: https://www.rfc-editor.org/rfc/rfc4493#section-4
    const RFC_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const RFC_MSG: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                           30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

    #[test]
    fn rfc4493_subkeys() {
        let (k1, k2) = subkeys(&key(RFC_KEY));
        assert_eq!(k1.to_vec(), hex("fbeed618357133667c85e08f7236a8de"));
        assert_eq!(k2.to_vec(), hex("f7ddac306ae266ccf90bc11ee46d513b"));
    }

    #[test]
    fn rfc4493_examples() {
        let k = key(RFC_KEY);
        let msg = hex(RFC_MSG);
        let cases = [
            (0, "bb1d6929e95937287fa37d129b756746"),
            (16, "070a16b46b4d4144f79bdd9dd04a287c"),
            (40, "dfa66747de9ae63030ca32611497c827"),
            (64, "51f0bebf7e3b9d92fc49741779363cfe"),
        ];
        for (len, mac) in cases {
            assert_eq!(cmac(&k, &msg[..len]).to_vec(), hex(mac), "length {len}");
        }
    }

    // AN10922 §2.2.1 lists K1/K2 for its example key; confirmed by the test file of
    // Tim Hawes' CircuitPython DESFire library (AN10922 cases) found with the code search.
    #[test]
    fn an10922_subkeys() {
        let (k1, k2) = subkeys(&key("00112233445566778899AABBCCDDEEFF"));
        assert_eq!(k1.to_vec(), hex("FBC9F75C9413C041DFEE452D3F0706D1"));
        assert_eq!(k2.to_vec(), hex("F793EEB928278083BFDC8A5A7E0E0D25"));
    }

    #[test]
    fn truncated_mac_takes_the_odd_bytes() {
        let k = key(RFC_KEY);
        let full = cmac(&k, b"");
        let t = cmac_t(&k, b"");
        assert_eq!(
            t,
            [
                full[1], full[3], full[5], full[7], full[9], full[11], full[13], full[15]
            ]
        );
    }

    #[test]
    fn padding_round_trips_and_rejects_garbage() {
        for len in 0..40 {
            let data = vec![0x11u8; len];
            let padded = pad(&data);
            assert_eq!(padded.len() % 16, 0);
            assert!(padded.len() > len);
            assert_eq!(unpad(&padded).unwrap(), &data[..]);
        }
        assert!(unpad(&[0u8; 16]).is_err());
        assert!(unpad(&[0x11u8; 16]).is_err());
        let mut long = vec![0x80];
        long.extend([0u8; 16]);
        assert!(unpad(&long).is_err());
    }

    #[test]
    fn cbc_refuses_partial_blocks() {
        let k = key(RFC_KEY);
        assert!(cbc_encrypt(&k, &[0; 16], &[0; 15]).is_err());
        assert!(cbc_decrypt(&k, &[0; 16], &[0; 17]).is_err());
        let c = cbc_encrypt(&k, &[1; 16], &[7; 32]).unwrap();
        assert_eq!(cbc_decrypt(&k, &[1; 16], &c).unwrap(), vec![7; 32]);
    }
}
