//! Keys and applications on the card side: `ChangeKey` (own key: new key and version;
//! another key: `new ⊕ old`, version, CRC32 of the new key), `GetKeyVersion`,
//! `CreateApplication` and `DeleteApplication`.

use super::{Answer, App, Auth, Card, FREE_CREATE, MAX_APPLICATIONS, Slot};
use crate::apdu::{Status, cmd};
use crate::crc::crc32;
use crate::ev2::session::CommMode;
use crate::key::AesKey;

impl Card {
    pub(super) fn change_key(&mut self, body: &[u8]) -> Result<Answer, Status> {
        let Some(auth_key) = self.session_key() else {
            return Err(Status::AuthenticationError);
        };
        let (header, mut data) = self.open(cmd::CHANGE_KEY, body, 1, CommMode::Full)?;
        let target = header[0] & 0x0F;
        let app_idx = self.selected;
        let slots = self.apps[app_idx].keys.len();
        if usize::from(target) >= slots {
            return Err(Status::NoSuchKey);
        }
        if auth_key != 0 && auth_key != target {
            return Err(Status::PermissionDenied);
        }
        let own = auth_key == target;
        let expected_len = if own { 17 } else { 21 };
        if data.len() != expected_len {
            zeroize::Zeroize::zeroize(&mut data);
            return Err(Status::LengthError);
        }
        let old = self.apps[app_idx].keys[usize::from(target)].key.clone();
        let mut new = [0u8; 16];
        for (i, b) in new.iter_mut().enumerate() {
            *b = if own {
                data[i]
            } else {
                data[i] ^ old.expose()[i]
            };
        }
        let version = data[16];
        let crc_ok = own || data[17..21] == crc32(&new);
        zeroize::Zeroize::zeroize(&mut data);
        if !crc_ok {
            zeroize::Zeroize::zeroize(&mut new);
            return Err(Status::IntegrityError);
        }
        self.apps[app_idx].keys[usize::from(target)] = Slot {
            key: AesKey::new(new),
            version,
        };
        zeroize::Zeroize::zeroize(&mut new);
        if own {
            // The session's key is gone: answer with a bare status and end the session.
            self.auth = Auth::None;
            return Ok(Answer::bare());
        }
        Ok(Answer::framed(self.seal(&[], CommMode::Mac)?))
    }

    /// Creating needs key 0 of the selected level, unless its settings allow it freely.
    pub(super) fn may_create(&self) -> Result<(), Status> {
        let free = self.app()?.settings & FREE_CREATE != 0;
        match self.session_key() {
            Some(0) => Ok(()),
            None if free => Ok(()),
            None => Err(Status::AuthenticationError),
            Some(_) => Err(Status::PermissionDenied),
        }
    }

    pub(super) fn create_application(&mut self, body: &[u8]) -> Result<Answer, Status> {
        if self.selected != 0 {
            return Err(Status::PermissionDenied);
        }
        self.may_create()?;
        // AID, key settings, key count; optional ISO file identifier and name ignored.
        let (header, _iso) = self.open(cmd::CREATE_APPLICATION, body, 5, CommMode::Mac)?;
        let [a0, a1, a2, settings, keys] = header[..] else {
            return Err(Status::LengthError);
        };
        let aid = [a0, a1, a2];
        let count = usize::from(keys & 0x0F);
        if aid == [0; 3] || keys & 0x80 == 0 || count == 0 || count > 14 {
            return Err(Status::ParameterError);
        }
        if self.apps.iter().any(|a| a.aid == aid) {
            return Err(Status::DuplicateError);
        }
        if self.apps.len() > MAX_APPLICATIONS {
            return Err(Status::OutOfMemory);
        }
        let keys = vec![
            Slot {
                key: AesKey::factory_default(),
                version: 0
            };
            count
        ];
        self.apps.push(App {
            aid,
            settings,
            keys,
            files: Vec::new(),
        });
        Ok(Answer::framed(self.seal(&[], CommMode::Mac)?))
    }

    /// `GetKeyVersion`: free (readers pick the key version to authenticate with before
    /// any session); MACed inside one.
    pub(super) fn get_key_version(&mut self, body: &[u8]) -> Result<Answer, Status> {
        let (header, rest) = self.open(cmd::GET_KEY_VERSION, body, 1, CommMode::Mac)?;
        if !rest.is_empty() {
            return Err(Status::LengthError);
        }
        let slot = self.app()?.keys.get(usize::from(header[0] & 0x0F));
        let version = slot.ok_or(Status::NoSuchKey)?.version;
        Ok(Answer::framed(self.seal(&[version], CommMode::Mac)?))
    }

    /// `DeleteApplication`: from the card level with its master key (or freely when its
    /// settings allow creating freely), or from inside the application with the
    /// application's own master key. Deleting the selected application ends its session
    /// after this answer (MACed with it) and selects the card level.
    pub(super) fn delete_application(&mut self, body: &[u8]) -> Result<Answer, Status> {
        let (header, rest) = self.open(cmd::DELETE_APPLICATION, body, 3, CommMode::Mac)?;
        let aid: [u8; 3] = header[..].try_into().map_err(|_| Status::LengthError)?;
        if !rest.is_empty() {
            return Err(Status::LengthError);
        }
        if aid == [0; 3] {
            return Err(Status::ParameterError);
        }
        let target = self.apps.iter().position(|a| a.aid == aid);
        let target = target.ok_or(Status::ApplicationNotFound)?;
        if self.selected == 0 {
            self.may_create()?;
        } else if target != self.selected || self.session_key() != Some(0) {
            return Err(Status::PermissionDenied);
        }
        let answer = self.seal(&[], CommMode::Mac)?;
        if target == self.selected {
            self.auth = Auth::None;
            self.selected = 0;
        }
        self.apps.remove(target);
        Ok(Answer::framed(answer))
    }
}
