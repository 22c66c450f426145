//! How loud each audio file is, measured once (EBU R128, `loaxa_media::loudness`) and remembered in
//! the store, so that a quiet phone recording and a loud studio file come out of the
//! loudspeakers at the same level without decoding anything twice at air time.
//!
//! Measuring decodes the whole file, which for a three-hour recording takes seconds: it runs on
//! the worker pool (`workers`), never on the daemon's loop. The loop only looks figures up; a
//! file not measured yet airs with a provisional gain (see [`provisional_gain`]).

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use tokio::sync::mpsc::UnboundedSender;

use crate::store::Store;
use crate::workers::{WorkerError, Workers};
use loaxa_media::decode::Decoder;
use loaxa_media::loudness::{Loudness, LoudnessMeter, playback_gain};

/// What identifies a file's content cheaply: a replaced or edited file is measured again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub modified: i64,
}

impl Fingerprint {
    pub fn of(path: &Path) -> Option<Fingerprint> {
        let meta = std::fs::metadata(path).ok()?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i64);
        Some(Fingerprint {
            size: meta.len(),
            modified,
        })
    }
}

/// How long the decoded audio lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// Decoded to its end.
    Exactly(Duration),
    /// Decoding stopped here, the file going on: it is longer than anyone wanted to know.
    MoreThan(Duration),
}

/// One file measured on a worker, for the loop to keep.
#[derive(Debug, Clone)]
pub struct Measured {
    pub path: PathBuf,
    /// The file as it was measured; None if it could not even be looked at.
    pub fingerprint: Option<Fingerprint>,
    pub result: Result<(Loudness, Length), String>,
    pub took: Duration,
}

impl Measured {
    /// The stand-in answer for a measurement that crashed.
    pub fn crashed(path: &Path) -> Measured {
        Measured {
            path: path.to_owned(),
            fingerprint: None,
            result: Err("the measurement crashed".into()),
            took: Duration::ZERO,
        }
    }
}

/// Decodes `path` and measures it (slow: on a worker). With `stop_after`, decoding stops once
/// that much audio has come out, and the length is [`Length::MoreThan`] it.
pub fn measure(path: &Path, stop_after: Option<Duration>) -> Measured {
    let started = Instant::now();
    let fingerprint = Fingerprint::of(path);
    let result = decode_and_measure(path, stop_after).map_err(|e| e.to_string());
    Measured {
        path: path.to_owned(),
        fingerprint,
        result,
        took: started.elapsed(),
    }
}

fn decode_and_measure(
    path: &Path,
    stop_after: Option<Duration>,
) -> Result<(Loudness, Length), loaxa_media::decode::AudioError> {
    let mut decoder = Decoder::open(path)?;
    let rate = u64::from(decoder.sample_rate().max(1));
    let channels = usize::from(decoder.channels().max(1));
    let limit = stop_after.map(|d| (d.as_nanos() * u128::from(rate) / 1_000_000_000) as u64);
    let mut meter = LoudnessMeter::new(decoder.sample_rate(), decoder.channels());
    let mut frames: u64 = 0;
    let length = |frames: u64| {
        Duration::from_nanos((u128::from(frames) * 1_000_000_000 / u128::from(rate)) as u64)
    };
    while let Some(block) = decoder.next_block()? {
        meter.push(block);
        frames += (block.len() / channels) as u64;
        if limit.is_some_and(|limit| frames > limit) {
            return Ok((meter.finish(), Length::MoreThan(length(frames))));
        }
    }
    Ok((meter.finish(), Length::Exactly(length(frames))))
}

/// The file's loudness, if it was measured as it is now. A stat and one indexed query: cheap
/// enough for the loop.
pub fn known(store: &Store, path: &Path) -> Option<Loudness> {
    let print = Fingerprint::of(path)?;
    known_as(store, path, print)
}

fn known_as(store: &Store, path: &Path, print: Fingerprint) -> Option<Loudness> {
    store
        .loudness(path, print.size, print.modified)
        .ok()
        .flatten()
}

/// Logs a measurement and stores it, on the loop.
pub fn keep(store: &mut Store, measured: &Measured) {
    let took_ms = measured.took.as_millis() as u64;
    match (&measured.result, measured.fingerprint) {
        (Ok((loudness, _)), Some(print)) => {
            tracing::info!(
                path = %measured.path.display(),
                lufs = loudness.integrated_lufs.map_or("silent".into(), |l| format!("{l:.1}")),
                true_peak_dbtp = loudness.true_peak_dbtp.map_or("-".into(), |p| format!("{p:.1}")),
                took_ms,
                "loudness measured"
            );
            if let Err(e) =
                store.save_loudness(&measured.path, print.size, print.modified, loudness)
            {
                tracing::warn!(error = %e, "loudness not stored; it will be measured again");
            }
        }
        (Ok(_), None) => {}
        (Err(reason), _) => {
            tracing::warn!(path = %measured.path.display(), reason = %reason, took_ms, "loudness not measured; the file airs unchanged")
        }
    }
}

/// The gain a file airs with while its loudness is unknown: what the district measured, for a
/// bulletin whose manifest says (`loudness_lufs`), else none (unity). The peak is not known, so
/// only the target counts.
pub fn provisional_gain(declared_lufs: Option<f64>, target_lufs: f64, ceiling_dbtp: f64) -> f32 {
    let declared = Loudness {
        integrated_lufs: declared_lufs,
        true_peak_dbtp: None,
    };
    playback_gain(&declared, target_lufs, ceiling_dbtp)
}

/// The files waiting to be measured, fed to the workers a few at a time: a reload naming a
/// thousand new files queues them here, and the pool's bounded queue keeps room for a reload or
/// a bulletin arriving meanwhile.
#[derive(Debug, Default)]
pub struct Levels {
    waiting: VecDeque<PathBuf>,
    /// Waiting here or handed to a worker.
    pending: HashSet<PathBuf>,
    /// Handed to a worker and not back yet.
    in_pool: usize,
}

/// Measurements handed to the pool at once: one per thread keeps both busy.
const IN_POOL: usize = crate::workers::THREADS;

impl Levels {
    /// Asks for `path` to be measured unless the store knows it as it is or it is under way.
    pub fn want(&mut self, store: &Store, path: &Path) {
        if self.pending.contains(path) {
            return;
        }
        if Fingerprint::of(path).is_some_and(|print| known_as(store, path, print).is_some()) {
            return;
        }
        self.pending.insert(path.to_owned());
        self.waiting.push_back(path.to_owned());
    }

    /// Hands waiting files to the workers, a few at a time.
    pub fn feed<R: Send + 'static>(
        &mut self,
        workers: &Workers,
        reply: &UnboundedSender<R>,
        wrap: fn(Measured) -> R,
    ) {
        while self.in_pool < IN_POOL
            && let Some(path) = self.waiting.pop_front()
        {
            let job_path = path.clone();
            let submitted = workers.submit(reply, wrap(Measured::crashed(&path)), move || {
                wrap(measure(&job_path, None))
            });
            match submitted {
                Ok(()) => self.in_pool += 1,
                Err(WorkerError::Full) => {
                    self.waiting.push_front(path);
                    return;
                }
                Err(WorkerError::Stopped) => {
                    tracing::error!("the workers have stopped; files stay unmeasured");
                    self.waiting.clear();
                    self.pending.clear();
                    self.in_pool = 0;
                    return;
                }
            }
        }
    }

    /// A measurement came back.
    pub fn done(&mut self, path: &Path) {
        self.pending.remove(path);
        self.in_pool = self.in_pool.saturating_sub(1);
    }
}

/// "−18.7 LUFS, true peak −0.1 dBTP", for people.
pub fn describe(loudness: &Loudness) -> String {
    match (loudness.integrated_lufs, loudness.true_peak_dbtp) {
        (Some(lufs), Some(peak)) => format!("{lufs:.1} LUFS, true peak {peak:.1} dBTP"),
        (Some(lufs), None) => format!("{lufs:.1} LUFS"),
        _ => "silent".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
    }

    #[test]
    fn a_measurement_gives_the_loudness_and_the_whole_length() {
        let measured = measure(&repo("tests/fixtures/tone.flac"), None);
        let (loudness, length) = measured.result.unwrap();
        let reference =
            loaxa_media::loudness::measure_file(&repo("tests/fixtures/tone.flac")).unwrap();
        assert_eq!(loudness, reference);
        let Length::Exactly(length) = length else {
            panic!("{length:?}")
        };
        let probed = loaxa_media::decode::probe(&repo("tests/fixtures/tone.flac")).unwrap();
        assert_eq!(length.as_millis(), probed.duration.as_millis());
        assert!(measured.fingerprint.is_some());
    }

    #[test]
    fn decoding_stops_soon_after_the_length_asked_for() {
        let measured = measure(&repo("audio/tiem-chung.mp3"), Some(Duration::from_secs(2)));
        let (_, length) = measured.result.unwrap();
        let Length::MoreThan(decoded) = length else {
            panic!("{length:?}")
        };
        assert!(
            decoded > Duration::from_secs(2) && decoded < Duration::from_millis(2200),
            "{decoded:?}"
        );
    }

    #[test]
    fn a_file_that_does_not_decode_is_reported_not_measured() {
        let measured = measure(&repo("tests/fixtures/text.mp3"), None);
        assert!(measured.result.unwrap_err().contains("text.mp3"));
    }

    #[test]
    fn the_provisional_gain_is_the_manifests_loudness_or_unity() {
        assert_eq!(provisional_gain(None, -16.0, -1.0), 1.0);
        let gain = provisional_gain(Some(-22.0), -16.0, -1.0);
        assert!(
            (20.0 * f64::from(gain).log10() - 6.0).abs() < 0.01,
            "{gain}"
        );
    }

    #[test]
    fn a_file_is_queued_once_and_fed_to_the_workers_a_few_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut levels = Levels::default();
        let files = [
            "tests/fixtures/tone.flac",
            "tests/fixtures/tone.ogg",
            "tests/fixtures/tone.wav",
        ];
        for file in files {
            levels.want(&store, &repo(file));
            levels.want(&store, &repo(file));
        }
        assert_eq!(levels.waiting.len(), 3);
        let workers = Workers::start(1, 8).unwrap();
        let (reply, mut results) = tokio::sync::mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut measured = Vec::new();
        levels.feed(&workers, &reply, |m| m);
        // The rest wait here, leaving the pool's queue room for other work.
        assert_eq!(
            (levels.in_pool, levels.waiting.len()),
            (IN_POOL, 3 - IN_POOL)
        );
        while measured.len() < 3 {
            let m: Measured = runtime.block_on(results.recv()).unwrap();
            levels.done(&m.path);
            measured.push(m.path);
            levels.feed(&workers, &reply, |m| m);
        }
        measured.sort();
        let mut expected: Vec<PathBuf> = files.iter().map(|f| repo(f)).collect();
        expected.sort();
        assert_eq!(measured, expected);
        assert!(levels.pending.is_empty() && levels.waiting.is_empty());
    }
}
