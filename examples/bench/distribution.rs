//! Section 4: one district, N boxes, one Mosquitto. The district publishes a signed schedule
//! and a ~2 MB bulletin; every simulated box runs loaxa's own receive path (inbox verification,
//! SQLite store, hash-checked chunk store) and the clock stops when the last box has stored and
//! acknowledged both. Beside it: the same bytes sent with `mosquitto_pub` to N plain
//! subscribers that only count them.
//!
//! Every box and subscriber lives in this one process, on one tokio current-thread runtime, so
//! the broker has the other core to itself.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::{mpsc, watch};

use loaxa::link::bulletins::{Bulletins, Progress, stored_manifests};
use loaxa::link::inbox::{Inbox, Verdict};
use loaxa::store::Store;
use loaxa_core::protocol::{Manifest, Scope, topic};
use loaxa_core::schedule::{LoadOptions, windows::Windows};
use loaxa_core::trust::{Keyring, SecretKey};
use loaxa_district::publish::{
    BulletinSpec, Registry, ScheduleSpec, publish_bulletin, publish_schedule,
};
use loaxa_link::{Link, LinkConfig, LinkEvent};

use crate::Paths;
use crate::broker::Broker;
use crate::media::Media;
use crate::report::{Cell, Report, Row};
use crate::sys::{MB, fd_limit, meminfo, proc_sample, self_cpu, which};

const SECTION: &str = "4 distribution";
/// Chunk subscriptions a box keeps open at once: `CHUNK_WINDOW` of `link::remote` (private
/// there), so the broker sees the daemon's own request pattern.
const CHUNK_WINDOW: usize = 8;
const DISTRICT: &str = "bench";
const BULLETIN_ID: &str = "tin-bench";
/// What the district schedules: the bulletin every morning.
const SCHEDULE: &str = "timezone = \"UTC\"\n\n[[program]]\nid = \"tin-sang\"\ntitle = \"Bản tin sáng\"\ncron = \"30 5 * * *\"\nitems = [\"chime\", \"bulletin:tin-bench\"]\n";

/// What one round measured.
struct Round {
    /// Publish start → last box done; None if not all finished in time.
    seconds: Option<f64>,
    done: usize,
    waited: f64,
    /// The district's publishing calls alone.
    publish_seconds: f64,
    broker_bytes_sent: Option<u64>,
    /// CPU of this process (boxes or subscribers, and the district's calls) in the window.
    client_cpu: Duration,
    broker_cpu: Duration,
    broker_peak_rss: u64,
    problems: Vec<String>,
}

/// Counts from `BENCH_BOXES`: a list (`10,100`), or one number meaning "the defaults up to it".
fn box_counts() -> Vec<usize> {
    let defaults = [10, 100, 1000];
    match crate::sys::env_list("BENCH_BOXES") {
        None => defaults.to_vec(),
        Some(list) => {
            let numbers: Vec<usize> = list.iter().filter_map(|s| s.parse().ok()).collect();
            match numbers.as_slice() {
                [limit] => {
                    let under: Vec<usize> = defaults.into_iter().filter(|n| n <= limit).collect();
                    if under.is_empty() {
                        vec![*limit]
                    } else {
                        under
                    }
                }
                _ => numbers,
            }
        }
    }
}

/// tmpfs where there is one: a thousand SQLite stores with `synchronous=FULL` and fsynced
/// chunks would otherwise measure the disk, not the link.
fn state_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && tempfile::tempdir_in(shm).is_ok() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    }
}

pub fn run(_paths: &Paths, media: Option<&Media>, report: &mut Report) -> Vec<Row> {
    let Some(media) = media else {
        return vec![Row::failed(SECTION, "no test media (ffmpeg missing?)")];
    };
    if which("mosquitto").is_none() {
        return vec![Row::failed(SECTION, "mosquitto not installed")];
    }
    let bulletin_bytes = std::fs::metadata(&media.bulletin).map_or(0, |m| m.len());
    let root = state_root();
    let mut rows = Vec::new();
    let mut district_row = None;
    for n in box_counts() {
        // A socket per client on each side, and a store (3 files) per box.
        let fds_needed = n as u64 * 5 + 200;
        let skip = if fd_limit() < fds_needed {
            Some(format!(
                "needs {fds_needed} open files, limit {}",
                fd_limit()
            ))
        } else {
            None
        };
        let loaxa = match &skip {
            Some(why) => Err(why.clone()),
            None => {
                eprintln!("[distribution] {n} loaxa boxes");
                in_runtime(loaxa_round(n, media, &root))
            }
        };
        // A subscriber holds the whole bulletin while it arrives as one message; not all at
        // once in practice (612 MB peak for 1,000 here), half of it all is a safe floor.
        let raw_memory = n as u64 * bulletin_bytes / 2;
        let raw = match (&skip, which("mosquitto_pub")) {
            (Some(why), _) => Err(why.clone()),
            (None, None) => Err("mosquitto_pub not installed".into()),
            (None, Some(_)) if meminfo("MemAvailable").is_some_and(|m| m < raw_memory) => {
                Err(format!(
                    "needs about {:.1} GiB free RAM",
                    raw_memory as f64 / 1073741824.0
                ))
            }
            (None, Some(pub_tool)) => {
                eprintln!("[distribution] {n} raw subscribers");
                in_runtime(raw_round(n, media, &pub_tool))
            }
        };
        if let Some(me) = proc_sample(std::process::id()) {
            eprintln!(
                "[distribution] bench process peak RSS so far: {:.0} MB",
                me.peak_rss_bytes as f64 / MB
            );
        }
        for (name, round) in [("loaxa", &loaxa), ("raw", &raw)] {
            match round {
                Ok(r) => report.note(format!(
                    "{n} boxes, {name}: {} of {n} done in {:.2} s; district publishing {:.2} s; \
                     broker peak RSS {:.0} MB{}",
                    r.done,
                    r.seconds.unwrap_or(r.waited),
                    r.publish_seconds,
                    r.broker_peak_rss as f64 / MB,
                    if r.problems.is_empty() {
                        String::new()
                    } else {
                        format!("; problems: {}", r.problems.join("; "))
                    }
                )),
                Err(e) => report.note(format!("{n} boxes, {name}: {e}")),
            }
        }
        rows.extend(round_rows(n, &loaxa, &raw));
        if district_row.is_none() {
            let publish = |r: &Result<Round, String>| match r {
                Ok(r) => Cell::new(r.publish_seconds, "s"),
                Err(e) => Cell::na(e.clone()),
            };
            district_row = Some(
                Row::new(
                    SECTION,
                    format!("district publish calls, schedule + bulletin ({n} boxes)"),
                    publish(&loaxa),
                )
                .versus("2 × mosquitto_pub", publish(&raw)),
            );
        }
    }
    rows.extend(district_row);
    report.note(format!(
        "Distribution: one Mosquitto on loopback per measurement (queue limits of \
         docs/mosquitto/loaxa.conf, no packet limit). A loaxa box here is a `Link` (the daemon's \
         MQTT connection: persistent session, manual acks) subscribed to its 12 scope topics, \
         running what `link::remote` runs on each message: `Inbox::receive` (minisign check, \
         scope, revision, schedule validation, SQLite store), and per chunk the manifest (read \
         from SQLite once per announcement) + `Bulletins::accept` (SHA-256, fsync, rename; whole-file hash at the end), 8 chunk \
         subscriptions open at a time, ack after storing. It does not publish the status and \
         receipts the daemon would, nor measure the bulletin's loudness on completion. One \
         SQLite store and bulletin directory per box on tmpfs ({}); a finished bulletin is \
         deleted once its box has reported, to bound memory. Timed: from the district's \
         `publish_schedule` (revision 2; revision 1 was delivered beforehand so every box is \
         connected and the district finds the held revision at once) and `publish_bulletin` \
         ({:.2} MB, probe + loudness + 64 KiB chunks + signed manifest) until the last box has \
         stored and acked both. Raw: N rumqttc subscribers to `raw/#` (QoS 1) counting bytes; \
         `mosquitto_pub -q 1 -f` sends the schedule file, then the bulletin as one message. \
         Bytes = `$SYS/broker/bytes/sent` difference. Client CPU = this process's user + system CPU over the window, less the district's probe and loudness pass (timed alone beforehand), ÷ N. All boxes share one core here; on real \
         boxes each verifies and stores on its own CPU, so large-N loaxa times are an upper bound.",
        root.display(),
        bulletin_bytes as f64 / 1e6
    ));
    rows
}

fn in_runtime<F: std::future::Future<Output = Result<Round, String>>>(
    round: F,
) -> Result<Round, String> {
    // A runtime per round: dropping it ends every client of the round before the next starts.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(round)
}

fn round_rows(n: usize, loaxa: &Result<Round, String>, raw: &Result<Round, String>) -> Vec<Row> {
    let time = |r: &Result<Round, String>| match r {
        Ok(Round {
            seconds: Some(s), ..
        }) => Cell::new(*s, "s"),
        Ok(r) => Cell::na(format!("{} of {n} done after {:.0} s", r.done, r.waited)),
        Err(e) => Cell::na(e.clone()),
    };
    let bytes = |r: &Result<Round, String>| match r {
        Ok(Round {
            broker_bytes_sent: Some(b),
            ..
        }) => Cell::new(*b as f64 / 1e6, "MB"),
        Ok(_) => Cell::na("no $SYS reading"),
        Err(e) => Cell::na(e.clone()),
    };
    let cpu = |r: &Result<Round, String>| match r {
        Ok(r) => Cell::new(r.client_cpu.as_secs_f64() * 1000.0 / n as f64, "ms"),
        Err(e) => Cell::na(e.clone()),
    };
    let broker_cpu = |r: &Result<Round, String>| match r {
        Ok(r) => Cell::new(r.broker_cpu.as_secs_f64(), "CPU s"),
        Err(e) => Cell::na(e.clone()),
    };
    let tool = "mosquitto_pub + raw subscribers";
    let mut timed = Row::new(
        SECTION,
        format!("{n} boxes: publish → all verified + stored"),
        time(loaxa),
    )
    .versus(tool, time(raw));
    if n >= 1000 {
        timed = timed.ratio_goal("≤ 1.5× raw", 1.5);
    }
    vec![
        timed,
        Row::new(
            SECTION,
            format!("{n} boxes: bytes sent by broker"),
            bytes(loaxa),
        )
        .versus(tool, bytes(raw)),
        Row::new(SECTION, format!("{n} boxes: broker CPU"), broker_cpu(loaxa))
            .versus(tool, broker_cpu(raw)),
        Row::new(
            SECTION,
            format!("{n} boxes: client CPU per box"),
            cpu(loaxa),
        )
        .versus(tool, cpu(raw)),
    ]
}

enum BoxEvent {
    Connected,
    Schedule(u64),
    Complete,
    Problem(String),
}

type Events = mpsc::UnboundedSender<(usize, BoxEvent, Instant)>;

/// Latest `$SYS/broker/bytes/sent`, and when it arrived.
type SysBytes = watch::Receiver<Option<(u64, Instant)>>;

fn mqtt_options(client_id: String, port: u16) -> MqttOptions {
    let mut options = MqttOptions::new(client_id, rumqttc::Broker::tcp("127.0.0.1", port));
    options
        .set_keep_alive(30)
        .set_max_packet_size(8 << 20, 1 << 20);
    options
}

/// Follows the broker's byte counter.
fn monitor(port: u16) -> SysBytes {
    let (tx, rx) = watch::channel(None);
    let (client, mut eventloop) = AsyncClient::builder(mqtt_options("bench-sys".into(), port))
        .capacity(10)
        .build();
    tokio::spawn(async move {
        let _ = client
            .subscribe("$SYS/broker/bytes/sent", QoS::AtMostOnce)
            .await;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if let Some(value) = std::str::from_utf8(&p.payload)
                        .ok()
                        .and_then(|s| s.trim().parse().ok())
                    {
                        let _ = tx.send(Some((value, Instant::now())));
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    });
    rx
}

/// The counter as published after `after` (it is published every second).
async fn bytes_after(sys: &mut SysBytes, after: Instant) -> Option<u64> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some((value, at)) = *sys.borrow_and_update()
            && at > after
        {
            return Some(value);
        }
        match tokio::time::timeout_at(deadline, sys.changed()).await {
            Ok(Ok(())) => {}
            _ => return None,
        }
    }
}

/// Waits until `done(state)` holds for every box, collecting problems; returns when the last
/// box got there, or None on timeout.
async fn wait_all<S: Default + Clone>(
    rx: &mut mpsc::UnboundedReceiver<(usize, BoxEvent, Instant)>,
    n: usize,
    timeout: Duration,
    states: &mut [S],
    mut apply: impl FnMut(&mut S, &BoxEvent),
    done: impl Fn(&S) -> bool,
    problems: &mut Vec<String>,
) -> (usize, Option<Instant>) {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = None;
    let mut count = states.iter().filter(|s| done(s)).count();
    while count < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((index, event, at))) => {
                if let BoxEvent::Problem(p) = &event
                    && problems.len() < 5
                {
                    problems.push(format!("box {index}: {p}"));
                }
                let was = done(&states[index]);
                apply(&mut states[index], &event);
                if !was && done(&states[index]) {
                    count += 1;
                    last = Some(at);
                }
            }
            _ => return (count, None),
        }
    }
    (count, last)
}

#[derive(Default, Clone)]
struct BoxState {
    connected: bool,
    revision: u64,
    complete: bool,
}

fn apply_box(state: &mut BoxState, event: &BoxEvent) {
    match event {
        BoxEvent::Connected => state.connected = true,
        BoxEvent::Schedule(revision) => state.revision = state.revision.max(*revision),
        BoxEvent::Complete => state.complete = true,
        BoxEvent::Problem(_) => {}
    }
}

async fn loaxa_round(n: usize, media: &Media, root: &Path) -> Result<Round, String> {
    let broker = Broker::start()?;
    let mut sys = monitor(broker.port);
    let key = SecretKey::generate();
    let keyring = Keyring::new(vec![key.public_key()]);
    let states_dir = tempfile::Builder::new()
        .prefix("loaxa-bench-boxes-")
        .tempdir_in(root)
        .map_err(|e| e.to_string())?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    for index in 0..n {
        let dir = states_dir.path().join(index.to_string());
        tokio::spawn(run_box(
            index,
            broker.url(),
            keyring.clone(),
            dir,
            tx.clone(),
        ));
    }
    let mut states = vec![BoxState::default(); n];
    let mut problems = Vec::new();
    let setup = Duration::from_secs(60) + Duration::from_millis(50 * n as u64);
    let (connected, _) = wait_all(
        &mut rx,
        n,
        setup,
        &mut states,
        apply_box,
        |s| s.connected,
        &mut problems,
    )
    .await;
    if connected < n {
        return Err(format!("only {connected} of {n} boxes connected"));
    }
    let district = loaxa_district::publish::Broker {
        url: broker.url(),
        username: None,
        password: None,
        ca_file: None,
    };
    let scope = Scope::District(DISTRICT.into());
    let options = LoadOptions {
        windows: None,
        author: loaxa_core::schedule::Author::District,
        ..LoadOptions::standalone(Path::new("bench.toml"), None)
    };
    let schedule = ScheduleSpec {
        scope: &scope,
        schedule: SCHEDULE,
        file: Path::new("bench.toml"),
        options: &options,
        windows: Some(Windows::all_day()),
        approver: "bench",
        revision: None,
        // These boxes leave no status: the district neither knows them nor hears them answer.
        force: true,
        answer_wait: Duration::ZERO,
        registry: &Registry::default(),
    };
    publish_schedule(&district, &key, &schedule)
        .await
        .map_err(|e| format!("warm-up schedule: {e}"))?;
    let (warm, _) = wait_all(
        &mut rx,
        n,
        setup,
        &mut states,
        apply_box,
        |s| s.revision >= 1,
        &mut problems,
    )
    .await;
    if warm < n {
        return Err(format!(
            "only {warm} of {n} boxes took the warm-up schedule ({})",
            problems.join("; ")
        ));
    }

    // The district's own work on the file (probe, loudness), timed alone so it can be taken
    // out of the boxes' CPU: the district runs on the same core here, not on a box.
    let prep = self_cpu();
    let _ = loaxa_media::decode::probe(&media.bulletin);
    let _ = loaxa_media::loudness::measure_file(&media.bulletin);
    let district_cpu = self_cpu().saturating_sub(prep);

    let base = bytes_after(&mut sys, Instant::now()).await;
    let (cpu0, broker0) = (self_cpu(), proc_sample(broker.pid()));
    let t0 = Instant::now();
    let revision = publish_schedule(&district, &key, &schedule)
        .await
        .map_err(|e| format!("schedule: {e}"))?
        .revision;
    let spec = BulletinSpec {
        file: &media.bulletin,
        id: BULLETIN_ID,
        title: "Bản tin thử",
        scope: &scope,
        approver: "bench",
        valid_until: None,
        force: true,
        answer_wait: Duration::ZERO,
        registry: &Registry::default(),
    };
    publish_bulletin(&district, &key, &spec, |_, _| {})
        .await
        .map_err(|e| format!("bulletin: {e}"))?;
    let publish_seconds = t0.elapsed().as_secs_f64();
    let timeout = Duration::from_secs(120) + Duration::from_millis(200 * n as u64);
    let (done, last) = wait_all(
        &mut rx,
        n,
        timeout,
        &mut states,
        apply_box,
        |s| s.revision >= revision && s.complete,
        &mut problems,
    )
    .await;
    let end = last.unwrap_or_else(Instant::now);
    let (cpu1, broker1) = (self_cpu(), proc_sample(broker.pid()));
    let after = bytes_after(&mut sys, end + Duration::from_millis(50)).await;
    Ok(Round {
        seconds: last.map(|l| (l - t0).as_secs_f64()),
        done,
        waited: t0.elapsed().as_secs_f64(),
        publish_seconds,
        broker_bytes_sent: base.zip(after).map(|(b, a)| a.saturating_sub(b)),
        client_cpu: cpu1.saturating_sub(cpu0).saturating_sub(district_cpu),
        broker_cpu: broker0
            .zip(broker1)
            .map_or(Duration::ZERO, |(b, a)| a.cpu.saturating_sub(b.cpu)),
        broker_peak_rss: broker1.map_or(0, |s| s.peak_rss_bytes),
        problems,
    })
}

/// One simulated box: the daemon's link handling of schedules and bulletins, reporting what it
/// stored.
async fn run_box(index: usize, url: String, keyring: Keyring, dir: PathBuf, tx: Events) {
    let report = |event: BoxEvent| {
        let _ = tx.send((index, event, Instant::now()));
    };
    let box_id = format!("b{index:04}");
    let scopes = vec![
        Scope::All,
        Scope::District(DISTRICT.into()),
        Scope::Commune(format!("c{:03}", index / 10)),
        Scope::Box(box_id.clone()),
    ];
    let subscriptions = scopes
        .iter()
        .flat_map(|s| [topic::schedule(s), topic::bulletins(s), topic::command(s)])
        .collect();
    let mut store = match Store::open(&dir) {
        Ok(store) => store,
        Err(e) => return report(BoxEvent::Problem(e.to_string())),
    };
    let (link, mut events) = match Link::start(
        LinkConfig::new(url, format!("bench-{box_id}")),
        subscriptions,
    ) {
        Ok(link) => link,
        Err(e) => return report(BoxEvent::Problem(e.to_string())),
    };
    let inbox = Inbox {
        box_id,
        scopes,
        keyring,
        load_options: LoadOptions {
            default_timezone: chrono_tz::UTC,
            media_dir: dir.clone(),
            check_audio: None,
            windows: None,
            author: loaxa_core::schedule::Author::District,
        },
    };
    let mut bulletins = Bulletins::new(&dir);
    // Read from the store again only after the inbox stored a new one, as `Remote` does.
    let mut manifests: Option<Vec<Manifest>> = None;
    let mut fetching = BTreeSet::new();
    let mut connected = false;
    while let Some(event) = events.recv().await {
        let message = match event {
            LinkEvent::Connected { .. } => {
                if !connected {
                    connected = true;
                    report(BoxEvent::Connected);
                }
                continue;
            }
            LinkEvent::Disconnected { reason, .. } => {
                report(BoxEvent::Problem(format!("disconnected: {reason}")));
                continue;
            }
            LinkEvent::Subscribed { .. } => continue,
            LinkEvent::Message(message) => message,
        };
        let mut done = None;
        if let Some((sha, chunk)) = topic::parse_chunk(&message.topic) {
            fetching.remove(&message.topic);
            let _ = link.unsubscribe(&message.topic);
            if manifests.is_none() {
                manifests = stored_manifests(&store).ok();
            }
            let manifest = manifests.iter().flatten().find(|m| m.sha256 == sha);
            if let Some(manifest) = manifest {
                match bulletins.accept(manifest, chunk, &message.payload) {
                    Ok(Progress::Partial { .. } | Progress::AlreadyComplete) => {}
                    // What a box's worker does: assemble, hash, decode (here, in line).
                    Ok(Progress::AllChunks) => {
                        let checked = bulletins.assembly(manifest).run();
                        bulletins.assembled(manifest);
                        match checked.outcome {
                            Ok(measured) => done = Some(measured.path),
                            Err(e) => report(BoxEvent::Problem(e.to_string())),
                        }
                    }
                    Err(e) => report(BoxEvent::Problem(e.to_string())),
                }
                fetch(&link, &mut bulletins, manifest, &mut fetching).await;
            }
        } else {
            match inbox.receive(&mut store, &message.topic, &message.payload, Utc::now()) {
                Ok(Verdict::ScheduleApplied { revision, .. }) => {
                    let _ = link.ack(&message);
                    report(BoxEvent::Schedule(revision));
                    continue;
                }
                Ok(Verdict::BulletinAnnounced(manifest)) => {
                    manifests = None;
                    fetch(&link, &mut bulletins, &manifest, &mut fetching).await;
                }
                Ok(Verdict::Rejected(reason) | Verdict::RevisionRejected { reason, .. }) => {
                    report(BoxEvent::Problem(reason))
                }
                Ok(Verdict::Unchanged(_) | Verdict::Command(_)) => {}
                Err(e) => report(BoxEvent::Problem(e.to_string())),
            }
        }
        // Acknowledged once stored, as the daemon does.
        let _ = link.ack(&message);
        if let Some(path) = done {
            report(BoxEvent::Complete);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Subscribes to the next missing chunks, up to the window (as `Remote::fetch`).
async fn fetch(
    link: &Link,
    bulletins: &mut Bulletins,
    manifest: &Manifest,
    fetching: &mut BTreeSet<String>,
) {
    let wanted: Vec<String> = bulletins
        .missing(manifest)
        .into_iter()
        .map(|index| topic::chunk(&manifest.sha256, index))
        .filter(|t| !fetching.contains(t))
        .take(CHUNK_WINDOW.saturating_sub(fetching.len()))
        .collect();
    for chunk_topic in wanted {
        if link.subscribe_in_session(&chunk_topic).is_ok() {
            fetching.insert(chunk_topic);
        }
    }
}

#[derive(Default, Clone)]
struct RawState {
    subscribed: bool,
    complete: bool,
}

fn apply_raw(state: &mut RawState, event: &BoxEvent) {
    match event {
        BoxEvent::Connected => state.subscribed = true,
        BoxEvent::Complete => state.complete = true,
        BoxEvent::Schedule(_) | BoxEvent::Problem(_) => {}
    }
}

async fn raw_round(n: usize, media: &Media, mosquitto_pub: &Path) -> Result<Round, String> {
    let broker = Broker::start()?;
    let mut sys = monitor(broker.port);
    let files = tempfile::tempdir().map_err(|e| e.to_string())?;
    let schedule = files.path().join("schedule.toml");
    std::fs::write(&schedule, SCHEDULE).map_err(|e| e.to_string())?;
    let total = SCHEDULE.len() as u64
        + std::fs::metadata(&media.bulletin)
            .map_err(|e| e.to_string())?
            .len();
    let (tx, mut rx) = mpsc::unbounded_channel();
    for index in 0..n {
        tokio::spawn(raw_subscriber(index, broker.port, total, tx.clone()));
    }
    let mut states = vec![RawState::default(); n];
    let mut problems = Vec::new();
    let setup = Duration::from_secs(60) + Duration::from_millis(50 * n as u64);
    let (subscribed, _) = wait_all(
        &mut rx,
        n,
        setup,
        &mut states,
        apply_raw,
        |s| s.subscribed,
        &mut problems,
    )
    .await;
    if subscribed < n {
        return Err(format!("only {subscribed} of {n} subscribers connected"));
    }
    let base = bytes_after(&mut sys, Instant::now()).await;
    let (cpu0, broker0) = (self_cpu(), proc_sample(broker.pid()));
    let t0 = Instant::now();
    let port = broker.port.to_string();
    let jobs = [
        ("raw/schedule", schedule.clone()),
        ("raw/bulletin", media.bulletin.clone()),
    ];
    let program = mosquitto_pub.to_owned();
    // mosquitto_pub runs on a blocking thread, so the subscribers keep reading meanwhile.
    let published = tokio::task::spawn_blocking(move || {
        for (topic, file) in jobs {
            let status = Command::new(&program)
                .args(["-h", "127.0.0.1", "-p", &port, "-q", "1", "-t", topic, "-f"])
                .arg(&file)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!("mosquitto_pub failed ({status})"));
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| e.to_string())?;
    published?;
    let publish_seconds = t0.elapsed().as_secs_f64();
    let timeout = Duration::from_secs(120) + Duration::from_millis(200 * n as u64);
    let (done, last) = wait_all(
        &mut rx,
        n,
        timeout,
        &mut states,
        apply_raw,
        |s| s.complete,
        &mut problems,
    )
    .await;
    let end = last.unwrap_or_else(Instant::now);
    let (cpu1, broker1) = (self_cpu(), proc_sample(broker.pid()));
    let after = bytes_after(&mut sys, end + Duration::from_millis(50)).await;
    Ok(Round {
        seconds: last.map(|l| (l - t0).as_secs_f64()),
        done,
        waited: t0.elapsed().as_secs_f64(),
        publish_seconds,
        broker_bytes_sent: base.zip(after).map(|(b, a)| a.saturating_sub(b)),
        client_cpu: cpu1.saturating_sub(cpu0),
        broker_cpu: broker0
            .zip(broker1)
            .map_or(Duration::ZERO, |(b, a)| a.cpu.saturating_sub(b.cpu)),
        broker_peak_rss: broker1.map_or(0, |s| s.peak_rss_bytes),
        problems,
    })
}

/// A plain subscriber: counts payload bytes until it has them all.
async fn raw_subscriber(index: usize, port: u16, total: u64, tx: Events) {
    let report = |event: BoxEvent| {
        let _ = tx.send((index, event, Instant::now()));
    };
    let (client, mut eventloop) =
        AsyncClient::builder(mqtt_options(format!("bench-raw-{index}"), port))
            .capacity(10)
            .build();
    if client.subscribe("raw/#", QoS::AtLeastOnce).await.is_err() {
        return report(BoxEvent::Problem("cannot subscribe".into()));
    }
    let mut received: u64 = 0;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::SubAck(_))) => report(BoxEvent::Connected),
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                received += publish.payload.len() as u64;
                if received >= total {
                    report(BoxEvent::Complete);
                }
            }
            Ok(_) => {}
            Err(e) => {
                report(BoxEvent::Problem(e.to_string()));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
