//! Section 5: planning at scale: 10,000 programmes loaded, and the next occurrences computed
//! the way `loaxa next` (1) and the daemon's agenda (256 at every decision) ask for them; then
//! 100,000 programmes loaded by the real daemon, its time and peak memory next to the floor of
//! reading and parsing the same file with `toml` alone.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use loaxa_core::schedule::plan::{Plan, next_occurrences};
use loaxa_core::schedule::{self, LoadOptions};

use crate::Paths;
use crate::daemon::BoxDir;
use crate::report::{Cell, Report, Row};
use crate::sys::{MB, count_heap, heap_live, median, proc_sample};

const SECTION: &str = "5 planning scale";
const PROGRAMMES: usize = 10_000;
/// The large schedule a box must take in its stride.
const LARGE: usize = 100_000;
/// What `Agenda::next_action` asks for on every wake-up (its private `LOOKAHEAD`).
const AGENDA_LOOKAHEAD: usize = 256;

/// A realistic mix: daily and weekday programmes, twice-monthly ones, a frequent one-off
/// pattern, and one-off `at` times a few days ahead.
fn schedule_text(count: usize) -> String {
    let day = (Utc::now() + chrono::Duration::days(3)).format("%Y-%m-%d");
    let mut text = String::new();
    for i in 0..count {
        let (minute, hour) = ((i * 7) % 60, 5 + (i / 60) % 17);
        let when = match i % 5 {
            0 => format!("cron = \"{minute} {hour} * * *\""),
            1 => format!("cron = \"{minute} {hour} * * mon-fri\""),
            2 => format!("cron = \"{} 6-18/3 * * *\"", i % 60),
            3 => format!("cron = \"{minute} {hour} 1,15 * *\""),
            _ => format!("at = [\"{day}T{hour:02}:{minute:02}:00\"]"),
        };
        text += &format!("[[program]]\nid = \"p{i:05}\"\n{when}\nitems = [\"chime\"]\n\n");
    }
    text
}

fn time_median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    Duration::from_secs_f64(median(&mut times))
}

pub fn run(paths: &Paths, report: &mut Report) -> Vec<Row> {
    let mut rows = small(report);
    rows.extend(large(paths, report));
    rows
}

fn small(report: &mut Report) -> Vec<Row> {
    let text = schedule_text(PROGRAMMES);
    let options = LoadOptions {
        default_timezone: schedule::DEFAULT_TIMEZONE,
        media_dir: Path::new(".").to_owned(),
        check_audio: None,
        windows: None,
        author: schedule::Author::District,
    };
    // The source text was allocated before counting starts, so only what parsing keeps and
    // the Arcs the daemon wraps programmes in are counted.
    count_heap(true);
    let before = heap_live();
    let started = Instant::now();
    let loaded = schedule::parse(&text, Path::new("bench.toml"), &options);
    let parse = started.elapsed();
    let errors = loaded.errors.len();
    drop(loaded.errors);
    let programs = schedule::plan::shared(loaded.programs);
    let heap = heap_live().wrapping_sub(before);
    count_heap(false);
    if programs.len() != PROGRAMMES {
        return vec![Row::failed(
            SECTION,
            &format!("{} programmes loaded, {errors} errors", programs.len()),
        )];
    }
    let now = Utc::now();
    let mut sink = 0usize;
    let next_one = time_median(21, || sink += next_occurrences(&programs, now, 1).len());
    let next_agenda = time_median(5, || {
        sink += next_occurrences(&programs, now, AGENDA_LOOKAHEAD).len();
    });
    std::hint::black_box(sink);
    report.note(format!(
        "Planning: 10,000 programmes (daily, weekday, twice-monthly and 3-hourly cron \
         lines, one-off `at` times) parsed from one schedule text by `schedule::parse` without \
         audio checks; memory = live heap bytes the parsed programmes (in `Arc`s, as the daemon \
         holds them) occupy, counted by the bench's allocator; `next_occurrences` timed as a \
         median (count 1: 21 runs, count {AGENDA_LOOKAHEAD}: 5 runs)."
    ));
    let ms = |d: Duration| Cell::new(d.as_secs_f64() * 1000.0, "ms");
    vec![
        Row::new(SECTION, "parse + validate 10,000 programmes", ms(parse)),
        Row::new(
            SECTION,
            "memory of 10,000 programmes",
            Cell::new(heap as f64 / MB, "MB"),
        ),
        Row::new(
            SECTION,
            "next occurrence over 10,000 (next_occurrences, 1)",
            ms(next_one),
        ),
        Row::new(
            SECTION,
            format!("agenda decision over 10,000 (next_occurrences, {AGENDA_LOOKAHEAD})"),
            ms(next_agenda),
        ),
    ]
}

/// Run as `bench toml FILE`: reads FILE and parses it into a generic `toml::Table`, the floor
/// under any schedule loader, then prints the milliseconds it took and its own peak RSS (kB).
pub fn toml_child(path: Option<&str>) -> i32 {
    let Some(path) = path else {
        eprintln!("usage: bench toml FILE");
        return 2;
    };
    let started = Instant::now();
    let parsed = std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|text| text.parse::<toml::Table>().map_err(|e| e.to_string()));
    let took = started.elapsed();
    match parsed {
        Ok(value) => {
            std::hint::black_box(&value);
            let peak = proc_sample(std::process::id()).map_or(0, |s| s.peak_rss_bytes / 1024);
            println!("{} {peak}", took.as_secs_f64() * 1000.0);
            0
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            1
        }
    }
}

/// 100,000 programmes: loaded in this process as the daemon's reload does it (parse, merge,
/// plan), and by the real daemon (start-up until `loaxa status` answers, peak RSS).
fn large(paths: &Paths, report: &mut Report) -> Vec<Row> {
    let failed = |why: String| vec![Row::failed(SECTION, &why)];
    let dir = paths.out.join("planning-box");
    let boxed = match BoxDir::create(&dir, &paths.loaxa, &paths.repo) {
        Ok(boxed) => boxed,
        Err(e) => return failed(e),
    };
    if let Err(e) = boxed.write_schedule("large.toml", &schedule_text(LARGE)) {
        return failed(e);
    }
    let file = dir.join("schedules/large.toml");
    let options = LoadOptions {
        default_timezone: schedule::DEFAULT_TIMEZONE,
        media_dir: paths.repo.clone(),
        check_audio: None,
        windows: Some(schedule::windows::Windows::default()),
        author: schedule::Author::District,
    };
    let mut loaded_count = 0;
    let load = time_median(3, || {
        let loaded = schedule::load_dir(&dir.join("schedules"), &options);
        let plan = Plan::new(&schedule::plan::shared(loaded.programs), Utc::now());
        loaded_count = plan.programs().len();
    });
    if loaded_count != LARGE {
        return failed(format!("{loaded_count} of {LARGE} programmes loaded"));
    }
    let floor: Vec<(f64, f64)> = (0..3)
        .filter_map(|_| {
            let out = Command::new(std::env::current_exe().ok()?)
                .arg("toml")
                .arg(&file)
                .output()
                .ok()?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let (ms, kb) = text.trim().split_once(' ')?;
            Some((ms.parse().ok()?, kb.parse().ok()?))
        })
        .collect();
    let floor_ms =
        (!floor.is_empty()).then(|| median(&mut floor.iter().map(|f| f.0).collect::<Vec<_>>()));
    let floor_rss = floor
        .iter()
        .map(|f| f.1)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));

    // The real daemon: the first load is done when its loop answers `loaxa status`.
    let started = Instant::now();
    let daemon = match boxed.start("null") {
        Ok(daemon) => daemon,
        Err(e) => return failed(e),
    };
    let status = || {
        Command::new(&paths.loaxa)
            .args(["status", "--config"])
            .arg(dir.join("loaxa.toml"))
            .output()
            .is_ok_and(|out| out.status.success())
    };
    let deadline = started + Duration::from_secs(120);
    while !status() {
        if Instant::now() > deadline {
            return failed("the daemon never answered status with 100,000 programmes".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let start_up = started.elapsed();
    let asked = Instant::now();
    let answered = status();
    let status_took = asked.elapsed();
    let peak = proc_sample(daemon.pid()).map(|s| s.peak_rss_bytes as f64 / MB);
    let _ = daemon.stop();
    report.note(format!(
        "Large schedule: {LARGE} programmes of the same mix in one file. \"load + plan\" is what \
         the daemon's reload does on a worker (`load_dir`: read, parse, validate, merge; then \
         `Plan::new`), timed in this process, median of 3; its floor is reading the file and \
         parsing it into a generic `toml::Table` (`bench toml`, a child process, median of 3). \
         The daemon figures are the release `loaxa daemon` (null output): start-up until its \
         loop first answers `loaxa status` (the first load is waited for before the loop \
         starts), one `loaxa status` round trip with the programmes loaded, and the daemon's \
         peak RSS (VmHWM) against the floor's."
    ));
    let ms = |d: Duration| Cell::new(d.as_secs_f64() * 1000.0, "ms");
    let or_na = |v: Option<f64>, unit: &str| {
        v.map_or(Cell::na("bench toml failed"), |v| Cell::new(v, unit))
    };
    vec![
        Row::new(SECTION, "load + plan 100,000 programmes", ms(load))
            .versus("toml::Table parse", or_na(floor_ms, "ms"))
            .goal("≤ 2 s", |v| v <= 2000.0),
        Row::new(
            SECTION,
            "daemon start-up to first status answer, 100,000 programmes",
            ms(start_up),
        ),
        Row::new(
            SECTION,
            "status round trip, 100,000 programmes",
            if answered {
                ms(status_took)
            } else {
                Cell::na("status failed")
            },
        ),
        Row::new(
            SECTION,
            "daemon peak RSS, 100,000 programmes",
            peak.map_or(Cell::na("no /proc sample"), |p| Cell::new(p, "MB")),
        )
        .versus(
            "toml::Table parse",
            or_na(floor_rss.map(|kb| kb * 1024.0 / MB), "MB"),
        )
        .goal("≤ 100 MB", |v| v <= 100.0),
    ]
}
