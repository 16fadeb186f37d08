//! pcscd and a one-door site for the PC/SC tests (the card → relay benchmark includes
//! the same files by path).

pub mod pcsc_site;
pub mod pcscd;
