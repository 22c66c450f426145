//! Growing delays between retries, with jitter: one policy for everything that retries (the
//! broker connection, a stalled bulletin transfer, reopening the audio output).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Retry delays: `initial` doubling up to `max`, each multiplied by a random factor in
/// `1 ± jitter`. The doubling starts over once a connection has stayed up for `stable_after`.
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    /// Fraction, e.g. 0.2 for ±20 %.
    pub jitter: f64,
    pub stable_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            jitter: 0.2,
            // A connection that held this long means the broker is back for real: the next
            // outage (a restart a minute later) starts again from `initial`. A broker that
            // accepts and drops at once still backs off.
            stable_after: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// The delay before reconnection attempt number `attempt` (0 for the first retry), before
    /// jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(30));
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay with jitter applied; never more than `max * (1 + jitter)`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = self.base_delay(attempt).as_secs_f64();
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + jitter * (2.0 * random_unit() - 1.0);
        Duration::from_secs_f64((base * factor).max(0.0))
    }
}

/// A uniform random number in `[0, 1)`, from std's randomly keyed hasher (good enough for
/// jitter; keeps boxes that lost the broker at the same moment from reconnecting in lockstep).
fn random_unit() -> f64 {
    let bits = RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let backoff = Backoff::default();
        assert_eq!(backoff.base_delay(0), Duration::from_secs(1));
        assert_eq!(backoff.base_delay(1), Duration::from_secs(2));
        assert_eq!(backoff.base_delay(5), Duration::from_secs(32));
        assert_eq!(backoff.base_delay(6), Duration::from_secs(60));
        assert_eq!(backoff.base_delay(1000), Duration::from_secs(60));
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let backoff = Backoff::default();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let delay = backoff.delay(3).as_secs_f64();
            assert!((6.4..=9.6).contains(&delay), "{delay}");
            seen.insert(delay.to_bits());
        }
        assert!(seen.len() > 100, "jitter is not random");
    }
}
