//! Noticing when the wall clock is stepped (NTP correcting a box that booted with a wrong or no
//! real-time clock, or an operator running `date -s`): the wall clock moved by more than the
//! monotonic clock did between two looks. Pure: both readings are parameters.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

/// A step smaller than this is drift or a slewed correction, not worth acting on.
const STEP: Duration = Duration::seconds(2);

/// A step of the wall clock: it read `to` where it should have read `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jump {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Jump {
    pub fn is_forward(&self) -> bool {
        self.to > self.from
    }

    /// How far it moved, whichever way.
    pub fn size(&self) -> Duration {
        (self.to - self.from).abs()
    }
}

/// The last pair of readings.
#[derive(Debug, Clone, Copy)]
pub struct ClockWatch {
    wall: DateTime<Utc>,
    monotonic: Instant,
}

impl ClockWatch {
    pub fn new(wall: DateTime<Utc>, monotonic: Instant) -> ClockWatch {
        ClockWatch { wall, monotonic }
    }

    /// Takes a new pair of readings; a jump if the wall clock moved by more than [`STEP`] other
    /// than the monotonic clock did since the last pair.
    pub fn observe(&mut self, wall: DateTime<Utc>, monotonic: Instant) -> Option<Jump> {
        let elapsed = Duration::from_std(monotonic.saturating_duration_since(self.monotonic))
            .unwrap_or(Duration::MAX);
        let expected = self.wall + elapsed;
        *self = ClockWatch { wall, monotonic };
        ((wall - expected).abs() > STEP).then_some(Jump {
            from: expected,
            to: wall,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_clock_that_keeps_pace_with_the_monotonic_one_never_jumps() {
        let start = Instant::now();
        let mut watch = ClockWatch::new(at("2026-11-24T05:00:00Z"), start);
        let later = start + std::time::Duration::from_secs(3600);
        // One second of drift over an hour is not a step.
        assert_eq!(watch.observe(at("2026-11-24T06:00:01Z"), later), None);
    }

    #[test]
    fn steps_either_way_are_reported_with_where_the_clock_should_have_been() {
        let start = Instant::now();
        let mut watch = ClockWatch::new(at("2026-11-24T05:00:00Z"), start);
        let ten_s = start + std::time::Duration::from_secs(10);
        let jump = watch.observe(at("2026-11-24T07:00:10Z"), ten_s).unwrap();
        assert!(jump.is_forward());
        assert_eq!(jump.from, at("2026-11-24T05:00:10Z"));
        assert_eq!(jump.size(), Duration::hours(2));
        // The next look starts from the new reading: no second report of the same step.
        let twenty_s = start + std::time::Duration::from_secs(20);
        assert_eq!(watch.observe(at("2026-11-24T07:00:20Z"), twenty_s), None);
        let thirty_s = start + std::time::Duration::from_secs(30);
        let back = watch.observe(at("2026-11-24T05:00:30Z"), thirty_s).unwrap();
        assert!(!back.is_forward());
        assert_eq!(back.from, at("2026-11-24T07:00:30Z"));
    }
}
