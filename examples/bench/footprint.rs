//! Section 3: what the daemon costs the box: memory and CPU idle with a big schedule, and while
//! airing; and the size of the binary.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{Timelike, Utc};

use crate::Paths;
use crate::daemon::BoxDir;
use crate::media::Media;
use crate::report::{Cell, Report, Row};
use crate::sys::{MB, ProcSample, env_usize, proc_sample, which};

const SECTION: &str = "3 footprint";
const PROGRAMMES: usize = 500;
/// After start-up (schedule load, store, threads) the daemon is left alone this long before
/// the first reading.
const SETTLE: Duration = Duration::from_secs(3);
/// Raw 16-bit stereo at 44.1 kHz: the rate a sound card takes audio.
const BYTES_PER_SECOND: u64 = 44100 * 2 * 2;

#[derive(Clone, Copy)]
struct Usage {
    cpu_percent: f64,
    rss_bytes: u64,
}

fn usage(before: ProcSample, after: ProcSample, wall: Duration) -> Usage {
    Usage {
        cpu_percent: after.cpu.saturating_sub(before.cpu).as_secs_f64() / wall.as_secs_f64()
            * 100.0,
        rss_bytes: after.rss_bytes,
    }
}

/// Reads a process twice, `window` apart.
fn measure(pid: u32, window: Duration) -> Result<Usage, String> {
    let gone = || format!("process {pid} is gone");
    let before = proc_sample(pid).ok_or_else(gone)?;
    let start = Instant::now();
    std::thread::sleep(window);
    let after = proc_sample(pid).ok_or_else(gone)?;
    Ok(usage(before, after, start.elapsed()))
}

pub fn run(paths: &Paths, media: Option<&Media>, report: &mut Report) -> Vec<Row> {
    let Some(media) = media else {
        return vec![Row::failed(SECTION, "no test media (ffmpeg missing?)")];
    };
    let idle_seconds = env_usize("BENCH_IDLE_SECONDS", 60).max(1) as u64;
    let air_seconds = env_usize("BENCH_AIR_SECONDS", 15).max(1) as u64;
    eprintln!("[footprint] idle daemon, {PROGRAMMES} programmes, {idle_seconds} s");
    let idle = idle_run(paths, media, Duration::from_secs(idle_seconds));
    eprintln!("[footprint] airing a 64 kb/s MP3 to wav:, {air_seconds} s");
    let airing = airing_run(paths, media, Duration::from_secs(air_seconds));
    eprintln!("[footprint] mpg123 paced at 44.1 kHz, {air_seconds} s");
    let mpg123 = mpg123_paced(&media.airing, Duration::from_secs(air_seconds));

    report.note(format!(
        "Footprint: VmRSS from /proc/PID/status at the end of each window; CPU = utime + stime \
         from /proc/PID/stat over the window ÷ wall time (100 % = one core). Idle: `loaxa \
         daemon --output null` (paced like a sound card, so its output thread ticks every 10 ms \
         as it would on a box) with {PROGRAMMES} cron programmes loaded, none due within the \
         hour, {idle_seconds} s after a {} s settle. Airing: the same schedule plus one \
         programme airing the 10-minute 64 kb/s mono MP3 to `wav:` (resampled to 44.1 kHz \
         stereo), {air_seconds} s from 2 s into it. The alternative while airing is `mpg123 -q \
         -s -r 44100 --stereo` with its output read at 176,400 B/s (what a sound card takes). \
         cron, the idle alternative, is not measured (not installed by the bench).",
        SETTLE.as_secs()
    ));
    let cpu = |u: &Result<Usage, String>| match u {
        Ok(u) => Cell::new(u.cpu_percent, "% CPU"),
        Err(e) => Cell::na(e.clone()),
    };
    let rss = |u: &Result<Usage, String>| match u {
        Ok(u) => Cell::new(u.rss_bytes as f64 / MB, "MB"),
        Err(e) => Cell::na(e.clone()),
    };
    let (binary, alternative_size) = binary_sizes(&paths.loaxa);
    vec![
        Row::new(
            SECTION,
            format!("idle RSS, {PROGRAMMES} programmes"),
            rss(&idle),
        )
        .goal("≤ 15 MB", |v| v <= 15.0),
        Row::new(
            SECTION,
            format!("idle CPU, {PROGRAMMES} programmes"),
            cpu(&idle),
        ),
        Row::new(SECTION, "airing RSS", rss(&airing)).versus("mpg123", rss(&mpg123)),
        Row::new(SECTION, "airing CPU", cpu(&airing)).versus("mpg123", cpu(&mpg123)),
        Row::new(SECTION, "binary size (stripped)", binary)
            .versus("mpg123 + its libs", alternative_size),
    ]
}

/// `count` cron programmes spread over the day, away from the current and next UTC hour so
/// none airs (or is prepared) while the daemon is measured.
fn many_programmes(count: usize, item: &str) -> String {
    let hour = Utc::now().hour();
    let hours: Vec<u32> = (0..24)
        .filter(|h| *h != hour && *h != (hour + 1) % 24)
        .collect();
    let days = ["*", "mon-fri", "sat,sun", "1,3,5"];
    let mut text = String::from("timezone = \"UTC\"\n");
    for i in 0..count {
        let cron = format!(
            "{} {} * * {}",
            (i * 7) % 60,
            hours[i % hours.len()],
            days[i % days.len()]
        );
        text += &format!(
            "\n[[program]]\nid = \"p{i:03}\"\ncron = \"{cron}\"\nitems = [\"chime\", \"{item}\"]\n"
        );
    }
    text
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn idle_run(paths: &Paths, media: &Media, window: Duration) -> Result<Usage, String> {
    let media_dir = media.airing.parent().unwrap_or(Path::new("."));
    let box_dir = BoxDir::create(&paths.out.join("idle"), &paths.loaxa, media_dir)?;
    box_dir.write_schedule(
        "many.toml",
        &many_programmes(PROGRAMMES, &file_name(&media.airing)),
    )?;
    let daemon = box_dir.start("null")?;
    std::thread::sleep(SETTLE);
    let result = measure(daemon.pid(), window);
    daemon.stop();
    result
}

fn airing_run(paths: &Paths, media: &Media, window: Duration) -> Result<Usage, String> {
    let media_dir = media.airing.parent().unwrap_or(Path::new("."));
    let box_dir = BoxDir::create(&paths.out.join("airing"), &paths.loaxa, media_dir)?;
    let name = file_name(&media.airing);
    box_dir.write_schedule("many.toml", &many_programmes(PROGRAMMES, &name))?;
    let at = Utc::now() + chrono::Duration::seconds(5);
    box_dir.write_schedule(
        "airing.toml",
        &format!(
            "timezone = \"UTC\"\n[[program]]\nid = \"airing\"\nat = [\"{}\"]\nitems = [\"{name}\"]\n",
            at.format("%Y-%m-%dT%H:%M:%S")
        ),
    )?;
    let wav = box_dir.dir.join("air.wav");
    let mut daemon = box_dir.start(&format!("wav:{}", wav.display()))?;
    let into_programme = (at - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(2);
    std::thread::sleep(into_programme);
    let result = measure(daemon.pid(), window);
    let running = daemon.is_running();
    daemon.stop();
    if !running {
        return Err("the daemon stopped".into());
    }
    result
}

/// mpg123 decoding into a pipe that is emptied at the sound card's rate, so it is paced by
/// back-pressure as it would be by ALSA.
fn mpg123_paced(file: &Path, window: Duration) -> Result<Usage, String> {
    let mpg123 = which("mpg123").ok_or("mpg123 not installed")?;
    let mut child = Command::new(mpg123)
        .args(["-q", "-s", "-r", "44100", "--stereo", "-e", "s16"])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("mpg123: {e}"))?;
    let mut pipe = child.stdout.take().ok_or("no pipe")?;
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut consumed: u64 = 0;
            let mut buffer = vec![0u8; 1 << 16];
            while !stop.load(Ordering::Relaxed) {
                let due = (start.elapsed().as_secs_f64() * BYTES_PER_SECOND as f64) as u64;
                let want = (due.saturating_sub(consumed) as usize).min(buffer.len());
                if want > 0 {
                    match pipe.read(&mut buffer[..want]) {
                        Ok(0) | Err(_) => break,
                        Ok(got) => consumed += got as u64,
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    let result = measure(child.id(), window);
    stop.store(true, Ordering::Relaxed);
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    result
}

/// The release binary, and mpg123 with the libraries of its own project it loads.
fn binary_sizes(loaxa: &Path) -> (Cell, Cell) {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
    let binary = match size(loaxa) {
        Some(bytes) => Cell::new(bytes as f64 / MB, "MB"),
        None => Cell::na(format!("{} not built", loaxa.display())),
    };
    let Some(mpg123) = which("mpg123") else {
        return (binary, Cell::na("mpg123 not installed"));
    };
    let ldd = Command::new("ldd")
        .arg(&mpg123)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let libs: u64 = ldd
        .lines()
        .filter(|line| line.contains("123"))
        .filter_map(|line| line.split("=>").nth(1)?.split_whitespace().next())
        .filter_map(|lib| size(Path::new(lib)))
        .sum();
    let total = size(&mpg123).unwrap_or(0) + libs;
    (binary, Cell::new(total as f64 / MB, "MB"))
}
