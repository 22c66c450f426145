//! The examples in docs/ are real: each is parsed here, so the documentation cannot rot.

#[path = "common/docs.rs"]
mod docs;

use std::path::{Path, PathBuf};

use loaxa::audio::paced::WavTimeline;
use loaxa::config::Config;
use loaxa_core::schedule::{self, LoadOptions};

use docs::blocks;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn every_schedule_example_in_the_docs_loads_without_errors() {
    let examples = blocks("docs/schedule-format.md", "toml");
    assert!(!examples.is_empty());
    let options = LoadOptions {
        default_timezone: schedule::DEFAULT_TIMEZONE,
        media_dir: PathBuf::from(REPO),
        check_audio: Some(loaxa_media::decode::check_file),
        // The examples show the format at any hour; windows are the box's business.
        windows: None,
        // Examples show every level, emergencies too: as the district may schedule them.
        author: schedule::Author::District,
    };
    for (line, text) in examples {
        let loaded = schedule::parse(
            &text,
            Path::new(&format!("schedule-format.md:{line}")),
            &options,
        );
        assert!(
            loaded.errors.is_empty(),
            "{:?}",
            loaded
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
        assert!(!loaded.programs.is_empty());
    }
}

#[test]
fn every_configuration_example_in_the_docs_parses() {
    // The broker walk-through shows a box's configuration too.
    for (doc, at_least) in [("docs/configuration.md", 2), ("docs/broker.md", 1)] {
        let examples = blocks(doc, "toml");
        assert!(examples.len() >= at_least, "{doc}");
        for (line, text) in examples {
            if let Err(e) = Config::parse(&text, Path::new("/etc/loaxa/loaxa.toml")) {
                panic!("{doc}:{line}: {e}");
            }
        }
    }
}

#[test]
fn the_wav_timeline_example_is_what_the_wav_output_writes() {
    let examples = blocks("docs/configuration.md", "json");
    assert_eq!(examples.len(), 1);
    let timeline: WavTimeline = serde_json::from_str(&examples[0].1).unwrap();
    let start = chrono::DateTime::parse_from_rfc3339(&timeline.start).unwrap();
    assert_eq!(start.timestamp_nanos_opt(), Some(timeline.start_unix_ns));
}

#[test]
fn the_bundled_schedules_are_valid() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loaxa"))
        .current_dir(REPO)
        .args(["validate", "schedules/"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_protocol_example_in_the_docs_parses_as_its_message_type() {
    use loaxa_core::protocol::{Document, Envelope, Event, EventBody, Status};
    let doc = "docs/protocol.md";
    let envelopes = blocks(doc, "json envelope");
    assert_eq!(envelopes.len(), 1);
    for (line, text) in envelopes {
        let envelope = Envelope::from_bytes(text.as_bytes())
            .unwrap_or_else(|e| panic!("protocol.md:{line}: {e}"));
        let document =
            Document::parse(&envelope.signed).unwrap_or_else(|e| panic!("protocol.md:{line}: {e}"));
        assert!(matches!(document, Document::Schedule(_)));
    }
    for (kind, expected) in [
        ("json schedule", 1),
        ("json manifest", 1),
        ("json command", 1),
    ] {
        let examples = blocks(doc, kind);
        assert_eq!(examples.len(), expected, "{kind}");
        for (line, text) in examples {
            Document::parse(&text).unwrap_or_else(|e| panic!("protocol.md:{line}: {e}"));
        }
    }
    for (line, text) in blocks(doc, "json status") {
        let status = serde_json::from_str::<Status>(&text)
            .unwrap_or_else(|e| panic!("protocol.md:{line}: {e}"));
        assert!(
            loaxa_core::protocol::WindowSpan::resolve_all(&status.windows).is_some(),
            "protocol.md:{line}: the windows read as windows"
        );
        let timezone = status.timezone.unwrap_or_default();
        assert!(
            timezone.parse::<chrono_tz::Tz>().is_ok(),
            "protocol.md:{line}: {timezone} is a time zone"
        );
        assert!(!status.trusted_keys.is_empty() && status.volume.is_some());
    }
    let events = blocks(doc, "json event");
    assert_eq!(events.len(), 7);
    let (mut answers, mut revisions, mut as_runs, mut told_origin) = (0, 0, 0, 0);
    for (line, text) in events {
        let event = serde_json::from_str::<Event>(&text)
            .unwrap_or_else(|e| panic!("protocol.md:{line}: {e}"));
        match event.body {
            EventBody::Received {
                command, revision, ..
            }
            | EventBody::Rejected {
                command, revision, ..
            } => {
                answers += usize::from(command.is_some());
                revisions += usize::from(revision.is_some());
            }
            EventBody::AsRun { origin, .. } => {
                as_runs += 1;
                told_origin += usize::from(origin.is_some());
            }
        }
    }
    assert_eq!(answers, 2, "the command answers name their command");
    assert_eq!(
        revisions, 2,
        "the schedule's receipt and rejection name the revision"
    );
    assert_eq!(
        (as_runs, told_origin),
        (2, 1),
        "an as-run entry with its origin, and an older box's without"
    );
}

#[test]
fn every_archive_example_in_the_docs_is_archived_with_what_it_names() {
    use loaxa_district::archive::wire::{Message, parse};
    let examples = blocks("docs/archive.md", "json archived-event");
    assert_eq!(examples.len(), 1);
    for (line, text) in examples {
        let box_id = serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_or_else(|e| panic!("archive.md:{line}: {e}"))["box_id"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_default();
        let now = "2026-11-24T06:00:00Z".parse().unwrap();
        match parse(&format!("loaxa/events/{box_id}"), text.as_bytes(), now) {
            Ok(Message::Event(event)) => {
                let run = event
                    .as_run
                    .unwrap_or_else(|| panic!("archive.md:{line}: not as-run"));
                assert!(
                    !run.bulletins.is_empty() && run.title.is_some(),
                    "archive.md:{line}"
                );
                assert!(
                    run.origin_kind.is_some() && run.origin_scope.is_some(),
                    "archive.md:{line}"
                );
            }
            other => panic!("archive.md:{line}: {other:?}"),
        }
    }
}

#[test]
fn every_control_example_in_the_docs_parses_and_each_reply_answers_the_request_above_it() {
    use loaxa::control::{Reply, Request};
    let doc = "docs/control.md";
    let mut examples: Vec<(usize, bool, String)> = blocks(doc, "json request")
        .into_iter()
        .map(|(line, text)| (line, true, text))
        .chain(
            blocks(doc, "json reply")
                .into_iter()
                .map(|(line, text)| (line, false, text)),
        )
        .collect();
    examples.sort_by_key(|(line, ..)| *line);

    // The request each reply follows, and whether it has shown a done reply.
    let mut asked: Option<(Request, bool)> = None;
    let mut shown = std::collections::BTreeSet::new();
    for (line, is_request, text) in examples {
        if is_request {
            let request = serde_json::from_str::<Request>(&text)
                .unwrap_or_else(|e| panic!("control.md:{line}: {e}"));
            if let Some((before, done)) = asked.replace((request, false)) {
                assert!(done, "control.md:{line}: no done reply to {before:?}");
            }
            continue;
        }
        let reply = serde_json::from_str::<Reply>(&text)
            .unwrap_or_else(|e| panic!("control.md:{line}: {e}"));
        let Some((request, done)) = &mut asked else {
            panic!("control.md:{line}: a reply before any request");
        };
        if let Reply::Refused(refusal) = &reply {
            // The English is what the daemon writes for that refusal, word for word.
            let written: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                written["error"],
                refusal.to_string(),
                "control.md:{line}: the error the daemon writes"
            );
        }
        if let Reply::Done(answer) = reply {
            let answer = serde_json::to_value(answer).unwrap();
            assert_eq!(
                answer["answer"],
                cmd(request),
                "control.md:{line}: answers another request"
            );
            *done = true;
            shown.insert(cmd(request));
        }
    }
    assert!(
        asked.is_some_and(|(_, done)| done),
        "the last request has a done reply"
    );
    assert_eq!(
        shown.len(),
        10,
        "every request is shown with its answer: {shown:?}"
    );
}

/// Every request kind; a new one fails to compile here until its example is in the docs.
fn cmd(request: &loaxa::control::Request) -> &'static str {
    use loaxa::control::Request;
    match request {
        Request::Status {} => "status",
        Request::Today {} => "today",
        Request::Next { .. } => "next",
        Request::Stop {} => "stop",
        Request::Volume { .. } => "volume",
        Request::PlayNow { .. } => "play_now",
        Request::ProgramAdd { .. } => "program_add",
        Request::ProgramList {} => "program_list",
        Request::ProgramRemove { .. } => "program_remove",
        Request::ProgramEnable { .. } => "program_enable",
    }
}

#[test]
fn every_console_configuration_example_parses_and_the_first_shows_the_defaults() {
    use loaxa_district::console::ConsoleConfig;
    let examples = blocks("docs/console.md", "toml console");
    assert!(examples.len() >= 2);
    // The examples name the broker's password file beside the configuration file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broker-password"), "mat-khau\n").unwrap();
    let path = dir.path().join("console.toml");
    let parsed: Vec<ConsoleConfig> = examples
        .iter()
        .map(|(line, text)| {
            ConsoleConfig::parse(text, &path).unwrap_or_else(|e| panic!("console.md:{line}: {e}"))
        })
        .collect();
    let required = "database = \"c.sqlite\"\nmedia_dir = \"m\"\nsigning_key = \"k\"\n\
                    [office]\nid = \"x\"\nname = \"X\"\n[broker]\nurl = \"mqtt://127.0.0.1:1883\"\n";
    let defaults = ConsoleConfig::parse(required, &path).unwrap();
    let every_key = &parsed[0];
    assert_eq!(every_key.listen, defaults.listen);
    assert_eq!(every_key.timezone, defaults.timezone);
    assert_eq!(every_key.language, defaults.language);
    assert_eq!(every_key.max_upload_bytes, defaults.max_upload_bytes);
    assert_eq!(every_key.allow_self_approval, defaults.allow_self_approval);
    assert_eq!(every_key.secure_cookies, defaults.secure_cookies);
    assert_eq!(every_key.office.kind, defaults.office.kind);
    assert_eq!(every_key.broker_password.as_deref(), Some("mat-khau"));

    // The reverse proxy sends to the default address and lets the largest upload through.
    let nginx = blocks("docs/console.md", "nginx");
    assert_eq!(nginx.len(), 1);
    let nginx = &nginx[0].1;
    assert!(
        nginx.contains(&format!("proxy_pass http://{};", defaults.listen)),
        "{nginx}"
    );
    let body_mb: u64 = nginx
        .split("client_max_body_size ")
        .nth(1)
        .and_then(|rest| rest.split('m').next())
        .and_then(|n| n.parse().ok())
        .expect("client_max_body_size NNm");
    assert!(body_mb * 1024 * 1024 > defaults.max_upload_bytes);
}

#[test]
fn the_consoles_systemd_unit_example_is_one_systemd_accepts() {
    let units = blocks("docs/console.md", "ini systemd");
    assert_eq!(units.len(), 1);
    let unit = &units[0].1;
    assert!(unit.contains("ExecStart=/usr/bin/loaxa-district serve"));
    let Ok(analyze) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("systemd-analyze is not installed; only the unit's text was checked");
        return;
    };
    assert!(analyze.status.success());
    // Verified as installed, but pointing at the tool under test.
    let tool = Path::new(env!("CARGO_BIN_EXE_loaxa")).with_file_name("loaxa-district");
    assert!(
        tool.is_file(),
        "{} is missing: cargo build -p loaxa-district",
        tool.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loaxa-console.service");
    std::fs::write(
        &path,
        unit.replace("/usr/bin/loaxa-district", tool.to_str().unwrap()),
    )
    .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let complaints = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && complaints.trim().is_empty(),
        "{complaints}"
    );
}
