//! Bursts of traffic that must not take a box off the air: 10,000 junk messages on a command
//! topic; 1,000 retained genuine manifests waiting for a box that joins the district; a
//! bulletin whose chunks never come published beside 20 good ones; a bulletin that decodes to
//! ten hours, which the box must measure without holding anything up. In each trial a programme
//! falls due in the middle of the burst, and a prober asks the control socket for the status
//! every 200 ms. Besides the usual columns, the class counts programmes more than 10 ms *late*
//! (or missing) and control requests not answered within two seconds (*socket*); a daemon that
//! does not stop within 5 s of SIGTERM counts as *panicked*.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use loaxa_core::protocol::{Document, Envelope, MAX_CHUNK, Manifest, topic};
use loaxa_link::{Link, LinkConfig, LinkEvent};

use crate::common::broker::Broker;
use crate::common::*;
use crate::{Row, aired_twice, as_run, bad_bulletin_files, panics_in, store_is_whole, wait_until};

const SCOPE: &str = "commune/phu-dong";
/// The programme that falls due mid-burst.
const PROGRAMME: &str = "audio/tiem-chung.mp3";
/// Later than this counts as late.
const ON_TIME_MS: f64 = 10.0;
/// The prober's question must be answered within this. A loop held up by work that grows with
/// the input (a long decode, a wedged link) answers seconds late or never; a test machine busy
/// with other suites adds up to about a second to an answer of a few milliseconds.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);
/// SIGTERM to exit.
const STOP_WITHIN: Duration = Duration::from_secs(5);

pub fn run(_seed: u64) -> Row {
    let mut row = Row {
        class: "message bursts",
        ..Row::default()
    };
    let reference = ffmpeg_decode(&Path::new(REPO).join(PROGRAMME), 44_100);
    let mut notes = Vec::new();
    for burst in [Burst::Junk, Burst::Manifests, Burst::Stuck, Burst::TenHours] {
        let seen = burst.run(&reference);
        row.trials += 1;
        row.faults += 1;
        row.lost += seen.lost;
        row.doubled += seen.doubled;
        row.corrupt += seen.corrupt;
        row.panicked += seen.panicked;
        row.late += seen.late;
        row.socket += seen.unanswered;
        notes.push(format!(
            "{}: programme {}, slowest answer {} ms, stopped in {} ms{}",
            burst.name(),
            seen.lateness_ms
                .map_or("missing".into(), |ms| format!("{ms:+.1} ms")),
            seen.slowest_answer.as_millis(),
            seen.stopped_in.as_millis(),
            seen.note
        ));
    }
    row.notes = notes.join("; ");
    row
}

#[derive(Debug, Clone, Copy)]
enum Burst {
    /// 10,000 unsigned junk messages at QoS 1 on the box's commune command topic.
    Junk,
    /// 1,000 genuine bulletins (manifest and chunk, retained) already on the broker when a new
    /// box first connects.
    Manifests,
    /// A genuine manifest whose chunks were never uploaded, then 20 good bulletins.
    Stuck,
    /// A 120 KB FLAC bulletin of ten hours of silence: measuring its loudness decodes all of it.
    TenHours,
}

/// What one trial saw.
#[derive(Debug, Default)]
struct Seen {
    lost: usize,
    doubled: usize,
    corrupt: usize,
    panicked: usize,
    late: usize,
    unanswered: usize,
    lateness_ms: Option<f64>,
    slowest_answer: Duration,
    stopped_in: Duration,
    note: String,
}

impl Burst {
    fn name(self) -> &'static str {
        match self {
            Burst::Junk => "10,000 junk commands",
            Burst::Manifests => "1,000 retained manifests",
            Burst::Stuck => "stuck transfer + 20",
            Burst::TenHours => "a 10-hour bulletin",
        }
    }

    fn run(self, reference: &[f32]) -> Seen {
        let broker = Broker::start();
        let district = District::new();
        let test_box = district.linked_box(&broker, "burst-01", "phu-dong", "");
        let state = test_box.path("state");
        // What is already on the broker when the box first connects.
        let expected_bulletins = match self {
            Burst::Manifests => {
                let bulletins = bulletins(&district, 1_000);
                publish_all(&broker, &bulletins.messages);
                bulletins.shas
            }
            _ => Vec::new(),
        };
        let lead = match self {
            Burst::Manifests => Duration::from_secs(4),
            _ => Duration::from_secs(8),
        };
        let (at, instant) = local_second_ahead(lead);
        test_box.write_schedule(
            "due.toml",
            &format!("[[program]]\nid = \"due\"\nat = [\"{at}\"]\nitems = [\"{PROGRAMME}\"]\n"),
        );
        let daemon = test_box.start_daemon("air.wav");
        let log = test_box.path("air.wav.log");
        let connected = wait_until(Duration::from_secs(20), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("mqtt connected"))
        });
        let prober = Prober::start(test_box.path("state/control.sock"));

        let mut seen = Seen::default();
        let expected_bulletins = match self {
            Burst::Manifests => expected_bulletins,
            Burst::Junk => {
                junk_flood(&broker, 10_000);
                Vec::new()
            }
            Burst::Stuck => {
                let stuck = stuck_manifest(&district);
                let good = bulletins(&district, 20);
                let mut messages = vec![stuck];
                messages.extend(good.messages);
                publish_all(&broker, &messages);
                good.shas
            }
            Burst::TenHours => {
                let key = district_key(&district);
                let (messages, sha) = ten_hour_bulletin(&key);
                publish_all(&broker, &messages);
                vec![sha]
            }
        };
        let complete = |sha: &String| {
            ["wav", "flac"]
                .iter()
                .any(|codec| state.join(format!("bulletins/{sha}.{codec}")).exists())
        };
        // Ten hours of audio are decoded to check its length and measure it: 12 s on an idle
        // core in a release build, minutes on a loaded one.
        let patience = match self {
            Burst::TenHours => Duration::from_secs(300),
            _ => Duration::from_secs(120),
        };
        let arrived = wait_until(patience, || expected_bulletins.iter().all(complete));
        if !arrived {
            let missing = expected_bulletins.iter().filter(|s| !complete(s)).count();
            seen.lost += missing;
            seen.note = format!(
                ", {missing} of {} bulletins never arrived",
                expected_bulletins.len()
            );
        } else if !expected_bulletins.is_empty() {
            seen.note = format!(", all {} bulletins arrived", expected_bulletins.len());
        }
        // The programme has aired (or failed) by now, or will within its length.
        wait_until(Duration::from_secs(60), || {
            as_run(&state)
                .iter()
                .any(|r| r.program_id == "due" && r.outcome != "airing")
        });
        let (unanswered, slowest) = prober.stop();
        seen.unanswered = unanswered;
        seen.slowest_answer = slowest;

        let asked_to_stop = Instant::now();
        daemon.signal("TERM");
        let mut daemon = daemon;
        let stopped = wait_until(STOP_WITHIN, || !daemon.is_running());
        seen.stopped_in = asked_to_stop.elapsed();
        if !connected || !stopped {
            seen.panicked += 1;
        }
        seen.panicked += panics_in(&log);
        drop(daemon);

        let rows = as_run(&state);
        let due: Vec<_> = rows.iter().filter(|r| r.program_id == "due").collect();
        if !due.iter().any(|r| r.outcome == "aired") {
            seen.lost += 1;
        }
        seen.doubled += aired_twice(&rows);
        if !store_is_whole(&state) {
            seen.corrupt += 1;
        }
        seen.corrupt += bad_bulletin_files(&state);
        // Refusals past a few a minute are summed up, not queued one by one for the district.
        let events = loaxa::store::Store::open_read_only(&state)
            .ok()
            .flatten()
            .and_then(|store| store.next_outbox_seq().ok())
            .map_or(0, |next| next - 1);
        if let Burst::Junk = self {
            assert!(
                events < 100,
                "10,000 junk messages queued {events} events for the district"
            );
        }
        seen.note += &format!(", {events} events for the district");
        seen.lateness_ms = stopped
            .then(|| {
                Recording::read(&test_box.path("air.wav")).first_sample_error_ms(instant, reference)
            })
            .flatten();
        if seen.lateness_ms.is_none_or(|ms| ms > ON_TIME_MS) {
            seen.late += 1;
        }
        seen
    }
}

/// Asks the daemon for its status every 200 ms, counting answers slower than a second.
struct Prober {
    stop: Arc<AtomicBool>,
    unanswered: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<Duration>,
}

impl Prober {
    fn start(socket: PathBuf) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let unanswered = Arc::new(AtomicUsize::new(0));
        let (stop_flag, count) = (stop.clone(), unanswered.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let mut slowest = Duration::ZERO;
            while !stop_flag.load(Ordering::SeqCst) {
                let asked = Instant::now();
                let answered = runtime.block_on(async {
                    tokio::time::timeout(
                        ANSWER_WITHIN,
                        loaxa::control::ask(&socket, &loaxa::control::Request::Status {}),
                    )
                    .await
                });
                slowest = slowest.max(asked.elapsed());
                if !matches!(answered, Ok(Ok(loaxa::control::Reply::Done(_)))) {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            slowest
        });
        Prober {
            stop,
            unanswered,
            thread,
        }
    }

    /// Unanswered requests, and the slowest answer.
    fn stop(self) -> (usize, Duration) {
        self.stop.store(true, Ordering::SeqCst);
        let slowest = self.thread.join().unwrap_or(Duration::MAX);
        (self.unanswered.load(Ordering::SeqCst), slowest)
    }
}

/// `count` junk lines at QoS 1 on the commune's command topic, as fast as mosquitto_pub sends.
fn junk_flood(broker: &Broker, count: usize) {
    use std::io::Write;
    let mut child = std::process::Command::new("mosquitto_pub")
        .args(["-p", &broker.port().to_string(), "-q", "1", "-l"])
        .args(["-t", &format!("loaxa/{SCOPE}/command")])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("mosquitto_pub runs");
    if let Some(mut stdin) = child.stdin.take() {
        for i in 0..count {
            let _ = writeln!(
                stdin,
                "{{\"v\":1,\"signed\":\"junk {i}\",\"signature\":\"\"}}"
            );
        }
    }
    assert!(child.wait().expect("mosquitto_pub ends").success());
}

/// Messages to publish, and the sha256 of each bulletin's audio.
struct Bulletins {
    messages: Vec<(String, Vec<u8>)>,
    shas: Vec<String>,
}

/// `count` genuine bulletins of a fifth of a second of a tone each (each its own pitch, so
/// each its own file): one chunk and one signed manifest apiece.
fn bulletins(district: &District, count: usize) -> Bulletins {
    let key = district_key(district);
    let mut messages = Vec::new();
    let mut shas = Vec::new();
    for n in 0..count {
        let audio = tone_wav(200 + n as u32);
        let sha = loaxa_core::protocol::hex_sha256(&audio);
        let manifest = manifest_of(&format!("burst-{n}"), &format!("Tin {n}"), &audio, 200);
        messages.push((topic::chunk(&sha, 0), audio));
        messages.push(sealed(&manifest, &key));
        shas.push(sha);
    }
    Bulletins { messages, shas }
}

/// Ten hours of silence as FLAC, its chunks and its signed manifest, which tells the truth
/// about its length.
fn ten_hour_bulletin(key: &loaxa_core::trust::SecretKey) -> (Vec<(String, Vec<u8>)>, String) {
    let cache = ten_hour_flac();
    let audio = std::fs::read(&cache).expect("ten-hour file");
    let sha = loaxa_core::protocol::hex_sha256(&audio);
    let manifest = manifest_of("ten-hours", "Mười tiếng", &audio, 36_000_000);
    let mut messages: Vec<(String, Vec<u8>)> = audio
        .chunks(MAX_CHUNK)
        .enumerate()
        .map(|(index, chunk)| (topic::chunk(&sha, index), chunk.to_vec()))
        .collect();
    messages.push(sealed(&manifest, key));
    (messages, sha)
}

/// The manifest the district signs for `audio`, in chunks of the largest size.
fn manifest_of(id: &str, title: &str, audio: &[u8], duration_ms: u64) -> Manifest {
    Manifest {
        scope: SCOPE.parse().expect("scope"),
        id: id.into(),
        issued_at: chrono::Utc::now(),
        title: title.into(),
        sha256: loaxa_core::protocol::hex_sha256(audio),
        size: audio.len() as u64,
        duration_ms,
        codec: if audio.starts_with(b"fLaC") {
            "flac"
        } else {
            "wav"
        }
        .into(),
        chunk_size: MAX_CHUNK,
        chunks: audio
            .chunks(MAX_CHUNK)
            .map(loaxa_core::protocol::hex_sha256)
            .collect(),
        valid_until: None,
        approver: "huyện".into(),
        loudness_lufs: None,
    }
}

/// A genuine manifest for 2 MB of audio no one ever uploads.
fn stuck_manifest(district: &District) -> (String, Vec<u8>) {
    let size = 2 * 1024 * 1024;
    let manifest = Manifest {
        scope: SCOPE.parse().expect("scope"),
        id: "never-comes".into(),
        issued_at: chrono::Utc::now(),
        title: "Không bao giờ đến".into(),
        sha256: "e".repeat(64),
        size,
        duration_ms: 120_000,
        codec: "mp3".into(),
        chunk_size: MAX_CHUNK,
        chunks: vec!["f".repeat(64); size.div_ceil(MAX_CHUNK as u64) as usize],
        valid_until: None,
        approver: "huyện".into(),
        loudness_lufs: None,
    };
    sealed(&manifest, &district_key(district))
}

fn district_key(district: &District) -> loaxa_core::trust::SecretKey {
    loaxa_core::trust::SecretKey::parse(
        &std::fs::read_to_string(district.key()).expect("district key"),
    )
    .expect("district key parses")
}

fn sealed(manifest: &Manifest, key: &loaxa_core::trust::SecretKey) -> (String, Vec<u8>) {
    let envelope =
        Envelope::seal(&Document::Bulletin(manifest.clone()), key).expect("manifest signs");
    (
        topic::bulletin(&manifest.scope, &manifest.id),
        envelope.to_bytes(),
    )
}

/// A fifth of a second of a sine at `frequency` Hz, as a 16-bit mono 8 kHz WAV file.
fn tone_wav(frequency: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut bytes, spec).expect("wav writer");
    for i in 0..1_600 {
        let t = i as f32 / 8_000.0;
        let sample = (t * frequency as f32 * std::f32::consts::TAU).sin() * 8_000.0;
        writer.write_sample(sample as i16).expect("sample");
    }
    writer.finalize().expect("wav");
    bytes.into_inner()
}

/// Publishes every message retained (QoS 1) as the district would, and returns once the
/// broker has them all: the last one comes back on a subscription to it.
fn publish_all(broker: &Broker, messages: &[(String, Vec<u8>)]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut config = LinkConfig::new(broker.url(), "burst-district");
        config.persistent_session = false;
        let (last_topic, last_payload) = messages.last().expect("something to publish");
        let (link, mut events) =
            Link::start(config, vec![last_topic.clone()]).expect("district link");
        loop {
            match events.recv().await {
                Some(LinkEvent::Connected { .. }) => break,
                Some(_) => {}
                None => panic!("district link ended"),
            }
        }
        for (topic, payload) in messages {
            link.publish(topic, payload.clone(), true)
                .await
                .expect("publish");
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
            if let LinkEvent::Message(message) = event {
                let _ = link.ack(&message);
                if message.payload == *last_payload {
                    break;
                }
            }
        }
        link.shutdown().await;
    });
}
