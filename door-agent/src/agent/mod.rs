//! The agent's runtime: `run` wires the reader, decision engine, journal, doors, policy
//! sync, presence feed, uploader and status endpoint together, and stops them. What
//! each part does is in its own module: enrolment in [`enroll`](mod@enroll) (beside the
//! [`credential`] it writes), site card keys for the DESFire read path in [`card_keys`],
//! the doors and their hardware in [`doors`], the server
//! loops in [`policy_sync`], [`presence_sync`] and [`uploader`] (their retry waits in
//! [`backoff`]), the live door state in [`door_report`] and remote commands in
//! [`commands`].
//!
//! Start-up order in [`run`]: every door's lock is set to its idle (engaged) level first,
//! before anything that can fail slowly, and its contact and exit button start
//! reporting to the door's input channel (see [`doors::hardware`]); then the journal is
//! opened and `agent_started` journalled; then the last good snapshot is loaded; then
//! the tasks start.
//!
//! Shutdown (SIGTERM or Ctrl-C): every task is asked to stop through one
//! [`CancellationToken`] and awaited through a [`TaskTracker`]; each stops where it can
//! safely (while it waits for the server, a card or its next attempt; never in the
//! middle of a journal write). Then the door threads engage their locks and end.

pub mod backoff;
pub mod card_keys;
pub mod commands;
pub mod credential;
pub mod decide_loop;
pub mod door_report;
pub mod doors;
pub mod enroll;
pub mod journal_cell;
pub mod policy_sync;
pub mod presence_sync;
pub mod status;
pub mod uploader;

pub use enroll::enroll;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use chrono::Utc;
use gatehouse_core::event::{DoorEvent, EventKind};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::config::{AgentConfig, ReaderKind};
use crate::door::{DoorMachine, DoorMode, DoorTiming, HardwareConfig};
use crate::reader::keypad::device::KeypadReader;
use crate::reader::keypad::entry::PinEntryConfig;
use crate::reader::{CardReader, ReaderMap};
use credential::{Credential, load_pin_key, pin_key_path};
use decide_loop::DecideContext;
use doors::hardware::open_hardware;
use doors::{DoorHandle, ObservedLock, RelayView, policy_inputs};
use journal_cell::JournalCell;
use policy_sync::{LoadedPolicy, PolicyState};
use presence_sync::PresenceFeed;
use status::StatusState;

/// How long a start without a policy on disk waits for the server's first one before
/// the doors start with default timing.
const FIRST_POLICY_WAIT: Duration = Duration::from_secs(10);

/// How long shutdown waits for the tasks to stop before the doors stop anyway.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// An HTTP client for the server: rustls; when `server.ca_cert` is set, that
/// certificate is the only trusted root.
pub fn http_client(config: &AgentConfig) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("gatehouse-door-agent/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &config.server.ca_cert {
        let pem = std::fs::read(path)
            .with_context(|| format!("server.ca_cert: reading {}", path.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .with_context(|| format!("server.ca_cert: {} is not PEM", path.display()))?;
        builder = builder
            .tls_built_in_root_certs(false)
            .add_root_certificate(cert);
    }
    builder.build().context("building the HTTP client")
}

/// Every door this agent drives: its enrolled doors and the configured readers' doors.
fn door_ids(config: &AgentConfig, credential: &Credential) -> Vec<Uuid> {
    let mut ids = credential.door_ids.clone();
    ids.extend(config.readers.iter().map(|r| r.door_id));
    ids.sort();
    ids.dedup();
    ids
}

/// `door-agent run`: until SIGTERM or Ctrl-C.
pub async fn run(config: AgentConfig) -> anyhow::Result<()> {
    let epoch = (Instant::now(), Utc::now());
    // The credential file is local and small; the doors it names get their locks next.
    let credential = Credential::load(&config.agent.credential_file)?;
    let ids = door_ids(&config, &credential);
    let hardware = open_hardware(&config, &ids)?;
    tracing::info!(doors = ids.len(), "locks engaged");

    let journal = Arc::new(
        JournalCell::open(config.agent.state_dir.join("journal")).context("opening the journal")?,
    );
    journal
        .append(&DoorEvent {
            occurred_at: Utc::now(),
            door_id: None,
            kind: EventKind::AgentStarted,
        })
        .context("journalling agent_started")?;
    let policy = Arc::new(PolicyState::load(
        &config.agent.state_dir,
        credential.policy_key,
    ));
    let pin_key_file = pin_key_path(&config.agent.credential_file);
    match load_pin_key(&pin_key_file) {
        Ok(Some(key)) => policy.set_pin_key(key).await,
        Ok(None) => tracing::warn!("no PIN key yet; asking the server for it"),
        // A damaged key file is replaced by the server's copy.
        Err(e) => tracing::error!(error = %format!("{e:#}"), "PIN key refused; asking the server"),
    }

    // Every task stops through `stop`; should `run` return early, the guard stops them.
    let stop = CancellationToken::new();
    let _stop_on_return = stop.clone().drop_guard();
    let tasks = TaskTracker::new();
    let client = http_client(&config)?;
    let base = config.server.url.trim_end_matches('/').to_owned();
    let token = SecretString::from(credential.token.expose_secret().to_owned());
    tasks.spawn(policy_sync::sync_loop(
        Arc::clone(&policy),
        client.clone(),
        base.clone(),
        token.clone(),
        pin_key_file,
        stop.clone(),
    ));
    // Site card keys for the DESFire read path, sealed to this agent; an agent enrolled
    // before card keys makes its key pair here and registers it.
    let card_secret = card_keys::load_or_create_secret(&config.agent.state_dir)?;
    let card_keys = Arc::new(card_keys::CardKeys::load(
        &config.agent.state_dir,
        credential.agent_id,
        card_secret,
    ));
    tasks.spawn(card_keys::card_key_loop(
        Arc::clone(&card_keys),
        client.clone(),
        base.clone(),
        token.clone(),
        policy.card_key_set.subscribe(),
        stop.clone(),
    ));
    let presence = Arc::new(PresenceFeed::new(config.agent.presence_max_age_s));
    let (presence_tx, presence_rx) = mpsc::channel(16);
    tasks.spawn(presence_sync::presence_loop(
        Arc::clone(&presence),
        client.clone(),
        base.clone(),
        token.clone(),
        presence_tx,
        stop.clone(),
    ));

    // Doors. Their timing (held-open time) comes from the policy: without one on disk,
    // wait a little for the server's first (the locks are engaged meanwhile), then
    // start with default timing.
    if policy.version().is_none() {
        let mut first = policy.current.subscribe();
        let _ = tokio::time::timeout(FIRST_POLICY_WAIT, first.wait_for(Option::is_some)).await;
    }
    // The doors stop after the tasks, so no decision in hand is left without its door.
    let stop_doors = CancellationToken::new();
    let _stop_doors_on_return = stop_doors.clone().drop_guard();
    let mut doors: BTreeMap<Uuid, DoorHandle> = BTreeMap::new();
    let mut timings: BTreeMap<Uuid, DoorTiming> = BTreeMap::new();
    let current = policy.current.borrow().clone();
    // Kept until the doors have stopped: real inputs report while they live.
    let mut inputs_kept = Vec::new();
    // One notification for every change at every door (and every door event journalled).
    let door_changes = Arc::new(tokio::sync::Notify::new());
    journal.watch_doors(Arc::clone(&door_changes));
    for (id, hw) in hardware {
        let door = current.as_ref().and_then(|p| p.policy.door(id).cloned());
        let (timing, mode) = match &door {
            Some(d) => (DoorTiming::from_door(d, &config.hardware), d.mode),
            None => (DoorTiming::default(), DoorMode::Normal),
        };
        timings.insert(id, timing);
        inputs_kept.extend(hw.keep);
        let view = Arc::new(RelayView::watched(Arc::clone(&door_changes)));
        let handle = doors::spawn_door(
            id,
            DoorMachine::new(timing, mode),
            ObservedLock::new(hw.lock, Arc::clone(&view)),
            view,
            hw.inputs,
            hw.sim,
            Arc::clone(&journal),
            epoch,
            stop_doors.clone(),
        )?;
        doors.insert(id, handle);
    }
    // Not held while the agent runs: updates change the policy in place only when no
    // one else holds it.
    drop(current);

    let status = Arc::new(StatusState {
        relays: doors
            .iter()
            .map(|(id, d)| (*id, Arc::clone(&d.relay)))
            .collect(),
        policy: Arc::clone(&policy),
        presence: Arc::clone(&presence),
        journal: Arc::clone(&journal),
        readers: std::sync::Mutex::new(config.readers.iter().map(|r| (r.clone(), None)).collect()),
        last_decision: std::sync::Mutex::new(None),
        max_policy_age_s: config.agent.max_policy_age_s,
        card_keys: card_keys.reader_keys(),
    });
    let listener = tokio::net::TcpListener::bind(config.status.listen)
        .await
        .with_context(|| format!("status.listen: cannot bind {}", config.status.listen))?;
    tracing::info!(listen = %config.status.listen, "status endpoint");
    tasks.spawn({
        let app = status::router(Arc::clone(&status));
        let stop = stop.clone();
        async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "status endpoint stopped");
            }
        }
    });

    // Reader.
    let (reader_tx, reader_rx) = mpsc::channel(256);
    let _reader = match config.reader.kind {
        ReaderKind::Simulated => {
            let (pipe_rx, pipe_tx) = std::io::pipe()?;
            let sims = doors
                .iter()
                .filter_map(|(id, d)| d.sim.clone().map(|s| (*id, s)))
                .collect();
            doors::stdin::split_stdin(sims, pipe_tx)?;
            let reader =
                crate::reader::simulated::SimulatedReader::new(std::io::BufReader::new(pipe_rx));
            Box::new(reader).spawn(reader_tx.clone())?
        }
        ReaderKind::Pcsc => spawn_pcsc(&config, card_keys.reader_keys(), reader_tx.clone())?,
    };
    let _keypads = spawn_keypads(&config, &reader_tx)?;

    let ctx = Arc::new(DecideContext {
        readers: ReaderMap::new(config.readers.clone()).map_err(|e| anyhow!("readers: {e}"))?,
        doors: doors
            .iter()
            .map(|(id, d)| (*id, d.inputs.clone()))
            .collect(),
        journal: Arc::clone(&journal),
        status: Arc::clone(&status),
        stale_raised: Arc::new(AtomicBool::new(false)),
        presence_raised: AtomicBool::new(false),
        pin_entry: pin_entry(&config),
    });
    tasks.spawn(decide_loop::decide_loop(
        Arc::clone(&ctx),
        reader_rx,
        presence_rx,
        stop.clone(),
    ));
    tasks.spawn(follow_policy(
        ctx,
        policy.current.subscribe(),
        config.hardware.clone(),
        timings,
        stop.clone(),
    ));
    let reporter = Arc::new(door_report::DoorReporter {
        doors: doors
            .iter()
            .filter(|(id, _)| credential.door_ids.contains(id))
            .map(|(id, d)| (*id, Arc::clone(&d.relay)))
            .collect(),
        journal: Arc::clone(&journal),
        policy: Arc::clone(&policy),
        changed: door_changes,
    });
    tasks.spawn(door_report::report_loop(
        reporter,
        client.clone(),
        base.clone(),
        token.clone(),
        Duration::from_secs(config.agent.heartbeat_s),
        stop.clone(),
    ));
    let commands = Arc::new(commands::CommandContext {
        doors: doors
            .iter()
            .filter(|(id, _)| credential.door_ids.contains(id))
            .map(|(id, d)| (*id, d.inputs.clone()))
            .collect(),
        journal: Arc::clone(&journal),
        policy: Arc::clone(&policy),
    });
    tasks.spawn(commands::command_loop(
        commands,
        client.clone(),
        base.clone(),
        token.clone(),
        stop.clone(),
    ));
    tasks.spawn(uploader::upload_loop(
        Arc::clone(&journal),
        client,
        base,
        token,
        config.agent.upload_batch,
        stop.clone(),
    ));
    tasks.close();
    tracing::info!(agent_id = %credential.agent_id, "door agent running");

    wait_for_signal().await;
    tracing::info!("shutting down");
    stop.cancel();
    if tokio::time::timeout(STOP_WAIT, tasks.wait()).await.is_err() {
        tracing::warn!(
            left = tasks.len(),
            "tasks still running at shutdown; stopping the doors"
        );
    }
    stop_doors.cancel();
    for door in doors.values_mut() {
        door.join();
    }
    drop(inputs_kept);
    Ok(())
}

/// Raises staleness even when nobody presents a card, and makes the doors' mode and
/// timing follow policy without a restart (a timing change applies from the next grant,
/// exit request or opening: see `DoorMachine::set_timing`). Stops between checks.
async fn follow_policy(
    ctx: Arc<DecideContext>,
    mut changes: watch::Receiver<Option<Arc<LoadedPolicy>>>,
    hardware: HardwareConfig,
    mut timings: BTreeMap<Uuid, DoorTiming>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            changed = changes.changed() => {
                if changed.is_err() { return; }
                let current = changes.borrow_and_update().clone();
                if let Some(p) = current {
                    let inputs = policy_inputs(|id| p.policy.door(id), &hardware, &mut timings);
                    for (id, input) in inputs {
                        if let Some(sink) = ctx.doors.get(&id) {
                            doors::send(sink, input);
                        }
                    }
                }
            }
        }
        ctx.check_stale().await;
        ctx.check_presence().await;
        // An operator's mode override whose time is up: the policy's mode again (the
        // republished policy wakes this loop, which sends it to the door).
        ctx.status.policy.expire_overrides(Utc::now()).await;
    }
}

/// Which readers take a PIN: those with a keypad device, and every reader when cards
/// come from standard input (where `<reader> <card> pin <digits>` types it).
fn pin_entry(config: &AgentConfig) -> PinEntryConfig {
    let keypads = (config.reader.kind != ReaderKind::Simulated).then(|| {
        (config.keypad.devices.iter())
            .map(|d| d.reader.clone())
            .collect()
    });
    PinEntryConfig {
        timeout: config.keypad.pin_timeout(),
        keypads,
    }
}

/// Starts a thread per `[[keypad.devices]]` entry; a missing device is retried there.
fn spawn_keypads(
    config: &AgentConfig,
    events: &mpsc::Sender<crate::reader::ReaderEvent>,
) -> anyhow::Result<Vec<crate::reader::ReaderHandle>> {
    let mut handles = Vec::new();
    for device in &config.keypad.devices {
        let keypad = KeypadReader::new(device.reader.clone(), device.path.clone());
        handles.push(keypad.spawn(events.clone())?);
    }
    Ok(handles)
}

/// The PC/SC readers, authenticating secure cards with the site card keys in `keys`.
#[cfg(feature = "pcsc")]
fn spawn_pcsc(
    config: &AgentConfig,
    keys: crate::reader::SecureKeys,
    events: mpsc::Sender<crate::reader::ReaderEvent>,
) -> anyhow::Result<crate::reader::ReaderHandle> {
    let options = crate::reader::pcsc::PcscOptions {
        readers: config.readers.iter().map(|r| r.name.clone()).collect(),
        ..Default::default()
    };
    let reader = crate::reader::pcsc::PcscReader::new(options).with_keys(keys);
    Ok(Box::new(reader).spawn(events)?)
}

#[cfg(not(feature = "pcsc"))]
fn spawn_pcsc(
    _config: &AgentConfig,
    _keys: crate::reader::SecureKeys,
    _events: mpsc::Sender<crate::reader::ReaderEvent>,
) -> anyhow::Result<crate::reader::ReaderHandle> {
    anyhow::bail!("reader.kind = \"pcsc\": this build has no PC/SC support (cargo feature `pcsc`)")
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
