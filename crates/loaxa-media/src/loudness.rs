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
//! linear time and a few hundred kilobytes (one number per 100 ms), never the whole file. The
//! K-weighting, gating and 4× true-peak oversampling are the `ebur128` crate's (a port of
//! libebur128, which ffmpeg's measurement follows too).
//!
//! True peak is measured alongside because turning a quiet file up can push the waveform
//! *between* samples past full scale, where the DAC or the amplifier clips; the gain is lowered
//! so those peaks stay under a ceiling.
//!
//! Every channel is weighted 1.0, whatever the count. BS.1770 weights surround channels 1.41,
//! but we never know a file's channel layout and bulletins are mono or stereo, where 1.0 is
//! exactly what the standard asks for.

use std::f64::consts::PI;

use ebur128::{Channel, EbuR128, Mode};

/// Largest boost `playback_gain` will apply. A recording that needs more than this is mostly
/// hiss, hum and room noise with a faint voice in it; lifting it further would air the noise at
/// full programme level and barely make the voice more intelligible. 20 dB still takes a quiet
/// phone recording (around −40 LUFS) up to a −20 LUFS target.
const MAX_BOOST_DB: f64 = 20.0;

/// Zero frames fed to the true-peak meter at the end. Its interpolator reaches up to 24
/// samples ahead (12 taps per phase at 4×, 24 at 2×), so without them the points between the
/// last samples would never be looked at; on air what follows a file is silence.
const TRAILING_SILENCE_FRAMES: usize = 24;

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

impl Loudness {
    const UNMEASURED: Loudness = Loudness {
        integrated_lufs: None,
        true_peak_dbtp: None,
    };
}

/// Streaming loudness and true-peak meter. Feed it interleaved samples in pieces of any size
/// (they need not be whole frames), then call [`LoudnessMeter::finish`].
///
/// A channel count of 0 is treated as mono. A sample rate or channel count that cannot be
/// measured (a rate of 0, below 16 Hz or above 2.8 MHz; more than 64 channels) gives a
/// [`Loudness`] with both values `None`. Non-finite samples (NaN, ±∞) count as 0.0, so one
/// corrupt sample cannot poison a whole measurement.
pub struct LoudnessMeter {
    /// None when the format cannot be measured.
    meters: Option<Meters>,
    channels: usize,
    /// The start of a frame split between pieces, held until the frame is whole.
    partial_frame: Vec<f32>,
    /// A piece with its non-finite samples zeroed; kept to reuse its allocation.
    cleaned: Vec<f32>,
}

/// Two meters rather than one in both modes, so that the trailing silence which lets the
/// true-peak interpolator finish cannot complete a loudness block.
struct Meters {
    loudness: EbuR128,
    peak: EbuR128,
    /// Added to the integrated loudness: see [`high_pass_correction_db`].
    correction_db: f64,
}

impl Meters {
    fn new(sample_rate: u32, channels: usize) -> Option<Meters> {
        let count = u32::try_from(channels).ok()?;
        let unweighted = vec![Channel::Center; channels];
        let mut loudness = EbuR128::new(count, sample_rate, Mode::I).ok()?;
        loudness.set_channel_map(&unweighted).ok()?;
        let peak = EbuR128::new(count, sample_rate, Mode::TRUE_PEAK).ok()?;
        Some(Meters {
            loudness,
            peak,
            correction_db: high_pass_correction_db(sample_rate),
        })
    }

    /// `frames` holds whole frames of finite samples.
    fn add(&mut self, frames: &[f32]) -> Result<(), ebur128::Error> {
        self.loudness.add_frames_f32(frames)?;
        self.peak.add_frames_f32(frames)
    }
}

impl LoudnessMeter {
    /// A meter for audio at `sample_rate` with `channels` interleaved channels.
    pub fn new(sample_rate: u32, channels: u16) -> LoudnessMeter {
        let channels = usize::from(channels.max(1));
        LoudnessMeter {
            meters: Meters::new(sample_rate, channels),
            channels,
            partial_frame: Vec::with_capacity(channels),
            cleaned: Vec::new(),
        }
    }

    /// interleaved samples, any length (not necessarily whole 100 ms blocks, nor whole frames)
    pub fn push(&mut self, interleaved: &[f32]) {
        let LoudnessMeter {
            meters: Some(meters),
            channels,
            partial_frame,
            cleaned,
        } = self
        else {
            return;
        };
        let channels = *channels;
        let mut rest = interleaved;
        let mut added = Ok(());
        if !partial_frame.is_empty() {
            let missing = (channels - partial_frame.len()).min(rest.len());
            let (completing, after) = rest.split_at(missing);
            partial_frame.extend(completing.iter().map(|&sample| finite(sample)));
            rest = after;
            if partial_frame.len() == channels {
                added = meters.add(partial_frame);
                partial_frame.clear();
            }
        }
        let (frames, tail) = rest.split_at(rest.len() - rest.len() % channels);
        if added.is_ok() && !frames.is_empty() {
            added = if frames.iter().all(|sample| sample.is_finite()) {
                meters.add(frames)
            } else {
                cleaned.clear();
                cleaned.extend(frames.iter().map(|&sample| finite(sample)));
                meters.add(cleaned)
            };
        }
        partial_frame.extend(tail.iter().map(|&sample| finite(sample)));
        if added.is_err() {
            // Whole frames of finite samples at a rate and channel count the meters accepted:
            // nothing should fail, and a meter that did cannot be trusted with the rest.
            self.meters = None;
        }
    }

    /// The loudness and true peak of everything pushed. A trailing partial 100 ms step is left
    /// out of the loudness, as BS.1770 leaves out incomplete blocks, but its peaks count; a
    /// partial frame is dropped.
    pub fn finish(self) -> Loudness {
        let Some(mut meters) = self.meters else {
            return Loudness::UNMEASURED;
        };
        let silence = vec![0.0; TRAILING_SILENCE_FRAMES * self.channels];
        if meters.peak.add_frames_f32(&silence).is_err() {
            return Loudness::UNMEASURED;
        }
        let integrated = meters
            .loudness
            .loudness_global()
            .ok()
            .filter(|lufs| lufs.is_finite())
            .map(|lufs| lufs + meters.correction_db);
        let mut peak = 0.0_f64;
        for channel in 0..u32::try_from(self.channels).unwrap_or(u32::MAX) {
            match meters.peak.true_peak(channel) {
                Ok(channel_peak) => peak = peak.max(channel_peak),
                Err(_) => return Loudness::UNMEASURED,
            }
        }
        // The interpolation runs in f32: samples near f32::MAX can overshoot to infinity.
        let peak = peak.min(f64::from(f32::MAX));
        Loudness {
            integrated_lufs: integrated,
            true_peak_dbtp: (peak > 0.0).then(|| 20.0 * peak.log10()),
        }
    }
}

fn finite(sample: f32) -> f32 {
    if sample.is_finite() { sample } else { 0.0 }
}

/// Decibels that bring the K-weighting's pass-band gain at `sample_rate` to its gain at
/// 48 kHz. BS.1770 tables the 48 kHz high-pass numerator unnormalised, as 1, −2, 1, which
/// leaves the pass band 0.04 dB above unity, and its −0.691 dB offset includes that. ebur128,
/// like ffmpeg, keeps 1, −2, 1 at every rate, so the pass-band gain grows as the rate falls
/// (+0.09 dB at 16 kHz, +0.21 dB at 8 kHz) and telephone-band recordings would read hot. The
/// high-pass passes `a0 = 1 + K/Q + K²` at Nyquist and above its corner, so the ratio of the
/// two `a0`s is the exact correction: the filter's shape is unchanged, only its scale.
fn high_pass_correction_db(sample_rate: u32) -> f64 {
    // ebur128's (and BS.1770's) high-pass corner and Q.
    const FREQUENCY: f64 = 38.135_470_876_024_44;
    const Q: f64 = 0.500_327_037_323_877_3;
    let pass_band_gain = |rate: f64| {
        let k = (PI * FREQUENCY / rate).tan();
        1.0 + k / Q + k * k
    };
    let correction =
        20.0 * (pass_band_gain(48_000.0) / pass_band_gain(f64::from(sample_rate))).log10();
    if correction.is_finite() {
        correction
    } else {
        0.0
    }
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

    /// How far our true peak may stray from ffmpeg's, which resamples to 192 kHz with a long
    /// filter. ebur128's interpolator (12 taps per phase) rolls off towards Nyquist, so noise
    /// filling the whole band reads up to 0.7 dB low; speech and music, whose energy lies well
    /// below Nyquist, read within 0.3 dB.
    fn peak_tolerance(name: &str) -> f64 {
        if name.starts_with("white-noise") {
            0.8
        } else {
            0.3
        }
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
            // there; this meter corrects for that (see `high_pass_correction_db`).
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
            if (lufs - ffmpeg_lufs).abs() > 0.2 || (peak - ffmpeg_peak).abs() > peak_tolerance(name)
            {
                disagreements.push(name);
            }
        }
        assert!(
            disagreements.is_empty(),
            "disagree with ffmpeg: {disagreements:?}"
        );
    }
}
