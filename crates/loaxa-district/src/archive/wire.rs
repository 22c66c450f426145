//! What boxes publish, as the archive reads it: statuses and events, from boxes of every
//! version. The structs here are tolerant — fields they do not know are ignored, fields newer
//! boxes add (`title`, `bulletins`, `origin` on as-run events; `volume`, `timezone`… on
//! statuses) are optional — so one archive keeps what old and new boxes say alike. Anything
//! that is not a box's own message is refused here, cheaply, before it reaches the store: a
//! topic that names no box, an oversized payload, text that is not JSON of the right shape,
//! another protocol version, a box id that is not the topic's, instants no real clock shows.
//!
//! Pure: the office's clock comes in as an argument.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;

use loaxa_core::ids::is_name;
use loaxa_core::protocol::{MAX_ENVELOPE, ROOT, Scope, VERSION};

/// A status lists the box's bulletins and transfers: it may be as large as a signed envelope.
pub const MAX_STATUS: usize = MAX_ENVELOPE;
/// An event is a line of text with a few fields; 64 KiB leaves room for the longest detail.
pub const MAX_EVENT: usize = 64 * 1024;
/// More bulletins than this in one as-run entry is not a programme but an attack on the index.
pub const MAX_BULLETINS: usize = 256;
/// A state, an event kind or an outcome is one short word.
const MAX_WORD: usize = 32;
/// How far ahead of the office's clock a box's may run before its instants are absurd.
const MAX_AHEAD: chrono::Duration = chrono::Duration::days(1);

/// Before this no loaxa box existed: an instant earlier comes from a clock that was never set.
fn earliest() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Why a message was refused: each kind is logged on its own, a few a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefusalKind {
    /// Not `loaxa/status/ID` or `loaxa/events/ID` with a valid box id.
    Topic,
    TooLarge,
    /// Not JSON, or not a status or event.
    Malformed,
    Version,
    /// The message names another box than its topic.
    WrongBox,
    /// A value no box sends: an instant decades away, a sequence number the store cannot hold.
    Absurd,
}

impl RefusalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalKind::Topic => "topic",
            RefusalKind::TooLarge => "too large",
            RefusalKind::Malformed => "malformed",
            RefusalKind::Version => "version",
            RefusalKind::WrongBox => "wrong box",
            RefusalKind::Absurd => "absurd value",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {reason}", kind.as_str())]
pub struct Refusal {
    pub kind: RefusalKind,
    pub reason: String,
}

fn refuse<T>(kind: RefusalKind, reason: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        kind,
        reason: reason.into(),
    })
}

/// A message worth keeping.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Status(StatusMessage),
    Event(EventMessage),
    /// An empty retained status: someone cleared the topic. The archive keeps the box's
    /// history; there is nothing new to store.
    Cleared {
        box_id: String,
    },
}

impl Message {
    pub fn box_id(&self) -> &str {
        match self {
            Message::Status(status) => &status.box_id,
            Message::Event(event) => &event.box_id,
            Message::Cleared { box_id } => box_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusMessage {
    pub box_id: String,
    pub state: String,
    pub at: Option<DateTime<Utc>>,
    pub commune: Option<String>,
    pub district: Option<String>,
    /// False for a last will (offline, composed at connect, listing no scopes): it says the
    /// box vanished and nothing else, so the status before it is kept.
    pub informative: bool,
    /// The status as the box sent it.
    pub json: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventMessage {
    pub box_id: String,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    /// The topic a receipt or rejection is about.
    pub topic: Option<String>,
    /// The event as the box sent it.
    pub json: String,
    pub as_run: Option<AsRun>,
}

/// An as-run entry, from an event of kind `as_run`.
#[derive(Debug, Clone, PartialEq)]
pub struct AsRun {
    pub program: String,
    pub title: Option<String>,
    pub scheduled: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    pub outcome: String,
    pub detail: String,
    pub bulletins: Vec<String>,
    /// What made the box air it: `schedule`, `local`, `command`, `operator` (or a kind a newer
    /// box names), and the scope of the schedule or command, if any.
    pub origin_kind: Option<String>,
    pub origin_scope: Option<String>,
}

/// The fields of a status the archive shows. Unknown fields are ignored; newer fields are
/// optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StatusView {
    pub v: u32,
    pub box_id: String,
    pub state: String,
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub revisions: BTreeMap<String, u64>,
    #[serde(default)]
    pub disk_free: Option<u64>,
    #[serde(default)]
    pub now_playing: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub bulletins: Vec<String>,
    #[serde(default)]
    pub transfers: Vec<TransferView>,
    #[serde(default)]
    pub last_aired: Option<LastAiredView>,
    /// Master volume in percent: a number, or an object with `percent`.
    #[serde(default)]
    pub volume: Option<serde_json::Value>,
    #[serde(default)]
    pub timezone: Option<String>,
}

impl StatusView {
    pub fn volume_percent(&self) -> Option<u8> {
        let value = self.volume.as_ref()?;
        let percent = value
            .as_u64()
            .or_else(|| value.get("percent").and_then(serde_json::Value::as_u64))?;
        u8::try_from(percent).ok().filter(|p| *p <= 100)
    }

    /// The id of the box's scope of `level` ("commune", "district") among those it listens to.
    fn scope_id(&self, level: &str) -> Option<String> {
        self.scopes.iter().find_map(|scope| match scope.parse() {
            Ok(Scope::Commune(id)) if level == "commune" => Some(id),
            Ok(Scope::District(id)) if level == "district" => Some(id),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TransferView {
    pub bulletin: String,
    pub chunks_held: u64,
    pub chunks: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LastAiredView {
    pub program: String,
    #[serde(default)]
    pub title: Option<String>,
    pub started: DateTime<Utc>,
}

/// An event's fields, of every kind at once: each kind has its own, all optional here.
#[derive(Deserialize)]
struct RawEvent {
    v: u32,
    box_id: String,
    seq: u64,
    at: DateTime<Utc>,
    kind: String,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    program: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    scheduled: Option<DateTime<Utc>>,
    #[serde(default)]
    started: Option<DateTime<Utc>>,
    #[serde(default)]
    ended: Option<DateTime<Utc>>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    bulletins: Vec<String>,
    #[serde(default)]
    origin: Option<serde_json::Value>,
}

/// Reads one message from the broker, or says why it is refused. `now` is the office's clock.
pub fn parse(topic: &str, payload: &[u8], now: DateTime<Utc>) -> Result<Message, Refusal> {
    let (kind, box_id) = match topic
        .strip_prefix(ROOT)
        .and_then(|t| t.strip_prefix('/'))
        .and_then(|t| t.split_once('/'))
    {
        Some((kind @ ("status" | "events"), id)) if is_name(id) => (kind, id),
        _ => {
            return refuse(
                RefusalKind::Topic,
                format!("{} is not a box's status or events topic", clip(topic)),
            );
        }
    };
    let limit = if kind == "status" {
        MAX_STATUS
    } else {
        MAX_EVENT
    };
    if payload.len() > limit {
        return refuse(
            RefusalKind::TooLarge,
            format!("{} bytes, over the {limit}-byte limit", payload.len()),
        );
    }
    if kind == "status" && payload.is_empty() {
        return Ok(Message::Cleared {
            box_id: box_id.to_owned(),
        });
    }
    let Ok(text) = std::str::from_utf8(payload) else {
        return refuse(RefusalKind::Malformed, "not UTF-8 text");
    };
    if kind == "status" {
        status(box_id, text, now).map(Message::Status)
    } else {
        event(box_id, text, now).map(Message::Event)
    }
}

fn status(box_id: &str, text: &str, now: DateTime<Utc>) -> Result<StatusMessage, Refusal> {
    let view: StatusView = serde_json::from_str(text)
        .or_else(|e| refuse(RefusalKind::Malformed, format!("not a status: {e}")))?;
    check_version(view.v)?;
    check_box(box_id, &view.box_id)?;
    check_word("state", &view.state)?;
    if let Some(at) = view.at {
        check_instant("at", at, now)?;
    }
    Ok(StatusMessage {
        box_id: view.box_id.clone(),
        informative: view.state != "offline" || !view.scopes.is_empty(),
        commune: view.scope_id("commune"),
        district: view.scope_id("district"),
        state: view.state,
        at: view.at,
        json: text.to_owned(),
    })
}

fn event(box_id: &str, text: &str, now: DateTime<Utc>) -> Result<EventMessage, Refusal> {
    let raw: RawEvent = serde_json::from_str(text)
        .or_else(|e| refuse(RefusalKind::Malformed, format!("not an event: {e}")))?;
    check_version(raw.v)?;
    check_box(box_id, &raw.box_id)?;
    check_word("kind", &raw.kind)?;
    let Ok(seq) = i64::try_from(raw.seq) else {
        return refuse(
            RefusalKind::Absurd,
            format!("seq {} is beyond what the archive holds", raw.seq),
        );
    };
    check_instant("at", raw.at, now)?;
    let as_run = if raw.kind == "as_run" {
        Some(as_run(&raw, now)?)
    } else {
        None
    };
    Ok(EventMessage {
        box_id: raw.box_id,
        seq,
        at: raw.at,
        kind: raw.kind,
        topic: raw.topic,
        json: text.to_owned(),
        as_run,
    })
}

fn as_run(raw: &RawEvent, now: DateTime<Utc>) -> Result<AsRun, Refusal> {
    let missing = |field| Refusal {
        kind: RefusalKind::Malformed,
        reason: format!("an as-run event without {field}"),
    };
    let program = raw.program.clone().ok_or_else(|| missing("program"))?;
    let scheduled = raw.scheduled.ok_or_else(|| missing("scheduled"))?;
    let outcome = raw.outcome.clone().ok_or_else(|| missing("outcome"))?;
    if !is_name(&program) {
        return refuse(
            RefusalKind::Malformed,
            format!("program {:?} is not a programme id", clip(&program)),
        );
    }
    check_word("outcome", &outcome)?;
    check_instant("scheduled", scheduled, now)?;
    for (field, at) in [("started", raw.started), ("ended", raw.ended)] {
        if let Some(at) = at {
            check_instant(field, at, now)?;
        }
    }
    if raw.bulletins.len() > MAX_BULLETINS {
        return refuse(
            RefusalKind::Absurd,
            format!(
                "{} bulletins in one entry, more than {MAX_BULLETINS}",
                raw.bulletins.len()
            ),
        );
    }
    if let Some(bad) = raw.bulletins.iter().find(|b| !is_name(b)) {
        return refuse(
            RefusalKind::Malformed,
            format!("bulletin {:?} is not a bulletin id", clip(bad)),
        );
    }
    let mut bulletins = raw.bulletins.clone();
    bulletins.sort();
    bulletins.dedup();
    // A newer box may name origins this office does not know yet: kept by name when it is one.
    let origin_field = |key: &str| {
        raw.origin
            .as_ref()
            .and_then(|o| o.get(key))
            .and_then(serde_json::Value::as_str)
    };
    Ok(AsRun {
        program,
        title: raw.title.clone(),
        scheduled,
        started: raw.started,
        ended: raw.ended,
        outcome,
        detail: raw.detail.clone().unwrap_or_default(),
        bulletins,
        origin_kind: origin_field("kind")
            .filter(|k| is_name(k))
            .map(str::to_owned),
        origin_scope: origin_field("scope")
            .filter(|s| s.parse::<Scope>().is_ok())
            .map(str::to_owned),
    })
}

fn check_version(v: u32) -> Result<(), Refusal> {
    if v == VERSION {
        Ok(())
    } else {
        refuse(
            RefusalKind::Version,
            format!("protocol version {v} (this office speaks {VERSION})"),
        )
    }
}

fn check_box(topic_box: &str, message_box: &str) -> Result<(), Refusal> {
    if topic_box == message_box {
        Ok(())
    } else {
        refuse(
            RefusalKind::WrongBox,
            format!(
                "box {:?} on the topic of box {topic_box}",
                clip(message_box)
            ),
        )
    }
}

fn check_word(field: &str, word: &str) -> Result<(), Refusal> {
    if is_name(word) && word.len() <= MAX_WORD {
        Ok(())
    } else {
        refuse(
            RefusalKind::Malformed,
            format!("{field} {:?} is not a word", clip(word)),
        )
    }
}

fn check_instant(field: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Refusal> {
    if at < earliest() || at > now + MAX_AHEAD {
        return refuse(
            RefusalKind::Absurd,
            format!("{field} {} is not a time a box can report", at.to_rfc3339()),
        );
    }
    Ok(())
}

/// Hostile text is quoted in log lines, but only its start.
fn clip(text: &str) -> String {
    const SHOWN: usize = 80;
    match text.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-24T06:00:00Z".parse().unwrap()
    }

    const OLD_AS_RUN: &str = r#"{ "v": 1, "box_id": "pd-01", "seq": 44, "at": "2026-11-24T05:30:12Z",
  "kind": "as_run", "program": "morning", "scheduled": "2026-11-23T22:30:00Z",
  "started": "2026-11-23T22:30:00Z", "ended": "2026-11-23T22:30:12Z",
  "outcome": "aired", "detail": "" }"#;

    #[test]
    fn an_as_run_event_from_a_box_without_titles_or_origins_is_read() {
        let Ok(Message::Event(event)) = parse("loaxa/events/pd-01", OLD_AS_RUN.as_bytes(), now())
        else {
            panic!("refused")
        };
        assert_eq!((event.box_id.as_str(), event.seq), ("pd-01", 44));
        let run = event.as_run.unwrap();
        assert_eq!(run.program, "morning");
        assert_eq!(run.title, None);
        assert!(run.bulletins.is_empty());
        assert_eq!(run.origin_kind, None);
        assert_eq!(event.json, OLD_AS_RUN);
    }

    #[test]
    fn an_as_run_event_of_a_newer_box_keeps_its_title_bulletins_and_origin() {
        let text = r#"{"v":1,"box_id":"pd-01","seq":45,"at":"2026-11-24T05:30:12Z","kind":"as_run",
            "program":"morning","title":"Bản tin sáng","scheduled":"2026-11-23T22:30:00Z",
            "started":null,"ended":null,"outcome":"failed","detail":"content missing",
            "bulletins":["tiem-chung","bao-lu","tiem-chung"],
            "origin":{"kind":"schedule","scope":"commune/phu-dong","revision":7},
            "something_newer":{"x":1}}"#;
        let Ok(Message::Event(event)) = parse("loaxa/events/pd-01", text.as_bytes(), now()) else {
            panic!("refused")
        };
        let run = event.as_run.unwrap();
        assert_eq!(run.title.as_deref(), Some("Bản tin sáng"));
        assert_eq!(run.bulletins, ["bao-lu", "tiem-chung"]);
        assert_eq!(run.origin_kind.as_deref(), Some("schedule"));
        assert_eq!(run.origin_scope.as_deref(), Some("commune/phu-dong"));
        // An origin this office does not know is kept by its name.
        let text = text.replace(
            r#"{"kind":"schedule","scope":"commune/phu-dong","revision":7}"#,
            r#"{"kind":"relay","url":"http://x"}"#,
        );
        let Ok(Message::Event(event)) = parse("loaxa/events/pd-01", text.as_bytes(), now()) else {
            panic!("refused")
        };
        let run = event.as_run.unwrap();
        assert_eq!(
            (run.origin_kind.as_deref(), run.origin_scope),
            (Some("relay"), None)
        );
    }

    #[test]
    fn a_status_tells_the_commune_and_district_and_a_last_will_tells_only_offline() {
        let text = r#"{"v":1,"box_id":"pd-01","state":"online","at":"2026-11-23T08:00:05Z",
            "scopes":["all","district/gia-lam","commune/phu-dong","box/pd-01"],
            "volume":80,"windows":[{"from":"05:00","to":"21:00"}],"timezone":"Asia/Ho_Chi_Minh"}"#;
        let Ok(Message::Status(status)) = parse("loaxa/status/pd-01", text.as_bytes(), now())
        else {
            panic!("refused")
        };
        assert_eq!(status.commune.as_deref(), Some("phu-dong"));
        assert_eq!(status.district.as_deref(), Some("gia-lam"));
        assert!(status.informative);
        let view: StatusView = serde_json::from_str(text).unwrap();
        assert_eq!(view.volume_percent(), Some(80));

        let will = r#"{"v":1,"box_id":"pd-01","state":"offline","at":"2026-11-23T07:00:00Z"}"#;
        let Ok(Message::Status(will)) = parse("loaxa/status/pd-01", will.as_bytes(), now()) else {
            panic!("refused")
        };
        assert!(!will.informative);
        assert_eq!(
            parse("loaxa/status/pd-01", b"", now()),
            Ok(Message::Cleared {
                box_id: "pd-01".into()
            })
        );
    }

    #[test]
    fn hostile_messages_are_refused_each_with_its_kind() {
        let huge = format!(
            r#"{{"v":1,"box_id":"pd-01","seq":1,"at":"2026-11-24T05:30:12Z","kind":"received","what":"{}"}}"#,
            "x".repeat(MAX_EVENT)
        );
        let far = OLD_AS_RUN.replace("2026-11-23T22:30:00Z", "2099-01-01T00:00:00Z");
        let unset = OLD_AS_RUN.replace("2026-11-24T05:30:12Z", "1970-01-01T00:00:00Z");
        let cases: Vec<(&str, Vec<u8>, RefusalKind)> = vec![
            (
                "loaxa/events/pd-01/x",
                OLD_AS_RUN.into(),
                RefusalKind::Topic,
            ),
            ("loaxa/events/..", OLD_AS_RUN.into(), RefusalKind::Topic),
            (
                "loaxa/schedule/pd-01",
                OLD_AS_RUN.into(),
                RefusalKind::Topic,
            ),
            (
                "loaxa/events/pd-01",
                huge.into_bytes(),
                RefusalKind::TooLarge,
            ),
            (
                "loaxa/events/pd-01",
                b"{not json".to_vec(),
                RefusalKind::Malformed,
            ),
            (
                "loaxa/events/pd-01",
                b"\xff\xfe".to_vec(),
                RefusalKind::Malformed,
            ),
            ("loaxa/events/pd-01", b"[]".to_vec(), RefusalKind::Malformed),
            (
                "loaxa/events/pd-01",
                OLD_AS_RUN.replace("\"program\": \"morning\", ", "").into(),
                RefusalKind::Malformed,
            ),
            (
                "loaxa/events/pd-01",
                OLD_AS_RUN.replace("\"v\": 1", "\"v\": 2").into(),
                RefusalKind::Version,
            ),
            (
                "loaxa/events/pd-02",
                OLD_AS_RUN.into(),
                RefusalKind::WrongBox,
            ),
            (
                "loaxa/events/pd-01",
                OLD_AS_RUN.replace("44", "18446744073709551615").into(),
                RefusalKind::Absurd,
            ),
            ("loaxa/events/pd-01", far.into(), RefusalKind::Absurd),
            ("loaxa/events/pd-01", unset.into(), RefusalKind::Absurd),
            (
                "loaxa/events/pd-01",
                OLD_AS_RUN.replace("\"aired\"", "\"a b\"").into(),
                RefusalKind::Malformed,
            ),
            (
                "loaxa/status/pd-01",
                br#"{"v":1,"box_id":"pd-01","state":"online","revisions":{"all":"x"}}"#.to_vec(),
                RefusalKind::Malformed,
            ),
        ];
        for (topic, payload, kind) in cases {
            match parse(topic, &payload, now()) {
                Err(refusal) => assert_eq!(refusal.kind, kind, "{topic}: {refusal}"),
                Ok(message) => panic!("{topic}: accepted {message:?}"),
            }
        }
    }
}
