//! Live alarms: the alarm model over door events, server-raised alarms and
//! acknowledgements, in the store on both backends (`store`, `raised`), through the API
//! (`api`) and on the live stream (`stream`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::agents::support as agent_support;
use crate::support::openapi;
use crate::support::site_model as site_support;

mod api;
mod desk;
mod raised;
mod store;
mod stream;
pub mod support;
