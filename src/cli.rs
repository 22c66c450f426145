//! The `loaxa` command line: one subcommand per job, each a short function over the library.
//! Errors become readable reports (anyhow) here and nowhere else.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clap::{Parser, Subcommand};

mod mistyped;
mod operator;
mod when;

use crate::audio::output::{Output, OutputSpec};
use crate::config::{Config, DEFAULT_CONFIG_PATH};
use crate::daemon::{self, RunUntil};
use crate::store::{AsRunEntry, Outcome, Store};
use crate::text::schedule::schedule_error;
use crate::text::{FluentValue, Lang, Words, arg};
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
        /// Schedule files or directories of them (default: the box config's schedules directory)
        files: Vec<PathBuf>,
        /// Take the time zone, media directory and language from this box config
        #[arg(long)]
        config: Option<PathBuf>,
        /// Also show each audio file's loudness and the gain it airs with
        #[arg(long)]
        verbose: bool,
    },
    /// What will air next: the box's whole plan (district, commune and local programmes), or
    /// with FILES what those schedule files alone would air (RFC 3339 times, for checking)
    Next {
        /// Schedule files (default: ask the running daemon, else the config's schedules directory)
        files: Vec<PathBuf>,
        #[command(flatten)]
        config: ConfigArg,
        /// Start from this day or time instead of now (03/12/2026, "03/12/2026 17:30", 17h30,
        /// or RFC 3339)
        #[arg(long)]
        from: Option<String>,
        /// How many airings to show
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
        /// Only entries scheduled on or after this day: 02/12/2026, 2026-12-02, or a month
        /// (12/2026, 2026-12)
        #[arg(long)]
        since: Option<String>,
        /// Only entries scheduled on or before this day (or month), written as for --since
        #[arg(long)]
        until: Option<String>,
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
        let config = Config::load(&self.path)?;
        // Errors from here on are reported in the box's language.
        let _ = SPOKEN.set(crate::text::choose(config.language));
        Ok(config)
    }
}

/// The language of this run, once a box config has said it (else the locale's is used).
static SPOKEN: OnceLock<Lang> = OnceLock::new();

fn spoken() -> Lang {
    SPOKEN
        .get()
        .copied()
        .unwrap_or_else(|| crate::text::choose(None))
}

/// The words to print with: `config`'s language, or the run's.
pub(crate) fn words_for(config: Option<&Config>) -> Result<Words> {
    let lang = config.map_or_else(spoken, |c| crate::text::choose(c.language));
    Ok(Words::new(lang)?)
}

/// The line an error is reported with, in the language of the run.
pub fn error_line(error: &anyhow::Error) -> String {
    let reason = loaxa_core::report::describe_error(error.as_ref());
    match Words::new(spoken()) {
        Ok(words) => {
            let reason = crate::text::errors::error_words(error, &words).unwrap_or(reason);
            words.t_args("error", &[("reason", arg(reason))])
        }
        Err(_) => format!("error: {reason}"),
    }
}

#[derive(clap::Args)]
struct Moved {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

pub fn main() -> Result<()> {
    let cli = parse_command_line()?;
    loaxa_core::report::init_logging(cli.command.log_filter());
    match cli.command {
        Command::Daemon { config, output } => run_daemon(&config, output),
        Command::Demo {
            output,
            keep_running,
        } => demo(output, keep_running),
        Command::Validate {
            files,
            config,
            verbose,
        } => validate(&files, config.as_deref(), verbose),
        Command::Next {
            files,
            config,
            from,
            count,
        } => next(&files, &config, from.as_deref(), count),
        Command::Play {
            files,
            output,
            volume,
            config,
        } => play(&files, output, volume, &config),
        Command::Log {
            config,
            since,
            until,
            json,
        } => log(&config, since.as_deref(), until.as_deref(), json),
        Command::Devices => devices(),
        Command::Operator(command) => operator::run(command),
        Command::Publish(_) => moved("publish"),
        Command::Send(_) => moved("send"),
        Command::Fleet(_) => moved("fleet"),
        Command::Key(_) => moved("key"),
    }
}

/// The command line, its `--help` in the box's language: the config's (`--config FILE`, else
/// the default file) if it says one, else the locale's.
fn parse_command_line() -> Result<Cli> {
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let config_path = args
        .iter()
        .position(|a| a == "--config")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .or_else(|| {
            args.iter()
                .filter_map(|a| a.to_str()?.strip_prefix("--config=").map(PathBuf::from))
                .next()
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH));
    let lang = crate::text::choose(Config::language_in(&config_path));
    let _ = SPOKEN.set(lang);
    let words = Words::new(lang)?;
    let matches = match in_words(Cli::command(), &words).try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(error) if mistyped::is_help(&error) => error.exit(),
        Err(error) => {
            eprintln!("{}", mistyped::explain(&error, &words));
            std::process::exit(error.exit_code());
        }
    };
    Ok(Cli::from_arg_matches(&matches)?)
}

/// Each command's summary, by its path of subcommand names, as a catalogue id.
const SUMMARIES: [(&[&str], &str); 23] = [
    (&["daemon"], "help-daemon"),
    (&["demo"], "help-demo"),
    (&["validate"], "help-validate"),
    (&["next"], "help-next"),
    (&["play"], "help-play"),
    (&["log"], "help-log"),
    (&["devices"], "help-devices"),
    (&["status"], "help-status"),
    (&["today"], "help-today"),
    (&["stop"], "help-stop"),
    (&["volume"], "help-volume"),
    (&["play-now"], "help-play-now"),
    (&["program"], "help-program"),
    (&["program", "add"], "help-program-add"),
    (&["program", "list"], "help-program-list"),
    (&["program", "remove"], "help-program-remove"),
    (&["program", "enable"], "help-program-enable"),
    (&["program", "disable"], "help-program-disable"),
    (&["publish"], "help-moved"),
    (&["send"], "help-moved"),
    (&["fleet"], "help-moved"),
    (&["key"], "help-moved"),
    (&[], "help-loaxa"),
];

/// The command line in `words`: each command's summary, each argument's help, the headings
/// and clap's own `--help` line (clap's derive has the doc comments' English). An argument's
/// help is the message `arg-COMMAND-ID`, else `arg-ID` for one that means the same everywhere
/// (`--config`); defaults and allowed values are said in those messages, not in clap's English.
fn in_words(command: clap::Command, words: &Words) -> clap::Command {
    fn with_about(command: clap::Command, path: &[&str], about: String) -> clap::Command {
        match path {
            [] => command.about(about),
            [name, rest @ ..] => {
                let rest = rest.to_vec();
                command.mut_subcommand(*name, move |sub| with_about(sub, &rest, about))
            }
        }
    }
    let command = SUMMARIES.iter().fold(command, |command, (path, id)| {
        with_about(command, path, words.t(id))
    });
    localise(command, words)
}

/// `command` and its subcommands, recursively, with their arguments and headings in `words`.
fn localise(command: clap::Command, words: &Words) -> clap::Command {
    let template = format!(
        "{{about-with-newline}}\n{}: {{usage}}\n\n{{all-args}}{{after-help}}",
        words.t("help-usage")
    );
    let name = command.get_name().to_owned();
    let ids: Vec<String> = command
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    let command = ids.into_iter().fold(command, |command, id| {
        let help = arg_help_id(&name, &id, words).map(|message| words.t(&message));
        command.mut_arg(&id, |arg| {
            let heading = if arg.is_positional() {
                "help-arguments"
            } else {
                "help-options"
            };
            let arg = arg.help_heading(words.t(heading));
            let value_name = format!("value-{id}");
            let arg = if arg.get_action().takes_values() {
                let arg = arg.hide_possible_values(true).hide_default_value(true);
                if words.has(&value_name) {
                    arg.value_name(words.t(&value_name))
                } else {
                    arg
                }
            } else {
                arg
            };
            match help {
                Some(help) => arg.help(help).long_help(None::<&str>),
                None => arg,
            }
        })
    });
    let has_subcommands = command.has_subcommands();
    let command = command
        .help_template(template)
        .subcommand_help_heading(words.t("help-commands"))
        .disable_help_flag(true)
        .arg(own_flag("help", 'h', clap::ArgAction::Help, words));
    let command = if has_subcommands {
        command
            .disable_help_subcommand(true)
            .subcommand_value_name(words.t("value-command"))
    } else {
        command
    };
    let command = if command.get_version().is_some() {
        command.disable_version_flag(true).arg(own_flag(
            "version",
            'V',
            clap::ArgAction::Version,
            words,
        ))
    } else {
        command
    };
    command.mut_subcommands(|sub| localise(sub, words))
}

/// Clap's own `--help` or `--version` again, with its help (`help-ID`) in `words`.
fn own_flag(id: &'static str, short: char, action: clap::ArgAction, words: &Words) -> clap::Arg {
    clap::Arg::new(id)
        .short(short)
        .long(id)
        .action(action)
        .help(words.t(&format!("help-{id}")))
        .help_heading(words.t("help-options"))
}

/// The message that is argument `id`'s help in command `command`, if the catalogue has one.
fn arg_help_id(command: &str, id: &str, words: &Words) -> Option<String> {
    [format!("arg-{command}-{id}"), format!("arg-{id}")]
        .into_iter()
        .find(|message| words.has(message))
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
    bail!(words_for(None)?.t_args("moved", &[("command", arg(command))]))
}

/// A one-shot runtime for a command's async work.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    loaxa_link::block_on(future).context("cannot start the async runtime")
}

fn validate(paths: &[PathBuf], config: Option<&Path>, verbose: bool) -> Result<()> {
    // With no files, the operator means "the box's schedules": the config's directory.
    let config = match config {
        Some(path) => Some(Config::load(path)?),
        None if paths.is_empty() => Some(Config::load(Path::new(DEFAULT_CONFIG_PATH))?),
        None => None,
    };
    if let Some(config) = &config {
        let _ = SPOKEN.set(crate::text::choose(config.language));
    }
    let words = words_for(config.as_ref())?;
    let paths = match &config {
        Some(config) if paths.is_empty() => vec![config.schedules_dir.clone()],
        _ => paths.to_vec(),
    };
    let paths = &paths[..];
    let files = expand_dirs(paths)?;
    if files.is_empty() {
        let shown = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>();
        println!(
            "{}",
            words.t_args("validate-no-files", &[("where", arg(shown.join(", ")))])
        );
        return Ok(());
    }
    let mut problems = 0;
    for file in files {
        let options = match &config {
            Some(c) => c.local_schedule_options(Some(loaxa_media::decode::check_file)),
            None => LoadOptions::standalone(&file, Some(loaxa_media::decode::check_file)),
        };
        let loaded = schedule::load_file(&file, &options);
        // With --verbose, each also as engineers and editors read it: `file:line: field: …`.
        for error in &loaded.errors {
            eprintln!("{}", schedule_error(error, &words));
            if verbose {
                eprintln!("  {error}");
            }
        }
        for warning in schedule::warnings(&loaded.programs, Utc::now()) {
            let said = schedule_error(&warning, &words);
            eprintln!("{}", words.t_args("warning", &[("warning", arg(said))]));
            if verbose {
                eprintln!("  {warning}");
            }
        }
        problems += loaded.errors.len();
        if loaded.errors.is_empty() {
            println!(
                "{}",
                words.t_args(
                    "validate-ok",
                    &[
                        ("file", arg(file.display())),
                        ("count", FluentValue::from(loaded.programs.len())),
                    ],
                )
            );
            if verbose {
                print_loudness(&loaded.programs, config.as_ref());
            }
        }
    }
    if problems > 0 {
        bail!(words.t_args(
            "validate-problems",
            &[("count", FluentValue::from(problems))]
        ));
    }
    Ok(())
}

/// Each audio file's loudness, and the gain it will air with: for the engineer (`--verbose`),
/// in the units of the trade.
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
                    "  {name}: {}; gain {:+.1} dB",
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

fn next(files: &[PathBuf], config: &ConfigArg, from: Option<&str>, count: usize) -> Result<()> {
    let words = words_for(None)?;
    if files.is_empty() {
        let config = config.load()?;
        let from = from
            .map(|text| start_of_look_ahead(text, config.timezone, &words))
            .transpose()?;
        return next_on_this_box(&config, count, from);
    }
    // Files alone need no config: its time zone if there is one, else the default.
    let timezone = config
        .load()
        .map_or(schedule::DEFAULT_TIMEZONE, |config| config.timezone);
    let from = from
        .map(|text| start_of_look_ahead(text, timezone, &words))
        .transpose()?;
    let mut loaded = Loaded::default();
    for file in expand_dirs(files)? {
        let options = LoadOptions {
            windows: None,
            ..LoadOptions::standalone(&file, None)
        };
        loaded.merge(schedule::load_file(&file, &options));
    }
    for error in &loaded.errors {
        eprintln!(
            "{}",
            words.t_args(
                "next-skipped",
                &[("problem", arg(schedule_error(error, &words)))]
            )
        );
    }
    let programs: Vec<Arc<Program>> = loaded.programs.into_iter().map(Arc::new).collect();
    for occurrence in next_occurrences(&programs, from.unwrap_or_else(Utc::now), count) {
        let program = &occurrence.program;
        let local = occurrence.scheduled.with_timezone(&program.timezone);
        println!("{}  {}  {}", local.to_rfc3339(), program.id, program.title);
    }
    Ok(())
}

/// `next --from`: an instant (RFC 3339, as scripts write it), or a day or time as the operator
/// types it, in `timezone`.
fn start_of_look_ahead(text: &str, timezone: Tz, words: &Words) -> Result<DateTime<Utc>> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.with_timezone(&Utc));
    }
    let now = Utc::now().with_timezone(&timezone).naive_local();
    let local = when::parse_start(text, now).map_err(|e| anyhow!(e.said(words)))?;
    Ok(schedule::resolve_local(timezone, local))
}

/// The box's whole plan, as its daemon holds it (its files, the district's schedules, the local
/// programmes); with the daemon stopped, what its schedule files alone would air.
fn next_on_this_box(config: &Config, count: usize, from: Option<DateTime<Utc>>) -> Result<()> {
    use crate::control::{Answer, Reply, Request};
    let words = words_for(Some(config))?;
    let count = count.min(crate::control::MAX_NEXT);
    let asked = block_on(crate::control::ask(
        &config.control_socket,
        &Request::Next { count, from },
    ))?;
    let upcoming = match asked {
        Ok(Reply::Done(Answer::Next { upcoming })) => upcoming,
        Ok(Reply::Done(_)) => bail!(words.t("daemon-mismatched-next")),
        Ok(Reply::Refused(refusal)) => bail!(operator::refused(&refusal, config, &words)),
        Err(_) => {
            eprintln!("{}", words.t("next-daemon-down"));
            let options = LoadOptions {
                windows: None,
                ..config.local_schedule_options(None)
            };
            let loaded = schedule::load_dir(&config.schedules_dir, &options);
            for error in &loaded.errors {
                eprintln!(
                    "{}",
                    words.t_args(
                        "next-skipped",
                        &[("problem", arg(schedule_error(error, &words)))]
                    )
                );
            }
            let programs: Vec<Arc<Program>> = loaded.programs.into_iter().map(Arc::new).collect();
            next_occurrences(&programs, from.unwrap_or_else(Utc::now), count)
                .iter()
                .map(daemon::upcoming)
                .collect()
        }
    };
    if upcoming.is_empty() {
        println!("{}", words.t("next-nothing"));
    }
    for next in &upcoming {
        println!("{}", operator::upcoming_line(next, config, &words));
    }
    Ok(())
}

fn play(
    files: &[String],
    output: Option<OutputSpec>,
    volume: f32,
    config: &ConfigArg,
) -> Result<()> {
    let config = config.load()?;
    let words = words_for(Some(&config))?;
    if !(0.0..=1.0).contains(&volume) {
        bail!(words.t_args("play-bad-volume", &[("volume", arg(volume))]));
    }
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
    let output = Output::open(&spec, config.sample_rate).map_err(|e| {
        let reason = crate::text::errors::output_words(&e, &words);
        anyhow!(words.t_args(
            "output-unavailable",
            &[("output", arg(&spec)), ("reason", arg(reason))]
        ))
    })?;
    eprintln!(
        "{}",
        words.t_args("play-to", &[("output", arg(output.description()))])
    );
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
    let report =
        block_on(player.report())?.ok_or_else(|| anyhow!(words.t("play-player-stopped")))?;
    for (item, trouble) in &report.items_failed {
        let reason = crate::text::trouble::audio_words(trouble, &words);
        eprintln!(
            "{}",
            words.t_args(
                "play-item-failed",
                &[("item", arg(item)), ("reason", arg(reason))]
            )
        );
    }
    if report.items_aired == 0 {
        bail!(words.t("play-nothing"));
    }
    Ok(())
}

fn log(config: &ConfigArg, since: Option<&str>, until: Option<&str>, json: bool) -> Result<()> {
    let config = config.load()?;
    let words = words_for(Some(&config))?;
    let today = Utc::now().with_timezone(&config.timezone).date_naive();
    let days = |text: &str| when::parse_days(text, today).map_err(|e| anyhow!(e.said(&words)));
    let midnight = |day: chrono::NaiveDate| {
        schedule::resolve_local(config.timezone, day.and_time(chrono::NaiveTime::MIN))
    };
    let since = since.map(days).transpose()?.map(|d| midnight(d.first));
    // Up to the end of the last day named: the midnight after it.
    let until = until
        .map(days)
        .transpose()?
        .map(|d| midnight(d.last + chrono::Duration::days(1)));
    let Some(store) = Store::open_read_only(&config.state_dir)? else {
        if !json {
            println!(
                "{}",
                words.t_args("log-none-yet", &[("dir", arg(config.state_dir.display()))])
            );
        }
        return Ok(());
    };
    let entries: Vec<AsRunEntry> = store
        .entries_since(since.unwrap_or(DateTime::<Utc>::MIN_UTC))?
        .into_iter()
        .filter(|e| until.is_none_or(|until| e.scheduled < until))
        .collect();
    if json {
        for entry in &entries {
            println!("{}", serde_json::to_string(entry)?);
        }
    } else if entries.is_empty() {
        println!("{}", words.t("log-empty"));
    } else {
        print!("{}", log_table(&entries, config.timezone, &words));
    }
    Ok(())
}

/// The as-run log as an aligned table, in the operator's words, times local to the box.
pub fn log_table(entries: &[AsRunEntry], tz: Tz, words: &Words) -> String {
    let local = |t: Option<DateTime<Utc>>, fmt: &str| {
        t.map_or("—".to_owned(), |t| {
            t.with_timezone(&tz).format(fmt).to_string()
        })
    };
    let header = [
        "log-column-scheduled",
        "log-column-programme",
        "log-column-started",
        "log-column-ended",
        "log-column-result",
        "log-column-detail",
    ]
    .map(|id| words.t(id));
    let rows = entries.iter().map(|e| {
        let outcome = words.t(outcome_id(e.outcome));
        let result = if e.attempt > 1 {
            words.t_args(
                "log-attempt",
                &[("outcome", arg(outcome)), ("attempt", arg(e.attempt))],
            )
        } else {
            outcome
        };
        let programme = operator::described(&e.program_id, &e.title, words);
        [
            local(Some(e.scheduled), "%d/%m/%Y %H:%M:%S"),
            programme,
            local(e.started, "%H:%M:%S"),
            local(e.ended, "%H:%M:%S"),
            result,
            // An older box's entries have only the English detail.
            if e.reasons.is_empty() {
                e.detail.clone()
            } else {
                e.reasons.in_words(words, tz)
            },
        ]
    });
    loaxa_core::report::table(&header.iter().map(String::as_str).collect::<Vec<_>>(), rows)
}

pub(crate) fn outcome_id(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Airing => "outcome-airing",
        Outcome::Aired => "outcome-aired",
        Outcome::Missed => "outcome-missed",
        Outcome::Failed => "outcome-failed",
        Outcome::Interrupted => "outcome-interrupted",
    }
}

fn devices() -> Result<()> {
    let devices = crate::audio::device::list()?;
    if devices.is_empty() {
        println!("{}", words_for(None)?.t("devices-none"));
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
    let words = words_for(None)?;
    let root = std::env::current_dir()?;
    if !root.join("schedules").is_dir() || !root.join("audio").is_dir() {
        bail!(words.t_args("demo-where", &[("dir", arg(root.display()))]));
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
                "{}",
                words.t_args("demo-no-sound-card", &[("wav", arg(wav.display()))])
            );
            OutputSpec::Wav(wav)
        }
    };
    println!(
        "{}",
        words.t_args(
            "demo-box",
            &[
                ("dir", arg(work.display())),
                ("start", arg(start.replace('T', " "))),
                ("zone", arg(config.timezone)),
            ],
        )
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
    println!(
        "\n{}\n{}",
        words.t("demo-as-run"),
        log_table(&entries, config.timezone, &words)
    );
    if let OutputSpec::Wav(path) = &config.output {
        println!(
            "{}",
            words.t_args(
                "demo-audio-written",
                &[
                    ("wav", arg(path.display())),
                    (
                        "timeline",
                        arg(crate::audio::paced::timeline_path(path).display())
                    ),
                ],
            )
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every argument of every command, with its help message's id if the catalogue has one.
    fn every_argument(words: &Words) -> Vec<(String, String, Option<String>)> {
        fn walk(
            command: &clap::Command,
            words: &Words,
            found: &mut Vec<(String, String, Option<String>)>,
        ) {
            for arg in command.get_arguments() {
                let id = arg.get_id().to_string();
                if id != "help" {
                    let message = super::arg_help_id(command.get_name(), &id, words);
                    found.push((command.get_name().to_owned(), id, message));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, words, found);
            }
        }
        let mut found = Vec::new();
        walk(
            &<super::Cli as clap::CommandFactory>::command(),
            words,
            &mut found,
        );
        found
    }

    #[test]
    fn every_argument_of_every_command_has_its_help_in_both_languages() {
        let words = Words::new(Lang::Vi).unwrap();
        let missing: Vec<String> = every_argument(&words)
            .into_iter()
            .filter(|(_, _, message)| message.is_none())
            .map(|(command, id, _)| format!("arg-{command}-{id}"))
            .collect();
        assert!(missing.is_empty(), "no help for: {missing:#?}");
    }

    #[test]
    fn help_in_vietnamese_has_no_english_left() {
        let words = Words::new(Lang::Vi).unwrap();
        let mut command = super::in_words(<super::Cli as clap::CommandFactory>::command(), &words);
        command.build();
        let mut pages = vec![command.render_long_help().to_string()];
        for sub in command.get_subcommands_mut() {
            pages.push(sub.render_long_help().to_string());
            for nested in sub.get_subcommands_mut() {
                pages.push(nested.render_long_help().to_string());
            }
        }
        for page in &pages {
            for english in [
                "Usage:",
                "Options:",
                "Arguments:",
                "Commands:",
                "Print",
                "[default",
                "Possible",
                " the ",
            ] {
                assert!(!page.contains(english), "{english:?} in:\n{page}");
            }
        }
    }

    #[test]
    fn the_command_line_declares_every_argument_consistently() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_its_summary_in_both_languages() {
        use clap::CommandFactory;
        for lang in crate::text::Lang::ALL {
            let words = crate::text::Words::new(lang).unwrap();
            let command = super::in_words(super::Cli::command(), &words);
            command.clone().debug_assert();
            let mut seen = 0;
            for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
                let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
                assert!(
                    !about.is_empty() && !about.starts_with("help-"),
                    "{}: {about}",
                    sub.get_name()
                );
                seen += 1;
            }
            assert!(seen >= 12, "{seen}");
        }
        let vi = crate::text::Words::new(crate::text::Lang::Vi).unwrap();
        let command = super::in_words(super::Cli::command(), &vi);
        let volume = command.find_subcommand("volume").unwrap();
        assert_eq!(volume.get_about().unwrap().to_string(), vi.t("help-volume"));
    }
}
