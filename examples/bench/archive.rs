//! Section 6: the office's archive at a province's scale, as the console uses it. 3,000 boxes
//! in 100 communes, each with 30 days of as-run entries (ten programmes a day: 900,000), stored
//! through the archive's own parse-and-store path; then a month's report for the whole office,
//! the fleet of 3,000 boxes, and the collector's sustained ingest through a real Mosquitto.
//!
//! Floors: the in-process store next to raw SQLite inserts of the same rows in one transaction;
//! the collector next to a plain rumqttc subscriber (acking at once, storing nothing) fed the
//! same events by the same publisher.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use loaxa_district::archive::labels::Labels;
use loaxa_district::archive::report::{ReportQuery, ReportScope};
use loaxa_district::archive::wire::{self, Message};
use loaxa_district::archive::{Archive, chart, collector, export};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, PublishOptions, QoS};

use crate::Paths;
use crate::broker::Broker;
use crate::report::{Cell, Report, Row};
use crate::sys::{env_usize, median};

const SECTION: &str = "6 archive (console)";
const COMMUNES: usize = 100;
const DAYS: i64 = 30;
const PER_DAY: usize = 10;
/// Messages per transaction when seeding, as the collector's largest batch.
const SEED_BATCH: usize = collector::MAX_BATCH;
/// How far the publisher may run ahead of what is stored: the broker queues at most 10,000
/// messages per subscriber (its `max_queued_messages`) and drops the rest.
const MAX_LEAD: u64 = 5_000;
/// Boxes publishing during the ingest measurement.
const PUBLISHING_BOXES: usize = 100;

fn tz() -> chrono_tz::Tz {
    loaxa_core::schedule::DEFAULT_TIMEZONE
}

/// A box's as-run event `seq`, for local `day` at programme slot `slot` (from 05:00, every
/// 90 minutes): mostly aired on time, some late, missed, failed or interrupted; every third
/// names a bulletin.
fn as_run(box_id: &str, seq: u64, day: NaiveDate, slot: usize) -> String {
    // Vietnam has no summer time: every local minute exists once.
    let scheduled = loaxa_district::archive::report::day_start(tz(), day)
        + chrono::Duration::minutes(5 * 60 + 90 * slot as i64);
    let roll = (seq as usize * 7919 + slot * 31) % 100;
    let (outcome, late) = match roll {
        0..88 => ("aired", Some(0)),
        88..92 => ("aired", Some(30)),
        92..95 => ("missed", None),
        95..98 => ("failed", Some(1)),
        _ => ("interrupted", Some(0)),
    };
    let started = late.map(|s| scheduled + chrono::Duration::seconds(s));
    let ended = started.map(|s| s + chrono::Duration::seconds(600));
    let mut event = serde_json::json!({
        "v": 1, "box_id": box_id, "seq": seq, "at": ended.unwrap_or(scheduled).to_rfc3339(),
        "kind": "as_run", "program": format!("p{slot}"), "title": "Chương trình phát thanh",
        "scheduled": scheduled.to_rfc3339(),
        "started": started.map(|t| t.to_rfc3339()), "ended": ended.map(|t| t.to_rfc3339()),
        "outcome": outcome, "detail": "",
        "origin": { "kind": "schedule", "scope": "district/d0", "revision": 3 }
    });
    if slot.is_multiple_of(3) {
        event["bulletins"] = serde_json::json!(["ban-tin-sang"]);
    }
    event.to_string()
}

fn status(i: usize) -> (String, String) {
    let box_id = format!("b{i:04}");
    let payload = serde_json::json!({
        "v": 1, "box_id": box_id, "state": "online", "at": Utc::now().to_rfc3339(),
        "version": "0.1.0", "revisions": { "district/d0": 3 },
        "scopes": ["all", format!("district/d{}", i % 10), format!("commune/c{:03}", i % COMMUNES), format!("box/{box_id}")],
        "disk_free": 5_000_000_000u64, "now_playing": null, "volume": 80,
        "bulletins": ["ban-tin-sang"], "transfers": []
    })
    .to_string();
    (format!("loaxa/status/{box_id}"), payload)
}

fn ms(d: Duration) -> Cell {
    Cell::new(d.as_secs_f64() * 1000.0, "ms")
}

pub fn run(paths: &Paths, report: &mut Report) -> Vec<Row> {
    let boxes = env_usize("BENCH_ARCHIVE_BOXES", 3_000);
    let dir = paths.out.join("archive");
    let _ = std::fs::remove_dir_all(&dir);
    let archive = match Archive::open(dir.join("archive.db")) {
        Ok(archive) => archive,
        Err(e) => return vec![Row::failed(SECTION, &e.to_string())],
    };
    let last_day = Utc::now().with_timezone(&tz()).date_naive() - chrono::Duration::days(1);
    let first_day = last_day - chrono::Duration::days(DAYS - 1);
    let entries = boxes * DAYS as usize * PER_DAY;

    // Seeding, through the collector's own parse and store, a batch per transaction.
    let now = Utc::now();
    let statuses: Vec<Message> = (0..boxes)
        .filter_map(|i| {
            let (topic, payload) = status(i);
            wire::parse(&topic, payload.as_bytes(), now).ok()
        })
        .collect();
    if let Err(e) = archive.store(&statuses, now) {
        return vec![Row::failed(SECTION, &e.to_string())];
    }
    let started = Instant::now();
    let mut batch = Vec::with_capacity(SEED_BATCH);
    let mut raw_rows = Vec::new();
    for i in 0..boxes {
        let box_id = format!("b{i:04}");
        let topic = format!("loaxa/events/{box_id}");
        let mut seq = 0;
        for day in first_day.iter_days().take(DAYS as usize) {
            for slot in 0..PER_DAY {
                seq += 1;
                let payload = as_run(&box_id, seq, day, slot);
                match wire::parse(&topic, payload.as_bytes(), now) {
                    Ok(message) => batch.push(message),
                    Err(e) => return vec![Row::failed(SECTION, &e.to_string())],
                }
                if i < 100 {
                    raw_rows.push((box_id.clone(), seq, payload));
                }
                if batch.len() == SEED_BATCH {
                    if let Err(e) = archive.store(&batch, now) {
                        return vec![Row::failed(SECTION, &e.to_string())];
                    }
                    batch.clear();
                }
            }
        }
    }
    if let Err(e) = archive.store(&batch, now) {
        return vec![Row::failed(SECTION, &e.to_string())];
    }
    let seeding = started.elapsed();
    let floor = raw_inserts(&dir, &raw_rows);
    let db_bytes = ["archive.db", "archive.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum::<u64>();

    let query = ReportQuery {
        from: first_day,
        to: last_day,
        tz: tz(),
        scope: ReportScope::All,
        bulletin: None,
    };
    let mut scheduled = 0;
    let mut times: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            scheduled = archive.report(&query).map_or(0, |r| r.total.scheduled);
            t.elapsed().as_secs_f64()
        })
        .collect();
    let month = Duration::from_secs_f64(median(&mut times));
    let mut listed = 0;
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            listed = archive.fleet(None).map_or(0, |f| f.len());
            t.elapsed().as_secs_f64()
        })
        .collect();
    let fleet = Duration::from_secs_f64(median(&mut times));
    let page = fleet_page(&dir, boxes);
    // The month's chart and workbook, to look at.
    if let (Ok(month), Ok(text)) = (archive.report(&query), loaxa_district::text::catalogue()) {
        let labels = Labels::new(&text, loaxa_core::i18n::Lang::Vi);
        if let Ok(svg) = chart::daily_svg(&month.days, &labels) {
            let _ = std::fs::write(dir.join("month.svg"), svg);
        }
        if let Ok(xlsx) = export::report_xlsx(&month, &labels) {
            let _ = std::fs::write(dir.join("month.xlsx"), xlsx);
        }
    }

    let ingest_events = env_usize("BENCH_ARCHIVE_INGEST", 50_000);
    let (ingest, raw) = ingest(&archive, ingest_events);
    report.note(format!(
        "Archive: {boxes} boxes in {COMMUNES} communes, {DAYS} days × {PER_DAY} as-run entries \
         each ({entries} events, {} MB of SQLite), stored by `wire::parse` + `Archive::store` in \
         batches of {SEED_BATCH} (floor: the same JSON and as-run columns of 30,000 of them \
         inserted raw into two plain tables in one transaction); the month's report for the \
         whole office (per box, per commune, per day) and the fleet of every box are medians of \
         3 and 5 runs; the fleet page is `GET /fleet` for a logged-in viewer, from the console's \
         own pages served in this process, over a loopback TCP connection (median of 5, the \
         page read to its end); ingest: {ingest_events} as-run events from {PUBLISHING_BOXES} boxes \
         published QoS 1 by one rumqttc client (at most {MAX_LEAD} ahead of what is stored) \
         to Mosquitto, collected by `collector::run` in this process, sustained rate from the \
         first event stored to the last (floor: a rumqttc subscriber that acks at once and \
         stores nothing, fed the same way).",
        db_bytes / 1_000_000
    ));
    let rate = |events: usize, d: Duration| Cell::new(events as f64 / d.as_secs_f64(), "events/s");
    let checked = |cell: Cell, ok: bool, why: &str| if ok { cell } else { Cell::na(why) };
    vec![
        Row::new(
            SECTION,
            format!("store {entries} as-run events in process"),
            rate(entries, seeding),
        )
        .versus(
            "raw SQLite inserts",
            floor.map_or_else(Cell::na, |d| rate(30_000, d)),
        ),
        Row::new(
            SECTION,
            format!("month's report, whole office ({entries} entries)"),
            checked(
                ms(month),
                scheduled as usize == entries,
                "report miscounted",
            ),
        )
        .goal("≤ 1 s", |v| v <= 1000.0),
        Row::new(
            SECTION,
            format!("fleet of {boxes} boxes"),
            checked(ms(fleet), listed == boxes, "fleet miscounted"),
        )
        .goal("≤ 100 ms", |v| v <= 100.0),
        Row::new(
            SECTION,
            format!("fleet page of {boxes} boxes over HTTP"),
            page.map_or_else(Cell::na, ms),
        )
        .versus("the fleet query alone", ms(fleet))
        .goal("≤ 100 ms", |v| v <= 100.0),
        Row::new(
            SECTION,
            "collector ingest through Mosquitto",
            ingest.map_or_else(Cell::na, |d| rate(ingest_events, d)),
        )
        .versus(
            "raw QoS 1 subscriber",
            raw.map_or_else(Cell::na, |d| rate(ingest_events, d)),
        )
        .goal("≥ 5,000 events/s", |v| v >= 5000.0),
    ]
}

/// The fleet page as an office's browser gets it: the console's own pages over a real HTTP
/// connection, for a logged-in viewer, on the archive just seeded; median of 5 requests.
fn fleet_page(dir: &std::path::Path, boxes: usize) -> Result<Duration, String> {
    use loaxa_district::console::{self, App, auth, config::ConsoleConfig};
    use std::io::{Read, Write};
    let key = dir.join("office.key");
    std::fs::write(
        &key,
        loaxa_core::trust::SecretKey::generate().to_file_text("bench"),
    )
    .map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| e.to_string())?;
    }
    let text = "database = \"archive.db\"\nmedia_dir = \"media\"\nsigning_key = \"office.key\"\n\
                [office]\nid = \"d0\"\nname = \"Bench\"\n[broker]\nurl = \"mqtt://127.0.0.1:1\"\n";
    let config =
        ConsoleConfig::parse(text, &dir.join("console.toml")).map_err(|e| e.to_string())?;
    let app = App::open(config).map_err(|e| e.to_string())?;
    let token = app
        .db
        .call_now(|conn| {
            let now = Utc::now();
            let account = auth::NewAccount {
                username: "xem",
                display_name: "Xem",
                role: auth::Role::Viewer,
                commune: None,
                password: "bench-password-long",
                must_change_password: false,
            };
            let id = auth::create_account(conn, &account, now)
                .map_err(|e| loaxa_district::console::db::DbError::Corrupt(e.to_string()))?;
            auth::start_session(conn, id, "127.0.0.1", now)
        })
        .map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        runtime.block_on(console::serve_pages(listener, Arc::new(app), async {
            let _ = stopped.await;
        }))
    });
    let get = || -> Result<f64, String> {
        let started = Instant::now();
        let mut stream = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
        write!(
            stream,
            "GET /fleet HTTP/1.1\r\nHost: {addr}\r\nCookie: {}={token}\r\nConnection: close\r\n\r\n",
            console::SESSION_COOKIE
        )
        .map_err(|e| e.to_string())?;
        let mut page = Vec::new();
        stream.read_to_end(&mut page).map_err(|e| e.to_string())?;
        let took = started.elapsed().as_secs_f64();
        let page = String::from_utf8_lossy(&page);
        let rows = page.matches("data-box=").count();
        if !page.starts_with("HTTP/1.1 200") || rows < boxes {
            let head: String = page.chars().take(200).collect();
            return Err(format!(
                "the fleet page listed {rows} of {boxes} boxes: {head}"
            ));
        }
        Ok(took)
    };
    let times: Result<Vec<f64>, String> = (0..5).map(|_| get()).collect();
    let _ = stop.send(());
    let _ = server.join();
    Ok(Duration::from_secs_f64(median(&mut times?)))
}

/// The floor of storing: the same rows inserted raw, in one transaction, without indexes.
fn raw_inserts(dir: &std::path::Path, rows: &[(String, u64, String)]) -> Result<Duration, String> {
    let mut conn = rusqlite::Connection::open(dir.join("raw.db")).map_err(|e| e.to_string())?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE event (box_id TEXT, seq INTEGER, payload TEXT);
         CREATE TABLE as_run (box_id TEXT, seq INTEGER, scheduled INTEGER, outcome TEXT);",
    )
    .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    {
        let mut event = tx
            .prepare("INSERT INTO event VALUES (?1, ?2, ?3)")
            .map_err(|e| e.to_string())?;
        let mut run = tx
            .prepare("INSERT INTO as_run VALUES (?1, ?2, ?3, ?4)")
            .map_err(|e| e.to_string())?;
        for (box_id, seq, payload) in rows.iter().take(30_000) {
            event
                .execute(rusqlite::params![box_id, *seq as i64, payload])
                .map_err(|e| e.to_string())?;
            run.execute(rusqlite::params![box_id, *seq as i64, 0, "aired"])
                .map_err(|e| e.to_string())?;
        }
    }
    tx.commit().map_err(|e| e.to_string())?;
    Ok(started.elapsed())
}

/// The collector's sustained rate, and the raw subscriber's, each over a broker of its own.
fn ingest(
    archive: &Archive,
    events: usize,
) -> (Result<Duration, String>, Result<Duration, String>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return (Err(e.to_string()), Err(e.to_string())),
    };
    let collected = runtime.block_on(collected(archive, events));
    let raw = runtime.block_on(raw(events));
    (collected, raw)
}

async fn collected(archive: &Archive, events: usize) -> Result<Duration, String> {
    let broker = Broker::start()?;
    let district = loaxa_district::publish::Broker {
        url: broker.url(),
        username: None,
        password: None,
        ca_file: None,
    };
    let settings = collector::Settings {
        client_id: "bench-archive".into(),
        retention_days: 10_000,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let archive_for_run = archive.clone();
    let collector = tokio::spawn(async move {
        collector::run(&district, archive_for_run, &settings, async {
            let _ = stopped.await;
        })
        .await
    });
    // What is stored, counted from the archive's change notices.
    let stored = Arc::new(AtomicU64::new(0));
    let mut changes = archive.changes();
    let counter = stored.clone();
    let counting = tokio::spawn(async move {
        loop {
            match changes.recv().await {
                Ok(loaxa_district::archive::Change::Event { .. }) => {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    counter.fetch_add(n, Ordering::Relaxed);
                }
                Err(_) => return,
            }
        }
    });
    // The collector's subscription is made before anything is published.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let result = publish_and_time(broker.port, events, &stored).await;
    let _ = stop.send(());
    let _ = collector.await;
    counting.abort();
    result
}

async fn raw(events: usize) -> Result<Duration, String> {
    let broker = Broker::start()?;
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let (client, mut eventloop) = AsyncClient::builder(options("bench-raw-archive", broker.port))
        .capacity(64)
        .build();
    client
        .subscribe("loaxa/events/+", QoS::AtLeastOnce)
        .await
        .map_err(|e| e.to_string())?;
    let subscriber = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(_))) => {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let result = publish_and_time(broker.port, events, &received).await;
    subscriber.abort();
    result
}

fn options(client_id: &str, port: u16) -> MqttOptions {
    let mut options = MqttOptions::new(client_id, rumqttc::Broker::tcp("127.0.0.1", port));
    options
        .set_keep_alive(30)
        .set_max_packet_size(1 << 20, 1 << 20);
    options
}

/// Publishes `events` as-run events (QoS 1) no more than [`MAX_LEAD`] ahead of `done`, and
/// times `done` from its first count to `events`.
async fn publish_and_time(port: u16, events: usize, done: &AtomicU64) -> Result<Duration, String> {
    let (client, mut eventloop) = AsyncClient::builder(options("bench-publisher", port))
        .capacity(256)
        .build();
    let driver = tokio::spawn(async move {
        loop {
            if eventloop.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    let day = Utc::now().with_timezone(&tz()).date_naive() - chrono::Duration::days(1);
    let start = done.load(Ordering::Relaxed);
    let mut first: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    for n in 0..events {
        while n as u64 > done.load(Ordering::Relaxed) - start + MAX_LEAD {
            if Instant::now() > deadline {
                driver.abort();
                return Err("the subscriber fell behind for good".into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if first.is_none() && done.load(Ordering::Relaxed) > start {
            first = Some(Instant::now());
        }
        let box_id = format!("ingest-{:03}", n % PUBLISHING_BOXES);
        let payload = as_run(&box_id, (n / PUBLISHING_BOXES) as u64 + 1, day, n % PER_DAY);
        client
            .publish(
                format!("loaxa/events/{box_id}"),
                payload,
                PublishOptions::at_least_once(),
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    let target = start + events as u64;
    while done.load(Ordering::Relaxed) < target {
        if first.is_none() && done.load(Ordering::Relaxed) > start {
            first = Some(Instant::now());
        }
        if Instant::now() > deadline {
            driver.abort();
            return Err(format!(
                "{} of {events} arrived",
                done.load(Ordering::Relaxed) - start
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    driver.abort();
    let first = first.unwrap_or_else(Instant::now);
    // The first event's own time is not in the span; scale to all of them.
    Ok(first
        .elapsed()
        .mul_f64(events as f64 / (events - 1).max(1) as f64))
}
