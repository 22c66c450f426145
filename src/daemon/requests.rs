//! The daemon's answers to the local control socket (`loaxa status`, `today`, `stop`,
//! `play-now`, `volume`, `program …`). Served in the daemon's loop, between its other work,
//! because the daemon is the only writer of its store.

use std::sync::Arc;

use chrono::Utc;

use super::origin::OPERATOR;
use super::{Claimed, Daemon, DaemonError};
use crate::control::{
    Airing, Answer, Link, LocalProgram, MAX_NEXT, Refusal, Reply, Request, Status, Today, Upcoming,
};
use loaxa_core::protocol::{Origin, RemoteAction};
use loaxa_core::schedule::plan::{Occurrence, next_occurrences};
use loaxa_core::schedule::{self, Item, Priority, Program};

impl Daemon<'_> {
    pub(super) async fn serve(&mut self, request: Request) -> Result<Reply, DaemonError> {
        tracing::info!(request = ?request, "control request");
        Ok(match request {
            Request::Status {} => Reply::Done(Answer::Status(self.status())),
            Request::Today {} => Reply::Done(Answer::Today(self.today()?)),
            Request::Next { count, from } => Reply::Done(Answer::Next {
                upcoming: next_occurrences(
                    &self.programs,
                    from.unwrap_or_else(Utc::now),
                    count.min(MAX_NEXT),
                )
                .iter()
                .map(upcoming)
                .collect(),
            }),
            Request::Stop {} => {
                if self.on_air.is_empty() {
                    return Ok(Reply::Refused(Refusal::NothingOnAir));
                }
                match self.carry_out(RemoteAction::Stop, OPERATOR).await? {
                    Ok(_) => Reply::Done(Answer::Stop {}),
                    Err(error) => Reply::Refused(Refusal::Failed { error }),
                }
            }
            Request::Volume { percent: None } => Reply::Done(Answer::Volume {
                volume: self.volume.percent,
                set_by: self.volume.set_by,
            }),
            Request::Volume {
                percent: Some(percent),
            } if percent <= 100 => {
                match self
                    .carry_out(RemoteAction::Volume { percent }, OPERATOR)
                    .await?
                {
                    Ok(_) => Reply::Done(Answer::Volume {
                        volume: self.volume.percent,
                        set_by: self.volume.set_by,
                    }),
                    Err(error) => Reply::Refused(Refusal::Failed { error }),
                }
            }
            Request::Volume {
                percent: Some(percent),
            } => Reply::Refused(Refusal::VolumeOutOfRange { percent }),
            Request::PlayNow { item, priority } => self.play_now(&item, priority).await?,
            Request::ProgramAdd { schedule } => self.add_program(&schedule)?,
            Request::ProgramList {} => Reply::Done(Answer::ProgramList {
                programs: self.program_list()?,
            }),
            Request::ProgramRemove { id } => {
                if self.store.remove_local_program(&id)? {
                    self.reload_schedules(true);
                    Reply::Done(Answer::ProgramRemove {})
                } else {
                    Reply::Refused(self.not_the_operators(id))
                }
            }
            Request::ProgramEnable { id, enabled } => {
                if self.store.enable_local_program(&id, enabled)? {
                    self.reload_schedules(true);
                    Reply::Done(Answer::ProgramEnable {})
                } else {
                    Reply::Refused(self.not_the_operators(id))
                }
            }
        })
    }

    fn status(&self) -> Status {
        let on_air = self
            .on_air
            .iter()
            .rev()
            .map(|a| {
                let p = &a.occurrence.program;
                Airing {
                    program: p.id.clone(),
                    title: p.title.clone(),
                    level: p.priority,
                }
            })
            .collect();
        let next = next_occurrences(&self.programs, Utc::now(), 5)
            .iter()
            .map(upcoming)
            .collect();
        let link = match &self.remote {
            None => Link::Offline,
            Some(remote) if remote.is_connected() => Link::Connected,
            Some(_) => Link::Disconnected,
        };
        Status {
            box_id: self.config.box_id.clone(),
            on_air,
            volume: self.volume.percent,
            next,
            link,
            disk_free: crate::store::free_space(&self.config.state_dir),
            windows: self.config.windows.to_string(),
            problems: self.problems.iter().cloned().collect(),
        }
    }

    /// What aired today (local time) and what is still to come before midnight.
    fn today(&self) -> Result<Today, DaemonError> {
        let tz = self.config.timezone;
        let now = Utc::now();
        let local = now.with_timezone(&tz).date_naive();
        let midnight = |date: chrono::NaiveDate| {
            schedule::resolve_local(tz, date.and_hms_opt(0, 0, 0).unwrap_or_default())
        };
        let start = midnight(local);
        let end = midnight(local.succ_opt().unwrap_or(local));
        let log = self.store.entries_since(start)?;
        let coming = next_occurrences(&self.programs, now, 500)
            .iter()
            .take_while(|o| o.scheduled < end)
            .map(upcoming)
            .collect();
        Ok(Today { log, coming })
    }

    async fn play_now(&mut self, item: &str, priority: Priority) -> Result<Reply, DaemonError> {
        // Built as a programme directly, never written out as schedule text: a file name holding
        // quotes or newlines is a name, not TOML. The checks are those of a schedule's items.
        let options = self
            .config
            .local_schedule_options(Some(loaxa_media::decode::check_file));
        let item = match schedule::item(item, &options) {
            Ok(item) => item,
            Err(why) => {
                return Ok(Reply::Refused(Refusal::Schedule {
                    message: format!("play-now {item}: {why}"),
                }));
            }
        };
        let now = Utc::now();
        let local = now.with_timezone(&self.config.timezone).time();
        if priority != Priority::Emergency && !self.config.windows.allows(local) {
            return Ok(Reply::Refused(Refusal::OutsideWindows {
                at: local,
                windows: self.config.windows.to_string(),
            }));
        }
        // Called by what airs: the bulletin's title, or the file as the operator named it.
        let title = match &item {
            Item::Bulletin { id } => self.bulletin_title(id)?.unwrap_or_else(|| item.to_string()),
            other => other.to_string(),
        };
        let program = Program::immediate(
            &super::origin::play_now_id(None),
            &title,
            vec![Item::Chime, item],
            priority,
            self.config.timezone,
            OPERATOR,
        );
        let occurrence = Occurrence {
            program: Arc::new(program),
            scheduled: now,
        };
        Ok(match self.claim(occurrence, now, None).await? {
            Claimed::OnAir => Reply::Done(Answer::PlayNow { queued: false }),
            Claimed::Queued => Reply::Done(Answer::PlayNow { queued: true }),
            Claimed::Refused(reasons) => Reply::Refused(Refusal::NotAired { reasons }),
        })
    }

    /// Why `id` is not a programme the operator may remove, enable or disable: it is not in
    /// the plan at all, or it is a schedule file's, or the office's.
    fn not_the_operators(&self, id: String) -> Refusal {
        let Some(program) = self.programs.iter().find(|p| p.id == id) else {
            return Refusal::NoSuchProgramme { id };
        };
        match super::origin::origin(&program.source) {
            Origin::Schedule { scope, .. } => Refusal::FromTheOffice { id, scope },
            _ => Refusal::InScheduleFile {
                id,
                file: program.source.display().to_string(),
            },
        }
    }

    fn add_program(&mut self, text: &str) -> Result<Reply, DaemonError> {
        let program = match self.load_one(text, "new local programme") {
            Ok(program) => program,
            Err(message) => return Ok(Reply::Refused(Refusal::Schedule { message })),
        };
        let taken = self.programs.iter().any(|p| {
            p.id == program.id && !p.source.to_string_lossy().starts_with("local programme")
        });
        if taken {
            return Ok(Reply::Refused(Refusal::IdTaken { id: program.id }));
        }
        self.store
            .save_local_program(&program.id, text, Utc::now())?;
        self.reload_schedules(true);
        let next = program.next_after(Utc::now());
        Ok(Reply::Done(Answer::ProgramAdd {
            next: next.map(|t| t.with_timezone(&program.timezone).fixed_offset()),
            id: program.id,
        }))
    }

    /// Parses a schedule holding exactly one programme, as the box would load it; or says
    /// why it is refused.
    fn load_one(&self, text: &str, name: &str) -> Result<schedule::Program, String> {
        let options = self
            .config
            .local_schedule_options(Some(loaxa_media::decode::check_file));
        let mut loaded = schedule::parse(text, std::path::Path::new(name), &options);
        if let Some(error) = loaded.errors.first() {
            return Err(error.to_string());
        }
        match loaded.programs.len() {
            1 => Ok(loaded.programs.remove(0)),
            n => Err(format!("expected one programme, found {n}")),
        }
    }

    fn program_list(&self) -> Result<Vec<LocalProgram>, DaemonError> {
        let now = Utc::now();
        let tz = self.config.timezone;
        // From the stored text, not the loaded programmes: a programme just added is listed
        // with its next airing even while the reload that brings it in is still on a worker.
        let options = self.config.local_schedule_options(None);
        let list = self
            .store
            .local_programs()?
            .into_iter()
            .map(|(id, text, enabled)| {
                let parsed = schedule::parse(&text, std::path::Path::new(&id), &options)
                    .programs
                    .into_iter()
                    .next();
                let Some(program) = parsed else {
                    // Stored under rules that have since changed: listed, to be removed.
                    return LocalProgram {
                        title: id.clone(),
                        id,
                        items: Vec::new(),
                        cron: None,
                        at: Vec::new(),
                        enabled,
                        next: None,
                    };
                };
                let (cron, at) = match &program.when {
                    schedule::When::Cron(expr) => (Some(expr.to_string()), Vec::new()),
                    schedule::When::At(times) => (
                        None,
                        times
                            .iter()
                            .map(|t| t.with_timezone(&tz).fixed_offset())
                            .collect(),
                    ),
                };
                let next = enabled
                    .then(|| program.next_after(now))
                    .flatten()
                    .map(|t| t.with_timezone(&tz).fixed_offset());
                LocalProgram {
                    id,
                    title: program.title.clone(),
                    items: program.items.iter().map(ToString::to_string).collect(),
                    cron,
                    at,
                    enabled,
                    next,
                }
            })
            .collect();
        Ok(list)
    }
}

/// An occurrence as the control protocol shows it; who made it is read from its source.
pub fn upcoming(o: &Occurrence) -> Upcoming {
    Upcoming {
        program: o.program.id.clone(),
        title: o.program.title.clone(),
        level: o.program.priority,
        at: o
            .scheduled
            .with_timezone(&o.program.timezone)
            .fixed_offset(),
        items: o.program.items.iter().map(ToString::to_string).collect(),
        origin: super::origin::origin(&o.program.source),
    }
}
