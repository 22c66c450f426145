//! The sample broker ACL in docs/mosquitto/ does what docs/protocol.md says: a box reads only its
//! own scopes and cannot write another box's status. Run against a real Mosquitto.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

struct Mosquitto(Child);

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn passwd(file: &std::path::Path, user: &str, password: &str) {
    let status = Command::new("mosquitto_passwd")
        .args(["-b"])
        .arg(file)
        .args([user, password])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Subscribes as `user` to `filter` while `publish` runs; returns what arrived.
fn received(port: u16, user: &str, filter: &str, publish: impl FnOnce()) -> String {
    let sub = Command::new("mosquitto_sub")
        .args([
            "-p",
            &port.to_string(),
            "-u",
            user,
            "-P",
            "pw",
            "-t",
            filter,
            "-v",
            "-W",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    publish();
    String::from_utf8_lossy(&sub.wait_with_output().unwrap().stdout).into_owned()
}

fn publish(port: u16, user: &str, topic: &str, message: &str) {
    let _ = Command::new("mosquitto_pub")
        .args([
            "-p",
            &port.to_string(),
            "-u",
            user,
            "-P",
            "pw",
            "-q",
            "1",
            "-t",
            topic,
            "-m",
            message,
        ])
        .status();
}

#[test]
fn the_sample_acl_lets_a_box_read_only_its_scopes_and_write_only_its_own_status() {
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("passwd");
    std::fs::write(&password_file, "").unwrap();
    for user in ["district", "pd-01"] {
        passwd(&password_file, user, "pw");
    }
    let acl = dir.path().join("loaxa.acl");
    std::fs::copy(format!("{REPO}/docs/mosquitto/loaxa.acl"), &acl).unwrap();
    let port = free_port();
    let config = dir.path().join("test.conf");
    std::fs::write(
        &config,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\nacl_file {}\n",
            password_file.display(),
            acl.display()
        ),
    )
    .unwrap();
    // mosquitto drops to its own user when started as root: let it read the files.
    for path in [dir.path(), &password_file, &acl, &config] {
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }
    let _broker = Mosquitto(
        Command::new("mosquitto")
            .arg("-c")
            .arg(&config)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "mosquitto did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let box_sees = received(port, "pd-01", "loaxa/#", || {
        publish(
            port,
            "district",
            "loaxa/commune/khac/schedule",
            "not for pd-01",
        );
        publish(
            port,
            "district",
            "loaxa/commune/phu-dong/schedule",
            "for pd-01",
        );
        publish(
            port,
            "district",
            "loaxa/box/pd-02/schedule",
            "not for pd-01",
        );
        publish(port, "district", "loaxa/all/schedule", "for everyone");
    });
    assert!(
        box_sees.contains("loaxa/commune/phu-dong/schedule for pd-01"),
        "{box_sees}"
    );
    assert!(
        box_sees.contains("loaxa/all/schedule for everyone"),
        "{box_sees}"
    );
    assert!(!box_sees.contains("not for pd-01"), "{box_sees}");

    let district_sees = received(port, "district", "loaxa/#", || {
        publish(port, "pd-01", "loaxa/status/pd-02", "forged");
        publish(port, "pd-01", "loaxa/status/pd-01", "genuine");
        publish(
            port,
            "pd-01",
            "loaxa/commune/phu-dong/schedule",
            "a box posing as the district",
        );
    });
    assert_eq!(district_sees.trim(), "loaxa/status/pd-01 genuine");
}
