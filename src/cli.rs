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
use crate::schedule::plan::next_occurrences;
use crate::schedule::{self, LoadOptions, Loaded, Program};
use crate::store::{AsRunEntry, Store};

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
        #[arg(long, default_value = DEFAULT_CONFIG_PATH)]
        config: PathBuf,
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
        #[arg(long, default_value = DEFAULT_CONFIG_PATH)]
        config: PathBuf,
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
        #[arg(long, default_value = DEFAULT_CONFIG_PATH)]
        config: PathBuf,
    },
    /// Show the as-run log: what aired, was missed or failed, and when
    Log {
        #[arg(long, default_value = DEFAULT_CONFIG_PATH)]
        config: PathBuf,
        /// Only entries scheduled on or after this date (YYYY-MM-DD, local)
        #[arg(long)]
        since: Option<NaiveDate>,
        /// One JSON object per line, for scripts
        #[arg(long)]
        json: bool,
    },
    /// List the audio output devices
    Devices,
    /// Signing keys of the district (minisign format)
    Key {
        #[command(subcommand)]
        action: KeyCommand,
    },
    /// District: the table of boxes — state, last seen, schedule revisions, last aired
    Fleet {
        #[command(flatten)]
        broker: BrokerArgs,
        /// Seconds to listen for statuses and events
        #[arg(long, default_value_t = 3.0)]
        wait: f64,
    },
    /// District: sign and publish to boxes over MQTT
    Publish {
        #[command(subcommand)]
        what: PublishCommand,
    },
    #[command(flatten)]
    Operator(operator::OperatorCommand),
    /// District: send a signed command to boxes now (play a bulletin, stop, volume)
    Send {
        #[command(subcommand)]
        action: SendCommand,
    },
}

#[derive(Subcommand)]
enum SendCommand {
    /// Air a bulletin the boxes hold, now
    PlayNow {
        bulletin: String,
        /// normal, priority or emergency (an emergency cuts whatever is on air)
        #[arg(long, default_value = "emergency")]
        priority: String,
        /// Send it even if no box in the scope reports holding the bulletin
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        target: CommandTarget,
    },
    /// Fade out and end the programme on air
    Stop {
        #[command(flatten)]
        target: CommandTarget,
    },
    /// Set the master volume, 0–100
    Volume {
        percent: u8,
        #[command(flatten)]
        target: CommandTarget,
    },
}

/// Where a command goes, who signs it, and how long it stays good.
#[derive(clap::Args)]
struct CommandTarget {
    #[command(flatten)]
    signed: SignedTarget,
    /// Boxes refuse the command after this many minutes (one that was offline must not sound
    /// an old warning)
    #[arg(long, default_value_t = 30)]
    valid_minutes: u64,
    /// Seconds to wait for the boxes' answers (it ends sooner once every online box answered)
    #[arg(long, default_value_t = 5.0)]
    wait: f64,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Make a key pair: PREFIX.key (secret, keep it safe) and PREFIX.pub (goes in box configs)
    Generate {
        /// Path prefix of the two files
        #[arg(long, default_value = "loaxa-district")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum PublishCommand {
    /// Probe an audio file, upload it in chunks and publish its signed manifest
    Bulletin {
        file: PathBuf,
        /// The id schedules use as `bulletin:ID`
        #[arg(long)]
        id: String,
        #[arg(long)]
        title: String,
        #[command(flatten)]
        target: SignedTarget,
        /// After this instant (RFC 3339) boxes delete it and refuse to air it
        #[arg(long)]
        valid_until: Option<DateTime<chrono::FixedOffset>>,
    },
    /// Validate a schedule file, give it the scope's next revision, sign it and publish it
    Schedule {
        file: PathBuf,
        #[command(flatten)]
        target: SignedTarget,
        /// Use this revision instead of the next one
        #[arg(long)]
        revision: Option<u64>,
        /// Where the boxes' media files are mirrored, to check the items (default: beside the
        /// schedule's directory, as `loaxa validate`)
        #[arg(long)]
        media_dir: Option<PathBuf>,
        /// The receiving boxes' broadcast window, e.g. `05:00-22:00` (repeat for several;
        /// default 05:00-22:00): a programme airing outside is refused before it is sent
        #[arg(long = "window", value_name = "FROM-TO")]
        windows: Vec<String>,
    },
}

/// Where a signed publication goes, who signs it, and through which broker.
#[derive(clap::Args)]
struct SignedTarget {
    /// all, district/ID, commune/ID or box/ID
    #[arg(long)]
    to: crate::link::protocol::Scope,
    /// Secret key file (from `loaxa key generate` or `minisign -G -W`)
    #[arg(long)]
    key: PathBuf,
    #[command(flatten)]
    broker: BrokerArgs,
    /// Who approves it, shown to boxes and in reports
    #[arg(long, default_value = "district office")]
    approver: String,
}

impl From<BrokerArgs> for crate::district::Broker {
    fn from(args: BrokerArgs) -> Self {
        crate::district::Broker {
            url: args.broker,
            username: args.username,
            password: args.password,
            ca_file: args.ca_file,
        }
    }
}

#[derive(clap::Args)]
struct BrokerArgs {
    /// mqtt://host:port or mqtts://host:port
    #[arg(long)]
    broker: String,
    #[arg(long)]
    username: Option<String>,
    #[arg(long, env = "LOAXA_BROKER_PASSWORD")]
    password: Option<String>,
    /// CA certificate for mqtts://
    #[arg(long)]
    ca_file: Option<PathBuf>,
}

pub fn main() -> Result<()> {
    let cli = Cli::parse();
    // The long-running commands narrate what they do; the others print results, and log only
    // what went wrong. symphonia's own log lines duplicate our errors and are left out.
    init_logging(match cli.command {
        Command::Daemon { .. } | Command::Demo { .. } => "info,symphonia=off",
        _ => "error,symphonia=off",
    });
    match cli.command {
        Command::Daemon { config, output } => {
            let mut config = Config::load(&config)?;
            if let Some(output) = output {
                config.output = output;
            }
            block_on(daemon::run(&config, RunUntil::Signalled))??;
            Ok(())
        }
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
        } => next(&files, &config, from.map(|f| f.with_timezone(&Utc)), count),
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
        } => log(&Config::load(&config)?, since, json),
        Command::Devices => devices(),
        Command::Operator(command) => operator::run(command),
        Command::Key {
            action: KeyCommand::Generate { out },
        } => generate_key(&out),
        Command::Fleet { broker, wait } => {
            let wait = std::time::Duration::try_from_secs_f64(wait)
                .map_err(|_| anyhow::anyhow!("--wait must be a non-negative number of seconds"))?;
            let rows = block_on(crate::fleet::collect(&broker.into(), wait))??;
            print!("{}", crate::fleet::table(&rows, schedule::DEFAULT_TIMEZONE));
            Ok(())
        }
        Command::Send { action } => {
            use crate::link::protocol::RemoteAction;
            let (action, target, force) = match action {
                SendCommand::PlayNow {
                    bulletin,
                    priority,
                    force,
                    target,
                } => {
                    let priority =
                        serde_json::from_value(serde_json::Value::String(priority.clone()))
                            .map_err(|_| {
                                anyhow::anyhow!(
                                    "--priority {priority}: expected normal, priority or emergency"
                                )
                            })?;
                    (RemoteAction::PlayNow { bulletin, priority }, target, force)
                }
                SendCommand::Stop { target } => (RemoteAction::Stop, target, false),
                SendCommand::Volume { percent, target } => {
                    (RemoteAction::Volume { percent }, target, false)
                }
            };
            let CommandTarget {
                signed:
                    SignedTarget {
                        to,
                        key,
                        broker,
                        approver,
                    },
                valid_minutes,
                wait,
            } = target;
            let answer_wait = std::time::Duration::try_from_secs_f64(wait)
                .map_err(|_| anyhow::anyhow!("--wait must be a non-negative number of seconds"))?;
            let key = read_secret_key(&key)?;
            let what = action.to_string();
            let spec = crate::district::CommandSpec {
                scope: &to,
                action,
                approver: &approver,
                valid_for: std::time::Duration::from_secs(valid_minutes * 60),
                answer_wait,
                force,
            };
            let answers = block_on(crate::district::send_command(&broker.into(), &key, spec))??;
            print!("{}", answers_report(&what, &to, &answers));
            if answers.acted.is_empty() {
                anyhow::bail!("no box acted on {what}");
            }
            Ok(())
        }
        Command::Publish {
            what:
                PublishCommand::Bulletin {
                    file,
                    id,
                    title,
                    target:
                        SignedTarget {
                            to,
                            key,
                            broker,
                            approver,
                        },
                    valid_until,
                },
        } => {
            let key = read_secret_key(&key)?;
            let spec = crate::district::BulletinSpec {
                file: &file,
                id: &id,
                title: &title,
                scope: &to,
                approver: &approver,
                valid_until: valid_until.map(|t| t.with_timezone(&Utc)),
            };
            let progress = |done: usize, total: usize| eprint!("\ruploading {done}/{total} chunks");
            let manifest = block_on(crate::district::publish_bulletin(
                &broker.into(),
                &key,
                &spec,
                progress,
            ))??;
            eprintln!();
            println!(
                "published bulletin {id} ({} bytes, {} chunks, {:.1} s of {}{}) to {to}",
                manifest.size,
                manifest.chunks.len(),
                manifest.duration_ms as f64 / 1000.0,
                manifest.codec,
                manifest
                    .loudness_lufs
                    .map_or(String::new(), |l| format!(", {l:.1} LUFS"))
            );
            Ok(())
        }
        Command::Publish {
            what:
                PublishCommand::Schedule {
                    file,
                    target:
                        SignedTarget {
                            to,
                            key,
                            broker,
                            approver,
                        },
                    revision,
                    media_dir,
                    windows,
                },
        } => {
            let mut options = LoadOptions {
                author: schedule::Author::District,
                ..LoadOptions::standalone(&file)
            };
            options.media_dir = media_dir.unwrap_or(options.media_dir);
            if !windows.is_empty() {
                options.windows = Some(parse_windows(&windows)?);
            }
            publish_schedule(&file, &options, &to, &key, broker, &approver, revision)
        }
    }
}

/// What `loaxa send` prints: how many boxes acted and refused (with why), and who was silent.
fn answers_report(
    what: &str,
    scope: &crate::link::protocol::Scope,
    answers: &crate::district::Answers,
) -> String {
    let mut out = format!(
        "sent {what} to {scope}: {} acted, {} refused, {} did not answer ({} online",
        answers.acted.len(),
        answers.refused.len(),
        answers.silent().len(),
        answers.online.len()
    );
    if !answers.offline.is_empty() {
        out.push_str(&format!(
            ", {} offline will not hear it",
            answers.offline.len()
        ));
    }
    out.push_str(")\n");
    for (box_id, reason) in &answers.refused {
        out.push_str(&format!("  {box_id} refused: {reason}\n"));
    }
    for box_id in answers.silent() {
        out.push_str(&format!("  {box_id} did not answer\n"));
    }
    out
}

/// `--window 05:00-22:00` flags.
fn parse_windows(specs: &[String]) -> Result<schedule::windows::Windows> {
    specs
        .iter()
        .map(|spec| {
            let (from, to) = spec
                .split_once('-')
                .with_context(|| format!("--window {spec}: expected FROM-TO, e.g. 05:00-22:00"))?;
            schedule::windows::RawWindow {
                from: from.into(),
                to: to.into(),
                volume: None,
            }
            .resolve()
            .map_err(|e| anyhow::anyhow!("--window {spec}: {e}"))
        })
        .collect::<Result<_>>()
        .map(schedule::windows::Windows)
}

fn read_secret_key(path: &Path) -> Result<crate::trust::SecretKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read key", path.display()))?;
    crate::trust::SecretKey::parse(&text).with_context(|| path.display().to_string())
}

fn generate_key(prefix: &Path) -> Result<()> {
    let key = crate::trust::SecretKey::generate();
    let with_ext = |ext: &str| {
        let mut name = prefix.as_os_str().to_owned();
        name.push(ext);
        PathBuf::from(name)
    };
    let (secret, public) = (with_ext(".key"), with_ext(".pub"));
    for path in [&secret, &public] {
        if path.exists() {
            bail!("{} exists; not overwriting a key", path.display());
        }
    }
    let id = key.public_key().key_id();
    std::fs::write(&secret, key.to_file_text(&format!("loaxa secret key {id}")))
        .with_context(|| format!("{}: cannot write", secret.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::write(
        &public,
        key.public_key()
            .to_file_text(&format!("loaxa public key {id}")),
    )
    .with_context(|| format!("{}: cannot write", public.display()))?;
    println!(
        "key {id}: secret in {}, public in {}",
        secret.display(),
        public.display()
    );
    Ok(())
}

fn publish_schedule(
    file: &Path,
    options: &LoadOptions,
    scope: &crate::link::protocol::Scope,
    key: &Path,
    broker: BrokerArgs,
    approver: &str,
    revision: Option<u64>,
) -> Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("{}: cannot read", file.display()))?;
    let loaded = schedule::parse(&text, file, options);
    for error in &loaded.errors {
        eprintln!("{error}");
    }
    for warning in schedule::warnings(&loaded.programs, Utc::now()) {
        eprintln!("warning: {warning}");
    }
    if !loaded.errors.is_empty() {
        bail!(
            "{} problem(s) found; nothing published",
            loaded.errors.len()
        );
    }
    let key = read_secret_key(key)?;
    let broker = broker.into();
    let revision = block_on(crate::district::publish_schedule(
        &broker, &key, scope, &text, approver, revision,
    ))??;
    println!(
        "published {} to {scope} as revision {revision}",
        file.display()
    );
    Ok(())
}

/// The error and its causes on one line, leaving out causes the message already quotes (our
/// error types put the underlying error in their text *and* expose it as a source).
pub fn describe_error(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

fn init_logging(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(future))
}

fn validate(paths: &[PathBuf], config: Option<&Path>) -> Result<()> {
    let config = config.map(Config::load).transpose()?;
    let mut problems = 0;
    for file in expand_dirs(paths)? {
        let options = match &config {
            Some(c) => LoadOptions::for_box(c, true),
            None => LoadOptions::standalone(&file),
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
            if let Ok(loudness) = crate::audio::loudness::measure_file(path) {
                let gain = crate::audio::loudness::playback_gain(
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

fn next(files: &[PathBuf], config: &Path, from: Option<DateTime<Utc>>, count: usize) -> Result<()> {
    let loaded = if files.is_empty() {
        let config = Config::load(config)?;
        let options = LoadOptions {
            windows: None,
            ..LoadOptions::for_box(&config, false)
        };
        schedule::load_dir(&config.schedules_dir, &options)
    } else {
        let mut loaded = Loaded::default();
        for file in expand_dirs(files)? {
            let options = LoadOptions {
                check_audio: false,
                windows: None,
                ..LoadOptions::standalone(&file)
            };
            loaded.merge(schedule::load_file(&file, &options));
        }
        loaded
    };
    for error in &loaded.errors {
        eprintln!("warning: {error} (skipped)");
    }
    let programs: Vec<Arc<Program>> = loaded.programs.into_iter().map(Arc::new).collect();
    for occurrence in next_occurrences(&programs, from.unwrap_or_else(Utc::now), count) {
        let program = &occurrence.program;
        let local = occurrence.scheduled.with_timezone(&program.timezone);
        println!("{}  {}  {}", local.to_rfc3339(), program.id, program.title);
    }
    Ok(())
}

fn play(files: &[String], output: Option<OutputSpec>, volume: f32, config: &Path) -> Result<()> {
    if !(0.0..=1.0).contains(&volume) {
        bail!("--volume {volume} out of range 0.0–1.0");
    }
    let config = Config::load(config)?;
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

fn log(config: &Config, since: Option<NaiveDate>, json: bool) -> Result<()> {
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
    let mut rows = vec![[
        "SCHEDULED".to_owned(),
        "PROGRAMME".to_owned(),
        "STARTED".to_owned(),
        "ENDED".to_owned(),
        "RESULT".to_owned(),
        "DETAIL".to_owned(),
    ]];
    for e in entries {
        let result = if e.attempt > 1 {
            format!("{} (try {})", e.outcome, e.attempt)
        } else {
            e.outcome.to_string()
        };
        rows.push([
            local(Some(e.scheduled), "%Y-%m-%d %H:%M:%S"),
            e.program_id.clone(),
            local(e.started, "%H:%M:%S%.3f"),
            local(e.ended, "%H:%M:%S%.3f"),
            result,
            e.detail.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
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
