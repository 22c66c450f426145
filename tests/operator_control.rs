//! Commune staff steer a running daemon through its control socket, with the real binaries:
//! `loaxa status` shows what is on air, `play-now --priority emergency` cuts in and the
//! programme resumes, `stop` ends the programme on air, `program add` keeps a local programme
//! (and refuses a corrupt file), and a user outside the `loaxa` group is refused. A flood of
//! idle connections is refused at the daemon's limit and costs neither `status` nor the air.

mod common;

use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::broker::Broker;
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
        stdout(&status).contains("On air: Bản tin sáng (sang)\n"),
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
    // Called by what it airs, the file the operator named.
    assert!(
        status.contains("On air: audio/thong-bao-demo.mp3 (played now), emergency level\n"),
        "{status}"
    );
    assert!(
        status.contains("(cut, resumes afterwards: Bản tin sáng (sang))"),
        "{status}"
    );

    // The second programme: stopped by the operator once it is on air.
    // As an operator does: stop it once `status` shows it on air.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let status = stdout(&operator(&test_box, &["status"]));
        if status.contains("On air: chieu\n") {
            break;
        }
        assert!(Instant::now() < deadline, "chieu never on air:\n{status}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = operator(&test_box, &["stop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The daemon answers at once and the player fades out at its next block: what is checked
    // at the end must not be a shutdown that overtook the stop.
    test_box.wait_for_log(Duration::from_secs(10), |log| {
        log.iter()
            .any(|e| e["program_id"] == "chieu" && e["outcome"] != "airing")
    });

    let corrupt = format!("{REPO}/tests/fixtures/corrupt.mp3");
    let refused = operator(
        &test_box,
        &["program", "add", &corrupt, "--cron", "0 7 * * *"],
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("the file is broken from"),
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
    let row = list
        .lines()
        .find(|l| l.starts_with("tiem "))
        .unwrap_or_default();
    assert!(
        row.contains("audio/tiem-chung.mp3  07:00 every day  enabled  07:00 "),
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
            .env("LC_ALL", "vi_VN.UTF-8")
            .arg(env!("CARGO_BIN_EXE_loaxa"))
            .args(["stop", "--config", test_box.config().to_str().unwrap()])
            .output()
            .expect("setpriv runs");
        assert!(!stranger.status.success());
        assert!(
            // Said in the stranger's language.
            stderr(&stranger).contains("người dùng 65534 không được điều khiển máy phát thanh"),
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
    let journal = std::fs::read_to_string(test_box.path("out.wav.log")).unwrap_or_default();
    assert_eq!(result, "interrupted", "{journal}");
    assert!(
        detail.ends_with("stopped by the operator"),
        "{detail}\n{journal}"
    );
}

#[test]
fn the_volume_outlives_a_restart_and_says_who_set_it_and_a_district_stop_is_logged_as_the_districts()
 {
    let broker = Broker::start();
    let district = District::new();
    let test_box = district.linked_box(&broker, "pd-01", "phu-dong", "");
    let (at, _) = local_second_ahead(Duration::from_secs(3));
    test_box.write_schedule(
        "xa.toml",
        &format!(
            "[[program]]\nid = \"sang\"\nat = [\"{at}\"]\nitems = [\"audio/ban-tin-sang.mp3\"]\n"
        ),
    );
    let daemon = test_box.start_daemon("out.wav");
    broker.wait_online(&["pd-01"]);
    let volume = |test_box: &TestBox| {
        let out = operator(test_box, &["volume"]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(
        volume(&test_box),
        "The volume is 100%: nobody has changed it.\n"
    );
    let set = operator(&test_box, &["volume", "40"]);
    assert_eq!(stdout(&set), "Volume set to 40%.\n", "{}", stderr(&set));
    assert_eq!(volume(&test_box), "The volume is 40%, set on this box.\n");

    let send = |args: &[&str]| {
        let key = district.key();
        let url = broker.url();
        let mut all = vec!["send"];
        all.extend(args);
        all.extend([
            "--to",
            "box/pd-01",
            "--key",
            key.to_str().unwrap(),
            "--broker",
            &url,
        ]);
        let out = run_district(&all);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    send(&["volume", "30"]);
    assert_eq!(volume(&test_box), "The volume is 30%, set by the office.\n");

    test_box.wait_for_log(Duration::from_secs(20), |log| {
        log.iter().any(|e| e["program_id"] == "sang")
    });
    send(&["stop"]);
    let log = test_box.wait_for_log(Duration::from_secs(10), |log| {
        log.iter()
            .any(|e| e["program_id"] == "sang" && e["outcome"] != "airing")
    });
    let sang = log.iter().find(|e| e["program_id"] == "sang").unwrap();
    assert_eq!(sang["outcome"], "interrupted", "{sang}");
    assert!(
        sang["detail"]
            .as_str()
            .unwrap_or_default()
            .ends_with("stopped by the district"),
        "{sang}"
    );
    assert!(daemon.stop());

    // As after a power cut: the office's level, not full volume.
    let daemon = test_box.start_daemon("again.wav");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !operator(&test_box, &["volume"]).status.success() {
        assert!(Instant::now() < deadline, "the daemon never answered again");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(volume(&test_box), "The volume is 30%, set by the office.\n");
    assert!(daemon.stop());
}

#[test]
fn a_vietnamese_operator_is_answered_in_vietnamese_and_each_mistake_is_explained() {
    let test_box = TestBox::with_config("language = \"vi\"\n");
    // And one that cannot air: its bulletin never reached the box.
    let (soon, _) = local_second_ahead(Duration::from_secs(6));
    test_box.write_schedule(
        "xa.toml",
        &format!(
            "[[program]]\nid = \"chieu\"\ntitle = \"Bản tin chiều\"\ncron = \"30 17 * * *\"\n\
             items = [\"chime\", \"audio/ban-tin-sang.mp3\"]\n\
             [[program]]\nid = \"bao\"\ntitle = \"Tin bão\"\nat = [\"{soon}\"]\n\
             items = [\"bulletin:chua-ve\"]\n"
        ),
    );
    let daemon = test_box.start_daemon("out.wav");
    let socket = test_box.path("state/control.sock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "no control socket");
        std::thread::sleep(Duration::from_millis(100));
    }
    let said = |args: &[&str]| {
        let out = operator(&test_box, args);
        (out.status.success(), stdout(&out), stderr(&out))
    };
    let mut everything = String::new();

    let (ok, status, _) = said(&["status"]);
    assert!(ok, "{status}");
    for line in [
        "Cụm loa test-box\n",
        "  Kết nối với trung tâm: không có (cụm loa chạy riêng, theo lịch trên máy)\n",
        "  Âm lượng: 100 %\n",
        "Đang phát: không có\n",
        "Sắp phát:\n",
        "Sự cố gần đây: không có\n",
    ] {
        assert!(status.contains(line), "{line:?} missing from:\n{status}");
    }
    assert!(
        status.contains("17:30 ")
            && status.contains("  Bản tin chiều (chieu)  [đặt trên máy]  audio/ban-tin-sang.mp3"),
        "{status}"
    );
    everything += &status;

    // An hour that does not exist, a day that has passed, a date that does not exist.
    let (ok, _, err) = said(&["program", "add", "audio/tiem-chung.mp3", "--at", "25:30"]);
    assert!(!ok);
    assert_eq!(
        err,
        "Lỗi: “25:30” không phải giờ. Hãy viết giờ như 17:30, 17h30 hoặc 7h (từ 00:00 đến 23:59).\n"
    );
    let (ok, _, err) = said(&[
        "program",
        "add",
        "audio/tiem-chung.mp3",
        "--at",
        "02/12/2020 7h30",
    ]);
    assert!(!ok);
    assert!(
        err.starts_with("Lỗi: 07:30 thứ Tư 02/12/2020 đã qua (bây giờ là "),
        "{err}"
    );
    let (ok, _, err) = said(&[
        "program",
        "add",
        "audio/tiem-chung.mp3",
        "--at",
        "31/02/2030 07:00",
    ]);
    assert!(!ok);
    assert!(err.contains("“31/02/2030” không phải ngày"), "{err}");
    everything += &err;

    // A time alone is the next such time, said back in full.
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    let now = chrono::Utc::now().with_timezone(&tz);
    let day = if now.format("%H:%M").to_string().as_str() < "23:58" {
        now.date_naive()
    } else {
        now.date_naive().succ_opt().unwrap()
    };
    let (ok, added, err) = said(&["program", "add", "audio/tiem-chung.mp3", "--at", "23h58"]);
    assert!(ok, "{err}");
    assert!(
        added.starts_with("Đã thêm chương trình “tiem-chung” (tiem-chung): sẽ phát lúc 23:58 "),
        "{added}"
    );
    assert!(
        added.ends_with(&format!(" {}.\n", day.format("%d/%m/%Y"))),
        "{added}"
    );
    everything += &added;
    // The same file again would silently replace it: refused, unless asked for.
    let (ok, _, err) = said(&["program", "add", "audio/tiem-chung.mp3", "--at", "23:58"]);
    assert!(!ok);
    assert!(
        err.contains("Đã có chương trình “tiem-chung”. Thêm --replace để thay nó"),
        "{err}"
    );
    let (ok, replaced, err) = said(&[
        "program",
        "add",
        "audio/tiem-chung.mp3",
        "--at",
        "23:58",
        "--replace",
        "--title",
        "Lịch tiêm chủng",
    ]);
    assert!(ok, "{err}");
    assert!(
        replaced.starts_with("Đã thêm chương trình “Lịch tiêm chủng” (tiem-chung)"),
        "{replaced}"
    );
    let (ok, list, _) = said(&["program", "list"]);
    assert!(ok);
    assert!(
        list.lines().any(|l| l.starts_with("tiem-chung")
            && l.contains("Lịch tiêm chủng  audio/tiem-chung.mp3  23:58 ")
            && l.contains("đang bật")),
        "{list}"
    );
    everything += &list;

    let (ok, volume, _) = said(&["volume"]);
    assert!(ok);
    assert_eq!(volume, "Âm lượng hiện tại: 100%, chưa ai đổi.\n");
    let (ok, volume, _) = said(&["volume", "60%"]);
    assert!(ok);
    assert_eq!(volume, "Đã đặt âm lượng: 60%.\n");
    for wrong in ["-5", "150", "nửa"] {
        let (ok, _, err) = said(&["volume", wrong]);
        assert!(!ok, "{wrong}");
        assert_eq!(
            err,
            format!(
                "Lỗi: “{wrong}” không phải mức âm lượng: hãy ghi một số từ 0 đến 100, ví dụ 60 hoặc 60%.\n"
            )
        );
    }

    // One plan: the schedule file's programme and the operator's own, with who made each.
    let (ok, next, err) = said(&["next", "--count", "5"]);
    assert!(ok, "{err}");
    assert!(
        next.contains("Bản tin chiều (chieu)  [đặt trên máy]"),
        "{next}"
    );
    assert!(
        next.contains("Lịch tiêm chủng (tiem-chung)  [đặt trên máy]  audio/tiem-chung.mp3"),
        "{next}"
    );
    everything += &next;
    // From a day as Vietnamese write it: the plan from that day's midnight.
    let day_after = (now + chrono::Duration::days(2)).date_naive();
    let from = day_after.format("%d/%m/%Y").to_string();
    let (ok, next, err) = said(&["next", "--from", &from, "--count", "1"]);
    assert!(ok, "{err}");
    assert!(
        next.starts_with("17:30 ")
            && next.contains(&from)
            && next.contains("Bản tin chiều (chieu)"),
        "{next}"
    );

    // A schedule file's programme is changed in its file, and the operator is told which.
    let (ok, _, err) = said(&["program", "disable", "chieu"]);
    assert!(!ok);
    assert!(
        err.contains("“chieu” là chương trình trong tệp lịch ")
            && err.contains(".toml: muốn đổi, hãy sửa tệp đó"),
        "{err}"
    );

    // Why it failed, in the operator's words, at the box's time.
    test_box.wait_for_log(Duration::from_secs(20), |log| {
        log.iter().any(|e| e["program_id"] == "bao")
    });
    let (ok, status, _) = said(&["status"]);
    assert!(ok);
    let problem = status
        .lines()
        .skip_while(|l| !l.starts_with("Sự cố gần đây:"))
        .nth(1)
        .unwrap_or_default();
    assert!(
        problem.starts_with("  ")
            && problem.ends_with("  Tin bão (bao): lỗi, thiếu: bản tin chua-ve chưa về máy này")
            && problem.contains(&format!(" {}", now.format("%d/%m/%Y"))),
        "{status}"
    );
    everything += &status;
    let (ok, log, err) = said(&["log", "--since", "2026-12"]);
    assert!(ok, "{err}");
    assert!(
        log.contains("thiếu: bản tin chua-ve chưa về máy này"),
        "{log}"
    );
    everything += &log;
    let (ok, _, err) = said(&["log", "--since", "02/12/2026", "--until", "31/02/2026"]);
    assert!(!ok);
    assert!(
        err.contains("“31/02/2026” không phải ngày. Hãy viết ngày như 02/12/2026"),
        "{err}"
    );
    let (ok, today, _) = said(&["today"]);
    assert!(ok);
    everything += &today;
    assert!(daemon.stop());

    // Names, codes and file names aside, nothing is left in English.
    for english in [
        " on air",
        "next",
        "error",
        "volume",
        "programme",
        "added",
        "problems",
        "none",
        "today",
    ] {
        assert!(
            !everything.to_lowercase().contains(english),
            "{english:?} in:\n{everything}"
        );
    }
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
            || stderr(&status).contains("the box is busy answering many requests"),
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
