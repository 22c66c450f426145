//! Why an as-run entry reads as it does: late, retried, missed, cut, what was missing. Typed,
//! not prose, so that the operator's commands say it in their own language (`loaxa today`,
//! `log`, `status`) while the store's `detail` column, the journal and the district keep the
//! English text that [`Reason`]'s `Display` writes. The store keeps both: the text for readers
//! of older versions, the reasons (as JSON) for the words.
//!
//! Free text appears only where it comes from outside loaxa's own words: a decoder's or a
//! sound card's error message.

use std::fmt;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::text::{Words, arg};

/// One part of an as-run entry's detail. Durations are whole milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Reason {
    /// Started this long after its time (a power cut, a busy box).
    Late { late_ms: i64 },
    /// Started this long after its time, having waited for the programme before it.
    WaitedForTheAir { late_ms: i64 },
    /// Aired again from the start after a stop or a power cut cut it.
    Retried { late_ms: i64 },
    /// Its time passed more than the catch-up window ago.
    PastCatchUp { window_ms: i64 },
    /// A later airing of the same programme was also due; that one aired instead.
    Superseded { by: NaiveTime },
    /// Due at `at` (local), outside the broadcast windows; only emergencies air then.
    OutsideWindows { at: NaiveTime, windows: String },
    /// Waited for the air as long as the programme allows, and the air stayed taken.
    WaitedInVain { waited_ms: i64 },
    /// The wall clock jumped forward over it (a clock corrected after boot).
    ClockJumped {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    /// What the programme names but the box does not have: left out of the airing.
    ContentMissing { missing: Vec<Missing> },
    /// One item could not be aired (a corrupt file, a stream that never came): `error` in
    /// English for scripts and older readers, `trouble` (absent in older entries) for the words.
    ItemFailed {
        item: String,
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trouble: Option<loaxa_core::trouble::AudioTrouble>,
    },
    /// The daemon was stopped (SIGTERM) while it was on air.
    Shutdown,
    /// `loaxa stop` on the box.
    StoppedByOperator,
    /// A signed `stop` from the district.
    StoppedByDistrict,
    /// Cut into by a programme of a higher level, and not resumed afterwards.
    CutBy { program: String },
    /// The sound card failed while it was on air.
    OutputFailed { error: String },
    /// None of its items could be aired.
    NothingAired,
    /// The box stopped during the broadcast without a word: a power cut or a crash.
    PowerCut,
}

/// Why an item a programme names is not on the box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Missing {
    /// No manifest for this bulletin reached the box.
    NotHeld { bulletin: String },
    /// Its validity ended; `deleted` once its audio has been deleted.
    Expired {
        bulletin: String,
        at: Option<DateTime<Utc>>,
        deleted: bool,
    },
    /// Deleted from the box because nothing named it.
    DeletedUnused { bulletin: String },
    /// Still downloading: `held` of `chunks` chunks are here.
    NotArrived {
        bulletin: String,
        held: usize,
        chunks: usize,
    },
    /// A local audio file that is no longer there.
    FileGone { name: String, path: String },
}

/// The reasons of one entry, in order; written joined by "; ".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Reasons(pub Vec<Reason>);

impl Reasons {
    pub fn one(reason: Reason) -> Reasons {
        Reasons(vec![reason])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn push(&mut self, reason: Reason) {
        self.0.push(reason);
    }

    /// Their codes, comma-separated ("late,item_failed"): the journal's lines carry them beside
    /// the English, the same codes the operator's commands word.
    pub fn codes(&self) -> String {
        self.0
            .iter()
            .filter_map(|r| {
                serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v["code"].as_str().map(str::to_owned))
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl From<Option<Reason>> for Reasons {
    fn from(reason: Option<Reason>) -> Reasons {
        Reasons(reason.into_iter().collect())
    }
}

impl fmt::Display for Reasons {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, reason) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{reason}")?;
        }
        Ok(())
    }
}

fn span(ms: i64) -> String {
    describe(Duration::milliseconds(ms))
}

/// Whole milliseconds of `d`, as the reasons keep durations.
pub fn ms(d: Duration) -> i64 {
    d.num_milliseconds()
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Late { late_ms } => write!(f, "late by {}", span(*late_ms)),
            Reason::WaitedForTheAir { late_ms } => {
                write!(f, "late by {}, the air was taken", span(*late_ms))
            }
            Reason::Retried { late_ms } => {
                write!(f, "retry after interruption, late by {}", span(*late_ms))
            }
            Reason::PastCatchUp { window_ms } => write!(
                f,
                "not aired within the {} catch-up window (box off or busy)",
                span(*window_ms)
            ),
            Reason::Superseded { by } => write!(
                f,
                "superseded by the {} airing, also due",
                by.format("%H:%M:%S")
            ),
            Reason::OutsideWindows { at, windows } => write!(
                f,
                "refused: {} is outside the broadcast windows ({windows})",
                at.format("%H:%M:%S")
            ),
            Reason::WaitedInVain { waited_ms } => {
                write!(f, "slot occupied (waited {})", span(*waited_ms))
            }
            Reason::ClockJumped { from, to } => write!(
                f,
                "the clock jumped forward over it, from {} to {} (a clock corrected after boot?)",
                from.format("%Y-%m-%d %H:%M:%S UTC"),
                to.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            Reason::ContentMissing { missing } => {
                f.write_str("content missing: ")?;
                for (i, m) in missing.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{m}")?;
                }
                Ok(())
            }
            Reason::ItemFailed { item, error, .. } => write!(f, "item {item} failed: {error}"),
            Reason::Shutdown => f.write_str("stopped by a shutdown"),
            Reason::StoppedByOperator => f.write_str("stopped by the operator"),
            Reason::StoppedByDistrict => f.write_str("stopped by the district"),
            Reason::CutBy { program } => write!(f, "cut by {program}, not resumed"),
            Reason::OutputFailed { error } => f.write_str(error),
            Reason::NothingAired => f.write_str("nothing could be aired"),
            Reason::PowerCut => {
                f.write_str("the box stopped during the broadcast (power cut or crash)")
            }
        }
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let utc = |at: &DateTime<Utc>| at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        match self {
            Missing::NotHeld { bulletin } => write!(
                f,
                "bulletin {bulletin} is not held (no manifest for it reached this box)"
            ),
            Missing::Expired {
                bulletin,
                at,
                deleted,
            } => {
                write!(
                    f,
                    "bulletin {bulletin} expired at {}",
                    at.as_ref().map(utc).unwrap_or_default()
                )?;
                if *deleted {
                    f.write_str(" (its audio has been deleted)")?;
                }
                Ok(())
            }
            Missing::DeletedUnused { bulletin } => {
                write!(f, "bulletin {bulletin} was deleted from this box, unused")
            }
            Missing::NotArrived {
                bulletin,
                held,
                chunks,
            } => write!(
                f,
                "bulletin {bulletin} has not fully arrived ({held} of {chunks} chunks held)"
            ),
            Missing::FileGone { name, path } => write!(f, "audio file {name} is gone ({path})"),
        }
    }
}

impl Reasons {
    /// In the operator's words, times local to `tz`; joined by "; ".
    pub fn in_words(&self, words: &Words, tz: Tz) -> String {
        self.0
            .iter()
            .map(|r| r.in_words(words, tz))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Reason {
    /// In the operator's words, times local to `tz`.
    pub fn in_words(&self, words: &Words, tz: Tz) -> String {
        let span = |ms: i64| ("span", arg(spoken_span(words, ms)));
        let time = |at: &NaiveTime| ("time", arg(at.format("%H:%M:%S")));
        match self {
            Reason::Late { late_ms } => words.t_args("reason-late", &[span(*late_ms)]),
            Reason::WaitedForTheAir { late_ms } => {
                words.t_args("reason-waited-for-the-air", &[span(*late_ms)])
            }
            Reason::Retried { late_ms } => words.t_args("reason-retried", &[span(*late_ms)]),
            Reason::PastCatchUp { window_ms } => {
                words.t_args("reason-past-catch-up", &[span(*window_ms)])
            }
            Reason::Superseded { by } => words.t_args("reason-superseded", &[time(by)]),
            Reason::OutsideWindows { at, windows } => words.t_args(
                "reason-outside-windows",
                &[time(at), ("windows", arg(windows))],
            ),
            Reason::WaitedInVain { waited_ms } => {
                words.t_args("reason-waited-in-vain", &[span(*waited_ms)])
            }
            Reason::ClockJumped { from, to } => words.t_args(
                "reason-clock-jumped",
                &[
                    ("from", arg(words.moment(&from.with_timezone(&tz)))),
                    ("to", arg(words.moment(&to.with_timezone(&tz)))),
                ],
            ),
            Reason::ContentMissing { missing } => {
                let list: Vec<String> = missing.iter().map(|m| m.in_words(words, tz)).collect();
                words.t_args("reason-content-missing", &[("list", arg(list.join("; ")))])
            }
            Reason::ItemFailed {
                item,
                error,
                trouble,
            } => {
                let why = match trouble {
                    Some(trouble) => crate::text::trouble::audio_words(trouble, words),
                    None => error.clone(),
                };
                words.t_args(
                    "reason-item-failed",
                    &[("item", arg(item)), ("error", arg(why))],
                )
            }
            Reason::Shutdown => words.t("reason-shutdown"),
            Reason::StoppedByOperator => words.t("reason-stopped-by-operator"),
            Reason::StoppedByDistrict => words.t("reason-stopped-by-district"),
            Reason::CutBy { program } => {
                words.t_args("reason-cut-by", &[("programme", arg(program))])
            }
            Reason::OutputFailed { error } => {
                words.t_args("reason-output-failed", &[("error", arg(error))])
            }
            Reason::NothingAired => words.t("reason-nothing-aired"),
            Reason::PowerCut => words.t("reason-power-cut"),
        }
    }
}

impl Missing {
    /// In the operator's words, times local to `tz`.
    pub fn in_words(&self, words: &Words, tz: Tz) -> String {
        match self {
            Missing::NotHeld { bulletin } => {
                words.t_args("missing-not-held", &[("bulletin", arg(bulletin))])
            }
            Missing::Expired { bulletin, at, .. } => words.t_args(
                "missing-expired",
                &[
                    ("bulletin", arg(bulletin)),
                    (
                        "at",
                        arg(at.map_or_else(
                            || "—".to_owned(),
                            |at| words.moment(&at.with_timezone(&tz)),
                        )),
                    ),
                ],
            ),
            Missing::DeletedUnused { bulletin } => {
                words.t_args("missing-deleted-unused", &[("bulletin", arg(bulletin))])
            }
            Missing::NotArrived {
                bulletin,
                held,
                chunks,
            } => words.t_args(
                "missing-not-arrived",
                &[
                    ("bulletin", arg(bulletin)),
                    ("held", arg(held)),
                    ("chunks", arg(chunks)),
                ],
            ),
            Missing::FileGone { name, .. } => {
                words.t_args("missing-file-gone", &[("file", arg(name))])
            }
        }
    }
}

/// A duration in the operator's words: "4 phút", "2 phút 30 giây", "1,2 giây".
pub fn spoken_span(words: &Words, ms: i64) -> String {
    let ms = ms.abs();
    let (minutes, seconds) = (ms / 60_000, (ms % 60_000) as f64 / 1000.0);
    let seconds_text = if minutes == 0 && seconds < 10.0 {
        let text = format!("{seconds:.1}");
        match words.lang() {
            crate::text::Lang::Vi => text.replace('.', ","),
            crate::text::Lang::En => text,
        }
    } else {
        format!("{seconds:.0}")
    };
    match (minutes, seconds) {
        (0, _) => words.t_args("span-seconds", &[("seconds", arg(seconds_text))]),
        (m, s) if s < 0.5 => words.t_args("span-minutes", &[("minutes", arg(m))]),
        (m, _) => words.t_args(
            "span-minutes-seconds",
            &[("minutes", arg(m)), ("seconds", arg(seconds_text))],
        ),
    }
}

/// "10 min", "2 min 30 s", "45 s", "1.2 s": a duration as the journal and the English detail
/// say it.
pub fn describe(d: Duration) -> String {
    let ms = d.num_milliseconds();
    let (minutes, seconds) = (ms / 60_000, (ms % 60_000) as f64 / 1000.0);
    match (minutes, seconds) {
        (0, s) if s < 10.0 => format!("{s:.1} s"),
        (0, s) => format!("{s:.0} s"),
        (m, s) if s < 0.5 => format!("{m} min"),
        (m, s) => format!("{m} min {s:.0} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_reads_in_minutes_and_seconds() {
        assert_eq!(describe(Duration::minutes(10)), "10 min");
        assert_eq!(describe(Duration::seconds(150)), "2 min 30 s");
        assert_eq!(describe(Duration::milliseconds(1234)), "1.2 s");
        assert_eq!(describe(Duration::seconds(45)), "45 s");
    }

    #[test]
    fn reasons_read_as_the_english_detail_and_keep_their_codes_in_json() {
        let reasons = Reasons(vec![
            Reason::Late { late_ms: 2_000 },
            Reason::ItemFailed {
                item: "b.mp3".into(),
                error: "corrupt".into(),
                trouble: None,
            },
        ]);
        assert_eq!(
            reasons.to_string(),
            "late by 2.0 s; item b.mp3 failed: corrupt"
        );
        let json = serde_json::to_value(&reasons).unwrap();
        assert_eq!(json[0]["code"], "late");
        assert_eq!(json[1]["code"], "item_failed");
        assert_eq!(serde_json::from_value::<Reasons>(json).unwrap(), reasons);
        assert_eq!(reasons.codes(), "late,item_failed");
    }

    #[test]
    fn an_operator_reads_reasons_in_vietnamese_with_local_times() {
        let vi = Words::new(crate::text::Lang::Vi).unwrap();
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let reasons = Reasons(vec![
            Reason::Retried { late_ms: 240_000 },
            Reason::ContentMissing {
                missing: vec![Missing::NotArrived {
                    bulletin: "tin".into(),
                    held: 1,
                    chunks: 3,
                }],
            },
        ]);
        assert_eq!(
            reasons.in_words(&vi, tz),
            "phát lại từ đầu (trễ 4 phút) sau khi bị ngắt; thiếu: bản tin tin chưa tải xong \
             (1/3 phần)"
        );
        let jumped = Reason::ClockJumped {
            from: "2026-12-02T10:30:00Z".parse().unwrap(),
            to: "2026-12-02T11:30:00Z".parse().unwrap(),
        };
        assert!(
            jumped
                .in_words(&vi, tz)
                .contains("từ 17:30 thứ Tư 02/12/2026 đến 18:30 thứ Tư 02/12/2026"),
            "{}",
            jumped.in_words(&vi, tz)
        );
        assert_eq!(spoken_span(&vi, 1_200), "1,2 giây");
        assert_eq!(spoken_span(&vi, 150_000), "2 phút 30 giây");
    }

    #[test]
    fn missing_content_lists_each_item_in_one_reason() {
        let reason = Reason::ContentMissing {
            missing: vec![
                Missing::NotHeld {
                    bulletin: "bao-lu".into(),
                },
                Missing::NotArrived {
                    bulletin: "tin".into(),
                    held: 1,
                    chunks: 3,
                },
            ],
        };
        assert_eq!(
            reason.to_string(),
            "content missing: bulletin bao-lu is not held (no manifest for it reached this box); \
             bulletin tin has not fully arrived (1 of 3 chunks held)"
        );
    }
}
