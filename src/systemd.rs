//! Talking to systemd when it runs the daemon (`Type=notify`, `WatchdogSec=`): "ready" once the
//! schedules are loaded, and a watchdog ping from the scheduler loop, so a daemon whose loop is
//! stuck is restarted instead of leaving the loudspeakers silent. Does nothing when not started
//! by systemd. The protocol is one datagram to `$NOTIFY_SOCKET`; no library needed.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

pub struct Notifier {
    socket: Option<(UnixDatagram, std::os::unix::net::SocketAddr)>,
    /// Half the watchdog interval systemd asked for, if it asked.
    ping_every: Option<Duration>,
    last_ping: Option<Instant>,
}

impl Notifier {
    /// From the environment systemd sets (`NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`).
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let path = path.to_string_lossy().into_owned();
            let address = match path.strip_prefix('@') {
                Some(name) => {
                    use std::os::linux::net::SocketAddrExt;
                    std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).ok()?
                }
                None => std::os::unix::net::SocketAddr::from_pathname(&path).ok()?,
            };
            Some((UnixDatagram::unbound().ok()?, address))
        });
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_none_or(|pid| pid == std::process::id());
        let ping_every = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|usec| usec.parse::<u64>().ok())
            .filter(|usec| *usec > 0 && for_us)
            .map(|usec| Duration::from_micros(usec / 2));
        Notifier {
            socket,
            ping_every,
            last_ping: None,
        }
    }

    /// The longest the scheduler loop may sleep between pings.
    pub fn ping_every(&self) -> Option<Duration> {
        self.ping_every
    }

    fn send(&self, message: &str) {
        if let Some((socket, address)) = &self.socket
            && let Err(e) = socket.send_to_addr(message.as_bytes(), address)
        {
            tracing::warn!(error = %e, "cannot notify systemd");
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    /// Pings the watchdog if half its interval has passed since the last ping.
    pub fn alive(&mut self) {
        let Some(every) = self.ping_every else {
            return;
        };
        if self.last_ping.is_none_or(|last| last.elapsed() >= every) {
            self.send("WATCHDOG=1");
            self.last_ping = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notifier_speaks_the_sd_notify_datagram_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let systemd = UnixDatagram::bind(&path).unwrap();
        let mut notifier = Notifier {
            socket: Some((
                UnixDatagram::unbound().unwrap(),
                std::os::unix::net::SocketAddr::from_pathname(&path).unwrap(),
            )),
            ping_every: Some(Duration::from_secs(15)),
            last_ping: None,
        };
        notifier.ready("3 programmes");
        notifier.alive();
        notifier.alive(); // too soon: no second ping
        notifier.stopping();
        let mut got = Vec::new();
        systemd.set_nonblocking(true).unwrap();
        let mut buffer = [0u8; 256];
        while let Ok(n) = systemd.recv(&mut buffer) {
            got.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
        }
        assert_eq!(
            got,
            ["READY=1\nSTATUS=3 programmes", "WATCHDOG=1", "STOPPING=1"]
        );
    }
}
