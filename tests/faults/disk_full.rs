//! The box's disk fills up. Its state directory is a small tmpfs of its own (12 MB), and two
//! things fill it: a bulletin too big for what is left (the box must refuse it before writing
//! a byte, keeping `disk_reserve_mb` for its log), and another process that takes every last
//! byte in the middle of a transfer (the chunk writes fail with ENOSPC). Each time the district
//! must get a rejection event that says why, nothing already stored may be damaged, the box
//! must keep airing its programme every few seconds, and every as-run entry must reach the log
//! once space is back.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::broker::Broker;
use crate::common::proxy::Proxy;
use crate::common::*;
use crate::{Dice, Row};

const EVERY: Duration = Duration::from_secs(4);

/// A tmpfs mounted for the test's lifetime.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, megabytes: u32) -> SmallDisk {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(at)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "mounting a {megabytes} MB tmpfs for the full-disk test needs root (make test runs \
             as root on CI): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk(at.to_owned())
    }

    /// Writes a file until the disk refuses: what another program filling the card does.
    fn fill(&self) -> PathBuf {
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0x55u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let _ = file.write_all(&block[..512]);
        let _ = file.flush();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

pub fn run(seed: u64) -> Row {
    let trials = crate::trials(1, 3);
    let mut row = Row {
        class: "disk full",
        trials: 2 * trials,
        ..Row::default()
    };
    for trial in 0..trials {
        one_trial(seed.wrapping_add(trial as u64), trial, &mut row);
    }
    row
}

fn one_trial(seed: u64, trial: usize, row: &mut Row) {
    let mut dice = Dice::new(seed);
    let broker = Broker::start();
    let district = District::new();
    let link = Proxy::start(broker.port(), 400_000);
    let box_id = format!("df-{trial:02}");
    let test_box = district.box_behind(&broker, &link, &box_id, "disk_reserve_mb = 2");
    let disk = SmallDisk::mount(&test_box.path("state"), 12);
    let state = test_box.path("state");
    let instants: Vec<(String, chrono::DateTime<chrono::Utc>)> = (0..12)
        .map(|i| local_second_ahead(Duration::from_secs(3) + EVERY * i))
        .collect();
    test_box.write_schedule(
        "often.toml",
        &format!(
            "[[program]]\nid = \"often\"\nat = [{}]\nitems = [\"audio/thong-bao-demo.mp3\"]\n",
            instants
                .iter()
                .map(|(t, _)| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let events = loaxa_core::protocol::topic::events(&box_id);
    broker.district_sub(&events, 1, 1); // the district's session, queueing what follows
    let mut daemon = test_box.start_daemon("air.wav");
    broker.wait_online(&[box_id.as_str()]);
    let tone = |name: &str, seconds: u32| {
        let file = ffmpeg_tone(district.dir.path(), name, 700, seconds, -18, 128);
        let sha = loaxa_core::protocol::hex_sha256(&std::fs::read(&file).unwrap());
        (file, state.join(format!("bulletins/{sha}.mp3")), sha)
    };

    // A bulletin that fits, then one that cannot: 6 MB needs 14 MB with its assembled copy and
    // the reserve, on a 12 MB disk. (The third, 3 MB, needs 8 MB: it fits, until the disk is
    // filled under it.)
    let (small, small_stored, _) = tone("fits.mp3", 64);
    district.publish_bulletin(&broker, &small, "commune/phu-dong", "fits", "Vừa");
    assert!(
        crate::wait_until(Duration::from_secs(30), || small_stored.exists()),
        "a bulletin that fits never arrived"
    );
    let kept = std::fs::read(&small_stored).unwrap();
    let (big, big_stored, _) = tone("too-big.mp3", 390);
    district.publish_bulletin(&broker, &big, "commune/phu-dong", "too-big", "Quá lớn");
    row.faults += 1;
    let daemon_log = test_box.path("air.wav.log");
    let said = |what: &str| {
        std::fs::read_to_string(&daemon_log)
            .unwrap_or_default()
            .contains(what)
    };
    if !crate::wait_until(Duration::from_secs(15), || said("the disk is too full")) {
        row.lost += 1;
        row.notes.push_str("too-big bulletin not refused; ");
    }
    assert!(!big_stored.exists());

    // Another program fills the disk while a transfer is under way.
    let (third, third_stored, third_sha) = tone("mid.mp3", 196);
    district.publish_bulletin(&broker, &third, "commune/phu-dong", "mid", "Giữa");
    let partial = state.join(format!("bulletins/partial/{third_sha}"));
    let chunks_wanted = 2 + (dice.roll() % 8) as usize;
    crate::wait_until(Duration::from_secs(20), || {
        std::fs::read_dir(&partial).map_or(0, |d| d.count()) >= chunks_wanted
    });
    let filler = disk.fill();
    row.faults += 1;
    // Refused either by the space check before the next chunk or by a chunk's failed write
    // (ENOSPC), whichever comes first; reported once.
    if !crate::wait_until(Duration::from_secs(15), || {
        said("bulletin held back bulletin=mid")
    }) {
        row.notes
            .push_str("the transfer ended before the disk filled; ");
    }
    // Airing goes on with the disk full for a couple of programmes.
    std::thread::sleep(EVERY * 2);
    if !daemon.is_running() {
        row.panicked += 1;
    }
    std::fs::remove_file(&filler).unwrap();
    // Space is back: the box looks again at its next housekeeping (every 30 s) and finishes
    // the transfer from the chunks it kept, by itself.
    if !crate::wait_until(Duration::from_secs(50), || third_stored.exists()) {
        row.lost += 1;
        row.notes
            .push_str("mid bulletin never completed after space came back; ");
    }
    // Every occurrence that fell due while the box ran has its one row.
    let last_due = instants
        .iter()
        .map(|(_, at)| *at)
        .filter(|at| *at < chrono::Utc::now() - chrono::Duration::seconds(4))
        .collect::<Vec<_>>();
    crate::wait_until(Duration::from_secs(10), || {
        crate::as_run(&state).len() >= last_due.len()
    });
    let log = crate::as_run(&state);
    let stopped = daemon.stop();
    let recorded = |at: &chrono::DateTime<chrono::Utc>| {
        let text = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        log.iter().any(|r| r.scheduled.starts_with(&text[..19]))
    };
    row.lost += last_due.iter().filter(|at| !recorded(at)).count();
    row.doubled += crate::aired_twice(&log);
    let aired = log.iter().filter(|r| r.outcome == "aired").count();
    if std::fs::read(&small_stored).ok().as_ref() != Some(&kept) {
        row.corrupt += 1;
    }
    row.corrupt += crate::bad_bulletin_files(&state) + usize::from(!crate::store_is_whole(&state));
    row.panicked += crate::panics_in(&daemon_log) + usize::from(!stopped);
    // The district heard why, both times.
    let heard = broker.district_sub(&events, 100, 2).join("\n");
    let told = heard.contains("bulletin too-big: not fetched, the disk is too full") as usize
        + heard.contains("bulletin mid: ") as usize;
    row.lost += 2 - told;
    if row.lost > 0 {
        eprintln!(
            "disk full, trial {trial}: daemon log:\n{}",
            std::fs::read_to_string(&daemon_log).unwrap_or_default()
        );
    }
    row.notes.push_str(&format!(
        "trial {trial}: {aired}/{} due aired, district told {told}/2 rejections; ",
        last_due.len()
    ));
    drop(disk);
}
