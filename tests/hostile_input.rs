//! Hostile input over the link, end to end: an oversized message on a box's schedule topic is
//! refused with a clear log line, and the box keeps airing the schedule it already holds.

mod common;

use std::process::Command;
use std::time::Duration;

use common::broker::Broker;
use common::*;

#[test]
fn a_50_mb_message_on_the_schedule_topic_is_refused_and_the_box_airs_its_current_schedule() {
    let broker = Broker::start();
    let district = District::new();
    let test_box = district.linked_box(&broker, "pd-01", "phu-dong", "");
    let daemon = test_box.start_daemon("out.wav");

    let (at, _) = local_second_ahead(Duration::from_secs(6));
    let schedule = district.one_off("still-on", &at, "audio/thong-bao-demo.mp3");
    let out = district.publish_schedule(&broker, &schedule, "commune/phu-dong", &[]);
    assert!(out.status.success(), "{}", stderr(&out));

    let huge = district.dir.path().join("huge.bin");
    std::fs::write(&huge, vec![b'{'; 50 * 1024 * 1024]).unwrap();
    let status = Command::new("mosquitto_pub")
        .args([
            "-p",
            &broker.port().to_string(),
            "-q",
            "1",
            "-r",
            "-t",
            "loaxa/commune/phu-dong/schedule",
            "-f",
        ])
        .arg(&huge)
        .status()
        .unwrap();
    assert!(status.success());

    let log = test_box.wait_for_log(Duration::from_secs(30), |log| {
        log.iter().any(|e| e["outcome"] == "aired")
    });
    assert_eq!(log[0]["program_id"], "still-on");
    assert!(daemon.stop());
    let daemon_log = std::fs::read_to_string(test_box.path("out.wav.log")).unwrap();
    assert!(
        daemon_log.contains("message of 52428800 bytes is over the 262144-byte limit"),
        "{daemon_log}"
    );
}
