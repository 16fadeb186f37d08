//! The `door-agent` command. The agent itself (PC/SC reader, lock, offline decisions,
//! journal and sync) is built in a later phase; for now the command documents itself.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "door-agent",
    version,
    about = "Gatehouse door agent: reads cards, drives the lock, decides offline, journals and syncs",
    long_about = "Gatehouse door agent. Runs next to a door (e.g. on a Raspberry Pi): reads smart \
cards through PC/SC, drives the lock relay and reads the door contact and exit button over GPIO, \
decides locally from a signed policy snapshot, journals every event durably and syncs with the \
Gatehouse server.\n\nThis build has no subcommands yet: enrolment (`door-agent enroll`) and the \
agent loop (`door-agent run`) arrive with the door-agent phase."
)]
struct Cli {}

fn main() {
    Cli::parse();
    println!(
        "door-agent {}: nothing to run yet; see --help",
        env!("CARGO_PKG_VERSION")
    );
}
