//! Converting decoded audio to the output device's format.
//!
//! Items are played back to back into one ring buffer, so the conversion is
//! streaming (constant memory whatever the item's length) and keeps time
//! exactly: output frame 0 is source frame 0, and an item of `n` frames at
//! `in_rate` becomes `round(n * out_rate / in_rate)` frames. Nothing is added at
//! the start by the resampler's filter delay and nothing is lost at the end.

use std::path::Path;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler, WindowFunction};

use loaxa_media::decode::{AudioError, Decoder};

/// Input frames per resampler call: about 23 ms at 44.1 kHz. Long enough for a
/// steep anti-aliasing filter (the FFT resampler's filter is as long as its
/// FFT), short enough to keep each `fill` quick and memory small.
const CHUNK_FRAMES: usize = 1024;

/// Sample rates outside this range are refused: nothing real uses them, and a
/// forged header could otherwise make the resampler allocate enormous tables.
const RATE_RANGE: std::ops::RangeInclusive<u32> = 1_000..=384_000;

/// Why a conversion cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("unsupported sample rate conversion {from} Hz → {to} Hz (rates must be 1–384 kHz)")]
    Rate { from: u32, to: u32 },

    #[error("unsupported channel conversion {from} → {to} (counts must be at least 1)")]
    Channels { from: u16, to: u16 },

    #[error("gain {0} is outside 0.0–{MAX_GAIN}")]
    Gain(f32),

    #[error("cannot set up resampling {from} Hz → {to} Hz: {source}")]
    Resampler {
        from: u32,
        to: u32,
        source: rubato::ResamplerConstructionError,
    },
}

/// The largest gain: +20 dB, the most loudness normalisation lifts a quiet recording.
pub const MAX_GAIN: f32 = 10.0;

/// Converts interleaved f32 audio from one (rate, channels) to another and
/// applies a gain, streaming.
///
/// Channels are mapped so that the resampler works on as few channels as
/// possible (mixing down happens before it, spreading out after it; both are
/// per-frame and linear, so the order does not change the result). See
/// [`ChannelMap`] for how counts are mapped. Gain and clamping to [-1, 1] come
/// last, because resampling can overshoot a full-scale input slightly.
pub struct Converter {
    /// Maps input channels to the channels that are resampled.
    before: ChannelMap,
    /// Maps resampled channels to output channels.
    after: ChannelMap,
    gain: f32,
    /// `None` when the rates are equal: then samples pass through untouched
    /// (apart from channel mapping and gain), which is exact and free.
    resampling: Option<Resampling>,
    /// One frame between the two channel maps.
    frame: Vec<f32>,
}

impl Converter {
    /// Fails for rates outside 1–384 kHz, a zero channel count, or a gain
    /// outside 0.0–[`MAX_GAIN`] (volume times loudness normalisation; 1.0 is the file as it
    /// is).
    pub fn new(
        in_rate: u32,
        in_channels: u16,
        out_rate: u32,
        out_channels: u16,
        gain: f32,
    ) -> Result<Converter, ConvertError> {
        if !RATE_RANGE.contains(&in_rate) || !RATE_RANGE.contains(&out_rate) {
            return Err(ConvertError::Rate {
                from: in_rate,
                to: out_rate,
            });
        }
        if in_channels == 0 || out_channels == 0 {
            return Err(ConvertError::Channels {
                from: in_channels,
                to: out_channels,
            });
        }
        if !(0.0..=MAX_GAIN).contains(&gain) {
            return Err(ConvertError::Gain(gain));
        }
        let (from, to) = (usize::from(in_channels), usize::from(out_channels));
        let middle = from.min(to);
        let resampling = if in_rate == out_rate {
            None
        } else {
            Some(Resampling::new(in_rate, out_rate, middle)?)
        };
        Ok(Converter {
            before: ChannelMap { from, to: middle },
            after: ChannelMap { from: middle, to },
            gain,
            resampling,
            frame: Vec::with_capacity(middle),
        })
    }

    /// Convert `input` (interleaved, whole frames) and append the result to
    /// `out`. A trailing partial frame is ignored.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        let start = out.len();
        if self.resampling.is_none() && self.before.is_identity() && self.after.is_identity() {
            // A file already in the output's rate and layout (the usual 44.1 kHz stereo MP3):
            // one copy, instead of mapping it frame by frame through the steps it skips.
            out.extend_from_slice(&input[..input.len() - input.len() % self.before.from]);
            apply_gain(&mut out[start..], self.gain);
            return;
        }
        for frame in input.chunks_exact(self.before.from) {
            self.frame.clear();
            self.before.map(frame, &mut self.frame);
            match &mut self.resampling {
                None => self.after.map(&self.frame, out),
                Some(resampling) => resampling.push_frame(&self.frame, &self.after, out),
            }
        }
        apply_gain(&mut out[start..], self.gain);
    }

    /// End of input: append the remaining converted frames to `out`.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        let start = out.len();
        if let Some(resampling) = &mut self.resampling {
            resampling.flush(&self.after, out);
        }
        apply_gain(&mut out[start..], self.gain);
    }
}

/// How one channel count becomes another, frame by frame:
///
/// - same count: unchanged;
/// - mono to N: the mono signal on every channel;
/// - N to mono: the average of all channels (a plain sum could clip);
/// - N to fewer (M ≥ 2): the first M channels, which in every layout our
///   formats use are the front left/right pair that carries the programme;
/// - N to more (N ≥ 2): the input channels repeated in turn (L R L R …), so
///   every loudspeaker line gets signal.
struct ChannelMap {
    from: usize,
    to: usize,
}

impl ChannelMap {
    fn is_identity(&self) -> bool {
        self.from == self.to
    }

    /// Appends the mapping of one `from`-channel frame to `out`.
    fn map(&self, frame: &[f32], out: &mut Vec<f32>) {
        if self.from == self.to {
            out.extend_from_slice(frame);
        } else if self.to == 1 {
            out.push(frame.iter().sum::<f32>() / self.from as f32);
        } else {
            out.extend((0..self.to).map(|channel| frame[channel % self.from]));
        }
    }
}

fn apply_gain(samples: &mut [f32], gain: f32) {
    for sample in samples {
        *sample = (*sample * gain).clamp(-1.0, 1.0);
    }
}

/// Rate conversion with rubato's FFT resampler, kept in step with the input.
///
/// The FFT resampler (fixed input size) is chosen over the sinc resamplers because it does the whole
/// filter as one FFT multiply per chunk: several times cheaper than
/// per-sample sinc interpolation for the same filter length, which matters on a
/// Raspberry Pi that also has to keep the ring buffer fed. It only handles
/// fixed ratios, which is all we need (file rate to device rate), and its fixed
/// input chunk suits a decoder whose packets come in all sizes: we gather
/// frames until a chunk is full.
struct Resampling {
    resampler: Fft<f32>,
    in_rate: u64,
    out_rate: u64,
    channels: usize,
    /// Input frames gathered for the next chunk, interleaved.
    pending: Vec<f32>,
    /// The resampler's output for one chunk, interleaved.
    output: Vec<f32>,
    /// Output frames still to drop: the resampler's filter delay.
    skip: usize,
    frames_in: u64,
    frames_out: u64,
}

impl Resampling {
    fn new(in_rate: u32, out_rate: u32, channels: usize) -> Result<Resampling, ConvertError> {
        // One sub-chunk: the longest filter (the sharpest anti-aliasing) for the chunk size.
        let resampler = Fft::new_custom(
            in_rate as usize,
            out_rate as usize,
            CHUNK_FRAMES,
            1,
            channels,
            WindowFunction::BlackmanHarris2,
            FixedSync::Input,
        )
        .map_err(|source| ConvertError::Resampler {
            from: in_rate,
            to: out_rate,
            source,
        })?;
        Ok(Resampling {
            pending: Vec::with_capacity(CHUNK_FRAMES * channels),
            output: vec![0.0; resampler.output_frames_max() * channels],
            skip: resampler.output_delay(),
            resampler,
            in_rate: u64::from(in_rate),
            out_rate: u64::from(out_rate),
            channels,
            frames_in: 0,
            frames_out: 0,
        })
    }

    fn push_frame(&mut self, frame: &[f32], after: &ChannelMap, out: &mut Vec<f32>) {
        self.pending.extend_from_slice(&frame[..self.channels]);
        self.frames_in += 1;
        if self.pending.len() == CHUNK_FRAMES * self.channels {
            self.process_chunk(after, out, u64::MAX);
        }
    }

    /// Pads the input with silence until the output reaches the length the
    /// input calls for, then stops exactly there.
    fn flush(&mut self, after: &ChannelMap, out: &mut Vec<f32>) {
        let total = (self.frames_in * self.out_rate + self.in_rate / 2) / self.in_rate;
        while self.frames_out < total {
            self.pending.resize(CHUNK_FRAMES * self.channels, 0.0);
            self.process_chunk(after, out, total);
        }
        self.pending.clear();
    }

    /// Resamples the full `pending` chunk and appends its output, minus the
    /// delay still to skip, up to `limit` output frames in all.
    fn process_chunk(&mut self, after: &ChannelMap, out: &mut Vec<f32>, limit: u64) {
        let frames_out = self.output.len() / self.channels;
        let input = InterleavedSlice::new(&self.pending, self.channels, CHUNK_FRAMES)
            .expect("the pending chunk holds CHUNK_FRAMES frames");
        let mut output = InterleavedSlice::new_mut(&mut self.output, self.channels, frames_out)
            .expect("the output is sized by the resampler's own maximum");
        let (_, produced) = self
            .resampler
            .process_into_buffer(&input, &mut output, None)
            .expect("buffers are sized by the resampler's own chunk and output sizes");
        self.pending.clear();
        let skipped = self.skip.min(produced);
        self.skip -= skipped;
        let room = usize::try_from(limit - self.frames_out).unwrap_or(usize::MAX);
        let end = produced.min(skipped.saturating_add(room));
        for frame in self.output[skipped * self.channels..end * self.channels].chunks(self.channels)
        {
            after.map(frame, out);
        }
        self.frames_out += (end - skipped) as u64;
    }
}

/// One programme item, decoded and converted to the output format: what the
/// player pulls from.
pub struct Source {
    decoder: Decoder,
    converter: Converter,
    finished: bool,
}

impl Source {
    pub fn open(
        path: &Path,
        out_rate: u32,
        out_channels: u16,
        gain: f32,
    ) -> Result<Source, AudioError> {
        Source::from_decoder(Decoder::open(path)?, out_rate, out_channels, gain)
    }

    /// A source over a decoder already opened, on a file or on a live stream.
    pub fn from_decoder(
        decoder: Decoder,
        out_rate: u32,
        out_channels: u16,
        gain: f32,
    ) -> Result<Source, AudioError> {
        let converter = Converter::new(
            decoder.sample_rate(),
            decoder.channels(),
            out_rate,
            out_channels,
            gain,
        )
        .map_err(|source| AudioError::Convert {
            path: decoder.path().to_path_buf(),
            source: Box::new(source),
        })?;
        Ok(Source {
            decoder,
            converter,
            finished: false,
        })
    }

    /// Append at least some converted frames to `out`; returns `Ok(false)` once
    /// the item is exhausted (after the final flush). `Ok(false)` never comes
    /// with new frames, so `while source.fill(&mut buf)? { … }` loses nothing.
    /// After an error the item is over: the next call flushes what the
    /// converter still holds.
    pub fn fill(&mut self, out: &mut Vec<f32>) -> Result<bool, AudioError> {
        let start = out.len();
        while !self.finished && out.len() == start {
            match self.decoder.next_block()? {
                Some(block) => self.converter.push(block, out),
                None => {
                    self.converter.finish(out);
                    self.finished = true;
                }
            }
        }
        Ok(out.len() > start)
    }
}

#[cfg(test)]
mod tests {
    use std::f32::consts::TAU;
    use std::path::PathBuf;

    use super::*;

    fn sine(frequency: f32, rate: u32, frames: usize, amplitude: f32) -> Vec<f32> {
        (0..frames)
            .map(|n| amplitude * (TAU * frequency * n as f32 / rate as f32).sin())
            .collect()
    }

    /// Runs `input` through a converter in uneven pieces, as a decoder would
    /// hand it over.
    fn convert(input: &[f32], from: (u32, u16), to: (u32, u16), gain: f32) -> Vec<f32> {
        let mut converter = Converter::new(from.0, from.1, to.0, to.1, gain).unwrap();
        let mut out = Vec::new();
        for piece in input.chunks(usize::from(from.1) * 577) {
            converter.push(piece, &mut out);
        }
        converter.finish(&mut out);
        out
    }

    fn channel(samples: &[f32], channels: usize, index: usize) -> Vec<f32> {
        samples
            .iter()
            .skip(index)
            .step_by(channels)
            .copied()
            .collect()
    }

    fn zero_crossings(samples: &[f32]) -> usize {
        samples
            .windows(2)
            .filter(|pair| (pair[0] < 0.0) != (pair[1] < 0.0))
            .count()
    }

    fn loudest_frame(samples: &[f32]) -> usize {
        (0..samples.len())
            .max_by(|&a, &b| samples[a].abs().total_cmp(&samples[b].abs()))
            .unwrap()
    }

    #[test]
    fn upsampling_22050_mono_to_44100_stereo_doubles_the_frame_count() {
        let out = convert(&sine(440.0, 22050, 22050, 0.8), (22050, 1), (44100, 2), 1.0);
        assert_eq!(out.len(), 2 * 44100);
    }

    #[test]
    fn upsampling_keeps_the_tone_at_its_frequency() {
        let out = convert(&sine(440.0, 22050, 22050, 0.8), (22050, 1), (44100, 2), 1.0);
        let crossings = zero_crossings(&channel(&out, 2, 0));
        assert!(
            (878..=882).contains(&crossings),
            "{crossings} zero crossings in one second"
        );
    }

    #[test]
    fn upsampling_scales_the_amplitude_by_the_gain_on_both_channels() {
        let out = convert(&sine(440.0, 22050, 22050, 0.8), (22050, 1), (44100, 2), 0.5);
        let (left, right) = (channel(&out, 2, 0), channel(&out, 2, 1));
        assert_eq!(left, right);
        let peak = left[4410..39690]
            .iter()
            .fold(0.0f32, |peak, s| peak.max(s.abs()));
        assert!(
            (peak - 0.4).abs() < 0.005,
            "peak {peak}, expected 0.8 × 0.5"
        );
    }

    #[test]
    fn a_click_at_input_frame_k_comes_out_at_output_frame_2k() {
        let mut input = vec![0.0; 22050];
        input[7000] = 1.0;
        let out = channel(&convert(&input, (22050, 1), (44100, 2), 1.0), 2, 0);
        let at = loudest_frame(&out) as i64;
        assert!(
            (at - 14000).abs() <= 44,
            "the click moved from 14000 to {at}, over 1 ms"
        );
    }

    #[test]
    fn a_click_stays_in_place_between_all_common_rates() {
        for (from, to) in [
            (8000, 48000),
            (22050, 48000),
            (44100, 48000),
            (48000, 44100),
            (96000, 48000),
            (32000, 44100),
        ] {
            let mut input = vec![0.0; from as usize];
            let click = from as usize / 3;
            input[click] = 1.0;
            let out = convert(&input, (from, 1), (to, 1), 1.0);
            let expected = (click as u64 * u64::from(to) / u64::from(from)) as i64;
            let at = loudest_frame(&out) as i64;
            assert!(
                (at - expected).abs() <= 2,
                "{from} → {to}: click at {at}, not {expected}"
            );
        }
    }

    #[test]
    fn the_output_length_is_the_input_length_scaled_by_the_rate_ratio() {
        for (from, to) in [
            (22050, 44100),
            (44100, 48000),
            (48000, 44100),
            (8000, 48000),
            (48000, 8000),
        ] {
            for frames in [0, 1, 100, 1023, 1024, 1025, 4999, 44_101] {
                let out = convert(&vec![0.25; frames], (from, 1), (to, 1), 1.0);
                let expected = (frames as f64 * f64::from(to) / f64::from(from)).round() as usize;
                assert_eq!(
                    out.len(),
                    expected,
                    "{frames} frames at {from} Hz → {to} Hz"
                );
            }
        }
    }

    #[test]
    fn pushing_in_any_piece_size_gives_the_same_output() {
        let input = sine(1000.0, 44100, 10_000, 0.5);
        let at_once = {
            let mut converter = Converter::new(44100, 1, 48000, 1, 1.0).unwrap();
            let mut out = Vec::new();
            converter.push(&input, &mut out);
            converter.finish(&mut out);
            out
        };
        let frame_by_frame = {
            let mut converter = Converter::new(44100, 1, 48000, 1, 1.0).unwrap();
            let mut out = Vec::new();
            input
                .iter()
                .for_each(|sample| converter.push(std::slice::from_ref(sample), &mut out));
            converter.finish(&mut out);
            out
        };
        assert_eq!(at_once, frame_by_frame);
    }

    #[test]
    fn equal_rates_pass_samples_through_exactly() {
        let input: Vec<f32> = (0..20_000)
            .map(|n| ((n * 7919) % 2001) as f32 / 1000.0 - 1.0)
            .collect();
        assert_eq!(convert(&input, (44100, 2), (44100, 2), 1.0), input);
    }

    #[test]
    fn channels_map_by_duplicating_averaging_truncating_or_repeating() {
        let mapped =
            |frame: &[f32], to: u16| convert(frame, (48000, frame.len() as u16), (48000, to), 1.0);
        assert_eq!(
            mapped(&[0.5], 3),
            [0.5, 0.5, 0.5],
            "mono goes to every channel"
        );
        assert_eq!(mapped(&[0.2, 0.6], 1), [0.4], "stereo to mono averages");
        assert_eq!(
            mapped(&[0.1, 0.2, 0.3, 0.4], 2),
            [0.1, 0.2],
            "more to fewer keeps the first"
        );
        assert_eq!(
            mapped(&[0.1, 0.2], 4),
            [0.1, 0.2, 0.1, 0.2],
            "fewer to more repeats"
        );
    }

    #[test]
    fn output_is_clamped_to_full_scale() {
        let out = convert(&[1.5, -3.0, 0.5], (48000, 1), (48000, 1), 1.0);
        assert_eq!(out, [1.0, -1.0, 0.5]);
        let resampled = convert(&vec![1.0; 5000], (44100, 1), (48000, 1), 1.0);
        assert!(resampled.iter().all(|sample| sample.abs() <= 1.0));
    }

    #[test]
    fn finishing_twice_adds_nothing_more() {
        let mut converter = Converter::new(22050, 1, 48000, 2, 1.0).unwrap();
        let mut out = Vec::new();
        converter.push(&[0.1; 3000], &mut out);
        converter.finish(&mut out);
        let len = out.len();
        converter.finish(&mut out);
        assert_eq!(out.len(), len);
    }

    #[test]
    fn impossible_conversions_are_refused_with_a_reason() {
        let refused = |from: (u32, u16), to: (u32, u16), gain: f32| {
            Converter::new(from.0, from.1, to.0, to.1, gain)
                .err()
                .map(|e| e.to_string())
        };
        assert!(
            refused((0, 2), (48000, 2), 1.0)
                .unwrap()
                .contains("0 Hz → 48000 Hz")
        );
        assert!(
            refused((44100, 0), (48000, 2), 1.0)
                .unwrap()
                .contains("0 → 2")
        );
        assert_eq!(
            refused((44100, 2), (48000, 2), 10.5).unwrap(),
            "gain 10.5 is outside 0.0–10"
        );
        assert!(refused((44100, 2), (48000, 2), f32::NAN).is_some());
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    /// Plays a fixture through a `Source` the way the player does.
    fn play(name: &str, gain: f32) -> Vec<f32> {
        let mut source = Source::open(&fixture(name), 48000, 2, gain).unwrap();
        let mut out = Vec::new();
        let mut chunk = Vec::new();
        while source.fill(&mut chunk).unwrap() {
            assert!(!chunk.is_empty(), "fill returned true without frames");
            out.append(&mut chunk);
        }
        assert!(
            !source.fill(&mut chunk).unwrap() && chunk.is_empty(),
            "an exhausted source stays exhausted"
        );
        out
    }

    #[test]
    fn every_fixture_plays_as_about_a_second_of_48k_stereo() {
        for name in [
            "tone-44k-stereo.mp3",
            "tone-22k-mono.mp3",
            "tone.flac",
            "tone.ogg",
            "tone.m4a",
            "tone.wav",
        ] {
            let out = play(name, 1.0);
            assert_eq!(out.len() % 2, 0);
            let seconds = out.len() as f64 / 2.0 / 48000.0;
            assert!(
                (0.99..1.05).contains(&seconds),
                "{name} plays for {seconds} s"
            );
            let crossings = zero_crossings(&channel(&out[..96000], 2, 0));
            assert!(
                (875..=885).contains(&crossings),
                "{name} has {crossings} zero crossings in a second"
            );
        }
    }

    #[test]
    fn a_source_plays_at_the_scheduled_volume() {
        let out = play("tone.flac", 0.25);
        let peak = out.iter().fold(0.0f32, |peak, s| peak.max(s.abs()));
        assert!(
            (peak - 0.125).abs() < 0.005,
            "peak {peak}, expected 0.5 × 0.25"
        );
    }

    #[test]
    fn a_source_can_move_to_the_player_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Source>();
    }

    #[test]
    fn a_source_over_a_bad_file_fails_with_the_decoders_message() {
        let error = |name: &str| {
            Source::open(&fixture(name), 48000, 2, 1.0)
                .err()
                .unwrap()
                .to_string()
        };
        assert!(error("empty.mp3").ends_with("empty.mp3: file is empty"));
        assert!(error("text.mp3").contains("not a recognised audio format"));
        let mut source = Source::open(&fixture("corrupt.mp3"), 48000, 2, 1.0).unwrap();
        let mut out = Vec::new();
        let message = loop {
            match source.fill(&mut out) {
                Ok(true) => continue,
                Ok(false) => panic!("the corrupt file played to its end"),
                Err(e) => break e.to_string(),
            }
        };
        assert!(
            message.contains("corrupt.mp3: corrupt audio data at 0:00.0"),
            "{message}"
        );
        assert!(
            out.is_empty(),
            "noise from the corrupt file would have aired"
        );
    }
}
