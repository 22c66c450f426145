//! A 5 MB bulletin over a slow link that fails in every way a commune box sees: the link drops,
//! the broker restarts, the box is killed mid-transfer. The transfer resumes each time from the
//! chunks already on disk, fetches (almost) nothing twice, and the file the box keeps is the
//! district's, byte for byte. Real Mosquitto, real binaries, a throttled TCP link in between.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::broker::Broker;
use common::proxy::Proxy;
use common::*;

/// 400 KB/s each way: a 5 MB bulletin takes ~13 s, time enough to break things mid-way.
const LINK_RATE: usize = 400_000;

fn chunks_on_disk(test_box: &TestBox, sha: &str) -> usize {
    std::fs::read_dir(test_box.path(&format!("state/bulletins/partial/{sha}")))
        .map(|dir| dir.count())
        .unwrap_or(0)
}

/// Waits until the box holds at least `count` chunks (or the whole file).
fn wait_for_chunks(test_box: &TestBox, sha: &str, count: usize, complete: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while chunks_on_disk(test_box, sha) < count && !complete.exists() {
        assert!(Instant::now() < deadline, "stuck below {count} chunks");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_5_mb_bulletin_survives_a_dropped_link_a_broker_restart_and_a_killed_box_and_arrives_whole() {
    let mut broker = Broker::start();
    let district = District::new();
    let audio = // A ~5 MB MP3: 5.5 minutes of a tone at 128 kb/s.
    ffmpeg_tone(district.dir.path(), "dai-bulletin.mp3", 523, 330, -18, 128);
    let original = std::fs::read(&audio).unwrap();
    let sha = loaxa_core::protocol::hex_sha256(&original);
    let chunk_count = original.len().div_ceil(64 * 1024);

    // Published before the box exists: it fetches the audio when it first connects.
    district.publish_bulletin_ahead(
        &broker,
        &audio,
        "commune/phu-dong",
        "dai-bulletin",
        "Bản tin dài",
    );

    let link = Proxy::start(broker.port(), LINK_RATE);
    let test_box = district.box_behind(&broker, &link, "pd-01", "");
    let complete = test_box.path(&format!("state/bulletins/{sha}.mp3"));
    let started = Instant::now();

    let daemon = test_box.start_daemon("first.wav");
    wait_for_chunks(&test_box, &sha, chunk_count / 5, &complete);
    link.cut();
    wait_for_chunks(&test_box, &sha, 2 * chunk_count / 5, &complete);
    broker.restart();
    wait_for_chunks(&test_box, &sha, 3 * chunk_count / 5, &complete);
    // The status the box published when it came back lists the transfer in progress.
    let status = std::process::Command::new("mosquitto_sub")
        .args(["-p", &broker.port().to_string(), "-t", "loaxa/status/pd-01"])
        .args(["-C", "1", "-W", "5"])
        .output()
        .expect("mosquitto_sub runs");
    let status: serde_json::Value =
        serde_json::from_slice(&status.stdout).expect("a retained status");
    assert_eq!(status["state"], "online");
    assert_eq!(
        status["transfers"][0]["bulletin"], "dai-bulletin",
        "{status}"
    );
    assert_eq!(status["transfers"][0]["chunks"], chunk_count);
    assert!(status["disk_free"].as_u64().is_some_and(|free| free > 0));
    daemon.kill_9();
    let at_kill = chunks_on_disk(&test_box, &sha);
    assert!(
        !complete.exists(),
        "the transfer finished before the box was killed"
    );

    let daemon = test_box.start_daemon("second.wav");
    let deadline = Instant::now() + Duration::from_secs(90);
    while !complete.exists() {
        assert!(Instant::now() < deadline, "the bulletin never completed");
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = started.elapsed();
    std::thread::sleep(Duration::from_millis(500)); // receipts go out
    assert!(daemon.stop());

    assert_eq!(
        std::fs::read(&complete).unwrap(),
        original,
        "the stored file is the district's"
    );
    assert!(
        !test_box
            .path(&format!("state/bulletins/partial/{sha}"))
            .exists(),
        "the partial chunks are cleaned up"
    );

    // How many times the broker sent each chunk to the box, from the broker's own log.
    let log = broker.log();
    let mut deliveries = vec![0usize; chunk_count];
    for line in log
        .lines()
        .filter(|l| l.contains("Sending PUBLISH to loaxa-box-pd-01"))
    {
        if let Some(index) = line
            .split(&format!("'loaxa/chunk/{sha}/"))
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .and_then(|n| n.parse::<usize>().ok())
        {
            deliveries[index] += 1;
        }
    }
    let total: usize = deliveries.iter().sum();
    println!(
        "{} bytes in {chunk_count} chunks through a {LINK_RATE} B/s link in {:.1} s; \
         {total} chunk deliveries ({} more than the minimum) across a link cut, a broker \
         restart and a box killed at {at_kill} chunks",
        original.len(),
        elapsed.as_secs_f64(),
        total.saturating_sub(chunk_count)
    );
    assert!(
        deliveries.iter().all(|&n| n >= 1),
        "every chunk came through the broker: {deliveries:?}"
    );
    // Each fault costs at most what was in flight, twice: the window of chunks subscribed (8),
    // plus one delivered but not yet stored and acknowledged. The broker sends them again from
    // the session, and once more as retained messages when they are subscribed to again: by
    // the new process after a kill, or, after a dropped link or a broker restart, when the
    // MQTT client replays the SUBSCRIBEs the broker had not confirmed (as MQTT 3.1.1 asks; only
    // MQTT 5's retain handling could tell the broker not to resend a retained message).
    const IN_FLIGHT: usize = 8 + 1;
    assert!(
        total <= chunk_count + 6 * IN_FLIGHT,
        "{total} deliveries for {chunk_count} chunks: {deliveries:?}"
    );
}
