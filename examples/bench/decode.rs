//! Section 2: CPU seconds per hour of audio to decode a file into what the output takes
//! (44.1 kHz stereo), for loaxa's playback path, mpg123 and ffmpeg; and to measure its
//! loudness, for loaxa's `measure_file` and ffmpeg's ebur128 filter.
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

/// `bench loudness FILE`: measure FILE's loudness as a box does once per file, then exit.
pub fn loudness_child(path: Option<&str>) -> i32 {
    let Some(path) = path else {
        eprintln!("usage: bench loudness FILE");
        return 2;
    };
    match loaxa_media::loudness::measure_file(Path::new(path)) {
        Ok(loudness) => {
            println!("{loudness:?}");
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
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
        rows.push(loudness_row(file, path, repeat, &exe, ffmpeg.as_deref()));
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
    report.note(format!(
        "Loudness cost: the same files, median of {repeat} runs, CPU seconds per hour of audio \
         for decoding and measuring integrated loudness and true peak. loaxa = this bench \
         binary run as `bench loudness FILE`: `loaxa_media::loudness::measure_file` (symphonia, \
         the ebur128 crate); ffmpeg = `ffmpeg -i FILE -af ebur128=peak=true -f null -` (which \
         resamples to 192 kHz for the true peak)."
    ));
    rows
}

/// CPU per hour of audio to measure `file`'s loudness, loaxa against ffmpeg, interleaved.
fn loudness_row(
    file: &crate::media::TestFile,
    path: &str,
    repeat: usize,
    exe: &Path,
    ffmpeg: Option<&Path>,
) -> Row {
    eprintln!("[loudness] {} ×{repeat}", file.label);
    let per_hour = |cpu: Duration| cpu.as_secs_f64() * 3600.0 / file.seconds;
    let ffmpeg_args = [
        "-v",
        "error",
        "-nostdin",
        "-i",
        path,
        "-af",
        "ebur128=peak=true",
        "-f",
        "null",
        "-",
    ];
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut our_failure, mut their_failure) = (None, None);
    for _ in 0..repeat {
        match child_cpu(exe, &["loudness", path]) {
            Ok(cpu) => ours.push(per_hour(cpu)),
            Err(e) => our_failure = Some(e),
        }
        if let Some(ffmpeg) = ffmpeg {
            match child_cpu(ffmpeg, &ffmpeg_args) {
                Ok(cpu) => theirs.push(per_hour(cpu)),
                Err(e) => their_failure = Some(e),
            }
        }
    }
    let cell = |failure: Option<String>, runs: &mut Vec<f64>, missing: &str| match failure {
        Some(e) => Cell::na(e),
        None if runs.is_empty() => Cell::na(missing),
        None => Cell::new(median(runs), "CPU s/h"),
    };
    Row::new(
        SECTION,
        format!("{} loudness vs ffmpeg ebur128", file.label),
        cell(our_failure, &mut ours, ""),
    )
    .versus(
        "ffmpeg",
        cell(their_failure, &mut theirs, "ffmpeg not installed"),
    )
}
