//! ISO 7816-4 wrapping of DESFire native commands (`90 cmd 00 00 Lc data 00`) and the
//! status words they come back with (`91 xx`), for both sides.
//!
//! Everything here parses untrusted bytes: a reader's answer on the agent side, a
//! command APDU on the card side. Short or inconsistent input is an error, never a panic.

use crate::Error;

/// CLA of a wrapped DESFire native command.
pub const CLA: u8 = 0x90;
/// SW1 of every wrapped DESFire answer.
pub const SW1: u8 = 0x91;
/// Longest data field of a short APDU (one byte of Lc).
pub const MAX_LC: usize = 255;

/// Native command codes used by Gatehouse.
pub mod cmd {
    /// `AuthenticateEV2First`.
    pub const AUTH_EV2_FIRST: u8 = 0x71;
    /// `AuthenticateAES` (EV1).
    pub const AUTH_AES: u8 = 0xAA;
    /// More frames, in either direction.
    pub const ADDITIONAL_FRAME: u8 = 0xAF;
    /// `SelectApplication`.
    pub const SELECT_APPLICATION: u8 = 0x5A;
    /// `GetCardUID`.
    pub const GET_CARD_UID: u8 = 0x51;
    /// `ReadData` (EV2 secure messaging variant).
    pub const READ_DATA: u8 = 0xAD;
    /// `ReadData` (EV1 code, as python-desfire sends it).
    pub const READ_DATA_EV1: u8 = 0xBD;
    /// `GetFileSettings`.
    pub const GET_FILE_SETTINGS: u8 = 0xF5;
    /// `WriteData` (EV2 secure messaging variant).
    pub const WRITE_DATA: u8 = 0x8D;
    /// `ChangeKey`.
    pub const CHANGE_KEY: u8 = 0xC4;
    /// `CreateApplication`.
    pub const CREATE_APPLICATION: u8 = 0xCA;
    /// `CreateStdDataFile`.
    pub const CREATE_STD_DATA_FILE: u8 = 0xCD;
    /// `GetVersion`.
    pub const GET_VERSION: u8 = 0x60;
    /// `GetKeyVersion`.
    pub const GET_KEY_VERSION: u8 = 0x64;
    /// `DeleteApplication`.
    pub const DELETE_APPLICATION: u8 = 0xDA;
}

/// A DESFire status code (the byte after `91`), as a typed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `00`: success.
    Ok,
    /// `0C`: nothing changed.
    NoChanges,
    /// `0E`: out of EEPROM.
    OutOfMemory,
    /// `1C`: command code not supported.
    IllegalCommand,
    /// `1E`: CRC or MAC does not match, or bad padding.
    IntegrityError,
    /// `40`: no such key.
    NoSuchKey,
    /// `7E`: length of command string invalid.
    LengthError,
    /// `9D`: current configuration or authentication does not allow the command.
    PermissionDenied,
    /// `9E`: a parameter is invalid.
    ParameterError,
    /// `A0`: no such application.
    ApplicationNotFound,
    /// `AE`: authentication failed (wrong key, or the command needs one).
    AuthenticationError,
    /// `AF`: more frames follow.
    AdditionalFrame,
    /// `BE`: read or write past the end of the file.
    BoundaryError,
    /// `CA`: previous command not fully completed.
    CommandAborted,
    /// `DE`: application or file already exists.
    DuplicateError,
    /// `F0`: no such file.
    FileNotFound,
    /// Any other status code.
    Other(u8),
}

impl Status {
    /// `Ok(())` when the card answered an authentication step with `wanted`; a refused
    /// authentication is [`Error::NotAuthentic`], any other status the card's error.
    pub fn expect_in_auth(self, wanted: Status) -> Result<(), Error> {
        match self {
            s if s == wanted => Ok(()),
            Status::AuthenticationError => Err(Error::NotAuthentic),
            other => Err(Error::Card(other)),
        }
    }

    /// The status from its code.
    pub fn from_code(code: u8) -> Self {
        match code {
            0x00 => Self::Ok,
            0x0C => Self::NoChanges,
            0x0E => Self::OutOfMemory,
            0x1C => Self::IllegalCommand,
            0x1E => Self::IntegrityError,
            0x40 => Self::NoSuchKey,
            0x7E => Self::LengthError,
            0x9D => Self::PermissionDenied,
            0x9E => Self::ParameterError,
            0xA0 => Self::ApplicationNotFound,
            0xAE => Self::AuthenticationError,
            0xAF => Self::AdditionalFrame,
            0xBE => Self::BoundaryError,
            0xCA => Self::CommandAborted,
            0xDE => Self::DuplicateError,
            0xF0 => Self::FileNotFound,
            other => Self::Other(other),
        }
    }

    /// The status code byte.
    pub fn code(self) -> u8 {
        match self {
            Self::Ok => 0x00,
            Self::NoChanges => 0x0C,
            Self::OutOfMemory => 0x0E,
            Self::IllegalCommand => 0x1C,
            Self::IntegrityError => 0x1E,
            Self::NoSuchKey => 0x40,
            Self::LengthError => 0x7E,
            Self::PermissionDenied => 0x9D,
            Self::ParameterError => 0x9E,
            Self::ApplicationNotFound => 0xA0,
            Self::AuthenticationError => 0xAE,
            Self::AdditionalFrame => 0xAF,
            Self::BoundaryError => 0xBE,
            Self::CommandAborted => 0xCA,
            Self::DuplicateError => 0xDE,
            Self::FileNotFound => 0xF0,
            Self::Other(code) => code,
        }
    }
}

/// Builds `90 cmd 00 00 [Lc data] 00`. Data over 255 bytes would need ISO chaining,
/// which Gatehouse never sends: an error.
pub fn wrap(cmd: u8, data: &[u8]) -> Result<Vec<u8>, Error> {
    if data.len() > MAX_LC {
        return Err(Error::TooLong);
    }
    let mut apdu = Vec::with_capacity(data.len() + 6);
    apdu.extend_from_slice(&[CLA, cmd, 0x00, 0x00]);
    if !data.is_empty() {
        apdu.push(data.len() as u8);
        apdu.extend_from_slice(data);
    }
    apdu.push(0x00);
    Ok(apdu)
}

/// A response APDU split into its data and DESFire status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The data before the status word.
    pub data: Vec<u8>,
    /// The DESFire status.
    pub status: Status,
}

/// Splits a response APDU. Anything that is not `… 91 xx` (an ISO `6A 82`, a bare
/// `90 00` from a card that is not a DESFire, fewer than 2 bytes) is
/// [`Error::NotDesfire`].
pub fn parse_response(bytes: &[u8]) -> Result<Response, Error> {
    let Some((data, sw)) = bytes.split_last_chunk::<2>() else {
        return Err(Error::Malformed("response shorter than a status word"));
    };
    if sw[0] != SW1 {
        return Err(Error::NotDesfire {
            sw1: sw[0],
            sw2: sw[1],
        });
    }
    Ok(Response {
        data: data.to_vec(),
        status: Status::from_code(sw[1]),
    })
}

/// A wrapped command as the card side receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The native command code (INS).
    pub cmd: u8,
    /// The data field.
    pub data: Vec<u8>,
}

/// Parses `90 cmd 00 00 [Lc data] [Le]` on the card side. `None` for anything else
/// (another CLA, wrong P1/P2, a length that does not add up); the card answers those
/// with an ISO error of its own.
pub fn parse_command(apdu: &[u8]) -> Option<Command> {
    let (header, body) = apdu.split_first_chunk::<4>()?;
    if header[0] != CLA || header[2] != 0 || header[3] != 0 {
        return None;
    }
    let data = match body.len() {
        0 | 1 => Vec::new(), // case 1 / case 2 (Le only)
        _ => {
            let lc = usize::from(body[0]);
            let rest = &body[1..];
            // case 3 (no Le) or case 4 (one Le byte)
            if lc == 0 || (rest.len() != lc && rest.len() != lc + 1) {
                return None;
            }
            rest[..lc].to_vec()
        }
    };
    Some(Command {
        cmd: header[1],
        data,
    })
}

/// The card's answer: `data ‖ 91 status`.
pub fn response(data: &[u8], status: Status) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 2);
    out.extend_from_slice(data);
    out.extend_from_slice(&[SW1, status.code()]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex;

    #[test]
    fn wraps_like_an12196() {
        // AN12196 Table 14: AuthenticateEV2First with key 0 and no capabilities.
        assert_eq!(
            wrap(cmd::AUTH_EV2_FIRST, &[0, 0]).unwrap(),
            hex("9071000002000000")
        );
        assert_eq!(wrap(cmd::GET_VERSION, &[]).unwrap(), hex("9060000000"));
        assert!(wrap(0x8D, &[0; 256]).is_err());
    }

    #[test]
    fn status_codes_round_trip() {
        for code in 0..=255u8 {
            assert_eq!(Status::from_code(code).code(), code);
        }
    }

    #[test]
    fn parses_responses_and_refuses_non_desfire() {
        let r = parse_response(&hex("0102039100")).unwrap();
        assert_eq!((r.data, r.status), (vec![1, 2, 3], Status::Ok));
        assert_eq!(
            parse_response(&hex("91AE")).unwrap().status,
            Status::AuthenticationError
        );
        assert!(matches!(
            parse_response(&hex("6A82")),
            Err(Error::NotDesfire { .. })
        ));
        assert!(parse_response(&[0x91]).is_err());
        assert!(parse_response(&[]).is_err());
    }

    #[test]
    fn parses_commands_of_every_case() {
        assert_eq!(
            parse_command(&hex("9060000000")).unwrap(),
            Command {
                cmd: 0x60,
                data: vec![]
            }
        );
        assert_eq!(
            parse_command(&hex("90600000")).unwrap().data,
            Vec::<u8>::new()
        );
        assert_eq!(
            parse_command(&hex("905A00000301020300")).unwrap().data,
            vec![1, 2, 3]
        );
        assert_eq!(
            parse_command(&hex("905A000003010203")).unwrap().data,
            vec![1, 2, 3]
        );
        assert!(parse_command(&hex("905A00000501020300")).is_none());
        assert!(parse_command(&hex("00A4040C")).is_none());
        assert!(parse_command(&hex("9060")).is_none());
    }
}
