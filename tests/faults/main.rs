//! The fault-injection suite: the real binary, a real Mosquitto, real disks, a real sound
//! server, and faults injected at random points — the broker killed mid-transfer, the box
//! killed mid-anything, the disk full, the sound card gone, the wall clock stepped. Each class
//! counts what a fault could cost: as-run entries or documents *lost*, occurrences aired or
//! documents applied twice (*doubled*), files or databases *corrupt*, processes that
//! *panicked*, programmes due during a burst of traffic that went out *late*, and control
//! requests left unanswered (*socket*). The table is printed at the end; every one of those
//! columns must be 0.
//!
//! `make test` runs the short form. `make faults` sets `LOAXA_FAULTS=long` for ≥ 100 trials.
//! Random points come from a seed printed with the table; `LOAXA_FAULT_SEED=N` replays a run,
//! and `LOAXA_FAULT_ONLY=WORD` runs only the classes whose name contains WORD.

#[path = "../common/mod.rs"]
mod common;

mod broker_kills;
mod bursts;
mod clock_steps;
mod daemon_kills;
mod device_loss;
mod disk_full;

use std::path::Path;
use std::time::{Duration, Instant};

/// A class of faults: runs its trials from a seed, and says what they cost.
type Class = fn(u64) -> Row;

/// What one class of faults did.
#[derive(Debug, Default, Clone)]
pub struct Row {
    pub class: &'static str,
    pub trials: usize,
    pub faults: usize,
    pub lost: usize,
    pub doubled: usize,
    pub corrupt: usize,
    pub panicked: usize,
    /// Programmes more than 10 ms late, or missing, where the class measures it.
    pub late: usize,
    /// Control requests not answered in time (two seconds), where the class asks.
    pub socket: usize,
    /// What else the class saw (e.g. where the kills landed).
    pub notes: String,
}

/// Trials for a class: `short` under `make test`, `long` under `make faults`.
pub fn trials(short: usize, long: usize) -> usize {
    if std::env::var("LOAXA_FAULTS").is_ok_and(|v| v == "long") {
        long
    } else {
        short
    }
}

/// A small, seedable random source (xorshift): fault points that can be replayed.
pub struct Dice(u64);

impl Dice {
    pub fn new(seed: u64) -> Dice {
        Dice(seed.max(1))
    }

    pub fn roll(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in [from, to).
    pub fn between(&mut self, from: Duration, to: Duration) -> Duration {
        let span = (to - from).as_micros().max(1) as u64;
        from + Duration::from_micros(self.roll() % span)
    }
}

/// Lines of a daemon's log that say it panicked.
pub fn panics_in(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("panicked at")
        .count()
}

/// Whether SQLite finds the box's store whole (`PRAGMA integrity_check`).
pub fn store_is_whole(state_dir: &Path) -> bool {
    let Ok(conn) = rusqlite::Connection::open_with_flags(
        state_dir.join("loaxa.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) else {
        return false;
    };
    conn.query_row("PRAGMA integrity_check", [], |row| row.get::<_, String>(0))
        .is_ok_and(|verdict| verdict == "ok")
}

/// One as-run row, as read straight from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsRun {
    pub id: i64,
    pub program_id: String,
    pub scheduled: String,
    pub outcome: String,
    pub detail: String,
}

/// The box's as-run log, read-only beside a running daemon.
pub fn as_run(state_dir: &Path) -> Vec<AsRun> {
    let Ok(conn) = rusqlite::Connection::open_with_flags(
        state_dir.join("loaxa.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) else {
        return Vec::new();
    };
    let Ok(mut statement) = conn
        .prepare("SELECT id, program_id, scheduled_at, outcome, detail FROM as_run ORDER BY id")
    else {
        return Vec::new(); // not created yet
    };
    statement
        .query_map([], |row| {
            Ok(AsRun {
                id: row.get(0)?,
                program_id: row.get(1)?,
                scheduled: row.get(2)?,
                outcome: row.get(3)?,
                detail: row.get(4)?,
            })
        })
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

/// Occurrences with more than one `aired` row.
pub fn aired_twice(log: &[AsRun]) -> usize {
    let mut aired = std::collections::BTreeMap::new();
    for row in log.iter().filter(|r| r.outcome == "aired") {
        *aired
            .entry((&row.program_id, &row.scheduled))
            .or_insert(0usize) += 1;
    }
    aired.values().filter(|&&n| n > 1).count()
}

/// Rows of `before` that are gone from `after` or changed, other than an `airing` row that a
/// restart settled (interrupted, or aired to the end).
pub fn rows_lost(before: &[AsRun], after: &[AsRun]) -> usize {
    before
        .iter()
        .filter(|old| {
            !after.iter().any(|new| {
                new.id == old.id
                    && new.program_id == old.program_id
                    && new.scheduled == old.scheduled
                    && (new.outcome == old.outcome || old.outcome == "airing")
            })
        })
        .count()
}

/// Stored bulletins whose content does not hash to their name, and half-written files left.
pub fn bad_bulletin_files(state_dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(state_dir.join("bulletins")) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter(|e| {
            let path = e.path();
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let is_tmp = path.extension().is_some_and(|x| x == "tmp");
            is_tmp
                || std::fs::read(&path)
                    .map(|bytes| loaxa_core::protocol::hex_sha256(&bytes) != name)
                    .unwrap_or(true)
        })
        .count()
}

/// Waits until `done` holds, polling; false after `timeout`.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn print_table(rows: &[Row], seed: u64, took: Duration) {
    println!();
    println!(
        "fault injection ({} form, seed {seed}, {:.0} s)",
        if trials(0, 1) == 1 { "long" } else { "short" },
        took.as_secs_f64()
    );
    let line = |cells: [String; 10]| {
        let [class, rest @ ..] = cells;
        let numbers: Vec<String> = rest[..8]
            .iter()
            .zip([6, 6, 4, 7, 7, 8, 4, 6])
            .map(|(cell, width)| format!("{cell:>width$}"))
            .collect();
        println!("| {class:<28} | {} | {}", numbers.join(" | "), rest[8]);
    };
    let heading = [
        "fault", "trials", "faults", "lost", "doubled", "corrupt", "panicked", "late", "socket",
        "notes",
    ];
    line(heading.map(str::to_owned));
    println!(
        "|{:-<30}|{:->8}|{:->8}|{:->6}|{:->9}|{:->9}|{:->10}|{:->6}|{:->8}|------",
        "", "", "", "", "", "", "", "", ""
    );
    let cells = |class: &str, n: [usize; 8], notes: &str| {
        let mut cells: [String; 10] = Default::default();
        cells[0] = class.to_owned();
        for (cell, n) in cells[1..9].iter_mut().zip(n) {
            *cell = n.to_string();
        }
        cells[9] = notes.to_owned();
        cells
    };
    let numbers = |r: &Row| {
        [
            r.trials, r.faults, r.lost, r.doubled, r.corrupt, r.panicked, r.late, r.socket,
        ]
    };
    for r in rows {
        line(cells(r.class, numbers(r), &r.notes));
    }
    let mut all = [0; 8];
    for r in rows {
        for (sum, n) in all.iter_mut().zip(numbers(r)) {
            *sum += n;
        }
    }
    line(cells("all", all, ""));
}

#[test]
fn under_injected_faults_nothing_is_lost_doubled_or_corrupted_and_nothing_panics() {
    let seed = std::env::var("LOAXA_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let started = Instant::now();
    // The classes run side by side, each with its own broker, box and disk: most of their time
    // is waiting for instants and transfers.
    let classes: [(&str, Class); 6] = [
        ("broker killed", broker_kills::run),
        ("message bursts", bursts::run),
        ("box killed", daemon_kills::run),
        ("disk full", disk_full::run),
        ("sound card lost", device_loss::run),
        ("clock stepped", clock_steps::run),
    ];
    // `LOAXA_FAULT_ONLY=disk` runs the classes whose name contains "disk" (while working on one).
    let only = std::env::var("LOAXA_FAULT_ONLY").unwrap_or_default();
    // The sound card's class records a real-time audio server, which the bursts' thousands of
    // messages (a CPU-bound flood, on two cores) starve into gaps: it starts once they are over.
    // A dropped sender (the bursts class not run, or failed) lets it start at once too.
    let (bursts_over, after_bursts) = std::sync::mpsc::channel::<()>();
    let mut bursts_over = Some(bursts_over);
    let mut after_bursts = Some(after_bursts);
    let handles: Vec<_> = classes
        .into_iter()
        .filter(|(name, _)| name.contains(only.as_str()))
        .enumerate()
        .map(|(i, (name, class))| {
            let class_seed = seed.wrapping_add(i as u64 * 0x9E37_79B9);
            let over = (name == "message bursts")
                .then(|| bursts_over.take())
                .flatten();
            let wait = (name == "sound card lost")
                .then(|| after_bursts.take())
                .flatten();
            let thread = std::thread::spawn(move || {
                if let Some(wait) = wait {
                    let _ = wait.recv();
                }
                let row = class(class_seed);
                drop(over);
                row
            });
            (name, thread)
        })
        .collect();
    drop(bursts_over);
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (name, handle) in handles {
        match handle.join() {
            Ok(row) => rows.push(row),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{name}: the harness failed: {message}"));
            }
        }
    }
    print_table(&rows, seed, started.elapsed());
    assert!(failures.is_empty(), "{failures:#?}");
    for row in &rows {
        assert_eq!(
            (
                row.lost,
                row.doubled,
                row.corrupt,
                row.panicked,
                row.late,
                row.socket
            ),
            (0, 0, 0, 0, 0, 0),
            "{}: {row:?} (seed {seed})",
            row.class
        );
        assert!(row.trials > 0 && row.faults > 0, "{}: no faults", row.class);
    }
}
