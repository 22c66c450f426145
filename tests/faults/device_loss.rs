//! The sound card vanishes mid-programme and comes back: loaxa plays through ALSA's `default`
//! to a PulseAudio server of the test's own, which is SIGKILLed a random moment into a 12.6 s
//! bulletin and started again later. The programme on air must be logged failed (not aired),
//! one falling due while the card is gone failed too, the daemon must retry with growing
//! delays, and the next programme after the card is back must air and be heard.

use std::path::Path;
use std::time::Duration;

use crate::common::pulse::{Pulse, left_channel};
use crate::common::*;
use crate::{Dice, Row};

pub fn run(seed: u64) -> Row {
    let trials = crate::trials(1, 4);
    let mut row = Row {
        class: "sound card lost",
        trials,
        ..Row::default()
    };
    let mut dice = Dice::new(seed);
    let mut outcomes = Vec::new();
    for trial in 0..trials {
        outcomes.push(one_trial(&mut dice, trial, &mut row));
    }
    row.notes = format!("{}{}", row.notes, outcomes.join("; "));
    row
}

fn one_trial(dice: &mut Dice, trial: usize, row: &mut Row) -> String {
    let mut pulse = Pulse::start();
    let test_box = TestBox::with_config("output = \"default\"\n").named(&format!("dl-{trial}"));
    let (on_air_at, on_air) = local_second_ahead(Duration::from_secs(3));
    let (gone_at, _) = local_second_ahead(Duration::from_secs(19));
    let (back_at, back) = local_second_ahead(Duration::from_secs(33));
    test_box.write_schedule(
        "three.toml",
        &format!(
            "[[program]]\nid = \"on-air\"\nat = [\"{on_air_at}\"]\nitems = [\"audio/ban-tin-sang.mp3\"]\n\
             [[program]]\nid = \"while-gone\"\nat = [\"{gone_at}\"]\nitems = [\"audio/thong-bao-demo.mp3\"]\n\
             [[program]]\nid = \"back\"\nat = [\"{back_at}\"]\nitems = [\"audio/thong-bao-demo.mp3\"]\n"
        ),
    );
    let log_path = test_box.path("daemon.log");
    let mut daemon = Daemon {
        child: loaxa()
            .args(["daemon", "--config", test_box.config().to_str().unwrap()])
            .env("PULSE_SERVER", pulse.address())
            .env("RUST_LOG", "info")
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .expect("daemon starts"),
    };
    // The card goes 1–8 s into the bulletin, and comes back after the second programme's time.
    let into = dice.between(Duration::from_secs(1), Duration::from_secs(8));
    sleep_until(on_air + chrono::Duration::from_std(into).unwrap());
    pulse.kill();
    row.faults += 1;
    sleep_until(back - chrono::Duration::seconds(8));
    pulse.start_again();
    let recording = test_box.path("after.raw");
    let mut recorder = pulse.record(&recording);
    let settled = test_box.wait_for_log(Duration::from_secs(30), |log| {
        log.iter()
            .any(|e| e["program_id"] == "back" && e["outcome"] != "airing")
    });
    std::thread::sleep(Duration::from_millis(500));
    let _ = recorder.kill();
    let _ = recorder.wait();
    if !daemon.is_running() {
        row.panicked += 1;
    }
    let stopped = daemon.stop();
    row.panicked += crate::panics_in(&log_path) + usize::from(!stopped);

    let outcome = |id: &str| {
        settled
            .iter()
            .find(|e| e["program_id"] == id)
            .map(|e| e["outcome"].as_str().unwrap_or("?").to_owned())
            .unwrap_or_else(|| "none".into())
    };
    let outcomes = [outcome("on-air"), outcome("while-gone"), outcome("back")];
    // An entry missing, or one claiming "aired" for audio that went nowhere, is a loss.
    row.lost += usize::from(outcomes[0] != "failed")
        + usize::from(outcomes[1] != "failed")
        + usize::from(outcomes[2] != "aired");
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    if outcomes[2] != "aired" {
        eprintln!(
            "sound card lost: the programme after the card came back did not air: {settled:#?}\n{log}"
        );
    }
    let retries = log.matches("no audio output; retrying").count();
    // And the bulletin after the card came back was heard, from its start.
    let heard = left_channel(&std::fs::read(&recording).unwrap_or_default());
    let reference = ffmpeg_decode(&Path::new(REPO).join("audio/thong-bao-demo.mp3"), 44_100);
    let lead_in = onset(&reference, 0.02).unwrap_or(0);
    let window = &reference[lead_in..(lead_in + 44_100).min(reference.len())];
    let score = onset(&heard, 0.02).map_or(0.0, |at| correlation(&heard, at, window));
    if score < 0.9 {
        row.lost += 1;
    }
    format!(
        "killed {:.1} s in: on-air {}, while-gone {}, back {} (heard, r={score:.2}); {retries} retries",
        into.as_secs_f64(),
        outcomes[0],
        outcomes[1],
        outcomes[2]
    )
}

fn sleep_until(at: chrono::DateTime<chrono::Utc>) {
    if let Ok(wait) = (at - chrono::Utc::now()).to_std() {
        std::thread::sleep(wait);
    }
}
