//! The commune operator's commands, talking to the running daemon over its control socket
//! (`crate::control`): `status`, `today`, `stop`, `volume`, `play-now`, `program …`. Every line
//! they print is in the operator's language (`crate::text`); times are local, dd/mm/yyyy.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, FixedOffset, Utc};
use clap::Subcommand;

use super::when::{self, Moment};
use super::{ConfigArg, words_for};
use crate::config::Config;
use crate::control::{
    Airing, Answer, Link, LocalProgram, Problem, Refusal, Reply, Request, Status, Today, Trouble,
    Upcoming, ask,
};
use crate::reason::spoken_span;
use crate::store::SetBy;
use crate::text::schedule::{fault_words, item_words};
use crate::text::{Words, arg};
use loaxa_core::protocol::{Origin, Scope};
use loaxa_core::schedule::Priority;

#[derive(Subcommand)]
pub enum OperatorCommand {
    /// What is on air, what comes next, the link, the disk, recent problems
    Status {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Today's timeline: what aired, what was missed and why, what is still to come
    Today {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Fade out and end the programme on air
    Stop {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Show the master volume, or set it: 0–100 (`60` or `60%`)
    Volume {
        #[arg(allow_hyphen_values = true)]
        level: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Air a file or a bulletin now (after the chime), through the cut-in rules
    PlayNow {
        /// An audio file, or `bulletin:ID`
        item: String,
        /// The bulletin level it airs at
        #[arg(long, value_enum, default_value_t = Priority::Normal)]
        priority: Priority,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Local programmes, kept in the box's store
    Program {
        #[command(subcommand)]
        action: ProgramCommand,
    },
}

#[derive(Subcommand)]
pub enum ProgramCommand {
    /// Add a local programme airing FILE at set times (`--at` or `--cron`)
    #[command(group(clap::ArgGroup::new("when").required(true).args(["at", "cron"])))]
    Add {
        file: PathBuf,
        /// When it airs once: `17:30` (the next 17:30), `17h30 05/12/2026`, `2026-12-05 17:30`
        /// (repeat for several)
        #[arg(long)]
        at: Vec<String>,
        /// When it repeats, crontab(5) syntax, e.g. "30 17 * * 1-5" (17:30 Monday to Friday)
        #[arg(long, conflicts_with = "at")]
        cron: Option<String>,
        /// Its name in lists and commands (default: the file name)
        #[arg(long)]
        id: Option<String>,
        /// What people call it (default: its id)
        #[arg(long)]
        title: Option<String>,
        /// The bulletin level it airs at (an emergency is the district's, not a local programme's)
        #[arg(long, value_enum, default_value_t = Priority::Normal)]
        priority: Priority,
        /// Replace the programme of the same id, if there is one
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The local programmes, with their next airing
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Delete a local programme
    Remove {
        /// The programme's id (as `program list` shows it)
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Let a disabled local programme air again
    Enable {
        /// The programme's id (as `program list` shows it)
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Keep a local programme but stop it from airing
    Disable {
        /// The programme's id (as `program list` shows it)
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub fn run(command: OperatorCommand) -> Result<()> {
    match command {
        OperatorCommand::Status { config } => {
            let (config, words) = load(&config)?;
            match request(&config, &words, Request::Status {})? {
                Answer::Status(status) => print_status(&status, &config, &words),
                other => return Err(mismatched(&other, &words)),
            }
        }
        OperatorCommand::Today { config } => {
            let (config, words) = load(&config)?;
            match request(&config, &words, Request::Today {})? {
                Answer::Today(today) => print_today(&today, &config, &words),
                other => return Err(mismatched(&other, &words)),
            }
        }
        OperatorCommand::Stop { config } => {
            let (config, words) = load(&config)?;
            match request(&config, &words, Request::Stop {})? {
                Answer::Stop {} => println!("{}", words.t("stop-done")),
                other => return Err(mismatched(&other, &words)),
            }
        }
        OperatorCommand::Volume { level, config } => {
            let (config, words) = load(&config)?;
            let percent = level
                .as_deref()
                .map(|text| {
                    parse_volume(text)
                        .ok_or_else(|| anyhow!(words.t_args("volume-bad", &[("text", arg(text))])))
                })
                .transpose()?;
            match request(&config, &words, Request::Volume { percent })? {
                Answer::Volume { volume, set_by } => {
                    let id = if percent.is_some() {
                        "volume-set"
                    } else {
                        "volume-now"
                    };
                    let by = match set_by {
                        SetBy::Default => "default",
                        SetBy::Operator => "operator",
                        SetBy::District => "district",
                    };
                    println!(
                        "{}",
                        words.t_args(id, &[("percent", arg(volume)), ("by", arg(by))])
                    );
                }
                other => return Err(mismatched(&other, &words)),
            }
        }
        OperatorCommand::PlayNow {
            item,
            priority,
            config,
        } => {
            let (config, words) = load(&config)?;
            let item = item_for_box(&item, &config.media_dir, &words)?;
            let options = config.local_schedule_options(Some(loaxa_media::decode::check_file));
            if let Err(fault) = loaxa_core::schedule::item(&item, &options) {
                bail!(item_words(&fault, &words));
            }
            let asked = Request::PlayNow {
                item: item.clone(),
                priority,
            };
            let args = [
                ("item", arg(&item)),
                ("level", arg(words.t(level_id(priority)))),
            ];
            match request(&config, &words, asked)? {
                Answer::PlayNow { queued: false } => {
                    println!("{}", words.t_args("play-now-on-air", &args))
                }
                Answer::PlayNow { queued: true } => {
                    println!("{}", words.t_args("play-now-queued", &args))
                }
                other => return Err(mismatched(&other, &words)),
            }
        }
        OperatorCommand::Program { action } => program(action)?,
    }
    Ok(())
}

fn load(config: &ConfigArg) -> Result<(Config, Words)> {
    let config = config.load()?;
    let words = words_for(Some(&config))?;
    Ok((config, words))
}

/// `60`, `60%`, `60 %`: a level from 0 to 100.
fn parse_volume(text: &str) -> Option<u8> {
    let number = text.trim().strip_suffix('%').unwrap_or(text.trim()).trim();
    number.parse::<u8>().ok().filter(|p| *p <= 100)
}

fn program(action: ProgramCommand) -> Result<()> {
    match action {
        ProgramCommand::Add {
            file,
            at,
            cron,
            id,
            title,
            priority,
            replace,
            config,
        } => {
            let (config, words) = load(&config)?;
            let item = item_for_box(&file.to_string_lossy(), &config.media_dir, &words)?;
            let id = id.unwrap_or_else(|| default_id(&file));
            let when = match cron {
                Some(cron) => format!("cron = {}", quoted(&cron)),
                None => {
                    let times = at
                        .iter()
                        .map(|text| one_off(text, &config, &words))
                        .collect::<Result<Vec<_>>>()?;
                    format!("at = [{}]", times.join(", "))
                }
            };
            let listed = match request(&config, &words, Request::ProgramList {})? {
                Answer::ProgramList { programs } => programs,
                other => return Err(mismatched(&other, &words)),
            };
            if !replace && listed.iter().any(|p| p.id == id) {
                bail!(words.t_args("program-exists", &[("id", arg(&id))]));
            }
            let title = title.unwrap_or_else(|| id.clone());
            let schedule = format!(
                "[[program]]\nid = {}\ntitle = {}\n{when}\nitems = [\"chime\", {}]\npriority = \"{}\"\n",
                quoted(&id),
                quoted(&title),
                quoted(&item),
                priority,
            );
            // Checked here first, as the daemon will, so that what is wrong is said in the
            // operator's words rather than as the daemon's refusal.
            let options = config.local_schedule_options(Some(loaxa_media::decode::check_file));
            let checked = loaxa_core::schedule::parse(&schedule, Path::new(&id), &options);
            if let Some(error) = checked.errors.first() {
                bail!(fault_words(&error.fault, &words));
            }
            let next = match request(&config, &words, Request::ProgramAdd { schedule })? {
                Answer::ProgramAdd { next, .. } => next,
                other => return Err(mismatched(&other, &words)),
            };
            let args = [("title", arg(&title)), ("id", arg(&id))];
            match next {
                Some(next) => {
                    let at = next.with_timezone(&config.timezone);
                    let mut args = args.to_vec();
                    args.push(("when", arg(words.moment(&at))));
                    println!("{}", words.t_args("program-added", &args));
                    warn_same_minute(&config, &words, &id, next)?;
                }
                None => println!("{}", words.t_args("program-added-never", &args)),
            }
        }
        ProgramCommand::List { config } => {
            let (config, words) = load(&config)?;
            let programs = match request(&config, &words, Request::ProgramList {})? {
                Answer::ProgramList { programs } => programs,
                other => return Err(mismatched(&other, &words)),
            };
            if programs.is_empty() {
                println!("{}", words.t("program-none"));
                return Ok(());
            }
            let header = [
                words.t("program-column-id"),
                words.t("program-column-title"),
                words.t("program-column-airs"),
                words.t("program-column-when"),
                words.t("program-column-state"),
                words.t("program-column-next"),
            ];
            let rows = programs.iter().map(|p| {
                let content: Vec<&str> = p
                    .items
                    .iter()
                    .map(String::as_str)
                    .filter(|item| *item != loaxa_core::schedule::CHIME)
                    .collect();
                [
                    p.id.clone(),
                    p.title.clone(),
                    content.join(", "),
                    when_words(p, &config, &words),
                    words.t(if p.enabled {
                        "program-enabled"
                    } else {
                        "program-disabled"
                    }),
                    p.next.map_or("—".into(), |t| {
                        words.moment(&t.with_timezone(&config.timezone))
                    }),
                ]
            });
            print!(
                "{}",
                loaxa_core::report::table(
                    &header.iter().map(String::as_str).collect::<Vec<_>>(),
                    rows
                )
            );
        }
        ProgramCommand::Remove { id, config } => {
            let (config, words) = load(&config)?;
            match request(&config, &words, Request::ProgramRemove { id: id.clone() })? {
                Answer::ProgramRemove {} => {
                    println!("{}", words.t_args("program-removed", &[("id", arg(&id))]))
                }
                other => return Err(mismatched(&other, &words)),
            }
        }
        ProgramCommand::Enable { id, config } => enable(&id, &config, true)?,
        ProgramCommand::Disable { id, config } => enable(&id, &config, false)?,
    }
    Ok(())
}

/// When a local programme airs: "hằng ngày 17:30" for a daily time, else its cron line, or its
/// one-off times.
fn when_words(programme: &LocalProgram, config: &Config, words: &Words) -> String {
    if let Some(cron) = &programme.cron {
        let fields: Vec<&str> = cron.split_whitespace().collect();
        let number = |text: &str, max: u32| text.parse::<u32>().ok().filter(|n| *n <= max);
        return match fields.as_slice() {
            [minute, hour, "*", "*", "*"] => match (number(minute, 59), number(hour, 23)) {
                (Some(m), Some(h)) => {
                    words.t_args("when-daily", &[("time", arg(format!("{h:02}:{m:02}")))])
                }
                _ => words.t_args("when-cron", &[("cron", arg(cron))]),
            },
            _ => words.t_args("when-cron", &[("cron", arg(cron))]),
        };
    }
    programme
        .at
        .iter()
        .map(|t| words.moment(&t.with_timezone(&config.timezone)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One `--at` as the schedule's local time, refused with the reason when it cannot be read or
/// has passed.
fn one_off(text: &str, config: &Config, words: &Words) -> Result<String> {
    let now = Utc::now();
    let local_now = now.with_timezone(&config.timezone).naive_local();
    let Moment { local, .. } =
        when::parse_moment(text, local_now).map_err(|e| anyhow!(e.said(words)))?;
    let instant = loaxa_core::schedule::resolve_local(config.timezone, local);
    if instant <= now {
        bail!(words.t_args(
            "when-past",
            &[
                (
                    "when",
                    arg(words.moment(&instant.with_timezone(&config.timezone)))
                ),
                (
                    "now",
                    arg(words.moment(&now.with_timezone(&config.timezone)))
                ),
            ],
        ));
    }
    Ok(quoted(&local.format("%Y-%m-%dT%H:%M:%S").to_string()))
}

/// Two programmes in the same minute: the later one waits for the first, or cuts it if its
/// level is higher. Said, not refused: the operator may mean it.
fn warn_same_minute(
    config: &Config,
    words: &Words,
    id: &str,
    next: DateTime<FixedOffset>,
) -> Result<()> {
    let Answer::Status(status) = request(config, words, Request::Status {})? else {
        return Ok(());
    };
    let minute = |t: DateTime<FixedOffset>| t.timestamp().div_euclid(60);
    for other in status
        .next
        .iter()
        .filter(|u| u.program != id && minute(u.at) == minute(next))
    {
        eprintln!(
            "{}",
            words.t_args(
                "program-same-minute",
                &[("other", arg(described(&other.program, &other.title, words)))]
            )
        );
    }
    Ok(())
}

fn enable(id: &str, config: &ConfigArg, enabled: bool) -> Result<()> {
    let (config, words) = load(config)?;
    let asked = Request::ProgramEnable {
        id: id.to_owned(),
        enabled,
    };
    match request(&config, &words, asked)? {
        Answer::ProgramEnable {} => {
            let done = if enabled {
                "program-enable-done"
            } else {
                "program-disable-done"
            };
            println!("{}", words.t_args(done, &[("id", arg(id))]));
            Ok(())
        }
        other => Err(mismatched(&other, &words)),
    }
}

/// Sends `request` to the daemon of `config`; its answer, or its refusal as an error.
fn request(config: &Config, words: &Words, request: Request) -> Result<Answer> {
    match super::block_on(ask(&config.control_socket, &request))?? {
        Reply::Done(answer) => Ok(answer),
        Reply::Refused(refusal) => bail!(refused(&refusal, config, words)),
    }
}

/// The daemon's refusal, in the operator's words.
pub(super) fn refused(refusal: &Refusal, config: &Config, words: &Words) -> String {
    let reason = match refusal {
        Refusal::NothingOnAir => words.t("refusal-nothing-on-air"),
        Refusal::VolumeOutOfRange { percent } => {
            words.t_args("volume-bad", &[("text", arg(percent))])
        }
        Refusal::NoSuchProgramme { id } => {
            words.t_args("refusal-no-such-programme", &[("id", arg(id))])
        }
        Refusal::InScheduleFile { id, file } => words.t_args(
            "refusal-in-schedule-file",
            &[("id", arg(id)), ("file", arg(file))],
        ),
        Refusal::FromTheOffice { id, scope } => words.t_args(
            "refusal-from-the-office",
            &[("id", arg(id)), ("scope", arg(scope))],
        ),
        Refusal::IdTaken { id } => words.t_args("refusal-id-taken", &[("id", arg(id))]),
        Refusal::OutsideWindows { at, windows } => words.t_args(
            "refusal-outside-windows",
            &[("time", arg(at.format("%H:%M"))), ("windows", arg(windows))],
        ),
        Refusal::NotAired { reasons } => words.t_args(
            "refusal-not-aired",
            &[("reasons", arg(reasons.in_words(words, config.timezone)))],
        ),
        Refusal::PermissionDenied { uid, .. } => words.t_args(
            "refusal-permission",
            &[("uid", arg(uid)), ("group", arg(crate::control::GROUP))],
        ),
        Refusal::Busy { .. } => words.t("refusal-busy"),
        // The checks' and the store's own words, which the CLI has said already where it could.
        Refusal::Schedule { message } | Refusal::Failed { error: message } => message.clone(),
        // Only a daemon of another version misreads what this CLI writes.
        Refusal::Malformed { error } => {
            words.t_args("refusal-malformed", &[("detail", arg(error))])
        }
    };
    words.t_args("daemon-refused", &[("reason", arg(reason))])
}

/// A daemon that answers another request than the one asked is broken (or not the same
/// version); showing its answer as if it were the one asked for would mislead the operator.
fn mismatched(answer: &Answer, words: &Words) -> anyhow::Error {
    let shown = serde_json::to_string(answer).unwrap_or_else(|e| e.to_string());
    anyhow!(words.t_args("daemon-mismatched", &[("answer", arg(shown))]))
}

/// The item as the daemon is to read it (the daemon does not share our working directory): a
/// file under the box's media directory relative to it, as a schedule names it; any other file
/// by its absolute path, which the box refuses unless its configuration lets local programmes
/// name files anywhere. `bulletin:ID` and `chime` go as they are.
fn item_for_box(item: &str, media_dir: &Path, words: &Words) -> Result<String> {
    if item == "chime" || item.starts_with("bulletin:") {
        return Ok(item.to_owned());
    }
    let path = std::fs::canonicalize(item)
        .map_err(|_| anyhow!(words.t_args("file-missing", &[("file", arg(item))])))?;
    let inside = std::fs::canonicalize(media_dir)
        .ok()
        .and_then(|media| path.strip_prefix(media).ok().map(Path::to_path_buf));
    Ok(inside.unwrap_or(path).to_string_lossy().into_owned())
}

/// The file name without extension, as a programme id.
fn default_id(file: &Path) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let id: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if id.is_empty() { "local".into() } else { id }
}

/// A TOML string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn print_status(status: &Status, config: &Config, words: &Words) {
    let disk = status
        .disk_free
        .map_or(words.t("status-disk-unknown"), |b| {
            words.t_args(
                "status-disk-gb",
                &[("gb", arg(format!("{:.1}", b as f64 / 1e9)))],
            )
        });
    let link = match status.link {
        Link::Offline => "link-none",
        Link::Connected => "link-connected",
        Link::Disconnected => "link-disconnected",
    };
    println!(
        "{}",
        words.t_args("status-box", &[("box", arg(&status.box_id))])
    );
    for (label, value) in [
        ("status-link", words.t(link)),
        ("status-volume", format!("{} %", status.volume)),
        ("status-windows", status.windows.clone()),
        ("status-disk", disk),
    ] {
        println!("  {}: {value}", words.t(label));
    }
    match status.on_air.as_slice() {
        [top, below @ ..] => {
            println!("{}: {}", words.t("status-on-air"), airing(top, words));
            for cut in below {
                println!(
                    "  {}",
                    words.t_args("status-cut", &[("programme", arg(airing(cut, words)))])
                );
            }
        }
        [] => println!(
            "{}: {}",
            words.t("status-on-air"),
            words.t("status-nothing")
        ),
    }
    if status.next.is_empty() {
        println!("{}: {}", words.t("status-next"), words.t("status-nothing"));
    } else {
        println!("{}:", words.t("status-next"));
        for next in &status.next {
            println!("  {}", upcoming_line(next, config, words));
        }
    }
    if status.problems.is_empty() {
        println!("{}: {}", words.t("status-problems"), words.t("status-none"));
    } else {
        println!("{}:", words.t("status-problems"));
        for problem in &status.problems {
            println!("  {}", problem_line(problem, config, words));
        }
    }
}

/// "17:30 thứ Tư 02/12/2026  Bản tin sáng (sang): bỏ lỡ, đã quá giờ hơn 10 phút …"
fn problem_line(problem: &Problem, config: &Config, words: &Words) -> String {
    let tz = config.timezone;
    let what = match &problem.what {
        Trouble::Programme {
            program,
            title,
            outcome,
            reasons,
        } => {
            let programme = arg(described(program, title, words));
            let outcome = arg(words.t(super::outcome_id(*outcome)));
            if reasons.is_empty() {
                words.t_args(
                    "problem-programme-bare",
                    &[("programme", programme), ("outcome", outcome)],
                )
            } else {
                words.t_args(
                    "problem-programme",
                    &[
                        ("programme", programme),
                        ("outcome", outcome),
                        ("reasons", arg(reasons.in_words(words, tz))),
                    ],
                )
            }
        }
        Trouble::NotSaved { error } => words.t_args("problem-not-saved", &[("error", arg(error))]),
        Trouble::ClockStepped { by_ms } => words.t_args(
            if *by_ms < 0 {
                "problem-clock-back"
            } else {
                "problem-clock-forward"
            },
            &[("span", arg(spoken_span(words, *by_ms)))],
        ),
    };
    format!("{}  {what}", words.moment(&problem.at.with_timezone(&tz)))
}

fn print_today(today: &Today, config: &Config, words: &Words) {
    if today.log.is_empty() {
        println!("{}", words.t("today-nothing-yet"));
    } else {
        print!("{}", super::log_table(&today.log, config.timezone, words));
    }
    if today.coming.is_empty() {
        println!("\n{}", words.t("today-nothing-more"));
    } else {
        println!("\n{}", words.t("today-still-to-come"));
        for next in &today.coming {
            println!("  {}", upcoming_line(next, config, words));
        }
    }
}

/// "Bản tin sáng (tin-sang), mức khẩn cấp" — the level only when it is not the usual one.
fn airing(programme: &Airing, words: &Words) -> String {
    with_level(
        described(&programme.program, &programme.title, words),
        programme.level,
        words,
    )
}

/// "17:30 thứ Tư 02/12/2026  Bản tin chiều (tin-chieu)  [lịch của xã]  bulletin:tin-chieu"
pub(super) fn upcoming_line(programme: &Upcoming, config: &Config, words: &Words) -> String {
    let at = words.moment(&programme.at.with_timezone(&config.timezone));
    let what = with_level(
        described(&programme.program, &programme.title, words),
        programme.level,
        words,
    );
    let content: Vec<&str> = programme
        .items
        .iter()
        .map(String::as_str)
        .filter(|item| *item != loaxa_core::schedule::CHIME)
        .collect();
    let line = words.t_args(
        "upcoming",
        &[
            ("when", arg(at)),
            ("what", arg(what)),
            ("origin", arg(words.t(origin_id(&programme.origin)))),
        ],
    );
    if content.is_empty() {
        line
    } else {
        format!("{line}  {}", content.join(", "))
    }
}

/// Who made a programme, in the words of the commune: the district's office (or province's),
/// the commune's, sent for this box alone, or the box's own.
fn origin_id(origin: &Origin) -> &'static str {
    match origin {
        Origin::Schedule { scope, .. } | Origin::Command { scope, .. } => match scope {
            Scope::All | Scope::District(_) => "origin-district",
            Scope::Commune(_) => "origin-commune",
            Scope::Box(_) => "origin-box",
        },
        Origin::Local => "origin-local",
        Origin::Operator => "origin-operator",
    }
}

fn with_level(what: String, level: Priority, words: &Words) -> String {
    match level {
        Priority::Normal => what,
        _ => format!("{what}, {}", words.t(level_id(level))),
    }
}

/// The title, and the id when it says something more; a play-now (the operator's or the
/// office's) is said to be one rather than named by the daemon's made-up id.
pub(crate) fn described(program: &str, title: &str, words: &Words) -> String {
    if crate::daemon::origin::is_play_now(program) {
        format!("{title} ({})", words.t("programme-played-now"))
    } else if title == program || title.is_empty() {
        program.to_owned()
    } else {
        format!("{title} ({program})")
    }
}

pub fn level_id(level: Priority) -> &'static str {
    match level {
        Priority::Normal => "level-normal",
        Priority::Priority => "level-priority",
        Priority::Emergency => "level-emergency",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_the_daemon_cannot_read_is_told_as_a_version_mismatch_without_its_english() {
        let config = Config::parse("", Path::new("box.toml")).unwrap();
        let words = Words::new(crate::text::Lang::Vi).unwrap();
        let refusal = Refusal::Malformed {
            error: "unknown field `from`, expected `count`".into(),
        };
        let said = refused(&refusal, &config, &words);
        assert!(said.contains("khác phiên bản"), "{said}");
        assert!(!said.contains("unknown field"), "{said}");
    }

    #[test]
    fn a_volume_is_a_number_to_100_with_or_without_a_percent_sign() {
        assert_eq!(parse_volume("60"), Some(60));
        assert_eq!(parse_volume("60%"), Some(60));
        assert_eq!(parse_volume(" 60 % "), Some(60));
        assert_eq!(parse_volume("0"), Some(0));
        assert_eq!(parse_volume("100"), Some(100));
        for text in ["101", "-5", "", "%", "nửa", "50.5", "1000"] {
            assert_eq!(parse_volume(text), None, "{text}");
        }
    }

    #[test]
    fn a_programme_is_named_by_its_title_and_its_id_when_they_differ() {
        let words = &Words::new(crate::text::Lang::Vi).unwrap();
        assert_eq!(
            described("tin-sang", "Bản tin sáng", words),
            "Bản tin sáng (tin-sang)"
        );
        assert_eq!(described("tin-sang", "tin-sang", words), "tin-sang");
        assert_eq!(
            described("play-now-tin-sang", "Bản tin sáng", words),
            "Bản tin sáng (phát ngay)"
        );
    }
}
