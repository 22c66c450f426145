//! The box loses power (SIGKILL) at a random point, again and again: while it airs a
//! programme, while it downloads a bulletin, while it writes its store. Before each kill the
//! as-run log is read; after it the store must pass `PRAGMA integrity_check` and still hold
//! every row read. At the end no occurrence may have aired twice, and every bulletin must have
//! arrived whole.

use std::time::Duration;

use crate::common::broker::Broker;
use crate::common::proxy::Proxy;
use crate::common::*;
use crate::{Dice, Row};

/// A programme every this often, each airing a 3.4 s file: the box is on air most of the time.
const EVERY: Duration = Duration::from_secs(5);

pub fn run(seed: u64) -> Row {
    let trials = crate::trials(8, 48);
    let mut dice = Dice::new(seed);
    let broker = Broker::start();
    let district = District::new();
    let link = Proxy::start(broker.port(), 400_000);
    let test_box = district.box_behind(&broker, &link, "dk-01", "");
    // Enough programmes for every trial's few seconds, and then some.
    let count = trials * 6 + 10;
    let instants: Vec<String> = (0..count)
        .map(|i| local_second_ahead(Duration::from_secs(3) + EVERY * i as u32).0)
        .map(|t| format!("\"{t}\""))
        .collect();
    test_box.write_schedule(
        "often.toml",
        &format!(
            "[[program]]\nid = \"often\"\nat = [{}]\nitems = [\"audio/thong-bao-demo.mp3\"]\n",
            instants.join(", ")
        ),
    );
    let state = test_box.path("state");
    let mut row = Row {
        class: "box killed (power cut)",
        trials,
        ..Row::default()
    };
    let (mut on_air, mut downloading) = (0, 0);
    let mut seen = Vec::new();
    let mut shas = Vec::new();
    for trial in 0..trials {
        let daemon = test_box.start_daemon(&format!("run{trial}.wav"));
        // Every other trial publishes a bulletin (1.6 MB, 4 s through the link) as the box
        // starts, so the kill often lands in the middle of its transfer.
        let publisher = (trial % 2 == 0).then(|| {
            let audio = ffmpeg_tone(
                district.dir.path(),
                &format!("k{trial}.mp3"),
                400 + 13 * trial as u32,
                100,
                -18,
                128,
            );
            shas.push(loaxa_core::protocol::hex_sha256(
                &std::fs::read(&audio).unwrap(),
            ));
            let (key, url) = (district.key(), broker.url());
            std::thread::spawn(move || {
                publish_bulletin_with(
                    &key,
                    &url,
                    &audio,
                    "commune/phu-dong",
                    &format!("k{trial}"),
                    "Thử",
                )
            })
        });
        std::thread::sleep(dice.between(Duration::from_millis(300), Duration::from_millis(4_500)));
        seen = crate::as_run(&state);
        let airing = seen.last().is_some_and(|r| r.outcome == "airing");
        let partial = std::fs::read_dir(state.join("bulletins/partial"))
            .map(|d| d.count() > 0)
            .unwrap_or(false);
        daemon.kill_9();
        if let Some(publisher) = publisher {
            let out = publisher.join().expect("publisher thread");
            assert!(out.status.success(), "publish: {}", stderr(&out));
        }
        row.faults += 1;
        on_air += usize::from(airing);
        downloading += usize::from(partial);
        if !crate::store_is_whole(&state) {
            row.corrupt += 1;
        }
        let after = crate::as_run(&state);
        row.lost += crate::rows_lost(&seen, &after);
    }
    // A last start settles what the kills left: interrupted rows, unfinished transfers.
    let mut daemon = test_box.start_daemon("settle.wav");
    let all_arrived = crate::wait_until(Duration::from_secs(90), || {
        shas.iter()
            .all(|sha| state.join(format!("bulletins/{sha}.mp3")).exists())
    });
    if !all_arrived {
        eprintln!(
            "box killed: missing {:?}\nsettle log:\n{}",
            shas.iter()
                .filter(|sha| !state.join(format!("bulletins/{sha}.mp3")).exists())
                .collect::<Vec<_>>(),
            std::fs::read_to_string(test_box.path("settle.wav.log")).unwrap_or_default()
        );
        for t in 0..trials {
            let text = std::fs::read_to_string(test_box.path(&format!("run{t}.wav.log")))
                .unwrap_or_default();
            for line in text
                .lines()
                .filter(|l| l.contains("remote") || l.contains("connection"))
            {
                eprintln!("run {t}: {line}");
            }
        }
        row.lost += 1;
        row.notes.push_str("a bulletin never completed; ");
    }
    // Until nothing is on air, so the log read last is settled.
    crate::wait_until(Duration::from_secs(15), || {
        crate::as_run(&state)
            .last()
            .is_none_or(|r| r.outcome != "airing")
    });
    if !daemon.is_running() {
        row.panicked += 1;
    }
    let stopped = daemon.stop();
    row.panicked += usize::from(!stopped);
    let log = crate::as_run(&state);
    row.lost += crate::rows_lost(&seen, &log);
    row.doubled += crate::aired_twice(&log);
    row.corrupt += crate::bad_bulletin_files(&state) + usize::from(!crate::store_is_whole(&state));
    for trial in 0..trials {
        row.panicked += crate::panics_in(&test_box.path(&format!("run{trial}.wav.log")));
    }
    row.panicked += crate::panics_in(&test_box.path("settle.wav.log"));
    let aired = log.iter().filter(|r| r.outcome == "aired").count();
    let interrupted = log.iter().filter(|r| r.outcome == "interrupted").count();
    row.notes = format!(
        "{on_air} on air, {downloading} mid-download; {} rows, {aired} aired, {interrupted} interrupted then retried; {}",
        log.len(),
        row.notes
    );
    row
}
