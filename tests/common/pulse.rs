//! A PulseAudio server of the test's own, on a socket in a temporary directory, with a null
//! sink: a real-time "sound card" on machines without one. ALSA's `default` device reaches it
//! when `PULSE_SERVER` is set to [`Pulse::address`]; `parec` records its monitor.
#![allow(dead_code)] // each test binary uses its own subset

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The null sink's name; its monitor is `loaxa_test.monitor`.
pub const SINK: &str = "loaxa_test";

pub struct Pulse {
    server: Option<Child>,
    dir: tempfile::TempDir,
}

impl Pulse {
    pub fn start() -> Pulse {
        let mut pulse = Pulse {
            server: None,
            dir: tempfile::tempdir().unwrap(),
        };
        pulse.start_again();
        pulse
    }

    pub fn address(&self) -> String {
        format!("unix:{}", self.dir.path().join("native").display())
    }

    /// SIGKILL: the sound card is gone, as if unplugged.
    pub fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = std::fs::remove_file(self.dir.path().join("native"));
    }

    /// Starts the server (again) on the same socket, and waits until it listens.
    pub fn start_again(&mut self) {
        let socket = self.dir.path().join("native");
        let server = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
                "--system=no",
            ])
            .arg(format!("--load=module-null-sink sink_name={SINK}"))
            .arg(format!(
                "--load=module-native-protocol-unix auth-anonymous=1 socket={}",
                socket.display()
            ))
            .env("PULSE_RUNTIME_PATH", self.dir.path())
            .env("HOME", self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pulseaudio runs (make test installs it)");
        self.server = Some(server);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "pulseaudio did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `parec` recording the sink's monitor as raw s16le stereo at 44.1 kHz into `path`.
    pub fn record(&self, path: &std::path::Path) -> Child {
        Command::new("parec")
            .args([
                &format!("--device={SINK}.monitor"),
                "--format=s16le",
                "--rate=44100",
                "--channels=2",
                "--raw",
            ])
            .arg(path)
            .env("PULSE_SERVER", self.address())
            .spawn()
            .expect("parec runs")
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Mono f32 of a raw s16le stereo recording.
pub fn left_channel(raw: &[u8]) -> Vec<f32> {
    raw.chunks_exact(4)
        .map(|f| f32::from(i16::from_le_bytes([f[0], f[1]])) / 32768.0)
        .collect()
}
