//! The radio relay against servers: a tiny HTTP server inside the test, pacing an MP3 made by
//! ffmpeg at its real bitrate with ICY metadata woven in (and dropping, stalling or refusing on
//! demand), and, where it is installed, a real Icecast2 fed by ffmpeg.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use loaxa::audio::relay::{RelayError, RelaySource};

const OUT_RATE: u32 = 48_000;
const OUT_CHANNELS: u16 = 2;
const TIMEOUT: Duration = Duration::from_secs(2);
/// 64 kb/s, as the tones are encoded.
const BYTES_PER_SECOND: usize = 8_000;
const ICY_INTERVAL: usize = 8_192;
const TITLE: &str = "VOV1 - Thời sự 'sáng'";

/// ffmpeg's sine source is at 1/8 of full scale: a 440 Hz tone at that level moves by at most
/// 0.125 · 2π · 440 / 48000 ≈ 0.0072 from one 48 kHz sample to the next. Foreign bytes in an
/// MP3 frame, or a frame lost, make steps several times that.
const MAX_STEP: f32 = 0.015;

/// Encodes `seconds` of a 440 Hz mono tone at 64 kb/s with ffmpeg, as `name` (its extension
/// picks the format).
fn tone(dir: &Path, seconds: u32, name: &str) -> Vec<u8> {
    let path = dir.join(name);
    let codec: &[&str] = if name.ends_with(".aac") {
        &["-c:a", "aac", "-f", "adts"]
    } else {
        &[]
    };
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!("sine=frequency=440:duration={seconds}"))
        .args(["-ac", "1", "-b:a", "64k"])
        .args(codec)
        .arg(&path)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg could not make {name}");
    std::fs::read(path).unwrap()
}

/// The audio with a metadata block announcing `TITLE` after every `ICY_INTERVAL` bytes.
fn with_icy_metadata(audio: &[u8]) -> Vec<u8> {
    let mut block = format!("StreamTitle='{TITLE}';StreamUrl='';").into_bytes();
    block.resize(block.len().div_ceil(16) * 16, 0);
    let mut body = Vec::new();
    for chunk in audio.chunks(ICY_INTERVAL) {
        body.extend_from_slice(chunk);
        if chunk.len() == ICY_INTERVAL {
            body.push((block.len() / 16) as u8);
            body.extend_from_slice(&block);
        }
    }
    body
}

/// What the test server does once it has sent what it was to send.
#[derive(Clone, Copy, PartialEq)]
enum Then {
    Close,
    /// Keep the connection open, sending nothing, until the test ends.
    Hang,
}

#[derive(Clone)]
struct Script {
    /// `None`: send no response at all.
    status_line: Option<String>,
    headers: Vec<String>,
    body: Vec<u8>,
    /// Bytes of `body` to send; the rest is never sent.
    send: usize,
    /// `None`: as fast as the socket takes it.
    bytes_per_second: Option<usize>,
    then: Then,
}

impl Script {
    fn stream(content_type: &str, body: Vec<u8>) -> Script {
        Script {
            status_line: Some("HTTP/1.0 200 OK".to_string()),
            headers: vec![format!("Content-Type: {content_type}")],
            send: body.len(),
            body,
            bytes_per_second: None,
            then: Then::Close,
        }
    }

    /// SHOUTcast-style: `ICY 200 OK`, metadata every `ICY_INTERVAL` bytes, paced at 64 kb/s.
    fn paced_icy_mp3(audio: &[u8]) -> Script {
        let body = with_icy_metadata(audio);
        Script {
            status_line: Some("ICY 200 OK".to_string()),
            headers: vec![
                "Content-Type: audio/mpeg".to_string(),
                "icy-name: VOV1".to_string(),
                format!("icy-metaint: {ICY_INTERVAL}"),
            ],
            send: body.len(),
            body,
            bytes_per_second: Some(BYTES_PER_SECOND),
            then: Then::Close,
        }
    }
}

/// A one-thread HTTP server on 127.0.0.1 that plays its script to every connection, one at a
/// time, until dropped.
struct Server {
    url: String,
    requests: mpsc::Receiver<String>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(script: Script) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/vov1", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let (stop, stopped) = mpsc::channel::<()>();
        let (request_sender, requests) = mpsc::channel();
        let thread = thread::spawn(move || {
            loop {
                match listener.accept() {
                    Ok((socket, _)) => {
                        if !serve(socket, &script, &stopped, &request_sender) {
                            return;
                        }
                    }
                    Err(error) if error.kind() == ErrorKind::WouldBlock => {
                        if stopped.recv_timeout(Duration::from_millis(10))
                            != Err(RecvTimeoutError::Timeout)
                        {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        });
        Server {
            url,
            requests,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The next request the server received.
    fn request(&self) -> String {
        self.requests
            .recv_timeout(Duration::from_secs(5))
            .expect("a request")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Plays `script` to one connection; false once the test has ended.
fn serve(
    mut socket: TcpStream,
    script: &Script,
    stopped: &mpsc::Receiver<()>,
    requests: &mpsc::Sender<String>,
) -> bool {
    let running = |wait: Duration| stopped.recv_timeout(wait) == Err(RecvTimeoutError::Timeout);
    let _ = socket.set_nonblocking(false);
    let _ = socket.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut buffer = [0; 1024];
    while !request.windows(4).any(|end| end == b"\r\n\r\n") {
        match socket.read(&mut buffer) {
            Ok(0) | Err(_) => return running(Duration::ZERO),
            Ok(count) => request.extend_from_slice(&buffer[..count]),
        }
    }
    let _ = requests.send(String::from_utf8_lossy(&request).into_owned());
    if let Some(status_line) = &script.status_line {
        let head = format!("{status_line}\r\n{}\r\n\r\n", script.headers.join("\r\n"));
        if socket.write_all(head.as_bytes()).is_err() {
            return running(Duration::ZERO);
        }
        let start = Instant::now();
        let mut sent = 0;
        while sent < script.send {
            let due = match script.bytes_per_second {
                None => script.send,
                Some(rate) => (start.elapsed().as_secs_f64() * rate as f64) as usize,
            };
            let end = due.min(script.send);
            if end > sent {
                if socket.write_all(&script.body[sent..end]).is_err() {
                    return running(Duration::ZERO);
                }
                sent = end;
            }
            if sent < script.send && !running(Duration::from_millis(20)) {
                return false;
            }
        }
    }
    match script.then {
        Then::Close => running(Duration::ZERO),
        Then::Hang => running(Duration::from_secs(30)),
    }
}

/// What a relay aired until it ended.
struct Aired {
    /// The first output channel.
    samples: Vec<f32>,
    error: RelayError,
    /// From opening the relay to its error.
    took: Duration,
}

impl Aired {
    fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(OUT_RATE)
    }
}

/// `samples` without their first and last 0.1 s, where the tone fades in and out.
fn middle(samples: &[f32]) -> &[f32] {
    let tenth = OUT_RATE as usize / 10;
    &samples[tenth..samples.len() - tenth]
}

fn open(url: &str) -> RelaySource {
    RelaySource::open(url, TIMEOUT, OUT_RATE, OUT_CHANNELS, 1.0)
        .unwrap_or_else(|error| panic!("the relay did not start: {error}"))
}

/// Opens a relay on `url` and pulls from it as the player does until it fails.
fn relay(url: &str) -> Aired {
    let start = Instant::now();
    play_out(open(url), start, Vec::new())
}

/// Pulls from `source` until it fails, after `samples` (the first channel of what it gave so
/// far); `start` is when it was opened.
fn play_out(mut source: RelaySource, start: Instant, mut samples: Vec<f32>) -> Aired {
    let mut block = Vec::new();
    let error = loop {
        block.clear();
        match source.fill(&mut block) {
            Ok(true) => samples.extend(block.iter().step_by(usize::from(OUT_CHANNELS))),
            Ok(false) => panic!("a relay ended without an error"),
            Err(error) => break error,
        }
    };
    let took = start.elapsed();
    // What the converter still held comes out after the error, then nothing.
    block.clear();
    while source.fill(&mut block).unwrap() {
        samples.extend(block.drain(..).step_by(usize::from(OUT_CHANNELS)));
    }
    let seconds = samples.len() as f64 / f64::from(OUT_RATE);
    let aired = source.aired().as_secs_f64();
    assert!(
        (seconds - aired).abs() < 0.001,
        "aired() says {aired} s, {seconds} s came out"
    );
    Aired {
        samples,
        error,
        took,
    }
}

/// The tone's frequency from its zero crossings.
fn frequency(samples: &[f32]) -> f64 {
    let crossings = samples
        .windows(2)
        .filter(|pair| (pair[0] < 0.0) != (pair[1] < 0.0))
        .count();
    crossings as f64 / 2.0 / (samples.len() as f64 / f64::from(OUT_RATE))
}

fn largest_step(samples: &[f32]) -> f32 {
    samples
        .windows(2)
        .map(|pair| (pair[1] - pair[0]).abs())
        .fold(0.0, f32::max)
}

/// The RMS level of the quietest 10 ms of `samples`: a dropout shows as near zero.
fn quietest_10_ms(samples: &[f32]) -> f32 {
    samples
        .chunks_exact(OUT_RATE as usize / 100)
        .map(|window| (window.iter().map(|s| s * s).sum::<f32>() / window.len() as f32).sqrt())
        .fold(f32::MAX, f32::min)
}

/// A clean 440 Hz tone at ffmpeg's level (RMS 0.125/√2 ≈ 0.088) from start to end.
fn assert_clean_tone(samples: &[f32]) {
    let middle = middle(samples);
    let hz = frequency(middle);
    assert!((hz - 440.0).abs() < 1.0, "the tone is at {hz} Hz");
    let step = largest_step(samples);
    assert!(step < MAX_STEP, "a click: the signal jumps by {step}");
    let quietest = quietest_10_ms(middle);
    assert!(quietest > 0.08, "a dropout: 10 ms at RMS {quietest}");
    println!("tone: {hz:.2} Hz, largest step {step:.4}, quietest 10 ms at RMS {quietest:.4}");
}

#[test]
fn a_paced_icy_stream_relays_six_seconds_of_a_clean_440_hz_tone_without_its_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let mp3 = tone(dir.path(), 6, "tone.mp3");
    let server = Server::start(Script::paced_icy_mp3(&mp3));
    let start = Instant::now();
    let mut source = open(&server.url);
    let request = server.request();
    assert!(request.starts_with("GET /vov1 HTTP/1.0\r\n"), "{request}");
    assert!(request.contains("\r\nIcy-MetaData: 1\r\n"), "{request}");
    assert!(
        request.contains(&format!(
            "\r\nUser-Agent: loaxa/{}\r\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{request}"
    );
    // Let a metadata block go by before asking for the title.
    let mut samples = Vec::new();
    let mut block = Vec::new();
    while source.aired() < Duration::from_secs(2) {
        block.clear();
        assert!(source.fill(&mut block).unwrap());
        samples.extend(block.iter().step_by(usize::from(OUT_CHANNELS)));
    }
    assert_eq!(source.title().as_deref(), Some(TITLE));
    let aired = play_out(source, start, samples);
    println!(
        "decoded {:.3} s in {:.2} s: {}",
        aired.seconds(),
        aired.took.as_secs_f64(),
        aired.error
    );
    assert!(
        (5.7..=6.3).contains(&aired.seconds()),
        "{} s of a 6 s stream",
        aired.seconds()
    );
    assert!(
        aired.took > Duration::from_millis(5_500),
        "paced, it took {:?}",
        aired.took
    );
    assert!(
        matches!(aired.error, RelayError::Dropped { .. }),
        "{}",
        aired.error
    );
    assert_clean_tone(&aired.samples);
}

#[test]
fn a_server_that_closes_after_two_seconds_gives_a_dropped_error_after_two_seconds_of_audio() {
    let dir = tempfile::tempdir().unwrap();
    let mp3 = tone(dir.path(), 6, "tone.mp3");
    let mut script = Script::paced_icy_mp3(&mp3);
    script.send = 2 * BYTES_PER_SECOND;
    let server = Server::start(script);
    let aired = relay(&server.url);
    println!("{:.2} s: {}", aired.took.as_secs_f64(), aired.error);
    let RelayError::Dropped {
        url,
        aired: on_air,
        reason,
    } = &aired.error
    else {
        panic!("not a drop: {}", aired.error);
    };
    assert_eq!(url, &server.url);
    assert_eq!(reason, "the server closed the connection");
    assert!(
        (1.8..=2.2).contains(&on_air.as_secs_f64()),
        "{on_air:?} on air"
    );
    assert!(
        (1.8..=2.2).contains(&aired.seconds()),
        "{} s decoded",
        aired.seconds()
    );
    assert!(
        aired
            .error
            .to_string()
            .starts_with(&format!("{url}: stream dropped after ")),
        "{}",
        aired.error
    );
    println!("dropped after {:.3} s of audio", on_air.as_secs_f64());
}

#[test]
fn a_server_that_accepts_and_then_says_nothing_gives_a_stalled_error_within_the_timeout() {
    let server = Server::start(Script {
        status_line: None,
        headers: Vec::new(),
        body: Vec::new(),
        send: 0,
        bytes_per_second: None,
        then: Then::Hang,
    });
    let start = Instant::now();
    let error = RelaySource::open(&server.url, TIMEOUT, OUT_RATE, OUT_CHANNELS, 1.0)
        .err()
        .unwrap();
    let took = start.elapsed();
    println!("{:.3} s: {error}", took.as_secs_f64());
    assert!(matches!(error, RelayError::Stalled { .. }), "{error}");
    assert!(
        took >= TIMEOUT && took < TIMEOUT + Duration::from_millis(300),
        "took {took:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "{}: stream stalled: nothing received for 2.0 s (after 0.0 s on air)",
            server.url
        )
    );
}

#[test]
fn a_stream_that_stops_mid_air_gives_a_stalled_error_one_timeout_after_its_last_byte() {
    let dir = tempfile::tempdir().unwrap();
    let mp3 = tone(dir.path(), 6, "tone.mp3");
    let mut script = Script::paced_icy_mp3(&mp3);
    script.send = BYTES_PER_SECOND;
    script.then = Then::Hang;
    let server = Server::start(script);
    let aired = relay(&server.url);
    println!("{:.2} s: {}", aired.took.as_secs_f64(), aired.error);
    let RelayError::Stalled {
        aired: on_air,
        waited,
        ..
    } = aired.error
    else {
        panic!("not a stall: {}", aired.error);
    };
    assert_eq!(waited, TIMEOUT);
    assert!(
        (0.8..=1.1).contains(&on_air.as_secs_f64()),
        "{on_air:?} on air"
    );
    let after_last_byte = aired.took.as_secs_f64() - 1.0;
    assert!(
        (1.9..=2.4).contains(&after_last_byte),
        "stall noticed {after_last_byte} s after the last byte"
    );
}

#[test]
fn a_404_is_refused_with_its_status_line_and_the_url() {
    let server = Server::start(Script {
        status_line: Some("HTTP/1.0 404 Not Found".to_string()),
        ..Script::stream("text/html", b"<h1>no such mount</h1>".to_vec())
    });
    let error = RelaySource::open(&server.url, TIMEOUT, OUT_RATE, OUT_CHANNELS, 1.0)
        .err()
        .unwrap();
    assert!(matches!(error, RelayError::Status { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        format!(
            "{}: the server refused the stream: HTTP/1.0 404 Not Found",
            server.url
        )
    );
}

#[test]
fn a_refused_port_gives_a_connect_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/vov1");
    let error = RelaySource::open(&url, TIMEOUT, OUT_RATE, OUT_CHANNELS, 1.0)
        .err()
        .unwrap();
    let RelayError::Connect { source, .. } = &error else {
        panic!("not a connect error: {error}");
    };
    assert_eq!(source.kind(), ErrorKind::ConnectionRefused);
    assert!(
        error
            .to_string()
            .starts_with(&format!("{url}: cannot connect to 127.0.0.1:{port}: ")),
        "{error}"
    );
}

#[test]
fn an_https_url_is_refused_before_connecting() {
    let error = RelaySource::open(
        "https://vov.example/vov1",
        TIMEOUT,
        OUT_RATE,
        OUT_CHANNELS,
        1.0,
    )
    .err()
    .unwrap();
    assert!(matches!(error, RelayError::Url { .. }), "{error}");
    assert!(
        error
            .to_string()
            .starts_with("https://vov.example/vov1: https is not supported yet")
    );
}

#[test]
fn a_redirect_is_followed_to_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let stream = Server::start(Script::stream(
        "audio/mpeg",
        tone(dir.path(), 1, "tone.mp3"),
    ));
    let redirect = Server::start(Script {
        status_line: Some("HTTP/1.1 302 Found".to_string()),
        headers: vec![format!("Location: {}", stream.url)],
        ..Script::stream("text/html", Vec::new())
    });
    let aired = relay(&redirect.url);
    assert!(
        (0.95..=1.05).contains(&aired.seconds()),
        "{} s",
        aired.seconds()
    );
    assert!(
        aired
            .error
            .to_string()
            .starts_with(&format!("{}: stream dropped", redirect.url))
    );
}

#[test]
fn a_redirect_loop_is_given_up_after_three_redirects() {
    let redirect = Server::start(Script {
        status_line: Some("HTTP/1.0 301 Moved Permanently".to_string()),
        headers: vec!["Location: /vov1".to_string()],
        ..Script::stream("text/html", Vec::new())
    });
    let error = RelaySource::open(&redirect.url, TIMEOUT, OUT_RATE, OUT_CHANNELS, 1.0)
        .err()
        .unwrap();
    assert_eq!(
        error.to_string(),
        format!("{}: unusable response: more than 3 redirects", redirect.url)
    );
}

#[test]
fn streams_joined_mid_frame_relay_the_tone_in_mp3_and_aac() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content_type) in [("tone.mp3", "audio/mpeg"), ("tone.aac", "audio/aacp")] {
        let bytes = tone(dir.path(), 3, name);
        for offset in [0, 1, 150, 333, 1001, 4567] {
            let server = Server::start(Script::stream(content_type, bytes[offset..].to_vec()));
            let aired = relay(&server.url);
            let expected = 3.0 * (1.0 - offset as f64 / bytes.len() as f64);
            println!(
                "{name} from byte {offset}: {:.3} s of {expected:.3} s",
                aired.seconds()
            );
            assert!(
                (aired.seconds() - expected).abs() < 0.1,
                "{name} joined at byte {offset}: {} s",
                aired.seconds()
            );
            assert!(
                matches!(aired.error, RelayError::Dropped { .. }),
                "{}",
                aired.error
            );
            let hz = frequency(middle(&aired.samples));
            assert!((hz - 440.0).abs() < 1.0, "{name} at byte {offset}: {hz} Hz");
        }
    }
}

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const ICECAST: &str = "/usr/bin/icecast2";

#[test]
fn a_real_icecast2_server_fed_by_ffmpeg_is_relayed() {
    if !Path::new(ICECAST).exists() {
        println!("skipped: {ICECAST} is not installed (apt-get install icecast2)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mp3 = dir.path().join("tone.mp3");
    std::fs::write(&mp3, tone(dir.path(), 6, "tone.mp3")).unwrap();
    // Icecast started as root drops to `nobody`, which must be able to write its logs here.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("icecast.xml");
    let changeowner = if unsafe { libc::geteuid() } == 0 {
        "<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
    } else {
        ""
    };
    std::fs::write(
        &config,
        format!(
            "<icecast>
  <limits><sources>1</sources><burst-size>8000</burst-size></limits>
  <authentication>
    <source-password>sourcepass</source-password>
    <admin-user>admin</admin-user><admin-password>adminpass</admin-password>
  </authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <fileserve>0</fileserve>
  <paths>
    <basedir>{dir}</basedir><logdir>{dir}</logdir><pidfile>{dir}/icecast.pid</pidfile>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog>
    <loglevel>3</loglevel></logging>
  <security><chroot>0</chroot>{changeowner}</security>
</icecast>
",
            dir = dir.path().display()
        ),
    )
    .unwrap();
    let _icecast = Killed(
        Command::new(ICECAST)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("icecast2 starts"),
    );
    let ready = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < ready, "icecast2 did not listen on {port}");
        thread::sleep(Duration::from_millis(50));
    }
    let _ffmpeg = Killed(
        Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-re", "-i"])
            .arg(&mp3)
            .args(["-c", "copy", "-content_type", "audio/mpeg", "-f", "mp3"])
            .arg(format!(
                "icecast://source:sourcepass@127.0.0.1:{port}/vov.mp3"
            ))
            .stdout(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .expect("ffmpeg starts"),
    );
    // Until ffmpeg has connected, the mount does not exist: 404.
    let url = format!("http://127.0.0.1:{port}/vov.mp3");
    let mounted = Instant::now() + Duration::from_secs(5);
    let mut source = loop {
        match RelaySource::open(&url, TIMEOUT, OUT_RATE, OUT_CHANNELS, 1.0) {
            Ok(source) => break source,
            Err(RelayError::Status { .. }) if Instant::now() < mounted => {
                thread::sleep(Duration::from_millis(100));
            }
            Err(error) => panic!("{error}"),
        }
    };
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut block = Vec::new();
    while source.aired() < Duration::from_secs(3) {
        block.clear();
        if let Err(error) = source.fill(&mut block) {
            panic!("after {:?}: {error}", source.aired());
        }
        samples.extend(block.iter().step_by(usize::from(OUT_CHANNELS)));
    }
    println!(
        "icecast: 3 s relayed in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    assert_clean_tone(&samples);
}
