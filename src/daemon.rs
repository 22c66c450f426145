//! The box daemon, top to bottom: open the store and recover from a crash, open the output and
//! start the player, load the schedules, then loop: ask the agenda what to do, do it, record it.
//!
//! The loop is the only writer of the store. It hands one programme at a time to the player and
//! waits for its report, so the as-run log is written in airing order.

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::agenda::{Action, Agenda};
use crate::amp::Amp;
use crate::arbiter::{Arbiter, Claim, Ruling, lateness};
use crate::audio::output::Output;
use crate::clock::{ClockWatch, Jump};
use crate::config::Config;
use crate::control::{Problem, Trouble};
use crate::link::bulletins::{Bulletins, Held, Resolved};
use crate::link::remote::Remote;
use crate::link::remote::RemoteEvent;
use crate::link::sweep::Sweep;
use crate::player::{AirReport, AirRequest, Player, StoppedBy};
use crate::reason::{Reason, Reasons, describe, ms};
use crate::store::{Outcome, SetBy, Store, StoreError, Volume};
use crate::workers::Workers;
use loaxa_core::protocol::{CommandDoc, EventBody, RemoteAction, Scope, topic};
use loaxa_core::schedule::plan::{Occurrence, Plan};
use loaxa_core::schedule::{self, LoadOptions, Program};

use decisions::{Fingerprint, Reloads, Retired};

mod decisions;
pub(crate) mod origin;
mod requests;

pub use requests::upcoming;

/// Time to decode a programme's first second before its start, on top of the amplifier warm-up.
const PREPARE: Duration = Duration::seconds(2);
/// How far back a box that was off (or whose clock was far behind) lists what it missed, one
/// row each: a day of a programme every minute is 1,440 rows; years of them would fill the card.
const MISSED_LISTED: Duration = Duration::days(1);
/// After the store refuses a write, the loop pauses this long before the next turn.
const STORE_PAUSE: StdDuration = StdDuration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
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
    let mut signals =
        Signals::new().map_err(|e| DaemonError::Start(format!("signal handlers: {e}")))?;
    let Some(output) = open_output(config, &mut signals).await else {
        return Ok(()); // stopped while waiting for the sound card
    };
    tracing::info!(box_id = %config.box_id, output = output.description(), state = %config.state_dir.display(), "loaxa daemon started");
    let device = crate::player::Device {
        spec: config.output.clone(),
        paced_rate: config.sample_rate,
    };
    let player = Player::start(output, device, Amp::new(config.amplifier.clone()))
        .map_err(|e| DaemonError::Start(format!("player thread: {e}")))?;
    let workers = Workers::start(crate::workers::THREADS, crate::workers::QUEUE)
        .map_err(|e| DaemonError::Start(format!("worker threads: {e}")))?;
    let (finished_reply, finished) = tokio::sync::mpsc::unbounded_channel();
    // The level chosen before a restart or a power cut, not full volume.
    let volume = store.volume()?.unwrap_or(Volume::DEFAULT);
    if volume != Volume::DEFAULT {
        tracing::info!(percent = volume.percent, set_by = ?volume.set_by, "volume restored");
    }
    player.set_volume(f32::from(volume.percent) / 100.0);
    let remote = Remote::start(config, &workers, volume.percent)
        .map_err(|e| DaemonError::Start(format!("district link: {e}")))?;
    // Without its control socket the box still airs; it only cannot be steered locally.
    let control = match crate::control::listen(&config.control_socket) {
        Ok(requests) => Some(requests),
        Err(e) => {
            tracing::error!(error = %e, "no local control");
            None
        }
    };
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
        arbiter: Arbiter::new(config.windows.clone()),
        on_air: Vec::new(),
        control,
        volume,
        problems: VecDeque::new(),
        sweep: Sweep::new(config.unused_bulletin_grace),
        systemd: crate::systemd::Notifier::from_env(),
        retries,
        unsaved: Vec::new(),
        next_tag: 0,
        clock: ClockWatch::new(Utc::now(), Instant::now()),
        programs: Arc::from([]),
        plan: Plan::new(&[], Utc::now()),
        workers,
        finished_reply,
        finished,
        levels: crate::levels::Levels::default(),
        reloads: Reloads::new(Instant::now()),
        last_cursor_write: None,
        announced: None,
        aired: 0,
        until,
    };
    // The first load is waited for: nothing is on air yet, and "ready" says what was loaded.
    let first = daemon.reload_input(fingerprint(&config.schedules_dir));
    daemon.swap_in(reload(first));
    daemon
        .systemd
        .ready(&format!("{} programmes", daemon.programs.len()));
    let result = daemon.main_loop().await;
    daemon.systemd.stopping();
    if let Some(remote) = daemon.remote.take() {
        remote.shutdown(&daemon.store).await;
    }
    result
}

/// Opens the audio output, waiting with growing delays (the player's, up to a minute) while it
/// is missing: a box whose USB sound card is unplugged, or not yet up after a power cut, must
/// start airing as soon as it is back rather than give up. None if a stop signal came first.
async fn open_output(config: &Config, signals: &mut Signals) -> Option<Output> {
    let mut attempt = 0;
    loop {
        let delay = crate::player::timing::OUTPUT_REOPEN.delay(attempt);
        match Output::open(&config.output, config.sample_rate) {
            Ok(output) => return Some(output),
            Err(e) => {
                tracing::error!(error = %e, retry_in_s = delay.as_secs(), "no audio output; retrying");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            received = signals.next() => {
                if let Received::Stop(name) = received {
                    tracing::info!(signal = name, "stopping");
                    return None;
                }
            }
        }
        attempt = attempt.saturating_add(1);
    }
}

struct Daemon<'a> {
    config: &'a Config,
    store: Store,
    player: Player,
    signals: Signals,
    /// The district link, if the box has one.
    remote: Option<Remote>,
    agenda: Agenda,
    /// Occurrences waiting for the air.
    arbiter: Arbiter,
    /// What the player has on its timeline, bottom to top; the top one is heard.
    on_air: Vec<OnAir>,
    /// Requests from the local control socket.
    control: Option<tokio::sync::mpsc::Receiver<crate::control::Pending>>,
    /// Master volume, and who set it.
    volume: Volume,
    /// The last few problems, for `loaxa status`.
    problems: VecDeque<Problem>,
    /// Decides which bulletin audio leaves the disk.
    sweep: Sweep,
    systemd: crate::systemd::Notifier,
    /// Broadcasts a stop or power cut interrupted, to try again once the air is free.
    retries: VecDeque<crate::store::AsRunEntry>,
    /// As-run writes the store refused (a full disk, a failing SD card), oldest first: tried
    /// again at every turn of the loop, and meanwhile counted as recorded so nothing airs twice.
    /// The air never waits for the log.
    unsaved: Vec<Unsaved>,
    /// The tag of the next programme handed to the player.
    next_tag: i64,
    /// Notices the wall clock being stepped.
    clock: ClockWatch,
    /// What the schedules hold, and each programme's next occurrence (the same programmes).
    programs: Arc<[Arc<Program>]>,
    plan: Plan,
    /// For work that grows with its input (decoding, parsing); never waited for.
    workers: Workers,
    finished_reply: tokio::sync::mpsc::UnboundedSender<Finished>,
    finished: tokio::sync::mpsc::UnboundedReceiver<Finished>,
    /// Files whose loudness is still to be measured.
    levels: crate::levels::Levels,
    /// When the schedules are reloaded, and what was loaded.
    reloads: Reloads,
    last_cursor_write: Option<Instant>,
    /// The next occurrence last logged, so "next" is logged once, not at every wake-up.
    announced: Option<(String, DateTime<Utc>)>,
    aired: usize,
    until: RunUntil,
}

/// A programme handed to the player, and its as-run row (None if the store refused it).
struct OnAir {
    /// The player's name for it.
    tag: i64,
    row: Option<i64>,
    occurrence: Occurrence,
    attempt: u32,
    /// Said in the as-run detail before what the player reports (lateness, a retry, what
    /// was missing).
    noted: Reasons,
}

/// What became of a programme's claim on the air.
enum Claimed {
    OnAir,
    /// Waiting for the air to be free.
    Queued,
    /// Not aired, and why (logged missed or failed).
    Refused(Reasons),
}

/// A command's outcome: what was done, or why nothing could be.
type Answer = Result<String, String>;

/// How a programme goes on air.
enum Start {
    /// After whatever the player has (normally nothing).
    Queue,
    /// Cutting into what is on air; that one resumes afterwards if `resume`.
    CutIn { resume: bool },
}

/// Whether the loop goes on after an action.
#[derive(PartialEq)]
enum Flow {
    Continue,
    Exit,
}

/// An as-run write waiting for the store to take it.
#[derive(Debug)]
enum Unsaved {
    /// Completing a row `begin` wrote.
    Finish {
        row: i64,
        occurrence: Occurrence,
        started: Option<DateTime<Utc>>,
        ended: DateTime<Utc>,
        outcome: Outcome,
        reasons: Reasons,
    },
    /// Telling the district about a row already written (the outbox refused it).
    Report { row: i64, occurrence: Occurrence },
    /// A whole row: an occurrence missed, or one aired whose start could not be written.
    Row {
        occurrence: Occurrence,
        started: Option<DateTime<Utc>>,
        ended: Option<DateTime<Utc>>,
        outcome: Outcome,
        reasons: Reasons,
        attempt: u32,
    },
}

impl Unsaved {
    /// Whether this is the record of `occurrence`, which the store does not have yet.
    fn records(&self, occurrence: &Occurrence) -> bool {
        matches!(self, Unsaved::Row { occurrence: o, .. } if o == occurrence)
    }

    /// The occurrence whose record this is: its programme says what the district is told.
    fn occurrence(&self) -> &Occurrence {
        match self {
            Unsaved::Finish { occurrence, .. }
            | Unsaved::Report { occurrence, .. }
            | Unsaved::Row { occurrence, .. } => occurrence,
        }
    }

    /// Writes it; the row written.
    fn save(&self, store: &mut Store) -> Result<i64, StoreError> {
        match self {
            Unsaved::Report { row, .. } => Ok(*row),
            Unsaved::Finish {
                row,
                occurrence: _,
                started,
                ended,
                outcome,
                reasons,
            } => store
                .finish(*row, *started, *ended, *outcome, reasons)
                .map(|()| *row),
            Unsaved::Row {
                occurrence,
                started,
                ended,
                outcome,
                reasons,
                attempt,
            } => store.record(
                &crate::store::NewEntry {
                    program_id: &occurrence.program.id,
                    title: &occurrence.program.title,
                    scheduled: occurrence.scheduled,
                    started: *started,
                    ended: *ended,
                    outcome: *outcome,
                    reasons,
                },
                *attempt,
            ),
        }
    }
}

/// What already accounts for an occurrence, so that it neither airs nor is logged twice: the
/// arbiter holds it, the player has it, or the log has (or will have) its row.
struct Accounted<'a> {
    arbiter: &'a Arbiter,
    on_air: &'a [OnAir],
    unsaved: &'a [Unsaved],
    store: &'a Store,
}

impl Accounted<'_> {
    fn holds(&self, occurrence: &Occurrence) -> Result<bool, StoreError> {
        Ok(self.arbiter.holds(occurrence)
            || self.on_air.iter().any(|a| a.occurrence == *occurrence)
            || self.unsaved.iter().any(|u| u.records(occurrence))
            || self
                .store
                .is_recorded(&occurrence.program.id, occurrence.scheduled)?)
    }
}

impl Daemon<'_> {
    async fn main_loop(&mut self) -> Result<(), DaemonError> {
        self.forget_long_ago()?;
        loop {
            // The loop shares its thread with the control socket's and the link's tasks. While
            // events keep coming (a burst of a thousand manifests) every turn finds one ready and
            // the loop would not give the thread up for hundreds of turns: an operator's
            // `loaxa status` would wait for seconds. Each turn lets the others run first.
            tokio::task::yield_now().await;
            match self.turn().await {
                Ok(Flow::Continue) => {}
                Ok(Flow::Exit) => return self.shut_down().await,
                // The store refused a write (a full disk, a failing card) outside the as-run
                // log's own retries: the box carries on airing, and the next turn tries again.
                Err(DaemonError::Store(e)) => {
                    tracing::error!(error = %e, "state not saved; carrying on");
                    self.note_problem(Trouble::NotSaved {
                        error: e.to_string(),
                    });
                    tokio::time::sleep(STORE_PAUSE).await;
                }
                Err(other) => return Err(other),
            }
        }
    }

    /// A box that was off for long (or first started with its clock years behind) would
    /// otherwise log every occurrence since, one by one: only the last [`MISSED_LISTED`] are.
    fn forget_long_ago(&mut self) -> Result<(), DaemonError> {
        let horizon = Utc::now() - MISSED_LISTED;
        if let Some(cursor) = self.store.cursor()?
            && cursor < horizon
        {
            tracing::warn!(since = %cursor, listed_from = %horizon, "the box was off (or its clock wrong) for long; occurrences before the last day are not listed as missed");
            self.store.set_cursor(horizon)?;
        }
        Ok(())
    }

    /// One turn of the loop: decide, act, or sleep until something happens.
    async fn turn(&mut self) -> Result<Flow, DaemonError> {
        // Pinged from here, the heart of the loop: if planning wedges, systemd restarts us.
        self.systemd.alive();
        self.save_unsaved().await?;
        if let Some(jump) = self.clock.observe(Utc::now(), Instant::now()) {
            self.on_clock_jump(jump).await?;
        }
        if self.reloads.check_due(Instant::now()) {
            self.reload_schedules(false);
        }
        let now = Utc::now();
        for (occurrence, reason) in self.arbiter.expired(now) {
            self.record_missed(&occurrence, &reason).await?;
        }
        if self.on_air.is_empty() {
            if let Some(entry) = self.retries.pop_front() {
                self.retry(entry).await?;
                return Ok(Flow::Continue);
            }
            if let Some(claim) = self.arbiter.slot_free(now) {
                let noted = lateness(&claim)
                    .map(|l| Reason::WaitedForTheAir { late_ms: ms(l) })
                    .into();
                self.start(&claim.occurrence, claim.start_at, 1, noted, Start::Queue)
                    .await?;
                return Ok(Flow::Continue);
            }
        }
        let cursor = match self.store.cursor()? {
            Some(cursor) => cursor,
            None => {
                self.store.set_cursor(now)?; // a new box owes nothing from before its first start
                now
            }
        };
        let accounted = Accounted {
            arbiter: &self.arbiter,
            on_air: &self.on_air,
            unsaved: &self.unsaved,
            store: &self.store,
        };
        let action = self.agenda.next_action(&mut self.plan, cursor, now, |o| {
            // A store that cannot answer counts as "recorded": better to skip than air twice.
            accounted.holds(o).unwrap_or(true)
        });
        let flow = match action {
            Action::Air {
                occurrence,
                start_at,
                late_by,
            } => {
                self.claim(occurrence, start_at, late_by).await?;
                Flow::Continue
            }
            Action::Miss { occurrence, reason } => {
                self.record_missed(&occurrence, &reason).await?;
                Flow::Continue
            }
            Action::Idle { next, wake_at } => self.idle(now, next, wake_at).await?,
        };
        Ok(flow)
    }

    /// Writes what the store refused before, oldest first, until it refuses again (then the
    /// turn goes on: the air does not wait for the log).
    async fn save_unsaved(&mut self) -> Result<(), DaemonError> {
        while let Some(first) = self.unsaved.first() {
            let Ok(row) = first.save(&mut self.store) else {
                return Ok(());
            };
            let occurrence = first.occurrence().clone();
            if let Err(DaemonError::Store(_)) = self.report_as_run(row, &occurrence).await {
                self.unsaved[0] = Unsaved::Report { row, occurrence };
                return Ok(());
            }
            tracing::info!(row, "as-run entry saved late; the store takes writes again");
            self.unsaved.remove(0);
        }
        Ok(())
    }

    /// Writes an as-run entry, or keeps it for later if the store refuses it.
    async fn save(&mut self, entry: Unsaved) -> Result<(), DaemonError> {
        if self.unsaved.is_empty() {
            match entry.save(&mut self.store) {
                Ok(row) => {
                    let occurrence = entry.occurrence().clone();
                    if let Err(DaemonError::Store(e)) = self.report_as_run(row, &occurrence).await {
                        tracing::error!(error = %e, "as-run event not queued for the district; kept to queue later");
                        self.unsaved.push(Unsaved::Report { row, occurrence });
                    }
                    return Ok(());
                }
                Err(e) => {
                    tracing::error!(error = %e, "as-run entry not saved; kept to write later");
                    self.note_problem(Trouble::NotSaved {
                        error: e.to_string(),
                    });
                }
            }
        }
        self.unsaved.push(entry);
        Ok(())
    }

    /// The wall clock was stepped. Forward: what it skipped is logged missed, not caught up in
    /// a burst. Back: planning starts again from the new "now"; what is in the log already
    /// never airs twice, whatever the clock says.
    async fn on_clock_jump(&mut self, jump: Jump) -> Result<(), DaemonError> {
        let by = describe(jump.size());
        if !jump.is_forward() {
            tracing::warn!(from = %jump.from, to = %jump.to, by = %by, "the wall clock went back; planning from the new time");
            self.note_problem(Trouble::ClockStepped {
                by_ms: -ms(jump.size()),
            });
            self.store.reset_cursor(jump.to)?;
            self.announced = None;
            return Ok(());
        }
        tracing::warn!(from = %jump.from, to = %jump.to, by = %by, "the wall clock jumped forward; what it skipped is missed, not caught up");
        self.note_problem(Trouble::ClockStepped {
            by_ms: ms(jump.size()),
        });
        let (skipped, reason) = decisions::skipped_by(&jump, &self.programs);
        for occurrence in skipped {
            let recorded = Accounted {
                arbiter: &self.arbiter,
                on_air: &self.on_air,
                unsaved: &self.unsaved,
                store: &self.store,
            }
            .holds(&occurrence)?;
            if !recorded {
                self.record_missed(&occurrence, &reason).await?;
            }
        }
        // Past what was listed (a step of years), nothing before the new time is looked at.
        self.store.set_cursor(jump.to)?;
        self.announced = None;
        Ok(())
    }

    /// An occurrence is due: the window and the arbiter decide whether and how it airs. One with
    /// nothing to air is logged failed at once: it neither sounds a chime nor cuts in.
    async fn claim(
        &mut self,
        occurrence: Occurrence,
        start_at: DateTime<Utc>,
        late_by: Option<Duration>,
    ) -> Result<Claimed, DaemonError> {
        let resolved = self.resolve(&occurrence.program)?;
        if !resolved.has_content() {
            let why = self
                .not_aired(&occurrence, 1, Reasons::default(), &resolved)
                .await?;
            self.tell_missing(&resolved).await?;
            return Ok(Claimed::Refused(why));
        }
        let on_air = self.on_air.last().map(|a| a.occurrence.program.as_ref());
        let refused_occurrence = occurrence.clone();
        Ok(
            match self.arbiter.claim(
                Claim {
                    occurrence,
                    start_at,
                },
                on_air,
            ) {
                Ruling::Refused(reason) => {
                    self.record_missed(&refused_occurrence, &reason).await?;
                    Claimed::Refused(Reasons::one(reason))
                }
                Ruling::Air(claim) => {
                    let noted = decisions::late_note(late_by).into();
                    self.start(&claim.occurrence, claim.start_at, 1, noted, Start::Queue)
                        .await?
                }
                Ruling::Cut { claim, resume } => {
                    self.start(
                        &claim.occurrence,
                        claim.start_at,
                        1,
                        Reasons::default(),
                        Start::CutIn { resume },
                    )
                    .await?
                }
                Ruling::Queued => {
                    tracing::info!(program = %self.on_air.last().map_or("-", |a| a.occurrence.program.id.as_str()), "the air is taken; a programme waits for it");
                    Claimed::Queued
                }
            },
        )
    }

    /// What of `program` can air now, from the bulletins held.
    fn resolve(&self, program: &Arc<Program>) -> Result<Resolved, DaemonError> {
        let held = Held::read(&self.store)?;
        let bulletins = Bulletins::new(&self.config.state_dir);
        Ok(crate::link::bulletins::resolve(
            program,
            &held,
            &bulletins,
            Utc::now(),
        ))
    }

    /// The bulletin ids that the programmes loaded, on air or waiting for the air name.
    fn named_bulletins(&self) -> BTreeSet<String> {
        let programs = self.programs.iter().map(Arc::as_ref);
        let on_air = self.on_air.iter().map(|a| a.occurrence.program.as_ref());
        let waiting = self.arbiter.waiting().map(|o| o.program.as_ref());
        programs
            .chain(on_air)
            .chain(waiting)
            .flat_map(origin::bulletins)
            .collect()
    }

    /// Deletes the bulletin audio nothing needs any more and brings back a retired bulletin a
    /// programme names again (see `link::sweep`). A directory listing and a store query, at
    /// the link's housekeeping tick.
    async fn sweep_bulletins(&mut self) -> Result<(), DaemonError> {
        let now = Utc::now();
        let held = Held::read(&self.store)?;
        let named = self.named_bulletins();
        let mut changed = false;
        for retired in &held.retired {
            let fate = decisions::retired_fate(retired, &held.manifests, &named, now);
            if fate == Retired::Forget {
                self.store.unretire(&retired.sha256)?;
            } else if fate == Retired::Restore {
                let json = serde_json::to_string(retired).unwrap_or_default();
                self.store.save_manifest(
                    &retired.id,
                    &retired.sha256,
                    &json,
                    retired.issued_at,
                    now,
                )?;
                self.store.unretire(&retired.sha256)?;
                tracing::info!(bulletin = %retired.id, "a deleted bulletin is named again; fetching it again");
                changed = true;
            }
        }
        let on_disk = Bulletins::new(&self.config.state_dir).on_disk();
        for removal in self.sweep.plan(&on_disk, &held.manifests, &named, now) {
            let mut freed = 0;
            for path in &removal.paths {
                freed += size_of(path);
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(path)
                } else {
                    std::fs::remove_file(path)
                };
                if let Err(e) = removed {
                    tracing::warn!(path = %path.display(), error = %e, "bulletin audio not deleted");
                }
            }
            for id in &removal.manifests {
                self.store.retire_manifest(id, &removal.sha256)?;
            }
            tracing::info!(sha256 = %removal.sha256, bulletins = ?removal.manifests, freed_bytes = freed, why = %removal.why, "bulletin audio deleted");
            changed = true;
        }
        if changed && let Some(remote) = &mut self.remote {
            remote.bulletins_changed(&self.store)?;
        }
        Ok(())
    }

    /// Logs `occurrence` failed for want of content, without airing anything; the reasons.
    async fn not_aired(
        &mut self,
        occurrence: &Occurrence,
        attempt: u32,
        mut reasons: Reasons,
        resolved: &Resolved,
    ) -> Result<Reasons, DaemonError> {
        let program = &occurrence.program;
        reasons.0.extend(resolved.missing_reason());
        tracing::warn!(program = %program.id, scheduled = %occurrence.scheduled, detail = %reasons, codes = %reasons.codes(), "not aired: nothing to air");
        self.note_programme_problem(occurrence, Outcome::Failed, &reasons);
        self.save(Unsaved::Row {
            occurrence: occurrence.clone(),
            started: None,
            ended: Some(Utc::now()),
            outcome: Outcome::Failed,
            reasons: reasons.clone(),
            attempt,
        })
        .await?;
        Ok(reasons)
    }

    /// Tells the district of each bulletin a programme named that could not air, on that
    /// bulletin's topic (its manifest's scope, or this box's own if it holds none).
    async fn tell_missing(&mut self, resolved: &Resolved) -> Result<(), DaemonError> {
        let Some(remote) = &mut self.remote else {
            return Ok(());
        };
        let manifests = crate::link::bulletins::stored_manifests(&self.store)?;
        for (item, why) in &resolved.missing {
            let schedule::Item::Bulletin { id } = item else {
                continue; // a local file is the commune's own business
            };
            let scope = manifests.iter().find(|m| &m.id == id).map_or_else(
                || Scope::Box(self.config.box_id.clone()),
                |m| m.scope.clone(),
            );
            let body = EventBody::Rejected {
                topic: topic::bulletin(&scope, id),
                reason: format!("programme {}: content missing: {why}", resolved.program.id),
                command: None,
                revision: None,
            };
            remote.tell(&mut self.store, body)?;
        }
        Ok(())
    }

    /// Airs again, from the start, what a stop or power cut interrupted, if still in time.
    async fn retry(&mut self, entry: crate::store::AsRunEntry) -> Result<(), DaemonError> {
        let now = Utc::now();
        let Some((occurrence, retried)) =
            decisions::retry_of(&entry, &self.programs, now, self.agenda.catch_up)
        else {
            return Ok(());
        };
        if self
            .store
            .is_settled(&occurrence.program.id, occurrence.scheduled)?
        {
            return Ok(());
        }
        self.start(
            &occurrence,
            now,
            entry.attempt + 1,
            Reasons::one(retried),
            Start::Queue,
        )
        .await?;
        Ok(())
    }

    /// Writes the as-run row ahead and hands the programme to the player. What it names that
    /// is missing is left out and said in the as-run detail; with nothing left to air, it is
    /// logged failed and nothing sounds.
    async fn start(
        &mut self,
        occurrence: &Occurrence,
        start_at: DateTime<Utc>,
        attempt: u32,
        mut noted: Reasons,
        how: Start,
    ) -> Result<Claimed, DaemonError> {
        let program = &occurrence.program;
        let resolved = self.resolve(program)?;
        if !resolved.missing.is_empty() {
            self.tell_missing(&resolved).await?;
        }
        if !resolved.has_content() {
            let why = self
                .not_aired(occurrence, attempt, noted, &resolved)
                .await?;
            return Ok(Claimed::Refused(why));
        }
        noted.0.extend(resolved.missing_reason());
        let row = match self.store.begin(
            &program.id,
            &program.title,
            occurrence.scheduled,
            start_at,
            attempt,
        ) {
            Ok(row) => Some(row),
            Err(e) => {
                tracing::error!(program = %program.id, error = %e, "cannot write the as-run log; airing anyway");
                self.note_problem(Trouble::NotSaved {
                    error: e.to_string(),
                });
                None
            }
        };
        tracing::info!(program = %program.id, title = %program.title, level = %program.priority, scheduled = %occurrence.scheduled, start_at = %start_at, attempt, cut_in = matches!(how, Start::CutIn { .. }), "on air");
        let resolved = with_chime(resolved.program, self.config.chimes.get(&program.priority));
        let local = start_at.with_timezone(&program.timezone).time();
        let window_volume = self.config.windows.volume_at(local).unwrap_or(1.0);
        let mut loudness_gains = std::collections::BTreeMap::new();
        let (target, ceiling) = (self.config.loudness_target, self.config.true_peak_ceiling);
        for path in audio_files(&resolved.items) {
            let gain = match crate::levels::known(&self.store, &path) {
                Some(loudness) => loaxa_media::loudness::playback_gain(&loudness, target, ceiling),
                None => {
                    // Still being measured (or new since the reload): it airs on time rather
                    // than wait for a decode of the whole file.
                    let bulletins = Bulletins::new(&self.config.state_dir);
                    let declared = Held::read(&self.store)?
                        .manifests
                        .iter()
                        .find(|m| bulletins.file(m) == path)
                        .and_then(|m| m.loudness_lufs);
                    let gain = crate::levels::provisional_gain(declared, target, ceiling);
                    tracing::warn!(program = %program.id, path = %path.display(), gain = format!("{gain:.3}"), from = if declared.is_some() { "the manifest's loudness_lufs" } else { "unity" }, "loudness not measured yet; provisional gain");
                    self.levels.want(&self.store, &path);
                    gain
                }
            };
            loudness_gains.insert(path, gain);
        }
        self.levels
            .feed(&self.workers, &self.finished_reply, Finished::Measured);
        let resolved = Arc::new(Program {
            volume: resolved.volume * window_volume,
            loudness_gains,
            ..(*resolved).clone()
        });
        let tag = self.next_tag;
        self.next_tag += 1;
        let request = AirRequest {
            tag,
            program: resolved,
            start_at,
        };
        let sent = match how {
            Start::Queue => self.player.air(request),
            Start::CutIn { resume } => self.player.cut_in(request, resume),
        };
        if !sent {
            return Err(DaemonError::Start("the player thread has stopped".into()));
        }
        self.on_air.push(OnAir {
            tag,
            row,
            occurrence: occurrence.clone(),
            attempt,
            noted,
        });
        if let Some(remote) = &mut self.remote {
            remote.on_air(&self.store, Some(program.title.clone()))?;
        }
        Ok(Claimed::OnAir)
    }

    /// Completes the as-run row of a programme the player is done with.
    async fn finish(&mut self, report: AirReport) -> Result<(), DaemonError> {
        let Some(index) = self.on_air.iter().position(|a| a.tag == report.tag) else {
            return Ok(());
        };
        let done = self.on_air.remove(index);
        let program = &done.occurrence.program;
        for mark in &report.marks {
            tracing::info!(program = %program.id, at = %mark.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true), what = %mark.what, "boundary");
        }
        let (outcome, reasons) = decisions::judge(&report, &done.noted);
        let entry = match done.row {
            Some(row) => Unsaved::Finish {
                row,
                occurrence: done.occurrence.clone(),
                started: report.started,
                ended: report.ended,
                outcome,
                reasons: reasons.clone(),
            },
            None => Unsaved::Row {
                occurrence: done.occurrence.clone(),
                started: report.started,
                ended: Some(report.ended),
                outcome,
                reasons: reasons.clone(),
                attempt: done.attempt,
            },
        };
        self.save(entry).await?;
        match outcome {
            Outcome::Aired => {
                tracing::info!(program = %program.id, started = %report.started.map_or("-".into(), |t| t.to_rfc3339()), ended = %report.ended, detail = %reasons, codes = %reasons.codes(), "aired")
            }
            _ => {
                tracing::warn!(program = %program.id, outcome = %outcome, detail = %reasons, codes = %reasons.codes(), "not aired in full");
                let on_purpose = reasons
                    .0
                    .iter()
                    .any(|r| matches!(r, Reason::StoppedByOperator | Reason::StoppedByDistrict));
                if !on_purpose {
                    self.note_programme_problem(&done.occurrence, outcome, &reasons);
                }
            }
        }
        if let Some(remote) = &mut self.remote {
            let title = self
                .on_air
                .last()
                .map(|a| a.occurrence.program.title.clone());
            remote.on_air(&self.store, title)?;
        }
        self.aired += 1;
        Ok(())
    }

    /// Keeps `what` among the last few problems `loaxa status` shows.
    fn note_problem(&mut self, what: Trouble) {
        if self.problems.len() == 5 {
            self.problems.pop_front();
        }
        self.problems.push_back(Problem {
            at: Utc::now(),
            what,
        });
    }

    fn note_programme_problem(
        &mut self,
        occurrence: &Occurrence,
        outcome: Outcome,
        reasons: &Reasons,
    ) {
        self.note_problem(Trouble::Programme {
            program: occurrence.program.id.clone(),
            title: occurrence.program.title.clone(),
            outcome,
            reasons: reasons.clone(),
        });
    }

    async fn record_missed(
        &mut self,
        occurrence: &Occurrence,
        reason: &Reason,
    ) -> Result<(), DaemonError> {
        let reasons = Reasons::one(reason.clone());
        tracing::warn!(program = %occurrence.program.id, scheduled = %occurrence.scheduled, reason = %reason, codes = %reasons.codes(), "missed");
        self.note_programme_problem(occurrence, Outcome::Missed, &reasons);
        self.save(Unsaved::Row {
            occurrence: occurrence.clone(),
            started: None,
            ended: None,
            outcome: Outcome::Missed,
            reasons,
            attempt: 1,
        })
        .await
    }

    /// Stops the player and records what it was airing as interrupted.
    async fn shut_down(&mut self) -> Result<(), DaemonError> {
        self.store.set_cursor(Utc::now())?;
        if self.on_air.is_empty() {
            return Ok(());
        }
        tracing::info!("cutting the programme on air");
        self.player.stop();
        while !self.on_air.is_empty() {
            match tokio::time::timeout(StdDuration::from_secs(5), self.player.report()).await {
                Ok(Some(report)) => self.finish(report).await?,
                _ => break,
            }
        }
        Ok(())
    }

    async fn idle(
        &mut self,
        now: DateTime<Utc>,
        next: Option<Occurrence>,
        wake_at: Option<DateTime<Utc>>,
    ) -> Result<Flow, DaemonError> {
        if decisions::cursor_due(self.last_cursor_write, Instant::now()) {
            // Only a bound on what a power cut makes the box forget: a full disk may refuse it.
            if let Err(e) = self.store.set_cursor(now) {
                tracing::warn!(error = %e, "cursor not saved");
            }
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
        let until_reload = self.reloads.until_check(Instant::now());
        let sleep =
            decisions::sleep_for(now, [wake_at, self.arbiter.next_deadline()], until_reload);
        // In order: a signal, what is due, the player, the workers, an operator's request, then
        // the link. A burst of link events (each ready at once) must not keep SIGTERM, a
        // reload's result or `loaxa status` waiting; the broker keeps what the link has not
        // taken yet.
        tokio::select! {
            biased;
            signal = self.signals.next() => self.on_wake(Wake::Signal(signal)).await,
            () = tokio::time::sleep(sleep) => Ok(Flow::Continue),
            report = self.player.report() => {
                let Some(report) = report else {
                    return Err(DaemonError::Start("the player thread has stopped".into()));
                };
                self.finish(report).await?;
                let done = matches!(self.until, RunUntil::Aired(n) if self.aired >= n);
                Ok(if done && self.on_air.is_empty() { Flow::Exit } else { Flow::Continue })
            }
            Some(finished) = self.finished.recv() => {
                self.on_finished(finished);
                Ok(Flow::Continue)
            }
            pending = next_request(&mut self.control) => {
                // A store that fails to answer one request (a failing card, a locked file)
                // is the operator's to hear about, not a reason to stop airing.
                let reply = self.serve(pending.request).await.unwrap_or_else(|error| {
                    tracing::warn!(%error, "control request failed");
                    crate::control::Reply::Refused(crate::control::Refusal::Failed {
                        error: error.to_string(),
                    })
                });
                let _ = pending.reply.send(reply);
                Ok(Flow::Continue)
            }
            event = next_link_event(&mut self.remote) => self.on_wake(Wake::Link(event)).await,
        }
    }

    /// A worker is done.
    fn on_finished(&mut self, finished: Finished) {
        match finished {
            Finished::Reloaded(reloaded) => {
                let again = self.reloads.done();
                self.swap_in(*reloaded);
                if let Some(force) = again {
                    self.reload_schedules(force);
                }
            }
            Finished::Measured(measured) => {
                self.levels.done(&measured.path);
                crate::levels::keep(&mut self.store, &measured);
                self.levels
                    .feed(&self.workers, &self.finished_reply, Finished::Measured);
            }
        }
    }

    /// A signal or a link event.
    async fn on_wake(&mut self, wake: Wake) -> Result<Flow, DaemonError> {
        match wake {
            Wake::Signal(Received::Reload) => self.reload_schedules(true),
            Wake::Signal(Received::Stop(name)) => {
                tracing::info!(signal = name, "stopping");
                return Ok(Flow::Exit);
            }
            Wake::Link(event) => {
                let Some(remote) = &mut self.remote else {
                    return Ok(Flow::Continue);
                };
                let housekeeping = matches!(event, RemoteEvent::Housekeeping);
                let handled = remote.handle(event, &mut self.store).await?;
                if housekeeping {
                    self.sweep_bulletins().await?;
                }
                if handled.schedules_changed {
                    self.reload_schedules(true);
                }
                if let Some(command) = handled.command {
                    let source = origin::command_source(&command);
                    let answer = self.carry_out(command.action.clone(), &source).await?;
                    self.answer(&command, answer).await?;
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// The title the district gave bulletin `id`, if the box holds its manifest: what a
    /// programme airing it now is called in `status` and the as-run log.
    fn bulletin_title(&self, id: &str) -> Result<Option<String>, DaemonError> {
        Ok(self
            .store
            .manifest(id)?
            .and_then(|json| loaxa_core::protocol::Manifest::from_stored(&json).ok())
            .map(|manifest| manifest.title))
    }

    /// A command from the district (or, through the control socket, an operator), whose
    /// programme, if it makes one, names `source` (see `origin`). What was done, or why nothing
    /// could be.
    async fn carry_out(
        &mut self,
        action: RemoteAction,
        source: &str,
    ) -> Result<Answer, DaemonError> {
        match action {
            RemoteAction::PlayNow { bulletin, priority } => {
                let title = self
                    .bulletin_title(&bulletin)?
                    .unwrap_or_else(|| bulletin.clone());
                let program = Program::immediate(
                    &origin::play_now_id(Some(&bulletin)),
                    &title,
                    vec![
                        schedule::Item::Chime,
                        schedule::Item::Bulletin { id: bulletin },
                    ],
                    priority,
                    self.config.timezone,
                    source,
                );
                let now = Utc::now();
                let occurrence = Occurrence {
                    program: Arc::new(program),
                    scheduled: now,
                };
                // The answer to the command says what is missing: no event of its own.
                let resolved = self.resolve(&occurrence.program)?;
                if !resolved.has_content() {
                    let why = self
                        .not_aired(&occurrence, 1, Reasons::default(), &resolved)
                        .await?;
                    return Ok(Err(why.to_string()));
                }
                Ok(match self.claim(occurrence, now, None).await? {
                    Claimed::OnAir => Ok("on air".into()),
                    Claimed::Queued => Ok("waiting for the air".into()),
                    Claimed::Refused(why) => Err(why.to_string()),
                })
            }
            RemoteAction::Stop => {
                let by = if source == origin::OPERATOR {
                    StoppedBy::Operator
                } else {
                    StoppedBy::District
                };
                tracing::info!(by = ?by, "stopping the programme on air, as asked");
                let what = if self.on_air.is_empty() {
                    "nothing was on air"
                } else {
                    "stopped"
                };
                self.player.stop_current(by);
                Ok(Ok(what.into()))
            }
            RemoteAction::Volume { percent } => {
                let set_by = if source == origin::OPERATOR {
                    SetBy::Operator
                } else {
                    SetBy::District
                };
                tracing::info!(percent, set_by = ?set_by, "volume set");
                self.volume = Volume { percent, set_by };
                self.player.set_volume(f32::from(percent) / 100.0);
                self.store.set_volume(self.volume)?;
                if let Some(remote) = &mut self.remote {
                    remote.set_volume(&self.store, percent)?;
                }
                Ok(Ok("set".into()))
            }
        }
    }

    /// Tells the district what became of its command: `received` if the box acted on it,
    /// `rejected` with the reason if it could not.
    async fn answer(&mut self, command: &CommandDoc, answer: Answer) -> Result<(), DaemonError> {
        let Some(remote) = &mut self.remote else {
            return Ok(());
        };
        let topic = topic::command(&command.scope);
        let body = match answer {
            Ok(what) => EventBody::Received {
                topic,
                what: format!("command {}: {what}", command.action),
                command: Some(command.issued_at),
                revision: None,
            },
            Err(reason) => {
                tracing::warn!(scope = %command.scope, action = %command.action, reason = %reason, "command not carried out");
                EventBody::Rejected {
                    topic,
                    reason: format!("command {}: {reason}", command.action),
                    command: Some(command.issued_at),
                    revision: None,
                }
            }
        };
        remote.tell(&mut self.store, body)?;
        Ok(())
    }

    /// Sends an as-run row, the record of `occurrence`, to the district (through the outbox),
    /// if the box has a link.
    async fn report_as_run(
        &mut self,
        row: i64,
        occurrence: &Occurrence,
    ) -> Result<(), DaemonError> {
        if let Some(remote) = &mut self.remote {
            let entry = self.store.entry(row)?;
            let program = &occurrence.program;
            remote.report_as_run(
                &mut self.store,
                &entry,
                origin::origin(&program.source),
                origin::bulletins(program),
            );
            remote.flush(&mut self.store)?;
        }
        Ok(())
    }

    /// Reloads the schedules (the directory, and those received from the district) if `force`
    /// or if anything in the directory changed since the last load. Parsing and planning run on
    /// a worker; the programmes loaded before keep airing until the result is swapped in.
    fn reload_schedules(&mut self, force: bool) {
        if !self.reloads.ask(force, Instant::now()) {
            return; // one at a time; this request is served once the running one is in
        }
        let seen = fingerprint(&self.config.schedules_dir);
        if !self.reloads.wanted(force, &seen) {
            return;
        }
        let input = self.reload_input(seen);
        let stand_in = Finished::Reloaded(Box::new(Reloaded::failed(&input)));
        match self
            .workers
            .submit(&self.finished_reply, stand_in, move || {
                Finished::Reloaded(Box::new(reload(input)))
            }) {
            Ok(()) => self.reloads.started(),
            Err(e) => {
                tracing::warn!(error = %e, "schedules not reloaded yet; trying again shortly");
                self.reloads.not_started();
            }
        }
    }

    /// What a reload reads: cheap reads of the store and the directory, on the loop.
    fn reload_input(&self, seen: Fingerprint) -> ReloadInput {
        let local = match self.store.local_programs() {
            Ok(local) => local
                .into_iter()
                .filter(|(_, _, enabled)| *enabled)
                .map(|(id, text, _)| (format!("local programme {id}"), text))
                .collect(),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the local programmes");
                Vec::new()
            }
        };
        let district = match self.store.remote_schedules() {
            Ok(remote) => remote
                .into_iter()
                .map(|(scope, revision, text)| (origin::schedule_source(&scope, revision), text))
                .collect(),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the district's schedules; airing local ones");
                Vec::new()
            }
        };
        let cursor = self.store.cursor().ok().flatten().unwrap_or_else(Utc::now);
        ReloadInput {
            dir: self.config.schedules_dir.clone(),
            options: self.config.local_schedule_options(None),
            district_options: self.config.district_schedule_options(None),
            local,
            district,
            seen,
            plan_after: cursor - Duration::nanoseconds(1),
            chimes: self.config.chimes.values().cloned().collect(),
        }
    }

    /// Puts a reload's result in place of the programmes before.
    fn swap_in(&mut self, reloaded: Reloaded) {
        for error in &reloaded.errors {
            tracing::error!(error = %error, "schedule problem; that programme will not air");
        }
        for warning in &reloaded.warnings {
            tracing::warn!(warning = %warning, "schedule warning; that programme will not air");
        }
        tracing::info!(
            dir = %self.config.schedules_dir.display(),
            programmes = reloaded.plan.programs().len(),
            problems = reloaded.errors.len(),
            took_ms = reloaded.took.as_millis() as u64,
            "schedules loaded"
        );
        self.programs = Arc::clone(reloaded.plan.programs());
        self.plan = reloaded.plan;
        // Measured ahead rather than at air time (on the workers): a programme due before its
        // file is measured airs with a provisional gain.
        for path in &reloaded.files {
            self.levels.want(&self.store, path);
        }
        if let Some(remote) = &mut self.remote {
            remote.set_needed(decisions::bulletins_needed(&self.programs, Utc::now()));
        }
        self.levels
            .feed(&self.workers, &self.finished_reply, Finished::Measured);
        self.reloads.loaded(reloaded.seen);
        self.announced = None;
    }
}

/// What a worker tells the loop.
enum Finished {
    Reloaded(Box<Reloaded>),
    Measured(crate::levels::Measured),
}

/// Everything a reload needs, read on the loop.
struct ReloadInput {
    dir: PathBuf,
    /// For the schedule files and the operator's local programmes.
    options: LoadOptions,
    /// For the district's schedules, which may do less (see `schedule::Author`).
    district_options: LoadOptions,
    /// Local programmes kept in the store, each with its name.
    local: Vec<(String, String)>,
    /// The district's schedules kept in the store, each with its name.
    district: Vec<(String, String)>,
    seen: Fingerprint,
    /// Planning starts after this instant (just before the cursor).
    plan_after: DateTime<Utc>,
    /// The recorded chimes the configuration names, measured like the programmes' files.
    chimes: Vec<PathBuf>,
}

/// A reload's result.
struct Reloaded {
    plan: Plan,
    errors: Vec<schedule::ScheduleError>,
    /// Programmes that load but can never air (a date that never comes, one-offs all past).
    warnings: Vec<schedule::ScheduleError>,
    /// Every audio file the programmes (and the chimes) name, once each.
    files: Vec<PathBuf>,
    seen: Fingerprint,
    took: StdDuration,
}

impl Reloaded {
    /// The stand-in for a reload that crashed: nothing loaded, and why.
    fn failed(input: &ReloadInput) -> Reloaded {
        Reloaded {
            plan: Plan::new(&[], input.plan_after),
            errors: vec![schedule::ScheduleError {
                file: input.dir.clone(),
                line: None,
                field: None,
                fault: schedule::Fault::LoadingCrashed,
            }],
            warnings: Vec::new(),
            files: Vec::new(),
            seen: input.seen.clone(),
            took: StdDuration::ZERO,
        }
    }
}

/// Parses and merges every schedule and plans their occurrences (slow for large schedules: on
/// a worker).
fn reload(input: ReloadInput) -> Reloaded {
    let started = Instant::now();
    let mut loaded = schedule::load_dir(&input.dir, &input.options);
    let parse = |texts: &[(String, String)], options| {
        texts
            .iter()
            .map(move |(name, text)| schedule::parse(text, std::path::Path::new(name), options))
            .collect::<Vec<_>>()
    };
    let mut parsed = parse(&input.local, &input.options);
    parsed.extend(parse(&input.district, &input.district_options));
    loaded.merge_all(parsed);
    let programs = loaxa_core::schedule::plan::shared(loaded.programs);
    let files: std::collections::BTreeSet<PathBuf> = programs
        .iter()
        .flat_map(|p| audio_files(&p.items))
        .chain(input.chimes)
        .collect();
    let plan = Plan::new(&programs, input.plan_after);
    // Only the programmes the plan found nothing for can be worth a warning.
    let warnings = schedule::warnings(plan.silent(), Utc::now());
    Reloaded {
        plan,
        errors: loaded.errors,
        warnings,
        files: files.into_iter().collect(),
        seen: input.seen,
        took: started.elapsed(),
    }
}

/// `program` with its `chime` items played from the box's recorded chime for its level, if the
/// configuration names one.
fn with_chime(program: Arc<Program>, chime: Option<&PathBuf>) -> Arc<Program> {
    let Some(chime) = chime else {
        return program;
    };
    let items = program
        .items
        .iter()
        .map(|item| match item {
            schedule::Item::Chime => schedule::Item::File {
                name: "chime".into(),
                path: chime.clone(),
                within: None,
            },
            other => other.clone(),
        })
        .collect();
    Arc::new(Program {
        items,
        ..(*program).clone()
    })
}

/// The audio files among `items`, a relay's fallback included.
fn audio_files(items: &[schedule::Item]) -> Vec<PathBuf> {
    items
        .iter()
        .flat_map(|item| match item {
            schedule::Item::File { path, .. } => vec![path.clone()],
            schedule::Item::Relay { fallback, .. } => audio_files(fallback),
            _ => Vec::new(),
        })
        .collect()
}

/// Bytes in a file, or in the files directly inside a directory (a transfer's chunks).
fn size_of(path: &std::path::Path) -> u64 {
    match std::fs::read_dir(path) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum(),
        Err(_) => std::fs::metadata(path).map_or(0, |m| m.len()),
    }
}

/// Names, modification times and sizes of the schedule files: changes when an operator edits one.
fn fingerprint(dir: &std::path::Path) -> Fingerprint {
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

/// Waits for a link event, if the box has a link.
async fn next_link_event(remote: &mut Option<Remote>) -> RemoteEvent {
    match remote {
        Some(remote) => remote.next_event().await,
        None => std::future::pending().await,
    }
}

/// Waits for a control request, if the socket is open.
async fn next_request(
    control: &mut Option<tokio::sync::mpsc::Receiver<crate::control::Pending>>,
) -> crate::control::Pending {
    match control {
        Some(requests) => match requests.recv().await {
            Some(pending) => pending,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
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
