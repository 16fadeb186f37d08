//! The card (PICC) side: an in-memory DESFire EV2 card that answers APDUs, ISO-wrapped
//! or native. `vcard` puts it behind vpcd; the tests put it behind [`Pcd`](crate::pcd::Pcd)
//! and python-desfire (`examples/stdio_card.rs`).
//!
//! Modelled: the card level (AID `000000`) with its master key, applications with up to
//! 14 AES keys and key versions, standard data files with a communication mode and
//! access rights, `GetVersion`, `SelectApplication`, `AuthenticateEV2First`, EV1
//! `AuthenticateAES`, `GetCardUID`, `GetFileSettings`, `ReadData`, `WriteData`,
//! `ChangeKey`, `GetKeyVersion`, `CreateApplication`, `DeleteApplication`,
//! `CreateStdDataFile`, answers in 59-byte frames, and a
//! random-ID mode. Simplified: only AES keys; an EV1 session only reads; the key-settings
//! byte only decides whether creating needs the master key (bit `0x04`); keys are changed
//! by key 0 of the application, or by themselves; every error ends the session (as EV2
//! does for most).

mod admin;
mod files;

use std::collections::VecDeque;

pub use files::CAPACITY;

use crate::apdu::{self, Status, cmd};
use crate::ev1::{self, Ev1Session};
use crate::ev2::auth::{self, AwaitProof};
use crate::ev2::session::{CommMode, Session};
use crate::ev2::{self};
use crate::key::AesKey;
use crate::types::{AccessRights, FRAME_DATA, Version};

/// Most applications a card holds (DESFire: 28).
pub const MAX_APPLICATIONS: usize = 28;
/// Key-settings bit: creating and deleting needs no master-key authentication.
pub const FREE_CREATE: u8 = 0x04;

/// An AES key with its version.
#[derive(Debug, Clone)]
struct Slot {
    key: AesKey,
    version: u8,
}

#[derive(Debug, Clone)]
struct File {
    no: u8,
    mode: CommMode,
    access: AccessRights,
    data: Vec<u8>,
}

#[derive(Debug, Clone)]
struct App {
    aid: [u8; 3],
    settings: u8,
    keys: Vec<Slot>,
    files: Vec<File>,
}

#[derive(Debug)]
enum Auth {
    None,
    Pending(AwaitProof),
    PendingEv1(ev1::AwaitProof),
    Session(Session),
    Ev1(Ev1Session),
}

/// A DESFire EV2 card.
#[derive(Debug)]
pub struct Card {
    uid: Vec<u8>,
    random_id: bool,
    apps: Vec<App>,
    selected: usize,
    auth: Auth,
    frames: VecDeque<Vec<u8>>,
}

impl Card {
    /// A blank card as delivered: card master key all zero (version 0), free creation.
    /// `uid` must be 4, 7 or 10 bytes; anything else is refused with `None`.
    pub fn new(uid: &[u8]) -> Option<Self> {
        if !matches!(uid.len(), 4 | 7 | 10) {
            return None;
        }
        let picc = App {
            aid: [0; 3],
            settings: 0x0F,
            keys: vec![Slot {
                key: AesKey::factory_default(),
                version: 0,
            }],
            files: Vec::new(),
        };
        Some(Self {
            uid: uid.to_vec(),
            random_id: false,
            apps: vec![picc],
            selected: 0,
            auth: Auth::None,
            frames: VecDeque::new(),
        })
    }

    /// Random-ID mode: the anticollision UID is random per activation, and only
    /// `GetCardUID` after authentication reveals the real one.
    pub fn with_random_id(mut self, on: bool) -> Self {
        self.random_id = on;
        self
    }

    /// The real UID.
    pub fn uid(&self) -> &[u8] {
        &self.uid
    }

    /// The UID the card shows before any command (what PC/SC's `FF CA` returns): the real
    /// one, or `08` and three random bytes in random-ID mode.
    pub fn anticollision_uid(&self, rng: &mut impl rand::RngCore) -> Vec<u8> {
        if self.random_id {
            let mut id = vec![0x08, 0, 0, 0];
            rng.fill_bytes(&mut id[1..]);
            id
        } else {
            self.uid.clone()
        }
    }

    /// Card reset (field off, removal): no session, card level selected.
    pub fn reset(&mut self) {
        self.auth = Auth::None;
        self.selected = 0;
        self.frames.clear();
    }

    /// The current key version of key `key_no` in application `aid` (`[0; 3]`: card level).
    pub fn key_version(&self, aid: [u8; 3], key_no: u8) -> Option<u8> {
        let app = self.apps.iter().find(|a| a.aid == aid)?;
        app.keys.get(usize::from(key_no)).map(|s| s.version)
    }

    /// Answers one command: ISO 7816-wrapped (`90 cmd 00 00 …`, answer `… 91 status`) or
    /// native (`cmd …`, answer `status …`, as python-desfire sends them). Never panics;
    /// anything it does not understand gets a DESFire error status.
    pub fn process(
        &mut self,
        apdu: &[u8],
        rng: &mut (impl rand::RngCore + rand::CryptoRng),
    ) -> Vec<u8> {
        let (wrapped, command) = match apdu::parse_command(apdu) {
            Some(c) => (true, c),
            None => match apdu.split_first() {
                // No native command has code 0x90 (a broken wrapped APDU), 0x00 (ISO
                // 7816-4 class) or 0xFF (the reader's pseudo-APDUs such as `FF CA`, which
                // vcard answers itself): those get ISO "class not supported".
                Some((&code, data)) if ![apdu::CLA, 0x00, 0xFF].contains(&code) => (
                    false,
                    apdu::Command {
                        cmd: code,
                        data: data.to_vec(),
                    },
                ),
                _ => return vec![0x6E, 0x00],
            },
        };
        let (data, status) = self.answer(command.cmd, &command.data, rng);
        if wrapped {
            apdu::response(&data, status)
        } else {
            let mut out = Vec::with_capacity(data.len() + 1);
            out.push(status.code());
            out.extend_from_slice(&data);
            out
        }
    }

    fn answer(
        &mut self,
        code: u8,
        body: &[u8],
        rng: &mut (impl rand::RngCore + rand::CryptoRng),
    ) -> (Vec<u8>, Status) {
        if code == cmd::ADDITIONAL_FRAME {
            if let Some(frame) = self.frames.pop_front() {
                return (frame, self.more());
            }
            if matches!(self.auth, Auth::Pending(_) | Auth::PendingEv1(_)) {
                return self.finish_auth(body, rng);
            }
        }
        self.frames.clear();
        if matches!(self.auth, Auth::Pending(_) | Auth::PendingEv1(_)) {
            self.auth = Auth::None;
        }
        match self.dispatch(code, body, rng) {
            Ok(Answer::Continue(bytes)) => (bytes, Status::AdditionalFrame),
            Ok(Answer::Frames(frames)) => {
                self.frames = frames.into();
                let first = self.frames.pop_front().unwrap_or_default();
                (first, self.more())
            }
            Err(status) => {
                self.auth = Auth::None;
                (Vec::new(), status)
            }
        }
    }

    fn more(&self) -> Status {
        if self.frames.is_empty() {
            Status::Ok
        } else {
            Status::AdditionalFrame
        }
    }

    fn finish_auth(&mut self, data: &[u8], rng: &mut impl rand::RngCore) -> (Vec<u8>, Status) {
        let result = match std::mem::replace(&mut self.auth, Auth::None) {
            Auth::Pending(st) => {
                let mut ti = [0u8; 4];
                rng.fill_bytes(&mut ti);
                st.on_proof(data, ti)
                    .map(|(answer, s)| (answer, Auth::Session(s)))
            }
            Auth::PendingEv1(st) => st.on_proof(data).map(|(answer, s)| (answer, Auth::Ev1(s))),
            _ => Err(Status::CommandAborted),
        };
        match result {
            Ok((answer, auth)) => {
                self.auth = auth;
                (answer, Status::Ok)
            }
            Err(status) => (Vec::new(), status),
        }
    }

    fn session_key(&self) -> Option<u8> {
        match &self.auth {
            Auth::Session(s) => Some(s.key_no()),
            Auth::Ev1(s) => Some(s.key_no()),
            _ => None,
        }
    }

    /// Opens the command per `mode` inside a session (plain outside one).
    /// In an EV1 session commands come in plain and move the running IV.
    fn open(&mut self, code: u8, body: &[u8], header_len: usize, mode: CommMode) -> Opened {
        match &mut self.auth {
            Auth::Session(s) => s.open_command(code, body, header_len, mode),
            Auth::Ev1(s) => {
                let mut native = vec![code];
                native.extend_from_slice(body);
                s.command(&native).map_err(|_| Status::IntegrityError)?;
                let header = body.get(..header_len).ok_or(Status::LengthError)?;
                Ok((header.to_vec(), body[header_len..].to_vec()))
            }
            _ if body.len() < header_len => Err(Status::LengthError),
            _ => Ok((body[..header_len].to_vec(), body[header_len..].to_vec())),
        }
    }

    /// Seals a successful answer per `mode` inside a session (plain outside one).
    fn seal(&mut self, data: &[u8], mode: CommMode) -> Result<Vec<u8>, Status> {
        match &mut self.auth {
            Auth::Session(s) => s.seal_response(data, mode),
            Auth::Ev1(s) => match mode {
                CommMode::Plain => Ok(data.to_vec()),
                CommMode::Mac => s.seal_mac(data),
                CommMode::Full => s.seal_enc(data),
            },
            _ => Ok(data.to_vec()),
        }
    }

    fn dispatch(
        &mut self,
        code: u8,
        body: &[u8],
        rng: &mut (impl rand::RngCore + rand::CryptoRng),
    ) -> Result<Answer, Status> {
        // An EV1 session here only reads (what EV1 readers and python-desfire need);
        // issuing uses EV2.
        let ev1_reads = [
            cmd::GET_VERSION,
            cmd::SELECT_APPLICATION,
            cmd::AUTH_EV2_FIRST,
            cmd::AUTH_AES,
            cmd::GET_CARD_UID,
            cmd::READ_DATA,
            cmd::READ_DATA_EV1,
            cmd::GET_FILE_SETTINGS,
            cmd::GET_KEY_VERSION,
        ];
        if matches!(self.auth, Auth::Ev1(_)) && !ev1_reads.contains(&code) {
            return Err(Status::PermissionDenied);
        }
        match code {
            cmd::GET_VERSION => {
                self.open(code, body, 0, CommMode::Mac)?;
                let data = self.seal(&self.version().encode(), CommMode::Mac)?;
                // 7 bytes, 7 bytes, then the rest (with the MAC inside a session).
                let (hw, rest) = data.split_at(7.min(data.len()));
                let (sw, rest) = rest.split_at(7.min(rest.len()));
                Ok(Answer::Frames(vec![
                    hw.to_vec(),
                    sw.to_vec(),
                    rest.to_vec(),
                ]))
            }
            cmd::SELECT_APPLICATION => {
                let aid: [u8; 3] = body.try_into().map_err(|_| Status::LengthError)?;
                self.auth = Auth::None;
                let idx = self.apps.iter().position(|a| a.aid == aid);
                self.selected = idx.ok_or(Status::ApplicationNotFound)?;
                Ok(Answer::bare())
            }
            cmd::AUTH_EV2_FIRST => self.start_auth(body, rng),
            cmd::AUTH_AES => self.start_auth_ev1(body, rng),
            cmd::GET_FILE_SETTINGS => self.file_settings(body),
            cmd::GET_CARD_UID => {
                if self.session_key().is_none() {
                    return Err(Status::AuthenticationError);
                }
                self.open(code, body, 0, CommMode::Full)?;
                let uid = self.uid.clone();
                Ok(Answer::framed(self.seal(&uid, CommMode::Full)?))
            }
            cmd::READ_DATA | cmd::READ_DATA_EV1 => self.read_data(code, body),
            cmd::WRITE_DATA => self.write_data(body),
            cmd::CHANGE_KEY => self.change_key(body),
            cmd::CREATE_APPLICATION => self.create_application(body),
            cmd::CREATE_STD_DATA_FILE => self.create_file(body),
            cmd::GET_KEY_VERSION => self.get_key_version(body),
            cmd::DELETE_APPLICATION => self.delete_application(body),
            _ => Err(Status::IllegalCommand),
        }
    }

    fn version(&self) -> Version {
        let mut uid = [0u8; 7];
        if !self.random_id || self.session_key().is_some() {
            for (d, s) in uid.iter_mut().zip(&self.uid) {
                *d = *s;
            }
        }
        Version {
            // NXP, DESFire, 17 pF, EV2 (major 0x12), 8 KB (0x1A), ISO 14443-2 and -3.
            hardware: [0x04, 0x01, 0x01, 0x12, 0x00, 0x1A, 0x05],
            software: [0x04, 0x01, 0x01, 0x02, 0x00, 0x1A, 0x05],
            uid,
            production: [0, 0, 0, 0, 0, 0x01, 0x26],
        }
    }

    fn start_auth(
        &mut self,
        body: &[u8],
        rng: &mut (impl rand::RngCore + rand::CryptoRng),
    ) -> Result<Answer, Status> {
        let (&key_no, caps) = body.split_first().ok_or(Status::LengthError)?;
        let (&len_cap, pcd_cap) = caps.split_first().ok_or(Status::LengthError)?;
        if usize::from(len_cap) != pcd_cap.len() || len_cap > 6 {
            return Err(Status::LengthError);
        }
        self.auth = Auth::None;
        if key_no & 0x30 != 0 {
            return Err(Status::NoSuchKey);
        }
        let slot = self
            .app()?
            .keys
            .get(usize::from(key_no & 0x0F))
            .ok_or(Status::NoSuchKey)?;
        let (challenge, st) = auth::challenge(&slot.key, key_no & 0x0F, ev2::nonce(rng))?;
        self.auth = Auth::Pending(st);
        Ok(Answer::Continue(challenge))
    }

    fn start_auth_ev1(
        &mut self,
        body: &[u8],
        rng: &mut (impl rand::RngCore + rand::CryptoRng),
    ) -> Result<Answer, Status> {
        let [key_no] = body[..] else {
            return Err(Status::LengthError);
        };
        self.auth = Auth::None;
        let slot = self
            .app()?
            .keys
            .get(usize::from(key_no))
            .ok_or(Status::NoSuchKey)?;
        let (challenge, st) = ev1::challenge(&slot.key, key_no, ev2::nonce(rng))?;
        self.auth = Auth::PendingEv1(st);
        Ok(Answer::Continue(challenge))
    }

    fn app(&self) -> Result<&App, Status> {
        self.apps
            .get(self.selected)
            .ok_or(Status::ApplicationNotFound)
    }
}

type Opened = Result<(Vec<u8>, Vec<u8>), Status>;

/// A successful answer and how it goes out.
enum Answer {
    /// Frames: the last with `91 00`, the others with `91 AF`.
    Frames(Vec<Vec<u8>>),
    /// Authentication's first answer, status `91 AF`.
    Continue(Vec<u8>),
}

impl Answer {
    /// A bare `91 00`.
    fn bare() -> Self {
        Self::Frames(vec![Vec::new()])
    }

    /// Data in frames of 59 bytes.
    fn framed(data: Vec<u8>) -> Self {
        if data.is_empty() {
            return Self::bare();
        }
        Self::Frames(data.chunks(FRAME_DATA).map(<[u8]>::to_vec).collect())
    }
}
