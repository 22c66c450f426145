//! The wall clock is stepped under a running daemon, as NTP does to a box that booted with a
//! wrong clock: first back by 20 s, then forward by an hour. libfaketime (LD_PRELOAD) moves the
//! daemon's wall clock only; its monotonic clock keeps real time, as the kernel's does.
//!
//! After the step back, a programme that already aired comes round again on the clock: it
//! must not air twice, and a new one must still air on its second. After the step forward, the
//! hour skipped over must be logged missed (a programme every minute, two one-offs), not
//! caught up in a burst, and the next programme must air on time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::common::*;
use crate::{Dice, Row};

fn libfaketime() -> PathBuf {
    let out = std::process::Command::new("dpkg")
        .args(["-L", "libfaketime"])
        .output()
        .expect("dpkg runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.ends_with("/libfaketimeMT.so.1"))
        .map(PathBuf::from)
        .expect("libfaketime is installed (make test installs the faketime package)")
}

/// Local time text for `at = [...]` of `real` shifted by `offset` seconds.
fn local(real: DateTime<Utc>, offset: i64) -> String {
    (real + chrono::Duration::seconds(offset))
        .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// Written whole, then renamed into place: libfaketime re-reads the file every second, and a
/// file caught half-written (truncated, empty) would be a step of the clock of its own.
fn set_offset(file: &Path, seconds: i64) {
    let next = file.with_extension("next");
    std::fs::write(&next, format!("{seconds:+}\n")).unwrap();
    std::fs::rename(&next, file).unwrap();
}

pub fn run(seed: u64) -> Row {
    let trials = crate::trials(1, 3);
    // Each run steps the clock twice (back, then forward): two trials.
    let mut row = Row {
        class: "wall clock stepped",
        trials: 2 * trials,
        ..Row::default()
    };
    let mut dice = Dice::new(seed);
    let mut notes = Vec::new();
    for trial in 0..trials {
        notes.push(one_trial(&mut dice, trial, &mut row));
    }
    row.notes = notes.join("; ");
    row
}

fn one_trial(dice: &mut Dice, trial: usize, row: &mut Row) -> String {
    let test_box = TestBox::new().named(&format!("cs-{trial}"));
    let offset_file = test_box.path("faketime");
    set_offset(&offset_file, 0);
    // Whole seconds from now, so the instants below fall on the second.
    let t0 = DateTime::from_timestamp(Utc::now().timestamp() + 1, 0).unwrap();
    let back_by = 20;
    let forward_by = 3600;
    let after_forward = 30 + (dice.roll() % 20) as i64; // fake seconds past the step's landing
    let programmes = [
        ("early", local(t0, 6)),
        ("fresh", local(t0, 14)),
        ("skipped-a", local(t0, 1800)),
        ("skipped-b", local(t0, forward_by - 60)),
        ("after", local(t0, forward_by + after_forward)),
    ];
    // The one-offs cut into a tick that happens to be on air, so a minute boundary near
    // them cannot make them late.
    let mut schedule = String::from(
        "[[program]]\nid = \"tick\"\ncron = \"* * * * *\"\nafter_cut = \"skip\"\nitems = [\"audio/thong-bao-demo.mp3\"]\n",
    );
    for (id, at) in &programmes {
        schedule.push_str(&format!(
            "[[program]]\nid = \"{id}\"\nat = [\"{at}\"]\nwhen_busy = \"cut\"\nitems = [\"audio/thong-bao-demo.mp3\"]\n"
        ));
    }
    test_box.write_schedule("day.toml", &schedule);
    let log_path = test_box.path("daemon.log");
    let mut daemon = Daemon {
        child: loaxa()
            .args(["daemon", "--config", test_box.config().to_str().unwrap()])
            .args([
                "--output",
                &format!("wav:{}", test_box.path("air.wav").display()),
            ])
            .env("RUST_LOG", "info")
            .env("LD_PRELOAD", libfaketime())
            .env("FAKETIME_TIMESTAMP_FILE", &offset_file)
            .env("FAKETIME_CACHE_DURATION", "1")
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .expect("daemon starts"),
    };
    let state = test_box.path("state");
    let has = |id: &str, outcome: &str| {
        crate::as_run(&state)
            .iter()
            .any(|r| r.program_id == id && r.outcome == outcome)
    };
    // "early" airs, then the clock goes back 20 s: it comes round again on the clock.
    crate::wait_until(Duration::from_secs(20), || has("early", "aired"));
    set_offset(&offset_file, -back_by);
    row.faults += 1;
    // "fresh" (14 s after the start, by the clock) airs once the stepped clock gets there.
    crate::wait_until(Duration::from_secs(45), || has("fresh", "aired"));
    // Forward: from 20 s behind to an hour ahead.
    set_offset(&offset_file, forward_by - back_by);
    row.faults += 1;
    crate::wait_until(Duration::from_secs(90), || has("after", "aired"));
    std::thread::sleep(Duration::from_secs(2));
    if !daemon.is_running() {
        row.panicked += 1;
    }
    let stopped = daemon.stop();
    row.panicked += crate::panics_in(&log_path) + usize::from(!stopped);

    let log = crate::as_run(&state);
    row.doubled += crate::aired_twice(&log);
    row.corrupt += usize::from(!crate::store_is_whole(&state));
    let aired_on_time = |id: &str| {
        log.iter()
            .any(|r| r.program_id == id && r.outcome == "aired" && !r.detail.contains("late"))
    };
    let jumped_over = |id: &str| {
        log.iter().any(|r| {
            r.program_id == id && r.outcome == "missed" && r.detail.contains("clock jumped forward")
        })
    };
    let mut wrong = Vec::new();
    for id in ["early", "fresh", "after"] {
        if !aired_on_time(id) {
            wrong.push(format!("{id} did not air on time"));
        }
    }
    for id in ["skipped-a", "skipped-b"] {
        if !jumped_over(id) {
            wrong.push(format!("{id} not logged as jumped over"));
        }
    }
    row.lost += wrong.len();
    if !wrong.is_empty() {
        let rows: Vec<String> = log
            .iter()
            .filter(|r| r.program_id != "tick")
            .map(|r| {
                format!(
                    "{} {} {} {}",
                    r.program_id, r.scheduled, r.outcome, r.detail
                )
            })
            .collect();
        // The whole journal but the hour of ticks logged missed: the story of the failure.
        let daemon_log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let journal: Vec<&str> = daemon_log
            .lines()
            .filter(|l| !(l.contains("missed program=tick") && l.contains("jumped forward")))
            .collect();
        eprintln!(
            "clock steps: {wrong:?}\n{}\nthe daemon's journal:\n{}",
            rows.join("\n"),
            journal.join("\n")
        );
    }
    // No burst: nothing aired late after the step forward. A tick that fell due while a
    // one-off held the air and aired when it ended ("the air was taken") waited its turn; that
    // is the arbiter at work, not a catch-up.
    let burst: Vec<&crate::AsRun> = log
        .iter()
        .filter(|r| {
            r.outcome == "aired"
                && r.detail.contains("late")
                && !r.detail.contains("the air was taken")
        })
        .collect();
    assert!(
        burst.is_empty(),
        "a catch-up burst after the clock step: {burst:#?}"
    );
    let ticks_missed = log
        .iter()
        .filter(|r| r.program_id == "tick" && r.outcome == "missed")
        .count();
    format!(
        "back {back_by} s then forward {forward_by} s: {} rows, {ticks_missed} per-minute ticks logged missed, none caught up",
        log.len()
    )
}
