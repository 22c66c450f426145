//! End to end with a real Mosquitto and the real binaries: the district signs and publishes a
//! schedule to one commune; the two boxes of that commune air it at the set second, the box of
//! another commune does not, and a replayed old revision is refused.

mod common;

use std::path::Path;
use std::time::Duration;

use common::broker::Broker;
use common::*;

#[test]
fn a_schedule_published_to_a_commune_airs_on_its_boxes_at_the_set_second_and_nowhere_else() {
    let broker = Broker::start();
    let district = District::new();

    let boxes = [
        district.linked_box(&broker, "pd-01", "phu-dong", ""),
        district.linked_box(&broker, "pd-02", "phu-dong", ""),
        district.linked_box(&broker, "kh-01", "khac", ""),
    ];
    let daemons: Vec<Daemon> = boxes.iter().map(|b| b.start_daemon("out.wav")).collect();
    broker.wait_online(&["pd-01", "pd-02", "kh-01"]);

    let (at, instant) = local_second_ahead(Duration::from_secs(7));
    let schedule = district.one_off("thong-bao", &at, "audio/thong-bao-demo.mp3");
    let publish =
        |extra: &[&str]| district.publish_schedule(&broker, &schedule, "commune/phu-dong", extra);
    let out = publish(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Each box of the commune says it took it; the other commune's box is not asked.
    assert_eq!(
        stdout(&out),
        format!(
            "published {} to commune/phu-dong as revision 1: 2 received, 0 rejected, 0 no \
             answer, 0 offline\n\
             BOX    ANSWER    SAID\n\
             pd-01  received  schedule revision 1\n\
             pd-02  received  schedule revision 1\n",
            schedule.display()
        )
    );

    for commune_box in &boxes[..2] {
        commune_box.wait_for_log(Duration::from_secs(30), |log| {
            log.iter().any(|e| e["outcome"] == "aired")
        });
    }
    // An attacker (or a confused broker) replays revision 1 after revision 2: boxes refuse it.
    let topic = "loaxa/commune/phu-dong/schedule";
    let revision_1 = broker.retained(topic);
    assert!(!revision_1.is_empty(), "the broker holds revision 1");
    assert!(publish(&[]).status.success(), "revision 2");
    let refused = publish(&["--revision", "1"]);
    assert!(
        stderr(&refused).contains("revision 1 is not newer than the scope's current revision 2"),
        "{}",
        stderr(&refused)
    );
    broker.publish_retained(topic, &revision_1);
    std::thread::sleep(Duration::from_secs(1));
    for daemon in daemons {
        assert!(daemon.stop());
    }

    let reference = ffmpeg_decode(&Path::new(REPO).join("audio/thong-bao-demo.mp3"), 44_100);
    let lead_in = onset(&reference, 0.02).unwrap() as i64;
    for commune_box in &boxes[..2] {
        let recording = Recording::read(&commune_box.path("out.wav"));
        let heard = onset(&recording.left, 0.02).expect("the bulletin aired") as i64;
        let error_ms = recording.ms(heard - lead_in - recording.index_at(instant));
        assert!(
            error_ms.abs() <= 10.0,
            "first sample {error_ms:+.2} ms from the instant"
        );
        let log = std::fs::read_to_string(commune_box.path("out.wav.log")).unwrap();
        assert!(
            log.contains("revision 1 is older than the held revision 2"),
            "{log}"
        );
    }
    assert!(
        boxes[2].as_run().is_empty(),
        "the box of another commune aired nothing"
    );
    let recording = Recording::read(&boxes[2].path("out.wav"));
    assert_eq!(onset(&recording.left, 0.001), None);
}

#[test]
fn a_bulletin_published_to_a_commune_arrives_whole_and_airs_by_id_on_its_boxes_only() {
    let broker = Broker::start();
    let district = District::new();
    let ours = [
        district.linked_box(&broker, "pd-01", "phu-dong", ""),
        district.linked_box(&broker, "pd-02", "phu-dong", ""),
    ];
    let other = district.linked_box(&broker, "kh-01", "khac", "");
    let daemons: Vec<Daemon> = ours
        .iter()
        .chain([&other])
        .map(|b| b.start_daemon("out.wav"))
        .collect();
    broker.wait_online(&["pd-01", "pd-02"]);

    let audio = Path::new(REPO).join("audio/ban-tin-sang.mp3");
    let out = district.publish_bulletin(
        &broker,
        &audio,
        "commune/phu-dong",
        "ban-tin-sang",
        "Bản tin sáng",
    );
    assert!(
        stdout(&out).starts_with("published bulletin ban-tin-sang (101145 bytes, 2 chunks"),
        "{}",
        stdout(&out)
    );
    // Both boxes of the commune took the manifest, and fetch the audio.
    assert!(
        stdout(&out).contains(
            "to commune/phu-dong: 2 received, 0 rejected, 0 no answer, 0 offline\n\
             BOX    ANSWER    SAID\n\
             pd-01  received  bulletin ban-tin-sang manifest\n\
             pd-02  received  bulletin ban-tin-sang manifest\n"
        ),
        "{}",
        stdout(&out)
    );

    let (at, instant) = local_second_ahead(Duration::from_secs(6));
    let schedule = district.one_off("sang", &at, "bulletin:ban-tin-sang");
    let out = district.publish_schedule(&broker, &schedule, "commune/phu-dong", &[]);
    assert!(out.status.success(), "{}", stderr(&out));

    for commune_box in &ours {
        let log = commune_box.wait_for_log(Duration::from_secs(40), |log| {
            log.iter().any(|e| e["outcome"] != "airing")
        });
        assert_eq!(log[0]["outcome"], "aired", "{log:#?}");
    }
    let fleet = run_district(&["fleet", "--broker", &broker.url(), "--wait", "2"]);
    assert!(fleet.status.success(), "{}", stderr(&fleet));
    let fleet = stdout(&fleet);
    for daemon in daemons {
        assert!(daemon.stop());
    }
    println!("{fleet}");
    let row = |box_id: &str| {
        fleet
            .lines()
            .find(|l| l.starts_with(box_id))
            .unwrap_or_else(|| panic!("{box_id} missing from the fleet table:\n{fleet}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    for box_id in ["pd-01", "pd-02"] {
        let row = row(box_id);
        assert_eq!(row[1], "online");
        assert_eq!(row[4], "commune/phu-dong=1", "{fleet}");
        assert_eq!(
            &row[row.len() - 4..row.len() - 2],
            ["sang", "at"],
            "last aired: {fleet}"
        );
    }
    assert_eq!(
        row("kh-01")[4],
        "-",
        "the other commune's box holds no revision"
    );

    let original = std::fs::read(&audio).unwrap();
    let sha = loaxa_core::protocol::hex_sha256(&original);
    let reference = ffmpeg_decode(&audio, 44_100);
    for commune_box in &ours {
        // The box holds the file, byte for byte, under its hash.
        let stored = std::fs::read(commune_box.path(&format!("state/bulletins/{sha}.mp3")))
            .expect("the bulletin is stored");
        assert_eq!(stored, original);
        // And it aired on the second, as the core daemon airs local files.
        let recording = Recording::read(&commune_box.path("out.wav"));
        let heard = onset(&recording.left, 0.02).expect("the bulletin aired") as i64;
        let error_ms = recording
            .ms(heard - onset(&reference, 0.02).unwrap() as i64 - recording.index_at(instant));
        assert!(
            error_ms.abs() <= 10.0,
            "first sample {error_ms:+.2} ms from the instant"
        );
        let (_, similarity) = best_alignment(
            &recording.left,
            &reference[..44_100],
            heard - onset(&reference, 0.02).unwrap() as i64,
            2,
        );
        assert!(
            similarity > 0.95,
            "the aired audio is the bulletin: {similarity}"
        );
    }
    assert!(
        !other.path(&format!("state/bulletins/{sha}.mp3")).exists(),
        "the other commune's box did not fetch it"
    );
    assert!(other.as_run().is_empty(), "and aired nothing");
}

#[test]
fn send_play_now_refuses_a_bulletin_no_box_holds_unless_forced() {
    let broker = Broker::start();
    let district = District::new();
    let test_box = district.linked_box(&broker, "pd-01", "phu-dong", "");
    let daemon = test_box.start_daemon("out.wav");
    broker.wait_for_status("pd-01", Duration::from_secs(20), |s| s["state"] == "online");

    let refused = district.send_play_now(&broker, "bao-lu", "commune/phu-dong", &[]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains(
            "no box in commune/phu-dong reports holding bulletin bao-lu (1 online there)"
        ),
        "{}",
        stderr(&refused)
    );

    let warning = ffmpeg_tone(district.dir.path(), "bao-lu.mp3", 1000, 1, -6, 128);
    district.publish_bulletin(&broker, &warning, "commune/phu-dong", "bao-lu", "Cảnh báo");
    let status = broker.wait_for_status("pd-01", Duration::from_secs(20), |s| {
        s["bulletins"] == serde_json::json!(["bao-lu"])
    });
    assert_eq!(status["scopes"][1], "commune/phu-dong", "{status:#}");
    let sent = district.send_play_now(&broker, "bao-lu", "commune/phu-dong", &[]);
    assert!(sent.status.success(), "{}", stderr(&sent));
    assert_eq!(
        stdout(&sent),
        "sent play-now bao-lu (emergency) to commune/phu-dong: 1 acted, 0 refused, 0 did not \
         answer (1 online)\n"
    );
    // No box of another commune holds it: the district's check is per scope.
    let elsewhere = district.send_play_now(&broker, "bao-lu", "commune/khac", &[]);
    assert!(!elsewhere.status.success());
    assert!(
        stderr(&elsewhere).contains("no box in commune/khac reports holding bulletin bao-lu"),
        "{}",
        stderr(&elsewhere)
    );
    // Forced, it goes out, and the command says that no box acted.
    let forced = district.send_play_now(&broker, "bao-lu", "commune/khac", &["--force"]);
    assert!(!forced.status.success());
    assert!(
        stdout(&forced).contains(": 0 acted, 0 refused, 0 did not answer (0 online)"),
        "{}",
        stdout(&forced)
    );

    let log = test_box.wait_for_log(Duration::from_secs(20), |log| {
        log.iter()
            .any(|e| e["program_id"] == "play-now-bao-lu" && e["outcome"] != "airing")
    });
    assert!(daemon.stop());
    assert_eq!(log.len(), 1, "only the command sent aired: {log:#?}");
    assert_eq!(log[0]["outcome"], "aired", "{log:#?}");
}

/// A box of phu-dong whose config has `top` at its top level.
fn box_with(district: &District, broker: &Broker, top: &str) -> TestBox {
    let test_box = district.linked_box(broker, "pd-01", "phu-dong", "");
    let config = std::fs::read_to_string(test_box.config()).unwrap();
    std::fs::write(test_box.config(), format!("{top}\n{config}")).unwrap();
    test_box
}

/// The complete bulletin files on the box.
fn bulletin_files(test_box: &TestBox) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(test_box.path("state/bulletins"))
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file());
    files
}

/// Polls the daemon's log (its stderr, beside `out.wav`) until it holds `count` lines with
/// `text`, or panics after `timeout`.
fn wait_for_lines(test_box: &TestBox, text: &str, count: usize, timeout: Duration) -> String {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let log = std::fs::read_to_string(test_box.path("out.wav.log")).unwrap_or_default();
        if log.lines().filter(|l| l.contains(text)).count() >= count {
            return log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never {count} lines with {text:?}:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_replaced_bulletins_old_audio_is_deleted_after_the_grace_period() {
    let broker = Broker::start();
    let district = District::new();
    // No grace: gone at the first housekeeping tick (at most 30 s) after it became unused.
    let test_box = box_with(&district, &broker, "unused_bulletin_grace_hours = 0");
    let daemon = test_box.start_daemon("out.wav");
    broker.wait_online(&["pd-01"]);
    let old = ffmpeg_tone(district.dir.path(), "old.mp3", 440, 1, -6, 128);
    let new = ffmpeg_tone(district.dir.path(), "new.mp3", 880, 1, -6, 128);
    let schedule = district.one_off("tin", "2099-01-01T07:00:00", "bulletin:tin");
    let out = district.publish_schedule(&broker, &schedule, "commune/phu-dong", &[]);
    assert!(out.status.success(), "{}", stderr(&out));

    district.publish_bulletin(&broker, &old, "commune/phu-dong", "tin", "Tin");
    wait_for_lines(&test_box, "bulletin complete", 1, Duration::from_secs(20));
    assert_eq!(bulletin_files(&test_box).len(), 1);
    district.publish_bulletin(&broker, &new, "commune/phu-dong", "tin", "Tin mới");
    wait_for_lines(&test_box, "bulletin complete", 2, Duration::from_secs(20));

    let log = wait_for_lines(
        &test_box,
        "bulletin audio deleted",
        1,
        Duration::from_secs(45),
    );
    assert!(daemon.stop());
    let files = bulletin_files(&test_box);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(
        std::fs::read(&files[0]).unwrap(),
        std::fs::read(&new).unwrap()
    );
    let deleted: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("bulletin audio deleted"))
        .collect();
    assert_eq!(deleted.len(), 1, "one line for the one file: {log}");
    assert!(deleted[0].contains("no manifest names this audio"), "{log}");
}

#[test]
fn an_expired_bulletin_is_deleted_and_said_to_be_expired() {
    let broker = Broker::start();
    let district = District::new();
    // The default grace (a day) does not hold back an expired bulletin, even one a schedule names.
    let test_box = district.linked_box(&broker, "pd-01", "phu-dong", "");
    let daemon = test_box.start_daemon("out.wav");
    broker.wait_online(&["pd-01"]);
    let schedule = district.one_off("canh-bao", "2099-01-01T07:00:00", "bulletin:bao");
    let out = district.publish_schedule(&broker, &schedule, "commune/phu-dong", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let audio = ffmpeg_tone(district.dir.path(), "bao.mp3", 1000, 1, -6, 128);
    let until = (chrono::Utc::now() + chrono::Duration::seconds(6)).to_rfc3339();
    let out = run_district(&[
        "publish",
        "bulletin",
        audio.to_str().unwrap(),
        "--to",
        "commune/phu-dong",
        "--key",
        district.key().to_str().unwrap(),
        "--broker",
        &broker.url(),
        "--id",
        "bao",
        "--title",
        "Cảnh báo",
        "--valid-until",
        &until,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    broker.wait_for_status("pd-01", Duration::from_secs(20), |s| {
        s["bulletins"] == serde_json::json!(["bao"])
    });

    let log = wait_for_lines(
        &test_box,
        "bulletin audio deleted",
        1,
        Duration::from_secs(45),
    );
    assert!(
        log.lines()
            .any(|l| l.contains("bulletin audio deleted") && l.contains("bulletin bao expired at")),
        "{log}"
    );
    assert!(bulletin_files(&test_box).is_empty());
    broker.wait_for_status("pd-01", Duration::from_secs(10), |s| {
        s["bulletins"] == serde_json::json!([])
    });
    let refused = district.send_play_now(&broker, "bao", "commune/phu-dong", &["--force"]);
    assert!(!refused.status.success());
    assert!(
        stdout(&refused).contains("content missing: bulletin bao expired at"),
        "{}",
        stdout(&refused)
    );
    let as_run = test_box.wait_for_log(Duration::from_secs(10), |log| !log.is_empty());
    assert!(daemon.stop());
    let detail = as_run[0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("content missing: bulletin bao expired at")
            && detail.ends_with("(its audio has been deleted)"),
        "{detail}"
    );
}

#[test]
fn a_schedule_for_a_scope_no_box_listens_to_or_signed_with_a_key_no_box_trusts_is_refused_unless_forced()
 {
    let broker = Broker::start();
    let district = District::new();
    let test_box = district.linked_box(&broker, "pd-01", "phu-dong", "");
    let daemon = test_box.start_daemon("out.wav");
    broker.wait_online(&["pd-01"]);
    let schedule = district.one_off("sang", "2099-01-01T07:00:00", "audio/thong-bao-demo.mp3");

    // A typo in the commune's name.
    let typo = district.publish_schedule(&broker, &schedule, "commune/dang-xaa", &[]);
    assert!(!typo.status.success());
    assert!(
        stderr(&typo).contains(
            "no known box listens to commune/dang-xaa; known communes: phu-dong (publish with \
             --force for a new scope's first box)"
        ),
        "{}",
        stderr(&typo)
    );
    // The wrong key: no box of the commune would take what it signs.
    let stranger = District::new();
    let untrusted = stranger.publish_schedule(&broker, &schedule, "commune/phu-dong", &[]);
    assert!(!untrusted.status.success());
    assert!(
        stderr(&untrusted).contains(&format!(
            "no box of commune/phu-dong trusts key {}: they trust {}",
            stranger.key_id(),
            district.key_id()
        )),
        "{}",
        stderr(&untrusted)
    );
    assert!(
        broker
            .retained("loaxa/commune/phu-dong/schedule")
            .is_empty(),
        "nothing was sent"
    );

    // A new commune's first box is not installed yet: forced, the schedule waits for it on the
    // broker, and the district is told that nobody has it yet.
    let first = district.publish_schedule(&broker, &schedule, "commune/dang-xa", &["--force"]);
    assert!(!first.status.success());
    assert_eq!(
        stdout(&first),
        format!(
            "published {} to commune/dang-xa as revision 1: 0 received, 0 rejected, 0 no answer, \
             0 offline\n",
            schedule.display()
        )
    );
    assert!(
        stderr(&first).contains("no box received revision 1"),
        "{}",
        stderr(&first)
    );
    assert!(!broker.retained("loaxa/commune/dang-xa/schedule").is_empty());
    assert!(daemon.stop());
}

#[test]
fn a_revision_one_box_refuses_is_withdrawn_and_the_scope_keeps_the_revision_before_it() {
    let broker = Broker::start();
    let district = District::new();
    let pd_01 = district.linked_box(&broker, "pd-01", "phu-dong", "");
    // pd-02 may sound from 05:00 to 05:01 only.
    let pd_02 = district.linked_box(&broker, "pd-02", "phu-dong", "");
    let config = std::fs::read_to_string(pd_02.config()).unwrap();
    std::fs::write(
        pd_02.config(),
        config.replace(ALL_DAY, "[[window]]\nfrom = \"05:00\"\nto = \"05:01\"\n"),
    )
    .unwrap();
    let daemons = [pd_01.start_daemon("out.wav"), pd_02.start_daemon("out.wav")];
    broker.wait_online(&["pd-01", "pd-02"]);
    let topic = "loaxa/commune/phu-dong/schedule";

    let early = district.one_off("som", "2099-01-01T05:00:30", "audio/thong-bao-demo.mp3");
    let out = district.publish_schedule(&broker, &early, "commune/phu-dong", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let revision_1 = broker.retained(topic);

    // Checked against each box's own windows, a noon programme is refused before it is sent,
    // for the box it would not air on.
    let noon = district.one_off("trua", "2099-01-01T12:00:00", "audio/thong-bao-demo.mp3");
    let refused = district.publish_schedule(&broker, &noon, "commune/phu-dong", &[]);
    assert!(!refused.status.success());
    let said = stderr(&refused);
    assert!(
        said.lines().any(|l| l.contains(
            "trua.at[0]: airs at 12:00:00, outside the broadcast \
             windows (05:00–05:01)"
        ) && l.ends_with("(for pd-02)")),
        "{said}"
    );
    assert!(
        said.contains("1 problem(s) found; nothing published"),
        "{said}"
    );
    assert_eq!(broker.retained(topic), revision_1);

    // Checked against an all-day window instead, it goes out: pd-02 refuses it, so it does
    // not stay the commune's schedule.
    let overridden = ["--window", "00:00-24:00"];
    let withdrawn = district.publish_schedule(&broker, &noon, "commune/phu-dong", &overridden);
    assert!(!withdrawn.status.success());
    let table = stdout(&withdrawn);
    assert!(
        table.starts_with(&format!(
            "published {} to commune/phu-dong as revision 2: 1 received, 1 rejected, 0 no \
             answer, 0 offline\n",
            noon.display()
        )),
        "{table}"
    );
    assert!(
        table.contains("pd-01  received  schedule revision 2\n"),
        "{table}"
    );
    assert!(
        table.contains("pd-02  rejected  schedule does not validate: "),
        "{table}"
    );
    assert!(
        stderr(&withdrawn).contains(
            "revision 2 withdrawn: a box refused it; revision 1 is the scope's schedule again"
        ),
        "{}",
        stderr(&withdrawn)
    );
    assert_eq!(
        broker.retained(topic),
        revision_1,
        "the broker holds revision 1 again, byte for byte"
    );

    // pd-01 took revision 2 before it was withdrawn, and its status says so: the next one is
    // 3, which both take.
    broker.wait_for_status("pd-01", Duration::from_secs(10), |s| {
        s["revisions"]["commune/phu-dong"] == 2
    });
    let again = district.publish_schedule(&broker, &early, "commune/phu-dong", &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("as revision 3: 2 received"),
        "{}",
        stdout(&again)
    );
    for daemon in daemons {
        assert!(daemon.stop());
    }
}
