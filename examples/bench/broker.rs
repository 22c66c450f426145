//! A throw-away Mosquitto on a free loopback port, one per measurement so that retained
//! messages and byte counters start from nothing.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::sys::which;

pub struct Broker {
    _dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

impl Broker {
    pub fn start() -> Result<Broker, String> {
        let mosquitto = which("mosquitto").ok_or("mosquitto not installed")?;
        let dir = tempfile::Builder::new()
            .prefix("loaxa-bench-broker-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        // Started as root, mosquitto drops to its own user, which must write its log here.
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777));
        }
        let mut last_error = String::new();
        // The free port we find may be taken before mosquitto binds it: try a few.
        for _ in 0..5 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .map_err(|e| e.to_string())?
                .port();
            // The queue limits are those of docs/mosquitto/loaxa.conf; its 256 KiB packet
            // limit is left out so the raw comparison can send the bulletin as one message.
            // $SYS every second gives the byte counters.
            let config = format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 max_queued_messages 10000\nmax_inflight_messages 20\nsys_interval 1\n\
                 log_dest file {dir}/mosquitto.log\nlog_type error\nlog_type warning\n",
                dir = dir.path().display()
            );
            let config_path = dir.path().join("mosquitto.conf");
            std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
            let mut child = Command::new(&mosquitto)
                .arg("-c")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("mosquitto: {e}"))?;
            let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last_error = format!(
                        "mosquitto exited ({status}): {}",
                        std::fs::read_to_string(dir.path().join("mosquitto.log"))
                            .unwrap_or_default()
                    );
                    break;
                }
                if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                    return Ok(Broker {
                        _dir: dir,
                        port,
                        child,
                    });
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = format!("port {port} never accepted connections");
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Err(last_error)
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
