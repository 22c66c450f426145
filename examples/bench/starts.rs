//! Section 1: how close to its scheduled instant each programme's first sample goes out.
//!
//! loaxa: N one-off programmes in one schedule file, one `loaxa daemon --output wav:FILE` run;
//! the WAV's sample 0 instant is in FILE.json, so each tone's onset gives its first sample's
//! wall-clock instant. The DIY way: a loop that sleeps until each instant and starts
//! `mpg123 -q -s`, timing when the first non-silent sample reaches the reader.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use loaxa::audio::convert::Source;

use crate::Paths;
use crate::daemon::BoxDir;
use crate::media::Media;
use crate::report::{Cell, Report, Row};
use crate::sys::{env_usize, percentile, which};

const SECTION: &str = "1 start accuracy";
const RATE: u32 = 44100;
/// Time for the daemon to start and load its schedule before the first programme (it prepares
/// each one 2 s ahead).
const LEAD_IN: Duration = Duration::from_secs(5);
/// DIY programmes are this far apart: mpg123 starts and decodes the 0.3 s tone in a few
/// milliseconds, and the section must stay within about three minutes.
const DIY_SPACING_NS: i64 = 250_000_000;

/// Where the tone's onset is in the file as loaxa decodes it, and the level that marks it.
struct Reference {
    onset_frames: usize,
    threshold: f32,
}

/// Runs the section; `alongside` runs on another thread while loaxa airs its programmes (and
/// is done before the DIY loop starts, which is timed alone).
pub fn run(
    paths: &Paths,
    media: Option<&Media>,
    report: &mut Report,
    alongside: impl FnOnce() + Send,
) -> Vec<Row> {
    let n = env_usize("BENCH_STARTS", 100).max(1);
    let Some(media) = media else {
        alongside();
        return vec![Row::failed(SECTION, "no test media (ffmpeg missing?)")];
    };
    let reference = match reference(&media.tone) {
        Ok(r) => r,
        Err(e) => {
            alongside();
            return vec![Row::failed(SECTION, &e)];
        }
    };
    eprintln!(
        "[starts] loaxa: {n} programmes 1–2 s apart (about {} s)",
        n * 3 / 2 + 8
    );
    let loaxa = std::thread::scope(|scope| {
        let side = scope.spawn(alongside);
        let loaxa = loaxa_errors(paths, media, n, &reference);
        let _ = side.join();
        loaxa
    });
    eprintln!("[starts] DIY loop with mpg123: {n} starts 0.25 s apart");
    let diy = diy_errors(&media.tone, n, &reference);

    report.note(format!(
        "Start accuracy: {n} one-off programmes of a 0.3 s 1 kHz MP3 tone in one schedule file, \
         alternately 1 s and 2 s apart (so each is prepared behind the previous one, not alone), \
         aired by one `loaxa daemon --output wav:FILE` run. Error = instant of the tone's first \
         sample in the WAV (FILE.json's start_unix_ns + index / rate, onset found at a quarter of \
         the tone's peak, minus the onset's offset in loaxa's own decode of the file) − the \
         scheduled instant; the table gives |error|. The cpal path is not measured: ALSA's \
         `null` PCM is not paced by a clock, so it would time nothing."
    ));
    report.note(
        "DIY start: the best case of a cron-or-shell loop: a Rust thread sleeps until each \
         instant, spawns `mpg123 -q -s tone.mp3` and reads its raw output from a pipe; error = \
         when the first non-silent sample's bytes arrived − the instant (the earliest a sound \
         card could get them; its buffer latency is not added, which favours mpg123; cron \
         itself only starts jobs on the minute, give or take its own latency)."
            .to_string(),
    );
    if let Ok(errors) = &loaxa {
        let mean = errors.signed.iter().sum::<f64>() / errors.signed.len().max(1) as f64;
        let (low, high) = errors
            .signed
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), e| (l.min(*e), h.max(*e)));
        report.note(format!(
            "loaxa's signed start errors: mean {mean:+.4} ms, from {low:+.4} to {high:+.4} ms \
             (positive = late; one frame is {:.4} ms); as-run log: {}. On `wav:` the output is \
             clocked by the same system clock the gate is set against, so this measures the \
             daemon's chain (agenda, preparation, player, gate), not a sound card's latency \
             estimate.",
            1000.0 / f64::from(RATE),
            errors.outcomes
        ));
    }
    rows(n, &loaxa, &diy)
}

struct Errors {
    /// Signed errors, ms, of the programmes found.
    signed: Vec<f64>,
    outcomes: String,
}

impl Errors {
    fn abs_sorted(&self) -> Vec<f64> {
        let mut abs: Vec<f64> = self.signed.iter().map(|e| e.abs()).collect();
        abs.sort_by(f64::total_cmp);
        abs
    }
}

fn rows(n: usize, loaxa: &Result<Errors, String>, diy: &Result<Errors, String>) -> Vec<Row> {
    let stat = |errors: &Result<Errors, String>, p: f64| match errors {
        Ok(e) if !e.signed.is_empty() => Cell::new(percentile(&e.abs_sorted(), p), "ms"),
        Ok(_) => Cell::na("no programme heard"),
        Err(why) => Cell::na(why.clone()),
    };
    let heard = |errors: &Result<Errors, String>| match errors {
        Ok(e) => Cell::new(e.signed.len() as f64, &format!("of {n}")),
        Err(why) => Cell::na(why.clone()),
    };
    let tool = "sleep + mpg123";
    vec![
        Row::new(SECTION, "start error p50", stat(loaxa, 50.0)).versus(tool, stat(diy, 50.0)),
        Row::new(SECTION, "start error p99", stat(loaxa, 99.0))
            .versus(tool, stat(diy, 99.0))
            .goal("≤ 5 ms", |v| v <= 5.0),
        Row::new(SECTION, "start error max", stat(loaxa, 100.0)).versus(tool, stat(diy, 100.0)),
        Row::new(SECTION, "programmes heard", heard(loaxa)).versus(tool, heard(diy)),
    ]
}

fn reference(tone: &Path) -> Result<Reference, String> {
    let mut source = Source::open(tone, RATE, 2, 1.0).map_err(|e| e.to_string())?;
    let mut samples = Vec::new();
    while source.fill(&mut samples).map_err(|e| e.to_string())? {}
    let left: Vec<f32> = samples.iter().step_by(2).copied().collect();
    let peak = left.iter().fold(0.0f32, |p, s| p.max(s.abs()));
    if peak < 0.01 {
        return Err(format!("{}: the tone is silent", tone.display()));
    }
    let threshold = peak / 4.0;
    let onset_frames = left
        .iter()
        .position(|s| s.abs() > threshold)
        .unwrap_or_default();
    Ok(Reference {
        onset_frames,
        threshold,
    })
}

fn unix_ns(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

fn loaxa_errors(
    paths: &Paths,
    media: &Media,
    n: usize,
    reference: &Reference,
) -> Result<Errors, String> {
    let media_dir = media.tone.parent().unwrap_or(Path::new("."));
    let box_dir = BoxDir::create(&paths.out.join("starts"), &paths.loaxa, media_dir)?;
    let first = (unix_ns(SystemTime::now() + LEAD_IN) / 1_000_000_000 + 1) * 1_000_000_000;
    // Alternating 1 s and 2 s gaps: 1.5 s on average, and two different preparation margins.
    let instants: Vec<i64> = (0..n as i64)
        .map(|i| first + (i / 2 * 3 + i % 2) * 1_000_000_000)
        .collect();
    let mut schedule = String::from("timezone = \"UTC\"\n");
    for (i, instant) in instants.iter().enumerate() {
        let at = chrono::DateTime::from_timestamp(instant / 1_000_000_000, 0)
            .ok_or("bad instant")?
            .format("%Y-%m-%dT%H:%M:%S");
        schedule += &format!(
            "\n[[program]]\nid = \"start-{i:03}\"\nat = [\"{at}\"]\nitems = [\"tone.mp3\"]\n"
        );
    }
    box_dir.write_schedule("starts.toml", &schedule)?;
    let wav = box_dir.dir.join("out.wav");
    let mut daemon = box_dir.start(&format!("wav:{}", wav.display()))?;
    let end = instants.last().copied().unwrap_or(first) + 2_000_000_000;
    while unix_ns(SystemTime::now()) < end {
        if !daemon.is_running() {
            return Err(format!(
                "the daemon stopped early; see {}",
                box_dir.dir.join("daemon.log").display()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    if !daemon.stop() {
        eprintln!("[starts] the daemon did not stop cleanly");
    }
    let outcomes = summarise(&box_dir.outcomes());
    let (samples, rate, start_ns) = read_wav(&wav)?;
    let mut signed = Vec::with_capacity(n);
    for instant in &instants {
        let expected = (instant - start_ns) as f64 * f64::from(rate) / 1e9;
        let from = (expected - 0.2 * f64::from(rate)).max(0.0) as usize;
        let to = ((expected + 0.6 * f64::from(rate)) as usize).min(samples.len());
        if let Some(k) = samples
            .get(from..to)
            .and_then(|window| window.iter().position(|s| s.abs() > reference.threshold))
        {
            let first_sample = (from + k) as f64 - reference.onset_frames as f64;
            signed.push((first_sample - expected) * 1000.0 / f64::from(rate));
        }
    }
    Ok(Errors { signed, outcomes })
}

/// "100 aired" or "98 aired, 2 missed".
fn summarise(outcomes: &[String]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for outcome in outcomes {
        match counts.iter_mut().find(|(o, _)| o == outcome) {
            Some((_, c)) => *c += 1,
            None => counts.push((outcome.clone(), 1)),
        }
    }
    if counts.is_empty() {
        return "empty".into();
    }
    counts
        .iter()
        .map(|(o, c)| format!("{c} {o}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Left channel, sample rate, and sample 0's wall-clock instant (ns).
fn read_wav(wav: &Path) -> Result<(Vec<f32>, u32, i64), String> {
    let json_path = loaxa::audio::paced::timeline_path(wav);
    let timeline: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&json_path)
            .map_err(|e| format!("{}: {e}", json_path.display()))?,
    )
    .map_err(|e| e.to_string())?;
    let start_ns = timeline["start_unix_ns"]
        .as_i64()
        .ok_or("no start_unix_ns in the WAV's timeline")?;
    let mut reader = hound::WavReader::open(wav).map_err(|e| format!("{}: {e}", wav.display()))?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let left = reader
        .samples::<i16>()
        .step_by(channels)
        .map(|s| s.map(|v| f32::from(v) / 32768.0))
        .collect::<Result<Vec<f32>, _>>()
        .map_err(|e| e.to_string())?;
    Ok((left, spec.sample_rate, start_ns))
}

fn diy_errors(tone: &Path, n: usize, reference: &Reference) -> Result<Errors, String> {
    let mpg123 = which("mpg123").ok_or("mpg123 not installed")?;
    let threshold = (reference.threshold * 32768.0) as i32;
    let first = unix_ns(SystemTime::now() + Duration::from_secs(1));
    let mut signed = Vec::with_capacity(n);
    for i in 0..n as i64 {
        let instant = first + i * DIY_SPACING_NS;
        let wait = instant - unix_ns(SystemTime::now());
        if wait > 0 {
            std::thread::sleep(Duration::from_nanos(wait as u64));
        }
        let mut child = Command::new(&mpg123)
            .args(["-q", "-s"])
            .arg(tone)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("mpg123: {e}"))?;
        let mut pipe = child.stdout.take().ok_or("no pipe")?;
        let mut buffer = vec![0u8; 1 << 16];
        let mut carry: Option<u8> = None;
        let mut heard: Option<i64> = None;
        loop {
            let got = pipe.read(&mut buffer).map_err(|e| e.to_string())?;
            let arrived = unix_ns(SystemTime::now());
            if got == 0 {
                break;
            }
            if heard.is_some() {
                continue; // drain to the end so mpg123 exits normally
            }
            // Raw output is native-endian s16; a sample may straddle two reads.
            let mut bytes: Vec<u8> = carry.take().into_iter().collect();
            bytes.extend_from_slice(&buffer[..got]);
            if bytes.len() % 2 == 1 {
                carry = bytes.pop();
            }
            if bytes
                .chunks_exact(2)
                .any(|b| i32::from(i16::from_ne_bytes([b[0], b[1]])).abs() > threshold)
            {
                heard = Some(arrived);
            }
        }
        let _ = child.wait();
        if let Some(arrived) = heard {
            signed.push((arrived - instant) as f64 / 1e6);
        }
    }
    Ok(Errors {
        signed,
        outcomes: String::new(),
    })
}
