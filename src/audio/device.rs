//! Sound cards, through cpal (ALSA on Linux).
//!
//! cpal's stream is not `Send`, so a dedicated thread builds it, owns it and drops it. The
//! callback only runs `Feed::fill`, telling it when the block's first frame will be heard: now
//! plus the output latency from cpal's timestamps, so programme starts follow the card's clock.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SizedSample};

use super::output::{Driver, Feed, Format, Output, OutputError, frames_to_nanos, unix_nanos};

/// A sound card as `loaxa devices` shows it.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    pub name: String,
    pub is_default: bool,
    /// e.g. "48000 Hz, 2 ch, f32", or why it has no usable configuration.
    pub config: String,
}

pub fn list() -> Result<Vec<DeviceInfo>, OutputError> {
    let host = cpal::default_host();
    let default_name = host.default_output_device().and_then(|d| d.name().ok());
    let devices = host
        .output_devices()
        .map_err(|e| OutputError::NoDevices(e.to_string()))?;
    Ok(devices
        .map(|device| {
            let name = device.name().unwrap_or_else(|e| format!("(unnamed: {e})"));
            let config = match device.default_output_config() {
                Ok(c) => format!(
                    "{} Hz, {} ch, {}",
                    c.sample_rate().0,
                    c.channels(),
                    c.sample_format()
                ),
                Err(e) => format!("unusable: {e}"),
            };
            DeviceInfo {
                is_default: default_name.as_deref() == Some(name.as_str()),
                name,
                config,
            }
        })
        .collect())
}

/// Whether the default sound card can be opened, without alsa-lib's diagnostics on stderr:
/// `loaxa demo` asks this on machines that may have no card, and says so in its own words.
pub fn default_is_available() -> bool {
    with_stderr_silenced(|| open(None).is_ok())
}

/// Runs `f` with file descriptor 2 pointed at /dev/null. Only for a short probe before any
/// other thread logs: the descriptor is process-wide.
fn with_stderr_silenced<T>(f: impl FnOnce() -> T) -> T {
    let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
        return f();
    };
    // SAFETY: dup/dup2/close on descriptors this function owns or restores; no memory is shared.
    let saved = unsafe { libc::dup(2) };
    if saved < 0 {
        return f();
    }
    unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 2) };
    let result = f();
    unsafe {
        libc::dup2(saved, 2);
        libc::close(saved);
    }
    result
}

pub(super) fn open(name: Option<&str>) -> Result<Output, OutputError> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let wanted = name.map(str::to_owned);
    let thread = std::thread::Builder::new()
        .name("loaxa-device".into())
        .spawn(move || match start_stream(wanted.as_deref()) {
            Ok((stream, opened)) => {
                let _ = ready_tx.send(Ok(opened));
                let _ = stop_rx.recv(); // until the Output is dropped
                drop(stream);
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        })
        .map_err(|e| OutputError::Failed(format!("cannot start device thread: {e}")))?;
    let (shared, ring, description) = ready_rx.recv().map_err(|_| {
        OutputError::Failed("device thread ended before opening the device".into())
    })??;
    let driver = DeviceDriver {
        stop: Some(stop_tx),
        thread: Some(thread),
    };
    Ok(Output::new(shared, ring, Box::new(driver), description))
}

/// The device buffer loaxa asks for: short enough to keep the start error small when the driver
/// gives no timestamps, long enough to ride out a busy Raspberry Pi.
const BUFFER_MS: u32 = 40;

type Opened = (Arc<super::output::Shared>, rtrb::Producer<f32>, String);

fn start_stream(name: Option<&str>) -> Result<(cpal::Stream, Opened), OutputError> {
    let host = cpal::default_host();
    let label = name.unwrap_or("default").to_owned();
    let device = match name {
        None => host.default_output_device(),
        Some(wanted) => host
            .output_devices()
            .map_err(|e| OutputError::NoDevices(e.to_string()))?
            .find(|d| d.name().is_ok_and(|n| n == wanted)),
    }
    .ok_or_else(|| OutputError::NoSuchDevice(label.clone()))?;
    let device_error = |message: String| OutputError::Device {
        name: label.clone(),
        message,
    };
    let supported = device
        .default_output_config()
        .map_err(|e| device_error(e.to_string()))?;
    let mut config: cpal::StreamConfig = supported.config();
    // A small, known buffer: the latency stays bounded (ALSA's pulse plugin would otherwise
    // buffer two seconds), and it can be estimated when the driver reports no timestamps.
    let buffer_frames = match supported.buffer_size() {
        cpal::SupportedBufferSize::Range { min, max } => {
            Some((config.sample_rate.0 / 1000 * BUFFER_MS).clamp(*min, *max))
        }
        cpal::SupportedBufferSize::Unknown => None,
    };
    if let Some(frames) = buffer_frames {
        config.buffer_size = cpal::BufferSize::Fixed(frames);
    }
    let format = Format {
        sample_rate: config.sample_rate.0,
        channels: config.channels,
    };
    let (shared, ring, feed) = Output::pair(format);
    let stream = match supported.sample_format() {
        cpal::SampleFormat::F32 => build::<f32>(&device, &config, buffer_frames, feed),
        cpal::SampleFormat::I16 => build::<i16>(&device, &config, buffer_frames, feed),
        cpal::SampleFormat::I32 => build::<i32>(&device, &config, buffer_frames, feed),
        cpal::SampleFormat::U16 => build::<u16>(&device, &config, buffer_frames, feed),
        other => return Err(device_error(format!("unsupported sample format {other}"))),
    }
    .map_err(|e| device_error(e.to_string()))?;
    stream.play().map_err(|e| device_error(e.to_string()))?;
    let description = format!(
        "{label} ({} Hz, {} ch)",
        format.sample_rate, format.channels
    );
    Ok((stream, (shared, ring, description)))
}

fn build<T: SizedSample + FromSample<f32>>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    buffer_frames: Option<u32>,
    mut feed: Feed,
) -> Result<cpal::Stream, cpal::BuildStreamError> {
    let format = feed.shared.format;
    let failures = Arc::clone(&feed.shared);
    // Grown (rarely) outside the steady state; a callback asks for the same size every time.
    let mut scratch: Vec<f32> = Vec::with_capacity(16_384);
    device.build_output_stream(
        config,
        move |data: &mut [T], info: &cpal::OutputCallbackInfo| {
            let timestamp = info.timestamp();
            let frames = (data.len() / usize::from(format.channels)) as u32;
            let latency = match timestamp.playback.duration_since(&timestamp.callback) {
                Some(latency) if !latency.is_zero() => latency.as_nanos() as i64,
                // No timestamps (ALSA's pulse plugin, for one): the device keeps its buffer
                // full, so this block's first frame is heard once the rest of the buffer has been.
                _ => buffer_frames.map_or(0, |b| {
                    frames_to_nanos(u64::from(b.saturating_sub(frames)), format.sample_rate)
                }),
            };
            scratch.resize(data.len(), 0.0);
            feed.fill(&mut scratch, unix_nanos(SystemTime::now()) + latency);
            for (out, &sample) in data.iter_mut().zip(&scratch) {
                *out = T::from_sample(sample);
            }
        },
        move |error| failures.fail(error.to_string()),
        None,
    )
}

struct DeviceDriver {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Driver for DeviceDriver {
    fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
