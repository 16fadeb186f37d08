//! Decoding a Linux evdev keypad: the kernel's `struct input_event` records, as `read(2)`
//! returns them from `/dev/input/eventN`, to [`Key`]s. Pure: bytes in, keys out; the
//! device is read in [`super::device`].
//!
//! A record is (`linux/input.h`): the time (`struct timeval`, or `__sec` and `__usec` of
//! `__kernel_ulong_t` each), `__u16 type`, `__u16 code`, `__s32 value`, in the
//! machine's byte order. The time is two words of the process's width, so a record is
//! 24 bytes for a 64-bit process and 16 bytes for a 32-bit one (32-bit Raspberry Pi OS;
//! a 64-bit kernel gives a 32-bit process the 16-byte compat layout). The time is not
//! used: the agent times the PIN entry itself.
//!
//! A key press is an `EV_KEY` record with value 1; a release (0) and the kernel's
//! auto-repeat (2) are ignored, so a held key types one digit. The kernel interleaves
//! other records (`EV_MSC`/`MSC_SCAN` with the HID usage before each key, `EV_SYN` after
//! each report, `EV_LED` for Num Lock); they are ignored too.

use super::Key;

/// Event types, from `linux/input-event-codes.h`.
pub const EV_SYN: u16 = 0x00;
/// A key or button (`EV_KEY`).
pub const EV_KEY: u16 = 0x01;
/// Miscellaneous; `MSC_SCAN` carries the HID usage before each key (`EV_MSC`).
pub const EV_MSC: u16 = 0x04;
/// `SYN_REPORT`: the end of one report.
pub const SYN_REPORT: u16 = 0;
/// `MSC_SCAN`.
pub const MSC_SCAN: u16 = 0x04;

/// Key codes, from `linux/input-event-codes.h`.
pub mod code {
    /// `KEY_ESC`.
    pub const KEY_ESC: u16 = 1;
    /// `KEY_1`; `KEY_2` … `KEY_9` follow (2 … 10), then `KEY_0` (11).
    pub const KEY_1: u16 = 2;
    /// `KEY_9`.
    pub const KEY_9: u16 = 10;
    /// `KEY_0`.
    pub const KEY_0: u16 = 11;
    /// `KEY_BACKSPACE`.
    pub const KEY_BACKSPACE: u16 = 14;
    /// `KEY_ENTER`.
    pub const KEY_ENTER: u16 = 28;
    /// `KEY_KP7`, `KEY_KP8`, `KEY_KP9` (71–73), as a keypad's top row.
    pub const KEY_KP7: u16 = 71;
    /// `KEY_KP4`, `KEY_KP5`, `KEY_KP6` (75–77); 74 is `KEY_KPMINUS`.
    pub const KEY_KP4: u16 = 75;
    /// `KEY_KP1`, `KEY_KP2`, `KEY_KP3` (79–81); 78 is `KEY_KPPLUS`.
    pub const KEY_KP1: u16 = 79;
    /// `KEY_KP0`.
    pub const KEY_KP0: u16 = 82;
    /// `KEY_KPENTER`.
    pub const KEY_KPENTER: u16 = 96;
}

/// Which `struct input_event` layout the device writes: that of the reading process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A 64-bit process: 8 + 8 bytes of time, 24-byte records.
    Time64,
    /// A 32-bit process: 4 + 4 bytes of time, 16-byte records.
    Time32,
}

impl Layout {
    /// The layout this build reads.
    #[cfg(target_pointer_width = "64")]
    pub const NATIVE: Layout = Layout::Time64;
    /// The layout this build reads.
    #[cfg(not(target_pointer_width = "64"))]
    pub const NATIVE: Layout = Layout::Time32;

    /// Bytes per record.
    pub const fn record_len(self) -> usize {
        match self {
            Layout::Time64 => 24,
            Layout::Time32 => 16,
        }
    }
}

/// What a keypad key means, if anything: `EV_KEY` presses of the digits (top row and
/// keypad), Enter (either), and Backspace or Escape to start the PIN again.
pub fn key_of(kind: u16, code: u16, value: i32) -> Option<Key> {
    use code::*;
    if kind != EV_KEY || value != 1 {
        return None;
    }
    let digit = |d: u16| u8::try_from(d).ok().map(Key::Digit);
    match code {
        KEY_1..=KEY_9 => digit(code - KEY_1 + 1),
        KEY_0 | KEY_KP0 => Some(Key::Digit(0)),
        KEY_KP7..=73 => digit(code - KEY_KP7 + 7),
        KEY_KP4..=77 => digit(code - KEY_KP4 + 4),
        KEY_KP1..=81 => digit(code - KEY_KP1 + 1),
        KEY_ENTER | KEY_KPENTER => Some(Key::Enter),
        KEY_BACKSPACE | KEY_ESC => Some(Key::Clear),
        _ => None,
    }
}

/// Reassembles records from reads of any size (a read may end inside a record) and
/// decodes them.
#[derive(Debug)]
pub struct Decoder {
    layout: Layout,
    /// The start of a record a read ended in.
    partial: Vec<u8>,
}

impl Decoder {
    /// A decoder for `layout`.
    pub fn new(layout: Layout) -> Self {
        Decoder {
            layout,
            partial: Vec::with_capacity(layout.record_len()),
        }
    }

    /// Decodes `bytes`, the next bytes read from the device, appending the keys pressed
    /// to `keys`.
    pub fn feed(&mut self, mut bytes: &[u8], keys: &mut Vec<Key>) {
        let len = self.layout.record_len();
        if !self.partial.is_empty() {
            let take = (len - self.partial.len()).min(bytes.len());
            let (head, rest) = bytes.split_at(take);
            self.partial.extend_from_slice(head);
            bytes = rest;
            if self.partial.len() < len {
                return;
            }
            let record = std::mem::take(&mut self.partial);
            keys.extend(self.decode(&record));
            self.partial = record;
            self.partial.clear();
        }
        let mut records = bytes.chunks_exact(len);
        for record in records.by_ref() {
            keys.extend(self.decode(record));
        }
        self.partial.extend_from_slice(records.remainder());
    }

    /// One whole record (`record.len()` is the layout's).
    fn decode(&self, record: &[u8]) -> Option<Key> {
        let time = self.layout.record_len() - 8;
        let field = record.get(time..)?;
        let u16_at = |i: usize| Some(u16::from_ne_bytes([*field.get(i)?, *field.get(i + 1)?]));
        let kind = u16_at(0)?;
        let code = u16_at(2)?;
        let value = i32::from_ne_bytes(field.get(4..8)?.try_into().ok()?);
        key_of(kind, code, value)
    }
}
