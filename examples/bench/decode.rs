//! Section 2: CPU seconds per hour of audio to decode a file into what the output takes
//! (44.1 kHz stereo), for loaxa's playback path, mpg123 and ffmpeg.
//!
//! All three run the same way, as a child process, and are charged the child's user + system
//! CPU (getrusage RUSAGE_CHILDREN around it), so start-up and every thread count alike.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use loaxa::audio::convert::Source;

use crate::Paths;
use crate::media::Media;
use crate::report::{Cell, Report, Row};
use crate::sys::{children_cpu, env_usize, median, which};

const SECTION: &str = "2 decode cost";
const OUT_RATE: u32 = 44100;
/// A schedule volume below 1, so the gain stage does real work.
const GAIN: f32 = 0.8;

/// `bench decode FILE`: decode, convert and apply gain as the player does, then exit.
pub fn child(path: Option<&str>) -> i32 {
    let Some(path) = path else {
        eprintln!("usage: bench decode FILE");
        return 2;
    };
    let mut source = match Source::open(Path::new(path), OUT_RATE, 2, GAIN) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let mut block = Vec::new();
    let mut frames = 0usize;
    loop {
        match source.fill(&mut block) {
            Ok(true) => {
                frames += block.len() / 2;
                block.clear();
            }
            Ok(false) => break,
            Err(e) => {
                eprintln!("{e}");
                return 1;
            }
        }
    }
    println!("{frames}");
    0
}

/// CPU time of one run of `program args…`, output discarded.
fn child_cpu(program: &Path, args: &[&str]) -> Result<Duration, String> {
    let before = children_cpu();
    let status = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let cpu = children_cpu().saturating_sub(before);
    if status.success() {
        Ok(cpu)
    } else {
        Err(format!("{} failed ({status})", program.display()))
    }
}

pub fn run(_paths: &Paths, media: Option<&Media>, report: &mut Report) -> Vec<Row> {
    let Some(media) = media else {
        return vec![Row::failed(SECTION, "no test media (ffmpeg missing?)")];
    };
    let repeat = env_usize("BENCH_DECODE_REPEAT", 3).max(1);
    let exe = std::env::current_exe().unwrap_or_default();
    let mpg123 = which("mpg123");
    let ffmpeg = which("ffmpeg");
    let mut rows = Vec::new();
    for file in &media.long {
        let path = file.path.to_str().unwrap_or_default();
        eprintln!("[decode] {} ×{repeat}", file.label);
        let per_hour = |cpu: Duration| cpu.as_secs_f64() * 3600.0 / file.seconds;
        let mut runs: [Vec<f64>; 3] = Default::default();
        let mut failures: [Option<String>; 3] = Default::default();
        // Interleaved, so a slow patch of the machine touches all three alike.
        for _ in 0..repeat {
            let tools: [Option<(&Path, Vec<&str>)>; 3] = [
                Some((exe.as_path(), vec!["decode", path])),
                mpg123
                    .as_deref()
                    .filter(|_| file.mpeg)
                    .map(|p| (p, vec!["-q", "-s", "-r", "44100", "--stereo", path])),
                ffmpeg.as_deref().map(|p| {
                    (
                        p,
                        vec![
                            "-v", "error", "-nostdin", "-i", path, "-ac", "2", "-ar", "44100",
                            "-f", "null", "-",
                        ],
                    )
                }),
            ];
            for (i, tool) in tools.iter().enumerate() {
                if let Some((program, args)) = tool {
                    match child_cpu(program, args) {
                        Ok(cpu) => runs[i].push(per_hour(cpu)),
                        Err(e) => failures[i] = Some(e),
                    }
                }
            }
        }
        let cell = |i: usize, missing: &str| -> Cell {
            if let Some(e) = &failures[i] {
                Cell::na(e.clone())
            } else if runs[i].is_empty() {
                Cell::na(missing)
            } else {
                Cell::new(median(&mut runs[i].clone()), "CPU s/h")
            }
        };
        let loaxa = cell(0, "");
        if file.mpeg {
            let missing = if mpg123.is_none() {
                "mpg123 not installed"
            } else {
                "mpg123 failed"
            };
            rows.push(
                Row::new(SECTION, format!("{} vs mpg123", file.label), loaxa.clone())
                    .versus("mpg123", cell(1, missing))
                    .ratio_goal("≤ 1.1× mpg123", 1.1),
            );
        }
        rows.push(
            Row::new(SECTION, format!("{} vs ffmpeg", file.label), loaxa)
                .versus("ffmpeg", cell(2, "ffmpeg not installed")),
        );
    }
    report.note(format!(
        "Decode cost: {}-minute files made by ffmpeg from a speech-like source, each decoded to \
         44.1 kHz stereo, median of {repeat} runs, as CPU seconds (user + system of the child \
         process) per hour of audio. loaxa = this bench binary run as `bench decode FILE`: \
         `Source::open(FILE, 44100, 2, 0.8)` and `fill` to the end (symphonia, rubato FFT \
         resampler where the rate differs, gain). mpg123 = `mpg123 -q -s -r 44100 --stereo FILE \
         >/dev/null` (its own cheaper N-to-M resampler for the 22.05 kHz file); ffmpeg = `ffmpeg \
         -i FILE -ac 2 -ar 44100 -f null -` (swresample). mpg123 reads MPEG audio only.",
        crate::media::LONG_SECONDS / 60
    ));
    rows
}
