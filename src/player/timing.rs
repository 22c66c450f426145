//! The player's arithmetic: frames ↔ durations and instants on the output's timeline, the fade
//! ramps, how far the player may write before a cut-in must begin fading, when a frame must be
//! in the output, and when to try a failed output again. Pure: instants are parameters.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use loaxa_core::backoff::Backoff;

/// Opening a failed audio output again: after 1 s, then twice as long each time, up to a
/// minute, so a box whose card is gone for hours neither spins nor waits long once it is back.
/// No jitter: one box's own sound card, nothing else retries in step with it.
pub const OUTPUT_REOPEN: Backoff = Backoff {
    initial: Duration::from_secs(1),
    max: Duration::from_secs(60),
    jitter: 0.0,
    stable_after: Duration::ZERO,
};

/// The time `frames` take at `rate`.
pub fn duration_of(frames: u64, rate: u32) -> Duration {
    Duration::from_secs_f64(frames as f64 / f64::from(rate.max(1)))
}

/// Whole frames in `duration` at `rate`.
pub fn frames_in(duration: Duration, rate: u32) -> u64 {
    (duration.as_secs_f64() * f64::from(rate)) as u64
}

/// The timeline frame that goes out at `instant`, frame 0 going out at `origin` (before it:
/// frame 0).
pub fn frame_at(origin: DateTime<Utc>, instant: DateTime<Utc>, rate: u32) -> u64 {
    let nanos = (instant - origin).num_nanoseconds().unwrap_or(0).max(0);
    (nanos as u128 * u128::from(rate) / 1_000_000_000) as u64
}

/// The gain of frame `frame` of a block written while fading in over `fade_in` frames, with
/// `left` frames of the fade still to go when the block began (1 past the fade).
pub fn fade_in_gain(fade_in: u64, left: u64, frame: u64) -> f32 {
    if frame < left {
        (fade_in - left + frame) as f32 / fade_in as f32
    } else {
        1.0
    }
}

/// The gain of frame `frame` of a fade-out over `fade` frames.
pub fn fade_out_gain(fade: u64, frame: u64) -> f32 {
    1.0 - frame as f32 / fade as f32
}

/// Whether a cut-in starting at frame `at` must begin fading out what is on air, `written`
/// frames into the timeline: the fade ends on the cut-in's first frame.
pub fn cut_is_due(written: u64, fade: u64, at: u64) -> bool {
    written + fade >= at
}

/// The most frames to write next: a `block`, but never past the point where a pending cut-in
/// at `cut_at` must begin fading (and at least one, so the timeline moves on).
pub fn room(written: u64, fade: u64, cut_at: Option<u64>, block: usize) -> usize {
    match cut_at {
        Some(at) => (at.saturating_sub(fade + written) as usize).max(1),
        None => block,
    }
}

/// How long from `now` until a frame going out at `goes_out` must be in the output, the device
/// taking up to `grab` of audio in one go (nothing if that has passed).
pub fn lead(goes_out: DateTime<Utc>, now: DateTime<Utc>, grab: Duration) -> Duration {
    (goes_out - now)
        .to_std()
        .unwrap_or_default()
        .saturating_sub(grab)
}

/// With nothing relayed this far into a slot of `slot`, a relay gives way to its fallback:
/// `most`, or a third of a shorter slot, so that the fallback still has room.
pub fn relay_give_up(slot: Duration, most: Duration) -> Duration {
    most.min(slot / 3)
}

/// A boundary (what begins there) at a position: a sample offset among ready samples, or a
/// frame of the timeline.
pub type Boundary<At> = (String, At);

/// Boundaries among ready samples (sample offsets) when the first `taken` samples go to the
/// timeline at frame `written`: those among them, at their frames, and the rest, their offsets
/// moved back by what was taken.
pub fn place_marks(
    marks: Vec<Boundary<usize>>,
    taken: usize,
    channels: usize,
    written: u64,
) -> (Vec<Boundary<u64>>, Vec<Boundary<usize>>) {
    let (now, later): (Vec<_>, Vec<_>) = marks.into_iter().partition(|(_, at)| *at < taken);
    let placed = now
        .into_iter()
        .map(|(what, at)| (what, written + (at / channels) as u64))
        .collect();
    let left = later
        .into_iter()
        .map(|(what, at)| (what, at - taken))
        .collect();
    (placed, left)
}

/// When to try opening a failed output again, by [`OUTPUT_REOPEN`].
#[derive(Debug, Clone, Copy)]
pub struct Reopen {
    at: Instant,
    failures: u32,
}

impl Reopen {
    /// The output failed at `now`.
    pub fn new(now: Instant) -> Reopen {
        Reopen {
            at: now + OUTPUT_REOPEN.delay(0),
            failures: 0,
        }
    }

    pub fn is_due(&self, now: Instant) -> bool {
        now >= self.at
    }

    pub fn until_due(&self, now: Instant) -> Duration {
        self.at.saturating_duration_since(now)
    }

    /// Opening it again failed at `now`: the wait before the next try.
    pub fn failed(&mut self, now: Instant) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let delay = OUTPUT_REOPEN.delay(self.failures);
        self.at = now + delay;
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn an_instant_becomes_the_frame_going_out_then_and_before_the_origin_frame_zero() {
        let origin = at("2026-11-24T05:00:00Z");
        assert_eq!(frame_at(origin, at("2026-11-24T05:00:01.5Z"), RATE), 72_000);
        assert_eq!(frame_at(origin, at("2026-11-24T04:59:59Z"), RATE), 0);
        // Part of a frame is not a frame yet.
        let almost = origin + chrono::Duration::nanoseconds(20_832);
        assert_eq!(frame_at(origin, almost, RATE), 0);
        assert_eq!(
            frame_at(origin, at("2026-11-24T06:00:00Z"), RATE),
            3600 * 48_000
        );
    }

    #[test]
    fn frames_and_durations_convert_both_ways_and_a_zero_rate_does_not_divide_by_zero() {
        assert_eq!(frames_in(Duration::from_millis(250), RATE), 12_000);
        assert_eq!(duration_of(12_000, RATE), Duration::from_millis(250));
        assert_eq!(duration_of(5, 0), Duration::from_secs(5));
    }

    #[test]
    fn a_fade_out_goes_from_full_to_silence_and_a_fade_in_back_across_blocks() {
        assert_eq!(fade_out_gain(4, 0), 1.0);
        assert_eq!(fade_out_gain(4, 3), 0.25);
        // A fade-in of 4 frames written in blocks of 3: 0, 1/4, 2/4, then 3/4, 1.
        let first: Vec<f32> = (0..3).map(|i| fade_in_gain(4, 4, i)).collect();
        assert_eq!(first, [0.0, 0.25, 0.5]);
        let second: Vec<f32> = (0..3).map(|i| fade_in_gain(4, 1, i)).collect();
        assert_eq!(second, [0.75, 1.0, 1.0]);
        assert_eq!(fade_in_gain(4, 0, 0), 1.0, "no fade left: full gain");
    }

    #[test]
    fn the_player_writes_up_to_where_a_cut_in_must_begin_fading_and_then_fades() {
        let (fade, block) = (12_000, 2_400);
        assert_eq!(room(0, fade, None, block), block);
        // A cut-in at 1 s: the fade begins at 0.75 s.
        assert_eq!(room(30_000, fade, Some(48_000), block), 6_000);
        assert!(!cut_is_due(35_999, fade, 48_000));
        assert!(cut_is_due(36_000, fade, 48_000));
        // Late: never a block of nothing.
        assert_eq!(room(40_000, fade, Some(48_000), block), 1);
    }

    #[test]
    fn a_frame_must_be_in_the_output_a_device_grab_before_it_goes_out() {
        let now = at("2026-11-24T05:00:00Z");
        let grab = Duration::from_millis(100);
        assert_eq!(
            lead(at("2026-11-24T05:00:02Z"), now, grab),
            Duration::from_millis(1900)
        );
        assert_eq!(lead(at("2026-11-24T04:59:00Z"), now, grab), Duration::ZERO);
        assert_eq!(
            lead(at("2026-11-24T05:00:00.05Z"), now, grab),
            Duration::ZERO
        );
    }

    #[test]
    fn a_relay_gives_way_after_fifteen_seconds_or_a_third_of_a_shorter_slot() {
        let most = Duration::from_secs(15);
        assert_eq!(relay_give_up(Duration::from_secs(3600), most), most);
        assert_eq!(
            relay_give_up(Duration::from_secs(30), most),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn boundaries_among_the_samples_taken_are_placed_at_their_frames_and_the_rest_wait() {
        let marks = vec![
            ("a".to_owned(), 0),
            ("b".to_owned(), 6),
            ("c".to_owned(), 10),
        ];
        // Stereo: 8 samples are 4 frames, written from frame 100.
        let (placed, left) = place_marks(marks, 8, 2, 100);
        assert_eq!(placed, [("a".to_owned(), 100), ("b".to_owned(), 103)]);
        assert_eq!(left, [("c".to_owned(), 2)]);
        // Nothing taken (a stream with nothing yet): a boundary at the front waits too.
        let (placed, left) = place_marks(vec![("d".to_owned(), 0)], 0, 2, 100);
        assert!(placed.is_empty());
        assert_eq!(left, [("d".to_owned(), 0)]);
    }

    #[test]
    fn a_failed_output_is_tried_after_one_second_then_doubling_up_to_a_minute() {
        let start = Instant::now();
        let mut reopen = Reopen::new(start);
        assert!(!reopen.is_due(start));
        assert_eq!(reopen.until_due(start), Duration::from_secs(1));
        assert!(reopen.is_due(start + Duration::from_secs(1)));
        let mut now = start + Duration::from_secs(1);
        let mut waits = Vec::new();
        for _ in 0..8 {
            let wait = reopen.failed(now);
            waits.push(wait.as_secs());
            now += wait;
            assert!(reopen.is_due(now));
        }
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(reopen.until_due(now), Duration::ZERO);
    }
}
