//! The door agent ↔ server wire contract: every body and query the agent sends to the
//! server's `/api/v1/agent/*` endpoints (and `GET /api/v1/policy/public-key`, which it
//! reads at enrolment), and every JSON answer it reads back. The server serves these
//! very types and the agent sends and reads them, so a renamed or retyped field fails to
//! compile on both sides instead of failing at a door.
//!
//! Hashes and key ids are lower-case hex on the wire (read in either case), through the
//! `hex` crate; keys and payloads are base64 strings, decoded where they are used (the
//! server refuses an oversized payload before decoding it). With the `openapi` feature
//! (the server's) each type also describes itself for the API document.
//!
//! - [`card_keys`]: `PUT /agent/card-public-key`, `GET /agent/card-keys`, and the sealed
//!   boxes that carry a site's card read keys to one agent.
//! - [`enrol`]: `POST /agent/enroll`, `GET /agent/pin-key`, `GET /policy/public-key`.
//! - [`presence`]: `GET /agent/presence` and the policy long-poll's query.
//! - [`events`]: `POST /agent/events`.
//! - [`door_state`]: `POST /agent/door-state`, each door's live state and the heartbeat.
//! - [`commands`]: `POST /agent/commands`, operators' remote door commands.
//! - [`time`]: [`Timestamp`], the API's one time type.

pub mod card_keys;
pub mod commands;
pub mod door_state;
pub mod enrol;
pub mod events;
pub mod presence;
pub mod time;

pub use card_keys::{CARD_KEY_SET_HEADER, CardKeySet, CardPublicKey, SealedCardKeys};
pub use commands::{CommandAction, CommandPage, CommandPoll, DoorCommand, RELEASE_SECONDS};
pub use door_state::{ContactState, DoorAlarm, DoorState, DoorStateReport, LastEvent, LockState};
pub use enrol::{EnrollRequest, Enrolled, PinKeyAnswer, PublicKey};
pub use events::{HASH_EXPECTED, HexHash, IngestOutcome, Upload, UploadAnswer, UploadedRecord};
pub use presence::{
    FORMAT_DELTA, FORMAT_SNAPSHOT, FedPresence, POLICY_FORMAT_HEADER, PolicyQuery, PresencePage,
    PresenceQuery,
};
pub use time::Timestamp;
