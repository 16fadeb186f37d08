//! The agent's runtime: `enroll` (obtain and store the credential) and `run` (wire the
//! reader, decision engine, journal, doors, policy sync, uploader and status endpoint).
//!
//! Start-up order in [`run`]: every door's lock is set to its idle (engaged) level first,
//! before anything that can fail slowly, and its contact and exit button start
//! reporting to the door's input channel (simulated hardware: driven from standard
//! input; GPIO: one door, needs the `gpio` feature); then the journal is opened and
//! `agent_started` journalled; then the last good snapshot is loaded; then the tasks
//! start.

pub mod credential;
pub mod decide_loop;
pub mod doors;
pub mod journal_cell;
pub mod policy_sync;
pub mod presence_sync;
pub mod status;
pub mod uploader;

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use chrono::Utc;
use gatehouse_core::event::{DoorEvent, EventKind};
use gatehouse_core::model::Door;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::config::{AgentConfig, ReaderKind, check_server_url};
use crate::door::{
    ContactLevel, DoorMachine, DoorMode, DoorTiming, GpioConfig, HardwareConfig, Input, InputSink,
    Lock, SimDoorSensor, SimExitButton, SimLock, TimedInput,
};
use crate::reader::{CardReader, ReaderMap};
use credential::{
    Credential, decode_key, decode_pin_key, load_pin_key, pin_key_path, save_pin_key,
};
use doors::{DoorHandle, ObservedLock, RelayView};
use journal_cell::JournalCell;
use policy_sync::PolicyState;
use presence_sync::PresenceFeed;
use status::StatusState;

/// How long a start without a policy on disk waits for the server's first one before
/// the doors start with default timing.
const FIRST_POLICY_WAIT: Duration = Duration::from_secs(10);

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

#[derive(Deserialize)]
struct Enrolled {
    agent_id: Uuid,
    token: String,
    door_ids: Vec<Uuid>,
    /// Absent from servers older than the PIN key; fetched at run time then.
    #[serde(default)]
    pin_key: Option<String>,
}

#[derive(Deserialize)]
struct PublicKey {
    algorithm: String,
    public_key: String,
}

/// `door-agent enroll`: exchanges the one-time `code` for the agent's token, pins the
/// server's policy-signing key, and writes both to `agent.credential_file` (mode 0600),
/// and the PIN key beside it (`<credential_file>.pin-key`, mode 0600).
pub async fn enroll(config: &AgentConfig, server: &str, code: &str) -> anyhow::Result<Credential> {
    let url = check_server_url(server, config.server.allow_plain_http)
        .map_err(|e| anyhow!("--server: {e}"))?;
    let base = url.as_str().trim_end_matches('/').to_owned();
    let client = http_client(config)?;
    let key: PublicKey = client
        .get(format!("{base}/api/v1/policy/public-key"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .context("fetching the policy public key")?
        .error_for_status()
        .context("fetching the policy public key")?
        .json()
        .await
        .context("reading the policy public key")?;
    if key.algorithm != "Ed25519" {
        bail!(
            "the server signs policy with {:?}, not Ed25519",
            key.algorithm
        );
    }
    let policy_key = decode_key(&key.public_key).context("the server's policy public key")?;
    let answer = client
        .post(format!("{base}/api/v1/agent/enroll"))
        .json(&serde_json::json!({ "code": code }))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .context("enrolling")?;
    if answer.status() == reqwest::StatusCode::UNAUTHORIZED {
        bail!("the server refused the enrolment code (unknown, used or expired)");
    }
    let enrolled: Enrolled = answer
        .error_for_status()
        .context("enrolling")?
        .json()
        .await
        .context("reading the enrolment answer")?;
    let credential = Credential {
        agent_id: enrolled.agent_id,
        token: SecretString::from(enrolled.token),
        door_ids: enrolled.door_ids,
        policy_key,
        server_url: base,
    };
    credential.save(&config.agent.credential_file)?;
    if let Some(text) = enrolled.pin_key {
        let key = decode_pin_key(&text).context("the server's PIN key")?;
        save_pin_key(&pin_key_path(&config.agent.credential_file), &key)?;
    }
    Ok(credential)
}

/// Every door this agent drives: its enrolled doors and the configured readers' doors.
fn door_ids(config: &AgentConfig, credential: &Credential) -> Vec<Uuid> {
    let mut ids = credential.door_ids.clone();
    ids.extend(config.readers.iter().map(|r| r.door_id));
    ids.sort();
    ids.dedup();
    ids
}

/// One door's hardware, set up before anything that can fail slowly.
struct DoorHardware {
    /// The lock, at its idle (engaged) level.
    lock: Box<dyn Lock>,
    /// The door's input channel; the contact and exit button already report to it.
    inputs: (InputSink, std::sync::mpsc::Receiver<TimedInput>),
    /// The simulated contact and exit button (driven from standard input).
    sim: Option<(SimDoorSensor, SimExitButton)>,
    /// Real inputs, which report only as long as they are kept.
    keep: Option<Box<dyn Any + Send>>,
}

/// Each door's hardware, the lock engaged first: simulated for every door, or GPIO for
/// the one door `[hardware]` describes. Called before anything that can fail slowly.
fn open_hardware(
    config: &AgentConfig,
    ids: &[Uuid],
) -> anyhow::Result<BTreeMap<Uuid, DoorHardware>> {
    let mut doors = BTreeMap::new();
    match &config.hardware {
        HardwareConfig::Simulated(_) => {
            for id in ids {
                let (tx, rx) = std::sync::mpsc::channel();
                let lock: Box<dyn Lock> = Box::new(SimLock::new());
                let sim = Some((
                    SimDoorSensor::new(ContactLevel::Closed, tx.clone()),
                    SimExitButton::new(tx.clone()),
                ));
                let inputs = (tx, rx);
                doors.insert(
                    *id,
                    DoorHardware {
                        lock,
                        inputs,
                        sim,
                        keep: None,
                    },
                );
            }
        }
        HardwareConfig::Gpio(gpio) => {
            let [id] = ids else {
                bail!(
                    "hardware.kind = \"gpio\" drives one door ([hardware] has one set of pins), \
                     but this agent serves {} doors (its enrolled doors and [[readers]]); \
                     run one agent per door",
                    ids.len()
                );
            };
            let (tx, rx) = std::sync::mpsc::channel();
            let (lock, keep) = open_gpio(gpio, tx.clone())?;
            doors.insert(
                *id,
                DoorHardware {
                    lock,
                    inputs: (tx, rx),
                    sim: None,
                    keep: Some(keep),
                },
            );
        }
    }
    Ok(doors)
}

/// The GPIO lock (engaged as its pin is claimed), then the contact and exit button
/// reporting to `sink`; the second value keeps the inputs alive.
#[cfg(feature = "gpio")]
fn open_gpio(
    config: &GpioConfig,
    sink: InputSink,
) -> anyhow::Result<(Box<dyn Lock>, Box<dyn Any + Send>)> {
    let crate::door::GpioHardware {
        lock,
        sensor,
        exit_button,
        tamper,
    } = crate::door::GpioHardware::open(config, sink).context("hardware.kind = \"gpio\"")?;
    Ok((Box::new(lock), Box::new((sensor, exit_button, tamper))))
}

#[cfg(not(feature = "gpio"))]
fn open_gpio(
    _config: &GpioConfig,
    _sink: InputSink,
) -> anyhow::Result<(Box<dyn Lock>, Box<dyn Any + Send>)> {
    bail!("hardware.kind = \"gpio\": this build has no GPIO support (cargo feature `gpio`)")
}

/// What a new policy changes at each driven door: its mode (sent every time, the door
/// ignores a mode it already has) and its timing when that differs from what the door
/// last got (`sent`, one entry per driven door, updated here). A door the policy does
/// not name keeps what it has.
fn policy_inputs<'a>(
    door: impl Fn(Uuid) -> Option<&'a Door>,
    hardware: &HardwareConfig,
    sent: &mut BTreeMap<Uuid, DoorTiming>,
) -> Vec<(Uuid, Input)> {
    let mut inputs = Vec::new();
    for (id, last) in sent.iter_mut() {
        let Some(door) = door(*id) else { continue };
        inputs.push((*id, Input::SetMode(door.mode)));
        let timing = DoorTiming::from_door(door, hardware);
        if timing != *last {
            *last = timing;
            inputs.push((*id, Input::SetTiming(timing)));
        }
    }
    inputs
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
        Ok(Some(key)) => policy.set_pin_key(key),
        Ok(None) => tracing::warn!("no PIN key yet; asking the server for it"),
        // A damaged key file is replaced by the server's copy.
        Err(e) => tracing::error!(error = %format!("{e:#}"), "PIN key refused; asking the server"),
    }

    let client = http_client(&config)?;
    let base = config.server.url.trim_end_matches('/').to_owned();
    let token = SecretString::from(credential.token.expose_secret().to_owned());
    let sync_task = tokio::spawn(policy_sync::sync_loop(
        Arc::clone(&policy),
        client.clone(),
        base.clone(),
        token.clone(),
        pin_key_file,
    ));
    let presence = Arc::new(PresenceFeed::new(config.agent.presence_max_age_s));
    let (presence_tx, presence_rx) = mpsc::channel(16);
    let presence_task = tokio::spawn(presence_sync::presence_loop(
        Arc::clone(&presence),
        client.clone(),
        base.clone(),
        token.clone(),
        presence_tx,
    ));

    // Doors. Their timing (held-open time) comes from the policy: without one on disk,
    // wait a little for the server's first (the locks are engaged meanwhile), then
    // start with default timing.
    if policy.version().is_none() {
        let mut first = policy.current.subscribe();
        let _ = tokio::time::timeout(FIRST_POLICY_WAIT, first.wait_for(Option::is_some)).await;
    }
    let shutdown = Arc::new(AtomicBool::new(false));
    let mut doors: BTreeMap<Uuid, DoorHandle> = BTreeMap::new();
    let mut timings: BTreeMap<Uuid, DoorTiming> = BTreeMap::new();
    let current = policy.current.borrow().clone();
    // Kept until the doors have stopped: real inputs report while they live.
    let mut inputs_kept = Vec::new();
    for (id, hw) in hardware {
        let door = current.as_ref().and_then(|p| p.policy.door(id).cloned());
        let (timing, mode) = match &door {
            Some(d) => (DoorTiming::from_door(d, &config.hardware), d.mode),
            None => (DoorTiming::default(), DoorMode::Normal),
        };
        timings.insert(id, timing);
        inputs_kept.extend(hw.keep);
        let view = Arc::new(RelayView::default());
        let handle = doors::spawn_door(
            id,
            DoorMachine::new(timing, mode),
            ObservedLock::new(hw.lock, Arc::clone(&view)),
            view,
            hw.inputs,
            hw.sim,
            Arc::clone(&journal),
            epoch,
            Arc::clone(&shutdown),
        )?;
        doors.insert(id, handle);
    }

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
    });
    let listener = tokio::net::TcpListener::bind(config.status.listen)
        .await
        .with_context(|| format!("status.listen: cannot bind {}", config.status.listen))?;
    tracing::info!(listen = %config.status.listen, "status endpoint");
    let status_task = tokio::spawn({
        let app = status::router(Arc::clone(&status));
        async move { axum::serve(listener, app).await }
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
            doors::split_stdin(sims, pipe_tx)?;
            let reader =
                crate::reader::simulated::SimulatedReader::new(std::io::BufReader::new(pipe_rx));
            Box::new(reader).spawn(reader_tx)?
        }
        ReaderKind::Pcsc => spawn_pcsc(&config, reader_tx)?,
    };

    let ctx = decide_loop::DecideContext {
        readers: ReaderMap::new(config.readers.clone()).map_err(|e| anyhow!("readers: {e}"))?,
        doors: doors
            .iter()
            .map(|(id, d)| (*id, d.inputs.clone()))
            .collect(),
        journal: Arc::clone(&journal),
        status: Arc::clone(&status),
        stale_raised: Arc::new(AtomicBool::new(false)),
        presence_raised: AtomicBool::new(false),
    };
    let ctx = Arc::new(ctx);
    let decide_task = tokio::spawn({
        let ctx = Arc::clone(&ctx);
        async move { decide_loop::decide_loop(ctx, reader_rx, presence_rx).await }
    });
    // Staleness is raised even when nobody presents a card; mode and timing changes
    // follow policy without a restart (a timing change applies from the next grant,
    // exit request or opening: see `DoorMachine::set_timing`).
    let watch_task = tokio::spawn({
        let ctx = Arc::clone(&ctx);
        let mut changes = policy.current.subscribe();
        let hardware = config.hardware.clone();
        async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    changed = changes.changed() => {
                        if changed.is_err() { return; }
                        let current = changes.borrow_and_update().clone();
                        if let Some(p) = current {
                            let inputs =
                                policy_inputs(|id| p.policy.door(id), &hardware, &mut timings);
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
            }
        }
    });

    let upload_task = tokio::spawn(uploader::upload_loop(
        Arc::clone(&journal),
        client,
        base,
        token,
        config.agent.upload_batch,
    ));
    tracing::info!(agent_id = %credential.agent_id, "door agent running");

    wait_for_signal().await;
    tracing::info!("shutting down");
    for task in [sync_task, presence_task, upload_task, watch_task] {
        task.abort();
    }
    decide_task.abort();
    status_task.abort();
    shutdown.store(true, Ordering::SeqCst);
    for door in doors.values_mut() {
        door.join();
    }
    drop(inputs_kept);
    Ok(())
}

#[cfg(feature = "pcsc")]
fn spawn_pcsc(
    config: &AgentConfig,
    events: mpsc::Sender<crate::reader::ReaderEvent>,
) -> anyhow::Result<crate::reader::ReaderHandle> {
    let options = crate::reader::pcsc::PcscOptions {
        readers: config.readers.iter().map(|r| r.name.clone()).collect(),
        ..Default::default()
    };
    Ok(Box::new(crate::reader::pcsc::PcscReader::new(options)).spawn(events)?)
}

#[cfg(not(feature = "pcsc"))]
fn spawn_pcsc(
    _config: &AgentConfig,
    _events: mpsc::Sender<crate::reader::ReaderEvent>,
) -> anyhow::Result<crate::reader::ReaderHandle> {
    bail!("reader.kind = \"pcsc\": this build has no PC/SC support (cargo feature `pcsc`)")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::door::{FailMode, Pull, RelayState, SimulatedConfig};

    fn config(hardware: HardwareConfig) -> AgentConfig {
        AgentConfig {
            server: Default::default(),
            agent: Default::default(),
            status: Default::default(),
            reader: Default::default(),
            readers: vec![],
            hardware,
        }
    }

    fn gpio() -> HardwareConfig {
        HardwareConfig::Gpio(GpioConfig {
            relay_pin: 17,
            relay_active_high: true,
            fail_mode: FailMode::FailSecure,
            contact_pin: 27,
            contact_pull: Pull::Up,
            contact_open_high: true,
            exit_button_pin: Some(22),
            exit_button_pull: Pull::Up,
            exit_pressed_high: false,
            tamper_pin: Some(23),
            tamper_pull: Pull::Up,
            tamper_open_high: true,
            debounce_ms: 50,
            exit_unlocks: true,
        })
    }

    #[test]
    fn simulated_hardware_engages_every_lock_and_reports_the_contact() {
        let ids = [Uuid::from_u128(1), Uuid::from_u128(2)];
        let config = config(HardwareConfig::Simulated(SimulatedConfig::default()));
        let doors = open_hardware(&config, &ids).unwrap();
        assert_eq!(doors.keys().copied().collect::<Vec<_>>(), ids);
        for (id, door) in &doors {
            assert_eq!(door.lock.state(), RelayState::Engaged, "{id}");
            assert!(door.sim.is_some() && door.keep.is_none(), "{id}");
            let first: Vec<Input> = door.inputs.1.try_iter().map(|t| t.input).collect();
            assert_eq!(first, vec![Input::Contact(ContactLevel::Closed)], "{id}");
            let (sensor, button) = door.sim.as_ref().unwrap();
            sensor.set(ContactLevel::Open);
            button.press();
            let fed: Vec<Input> = door.inputs.1.try_iter().map(|t| t.input).collect();
            assert_eq!(
                fed,
                vec![Input::Contact(ContactLevel::Open), Input::ExitRequest],
                "{id}: the simulated inputs feed this door's channel"
            );
        }
    }

    #[test]
    fn gpio_hardware_drives_exactly_one_door_and_needs_the_feature() {
        let config = config(gpio());
        // (doors served, what the error says). With the `gpio` feature the one-door case
        // is left out: on a Raspberry Pi it would claim real pins.
        let mut rows = vec![
            (vec![], "this agent serves 0 doors"),
            (
                vec![Uuid::from_u128(1), Uuid::from_u128(2)],
                "this agent serves 2 doors",
            ),
        ];
        if !cfg!(feature = "gpio") {
            rows.push((vec![Uuid::from_u128(1)], "cargo feature `gpio`"));
        }
        for (ids, says) in rows {
            let error = match open_hardware(&config, &ids) {
                Ok(_) => panic!("{ids:?}: opened"),
                Err(e) => format!("{e:#}"),
            };
            assert!(error.contains(says), "{ids:?}: {error}");
            assert!(error.contains("hardware.kind = \"gpio\""), "{error}");
        }
    }

    fn door(id: u128, mode: DoorMode, unlock_ms: u32, held_open_ms: u32) -> Door {
        Door {
            id: Uuid::from_u128(id),
            site_id: Uuid::from_u128(100),
            from_zone_id: Uuid::from_u128(101),
            to_zone_id: Uuid::from_u128(102),
            mode,
            unlock_ms,
            held_open_ms,
        }
    }

    fn timing(unlock_ms: u64, held_open_ms: u64) -> DoorTiming {
        DoorTiming {
            unlock: Duration::from_millis(unlock_ms),
            held_open: Duration::from_millis(held_open_ms),
            ..DoorTiming::default()
        }
    }

    #[test]
    fn policy_changes_send_modes_and_only_changed_timings() {
        use DoorMode::{Locked, Normal};
        let hardware = HardwareConfig::Simulated(SimulatedConfig::default());
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        // Both doors started with default timing (no policy on disk).
        let mut sent = BTreeMap::from([(a, DoorTiming::default()), (b, DoorTiming::default())]);
        type Row = (&'static str, Vec<Door>, Vec<(Uuid, Input)>);
        let rows: Vec<Row> = vec![
            (
                "first policy: door a gets its mode and timing; b is not in it",
                vec![door(1, Normal, 3000, 30_000), door(3, Normal, 1, 1)],
                vec![
                    (a, Input::SetMode(Normal)),
                    (a, Input::SetTiming(timing(3000, 30_000))),
                ],
            ),
            (
                "same door again: mode only",
                vec![door(1, Normal, 3000, 30_000)],
                vec![(a, Input::SetMode(Normal))],
            ),
            (
                "held-open time changed",
                vec![door(1, Normal, 3000, 10_000)],
                vec![
                    (a, Input::SetMode(Normal)),
                    (a, Input::SetTiming(timing(3000, 10_000))),
                ],
            ),
            (
                "unlock time changed, b appears with default timing, a locked",
                vec![door(1, Locked, 8000, 10_000), door(2, Normal, 5000, 30_000)],
                vec![
                    (a, Input::SetMode(Locked)),
                    (a, Input::SetTiming(timing(8000, 10_000))),
                    (b, Input::SetMode(Normal)),
                ],
            ),
        ];
        for (name, policy, expected) in rows {
            let got = policy_inputs(
                |id| policy.iter().find(|d| d.id == id),
                &hardware,
                &mut sent,
            );
            assert_eq!(got, expected, "{name}");
        }
        assert_eq!(sent[&a], timing(8000, 10_000));
    }
}
