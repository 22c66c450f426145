//! Schedule files: what airs when. Parsing and validation live here; `plan` turns programmes into
//! occurrences. Nothing here sleeps or reads the clock: "now" is always a parameter.
//!
//! The format is documented in `docs/schedule-format.md`; its examples are parsed by a test.

pub mod cron;
pub mod fault;
pub mod plan;
pub mod windows;

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use crate::toml_problem::{Mistake, TomlProblem};
use crate::trouble::FileTrouble;

use self::cron::CronExpr;

/// The time zone of Vietnam, used when neither the schedule nor the box config names one.
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// The item name that airs the built-in attention chime instead of a file.
pub const CHIME: &str = "chime";
/// Items starting with this name a bulletin the district sends over the link.
pub const BULLETIN_PREFIX: &str = "bulletin:";
/// The longest relay slot: half a day.
pub const MAX_RELAY_MINUTES: f64 = 720.0;

/// One programme: a list of items aired back to back at the times `when` gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub id: String,
    pub title: String,
    pub when: When,
    pub items: Vec<Item>,
    pub priority: Priority,
    /// What to do when it falls due while something else is on air.
    pub when_busy: WhenBusy,
    /// What happens to it when something cuts in.
    pub after_cut: AfterCut,
    /// Linear gain, 0.0–1.0.
    pub volume: f32,
    /// Per audio file, the gain that brings it to the box's loudness target. Filled in by the
    /// daemon when the programme goes on air (from measurements made once, see `levels`);
    /// empty in a schedule.
    pub loudness_gains: std::collections::BTreeMap<PathBuf, f32>,
    /// Local dates it does not air (holidays, from the file's `[[exception]]` tables).
    pub days_off: std::collections::BTreeSet<NaiveDate>,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    pub timezone: Tz,
    /// The schedule file it came from, for messages.
    /// Shared by every programme of its file: one copy, not 100,000.
    pub source: Arc<Path>,
    /// The line of its `cron` or `at` there, for messages about when it airs.
    pub when_line: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum When {
    Cron(CronExpr),
    /// One-off times, sorted, already resolved from local time to instants.
    At(Vec<DateTime<Utc>>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Chime,
    /// `name` is as written in the schedule (shown to people); `path` is where it is read from.
    File {
        name: String,
        path: PathBuf,
        /// The directory the file must really be in (its path resolved, symlinks followed),
        /// checked again when it is opened to air, since a link can be changed after the
        /// schedule was loaded. None for files the box itself names (bulletins, its chimes) and
        /// for local schedules the configuration lets name any file.
        within: Option<PathBuf>,
    },
    /// A bulletin by id (`bulletin:ID`): its audio arrives over the district link and is only
    /// aired once it is complete and its hash checked.
    Bulletin {
        id: String,
    },
    /// A live radio stream (`relay = "http://…"`) aired for exactly `duration`; `fallback` airs
    /// instead if the stream cannot be had at the start of the slot. A relay programme's items
    /// are this one item.
    Relay {
        url: String,
        duration: std::time::Duration,
        fallback: Vec<Item>,
    },
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Chime => f.write_str(CHIME),
            Item::File { name, .. } => f.write_str(name),
            Item::Bulletin { id } => write!(f, "{BULLETIN_PREFIX}{id}"),
            Item::Relay { url, .. } => write!(f, "relay {url}"),
        }
    }
}

/// The three bulletin levels of commune radio regulation (TT 39/2020/TT-BTTTT), lowest first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Priority {
    /// Cuts in on a normal programme; waits for a priority or emergency one to end
    Normal,
    /// Cuts in on a normal or priority programme; waits for an emergency to end
    Priority,
    /// Cuts in on anything but another emergency
    Emergency,
}

/// A programme's claim on a busy slot (`when_busy` in the schedule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenBusy {
    /// Take the air at once: what is on air fades out (only if it is not of a higher level).
    Cut,
    /// Air right after what is on air, however long that takes.
    Next,
    /// Wait for the slot at most this long, then give up: `missed: slot occupied`.
    Wait(chrono::Duration),
}

impl WhenBusy {
    /// The default: wait as long as a box catches up after a power cut.
    pub const DEFAULT: WhenBusy = WhenBusy::Wait(chrono::Duration::minutes(10));
}

impl std::str::FromStr for WhenBusy {
    type Err = Fault;

    fn from_str(text: &str) -> Result<WhenBusy, Fault> {
        let bad = || Fault::BadWhenBusy {
            text: text.to_owned(),
        };
        match text.trim() {
            "cut" => Ok(WhenBusy::Cut),
            "next" => Ok(WhenBusy::Next),
            other => {
                let minutes = other
                    .strip_prefix("wait")
                    .map(str::trim)
                    .and_then(|n| n.parse::<i64>().ok())
                    .filter(|n| (1..=1440).contains(n))
                    .ok_or_else(bad)?;
                Ok(WhenBusy::Wait(chrono::Duration::minutes(minutes)))
            }
        }
    }
}

/// What becomes of a programme that something cut into (`after_cut` in the schedule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AfterCut {
    /// Carry on from where it was cut, once the air is free again.
    Resume,
    /// Give up the rest: it is logged `interrupted`.
    Skip,
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Priority::Normal => "normal",
            Priority::Priority => "priority",
            Priority::Emergency => "emergency",
        })
    }
}

pub use fault::{Confinement, Fault, Field, ItemFault};

/// What is wrong, and where: `file:line: field: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub file: PathBuf,
    pub line: Option<usize>,
    /// e.g. `morning.cron` or `morning.items[1]`.
    pub field: Option<Field>,
    pub fault: Fault,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.fault)
    }
}

impl std::error::Error for ScheduleError {}

/// Who wrote a schedule, which decides what it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    /// Signed by the district: it may schedule emergencies, and its files stay under the media
    /// directory (a district key must not reach the rest of the box's disk).
    District,
    /// Written on the box: schedule files, `loaxa program add`, the operator's `play-now`.
    Local(LocalRules),
}

/// What the box configuration lets local schedules do beyond the district's rules (`[local]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalRules {
    /// Items may name files outside the media directory (absolute paths, links leading out).
    pub files_anywhere: bool,
    /// Programmes (and `play-now`) may be emergencies.
    pub emergency: bool,
}

impl Author {
    fn files_confined(self) -> bool {
        !matches!(
            self,
            Author::Local(LocalRules {
                files_anywhere: true,
                ..
            })
        )
    }

    /// The rule a confined item broke, for its refusal.
    fn confinement(self) -> Confinement {
        match self {
            Author::District => Confinement::District,
            Author::Local(_) => Confinement::Local,
        }
    }
}

/// Where `path` really leads (every symlink followed), if that is inside `dir` (resolved too);
/// otherwise why not.
pub fn confine(path: &Path, dir: &Path) -> Result<PathBuf, String> {
    let dir_real = dir
        .canonicalize()
        .map_err(|e| format!("media directory {}: {e}", dir.display()))?;
    let real = path.canonicalize().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{}: no such audio file", path.display()),
        _ => format!("{}: {e}", path.display()),
    })?;
    if real.starts_with(&dir_real) {
        Ok(real)
    } else {
        Err(format!(
            "{} leads to {}, outside the media directory {}",
            path.display(),
            real.display(),
            dir.display()
        ))
    }
}

/// Says why the audio file at a path cannot be aired, or nothing.
pub type AudioCheck = fn(&Path) -> Result<(), crate::trouble::AudioTrouble>;

/// What loading needs to know from the box.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub default_timezone: Tz,
    /// Relative item paths are resolved against it.
    pub media_dir: PathBuf,
    /// Decodes every referenced file (as `loaxa validate` does), with the audio decoder the
    /// caller has: this crate has none. None: the daemon only checks that files exist, since a
    /// file may be fixed or arrive later, and a bad one fails at air time alone.
    pub check_audio: Option<AudioCheck>,
    /// Refuse programmes (other than emergencies) that would air outside these; None: no check
    /// (`loaxa next` shows whatever is planned).
    pub windows: Option<windows::Windows>,
    pub author: Author,
}

impl LoadOptions {
    /// Options for a schedule file read on its own (`validate`, `next` without a config):
    /// media paths are relative to the directory that holds the file's directory.
    pub fn standalone(file: &Path, check_audio: Option<AudioCheck>) -> LoadOptions {
        let dir = file.parent().unwrap_or(Path::new(""));
        LoadOptions {
            default_timezone: DEFAULT_TIMEZONE,
            media_dir: default_media_dir(dir),
            check_audio,
            windows: Some(windows::Windows::default()),
            author: Author::Local(LocalRules::default()),
        }
    }
}

/// `schedules/` and `audio/` usually sit side by side, and schedules name items as `audio/x.mp3`:
/// so media paths are relative to the directory that holds the schedules directory.
pub fn default_media_dir(schedules_dir: &Path) -> PathBuf {
    match schedules_dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

pub fn parse_timezone(name: &str) -> Result<Tz, Fault> {
    name.parse::<Tz>().map_err(|_| Fault::UnknownTimezone {
        name: name.to_owned(),
    })
}

/// The programmes of a set of files, and every problem found. Programmes with errors are left
/// out; the rest stand, so one typo never silences a whole commune.
#[derive(Debug, Default)]
pub struct Loaded {
    pub programs: Vec<Program>,
    pub errors: Vec<ScheduleError>,
}

/// Loads every `*.toml` in `dir` (sorted by name). Ids must be unique across the directory.
pub fn load_dir(dir: &Path, options: &LoadOptions) -> Loaded {
    let mut loaded = Loaded::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            loaded.errors.push(file_error(
                dir,
                Fault::CannotReadDirectory { error: (&e).into() },
            ));
            return loaded;
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    loaded.merge_all(files.iter().map(|file| load_file(file, options)));
    loaded
}

/// Loads one schedule file.
pub fn load_file(path: &Path, options: &LoadOptions) -> Loaded {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path, options),
        Err(e) => Loaded {
            programs: Vec::new(),
            errors: vec![file_error(
                path,
                Fault::CannotRead {
                    error: FileTrouble::reading_text(&e),
                },
            )],
        },
    }
}

impl Loaded {
    /// Adds another file's result, refusing programmes whose id an earlier file already uses.
    pub fn merge(&mut self, other: Loaded) {
        self.merge_all([other]);
    }

    /// Adds several files' results in order, like [`Loaded::merge`] for each; the ids are
    /// indexed once, so a hundred thousand programmes merge in linear time.
    pub fn merge_all(&mut self, others: impl IntoIterator<Item = Loaded>) {
        let mut taken = Ids::of(&self.programs);
        for mut other in others {
            self.errors.extend(other.errors);
            if self.programs.is_empty() && !other.programs.is_empty() {
                // Taken whole, not copied a programme at a time: of 100,000 that is two large
                // buffers alive at once instead of one. Its own ids are unique (`parse` makes
                // them so); if they are not, they are merged one by one below.
                let ids = Ids::of(&other.programs);
                if ids.unique {
                    taken = ids;
                    self.programs = std::mem::take(&mut other.programs);
                }
            }
            for program in other.programs {
                if let Some(first) = taken.find(&program.id, &self.programs) {
                    self.errors.push(ScheduleError {
                        file: program.source.to_path_buf(),
                        line: None,
                        field: Some(Field::key(&program.id, "id")),
                        fault: Fault::IdUsedIn {
                            file: self.programs[first].source.to_path_buf(),
                        },
                    });
                } else {
                    taken.insert(&program.id, self.programs.len());
                    self.programs.push(program);
                }
            }
        }
    }
}

/// Where each id is in a list of programmes, by the id's hash: 16 bytes an id rather than a
/// copy of it, which for 100,000 programmes is megabytes. Two ids with one hash are told apart
/// by reading the list.
struct Ids {
    hasher: std::hash::RandomState,
    at: std::collections::HashMap<u64, usize>,
    /// No id came twice while indexing.
    unique: bool,
}

impl Ids {
    fn of(programs: &[Program]) -> Ids {
        let mut ids = Ids {
            hasher: std::hash::RandomState::new(),
            at: std::collections::HashMap::with_capacity(programs.len()),
            unique: true,
        };
        for (index, program) in programs.iter().enumerate() {
            if ids.find(&program.id, &programs[..index]).is_some() {
                ids.unique = false;
            } else {
                ids.insert(&program.id, index);
            }
        }
        ids
    }

    /// Where `id` is in `programs` (the list indexed), if it is there.
    fn find(&self, id: &str, programs: &[Program]) -> Option<usize> {
        use std::hash::BuildHasher;
        let &index = self.at.get(&self.hasher.hash_one(id))?;
        if programs[index].id == id {
            return Some(index);
        }
        programs.iter().position(|p| p.id == id)
    }

    /// Records that `id` is at `index` (an id not there yet).
    fn insert(&mut self, id: &str, index: usize) {
        use std::hash::BuildHasher;
        self.at.entry(self.hasher.hash_one(id)).or_insert(index);
    }
}

fn file_error(file: &Path, fault: Fault) -> ScheduleError {
    ScheduleError {
        file: file.to_owned(),
        line: None,
        field: None,
        fault,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    timezone: Option<Spanned<String>>,
    #[serde(default, rename = "program")]
    programs: Vec<Spanned<RawProgram>>,
    #[serde(default, rename = "exception")]
    exceptions: Vec<Spanned<RawException>>,
}

/// Holidays and other days off: on `dates`, the programmes in `skip` (`"*"`: all of the
/// file's) do not air, or only those in `only` do. Emergencies always air.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawException {
    dates: Spanned<Vec<Spanned<String>>>,
    skip: Option<Spanned<Vec<Spanned<String>>>>,
    only: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProgram {
    id: Option<Spanned<String>>,
    title: Option<String>,
    cron: Option<Spanned<String>>,
    at: Option<Spanned<Vec<Spanned<String>>>>,
    items: Option<Spanned<Vec<Spanned<String>>>>,
    relay: Option<Spanned<String>>,
    duration_minutes: Option<Spanned<f64>>,
    fallback: Option<Spanned<Vec<Spanned<String>>>>,
    priority: Option<Spanned<Priority>>,
    when_busy: Option<Spanned<String>>,
    after_cut: Option<Spanned<AfterCut>>,
    volume: Option<Spanned<f64>>,
    valid_from: Option<Spanned<String>>,
    valid_until: Option<Spanned<String>>,
}

/// Parses schedule text; `path` names the file in errors.
pub fn parse(text: &str, path: &Path, options: &LoadOptions) -> Loaded {
    // A large file is read a slice of programmes at a time: the TOML document of a whole
    // 100,000-programme file takes twenty times the file's size in memory. Slices are cut
    // before `[[program]]` lines; a cut that splits something else (a multi-line string
    // holding such a line) makes a slice fail to parse, and the file is then read whole.
    // A file that does not read whole is read once more a programme at a time, each slice's
    // problem reported on its own: a misspelt key in one programme must not hide the others'.
    let (slices, headers) = pieces(text, PROGRAMMES_PER_PIECE);
    parse_pieces(text, &slices, headers, path, options, OnBadPiece::GiveUp)
        .or_else(|| {
            parse_pieces(
                text,
                &[(0, text)],
                headers,
                path,
                options,
                OnBadPiece::GiveUp,
            )
        })
        .unwrap_or_else(|| {
            let (alone, _) = pieces(text, 1);
            parse_pieces(text, &alone, headers, path, options, OnBadPiece::Report)
                .unwrap_or_default()
        })
}

/// What a slice that is not valid TOML (or not a schedule) does to the reading of its file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnBadPiece {
    /// The reading fails: the caller reads the file another way.
    GiveUp,
    /// Its problem is reported, and the other slices are read.
    Report,
}

/// Programmes per slice of a large schedule file.
const PROGRAMMES_PER_PIECE: usize = 1000;

/// The text cut into slices of `per_piece` programmes (the first slice also holds what comes
/// before the first `[[program]]`, or, with one per slice, is that alone), with their offsets.
/// Also how many `[[program]]` lines the text has.
fn pieces(text: &str, per_piece: usize) -> (Vec<(usize, &str)>, usize) {
    let mut cuts = vec![0];
    let mut headers = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("[[program]]") {
            if (headers > 0 || per_piece == 1) && headers % per_piece == 0 && offset > 0 {
                cuts.push(offset);
            }
            headers += 1;
        }
        offset += line.len();
    }
    cuts.push(text.len());
    let pieces = cuts.windows(2).map(|w| (w[0], &text[w[0]..w[1]])).collect();
    (pieces, headers)
}

/// Parses `pieces` of `text` one after the other (each one's TOML is dropped before the next is
/// read); room is made for `expected` programmes at once. None if a piece does not parse and
/// `on_bad_piece` gives up.
fn parse_pieces(
    text: &str,
    pieces: &[(usize, &str)],
    expected: usize,
    path: &Path,
    options: &LoadOptions,
    on_bad_piece: OnBadPiece,
) -> Option<Loaded> {
    let mut loaded = Loaded::default();
    let mut file = FileContext {
        path,
        source: Arc::from(path),
        lines: Lines::of(text),
        offset: 0,
        options,
        timezone: options.default_timezone,
        errors: &mut loaded.errors,
    };
    // Where the time zone's errors end: the exceptions' go there, before the programmes'.
    let mut after_timezone = 0;
    let mut seen = Ids::of(&[]);
    // With `seen`, every id the file's programmes have (for the exceptions to name).
    let mut refused_ids = HashSet::new();
    let mut exceptions = Vec::new();
    let mut programs = Vec::with_capacity(expected);
    let mut index = 0;
    for (piece_index, &(offset, piece)) in pieces.iter().enumerate() {
        let raw: RawFile = match toml::from_str(piece) {
            Ok(raw) => raw,
            Err(_) if on_bad_piece == OnBadPiece::GiveUp => return None,
            Err(e) => {
                file.offset = offset;
                // What the programme gets wrong besides is reported too; it is refused all the
                // same, and its id still counts: an exception naming it is not "unknown".
                let (mended, blanked) = file.mend_and_report(text, offset, piece, e);
                for (i, raw_program) in mended.iter().flat_map(|raw| &raw.programs).enumerate() {
                    // Checked for its problems only: whatever the checks say, it does not air.
                    // That a blanked key is now missing was said already, as what is wrong
                    // with it.
                    let before = file.errors.len();
                    drop(file.program(index + i, raw_program));
                    let found = file.errors.split_off(before);
                    file.errors.extend(
                        found
                            .into_iter()
                            .filter(|error| !error.fault.follows_from_blanking(&blanked)),
                    );
                    if let Some(id) = &raw_program.get_ref().id {
                        refused_ids.insert(id.get_ref().clone());
                    }
                }
                index += piece.matches("[[program]]").count();
                continue;
            }
        };
        file.offset = offset;
        if piece_index == 0 {
            if let Some(tz) = &raw.timezone {
                match parse_timezone(tz.get_ref()) {
                    Ok(parsed) => file.timezone = parsed,
                    Err(fault) => file.error(tz.span(), Field::Timezone, fault),
                }
            }
            after_timezone = file.errors.len();
        }
        exceptions.extend(raw.exceptions.into_iter().map(|e| (offset, e)));
        for raw_program in &raw.programs {
            if let Some(program) = file.program(index, raw_program) {
                if seen.find(&program.id, &programs).is_none() {
                    seen.insert(&program.id, programs.len());
                    programs.push(program);
                } else {
                    let span = raw_program
                        .get_ref()
                        .id
                        .as_ref()
                        .map_or(raw_program.span(), |s| s.span());
                    file.error(span, Field::key(&program.id, "id"), Fault::IdTwiceInFile);
                }
            } else if let Some(id) = &raw_program.get_ref().id {
                refused_ids.insert(id.get_ref().clone());
            }
            index += 1;
        }
    }
    let before = file.errors.len();
    let days_off = file.exceptions(
        |id| seen.find(id, &programs).is_some() || refused_ids.contains(id),
        &exceptions,
    );
    let added = file.errors.len() - before;
    file.errors[after_timezone..].rotate_right(added);
    for program in &mut programs {
        if program.priority != Priority::Emergency {
            program.days_off = days_off
                .iter()
                .filter(|(_, applies)| applies(&program.id))
                .flat_map(|(dates, _)| dates.iter().copied())
                .collect();
        }
    }
    loaded.programs = programs;
    Some(loaded)
}

/// Turns every line that `span` touches into spaces, newlines kept.
fn blank_lines(text: &mut [u8], span: std::ops::Range<usize>) {
    let start = text[..span.start.min(text.len())]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let end = span.end.max(span.start).min(text.len());
    let end = text[end..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |i| end + i);
    for byte in &mut text[start..end] {
        if *byte != b'\n' {
            *byte = b' ';
        }
    }
}

/// Where each line of a text starts, so that every programme's line number is a binary search
/// rather than a count of the newlines before it (quadratic in a file of 100,000 programmes).
struct Lines(Vec<u32>);

impl Lines {
    fn of(text: &str) -> Lines {
        // Offsets fit in 32 bits: schedule files are far smaller than 4 GiB.
        let starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|&(_, b)| b == b'\n')
                    .map(|(i, _)| u32::try_from(i + 1).unwrap_or(u32::MAX)),
            )
            .collect();
        Lines(starts)
    }

    /// The 1-based line of byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        let offset = u32::try_from(offset).unwrap_or(u32::MAX);
        self.0.partition_point(|&start| start <= offset)
    }
}

/// The state shared while checking one file's programmes.
struct FileContext<'a> {
    path: &'a Path,
    /// `path`, as the programmes keep it.
    source: Arc<Path>,
    /// Where the whole file's lines start; spans are counted from `offset` in it.
    lines: Lines,
    offset: usize,
    options: &'a LoadOptions,
    timezone: Tz,
    errors: &'a mut Vec<ScheduleError>,
}

impl FileContext<'_> {
    /// Reports the TOML mistake `error` of one programme's `piece` (at `offset` in `text`), and
    /// every further misspelt key or value of the wrong kind: each mistaken line is blanked out
    /// (its bytes become spaces, so every other line keeps its place) and the piece read again.
    /// The mended piece, if it then reads, for the rest of the checks. A mistake that blanking
    /// cannot mend (broken syntax, a key now missing) ends the search unsaid: it may be the
    /// blanking's doing.
    fn mend_and_report(
        &mut self,
        text: &str,
        offset: usize,
        piece: &str,
        mut error: toml::de::Error,
    ) -> (Option<RawFile>, Vec<String>) {
        /// Enough for any programme a person wrote; a bound against a hostile file.
        const MOST_MENDS: usize = 32;
        let mut mended = piece.as_bytes().to_vec();
        let mut blanked = Vec::new();
        for attempt in 0..=MOST_MENDS {
            let problem = TomlProblem::read_at(&error, text, offset, |at| self.lines.line_of(at));
            let mendable = matches!(
                problem.mistake,
                Mistake::UnknownKey { .. }
                    | Mistake::WrongKind { .. }
                    | Mistake::UnknownChoice { .. }
            );
            if attempt > 0 && !mendable {
                return (None, blanked);
            }
            let key = problem.mistake.key().map(str::to_owned);
            self.errors.push(ScheduleError {
                line: problem.line,
                ..file_error(self.path, Fault::Syntax(Box::new(problem)))
            });
            let Some(span) = error.span().filter(|_| mendable && attempt < MOST_MENDS) else {
                return (None, blanked);
            };
            blanked.extend(key);
            blank_lines(&mut mended, span);
            let Ok(again) = std::str::from_utf8(&mended) else {
                return (None, blanked);
            };
            match toml::from_str::<RawFile>(again) {
                Ok(raw) => return (Some(raw), blanked),
                Err(next) => error = next,
            }
        }
        (None, blanked)
    }

    fn error(&mut self, span: Range<usize>, field: Field, fault: Fault) {
        self.errors.push(ScheduleError {
            file: self.path.to_owned(),
            line: Some(self.lines.line_of(self.offset + span.start)),
            field: Some(field),
            fault,
        });
    }

    /// Checks one `[[program]]`; records every error and returns the programme only if it has none.
    fn program(&mut self, index: usize, raw: &Spanned<RawProgram>) -> Option<Program> {
        let errors_before = self.errors.len();
        let table_span = raw.span();
        let raw = raw.get_ref();
        let id = match &raw.id {
            Some(id) if crate::ids::is_name(id.get_ref()) => id.get_ref().clone(),
            Some(id) => {
                self.error(
                    id.span(),
                    Field::Unnamed {
                        index,
                        key: Some("id"),
                    },
                    Fault::BadId {
                        id: id.get_ref().clone(),
                    },
                );
                format!("program[{index}]")
            }
            None => {
                self.error(
                    table_span.clone(),
                    Field::Unnamed { index, key: None },
                    Fault::MissingId,
                );
                format!("program[{index}]")
            }
        };
        let when = self.when(&id, raw, table_span.clone());
        let items = self.items(&id, raw, table_span);
        let volume = match &raw.volume {
            Some(v) if (0.0..=1.0).contains(v.get_ref()) => *v.get_ref() as f32,
            Some(v) => {
                self.error(
                    v.span(),
                    Field::key(&id, "volume"),
                    Fault::VolumeOutOfRange {
                        value: v.get_ref().to_string(),
                    },
                );
                1.0
            }
            None => 1.0,
        };
        let when_busy = match &raw.when_busy {
            Some(text) => match text.get_ref().parse() {
                Ok(when_busy) => when_busy,
                Err(fault) => {
                    self.error(text.span(), Field::key(&id, "when_busy"), fault);
                    WhenBusy::DEFAULT
                }
            },
            None => WhenBusy::DEFAULT,
        };
        if let (Some(priority), Author::Local(rules)) = (&raw.priority, self.options.author)
            && *priority.get_ref() == Priority::Emergency
            && !rules.emergency
        {
            self.error(
                priority.span(),
                Field::key(&id, "priority"),
                Fault::LocalEmergency,
            );
        }
        if let (Some(when), Some(windows)) = (&when, &self.options.windows)
            && raw.priority.as_ref().map(|p| *p.get_ref()) != Some(Priority::Emergency)
        {
            self.check_windows(&id, raw, when, windows);
        }
        let valid_from = raw
            .valid_from
            .as_ref()
            .and_then(|d| self.date(Field::key(&id, "valid_from"), d));
        let valid_until = raw
            .valid_until
            .as_ref()
            .and_then(|d| self.date(Field::key(&id, "valid_until"), d));
        if let (Some(from), Some(until), Some(span)) = (
            valid_from,
            valid_until,
            raw.valid_until.as_ref().map(Spanned::span),
        ) && until < from
        {
            self.error(
                span,
                Field::key(&id, "valid_until"),
                Fault::UntilBeforeFrom { until, from },
            );
        }
        if self.errors.len() != errors_before {
            return None;
        }
        Some(Program {
            title: raw.title.clone().unwrap_or_else(|| id.clone()),
            id,
            when: when?,
            items,
            priority: raw
                .priority
                .as_ref()
                .map_or(Priority::Normal, |p| *p.get_ref()),
            when_busy,
            after_cut: raw
                .after_cut
                .as_ref()
                .map_or(AfterCut::Resume, |a| *a.get_ref()),
            volume,
            loudness_gains: Default::default(),
            days_off: Default::default(),
            valid_from,
            valid_until,
            timezone: self.timezone,
            source: Arc::clone(&self.source),
            when_line: raw
                .cron
                .as_ref()
                .map(Spanned::span)
                .or_else(|| raw.at.as_ref().map(Spanned::span))
                .map(|span| self.lines.line_of(self.offset + span.start)),
        })
    }

    fn when(&mut self, id: &str, raw: &RawProgram, table_span: Range<usize>) -> Option<When> {
        match (&raw.cron, &raw.at) {
            (Some(cron), None) => match cron.get_ref().parse::<CronExpr>() {
                Ok(expr) => Some(When::Cron(expr)),
                Err(e) => {
                    self.error(cron.span(), Field::key(id, "cron"), Fault::Cron(e));
                    None
                }
            },
            (None, Some(at)) if at.get_ref().is_empty() => {
                self.error(at.span(), Field::key(id, "at"), Fault::NoTimes);
                None
            }
            (None, Some(at)) => {
                let mut times = Vec::new();
                for (i, text) in at.get_ref().iter().enumerate() {
                    match parse_local_time(text.get_ref()) {
                        Ok(local) => times.push(resolve_local(self.timezone, local)),
                        Err(fault) => self.error(text.span(), Field::member(id, "at", i), fault),
                    }
                }
                times.sort();
                times.dedup();
                Some(When::At(times))
            }
            (Some(cron), Some(_)) => {
                self.error(cron.span(), Field::program(id), Fault::CronAndAt);
                None
            }
            (None, None) => {
                self.error(table_span, Field::program(id), Fault::NeitherCronNorAt);
                None
            }
        }
    }

    /// Refuses a time outside the broadcast windows, naming the first one.
    fn check_windows(
        &mut self,
        id: &str,
        raw: &RawProgram,
        when: &When,
        windows: &windows::Windows,
    ) {
        let outside = |at: chrono::NaiveTime| Fault::OutsideWindows {
            at,
            windows: windows.to_string(),
        };
        match (when, &raw.cron, &raw.at) {
            (When::Cron(expr), Some(cron), _) => {
                if let Some(time) = expr.first_time_refused(|t| windows.allows(t)) {
                    self.error(cron.span(), Field::key(id, "cron"), outside(time));
                }
            }
            (When::At(times), _, Some(at)) => {
                for (i, (instant, text)) in times.iter().zip(at.get_ref()).enumerate() {
                    let time = instant.with_timezone(&self.timezone).time();
                    if !windows.allows(time) {
                        self.error(text.span(), Field::member(id, "at", i), outside(time));
                    }
                }
            }
            _ => {}
        }
    }

    fn items(&mut self, id: &str, raw: &RawProgram, table_span: Range<usize>) -> Vec<Item> {
        if let Some(relay) = &raw.relay {
            return self.relay(id, raw, relay).into_iter().collect();
        }
        // Without `relay`, the relay's keys mean nothing: say so rather than ignore them.
        if let Some(minutes) = &raw.duration_minutes {
            self.error(
                minutes.span(),
                Field::key(id, "duration_minutes"),
                Fault::OnlyForRelay,
            );
        }
        if let Some(fallback) = &raw.fallback {
            self.error(
                fallback.span(),
                Field::key(id, "fallback"),
                Fault::OnlyForRelay,
            );
        }
        let Some(items) = &raw.items else {
            self.error(table_span, Field::program(id), Fault::MissingItems);
            return Vec::new();
        };
        if items.get_ref().is_empty() {
            self.error(items.span(), Field::key(id, "items"), Fault::NothingToAir);
        }
        self.item_list(id, "items", items.get_ref())
    }

    /// Resolves a list of item names (`items`, or a relay's `fallback`), naming each error.
    fn item_list(&mut self, id: &str, key: &'static str, names: &[Spanned<String>]) -> Vec<Item> {
        let mut resolved = Vec::new();
        for (i, name) in names.iter().enumerate() {
            match item(name.get_ref(), self.options) {
                Ok(item) => resolved.push(item),
                Err(e) => self.error(name.span(), Field::member(id, key, i), Fault::Item(e)),
            }
        }
        resolved
    }

    /// A relay programme: the stream, how long it airs, and what airs if it cannot be had.
    /// The URL is only checked for form: validating a schedule never connects anywhere.
    fn relay(&mut self, id: &str, raw: &RawProgram, relay: &Spanned<String>) -> Option<Item> {
        let errors_before = self.errors.len();
        if let Some(items) = &raw.items {
            self.error(items.span(), Field::program(id), Fault::RelayAndItems);
        }
        let url = relay.get_ref().trim();
        if let Err(reason) = crate::address::HttpUrl::parse(url) {
            self.error(
                relay.span(),
                Field::key(id, "relay"),
                Fault::BadRelayUrl {
                    url: url.to_owned(),
                    reason: reason.to_string(),
                },
            );
        }
        let duration = match &raw.duration_minutes {
            // `!(… > 0)` also refuses NaN, which TOML allows.
            Some(minutes)
                if !(*minutes.get_ref() > 0.0 && *minutes.get_ref() <= MAX_RELAY_MINUTES) =>
            {
                self.error(
                    minutes.span(),
                    Field::key(id, "duration_minutes"),
                    Fault::RelayMinutesOutOfRange {
                        value: minutes.get_ref().to_string(),
                    },
                );
                None
            }
            Some(minutes) => Some(std::time::Duration::from_secs_f64(minutes.get_ref() * 60.0)),
            None => {
                self.error(
                    relay.span(),
                    Field::key(id, "duration_minutes"),
                    Fault::RelayMinutesRequired,
                );
                None
            }
        };
        let fallback = raw
            .fallback
            .as_ref()
            .map(|names| self.item_list(id, "fallback", names.get_ref()))
            .unwrap_or_default();
        if self.errors.len() != errors_before {
            return None;
        }
        Some(Item::Relay {
            url: url.to_owned(),
            duration: duration?,
            fallback,
        })
    }

    /// The file's `[[exception]]` tables: each one's dates, and which programmes it stops.
    /// `is_id` says whether a `[[program]]` of the file has that id; each exception comes with
    /// the offset its spans count from.
    #[allow(clippy::type_complexity)]
    fn exceptions(
        &mut self,
        is_id: impl Fn(&str) -> bool,
        exceptions: &[(usize, Spanned<RawException>)],
    ) -> Vec<(Vec<NaiveDate>, Box<dyn Fn(&str) -> bool>)> {
        let mut found = Vec::new();
        for (index, (offset, exception)) in exceptions.iter().enumerate() {
            self.offset = *offset;
            let field = |key: Option<&'static str>, item: Option<usize>| Field::Exception {
                index,
                key,
                item,
            };
            let exception = exception.get_ref();
            let dates: Vec<NaiveDate> = exception
                .dates
                .get_ref()
                .iter()
                .filter_map(|d| self.date(field(Some("dates"), None), d))
                .collect();
            let (list, only) = match (&exception.skip, &exception.only) {
                (Some(skip), None) => (skip, false),
                (None, Some(only)) => (only, true),
                (Some(skip), Some(_)) => {
                    self.error(skip.span(), field(None, None), Fault::SkipAndOnly);
                    continue;
                }
                (None, None) => {
                    self.error(
                        exception.dates.span(),
                        field(None, None),
                        Fault::NeitherSkipNorOnly,
                    );
                    continue;
                }
            };
            let mut named = HashSet::new();
            for (i, id) in list.get_ref().iter().enumerate() {
                let id_text = id.get_ref();
                if id_text != "*" && !is_id(id_text) {
                    let key = if only { "only" } else { "skip" };
                    self.error(
                        id.span(),
                        field(Some(key), Some(i)),
                        Fault::NoSuchProgramme {
                            id: id_text.clone(),
                        },
                    );
                }
                named.insert(id_text.clone());
            }
            let all = named.contains("*");
            let applies: Box<dyn Fn(&str) -> bool> =
                Box::new(move |id| (all || named.contains(id)) != only);
            found.push((dates, applies));
        }
        found
    }

    fn date(&mut self, field: Field, text: &Spanned<String>) -> Option<NaiveDate> {
        match NaiveDate::parse_from_str(text.get_ref(), "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                self.error(
                    text.span(),
                    field,
                    Fault::NotADate {
                        text: text.get_ref().clone(),
                    },
                );
                None
            }
        }
    }
}

fn parse_local_time(text: &str) -> Result<NaiveDateTime, Fault> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .map_err(|_| Fault::NotALocalTime {
            text: text.to_owned(),
        })
}

/// The item a schedule (or an operator's `play-now`) names: `chime`, `bulletin:ID` or an audio
/// path under the media directory, checked as `options` say.
pub fn item(name: &str, options: &LoadOptions) -> Result<Item, ItemFault> {
    if name == CHIME {
        return Ok(Item::Chime);
    }
    if let Some(id) = name.strip_prefix(BULLETIN_PREFIX) {
        return if crate::ids::is_name(id) {
            Ok(Item::Bulletin { id: id.to_owned() })
        } else {
            Err(ItemFault::BadBulletinId { id: id.to_owned() })
        };
    }
    let relative = Path::new(name);
    if name.is_empty() || relative.components().any(|c| c == Component::ParentDir) {
        return Err(ItemFault::BadPath {
            name: name.to_owned(),
        });
    }
    let author = options.author;
    let within = author.files_confined().then(|| options.media_dir.clone());
    if relative.is_absolute() && within.is_some() {
        return Err(ItemFault::AbsolutePath {
            name: name.to_owned(),
            rule: author.confinement(),
            media_dir: options.media_dir.clone(),
        });
    }
    let path = options.media_dir.join(relative);
    if !path.is_file() {
        return Err(ItemFault::NoSuchFile { path });
    }
    if let Some(dir) = &within {
        confine(&path, dir).map_err(|why| ItemFault::OutsideMedia {
            why,
            rule: author.confinement(),
        })?;
    }
    if let Some(check) = options.check_audio {
        check(&path).map_err(|trouble| ItemFault::Audio { trouble })?;
    }
    Ok(Item::File {
        name: name.to_owned(),
        path,
        within,
    })
}

/// Maps a wall-clock time to an instant the way cron does: a time skipped by a DST jump airs at
/// the first instant after the jump; a time that happens twice airs at its first occurrence.
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    if let Some(instant) = tz.from_local_datetime(&local).earliest() {
        return instant.with_timezone(&Utc);
    }
    // In a gap: walk forward minute by minute to its end (gaps are whole minutes, at most a day).
    (1..=24 * 60)
        .find_map(|minutes| {
            tz.from_local_datetime(&(local + chrono::Duration::minutes(minutes)))
                .earliest()
        })
        .map_or_else(|| local.and_utc(), |instant| instant.with_timezone(&Utc))
}

impl Program {
    /// A programme aired once, now, rather than from a schedule (`loaxa play`, `play-now`).
    pub fn immediate(
        id: &str,
        title: &str,
        items: Vec<Item>,
        priority: Priority,
        timezone: Tz,
        source: &str,
    ) -> Program {
        Program {
            id: id.into(),
            title: title.into(),
            when: When::At(Vec::new()),
            items,
            priority,
            when_busy: WhenBusy::Cut,
            after_cut: AfterCut::Resume,
            volume: 1.0,
            loudness_gains: Default::default(),
            days_off: Default::default(),
            valid_from: None,
            valid_until: None,
            timezone,
            source: Arc::from(Path::new(source)),
            when_line: None,
        }
    }
}

/// Programmes that load but will never air again as of `now`: a cron expression no date
/// matches, one-off times all past, a `valid_until` gone by. They are warnings, not errors: the
/// file is valid, and such a programme harms nothing, but it is almost always a typo.
pub fn warnings<'a>(
    programs: impl IntoIterator<Item = &'a Program>,
    now: DateTime<Utc>,
) -> Vec<ScheduleError> {
    let mut found = Vec::new();
    for program in programs {
        if program.next_after(now).is_some() {
            continue;
        }
        let (field, fault) = match &program.when {
            When::Cron(expr) if !expr.can_fire() => (
                "cron",
                Fault::NeverFires {
                    expr: expr.to_string(),
                },
            ),
            When::At(times) => (
                "at",
                match times.last() {
                    Some(last) => Fault::AllTimesPast {
                        last: last.with_timezone(&program.timezone).naive_local(),
                    },
                    None => Fault::NoTimesWillNotAir,
                },
            ),
            When::Cron(_) => (
                "valid_until",
                match program.valid_until {
                    Some(until) => Fault::ValidUntilPast { until },
                    None => Fault::NothingDue,
                },
            ),
        };
        found.push(ScheduleError {
            file: program.source.to_path_buf(),
            line: program.when_line,
            field: Some(Field::key(&program.id, field)),
            fault,
        });
    }
    found
}

/// A programme on a cron line, for unit tests here and in the crates built on this one.
#[doc(hidden)]
pub fn test_program(id: &str, cron: &str, priority: Priority) -> std::sync::Arc<Program> {
    std::sync::Arc::new(Program {
        when: When::Cron(cron.parse().expect("test cron")),
        when_busy: WhenBusy::DEFAULT,
        ..Program::immediate(
            id,
            id,
            vec![Item::Chime],
            priority,
            DEFAULT_TIMEZONE,
            "t.toml",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> LoadOptions {
        LoadOptions {
            default_timezone: DEFAULT_TIMEZONE,
            media_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")),
            check_audio: None,
            windows: None,
            author: Author::Local(LocalRules::default()),
        }
    }

    fn errors_of(text: &str) -> Vec<String> {
        parse(text, Path::new("s.toml"), &options())
            .errors
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_cron_error_names_file_line_programme_and_field() {
        let text = "[[program]]\nid = \"morning\"\ncron = \"30 5 * * 8\"\nitems = [\"chime\"]\n";
        assert_eq!(
            errors_of(text),
            ["s.toml:3: morning.cron: day-of-week 8 out of range 0–7"]
        );
    }

    #[test]
    fn a_misspelt_key_does_not_hide_the_programmes_other_problems_nor_let_it_air() {
        let text = "[[program]]\nid = \"sang\"\ntittle = \"Bản tin\"\ncron = \"0 7 * * 8\"\n\
                    volume = \"to\"\nitems = [\"chime\"]\n\n\
                    [[program]]\nid = \"trua\"\ncron = \"0 11 * * *\"\nitems = [\"chime\"]\n";
        let loaded = parse(text, Path::new("s.toml"), &options());
        let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].starts_with("s.toml:3: unknown field `tittle`"),
            "{errors:?}"
        );
        assert!(errors[1].starts_with("s.toml:5: "), "{errors:?}");
        assert!(errors[2].starts_with("s.toml:4: sang.cron: "), "{errors:?}");
        let ids: Vec<&str> = loaded.programs.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["trua"]);
    }

    #[test]
    fn a_required_key_of_the_wrong_kind_is_one_problem_not_also_a_missing_key() {
        // A one-off written as a bare date-time instead of a list, and items as one text.
        let text = "[[program]]\nid = \"sang\"\nat = 2026-12-05T07:00:00\nitems = \"chime\"\n";
        let errors = errors_of(text);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("s.toml:3: "), "{errors:?}");
        assert!(errors[1].starts_with("s.toml:4: "), "{errors:?}");
    }

    #[test]
    fn a_mend_that_breaks_the_syntax_adds_no_problem_of_its_own() {
        // Blanking the misspelt key's line leaves its list's other lines dangling.
        let text = "[[program]]\nid = \"sang\"\ncron = \"0 7 * * *\"\nitems = [\"chime\"]\n\
                    extra = [\n  \"a\",\n]\n";
        let errors = errors_of(text);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("s.toml:5: unknown field `extra`"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_programme_of_a_thousand_misspelt_keys_is_reported_a_bounded_number_of_times() {
        let mut text = String::from("[[program]]\nid = \"x\"\ncron = \"0 7 * * *\"\nitems = []\n");
        for i in 0..1000 {
            text.push_str(&format!("k{i} = 1\n"));
        }
        let errors = errors_of(&text);
        assert!((2..=40).contains(&errors.len()), "{}", errors.len());
    }

    #[test]
    fn every_error_in_a_file_is_reported_not_just_the_first() {
        let text = "[[program]]\nid = \"a\"\ncron = \"61 5 * * *\"\nitems = [\"audio/missing.mp3\"]\nvolume = 1.5\n";
        let errors = errors_of(text);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[1].starts_with("s.toml:4: a.items[0]: "),
            "{errors:?}"
        );
        assert!(
            errors[1].ends_with("audio/missing.mp3: no such audio file"),
            "{errors:?}"
        );
        assert_eq!(errors[2], "s.toml:5: a.volume: 1.5 out of range 0.0–1.0");
    }

    #[test]
    fn outside_the_broadcast_windows_only_emergencies_may_be_scheduled() {
        let options = LoadOptions {
            windows: Some(windows::Windows::default()),
            author: Author::District,
            ..options()
        };
        let text = "[[program]]\nid = \"relay\"\ncron = \"15 3 * * *\"\nitems = [\"chime\"]\n\
                    [[program]]\nid = \"late\"\nat = [\"2026-12-01T05:30\", \"2026-12-01T22:30\"]\nitems = [\"chime\"]\n\
                    [[program]]\nid = \"flood\"\npriority = \"emergency\"\ncron = \"15 3 * * *\"\nitems = [\"chime\"]\n\
                    [[program]]\nid = \"busy\"\ncron = \"0 6 * * *\"\nwhen_busy = \"later\"\nitems = [\"chime\"]\n";
        let loaded = parse(text, Path::new("s.toml"), &options);
        let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "s.toml:3: relay.cron: airs at 03:15:00, outside the broadcast windows (05:00–22:00); only emergencies may",
                "s.toml:7: late.at[1]: airs at 22:30:00, outside the broadcast windows (05:00–22:00); only emergencies may",
                "s.toml:17: busy.when_busy: expected \"cut\", \"next\" or \"wait N\" (N minutes, 1–1440), got \"later\"",
            ]
        );
        assert_eq!(loaded.programs.len(), 1, "the emergency loads");
    }

    #[test]
    fn on_a_holiday_skipped_programmes_do_not_air_and_emergencies_still_do() {
        let text = "[[program]]\nid = \"morning\"\ncron = \"30 5 * * *\"\nitems = [\"chime\"]\n\
                    [[program]]\nid = \"le\"\nat = [\"2026-09-02T07:00\"]\nitems = [\"chime\"]\n\
                    [[program]]\nid = \"storm\"\npriority = \"emergency\"\ncron = \"0 6 * * *\"\nitems = [\"chime\"]\n\
                    [[exception]]\ndates = [\"2026-09-02\", \"2026-09-03\"]\nonly = [\"le\"]\n";
        let options = LoadOptions {
            author: Author::District,
            ..options()
        };
        let loaded = parse(text, Path::new("s.toml"), &options);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        let next = |id: &str, after: &str| {
            let program = loaded.programs.iter().find(|p| p.id == id).unwrap();
            program
                .next_after(at(after))
                .map(|t| t.with_timezone(&DEFAULT_TIMEZONE).to_rfc3339())
        };
        assert_eq!(
            next("morning", "2026-09-01T06:00:00+07:00").as_deref(),
            Some("2026-09-04T05:30:00+07:00"),
            "the two days off are skipped"
        );
        assert_eq!(
            next("le", "2026-09-01T00:00:00+07:00").as_deref(),
            Some("2026-09-02T07:00:00+07:00")
        );
        assert_eq!(
            next("storm", "2026-09-01T07:00:00+07:00").as_deref(),
            Some("2026-09-02T06:00:00+07:00")
        );
    }

    /// `count` daily programmes, five lines each; programme `bad` has a cron error.
    fn many(count: usize, bad: usize) -> String {
        (0..count)
            .map(|i| {
                let cron = if i == bad { "61 5 * * *" } else { "30 5 * * *" };
                format!("[[program]]\nid = \"p{i}\"\ncron = \"{cron}\"\nitems = [\"chime\"]\n\n")
            })
            .collect()
    }

    #[test]
    fn a_large_file_read_in_slices_loads_like_a_small_one() {
        let count = 2 * PROGRAMMES_PER_PIECE + 500;
        let text = format!(
            "timezone = \"Asia/Bangkok\"\n{}[[exception]]\ndates = [\"2026-09-02\"]\nskip = [\"p3\", \"nobody\"]\n",
            many(count, 2400)
        );
        assert_eq!(pieces(&text, PROGRAMMES_PER_PIECE).1, count);
        assert_eq!(pieces(&text, PROGRAMMES_PER_PIECE).0.len(), 3);
        let loaded = parse(&text, Path::new("s.toml"), &options());
        assert_eq!(loaded.programs.len(), count - 1);
        // Lines count in the whole file, and the exception's error comes first, as in one piece.
        let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
        let exception_line = 2 + 5 * count + 2;
        assert_eq!(
            errors,
            [
                format!(
                    "s.toml:{exception_line}: exception[0].skip[1]: no programme \"nobody\" in this file"
                ),
                format!(
                    "s.toml:{}: p2400.cron: minute 61 out of range 0–59",
                    2 + 5 * 2400 + 2
                ),
            ]
        );
        // The time zone of the first slice and the exception of the last apply to all.
        let p3 = loaded.programs.iter().find(|p| p.id == "p3").unwrap();
        assert_eq!(p3.timezone, chrono_tz::Asia::Bangkok);
        assert!(
            p3.days_off
                .contains(&NaiveDate::from_ymd_opt(2026, 9, 2).unwrap())
        );
        assert!(loaded.programs.last().unwrap().days_off.is_empty());
        // So do the lines `loaxa validate` names for each programme's times.
        let last = loaded.programs.last().unwrap();
        assert_eq!(last.id, format!("p{}", count - 1));
        assert_eq!(last.when_line, Some(2 + 5 * (count - 1) + 2));
    }

    #[test]
    fn a_misspelt_key_in_one_programme_does_not_hide_the_other_programmes_problems() {
        let text = "timezone = \"Asia/Ho_Chi_Minh\"\n\
            [[program]]\nid = \"a\"\ncron = \"0 6 * * *\"\nitems = [\"chime\"]\ncolour = \"red\"\n\
            [[program]]\nid = \"b\"\ncron = \"0 6 * * 8\"\nitems = [\"chime\"]\n\
            [[program]]\nid = \"c\"\ncron = \"0 7 * * *\"\nitems = [\"chime\"]\n\
            [[program]]\nid = \"d\"\nat = [\"7h\"]\nitems = [\"chime\"]\n";
        let loaded = parse(text, Path::new("s.toml"), &options());
        let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(
            errors[0].starts_with("s.toml:6: unknown field `colour`"),
            "{errors:#?}"
        );
        assert!(
            errors[1].starts_with("s.toml:9: b.cron: day-of-week 8"),
            "{errors:#?}"
        );
        assert!(errors[2].starts_with("s.toml:17: d.at[0]"), "{errors:#?}");
        // The good programme still loads, in the file's time zone.
        assert_eq!(loaded.programs.len(), 1);
        assert_eq!(loaded.programs[0].id, "c");
        assert_eq!(loaded.programs[0].timezone, chrono_tz::Asia::Ho_Chi_Minh);
    }

    #[test]
    fn a_slice_cut_inside_a_multi_line_string_falls_back_to_the_whole_file() {
        let title = "title = \"\"\"\n[[program]]\n\"\"\"\n";
        let text = format!(
            "{}[[program]]\nid = \"odd\"\n{title}cron = \"0 6 * * *\"\nitems = [\"chime\"]\n",
            many(PROGRAMMES_PER_PIECE - 1, usize::MAX)
        );
        // The line in the title is the header a slice would start at.
        assert_eq!(pieces(&text, PROGRAMMES_PER_PIECE).0.len(), 2);
        let loaded = parse(&text, Path::new("s.toml"), &options());
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        assert_eq!(loaded.programs.len(), PROGRAMMES_PER_PIECE);
        assert_eq!(loaded.programs.last().unwrap().title, "[[program]]\n");
    }

    #[test]
    fn an_exception_naming_an_unknown_programme_or_no_rule_is_refused() {
        let text = "[[program]]\nid = \"morning\"\ncron = \"30 5 * * *\"\nitems = [\"chime\"]\n\
                    [[exception]]\ndates = [\"2026-09-02\"]\nskip = [\"mornin\"]\n\
                    [[exception]]\ndates = [\"2026-02-30\"]\n";
        assert_eq!(
            errors_of(text),
            [
                "s.toml:7: exception[0].skip[0]: no programme \"mornin\" in this file",
                "s.toml:9: exception[1].dates: \"2026-02-30\" is not a date like 2026-12-31",
                "s.toml:9: exception[1]: needs `skip` (programmes that do not air) or `only` (the ones that do)",
            ]
        );
    }

    #[test]
    fn a_toml_syntax_error_gives_its_line() {
        let errors = errors_of("[[program]]\nid = \"a\ncron = \"x\"\n");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("s.toml:2: "), "{errors:?}");
    }

    #[test]
    fn a_good_programme_beside_a_bad_one_still_loads() {
        let text = "[[program]]\nid = \"good\"\ncron = \"0 6 * * *\"\nitems = [\"chime\"]\n\
                    [[program]]\nid = \"bad\"\nitems = [\"chime\"]\n";
        let loaded = parse(text, Path::new("s.toml"), &options());
        assert_eq!(loaded.programs.len(), 1);
        assert_eq!(
            loaded.errors[0].to_string(),
            "s.toml:5: bad: needs `cron` (repeating) or `at` (one-off times)"
        );
    }

    #[test]
    fn paths_that_climb_out_of_the_media_directory_are_refused() {
        let text =
            "[[program]]\nid = \"x\"\ncron = \"0 6 * * *\"\nitems = [\"../../etc/passwd\"]\n";
        assert_eq!(
            errors_of(text),
            [
                "s.toml:4: x.items[0]: \"../../etc/passwd\" is not an audio path (empty, or climbs out with `..`)"
            ]
        );
    }

    /// A media directory holding `audio/tin.mp3` (a copy of a real file), with `outside.mp3`
    /// beside it, outside.
    fn media_fixture() -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let media = root.path().join("media");
        std::fs::create_dir_all(media.join("audio")).unwrap();
        let real = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("audio/thong-bao-demo.mp3");
        std::fs::copy(&real, media.join("audio/tin.mp3")).unwrap();
        std::fs::copy(&real, root.path().join("outside.mp3")).unwrap();
        (root, media)
    }

    fn confined_errors(text: &str, media: &Path, author: Author) -> Vec<String> {
        let options = LoadOptions {
            media_dir: media.to_owned(),
            author,
            ..options()
        };
        parse(text, Path::new("s.toml"), &options)
            .errors
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn one_item(item: &str) -> String {
        format!("[[program]]\nid = \"x\"\ncron = \"0 6 * * *\"\nitems = [\"chime\", {item:?}]\n")
    }

    #[test]
    fn an_absolute_path_in_a_district_schedule_is_refused() {
        let (_root, media) = media_fixture();
        let inside = media.join("audio/tin.mp3");
        for name in ["/etc/shadow", inside.to_str().unwrap()] {
            assert_eq!(
                confined_errors(&one_item(name), &media, Author::District),
                [format!(
                    "s.toml:4: x.items[1]: \"{name}\" is an absolute path; a district schedule may \
                     only name files under the media directory ({})",
                    media.display()
                )]
            );
        }
        assert_eq!(
            confined_errors(&one_item("audio/tin.mp3"), &media, Author::District),
            Vec::<String>::new()
        );
        assert_eq!(
            confined_errors(&one_item("bulletin:tin"), &media, Author::District),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_symlink_out_of_the_media_dir_is_refused() {
        let (root, media) = media_fixture();
        std::os::unix::fs::symlink(
            root.path().join("outside.mp3"),
            media.join("audio/link.mp3"),
        )
        .unwrap();
        std::os::unix::fs::symlink(media.join("audio/tin.mp3"), media.join("audio/ok.mp3"))
            .unwrap();
        let errors = confined_errors(&one_item("audio/link.mp3"), &media, Author::District);
        assert_eq!(
            errors,
            [format!(
                "s.toml:4: x.items[1]: {}/audio/link.mp3 leads to {}/outside.mp3, outside the media \
                 directory {}; a district schedule may only name files under the media directory",
                media.display(),
                root.path().canonicalize().unwrap().display(),
                media.display()
            )]
        );
        assert_eq!(
            confined_errors(&one_item("audio/ok.mp3"), &media, Author::District),
            Vec::<String>::new(),
            "a link that stays inside is fine"
        );
    }

    #[test]
    fn a_link_changed_after_loading_is_refused_when_the_item_is_opened() {
        let (root, media) = media_fixture();
        let link = media.join("audio/link.mp3");
        std::os::unix::fs::symlink(media.join("audio/tin.mp3"), &link).unwrap();
        let options = LoadOptions {
            media_dir: media.clone(),
            author: Author::District,
            ..options()
        };
        let loaded = parse(&one_item("audio/link.mp3"), Path::new("s.toml"), &options);
        let Item::File { path, within, .. } = &loaded.programs[0].items[1] else {
            panic!("not a file: {:?}", loaded.programs[0].items)
        };
        assert_eq!(within.as_deref(), Some(media.as_path()));
        assert!(confine(path, &media).is_ok());
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink(root.path().join("outside.mp3"), &link).unwrap();
        let refused = confine(path, &media).unwrap_err();
        assert!(refused.contains("outside the media directory"), "{refused}");
    }

    #[test]
    fn a_local_schedule_is_confined_unless_the_box_allows_files_anywhere() {
        let (root, media) = media_fixture();
        let outside = root.path().join("outside.mp3");
        let text = one_item(outside.to_str().unwrap());
        let strict = confined_errors(&text, &media, Author::Local(LocalRules::default()));
        assert_eq!(strict.len(), 1, "{strict:?}");
        assert!(
            strict[0].starts_with(&format!(
                "s.toml:4: x.items[1]: \"{}\" is an absolute path; a local schedule may only \
                 name files under the media directory, unless the box configuration sets \
                 `files_anywhere = true` under `[local]`",
                outside.display()
            )),
            "{strict:?}"
        );
        let anywhere = Author::Local(LocalRules {
            files_anywhere: true,
            emergency: false,
        });
        assert_eq!(
            confined_errors(&text, &media, anywhere),
            Vec::<String>::new()
        );
        assert_eq!(
            confined_errors(&one_item("../outside.mp3"), &media, anywhere).len(),
            1,
            "`..` is refused however the box is configured"
        );
    }

    #[test]
    fn a_local_emergency_is_refused_unless_allowed() {
        let text = "[[program]]\nid = \"bao-chay\"\ncron = \"0 6 * * *\"\nitems = [\"chime\"]\n\
                    priority = \"emergency\"\n";
        let with = |author| {
            let options = LoadOptions {
                author,
                ..options()
            };
            parse(text, Path::new("s.toml"), &options)
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            with(Author::Local(LocalRules::default())),
            [
                "s.toml:5: bao-chay.priority: only the district may schedule an emergency; a local \
                 one needs `emergency = true` under `[local]` in the box configuration"
            ]
        );
        let allowed = LocalRules {
            files_anywhere: false,
            emergency: true,
        };
        assert!(with(Author::Local(allowed)).is_empty());
        assert!(with(Author::District).is_empty());
    }

    fn warnings_of(text: &str, now: &str) -> Vec<String> {
        let loaded = parse(text, Path::new("s.toml"), &options());
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let now = DateTime::parse_from_rfc3339(now)
            .unwrap()
            .with_timezone(&Utc);
        warnings(&loaded.programs, now)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_cron_line_that_can_never_fire_is_a_warning_not_an_error() {
        let text = "[[program]]\nid = \"feb31\"\ncron = \"0 9 31 2 *\"\nitems = [\"chime\"]\n\
                    [[program]]\nid = \"feb30\"\ncron = \"0 0 30 2 *\"\nitems = [\"chime\"]\n\
                    [[program]]\nid = \"leap\"\ncron = \"0 0 29 2 *\"\nitems = [\"chime\"]\n\
                    [[program]]\nid = \"or-rule\"\ncron = \"0 0 31 2 mon\"\nitems = [\"chime\"]\n\
                    [[program]]\nid = \"apr31\"\ncron = \"0 0 31 4,6 *\"\nitems = [\"chime\"]\n";
        assert_eq!(
            warnings_of(text, "2026-11-24T00:00:00Z"),
            [
                "s.toml:3: feb31.cron: `0 9 31 2 *` can never fire: no month it names has that day of the month",
                "s.toml:7: feb30.cron: `0 0 30 2 *` can never fire: no month it names has that day of the month",
                "s.toml:19: apr31.cron: `0 0 31 4,6 *` can never fire: no month it names has that day of the month",
            ],
            "29 February comes, and `31 2 mon` fires on Mondays of February"
        );
    }

    #[test]
    fn one_offs_all_in_the_past_are_a_warning() {
        let text = "[[program]]\nid = \"old\"\nat = [\"1970-01-01T07:00\"]\nitems = [\"chime\"]\n\
                    [[program]]\nid = \"some-left\"\nat = [\"2026-11-01T07:00\", \"2026-12-01T07:00\"]\nitems = [\"chime\"]\n\
                    [[program]]\nid = \"ended\"\ncron = \"0 6 * * *\"\nvalid_until = \"2026-01-31\"\nitems = [\"chime\"]\n";
        assert_eq!(
            warnings_of(text, "2026-11-24T00:00:00Z"),
            [
                "s.toml:3: old.at: every time is in the past (the last is 1970-01-01T07:00:00); it will not air",
                "s.toml:11: ended.valid_until: 2026-01-31 is past; it will not air again",
            ]
        );
        assert_eq!(
            warnings_of(text, "2026-12-01T00:30:00Z").len(),
            3,
            "once the last time has gone by"
        );
    }

    #[test]
    fn bulletins_are_named_by_id_and_need_no_local_file() {
        let text = "[[program]]\nid = \"x\"\ncron = \"0 6 * * *\"\nitems = [\"bulletin:tiem-chung\", \"bulletin:../x\"]\n";
        assert_eq!(
            errors_of(text),
            ["s.toml:4: x.items[1]: \"../x\" is not a valid bulletin id"]
        );
    }

    #[test]
    fn duplicate_ids_are_refused_within_a_file_and_across_files() {
        let text = "[[program]]\nid = \"x\"\ncron = \"0 6 * * *\"\nitems = [\"chime\"]\n";
        let mut loaded = parse(&format!("{text}{text}"), Path::new("a.toml"), &options());
        assert_eq!(
            loaded.errors[0].to_string(),
            "a.toml:6: x.id: id is used twice in this file"
        );
        loaded.merge(parse(text, Path::new("b.toml"), &options()));
        assert_eq!(loaded.programs.len(), 1);
        assert_eq!(
            loaded.errors[1].to_string(),
            "b.toml: x.id: id already used in a.toml"
        );
    }

    #[test]
    fn one_off_times_are_local_to_the_files_time_zone() {
        let text = "timezone = \"Europe/Berlin\"\n[[program]]\nid = \"x\"\nat = [\"2026-11-25T07:00:00\", \"2026-03-29T02:30\"]\nitems = [\"chime\"]\n";
        let loaded = parse(text, Path::new("s.toml"), &options());
        let When::At(times) = &loaded.programs[0].when else {
            panic!("not one-off")
        };
        let utc: Vec<String> = times.iter().map(|t| t.to_rfc3339()).collect();
        // 02:30 does not exist on the spring-forward day: it airs when the clock reaches 03:00 CEST.
        assert_eq!(
            utc,
            ["2026-03-29T01:00:00+00:00", "2026-11-25T06:00:00+00:00"]
        );
    }

    fn relay_programme(keys: &str) -> String {
        format!("[[program]]\nid = \"vov\"\ncron = \"0 6 * * *\"\n{keys}")
    }

    #[test]
    fn a_relay_programme_is_one_relay_item_with_its_duration_and_fallback() {
        let text = relay_programme(
            "relay = \"http://vov.example:8000/vov1\"\nduration_minutes = 30\nfallback = [\"chime\", \"audio/ban-tin-sang.mp3\"]\n",
        );
        let loaded = parse(&text, Path::new("s.toml"), &options());
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let items = &loaded.programs[0].items;
        assert_eq!(
            items,
            &[Item::Relay {
                url: "http://vov.example:8000/vov1".into(),
                duration: std::time::Duration::from_secs(30 * 60),
                fallback: vec![
                    Item::Chime,
                    Item::File {
                        name: "audio/ban-tin-sang.mp3".into(),
                        path: options().media_dir.join("audio/ban-tin-sang.mp3"),
                        within: Some(options().media_dir),
                    },
                ],
            }]
        );
        assert_eq!(items[0].to_string(), "relay http://vov.example:8000/vov1");
    }

    #[test]
    fn a_relay_may_last_a_fraction_of_a_minute_and_need_not_have_a_fallback() {
        let text = relay_programme("relay = \"http://127.0.0.1:8000/\"\nduration_minutes = 0.1\n");
        let loaded = parse(&text, Path::new("s.toml"), &options());
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let Item::Relay {
            duration, fallback, ..
        } = &loaded.programs[0].items[0]
        else {
            panic!("not a relay: {:?}", loaded.programs[0].items)
        };
        assert_eq!(*duration, std::time::Duration::from_secs(6));
        assert!(fallback.is_empty());
    }

    #[test]
    fn a_relay_without_its_duration_is_refused_on_the_relay_line() {
        let text = relay_programme("relay = \"http://vov.example/vov1\"\n");
        assert_eq!(
            errors_of(&text),
            ["s.toml:4: vov.duration_minutes: required with relay (the slot's length in minutes)"]
        );
    }

    #[test]
    fn a_relay_lasts_more_than_nothing_and_at_most_twelve_hours() {
        for minutes in ["0", "-5", "720.5", "nan"] {
            let text = relay_programme(&format!(
                "relay = \"http://vov.example/vov1\"\nduration_minutes = {minutes}\n"
            ));
            let errors = errors_of(&text);
            assert_eq!(errors.len(), 1, "{minutes}: {errors:?}");
            assert!(
                errors[0].starts_with("s.toml:5: vov.duration_minutes: ")
                    && errors[0].ends_with(" out of range: more than 0, at most 720 (12 hours)"),
                "{minutes}: {errors:?}"
            );
        }
        let text = relay_programme("relay = \"http://vov.example/vov1\"\nduration_minutes = 720\n");
        assert!(errors_of(&text).is_empty(), "720 minutes is allowed");
    }

    #[test]
    fn a_programme_has_a_relay_or_items_not_both() {
        let text = relay_programme(
            "relay = \"http://vov.example/vov1\"\nduration_minutes = 60\nitems = [\"chime\"]\n",
        );
        assert_eq!(
            errors_of(&text),
            [
                "s.toml:6: vov: has both `relay` and `items`; use one (a relay's stand-in goes in `fallback`)"
            ]
        );
    }

    #[test]
    fn duration_and_fallback_without_a_relay_are_refused_not_ignored() {
        let text =
            relay_programme("items = [\"chime\"]\nduration_minutes = 60\nfallback = [\"chime\"]\n");
        assert_eq!(
            errors_of(&text),
            [
                "s.toml:5: vov.duration_minutes: only for a relay (`relay = \"http://…\"`)",
                "s.toml:6: vov.fallback: only for a relay (`relay = \"http://…\"`)",
            ]
        );
    }

    #[test]
    fn only_http_streams_are_relayed_and_the_message_says_why() {
        let cases = [
            (
                "https://vov.example/vov1",
                "https is not supported yet: the relay has no TLS; use the station's http:// URL",
            ),
            (
                "rtsp://vov.example/vov1",
                "unsupported scheme \"rtsp\" (only http:// streams can be relayed)",
            ),
            (
                "vov.example/vov1",
                "not a URL (expected http://host[:port]/path)",
            ),
            ("http:///vov1", "bad host \"\""),
        ];
        for (url, reason) in cases {
            let text = relay_programme(&format!("relay = \"{url}\"\nduration_minutes = 60\n"));
            assert_eq!(
                errors_of(&text),
                [format!("s.toml:4: vov.relay: \"{url}\": {reason}")]
            );
        }
    }

    #[test]
    fn validating_a_relay_does_not_connect_to_its_stream() {
        // Nothing listens at this address (TEST-NET-1, RFC 5737): a connection attempt would
        // hang until a timeout. With audio checks on, as `loaxa validate` runs, it loads at once.
        let text =
            relay_programme("relay = \"http://192.0.2.1:8000/vov1\"\nduration_minutes = 60\n");
        let options = LoadOptions {
            check_audio: Some(|_| Err(crate::trouble::AudioTrouble::Unrecognised)),
            ..options()
        };
        let started = std::time::Instant::now();
        let loaded = parse(&text, Path::new("s.toml"), &options);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
    }

    #[test]
    fn fallback_items_are_checked_like_items_and_named_by_position() {
        let text = relay_programme(
            "relay = \"http://vov.example/vov1\"\nduration_minutes = 60\nfallback = [\"chime\", \"audio/khong-co.mp3\", \"bulletin:../x\"]\n",
        );
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("s.toml:6: vov.fallback[1]: ")
                && errors[0].ends_with("audio/khong-co.mp3: no such audio file"),
            "{errors:?}"
        );
        assert_eq!(
            errors[1],
            "s.toml:6: vov.fallback[2]: \"../x\" is not a valid bulletin id"
        );
    }
}
