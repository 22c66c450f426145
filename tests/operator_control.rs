//! Commune staff steer a running daemon through its control socket, with the real binaries:
//! `loaxa status` shows what is on air, `play-now --priority emergency` cuts in and the
//! programme resumes, `stop` ends the programme on air, `program add` keeps a local programme
//! (and refuses a corrupt file), and a user outside the `loaxa` group is refused.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

fn operator(test_box: &TestBox, args: &[&str]) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    let config = test_box.config();
    all.extend(["--config", config.to_str().unwrap()]);
    run(&all)
}

#[test]
fn an_operator_sees_the_air_cuts_in_an_emergency_stops_a_programme_and_adds_one() {
    // Local emergencies are the owner's choice; without it only the district may sound one.
    let test_box = TestBox::with_config("[local]\nemergency = true\n");
    let (at, _) = local_second_ahead(Duration::from_secs(2));
    let (later, _) = local_second_ahead(Duration::from_secs(14));
    test_box.write_schedule(
        "xa.toml",
        &format!(
            "[[program]]\nid = \"sang\"\ntitle = \"Bản tin sáng\"\nat = [\"{at}\"]\n\
             items = [\"audio/ban-tin-sang.mp3\"]\n\
             [[program]]\nid = \"chieu\"\nat = [\"{later}\"]\nitems = [\"audio/tiem-chung.mp3\"]\n"
        ),
    );
    let daemon = test_box.start_daemon("out.wav");
    test_box.wait_for_log(Duration::from_secs(20), |log| {
        log.iter().any(|e| e["program_id"] == "sang")
    });

    let status = operator(&test_box, &["status"]);
    assert!(status.status.success(), "{}", stderr(&status));
    assert!(
        stdout(&status).contains("on air: sang \"Bản tin sáng\" (normal)"),
        "{}",
        stdout(&status)
    );

    let out = operator(
        &test_box,
        &[
            "play-now",
            "audio/thong-bao-demo.mp3",
            "--priority",
            "emergency",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    std::thread::sleep(Duration::from_millis(1500));
    let status = stdout(&operator(&test_box, &["status"]));
    assert!(status.contains("on air: play-now"), "{status}");
    assert!(
        status.contains("(cut, resumes afterwards: sang"),
        "{status}"
    );

    // The second programme: stopped by the operator once it is on air.
    test_box.wait_for_log(Duration::from_secs(30), |log| {
        log.iter().any(|e| e["program_id"] == "chieu")
    });
    let out = operator(&test_box, &["stop"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let corrupt = format!("{REPO}/tests/fixtures/corrupt.mp3");
    let refused = operator(
        &test_box,
        &["program", "add", &corrupt, "--cron", "0 7 * * *"],
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("corrupt audio data"),
        "{}",
        stderr(&refused)
    );
    let added = operator(
        &test_box,
        &[
            "program",
            "add",
            "audio/tiem-chung.mp3",
            "--cron",
            "0 7 * * *",
            "--id",
            "tiem",
        ],
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let list = stdout(&operator(&test_box, &["program", "list"]));
    assert!(list.starts_with("tiem "), "{list}");
    assert!(
        list.contains("enabled") && list.contains("T07:00:00+07:00"),
        "{list}"
    );

    // The socket is for the loaxa group: another user is refused, by the file's mode and, if
    // that is loosened, by the daemon checking who is asking.
    let socket = test_box.path("state/control.sock");
    let mode = std::fs::metadata(&socket).map(|m| {
        use std::os::unix::fs::PermissionsExt;
        m.permissions().mode() & 0o777
    });
    assert_eq!(mode.ok(), Some(0o660));
    if unsafe { libc::geteuid() } == 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
        let mut dir = test_box.dir.path().to_path_buf();
        while dir.parent().is_some() {
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
            dir.pop();
        }
        let _ = std::fs::set_permissions(test_box.config(), std::fs::Permissions::from_mode(0o644));
        let stranger = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_loaxa"))
            .args(["stop", "--config", test_box.config().to_str().unwrap()])
            .output()
            .expect("setpriv runs");
        assert!(!stranger.status.success());
        assert!(
            stderr(&stranger).contains("permission denied: uid 65534 is not"),
            "{}",
            stderr(&stranger)
        );
    } else {
        eprintln!("not root: the other-user check is left to the socket's file mode");
    }
    assert!(daemon.stop());

    let log = test_box.as_run();
    let outcome = |id: &str| {
        log.iter()
            .find(|e| e["program_id"] == id)
            .map(|e| {
                (
                    e["outcome"].as_str().unwrap().to_owned(),
                    e["detail"].as_str().unwrap().to_owned(),
                )
            })
            .unwrap_or_else(|| panic!("no {id} in {log:#?}"))
    };
    assert_eq!(outcome("play-now").0, "aired");
    assert_eq!(
        outcome("sang").0,
        "aired",
        "resumed after the emergency and finished"
    );
    // It waited for the air (sang resumed after the emergency), then the operator stopped it.
    let (result, detail) = outcome("chieu");
    assert_eq!(result, "interrupted");
    assert!(detail.ends_with("stopped by the operator"), "{detail}");
}
