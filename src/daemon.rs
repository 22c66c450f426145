//! The box daemon, top to bottom: open the store and recover from a crash, open the output and
//! start the player, load the schedules, then loop: ask the agenda what to do, do it, record it.
//!
//! The loop is the only writer of the store. It hands one programme at a time to the player and
//! waits for its report, so the as-run log is written in airing order.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant, SystemTime};

use chrono::{DateTime, Duration, Utc};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::agenda::{Action, Agenda, describe};
use crate::amp::Amp;
use crate::audio::output::{Output, OutputError};
use crate::config::Config;
use crate::link::remote::Remote;
use crate::player::{AirReport, AirRequest, Ending, Player};
use crate::schedule::plan::Occurrence;
use crate::schedule::{self, LoadOptions, Program};
use crate::store::{Outcome, Store, StoreError};

/// How often the schedules directory is checked for changes (SIGHUP reloads at once).
const RELOAD_EVERY: StdDuration = StdDuration::from_secs(10);
/// How often an idle daemon persists its cursor: the bound on how much a power cut can make it
/// forget. Rare enough to spare the SD card.
const CURSOR_EVERY: StdDuration = StdDuration::from_secs(60);
/// Time to decode a programme's first second before its start, on top of the amplifier warm-up.
const PREPARE: Duration = Duration::seconds(2);
/// Lateness below this is jitter, not worth a note in the log.
const ON_TIME: Duration = Duration::seconds(1);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("cannot start: {0}")]
    Start(String),
}

/// When `run` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunUntil {
    /// On SIGTERM or SIGINT (the box daemon).
    Signalled,
    /// After this many programmes have aired (or failed), or a signal (the demo).
    Aired(usize),
}

pub async fn run(config: &Config, until: RunUntil) -> Result<(), DaemonError> {
    let mut store = Store::open(&config.state_dir)?;
    let mut retries = VecDeque::new();
    for entry in store.recover_interrupted()? {
        tracing::warn!(program = %entry.program_id, scheduled = %entry.scheduled, "broadcast was interrupted by a stop or power cut");
        retries.push_back(entry);
    }
    let output = Output::open(&config.output, config.sample_rate)?;
    tracing::info!(box_id = %config.box_id, output = output.description(), state = %config.state_dir.display(), "loaxa daemon started");
    let player = Player::start(output, Amp::new(config.amplifier.clone()))
        .map_err(|e| DaemonError::Start(format!("player thread: {e}")))?;
    let signals =
        Signals::new().map_err(|e| DaemonError::Start(format!("signal handlers: {e}")))?;
    let remote =
        Remote::start(config).map_err(|e| DaemonError::Start(format!("district link: {e}")))?;
    let mut daemon = Daemon {
        config,
        store,
        player,
        signals,
        remote,
        agenda: Agenda {
            lead: PREPARE
                + Duration::from_std(config.amplifier.warm_up).unwrap_or(Duration::zero()),
            catch_up: Duration::from_std(config.catch_up).unwrap_or(Duration::minutes(10)),
        },
        programs: Vec::new(),
        schedules_seen: None,
        last_reload_check: Instant::now(),
        last_cursor_write: None,
        announced: None,
        aired: 0,
        until,
    };
    daemon.reload_schedules(true);
    daemon.retry_interrupted(retries).await?;
    let result = daemon.main_loop().await;
    if let Some(remote) = daemon.remote.take() {
        remote.shutdown().await;
    }
    result
}

struct Daemon<'a> {
    config: &'a Config,
    store: Store,
    player: Player,
    signals: Signals,
    /// The district link, if the box has one.
    remote: Option<Remote>,
    agenda: Agenda,
    programs: Vec<Arc<Program>>,
    /// The schedules directory as last loaded, to notice edits.
    schedules_seen: Option<Vec<(PathBuf, SystemTime, u64)>>,
    last_reload_check: Instant,
    last_cursor_write: Option<Instant>,
    /// The next occurrence last logged, so "next" is logged once, not at every wake-up.
    announced: Option<(String, DateTime<Utc>)>,
    aired: usize,
    until: RunUntil,
}

/// Whether the loop goes on after an action.
#[derive(PartialEq)]
enum Flow {
    Continue,
    Exit,
}

impl Daemon<'_> {
    async fn main_loop(&mut self) -> Result<(), DaemonError> {
        loop {
            if self.last_reload_check.elapsed() >= RELOAD_EVERY {
                self.reload_schedules(false);
            }
            let now = Utc::now();
            let cursor = match self.store.cursor()? {
                Some(cursor) => cursor,
                None => {
                    self.store.set_cursor(now)?; // a new box owes nothing from before its first start
                    now
                }
            };
            let store = &self.store;
            let action = self.agenda.next_action(&self.programs, cursor, now, |o| {
                // A store that cannot answer counts as "recorded": better to skip than air twice.
                store
                    .is_recorded(&o.program.id, o.scheduled)
                    .unwrap_or(true)
            });
            let flow = match action {
                Action::Air {
                    occurrence,
                    start_at,
                    late_by,
                } => {
                    let note = late_by
                        .filter(|l| *l >= ON_TIME)
                        .map(|l| format!("late by {}", describe(l)));
                    self.air(&occurrence, start_at, 1, note).await?
                }
                Action::Miss { occurrence, reason } => {
                    tracing::warn!(program = %occurrence.program.id, scheduled = %occurrence.scheduled, reason = %reason, "missed");
                    let program = &occurrence.program;
                    let row = self.store.record_not_aired(
                        &program.id,
                        &program.title,
                        occurrence.scheduled,
                        Outcome::Missed,
                        &reason,
                    )?;
                    self.report_as_run(row).await?;
                    Flow::Continue
                }
                Action::Idle { next, wake_at } => self.idle(now, next, wake_at).await?,
            };
            if flow == Flow::Exit {
                return Ok(());
            }
        }
    }

    /// Airs again, from the start, what a stop or power cut interrupted, if still in time.
    async fn retry_interrupted(
        &mut self,
        entries: VecDeque<crate::store::AsRunEntry>,
    ) -> Result<(), DaemonError> {
        for entry in entries {
            let now = Utc::now();
            let Some(program) = self
                .programs
                .iter()
                .find(|p| p.id == entry.program_id)
                .cloned()
            else {
                continue;
            };
            if now - entry.scheduled > self.agenda.catch_up
                || self.store.is_settled(&program.id, entry.scheduled)?
            {
                continue;
            }
            let occurrence = Occurrence {
                program,
                scheduled: entry.scheduled,
            };
            let note = format!(
                "retry after interruption, late by {}",
                describe(now - entry.scheduled)
            );
            if self
                .air(&occurrence, now, entry.attempt + 1, Some(note))
                .await?
                == Flow::Exit
            {
                break;
            }
        }
        Ok(())
    }

    /// Writes the as-run row ahead, airs, waits for the report (or a signal), completes the row.
    async fn air(
        &mut self,
        occurrence: &Occurrence,
        start_at: DateTime<Utc>,
        attempt: u32,
        note: Option<String>,
    ) -> Result<Flow, DaemonError> {
        let program = &occurrence.program;
        let row = self.store.begin(
            &program.id,
            &program.title,
            occurrence.scheduled,
            start_at,
            attempt,
        )?;
        tracing::info!(program = %program.id, title = %program.title, scheduled = %occurrence.scheduled, start_at = %start_at, attempt, "on air");
        let manifests = crate::link::bulletins::stored_manifests(&self.store)?;
        let bulletins = crate::link::bulletins::Bulletins::new(&self.config.state_dir);
        let resolved = crate::link::bulletins::resolve(program, &manifests, &bulletins, Utc::now());
        if !self.player.air(AirRequest {
            program: resolved,
            start_at,
        }) {
            return Err(DaemonError::Start("the player thread has stopped".into()));
        }
        if let Some(remote) = &mut self.remote {
            remote
                .on_air(&self.store, Some(program.title.clone()))
                .await?;
        }
        let mut stopping = false;
        let report = loop {
            tokio::select! {
                report = self.player.report() => break report,
                wake = next_wake(&mut self.signals, &mut self.remote) => {
                    if self.on_wake(wake).await? == Flow::Exit {
                        tracing::info!("cutting the programme on air");
                        self.player.stop();
                        stopping = true;
                    }
                }
            }
        };
        let Some(report) = report else {
            return Err(DaemonError::Start("the player thread has stopped".into()));
        };
        let (outcome, detail) = judge(&report, note);
        self.store
            .finish(row, report.started, report.ended, outcome, &detail)?;
        self.report_as_run(row).await?;
        if let Some(remote) = &mut self.remote {
            remote.on_air(&self.store, None).await?;
        }
        match outcome {
            Outcome::Aired => {
                tracing::info!(program = %program.id, started = %report.started.map_or("-".into(), |t| t.to_rfc3339()), ended = %report.ended, detail = %detail, "aired")
            }
            _ => {
                tracing::warn!(program = %program.id, outcome = %outcome, detail = %detail, "not aired in full")
            }
        }
        self.aired += 1;
        let done = matches!(self.until, RunUntil::Aired(n) if self.aired >= n);
        Ok(if stopping || done {
            Flow::Exit
        } else {
            Flow::Continue
        })
    }

    async fn idle(
        &mut self,
        now: DateTime<Utc>,
        next: Option<Occurrence>,
        wake_at: Option<DateTime<Utc>>,
    ) -> Result<Flow, DaemonError> {
        if self
            .last_cursor_write
            .is_none_or(|t| t.elapsed() >= CURSOR_EVERY)
        {
            self.store.set_cursor(now)?;
            self.last_cursor_write = Some(Instant::now());
        }
        if let Some(next) = &next {
            let key = (next.program.id.clone(), next.scheduled);
            if self.announced.as_ref() != Some(&key) {
                let local = next.scheduled.with_timezone(&next.program.timezone);
                tracing::info!(program = %next.program.id, at = %local.to_rfc3339(), "next on air");
                self.announced = Some(key);
            }
        }
        let until_reload = RELOAD_EVERY.saturating_sub(self.last_reload_check.elapsed());
        let sleep = wake_at
            .and_then(|w| (w - now).to_std().ok())
            .map_or(until_reload, |d| d.min(until_reload));
        tokio::select! {
            () = tokio::time::sleep(sleep) => Ok(Flow::Continue),
            wake = next_wake(&mut self.signals, &mut self.remote) => {
                let flow = self.on_wake(wake).await?;
                if flow == Flow::Exit {
                    self.store.set_cursor(Utc::now())?;
                }
                Ok(flow)
            }
        }
    }

    /// A signal or a link event, whether idle or on air.
    async fn on_wake(&mut self, wake: Wake) -> Result<Flow, DaemonError> {
        match wake {
            Wake::Signal(Received::Reload) => self.reload_schedules(true),
            Wake::Signal(Received::Stop(name)) => {
                tracing::info!(signal = name, "stopping");
                return Ok(Flow::Exit);
            }
            Wake::Link(event) => {
                if let Some(remote) = &mut self.remote
                    && remote
                        .handle(event, &mut self.store)
                        .await?
                        .schedules_changed
                {
                    self.reload_schedules(true);
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// Sends an as-run row to the district (through the outbox), if the box has a link.
    async fn report_as_run(&mut self, row: i64) -> Result<(), DaemonError> {
        if let Some(remote) = &mut self.remote {
            let entry = self.store.entry(row)?;
            remote.report_as_run(&mut self.store, &entry)?;
            remote.flush(&mut self.store).await?;
        }
        Ok(())
    }

    /// Reloads the schedules (the directory, and those received from the district) if `force`
    /// or if anything in the directory changed since the last load.
    fn reload_schedules(&mut self, force: bool) {
        self.last_reload_check = Instant::now();
        let seen = fingerprint(&self.config.schedules_dir);
        if !force && self.schedules_seen.as_ref() == Some(&seen) {
            return;
        }
        let options = LoadOptions {
            default_timezone: self.config.timezone,
            media_dir: self.config.media_dir.clone(),
            check_audio: false,
        };
        let mut loaded = schedule::load_dir(&self.config.schedules_dir, &options);
        match self.store.remote_schedules() {
            Ok(remote) => {
                for (scope, revision, text) in remote {
                    let name = format!("district schedule {scope} revision {revision}");
                    loaded.merge(schedule::parse(
                        &text,
                        std::path::Path::new(&name),
                        &options,
                    ));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the district's schedules; airing local ones")
            }
        }
        for error in &loaded.errors {
            tracing::error!(error = %error, "schedule problem; that programme will not air");
        }
        tracing::info!(
            dir = %self.config.schedules_dir.display(),
            programmes = loaded.programs.len(),
            problems = loaded.errors.len(),
            "schedules loaded"
        );
        self.programs = loaded.programs.into_iter().map(Arc::new).collect();
        self.schedules_seen = Some(seen);
        self.announced = None;
    }
}

/// Turns a player report into the as-run outcome and its detail text.
fn judge(report: &AirReport, note: Option<String>) -> (Outcome, String) {
    let mut details: Vec<String> = note.into_iter().collect();
    details.extend(
        report
            .items_failed
            .iter()
            .map(|(item, reason)| format!("item {item} failed: {reason}")),
    );
    let outcome = match &report.ending {
        Ending::Stopped => {
            details.push("stopped by the operator or a shutdown".into());
            Outcome::Interrupted
        }
        Ending::OutputFailed(reason) => {
            details.push(format!("audio output failed: {reason}"));
            Outcome::Failed
        }
        Ending::Completed if report.items_aired == 0 => {
            details.push("nothing could be aired".into());
            Outcome::Failed
        }
        Ending::Completed => Outcome::Aired,
    };
    (outcome, details.join("; "))
}

/// Names, modification times and sizes of the schedule files: changes when an operator edits one.
fn fingerprint(dir: &std::path::Path) -> Vec<(PathBuf, SystemTime, u64)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let meta = entry.metadata().ok()?;
            Some((entry.path(), meta.modified().ok()?, meta.len()))
        })
        .collect();
    files.sort();
    files
}

enum Wake {
    Signal(Received),
    Link(crate::link::remote::RemoteEvent),
}

/// Waits for a signal or, if the box has a link, a link event.
async fn next_wake(signals: &mut Signals, remote: &mut Option<Remote>) -> Wake {
    match remote {
        Some(remote) => tokio::select! {
            signal = signals.next() => Wake::Signal(signal),
            event = remote.next_event() => Wake::Link(event),
        },
        None => Wake::Signal(signals.next().await),
    }
}

enum Received {
    Stop(&'static str),
    Reload,
}

struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> Received {
        tokio::select! {
            _ = self.term.recv() => Received::Stop("SIGTERM"),
            _ = self.int.recv() => Received::Stop("SIGINT"),
            _ = self.hup.recv() => Received::Reload,
        }
    }
}
