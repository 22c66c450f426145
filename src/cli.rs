//! The `loaxa` command line: one subcommand per job, each a short function over the library.
//! Errors become readable reports (anyhow) here and nowhere else.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use clap::{Parser, Subcommand};

mod operator;

use crate::audio::output::{Output, OutputSpec};
use crate::config::{Config, DEFAULT_CONFIG_PATH};
use crate::daemon::{self, RunUntil};
use crate::store::{AsRunEntry, Store};
use loaxa_core::schedule::plan::next_occurrences;
use loaxa_core::schedule::{self, LoadOptions, Loaded, Program};

#[derive(Parser)]
#[command(
    name = "loaxa",
    version,
    about = "The commune loudspeaker box: airs its schedule on time, offline"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the box daemon: air the schedules at their times (SIGTERM stops, SIGHUP reloads)
    Daemon {
        #[command(flatten)]
        config: ConfigArg,
        /// Override the config's audio output: default, null, wav:PATH or a device name
        #[arg(long)]
        output: Option<OutputSpec>,
    },
    /// Air a demo programme a few seconds from now, with the bundled schedules/ and audio/
    Demo {
        /// Audio output (default: the sound card, or a WAV file if there is none)
        #[arg(long)]
        output: Option<OutputSpec>,
        /// Keep the daemon running after the demo programme (Ctrl-C stops)
        #[arg(long)]
        keep_running: bool,
    },
    /// Check schedule files: exit 0 if valid, else print each problem with file, line and field
    Validate {
        /// Schedule files or directories of them
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Take the time zone and media directory from this box config
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List the upcoming occurrences, one per line: local time, programme id, title
    Next {
        /// Schedule files (default: the config's schedules directory)
        files: Vec<PathBuf>,
        #[command(flatten)]
        config: ConfigArg,
        /// Start from this instant (RFC 3339) instead of now
        #[arg(long)]
        from: Option<DateTime<chrono::FixedOffset>>,
        #[arg(long, default_value_t = 10)]
        count: usize,
    },
    /// Play files now (or `chime`), to test the loudspeakers
    Play {
        #[arg(required = true)]
        files: Vec<String>,
        #[arg(long)]
        output: Option<OutputSpec>,
        /// Volume, 0.0–1.0
        #[arg(long, default_value_t = 1.0)]
        volume: f32,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Show the as-run log: what aired, was missed or failed, and when
    Log {
        #[command(flatten)]
        config: ConfigArg,
        /// Only entries scheduled on or after this date (YYYY-MM-DD, local)
        #[arg(long)]
        since: Option<NaiveDate>,
        /// One JSON object per line, for scripts
        #[arg(long)]
        json: bool,
    },
    /// List the audio output devices
    Devices,
    #[command(flatten)]
    Operator(operator::OperatorCommand),
    /// The district office's commands live in their own tool, which the box does not carry:
    /// these say where they went.
    #[command(hide = true)]
    Publish(Moved),
    #[command(hide = true)]
    Send(Moved),
    #[command(hide = true)]
    Fleet(Moved),
    #[command(hide = true)]
    Key(Moved),
}

/// `--config`, which most subcommands take.
#[derive(clap::Args)]
struct ConfigArg {
    /// The box's configuration (TOML: id, directories, time zone, output, link); none at the
    /// default path means every default
    #[arg(long = "config", value_name = "FILE", default_value = DEFAULT_CONFIG_PATH)]
    path: PathBuf,
}

impl ConfigArg {
    fn load(&self) -> Result<Config> {
        Ok(Config::load(&self.path)?)
    }
}

#[derive(clap::Args)]
struct Moved {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

pub fn main() -> Result<()> {
    let cli = Cli::parse();
    loaxa_core::report::init_logging(cli.command.log_filter());
    match cli.command {
        Command::Daemon { config, output } => run_daemon(&config, output),
        Command::Demo {
            output,
            keep_running,
        } => demo(output, keep_running),
        Command::Validate { files, config } => validate(&files, config.as_deref()),
        Command::Next {
            files,
            config,
            from,
            count,
        } => next(&files, &config, from, count),
        Command::Play {
            files,
            output,
            volume,
            config,
        } => play(&files, output, volume, &config),
        Command::Log {
            config,
            since,
            json,
        } => log(&config, since, json),
        Command::Devices => devices(),
        Command::Operator(command) => operator::run(command),
        Command::Publish(_) => moved("publish"),
        Command::Send(_) => moved("send"),
        Command::Fleet(_) => moved("fleet"),
        Command::Key(_) => moved("key"),
    }
}

impl Command {
    /// The long-running commands narrate what they do; the others print results, and log only
    /// what went wrong. symphonia's own log lines duplicate our errors and are left out.
    fn log_filter(&self) -> &'static str {
        match self {
            Command::Daemon { .. } | Command::Demo { .. } => "info,symphonia=off",
            _ => "error,symphonia=off",
        }
    }
}

fn run_daemon(config: &ConfigArg, output: Option<OutputSpec>) -> Result<()> {
    let mut config = config.load()?;
    if let Some(output) = output {
        config.output = output;
    }
    block_on(daemon::run(&config, RunUntil::Signalled))??;
    Ok(())
}

fn moved(command: &str) -> Result<()> {
    bail!(
        "`loaxa {command}` is now `loaxa-district {command}`, the district office's tool (package loaxa-district); the box does not carry it"
    )
}

/// A one-shot runtime for a command's async work.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    loaxa_link::block_on(future).context("cannot start the async runtime")
}

fn validate(paths: &[PathBuf], config: Option<&Path>) -> Result<()> {
    let config = config.map(Config::load).transpose()?;
    let mut problems = 0;
    for file in expand_dirs(paths)? {
        let options = match &config {
            Some(c) => c.local_schedule_options(Some(loaxa_media::decode::check_file)),
            None => LoadOptions::standalone(&file, Some(loaxa_media::decode::check_file)),
        };
        let loaded = schedule::load_file(&file, &options);
        for error in &loaded.errors {
            eprintln!("{error}");
        }
        for warning in schedule::warnings(&loaded.programs, Utc::now()) {
            eprintln!("warning: {warning}");
        }
        problems += loaded.errors.len();
        if loaded.errors.is_empty() {
            println!(
                "{}: ok ({} programmes)",
                file.display(),
                loaded.programs.len()
            );
            print_loudness(&loaded.programs, config.as_ref());
        }
    }
    if problems > 0 {
        bail!("{problems} problem(s) found");
    }
    Ok(())
}

/// Each audio file's loudness, and the gain it will air with.
fn print_loudness(programs: &[Program], config: Option<&Config>) {
    let defaults = Config::default();
    let config = config.unwrap_or(&defaults);
    let mut seen = std::collections::BTreeSet::new();
    for program in programs {
        for item in &program.items {
            let schedule::Item::File { name, path, .. } = item else {
                continue;
            };
            if !seen.insert(path.clone()) {
                continue;
            }
            if let Ok(loudness) = loaxa_media::loudness::measure_file(path) {
                let gain = loaxa_media::loudness::playback_gain(
                    &loudness,
                    config.loudness_target,
                    config.true_peak_ceiling,
                );
                println!(
                    "  {name}: {}; airs at {:+.1} dB",
                    crate::levels::describe(&loudness),
                    20.0 * f64::from(gain).log10()
                );
            }
        }
    }
}

/// Directories stand for the `*.toml` files in them.
fn expand_dirs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("{}: cannot read directory", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            in_dir.sort();
            files.extend(in_dir);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn next(
    files: &[PathBuf],
    config: &ConfigArg,
    from: Option<DateTime<chrono::FixedOffset>>,
    count: usize,
) -> Result<()> {
    let loaded = if files.is_empty() {
        let config = config.load()?;
        let options = LoadOptions {
            windows: None,
            ..config.local_schedule_options(None)
        };
        schedule::load_dir(&config.schedules_dir, &options)
    } else {
        let mut loaded = Loaded::default();
        for file in expand_dirs(files)? {
            let options = LoadOptions {
                windows: None,
                ..LoadOptions::standalone(&file, None)
            };
            loaded.merge(schedule::load_file(&file, &options));
        }
        loaded
    };
    for error in &loaded.errors {
        eprintln!("warning: {error} (skipped)");
    }
    let programs: Vec<Arc<Program>> = loaded.programs.into_iter().map(Arc::new).collect();
    let from = from.map_or_else(Utc::now, |from| from.with_timezone(&Utc));
    for occurrence in next_occurrences(&programs, from, count) {
        let program = &occurrence.program;
        let local = occurrence.scheduled.with_timezone(&program.timezone);
        println!("{}  {}  {}", local.to_rfc3339(), program.id, program.title);
    }
    Ok(())
}

fn play(
    files: &[String],
    output: Option<OutputSpec>,
    volume: f32,
    config: &ConfigArg,
) -> Result<()> {
    if !(0.0..=1.0).contains(&volume) {
        bail!("--volume {volume} out of range 0.0–1.0");
    }
    let config = config.load()?;
    let items = files
        .iter()
        .map(|name| match name.as_str() {
            schedule::CHIME => schedule::Item::Chime,
            // The operator's own command line names the file: no directory confines it.
            _ => schedule::Item::File {
                name: name.clone(),
                path: PathBuf::from(name),
                within: None,
            },
        })
        .collect();
    let program = Arc::new(Program {
        volume,
        ..Program::immediate(
            "play",
            "loaxa play",
            items,
            schedule::Priority::Normal,
            config.timezone,
            "command line",
        )
    });
    let spec = output.unwrap_or(config.output.clone());
    let output = Output::open(&spec, config.sample_rate)
        .with_context(|| format!("cannot open output {spec}"))?;
    eprintln!("playing to {}", output.description());
    let device = crate::player::Device {
        spec,
        paced_rate: config.sample_rate,
    };
    let mut player = crate::player::Player::start(
        output,
        device,
        crate::amp::Amp::new(config.amplifier.clone()),
    )?;
    player.air(crate::player::AirRequest {
        tag: 0,
        program,
        start_at: Utc::now() + chrono::Duration::milliseconds(300),
    });
    let report = block_on(player.report())?.context("the player stopped unexpectedly")?;
    for (item, reason) in &report.items_failed {
        eprintln!("{item}: not played: {reason}");
    }
    if report.items_aired == 0 {
        bail!("nothing could be played");
    }
    Ok(())
}

fn log(config: &ConfigArg, since: Option<NaiveDate>, json: bool) -> Result<()> {
    let config = config.load()?;
    let Some(store) = Store::open_read_only(&config.state_dir)? else {
        if !json {
            println!("no as-run log yet in {}", config.state_dir.display());
        }
        return Ok(());
    };
    let since = since.map_or(DateTime::<Utc>::MIN_UTC, |d| {
        schedule::resolve_local(config.timezone, d.and_time(chrono::NaiveTime::MIN))
    });
    let entries = store.entries_since(since)?;
    if json {
        for entry in &entries {
            println!("{}", serde_json::to_string(entry)?);
        }
    } else {
        print!("{}", log_table(&entries, config.timezone));
    }
    Ok(())
}

/// The as-run log as an aligned table, times local to the box.
pub fn log_table(entries: &[AsRunEntry], tz: Tz) -> String {
    let local = |t: Option<DateTime<Utc>>, fmt: &str| {
        t.map_or("-".to_owned(), |t| {
            t.with_timezone(&tz).format(fmt).to_string()
        })
    };
    let header = [
        "SCHEDULED",
        "PROGRAMME",
        "STARTED",
        "ENDED",
        "RESULT",
        "DETAIL",
    ];
    let rows = entries.iter().map(|e| {
        let result = if e.attempt > 1 {
            format!("{} (try {})", e.outcome, e.attempt)
        } else {
            e.outcome.to_string()
        };
        [
            local(Some(e.scheduled), "%Y-%m-%d %H:%M:%S"),
            e.program_id.clone(),
            local(e.started, "%H:%M:%S%.3f"),
            local(e.ended, "%H:%M:%S%.3f"),
            result,
            e.detail.clone(),
        ]
    });
    loaxa_core::report::table(&header, rows)
}

fn devices() -> Result<()> {
    let devices = crate::audio::device::list()?;
    if devices.is_empty() {
        println!("no audio output devices (use --output wav:PATH or null)");
    }
    for device in devices {
        let mark = if device.is_default { "*" } else { " " };
        println!("{mark} {}  ({})", device.name, device.config);
    }
    Ok(())
}

/// `loaxa demo`: a throw-away box in a temporary directory, with the bundled schedules plus one
/// programme five seconds from now; shows the as-run log once it has aired.
fn demo(output: Option<OutputSpec>, keep_running: bool) -> Result<()> {
    let root = std::env::current_dir()?;
    if !root.join("schedules").is_dir() || !root.join("audio").is_dir() {
        bail!(
            "run `loaxa demo` from the loaxa source directory: it needs schedules/ and audio/ (found in {})",
            root.display()
        );
    }
    let work = tempfile::Builder::new()
        .prefix("loaxa-demo-")
        .tempdir()?
        .keep();
    let schedules_dir = work.join("schedules");
    std::fs::create_dir_all(&schedules_dir)?;
    for file in expand_dirs(&[root.join("schedules")])? {
        if let Some(name) = file.file_name() {
            std::fs::copy(&file, schedules_dir.join(name))?;
        }
    }
    let mut config = Config {
        box_id: "demo".into(),
        state_dir: work.join("state"),
        control_socket: work.join("control.sock"),
        schedules_dir: schedules_dir.clone(),
        media_dir: root,
        // The demo airs a few seconds from now, whatever the hour.
        windows: schedule::windows::Windows::all_day(),
        ..Config::default()
    };
    let start = (Utc::now() + chrono::Duration::seconds(6)).with_timezone(&config.timezone);
    let start = start.format("%Y-%m-%dT%H:%M:%S").to_string();
    std::fs::write(
        schedules_dir.join("zz-demo.toml"),
        format!(
            "# Written by `loaxa demo`: airs once, a few seconds after launch.\n\
             [[program]]\nid = \"demo\"\ntitle = \"Chương trình thử nghiệm\"\nat = [\"{start}\"]\n\
             items = [\"chime\", \"audio/thong-bao-demo.mp3\"]\n"
        ),
    )?;
    config.output = match output {
        Some(spec) => spec,
        None if crate::audio::device::default_is_available() => OutputSpec::Default,
        None => {
            let wav = work.join("demo.wav");
            println!(
                "No sound card here; the broadcast goes to {} instead.",
                wav.display()
            );
            OutputSpec::Wav(wav)
        }
    };
    println!(
        "Demo box in {}: the demo programme airs at {start} ({}).",
        work.display(),
        config.timezone
    );
    let until = if keep_running {
        RunUntil::Signalled
    } else {
        RunUntil::Aired(1)
    };
    block_on(daemon::run(&config, until))??;
    let entries = match Store::open_read_only(&config.state_dir)? {
        Some(store) => store.entries_since(DateTime::<Utc>::MIN_UTC)?,
        None => Vec::new(),
    };
    println!("\nAs-run log:\n{}", log_table(&entries, config.timezone));
    if let OutputSpec::Wav(path) = &config.output {
        println!(
            "Audio written to {} (timeline: {})",
            path.display(),
            crate::audio::paced::timeline_path(path).display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_declares_every_argument_consistently() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
