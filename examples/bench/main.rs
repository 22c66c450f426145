//! `make bench`: measures loaxa against what a commune would otherwise use (a shell loop with
//! mpg123, ffmpeg, raw Mosquitto) and prints one table, also written to `target/bench/report.md`
//! and `target/bench/report.json`.
//!
//! Benchmarks report, they never fail the build: a section that cannot run (a tool missing, a
//! broker that will not start) says why in its cells, and the process still exits 0.
//!
//! Knobs (environment): `BENCH_STARTS` (programmes timed, default 100), `BENCH_IDLE_SECONDS`
//! (default 60), `BENCH_AIR_SECONDS` (default 15), `BENCH_BOXES` (e.g. `10,100` or `100` for
//! "up to 100"; default 10,100,1000), `BENCH_DECODE_REPEAT` (default 3), `BENCH_SECTIONS`
//! (comma list of starts, decode, footprint, distribution, planning, archive; default all),
//! `BENCH_ARCHIVE_BOXES` (default 3000), `BENCH_ARCHIVE_INGEST` (events, default 50000).
//!
//! Run as `bench decode FILE`, the binary decodes FILE through loaxa's playback path and exits:
//! the decode section times it as a child process, exactly like mpg123 and ffmpeg; run as
//! `bench loudness FILE`, it measures FILE's loudness, timed the same way. Run as
//! `bench toml FILE`, it parses FILE with `toml` alone: the planning section's floor.

mod archive;
mod broker;
mod daemon;
mod decode;
mod distribution;
mod footprint;
mod media;
mod planning;
mod report;
mod starts;
mod sys;

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::Instant;

use report::{Report, Row};

/// Counts live heap bytes, so the planning section can say what 10,000 programmes occupy
/// without the allocator's and the page cache's noise that an RSS delta carries. Counting is
/// switched on only around that measurement; otherwise it costs one relaxed load per call.
#[global_allocator]
static ALLOCATOR: sys::CountingAllocator = sys::CountingAllocator;

/// Where the bench keeps its media, box directories and reports.
pub struct Paths {
    /// The repository (media paths in schedules, `audio/`).
    pub repo: PathBuf,
    /// `target/bench`.
    pub out: PathBuf,
    /// The release `loaxa` binary, built beside this example.
    pub loaxa: PathBuf,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("decode") {
        std::process::exit(decode::child(args.get(2).map(String::as_str)));
    }
    if args.get(1).map(String::as_str) == Some("loudness") {
        std::process::exit(decode::loudness_child(args.get(2).map(String::as_str)));
    }
    if args.get(1).map(String::as_str) == Some("toml") {
        std::process::exit(planning::toml_child(args.get(2).map(String::as_str)));
    }
    let started = Instant::now();
    let paths = paths();
    if let Err(e) = std::fs::create_dir_all(&paths.out) {
        eprintln!("bench: cannot create {}: {e}", paths.out.display());
        return;
    }
    // A thousand simulated boxes and their broker need several thousand descriptors; the
    // broker inherits the raised limit.
    sys::raise_fd_limit();
    let machine = sys::Machine::probe();
    eprintln!("{}", machine.describe());
    let mut report = Report::new(machine);

    let wanted = sys::env_list("BENCH_SECTIONS");
    let run = |name: &str| wanted.as_ref().is_none_or(|w| w.iter().any(|s| s == name));
    let media = if run("starts") || run("decode") || run("footprint") || run("distribution") {
        eprintln!(
            "[media] test files in {}",
            paths.out.join("media").display()
        );
        match media::Media::prepare(&paths) {
            Ok(media) => Some(media),
            Err(e) => {
                eprintln!("[media] {e}");
                report.note(format!("test media could not be made: {e}"));
                None
            }
        }
    } else {
        None
    };

    // Sections 2 and 3 measure CPU time and memory, not wall time, so they run while loaxa
    // airs the programmes of section 1: that only makes loaxa's starts harder (its figure is
    // then taken under load), and keeps the whole bench within minutes. The DIY mpg123 loop of
    // section 1, which is timed by the wall clock, runs after them, alone.
    let mut side = Report::new(report.machine.clone());
    let side_sections = |side: &mut Report| {
        if run("decode") {
            section("2 decode cost", side, |r| {
                decode::run(&paths, media.as_ref(), r)
            });
        }
        if run("footprint") {
            section("3 footprint", side, |r| {
                footprint::run(&paths, media.as_ref(), r)
            });
        }
    };
    if run("starts") {
        section("1 start accuracy", &mut report, |r| {
            starts::run(&paths, media.as_ref(), r, || side_sections(&mut side))
        });
    } else {
        side_sections(&mut side);
    }
    report.rows.append(&mut side.rows);
    report.notes.append(&mut side.notes);
    if run("distribution") {
        section("4 distribution", &mut report, |r| {
            distribution::run(&paths, media.as_ref(), r)
        });
    }
    if run("planning") {
        section("5 planning scale", &mut report, |r| {
            planning::run(&paths, r)
        });
    }
    if run("archive") {
        section("6 archive (console)", &mut report, |r| {
            archive::run(&paths, r)
        });
    }
    report.elapsed = started.elapsed();
    let table = report.markdown();
    println!("{table}");
    for (name, text) in [("report.md", table), ("report.json", report.json())] {
        let path = paths.out.join(name);
        match std::fs::write(&path, text) {
            Ok(()) => eprintln!("wrote {}", path.display()),
            Err(e) => eprintln!("bench: cannot write {}: {e}", path.display()),
        }
    }
}

/// Runs one section into `report`, timing it. One broken section must not take the others'
/// figures with it: a panic becomes a failed row.
fn section(title: &str, report: &mut Report, body: impl FnOnce(&mut Report) -> Vec<Row>) {
    let t = Instant::now();
    eprintln!("[{title}] …");
    match std::panic::catch_unwind(AssertUnwindSafe(|| body(report))) {
        Ok(rows) => report.rows.extend(rows),
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            report.rows.push(Row::failed(title, &why));
        }
    }
    eprintln!("[{title}] done in {:.0} s", t.elapsed().as_secs_f64());
}

fn paths() -> Paths {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // The example lives in <target>/release/examples/; the loaxa binary in <target>/release/.
    let exe = std::env::current_exe().unwrap_or_default();
    let release = exe
        .parent()
        .and_then(|examples| examples.parent())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target/release"));
    let target = release
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"));
    Paths {
        out: target.join("bench"),
        loaxa: release.join("loaxa"),
        repo,
    }
}
