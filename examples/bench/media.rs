//! Test audio, made once with ffmpeg into `target/bench/media/` and reused by later runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Paths;
use crate::sys::which;

/// Length of the decode-cost files: long enough that start-up costs vanish in the figure.
pub const LONG_SECONDS: u32 = 600;
/// The distribution test's bulletin: 125 s at 128 kb/s is about 2 MB, 31 chunks of 64 KiB.
const BULLETIN_SECONDS: u32 = 125;
/// Changing how files are made must remake them; the recipe text is stored beside them.
const RECIPE: &str = "v1: speech-like 220/247 Hz tones, 3.5 Hz syllable tremolo, pink noise";

pub struct TestFile {
    pub label: &'static str,
    pub path: PathBuf,
    pub seconds: f64,
    /// mpg123 decodes MPEG audio only.
    pub mpeg: bool,
}

pub struct Media {
    /// 0.3 s of 1 kHz at half scale, 44.1 kHz mono MP3: a sharp onset to time starts by.
    pub tone: PathBuf,
    pub long: Vec<TestFile>,
    /// About 2 MB of 128 kb/s stereo MP3.
    pub bulletin: PathBuf,
    /// The typical bulletin of the decode set (64 kb/s mono), aired in the footprint section.
    pub airing: PathBuf,
}

impl Media {
    pub fn prepare(paths: &Paths) -> Result<Media, String> {
        let dir = paths.out.join("media");
        let recipe_file = dir.join("RECIPE");
        let fresh = std::fs::read_to_string(&recipe_file).is_ok_and(|r| r == RECIPE);
        let media = Media::layout(&dir);
        let all: Vec<&Path> = [&media.tone, &media.bulletin]
            .into_iter()
            .map(PathBuf::as_path)
            .chain(media.long.iter().map(|f| f.path.as_path()))
            .collect();
        if fresh && all.iter().all(|p| p.metadata().is_ok_and(|m| m.len() > 0)) {
            return Ok(media);
        }
        let ffmpeg = which("ffmpeg").ok_or("ffmpeg not installed")?;
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        eprintln!("[media] making test files with ffmpeg (once; about a minute)");
        let ff = |args: &[&str]| -> Result<(), String> {
            let out = Command::new(&ffmpeg)
                .args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
                .args(args)
                .output()
                .map_err(|e| format!("ffmpeg: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "ffmpeg {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        };
        let s = |p: &Path| p.display().to_string();
        ff(&[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=1000:sample_rate=44100:duration=0.3",
            "-af",
            "volume=4",
            "-ac",
            "1",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            &s(&media.tone),
        ])?;
        // Speech-like rather than pure tones: voiced harmonics with a syllable-rate envelope
        // over noise, so the encoders spend bits the way they do on a bulletin.
        let source = dir.join("source.wav");
        let voice = format!(
            "aevalsrc=(0.25*sin(2*PI*220*t)+0.12*sin(2*PI*660*t)+0.06*sin(2*PI*1320*t))\
             |(0.25*sin(2*PI*247*t)+0.12*sin(2*PI*741*t)+0.06*sin(2*PI*1482*t)):s=44100:d={LONG_SECONDS}"
        );
        let noise = format!("anoisesrc=d={LONG_SECONDS}:c=pink:r=44100:a=0.08");
        ff(&[
            "-f",
            "lavfi",
            "-i",
            &voice,
            "-f",
            "lavfi",
            "-i",
            &noise,
            "-filter_complex",
            "[1]asplit[n1][n2];[n1][n2]amerge=inputs=2[n];[0][n]amix=inputs=2:normalize=0,tremolo=f=3.5:d=0.8[a]",
            "-map",
            "[a]",
            "-c:a",
            "pcm_s16le",
            &s(&source),
        ])?;
        let encodings: [&[&str]; 4] = [
            &[
                "-ac",
                "2",
                "-ar",
                "44100",
                "-c:a",
                "libmp3lame",
                "-b:a",
                "128k",
            ],
            &[
                "-ac",
                "1",
                "-ar",
                "22050",
                "-c:a",
                "libmp3lame",
                "-b:a",
                "64k",
            ],
            &["-ac", "2", "-ar", "44100", "-c:a", "aac", "-b:a", "96k"],
            &["-ac", "2", "-ar", "44100", "-c:a", "flac"],
        ];
        for (file, encoding) in media.long.iter().zip(encodings) {
            let mut args = vec!["-i", source.to_str().unwrap_or_default()];
            args.extend_from_slice(encoding);
            let out = s(&file.path);
            args.push(&out);
            ff(&args)?;
        }
        let bulletin_seconds = BULLETIN_SECONDS.to_string();
        ff(&[
            "-i",
            &s(&source),
            "-t",
            &bulletin_seconds,
            "-ac",
            "2",
            "-ar",
            "44100",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            &s(&media.bulletin),
        ])?;
        let _ = std::fs::remove_file(&source);
        std::fs::write(&recipe_file, RECIPE).map_err(|e| e.to_string())?;
        Ok(media)
    }

    fn layout(dir: &Path) -> Media {
        let seconds = f64::from(LONG_SECONDS);
        let long = vec![
            TestFile {
                label: "MP3 128 kb/s stereo 44.1 kHz",
                path: dir.join("long-mp3-128k-stereo.mp3"),
                seconds,
                mpeg: true,
            },
            TestFile {
                label: "MP3 64 kb/s mono 22.05 kHz (typical bulletin)",
                path: dir.join("long-mp3-64k-mono.mp3"),
                seconds,
                mpeg: true,
            },
            TestFile {
                label: "AAC-LC 96 kb/s stereo (.m4a)",
                path: dir.join("long-aac-96k-stereo.m4a"),
                seconds,
                mpeg: false,
            },
            TestFile {
                label: "FLAC 16-bit stereo 44.1 kHz",
                path: dir.join("long-flac-stereo.flac"),
                seconds,
                mpeg: false,
            },
        ];
        Media {
            tone: dir.join("tone.mp3"),
            airing: long[1].path.clone(),
            long,
            bulletin: dir.join("bulletin-2mb.mp3"),
        }
    }
}
