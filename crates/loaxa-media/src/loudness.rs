//! Loudness of a recording (EBU R128 / ITU-R BS.1770-4) and the playback gain derived from it.
//!
//! Bulletins come from anywhere: a mastered studio file that sits near full scale, or a phone
//! recording made at arm's length that is 20 dB quieter. Played as they are, the loudspeakers
//! would blast one across the village and mumble the other, and nobody in the street can reach
//! for a volume knob. Matching peaks does not help (one click sets the peak of a quiet
//! recording), so we measure *perceived* loudness the way broadcasters do and bring every file
//! to the same target.
//!
//! The measurement is made once, when a file is ingested, and stored with it; airing then only
//! applies a fixed gain. It is streaming so that an hour-long recording on a Raspberry Pi costs
//! linear time and a few hundred kilobytes (one number per 100 ms), never the whole file.
//!
//! True peak is measured alongside because turning a quiet file up can push the waveform
//! *between* samples past full scale, where the DAC or the amplifier clips; the gain is lowered
//! so those peaks stay under a ceiling.
//!
//! Every channel is weighted 1.0, whatever the count. BS.1770 weights surround channels 1.41,
//! but we never know a file's channel layout and bulletins are mono or stereo, where 1.0 is
//! exactly what the standard asks for.

use std::f64::consts::PI;

/// Gating blocks are 400 ms long and start every 100 ms (75 % overlap), so energy is summed per
/// 100 ms step and each block is four consecutive steps: one number per step is all the history
/// the meter needs.
const STEPS_PER_SECOND: u32 = 10;
const STEPS_PER_BLOCK: usize = 4;

/// Blocks quieter than this are silence between programme, not programme (BS.1770-4).
const ABSOLUTE_GATE_LUFS: f64 = -70.0;

/// Blocks this far below the programme's own average are pauses and background, which would
/// otherwise make speech with long pauses read too quiet (BS.1770-4).
const RELATIVE_GATE_LU: f64 = 10.0;

/// BS.1770's offset that cancels K-weighting's gain at 1 kHz, so a full-scale 997 Hz sine in one
/// channel reads −3.01 LUFS, the same as its RMS level.
const LOUDNESS_OFFSET_DB: f64 = -0.691;

/// Inter-sample peaks are found by interpolating three extra points between samples
/// (BS.1770-4 Annex 2). At 96 kHz and above 2× would do, but 4× is never wrong and keeps one
/// code path.
const OVERSAMPLING: usize = 4;

/// Length of each interpolation phase. 32 taps with the window below keep every interpolated
/// point within 0.01 dB of the ideal up to 0.4 × the sample rate and within 0.4 dB up to
/// 0.45 × (19.8 kHz at 44.1 kHz, 3.6 kHz at 8 kHz). Only noise filling the band to Nyquist
/// notices the difference from longer filters, and it costs a third less than the 48 taps
/// that would be exact there.
const TAPS_PER_PHASE: usize = 32;

/// Kaiser window shape: about 70 dB of stopband rejection, so images of loud low frequencies
/// cannot pose as peaks, with a transition band narrow enough for 32 taps.
const KAISER_BETA: f64 = 7.0;

/// Largest boost `playback_gain` will apply. A recording that needs more than this is mostly
/// hiss, hum and room noise with a faint voice in it; lifting it further would air the noise at
/// full programme level and barely make the voice more intelligible. 20 dB still takes a quiet
/// phone recording (around −40 LUFS) up to a −20 LUFS target.
const MAX_BOOST_DB: f64 = 20.0;

/// Filter state below this is set to zero after each step. In digital silence the state
/// shrinks geometrically, and the high-pass stage's slowly enough that it would spend
/// thousands of samples as subnormal numbers, which some CPUs handle many times slower. A
/// value this small affects nothing audible.
const SUBNORMAL_GUARD: f64 = 1e-20;

/// Width of a 128-bit SIMD register (SSE, NEON) in f32 lanes.
const LANES: usize = 4;

/// Samples each channel carries over from one step to the next, so the interpolator's window
/// reaches back across the step boundary.
const HISTORY: usize = TAPS_PER_PHASE - 1;

/// Most frames of a step buffered up front; a step at an absurd sample rate grows its buffer
/// only as audio actually arrives.
const PREALLOCATED_FRAMES: usize = 19_200;

/// Result of measuring a whole recording.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loudness {
    /// Integrated loudness, LUFS; None when everything is below the absolute gate (silence) or
    /// shorter than one 400 ms block.
    pub integrated_lufs: Option<f64>,
    /// True peak in dBTP (4x oversampled, as BS.1770-4 Annex 2 describes); None for digital
    /// silence.
    pub true_peak_dbtp: Option<f64>,
}

/// Streaming loudness and true-peak meter. Feed it interleaved samples in pieces of any size
/// (they need not be whole frames), then call [`LoudnessMeter::finish`].
///
/// Audio is buffered for one 100 ms step per channel and processed a step at a time, one channel
/// after the other: each filter then runs over contiguous memory, and the true-peak search can
/// skip a whole step at once when it cannot reach a new peak.
///
/// A channel count of 0 is treated as mono. A sample rate of 0 cannot be measured and gives a
/// [`Loudness`] with both values `None`. Non-finite samples (NaN, ±∞) count as 0.0, so one
/// corrupt sample cannot poison a whole measurement.
pub struct LoudnessMeter {
    channels: Vec<ChannelState>,
    /// Channel the next pushed sample belongs to; kept across pushes so pieces may split frames.
    next_channel: usize,
    /// Frames in one 100 ms step; 0 when the sample rate is unusable.
    frames_per_step: usize,
    /// Whole frames buffered towards the current step.
    frames_in_step: usize,
    /// K-weighted energy of every completed step, summed over channels.
    step_energies: Vec<f64>,
    interpolator: Interpolator,
    /// Largest absolute value so far, at the samples or between them.
    peak: f32,
}

impl LoudnessMeter {
    /// A meter for audio at `sample_rate` with `channels` interleaved channels.
    pub fn new(sample_rate: u32, channels: u16) -> LoudnessMeter {
        let channel_count = usize::from(channels.max(1));
        let frames_per_step = if sample_rate == 0 {
            0
        } else {
            // Rounded, and at least one frame, so that odd rates still gate in ~100 ms steps.
            let rate = u64::from(sample_rate);
            let step = (rate + u64::from(STEPS_PER_SECOND) / 2) / u64::from(STEPS_PER_SECOND);
            usize::try_from(step.max(1)).unwrap_or(usize::MAX)
        };
        let channels = if frames_per_step == 0 {
            Vec::new()
        } else {
            let rate = f64::from(sample_rate);
            (0..channel_count)
                .map(|_| ChannelState::new(rate, frames_per_step))
                .collect()
        };
        LoudnessMeter {
            channels,
            next_channel: 0,
            frames_per_step,
            frames_in_step: 0,
            step_energies: Vec::new(),
            interpolator: Interpolator::new(),
            peak: 0.0,
        }
    }

    /// interleaved samples, any length (not necessarily whole 100 ms blocks, nor whole frames)
    pub fn push(&mut self, interleaved: &[f32]) {
        let channel_count = self.channels.len();
        if channel_count == 0 {
            return;
        }
        let mut rest = interleaved;
        while !rest.is_empty() {
            let frames_wanted = self.frames_per_step - self.frames_in_step;
            let whole_frames = (rest.len() / channel_count).min(frames_wanted);
            if self.next_channel == 0 && whole_frames > 0 {
                // The usual case: whole frames, split into channels one channel at a time.
                let (frames, after) = rest.split_at(whole_frames * channel_count);
                for (index, channel) in self.channels.iter_mut().enumerate() {
                    let samples = frames.iter().skip(index).step_by(channel_count);
                    channel.signal.extend(samples.map(|&sample| finite(sample)));
                }
                self.frames_in_step += whole_frames;
                rest = after;
            } else if let Some((&sample, after)) = rest.split_first() {
                // A frame split between pieces: a sample at a time until it is whole.
                self.channels[self.next_channel].signal.push(finite(sample));
                self.next_channel += 1;
                if self.next_channel == channel_count {
                    self.next_channel = 0;
                    self.frames_in_step += 1;
                }
                rest = after;
            }
            if self.frames_in_step == self.frames_per_step {
                self.end_step();
            }
        }
    }

    /// The loudness and true peak of everything pushed.
    pub fn finish(mut self) -> Loudness {
        if self.channels.is_empty() {
            return Loudness {
                integrated_lufs: None,
                true_peak_dbtp: None,
            };
        }
        // A trailing partial step is left out of the loudness, as BS.1770 leaves out incomplete
        // blocks, but its peaks count. The points between the last samples depend on what
        // follows them, and on air that is silence, so the interpolator is fed zeros. A partial
        // frame is dropped.
        let frames = HISTORY + self.frames_in_step;
        for channel in &mut self.channels {
            channel.signal.truncate(frames);
            channel.signal.resize(frames + TAPS_PER_PHASE, 0.0);
            self.peak = channel.true_peak(&self.interpolator, self.peak);
        }
        let peak = f64::from(self.peak.min(f32::MAX));
        Loudness {
            integrated_lufs: gated_loudness(&self.step_energies, self.frames_per_step),
            true_peak_dbtp: (peak > 0.0).then(|| 20.0 * peak.log10()),
        }
    }

    fn end_step(&mut self) {
        let mut energy = 0.0;
        for channel in &mut self.channels {
            energy += channel.k_weighted_energy();
            self.peak = channel.true_peak(&self.interpolator, self.peak);
            channel.keep_history();
        }
        self.step_energies.push(energy);
        self.frames_in_step = 0;
    }
}

fn finite(sample: f32) -> f32 {
    if sample.is_finite() { sample } else { 0.0 }
}

/// Decodes a whole file and measures it: what a box does once per bulletin (and per local
/// file), so playback only looks the figure up.
pub fn measure_file(path: &std::path::Path) -> Result<Loudness, crate::decode::AudioError> {
    let mut decoder = crate::decode::Decoder::open(path)?;
    let mut meter = LoudnessMeter::new(decoder.sample_rate(), decoder.channels());
    while let Some(block) = decoder.next_block()? {
        meter.push(block);
    }
    Ok(meter.finish())
}

/// Gain (linear factor) that brings `measured` to `target_lufs`, lowered if needed so the true
/// peak after gain stays at or below `ceiling_dbtp` (e.g. -1.0). Silence/unmeasurable → 1.0.
///
/// The boost is capped at +20 dB: a recording that needs more is mostly noise with a faint
/// voice, and lifting it further would air hiss and hum at programme level without making the
/// voice much clearer. The peak ceiling wins over the target, because clipping on the
/// loudspeakers is worse than a bulletin a little quieter than the others. A non-finite target
/// or a NaN ceiling (a configuration mistake) also gives 1.0: better unchanged than silenced or
/// blown up.
pub fn playback_gain(measured: &Loudness, target_lufs: f64, ceiling_dbtp: f64) -> f32 {
    let Some(integrated) = measured.integrated_lufs else {
        return 1.0;
    };
    if !integrated.is_finite() || !target_lufs.is_finite() || ceiling_dbtp.is_nan() {
        return 1.0;
    }
    let mut gain_db = (target_lufs - integrated).min(MAX_BOOST_DB);
    if let Some(peak) = measured.true_peak_dbtp.filter(|peak| !peak.is_nan()) {
        gain_db = gain_db.min(ceiling_dbtp - peak);
    }
    if !gain_db.is_finite() {
        return 1.0;
    }
    // Narrowed to f32 for the output path; any gain that survived the checks above fits.
    10f64.powf(gain_db / 20.0) as f32
}

/// Integrated loudness of the steps' energies, gated as BS.1770-4 describes.
fn gated_loudness(step_energies: &[f64], frames_per_step: usize) -> Option<f64> {
    let block_frames = (STEPS_PER_BLOCK * frames_per_step) as f64;
    let blocks = || {
        step_energies
            .windows(STEPS_PER_BLOCK)
            .map(move |steps| steps.iter().sum::<f64>() / block_frames)
    };
    let absolute_gate = energy_of(ABSOLUTE_GATE_LUFS);
    let ungated = mean_above(blocks(), absolute_gate)?;
    let relative_gate = energy_of(loudness_of(ungated) - RELATIVE_GATE_LU).max(absolute_gate);
    mean_above(blocks(), relative_gate).map(loudness_of)
}

/// Mean of the block energies strictly above `threshold` (the standard's gates are strict).
fn mean_above(blocks: impl Iterator<Item = f64>, threshold: f64) -> Option<f64> {
    let (sum, count) = blocks
        .filter(|&energy| energy > threshold)
        .fold((0.0, 0_usize), |(sum, count), energy| {
            (sum + energy, count + 1)
        });
    (count > 0).then(|| sum / count as f64)
}

fn loudness_of(energy: f64) -> f64 {
    LOUDNESS_OFFSET_DB + 10.0 * energy.log10()
}

/// Inverse of `loudness_of`, so gates can be compared in the energy domain without a logarithm
/// per block.
fn energy_of(loudness: f64) -> f64 {
    10f64.powf((loudness - LOUDNESS_OFFSET_DB) / 10.0)
}

/// Per-channel state: the two K-weighting filters and the step's samples.
struct ChannelState {
    shelf: Biquad,
    high_pass: Biquad,
    /// The last `HISTORY` samples of the previous step, then this step's samples so far.
    signal: Vec<f32>,
}

impl ChannelState {
    fn new(sample_rate: f64, frames_per_step: usize) -> ChannelState {
        let mut signal = Vec::with_capacity(HISTORY + frames_per_step.min(PREALLOCATED_FRAMES));
        signal.resize(HISTORY, 0.0);
        ChannelState {
            shelf: Biquad::k_weighting_shelf(sample_rate),
            high_pass: Biquad::k_weighting_high_pass(sample_rate),
            signal,
        }
    }

    /// Sum of the squared K-weighted samples of this step.
    fn k_weighted_energy(&mut self) -> f64 {
        let mut energy = 0.0;
        for &sample in self.signal.get(HISTORY..).unwrap_or_default() {
            let weighted = self
                .high_pass
                .process(self.shelf.process(f64::from(sample)));
            energy += weighted * weighted;
        }
        self.shelf.flush_subnormals();
        self.high_pass.flush_subnormals();
        energy
    }

    /// The larger of `peak` and this step's peak, at the samples and between them.
    fn true_peak(&self, interpolator: &Interpolator, peak: f32) -> f32 {
        let signal = self.signal.as_slice();
        let sample_peak = signal
            .iter()
            .fold(0.0_f32, |max, sample| max.max(sample.abs()));
        // No point between samples can exceed the largest sample in reach times the
        // interpolator's worst-case gain. When even that cannot beat the peak so far, the
        // interpolation, most of the meter's work, is skipped: once a recording has reached
        // its loudest, its quieter passages and pauses cost little more than the loudness.
        if sample_peak * interpolator.worst_case_gain <= peak {
            return peak;
        }
        let mut peak = peak.max(sample_peak);
        // A plain index loop rather than `windows()`: unoptimised test builds run the
        // iterator version several times slower, and this runs once per sample.
        let mut end = TAPS_PER_PHASE;
        while let Some(window) = signal.get(end - TAPS_PER_PHASE..end) {
            if let Ok(window) = <&[f32; TAPS_PER_PHASE]>::try_from(window) {
                let [a, b, c] = interpolator.interpolate(window);
                peak = peak.max(a.abs()).max(b.abs()).max(c.abs());
            }
            end += 1;
        }
        peak
    }

    fn keep_history(&mut self) {
        let start = self.signal.len().saturating_sub(HISTORY);
        self.signal.copy_within(start.., 0);
        self.signal.truncate(HISTORY);
    }
}

/// 4× oversampling interpolator for the true peak: a Kaiser-windowed sinc cut off at the
/// original Nyquist frequency, split into its four phases. Phase 0 falls on the original
/// samples, where the sinc is zero except at its centre, so it is the identity and only phases
/// 1 to 3 are computed.
struct Interpolator {
    /// Phases 1, 2 and 3, oldest-first to match the order of samples in a window.
    phases: [[[f32; LANES]; TAPS_PER_PHASE / LANES]; OVERSAMPLING - 1],
    /// Largest sum of coefficient magnitudes of any phase, with a margin for rounding: the
    /// most an interpolated point can exceed the largest sample in its window.
    worst_case_gain: f32,
}

impl Interpolator {
    fn new() -> Interpolator {
        let half_length = (OVERSAMPLING * TAPS_PER_PHASE / 2) as f64;
        let window_norm = bessel_i0(KAISER_BETA);
        let mut phases = [[0.0_f64; TAPS_PER_PHASE]; OVERSAMPLING - 1];
        for (index, phase) in phases.iter_mut().enumerate() {
            for (k, tap) in phase.iter_mut().enumerate() {
                // Where this tap sits in the whole filter, from its centre, in output samples;
                // tap k multiplies the sample k places before the newest.
                let offset = (k * OVERSAMPLING + index + 1) as f64 - half_length;
                let t = offset / OVERSAMPLING as f64;
                let sinc = (PI * t).sin() / (PI * t);
                let r = offset / half_length;
                let window = bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / window_norm;
                *tap = sinc * window;
            }
            // Unity gain at DC for every phase, so a constant signal interpolates to itself
            // rather than rippling at 4× the sample rate.
            let sum: f64 = phase.iter().sum();
            for tap in phase.iter_mut() {
                *tap /= sum;
            }
            phase.reverse();
        }
        let worst_case_gain = phases
            .iter()
            .map(|phase| phase.iter().map(|tap| tap.abs()).sum::<f64>())
            .fold(1.0, f64::max);
        Interpolator {
            phases: phases.map(|phase| {
                let mut lanes = [[0.0; LANES]; TAPS_PER_PHASE / LANES];
                for (lane, tap) in lanes.as_flattened_mut().iter_mut().zip(phase) {
                    *lane = tap as f32;
                }
                lanes
            }),
            worst_case_gain: (worst_case_gain * 1.001) as f32,
        }
    }

    /// The three points between `window[TAPS_PER_PHASE / 2 - 1]` and the sample after it.
    /// Each phase keeps four partial sums, one per lane of a 128-bit SIMD register (SSE,
    /// NEON): written this way the compiler vectorises it, where a single running sum would
    /// have to add one product at a time, in order.
    fn interpolate(&self, window: &[f32; TAPS_PER_PHASE]) -> [f32; OVERSAMPLING - 1] {
        let (samples, _) = window.as_chunks::<LANES>();
        let mut points = [0.0_f32; OVERSAMPLING - 1];
        let mut phase = 0;
        // Index loops over fixed-size arrays: bounds checks vanish in optimised builds, and
        // unoptimised test builds avoid an iterator call per group of taps.
        while phase < OVERSAMPLING - 1 {
            let taps = &self.phases[phase];
            let mut s = [0.0_f32; LANES];
            let mut group = 0;
            while group < TAPS_PER_PHASE / LANES {
                let (x, g) = (&samples[group], &taps[group]);
                s = [
                    s[0] + x[0] * g[0],
                    s[1] + x[1] * g[1],
                    s[2] + x[2] * g[2],
                    s[3] + x[3] * g[3],
                ];
                group += 1;
            }
            points[phase] = (s[0] + s[1]) + (s[2] + s[3]);
            phase += 1;
        }
        points
    }
}

/// Modified Bessel function of the first kind, order 0, for the Kaiser window; its power series
/// converges fast for the arguments used here.
fn bessel_i0(x: f64) -> f64 {
    let quarter_square = x * x / 4.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut k = 1.0;
    while term > sum * 1e-17 {
        term *= quarter_square / (k * k);
        sum += term;
        k += 1.0;
    }
    sum
}

/// Second-order IIR section, transposed direct form II in f64: the high-pass pole sits within
/// 0.005 of the unit circle at 48 kHz, where f32 would audibly misplace it.
struct Biquad {
    b0: f64,
    b1: f64,
    b2: f64,
    a1: f64,
    a2: f64,
    z1: f64,
    z2: f64,
}

impl Biquad {
    /// K-weighting stage 1: a high shelf of about +4 dB above ~1.7 kHz, modelling the
    /// acoustic effect of the head. BS.1770 tables its coefficients for 48 kHz only; here they
    /// come from the analog prototype by the bilinear transform, pre-warped at the shelf
    /// frequency, so every sample rate gets the same shelf frequency and gains. Only at low
    /// rates does the transform bend the slope noticeably: at 8 kHz tones between 1 and
    /// 2.5 kHz weigh up to 0.3 dB differently than at 48 kHz (speech as a whole, about 0.1).
    fn k_weighting_shelf(sample_rate: f64) -> Biquad {
        const FREQUENCY: f64 = 1_681.974_450_955_533;
        const GAIN_DB: f64 = 3.999_843_853_973_347;
        const Q: f64 = 0.707_175_236_955_419_6;
        // The prototype's mid-band gain: the fitted exponent puts it at about the geometric
        // mean of unity and the shelf gain.
        const BAND_EXPONENT: f64 = 0.499_666_774_154_541_6;
        let k = prewarp(FREQUENCY, sample_rate);
        let high_gain = 10f64.powf(GAIN_DB / 20.0);
        let band_gain = high_gain.powf(BAND_EXPONENT);
        let a0 = 1.0 + k / Q + k * k;
        Biquad::new(
            (high_gain + band_gain * k / Q + k * k) / a0,
            2.0 * (k * k - high_gain) / a0,
            (high_gain - band_gain * k / Q + k * k) / a0,
            2.0 * (k * k - 1.0) / a0,
            (1.0 - k / Q + k * k) / a0,
        )
    }

    /// K-weighting stage 2 (the "RLB" curve): a second-order high-pass at ~38 Hz, because
    /// rumble and hum carry energy without sounding loud.
    fn k_weighting_high_pass(sample_rate: f64) -> Biquad {
        const FREQUENCY: f64 = 38.135_470_876_024_44;
        const Q: f64 = 0.500_327_037_323_877_3;
        let a0 = |k: f64| 1.0 + k / Q + k * k;
        let k = prewarp(FREQUENCY, sample_rate);
        // BS.1770 tables the 48 kHz numerator unnormalised, as 1, −2, 1, which leaves the
        // pass-band gain 0.04 dB above unity, and its −0.691 dB offset includes that. Keeping
        // 1, −2, 1 at other rates, as ffmpeg does, makes the gain depend on the rate (+0.09 dB
        // at 16 kHz, +0.21 dB at 8 kHz), so the numerator is scaled to give every rate the
        // 48 kHz pass-band gain.
        let gain = a0(prewarp(FREQUENCY, 48_000.0)) / a0(k);
        Biquad::new(
            gain,
            -2.0 * gain,
            gain,
            2.0 * (k * k - 1.0) / a0(k),
            (1.0 - k / Q + k * k) / a0(k),
        )
    }

    fn new(b0: f64, b1: f64, b2: f64, a1: f64, a2: f64) -> Biquad {
        Biquad {
            b0,
            b1,
            b2,
            a1,
            a2,
            z1: 0.0,
            z2: 0.0,
        }
    }

    fn process(&mut self, x: f64) -> f64 {
        let y = self.b0 * x + self.z1;
        self.z1 = self.b1 * x - self.a1 * y + self.z2;
        self.z2 = self.b2 * x - self.a2 * y;
        y
    }

    fn flush_subnormals(&mut self) {
        for state in [&mut self.z1, &mut self.z2] {
            if state.abs() < SUBNORMAL_GUARD {
                *state = 0.0;
            }
        }
    }
}

/// Bilinear-transform frequency warping, tan(π f / fs). Rates too low to carry the frequency
/// (below ~3.4 kHz for the shelf) get it pinned just under Nyquist, which keeps the filter
/// stable; such audio is not meaningfully measurable anyway.
fn prewarp(frequency: f64, sample_rate: f64) -> f64 {
    (PI * frequency.min(0.45 * sample_rate) / sample_rate).tan()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// Interleaved sine in every channel, `dbfs` being its peak level.
    fn tone(sample_rate: u32, channels: u16, frequency: f64, dbfs: f64, seconds: f64) -> Vec<f32> {
        let amplitude = 10f64.powf(dbfs / 20.0);
        let frames = (f64::from(sample_rate) * seconds).round() as usize;
        (0..frames)
            .flat_map(|n| {
                let t = n as f64 / f64::from(sample_rate);
                let value = (amplitude * (2.0 * PI * frequency * t).sin()) as f32;
                std::iter::repeat_n(value, usize::from(channels))
            })
            .collect()
    }

    /// Measures in pieces that split frames and steps, as a decoder would deliver them.
    fn measure(sample_rate: u32, channels: u16, samples: &[f32]) -> Loudness {
        let mut meter = LoudnessMeter::new(sample_rate, channels);
        for piece in samples.chunks(4801) {
            meter.push(piece);
        }
        meter.finish()
    }

    fn integrated(loudness: Loudness) -> f64 {
        loudness.integrated_lufs.unwrap_or(f64::NAN)
    }

    fn true_peak(loudness: Loudness) -> f64 {
        loudness.true_peak_dbtp.unwrap_or(f64::NAN)
    }

    fn assert_near(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "{actual} is not within {tolerance} of {expected}"
        );
    }

    #[test]
    fn a_1_khz_sine_at_minus_23_dbfs_in_both_channels_measures_minus_23_lufs() {
        // EBU Tech 3341 test 1: each channel carries a sine whose RMS is 3 dB below its peak,
        // and the two channels' energies add back those 3 dB.
        let samples = tone(48_000, 2, 1000.0, -23.0, 20.0);
        assert_near(integrated(measure(48_000, 2, &samples)), -23.0, 0.1);
    }

    #[test]
    fn a_1_khz_sine_at_minus_33_dbfs_in_both_channels_measures_minus_33_lufs() {
        // EBU Tech 3341 test 2.
        let samples = tone(48_000, 2, 1000.0, -33.0, 20.0);
        assert_near(integrated(measure(48_000, 2, &samples)), -33.0, 0.1);
    }

    #[test]
    fn a_997_hz_sine_at_minus_20_dbfs_in_mono_measures_minus_23_lufs() {
        // One channel only: the sine's RMS, 3 dB below its peak, with nothing to add to it.
        let samples = tone(48_000, 1, 997.0, -20.0, 10.0);
        assert_near(integrated(measure(48_000, 1, &samples)), -23.0, 0.1);
    }

    #[test]
    fn a_tone_at_minus_36_dbfs_in_both_channels_measures_minus_36_lufs() {
        let samples = tone(44_100, 2, 1000.0, -36.0, 10.0);
        assert_near(integrated(measure(44_100, 2, &samples)), -36.0, 0.1);
    }

    #[test]
    fn digital_silence_has_neither_loudness_nor_peak() {
        let loudness = measure(48_000, 2, &vec![0.0; 48_000 * 2 * 5]);
        assert_eq!(loudness.integrated_lufs, None);
        assert_eq!(loudness.true_peak_dbtp, None);
    }

    #[test]
    fn a_tone_below_the_absolute_gate_has_a_peak_but_no_loudness() {
        let loudness = measure(48_000, 2, &tone(48_000, 2, 1000.0, -75.0, 3.0));
        assert_eq!(loudness.integrated_lufs, None);
        assert_near(true_peak(loudness), -75.0, 0.1);
    }

    #[test]
    fn audio_shorter_than_one_gating_block_has_a_peak_but_no_loudness() {
        let loudness = measure(48_000, 2, &tone(48_000, 2, 1000.0, -6.0, 0.35));
        assert_eq!(loudness.integrated_lufs, None);
        assert_near(true_peak(loudness), -6.0, 0.1);
    }

    // EBU Tech 3341 tests 3 to 5, with every duration divided by four to keep the unoptimised
    // test build quick: the gates only see proportions, so the expected results are unchanged.

    #[test]
    fn quiet_passages_around_a_loud_one_are_left_out_by_the_relative_gate() {
        // Without the relative gate this would read −24.2 LUFS.
        let samples = [
            tone(48_000, 2, 1000.0, -36.0, 2.5),
            tone(48_000, 2, 1000.0, -23.0, 15.0),
            tone(48_000, 2, 1000.0, -36.0, 2.5),
        ]
        .concat();
        assert_near(integrated(measure(48_000, 2, &samples)), -23.0, 0.1);
    }

    #[test]
    fn passages_below_the_absolute_gate_are_left_out_too() {
        let samples = [
            tone(48_000, 2, 1000.0, -72.0, 2.5),
            tone(48_000, 2, 1000.0, -36.0, 2.5),
            tone(48_000, 2, 1000.0, -23.0, 15.0),
            tone(48_000, 2, 1000.0, -36.0, 2.5),
            tone(48_000, 2, 1000.0, -72.0, 2.5),
        ]
        .concat();
        assert_near(integrated(measure(48_000, 2, &samples)), -23.0, 0.1);
    }

    #[test]
    fn passages_within_10_lu_of_the_programme_count_towards_its_loudness() {
        // −26, −20 and −26 dBFS in equal parts average to −23 LUFS.
        let samples = [
            tone(48_000, 2, 1000.0, -26.0, 5.0),
            tone(48_000, 2, 1000.0, -20.0, 5.025),
            tone(48_000, 2, 1000.0, -26.0, 5.0),
        ]
        .concat();
        assert_near(integrated(measure(48_000, 2, &samples)), -23.0, 0.1);
    }

    #[test]
    fn pauses_between_sentences_do_not_make_speech_measure_quieter() {
        // Loud and very quiet segments alternating, as in a bulletin read with pauses. The
        // pauses themselves are gated out; what lowers the result below the loud part's own
        // loudness are the blocks straddling a change of segment. Each 2 s loud segment holds
        // 17 wholly loud blocks, and each of the 7 changes adds three blocks that are 75 %,
        // 50 % and 25 % loud. Without the relative gate, the pauses would make it read 4 dB
        // quieter and the gain would blow the voice up.
        let rate = 16_000;
        let loud = tone(rate, 1, 440.0, -12.0, 2.0);
        let pause = tone(rate, 1, 440.0, -60.0, 3.0);
        let talking = [loud.as_slice(), &pause].concat().repeat(4);
        let continuous = integrated(measure(rate, 1, &loud.repeat(4)));
        let expected =
            continuous + 10.0 * ((4.0 * 17.0 + 7.0 * 1.5) / (4.0 * 17.0 + 7.0 * 3.0_f64)).log10();
        assert_near(integrated(measure(rate, 1, &talking)), expected, 0.05);
    }

    /// A 1 kHz tone that fades in and out over 10 ms, as real recordings do; a hard start
    /// after silence is a click whose ringing would add its own inter-sample peak.
    fn faded(mut samples: Vec<f32>, sample_rate: u32) -> Vec<f32> {
        let fade = (sample_rate / 100) as usize;
        let length = samples.len();
        for n in 0..fade.min(length) {
            let gain = (0.5 - 0.5 * (PI * n as f64 / fade as f64).cos()) as f32;
            samples[n] *= gain;
            samples[length - 1 - n] *= gain;
        }
        samples
    }

    #[test]
    fn a_full_scale_sine_at_a_quarter_of_the_sample_rate_peaks_3_db_between_its_samples() {
        // At fs/4 with a 45° phase every sample lands 3 dB below the crests; scaled so the
        // samples touch full scale, the waveform itself reaches +3.01 dBTP between them.
        let rate = 48_000;
        let samples: Vec<f32> = (0..rate)
            .map(|n| (2f64.sqrt() * (PI / 2.0 * f64::from(n) + PI / 4.0).sin()) as f32)
            .collect();
        let samples = faded(samples, rate);
        let sample_peak = samples.iter().fold(0.0_f32, |peak, s| peak.max(s.abs()));
        assert_near(20.0 * f64::from(sample_peak).log10(), 0.0, 0.01);
        let loudness = measure(rate, 1, &samples);
        assert!(true_peak(loudness) > 2.9, "{loudness:?}");
        assert_near(true_peak(loudness), 3.01, 0.05);
    }

    #[test]
    fn the_true_peak_of_a_low_tone_is_its_amplitude() {
        let loudness = measure(44_100, 2, &tone(44_100, 2, 997.0, -1.0, 1.0));
        assert_near(true_peak(loudness), -1.0, 0.02);
    }

    #[test]
    fn the_same_tone_measures_the_same_at_44100_and_48000_hz() {
        let at_44100 = measure(44_100, 2, &tone(44_100, 2, 1000.0, -18.0, 3.0));
        let at_48000 = measure(48_000, 2, &tone(48_000, 2, 1000.0, -18.0, 3.0));
        assert_near(integrated(at_44100), integrated(at_48000), 0.1);
        assert_near(true_peak(at_44100), true_peak(at_48000), 0.1);
    }

    #[test]
    fn speech_band_tones_measure_alike_at_every_supported_sample_rate() {
        for rate in [8_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000] {
            // The bilinear transform squeezes the shelf towards Nyquist: at 8 kHz the weighting
            // between 1 and 2.5 kHz is off by up to 0.3 dB. Speech carries most of its energy
            // lower down, and 0.3 dB of loudness is below what anyone hears.
            let tolerance = if rate < 16_000 { 0.3 } else { 0.1 };
            for frequency in [100.0, 500.0, 1000.0, 2500.0, 3500.0] {
                let reference = measure(48_000, 1, &tone(48_000, 1, frequency, -20.0, 1.0));
                let loudness = measure(rate, 1, &tone(rate, 1, frequency, -20.0, 1.0));
                assert_near(integrated(loudness), integrated(reference), tolerance);
            }
        }
    }

    #[test]
    fn at_48_khz_the_derived_k_weighting_matches_the_coefficients_tabled_in_bs_1770() {
        let shelf = Biquad::k_weighting_shelf(48_000.0);
        let high_pass = Biquad::k_weighting_high_pass(48_000.0);
        let derived = [
            shelf.b0,
            shelf.b1,
            shelf.b2,
            shelf.a1,
            shelf.a2,
            high_pass.b0,
            high_pass.b1,
            high_pass.b2,
            high_pass.a1,
            high_pass.a2,
        ];
        let tabled = [
            1.535_124_859_586_97,
            -2.691_696_189_406_38,
            1.198_392_810_852_85,
            -1.690_659_293_182_41,
            0.732_480_774_215_85,
            1.0,
            -2.0,
            1.0,
            -1.990_047_454_833_98,
            0.990_072_250_366_21,
        ];
        for (derived, tabled) in derived.into_iter().zip(tabled) {
            assert_near(derived, tabled, 1e-9);
        }
    }

    #[test]
    fn the_way_audio_is_split_into_pieces_does_not_change_the_result() {
        let samples = [
            tone(22_050, 2, 300.0, -30.0, 1.0),
            tone(22_050, 2, 3000.0, -10.0, 0.7),
        ]
        .concat();
        let mut whole = LoudnessMeter::new(22_050, 2);
        whole.push(&samples);
        let mut by_sample = LoudnessMeter::new(22_050, 2);
        for sample in &samples {
            by_sample.push(std::slice::from_ref(sample));
        }
        let whole = whole.finish();
        assert_eq!(whole, by_sample.finish());
        assert_eq!(whole, measure(22_050, 2, &samples));
    }

    #[test]
    fn non_finite_samples_count_as_silence() {
        let clean = tone(48_000, 2, 1000.0, -23.0, 2.0);
        let (mut zeroed, mut corrupt) = (clean.clone(), clean);
        for (index, bad) in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY]
            .into_iter()
            .enumerate()
        {
            zeroed[1000 + index] = 0.0;
            corrupt[1000 + index] = bad;
        }
        assert_eq!(measure(48_000, 2, &corrupt), measure(48_000, 2, &zeroed));
        let all_bad = measure(48_000, 1, &[f32::NAN; 48_000]);
        assert_eq!(all_bad.integrated_lufs, None);
        assert_eq!(all_bad.true_peak_dbtp, None);
    }

    #[test]
    fn zero_channels_are_measured_as_mono() {
        let samples = tone(48_000, 1, 1000.0, -20.0, 1.0);
        assert_eq!(measure(48_000, 0, &samples), measure(48_000, 1, &samples));
    }

    #[test]
    fn more_than_two_channels_each_count_with_weight_one() {
        let stereo = measure(48_000, 2, &tone(48_000, 2, 1000.0, -23.0, 1.0));
        let quad = measure(48_000, 4, &tone(48_000, 4, 1000.0, -23.0, 1.0));
        assert_near(
            integrated(quad),
            integrated(stereo) + 10.0 * 2f64.log10(),
            1e-6,
        );
    }

    #[test]
    fn a_zero_sample_rate_gives_no_measurement() {
        let loudness = measure(0, 2, &tone(48_000, 2, 1000.0, -20.0, 1.0));
        assert_eq!(loudness.integrated_lufs, None);
        assert_eq!(loudness.true_peak_dbtp, None);
    }

    #[test]
    fn an_empty_recording_gives_no_measurement() {
        let loudness = LoudnessMeter::new(44_100, 2).finish();
        assert_eq!(loudness.integrated_lufs, None);
        assert_eq!(loudness.true_peak_dbtp, None);
    }

    #[test]
    fn extreme_sample_values_and_rates_do_not_panic() {
        let samples = [f32::MAX, f32::MIN, f32::MAX, f32::MIN_POSITIVE, -0.0];
        let loudness = measure(8_000, 1, &samples.repeat(2_000));
        assert!(loudness.true_peak_dbtp.is_some_and(f64::is_finite));
        assert!(loudness.integrated_lufs.is_some_and(f64::is_finite));
        for rate in [1, 7, 100, 1_000, 384_000, u32::MAX] {
            let _ = measure(rate, 3, &samples.repeat(100));
        }
    }

    fn measured(integrated_lufs: f64, true_peak_dbtp: f64) -> Loudness {
        Loudness {
            integrated_lufs: Some(integrated_lufs),
            true_peak_dbtp: Some(true_peak_dbtp),
        }
    }

    fn decibels(gain: f32) -> f64 {
        20.0 * f64::from(gain).log10()
    }

    #[test]
    fn a_quiet_recording_is_boosted_to_the_target() {
        let gain = playback_gain(&measured(-30.0, -20.0), -16.0, -1.0);
        assert_near(decibels(gain), 14.0, 1e-4);
    }

    #[test]
    fn a_loud_recording_is_turned_down_to_the_target() {
        let gain = playback_gain(&measured(-8.0, 0.5), -16.0, -1.0);
        assert_near(decibels(gain), -8.0, 1e-4);
    }

    #[test]
    fn the_peak_ceiling_wins_over_the_loudness_target() {
        // Reaching −16 LUFS would take +10 dB and put the peak at +6 dBTP.
        let gain = playback_gain(&measured(-26.0, -4.0), -16.0, -1.0);
        assert_near(decibels(gain), 3.0, 1e-4);
    }

    #[test]
    fn a_near_silent_recording_is_boosted_by_at_most_20_db() {
        let gain = playback_gain(&measured(-60.0, -45.0), -16.0, -1.0);
        assert_near(decibels(gain), 20.0, 1e-4);
    }

    #[test]
    fn silence_and_unmeasurable_recordings_get_unity_gain() {
        let silence = Loudness {
            integrated_lufs: None,
            true_peak_dbtp: None,
        };
        assert_eq!(playback_gain(&silence, -16.0, -1.0), 1.0);
        let below_the_gate = Loudness {
            integrated_lufs: None,
            true_peak_dbtp: Some(-72.0),
        };
        assert_eq!(playback_gain(&below_the_gate, -16.0, -1.0), 1.0);
    }

    #[test]
    fn a_nonsensical_target_or_ceiling_leaves_the_recording_unchanged() {
        let recording = measured(-20.0, -3.0);
        assert_eq!(playback_gain(&recording, f64::NAN, -1.0), 1.0);
        assert_eq!(playback_gain(&recording, f64::INFINITY, -1.0), 1.0);
        assert_eq!(playback_gain(&recording, -16.0, f64::NAN), 1.0);
        assert_eq!(playback_gain(&recording, -16.0, f64::NEG_INFINITY), 1.0);
    }

    #[test]
    fn a_measured_recording_reaches_the_target_after_gain() {
        let samples = tone(44_100, 2, 440.0, -35.0, 2.0);
        let gain = playback_gain(&measure(44_100, 2, &samples), -16.0, -1.0);
        let louder: Vec<f32> = samples.iter().map(|sample| sample * gain).collect();
        let after = measure(44_100, 2, &louder);
        assert_near(integrated(after), -16.0, 0.05);
        assert!(true_peak(after) <= -1.0 + 1e-3, "{after:?}");
    }

    // Cross-check against ffmpeg's ebur128 filter, an independent implementation.

    fn runs(program: &str, argument: &str) -> bool {
        Command::new(program)
            .arg(argument)
            .output()
            .is_ok_and(|output| output.status.success())
    }

    /// Temporary WAV files, removed when the test ends, whether it passes or not.
    struct TempFiles(Vec<PathBuf>);

    impl TempFiles {
        fn new_wav(&mut self, name: &str) -> PathBuf {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_nanos());
            let path = std::env::temp_dir().join(format!(
                "loaxa-loudness-{}-{nanos}-{name}.wav",
                std::process::id()
            ));
            self.0.push(path.clone());
            path
        }
    }

    impl Drop for TempFiles {
        fn drop(&mut self) {
            for path in &self.0 {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    fn read_wav(path: &Path) -> (u32, u16, Vec<f32>) {
        let mut reader = hound::WavReader::open(path).expect("a readable WAV");
        let spec = reader.spec();
        let samples = match spec.sample_format {
            hound::SampleFormat::Float => reader
                .samples::<f32>()
                .collect::<Result<_, _>>()
                .expect("float samples"),
            hound::SampleFormat::Int => {
                let scale = 1.0 / f64::from(1_u32 << (spec.bits_per_sample - 1));
                reader
                    .samples::<i32>()
                    .map(|sample| sample.map(|sample| (f64::from(sample) * scale) as f32))
                    .collect::<Result<_, _>>()
                    .expect("integer samples")
            }
        };
        (spec.sample_rate, spec.channels, samples)
    }

    /// ffmpeg's summary: integrated loudness (LUFS) and true peak (dBTP).
    fn ffmpeg_ebur128(path: &Path) -> (f64, f64) {
        let output = Command::new("ffmpeg")
            .args(["-hide_banner", "-nostats", "-i"])
            .arg(path)
            .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
            .output()
            .expect("ffmpeg runs");
        let log = String::from_utf8_lossy(&output.stderr);
        let summary = log.rsplit("Summary:").next().unwrap_or_default();
        let value = |label: &str| {
            summary
                .lines()
                .find_map(|line| line.trim().strip_prefix(label))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|number| number.parse::<f64>().ok())
                .unwrap_or_else(|| panic!("no {label} in ffmpeg's summary:\n{log}"))
        };
        (value("I:"), value("Peak:"))
    }

    fn ffmpeg(args: &[&str], output: &Path) {
        let status = Command::new("ffmpeg")
            .args(["-y", "-hide_banner", "-loglevel", "error"])
            .args(args)
            .args(["-c:a", "pcm_f32le"])
            .arg(output)
            .status()
            .expect("ffmpeg runs");
        assert!(status.success(), "ffmpeg failed on {args:?}");
    }

    #[test]
    fn measurements_agree_with_ffmpeg_ebur128() {
        if !runs("ffmpeg", "-version") {
            println!("skipping the ffmpeg cross-check: ffmpeg is not installed");
            return;
        }
        let lavfi = |source: &'static str| vec!["-f", "lavfi", "-i", source];
        let cases: Vec<(&str, Vec<&str>)> = vec![
            (
                "sine-440-hz-at-minus-12-db-44k1-stereo",
                [
                    lavfi("sine=frequency=440:duration=8:sample_rate=44100"),
                    vec!["-af", "volume=-12dB", "-ac", "2"],
                ]
                .concat(),
            ),
            (
                "pink-noise-48k-stereo",
                [
                    lavfi("anoisesrc=color=pink:amplitude=0.1:duration=8:r=48000:seed=1"),
                    lavfi("anoisesrc=color=pink:amplitude=0.1:duration=8:r=48000:seed=2"),
                    vec!["-filter_complex", "amerge=inputs=2"],
                ]
                .concat(),
            ),
            (
                "white-noise-16k-mono",
                lavfi("anoisesrc=color=white:amplitude=0.3:duration=6:r=16000:seed=3"),
            ),
            (
                "tone-bursts-and-pauses-22k05-mono",
                lavfi("aevalsrc=0.5*sin(2*PI*700*t)*(lt(mod(t\\,3.33)\\,1.27)+0.02):s=22050:d=16"),
            ),
            (
                "square-wave-32k-mono",
                lavfi("aevalsrc=0.5*sgn(sin(2*PI*441*t)):s=32000:d=4"),
            ),
        ];
        let mut temp = TempFiles(Vec::new());
        // (name, file we measure, file ffmpeg measures)
        let mut comparisons = Vec::new();
        for (name, args) in cases {
            let path = temp.new_wav(name);
            ffmpeg(&args, &path);
            comparisons.push((name, path.clone(), path));
        }
        if runs("espeak-ng", "--version") {
            let speech = temp.new_wav("espeak-vietnamese");
            let status = Command::new("espeak-ng")
                .args(["-v", "vi", "-w"])
                .arg(&speech)
                .arg(
                    "Xin chào bà con. Đây là thông báo của ủy ban nhân dân xã về lịch tiêm \
                     phòng. Xin mời bà con đến trạm y tế vào sáng thứ bảy.",
                )
                .status()
                .expect("espeak-ng runs");
            assert!(status.success(), "espeak-ng failed");
            comparisons.push((
                "espeak-vietnamese-speech-22k05-mono",
                speech.clone(),
                speech.clone(),
            ));

            // Telephone-band speech. ffmpeg measures it as a 48 kHz copy because, at 8 kHz, it
            // keeps BS.1770's 48 kHz high-pass numerator (1, −2, 1), which reads 0.2 dB hot
            // there; this meter corrects for that (see `k_weighting_high_pass`).
            let phone = temp.new_wav("espeak-vietnamese-8k");
            let speech_path = speech.to_string_lossy().into_owned();
            ffmpeg(&["-i", &speech_path, "-ar", "8000"], &phone);
            let phone_at_48k = temp.new_wav("espeak-vietnamese-8k-at-48k");
            let phone_path = phone.to_string_lossy().into_owned();
            ffmpeg(&["-i", &phone_path, "-ar", "48000"], &phone_at_48k);
            comparisons.push(("espeak-vietnamese-speech-8k-mono", phone, phone_at_48k));
        } else {
            println!("skipping the speech signals: espeak-ng is not installed");
        }

        let mut disagreements = Vec::new();
        for (name, ours, theirs) in &comparisons {
            let (rate, channels, samples) = read_wav(ours);
            let loudness = measure(rate, channels, &samples);
            let (ffmpeg_lufs, ffmpeg_peak) = ffmpeg_ebur128(theirs);
            let (lufs, peak) = (integrated(loudness), true_peak(loudness));
            println!(
                "{name}: integrated {lufs:.2} LUFS (ffmpeg {ffmpeg_lufs:.1}), \
                 true peak {peak:.2} dBTP (ffmpeg {ffmpeg_peak:.1})"
            );
            if (lufs - ffmpeg_lufs).abs() > 0.2 || (peak - ffmpeg_peak).abs() > 0.3 {
                disagreements.push(name);
            }
        }
        assert!(
            disagreements.is_empty(),
            "disagree with ffmpeg: {disagreements:?}"
        );
    }
}
