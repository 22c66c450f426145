//! The amplifier hooks: on, and warmed up, before the first sample; off only after the tail.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn the_amplifier_is_on_and_warm_before_the_first_sample_and_off_after_the_tail() {
    let test_box = TestBox::with_config(
        "[amplifier]\n\
         on = \"echo on $(date +%s%N) >> {dir}/amp.log\"\n\
         off = \"echo off $(date +%s%N) >> {dir}/amp.log\"\n\
         warm_up_seconds = 1.5\n\
         tail_seconds = 1.0\n",
    );
    let (at, instant) = local_second_ahead(Duration::from_secs(4));
    test_box.write_schedule(
        "one.toml",
        &format!(
            "[[program]]\nid = \"demo\"\nat = [\"{at}\"]\nitems = [\"audio/thong-bao-demo.mp3\"]\n"
        ),
    );
    let daemon = test_box.start_daemon("out.wav");
    let log = test_box.wait_for_log(Duration::from_secs(30), |log| {
        log.iter().any(|e| e["outcome"] == "aired")
    });
    std::thread::sleep(Duration::from_secs(2)); // past the tail
    assert!(daemon.stop());

    let switched: Vec<(String, i128)> = std::fs::read_to_string(test_box.path("amp.log"))
        .expect("the hooks ran")
        .lines()
        .map(|l| {
            let (what, ns) = l.split_once(' ').unwrap();
            (what.to_owned(), ns.parse().unwrap())
        })
        .collect();
    assert_eq!(
        switched.iter().map(|(w, _)| w.as_str()).collect::<Vec<_>>(),
        ["on", "off"]
    );
    let scheduled_ns = i128::from(instant.timestamp_nanos_opt().unwrap());
    let ended = chrono::DateTime::parse_from_rfc3339(log[0]["ended"].as_str().unwrap()).unwrap();
    let ended_ns = i128::from(ended.timestamp_nanos_opt().unwrap());
    let warm_ms = (scheduled_ns - switched[0].1) as f64 / 1e6;
    let tail_ms = (switched[1].1 - ended_ns) as f64 / 1e6;
    assert!(
        warm_ms >= 1500.0,
        "amplifier switched on only {warm_ms:.0} ms before the start"
    );
    assert!(
        tail_ms >= 1000.0,
        "amplifier switched off {tail_ms:.0} ms after the end"
    );

    // The warm-up did not delay the programme.
    let recording = Recording::read(&test_box.path("out.wav"));
    let reference = ffmpeg_decode(
        &std::path::Path::new(REPO).join("audio/thong-bao-demo.mp3"),
        recording.rate,
    );
    let heard =
        onset(&recording.left, 0.02).unwrap() as i64 - onset(&reference, 0.02).unwrap() as i64;
    let error_ms = recording.ms(heard - recording.index_at(instant));
    assert!(
        error_ms.abs() <= 10.0,
        "first sample {error_ms:+.2} ms from the instant"
    );
}
