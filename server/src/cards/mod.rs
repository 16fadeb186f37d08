//! Secure cards (issue 15), the keys part: each site's DESFire keys, generated here (OS
//! random numbers), stored encrypted under the key-encryption key ([`kek`]), rolled over
//! by version, and sent to door agents sealed to each agent ([`keyring`]).
//!
//! Per site and key version, three AES-128 keys:
//! - the application master (write) key, which changes keys and writes the card: it
//!   never leaves the server (only the issuing station will use it);
//! - the read key: the base from which each card's own read key is diversified with
//!   the card's real UID (NXP AN10922, `gatehouse_desfire::diversify`);
//! - the UID key, site-wide and not diversified: it only lets a reader authenticate to a
//!   random-UID card to run `GetCardUID` before it diversifies.
//!
//! Agents receive the read and UID keys of every accepted version (current and previous)
//! of their own sites; see the README's "Secure cards" section for what a stolen agent
//! disk therefore exposes.

pub mod kek;
pub mod keyring;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub use keyring::{CardKeyError, CardKeyring, SiteKeys};

/// The `[cards]` settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardSettings {
    /// A file holding the key-encryption key (64 hex digits). Unset: `GATEHOUSE_KEK`, else
    /// `<data dir>/card-kek`, made when first needed.
    #[serde(default)]
    pub kek_file: Option<PathBuf>,
}
