//! Commune staff steer a running daemon through its control socket, with the real binaries:
//! `loaxa status` shows what is on air, `play-now --priority emergency` cuts in and the
//! programme resumes, `stop` ends the programme on air, `program add` keeps a local programme
//! (and refuses a corrupt file), and a user outside the `loaxa` group is refused. A flood of
//! idle connections is refused at the daemon's limit and costs neither `status` nor the air.

mod common;

use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// More connections than the daemon's whole descriptor allowance, all silent.
const IDLE_CONNECTIONS: usize = 1_100;

#[test]
fn a_thousand_idle_control_connections_do_not_silence_the_box() {
    raise_own_open_files_limit(IDLE_CONNECTIONS as u64 + 200);
    let test_box = TestBox::new();
    let (at, due) = local_second_ahead(Duration::from_secs(8));
    test_box.write_schedule(
        "xa.toml",
        &format!(
            "[[program]]\nid = \"sang\"\nat = [\"{at}\"]\nitems = [\"audio/ban-tin-sang.mp3\"]\n"
        ),
    );
    // Soft 256, hard 1,024: the daemon must raise the first to the second, and 1,100
    // connections would exhaust even that if it took them all.
    let _daemon = start_daemon_with_open_files(&test_box, 256, 1_024);
    let ready = Instant::now() + Duration::from_secs(20);
    while !operator(&test_box, &["status"]).status.success() {
        assert!(Instant::now() < ready, "the daemon never answered");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The flood lands 3 s before the programme, so the daemon still holds its share of it while
    // it prepares (2 s ahead) and airs the programme.
    let flood_at = due - chrono::Duration::seconds(3);
    if let Ok(wait) = (flood_at - chrono::Utc::now()).to_std() {
        std::thread::sleep(wait);
    }
    let socket = test_box.path("state/control.sock");
    let idle: Vec<UnixStream> = (0..IDLE_CONNECTIONS)
        .map(|i| UnixStream::connect(&socket).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();

    // While the daemon is at its limit, `status` is told so at once; or answered, if the idle
    // connections it held have already been dropped.
    let asked = Instant::now();
    let status = operator(&test_box, &["status"]);
    assert!(asked.elapsed() < Duration::from_secs(2), "status waited");
    assert!(
        status.status.success()
            || stderr(&status).contains(
                "the daemon is busy: 64 control connections are open already, the most it serves at once"
            ),
        "{}",
        stderr(&status)
    );
    // The silent connections are dropped after their 5 s, and `status` answers again, while the
    // test still holds all of its ends open.
    let answered = Instant::now() + Duration::from_secs(15);
    while !operator(&test_box, &["status"]).status.success() {
        assert!(Instant::now() < answered, "status never answered again");
        std::thread::sleep(Duration::from_millis(200));
    }

    let log = test_box.wait_for_log(Duration::from_secs(30), |log| {
        log.iter()
            .any(|e| e["program_id"] == "sang" && e["outcome"] != "airing")
    });
    let sang = log.iter().find(|e| e["program_id"] == "sang").unwrap();
    assert_eq!(sang["outcome"], "aired", "{sang:#}");
    drop(idle);

    let daemon_log = std::fs::read_to_string(test_box.path("out.wav.log")).unwrap();
    assert!(
        daemon_log.contains("open_files_limit=1024 open_files_limit_was=256"),
        "{daemon_log}"
    );
    // Over a thousand refusals, within one 10 s interval: one line.
    let refusal_lines = daemon_log
        .lines()
        .filter(|l| l.contains("control connections refused: too many open at once"))
        .count();
    assert_eq!(refusal_lines, 1, "{daemon_log}");
}

/// The test holds every connection's end itself: its own soft limit goes up to the hard one.
fn raise_own_open_files_limit(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    assert!(
        limit.rlim_max >= needed,
        "this test needs {needed} open files; the hard limit is {}",
        limit.rlim_max
    );
    limit.rlim_cur = limit.rlim_max;
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
}

/// `loaxa daemon` writing to `wav:<dir>/out.wav`, started with the given open-files limits.
fn start_daemon_with_open_files(test_box: &TestBox, soft: u64, hard: u64) -> Daemon {
    use std::os::unix::process::CommandExt;
    let output = format!("wav:{}", test_box.path("out.wav").display());
    let mut command = loaxa();
    command
        .args(["daemon", "--config", test_box.config().to_str().unwrap()])
        .args(["--output", &output])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(test_box.path("out.wav.log")).unwrap());
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: the closure only calls setrlimit, which is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    Daemon {
        child: command.spawn().expect("daemon starts"),
    }
}

#[test]
fn play_now_of_a_file_with_quotes_in_its_name_airs() {
    // The file is made in the box's own directory, outside its media directory.
    let test_box = TestBox::with_config("[local]\nfiles_anywhere = true\n");
    let file = ffmpeg_tone(test_box.dir.path(), "ban \"khẩn\".mp3", 440, 1, -6, 128);
    let daemon = test_box.start_daemon("out.wav");
    let socket = test_box.path("state/control.sock");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(std::time::Instant::now() < deadline, "no control socket");
        std::thread::sleep(Duration::from_millis(100));
    }

    let out = operator(&test_box, &["play-now", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = test_box.wait_for_log(Duration::from_secs(20), |log| {
        log.iter()
            .any(|e| e["program_id"] == "play-now" && e["outcome"] != "airing")
    });
    assert!(daemon.stop());
    let entry = log.iter().find(|e| e["program_id"] == "play-now").unwrap();
    assert_eq!(entry["outcome"], "aired", "{entry:#}");
    assert_eq!(entry["detail"], "", "{entry:#}");
    assert!(
        entry["title"]
            .as_str()
            .unwrap()
            .contains("ban \"khẩn\".mp3"),
        "{entry:#}"
    );
}
