//! Each door's hardware, opened at start before anything that can fail slowly: the
//! lock set to its idle (engaged) level first, then the contact and exit button
//! reporting to the door's input channel. Simulated hardware serves every door (driven
//! from standard input, see [`super::stdin`]); GPIO drives the one door `[hardware]`
//! describes and needs the `gpio` feature.

use std::any::Any;
use std::collections::BTreeMap;

#[cfg(feature = "gpio")]
use anyhow::Context;
use anyhow::bail;
use uuid::Uuid;

use crate::config::AgentConfig;
use crate::door::{
    ContactLevel, GpioConfig, HardwareConfig, InputSink, Lock, SimDoorSensor, SimExitButton,
    SimLock, TimedInput,
};

/// One door's hardware, set up before anything that can fail slowly.
pub struct DoorHardware {
    /// The lock, at its idle (engaged) level.
    pub lock: Box<dyn Lock>,
    /// The door's input channel; the contact and exit button already report to it.
    pub inputs: (InputSink, std::sync::mpsc::Receiver<TimedInput>),
    /// The simulated contact and exit button (driven from standard input).
    pub sim: Option<(SimDoorSensor, SimExitButton)>,
    /// Real inputs, which report only as long as they are kept.
    pub keep: Option<Box<dyn Any + Send>>,
}

/// Each door's hardware, the lock engaged first: simulated for every door, or GPIO for
/// the one door `[hardware]` describes. Called before anything that can fail slowly.
pub fn open_hardware(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::door::{FailMode, Input, Pull, RelayState, SimulatedConfig};

    fn config(hardware: HardwareConfig) -> AgentConfig {
        AgentConfig {
            server: Default::default(),
            agent: Default::default(),
            status: Default::default(),
            reader: Default::default(),
            readers: vec![],
            hardware,
            keypad: Default::default(),
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
}
