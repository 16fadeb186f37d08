//! Visitor documents: NDA and safety-briefing templates, signatures, signed copies
//! (issue 13 item 5).
//!
//! The templates, due documents and signatures are stored by `store::documents`; this
//! module draws the signed copy ([`signed_copy`]) with the PDF [`layout`] helper that
//! badges share.

pub mod layout;
pub mod signed_copy;
