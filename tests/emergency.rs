//! An emergency cuts into a normal programme, end to end: a box airs a steady 440 Hz programme
//! into a `wav:` output; the district sends `loaxa-district send play-now` for an emergency bulletin over
//! a real Mosquitto; the WAV shows the programme fading out, the emergency attention tone, the
//! bulletin (a 1 kHz tone), then the programme resuming, each boundary within 50 ms of the
//! instant the daemon logs for it.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::broker::Broker;
use common::*;

/// The instant the daemon logged for `what` of `program` (a `boundary` line).
fn boundary(log: &str, program: &str, what: &str) -> DateTime<Utc> {
    log.lines()
        .filter(|l| l.contains("boundary") && l.contains(&format!("program={program} ")))
        .find(|l| l.contains(&format!("what={what}")) || l.contains(&format!("what=\"{what}")))
        .and_then(|l| l.split("at=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|at| at.parse().ok())
        .unwrap_or_else(|| panic!("no boundary {what:?} of {program} in the log:\n{log}"))
}

/// Root mean square over `len` samples from `at`.
fn rms(samples: &[f32], at: i64, len: usize) -> f64 {
    let window = &samples[at.max(0) as usize..(at.max(0) as usize + len).min(samples.len())];
    (window.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / window.len().max(1) as f64).sqrt()
}

/// Frequency of the tone around `at`, from zero crossings over `len` samples.
fn frequency(samples: &[f32], at: i64, len: usize, rate: u32) -> f64 {
    let window = &samples[at.max(0) as usize..(at.max(0) as usize + len).min(samples.len())];
    let crossings = window
        .windows(2)
        .filter(|pair| (pair[0] < 0.0) != (pair[1] < 0.0))
        .count();
    crossings as f64 / 2.0 / (window.len() as f64 / f64::from(rate))
}

#[test]
fn an_emergency_play_now_fades_out_the_programme_airs_chime_and_bulletin_then_resumes_it() {
    let broker = Broker::start();
    let district = District::new();
    // The programme is the box's own, made beside it: a district schedule may only name files
    // under the media directory.
    let test_box = district.linked_box(
        &broker,
        "pd-01",
        "phu-dong",
        "[local]\nfiles_anywhere = true\n",
    );
    let programme = ffmpeg_tone(test_box.dir.path(), "programme.mp3", 440, 14, -6, 128);
    let warning = ffmpeg_tone(district.dir.path(), "bao-lu.mp3", 1000, 3, -6, 128);
    let (at, instant) = local_second_ahead(Duration::from_secs(5));
    test_box.write_schedule(
        "xa.toml",
        &format!(
            "[[program]]\nid = \"tin-sang\"\nat = [\"{at}\"]\nitems = [{:?}]\n",
            programme.display().to_string()
        ),
    );
    let daemon = test_box.start_daemon("out.wav");
    broker.wait_online(&["pd-01"]);

    district.publish_bulletin(
        &broker,
        &warning,
        "commune/phu-dong",
        "bao-lu",
        "Cảnh báo bão",
    );

    // Four seconds into the programme, the district sends the emergency.
    let send_at = instant + chrono::Duration::seconds(4);
    std::thread::sleep((send_at - Utc::now()).to_std().unwrap_or_default());
    let sent = Utc::now();
    let out = run_district(&[
        "send",
        "play-now",
        "bao-lu",
        "--priority",
        "emergency",
        "--to",
        "commune/phu-dong",
        "--key",
        district.key().to_str().unwrap(),
        "--broker",
        &broker.url(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    let log = test_box.wait_for_log(Duration::from_secs(40), |log| {
        log.len() == 2 && log.iter().all(|e| e["outcome"] != "airing")
    });
    assert!(daemon.stop());
    let outcome = |id: &str| {
        log.iter()
            .find(|e| e["program_id"] == id)
            .map(|e| e["outcome"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(
        outcome("play-now-bao-lu").as_deref(),
        Some("aired"),
        "{log:#?}"
    );
    assert_eq!(outcome("tin-sang").as_deref(), Some("aired"), "{log:#?}");

    let daemon_log = std::fs::read_to_string(test_box.path("out.wav.log")).unwrap();
    let fade = boundary(&daemon_log, "tin-sang", "fading out for play-now-bao-lu");
    let chime = boundary(&daemon_log, "play-now-bao-lu", "item chime");
    let bulletin = boundary(&daemon_log, "play-now-bao-lu", "item bulletin:bao-lu");
    let resumed = boundary(&daemon_log, "tin-sang", "resumed");

    let wav = Recording::read(&test_box.path("out.wav"));
    let rate = wav.rate;
    let ms = |n: f64| (n * f64::from(rate) / 1000.0) as i64;
    let window = ms(20.0) as usize;
    let steady = rms(
        &wav.left,
        wav.index_at(fade) - ms(500.0),
        ms(400.0) as usize,
    );
    assert!(
        steady > 0.1,
        "the programme was on air before the cut (rms {steady:.3})"
    );

    // The fade: full level up to the logged instant, falling after it, silent within 300 ms.
    let fade_at = wav.index_at(fade);
    let level = |at: i64| rms(&wav.left, at, window) / steady;
    let fade_start = (fade_at - ms(200.0)..fade_at + ms(200.0))
        .step_by(ms(1.0) as usize)
        .find(|&at| level(at) < 0.9)
        .expect("the level falls around the logged fade");
    // The chime: where the attention tone (880 Hz) takes over from the faded programme.
    let chime_at = wav.index_at(chime);
    let chime_onset = (fade_at..fade_at + ms(600.0))
        .step_by(ms(1.0) as usize)
        .find(|&at| frequency(&wav.left, at, window, rate) > 600.0)
        .expect("the attention tone aired after the fade");
    let faded = level(chime_onset - window as i64 - ms(5.0));
    assert!(
        faded < 0.2,
        "the programme had faded out before the chime (level {faded:.2})"
    );
    // The bulletin: where 1 kHz takes over from the attention tone's last note (659 Hz).
    let bulletin_at = wav.index_at(bulletin);
    let switch = (bulletin_at - ms(100.0)..bulletin_at + ms(100.0))
        .step_by(ms(1.0) as usize)
        .find(|&at| frequency(&wav.left, at, window, rate) > 900.0)
        .expect("the 1 kHz bulletin aired");
    // The resume: where 440 Hz comes back after the bulletin.
    let resumed_at = wav.index_at(resumed);
    let back = (resumed_at - ms(100.0)..resumed_at + ms(100.0))
        .step_by(ms(1.0) as usize)
        .find(|&at| {
            let f = frequency(&wav.left, at, window, rate);
            (400.0..480.0).contains(&f) && rms(&wav.left, at, window) > 0.05
        })
        .expect("the programme resumed");

    let report = [
        ("fade starts", fade_start, fade_at),
        ("chime starts", chime_onset, chime_at),
        ("bulletin starts", switch, bulletin_at),
        ("programme resumes", back, resumed_at),
    ];
    for (what, heard, logged) in report {
        let error = wav.ms(heard - logged);
        eprintln!("{what}: heard {error:+.1} ms from the logged instant");
        assert!(
            error.abs() <= 50.0,
            "{what}: heard {error:+.1} ms from the logged instant"
        );
    }
    let fade_ms = wav.ms(chime_onset - fade_start);
    let latency = (chime - sent).num_milliseconds();
    eprintln!("faded out in {fade_ms:.0} ms; chime {latency} ms after `loaxa-district send` began");
    assert!(fade_ms <= 300.0, "the fade took {fade_ms:.0} ms");
    assert!(
        latency <= 2000,
        "the emergency reached the loudspeaker {latency} ms after publish"
    );
}

#[test]
fn an_emergency_for_a_bulletin_no_box_holds_sounds_nothing_and_is_reported() {
    let broker = Broker::start();
    let district = District::new();
    let test_box = district.linked_box(&broker, "pd-01", "phu-dong", "");
    let daemon = test_box.start_daemon("out.wav");
    broker.wait_for_status("pd-01", Duration::from_secs(20), |s| s["state"] == "online");

    // Forced past the district's own check: the box is the last line of defence.
    let out = district.send_play_now(&broker, "bao-lu", "commune/phu-dong", &["--force"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(stderr(&out).contains("no box acted"), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains(": 0 acted, 1 refused, 0 did not answer"),
        "{said}"
    );
    assert!(
        said.contains(
            "pd-01 refused: command play-now bao-lu (emergency): content missing: bulletin bao-lu \
             is not held"
        ),
        "{said}"
    );

    let log = test_box.wait_for_log(Duration::from_secs(10), |log| {
        log.iter().any(|e| e["program_id"] == "play-now-bao-lu")
    });
    // Time for anything that would sound to reach the WAV file.
    std::thread::sleep(Duration::from_secs(3));
    assert!(daemon.stop());
    let entry = &log[0];
    assert_eq!(entry["outcome"], "failed", "{log:#?}");
    assert!(
        entry["detail"]
            .as_str()
            .unwrap()
            .starts_with("content missing: bulletin bao-lu is not held"),
        "{log:#?}"
    );
    let daemon_log = std::fs::read_to_string(test_box.path("out.wav.log")).unwrap();
    let sounded = daemon_log
        .lines()
        .filter(|l| l.contains("play-now-bao-lu"))
        .find(|l| l.contains(": aired ") || l.contains(": on air ") || l.contains("boundary"));
    assert_eq!(sounded, None, "{daemon_log}");
    let wav = test_box.path("out.wav");
    if wav.exists() {
        let loudest = Recording::read(&wav)
            .left
            .iter()
            .fold(0f32, |m, s| m.max(s.abs()));
        assert!(loudest < 1e-4, "the box sounded (peak {loudest})");
    }
}
