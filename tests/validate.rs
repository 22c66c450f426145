//! `loaxa validate`: exit 0 for good schedules; otherwise every problem with file, line and field.

mod common;

use common::*;

fn validate_text(text: &str) -> (bool, String) {
    validate_with(text, &[])
}

fn validate_with(text: &str, flags: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("xa.toml");
    std::fs::write(&file, text).unwrap();
    let config = dir.path().join("loaxa.toml");
    std::fs::write(&config, format!("media_dir = \"{REPO}\"\n")).unwrap();
    let mut args = vec!["validate", "--config", config.to_str().unwrap()];
    args.extend(flags);
    args.push(file.to_str().unwrap());
    let out = run(&args);
    (
        out.status.success(),
        stderr(&out)
            .replace(&format!("{}/", dir.path().display()), "")
            .replace(&format!("{REPO}/"), ""),
    )
}

#[test]
fn a_valid_schedule_passes() {
    let (ok, err) = validate_text(
        "[[program]]\nid = \"morning\"\ncron = \"30 5 * * *\"\nitems = [\"chime\", \"audio/ban-tin-sang.mp3\"]\n",
    );
    assert!(ok, "{err}");
}

#[test]
fn an_invalid_cron_line_names_the_file_line_programme_and_field() {
    let (ok, err) = validate_text(
        "[[program]]\nid = \"morning\"\ncron = \"30 5 * * 8\"\nitems = [\"chime\"]\n",
    );
    assert!(!ok);
    assert!(
        err.contains(
            "xa.toml, line 3, programme “morning”, cron: weekday 8 is out of range: a weekday is \
             0 to 7\n"
        ),
        "{err}"
    );
    // And, for the engineer, as compilers and editors put it.
    let (_, verbose) = validate_with(
        "[[program]]\nid = \"morning\"\ncron = \"30 5 * * 8\"\nitems = [\"chime\"]\n",
        &["--verbose"],
    );
    assert!(
        verbose.contains("\n  xa.toml:3: morning.cron: day-of-week 8 out of range 0–7\n"),
        "{verbose}"
    );
}

#[test]
fn a_corrupt_mp3_an_empty_file_and_a_text_file_named_mp3_are_each_a_clear_error() {
    let (ok, err) = validate_text(
        "[[program]]\nid = \"x\"\ncron = \"0 6 * * *\"\n\
         items = [\"tests/fixtures/corrupt.mp3\",\n  \"tests/fixtures/empty.mp3\",\n  \"tests/fixtures/text.mp3\"]\n",
    );
    assert!(!ok);
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[0].starts_with(
            "xa.toml, line 4, programme “x”, items no. 1: the file cannot be aired: \
             the file is broken from "
        ),
        "{err}"
    );
    assert!(
        lines[1].starts_with(
            "xa.toml, line 5, programme “x”, items no. 2: the file cannot be aired: \
             the file is empty"
        ),
        "{err}"
    );
    assert!(
        lines[2].starts_with(
            "xa.toml, line 6, programme “x”, items no. 3: the file cannot be aired: \
             not an audio file the box can read"
        ),
        "{err}"
    );
    assert!(err.contains("3 problems found"), "{err}");
}

#[test]
fn a_missing_audio_file_is_an_error() {
    let (ok, err) = validate_text(
        "[[program]]\nid = \"x\"\nat = [\"2026-12-01T07:00\"]\nitems = [\"audio/khong-co.mp3\"]\n",
    );
    assert!(!ok);
    assert!(
        err.contains(
            "xa.toml, line 4, programme “x”, items no. 1: there is no audio file \
             audio/khong-co.mp3"
        ),
        "{err}"
    );
}

#[test]
fn a_cron_line_that_never_fires_and_a_one_off_in_the_past_pass_with_warnings() {
    let (ok, err) = validate_text(
        "[[program]]\nid = \"feb31\"\ncron = \"0 9 31 2 *\"\nitems = [\"chime\"]\n\
         [[program]]\nid = \"epoch\"\nat = [\"1970-01-01T07:00\"]\nitems = [\"chime\"]\n",
    );
    assert!(ok, "warnings do not fail validation: {err}");
    assert_eq!(
        err,
        "warning: xa.toml, line 3, programme “feb31”, cron: the cron line “0 9 31 2 *” never \
         comes: no month it names has that day\n\
         warning: xa.toml, line 7, programme “epoch”, at: every time has passed (the last was \
         07:00 Thursday 01/01/1970); it will not air\n"
    );
}

#[test]
fn a_local_emergency_or_a_file_outside_the_media_dir_is_refused_with_its_line() {
    let (ok, err) = validate_text(
        "[[program]]\nid = \"bao-chay\"\ncron = \"0 6 * * *\"\npriority = \"emergency\"\n\
         items = [\"chime\", \"/etc/passwd\"]\n",
    );
    assert!(!ok);
    assert!(
        err.contains(
            "xa.toml, line 4, programme “bao-chay”, priority: only the office may schedule an \
             emergency"
        ) && err.contains(
            "xa.toml, line 5, programme “bao-chay”, items no. 2: “/etc/passwd” is an absolute path"
        ),
        "{err}"
    );
}

#[test]
fn a_misspelt_key_a_text_for_a_number_and_forgotten_quotes_are_each_explained_in_vietnamese() {
    let dir = tempfile::tempdir().unwrap();
    let schedules = dir.path().join("schedules");
    std::fs::create_dir(&schedules).unwrap();
    std::fs::write(
        schedules.join("xa.toml"),
        "[[program]]\nid = \"sang\"\ntittle = \"Bản tin sáng\"\ncron = \"0 7 * * *\"\nitems = [\"chime\"]\n\n\
         [[program]]\nid = \"trua\"\ncron = \"0 11 * * *\"\nvolume = \"to\"\nitems = [\"chime\"]\n\n\
         [[program]]\nid = toi\ncron = \"0 19 * * *\"\nitems = [\"chime\"]\n",
    )
    .unwrap();
    let config = dir.path().join("loaxa.toml");
    std::fs::write(
        &config,
        "language = \"vi\"\nschedules_dir = \"schedules\"\n",
    )
    .unwrap();
    // No files named: the operator means the box's own schedules.
    let out = run(&["validate", "--config", config.to_str().unwrap()]);
    let err = stderr(&out).replace(&format!("{}/", dir.path().display()), "");
    assert!(!out.status.success());
    for expected in [
        "schedules/xa.toml, dòng 3: không có mục “tittle” ở đây (viết sai tên?); các mục dùng \
         được: id, title,",
        "schedules/xa.toml, dòng 10: “volume” phải là số, ở đây lại là chữ trong ngoặc kép: \"to\"",
        "schedules/xa.toml, dòng 14: giá trị chữ phải đặt trong ngoặc kép, như id = \"tin-sang\" \
         (dòng này viết: id = toi)",
        "Có 3 lỗi cần sửa",
    ] {
        assert!(err.contains(expected), "{expected:?} not in:\n{err}");
    }
    for english in ["unknown field", "invalid type", "expected", "line "] {
        assert!(!err.contains(english), "{english:?} in:\n{err}");
    }
}

#[test]
fn a_misspelt_key_in_the_box_config_is_named_in_vietnamese() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("loaxa.toml");
    std::fs::write(&config, "language = \"vi\"\ncatchup = 3\n").unwrap();
    let out = run(&["status", "--config", config.to_str().unwrap()]);
    let err = stderr(&out).replace(&format!("{}/", dir.path().display()), "");
    assert!(!out.status.success());
    assert!(
        err.starts_with(
            "Lỗi: loaxa.toml, dòng 2: không có mục “catchup” ở đây (viết sai tên?); các mục \
             dùng được: box_id,"
        ),
        "{err}"
    );
}

#[test]
fn a_mistyped_command_is_answered_in_vietnamese() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("loaxa.toml");
    std::fs::write(&config, "language = \"vi\"\n").unwrap();
    let config = config.to_str().unwrap();
    let out = run(&["statu", "--config", config]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("Lỗi: không có lệnh “statu”\nCó phải ý bạn là “status”?\n"),
        "{err}"
    );
    let out = run(&["program", "add", "tin.mp3", "--config", config]);
    let err = stderr(&out);
    assert!(
        err.starts_with("Lỗi: còn thiếu: <--at <GIỜ>|--cron <CRON>>"),
        "{err}"
    );
    for english in ["error:", "Usage", "tip", "required", "For more"] {
        assert!(!err.contains(english), "{english:?} in:\n{err}");
    }
}

#[test]
fn a_broken_audio_file_and_a_schedule_not_in_utf8_are_explained_in_vietnamese() {
    let dir = tempfile::tempdir().unwrap();
    let schedules = dir.path().join("schedules");
    std::fs::create_dir(&schedules).unwrap();
    std::fs::write(
        schedules.join("xa.toml"),
        "[[program]]\nid = \"sang\"\ncron = \"0 7 * * *\"\n\
         items = [\"tests/fixtures/corrupt.mp3\", \"tests/fixtures/text.mp3\"]\n",
    )
    .unwrap();
    std::fs::write(schedules.join("cu.toml"), b"title = \"B\xe1n tin\"\n").unwrap();
    let config = dir.path().join("loaxa.toml");
    std::fs::write(
        &config,
        format!("language = \"vi\"\nschedules_dir = \"schedules\"\nmedia_dir = \"{REPO}\"\n"),
    )
    .unwrap();
    let out = run(&["validate", "--config", config.to_str().unwrap()]);
    let err = stderr(&out).replace(&format!("{}/", dir.path().display()), "");
    assert!(!out.status.success());
    for expected in [
        "schedules/cu.toml: không đọc được tệp: không phải văn bản UTF-8",
        "mục items thứ 1: tệp không phát được: tệp bị hỏng từ phút 0:00.0",
        "mục items thứ 2: tệp không phát được: không phải tệp âm thanh máy đọc được",
    ] {
        assert!(err.contains(expected), "{expected:?} not in:\n{err}");
    }
    for english in ["corrupt", "not a recognised", "stream did not contain"] {
        assert!(!err.contains(english), "{english:?} in:\n{err}");
    }
}

#[test]
fn an_operator_whose_daemon_is_not_running_is_told_how_to_start_it_in_vietnamese() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("loaxa.toml");
    std::fs::write(
        &config,
        "language = \"vi\"\ncontrol_socket = \"loaxa.sock\"\n",
    )
    .unwrap();
    let out = run(&["status", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.starts_with("Lỗi: Máy phát thanh (loaxa daemon) đang không chạy")
            && err.contains("sudo systemctl start loaxa"),
        "{err}"
    );
    let out = run(&["status", "--config", "khong-co.toml"]);
    let err = stderr(&out);
    assert!(
        err.contains("khong-co.toml") && !err.contains("No such file"),
        "{err}"
    );
}

#[test]
fn a_setting_out_of_bounds_in_the_box_config_is_named_and_explained_in_vietnamese() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("loaxa.toml");
    let config_arg = config.to_str().unwrap();
    for (setting, expected) in [
        (
            "catch_up_minutes = -3",
            "Lỗi: loaxa.toml, mục “catch_up_minutes”: -3 nằm ngoài khoảng cho phép, từ 0 đến 1440",
        ),
        (
            "timezone = \"Hanoi\"",
            "Lỗi: loaxa.toml, mục “timezone”: không biết múi giờ “Hanoi”",
        ),
        (
            "[[window]]\nfrom = \"5h\"\nto = \"22:00\"",
            "Lỗi: loaxa.toml, mục “[[window]] thứ 1”: from = “5h” không phải giờ trong ngày",
        ),
    ] {
        std::fs::write(&config, format!("language = \"vi\"\n{setting}\n")).unwrap();
        let out = run(&["status", "--config", config_arg]);
        assert!(!out.status.success());
        let err = stderr(&out).replace(&format!("{}/", dir.path().display()), "");
        assert!(err.starts_with(expected), "{setting}: {err}");
    }
}

#[test]
fn a_test_play_to_a_device_that_is_not_there_is_told_in_vietnamese_with_where_to_look() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("loaxa.toml");
    std::fs::write(&config, "language = \"vi\"\n").unwrap();
    let config = config.to_str().unwrap();
    let missing = dir.path().join("khong-co/ra.wav");
    let out = run(&[
        "play",
        "chime",
        "--config",
        config,
        "--output",
        &format!("wav:{}", missing.display()),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("không ghi được tệp WAV") && err.contains("không có tệp hay thư mục này"),
        "{err}"
    );
    assert!(!err.contains("No such file"), "{err}");
}
