//! The audio output: a continuous timeline of frames going to a sound card, a WAV file or nowhere.
//!
//! The player (producer) and the device (consumer) share a lock-free ring buffer and a few atomics.
//! The consumer never blocks: it copies frames from the ring, or silence when there are none.
//! Each time it fills a block, its driver tells it the wall-clock instant the block's first frame
//! goes out (from the device's timestamps, or from the clock that paces a WAV file). That is what
//! places a programme's first sample on its scheduled instant: the player queues the programme and
//! sets a *gate* instant; the consumer plays silence up to the frame that goes out at the gate,
//! then the programme, to the sample, and records when that first frame went out.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    /// The sound system cannot even list its devices.
    #[error("no audio output devices: {0}")]
    NoDevices(String),
    #[error("no audio output device named {0} (see `loaxa devices`)")]
    NoSuchDevice(String),
    #[error("audio device {name}: {message}")]
    Device { name: String, message: String },
    #[error("{}: cannot write WAV output: {trouble}", path.display())]
    Wav {
        path: PathBuf,
        trouble: loaxa_core::trouble::FileTrouble,
    },
    #[error("audio output failed: {0}")]
    Failed(String),
    #[error("stopped")]
    Stopped,
}

/// Marks "not yet" in the instant atomics.
const NONE: i64 = i64::MIN;

/// Seconds of audio the ring holds: enough to ride out a slow SD card, small for a 1 GB box.
const RING_SECONDS: u32 = 4;

/// How long a device may go without asking for frames, on top of twice its largest request,
/// before it counts as gone.
const STALL: Duration = Duration::from_secs(3);

/// The state the producer and the consumer share.
pub(super) struct Shared {
    pub(super) format: Format,
    /// The consumer plays silence until the frame going out at this instant (Unix ns), then takes
    /// from the ring. An instant, not a frame index: only the consumer, at each fill, knows for
    /// sure when its frames go out (a device may stall or start late).
    gate: AtomicI64,
    /// When the first frame queued after the last gate went out (Unix ns), or NONE.
    first_out: AtomicI64,
    /// Set by the producer to make the consumer drop whatever is queued (stop, cut).
    discard: AtomicBool,
    /// Set by the device's error callback; the producer reports it.
    failure: Mutex<Option<String>>,
    /// The most frames the consumer has asked for at once: how much must be queued to never
    /// leave it short (a sound server may ask for seconds at a time).
    largest_request: AtomicU64,
    /// When the consumer last asked for frames, in ms since `opened`: a device that stops
    /// asking (a USB card pulled out, a sound server killed) often reports no error at all.
    last_request_ms: AtomicU64,
    opened: Instant,
}

impl Shared {
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
    /// Fills `out` (interleaved, whole frames) with the next frames of the timeline; its first
    /// frame goes out at `plays_at` (Unix ns). Never blocks.
    pub(super) fn fill(&mut self, out: &mut [f32], plays_at: i64) {
        let format = self.shared.format;
        let channels = usize::from(format.channels);
        let frames = out.len() / channels;
        self.shared
            .largest_request
            .fetch_max(frames as u64, Ordering::Relaxed);
        self.shared.last_request_ms.store(
            self.shared.opened.elapsed().as_millis() as u64,
            Ordering::Relaxed,
        );
        if self.shared.discard.load(Ordering::Acquire) {
            let queued = self.ring.slots();
            if let Ok(chunk) = self.ring.read_chunk(queued) {
                chunk.commit_all();
            }
        }
        let gate = self.shared.gate.load(Ordering::Acquire);
        let silent = usize::try_from(nanos_to_frames(
            gate.saturating_sub(plays_at),
            format.sample_rate,
        ))
        .map_or(frames, |s| s.min(frames));
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
            let first_out = plays_at + frames_to_nanos(silent as u64, format.sample_rate);
            let _ = self.shared.first_out.compare_exchange(
                NONE,
                first_out,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
        out[(silent + queued) * channels..].fill(0.0);
    }
}

/// Frames of silence before an instant `nanos` ahead: rounded up, so the first frame after them
/// goes out at the instant or a fraction of a frame after, never before (a programme dated a
/// few microseconds early reads as a millisecond early once stored to the millisecond).
/// Negative counts as none.
fn nanos_to_frames(nanos: i64, sample_rate: u32) -> u64 {
    let frames =
        (i128::from(nanos) * i128::from(sample_rate) + 999_999_999).div_euclid(1_000_000_000);
    u64::try_from(frames).unwrap_or(0)
}

pub(super) fn frames_to_nanos(frames: u64, sample_rate: u32) -> i64 {
    i64::try_from(i128::from(frames) * 1_000_000_000 / i128::from(sample_rate)).unwrap_or(i64::MAX)
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
    pub(super) fn pair(format: Format) -> (Arc<Shared>, rtrb::Producer<f32>, Feed) {
        let capacity = (format.sample_rate * RING_SECONDS) as usize * usize::from(format.channels);
        let (producer, consumer) = rtrb::RingBuffer::new(capacity);
        let shared = Arc::new(Shared {
            format,
            gate: AtomicI64::new(NONE),
            first_out: AtomicI64::new(NONE),
            discard: AtomicBool::new(false),
            failure: Mutex::new(None),
            largest_request: AtomicU64::new(0),
            last_request_ms: AtomicU64::new(0),
            opened: Instant::now(),
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

    /// The most frames the output has taken at once so far.
    pub fn largest_request(&self) -> u64 {
        self.shared.largest_request.load(Ordering::Relaxed)
    }

    /// Frames written but not yet gone out.
    pub fn queued_frames(&self) -> u64 {
        let capacity = self.ring.buffer().capacity();
        ((capacity - self.ring.slots()) / usize::from(self.shared.format.channels)) as u64
    }

    /// Nothing queued: everything written so far has gone out.
    pub fn is_drained(&self) -> bool {
        self.ring.slots() == self.ring.buffer().capacity()
    }

    /// Starts a new segment (a programme): frames written from now on go out from `at` on, or
    /// as soon as they are written if that has passed. Call only when drained.
    pub fn start_segment(&mut self, at: DateTime<Utc>) {
        self.shared.first_out.store(NONE, Ordering::Release);
        self.shared.gate.store(
            at.timestamp_nanos_opt().unwrap_or(i64::MAX),
            Ordering::Release,
        );
    }

    /// When the current segment's first frame went out, once it has.
    pub fn segment_start(&self) -> Option<DateTime<Utc>> {
        match self.shared.first_out.load(Ordering::Acquire) {
            NONE => None,
            nanos => Some(DateTime::from_timestamp_nanos(nanos)),
        }
    }

    /// The instant `frames` frames after `start` (to date the end of a segment).
    pub fn after(&self, start: DateTime<Utc>, frames: u64) -> DateTime<Utc> {
        start
            + chrono::Duration::nanoseconds(frames_to_nanos(frames, self.shared.format.sample_rate))
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

    /// `Stopped` if `stop` is set; the device's failure if it reported one or has stopped
    /// asking for frames while some wait to go out.
    pub fn check(&self, stop: &AtomicBool) -> Result<(), OutputError> {
        if stop.load(Ordering::Acquire) {
            return Err(OutputError::Stopped);
        }
        match self.shared.failure.lock() {
            Ok(failure) => {
                if let Some(failure) = failure.clone() {
                    return Err(OutputError::Failed(failure));
                }
            }
            Err(_) => return Err(OutputError::Failed("output state poisoned".into())),
        }
        let silent_for = self
            .shared
            .opened
            .elapsed()
            .saturating_sub(Duration::from_millis(
                self.shared.last_request_ms.load(Ordering::Relaxed),
            ));
        let allowed = STALL
            + 2 * Duration::from_secs_f64(
                self.largest_request() as f64 / f64::from(self.shared.format.sample_rate),
            );
        if !self.is_drained() && silent_for > allowed {
            let message = format!(
                "the device has taken no audio for {:.1} s (unplugged, or its sound server died)",
                silent_for.as_secs_f64()
            );
            self.shared.fail(message.clone());
            return Err(OutputError::Failed(message));
        }
        Ok(())
    }

    /// Whether the device has failed (and the output must be opened again to play).
    pub fn has_failed(&self) -> bool {
        self.shared.failure.lock().map_or(true, |f| f.is_some())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.driver.stop();
    }
}

pub(super) fn unix_nanos(t: SystemTime) -> i64 {
    let nanos = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    };
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(rate: u32) -> (Output, Feed) {
        let (shared, ring, feed) = Output::pair(Format {
            sample_rate: rate,
            channels: 2,
        });
        (
            Output::new(shared, ring, Box::new(NoDriver), String::new()),
            feed,
        )
    }

    struct NoDriver;
    impl Driver for NoDriver {
        fn stop(&mut self) {}
    }

    /// Instants on a 1000 Hz timeline: frame n goes out at n ms.
    fn ms(n: i64) -> i64 {
        n * 1_000_000
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
    fn the_consumer_plays_silence_until_the_gate_instant_then_the_queued_frames_to_the_sample() {
        let (mut output, mut feed) = output(1000);
        output.start_segment(DateTime::from_timestamp_nanos(ms(5)));
        output
            .write(&[1.0, 1.0, 2.0, 2.0, 3.0, 3.0], &AtomicBool::new(false))
            .unwrap();
        let mut block = [9.0f32; 8]; // frames going out at 0..4 ms: all before the gate
        feed.fill(&mut block, ms(0));
        assert_eq!(block, [0.0; 8]);
        let mut block = [9.0f32; 10]; // 4..9 ms: one silent, three queued, one underrun
        feed.fill(&mut block, ms(4));
        assert_eq!(block, [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 0.0, 0.0]);
        assert_eq!(
            output.segment_start(),
            Some(DateTime::from_timestamp_nanos(ms(5)))
        );
        assert!(output.is_drained());
    }

    #[test]
    fn a_device_that_stalls_before_the_gate_still_starts_the_programme_on_the_instant() {
        let (mut output, mut feed) = output(1000);
        output.start_segment(DateTime::from_timestamp_nanos(ms(2_000)));
        output.write(&[1.0; 8], &AtomicBool::new(false)).unwrap();
        let mut block = [9.0f32; 8];
        feed.fill(&mut block, ms(0)); // then nothing for 1.998 s
        feed.fill(&mut block, ms(1_998));
        assert_eq!(block, [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
        assert_eq!(
            output.segment_start(),
            Some(DateTime::from_timestamp_nanos(ms(2_000)))
        );
    }

    #[test]
    fn a_gate_between_two_frames_starts_on_the_frame_after_it_never_before() {
        let (mut output, mut feed) = output(48_000);
        let gate = 1_000_000_010; // 10 ns after a frame boundary
        output.start_segment(DateTime::from_timestamp_nanos(gate));
        output.write(&[1.0; 2], &AtomicBool::new(false)).unwrap();
        let mut block = vec![9.0f32; 96_004];
        feed.fill(&mut block, 0);
        let first = block.iter().position(|s| *s == 1.0).unwrap();
        assert_eq!(first / 2, 48_001);
        let started = output
            .segment_start()
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap();
        assert!((gate..gate + 20_834).contains(&started), "{started}");
    }

    #[test]
    fn a_gate_in_the_past_plays_at_once() {
        let (mut output, mut feed) = output(1000);
        output.start_segment(DateTime::from_timestamp_nanos(ms(5)));
        output.write(&[1.0; 4], &AtomicBool::new(false)).unwrap();
        let mut block = [9.0f32; 4];
        feed.fill(&mut block, ms(100));
        assert_eq!(block, [1.0; 4]);
        assert_eq!(
            output.segment_start(),
            Some(DateTime::from_timestamp_nanos(ms(100)))
        );
    }

    #[test]
    fn discard_drops_whatever_is_queued() {
        let (mut output, mut feed) = output(1000);
        output.write(&[1.0; 20], &AtomicBool::new(false)).unwrap();
        let consumer = std::thread::spawn(move || {
            let mut block = [0.0f32; 4];
            for n in 0..100 {
                feed.fill(&mut block, ms(2 * n));
                std::thread::sleep(Duration::from_millis(1));
            }
            block
        });
        output.discard();
        assert!(output.is_drained());
        assert_eq!(consumer.join().unwrap(), [0.0; 4]);
    }
}
