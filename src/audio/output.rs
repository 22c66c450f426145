//! The audio output: a continuous timeline of frames going to a sound card, a WAV file or nowhere.
//!
//! The player (producer) and the device (consumer) share a lock-free ring buffer and a few atomics.
//! The consumer never blocks: it copies frames from the ring, or silence when there are none.
//! Every frame that goes out has an absolute index (`position`), and an *anchor* ties one index
//! to a wall-clock instant. That is what lets the player place a programme's first sample on its
//! scheduled instant: it computes the frame index of that instant and sets a *gate*; the consumer
//! plays silence until the gate, then the queued programme, to the sample.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

/// Where audio goes, as written in the config or after `--output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSpec {
    /// The system's default sound card.
    Default,
    /// A sound card by its name, as `loaxa devices` lists it.
    Device(String),
    /// A WAV file written in real time, with `PATH.json` recording when its sample 0 went out.
    Wav(PathBuf),
    /// Discards audio, paced in real time.
    Null,
}

impl FromStr for OutputSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "" => return Err("empty output (use default, null, wav:PATH or a device name)".into()),
            "default" => OutputSpec::Default,
            "null" => OutputSpec::Null,
            _ => match text.strip_prefix("wav:") {
                Some("") => return Err("wav: needs a file path, e.g. wav:/tmp/out.wav".into()),
                Some(path) => OutputSpec::Wav(path.into()),
                None => OutputSpec::Device(text.to_owned()),
            },
        })
    }
}

impl fmt::Display for OutputSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputSpec::Default => f.write_str("default"),
            OutputSpec::Device(name) => f.write_str(name),
            OutputSpec::Wav(path) => write!(f, "wav:{}", path.display()),
            OutputSpec::Null => f.write_str("null"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    pub sample_rate: u32,
    pub channels: u16,
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("no audio output device{0}")]
    NoDevice(String),
    #[error("audio device {name}: {message}")]
    Device { name: String, message: String },
    #[error("{path}: cannot write WAV output: {message}")]
    Wav { path: PathBuf, message: String },
    #[error("audio output failed: {0}")]
    Failed(String),
    #[error("stopped")]
    Stopped,
}

/// Marks "no frame yet" in `first_frame`.
const NONE: u64 = u64::MAX;

/// Seconds of audio the ring holds: enough to ride out a slow SD card, small for a 1 GB box.
const RING_SECONDS: u32 = 4;

/// The state the producer and the consumer share.
pub(super) struct Shared {
    pub(super) format: Format,
    /// Frames handed to the device so far: the index of the next frame out.
    position: AtomicU64,
    /// The consumer plays silence until `position` reaches this, then takes from the ring.
    gate: AtomicU64,
    /// Index at which the first frame queued after the last gate went out.
    first_frame: AtomicU64,
    /// Set by the producer to make the consumer drop whatever is queued (stop, cut).
    discard: AtomicBool,
    anchor: Mutex<Anchor>,
    /// Set by the device's error callback; the producer reports it.
    failure: Mutex<Option<String>>,
}

/// Frame `frame` went (or goes) out at `unix_nanos`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Anchor {
    pub(super) frame: u64,
    pub(super) unix_nanos: i128,
}

impl Shared {
    pub(super) fn set_anchor(&self, anchor: Anchor) {
        // try_lock: the audio callback must never wait; a skipped update is harmless.
        if let Ok(mut current) = self.anchor.try_lock() {
            *current = anchor;
        }
    }

    pub(super) fn position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }

    pub(super) fn fail(&self, message: String) {
        if let Ok(mut failure) = self.failure.lock() {
            failure.get_or_insert(message);
        }
    }
}

/// The consumer end, owned by the device callback or the pacing thread.
pub(super) struct Feed {
    pub(super) shared: Arc<Shared>,
    ring: rtrb::Consumer<f32>,
}

impl Feed {
    /// Fills `out` (interleaved, whole frames) with the next frames of the timeline. Never blocks.
    pub(super) fn fill(&mut self, out: &mut [f32]) {
        let channels = usize::from(self.shared.format.channels);
        let frames = out.len() / channels;
        let position = self.shared.position.load(Ordering::Acquire);
        if self.shared.discard.load(Ordering::Acquire) {
            let queued = self.ring.slots();
            if let Ok(chunk) = self.ring.read_chunk(queued) {
                chunk.commit_all();
            }
        }
        let gate = self.shared.gate.load(Ordering::Acquire);
        let silent =
            usize::try_from(gate.saturating_sub(position)).map_or(frames, |s| s.min(frames));
        let queued = (self.ring.slots() / channels).min(frames - silent);
        out[..silent * channels].fill(0.0);
        if queued > 0 {
            if let Ok(chunk) = self.ring.read_chunk(queued * channels) {
                let (a, b) = chunk.as_slices();
                let start = silent * channels;
                out[start..start + a.len()].copy_from_slice(a);
                out[start + a.len()..start + a.len() + b.len()].copy_from_slice(b);
                chunk.commit_all();
            }
            let _ = self.shared.first_frame.compare_exchange(
                NONE,
                position + silent as u64,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
        out[(silent + queued) * channels..].fill(0.0);
        self.shared
            .position
            .store(position + frames as u64, Ordering::Release);
    }
}

/// Stops the thread that drives the consumer when the output is dropped.
pub(super) trait Driver: Send {
    fn stop(&mut self);
}

/// The producer end: what the player writes programmes into.
pub struct Output {
    shared: Arc<Shared>,
    ring: rtrb::Producer<f32>,
    driver: Box<dyn Driver>,
    description: String,
}

impl Output {
    /// Opens the output. `paced_rate` is the sample rate of `wav:` and `null` (a device uses its own).
    pub fn open(spec: &OutputSpec, paced_rate: u32) -> Result<Output, OutputError> {
        match spec {
            OutputSpec::Wav(path) => super::paced::open(Some(path), paced_rate),
            OutputSpec::Null => super::paced::open(None, paced_rate),
            OutputSpec::Default => super::device::open(None),
            OutputSpec::Device(name) => super::device::open(Some(name)),
        }
    }

    /// Builds both ends for a driver; the driver starts the consumer with the returned `Feed`.
    pub(super) fn pair(format: Format, anchor: Anchor) -> (Arc<Shared>, rtrb::Producer<f32>, Feed) {
        let capacity = (format.sample_rate * RING_SECONDS) as usize * usize::from(format.channels);
        let (producer, consumer) = rtrb::RingBuffer::new(capacity);
        let shared = Arc::new(Shared {
            format,
            position: AtomicU64::new(anchor.frame),
            gate: AtomicU64::new(0),
            first_frame: AtomicU64::new(NONE),
            discard: AtomicBool::new(false),
            anchor: Mutex::new(anchor),
            failure: Mutex::new(None),
        });
        let feed = Feed {
            shared: Arc::clone(&shared),
            ring: consumer,
        };
        (shared, producer, feed)
    }

    pub(super) fn new(
        shared: Arc<Shared>,
        ring: rtrb::Producer<f32>,
        driver: Box<dyn Driver>,
        description: String,
    ) -> Output {
        Output {
            shared,
            ring,
            driver,
            description,
        }
    }

    pub fn format(&self) -> Format {
        self.shared.format
    }

    /// e.g. `wav:/tmp/out.wav (44100 Hz, 2 ch)`, for logs.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Index of the frame nearest to `instant` (clamped to the start of the timeline).
    pub fn frame_at(&self, instant: DateTime<Utc>) -> u64 {
        let anchor = self.anchor();
        let nanos =
            i128::from(instant.timestamp_nanos_opt().unwrap_or(i64::MAX)) - anchor.unix_nanos;
        let frames = anchor.frame as i128
            + (nanos * i128::from(self.shared.format.sample_rate) + 500_000_000)
                .div_euclid(1_000_000_000);
        u64::try_from(frames.max(0)).unwrap_or(u64::MAX)
    }

    /// The instant frame `frame` goes out.
    pub fn time_of(&self, frame: u64) -> DateTime<Utc> {
        let anchor = self.anchor();
        let frames = frame as i128 - anchor.frame as i128;
        let nanos =
            anchor.unix_nanos + frames * 1_000_000_000 / i128::from(self.shared.format.sample_rate);
        DateTime::from_timestamp_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
    }

    fn anchor(&self) -> Anchor {
        match self.shared.anchor.lock() {
            Ok(anchor) => *anchor,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    /// Nothing queued: everything written so far has gone out.
    pub fn is_drained(&self) -> bool {
        self.ring.slots() == self.ring.buffer().capacity()
    }

    /// Starts a new segment (a programme): frames written from now on go out from frame `gate`
    /// on, or as soon as they are written if that is already past. Call only when drained.
    pub fn start_segment(&mut self, gate: u64) {
        self.shared.first_frame.store(NONE, Ordering::Release);
        self.shared.gate.store(gate, Ordering::Release);
    }

    /// The index at which the current segment's first frame went out, once it has.
    pub fn segment_start(&self) -> Option<u64> {
        match self.shared.first_frame.load(Ordering::Acquire) {
            NONE => None,
            frame => Some(frame),
        }
    }

    /// Queues interleaved frames, waiting while the ring is full. Returns `Stopped` as soon as
    /// `stop` is set, and the device's failure if it has one.
    pub fn write(&mut self, mut samples: &[f32], stop: &AtomicBool) -> Result<(), OutputError> {
        while !samples.is_empty() {
            self.check(stop)?;
            let n = self.ring.slots().min(samples.len());
            let n = n - n % usize::from(self.shared.format.channels);
            if n == 0 {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            if let Ok(mut chunk) = self.ring.write_chunk(n) {
                let (a, b) = chunk.as_mut_slices();
                let (first, rest) = samples.split_at(a.len());
                a.copy_from_slice(first);
                b.copy_from_slice(&rest[..b.len()]);
                chunk.commit_all();
            }
            samples = &samples[n..];
        }
        Ok(())
    }

    /// Waits until everything queued has gone out.
    pub fn drain(&mut self, stop: &AtomicBool) -> Result<(), OutputError> {
        while !self.is_drained() {
            self.check(stop)?;
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Drops everything queued (the consumer discards it at its next fill).
    pub fn discard(&mut self) {
        self.shared.discard.store(true, Ordering::Release);
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while !self.is_drained() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        self.shared.discard.store(false, Ordering::Release);
    }

    fn check(&self, stop: &AtomicBool) -> Result<(), OutputError> {
        if stop.load(Ordering::Acquire) {
            return Err(OutputError::Stopped);
        }
        match self.shared.failure.lock() {
            Ok(failure) => failure
                .clone()
                .map_or(Ok(()), |f| Err(OutputError::Failed(f))),
            Err(_) => Err(OutputError::Failed("output state poisoned".into())),
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.driver.stop();
    }
}

pub(super) fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output_pair(rate: u32) -> (Arc<Shared>, rtrb::Producer<f32>, Feed) {
        let format = Format {
            sample_rate: rate,
            channels: 2,
        };
        Output::pair(
            format,
            Anchor {
                frame: 0,
                unix_nanos: 0,
            },
        )
    }

    struct NoDriver;
    impl Driver for NoDriver {
        fn stop(&mut self) {}
    }

    #[test]
    fn output_specs_parse_from_their_text_form() {
        assert_eq!("default".parse(), Ok(OutputSpec::Default));
        assert_eq!("null".parse(), Ok(OutputSpec::Null));
        assert_eq!(
            "wav:/tmp/a.wav".parse(),
            Ok(OutputSpec::Wav("/tmp/a.wav".into()))
        );
        assert_eq!(
            "hw:CARD=Device".parse(),
            Ok(OutputSpec::Device("hw:CARD=Device".into()))
        );
        assert!("wav:".parse::<OutputSpec>().is_err());
    }

    #[test]
    fn the_consumer_plays_silence_until_the_gate_then_the_queued_frames_to_the_sample() {
        let (shared, ring, mut feed) = output_pair(1000);
        let mut output = Output::new(shared, ring, Box::new(NoDriver), String::new());
        output.start_segment(5);
        output
            .write(&[1.0, 1.0, 2.0, 2.0, 3.0, 3.0], &AtomicBool::new(false))
            .unwrap();
        let mut block = [9.0f32; 8]; // 4 frames: all before the gate
        feed.fill(&mut block);
        assert_eq!(block, [0.0; 8]);
        let mut block = [9.0f32; 10]; // frames 4..9: one silent, three queued, one underrun
        feed.fill(&mut block);
        assert_eq!(block, [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 0.0, 0.0]);
        assert_eq!(output.segment_start(), Some(5));
        assert!(output.is_drained());
    }

    #[test]
    fn frames_and_instants_convert_through_the_anchor() {
        let (shared, ring, _feed) = output_pair(48_000);
        let output = Output::new(shared, ring, Box::new(NoDriver), String::new());
        let t = DateTime::from_timestamp(2, 500_000_000).unwrap();
        assert_eq!(output.frame_at(t), 120_000);
        assert_eq!(output.time_of(120_000), t);
    }

    #[test]
    fn discard_drops_whatever_is_queued() {
        let (shared, ring, mut feed) = output_pair(1000);
        let mut output = Output::new(shared, ring, Box::new(NoDriver), String::new());
        output.write(&[1.0; 20], &AtomicBool::new(false)).unwrap();
        let consumer = std::thread::spawn(move || {
            let mut block = [0.0f32; 4];
            for _ in 0..100 {
                feed.fill(&mut block);
                std::thread::sleep(Duration::from_millis(1));
            }
            block
        });
        output.discard();
        assert!(output.is_drained());
        assert_eq!(consumer.join().unwrap(), [0.0; 4]);
    }
}
