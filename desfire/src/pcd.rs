//! The reader (PCD) side: DESFire commands over a transceive function the caller
//! supplies (PC/SC in the door agent and the issuing station, an in-memory [`Card`] in
//! tests), with the EV2 session kept between them.
//!
//! The transceive function takes a command APDU and returns the response APDU; its own
//! failures come back as [`Error::Transport`]. Answers in several frames (`91 AF`) are
//! fetched with `90 AF 00 00 00` and joined. Any error inside a session drops the
//! session, as the card does: the caller authenticates again.
//!
//! [`Card`]: crate::card::Card

use crate::Error;
use crate::apdu::{self, Response, Status, cmd};
use crate::crc::crc32;
use crate::ev1::{self, Ev1Session};
use crate::ev2::session::{CommMode, Session};
use crate::ev2::{self, auth};
use crate::key::AesKey;
use crate::types::{AccessRights, Version};

/// Most frames one answer may span; a card that keeps answering `91 AF` is broken or
/// hostile.
const MAX_FRAMES: usize = 64;

/// The session a reader holds: EV2 (`AuthenticateEV2First`) or EV1 (`AuthenticateAES`).
#[derive(Debug)]
enum Secure {
    Ev2(Session),
    Ev1(Ev1Session),
}

/// A DESFire card seen from the reader.
pub struct Pcd<T> {
    io: T,
    session: Option<Secure>,
}

impl<T> std::fmt::Debug for Pcd<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pcd")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl<T> Pcd<T>
where
    T: FnMut(&[u8]) -> Result<Vec<u8>, Error>,
{
    /// A reader talking through `io`.
    pub fn new(io: T) -> Self {
        Self { io, session: None }
    }

    /// The current EV2 session, if authenticated with `AuthenticateEV2First`.
    pub fn session(&self) -> Option<&Session> {
        match &self.session {
            Some(Secure::Ev2(s)) => Some(s),
            _ => None,
        }
    }

    /// Whether a session (EV2 or EV1) is open.
    pub fn is_authenticated(&self) -> bool {
        self.session.is_some()
    }

    /// Gives the transceive function back.
    pub fn into_inner(self) -> T {
        self.io
    }

    fn transmit(&mut self, apdu: &[u8]) -> Result<Response, Error> {
        let answer = (self.io)(apdu)?;
        apdu::parse_response(&answer)
    }

    /// Sends one command and joins the frames of its answer.
    fn exchange(&mut self, apdu: &[u8]) -> Result<Response, Error> {
        let mut r = self.transmit(apdu)?;
        let mut data = std::mem::take(&mut r.data);
        let mut frames = 1;
        while r.status == Status::AdditionalFrame {
            frames += 1;
            if frames > MAX_FRAMES {
                return Err(Error::Malformed("answer spans too many frames"));
            }
            r = self.transmit(&apdu::wrap(cmd::ADDITIONAL_FRAME, &[])?)?;
            data.extend_from_slice(&r.data);
        }
        Ok(Response {
            data,
            status: r.status,
        })
    }

    /// Runs a command: protected per `mode` inside a session, plain outside one. `len`
    /// is the answer's plain length when known (EV1 finds it from the CRC otherwise).
    fn run(
        &mut self,
        code: u8,
        header: &[u8],
        data: &[u8],
        mode: CommMode,
        len: Option<usize>,
    ) -> Result<Vec<u8>, Error> {
        let mut body = header.to_vec();
        body.extend_from_slice(data);
        let result = match self.session.as_mut() {
            None => {
                let r = self.exchange(&apdu::wrap(code, &body)?)?;
                return match r.status {
                    Status::Ok => Ok(r.data),
                    other => Err(Error::Card(other)),
                };
            }
            Some(Secure::Ev2(session)) => {
                let apdu = session.command(code, header, data, mode)?;
                self.exchange(&apdu)
                    .and_then(|r| match self.session.as_mut() {
                        Some(Secure::Ev2(s)) => s.response(r.status, &r.data, mode),
                        _ => Err(Error::NotAuthenticated),
                    })
            }
            Some(Secure::Ev1(session)) => {
                // EV1 commands go in plain (only reads are supported here); the command
                // moves the running IV on both sides.
                let mut native = vec![code];
                native.extend_from_slice(&body);
                session.command(&native)?;
                self.exchange(&apdu::wrap(code, &body)?).and_then(|r| {
                    match (r.status, self.session.as_mut()) {
                        (Status::Ok, Some(Secure::Ev1(s))) => match mode {
                            CommMode::Plain => Ok(r.data),
                            CommMode::Mac => s.open_mac(&r.data),
                            CommMode::Full => s.open_enc(&r.data, len),
                        },
                        (Status::IntegrityError, _) => Err(Error::Integrity),
                        (Status::Ok, _) => Err(Error::NotAuthenticated),
                        (other, _) => Err(Error::Card(other)),
                    }
                })
            }
        };
        if result.is_err() {
            self.session = None;
        }
        result
    }

    /// Refuses commands that write inside an EV1 session (issuing uses EV2).
    fn not_ev1(&self) -> Result<(), Error> {
        match self.session {
            Some(Secure::Ev1(_)) => Err(Error::Unsupported("writing in an EV1 session")),
            _ => Ok(()),
        }
    }

    /// `GetVersion` (MACed inside a session).
    pub fn get_version(&mut self) -> Result<Version, Error> {
        Version::parse(&self.run(cmd::GET_VERSION, &[], &[], CommMode::Mac, None)?)
    }

    /// `SelectApplication` (`[0; 3]` is the card level). Ends any session.
    pub fn select_application(&mut self, aid: [u8; 3]) -> Result<(), Error> {
        self.session = None;
        self.run(cmd::SELECT_APPLICATION, &aid, &[], CommMode::Plain, None)
            .map(|_| ())
    }

    /// `AuthenticateEV2First` with `key` as key `key_no` of the selected application.
    /// A card that does not hold the key is [`Error::NotAuthentic`].
    pub fn authenticate_ev2_first(
        &mut self,
        key_no: u8,
        key: &AesKey,
        rng: &mut (impl rand::RngCore + rand::CryptoRng),
    ) -> Result<(), Error> {
        self.session = None;
        let (apdu, st) = auth::start(key.clone(), key_no)?;
        let answer = (self.io)(&apdu)?;
        let (apdu, st) = st.on_challenge(&answer, ev2::nonce(rng))?;
        let answer = (self.io)(&apdu)?;
        self.session = Some(Secure::Ev2(st.on_answer(&answer)?));
        Ok(())
    }

    /// EV1 `AuthenticateAES`, for EV1 cards (check [`Version::is_ev2_or_later`]). The
    /// session then reads (`GetVersion`, `GetFileSettings`, `ReadData`, `GetCardUID`).
    pub fn authenticate_aes(
        &mut self,
        key_no: u8,
        key: &AesKey,
        rng: &mut (impl rand::RngCore + rand::CryptoRng),
    ) -> Result<(), Error> {
        self.session = None;
        let (apdu, st) = ev1::start(key.clone(), key_no)?;
        let answer = (self.io)(&apdu)?;
        let (apdu, st) = st.on_challenge(&answer, ev2::nonce(rng))?;
        let answer = (self.io)(&apdu)?;
        self.session = Some(Secure::Ev1(st.on_answer(&answer)?));
        Ok(())
    }

    /// `GetFileSettings` of a standard data file: (communication mode, access rights,
    /// size).
    pub fn get_file_settings(&mut self, file: u8) -> Result<(CommMode, AccessRights, u32), Error> {
        let d = self.run(cmd::GET_FILE_SETTINGS, &[file], &[], CommMode::Mac, None)?;
        let [0x00, mode, a0, a1, s0, s1, s2] = d[..] else {
            return Err(Error::Malformed("not the settings of a standard data file"));
        };
        let mode = CommMode::from_code(mode).ok_or(Error::Malformed("communication mode"))?;
        let size = u32::from_le_bytes([s0, s1, s2, 0]);
        Ok((mode, AccessRights::decode([a0, a1]), size))
    }

    /// `GetCardUID`: the real UID (random-ID cards too), encrypted on the air.
    pub fn get_card_uid(&mut self) -> Result<Vec<u8>, Error> {
        if self.session.is_none() {
            return Err(Error::NotAuthenticated);
        }
        let uid = self.run(cmd::GET_CARD_UID, &[], &[], CommMode::Full, None)?;
        if !matches!(uid.len(), 4 | 7 | 10) {
            return Err(Error::Malformed("GetCardUID answer is not a UID"));
        }
        Ok(uid)
    }

    /// `ReadData` of `len` bytes (0 = to the end) from `offset` of standard data file
    /// `file`, protected as the file's `mode` says.
    pub fn read_data(
        &mut self,
        file: u8,
        offset: u32,
        len: u32,
        mode: CommMode,
    ) -> Result<Vec<u8>, Error> {
        let header = file_header(file, offset, len)?;
        let expected = (len != 0).then_some(len as usize);
        let data = self.run(cmd::READ_DATA, &header, &[], mode, expected)?;
        if len != 0 && data.len() != len as usize {
            return Err(Error::Malformed("ReadData answer has the wrong length"));
        }
        Ok(data)
    }

    /// `WriteData` of `data` at `offset` of file `file`.
    pub fn write_data(
        &mut self,
        file: u8,
        offset: u32,
        data: &[u8],
        mode: CommMode,
    ) -> Result<(), Error> {
        self.not_ev1()?;
        let len = u32::try_from(data.len()).map_err(|_| Error::TooLong)?;
        let header = file_header(file, offset, len)?;
        self.run(cmd::WRITE_DATA, &header, data, mode, None)
            .map(|_| ())
    }

    /// `ChangeKey` of key `key_no` to `new` (version `version`). Changing the key the
    /// session was opened with ends the session; changing another needs its current
    /// value `old` (the card checks `new ⊕ old` and a CRC32 of `new`).
    pub fn change_key(
        &mut self,
        key_no: u8,
        new: &AesKey,
        version: u8,
        old: &AesKey,
    ) -> Result<(), Error> {
        self.not_ev1()?;
        let Some(session) = self.session() else {
            return Err(Error::NotAuthenticated);
        };
        let own = session.key_no() & 0x0F == key_no & 0x0F;
        let mut data = Vec::with_capacity(21);
        if own {
            data.extend_from_slice(new.expose());
            data.push(version);
        } else {
            data.extend(new.expose().iter().zip(old.expose()).map(|(a, b)| a ^ b));
            data.push(version);
            data.extend_from_slice(&crc32(new.expose()));
        }
        let apdu = session.command(cmd::CHANGE_KEY, &[key_no], &data, CommMode::Full);
        zeroize::Zeroize::zeroize(&mut data);
        let apdu = apdu?;
        if !own {
            let r = self.exchange(&apdu);
            let result = r.and_then(|r| match self.session.as_mut() {
                Some(Secure::Ev2(s)) => s.response(r.status, &r.data, CommMode::Full),
                _ => Err(Error::NotAuthenticated),
            });
            if result.is_err() {
                self.session = None;
            }
            return result.map(|_| ());
        }
        // The card answers a change of its session key with a bare status: the session
        // (and its MAC key) ended with the change.
        self.session = None;
        let r = self.exchange(&apdu)?;
        match r.status {
            Status::Ok if r.data.is_empty() => Ok(()),
            Status::Ok => Err(Error::Malformed(
                "ChangeKey of the session key answered data",
            )),
            other => Err(Error::Card(other)),
        }
    }

    /// `CreateApplication` with `key_count` AES keys (1-14) and key settings `settings`.
    pub fn create_application(
        &mut self,
        aid: [u8; 3],
        settings: u8,
        key_count: u8,
    ) -> Result<(), Error> {
        let mut data = aid.to_vec();
        data.push(settings);
        data.push(0x80 | (key_count & 0x0F));
        self.not_ev1()?;
        self.run(cmd::CREATE_APPLICATION, &data, &[], CommMode::Mac, None)
            .map(|_| ())
    }

    /// `GetKeyVersion` of key `key_no` of the selected application (MACed inside a
    /// session). Readers ask it first to pick which key version to authenticate with.
    pub fn get_key_version(&mut self, key_no: u8) -> Result<u8, Error> {
        match self.run(cmd::GET_KEY_VERSION, &[key_no], &[], CommMode::Mac, None)?[..] {
            [version] => Ok(version),
            _ => Err(Error::Malformed("GetKeyVersion answer is not one byte")),
        }
    }

    /// `DeleteApplication` `aid`: from the card level, or from inside the application
    /// with its master key (which ends that session and selects the card level). The
    /// reader drops its session either way: authenticate again after it.
    pub fn delete_application(&mut self, aid: [u8; 3]) -> Result<(), Error> {
        self.not_ev1()?;
        let result = self.run(cmd::DELETE_APPLICATION, &aid, &[], CommMode::Mac, None);
        self.session = None;
        result.map(|_| ())
    }

    /// `CreateStdDataFile` number `file` of `size` bytes.
    pub fn create_std_data_file(
        &mut self,
        file: u8,
        mode: CommMode,
        access: AccessRights,
        size: u32,
    ) -> Result<(), Error> {
        let mut data = vec![file, mode.code()];
        data.extend_from_slice(&access.encode());
        data.extend_from_slice(&u24(size)?);
        self.not_ev1()?;
        self.run(cmd::CREATE_STD_DATA_FILE, &data, &[], CommMode::Mac, None)
            .map(|_| ())
    }
}

fn u24(v: u32) -> Result<[u8; 3], Error> {
    if v > 0xFF_FFFF {
        return Err(Error::TooLong);
    }
    let b = v.to_le_bytes();
    Ok([b[0], b[1], b[2]])
}

fn file_header(file: u8, offset: u32, len: u32) -> Result<[u8; 7], Error> {
    let o = u24(offset)?;
    let l = u24(len)?;
    Ok([file, o[0], o[1], o[2], l[0], l[1], l[2]])
}
