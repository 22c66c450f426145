//! Relay programmes end to end, in real time: the real `loaxa daemon` relays a live stream from
//! a tiny HTTP server inside the test (an ffmpeg-made 440 Hz MP3 sent at its real bitrate) into
//! a `wav:` output, for a slot of `duration_minutes = 0.1` (6 s); the samples that came out are
//! checked against the scheduled instant. Then the stream drops mid-slot, and then it is not
//! there at all.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::*;

/// The slot: `duration_minutes = 0.1`.
const SLOT: Duration = Duration::from_secs(6);
/// 64 kb/s, as the tone is encoded.
const BYTES_PER_SECOND: usize = 8_000;
/// Above it a sample is sound; ffmpeg's sine is at 0.125 of full scale.
const SOUND: f32 = 0.02;

/// `seconds` of a 440 Hz mono tone, MP3 at 64 kb/s (ffmpeg's sine level, -18 dBFS).
fn tone_mp3(dir: &Path, seconds: u32) -> Vec<u8> {
    std::fs::read(ffmpeg_tone(dir, "tone.mp3", 440, seconds, -18, 64)).unwrap()
}

/// What the server does with one connection.
#[derive(Clone, Copy)]
struct Answer {
    /// How long it waits before answering the request.
    delay: Duration,
    /// Seconds of the stream it sends before hanging up; None: all of it.
    seconds: Option<f64>,
}

/// A one-thread radio server on 127.0.0.1: answers the n-th connection as `answers[n]` (the
/// last one for all later ones), sending the MP3 paced at its bitrate, until dropped.
struct Radio {
    url: String,
    /// When each connection was accepted.
    connections: Arc<std::sync::Mutex<Vec<Instant>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Radio {
    fn start(mp3: Vec<u8>, answers: Vec<Answer>) -> Radio {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/vov1", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(std::sync::Mutex::new(Vec::new()));
        let thread = {
            let (stop, connections) = (Arc::clone(&stop), Arc::clone(&connections));
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((socket, _)) => {
                            let n = {
                                let mut accepted = connections.lock().unwrap();
                                accepted.push(Instant::now());
                                accepted.len() - 1
                            };
                            let answer = answers[n.min(answers.len() - 1)];
                            answer_with(socket, &mp3, answer, &stop);
                        }
                        Err(_) => thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        Radio {
            url,
            connections,
            stop,
            thread: Some(thread),
        }
    }

    fn connections(&self) -> Vec<Instant> {
        self.connections.lock().unwrap().clone()
    }
}

impl Drop for Radio {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Plays one connection: reads the request, waits, answers like Icecast, sends the stream.
fn answer_with(mut socket: TcpStream, mp3: &[u8], answer: Answer, stop: &AtomicBool) {
    let _ = socket.set_nonblocking(false);
    let _ = socket.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut buffer = [0; 1024];
    while !request.windows(4).any(|end| end == b"\r\n\r\n") {
        match socket.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(count) => request.extend_from_slice(&buffer[..count]),
        }
    }
    thread::sleep(answer.delay);
    let head = "HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-name: VOV1\r\n\r\n";
    if socket.write_all(head.as_bytes()).is_err() {
        return;
    }
    let end = answer.seconds.map_or(mp3.len(), |seconds| {
        ((seconds * BYTES_PER_SECOND as f64) as usize).min(mp3.len())
    });
    let start = Instant::now();
    let mut sent = 0;
    while sent < end && !stop.load(Ordering::Relaxed) {
        let due = ((start.elapsed().as_secs_f64() * BYTES_PER_SECOND as f64) as usize).min(end);
        if due > sent {
            if socket.write_all(&mp3[sent..due]).is_err() {
                return;
            }
            sent = due;
        }
        thread::sleep(Duration::from_millis(20));
    }
    // Dropping the socket hangs up.
}

/// A box with one relay programme `vov` at a whole second a few seconds ahead; `fallback` is
/// the TOML list, if any. Returns the instant.
fn schedule_relay(test_box: &TestBox, url: &str, fallback: Option<&str>) -> DateTime<Utc> {
    let (at, instant) = local_second_ahead(Duration::from_secs(3));
    let fallback = fallback.map_or(String::new(), |list| format!("fallback = {list}\n"));
    test_box.write_schedule(
        "vov.toml",
        &format!(
            "[[program]]\nid = \"vov\"\ntitle = \"Tiếp sóng VOV1\"\nat = [\"{at}\"]\n\
             relay = \"{url}\"\nduration_minutes = 0.1\n{fallback}"
        ),
    );
    instant
}

/// Runs the daemon until the programme is logged done (plus a second of what follows), and
/// returns its as-run entry, the recording and the daemon's log.
fn air(test_box: &TestBox) -> (serde_json::Value, Recording, String) {
    let daemon = test_box.start_daemon("out.wav");
    let log = test_box.wait_for_log(Duration::from_secs(20), |log| {
        log.iter().any(|e| e["outcome"] != "airing")
    });
    thread::sleep(Duration::from_secs(1)); // some of the silence after it
    assert!(daemon.stop(), "the daemon exits cleanly on SIGTERM");
    assert_eq!(log.len(), 1, "{log:#?}");
    let recording = Recording::read(&test_box.path("out.wav"));
    let daemon_log = std::fs::read_to_string(test_box.path("out.wav.log")).unwrap();
    (log[0].clone(), recording, daemon_log)
}

/// The `what` of every `boundary` line the daemon logged.
fn boundaries(daemon_log: &str) -> Vec<String> {
    daemon_log
        .lines()
        .filter(|l| l.contains(" boundary ") && l.contains("program=vov "))
        .filter_map(|l| {
            l.split("what=")
                .nth(1)
                .map(|w| w.trim_matches('"').to_owned())
        })
        .collect()
}

/// The instant of the first `boundary` line whose `what` starts with `what`.
fn boundary_at(daemon_log: &str, what: &str) -> DateTime<Utc> {
    daemon_log
        .lines()
        .filter(|l| l.contains(" boundary ") && l.contains("program=vov "))
        .find(|l| l.contains(&format!("what={what}")) || l.contains(&format!("what=\"{what}")))
        .and_then(|l| l.split("at=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|at| at.parse().ok())
        .unwrap_or_else(|| panic!("no boundary {what:?} in the log:\n{daemon_log}"))
}

/// The wall-clock time of `instant`.
fn wall_clock(instant: Instant) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::from_std(instant.elapsed()).unwrap()
}

/// Root mean square of the 10 ms windows of `samples`, one per window.
fn levels(samples: &[f32], rate: u32) -> Vec<f32> {
    samples
        .chunks(rate as usize / 100)
        .map(|w| (w.iter().map(|s| s * s).sum::<f32>() / w.len() as f32).sqrt())
        .collect()
}

/// The tone's frequency from its zero crossings.
fn frequency(samples: &[f32], rate: u32) -> f64 {
    let crossings = samples
        .windows(2)
        .filter(|pair| (pair[0] < 0.0) != (pair[1] < 0.0))
        .count();
    crossings as f64 / 2.0 / (samples.len() as f64 / f64::from(rate))
}

/// The recording from `from` for `len` (clipped to what there is).
fn span(recording: &Recording, from: i64, len: Duration) -> &[f32] {
    let from = from.clamp(0, recording.left.len() as i64) as usize;
    let len = (len.as_secs_f64() * f64::from(recording.rate)) as usize;
    &recording.left[from..(from + len).min(recording.left.len())]
}

fn seconds(recording: &Recording, samples: i64) -> f64 {
    recording.ms(samples) / 1000.0
}

/// The last sample above `SOUND`.
fn last_sound(samples: &[f32]) -> Option<usize> {
    samples.iter().rposition(|s| s.abs() > SOUND)
}

#[test]
fn a_relay_programme_airs_six_seconds_of_the_live_stream_from_its_instant_then_silence() {
    let dir = tempfile::tempdir().unwrap();
    let radio = Radio::start(
        tone_mp3(dir.path(), 20),
        vec![Answer {
            delay: Duration::ZERO,
            seconds: None,
        }],
    );
    let test_box = TestBox::new();
    let instant = schedule_relay(&test_box, &radio.url, None);
    let (entry, recording, daemon_log) = air(&test_box);
    assert_eq!(entry["outcome"], "aired", "{entry:#?}");
    assert_eq!(entry["detail"], "", "{entry:#?}");
    let connected = radio.connections();
    assert_eq!(connected.len(), 1, "one connection, never dropped");

    let scheduled = recording.index_at(instant);
    let first = onset(&recording.left, SOUND).expect("the stream aired") as i64;
    let last = last_sound(&recording.left).unwrap() as i64;
    let latency_ms = recording.ms(first - scheduled);
    let aired = seconds(&recording, last - first);
    eprintln!(
        "relay start latency {latency_ms:+.1} ms from the scheduled instant; {aired:.3} s of tone; \
         connected {:.2} s before the instant",
        (instant - wall_clock(connected[0])).num_milliseconds() as f64 / 1000.0
    );
    assert!(
        (-10.0..=500.0).contains(&latency_ms),
        "the relay started {latency_ms:+.1} ms from its instant"
    );
    assert!(
        (SLOT.as_secs_f64() * 0.95..=SLOT.as_secs_f64() * 1.05).contains(&aired),
        "{aired:.3} s of a 6 s slot aired"
    );
    // It is the stream: a steady 440 Hz, without dropouts, over the whole slot.
    let middle = span(&recording, first + 4_410, SLOT - Duration::from_millis(300));
    let hz = frequency(middle, recording.rate);
    assert!((hz - 440.0).abs() < 2.0, "the tone is at {hz:.1} Hz");
    let quietest = levels(middle, recording.rate)
        .into_iter()
        .fold(f32::MAX, f32::min);
    assert!(quietest > 0.07, "a dropout: 10 ms at RMS {quietest}");
    // The slot ends on its length, not when the stream does: then silence.
    let slot_end = scheduled + (SLOT.as_secs_f64() * f64::from(recording.rate)) as i64;
    let after = span(&recording, slot_end + 1, Duration::from_secs(1));
    assert!(
        after.len() as u32 >= recording.rate / 2,
        "only {} samples recorded after the slot",
        after.len()
    );
    assert!(
        after.iter().all(|s| s.abs() < 0.001),
        "sound after the slot"
    );
    assert!(
        boundaries(&daemon_log)
            .iter()
            .all(|b| !b.starts_with("relay ")),
        "{:?}",
        boundaries(&daemon_log)
    );
}

#[test]
fn a_stream_that_drops_mid_slot_is_reconnected_and_the_slot_still_ends_on_time() {
    let dir = tempfile::tempdir().unwrap();
    // The box connects about 2 s before the slot and airs the stream from there: the first
    // connection carries 3 s of it, so it hangs up 1 s into the slot; the second answers
    // 2.5 s after it is asked, longer than the relay's cushion. Silence fills the gap.
    let radio = Radio::start(
        tone_mp3(dir.path(), 30),
        vec![
            Answer {
                delay: Duration::ZERO,
                seconds: Some(3.0),
            },
            Answer {
                delay: Duration::from_millis(2500),
                seconds: None,
            },
        ],
    );
    let test_box = TestBox::new();
    let instant = schedule_relay(&test_box, &radio.url, None);
    let (entry, recording, daemon_log) = air(&test_box);
    assert_eq!(entry["outcome"], "aired", "{entry:#?}");
    let connections = radio.connections();
    assert!(connections.len() >= 2, "it reconnected");
    let answered = wall_clock(connections[1]) + chrono::Duration::milliseconds(2500);
    let resumed = boundary_at(&daemon_log, "relay resumed");
    eprintln!(
        "the stream resumed on air {:.3} s after the server answered again",
        (resumed - answered).num_milliseconds() as f64 / 1000.0
    );
    let marks = boundaries(&daemon_log);
    assert!(
        marks
            .iter()
            .any(|m| m.starts_with("relay dropped: ")
                && m.contains("the server closed the connection")),
        "{marks:?}"
    );
    assert!(marks.iter().any(|m| m == "relay resumed"), "{marks:?}");
    assert!(
        daemon_log.contains("WARN") && daemon_log.contains("relay: no stream; trying again"),
        "the drop is logged as a warning"
    );

    let scheduled = recording.index_at(instant);
    let rate = recording.rate;
    let at = |s: f64| scheduled + (s * f64::from(rate)) as i64;
    let level = levels(span(&recording, scheduled, SLOT), rate);
    // 10 ms windows: the gap is where the tone is not.
    let silent: Vec<usize> = (0..level.len()).filter(|&i| level[i] < 0.01).collect();
    let gap = (silent.first(), silent.last());
    eprintln!(
        "silent in the slot: {} ms, from {:?} to {:?} ms; marks {marks:?}",
        silent.len() * 10,
        gap.0.map(|i| i * 10),
        gap.1.map(|i| i * 10)
    );
    assert!(
        silent.len() >= 50,
        "the outage shows as silence in the slot"
    );
    // The stream at the start, again at the end of the slot, and nothing after it.
    for (from, what) in [(0.1, "at the start"), (5.3, "again at the end")] {
        let window = span(&recording, at(from), Duration::from_millis(500));
        let hz = frequency(window, rate);
        assert!((hz - 440.0).abs() < 5.0, "{what}: {hz:.1} Hz");
    }
    let last = last_sound(&recording.left).unwrap() as i64;
    let end_error_ms = recording.ms(last - at(SLOT.as_secs_f64()));
    eprintln!("the slot's last sound {end_error_ms:+.1} ms from its end");
    assert!(
        end_error_ms.abs() <= SLOT.as_millis() as f64 * 0.05,
        "the slot ended {end_error_ms:+.1} ms from its length"
    );
}

#[test]
fn a_stream_that_is_not_there_gives_way_to_the_fallback_and_the_log_says_why() {
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/vov1");
    let test_box = TestBox::new();
    let instant = schedule_relay(&test_box, &url, Some("[\"audio/thong-bao-demo.mp3\"]"));
    let (entry, recording, daemon_log) = air(&test_box);

    assert_eq!(entry["outcome"], "aired", "{entry:#?}");
    let detail = entry["detail"].as_str().unwrap();
    eprintln!("as-run detail: {detail}");
    assert!(
        detail.starts_with(&format!(
            "item relay {url} failed: {url}: cannot connect to "
        )),
        "{detail}"
    );
    assert!(detail.ends_with("; aired the fallback"), "{detail}");
    let marks = boundaries(&daemon_log);
    assert!(
        marks
            .iter()
            .any(|m| m.starts_with("relay failed, airing the fallback: ")),
        "{marks:?}"
    );
    assert!(
        marks.iter().any(|m| m == "item audio/thong-bao-demo.mp3"),
        "{marks:?}"
    );

    // A 6 s slot gives up on the stream after a third of it: the fallback airs from 2 s in.
    let reference = ffmpeg_decode(
        &Path::new(REPO).join("audio/thong-bao-demo.mp3"),
        recording.rate,
    );
    let expected = recording.index_at(instant + chrono::Duration::seconds(2));
    let heard = onset(&recording.left, SOUND).expect("the fallback aired") as i64;
    let lead_in = onset(&reference, SOUND).unwrap() as i64;
    let error_ms = recording.ms(heard - lead_in - expected);
    eprintln!("the fallback started {error_ms:+.1} ms from 2 s into the slot");
    assert!(
        error_ms.abs() <= 20.0,
        "the fallback started {error_ms:+.1} ms from 2 s into the slot"
    );
    let window = &reference[lead_in as usize..lead_in as usize + recording.rate as usize];
    let (_, score) = best_alignment(&recording.left, window, heard, 50);
    assert!(
        score > 0.95,
        "waveform correlation {score:.3} with the file"
    );
    // It aired to its end (3.4 s, inside the slot), and then the programme was over.
    let last = last_sound(&recording.left).unwrap() as i64;
    let aired = seconds(&recording, last - heard);
    let in_file = seconds(&recording, last_sound(&reference).unwrap() as i64 - lead_in);
    assert!(
        (aired - in_file).abs() < 0.05,
        "{aired:.3} s of the fallback's {in_file:.3} s aired"
    );
}
