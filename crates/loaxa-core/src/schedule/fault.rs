//! What can be wrong in a schedule, typed: each [`Fault`] carries what its message needs, so
//! that the box can say it in its operator's language while engineers, the district and the
//! journal read the English that `Display` writes. Where a message comes from outside loaxa (the
//! TOML parser, an audio decoder, the file system), it is carried as text.

use std::fmt;
use std::path::PathBuf;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::cron::CronError;

/// Where in a file a fault is: the file's time zone, a programme or one of its keys, or an
/// exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// The file's `timezone`.
    Timezone,
    /// Programme `program` itself (`key` None), one of its keys, or the `index`-th member of a
    /// list key (0-based, as `items[1]` is written).
    Program {
        program: String,
        key: Option<&'static str>,
        index: Option<usize>,
    },
    /// The `index`-th `[[program]]` of the file (0-based), which has no usable id.
    Unnamed {
        index: usize,
        key: Option<&'static str>,
    },
    /// The `index`-th `[[exception]]` (0-based), or the `item`-th member of one of its keys.
    Exception {
        index: usize,
        key: Option<&'static str>,
        item: Option<usize>,
    },
}

impl Field {
    /// Programme `program` itself.
    pub fn program(program: &str) -> Field {
        Field::Program {
            program: program.to_owned(),
            key: None,
            index: None,
        }
    }

    /// A key of programme `program`.
    pub fn key(program: &str, key: &'static str) -> Field {
        Field::Program {
            program: program.to_owned(),
            key: Some(key),
            index: None,
        }
    }

    /// The `index`-th member of a list key of programme `program`.
    pub fn member(program: &str, key: &'static str, index: usize) -> Field {
        Field::Program {
            program: program.to_owned(),
            key: Some(key),
            index: Some(index),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rest = |f: &mut fmt::Formatter<'_>, key: &Option<&str>, index: &Option<usize>| {
            if let Some(key) = key {
                write!(f, ".{key}")?;
            }
            if let Some(index) = index {
                write!(f, "[{index}]")?;
            }
            Ok(())
        };
        match self {
            Field::Timezone => f.write_str("timezone"),
            Field::Program {
                program,
                key,
                index,
            } => {
                f.write_str(program)?;
                rest(f, key, index)
            }
            Field::Unnamed { index, key } => {
                write!(f, "program[{index}]")?;
                rest(f, key, &None)
            }
            Field::Exception { index, key, item } => {
                write!(f, "exception[{index}]")?;
                rest(f, key, item)
            }
        }
    }
}

/// Who wrote a schedule, as far as the files it may name are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confinement {
    /// A district schedule: files under the media directory only.
    District,
    /// A local schedule: files under the media directory unless `files_anywhere = true`.
    Local,
}

impl Confinement {
    /// The rule, in English.
    pub fn rule(self) -> &'static str {
        match self {
            Confinement::District => {
                "a district schedule may only name files under the media directory"
            }
            Confinement::Local => {
                "a local schedule may only name files under the media directory, unless the box \
                 configuration sets `files_anywhere = true` under `[local]`"
            }
        }
    }
}

/// Why an item (`items`, `fallback`, a `play-now`) cannot be aired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemFault {
    BadBulletinId {
        id: String,
    },
    /// Empty, or climbing out of the media directory with `..`.
    BadPath {
        name: String,
    },
    /// An absolute path, where files are confined to the media directory.
    AbsolutePath {
        name: String,
        rule: Confinement,
        media_dir: PathBuf,
    },
    NoSuchFile {
        path: PathBuf,
    },
    /// It leads (through a symlink) outside the media directory, or cannot be followed.
    OutsideMedia {
        why: String,
        rule: Confinement,
    },
    /// The decoder's (or the file system's) word on why it cannot be aired.
    Audio {
        trouble: crate::trouble::AudioTrouble,
    },
}

impl fmt::Display for ItemFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemFault::BadBulletinId { id } => write!(f, "\"{id}\" is not a valid bulletin id"),
            ItemFault::BadPath { name } => write!(
                f,
                "\"{name}\" is not an audio path (empty, or climbs out with `..`)"
            ),
            ItemFault::AbsolutePath {
                name,
                rule,
                media_dir,
            } => write!(
                f,
                "\"{name}\" is an absolute path; {} ({})",
                rule.rule(),
                media_dir.display()
            ),
            ItemFault::NoSuchFile { path } => {
                write!(f, "{}: no such audio file", path.display())
            }
            ItemFault::OutsideMedia { why, rule } => write!(f, "{why}; {}", rule.rule()),
            ItemFault::Audio { trouble } => write!(f, "{trouble}"),
        }
    }
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The file is not TOML, or not a schedule's shape (a misspelt key, a text for a number).
    Syntax(Box<crate::toml_problem::TomlProblem>),
    CannotRead {
        error: crate::trouble::FileTrouble,
    },
    CannotReadDirectory {
        error: crate::trouble::FileTrouble,
    },
    UnknownTimezone {
        name: String,
    },
    IdTwiceInFile,
    IdUsedIn {
        file: PathBuf,
    },
    BadId {
        id: String,
    },
    MissingId,
    /// `volume`, as written.
    VolumeOutOfRange {
        value: String,
    },
    BadWhenBusy {
        text: String,
    },
    LocalEmergency,
    UntilBeforeFrom {
        until: NaiveDate,
        from: NaiveDate,
    },
    Cron(CronError),
    NoTimes,
    NotALocalTime {
        text: String,
    },
    CronAndAt,
    NeitherCronNorAt,
    OutsideWindows {
        at: NaiveTime,
        windows: String,
    },
    OnlyForRelay,
    MissingItems,
    NothingToAir,
    Item(ItemFault),
    RelayAndItems,
    BadRelayUrl {
        url: String,
        reason: String,
    },
    /// `duration_minutes`, as written.
    RelayMinutesOutOfRange {
        value: String,
    },
    RelayMinutesRequired,
    SkipAndOnly,
    NeitherSkipNorOnly,
    NoSuchProgramme {
        id: String,
    },
    NotADate {
        text: String,
    },
    /// The loading itself failed (a crash caught on a worker).
    LoadingCrashed,
    // Warnings: the file is valid, but the programme will never air.
    NeverFires {
        expr: String,
    },
    AllTimesPast {
        last: NaiveDateTime,
    },
    NoTimesWillNotAir,
    ValidUntilPast {
        until: NaiveDate,
    },
    NothingDue,
}

/// The largest relay slot, in minutes, as the English says it.
const MAX_RELAY_MINUTES: f64 = super::MAX_RELAY_MINUTES;

impl Fault {
    /// Whether this is only that a key is missing which was there but wrong, and so blanked to
    /// read the rest of its programme: the mistake itself is the problem to report.
    pub fn follows_from_blanking(&self, blanked: &[String]) -> bool {
        let was_blanked = |key: &str| blanked.iter().any(|k| k == key);
        match self {
            Fault::MissingId => was_blanked("id"),
            Fault::NeitherCronNorAt => was_blanked("cron") || was_blanked("at"),
            Fault::MissingItems | Fault::NothingToAir => {
                was_blanked("items") || was_blanked("relay")
            }
            _ => false,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Syntax(problem) => write!(f, "{problem}"),
            Fault::CannotRead { error } => write!(f, "cannot read: {error}"),
            Fault::CannotReadDirectory { error } => {
                write!(f, "cannot read schedules directory: {error}")
            }
            Fault::UnknownTimezone { name } => write!(
                f,
                "unknown time zone \"{name}\" (expected an IANA name such as Asia/Ho_Chi_Minh)"
            ),
            Fault::IdTwiceInFile => f.write_str("id is used twice in this file"),
            Fault::IdUsedIn { file } => write!(f, "id already used in {}", file.display()),
            Fault::BadId { id } => {
                write!(f, "\"{id}\" is not a valid id ({})", crate::ids::NAME_RULE)
            }
            Fault::MissingId => f.write_str("missing `id`"),
            Fault::VolumeOutOfRange { value } => write!(f, "{value} out of range 0.0–1.0"),
            Fault::BadWhenBusy { text } => write!(
                f,
                "expected \"cut\", \"next\" or \"wait N\" (N minutes, 1–1440), got \"{text}\""
            ),
            Fault::LocalEmergency => f.write_str(
                "only the district may schedule an emergency; a local one needs \
                 `emergency = true` under `[local]` in the box configuration",
            ),
            Fault::UntilBeforeFrom { until, from } => {
                write!(f, "{until} is before valid_from {from}")
            }
            Fault::Cron(e) => write!(f, "{e}"),
            Fault::NoTimes => f.write_str("lists no times"),
            Fault::NotALocalTime { text } => {
                write!(f, "\"{text}\" is not a local time like 2026-11-25T07:00:00")
            }
            Fault::CronAndAt => f.write_str("has both `cron` and `at`; use one"),
            Fault::NeitherCronNorAt => {
                f.write_str("needs `cron` (repeating) or `at` (one-off times)")
            }
            Fault::OutsideWindows { at, windows } => write!(
                f,
                "airs at {}, outside the broadcast windows ({windows}); only emergencies may",
                at.format("%H:%M:%S")
            ),
            Fault::OnlyForRelay => f.write_str("only for a relay (`relay = \"http://…\"`)"),
            Fault::MissingItems => f.write_str("missing `items` (or `relay`)"),
            Fault::NothingToAir => f.write_str("lists nothing to air"),
            Fault::Item(e) => write!(f, "{e}"),
            Fault::RelayAndItems => f.write_str(
                "has both `relay` and `items`; use one (a relay's stand-in goes in `fallback`)",
            ),
            Fault::BadRelayUrl { url, reason } => write!(f, "\"{url}\": {reason}"),
            Fault::RelayMinutesOutOfRange { value } => write!(
                f,
                "{value} out of range: more than 0, at most {MAX_RELAY_MINUTES} (12 hours)"
            ),
            Fault::RelayMinutesRequired => {
                f.write_str("required with relay (the slot's length in minutes)")
            }
            Fault::SkipAndOnly => f.write_str("has both `skip` and `only`; use one"),
            Fault::NeitherSkipNorOnly => f.write_str(
                "needs `skip` (programmes that do not air) or `only` (the ones that do)",
            ),
            Fault::NoSuchProgramme { id } => write!(f, "no programme \"{id}\" in this file"),
            Fault::NotADate { text } => write!(f, "\"{text}\" is not a date like 2026-12-31"),
            Fault::LoadingCrashed => f.write_str("loading the schedules crashed"),
            Fault::NeverFires { expr } => write!(
                f,
                "`{expr}` can never fire: no month it names has that day of the month"
            ),
            Fault::AllTimesPast { last } => write!(
                f,
                "every time is in the past (the last is {}); it will not air",
                last.format("%Y-%m-%dT%H:%M:%S")
            ),
            Fault::NoTimesWillNotAir => f.write_str("lists no times; it will not air"),
            Fault::ValidUntilPast { until } => {
                write!(f, "{until} is past; it will not air again")
            }
            Fault::NothingDue => f.write_str("nothing is due within eight years; it will not air"),
        }
    }
}
