//! DESFire's CRC32: the IEEE 802.3 polynomial (reflected, `0xEDB88320`), initial value
//! `0xFFFFFFFF` and, unlike zlib's CRC-32, no final inversion (the "JAMCRC" variant),
//! sent little-endian. EV2 `ChangeKey` carries `CRC32(new key)` when it changes a key
//! other than the one the session was opened with.

/// DESFire CRC32 of `data`, as the 4 bytes sent on the wire.
pub fn crc32(data: &[u8]) -> [u8; 4] {
    let mut crc: u32 = 0xFFFF_FFFF;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let lsb = crc & 1;
            crc >>= 1;
            if lsb != 0 {
                crc ^= 0xEDB8_8320;
            }
        }
    }
    crc.to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex;

    // Vectors from Adrian Kennard's (RevK) DESFire notes, as reproduced in the test file of
    // Tim Hawes' CircuitPython DESFire library (found with the code search).
    #[test]
    fn revk_vectors() {
        assert_eq!(
            crc32(&hex("00102030405060708090A0B0B0A09080")).to_vec(),
            hex("bfe37919")
        );
        assert_eq!(
            crc32(&hex("c4800000000000000000000000000000000001")).to_vec(),
            hex("1dd9eac2")
        );
    }

    #[test]
    fn is_zlib_crc32_without_the_final_inversion() {
        // zlib's CRC-32 of "123456789" is 0xCBF43926 (the standard check value); JAMCRC is
        // its bitwise complement.
        assert_eq!(crc32(b"123456789"), (!0xCBF4_3926u32).to_le_bytes());
    }
}
