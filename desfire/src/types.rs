//! Values both sides encode the same way: file access rights, `GetVersion`'s answer, the
//! card's limits.

use crate::Error;

/// A key number in access rights meaning "anyone, no authentication".
pub const FREE: u8 = 0x0E;
/// A key number in access rights meaning "nobody".
pub const NEVER: u8 = 0x0F;

/// Data bytes per native frame: longer answers come in `91 AF` frames.
pub const FRAME_DATA: usize = 59;

/// Access rights of a file: a key number (0-13), [`FREE`] or [`NEVER`] per operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessRights {
    /// Key allowed to read.
    pub read: u8,
    /// Key allowed to write.
    pub write: u8,
    /// Key allowed to read and write.
    pub read_write: u8,
    /// Key allowed to change the file's settings.
    pub change: u8,
}

impl AccessRights {
    /// The two bytes on the wire: `RW<<4 | Change`, `Read<<4 | Write`.
    pub fn encode(self) -> [u8; 2] {
        [
            (self.read_write & 0x0F) << 4 | (self.change & 0x0F),
            (self.read & 0x0F) << 4 | (self.write & 0x0F),
        ]
    }

    /// From the two bytes on the wire.
    pub fn decode(bytes: [u8; 2]) -> Self {
        Self {
            read_write: bytes[0] >> 4,
            change: bytes[0] & 0x0F,
            read: bytes[1] >> 4,
            write: bytes[1] & 0x0F,
        }
    }

    /// Whether a session opened with `key` (or none) may read.
    pub fn may_read(self, key: Option<u8>) -> bool {
        allows(self.read, key) || allows(self.read_write, key)
    }

    /// Whether a session opened with `key` (or none) may write.
    pub fn may_write(self, key: Option<u8>) -> bool {
        allows(self.write, key) || allows(self.read_write, key)
    }
}

fn allows(right: u8, key: Option<u8>) -> bool {
    right == FREE || key.is_some_and(|k| k == right)
}

/// `GetVersion`'s 28 bytes: hardware and software information, UID and production data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Vendor, type, subtype, major, minor, storage size, protocol (hardware).
    pub hardware: [u8; 7],
    /// The same for the software.
    pub software: [u8; 7],
    /// UID (zero on a card with random ID before authentication).
    pub uid: [u8; 7],
    /// Batch number, calendar week and year of production.
    pub production: [u8; 7],
}

impl Version {
    /// Parses the joined frames of a `GetVersion` answer.
    pub fn parse(data: &[u8]) -> Result<Self, Error> {
        if data.len() != 28 {
            return Err(Error::Malformed("GetVersion answer is not 28 bytes"));
        }
        let part = |i: usize| {
            let mut out = [0u8; 7];
            out.copy_from_slice(&data[7 * i..7 * i + 7]);
            out
        };
        Ok(Self {
            hardware: part(0),
            software: part(1),
            uid: part(2),
            production: part(3),
        })
    }

    /// The 28 bytes.
    pub fn encode(&self) -> Vec<u8> {
        [self.hardware, self.software, self.uid, self.production].concat()
    }

    /// Major hardware version: `0x01` EV1, `0x12` EV2, `0x33` EV3 (NXP's numbering).
    pub fn major(&self) -> u8 {
        self.hardware[3]
    }

    /// Whether the card speaks `AuthenticateEV2First` (EV2 and later).
    pub fn is_ev2_or_later(&self) -> bool {
        self.major() >= 0x12
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_rights_round_trip() {
        let a = AccessRights {
            read: 1,
            write: 2,
            read_write: 3,
            change: 0,
        };
        assert_eq!(a.encode(), [0x30, 0x12]);
        assert_eq!(AccessRights::decode(a.encode()), a);
        assert!(a.may_read(Some(1)) && a.may_read(Some(3)) && !a.may_read(Some(2)));
        assert!(!a.may_read(None));
        let free = AccessRights {
            read: FREE,
            write: NEVER,
            read_write: NEVER,
            change: 0,
        };
        assert!(free.may_read(None) && !free.may_write(Some(0)));
    }

    #[test]
    fn version_needs_28_bytes() {
        assert!(Version::parse(&[0; 27]).is_err());
        let v = Version::parse(&[0x12; 28]).unwrap();
        assert!(v.is_ev2_or_later());
        assert_eq!(v.encode(), vec![0x12; 28]);
    }
}
