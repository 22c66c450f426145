//! A broker outage during a programme: the box airs it anyway, from what it holds, and its
//! as-run entry reaches the district once the broker is back (the outbox keeps it meanwhile,
//! and lets go of it only when the broker has routed it).

mod common;

use std::time::Duration;

use common::broker::Broker;
use common::*;

#[test]
fn a_programme_airs_through_a_broker_outage_and_its_as_run_entry_reaches_the_district_afterwards() {
    let mut broker = Broker::start();
    let district = District::new();
    let test_box = district.linked_box(&broker, "pd-01", "phu-dong", "");
    broker.district_sub("loaxa/events/pd-01", 1, 1); // makes the district's session; it times out at once
    let daemon = test_box.start_daemon("out.wav");
    broker.wait_online(&["pd-01"]);

    let (at, _) = local_second_ahead(Duration::from_secs(5));
    let schedule = district.one_off("offline-ok", &at, "audio/thong-bao-demo.mp3");
    let out = district.publish_schedule(&broker, &schedule, "commune/phu-dong", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::thread::sleep(Duration::from_millis(800)); // the box receives it
    broker.stop();

    let log = test_box.wait_for_log(Duration::from_secs(30), |log| {
        log.iter().any(|e| e["outcome"] == "aired")
    });
    assert_eq!(log[0]["program_id"], "offline-ok");
    broker.restart();

    let events = broker.district_sub("loaxa/events/pd-01", 2, 40).join("\n"); // the schedule receipt, then the as-run entry
    // Each event leaves the box's outbox once its echo shows the broker routed it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while test_box.outbox_len() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the outbox never emptied"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(daemon.stop());
    let as_run: Vec<serde_json::Value> = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["kind"] == "as_run")
        .collect();
    assert_eq!(as_run.len(), 1, "events the district got: {events}");
    assert_eq!(
        (as_run[0]["program"].as_str(), as_run[0]["outcome"].as_str()),
        (Some("offline-ok"), Some("aired"))
    );
    // What aired and why: the district's schedule of the commune, at the revision it took.
    assert_eq!(
        as_run[0]["origin"],
        serde_json::json!({ "kind": "schedule", "scope": "commune/phu-dong", "revision": 1 })
    );
    assert_eq!(as_run[0]["title"], "offline-ok");
    assert_eq!(as_run[0]["bulletins"], serde_json::json!([]));
    let late_ms = as_run[0]["late_ms"].as_i64().expect("late_ms");
    assert!((0..1000).contains(&late_ms), "started {late_ms} ms late");
    let receipt: serde_json::Value = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["kind"] == "received")
        .expect("the schedule's receipt");
    assert_eq!(receipt["revision"], 1, "{receipt}");
}
