//! End to end, in real time: the real `loaxa daemon` binary, a schedule a few seconds ahead, the
//! `wav:` output, and the samples that came out checked against an independent ffmpeg decode.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

#[test]
fn a_one_off_bulletin_airs_with_its_first_sample_within_10_ms_of_its_instant() {
    let test_box = TestBox::new();
    let (at, instant) = local_second_ahead(Duration::from_secs(3));
    test_box.write_schedule(
        "one-off.toml",
        &format!("[[program]]\nid = \"tiem-chung\"\nat = [\"{at}\"]\nitems = [\"audio/tiem-chung.mp3\"]\n"),
    );
    let daemon = test_box.start_daemon("out.wav");
    let log = test_box.wait_for_log(Duration::from_secs(30), |log| {
        log.iter().any(|e| e["outcome"] == "aired")
    });
    assert!(daemon.stop(), "the daemon exits cleanly on SIGTERM");
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0]["program_id"], "tiem-chung");

    let recording = Recording::read(&test_box.path("out.wav"));
    let reference = ffmpeg_decode(
        &Path::new(REPO).join("audio/tiem-chung.mp3"),
        recording.rate,
    );
    let expected = recording.index_at(instant);
    // Nothing but silence goes out before the programme: its onset is the bulletin's onset.
    let threshold = 0.02;
    let heard = onset(&recording.left, threshold).expect("the bulletin is in the recording") as i64;
    let in_file = onset(&reference, threshold).expect("the reference has sound") as i64;
    let first_sample = heard - in_file;
    let error_ms = recording.ms(first_sample - expected);
    eprintln!("first sample {error_ms:+.3} ms from the scheduled instant");
    assert!(
        error_ms.abs() <= 10.0,
        "first sample {error_ms:+.2} ms from the scheduled instant"
    );

    // And it is the bulletin itself, not just any sound: the waveform matches ffmpeg's decode.
    let window = &reference[in_file as usize..in_file as usize + recording.rate as usize];
    let (best, score) = best_alignment(
        &recording.left,
        window,
        heard,
        i64::from(recording.rate) / 100,
    );
    assert!(
        score > 0.95,
        "waveform correlation {score:.3} with ffmpeg's decode"
    );
    assert!(
        recording.ms(best - heard).abs() <= 2.0,
        "best match {} ms from the onset",
        recording.ms(best - heard)
    );

    // The whole bulletin aired: the recording holds its full length after the first sample.
    let aired = recording.left.len() as i64 - first_sample;
    assert!(
        aired >= reference.len() as i64,
        "only {} of {} samples aired",
        aired,
        reference.len()
    );
}

#[test]
fn a_corrupt_an_empty_and_a_text_item_fail_alone_and_the_rest_of_the_programme_airs() {
    let test_box = TestBox::new();
    let (at, instant) = local_second_ahead(Duration::from_secs(3));
    test_box.write_schedule(
        "bad-items.toml",
        &format!(
            "[[program]]\nid = \"mixed\"\nat = [\"{at}\"]\n\
             items = [\"tests/fixtures/corrupt.mp3\", \"tests/fixtures/empty.mp3\", \"tests/fixtures/text.mp3\", \"bulletin:chua-den\", \"audio/thong-bao-demo.mp3\"]\n"
        ),
    );
    let mut daemon = test_box.start_daemon("out.wav");
    let log = test_box.wait_for_log(Duration::from_secs(30), |log| {
        log.iter().any(|e| e["outcome"] != "airing")
    });
    assert!(
        daemon.is_running(),
        "the daemon keeps running after bad items"
    );
    assert!(daemon.stop());

    let entry = &log[0];
    assert_eq!(entry["outcome"], "aired", "{entry:#?}");
    let detail = entry["detail"].as_str().unwrap();
    for bad in ["corrupt.mp3", "empty.mp3", "text.mp3"] {
        assert!(
            detail.contains(&format!("item tests/fixtures/{bad} failed")),
            "{detail}"
        );
    }
    assert!(
        detail.contains("content missing: bulletin chua-den is not held"),
        "{detail}"
    );
    // The good item takes the failed ones' place at the scheduled instant.
    let recording = Recording::read(&test_box.path("out.wav"));
    let heard = onset(&recording.left, 0.02).expect("the good item aired") as i64;
    let reference = ffmpeg_decode(
        &Path::new(REPO).join("audio/thong-bao-demo.mp3"),
        recording.rate,
    );
    let lead_in = onset(&reference, 0.02).unwrap() as i64;
    let error_ms = recording.ms(heard - lead_in - recording.index_at(instant));
    assert!(
        error_ms.abs() <= 10.0,
        "good item started {error_ms:+.2} ms from the instant"
    );
}

#[test]
fn sigterm_during_a_broadcast_stops_cleanly_and_logs_it_interrupted() {
    let test_box = TestBox::new();
    let (at, _) = local_second_ahead(Duration::from_secs(2));
    test_box.write_schedule(
        "long.toml",
        &format!(
            "[[program]]\nid = \"long\"\nat = [\"{at}\"]\nitems = [\"audio/ban-tin-sang.mp3\"]\n"
        ),
    );
    let daemon = test_box.start_daemon("out.wav");
    test_box.wait_for_log(Duration::from_secs(20), |log| !log.is_empty());
    std::thread::sleep(Duration::from_secs(3)); // well into the broadcast
    assert!(daemon.stop(), "exit status 0 after SIGTERM");
    let log = test_box.as_run();
    assert_eq!(log[0]["outcome"], "interrupted", "{log:#?}");
    // The WAV is complete and readable: its header was finalised.
    let recording = Recording::read(&test_box.path("out.wav"));
    assert!(onset(&recording.left, 0.02).is_some());
}

#[test]
fn loaxa_demo_airs_its_programme_and_tells_the_operator_what_aired_in_their_language() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("demo.wav");
    let out = loaxa()
        .args(["demo", "--output", &format!("wav:{}", wav.display())])
        .current_dir(REPO)
        .env("LC_ALL", "vi_VN.UTF-8")
        .output()
        .expect("loaxa demo runs");
    let said = stdout(&out);
    assert!(out.status.success(), "{said}{}", stderr(&out));
    for line in [
        "Cụm loa thử ở ",
        "Nhật ký phát thanh:",
        "Âm thanh đã ghi vào ",
    ] {
        assert!(said.contains(line), "{line:?} missing from:\n{said}");
    }
    assert!(
        said.lines()
            .any(|l| l.contains("Chương trình thử nghiệm (demo)") && l.contains("đã phát")),
        "{said}"
    );
    let recording = Recording::read(&wav);
    assert!(
        onset(&recording.left, 0.02).is_some(),
        "the demo aired nothing"
    );
}
