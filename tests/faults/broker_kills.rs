//! The district's broker dies (SIGKILL: a crash that loses what it had not saved) or restarts
//! (SIGTERM: an upgrade) at a random point of a bulletin transfer or of a schedule update. The
//! box reaches it through a 400 KB/s link, so a transfer takes a couple of seconds and the
//! fault lands in the middle. After a crash the district publishes again, as its operator
//! would; the box must then complete every transfer from the chunks it kept, store each
//! schedule revision once, and never keep a file that is not the district's.

use std::time::Duration;

use crate::common::broker::Broker;
use crate::common::proxy::Proxy;
use crate::common::*;
use crate::{Dice, Row};

const SCOPE: &str = "commune/phu-dong";

pub fn run(seed: u64) -> Row {
    let trials = crate::trials(6, 40);
    let mut dice = Dice::new(seed);
    let mut broker = Broker::start();
    let district = District::new();
    let link = Proxy::start(broker.port(), 400_000);
    let test_box = district.box_behind(&broker, &link, "bk-01", "");
    let state = test_box.path("state");
    let daemon = test_box.start_daemon("air.wav");
    let url = broker.url();

    let mut row = Row {
        class: "broker killed / restarted",
        ..Row::default()
    };
    let (mut crashes, mut mid_transfer, mut mid_update) = (0, 0, 0);
    for trial in 0..trials {
        let crash = trial % 2 == 0;
        let publish: Box<dyn Fn() -> Result<(), String> + Send>;
        let arrived: Box<dyn Fn() -> bool>;
        let kill_within;
        if trial % 3 != 2 {
            // ~640 KB: 1.6 s through the link.
            let audio = ffmpeg_tone(
                district.dir.path(),
                &format!("b{trial}.mp3"),
                300 + 17 * trial as u32,
                40,
                -18,
                128,
            );
            let sha = loaxa_core::protocol::hex_sha256(&std::fs::read(&audio).unwrap());
            let complete = state.join(format!("bulletins/{sha}.mp3"));
            let (district_key, url) = (district.key(), url.clone());
            let id = format!("b{trial}");
            publish = Box::new(move || {
                let out = publish_bulletin_with(&district_key, &url, &audio, SCOPE, &id, "Thử");
                if out.status.success() {
                    Ok(())
                } else {
                    Err(stderr(&out))
                }
            });
            arrived = Box::new(move || complete.exists());
            kill_within = Duration::from_millis(2_500);
            mid_transfer += 1;
        } else {
            let revision = 10 + trial as u64;
            let file = district.one_off(
                &format!("update{trial}"),
                "2099-01-01T05:30:00",
                "audio/thong-bao-demo.mp3",
            );
            let (url, key) = (url.clone(), district.key());
            publish = Box::new(move || {
                let out = crate::common::run_district(&[
                    "publish",
                    "schedule",
                    file.to_str().unwrap(),
                    "--to",
                    SCOPE,
                    "--key",
                    key.to_str().unwrap(),
                    "--broker",
                    &url,
                    "--media-dir",
                    REPO,
                    "--window",
                    "00:00-24:00",
                    "--revision",
                    &revision.to_string(),
                    // A broker killed may have lost the box's status, and may die before the
                    // box answers: only the broker's holding it counts here.
                    "--force",
                    "--wait",
                    "0",
                ]);
                // Sent again after a restart that kept it: the broker has it, nothing to do.
                if out.status.success() || stderr(&out).contains("is not newer than") {
                    Ok(())
                } else {
                    Err(stderr(&out))
                }
            });
            let state = state.clone();
            arrived = Box::new(move || {
                loaxa::store::Store::open_read_only(&state)
                    .ok()
                    .flatten()
                    .and_then(|s| s.schedule_revision(SCOPE).ok().flatten())
                    == Some(revision)
            });
            kill_within = Duration::from_millis(400);
            mid_update += 1;
        }
        let publisher = std::thread::spawn(move || {
            let ok = publish();
            (ok, publish)
        });
        std::thread::sleep(dice.between(Duration::ZERO, kill_within));
        if crash {
            broker.kill();
            crashes += 1;
        } else {
            broker.stop();
        }
        row.faults += 1;
        std::thread::sleep(dice.between(Duration::from_millis(200), Duration::from_millis(1_500)));
        broker.restart();
        let (published, publish) = publisher.join().expect("publisher thread");
        // A crash may have lost what the broker held only in memory: the district sends again.
        if crash || published.is_err() {
            let mut last = published;
            for _ in 0..5 {
                last = publish();
                if last.is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            if let Err(e) = last {
                panic!("the district could not publish again after the restart: {e}");
            }
        }
        if !crate::wait_until(Duration::from_secs(60), &arrived) {
            row.lost += 1;
            row.notes
                .push_str(&format!("trial {trial}: never arrived; "));
        }
        // The next fault comes once the box's connection has held a while: a broker that dies
        // every few seconds is (rightly) retried ever more slowly, up to a minute apart.
        std::thread::sleep(Duration::from_secs(5));
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut daemon = daemon;
    if !daemon.is_running() {
        row.panicked += 1;
    }
    let stopped = daemon.stop();
    let log_path = test_box.path("air.wav.log");
    row.panicked += crate::panics_in(&log_path) + usize::from(!stopped);
    row.corrupt += crate::bad_bulletin_files(&state) + usize::from(!crate::store_is_whole(&state));
    // Each bulletin completed once and each revision applied once, whatever was delivered twice.
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let mut applied = std::collections::BTreeMap::new();
    for line in log.lines() {
        let key = if line.contains("bulletin complete, hash checked") {
            line.split("bulletin=").nth(1)
        } else if line.contains("schedule received") {
            line.split("revision=").nth(1)
        } else {
            None
        };
        if let Some(key) = key.and_then(|k| k.split_whitespace().next()) {
            *applied.entry(key.to_owned()).or_insert(0usize) += 1;
        }
    }
    let twice: Vec<&String> = applied
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| k)
        .collect();
    row.doubled += twice.len();
    if !twice.is_empty() {
        row.notes.push_str(&format!("applied twice: {twice:?}; "));
    }
    row.trials = trials;
    row.notes = format!(
        "{crashes} SIGKILL + {} SIGTERM; {mid_transfer} mid-transfer, {mid_update} mid-update; {}",
        trials - crashes,
        row.notes
    );
    row
}
