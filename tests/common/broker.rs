//! A throw-away Mosquitto broker for tests: one per test, on a free loopback port, with
//! persistence in its own temporary directory so that a stop + restart keeps sessions and queued
//! QoS 1 messages. Include it with `#[path = "common/broker.rs"] mod broker;` (or declare it in
//! `common/mod.rs`).
#![allow(dead_code)] // each test binary uses its own subset

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";
/// How long a (re)started broker gets to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// What mosquitto logs once its listeners are open.
const RUNNING: &str = " running\n";
/// Attempts at finding a port nobody else grabs between our probe and mosquitto's bind.
const START_ATTEMPTS: usize = 8;

pub struct Broker {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    tls: bool,
    /// (user, password) pairs; when set, anonymous clients are refused.
    logins: Vec<(String, String)>,
}

impl Broker {
    /// Starts a broker on a free port of 127.0.0.1 and waits until it accepts connections.
    /// Panics (failing the test) if it cannot.
    pub fn start() -> Broker {
        Broker::start_with(false)
    }

    /// Like [`Broker::start`], but the listener speaks TLS with a certificate for `localhost`
    /// signed by a throw-away CA (see [`Broker::ca_file`]); needs the `openssl` command.
    pub fn start_tls() -> Broker {
        Broker::start_with(true)
    }

    /// A TLS broker that admits only the given users (and no anonymous client).
    pub fn start_tls_with_logins(logins: &[(&str, &str)]) -> Broker {
        Broker::start_with_logins(true, logins)
    }

    fn start_with(tls: bool) -> Broker {
        Broker::start_with_logins(tls, &[])
    }

    fn start_with_logins(tls: bool, logins: &[(&str, &str)]) -> Broker {
        let dir = tempfile::Builder::new()
            .prefix("loaxa-broker-")
            .tempdir()
            .expect("temporary directory for the broker");
        // Mosquitto started as root drops to the `mosquitto` user, which must be able to write
        // its persistence file and log here.
        make_world_writable(dir.path());
        let mut broker = Broker {
            dir,
            port: 0,
            child: None,
            tls,
            logins: logins
                .iter()
                .map(|(user, password)| (user.to_string(), password.to_string()))
                .collect(),
        };
        if tls {
            broker.make_certificates();
        }
        broker.make_password_file();
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            broker.port = free_port();
            match broker.spawn() {
                Ok(()) => return broker,
                Err(error) => last_error = error,
            }
        }
        panic!("mosquitto did not start after {START_ATTEMPTS} attempts: {last_error}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://127.0.0.1:PORT`, or `mqtts://localhost:PORT` for a TLS broker.
    pub fn url(&self) -> String {
        if self.tls {
            format!("mqtts://localhost:{}", self.port)
        } else {
            format!("mqtt://127.0.0.1:{}", self.port)
        }
    }

    /// The CA certificate (PEM) that signed a TLS broker's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn make_certificates(&self) {
        let dir = self.dir.path();
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("run openssl");
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=loaxa test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .expect("write server.ext");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]);
        for file in ["ca.pem", "server.pem", "server.key"] {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(dir.join(file), fs::Permissions::from_mode(0o644));
        }
    }

    fn make_password_file(&self) {
        let file = self.dir.path().join("passwd");
        for (user, password) in &self.logins {
            let status = Command::new("mosquitto_passwd")
                .args(if file.exists() {
                    &["-b"][..]
                } else {
                    &["-c", "-b"]
                })
                .arg(&file)
                .args([user, password])
                .status()
                .expect("run mosquitto_passwd");
            assert!(status.success(), "mosquitto_passwd failed");
        }
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(&file, fs::Permissions::from_mode(0o644));
    }

    /// Publishes `payload` retained at QoS 1 with `mosquitto_pub`, as anyone with write access
    /// to the broker could.
    pub fn publish_retained(&self, topic: &str, payload: &[u8]) {
        use std::io::Write;
        let mut child = Command::new("mosquitto_pub")
            .args([
                "-p",
                &self.port.to_string(),
                "-q",
                "1",
                "-r",
                "-t",
                topic,
                "-s",
            ])
            .stdin(Stdio::piped())
            .spawn()
            .expect("mosquitto_pub runs");
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(payload)
                .expect("mosquitto_pub reads the payload");
        }
        assert!(child.wait().expect("mosquitto_pub ends").success());
    }

    /// The retained message on `topic`, as the broker holds it (empty if none within 5 s).
    pub fn retained(&self, topic: &str) -> Vec<u8> {
        let out = Command::new("mosquitto_sub")
            .args([
                "-p",
                &self.port.to_string(),
                "-t",
                topic,
                "-C",
                "1",
                "-W",
                "5",
            ])
            .output()
            .expect("mosquitto_sub runs");
        let mut bytes = out.stdout;
        bytes.pop(); // mosquitto_sub's newline
        bytes
    }

    /// The messages on `topic` within `wait` seconds (at most `count`), through `mosquitto_sub`
    /// as the district: a persistent session, so what is published while it is away queues.
    pub fn district_sub(&self, topic: &str, count: usize, wait: u32) -> Vec<String> {
        let out = Command::new("mosquitto_sub")
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "-i",
                "district-test",
                "-q",
                "1",
            ])
            .args([
                "-t",
                topic,
                "-C",
                &count.to_string(),
                "-W",
                &wait.to_string(),
            ])
            .output()
            .expect("mosquitto_sub runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The broker's log, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// SIGKILL: the broker dies without saving its persistence file.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM: the broker saves sessions and queued messages, then exits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        thread::sleep(Duration::from_millis(20))
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
    }

    /// Starts the broker again on the same port with the same persistence directory (stops it
    /// first with SIGTERM if it is running). Retries for a while if the port is briefly busy.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(error) if Instant::now() >= deadline => {
                    panic!("mosquitto did not restart on port {}: {error}", self.port)
                }
                Err(_) => thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("mosquitto.conf")
    }

    fn write_config(&self) {
        let dir = self.dir.path().display();
        let config = format!(
            "listener {port} 127.0.0.1\n\
             allow_anonymous {anonymous}\n\
             persistence true\n\
             persistence_location {dir}/\n\
             persistence_file mosquitto.db\n\
             autosave_interval 1800\n\
             max_queued_messages 10000\n\
             max_inflight_messages 20\n\
             log_dest file {dir}/mosquitto.log\n\
             log_type all\n\
             connection_messages true\n",
            port = self.port,
            anonymous = self.logins.is_empty(),
        );
        let logins = if self.logins.is_empty() {
            String::new()
        } else {
            format!("password_file {dir}/passwd\n")
        };
        let tls = if self.tls {
            format!("cafile {dir}/ca.pem\ncertfile {dir}/server.pem\nkeyfile {dir}/server.key\n")
        } else {
            String::new()
        };
        fs::write(self.config_path(), config + &tls + &logins).expect("write mosquitto.conf");
    }

    /// Spawns mosquitto on `self.port` and waits until it accepts connections; on failure
    /// (typically: the port was taken), the process is reaped and an error returned.
    fn spawn(&mut self) -> Result<(), String> {
        self.write_config();
        let runs_before = self.log().matches(RUNNING).count();
        let mut child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(self.config_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {MOSQUITTO}: {e}"))?;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("mosquitto exited with {status}:\n{}", self.log()));
            }
            // Our mosquitto logs "running" only once its listener is bound, so a connection
            // accepted by someone else on the same port is not mistaken for it.
            let bound = self.log().matches(RUNNING).count() > runs_before;
            if bound
                && TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
                && let Ok(None) = child.try_wait()
            {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("port {} never accepted connections", self.port));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

fn make_world_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o777));
}
