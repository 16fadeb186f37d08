//! The `door-agent` command: `enroll` once, then `run` (usually under systemd).

// As in the library: the door must not panic.
#![warn(clippy::panic, clippy::unreachable, clippy::indexing_slicing)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use door_agent::agent;
use door_agent::config::AgentConfig;

#[derive(Parser)]
#[command(
    name = "door-agent",
    version,
    about = "Gatehouse door agent: reads cards, drives the lock, decides offline, journals and syncs",
    long_about = "Gatehouse door agent. Runs next to a door (e.g. on a Raspberry Pi): reads cards \
(PC/SC, or lines on standard input with the simulated reader), drives the lock relay, decides \
locally from a signed policy snapshot (also while the server is unreachable), journals every \
event durably before the relay acts, and uploads the journal to the Gatehouse server.",
    after_help = "Examples:\n  \
# once, with a code from `POST /api/v1/agents` (an admin registers the agent for its doors)\n  \
door-agent enroll --server https://gatehouse.example.com --code ABCD-EFGH --config /etc/gatehouse/door-agent.toml\n\n  \
# then run it (systemd: see deploy/door-agent.service)\n  \
door-agent run --config /etc/gatehouse/door-agent.toml\n\n  \
# a simulated door: present a card, open and close the door contact\n  \
printf 'front 04A1B2C3\\ncontact <door-id> open\\n' | door-agent run --config door-agent.toml\n\n\
Exit codes: 0 stopped on SIGTERM/Ctrl-C, 1 runtime failure, 2 bad configuration or usage."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Exchange a one-time enrolment code for this agent's credential and pin the server's
    /// policy-signing key; writes `agent.credential_file` (mode 0600).
    #[command(
        after_help = "Example:\n  door-agent enroll --server http://127.0.0.1:8080 --code ABCD-EFGH --config config/door-agent.toml\n\nPlain http:// needs `server.allow_plain_http = true` in the config and a loopback address."
    )]
    Enroll {
        /// The server's base URL, e.g. https://gatehouse.example.com
        #[arg(long)]
        server: String,
        /// The enrolment code an admin was given.
        #[arg(long)]
        code: String,
        /// The agent's configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Run the agent until SIGTERM or Ctrl-C.
    #[command(
        after_help = "Example:\n  door-agent run --config /etc/gatehouse/door-agent.toml\n\nWith `[reader] kind = \"simulated\"`, standard input takes `<reader-name> <hex-card>` lines, \
plus `contact <door-id> open|closed` and `exit <door-id>` to drive the simulated door.\nStatus: GET http://127.0.0.1:9100/status (status.listen)."
    )]
    Run {
        /// The agent's configuration file.
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config_path = match &cli.command {
        Command::Enroll { config, .. } | Command::Run { config } => config.clone(),
    };
    let config = match AgentConfig::load(&config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("door-agent: bad configuration: {e}");
            return ExitCode::from(2);
        }
    };
    if let (Command::Run { .. }, Err(e)) = (&cli.command, config.check_server()) {
        eprintln!("door-agent: bad configuration: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("door-agent: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Enroll { server, code, .. } => {
                agent::enroll(&config, &server, &code).await.map(|c| {
                    println!(
                        "enrolled as agent {} for {} door(s); credential written to {}",
                        c.agent_id,
                        c.door_ids.len(),
                        config.agent.credential_file.display()
                    );
                })
            }
            Command::Run { .. } => agent::run(config).await,
        }
    });
    // Blocking reader threads (stdin) must not hold the process open.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("door-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}
