//! Live alarms: the alarm model over door events, server-raised alarms and
//! acknowledgements, in the store on both backends (`store`, `raised`), through the API
//! (`api`) and on the live stream (`stream`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

#[allow(dead_code)]
#[path = "agents/support.rs"]
mod agent_support;
#[path = "alarms/api.rs"]
mod api;
#[path = "support/openapi.rs"]
mod openapi;
#[path = "alarms/raised.rs"]
mod raised;
#[path = "support/site_model.rs"]
mod site_support;
#[path = "alarms/store.rs"]
mod store;
#[path = "alarms/stream.rs"]
mod stream;
#[path = "alarms/support.rs"]
mod support;
