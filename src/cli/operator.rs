//! The commune operator's commands, talking to the running daemon over its control socket
//! (`crate::control`): `status`, `today`, `stop`, `volume`, `play-now`, `program …`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, FixedOffset};
use clap::Subcommand;

use super::ConfigArg;
use crate::config::Config;
use crate::control::{Airing, Answer, Reply, Request, Status, Today, Upcoming, ask};
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
    /// Set the master volume, 0–100
    Volume {
        percent: u8,
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
    /// Add (or replace) a local programme airing FILE at set times
    Add {
        file: PathBuf,
        /// One-off local times, `YYYY-MM-DDTHH:MM[:SS]` (repeat for several)
        #[arg(long, required_unless_present = "cron")]
        at: Vec<String>,
        /// Repeating times, crontab(5) syntax, e.g. "30 17 * * 1-5"
        #[arg(long, conflicts_with = "at")]
        cron: Option<String>,
        /// Default: the file name
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        title: Option<String>,
        /// The bulletin level it airs at (an emergency is the district's, not a local programme's)
        #[arg(long, value_enum, default_value_t = Priority::Normal)]
        priority: Priority,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The local programmes, with their next airing
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
    Remove {
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    Enable {
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    Disable {
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub fn run(command: OperatorCommand) -> Result<()> {
    match command {
        OperatorCommand::Status { config } => {
            let config = config.load()?;
            match request(&config, Request::Status {})? {
                Answer::Status(status) => print_status(&status, &config),
                other => return Err(mismatched(&other)),
            }
        }
        OperatorCommand::Today { config } => {
            let config = config.load()?;
            match request(&config, Request::Today {})? {
                Answer::Today(today) => print_today(&today, &config),
                other => return Err(mismatched(&other)),
            }
        }
        OperatorCommand::Stop { config } => match request(&config.load()?, Request::Stop {})? {
            Answer::Stop {} => println!("stopping the programme on air"),
            other => return Err(mismatched(&other)),
        },
        OperatorCommand::Volume { percent, config } => {
            match request(&config.load()?, Request::Volume { percent })? {
                Answer::Volume { volume } => println!("volume {volume}%"),
                other => return Err(mismatched(&other)),
            }
        }
        OperatorCommand::PlayNow {
            item,
            priority,
            config,
        } => {
            let config = config.load()?;
            let item = item_for_box(&item, &config.media_dir)?;
            let asked = Request::PlayNow {
                item: item.clone(),
                priority,
            };
            match request(&config, asked)? {
                Answer::PlayNow { queued: false } => println!("on air now: {item} ({priority})"),
                Answer::PlayNow { queued: true } => {
                    println!("queued: {item} ({priority}) airs once the programme on air ends")
                }
                other => return Err(mismatched(&other)),
            }
        }
        OperatorCommand::Program { action } => program(action)?,
    }
    Ok(())
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
            config,
        } => {
            let config = config.load()?;
            let item = item_for_box(&file.to_string_lossy(), &config.media_dir)?;
            let id = match id {
                Some(id) => id,
                None => default_id(&file),
            };
            let when = match cron {
                Some(cron) => format!("cron = {}", quoted(&cron)),
                None => format!(
                    "at = [{}]",
                    at.iter().map(|t| quoted(t)).collect::<Vec<_>>().join(", ")
                ),
            };
            let schedule = format!(
                "[[program]]\nid = {}\ntitle = {}\n{when}\nitems = [\"chime\", {}]\npriority = \"{}\"\n",
                quoted(&id),
                quoted(title.as_deref().unwrap_or(&id)),
                quoted(&item),
                priority,
            );
            match request(&config, Request::ProgramAdd { schedule })? {
                Answer::ProgramAdd { id, next } => println!(
                    "added {id}; next on air {}",
                    next.map_or("never (no time ahead)".into(), |t| t.to_rfc3339())
                ),
                other => return Err(mismatched(&other)),
            }
        }
        ProgramCommand::List { config } => {
            let programs = match request(&config.load()?, Request::ProgramList {})? {
                Answer::ProgramList { programs } => programs,
                other => return Err(mismatched(&other)),
            };
            if programs.is_empty() {
                println!("no local programmes");
            }
            for p in programs {
                println!(
                    "{:<24} {:<9} next {}",
                    p.id,
                    if p.enabled { "enabled" } else { "disabled" },
                    p.next.map_or("-".into(), |t| t.to_rfc3339()),
                );
            }
        }
        ProgramCommand::Remove { id, config } => {
            let asked = Request::ProgramRemove { id: id.clone() };
            match request(&config.load()?, asked)? {
                Answer::ProgramRemove {} => println!("removed {id}"),
                other => return Err(mismatched(&other)),
            }
        }
        ProgramCommand::Enable { id, config } => enable(&id, &config, true)?,
        ProgramCommand::Disable { id, config } => enable(&id, &config, false)?,
    }
    Ok(())
}

fn enable(id: &str, config: &ConfigArg, enabled: bool) -> Result<()> {
    let request_ = Request::ProgramEnable {
        id: id.to_owned(),
        enabled,
    };
    match request(&config.load()?, request_)? {
        Answer::ProgramEnable {} => {
            println!("{} {id}", if enabled { "enabled" } else { "disabled" });
            Ok(())
        }
        other => Err(mismatched(&other)),
    }
}

/// Sends `request` to the daemon of `config`; its answer, or its refusal as an error.
fn request(config: &Config, request: Request) -> Result<Answer> {
    match super::block_on(ask(&config.control_socket, &request))?? {
        Reply::Done(answer) => Ok(answer),
        Reply::Refused(error) => bail!("{error}"),
    }
}

/// A daemon that answers another request than the one asked is broken (or not the same
/// version); showing its answer as if it were the one asked for would mislead the operator.
fn mismatched(answer: &Answer) -> anyhow::Error {
    let shown = serde_json::to_string(answer).unwrap_or_else(|e| e.to_string());
    anyhow!("the daemon's reply does not answer this command: {shown}")
}

/// Files are passed to the daemon as absolute paths (it runs elsewhere); `bulletin:ID` and
/// `chime` as they are.
/// The item as the daemon is to read it (the daemon does not share our working directory): a
/// file under the box's media directory relative to it, as a schedule names it; any other file
/// by its absolute path, which the box refuses unless its configuration lets local programmes
/// name files anywhere.
fn item_for_box(item: &str, media_dir: &Path) -> Result<String> {
    if item == "chime" || item.starts_with("bulletin:") {
        return Ok(item.to_owned());
    }
    let path = std::fs::canonicalize(item).with_context(|| format!("{item}: no such file"))?;
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

fn print_status(status: &Status, config: &Config) {
    let disk = status
        .disk_free
        .map_or("unknown".into(), |b| format!("{:.1} GB", b as f64 / 1e9));
    println!(
        "box {}: link {}, disk free {disk}, volume {}%, broadcast windows {}",
        status.box_id, status.link, status.volume, status.windows,
    );
    match status.on_air.as_slice() {
        [top, below @ ..] => {
            println!("on air: {}", describe(top));
            for cut in below {
                println!("  (cut, resumes afterwards: {})", describe(cut));
            }
        }
        [] => println!("on air: nothing"),
    }
    println!("next:");
    for next in &status.next {
        println!(
            "  {}  {}",
            local_time(next.at, config),
            describe_upcoming(next)
        );
    }
    if status.problems.is_empty() {
        println!("recent problems: none");
    } else {
        println!("recent problems:");
        for problem in &status.problems {
            println!("  {problem}");
        }
    }
}

fn print_today(today: &Today, config: &Config) {
    if today.log.is_empty() {
        println!("Nothing aired yet today.");
    } else {
        print!("{}", super::log_table(&today.log, config.timezone));
    }
    if today.coming.is_empty() {
        println!("\nNothing more today.");
    } else {
        println!("\nStill to come today:");
        for next in &today.coming {
            println!(
                "  {}  {}",
                local_time(next.at, config),
                describe_upcoming(next)
            );
        }
    }
}

fn describe(programme: &Airing) -> String {
    described(&programme.program, &programme.title, programme.level)
}

fn describe_upcoming(programme: &Upcoming) -> String {
    described(&programme.program, &programme.title, programme.level)
}

fn described(program: &str, title: &str, level: Priority) -> String {
    format!("{program} \"{title}\" ({level})")
}

fn local_time(at: DateTime<FixedOffset>, config: &Config) -> String {
    at.with_timezone(&config.timezone)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}
