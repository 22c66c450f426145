//! The `loaxa-district` command line: the office's jobs, one subcommand each. Errors become
//! readable reports (anyhow) here and nowhere else.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressFinish, ProgressStyle};
use loaxa_core::protocol::Scope;
use loaxa_core::schedule::{self, LoadOptions, Priority};
use loaxa_district::publish::{BoxAnswer, Feedback, PublishError, Withdrawal};

#[derive(Parser)]
#[command(
    name = "loaxa-district",
    version,
    about = "The district office's loaxa tool: keys, signed bulletins, schedules and commands for the boxes, the fleet table"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the web console's database and its first admin, and print the admin's one-time
    /// password
    Init {
        /// The console's configuration file
        #[arg(long, default_value = "/etc/loaxa-district/console.toml")]
        config: PathBuf,
        /// The first admin's user name
        #[arg(long, default_value = "admin")]
        admin: String,
    },
    /// Serve the web console
    Serve {
        /// The console's configuration file
        #[arg(long, default_value = "/etc/loaxa-district/console.toml")]
        config: PathBuf,
    },
    /// Signing keys of the district (minisign format)
    Key {
        #[command(subcommand)]
        action: KeyCommand,
    },
    /// the table of boxes — state, last seen, schedule revisions, last aired
    Fleet {
        #[command(flatten)]
        broker: BrokerArgs,
        /// Seconds to listen for statuses and events
        #[arg(long, default_value_t = 3.0)]
        wait: f64,
    },
    /// sign and publish to boxes over MQTT
    Publish {
        #[command(subcommand)]
        what: PublishCommand,
    },
    /// send a signed command to boxes now (play a bulletin, stop, volume)
    Send {
        #[command(subcommand)]
        action: SendCommand,
    },
    /// the office's archive of what the boxes say (docs/archive.md)
    Archive {
        #[command(subcommand)]
        action: ArchiveCommand,
    },
}

#[derive(Subcommand)]
enum ArchiveCommand {
    /// Keep every box's statuses and events in the archive, until SIGTERM or Ctrl-C
    Collect {
        /// The archive's SQLite file (created if missing)
        #[arg(long)]
        db: PathBuf,
        #[command(flatten)]
        broker: BrokerArgs,
        /// Days events and as-run entries are kept; older ones are deleted once a day
        #[arg(long, default_value_t = loaxa_district::archive::store::DEFAULT_RETENTION_DAYS)]
        retention_days: u32,
    },
}

#[derive(Subcommand)]
enum SendCommand {
    /// Air a bulletin the boxes hold, now
    PlayNow {
        bulletin: String,
        /// The bulletin's level: what it may cut in on
        #[arg(long, value_enum, default_value_t = Priority::Emergency)]
        priority: Priority,
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
        #[command(flatten)]
        hearing: Hearing,
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
        /// Check against this broadcast window, e.g. `05:00-22:00` (repeat for several),
        /// instead of the windows each box of the scope reports (05:00-22:00 for a box that
        /// reports none): a programme airing outside is refused before it is sent
        #[arg(long = "window", value_name = "FROM-TO")]
        windows: Vec<String>,
        #[command(flatten)]
        hearing: Hearing,
    },
}

/// How a publication is checked against the boxes, and how long their answers are waited for.
#[derive(clap::Args)]
struct Hearing {
    /// Publish even if no known box listens to the scope (a new scope's first box) or none of
    /// its boxes trusts the key
    #[arg(long)]
    force: bool,
    /// Seconds to wait for the boxes' answers (it ends sooner once every online box
    /// answered); 0: do not hear them, and exit successfully once the broker holds it
    #[arg(long, default_value_t = 10.0)]
    wait: f64,
}

/// Where a signed publication goes, who signs it, and through which broker.
#[derive(clap::Args)]
struct SignedTarget {
    /// all, district/ID, commune/ID or box/ID
    #[arg(long)]
    to: Scope,
    /// Secret key file (from `loaxa key generate` or `minisign -G -W`)
    #[arg(long)]
    key: PathBuf,
    #[command(flatten)]
    broker: BrokerArgs,
    /// Who approves it, shown to boxes and in reports
    #[arg(long, default_value = "district office")]
    approver: String,
    /// The office's archive (the console's database): the boxes registered there belong to
    /// the commune the office gave them, whatever their statuses claim. Without it, every box
    /// is taken at its word
    #[arg(long)]
    archive: Option<PathBuf>,
}

impl SignedTarget {
    /// The office's register of boxes, from `--archive`.
    fn registry(&self) -> Result<loaxa_district::publish::Registry> {
        let Some(path) = &self.archive else {
            return Ok(Default::default());
        };
        // Opening creates a missing file: a mistyped path must not pass for an empty register.
        if !path.is_file() {
            bail!("{}: no such archive", path.display());
        }
        Ok(loaxa_district::archive::Archive::open(path)?.register()?)
    }
}

impl From<BrokerArgs> for loaxa_district::publish::Broker {
    fn from(args: BrokerArgs) -> Self {
        loaxa_district::publish::Broker {
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
    // The commands print results; the log says only what went wrong, except for the services
    // (the console, the archive's collector), whose log is their record. symphonia's own log
    // lines duplicate our errors.
    loaxa_core::report::init_logging(match cli.command {
        Command::Serve { .. } | Command::Archive { .. } => "info,symphonia=off",
        _ => "error,symphonia=off",
    });
    match cli.command {
        Command::Init { config, admin } => init_console(&config, &admin),
        Command::Serve { config } => serve_console(&config),
        Command::Key {
            action: KeyCommand::Generate { out },
        } => generate_key(&out),
        Command::Fleet { broker, wait } => fleet(broker, wait),
        Command::Send { action } => send(action),
        Command::Archive {
            action:
                ArchiveCommand::Collect {
                    db,
                    broker,
                    retention_days,
                },
        } => collect(&db, broker, retention_days),
        Command::Publish { what } => match what {
            PublishCommand::Bulletin {
                file,
                id,
                title,
                target,
                valid_until,
                hearing,
            } => publish_bulletin(&file, &id, &title, target, valid_until, hearing),
            PublishCommand::Schedule {
                file,
                target,
                revision,
                media_dir,
                windows,
                hearing,
            } => publish_schedule_file(&file, target, revision, media_dir, &windows, hearing),
        },
    }
}

/// `init`: the console's database and first admin.
fn init_console(config: &Path, admin: &str) -> Result<()> {
    let config = loaxa_district::console::ConsoleConfig::load(config)?;
    let password = loaxa_district::console::init(&config, admin)?;
    println!(
        "console database {} ready; log in at http://{}/ as {admin} with the one-time password {password}",
        config.database.display(),
        config.listen
    );
    Ok(())
}

/// `serve`: the web console, until SIGTERM or Ctrl-C.
fn serve_console(config: &Path) -> Result<()> {
    let config = loaxa_district::console::ConsoleConfig::load(config)?;
    let app = loaxa_district::console::App::open(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(loaxa_district::console::serve(app))?;
    Ok(())
}

/// `fleet`: the table of boxes, after listening `wait` seconds.
fn fleet(broker: BrokerArgs, wait: f64) -> Result<()> {
    let wait = seconds(wait)?;
    let rows = block_on(loaxa_district::fleet::collect(&broker.into(), wait))??;
    print!(
        "{}",
        loaxa_district::fleet::table(&rows, loaxa_core::schedule::DEFAULT_TIMEZONE)
    );
    Ok(())
}

/// `archive collect`: the collector, until SIGTERM or Ctrl-C.
fn collect(db: &Path, broker: BrokerArgs, retention_days: u32) -> Result<()> {
    use loaxa_district::archive::{Archive, collector};
    use tokio::signal::unix::{SignalKind, signal};
    let archive = Archive::open(db)?;
    let settings = collector::Settings {
        retention_days,
        ..collector::Settings::default()
    };
    let broker = broker.into();
    tracing::info!(db = %db.display(), client_id = %settings.client_id, retention_days, "archive collector started");
    block_on(async {
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        collector::run(&broker, archive, &settings, shutdown).await?;
        tracing::info!("archive collector stopped");
        anyhow::Ok(())
    })??;
    Ok(())
}

/// `send`: a signed command to the scope's boxes, and how many acted.
fn send(action: SendCommand) -> Result<()> {
    use loaxa_core::protocol::RemoteAction;
    let (action, target, force) = match action {
        SendCommand::PlayNow {
            bulletin,
            priority,
            force,
            target,
        } => (RemoteAction::PlayNow { bulletin, priority }, target, force),
        SendCommand::Stop { target } => (RemoteAction::Stop, target, false),
        SendCommand::Volume { percent, target } => {
            (RemoteAction::Volume { percent }, target, false)
        }
    };
    let registry = target.signed.registry()?;
    let CommandTarget {
        signed:
            SignedTarget {
                to,
                key,
                broker,
                approver,
                archive: _,
            },
        valid_minutes,
        wait,
    } = target;
    let answer_wait = seconds(wait)?;
    let key = read_secret_key(&key)?;
    let what = action.to_string();
    let spec = loaxa_district::publish::CommandSpec {
        scope: &to,
        action,
        approver: &approver,
        valid_for: std::time::Duration::from_secs(valid_minutes * 60),
        answer_wait,
        force,
        registry: &registry,
    };
    let feedback = block_on(loaxa_district::publish::send_command(
        &broker.into(),
        &key,
        spec,
    ))??;
    print!("{}", answers_report(&what, &to, &feedback));
    if feedback.received() == 0 {
        anyhow::bail!("no box acted on {what}");
    }
    Ok(())
}

/// `--wait` seconds.
fn seconds(wait: f64) -> Result<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(wait)
        .map_err(|_| anyhow::anyhow!("--wait must be a non-negative number of seconds"))
}

/// `publish bulletin`: the audio in chunks, then its signed manifest.
fn publish_bulletin(
    file: &Path,
    id: &str,
    title: &str,
    target: SignedTarget,
    valid_until: Option<DateTime<chrono::FixedOffset>>,
    hearing: Hearing,
) -> Result<()> {
    let key = read_secret_key(&target.key)?;
    let registry = target.registry()?;
    let spec = loaxa_district::publish::BulletinSpec {
        file,
        id,
        title,
        scope: &target.to,
        approver: &target.approver,
        valid_until: valid_until.map(|t| t.with_timezone(&Utc)),
        force: hearing.force,
        answer_wait: seconds(hearing.wait)?,
        registry: &registry,
    };
    let bar = upload_bar()?;
    let progress = |done: usize, total: usize| {
        if bar.length().is_none() {
            // The upload starts now: the probing and measuring before it must not count
            // in the rate and the time left.
            bar.reset();
            bar.set_length(total as u64);
        }
        bar.set_position(done as u64);
    };
    let report = block_on(loaxa_district::publish::publish_bulletin(
        &target.broker.into(),
        &key,
        &spec,
        progress,
    ))??;
    drop(bar);
    let manifest = &report.manifest;
    println!(
        "published bulletin {id} ({} bytes, {} chunks, {:.1} s of {}{}) to {}: {}",
        manifest.size,
        manifest.chunks.len(),
        manifest.duration_ms as f64 / 1000.0,
        manifest.codec,
        manifest
            .loudness_lufs
            .map_or(String::new(), |l| format!(", {l:.1} LUFS")),
        target.to,
        counts(&report.feedback)
    );
    print!("{}", feedback_table(&report.feedback));
    if let Some(withdrawal) = report.withdrawn {
        let now = match withdrawal {
            Withdrawal::Restored { .. } => "the manifest it replaced is back",
            Withdrawal::Cleared => "the broker holds no manifest for it",
        };
        bail!("bulletin {id} withdrawn: every box that answered refused it; {now}");
    }
    if report.feedback.received() == 0 && hearing.wait > 0.0 {
        bail!("no box received bulletin {id}");
    }
    Ok(())
}

/// "2 received, 1 rejected, 0 no answer, 1 offline".
fn counts(feedback: &Feedback) -> String {
    format!(
        "{} received, {} rejected, {} no answer, {} offline",
        feedback.received(),
        feedback.rejected(),
        feedback.silent(),
        feedback.offline()
    )
}

/// One line per box of the scope: what it answered, in its words.
fn feedback_table(feedback: &Feedback) -> String {
    if feedback.per_box.is_empty() {
        return String::new();
    }
    let rows = feedback.per_box.iter().map(|(box_id, answer)| {
        let (answer, said) = match answer {
            BoxAnswer::Received(what) => ("received", what.as_str()),
            BoxAnswer::Rejected(reason) => ("rejected", reason.as_str()),
            BoxAnswer::NoAnswer => ("no answer", "-"),
            BoxAnswer::Offline => ("offline", "gets it when it is back online"),
        };
        [box_id.clone(), answer.to_owned(), said.to_owned()]
    });
    let mut table = loaxa_core::report::table(&["BOX", "ANSWER", "SAID"], rows);
    for (box_id, answer) in &feedback.outside {
        table.push_str(&format!(
            "{box_id} is not of the scope by its status; its answer is not counted: {answer:?}\n"
        ));
    }
    table
}

/// `publish schedule`: checked as the receiving boxes would, then signed with the next revision.
fn publish_schedule_file(
    file: &Path,
    target: SignedTarget,
    revision: Option<u64>,
    media_dir: Option<PathBuf>,
    windows: &[String],
    hearing: Hearing,
) -> Result<()> {
    let mut options = LoadOptions {
        author: schedule::Author::District,
        // Checked against the boxes' windows once they are read.
        windows: None,
        ..LoadOptions::standalone(file, Some(loaxa_media::decode::check_file))
    };
    options.media_dir = media_dir.unwrap_or(options.media_dir);
    let windows = if windows.is_empty() {
        None
    } else {
        Some(parse_windows(windows)?)
    };
    let registry = target.registry()?;
    let SignedTarget {
        to: scope,
        key,
        broker,
        approver,
        archive: _,
    } = target;
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("{}: cannot read", file.display()))?;
    // What is wrong whatever the boxes are is said before the broker is asked anything.
    let loaded = schedule::parse(&text, file, &options);
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
    let key = read_secret_key(&key)?;
    let spec = loaxa_district::publish::ScheduleSpec {
        scope: &scope,
        schedule: &text,
        file,
        options: &options,
        windows,
        approver: &approver,
        revision,
        force: hearing.force,
        answer_wait: seconds(hearing.wait)?,
        registry: &registry,
    };
    let report = match block_on(loaxa_district::publish::publish_schedule(
        &broker.into(),
        &key,
        &spec,
    ))? {
        Ok(report) => report,
        Err(PublishError::Schedule(problems)) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            return Err(PublishError::Schedule(problems).into());
        }
        Err(e) => return Err(e.into()),
    };
    let revision = report.revision;
    println!(
        "published {} to {scope} as revision {revision}: {}",
        file.display(),
        counts(&report.feedback)
    );
    print!("{}", feedback_table(&report.feedback));
    if let Some(withdrawal) = report.withdrawn {
        let now = match withdrawal {
            Withdrawal::Restored {
                revision: Some(previous),
            } => format!("revision {previous} is the scope's schedule again"),
            Withdrawal::Restored { revision: None } => {
                "the schedule before it is the scope's again".to_owned()
            }
            Withdrawal::Cleared => "the scope has no schedule on the broker".to_owned(),
        };
        bail!("revision {revision} withdrawn: a box refused it; {now}");
    }
    if report.feedback.received() == 0 && hearing.wait > 0.0 {
        bail!("no box received revision {revision}");
    }
    Ok(())
}

/// The bulletin upload's progress on stderr: chunks sent, rate, time left. indicatif draws it only
/// when stderr is a terminal, so scripts and logs get the result line alone; it is cleared when
/// dropped, on success or error, so the line that follows starts clean.
fn upload_bar() -> Result<ProgressBar> {
    let style = ProgressStyle::with_template(
        "uploading {wide_bar} {pos}/{len} chunks, {per_sec:1}, {eta} left",
    )
    .context("the progress bar's template")?;
    Ok(ProgressBar::no_length()
        .with_style(style)
        .with_finish(ProgressFinish::AndClear))
}

/// What `loaxa send` prints: how many boxes acted and refused (with why), and who was silent.
fn answers_report(what: &str, scope: &Scope, feedback: &Feedback) -> String {
    let mut out = format!(
        "sent {what} to {scope}: {} acted, {} refused, {} did not answer ({} online",
        feedback.received(),
        feedback.rejected(),
        feedback.silent(),
        feedback.online()
    );
    if feedback.offline() > 0 {
        out.push_str(&format!(
            ", {} offline will not hear it",
            feedback.offline()
        ));
    }
    out.push_str(")\n");
    for (box_id, answer) in &feedback.per_box {
        match answer {
            BoxAnswer::Rejected(reason) => out.push_str(&format!("  {box_id} refused: {reason}\n")),
            BoxAnswer::NoAnswer => out.push_str(&format!("  {box_id} did not answer\n")),
            BoxAnswer::Received(_) | BoxAnswer::Offline => {}
        }
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

fn read_secret_key(path: &Path) -> Result<loaxa_core::trust::SecretKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read key", path.display()))?;
    loaxa_core::trust::SecretKey::parse(&text).with_context(|| path.display().to_string())
}

fn generate_key(prefix: &Path) -> Result<()> {
    let key = loaxa_core::trust::SecretKey::generate();
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

/// A one-shot runtime for a command's work over the link.
fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    loaxa_link::block_on(future).context("cannot start the async runtime")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_declares_every_argument_consistently() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
