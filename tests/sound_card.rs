//! The real cpal path, in real time: loaxa plays to ALSA's `default` device, which goes to a
//! private PulseAudio server with a null sink (there is no sound card on CI machines), and
//! `parec` records the sink's monitor. A device clock paces the output here, not loaxa's own.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::pulse::{Pulse, left_channel};
use common::*;

#[test]
fn programmes_played_through_the_sound_card_keep_their_scheduled_spacing_to_the_millisecond() {
    let pulse = Pulse::start();
    let test_box = TestBox::with_config("output = \"default\"\n");
    let (first_at, first) = local_second_ahead(Duration::from_secs(3));
    let (second_at, second) = local_second_ahead(Duration::from_secs(8));
    test_box.write_schedule(
        "two.toml",
        &format!(
            "[[program]]\nid = \"first\"\nat = [\"{first_at}\"]\nitems = [\"audio/thong-bao-demo.mp3\"]\n\
             [[program]]\nid = \"second\"\nat = [\"{second_at}\"]\nitems = [\"audio/thong-bao-demo.mp3\"]\n"
        ),
    );
    let recording_path = test_box.path("monitor.raw");
    let mut recorder = pulse.record(&recording_path);
    let mut daemon = loaxa()
        .args(["daemon", "--config", test_box.config().to_str().unwrap()])
        .env("PULSE_SERVER", pulse.address())
        .stderr(std::fs::File::create(test_box.path("daemon.log")).unwrap())
        .spawn()
        .unwrap();
    let log = test_box.wait_for_log(Duration::from_secs(40), |log| {
        log.iter().filter(|e| e["outcome"] == "aired").count() == 2
    });
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let _ = daemon.wait();
    std::thread::sleep(Duration::from_millis(500));
    let _ = recorder.kill();
    let _ = recorder.wait();

    // By the card's own timestamps, each programme started on its instant.
    for (entry, instant) in log.iter().zip([first, second]) {
        let started =
            chrono::DateTime::parse_from_rfc3339(entry["started"].as_str().unwrap()).unwrap();
        let error_ms = (started.with_timezone(&chrono::Utc) - instant)
            .num_microseconds()
            .unwrap() as f64
            / 1000.0;
        let daemon_log = std::fs::read_to_string(test_box.path("daemon.log")).unwrap_or_default();
        assert!(
            error_ms.abs() <= 10.0,
            "{}: started {error_ms:+.2} ms from its instant\n{daemon_log}",
            entry["program_id"]
        );
    }

    // What came out of the sink: the bulletin, twice, exactly as far apart as scheduled.
    let heard = left_channel(&std::fs::read(&recording_path).unwrap());
    let reference = ffmpeg_decode(&Path::new(REPO).join("audio/thong-bao-demo.mp3"), 44_100);
    let lead_in = onset(&reference, 0.02).unwrap();
    let window = &reference[lead_in..lead_in + 44_100];
    let one = onset(&heard, 0.02).expect("the first programme came out of the sink");
    let after_first = one + reference.len() - lead_in;
    let two =
        after_first + onset(&heard[after_first..], 0.02).expect("the second programme came out");
    for at in [one, two] {
        let score = correlation(&heard, at, window);
        assert!(
            score > 0.95,
            "the sink got the bulletin (correlation {score:.3})"
        );
    }
    let spacing_ms = (two - one) as f64 * 1000.0 / 44_100.0;
    let scheduled_ms = (second - first).num_milliseconds() as f64;
    eprintln!("through the sound card: spacing {spacing_ms:.3} ms, scheduled {scheduled_ms} ms");
    // The starts themselves are held to 10 ms above, by the card's clock. What the monitor
    // recorded also carries the null sink's and parec's own scheduling (seen 10–15 ms off in 2 of
    // 7 clean runs, even with the test alone on the machine): 20 ms here.
    assert!(
        (spacing_ms - scheduled_ms).abs() <= 20.0,
        "spacing {spacing_ms:.2} ms, scheduled {scheduled_ms} ms"
    );
}
