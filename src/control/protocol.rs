//! What travels over the control socket: one [`Request`] from the operator's CLI, one [`Reply`]
//! from the daemon. The daemon builds replies from these types and the CLI reads them into the
//! same types, so a field renamed on one side is a compile error, not a `?` on the operator's
//! screen. `docs/control.md` shows every message; `tests/docs_examples.rs` parses its examples.
//!
//! Both sides come from one package and an upgrade restarts the daemon, so the types refuse
//! fields they do not know: a mismatch says which field, instead of showing half a status.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::reason::Reasons;
use crate::store::{AsRunEntry, Outcome, SetBy};
use loaxa_core::protocol::Origin;
use loaxa_core::schedule::Priority;

/// One request, tagged by `cmd`.
///
/// The requests without parameters are empty structs, not unit variants: serde lets a unit
/// variant of a tagged enum carry any fields at all, and an unknown field is to be refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    Status {},
    Today {},
    /// The next `count` airings of the whole plan (at most [`MAX_NEXT`]), from now or from
    /// `from`.
    Next {
        count: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<DateTime<Utc>>,
    },
    Stop {},
    /// Sets the master volume to `percent`; without it, only asks what it is.
    Volume {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        percent: Option<u8>,
    },
    /// `item` as in a schedule: `bulletin:ID`, `chime` or an audio path.
    PlayNow {
        item: String,
        priority: Priority,
    },
    /// A local programme as one `[[program]]` table of a schedule file.
    ProgramAdd {
        schedule: String,
    },
    ProgramList {},
    ProgramRemove {
        id: String,
    },
    ProgramEnable {
        id: String,
        enabled: bool,
    },
}

/// The daemon's reply to one request: what was asked for, or why not.
///
/// On the wire `{"ok": true, "data": ANSWER}` or `{"ok": false, "error": "…", "refusal": {…}}`:
/// `error` in English for scripts and logs, `refusal` typed for the operator's words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "WireReply", into = "WireReply")]
pub enum Reply {
    Done(Answer),
    Refused(Refusal),
}

/// Why the daemon did not do what was asked, tagged by `code`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case", deny_unknown_fields)]
pub enum Refusal {
    /// `stop` with nothing on air.
    NothingOnAir,
    VolumeOutOfRange {
        percent: u8,
    },
    /// No local programme has this id.
    NoSuchProgramme {
        id: String,
    },
    /// The programme is in a schedule file on the box: changed by editing that file.
    InScheduleFile {
        id: String,
        file: String,
    },
    /// The programme is in a schedule the office signed: only the office changes it.
    FromTheOffice {
        id: String,
        scope: loaxa_core::protocol::Scope,
    },
    /// A programme of the schedules already has this id.
    IdTaken {
        id: String,
    },
    /// A `play-now` below emergency level outside the broadcast windows.
    OutsideWindows {
        at: NaiveTime,
        windows: String,
    },
    /// It was taken but could not air.
    NotAired {
        reasons: Reasons,
    },
    /// What the schedule checks say of a programme or an item (the CLI checks first, in the
    /// operator's words; this is what another client hears).
    Schedule {
        message: String,
    },
    /// The request could not be read.
    Malformed {
        error: String,
    },
    /// The asking user may not steer the box.
    PermissionDenied {
        uid: u32,
        no_group: bool,
    },
    /// As many connections as the daemon serves at once are open.
    Busy {
        limit: usize,
    },
    /// The daemon failed to answer (its store refused a read or a write).
    Failed {
        error: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NothingOnAir => f.write_str("nothing is on air"),
            Refusal::VolumeOutOfRange { percent } => {
                write!(f, "volume {percent} out of range 0–100")
            }
            Refusal::NoSuchProgramme { id } => write!(f, "no local programme {id}"),
            Refusal::InScheduleFile { id, file } => write!(
                f,
                "{id} is a programme of the schedule file {file}: edit that file to change it"
            ),
            Refusal::FromTheOffice { id, scope } => write!(
                f,
                "{id} is a programme of the office's schedule for {scope}: only the office changes it"
            ),
            Refusal::IdTaken { id } => write!(
                f,
                "a scheduled programme is already called {id}; choose another --id"
            ),
            Refusal::OutsideWindows { at, windows } => write!(
                f,
                "{} is outside the broadcast windows ({windows}); only an emergency may air now",
                at.format("%H:%M:%S")
            ),
            Refusal::NotAired { reasons } => write!(f, "not aired: {reasons}"),
            Refusal::Schedule { message } => f.write_str(message),
            Refusal::Malformed { error } => write!(f, "malformed request: {error}"),
            Refusal::PermissionDenied {
                uid,
                no_group: true,
            } => write!(
                f,
                "permission denied: uid {uid} is not the daemon's user, and there is no `{}` \
                 group",
                crate::control::GROUP
            ),
            Refusal::PermissionDenied { uid, .. } => write!(
                f,
                "permission denied: uid {uid} is not in the `{}` group",
                crate::control::GROUP
            ),
            Refusal::Busy { limit } => write!(
                f,
                "the daemon is busy: {limit} control connections are open already, the most it \
                 serves at once; try again in a few seconds"
            ),
            Refusal::Failed { error } => f.write_str(error),
        }
    }
}

/// What was asked for, tagged by `answer`: the `cmd` of the request it answers. The answers
/// with nothing to say are empty structs, as in `Request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case", deny_unknown_fields)]
pub enum Answer {
    Status(Status),
    Today(Today),
    Next {
        upcoming: Vec<Upcoming>,
    },
    /// The programme on air is fading out.
    Stop {},
    Volume {
        volume: u8,
        /// Who set it last: `operator`, `district`, or `default` (nobody: full volume).
        set_by: SetBy,
    },
    PlayNow {
        /// Waiting for the air to be free rather than on air already: what is on air has a
        /// higher level.
        queued: bool,
    },
    ProgramAdd {
        id: String,
        /// In the programme's time zone; `None` when it has no time ahead.
        next: Option<DateTime<FixedOffset>>,
    },
    ProgramList {
        programs: Vec<LocalProgram>,
    },
    ProgramRemove {},
    ProgramEnable {},
}

/// `loaxa status`: the box at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub box_id: String,
    /// What holds the air first, then what it cut, which resumes afterwards.
    pub on_air: Vec<Airing>,
    /// The master volume, 0–100.
    pub volume: u8,
    /// The next few airings.
    pub next: Vec<Upcoming>,
    pub link: Link,
    /// Bytes free for the store; `None` when the file system cannot tell.
    pub disk_free: Option<u64>,
    /// The broadcast windows, as in the configuration: "05:00–11:30, 13:30–22:00".
    pub windows: String,
    /// Recent problems, oldest first.
    pub problems: Vec<Problem>,
}

/// Something that went wrong lately, and when. An operator's or the district's stop is not
/// one: it was done on purpose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Problem {
    pub at: DateTime<Utc>,
    pub what: Trouble,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trouble {
    /// A programme did not air in full: missed, failed or interrupted, and why.
    Programme {
        program: String,
        title: String,
        outcome: Outcome,
        reasons: Reasons,
    },
    /// The store refused a write (a full disk, a failing card); the box carries on airing.
    NotSaved { error: String },
    /// The wall clock was stepped, forward (positive) or back.
    ClockStepped { by_ms: i64 },
}

/// A programme holding (or cut from) the air.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Airing {
    pub program: String,
    pub title: String,
    pub level: Priority,
}

/// The most airings one `next` request lists: enough for days ahead, bounded so that a request
/// cannot keep the daemon's loop planning for long.
pub const MAX_NEXT: usize = 500;

/// A programme due to air.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upcoming {
    pub program: String,
    pub title: String,
    pub level: Priority,
    /// In the programme's time zone.
    pub at: DateTime<FixedOffset>,
    /// As in a schedule: `chime`, a file as written, `bulletin:ID`, `relay URL`.
    pub items: Vec<String>,
    /// Who made it: a district schedule (its scope and revision) or the box's own.
    pub origin: Origin,
}

/// The box's link to the district.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// No `[link]` configured: the box runs on its own schedules.
    Offline,
    Connected,
    /// Configured but down; the box keeps trying.
    Disconnected,
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Link::Offline => "none (offline box)",
            Link::Connected => "connected",
            Link::Disconnected => "disconnected (retrying)",
        })
    }
}

/// `loaxa today`: today (local time) so far, and what is still to come before midnight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Today {
    /// The as-run log since midnight, as `loaxa log --json` writes it.
    pub log: Vec<AsRunEntry>,
    pub coming: Vec<Upcoming>,
}

/// One local programme, as `loaxa program list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalProgram {
    pub id: String,
    pub title: String,
    /// As in a schedule: `chime`, the audio file, `bulletin:ID`.
    pub items: Vec<String>,
    /// Its cron line, if it repeats.
    pub cron: Option<String>,
    /// Its one-off times, in the box's time zone.
    pub at: Vec<DateTime<FixedOffset>>,
    pub enabled: bool,
    /// In the box's time zone; `None` when disabled or with no time ahead.
    pub next: Option<DateTime<FixedOffset>>,
}

/// A reply that does not hold together.
#[derive(Debug, thiserror::Error)]
pub enum MalformedReply {
    #[error("`ok` is true but there is no `data`")]
    DoneWithoutData,
    #[error("`ok` is true but there is an `error`")]
    DoneWithError,
    #[error("`ok` is false but there is no `error`")]
    RefusedWithoutError,
    #[error("`ok` is false but there is `data`")]
    RefusedWithData,
}

/// A reply as it is written: the envelope `Reply` is read from and written as.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireReply {
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refusal: Option<Refusal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<Answer>,
}

impl TryFrom<WireReply> for Reply {
    type Error = MalformedReply;

    fn try_from(wire: WireReply) -> Result<Reply, MalformedReply> {
        match wire {
            WireReply {
                ok: true,
                error: None,
                refusal: None,
                data: Some(answer),
            } => Ok(Reply::Done(answer)),
            WireReply {
                ok: true,
                error: Some(_),
                ..
            }
            | WireReply {
                ok: true,
                refusal: Some(_),
                ..
            } => Err(MalformedReply::DoneWithError),
            WireReply { ok: true, .. } => Err(MalformedReply::DoneWithoutData),
            WireReply {
                ok: false,
                data: Some(_),
                ..
            } => Err(MalformedReply::RefusedWithData),
            // An `error` without `refusal` (another client's words): taken as it stands.
            WireReply {
                ok: false,
                error: Some(error),
                refusal,
                data: None,
            } => Ok(Reply::Refused(refusal.unwrap_or(Refusal::Failed { error }))),
            WireReply { ok: false, .. } => Err(MalformedReply::RefusedWithoutError),
        }
    }
}

impl From<Reply> for WireReply {
    fn from(reply: Reply) -> WireReply {
        match reply {
            Reply::Done(answer) => WireReply {
                ok: true,
                error: None,
                refusal: None,
                data: Some(answer),
            },
            Reply::Refused(refusal) => WireReply {
                ok: false,
                error: Some(refusal.to_string()),
                refusal: Some(refusal),
                data: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T>(value: &T) -> T
    where
        T: Serialize + serde::de::DeserializeOwned,
    {
        let text = serde_json::to_string(value).unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn at(text: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(text).unwrap()
    }

    #[test]
    fn requests_read_as_the_cli_writes_them_and_unknown_ones_are_refused() {
        let request: Request = serde_json::from_str(
            r#"{"cmd":"play_now","item":"bulletin:bao-lu","priority":"emergency"}"#,
        )
        .unwrap();
        assert_eq!(
            request,
            Request::PlayNow {
                item: "bulletin:bao-lu".into(),
                priority: Priority::Emergency
            }
        );
        for bad in [
            r#"{"cmd":"reboot"}"#,
            r#"{"cmd":"volume","percent":300}"#,
            r#"{"cmd":"status","verbose":true}"#,
            "not json",
        ] {
            assert!(serde_json::from_str::<Request>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_request_reads_back_as_it_was_written() {
        for request in [
            Request::Status {},
            Request::Today {},
            Request::Next {
                count: 3,
                from: None,
            },
            Request::Next {
                count: 3,
                from: Some("2026-12-05T00:00:00Z".parse().unwrap()),
            },
            Request::Stop {},
            Request::Volume { percent: Some(70) },
            Request::PlayNow {
                item: "bulletin:bao-lu".into(),
                priority: Priority::Emergency,
            },
            Request::ProgramAdd {
                schedule: "[[program]]\nid = \"tiem\"\n".into(),
            },
            Request::ProgramList {},
            Request::ProgramRemove { id: "tiem".into() },
            Request::ProgramEnable {
                id: "tiem".into(),
                enabled: false,
            },
        ] {
            assert_eq!(round_trip(&request), request);
        }
    }

    #[test]
    fn every_reply_reads_back_as_it_was_written() {
        let upcoming = Upcoming {
            program: "sang".into(),
            title: "Bản tin sáng".into(),
            level: Priority::Normal,
            at: at("2025-03-01T06:30:00+07:00"),
            items: vec!["chime".into(), "bulletin:tin-sang".into()],
            origin: Origin::Local,
        };
        let entry = AsRunEntry {
            id: 1,
            program_id: "sang".into(),
            title: "Bản tin sáng".into(),
            scheduled: at("2025-03-01T06:30:00+07:00").to_utc(),
            started: Some(at("2025-03-01T06:30:01+07:00").to_utc()),
            ended: None,
            outcome: crate::store::Outcome::Airing,
            detail: String::new(),
            reasons: crate::reason::Reasons::default(),
            attempt: 1,
        };
        for answer in [
            Answer::Next {
                upcoming: vec![upcoming.clone()],
            },
            Answer::Status(Status {
                box_id: "xa-1".into(),
                on_air: vec![Airing {
                    program: "play-now".into(),
                    title: "play-now bulletin:bao-lu".into(),
                    level: Priority::Emergency,
                }],
                volume: 80,
                next: vec![upcoming.clone()],
                link: Link::Disconnected,
                disk_free: None,
                windows: "05:00–22:00".into(),
                problems: vec![
                    Problem {
                        at: Utc::now(),
                        what: Trouble::Programme {
                            program: "tin".into(),
                            title: "Bản tin".into(),
                            outcome: Outcome::Failed,
                            reasons: Reasons::one(crate::reason::Reason::NothingAired),
                        },
                    },
                    Problem {
                        at: Utc::now(),
                        what: Trouble::ClockStepped { by_ms: -20_000 },
                    },
                ],
            }),
            Answer::Today(Today {
                log: vec![entry],
                coming: vec![upcoming],
            }),
            Answer::Stop {},
            Answer::Volume {
                volume: 0,
                set_by: SetBy::Operator,
            },
            Answer::PlayNow { queued: true },
            Answer::ProgramAdd {
                id: "tiem".into(),
                next: None,
            },
            Answer::ProgramList {
                programs: vec![LocalProgram {
                    id: "tiem".into(),
                    title: "Tiêm chủng".into(),
                    items: vec!["chime".into(), "audio/tiem-chung.mp3".into()],
                    cron: Some("0 7 * * *".into()),
                    at: Vec::new(),
                    enabled: true,
                    next: Some(at("2025-03-02T07:00:00+07:00")),
                }],
            },
            Answer::ProgramRemove {},
            Answer::ProgramEnable {},
        ] {
            let reply = Reply::Done(answer);
            assert_eq!(round_trip(&reply), reply);
        }
        let refused = Reply::Refused(Refusal::NothingOnAir);
        assert_eq!(round_trip(&refused), refused);
    }

    #[test]
    fn replies_keep_the_envelope_and_name_the_request_they_answer() {
        let done = serde_json::to_value(Reply::Done(Answer::Volume {
            volume: 40,
            set_by: SetBy::District,
        }))
        .unwrap();
        assert_eq!(
            done,
            serde_json::json!({"ok": true, "data": {"answer": "volume", "volume": 40, "set_by": "district"}})
        );
        let refused = serde_json::to_value(Reply::Refused(Refusal::NothingOnAir)).unwrap();
        assert_eq!(
            refused,
            serde_json::json!({"ok": false, "error": "nothing is on air",
                               "refusal": {"code": "nothing_on_air"}})
        );
    }

    fn refusal(text: &str) -> String {
        match serde_json::from_str::<Reply>(text) {
            Ok(reply) => panic!("{text} read as {reply:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_reply_with_a_field_the_cli_does_not_know_is_refused_naming_it() {
        for (text, field) in [
            (
                r#"{"ok":true,"data":{"answer":"volume","volume":4,"muted":true}}"#,
                "muted",
            ),
            (
                r#"{"ok":true,"data":{"answer":"stop","when":"now"}}"#,
                "when",
            ),
            (r#"{"ok":false,"error":"no","code":7}"#, "code"),
            (
                r#"{"ok":true,"data":{"answer":"program_list","programs":[
                    {"id":"tiem","title":"x","items":[],"cron":null,"at":[],"enabled":true,
                     "next":null,"colour":"red"}]}}"#,
                "colour",
            ),
        ] {
            let error = refusal(text);
            assert!(
                error.contains(&format!("unknown field `{field}`")),
                "{error}"
            );
        }
        let error = refusal(r#"{"ok":true,"data":{"answer":"reboot"}}"#);
        assert!(error.contains("unknown variant `reboot`"), "{error}");
    }

    #[test]
    fn a_reply_missing_a_field_is_refused_naming_it() {
        for (text, field) in [
            (r#"{"ok":true,"data":{"answer":"volume"}}"#, "volume"),
            (r#"{"ok":true,"data":{"answer":"play_now"}}"#, "queued"),
            (r#"{"ok":true,"data":{"volume":4}}"#, "answer"),
            (r#"{"error":"no"}"#, "ok"),
        ] {
            let error = refusal(text);
            assert!(
                error.contains(&format!("missing field `{field}`")),
                "{error}"
            );
        }
    }

    #[test]
    fn a_reply_that_is_both_done_and_refused_or_neither_is_refused() {
        for (text, why) in [
            (r#"{"ok":true}"#, "no `data`"),
            (
                r#"{"ok":true,"error":"no","data":{"answer":"stop"}}"#,
                "there is an `error`",
            ),
            (r#"{"ok":false}"#, "no `error`"),
            (
                r#"{"ok":false,"error":"no","data":{"answer":"stop"}}"#,
                "there is `data`",
            ),
        ] {
            let error = refusal(text);
            assert!(error.contains(why), "{text}: {error}");
        }
    }
}
