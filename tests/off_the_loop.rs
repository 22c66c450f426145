//! End to end: work that grows with its input (decoding a 10-hour file, checking a bulletin,
//! parsing 100,000 programmes) runs beside the daemon's loop, never on it. A programme due
//! meanwhile airs on time and `loaxa status` answers. Timings are the bench's business; the
//! bounds here are generous.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use common::broker::Broker;
use common::*;
use loaxa_core::protocol::hex_sha256;
use loaxa_core::protocol::{Document, Envelope, Manifest, topic};
use loaxa_core::trust::SecretKey;

/// `path` as a schedule names it: relative to the repository (the test boxes' media
/// directory) when it is inside it.
fn item(path: &Path) -> String {
    path.strip_prefix(REPO)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn daemon_log(test_box: &TestBox) -> String {
    std::fs::read_to_string(test_box.path("out.wav.log")).unwrap_or_default()
}

/// Waits until the daemon's log holds `needle`, or panics after `timeout`.
fn wait_for_line(test_box: &TestBox, needle: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !daemon_log(test_box).contains(needle) {
        assert!(
            Instant::now() < deadline,
            "the daemon never logged {needle:?}:\n{}",
            daemon_log(test_box)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// How far from `instant` the first sample of `file` went out in the box's recording, in ms.
fn first_sample_error_ms(test_box: &TestBox, file: &str, instant: DateTime<Utc>) -> f64 {
    let recording = Recording::read(&test_box.path("out.wav"));
    let reference = ffmpeg_decode(&Path::new(REPO).join(file), recording.rate);
    recording
        .first_sample_error_ms(instant, &reference)
        .expect("the programme is in the recording")
}

/// Where a line containing `needle` starts in `log`, if it does.
fn line_at(log: &str, needle: &str) -> Option<usize> {
    log.find(needle)
}

#[test]
fn a_programme_due_while_a_ten_hour_file_is_measured_airs_on_time() {
    let long = ten_hour_flac();
    let test_box = TestBox::new();
    let (at, instant) = local_second_ahead(Duration::from_secs(6));
    test_box.write_schedule(
        "due.toml",
        &format!(
            "[[program]]\nid = \"due\"\nat = [\"{at}\"]\nitems = [\"audio/tiem-chung.mp3\"]\n"
        ),
    );
    let daemon = test_box.start_daemon("out.wav");
    wait_for_line(&test_box, "next on air", Duration::from_secs(20));
    // A schedule naming the long file, airing in years: loaded and measured, not aired.
    test_box.write_schedule(
        "long.toml",
        &format!(
            "[[program]]\nid = \"long\"\nat = [\"2099-01-01T07:00:00\"]\nitems = [\"{}\"]\n",
            item(&long)
        ),
    );
    daemon.signal("HUP");
    let log = test_box.wait_for_log(Duration::from_secs(40), |log| {
        log.iter().any(|e| e["outcome"] == "aired")
    });
    let text = daemon_log(&test_box);
    assert!(daemon.stop());
    assert_eq!(log[0]["program_id"], "due", "{log:#?}");

    // The long file was still being decoded when the programme went on air: otherwise this
    // test shows nothing.
    let name = long.file_name().unwrap().to_str().unwrap();
    let on_air = text
        .lines()
        .find(|l| l.contains(" on air") && !l.contains("next on air") && l.contains("program=due"))
        .and_then(|line| line_at(&text, line))
        .expect("the on-air line");
    let measured = text
        .lines()
        .find(|l| l.contains("loudness measured") && l.contains(name))
        .and_then(|line| line_at(&text, line));
    assert!(
        measured.is_none_or(|m| m > on_air),
        "the 10-hour file was measured before the programme was due:\n{text}"
    );
    let error_ms = first_sample_error_ms(&test_box, "audio/tiem-chung.mp3", instant);
    eprintln!("first sample {error_ms:+.1} ms from its instant while a 10-hour file was measured");
    assert!(
        error_ms.abs() <= 250.0,
        "first sample {error_ms:+.1} ms from its instant"
    );
}

#[test]
fn a_bulletin_much_longer_than_its_manifest_says_is_refused() {
    let long = ten_hour_flac();
    let broker = Broker::start();
    let district = District::new();
    let test_box = district.linked_box(&broker, "pd-01", "phu-dong", "");
    let events = |wait| broker.district_sub("loaxa/events/pd-01", 1000, wait);
    events(1); // makes the district's session
    let daemon = test_box.start_daemon("out.wav");

    // Genuine chunks and a signed manifest, whose duration_ms says one second.
    let bytes = std::fs::read(&long).unwrap();
    let sha256 = hex_sha256(&bytes);
    for (index, chunk) in bytes.chunks(65536).enumerate() {
        broker.publish_retained(&topic::chunk(&sha256, index), chunk);
    }
    let manifest: Manifest = serde_json::from_value(serde_json::json!({
        "scope": "commune/phu-dong", "id": "ngan", "title": "Tin ngắn", "sha256": sha256,
        "size": bytes.len(), "duration_ms": 1000, "codec": "flac", "chunk_size": 65536,
        "chunks": bytes.chunks(65536).map(hex_sha256).collect::<Vec<_>>(),
        "valid_until": null, "approver": "x", "issued_at": chrono::Utc::now(),
    }))
    .unwrap();
    let key = SecretKey::parse(&std::fs::read_to_string(district.key()).unwrap()).unwrap();
    let sealed = Envelope::seal(&Document::Bulletin(manifest), &key).unwrap();
    let manifest_topic = "loaxa/commune/phu-dong/bulletin/ngan";
    broker.publish_retained(manifest_topic, &sealed.to_bytes());

    wait_for_line(&test_box, "bulletin refused", Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(3)); // a loop would refuse it again by now
    let rejected: Vec<String> = events(3)
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|e| e["kind"] == "rejected" && e["topic"] == manifest_topic)
        .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    let log = daemon_log(&test_box);
    assert!(daemon.stop());
    // Both lengths, and the decode stopped a few seconds in (past 3 s, at the end of the FLAC
    // frame of 4.1 s that crossed it) rather than decoding ten hours.
    assert_eq!(rejected.len(), 1, "refused once: {rejected:#?}");
    let reason = &rejected[0];
    assert!(reason.contains("its manifest says 1.0 s"), "{reason}");
    let decoded: f64 = reason
        .split("its audio lasts more than ")
        .nth(1)
        .and_then(|rest| rest.split(" s,").next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no decoded length in {reason}"));
    assert!((3.0..10.0).contains(&decoded), "{reason}");
    assert!(log.contains(reason.as_str()), "{log}");
    // Nothing of it is kept, so nothing of it can air.
    let bulletins = test_box.path("state/bulletins");
    assert!(!bulletins.join(format!("{sha256}.flac")).exists());
    assert!(!bulletins.join("partial").join(&sha256).exists());
}

/// `count` programmes at times that do not fall within the next hour (the test must not air
/// them): daily, weekday and twice-monthly cron lines and one-off times days ahead.
fn many_programmes(count: usize) -> String {
    let local = Utc::now().with_timezone(&chrono_tz::Asia::Ho_Chi_Minh);
    let day = (local + chrono::Duration::days(3)).format("%Y-%m-%d");
    let mut text = String::with_capacity(count * 80);
    for i in 0..count {
        let (minute, hour) = ((i * 7) % 60, (local.hour() as usize + 2 + i % 20) % 24);
        let when = match i % 4 {
            0 => format!("cron = \"{minute} {hour} * * *\""),
            1 => format!("cron = \"{minute} {hour} * * mon-fri\""),
            2 => format!("cron = \"{minute} {hour} 1,15 * *\""),
            _ => format!("at = [\"{day}T{hour:02}:{minute:02}:00\"]"),
        };
        text += &format!("[[program]]\nid = \"p{i:06}\"\n{when}\nitems = [\"chime\"]\n\n");
    }
    text
}

#[test]
fn a_hundred_thousand_programmes_load_while_status_answers() {
    let test_box = TestBox::new();
    let (at, instant) = local_second_ahead(Duration::from_secs(5));
    test_box.write_schedule(
        "due.toml",
        &format!(
            "[[program]]\nid = \"due\"\nat = [\"{at}\"]\nitems = [\"audio/tiem-chung.mp3\"]\n"
        ),
    );
    let daemon = test_box.start_daemon("out.wav");
    wait_for_line(&test_box, "next on air", Duration::from_secs(20));
    test_box.write_schedule("big.toml", &many_programmes(100_000));
    daemon.signal("HUP");
    let loaded = "programmes=100001";
    let (mut answered_during_load, mut slowest) = (0, Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !daemon_log(&test_box).contains(loaded) {
        assert!(
            Instant::now() < deadline,
            "never loaded:\n{}",
            daemon_log(&test_box)
        );
        let asked = Instant::now();
        let status = run(&["status", "--config", test_box.config().to_str().unwrap()]);
        assert!(
            status.status.success(),
            "status failed: {}",
            stderr(&status)
        );
        slowest = slowest.max(asked.elapsed());
        if !daemon_log(&test_box).contains(loaded) {
            answered_during_load += 1;
        }
    }
    eprintln!("{answered_during_load} status answers during the load, the slowest in {slowest:?}");
    assert!(
        answered_during_load > 0,
        "status was never asked during the load"
    );
    let log = test_box.wait_for_log(Duration::from_secs(30), |log| {
        log.iter().any(|e| e["outcome"] == "aired")
    });
    let status = run(&["status", "--config", test_box.config().to_str().unwrap()]);
    assert!(daemon.stop());
    assert_eq!(log[0]["program_id"], "due", "{log:#?}");
    assert!(stdout(&status).contains("p0"), "{}", stdout(&status));
    let error_ms = first_sample_error_ms(&test_box, "audio/tiem-chung.mp3", instant);
    eprintln!("first sample {error_ms:+.1} ms from its instant during the load");
    assert!(
        error_ms.abs() <= 250.0,
        "first sample {error_ms:+.1} ms from its instant"
    );
}
