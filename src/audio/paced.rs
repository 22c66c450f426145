//! Outputs without a sound card, paced by the system clock: `wav:PATH` and `null`.
//!
//! A thread pulls the timeline every few milliseconds, exactly as many frames as real time says
//! are due, so the WAV file is the continuous output from the moment it was opened, silence
//! included. Sample 0's wall-clock instant is written to `PATH.json` first, so anyone can compute
//! when any sample "went out": `start_unix_ns + index * 1e9 / sample_rate`.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::output::{Driver, Feed, Format, Output, OutputError, frames_to_nanos, unix_nanos};
use loaxa_core::trouble::FileTrouble;

/// The WAV outputs are 16-bit stereo: what any tool reads, and what a loudspeaker amplifier gets.
const CHANNELS: u16 = 2;
const TICK: Duration = Duration::from_millis(10);
/// How often the WAV header is rewritten, so the file is readable while it grows.
const HEADER_EVERY: Duration = Duration::from_secs(1);
/// A wall clock that moved this much more (or less) than the monotonic clock was stepped.
const CLOCK_STEP_NS: i64 = 1_000_000_000;

/// What `PATH.json` holds.
#[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct WavTimeline {
    pub sample_rate: u32,
    pub channels: u16,
    /// Wall-clock instant of sample 0, nanoseconds since the Unix epoch.
    pub start_unix_ns: i64,
    /// The same instant, readable (RFC 3339, UTC).
    pub start: String,
}

pub(super) fn open(wav: Option<&Path>, sample_rate: u32) -> Result<Output, OutputError> {
    let format = Format {
        sample_rate,
        channels: CHANNELS,
    };
    let started = SystemTime::now();
    let clock = Instant::now();
    let writer = match wav {
        Some(path) => Some(create_wav(path, format, started)?),
        None => None,
    };
    let (shared, ring, feed) = Output::pair(format);
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("loaxa-output".into())
            .spawn(move || pace(feed, writer, (clock, unix_nanos(started)), &stop))
            .map_err(|e| OutputError::Failed(format!("cannot start output thread: {e}")))?
    };
    let description = match wav {
        Some(path) => format!("wav:{} ({sample_rate} Hz, {CHANNELS} ch)", path.display()),
        None => format!("null ({sample_rate} Hz, {CHANNELS} ch)"),
    };
    Ok(Output::new(
        shared,
        ring,
        Box::new(PacedDriver {
            stop,
            thread: Some(thread),
        }),
        description,
    ))
}

struct WavSink {
    path: PathBuf,
    writer: hound::WavWriter<BufWriter<File>>,
}

fn create_wav(path: &Path, format: Format, started: SystemTime) -> Result<WavSink, OutputError> {
    let error = |trouble: FileTrouble| OutputError::Wav {
        path: path.to_owned(),
        trouble,
    };
    let start = chrono::DateTime::<chrono::Utc>::from(started);
    let timeline = WavTimeline {
        sample_rate: format.sample_rate,
        channels: format.channels,
        start_unix_ns: unix_nanos(started),
        start: start.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    };
    let json = serde_json::to_string_pretty(&timeline).map_err(|e| {
        error(FileTrouble::Other {
            error: e.to_string(),
        })
    })?;
    std::fs::write(timeline_path(path), json + "\n").map_err(|e| error((&e).into()))?;
    let spec = hound::WavSpec {
        channels: format.channels,
        sample_rate: format.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let writer = hound::WavWriter::create(path, spec).map_err(|e| {
        error(match &e {
            hound::Error::IoError(io) => io.into(),
            other => FileTrouble::Other {
                error: other.to_string(),
            },
        })
    })?;
    Ok(WavSink {
        path: path.to_owned(),
        writer,
    })
}

/// `out.wav` → `out.wav.json`.
pub fn timeline_path(wav: &Path) -> PathBuf {
    let mut name = wav.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// `start` is sample 0's instant, on the monotonic clock that paces and on the wall clock.
///
/// When the wall clock is stepped (NTP correcting a box that booted with a wrong clock), the
/// timeline's wall-clock instants move with it, as a sound card's timestamps would: programmes
/// are placed by the wall clock, and a gate an hour "ahead" of a stale timeline would otherwise
/// keep the next one off the air for that hour. `PATH.json` describes the timeline before any
/// step.
fn pace(mut feed: Feed, mut wav: Option<WavSink>, start: (Instant, i64), stop: &AtomicBool) {
    let (clock, mut start_unix_ns) = start;
    let format = feed.shared.format;
    let channels = usize::from(format.channels);
    let mut written: u64 = 0;
    let mut buffer = Vec::new();
    let mut last_header = Instant::now();
    loop {
        let stopping = stop.load(Ordering::Acquire);
        let elapsed = clock.elapsed();
        let step = unix_nanos(SystemTime::now())
            .saturating_sub(start_unix_ns.saturating_add(elapsed.as_nanos() as i64));
        if step.abs() > CLOCK_STEP_NS {
            start_unix_ns = start_unix_ns.saturating_add(step);
        }
        let due = (elapsed.as_nanos() * u128::from(format.sample_rate) / 1_000_000_000) as u64;
        let frames = (due - written.min(due)) as usize;
        if frames > 0 {
            buffer.resize(frames * channels, 0.0);
            feed.fill(
                &mut buffer,
                start_unix_ns + frames_to_nanos(written, format.sample_rate),
            );
            written += frames as u64;
            if let Some(sink) = &mut wav
                && let Err(e) = write_samples(sink, &buffer)
            {
                feed.shared.fail(format!("{}: {e}", sink.path.display()));
                wav = None;
            }
        }
        if let Some(sink) = &mut wav
            && (stopping || last_header.elapsed() >= HEADER_EVERY)
        {
            last_header = Instant::now();
            if let Err(e) = sink.writer.flush() {
                feed.shared.fail(format!("{}: {e}", sink.path.display()));
            }
        }
        if stopping {
            break;
        }
        std::thread::sleep(TICK);
    }
    if let Some(sink) = wav
        && let Err(e) = sink.writer.finalize()
    {
        tracing::error!(path = %sink.path.display(), error = %e, "cannot finish the WAV output");
    }
}

fn write_samples(sink: &mut WavSink, samples: &[f32]) -> Result<(), hound::Error> {
    let mut i16_writer = sink.writer.get_i16_writer(samples.len() as u32);
    for &sample in samples {
        i16_writer.write_sample((sample.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16);
    }
    i16_writer.flush()
}

struct PacedDriver {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Driver for PacedDriver {
    fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
