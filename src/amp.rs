//! The amplifier's power, switched by the operator's own shell commands (a GPIO relay, a smart
//! plug…), so it draws power and hums only while something airs.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::config::Amplifier;

pub struct Amp {
    config: Amplifier,
    is_on: bool,
}

impl Amp {
    pub fn new(config: Amplifier) -> Amp {
        Amp {
            config,
            is_on: false,
        }
    }

    pub fn is_on(&self) -> bool {
        self.is_on
    }

    /// Switches on (if off) and waits the warm-up, returning early if `stop` is set.
    pub fn switch_on(&mut self, stop: &AtomicBool) {
        if self.is_on {
            return;
        }
        self.is_on = true;
        if let Some(command) = &self.config.on {
            run("on", command);
            let until = Instant::now() + self.config.warm_up;
            while Instant::now() < until && !stop.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    pub fn switch_off(&mut self) {
        if !self.is_on {
            return;
        }
        self.is_on = false;
        if let Some(command) = &self.config.off {
            run("off", command);
        }
    }

    /// How long to keep the amplifier on after the last programme.
    pub fn tail(&self) -> Duration {
        self.config.tail
    }
}

/// A failing hook is logged, never fatal: the programme airs anyway (the amplifier may be on).
fn run(action: &str, command: &str) {
    match Command::new("sh").arg("-c").arg(command).status() {
        Ok(status) if status.success() => tracing::info!(action, command, "amplifier switched"),
        Ok(status) => tracing::warn!(action, command, %status, "amplifier command failed"),
        Err(e) => tracing::warn!(action, command, error = %e, "amplifier command could not run"),
    }
}
