//! A quiet recording and a loud one in the same programme come out of the box at the same
//! level: each file's EBU R128 loudness is measured once and playback is normalised to the
//! box's target (−16 LUFS by default). Real daemon, real decode, checked in the WAV it wrote.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;

fn rms_db(samples: &[f32]) -> f64 {
    let power = samples.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / samples.len() as f64;
    10.0 * power.log10()
}

#[test]
fn a_quiet_and_a_loud_recording_air_at_the_same_loudness() {
    // The recordings are made beside the box, outside its media directory.
    let test_box = TestBox::with_config("[local]\nfiles_anywhere = true\n");
    let quiet = ffmpeg_tone(test_box.dir.path(), "quiet.mp3", 440, 2, -30, 128);
    let loud = ffmpeg_tone(test_box.dir.path(), "loud.mp3", 660, 2, -6, 128);
    // Far enough ahead for the workers to measure both files before the programme is prepared,
    // even on a loaded machine (a file not yet measured airs with a provisional gain).
    let (at, _) = local_second_ahead(Duration::from_secs(10));
    test_box.write_schedule(
        "xa.toml",
        &format!(
            "[[program]]\nid = \"levels\"\nat = [\"{at}\"]\nitems = [{:?}, {:?}]\n",
            quiet.display().to_string(),
            loud.display().to_string()
        ),
    );
    // The engineer's view: loudness figures are shown with --verbose only.
    let validate = run(&[
        "validate",
        "--verbose",
        test_box.path("schedules").to_str().unwrap(),
        "--config",
        test_box.config().to_str().unwrap(),
    ]);
    let report = stdout(&validate);
    assert!(
        report.contains("quiet.mp3: -3") && report.contains("loud.mp3: -"),
        "{report}"
    );
    println!("{report}");

    let daemon = test_box.start_daemon("out.wav");
    test_box.wait_for_log(Duration::from_secs(30), |log| {
        log.iter().any(|e| e["outcome"] == "aired")
    });
    assert!(daemon.stop());
    let log = std::fs::read_to_string(test_box.path("out.wav.log")).unwrap();
    let start_of = |name: &str| -> DateTime<Utc> {
        log.lines()
            .find(|l| l.contains("boundary") && l.contains(name))
            .and_then(|l| l.split("at=").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|at| at.parse().ok())
            .unwrap_or_else(|| panic!("no boundary for {name}:\n{log}"))
    };
    let wav = Recording::read(&test_box.path("out.wav"));
    let level = |name: &str| {
        let from = wav.index_at(start_of(name)) as usize + wav.rate as usize / 4;
        rms_db(&wav.left[from..from + wav.rate as usize])
    };
    let (quiet_db, loud_db) = (level("quiet.mp3"), level("loud.mp3"));
    println!("aired at {quiet_db:.2} dBFS and {loud_db:.2} dBFS RMS (files: -33 and -9 dBFS RMS)");
    assert!(
        (quiet_db - loud_db).abs() <= 1.0,
        "{quiet_db:.2} vs {loud_db:.2} dB"
    );
    assert!(
        loud_db < -12.0,
        "the loud file was turned down ({loud_db:.2} dBFS)"
    );
}
