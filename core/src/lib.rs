//! Types shared by the Gatehouse server and door agent. This crate does no I/O, so the
//! agent at the door and the server answering "why not?" run the very same code.

pub mod role;
