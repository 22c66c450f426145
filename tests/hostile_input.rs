//! Hostile input over the link, end to end: a schedule signed by an unknown key, a tampered
//! signed payload, an old revision replayed, a manifest whose chunks do not match their hashes,
//! malformed JSON and a 50 MB message each get a clear log line and a `rejected` event for the
//! district, and the box keeps airing the schedule it holds. Real Mosquitto, real binaries.

mod common;

use std::process::Command;
use std::time::Duration;

use common::broker::Broker;
use common::*;
use loaxa_core::protocol::hex_sha256;
use loaxa_core::protocol::{Document, Envelope, Manifest, ScheduleDoc};
use loaxa_core::trust::SecretKey;

const TOPIC: &str = "loaxa/commune/phu-dong/schedule";

/// The events the district got from pd-01 within `wait` seconds, parsed.
fn district_events(broker: &Broker, wait: u32) -> Vec<serde_json::Value> {
    broker
        .district_sub("loaxa/events/pd-01", 1000, wait)
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[test]
fn every_kind_of_hostile_message_is_refused_reported_and_the_box_airs_its_schedule_anyway() {
    let broker = Broker::start();
    let district = District::new();
    let stranger = District::new();
    let test_box = district.linked_box(&broker, "pd-01", "phu-dong", "");
    district_events(&broker, 1); // makes the district's session
    let daemon = test_box.start_daemon("out.wav");
    broker.wait_online(&["pd-01"]);

    let (at, _) = local_second_ahead(Duration::from_secs(16));
    let schedule = district.one_off("still-on", &at, "audio/thong-bao-demo.mp3");
    let publish = |by: &District| district_publish(by, &broker, &schedule);
    publish(&district);
    std::thread::sleep(Duration::from_millis(500));
    let revision_1 = broker.retained(TOPIC);
    publish(&district); // revision 2, the same programme

    // 1. An old revision replayed.
    broker.publish_retained(TOPIC, &revision_1);
    // 2. A well-formed schedule signed by a key the box does not trust (published as anyone
    //    could: `loaxa-district` would refuse a key no box of the scope trusts).
    let stranger_key = SecretKey::parse(&std::fs::read_to_string(stranger.key()).unwrap()).unwrap();
    let forged = Document::Schedule(ScheduleDoc {
        scope: "commune/phu-dong".parse().unwrap(),
        revision: 3,
        issued_at: chrono::Utc::now(),
        approver: "x".into(),
        schedule: std::fs::read_to_string(&schedule).unwrap(),
    });
    let forged = Envelope::seal(&forged, &stranger_key).unwrap();
    broker.publish_retained(TOPIC, &forged.to_bytes());
    // 3. A genuine envelope whose signed text was altered.
    let mut envelope: serde_json::Value = serde_json::from_slice(&revision_1).unwrap();
    let signed = envelope["signed"]
        .as_str()
        .unwrap()
        .replace("\"revision\":1", "\"revision\":9");
    envelope["signed"] = signed.into();
    broker.publish_retained(TOPIC, envelope.to_string().as_bytes());
    // 4. Malformed JSON.
    broker.publish_retained(TOPIC, b"{\"v\":1,\"signed\":");
    // 5. A correctly signed manifest whose chunk hashes are not those of the chunks on the
    //    broker (uploaded genuinely, for another commune).
    let audio = std::path::Path::new(REPO).join("audio/ban-tin-sang.mp3");
    district.publish_bulletin_ahead(&broker, &audio, "commune/khac", "that", "Tin xã khác");
    let bytes = std::fs::read(&audio).unwrap();
    let manifest: Manifest = serde_json::from_value(serde_json::json!({
        "scope": "commune/phu-dong", "id": "doi-tra", "issued_at": chrono::Utc::now(),
        "title": "forged", "sha256": hex_sha256(&bytes),
        "size": bytes.len(), "duration_ms": 1000, "codec": "mp3", "chunk_size": 65536,
        "chunks": [hex_sha256(b"not chunk 0"), hex_sha256(b"not chunk 1")],
        "valid_until": null, "approver": "x",
    }))
    .unwrap();
    let key = SecretKey::parse(&std::fs::read_to_string(district.key()).unwrap()).unwrap();
    let sealed = Envelope::seal(&Document::Bulletin(manifest), &key).unwrap();
    broker.publish_retained(
        "loaxa/commune/phu-dong/bulletin/doi-tra",
        &sealed.to_bytes(),
    );
    // 6. 50 MB on the schedule topic.
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
            TOPIC,
            "-f",
        ])
        .arg(&huge)
        .status()
        .unwrap();
    assert!(status.success());

    let log = test_box.wait_for_log(Duration::from_secs(40), |log| {
        log.iter().any(|e| e["outcome"] != "airing")
    });
    assert_eq!(
        (log[0]["program_id"].as_str(), log[0]["outcome"].as_str()),
        (Some("still-on"), Some("aired")),
        "the box aired the schedule it held: {log:#?}"
    );
    std::thread::sleep(Duration::from_secs(1)); // the last rejections go out
    assert!(daemon.stop());

    let daemon_log = std::fs::read_to_string(test_box.path("out.wav.log")).unwrap();
    let rejected: Vec<String> = district_events(&broker, 3)
        .into_iter()
        .filter(|e| e["kind"] == "rejected")
        .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    let expected = [
        "revision 1 is older than the held revision 2 (replay?)",
        "signed by unknown key",
        "signature does not match the data",
        "not valid JSON for envelope",
        "chunk 0 of doi-tra: ",
        "chunk 1 of doi-tra: ",
        "message of 52428800 bytes is over the 262144-byte limit",
    ];
    for reason in expected {
        assert!(
            rejected.iter().any(|r| r.contains(reason)),
            "no rejected event saying {reason:?}; events: {rejected:#?}"
        );
        assert!(
            daemon_log.contains(reason),
            "no log line saying {reason:?}:\n{daemon_log}"
        );
    }
    assert_eq!(
        rejected.len(),
        expected.len(),
        "one rejection each, no loops: {rejected:#?}"
    );
}

fn district_publish(by: &District, broker: &Broker, schedule: &std::path::Path) {
    let out = by.publish_schedule(broker, schedule, "commune/phu-dong", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_replayed_old_manifest_is_refused_and_the_newer_audio_still_airs() {
    let broker = Broker::start();
    let district = District::new();
    let test_box = district.linked_box(&broker, "pd-01", "phu-dong", "");
    district_events(&broker, 1); // makes the district's session
    let daemon = test_box.start_daemon("out.wav");
    broker.wait_online(&["pd-01"]);

    // Bulletin `tin` is published, then replaced by a newer one; someone re-publishes the
    // first signed manifest, retained, so it is what the broker now hands out for `tin`.
    let old_audio = ffmpeg_tone(district.dir.path(), "old.mp3", 440, 3, -6, 128);
    let new_audio = ffmpeg_tone(district.dir.path(), "new.mp3", 880, 3, -6, 128);
    let topic = "loaxa/commune/phu-dong/bulletin/tin";
    district.publish_bulletin(&broker, &old_audio, "commune/phu-dong", "tin", "Tin cũ");
    let old_manifest = broker.retained(topic);
    district.publish_bulletin(&broker, &new_audio, "commune/phu-dong", "tin", "Tin mới");
    broker.publish_retained(topic, &old_manifest);

    let (at, _) = local_second_ahead(Duration::from_secs(8));
    let schedule = district.one_off("tin-sang", &at, "bulletin:tin");
    district_publish(&district, &broker, &schedule);
    let log = test_box.wait_for_log(Duration::from_secs(40), |log| {
        log.iter().any(|e| e["outcome"] != "airing")
    });
    assert_eq!(log[0]["outcome"], "aired", "{log:#?}");
    std::thread::sleep(Duration::from_secs(1)); // the rejection goes out
    assert!(daemon.stop());

    let daemon_log = std::fs::read_to_string(test_box.path("out.wav.log")).unwrap();
    let refusal = "is older than the one held";
    assert!(
        daemon_log.contains("bulletin tin issued at") && daemon_log.contains(refusal),
        "{daemon_log}"
    );
    let rejected: Vec<String> = district_events(&broker, 3)
        .into_iter()
        .filter(|e| e["kind"] == "rejected")
        .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        rejected.iter().filter(|r| r.contains(refusal)).count(),
        1,
        "the replay is reported once: {rejected:#?}"
    );

    // What aired is the newer audio (880 Hz), not the replayed manifest's (440 Hz).
    let recording = Recording::read(&test_box.path("out.wav"));
    let heard = onset(&recording.left, 0.02).expect("the bulletin aired") as i64;
    let second = recording.rate as usize;
    let fit = |file: &std::path::Path| {
        let reference = ffmpeg_decode(file, recording.rate);
        let lead_in = onset(&reference, 0.02).unwrap();
        let one_second = &reference[lead_in..lead_in + second];
        best_alignment(&recording.left, one_second, heard, 441).1
    };
    let (new_fit, old_fit) = (fit(&new_audio), fit(&old_audio));
    assert!(
        new_fit > 0.9 && old_fit < 0.3,
        "correlation with the newer audio {new_fit:.3}, with the replayed one {old_fit:.3}"
    );
}
