//! Section 5: planning at scale: 10,000 programmes loaded, and the next occurrences computed
//! the way `loaxa next` (1) and the daemon's agenda (256 at every decision) ask for them.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use loaxa::schedule::plan::next_occurrences;
use loaxa::schedule::{self, LoadOptions, Program};

use crate::Paths;
use crate::report::{Cell, Report, Row};
use crate::sys::{MB, count_heap, heap_live, median};

const SECTION: &str = "5 planning scale";
const PROGRAMMES: usize = 10_000;
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

pub fn run(_paths: &Paths, report: &mut Report) -> Vec<Row> {
    let text = schedule_text(PROGRAMMES);
    let options = LoadOptions {
        default_timezone: schedule::DEFAULT_TIMEZONE,
        media_dir: Path::new(".").to_owned(),
        check_audio: false,
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
    let programs: Vec<Arc<Program>> = loaded.programs.into_iter().map(Arc::new).collect();
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
