//! Issuing secure cards (issue 15): the issuing station's work on the server machine —
//! a blank DESFire card on the desk reader gets the Gatehouse application, its site's
//! diversified keys and its record (`gatehouse_desfire::app::station`), is read back as a
//! door would, and only then becomes an active `secure` credential; re-key and wipe too.

pub mod cli;
#[cfg(feature = "pcsc")]
pub mod desk;
pub mod jobs;
pub mod service;

pub use jobs::{DeskJobs, IssuingSettings};
pub use service::{IssueError, IssueRequest, Station};
