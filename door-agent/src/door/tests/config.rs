//! The `[hardware]` section: the documented snippet parses, unknown keys are refused,
//! bounds are checked, and the relay's locked level follows wiring and fail mode.

use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Deserialize;

use crate::door::{ConfigError, FailMode, GpioConfig, HardwareConfig, Pull, SimulatedConfig};

#[derive(Debug, Deserialize)]
struct File {
    hardware: HardwareConfig,
}

fn parse(toml: &str) -> Result<HardwareConfig, Box<figment::Error>> {
    Figment::from(Toml::string(toml))
        .extract::<File>()
        .map(|f| f.hardware)
        .map_err(Box::new)
}

pub(super) const GPIO_SNIPPET: &str = r#"
[hardware]
kind = "gpio"
relay_pin = 17
relay_active_high = true
fail_mode = "fail_secure"
contact_pin = 27
contact_pull = "up"
contact_open_high = true
exit_button_pin = 22
exit_button_pull = "up"
exit_pressed_high = false
tamper_pin = 23
debounce_ms = 50
exit_unlocks = true
"#;

#[test]
fn the_documented_gpio_snippet_parses() {
    let hw = parse(GPIO_SNIPPET).unwrap();
    let HardwareConfig::Gpio(gpio) = &hw else {
        panic!("{hw:?}")
    };
    assert_eq!(
        (
            gpio.relay_pin,
            gpio.contact_pin,
            gpio.exit_button_pin,
            gpio.tamper_pin
        ),
        (17, 27, Some(22), Some(23))
    );
    assert_eq!((gpio.tamper_pull, gpio.tamper_open_high), (Pull::Up, true));
    assert_eq!(gpio.fail_mode, FailMode::FailSecure);
    assert_eq!(gpio.contact_pull, Pull::Up);
    hw.validate().unwrap();
}

#[test]
fn simulated_is_the_default_and_needs_nothing_else() {
    let hw = parse("[hardware]\nkind = \"simulated\"\n").unwrap();
    assert_eq!(hw, HardwareConfig::Simulated(SimulatedConfig::default()));
    assert_eq!(hw, HardwareConfig::default());
    assert_eq!(hw.debounce().as_millis(), 50);
    assert!(hw.exit_unlocks());
}

#[test]
fn unknown_and_missing_keys_are_refused() {
    assert!(parse("[hardware]\nkind = \"simulated\"\nrelay_pin = 3\n").is_err());
    assert!(parse(&GPIO_SNIPPET.replace("debounce_ms", "debounce")).is_err());
    assert!(parse(&GPIO_SNIPPET.replace("fail_mode = \"fail_secure\"\n", "")).is_err());
    assert!(parse("[hardware]\nkind = \"serial\"\n").is_err());
}

#[test]
fn validation_bounds_debounce_and_pin_reuse() {
    let long = parse(&GPIO_SNIPPET.replace("debounce_ms = 50", "debounce_ms = 400")).unwrap();
    assert_eq!(long.validate(), Err(ConfigError::DebounceTooLong(400)));
    let reused =
        parse(&GPIO_SNIPPET.replace("exit_button_pin = 22", "exit_button_pin = 17")).unwrap();
    assert_eq!(reused.validate(), Err(ConfigError::PinReused(17)));
    let tamper_on_contact =
        parse(&GPIO_SNIPPET.replace("tamper_pin = 23", "tamper_pin = 27")).unwrap();
    assert_eq!(
        tamper_on_contact.validate(),
        Err(ConfigError::PinReused(27))
    );
}

#[test]
fn locked_level_follows_wiring_and_fail_mode() {
    let HardwareConfig::Gpio(base) = parse(GPIO_SNIPPET).unwrap() else {
        panic!()
    };
    let level = |active_high, fail_mode| {
        GpioConfig {
            relay_active_high: active_high,
            fail_mode,
            ..base.clone()
        }
        .locked_level_high()
    };
    // Fail-secure: de-energised locks. Fail-safe: energised locks.
    assert!(!level(true, FailMode::FailSecure));
    assert!(level(false, FailMode::FailSecure));
    assert!(level(true, FailMode::FailSafe));
    assert!(!level(false, FailMode::FailSafe));
}
