//! Standard data files on the card side: `CreateStdDataFile`, `GetFileSettings`,
//! `ReadData` and `WriteData`, with the access check that picks the communication mode.

use super::{Answer, Card, File};
use crate::apdu::{Status, cmd};
use crate::ev2::session::CommMode;
use crate::types::{AccessRights, FREE};

/// Most bytes of file data a card holds in total (an 8 KB card's order of magnitude).
pub const CAPACITY: usize = 7 * 1024;

impl Card {
    /// `GetFileSettings` of a standard data file: type `00`, mode, access rights, size.
    pub(super) fn file_settings(&mut self, body: &[u8]) -> Result<Answer, Status> {
        let no = *body.first().ok_or(Status::LengthError)?;
        let file = &self.app()?.files[self.file_index(no)?];
        let mut data = vec![0x00, file.mode.code()];
        data.extend_from_slice(&file.access.encode());
        data.extend_from_slice(&file.data.len().to_le_bytes()[..3]);
        let (_, rest) = self.open(cmd::GET_FILE_SETTINGS, body, 1, CommMode::Mac)?;
        if !rest.is_empty() {
            return Err(Status::LengthError);
        }
        Ok(Answer::framed(self.seal(&data, CommMode::Mac)?))
    }

    pub(super) fn file_index(&self, no: u8) -> Result<usize, Status> {
        self.app()?
            .files
            .iter()
            .position(|f| f.no == no)
            .ok_or(Status::FileNotFound)
    }

    /// The mode of a file operation whose access right(s) are `rights`: the file's mode
    /// when the session's key is one of them, plain when one is free, else refused.
    pub(super) fn file_mode(&self, file: &File, rights: [u8; 2]) -> Result<CommMode, Status> {
        let key = self.session_key();
        if key.is_some_and(|k| rights.contains(&k)) {
            Ok(file.mode)
        } else if rights.contains(&FREE) {
            Ok(CommMode::Plain)
        } else if key.is_none() {
            Err(Status::AuthenticationError)
        } else {
            Err(Status::PermissionDenied)
        }
    }

    pub(super) fn read_data(&mut self, code: u8, body: &[u8]) -> Result<Answer, Status> {
        let h = body.get(..7).ok_or(Status::LengthError)?;
        let idx = self.file_index(h[0])?;
        let file = self.app()?.files[idx].clone();
        let mode = self.file_mode(&file, [file.access.read, file.access.read_write])?;
        let (header, rest) = self.open(code, body, 7, mode)?;
        if !rest.is_empty() {
            return Err(Status::LengthError);
        }
        let offset = u24(&header[1..4]);
        let len = u24(&header[4..7]);
        let size = file.data.len();
        let end = if len == 0 {
            size
        } else {
            offset.saturating_add(len)
        };
        if offset > size || end > size {
            return Err(Status::BoundaryError);
        }
        let data = file.data[offset..end].to_vec();
        Ok(Answer::framed(self.seal(&data, mode)?))
    }

    pub(super) fn write_data(&mut self, body: &[u8]) -> Result<Answer, Status> {
        let h = body.get(..7).ok_or(Status::LengthError)?;
        let idx = self.file_index(h[0])?;
        let file = self.app()?.files[idx].clone();
        let mode = self.file_mode(&file, [file.access.write, file.access.read_write])?;
        let (header, data) = self.open(cmd::WRITE_DATA, body, 7, mode)?;
        let offset = u24(&header[1..4]);
        let len = u24(&header[4..7]);
        if data.len() != len {
            return Err(Status::LengthError);
        }
        let size = file.data.len();
        if offset > size || offset.saturating_add(len) > size {
            return Err(Status::BoundaryError);
        }
        let app = self.selected;
        self.apps[app].files[idx].data[offset..offset + len].copy_from_slice(&data);
        Ok(Answer::framed(self.seal(&[], mode)?))
    }

    pub(super) fn create_file(&mut self, body: &[u8]) -> Result<Answer, Status> {
        if self.selected == 0 {
            return Err(Status::PermissionDenied);
        }
        self.may_create()?;
        let (header, rest) = self.open(cmd::CREATE_STD_DATA_FILE, body, 7, CommMode::Mac)?;
        if !rest.is_empty() {
            return Err(Status::LengthError);
        }
        let no = header[0];
        let mode = CommMode::from_code(header[1]).ok_or(Status::ParameterError)?;
        let access = AccessRights::decode([header[2], header[3]]);
        let size = u24(&header[4..7]);
        let used: usize = self
            .apps
            .iter()
            .flat_map(|a| &a.files)
            .map(|f| f.data.len())
            .sum();
        if no > 31 || size == 0 {
            return Err(Status::ParameterError);
        }
        if self.file_index(no).is_ok() {
            return Err(Status::DuplicateError);
        }
        if used.saturating_add(size) > CAPACITY {
            return Err(Status::OutOfMemory);
        }
        let app = self.selected;
        self.apps[app].files.push(File {
            no,
            mode,
            access,
            data: vec![0; size],
        });
        Ok(Answer::framed(self.seal(&[], CommMode::Mac)?))
    }
}

fn u24(b: &[u8]) -> usize {
    let mut v = 0usize;
    for (i, &byte) in b.iter().take(3).enumerate() {
        v |= usize::from(byte) << (8 * i);
    }
    v
}
