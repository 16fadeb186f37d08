//! EV2 secure messaging inside a session opened by `AuthenticateEV2First`.
//!
//! - `CommMode::Mac`: the command carries `MACt = CMACt(SesAuthMACKey, Cmd ‖ CmdCtr ‖ TI ‖
//!   CmdHeader ‖ CmdData)` and the answer `CMACt(SesAuthMACKey, RC ‖ CmdCtr+1 ‖ TI ‖
//!   RespData)`, where `CMACt` keeps the odd bytes of the CMAC and `CmdCtr` is 2 bytes,
//!   least significant first.
//! - `CommMode::Full`: as `Mac`, and CmdData / RespData are encrypted (AES-CBC with
//!   SesAuthENCKey) after `80 00…` padding, with `IV = E(SesAuthENCKey, A5 5A ‖ TI ‖
//!   CmdCtr ‖ 00×8)` for commands and `5A A5 ‖ TI ‖ CmdCtr+1 ‖ 00×8` for answers. The
//!   MAC is over the cipher text.
//! - `CommMode::Plain`: nothing added, but the counter still moves.
//!
//! The command counter increments once per command/answer pair, so a command or answer
//! recorded earlier in the session (or in another one: TI and keys are new each time)
//! never verifies again. On the card side a failed check ends the session.

use zeroize::Zeroize;

use crate::Error;
use crate::apdu::{self, Status};
use crate::cmac::{Block, cbc_decrypt, cbc_encrypt, cmac_t, encrypt_block, pad, unpad};
use crate::key::AesKey;

/// How a command and its answer are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommMode {
    /// No protection.
    Plain,
    /// Truncated CMAC on command and answer.
    Mac,
    /// Encrypted data and truncated CMAC.
    Full,
}

impl CommMode {
    /// The file-settings encoding (`00` plain, `01` MAC, `03` full).
    pub fn code(self) -> u8 {
        match self {
            Self::Plain => 0x00,
            Self::Mac => 0x01,
            Self::Full => 0x03,
        }
    }

    /// From the file-settings encoding (`02` also means plain on DESFire).
    pub fn from_code(code: u8) -> Option<Self> {
        match code & 0x03 {
            0x00 | 0x02 => Some(Self::Plain),
            0x01 => Some(Self::Mac),
            _ => Some(Self::Full),
        }
    }
}

/// An authenticated EV2 session: keys, transaction identifier and command counter.
/// `Debug` shows only TI, counter and key number.
pub struct Session {
    enc: AesKey,
    mac: AesKey,
    ti: [u8; 4],
    ctr: u16,
    key_no: u8,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("ti", &self.ti)
            .field("ctr", &self.ctr)
            .field("key_no", &self.key_no)
            .finish_non_exhaustive()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.ti.zeroize();
    }
}

const IV_CMD: [u8; 2] = [0xA5, 0x5A];
const IV_RESP: [u8; 2] = [0x5A, 0xA5];

impl Session {
    pub(crate) fn new(enc: AesKey, mac: AesKey, ti: [u8; 4], key_no: u8) -> Self {
        Self {
            enc,
            mac,
            ti,
            ctr: 0,
            key_no,
        }
    }

    /// A session from known keys and counter (test vectors, diagnostics).
    pub fn resume(enc: AesKey, mac: AesKey, ti: [u8; 4], key_no: u8, ctr: u16) -> Self {
        Self {
            enc,
            mac,
            ti,
            ctr,
            key_no,
        }
    }

    /// Transaction identifier the card chose.
    pub fn ti(&self) -> [u8; 4] {
        self.ti
    }

    /// Command counter (commands completed in this session).
    pub fn counter(&self) -> u16 {
        self.ctr
    }

    /// Key number the session was opened with.
    pub fn key_no(&self) -> u8 {
        self.key_no
    }

    /// SesAuthENCKey.
    pub fn enc_key(&self) -> &AesKey {
        &self.enc
    }

    /// SesAuthMACKey.
    pub fn mac_key(&self) -> &AesKey {
        &self.mac
    }

    fn next_ctr(&self) -> Option<u16> {
        self.ctr.checked_add(1)
    }

    fn iv(&self, prefix: [u8; 2], ctr: u16) -> Block {
        let mut b = [0u8; 16];
        b[0..2].copy_from_slice(&prefix);
        b[2..6].copy_from_slice(&self.ti);
        b[6..8].copy_from_slice(&ctr.to_le_bytes());
        encrypt_block(&self.enc, &b)
    }

    /// IV for encrypting the next command's data (`IVc`).
    pub fn command_iv(&self) -> Block {
        self.iv(IV_CMD, self.ctr)
    }

    fn mac(&self, code: u8, ctr: u16, parts: &[&[u8]]) -> [u8; 8] {
        let mut input = Vec::with_capacity(7 + parts.iter().map(|p| p.len()).sum::<usize>());
        input.push(code);
        input.extend_from_slice(&ctr.to_le_bytes());
        input.extend_from_slice(&self.ti);
        for p in parts {
            input.extend_from_slice(p);
        }
        cmac_t(&self.mac, &input)
    }

    // ---- reader side ----

    /// The protected command APDU `90 cmd 00 00 Lc header ‖ data' ‖ MACt 00`; the
    /// counter moves when its answer is checked with [`Session::response`].
    pub fn command(
        &self,
        cmd: u8,
        header: &[u8],
        data: &[u8],
        mode: CommMode,
    ) -> Result<Vec<u8>, Error> {
        if self.next_ctr().is_none() {
            return Err(Error::CounterExhausted);
        }
        let mut body = header.to_vec();
        let payload = match mode {
            CommMode::Full if !data.is_empty() => {
                let mut padded = pad(data);
                let c = cbc_encrypt(&self.enc, &self.command_iv(), &padded)?;
                padded.zeroize();
                c
            }
            _ => data.to_vec(),
        };
        body.extend_from_slice(&payload);
        if mode != CommMode::Plain {
            let mac = self.mac(cmd, self.ctr, &[header, &payload]);
            body.extend_from_slice(&mac);
        }
        apdu::wrap(cmd, &body)
    }

    /// Checks and opens the card's answer (status and data with chained frames already
    /// joined); returns the plain answer data and moves the counter. An error status
    /// from the card is [`Error::Card`] (the card has ended the session).
    pub fn response(
        &mut self,
        status: Status,
        data: &[u8],
        mode: CommMode,
    ) -> Result<Vec<u8>, Error> {
        if status != Status::Ok {
            return Err(match status {
                Status::IntegrityError => Error::Integrity,
                other => Error::Card(other),
            });
        }
        let next = self.next_ctr().ok_or(Error::CounterExhausted)?;
        let plain = match mode {
            CommMode::Plain => data.to_vec(),
            CommMode::Mac | CommMode::Full => {
                let Some((body, mac)) = data.split_last_chunk::<8>() else {
                    return Err(Error::Malformed("answer shorter than its MAC"));
                };
                let expected = self.mac(status.code(), next, &[body]);
                if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &mac[..])) {
                    return Err(Error::Integrity);
                }
                if mode == CommMode::Full && !body.is_empty() {
                    if !body.len().is_multiple_of(16) {
                        return Err(Error::Integrity);
                    }
                    let mut p = cbc_decrypt(&self.enc, &self.iv(IV_RESP, next), body)?;
                    let out = unpad(&p).map(<[u8]>::to_vec);
                    p.zeroize();
                    out?
                } else {
                    body.to_vec()
                }
            }
        };
        self.ctr = next;
        Ok(plain)
    }

    // ---- card side ----

    /// Card side: checks a protected command's MAC and decrypts its data. `body` is the
    /// APDU data field, `header_len` how much of it is the plain command header. Returns
    /// (header, plain data). A bad MAC or padding is `91 1E`.
    pub fn open_command(
        &self,
        cmd: u8,
        body: &[u8],
        header_len: usize,
        mode: CommMode,
    ) -> Result<(Vec<u8>, Vec<u8>), Status> {
        if self.next_ctr().is_none() {
            return Err(Status::CommandAborted);
        }
        let (rest, mac) = match mode {
            CommMode::Plain => (body, None),
            _ => match body.split_last_chunk::<8>() {
                Some((rest, mac)) => (rest, Some(mac)),
                None => return Err(Status::LengthError),
            },
        };
        if rest.len() < header_len {
            return Err(Status::LengthError);
        }
        let (header, payload) = rest.split_at(header_len);
        if let Some(mac) = mac {
            let expected = self.mac(cmd, self.ctr, &[header, payload]);
            if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &mac[..])) {
                return Err(Status::IntegrityError);
            }
        }
        let data = match mode {
            CommMode::Full if !payload.is_empty() => {
                if !payload.len().is_multiple_of(16) {
                    return Err(Status::LengthError);
                }
                let mut p = cbc_decrypt(&self.enc, &self.command_iv(), payload)
                    .map_err(|_| Status::LengthError)?;
                let out = unpad(&p)
                    .map(<[u8]>::to_vec)
                    .map_err(|_| Status::IntegrityError);
                p.zeroize();
                out?
            }
            _ => payload.to_vec(),
        };
        Ok((header.to_vec(), data))
    }

    /// Card side: protects a successful answer's data (`RC = 00`) and moves the counter.
    pub fn seal_response(&mut self, data: &[u8], mode: CommMode) -> Result<Vec<u8>, Status> {
        let next = self.next_ctr().ok_or(Status::CommandAborted)?;
        let out = match mode {
            CommMode::Plain => data.to_vec(),
            CommMode::Mac | CommMode::Full => {
                let mut body = if mode == CommMode::Full && !data.is_empty() {
                    let mut padded = pad(data);
                    let c = cbc_encrypt(&self.enc, &self.iv(IV_RESP, next), &padded)
                        .map_err(|_| Status::IntegrityError)?;
                    padded.zeroize();
                    c
                } else {
                    data.to_vec()
                };
                let mac = self.mac(Status::Ok.code(), next, &[&body]);
                body.extend_from_slice(&mac);
                body
            }
        };
        self.ctr = next;
        Ok(out)
    }
}

// The AN12196 (NTAG 424 DNA, same EV2 secure messaging) vectors below were read from
// trustchain-dev/pylibsdm tests/tag/ntag424dna/test_tag.py (its table of APDUs "derived
// from examples in NXP's documentation") unless another source is named.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::apdu::cmd;
    use crate::crc::crc32;
    use crate::hex;

    fn key(h: &str) -> AesKey {
        AesKey::from_slice(&hex(h)).unwrap()
    }

    /// Session of AN12196 Table 14 (TI 9D00C4DF).
    fn table14(ctr: u16) -> Session {
        Session::resume(
            key("1309C877509E5A215007FF0ED19CA564"),
            key("4C6626F5E72EA694202139295C7A7FC7"),
            [0x9D, 0x00, 0xC4, 0xDF],
            0,
            ctr,
        )
    }

    /// Session of AN12196 Tables 26-27 (TI 7614281A).
    fn table26(ctr: u16) -> Session {
        Session::resume(
            key("4CF3CB41A22583A61E89B158D252FC53"),
            key("5529860B2FC5FB6154B7F28361D30BF9"),
            [0x76, 0x14, 0x28, 0x1A],
            0,
            ctr,
        )
    }

    /// AN12196 Table 27: IVc for TI 7614281A, CmdCtr 3 (pylibsdm test_ivc).
    #[test]
    fn an12196_command_iv() {
        assert_eq!(
            table26(3).command_iv().to_vec(),
            hex("01602D579423B2797BE8B478B0B4D27B")
        );
    }

    /// AN12196 Table 22: WriteData in CommMode.Full to file 3 after the key-3
    /// authentication (CmdCtr 0), and the card's MACed answer (pylibsdm test_write_data_3).
    #[test]
    fn an12196_write_data_full_small() {
        let mut s = Session::resume(
            key("7A93D6571E4B180FCA6AC90C9A7488D4"),
            key("FC4AF159B62E549B5812394CAB1918CC"),
            [0x76, 0x14, 0x28, 0x1A],
            3,
            0,
        );
        let header = hex("030000000A0000");
        let apdu = s
            .command(
                cmd::WRITE_DATA,
                &header,
                &hex("0102030405060708090A"),
                CommMode::Full,
            )
            .unwrap();
        assert_eq!(
            apdu,
            hex("908D00001F030000000A00006B5E6804909962FC4E3FF5522CF0F8436C0C53315B9C73AA00")
        );
        assert_eq!(
            s.response(Status::Ok, &hex("C26D236E4A7C046D"), CommMode::Full)
                .unwrap(),
            b""
        );
        assert_eq!(s.counter(), 1);
    }

    /// AN12196 Table 17: 128-byte WriteData in CommMode.Full (TI 9D00C4DF, CmdCtr 0) and
    /// the MACed answer FC222E5F7A542452; from the AN12196-based ntag424 EV2 module quoted
    /// in the code search ("Cryptographic results are checked against … Table 17").
    #[test]
    fn an12196_write_data_full_ndef() {
        let data = hex(
            "0051D1014D550463686F6F73652E75726C2E636F6D2F6E7461673432343F653D3030303030303030\
             30303030303030303030303030303030303030303030303026633D30303030303030303030303030\
             30303000000000000000000000000000000000000000000000000000000000000000000000000000\
             0000000000000000",
        );
        assert_eq!(data.len(), 128);
        let mut s = table14(0);
        let apdu = s
            .command(
                cmd::WRITE_DATA,
                &hex("02000000800000"),
                &data,
                CommMode::Full,
            )
            .unwrap();
        assert_eq!(
            apdu,
            hex(
                "908D00009F02000000800000421C73A27D827658AF481FDFF20A5025B559D0E3AA21E58D347F343C\
                 FFC768BFE596C706BC00F2176781D4B0242642A0FF5A42C461AAF894D9A1284B8C76BCFA658ACD40\
                 555D362E08DB15CF421B51283F9064BCBE20E96CAE545B407C9D651A3315B27373772E5DA2367D20\
                 64AE054AF996C6F1F669170FA88CE8C4E3A4A7BBBEF0FD971FF532C3A802AF745660F2B4D1D9A849\
                 9661EBF300"
            )
        );
        assert!(
            s.response(Status::Ok, &hex("FC222E5F7A542452"), CommMode::Full)
                .is_ok()
        );
    }

    /// AN12196 Table 19: ChangeFileSettings (5F) in CommMode.Full, CmdCtr 1, and its answer
    /// (SecureMessagingTest of the PHP AN12196 port; pylibsdm's map of APDUs).
    #[test]
    fn an12196_change_file_settings() {
        let mut s = table14(1);
        let apdu = s
            .command(
                0x5F,
                &[0x02],
                &hex("4000E0C1F121200000430000430000"),
                CommMode::Full,
            )
            .unwrap();
        assert_eq!(
            apdu,
            hex("905F0000190261B6D97903566E84C3AE5274467E89EAD799B7C1A0EF7A0400")
        );
        assert!(
            s.response(Status::Ok, &hex("57BFF87B1241E93D"), CommMode::Full)
                .is_ok()
        );
        assert_eq!(s.counter(), 2);
    }

    /// AN12196 Table 26: ChangeKey of key 2 (not the session's key) in CommMode.Full:
    /// data = (new ⊕ old) ‖ version ‖ CRC32(new), CmdCtr 2 (pylibsdm test_change_key_2).
    #[test]
    fn an12196_change_other_key() {
        let mut s = table26(2);
        let new = hex("F3847D627727ED3BC9C4CC050489B966");
        let old = [0u8; 16];
        let mut data: Vec<u8> = new.iter().zip(old).map(|(a, b)| a ^ b).collect();
        data.push(0x01);
        data.extend(crc32(&new));
        let apdu = s
            .command(cmd::CHANGE_KEY, &[0x02], &data, CommMode::Full)
            .unwrap();
        assert_eq!(
            apdu,
            hex(
                "90C4000029022CF362B7BF4311FF3BE1DAA295E8C68DE09050560D19B9E1\
                 6C2393AE9CD1FAC75D0CE20BCD1D06E600"
            )
        );
        assert!(
            s.response(Status::Ok, &hex("203BB55D1089D587"), CommMode::Full)
                .is_ok()
        );
    }

    /// AN12196 Table 27: ChangeKey of key 0 (the session's own key): data = new ‖ version,
    /// CmdCtr 3 (pylibsdm test_change_key_0).
    #[test]
    fn an12196_change_own_key() {
        let s = table26(3);
        let mut data = hex("5004BF991F408672B1EF00F08F9E8647");
        data.push(0x01);
        let apdu = s
            .command(cmd::CHANGE_KEY, &[0x00], &data, CommMode::Full)
            .unwrap();
        assert_eq!(
            apdu,
            hex(
                "90C400002900C0EB4DEEFEDDF0B513A03A95A75491818580503190D4D050\
                 53FF75668A01D6FDA6610234BDED643200"
            )
        );
    }

    /// AN12196 Table 15 (GetFileSettings in CommMode.MAC): SesAuthMACKey 8248134A…,
    /// TI 7A21085E, CmdCtr 0: command MACt 6597A457C8CD442C, and the answer's MACt over
    /// its file settings. Read from the AN12196-based Python EV2 module's self-test
    /// (found with the code search), which notes NXP's table omits the status byte.
    #[test]
    fn an12196_get_file_settings_mac() {
        let mut s = Session::resume(
            AesKey::factory_default(),
            key("8248134A386E86EB7FAF54A52E536CB6"),
            [0x7A, 0x21, 0x08, 0x5E],
            0,
            0,
        );
        let apdu = s.command(0xF5, &[0x02], &[], CommMode::Mac).unwrap();
        assert_eq!(apdu, hex("90F5000009026597A457C8CD442C00"));
        let mut answer = hex("0040EEEE000100D1FE001F00004400004400002000006A0000");
        answer.extend(hex("2A474282E7A47986"));
        let settings = s.response(Status::Ok, &answer, CommMode::Mac).unwrap();
        assert_eq!(
            settings,
            hex("0040EEEE000100D1FE001F00004400004400002000006A0000")
        );
    }

    #[test]
    fn card_side_opens_what_the_reader_seals_and_back() {
        for mode in [CommMode::Plain, CommMode::Mac, CommMode::Full] {
            for len in [0usize, 1, 15, 16, 17, 100] {
                let mut reader = table14(5);
                let mut card = table14(5);
                let data = vec![0xC3; len];
                let apdu = reader.command(0xAD, &[1, 2, 3], &data, mode).unwrap();
                let c = apdu::parse_command(&apdu).unwrap();
                let (h, d) = card.open_command(c.cmd, &c.data, 3, mode).unwrap();
                assert_eq!((h, &d), (vec![1, 2, 3], &data));
                let answer = card.seal_response(&data, mode).unwrap();
                assert_eq!(reader.response(Status::Ok, &answer, mode).unwrap(), data);
                assert_eq!((reader.counter(), card.counter()), (6, 6));
            }
        }
    }

    #[test]
    fn tampering_and_replay_are_refused() {
        let mut reader = table14(0);
        let mut card = table14(0);
        let apdu = reader
            .command(0xAD, &[1], &[9; 20], CommMode::Full)
            .unwrap();
        let c = apdu::parse_command(&apdu).unwrap();
        let mut bad = c.data.clone();
        bad[3] ^= 1;
        assert_eq!(
            card.open_command(c.cmd, &bad, 1, CommMode::Full),
            Err(Status::IntegrityError)
        );
        card.open_command(c.cmd, &c.data, 1, CommMode::Full)
            .unwrap();
        let answer = card.seal_response(b"secret", CommMode::Full).unwrap();
        let mut tampered = answer.clone();
        tampered[0] ^= 1;
        let mut r2 = table14(0);
        assert_eq!(
            r2.response(Status::Ok, &tampered, CommMode::Full),
            Err(Error::Integrity)
        );
        assert_eq!(
            reader
                .response(Status::Ok, &answer, CommMode::Full)
                .unwrap(),
            b"secret"
        );
        // The same command again, one counter later, is refused by the card.
        assert_eq!(
            card.open_command(c.cmd, &c.data, 1, CommMode::Full),
            Err(Status::IntegrityError)
        );
        // And the same answer again is refused by the reader.
        let _ = reader
            .command(0xAD, &[1], &[9; 20], CommMode::Full)
            .unwrap();
        assert_eq!(
            reader.response(Status::Ok, &answer, CommMode::Full),
            Err(Error::Integrity)
        );
    }

    #[test]
    fn short_and_odd_inputs_are_errors() {
        let mut s = table14(0);
        assert!(s.response(Status::Ok, &[1, 2, 3], CommMode::Mac).is_err());
        assert!(
            s.response(Status::PermissionDenied, &[], CommMode::Mac)
                .is_err()
        );
        assert_eq!(s.counter(), 0);
        assert_eq!(
            s.open_command(0x51, &[1, 2], 0, CommMode::Mac),
            Err(Status::LengthError)
        );
        assert_eq!(
            s.open_command(0x51, &[0; 8], 1, CommMode::Mac),
            Err(Status::LengthError)
        );
        let mut spent = table14(u16::MAX);
        assert_eq!(
            spent.command(0x51, &[], &[], CommMode::Full),
            Err(Error::CounterExhausted)
        );
        assert_eq!(
            spent.seal_response(&[], CommMode::Mac),
            Err(Status::CommandAborted)
        );
    }

    #[test]
    fn debug_shows_no_keys() {
        let shown = format!("{:?}", table14(0));
        assert!(shown.contains("ti"));
        assert!(!shown.contains("enc") && !shown.contains("mac"));
    }
}
