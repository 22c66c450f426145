//! What the end-to-end tests share: a throw-away box (config, schedules, state) run as the real
//! `loaxa` binary, and readers for what it wrote (WAV output, as-run log).
#![allow(dead_code)] // each test binary uses its own subset

pub mod broker;
pub mod docs;
pub mod proxy;
pub mod pulse;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// `loaxa`, speaking English unless the box's config says otherwise: most tests check what it
/// says in English; those of the Vietnamese operator set `language = "vi"` in the config.
pub fn loaxa() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_loaxa"));
    command.current_dir(REPO).env("LC_ALL", "en_US.UTF-8");
    command
}

/// The district office's tool, `loaxa-district`: built beside `loaxa` by the workspace.
pub fn loaxa_district() -> Command {
    let path = Path::new(env!("CARGO_BIN_EXE_loaxa")).with_file_name("loaxa-district");
    assert!(
        path.is_file(),
        "{} is missing: `cargo build -p loaxa-district` first (make test does)",
        path.display()
    );
    let mut command = Command::new(path);
    command.current_dir(REPO);
    command
}

/// Runs `loaxa-district ARGS…` to completion.
pub fn run_district<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    loaxa_district()
        .args(args)
        .output()
        .expect("loaxa-district runs")
}

/// Runs `loaxa ARGS…` to completion.
pub fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    loaxa().args(args).output().expect("loaxa runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A box in a temporary directory: media paths resolve against the repository, so schedules can
/// name `audio/…` and `tests/fixtures/…`.
/// Tests air a few seconds from now, whatever the hour: their boxes broadcast all day.
pub const ALL_DAY: &str = "[[window]]\nfrom = \"00:00\"\nto = \"24:00\"\n";

pub struct TestBox {
    pub dir: tempfile::TempDir,
}

impl TestBox {
    pub fn new() -> TestBox {
        TestBox::with_config("")
    }

    /// A box whose config has `extra` appended (TOML; `{dir}` stands for the box's directory).
    pub fn with_config(extra: &str) -> TestBox {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("schedules")).expect("schedules dir");
        let extra = extra.replace("{dir}", &dir.path().display().to_string());
        let config = format!(
            "box_id = \"test-box\"\nstate_dir = \"state\"\nschedules_dir = \"schedules\"\nmedia_dir = \"{REPO}\"\n{extra}\n{ALL_DAY}"
        );
        std::fs::write(dir.path().join("loaxa.toml"), config).expect("config");
        TestBox { dir }
    }

    /// Gives the box its own id (the district tells boxes apart by it).
    pub fn named(self, box_id: &str) -> TestBox {
        let text = std::fs::read_to_string(self.config()).expect("config");
        std::fs::write(
            self.config(),
            text.replace("box_id = \"test-box\"", &format!("box_id = \"{box_id}\"")),
        )
        .expect("config");
        self
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("loaxa.toml")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write_schedule(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join("schedules").join(name), text).expect("schedule");
    }

    /// Starts `loaxa daemon` writing to `wav:<dir>/<wav>`.
    pub fn start_daemon(&self, wav: &str) -> Daemon {
        let output = format!("wav:{}", self.path(wav).display());
        let child = loaxa()
            .args([
                "daemon",
                "--config",
                self.config().to_str().unwrap(),
                "--output",
                &output,
            ])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path(&format!("{wav}.log"))).expect("log file"))
            .spawn()
            .expect("daemon starts");
        Daemon { child }
    }

    /// The as-run log, through `loaxa log --json`.
    pub fn as_run(&self) -> Vec<serde_json::Value> {
        let out = run(&["log", "--json", "--config", self.config().to_str().unwrap()]);
        assert!(out.status.success(), "loaxa log failed: {}", stderr(&out));
        stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }

    /// Events still in the box's outbox (not yet confirmed delivered), read straight from its
    /// SQLite store beside the running daemon.
    pub fn outbox_len(&self) -> usize {
        let db = self.path("state/loaxa.db");
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .expect("store opens");
        conn.query_row("SELECT count(*) FROM outbox", [], |row| {
            row.get::<_, i64>(0)
        })
        .expect("outbox readable") as usize
    }

    /// Polls the as-run log until `done` holds for it, or panics after `timeout`.
    pub fn wait_for_log(
        &self,
        timeout: Duration,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.as_run();
            if done(&log) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "as-run log never got there: {log:#?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

pub struct Daemon {
    pub child: Child,
}

impl Daemon {
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// SIGTERM, then waits; returns whether it exited cleanly.
    pub fn stop(mut self) -> bool {
        self.signal("TERM");
        wait_with_timeout(&mut self.child, Duration::from_secs(10)).is_some_and(|s| s.success())
    }

    /// SIGKILL: the power-cut stand-in.
    pub fn kill_9(mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// A whole second at least `ahead` from now, as local Vietnam time text for `at = [...]`, and
/// the instant it stands for.
pub fn local_second_ahead(ahead: Duration) -> (String, DateTime<Utc>) {
    let t = Utc::now() + chrono::Duration::from_std(ahead).unwrap() + chrono::Duration::seconds(1);
    let t = DateTime::from_timestamp(t.timestamp(), 0).unwrap();
    let local = t.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh);
    (local.format("%Y-%m-%dT%H:%M:%S").to_string(), t)
}

/// A WAV written by the `wav:` output, with the wall-clock instant of its sample 0.
pub struct Recording {
    pub rate: u32,
    /// Left channel (the outputs are stereo with identical channels for mono sources).
    pub left: Vec<f32>,
    pub start_unix_ns: i128,
}

impl Recording {
    pub fn read(path: &Path) -> Recording {
        let mut reader = hound::WavReader::open(path).expect("readable WAV (header finalised)");
        let spec = reader.spec();
        let samples: Vec<i16> = reader
            .samples::<i16>()
            .map(|s| s.expect("sample"))
            .collect();
        let left = samples
            .chunks(usize::from(spec.channels))
            .map(|f| f32::from(f[0]) / 32768.0)
            .collect();
        let json_path = format!("{}.json", path.display());
        let timeline: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(json_path).expect("timeline json"))
                .expect("json");
        assert_eq!(
            timeline["sample_rate"].as_u64(),
            Some(u64::from(spec.sample_rate))
        );
        let start_unix_ns = timeline["start_unix_ns"]
            .as_i64()
            .map(i128::from)
            .expect("start_unix_ns");
        Recording {
            rate: spec.sample_rate,
            left,
            start_unix_ns,
        }
    }

    /// Index of the sample that went out at `instant`.
    pub fn index_at(&self, instant: DateTime<Utc>) -> i64 {
        let ns = i128::from(instant.timestamp_nanos_opt().unwrap()) - self.start_unix_ns;
        (ns * i128::from(self.rate) / 1_000_000_000) as i64
    }

    pub fn ms(&self, samples: i64) -> f64 {
        samples as f64 * 1000.0 / f64::from(self.rate)
    }

    /// How far from `instant` the first sample of a programme went out, in ms, when the
    /// recording holds nothing but that programme, whose own decode is `reference` (at this
    /// rate): its onset minus the reference's. None if either is silent.
    pub fn first_sample_error_ms(&self, instant: DateTime<Utc>, reference: &[f32]) -> Option<f64> {
        let heard = onset(&self.left, 0.02)? as i64;
        let in_file = onset(reference, 0.02)? as i64;
        Some(self.ms(heard - in_file - self.index_at(instant)))
    }
}

/// A mono MP3 of a sine made by ffmpeg: `frequency` Hz for `seconds`, at `peak_db` dBFS peak,
/// `kbps` kb/s.
pub fn ffmpeg_tone(
    dir: &Path,
    name: &str,
    frequency: u32,
    seconds: u32,
    peak_db: i32,
    kbps: u32,
) -> PathBuf {
    let file = dir.join(name);
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("sine=frequency={frequency}:duration={seconds}"))
        // ffmpeg's sine peaks at -18 dBFS.
        .args(["-af", &format!("volume={}dB", peak_db + 18), "-ac", "1"])
        .args(["-b:a", &format!("{kbps}k")])
        .arg(&file)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    file
}

/// An independent decode of `file` by ffmpeg: mono f32 at `rate`.
pub fn ffmpeg_decode(file: &Path, rate: u32) -> Vec<f32> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-f", "f32le", "-ac", "1", "-ar", &rate.to_string(), "-"])
        .output()
        .expect("ffmpeg runs (make test installs it)");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// First index whose magnitude exceeds `threshold`.
pub fn onset(samples: &[f32], threshold: f32) -> Option<usize> {
    samples.iter().position(|s| s.abs() > threshold)
}

/// Normalised correlation of `reference` with `signal` starting at `at` (1.0 = same waveform).
pub fn correlation(signal: &[f32], at: usize, reference: &[f32]) -> f64 {
    let n = reference.len().min(signal.len().saturating_sub(at));
    let (mut xy, mut xx, mut yy) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..n {
        let (x, y) = (f64::from(signal[at + i]), f64::from(reference[i]));
        xy += x * y;
        xx += x * x;
        yy += y * y;
    }
    if xx == 0.0 || yy == 0.0 {
        0.0
    } else {
        xy / (xx.sqrt() * yy.sqrt())
    }
}

/// Where `reference` best matches `signal` within `around ± radius` samples, and how well.
pub fn best_alignment(signal: &[f32], reference: &[f32], around: i64, radius: i64) -> (i64, f64) {
    (around - radius..=around + radius)
        .filter(|&at| at >= 0)
        .map(|at| (at, correlation(signal, at as usize, reference)))
        .fold(
            (around, f64::MIN),
            |best, c| if c.1 > best.1 { c } else { best },
        )
}

/// The district office of a test: a signing key made by `loaxa-district key generate`.
pub struct District {
    pub dir: tempfile::TempDir,
}

impl District {
    pub fn new() -> District {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = run_district(&[
            "key",
            "generate",
            "--out",
            dir.path().join("district").to_str().unwrap(),
        ]);
        assert!(out.status.success(), "key generate: {}", stderr(&out));
        District { dir }
    }

    pub fn key(&self) -> PathBuf {
        self.dir.path().join("district.key")
    }

    /// The id of the district's key, as boxes report the keys they trust.
    pub fn key_id(&self) -> String {
        let text =
            std::fs::read_to_string(self.dir.path().join("district.pub")).expect("district.pub");
        loaxa_core::trust::PublicKey::parse(&text)
            .expect("a public key")
            .key_id()
    }

    /// The public key line boxes list in `trusted_keys`.
    pub fn public_key(&self) -> String {
        let text =
            std::fs::read_to_string(self.dir.path().join("district.pub")).expect("district.pub");
        text.lines().nth(1).expect("key line").to_owned()
    }

    /// A box of `commune` linked to `broker`, trusting this district; `extra` goes in `[link]`.
    pub fn linked_box(
        &self,
        broker: &broker::Broker,
        box_id: &str,
        commune: &str,
        extra: &str,
    ) -> TestBox {
        TestBox::with_config(&format!(
            "[link]\nurl = \"{}\"\ncommune = \"{commune}\"\ntrusted_keys = [\"{}\"]\n{extra}",
            broker.url(),
            self.public_key()
        ))
        .named(box_id)
    }
}

impl broker::Broker {
    /// Waits until each of `box_ids` has said it is online: the district publishes to the
    /// boxes it knows of, and hears them answer.
    pub fn wait_online(&self, box_ids: &[&str]) {
        for box_id in box_ids {
            self.wait_for_status(box_id, Duration::from_secs(20), |s| s["state"] == "online");
        }
    }

    /// Polls the retained status of `box_id` until `done` holds for it, or panics after
    /// `timeout`.
    pub fn wait_for_status(
        &self,
        box_id: &str,
        timeout: Duration,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let status = serde_json::from_slice(&self.retained(&format!("loaxa/status/{box_id}")))
                .unwrap_or(serde_json::Value::Null);
            if done(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the status of {box_id} never got there: {status:#}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl District {
    /// `loaxa-district send play-now BULLETIN --priority emergency --to SCOPE` with this district's key,
    /// and `extra` arguments.
    pub fn send_play_now(
        &self,
        broker: &broker::Broker,
        bulletin: &str,
        scope: &str,
        extra: &[&str],
    ) -> Output {
        let key = self.key();
        let url = broker.url();
        let mut args = vec![
            "send",
            "play-now",
            bulletin,
            "--priority",
            "emergency",
            "--to",
            scope,
            "--key",
            key.to_str().unwrap(),
            "--broker",
            &url,
        ];
        args.extend(extra);
        run_district(&args)
    }

    /// Like [`District::linked_box`], but the box reaches the broker through `link` (a slow,
    /// breakable [`proxy::Proxy`] in front of it), with `top` added to its config's top level.
    pub fn box_behind(
        &self,
        broker: &broker::Broker,
        link: &proxy::Proxy,
        box_id: &str,
        top: &str,
    ) -> TestBox {
        let test_box = self.linked_box(broker, box_id, "phu-dong", "");
        let config = std::fs::read_to_string(test_box.config()).expect("config");
        std::fs::write(
            test_box.config(),
            format!("{top}\n{}", config.replace(&broker.url(), &link.url())),
        )
        .expect("config");
        test_box
    }

    /// Writes a schedule with one programme `id` airing `item` once at local time `at`.
    pub fn one_off(&self, id: &str, at: &str, item: &str) -> PathBuf {
        let file = self.dir.path().join(format!("{id}.toml"));
        std::fs::write(
            &file,
            format!("[[program]]\nid = \"{id}\"\nat = [\"{at}\"]\nitems = [\"{item}\"]\n"),
        )
        .expect("schedule");
        file
    }

    /// Publishes a bulletin for boxes of `scope` that are not listening yet (see
    /// [`publish_bulletin_with`]); panics (failing the test) if the broker does not take it.
    pub fn publish_bulletin_ahead(
        &self,
        broker: &broker::Broker,
        file: &Path,
        scope: &str,
        id: &str,
        title: &str,
    ) -> Output {
        let out = publish_bulletin_with(&self.key(), &broker.url(), file, scope, id, title);
        assert!(out.status.success(), "publish bulletin: {}", stderr(&out));
        out
    }

    /// `loaxa-district publish bulletin FILE --to SCOPE --id ID --title TITLE` with this
    /// district's key, to boxes that are listening; panics (failing the test) if none of them
    /// received it.
    pub fn publish_bulletin(
        &self,
        broker: &broker::Broker,
        file: &Path,
        scope: &str,
        id: &str,
        title: &str,
    ) -> Output {
        let (key, url) = (self.key(), broker.url());
        let out = publish_bulletin_args(&key, &url, file, scope, id, title, &[]);
        assert!(out.status.success(), "publish bulletin: {}", stderr(&out));
        out
    }

    /// `loaxa-district publish schedule FILE --to SCOPE` with this district's key, checking items
    /// against the repository's media (and the windows against those the boxes report); `extra`
    /// is appended.
    pub fn publish_schedule(
        &self,
        broker: &broker::Broker,
        file: &Path,
        scope: &str,
        extra: &[&str],
    ) -> Output {
        self.publish_schedule_to(&broker.url(), file, scope, extra)
    }

    /// [`District::publish_schedule`] to the broker at `url`.
    pub fn publish_schedule_to(
        &self,
        url: &str,
        file: &Path,
        scope: &str,
        extra: &[&str],
    ) -> Output {
        let mut args: Vec<String> = vec![
            "publish".into(),
            "schedule".into(),
            file.display().to_string(),
        ];
        args.extend([
            "--to".into(),
            scope.into(),
            "--key".into(),
            self.key().display().to_string(),
        ]);
        args.extend([
            "--broker".into(),
            url.into(),
            "--media-dir".into(),
            REPO.into(),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        run_district(&args)
    }
}

/// `loaxa-district publish bulletin FILE --to SCOPE --key KEY --broker URL --id ID --title TITLE
/// --force --wait 0`, whatever its outcome: for boxes that may not be there to answer (not started
/// yet, or being broken by the test); for threads too (they own their arguments).
pub fn publish_bulletin_with(
    key: &Path,
    url: &str,
    file: &Path,
    scope: &str,
    id: &str,
    title: &str,
) -> Output {
    let unheard = ["--force", "--wait", "0"];
    publish_bulletin_args(key, url, file, scope, id, title, &unheard)
}

/// `loaxa-district publish bulletin FILE --to SCOPE --key KEY --broker URL --id ID --title TITLE`
/// and `extra`.
fn publish_bulletin_args(
    key: &Path,
    url: &str,
    file: &Path,
    scope: &str,
    id: &str,
    title: &str,
    extra: &[&str],
) -> Output {
    let args = [
        "publish",
        "bulletin",
        file.to_str().unwrap(),
        "--to",
        scope,
        "--key",
        key.to_str().unwrap(),
        "--broker",
        url,
        "--id",
        id,
        "--title",
        title,
    ];
    run_district(&[&args[..], extra].concat())
}

/// Ten hours of digital silence, 8 kHz mono FLAC (about 120 KB, in frames of 32,768 samples), made once and kept beside the
/// build: decoding it takes seconds even on a fast machine.
pub fn ten_hour_flac() -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ten-hours-of-silence.flac");
    if path.exists() {
        return path;
    }
    // Test processes run side by side: each makes its own, and the first rename wins.
    let partial = path.with_extension(format!("{}.flac", std::process::id()));
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi"])
        .args(["-i", "anullsrc=r=8000:cl=mono", "-t", "36000"])
        .args(["-sample_fmt", "s16", "-c:a", "flac", "-frame_size", "32768"])
        .arg(&partial)
        .output()
        .expect("ffmpeg runs (make test installs it)");
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::rename(&partial, &path).expect("rename");
    path
}
