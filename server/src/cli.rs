//! The `gatehouse` command line: serve, migrate, operator administration and the HR
//! import on the server machine. Exit codes: 0 success, 1 failure, 2 bad configuration or usage.

use crate::auth::password;
use crate::config::{ConfigError, LogFormat, Settings};
use crate::import::{self, ImportError};
use crate::store::{Actor, NewOperator, OperatorChange, OperatorStatus, Store, StoreError};
use crate::{Listeners, launch, shutdown_signal};
use clap::{Args, Parser, Subcommand};
use gatehouse_core::role::Role;
use secrecy::{ExposeSecret, SecretString};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Gatehouse access-control server: API, storage and audit trail",
    after_help = "Examples:\n  \
        gatehouse                                   serve with config/server.toml or defaults (SQLite in ./data)\n  \
        gatehouse serve --listen 0.0.0.0:8080       serve on all interfaces\n  \
        GATEHOUSE__DATABASE__URL=postgres://gatehouse@db/gatehouse gatehouse serve\n  \
        gatehouse operator add --username alice --role security --password-stdin\n  \
        gatehouse operator list\n  \
        gatehouse operator disable alice\n  \
        gatehouse import people staff.csv           onboard HR's file (all rows or none)\n  \
        gatehouse cards issue --person 'Ada Byron' --site HQ   issue the card on the desk reader\n  \
        gatehouse tls self-signed --hostname gate.example --ip 10.0.0.5 --out-dir tls\n\n\
        Settings come from the config file, then GATEHOUSE__SECTION__KEY environment\n\
        variables, then flags. See config/server.toml for every key."
)]
pub struct Cli {
    /// Config file (default: config/server.toml when it exists, else built-in defaults).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Database URL, overriding database.url (sqlite://PATH or postgres://...).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage operator accounts.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Bulk imports.
    #[command(subcommand)]
    Import(ImportCommand),
    /// TLS certificates for the API.
    #[command(subcommand)]
    Tls(crate::tls::self_signed::TlsCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Retention of personal data.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Secure cards on the desk reader: issue, re-key, wipe.
    #[command(subcommand)]
    Cards(crate::issuing::cli::CardsCommand),
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Purge now the visitors' personal data that is due (retention.visitor_personal_data_days);
    /// the server also does it every hour. Prints what was purged.
    Purge,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the whole audit chain and its signed checkpoints; print the report as
    /// JSON. Exits 0 only when everything verifies.
    Verify,
    /// Print the audit public key (base64 Ed25519) that verifies checkpoints and exports.
    PublicKey,
    /// Export the records chained in [--from, --to) as a verifiable file (README: "For
    /// auditors"); the export is recorded in the operator log.
    Export(ExportArgs),
    /// Verify an export file offline with the audit public key. Exits 0 only when no
    /// record of the exported stretch was altered, removed, added or reordered.
    VerifyExport {
        file: PathBuf,
        /// The base64 public key (`gatehouse audit public-key`), or a file holding it.
        #[arg(long, value_name = "KEY")]
        public_key: String,
    },
}

#[derive(Args)]
struct ExportArgs {
    #[arg(long, value_enum, default_value = "ndjson")]
    format: crate::audit::export::Format,
    /// Start of the period (RFC 3339, e.g. 2026-11-01T00:00:00Z).
    #[arg(long)]
    from: chrono::DateTime<chrono::Utc>,
    /// End of the period, excluded.
    #[arg(long)]
    to: chrono::DateTime<chrono::Utc>,
    /// Write here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
    #[arg(long)]
    door_id: Option<uuid::Uuid>,
    #[arg(long)]
    person_id: Option<uuid::Uuid>,
    #[arg(long)]
    credential_id: Option<uuid::Uuid>,
    /// Records of this zone, and door incidents and alarms at the doors leading into it.
    #[arg(long)]
    zone_id: Option<uuid::Uuid>,
    /// Records at this site's doors.
    #[arg(long)]
    site_id: Option<uuid::Uuid>,
    /// Leave out the display columns (names, site-local time) and their name snapshot.
    #[arg(long)]
    no_display: bool,
    #[arg(long)]
    outcome: Option<String>,
    #[arg(long)]
    reason: Option<String>,
    #[arg(long)]
    kind: Option<String>,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import people, vetting and cards from HR's CSV file: every row is checked first,
    /// then all are applied in one transaction (or none, when a row is wrong). Importing
    /// the same file again changes nothing.
    People {
        /// The CSV file (header row required; columns in the README).
        file: PathBuf,
    },
}

#[derive(Args, Default)]
struct ServeArgs {
    /// Address for the API, overriding server.listen.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Address for Prometheus metrics, overriding metrics.listen.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Create an operator account. Without --password-stdin a password is generated and printed.
    Add {
        #[arg(long)]
        username: String,
        /// admin, security, receptionist, host or auditor.
        #[arg(long)]
        role: Role,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List operator accounts.
    List,
    /// Disable an account; its sessions end at once.
    Disable { username: String },
    /// Set an account's password; its sessions end. Without --password-stdin one is generated and printed.
    SetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Tls(command)) = &cli.command {
        // Needs no settings: it makes the files the settings will name.
        return match crate::tls::self_signed::run(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("gatehouse: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Audit(AuditCommand::VerifyExport { file, public_key })) = &cli.command {
        // An auditor's machine: no settings, no database.
        return match verify_export_file(file, public_key) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("gatehouse: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = match load_settings(&cli) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("gatehouse: {error}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("gatehouse: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("gatehouse: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_settings(cli: &Cli) -> Result<Settings, ConfigError> {
    let mut settings = Settings::load(cli.config.as_deref())?;
    if let Some(url) = &cli.database_url {
        settings.database.url.clone_from(url);
    }
    if let Some(Command::Serve(args)) = &cli.command {
        if let Some(listen) = args.listen {
            settings.server.listen = listen;
        }
        if let Some(listen) = args.metrics_listen {
            settings.metrics.listen = listen;
        }
    }
    settings.validate()?;
    Ok(settings)
}

fn init_tracing(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&settings.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match settings.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn run(command: Option<Command>, settings: Settings) -> anyhow::Result<()> {
    match command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(_) => {
            let listeners = Listeners::bind(&settings).await?;
            launch(settings, listeners, shutdown_signal()).await
        }
        Command::Migrate => {
            let store = Store::open(&settings.database).await?;
            store.close().await;
            println!("database is up to date");
            Ok(())
        }
        Command::Operator(command) => {
            let store = Store::open(&settings.database).await?;
            let result = operator_command(&store, command).await;
            store.close().await;
            result
        }
        Command::Tls(command) => crate::tls::self_signed::run(&command),
        Command::Retention(RetentionCommand::Purge) => {
            let store = Store::open(&settings.database).await?;
            let result = crate::retention::purge_due(&store, settings.retention).await;
            store.close().await;
            println!("{}", serde_json::to_string_pretty(&result?)?);
            Ok(())
        }
        Command::Audit(command) => {
            let store = Store::open(&settings.database).await?;
            let result = audit_command(&store, command).await;
            store.close().await;
            result
        }
        Command::Import(ImportCommand::People { file }) => {
            let store = Store::open(&settings.database).await?;
            let result = import_people_file(&store, &file).await;
            store.close().await;
            result
        }
        Command::Cards(command) => crate::issuing::cli::run(&settings, command).await,
    }
}

async fn audit_command(store: &Store, command: AuditCommand) -> anyhow::Result<()> {
    let key = crate::audit::checkpoint::AuditKey::load(store).await?;
    match command {
        AuditCommand::PublicKey => {
            use base64::Engine;
            let key = key.public_key();
            println!(
                "{}",
                base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
            );
            Ok(())
        }
        AuditCommand::Export(args) => export_to_file(store, &key, args).await,
        AuditCommand::VerifyExport { file, public_key } => verify_export_file(&file, &public_key),
        AuditCommand::Verify => {
            let report = crate::audit::verify::verify(store, &key.public_key()).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            match &report.first_bad {
                None => Ok(()),
                Some(bad) => anyhow::bail!("the audit trail does not verify: {}", bad.detail),
            }
        }
    }
}

/// `gatehouse audit export`: streams the export to a file (or stdout) with a progress bar.
async fn export_to_file(
    store: &Store,
    key: &crate::audit::checkpoint::AuditKey,
    args: ExportArgs,
) -> anyhow::Result<()> {
    use crate::audit::export::{self, ExportFilter, ExportRequest};
    use futures_util::StreamExt;
    use std::io::Write;
    anyhow::ensure!(args.to > args.from, "--to must be after --from");
    let request = ExportRequest {
        from: args.from,
        to: args.to,
        format: args.format,
        filter: ExportFilter {
            door_id: args.door_id,
            person_id: args.person_id,
            credential_id: args.credential_id,
            zone_id: args.zone_id,
            outcome: args.outcome,
            reason: args.reason,
            kind: args.kind,
            site_id: args.site_id,
            ..ExportFilter::default()
        },
    };
    let mut plan = export::plan(store, key, request).await?;
    if args.no_display {
        plan = plan.without_display();
    }
    let details = export::log_details(&plan);
    store
        .log_operator_action(&Actor::cli(), "audit.export", "audit", "export", &details)
        .await?;
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    let bar = progress_bar();
    bar.set_length(plan.entries());
    bar.set_message("exporting");
    let mut chunks = std::pin::pin!(export::stream(store.clone(), plan));
    while let Some(chunk) = chunks.next().await {
        let (bytes, entries) = chunk?;
        out.write_all(&bytes)?;
        bar.inc(entries);
    }
    out.flush()?;
    bar.finish_and_clear();
    Ok(())
}

/// `gatehouse audit verify-export`: prints the report; fails unless it verifies.
fn verify_export_file(file: &Path, public_key: &str) -> anyhow::Result<()> {
    use base64::Engine;
    let text = match std::fs::read_to_string(public_key) {
        Ok(contents) => contents.trim().to_owned(),
        Err(_) => public_key.trim().to_owned(),
    };
    let key: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(&text)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("--public-key: not a base64 Ed25519 public key"))?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key)
        .map_err(|_| anyhow::anyhow!("--public-key: not a valid Ed25519 public key"))?;
    let input = std::fs::File::open(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let report =
        crate::audit::export::offline::verify_export(std::io::BufReader::new(input), &key)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    match &report.first_bad {
        None => Ok(()),
        Some(bad) => anyhow::bail!(
            "the export does not verify: line {}: {}",
            bad.line,
            bad.detail
        ),
    }
}

/// Imports HR's file as `cli`, with a progress bar on a terminal; prints the summary,
/// or every line error on stderr (and fails).
async fn import_people_file(store: &Store, file: &Path) -> anyhow::Result<()> {
    let unreadable = |e: std::io::Error| anyhow::anyhow!("cannot read {}: {e}", file.display());
    let size = tokio::fs::metadata(file).await.map_err(unreadable)?.len();
    if usize::try_from(size).map_or(true, |size| size > import::MAX_BYTES) {
        anyhow::bail!(
            "{} is larger than {} MiB",
            file.display(),
            import::MAX_BYTES >> 20
        );
    }
    let csv = tokio::fs::read(file).await.map_err(unreadable)?;
    let bar = Arc::new(ProgressBar(progress_bar()));
    let outcome = import::import_people(store, csv, &Actor::cli(), bar.clone()).await;
    bar.0.finish_and_clear();
    match outcome {
        Ok(summary) => {
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(())
        }
        Err(ImportError::Invalid(lines)) => {
            for line in &lines {
                eprintln!("{line}");
            }
            anyhow::bail!(
                "{} has {} error(s); nothing was imported",
                file.display(),
                lines.len()
            )
        }
        Err(error) => Err(error.into()),
    }
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
fn progress_bar() -> indicatif::ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let style = indicatif::ProgressStyle::with_template("{msg:>9} [{bar:40}] {percent:>3}%")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    indicatif::ProgressBar::new(0).with_style(style)
}

struct ProgressBar(indicatif::ProgressBar);

impl import::Progress for ProgressBar {
    fn start(&self, stage: &'static str, total: u64) {
        self.0.set_message(stage);
        self.0.set_length(total);
        self.0.set_position(0);
    }

    fn advance(&self, done: u64) {
        self.0.inc(done);
    }
}

async fn operator_command(store: &Store, command: OperatorCommand) -> anyhow::Result<()> {
    match command {
        OperatorCommand::Add {
            username,
            role,
            display_name,
            password_stdin,
        } => {
            if let Some(problem) = crate::domain::operator::username_problem(&username) {
                anyhow::bail!("username {problem}");
            }
            let password = new_password(password_stdin)?;
            let new = NewOperator {
                display_name: display_name.unwrap_or_else(|| username.clone()),
                username,
                role,
                password_hash: password::hash(password).await?,
            };
            let operator = store
                .create_operator(new, &Actor::cli())
                .await
                .map_err(|e| describe(e, "an operator with that username already exists"))?;
            println!(
                "created operator {} ({}) id {}",
                operator.username, operator.role, operator.id
            );
        }
        OperatorCommand::List => {
            println!(
                "{:<36}  {:<24}  {:<12}  {:<8}  display name",
                "id", "username", "role", "status"
            );
            let mut after = None;
            loop {
                let page = store.list_operators(after, 500).await?;
                for o in &page {
                    println!(
                        "{:<36}  {:<24}  {:<12}  {:<8}  {}",
                        o.id,
                        o.username,
                        o.role.as_ref(),
                        o.status.as_ref(),
                        o.display_name
                    );
                }
                match page.last() {
                    Some(last) if page.len() == 500 => after = Some(last.id),
                    _ => break,
                }
            }
        }
        OperatorCommand::Disable { username } => {
            let operator = find(store, &username).await?;
            let change = OperatorChange {
                status: Some(OperatorStatus::Disabled),
                ..OperatorChange::default()
            };
            store
                .update_operator(operator.id, change, &Actor::cli())
                .await
                .map_err(|e| describe(e, ""))?;
            println!("disabled operator {username}; their sessions have ended");
        }
        OperatorCommand::SetPassword {
            username,
            password_stdin,
        } => {
            let operator = find(store, &username).await?;
            let password = new_password(password_stdin)?;
            let hash = password::hash(password).await?;
            store
                .set_operator_password(operator.id, &hash, &Actor::cli())
                .await?;
            println!("password of {username} changed; their sessions have ended");
        }
    }
    Ok(())
}

async fn find(store: &Store, username: &str) -> anyhow::Result<crate::store::Operator> {
    store
        .operator_by_username(username)
        .await
        .map_err(|e| describe(e, &format!("no operator named {username:?}")))
}

fn describe(error: StoreError, conflict_or_missing: &str) -> anyhow::Error {
    match error {
        StoreError::NotFound | StoreError::Conflict { .. } => {
            anyhow::anyhow!("{conflict_or_missing}")
        }
        StoreError::Rejected(why) => anyhow::anyhow!("{why}"),
        StoreError::InUse => anyhow::anyhow!("still in use by other records"),
        StoreError::Busy(e) => {
            anyhow::anyhow!("the database is busy (another writer); try again: {e}")
        }
        StoreError::Database(e) => e.into(),
    }
}

/// A password from stdin (checked), or a generated one printed once.
fn new_password(from_stdin: bool) -> anyhow::Result<SecretString> {
    if !from_stdin {
        let password = password::generate();
        println!("generated password: {}", password.expose_secret());
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if let Some(problem) = password::password_problem(&password) {
        anyhow::bail!("password {problem}");
    }
    Ok(SecretString::from(password))
}
