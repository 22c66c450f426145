//! `kill -9` (our stand-in for a power cut) during a broadcast, then a restart: nothing finished
//! is lost, the interrupted occurrence is logged and retried from its start, and nothing that aired
//! to the end airs again.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn a_broadcast_killed_mid_air_is_logged_interrupted_and_retried_once_and_finished_ones_never_repeat()
 {
    let test_box = TestBox::new();
    let (first_at, _) = local_second_ahead(Duration::from_secs(2));
    let (second_at, second_instant) = local_second_ahead(Duration::from_secs(8));
    test_box.write_schedule(
        "day.toml",
        &format!(
            "[[program]]\nid = \"short\"\nat = [\"{first_at}\"]\nitems = [\"audio/thong-bao-demo.mp3\"]\n\
             [[program]]\nid = \"long\"\nat = [\"{second_at}\"]\nitems = [\"audio/ban-tin-sang.mp3\"]\n"
        ),
    );

    // Run 1: "short" airs to the end; "long" is killed three seconds in.
    let daemon = test_box.start_daemon("run1.wav");
    test_box.wait_for_log(Duration::from_secs(30), |log| {
        log.iter().any(|e| e["program_id"] == "long")
    });
    let until_mid_air = (second_instant + chrono::Duration::seconds(3) - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    std::thread::sleep(until_mid_air);
    daemon.kill_9();
    let log = test_box.as_run();
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(
        (log[0]["program_id"].as_str(), log[0]["outcome"].as_str()),
        (Some("short"), Some("aired"))
    );
    assert_eq!(
        (log[1]["program_id"].as_str(), log[1]["outcome"].as_str()),
        (Some("long"), Some("airing"))
    );

    // Run 2: the restart logs "long" as interrupted and airs it again from the start, as a retry.
    let daemon = test_box.start_daemon("run2.wav");
    let log = test_box.wait_for_log(Duration::from_secs(40), |log| {
        log.iter()
            .any(|e| e["attempt"] == 2 && e["outcome"] == "aired")
    });
    assert!(daemon.stop());
    let outcomes: Vec<(String, String, u64)> = log
        .iter()
        .map(|e| {
            (
                e["program_id"].as_str().unwrap().into(),
                e["outcome"].as_str().unwrap().into(),
                e["attempt"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("short".into(), "aired".into(), 1),
            ("long".into(), "interrupted".into(), 1),
            ("long".into(), "aired".into(), 2)
        ]
    );
    assert!(
        log[2]["detail"]
            .as_str()
            .unwrap()
            .starts_with("retry after interruption"),
        "{log:#?}"
    );
    // The retry is the whole bulletin, from its start.
    let recording = Recording::read(&test_box.path("run2.wav"));
    let reference = ffmpeg_decode(
        &std::path::Path::new(REPO).join("audio/ban-tin-sang.mp3"),
        recording.rate,
    );
    let heard = onset(&recording.left, 0.02).expect("the retry aired");
    let lead_in = onset(&reference, 0.02).unwrap();
    let window = &reference[lead_in..lead_in + recording.rate as usize];
    assert!(
        correlation(&recording.left, heard, window) > 0.95,
        "the retry starts at the bulletin's beginning"
    );

    // Run 3: everything is settled; nothing airs again.
    let daemon = test_box.start_daemon("run3.wav");
    std::thread::sleep(Duration::from_secs(3));
    assert!(daemon.stop());
    assert_eq!(test_box.as_run().len(), 3);
    let recording = Recording::read(&test_box.path("run3.wav"));
    assert_eq!(onset(&recording.left, 0.001), None, "run 3 aired nothing");
}
