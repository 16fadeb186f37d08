//! Door hardware on a Raspberry Pi's GPIO through `rppal` (feature `gpio`).
//!
//! The relay pin is driven to its locked level the moment it becomes an output, and is
//! left there when the agent exits (no reset to input on drop): a killed process runs no
//! destructor, so what the door does without the agent must come from the relay wiring,
//! the fail mode and this idle level. Inputs use rppal's asynchronous interrupts (the
//! kernel's GPIO character device, on rppal's own thread); each edge is stamped and sent
//! to the door loop. Off a Pi, [`GpioHardware::open`] returns an error.

use rppal::gpio::{Event, Gpio, InputPin, Level, OutputPin, Pin, Trigger};

use super::{
    ContactLevel, DoorSensor, ExitButton, GpioConfig, HardwareError, Input, InputSink, Lock, Pull,
    RelayState, TimedInput,
};

/// The lock relay on a GPIO output pin.
#[derive(Debug)]
pub struct GpioLock {
    pin: OutputPin,
    locked_high: bool,
    state: RelayState,
}

impl GpioLock {
    /// Claims the relay pin and drives it to the locked level at once.
    pub fn new(gpio: &Gpio, config: &GpioConfig) -> Result<Self, HardwareError> {
        let locked_high = config.locked_level_high();
        let pin = claim(gpio, config.relay_pin, "lock relay")?;
        let mut pin = if locked_high {
            pin.into_output_high()
        } else {
            pin.into_output_low()
        };
        pin.set_reset_on_drop(false);
        Ok(GpioLock {
            pin,
            locked_high,
            state: RelayState::Engaged,
        })
    }
}

impl Lock for GpioLock {
    fn set(&mut self, state: RelayState) -> Result<(), HardwareError> {
        let high = match state {
            RelayState::Engaged => self.locked_high,
            RelayState::Released => !self.locked_high,
        };
        self.pin.write(Level::from(high));
        self.state = state;
        Ok(())
    }

    fn state(&self) -> RelayState {
        self.state
    }
}

impl Drop for GpioLock {
    fn drop(&mut self) {
        // Leave the door locked when the agent stops cleanly.
        self.pin.write(Level::from(self.locked_high));
    }
}

/// The door contact on a GPIO input pin.
#[derive(Debug)]
pub struct GpioDoorSensor {
    pin: InputPin,
    open_high: bool,
}

impl GpioDoorSensor {
    /// Claims the contact pin, sends its current level to `sink`, then every edge.
    /// The door machine debounces, so the kernel is asked for none here.
    pub fn new(gpio: &Gpio, config: &GpioConfig, sink: InputSink) -> Result<Self, HardwareError> {
        let pin_no = config.contact_pin;
        let open_high = config.contact_open_high;
        let mut pin = input(claim(gpio, pin_no, "door contact")?, config.contact_pull);
        let level = contact_level(pin.read() == Level::High, open_high);
        // The loop may not be listening yet or any more; the pin still reads.
        let _ = sink.send(TimedInput::now(Input::Contact(level)));
        pin.set_async_interrupt(Trigger::Both, None, move |event: Event| {
            let high = matches!(event.trigger, Trigger::RisingEdge);
            let _ = sink.send(TimedInput::now(Input::Contact(contact_level(
                high, open_high,
            ))));
        })
        .map_err(|e| pin_error(pin_no, "door contact", &e))?;
        Ok(GpioDoorSensor { pin, open_high })
    }
}

impl DoorSensor for GpioDoorSensor {
    fn read(&self) -> Result<ContactLevel, HardwareError> {
        Ok(contact_level(
            self.pin.read() == Level::High,
            self.open_high,
        ))
    }
}

/// The request-to-exit button on a GPIO input pin.
#[derive(Debug)]
pub struct GpioExitButton {
    pin: InputPin,
    pressed_high: bool,
}

impl GpioExitButton {
    /// Claims the button pin; each press (edge into the pressed level, debounced by the
    /// kernel for `debounce_ms`) sends an exit request to `sink`.
    pub fn new(
        gpio: &Gpio,
        config: &GpioConfig,
        pin_no: u8,
        sink: InputSink,
    ) -> Result<Self, HardwareError> {
        let pressed_high = config.exit_pressed_high;
        let mut pin = input(claim(gpio, pin_no, "exit button")?, config.exit_button_pull);
        let trigger = if pressed_high {
            Trigger::RisingEdge
        } else {
            Trigger::FallingEdge
        };
        let debounce = std::time::Duration::from_millis(config.debounce_ms);
        let debounce = (!debounce.is_zero()).then_some(debounce);
        pin.set_async_interrupt(trigger, debounce, move |_event: Event| {
            let _ = sink.send(TimedInput::now(Input::ExitRequest));
        })
        .map_err(|e| pin_error(pin_no, "exit button", &e))?;
        Ok(GpioExitButton { pin, pressed_high })
    }
}

impl ExitButton for GpioExitButton {
    fn is_pressed(&self) -> Result<bool, HardwareError> {
        Ok((self.pin.read() == Level::High) == self.pressed_high)
    }
}

/// The enclosure's tamper switch on a GPIO input pin: its level at start, then every
/// change (debounced by the kernel), reported to the door loop.
#[derive(Debug)]
pub struct GpioTamperSwitch {
    _pin: InputPin,
}

impl GpioTamperSwitch {
    /// Claims the tamper pin and reports its level, then each edge, to `sink`.
    pub fn new(
        gpio: &Gpio,
        config: &GpioConfig,
        pin_no: u8,
        sink: InputSink,
    ) -> Result<Self, HardwareError> {
        let open_high = config.tamper_open_high;
        let mut pin = input(claim(gpio, pin_no, "tamper switch")?, config.tamper_pull);
        let open = (pin.read() == Level::High) == open_high;
        let _ = sink.send(TimedInput::now(Input::Tamper(open)));
        let debounce = std::time::Duration::from_millis(config.debounce_ms);
        let debounce = (!debounce.is_zero()).then_some(debounce);
        pin.set_async_interrupt(Trigger::Both, debounce, move |event: Event| {
            let high = matches!(event.trigger, Trigger::RisingEdge);
            let _ = sink.send(TimedInput::now(Input::Tamper(high == open_high)));
        })
        .map_err(|e| pin_error(pin_no, "tamper switch", &e))?;
        Ok(GpioTamperSwitch { _pin: pin })
    }
}

/// A door's GPIO hardware, opened in the safe order: the lock first.
#[derive(Debug)]
pub struct GpioHardware {
    /// The lock relay, engaged.
    pub lock: GpioLock,
    /// The door contact.
    pub sensor: GpioDoorSensor,
    /// The exit button, if configured.
    pub exit_button: Option<GpioExitButton>,
    /// The tamper switch, if configured.
    pub tamper: Option<GpioTamperSwitch>,
}

impl GpioHardware {
    /// Opens the GPIO peripheral, engages the lock, then claims the inputs, which report
    /// to `sink`. Fails with [`HardwareError::GpioUnavailable`] off a Raspberry Pi.
    pub fn open(config: &GpioConfig, sink: InputSink) -> Result<Self, HardwareError> {
        let gpio = Gpio::new().map_err(|e| HardwareError::GpioUnavailable(e.to_string()))?;
        let lock = GpioLock::new(&gpio, config)?;
        let sensor = GpioDoorSensor::new(&gpio, config, sink.clone())?;
        let exit_button = config
            .exit_button_pin
            .map(|pin| GpioExitButton::new(&gpio, config, pin, sink.clone()))
            .transpose()?;
        let tamper = config
            .tamper_pin
            .map(|pin| GpioTamperSwitch::new(&gpio, config, pin, sink))
            .transpose()?;
        Ok(GpioHardware {
            lock,
            sensor,
            exit_button,
            tamper,
        })
    }
}

fn claim(gpio: &Gpio, pin: u8, role: &'static str) -> Result<Pin, HardwareError> {
    gpio.get(pin).map_err(|e| pin_error(pin, role, &e))
}

fn input(pin: Pin, pull: Pull) -> InputPin {
    match pull {
        Pull::Up => pin.into_input_pullup(),
        Pull::Down => pin.into_input_pulldown(),
        Pull::None => pin.into_input(),
    }
}

fn contact_level(high: bool, open_high: bool) -> ContactLevel {
    if high == open_high {
        ContactLevel::Open
    } else {
        ContactLevel::Closed
    }
}

fn pin_error(pin: u8, role: &'static str, e: &rppal::gpio::Error) -> HardwareError {
    HardwareError::Pin {
        pin,
        role,
        message: e.to_string(),
    }
}
