//! The daemon's decisions on what happens to it, apart from carrying them out: when to reload
//! the schedules and whether a reload must follow the one running, what a forward clock step
//! skipped, whether an interrupted broadcast is retried, how long the loop may sleep, when the
//! cursor is saved. Pure: the clocks are parameters.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant, SystemTime};

use chrono::{DateTime, Duration, Utc};

use crate::agenda::describe;
use crate::clock::Jump;
use crate::store::AsRunEntry;
use loaxa_core::schedule::Program;
use loaxa_core::schedule::plan::{Occurrence, occurrences_between};

/// How often the schedules directory is checked for changes (SIGHUP reloads at once).
pub const RELOAD_EVERY: StdDuration = StdDuration::from_secs(10);
/// How often an idle daemon persists its cursor: the bound on how much a power cut can make it
/// forget. Rare enough to spare the SD card.
const CURSOR_EVERY: StdDuration = StdDuration::from_secs(60);
/// Lateness below this is jitter, not worth a note in the log.
const ON_TIME: Duration = Duration::seconds(1);
/// At most this many occurrences a clock step skipped over are logged missed one by one.
const JUMPED_LISTED: usize = 100;

/// The schedules directory as loaded: each file's path, modification time and size.
pub type Fingerprint = Vec<(PathBuf, SystemTime, u64)>;

/// When the schedules are reloaded: one reload at a time on a worker, the latest request served
/// once it is in; the directory looked at every [`RELOAD_EVERY`] and loaded when it changed.
#[derive(Debug)]
pub struct Reloads {
    /// A reload on a worker, and whether another was asked for meanwhile (forced or not).
    running: Option<Option<bool>>,
    /// The directory as last loaded, to notice edits.
    seen: Option<Fingerprint>,
    last_check: Instant,
}

impl Reloads {
    pub fn new(now: Instant) -> Reloads {
        Reloads {
            running: None,
            seen: None,
            last_check: now,
        }
    }

    /// Whether the directory is due a look for changes.
    pub fn check_due(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_check) >= RELOAD_EVERY
    }

    /// How long until the directory is due a look.
    pub fn until_check(&self, now: Instant) -> StdDuration {
        RELOAD_EVERY.saturating_sub(now.saturating_duration_since(self.last_check))
    }

    /// A reload is asked for at `now` (`force`: whatever the directory holds). Whether to look
    /// at the directory now; with one running, the request is kept for when it is in.
    pub fn ask(&mut self, force: bool, now: Instant) -> bool {
        self.last_check = now;
        match &mut self.running {
            Some(again) => {
                *again = Some(force || again.unwrap_or(false));
                false
            }
            None => true,
        }
    }

    /// Whether the directory as it is now (`seen`) is to be loaded.
    pub fn wanted(&self, force: bool, seen: &Fingerprint) -> bool {
        force || self.seen.as_ref() != Some(seen)
    }

    /// The reload went to a worker.
    pub fn started(&mut self) {
        self.running = Some(None);
    }

    /// The reload could not go to a worker: the next look then sees a change, whatever asked
    /// for this one.
    pub fn not_started(&mut self) {
        self.seen = None;
    }

    /// The running reload is done; another to start, forced or not, if one was asked for
    /// meanwhile.
    pub fn done(&mut self) -> Option<bool> {
        self.running.take().flatten()
    }

    /// The directory as `seen` is what is loaded now.
    pub fn loaded(&mut self, seen: Fingerprint) {
        self.seen = Some(seen);
    }
}

/// What a forward step of the clock skipped over: to be logged missed (those not recorded
/// already), at most [`JUMPED_LISTED`], and why.
pub fn skipped_by(jump: &Jump, programs: &[Arc<Program>]) -> (Vec<Occurrence>, String) {
    let skipped = occurrences_between(programs, jump.from, jump.to, JUMPED_LISTED);
    let reason = format!(
        "the clock jumped forward over it, from {} to {} (a clock corrected after boot?)",
        jump.from.format("%Y-%m-%d %H:%M:%S UTC"),
        jump.to.format("%Y-%m-%d %H:%M:%S UTC")
    );
    (skipped, reason)
}

/// What a stop or power cut interrupted, to air again from the start at `now` with the note for
/// the as-run log: None if its programme is no longer loaded or it is past the catch-up.
pub fn retry_of(
    entry: &AsRunEntry,
    programs: &[Arc<Program>],
    now: DateTime<Utc>,
    catch_up: Duration,
) -> Option<(Occurrence, String)> {
    let program = programs.iter().find(|p| p.id == entry.program_id)?;
    let late = now - entry.scheduled;
    if late > catch_up {
        return None;
    }
    let occurrence = Occurrence {
        program: Arc::clone(program),
        scheduled: entry.scheduled,
    };
    Some((
        occurrence,
        format!("retry after interruption, late by {}", describe(late)),
    ))
}

/// The as-run note of a programme starting `late_by` after its time, if that is more than
/// jitter.
pub fn late_note(late_by: Option<Duration>) -> Option<String> {
    late_by
        .filter(|l| *l >= ON_TIME)
        .map(|l| format!("late by {}", describe(l)))
}

/// How long an idle loop sleeps at `now`: until the soonest of `wakes` (what the agenda and the
/// arbiter wait for), and no longer than `until_reload`.
pub fn sleep_for(
    now: DateTime<Utc>,
    wakes: impl IntoIterator<Item = Option<DateTime<Utc>>>,
    until_reload: StdDuration,
) -> StdDuration {
    wakes
        .into_iter()
        .flatten()
        .min()
        .and_then(|w| (w - now).to_std().ok())
        .map_or(until_reload, |d| d.min(until_reload))
}

/// Whether an idle loop saves its cursor at `now`, last saved at `last`.
pub fn cursor_due(last: Option<Instant>, now: Instant) -> bool {
    last.is_none_or(|t| now.saturating_duration_since(t) >= CURSOR_EVERY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Outcome;
    use loaxa_core::schedule::{Priority, test_program};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn secs(s: u64) -> StdDuration {
        StdDuration::from_secs(s)
    }

    fn seen(size: u64) -> Fingerprint {
        vec![(PathBuf::from("a.toml"), SystemTime::UNIX_EPOCH, size)]
    }

    fn interrupted(program: &str, scheduled: &str) -> AsRunEntry {
        AsRunEntry {
            id: 1,
            program_id: program.to_owned(),
            title: program.to_owned(),
            scheduled: at(scheduled),
            started: Some(at(scheduled)),
            ended: None,
            outcome: Outcome::Interrupted,
            detail: String::new(),
            attempt: 1,
        }
    }

    #[test]
    fn the_schedules_directory_is_looked_at_every_ten_seconds() {
        let start = Instant::now();
        let mut reloads = Reloads::new(start);
        assert!(!reloads.check_due(start + secs(9)));
        assert_eq!(reloads.until_check(start + secs(4)), secs(6));
        assert!(reloads.check_due(start + secs(10)));
        assert!(reloads.ask(false, start + secs(10)));
        assert!(!reloads.check_due(start + secs(19)));
        assert_eq!(reloads.until_check(start + secs(30)), StdDuration::ZERO);
    }

    #[test]
    fn an_unchanged_directory_is_not_reloaded_unless_forced() {
        let mut reloads = Reloads::new(Instant::now());
        assert!(reloads.wanted(false, &seen(1)), "nothing loaded yet");
        reloads.loaded(seen(1));
        assert!(!reloads.wanted(false, &seen(1)));
        assert!(reloads.wanted(true, &seen(1)));
        assert!(reloads.wanted(false, &seen(2)));
    }

    #[test]
    fn reloads_asked_for_while_one_runs_are_served_once_it_is_in_forced_if_any_was() {
        let start = Instant::now();
        let mut reloads = Reloads::new(start);
        assert!(reloads.ask(false, start));
        reloads.started();
        assert!(!reloads.ask(true, start + secs(1)));
        assert!(!reloads.ask(false, start + secs(2)));
        assert_eq!(reloads.done(), Some(true));
        assert!(reloads.ask(false, start + secs(3)));
        reloads.started();
        assert_eq!(reloads.done(), None, "nothing asked meanwhile");
        reloads.started();
        assert!(!reloads.ask(false, start + secs(4)));
        assert_eq!(reloads.done(), Some(false));
    }

    #[test]
    fn a_reload_no_worker_took_is_made_at_the_next_look_whatever_asked_for_it() {
        let mut reloads = Reloads::new(Instant::now());
        reloads.loaded(seen(1));
        reloads.not_started();
        assert!(reloads.wanted(false, &seen(1)));
    }

    #[test]
    fn a_forward_clock_step_skips_what_fell_due_in_between_and_says_so() {
        let programs = [test_program("hourly", "0 * * * *", Priority::Normal)];
        let jump = Jump {
            from: at("2026-11-24T05:30:00Z"),
            to: at("2026-11-24T08:10:00Z"),
        };
        let (skipped, reason) = skipped_by(&jump, &programs);
        let times: Vec<DateTime<Utc>> = skipped.iter().map(|o| o.scheduled).collect();
        assert_eq!(
            times,
            [
                at("2026-11-24T06:00:00Z"),
                at("2026-11-24T07:00:00Z"),
                at("2026-11-24T08:00:00Z")
            ]
        );
        assert!(reason.contains("from 2026-11-24 05:30:00 UTC to 2026-11-24 08:10:00 UTC"));
    }

    #[test]
    fn a_clock_step_of_years_lists_a_hundred_occurrences_at_most() {
        let programs = [test_program("minutely", "* * * * *", Priority::Normal)];
        let jump = Jump {
            from: at("2020-01-01T00:00:00Z"),
            to: at("2026-11-24T08:10:00Z"),
        };
        assert_eq!(skipped_by(&jump, &programs).0.len(), JUMPED_LISTED);
    }

    #[test]
    fn an_interrupted_broadcast_is_retried_within_the_catch_up_with_its_lateness_noted() {
        let programs = [test_program("news", "0 6 * * *", Priority::Normal)];
        let entry = interrupted("news", "2026-11-24T06:00:00Z");
        let catch_up = Duration::minutes(10);
        let (occurrence, note) =
            retry_of(&entry, &programs, at("2026-11-24T06:04:00Z"), catch_up).unwrap();
        assert_eq!(occurrence.scheduled, entry.scheduled);
        assert_eq!(occurrence.program.id, "news");
        assert_eq!(note, "retry after interruption, late by 4 min");
        assert!(retry_of(&entry, &programs, at("2026-11-24T06:10:00Z"), catch_up).is_some());
        assert!(retry_of(&entry, &programs, at("2026-11-24T06:10:01Z"), catch_up).is_none());
    }

    #[test]
    fn an_interrupted_broadcast_whose_programme_is_gone_is_not_retried() {
        let programs = [test_program("weather", "0 6 * * *", Priority::Normal)];
        let entry = interrupted("news", "2026-11-24T06:00:00Z");
        let now = at("2026-11-24T06:01:00Z");
        assert!(retry_of(&entry, &programs, now, Duration::minutes(10)).is_none());
    }

    #[test]
    fn lateness_under_a_second_is_not_noted() {
        assert_eq!(late_note(None), None);
        assert_eq!(late_note(Some(Duration::milliseconds(999))), None);
        assert_eq!(
            late_note(Some(Duration::seconds(90))),
            Some(format!("late by {}", describe(Duration::seconds(90))))
        );
    }

    #[test]
    fn an_idle_loop_sleeps_until_the_soonest_wake_up_but_never_past_the_reload_check() {
        let now = at("2026-11-24T06:00:00Z");
        let wakes = [
            Some(at("2026-11-24T06:00:05Z")),
            Some(at("2026-11-24T06:00:03Z")),
        ];
        assert_eq!(sleep_for(now, wakes, secs(10)), secs(3));
        assert_eq!(
            sleep_for(now, [Some(at("2026-11-24T07:00:00Z")), None], secs(10)),
            secs(10)
        );
        assert_eq!(sleep_for(now, [None, None], secs(7)), secs(7));
    }

    #[test]
    fn an_idle_loop_saves_its_cursor_at_once_then_once_a_minute() {
        let start = Instant::now();
        assert!(cursor_due(None, start));
        assert!(!cursor_due(Some(start), start + secs(59)));
        assert!(cursor_due(Some(start), start + secs(60)));
    }
}
