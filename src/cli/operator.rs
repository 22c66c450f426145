//! The commune operator's commands, talking to the running daemon over its control socket
//! (`crate::control`): `status`, `today`, `stop`, `volume`, `play-now`, `program …`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde_json::Value;

use super::ConfigArg;
use crate::config::Config;
use crate::control::{Request, ask};
use crate::store::AsRunEntry;
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
        /// normal, priority or emergency (an emergency cuts whatever is on air)
        #[arg(long, default_value = "normal")]
        priority: String,
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
        #[arg(long, default_value = "normal")]
        priority: String,
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
            print_status(&request(&config, Request::Status)?, &config);
        }
        OperatorCommand::Today { config } => {
            let config = config.load()?;
            print_today(&request(&config, Request::Today)?, &config)?;
        }
        OperatorCommand::Stop { config } => {
            request(&config.load()?, Request::Stop)?;
            println!("stopping the programme on air");
        }
        OperatorCommand::Volume { percent, config } => {
            request(&config.load()?, Request::Volume { percent })?;
            println!("volume {percent}%");
        }
        OperatorCommand::PlayNow {
            item,
            priority,
            config,
        } => {
            let config = config.load()?;
            let item = item_for_box(&item, &config.media_dir)?;
            let priority = parse_priority(&priority)?;
            request(
                &config,
                Request::PlayNow {
                    item: item.clone(),
                    priority,
                },
            )?;
            println!("on air now: {item} ({priority})");
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
                parse_priority(&priority)?,
            );
            let reply = request(&config, Request::ProgramAdd { schedule })?;
            let next = reply["next"].as_str().unwrap_or("never (no time ahead)");
            println!("added {id}; next on air {next}");
        }
        ProgramCommand::List { config } => {
            let reply = request(&config.load()?, Request::ProgramList)?;
            let list = reply.as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("no local programmes");
            }
            for p in list {
                println!(
                    "{:<24} {:<9} next {}",
                    p["id"].as_str().unwrap_or("?"),
                    if p["enabled"].as_bool() == Some(true) {
                        "enabled"
                    } else {
                        "disabled"
                    },
                    p["next"].as_str().unwrap_or("-"),
                );
            }
        }
        ProgramCommand::Remove { id, config } => {
            request(&config.load()?, Request::ProgramRemove { id: id.clone() })?;
            println!("removed {id}");
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
    request(&config.load()?, request_)?;
    println!("{} {id}", if enabled { "enabled" } else { "disabled" });
    Ok(())
}

/// Sends `request` to the daemon of `config`; its data, or its refusal as an error.
fn request(config: &Config, request: Request) -> Result<Value> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let reply = runtime.block_on(ask(&config.control_socket, &request))?;
    match reply.error {
        Some(error) if !reply.ok => bail!("{error}"),
        _ => Ok(reply.data),
    }
}

fn parse_priority(text: &str) -> Result<Priority> {
    serde_json::from_value(Value::String(text.to_owned()))
        .map_err(|_| anyhow::anyhow!("--priority {text}: expected normal, priority or emergency"))
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

fn print_status(status: &Value, config: &Config) {
    let disk = status["disk_free"]
        .as_u64()
        .map_or("unknown".into(), |b| format!("{:.1} GB", b as f64 / 1e9));
    println!(
        "box {}: link {}, disk free {disk}, volume {}%, broadcast windows {}",
        status["box_id"].as_str().unwrap_or("?"),
        status["link"].as_str().unwrap_or("?"),
        status["volume"],
        status["windows"].as_str().unwrap_or("?"),
    );
    match status["on_air"].as_array().map(Vec::as_slice) {
        Some([top, below @ ..]) => {
            println!("on air: {}", describe(top));
            for cut in below {
                println!("  (cut, resumes afterwards: {})", describe(cut));
            }
        }
        _ => println!("on air: nothing"),
    }
    println!("next:");
    for next in status["next"].as_array().cloned().unwrap_or_default() {
        println!("  {}  {}", local_time(&next["at"], config), describe(&next));
    }
    let problems = status["problems"].as_array().cloned().unwrap_or_default();
    if problems.is_empty() {
        println!("recent problems: none");
    } else {
        println!("recent problems:");
        for problem in problems {
            println!("  {}", problem.as_str().unwrap_or("?"));
        }
    }
}

fn print_today(today: &Value, config: &Config) -> Result<()> {
    let log: Vec<AsRunEntry> = serde_json::from_value(today["log"].clone())
        .context("unreadable as-run log from the daemon")?;
    if log.is_empty() {
        println!("Nothing aired yet today.");
    } else {
        print!("{}", super::log_table(&log, config.timezone));
    }
    let coming = today["coming"].as_array().cloned().unwrap_or_default();
    if coming.is_empty() {
        println!("\nNothing more today.");
    } else {
        println!("\nStill to come today:");
        for next in coming {
            println!("  {}  {}", local_time(&next["at"], config), describe(&next));
        }
    }
    Ok(())
}

fn describe(programme: &Value) -> String {
    format!(
        "{} \"{}\" ({})",
        programme["program"].as_str().unwrap_or("?"),
        programme["title"].as_str().unwrap_or(""),
        programme["level"].as_str().unwrap_or("?"),
    )
}

fn local_time(at: &Value, config: &Config) -> String {
    at.as_str()
        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
        .map_or("?".into(), |t| {
            t.with_timezone(&config.timezone)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
}
