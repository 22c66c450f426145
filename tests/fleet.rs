//! The district's table of boxes, end to end with a real Mosquitto and real box daemons: three
//! boxes show up online with the revisions they hold and what they aired, a box that dies
//! without a word turns offline through its last will, and one stopped cleanly says so itself
//! at once. Plus the table's exact layout, and the office's archive kept by
//! `loaxa-district archive collect` across a crash of its own.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::broker::Broker;
use common::*;
use loaxa_core::protocol::{Transfer, topic};
use loaxa_district::fleet::{BoxRow, collect, table};
use loaxa_link::{Link, LinkConfig, LinkEvent};

/// Runs `collect` (one second each) until `done` holds for the rows, or panics after `timeout`.
/// Every row seen on the way goes to `seen`, as events are consumed by the run that gets them.
fn collect_until(
    runtime: &tokio::runtime::Runtime,
    broker: &Broker,
    timeout: Duration,
    seen: &mut Vec<BoxRow>,
    done: impl Fn(&[BoxRow]) -> bool,
) -> Vec<BoxRow> {
    let district = loaxa_district::publish::Broker {
        url: broker.url(),
        username: None,
        password: None,
        ca_file: None,
    };
    let deadline = Instant::now() + timeout;
    loop {
        let rows = runtime
            .block_on(collect(&district, Duration::from_secs(1)))
            .expect("the broker answers");
        seen.extend(rows.iter().cloned());
        if done(&rows) {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "fleet never got there: {rows:#?}"
        );
    }
}

#[test]
fn the_fleet_shows_every_box_with_its_revisions_and_a_box_that_dies_turns_offline() {
    let broker = Broker::start();
    let district = District::new();

    // kh-01 will be killed: a 2 s keep-alive lets the broker notice within ~3 s (1.5 × 2 s).
    let boxes = [
        district.linked_box(&broker, "pd-01", "phu-dong", ""),
        district.linked_box(&broker, "pd-02", "phu-dong", ""),
        district.linked_box(&broker, "kh-01", "khac", "keep_alive_seconds = 2\n"),
    ];
    let mut daemons: Vec<Daemon> = boxes.iter().map(|b| b.start_daemon("out.wav")).collect();
    broker.wait_online(&["pd-01", "pd-02"]);

    let (at, _) = local_second_ahead(Duration::from_secs(4));
    let schedule = district.one_off("thong-bao", &at, "audio/thong-bao-demo.mp3");
    let out = district.publish_schedule(&broker, &schedule, "commune/phu-dong", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("as revision 1: 2 received"),
        "{}",
        stdout(&out)
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut seen = Vec::new();
    let held = BTreeMap::from([("commune/phu-dong".to_owned(), 1)]);
    let rows = collect_until(
        &runtime,
        &broker,
        Duration::from_secs(15),
        &mut seen,
        |rows| rows.len() == 3 && rows.iter().filter(|r| r.revisions == held).count() == 2,
    );
    let ids: Vec<&str> = rows.iter().map(|r| r.box_id.as_str()).collect();
    assert_eq!(ids, ["kh-01", "pd-01", "pd-02"]);
    assert!(rows.iter().all(|r| r.state == "online"), "{rows:#?}");
    assert!(rows.iter().all(|r| r.last_seen.is_some()), "{rows:#?}");
    assert_eq!(rows[1].revisions, held);
    assert_eq!(rows[2].revisions, held);
    assert!(
        rows[0].revisions.is_empty(),
        "the khac box holds nothing: {rows:#?}"
    );

    boxes[0].wait_for_log(Duration::from_secs(20), |log| {
        log.iter().any(|e| e["outcome"] == "aired")
    });
    daemons.remove(2).kill_9();
    let rows = collect_until(
        &runtime,
        &broker,
        Duration::from_secs(15),
        &mut seen,
        |rows| {
            rows.iter()
                .any(|r| r.box_id == "kh-01" && r.state == "offline")
        },
    );
    assert_eq!(rows.len(), 3);
    assert!(rows[1..].iter().all(|r| r.state == "online"), "{rows:#?}");
    // The will still says which scopes the vanished box listens to.
    let will: serde_json::Value =
        serde_json::from_slice(&broker.retained("loaxa/status/kh-01")).unwrap();
    assert_eq!(will["state"], "offline");
    assert_eq!(will["scopes"][1], "commune/khac", "{will:#}");
    // The as-run event reached whichever run was connected (or the next one, from the session).
    assert!(
        seen.iter()
            .any(|r| r.box_id == "pd-01" && r.last_aired.as_deref() == Some("thong-bao")),
        "{seen:#?}"
    );
    for daemon in daemons {
        assert!(daemon.stop());
    }
}

#[test]
fn the_table_aligns_columns_and_shows_times_in_the_box_time_zone() {
    let at = |text: &str| Some(text.parse::<DateTime<Utc>>().unwrap());
    let rows = [
        BoxRow {
            box_id: "kh-01".into(),
            state: "offline".into(),
            last_seen: None,
            revisions: BTreeMap::new(),
            on_air: None,
            transfers: Vec::new(),
            disk_free: None,
            last_aired: None,
            last_aired_at: None,
        },
        BoxRow {
            box_id: "pd-01".into(),
            state: "online".into(),
            last_seen: at("2026-11-23T08:00:05Z"),
            revisions: BTreeMap::from([("all".into(), 3), ("commune/phu-dong".into(), 7)]),
            on_air: Some("Bản tin sáng".into()),
            transfers: vec![Transfer {
                bulletin: "tiem-chung".into(),
                chunks_held: 3,
                chunks: 80,
            }],
            disk_free: Some(3_210_000_000),
            last_aired: Some("morning".into()),
            last_aired_at: at("2026-11-23T22:30:00Z"),
        },
    ];
    assert_eq!(
        table(&rows, loaxa_core::schedule::DEFAULT_TIMEZONE),
        "\
BOX    STATE    LAST SEEN            REVISIONS                 ON AIR        PENDING          DISK FREE  LAST AIRED
kh-01  offline  -                    -                         -             -                -          -
pd-01  online   2026-11-23 15:00:05  all=3,commune/phu-dong=7  Bản tin sáng  tiem-chung 3/80  3.2 GB     morning at 2026-11-24 05:30:00
"
    );
}

#[test]
fn a_box_stopped_cleanly_leaves_its_status_offline_within_two_seconds() {
    let broker = Broker::start();
    let district = District::new();
    let test_box = district.linked_box(&broker, "pd-01", "phu-dong", "");
    let daemon = test_box.start_daemon("out.wav");
    broker.wait_online(&["pd-01"]);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (offline, after) = runtime.block_on(async {
        // A watcher of the box's status, as `fleet` and the office's console are.
        let mut config = LinkConfig::new(broker.url(), "status-watcher");
        config.persistent_session = false;
        let (link, mut events) = Link::start(config, vec![topic::status("pd-01")]).unwrap();
        let mut next_status = async || loop {
            match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
                Ok(Some(LinkEvent::Message(message))) => {
                    let _ = link.ack(&message);
                    return serde_json::from_slice::<serde_json::Value>(&message.payload).unwrap();
                }
                Ok(Some(_)) => {}
                _ => panic!("no status within 10 s"),
            }
        };
        let online = next_status().await;
        assert_eq!(online["state"], "online", "{online:#}");
        let stopped = Instant::now();
        let stopping = std::thread::spawn(move || daemon.stop());
        let offline = loop {
            let status = next_status().await;
            if status["state"] == "offline" {
                break status;
            }
        };
        let after = stopped.elapsed();
        assert!(stopping.join().unwrap(), "the daemon stopped cleanly");
        link.shutdown().await;
        (offline, after)
    });
    println!("offline status seen {} ms after SIGTERM", after.as_millis());
    assert!(
        after <= Duration::from_secs(2),
        "the offline status came {after:?} after SIGTERM"
    );
    // It is the whole status, not the bare will: what the box holds, listens to and trusts.
    assert_eq!(offline["scopes"][1], "commune/phu-dong", "{offline:#}");
    assert_eq!(
        offline["trusted_keys"],
        serde_json::json!([district.key_id()])
    );
    assert_eq!(
        offline["windows"],
        serde_json::json!([{ "from": "00:00", "to": "24:00" }])
    );
    assert_eq!(offline["timezone"], "Asia/Ho_Chi_Minh");
    assert_eq!(offline["volume"], 100);
    assert_eq!(offline["now_playing"], serde_json::Value::Null);
    let log = std::fs::read_to_string(test_box.path("out.wav.log")).unwrap();
    assert!(log.contains("offline status left with the broker"), "{log}");
}

/// `loaxa-district archive collect` on `db`, logging to `log`.
fn start_collector(
    broker: &Broker,
    db: &std::path::Path,
    log: &std::path::Path,
) -> std::process::Child {
    loaxa_district()
        .args([
            "archive",
            "collect",
            "--db",
            db.to_str().unwrap(),
            "--broker",
            &broker.url(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).expect("collector log"))
        .spawn()
        .expect("loaxa-district runs")
}

/// The archive's as-run entries of `box_id` once `done` holds for them, or panics after
/// `timeout` with the collector's log.
fn archived_until(
    archive: &loaxa_district::archive::Archive,
    box_id: &str,
    log: &std::path::Path,
    done: impl Fn(&[loaxa_district::archive::report::AsRunRow]) -> bool,
) -> Vec<loaxa_district::archive::report::AsRunRow> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = archive
            .recent_as_run(box_id, 100, false)
            .expect("the archive reads");
        if done(&rows) {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "the archive never got there: {rows:#?}\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_archive_keeps_a_boxs_as_run_across_a_crash_of_the_collector_and_drops_a_duplicate() {
    let broker = Broker::start();
    let district = District::new();
    let test_box = district.linked_box(&broker, "pd-01", "phu-dong", "");
    let daemon = test_box.start_daemon("out.wav");
    // Online means its control socket is open too: `play-now` below needs it.
    broker.wait_for_status("pd-01", Duration::from_secs(20), |s| s["state"] == "online");
    let office = tempfile::tempdir().unwrap();
    let db = office.path().join("archive.db");
    let log = office.path().join("collector.log");
    let mut collector = start_collector(&broker, &db, &log);
    let archive = loaxa_district::archive::Archive::open(&db).expect("the archive opens");
    let play_now = || {
        let out = run(&[
            "play-now",
            "audio/thong-bao-demo.mp3",
            "--config",
            test_box.config().to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    };

    play_now();
    let rows = archived_until(&archive, "pd-01", &log, |rows| !rows.is_empty());
    assert_eq!(rows[0].entry.outcome, "aired", "{rows:#?}");
    assert_eq!(rows[0].entry.program, "play-now");
    let fleet = archive.fleet(None).unwrap();
    assert_eq!(fleet.len(), 1);
    assert_eq!(fleet[0].commune.as_deref(), Some("phu-dong"));
    assert_eq!(fleet[0].state, "online");

    // The collector dies; the box airs again meanwhile and its event reaches the broker (it
    // leaves the box's outbox once the broker routed it), which queues it in the session.
    collector.kill().expect("kill -9");
    let _ = collector.wait();
    play_now();
    test_box.wait_for_log(Duration::from_secs(20), |log| {
        log.iter().filter(|e| e["outcome"] == "aired").count() == 2
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while test_box.outbox_len() > 0 {
        assert!(
            Instant::now() < deadline,
            "the box's events never reached the broker"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut collector = start_collector(&broker, &db, &log);
    let rows = archived_until(&archive, "pd-01", &log, |rows| rows.len() == 2);
    assert!(rows.iter().all(|r| r.entry.outcome == "aired"), "{rows:#?}");

    // A copy of the first event (at-least-once delivery), then a marker behind it: once the
    // marker is in, the copy went through the collector, and it was dropped.
    let first: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT payload FROM archive_event WHERE box_id = 'pd-01' AND kind = 'as_run' ORDER BY seq LIMIT 1",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let marker = r#"{"v":1,"box_id":"pd-01","seq":1000000,"at":"2026-11-24T02:40:01Z","kind":"received","topic":"loaxa/all/schedule","what":"marker"}"#;
    let mut publisher = std::process::Command::new("mosquitto_pub")
        .args([
            "-p",
            &broker.port().to_string(),
            "-q",
            "1",
            "-t",
            "loaxa/events/pd-01",
            "-l",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("mosquitto_pub runs");
    {
        use std::io::Write;
        let mut stdin = publisher.stdin.take().unwrap();
        writeln!(stdin, "{first}\n{marker}").unwrap();
    }
    assert!(publisher.wait().unwrap().success());
    let count = |condition: &str| -> i64 {
        rusqlite::Connection::open(&db)
            .unwrap()
            .query_row(
                &format!(
                    "SELECT count(*) FROM archive_event WHERE box_id = 'pd-01' AND {condition}"
                ),
                [],
                |row| row.get(0),
            )
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while count("seq = 1000000") == 0 {
        assert!(
            Instant::now() < deadline,
            "the marker never reached the archive:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(count("kind = 'as_run'"), 2, "the copy was dropped");
    assert_eq!(archive.recent_as_run("pd-01", 100, false).unwrap().len(), 2);

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &collector.id().to_string()])
        .status();
    assert!(
        collector.wait().unwrap().success(),
        "the collector stops cleanly on SIGTERM"
    );
    assert!(daemon.stop());
}
