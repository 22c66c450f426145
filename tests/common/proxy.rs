//! A slow, breakable network link for tests: a TCP proxy on a free loopback port that forwards
//! to the broker at a limited rate (a 3G link, not loopback's gigabytes per second) and can cut
//! every connection through it at once.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub struct Proxy {
    port: u16,
    open: Arc<Mutex<Vec<TcpStream>>>,
    closed: Arc<AtomicBool>,
}

impl Proxy {
    /// Forwards 127.0.0.1:PORT to `target_port`, each direction at most `bytes_per_second`.
    pub fn start(target_port: u16, bytes_per_second: usize) -> Proxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let open = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        {
            let open = open.clone();
            let closed = closed.clone();
            thread::spawn(move || {
                for client in listener.incoming() {
                    if closed.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, target_port)) else {
                        continue; // broker down: the client sees its connection closed
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let streams = (client.try_clone(), server.try_clone());
                    if let (Ok(c), Ok(s)) = streams {
                        let mut open = open.lock().unwrap();
                        open.push(c);
                        open.push(s);
                    }
                    pump(&client, &server, bytes_per_second);
                    pump(&server, &client, bytes_per_second);
                }
            });
        }
        Proxy { port, open, closed }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Drops every connection through the proxy, as a 3G link does when it goes down.
    pub fn cut(&self) {
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
        self.cut();
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)); // wakes the accept loop
    }
}

/// The most a link may send at once after being idle.
const BURST: Duration = Duration::from_millis(100);

/// Copies `from` → `to` in a thread, sleeping so that the rate stays under `bytes_per_second`.
fn pump(from: &TcpStream, to: &TcpStream, bytes_per_second: usize) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    thread::spawn(move || {
        // `sent` bytes since `origin` are on schedule at `origin + sent / rate`.
        let mut origin = Instant::now();
        let mut sent = 0usize;
        let mut buffer = vec![0u8; 4096];
        let schedule = |origin: Instant, sent: usize| {
            origin + Duration::from_secs_f64(sent as f64 / bytes_per_second as f64)
        };
        loop {
            let n = match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // A link that was idle is no faster afterwards: quiet time earns no credit beyond
            // a short burst (else a transfer after a long wait would cross at loopback speed).
            let now = Instant::now();
            if schedule(origin, sent) + BURST < now {
                origin = now - BURST;
                sent = 0;
            }
            if to.write_all(&buffer[..n]).is_err() {
                break;
            }
            sent += n;
            if let Some(wait) = schedule(origin, sent).checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
        }
        let _ = to.shutdown(Shutdown::Write);
        let _ = from.shutdown(Shutdown::Read);
    });
}
