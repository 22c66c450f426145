//! The attention chime played before a bulletin.
//!
//! It is synthesised rather than shipped as a file so it always matches the
//! output device's format exactly and cannot go missing or be corrupt.

use std::f32::consts::TAU;

/// The three notes, rising: C5, E5, G5, a major triad that reads as "listen"
/// rather than "alarm". Each entry is (frequency in Hz, onset in seconds).
const NOTES: [(f32, f32); 3] = [(523.25, 0.0), (659.26, 0.35), (783.99, 0.70)];

/// Total length, long enough for the last note to ring out.
const LENGTH_SECONDS: f32 = 1.8;

/// Fade-in of each note: long enough to avoid a click, short enough to sound
/// struck.
const ATTACK_SECONDS: f32 = 0.015;

/// Time constant of each note's exponential decay, like a struck bar.
const DECAY_SECONDS: f32 = 0.4;

/// Fade-out over the end of the chime, so it ends at exactly zero.
const RELEASE_SECONDS: f32 = 0.2;

/// Overtones (multiple of the fundamental, relative level) that make the
/// notes sound like a vibraphone rather than a test tone.
const PARTIALS: [(f32, f32); 3] = [(1.0, 1.0), (2.0, 0.25), (4.0, 0.08)];

/// Peak level of the chime: below the 0.7 ceiling, leaving headroom, and about
/// as loud as speech normalised for broadcast.
const PEAK: f32 = 0.6;

/// A short, pleasant two- or three-tone attention chime (~1.5–2 s, with soft
/// attack/decay so it never clicks), synthesised at the given format. Peak ≤
/// 0.7. Every channel carries the same signal. Partials at or above the
/// Nyquist frequency are left out, so low rates give a duller but clean
/// chime. A zero rate or channel count gives an empty chime.
pub fn chime(sample_rate: u32, channels: u16) -> Vec<f32> {
    let mono = normalise(synthesise(sample_rate));
    mono.iter()
        .flat_map(|&sample| std::iter::repeat_n(sample, usize::from(channels)))
        .collect()
}

/// The emergency attention tone: two notes a fourth apart (A5, E5) alternating four times,
/// 0.4 s each, about 3.2 s in all. Longer and more insistent than the chime, so that nobody
/// mistakes a storm warning for the morning news, but still soft-edged (no clicks).
pub fn attention_tone(sample_rate: u32, channels: u16) -> Vec<f32> {
    const STEP: f32 = 0.4;
    const STEPS: usize = 8;
    const EDGE: f32 = 0.02;
    let rate = sample_rate as f32;
    let frames = (STEP * STEPS as f32 * rate).round() as usize;
    let mono: Vec<f32> = (0..frames)
        .map(|frame| {
            let t = frame as f32 / rate;
            let step = ((t / STEP) as usize).min(STEPS - 1);
            let frequency = if step.is_multiple_of(2) {
                880.0
            } else {
                659.26
            };
            let within = t - step as f32 * STEP;
            let edge = raised_cosine((within / EDGE).min(1.0))
                * raised_cosine(((STEP - within) / EDGE).min(1.0));
            PEAK * edge * (TAU * frequency * t).sin()
        })
        .collect();
    mono.iter()
        .flat_map(|&sample| std::iter::repeat_n(sample, usize::from(channels)))
        .collect()
}

fn synthesise(sample_rate: u32) -> Vec<f32> {
    let rate = sample_rate as f32;
    let frames = (LENGTH_SECONDS * rate).round() as usize;
    (0..frames)
        .map(|frame| {
            let t = frame as f32 / rate;
            let notes: f32 = NOTES
                .iter()
                .map(|&(frequency, onset)| note(t - onset, frequency, rate))
                .sum();
            notes * release(LENGTH_SECONDS - t)
        })
        .collect()
}

/// One struck note, `t` seconds after it is struck (silent before).
fn note(t: f32, frequency: f32, rate: f32) -> f32 {
    if t < 0.0 {
        return 0.0;
    }
    let tone: f32 = PARTIALS
        .iter()
        .filter(|&&(multiple, _)| frequency * multiple < rate / 2.0)
        .map(|&(multiple, level)| level * (TAU * frequency * multiple * t).sin())
        .sum();
    tone * raised_cosine(t / ATTACK_SECONDS) * (-t / DECAY_SECONDS).exp()
}

/// Gain that falls smoothly to zero over the last `RELEASE_SECONDS`, given
/// the time still remaining.
fn release(remaining: f32) -> f32 {
    raised_cosine(remaining / RELEASE_SECONDS)
}

/// A smooth 0 → 1 ramp over `x` in 0..1 (half a cosine period), 1 beyond.
/// Its slope is zero at both ends, so nothing it shapes starts or stops with
/// a click.
fn raised_cosine(x: f32) -> f32 {
    if x >= 1.0 {
        1.0
    } else {
        0.5 - 0.5 * (std::f32::consts::PI * x.max(0.0)).cos()
    }
}

fn normalise(mut samples: Vec<f32>) -> Vec<f32> {
    let peak = samples
        .iter()
        .fold(0.0f32, |peak, sample| peak.max(sample.abs()));
    if peak > 0.0 {
        let scale = PEAK / peak;
        for sample in &mut samples {
            *sample *= scale;
        }
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peak(samples: &[f32]) -> f32 {
        samples
            .iter()
            .fold(0.0f32, |peak, sample| peak.max(sample.abs()))
    }

    #[test]
    fn the_chime_lasts_between_one_and_a_half_and_two_seconds() {
        let frames = chime(48000, 2).len() / 2;
        assert!((72_000..=96_000).contains(&frames), "{frames} frames");
    }

    #[test]
    fn the_chime_peaks_at_or_below_0_7() {
        for rate in [8000, 22050, 44100, 48000] {
            let level = peak(&chime(rate, 1));
            assert!((0.5..=0.7).contains(&level), "peak {level} at {rate} Hz");
        }
    }

    #[test]
    fn the_chime_starts_and_ends_in_silence() {
        let samples = chime(48000, 1);
        assert_eq!(samples[0], 0.0);
        assert!(
            peak(&samples[..48]) < 0.01,
            "the first millisecond is not quiet"
        );
        assert!(
            peak(&samples[samples.len() - 48..]) < 0.001,
            "the last millisecond is not quiet"
        );
    }

    #[test]
    fn the_chime_never_jumps_between_samples() {
        let samples = chime(48000, 1);
        let largest_step = samples
            .windows(2)
            .map(|pair| (pair[1] - pair[0]).abs())
            .fold(0.0, f32::max);
        // A 0.6 sine at the highest partial (G5 × 4 ≈ 3.1 kHz) moves at most
        // 0.6 × 2π × 3136 / 48000 ≈ 0.25 per sample; a click would be a step
        // near the full amplitude.
        assert!(largest_step < 0.15, "step of {largest_step}");
    }

    #[test]
    fn every_channel_carries_the_same_chime() {
        let mono = chime(44100, 1);
        let quad = chime(44100, 4);
        assert_eq!(quad.len(), 4 * mono.len());
        for (frame, &sample) in quad.chunks_exact(4).zip(&mono) {
            assert_eq!(frame, [sample; 4]);
        }
    }

    #[test]
    fn a_chime_for_no_channels_or_no_rate_is_empty() {
        assert!(chime(48000, 0).is_empty());
        assert!(chime(0, 2).is_empty());
    }
}
