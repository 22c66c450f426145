//! A box whose sound card is missing does not give up: the daemon says so, keeps retrying with
//! growing delays, and still stops cleanly on SIGTERM.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn a_missing_sound_card_is_retried_not_fatal_and_sigterm_still_stops_the_daemon() {
    let test_box = TestBox::with_config("output = \"no-such-card-loaxa-test\"\n");
    let child = loaxa()
        .args(["daemon", "--config", test_box.config().to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stderr(std::fs::File::create(test_box.path("daemon.log")).unwrap())
        .spawn()
        .expect("daemon starts");
    let mut daemon = Daemon { child };
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = std::fs::read_to_string(test_box.path("daemon.log")).unwrap_or_default();
        if log.matches("no audio output; retrying").count() >= 2 || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        log.matches("no audio output; retrying").count() >= 2,
        "the daemon retried:\n{log}"
    );
    assert!(
        log.contains("no-such-card-loaxa-test"),
        "the log names the device:\n{log}"
    );
    assert!(daemon.is_running(), "the daemon is still up");
    assert!(daemon.stop(), "and stops cleanly on SIGTERM");
}
