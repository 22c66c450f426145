//! The box and the district over TLS with logins, as a real deployment runs: the right
//! certificate and password get a schedule aired; a wrong password or an untrusted certificate
//! is refused with a message that says which setting to check, and the box keeps running (and
//! retrying) instead of dying. Real Mosquitto with TLS and a password file, real binaries.

mod common;

use std::time::{Duration, Instant};

use common::broker::Broker;
use common::*;

/// `[link]` settings for a box logging in as `user` with `password`, trusting `ca`.
fn login(user: &str, password: &str, ca: &std::path::Path) -> String {
    format!(
        "username = \"{user}\"\npassword = \"{password}\"\nca_file = \"{}\"\n",
        ca.display()
    )
}

fn wait_for_text(file: &std::path::Path, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = std::fs::read_to_string(file).unwrap_or_default();
        if log.contains(text) {
            return log;
        }
        assert!(Instant::now() < deadline, "never logged {text:?}:\n{log}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `loaxa-district fleet` (logged in with `login`) until `box_id` shows online: the
/// district publishes to the boxes it knows of.
fn wait_online_over_tls(broker: &Broker, box_id: &str, login: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let url = broker.url();
        let fleet = run_district(&[&["fleet", "--broker", &url, "--wait", "0.5"], login].concat());
        let online = stdout(&fleet).lines().any(|line| {
            let mut cells = line.split_whitespace();
            cells.next() == Some(box_id) && cells.next() == Some("online")
        });
        if online {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{box_id} never online: {}{}",
            stdout(&fleet),
            stderr(&fleet)
        );
    }
}

#[test]
fn over_tls_with_logins_the_right_box_airs_and_a_wrong_password_or_certificate_is_refused_clearly()
{
    let broker = Broker::start_tls_with_logins(&[("district", "huyen-pw"), ("pd-01", "box-pw")]);
    let stranger = Broker::start_tls(); // its CA signed nothing our broker uses
    let district = District::new();
    let good = district.linked_box(
        &broker,
        "pd-01",
        "phu-dong",
        &login("pd-01", "box-pw", &broker.ca_file()),
    );
    let wrong_password = district.linked_box(
        &broker,
        "pd-02",
        "phu-dong",
        &login("pd-01", "guessed", &broker.ca_file()),
    );
    let wrong_ca = district.linked_box(
        &broker,
        "pd-03",
        "phu-dong",
        &login("pd-01", "box-pw", &stranger.ca_file()),
    );
    let mut daemons: Vec<Daemon> = [&good, &wrong_password, &wrong_ca]
        .iter()
        .map(|b| b.start_daemon("out.wav"))
        .collect();

    let ca = broker.ca_file().display().to_string();
    let district_login = ["--username", "district", "--ca-file", &ca];
    let (at, _) = local_second_ahead(Duration::from_secs(6));
    let schedule = district.one_off("bao-mat", &at, "audio/thong-bao-demo.mp3");
    let refused = district.publish_schedule(
        &broker,
        &schedule,
        "commune/phu-dong",
        &[&district_login[..], &["--password", "wrong"]].concat(),
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("the broker refused the login: wrong username or password"),
        "{}",
        stderr(&refused)
    );
    let district_login = [&district_login[..], &["--password", "huyen-pw"]].concat();
    wait_online_over_tls(&broker, "pd-01", &district_login);
    let out = district.publish_schedule(&broker, &schedule, "commune/phu-dong", &district_login);
    assert!(out.status.success(), "{}", stderr(&out));

    let log = good.wait_for_log(Duration::from_secs(30), |log| {
        log.iter().any(|e| e["outcome"] != "airing")
    });
    assert_eq!(log[0]["outcome"], "aired", "{log:#?}");

    wait_for_text(
        &wrong_password.path("out.wav.log"),
        "the broker refused the login: wrong username or password",
    );
    wait_for_text(
        &wrong_ca.path("out.wav.log"),
        "the broker's certificate is not trusted or not for this host",
    );
    for (refused_box, daemon) in [&wrong_password, &wrong_ca].iter().zip(&mut daemons[1..]) {
        assert!(daemon.is_running(), "a refused box keeps running");
        assert!(
            refused_box.as_run().is_empty(),
            "and airs nothing it was not sent"
        );
    }
    for daemon in daemons {
        assert!(daemon.stop());
    }
}
