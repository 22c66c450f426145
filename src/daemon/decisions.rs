//! The daemon's decisions on what happens to it, apart from carrying them out: when to reload
//! the schedules and whether a reload must follow the one running, what a forward clock step
//! skipped, whether an interrupted broadcast is retried, how long the loop may sleep, when the
//! cursor is saved, what a player's report means for the as-run log, when each bulletin is
//! needed, what becomes of a deleted bulletin's manifest. Pure: the clocks are parameters.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant, SystemTime};

use chrono::{DateTime, Duration, Utc};

use crate::clock::Jump;
use crate::player::{AirReport, Ending};
use crate::reason::{Reason, Reasons, ms};
use crate::store::{AsRunEntry, Outcome};
use loaxa_core::protocol::Manifest;
use loaxa_core::schedule::plan::{Occurrence, occurrences_between};
use loaxa_core::schedule::{self, Program};

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
pub fn skipped_by(jump: &Jump, programs: &[Arc<Program>]) -> (Vec<Occurrence>, Reason) {
    let skipped = occurrences_between(programs, jump.from, jump.to, JUMPED_LISTED);
    let reason = Reason::ClockJumped {
        from: jump.from,
        to: jump.to,
    };
    (skipped, reason)
}

/// What a stop or power cut interrupted, to air again from the start at `now` with the note for
/// the as-run log: None if its programme is no longer loaded or it is past the catch-up.
pub fn retry_of(
    entry: &AsRunEntry,
    programs: &[Arc<Program>],
    now: DateTime<Utc>,
    catch_up: Duration,
) -> Option<(Occurrence, Reason)> {
    let program = programs.iter().find(|p| p.id == entry.program_id)?;
    let late = now - entry.scheduled;
    if late > catch_up {
        return None;
    }
    let occurrence = Occurrence {
        program: Arc::clone(program),
        scheduled: entry.scheduled,
    };
    Some((occurrence, Reason::Retried { late_ms: ms(late) }))
}

/// The as-run note of a programme starting `late_by` after its time, if that is more than
/// jitter.
pub fn late_note(late_by: Option<Duration>) -> Option<Reason> {
    late_by
        .filter(|l| *l >= ON_TIME)
        .map(|l| Reason::Late { late_ms: ms(l) })
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

/// Turns a player report into the as-run outcome and its reasons, after those it started with.
pub fn judge(report: &AirReport, noted: &Reasons) -> (Outcome, Reasons) {
    let mut reasons = noted.clone();
    for (item, trouble) in &report.items_failed {
        reasons.push(Reason::ItemFailed {
            item: item.clone(),
            error: trouble.to_string(),
            trouble: Some(trouble.clone()),
        });
    }
    let outcome = match &report.ending {
        Ending::Stopped => {
            reasons.push(Reason::Shutdown);
            Outcome::Interrupted
        }
        Ending::Cut(why) => {
            reasons.push(why.clone());
            Outcome::Interrupted
        }
        Ending::OutputFailed(error) => {
            reasons.push(Reason::OutputFailed {
                error: error.clone(),
            });
            Outcome::Failed
        }
        Ending::Completed if report.items_aired == 0 => {
            reasons.push(Reason::NothingAired);
            Outcome::Failed
        }
        Ending::Completed => Outcome::Aired,
    };
    (outcome, reasons)
}

/// When the programmes next air each bulletin they name, by bulletin id: the link fetches the
/// one needed soonest first.
pub fn bulletins_needed(
    programs: &[Arc<Program>],
    now: DateTime<Utc>,
) -> BTreeMap<String, DateTime<Utc>> {
    let mut needed = BTreeMap::new();
    for program in programs {
        let ids: Vec<&str> = program
            .items
            .iter()
            .filter_map(|item| match item {
                schedule::Item::Bulletin { id } => Some(id.as_str()),
                _ => None,
            })
            .collect();
        if ids.is_empty() {
            continue;
        }
        let Some(at) = program.next_after(now) else {
            continue;
        };
        for id in ids {
            needed
                .entry(id.to_owned())
                .and_modify(|soonest: &mut DateTime<Utc>| *soonest = (*soonest).min(at))
                .or_insert(at);
        }
    }
    needed
}

/// What becomes of the manifest of a bulletin whose audio was deleted, at a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retired {
    /// Forgotten: expired long ago, or replaced by a newer manifest of the same id.
    Forget,
    /// Held again and fetched anew: a programme names it and it has not expired.
    Restore,
    /// Remembered, to say "expired" rather than "not held" to a programme still naming it.
    Keep,
}

/// How long the manifest of an expired bulletin whose audio was deleted is remembered.
const RETIRED_KEPT: Duration = Duration::days(7);

/// What becomes of `retired` at `now`, given the manifests held and the bulletin ids the
/// programmes name.
pub fn retired_fate(
    retired: &Manifest,
    held: &[Manifest],
    named: &BTreeSet<String>,
    now: DateTime<Utc>,
) -> Retired {
    let expired_long_ago = retired
        .valid_until
        .is_some_and(|until| until < now - RETIRED_KEPT);
    let replaced = held.iter().any(|m| m.id == retired.id);
    let expired = retired.valid_until.is_some_and(|until| until < now);
    if expired_long_ago || replaced {
        Retired::Forget
    } else if !expired && named.contains(&retired.id) {
        Retired::Restore
    } else {
        Retired::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loaxa_core::schedule::{Priority, test_program};
    use loaxa_core::trouble::{AudioTrouble, FileTrouble};

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
            reasons: Reasons::default(),
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
        assert!(
            reason
                .to_string()
                .contains("from 2026-11-24 05:30:00 UTC to 2026-11-24 08:10:00 UTC")
        );
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
        assert_eq!(note.to_string(), "retry after interruption, late by 4 min");
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
            Some(Reason::Late { late_ms: 90_000 })
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

    fn report(ending: Ending, aired: usize, failed: &[(&str, AudioTrouble)]) -> AirReport {
        AirReport {
            tag: 0,
            started: Some(at("2026-11-24T06:00:00Z")),
            ended: at("2026-11-24T06:05:00Z"),
            items_aired: aired,
            items_failed: failed
                .iter()
                .map(|(item, trouble)| (item.to_string(), trouble.clone()))
                .collect(),
            ending,
            marks: Vec::new(),
        }
    }

    #[test]
    fn a_complete_programme_is_aired_with_its_note_and_failed_items_said() {
        let done = report(Ending::Completed, 2, &[("b.mp3", AudioTrouble::Empty)]);
        assert_eq!(
            said(judge(&done, &Reasons::one(Reason::Late { late_ms: 2_000 }))),
            (
                Outcome::Aired,
                "late by 2.0 s; item b.mp3 failed: file is empty".to_owned()
            )
        );
    }

    #[test]
    fn a_programme_that_aired_nothing_or_lost_its_output_failed() {
        let nothing = report(
            Ending::Completed,
            0,
            &[(
                "a.mp3",
                AudioTrouble::CannotOpen {
                    file: FileTrouble::Missing,
                },
            )],
        );
        assert_eq!(
            said(judge(&nothing, &Reasons::default())),
            (
                Outcome::Failed,
                "item a.mp3 failed: cannot open: no such file or directory; nothing could be aired"
                    .to_owned()
            )
        );
        let lost = report(Ending::OutputFailed("device gone".into()), 1, &[]);
        assert_eq!(
            said(judge(&lost, &Reasons::default())),
            (Outcome::Failed, "device gone".to_owned())
        );
    }

    #[test]
    fn a_programme_cut_or_stopped_by_a_shutdown_was_interrupted() {
        let cut = report(
            Ending::Cut(Reason::CutBy {
                program: "alert".into(),
            }),
            1,
            &[],
        );
        assert_eq!(
            said(judge(&cut, &Reasons::default())),
            (Outcome::Interrupted, "cut by alert, not resumed".to_owned())
        );
        let stopped = report(Ending::Stopped, 1, &[]);
        assert_eq!(
            said(judge(&stopped, &Reasons::default())),
            (Outcome::Interrupted, "stopped by a shutdown".to_owned())
        );
    }

    fn said((outcome, reasons): (Outcome, Reasons)) -> (Outcome, String) {
        (outcome, reasons.to_string())
    }

    fn naming(id: &str, cron: &str, bulletins: &[&str]) -> Arc<Program> {
        let program = test_program(id, cron, Priority::Normal);
        Arc::new(Program {
            items: bulletins
                .iter()
                .map(|b| schedule::Item::Bulletin { id: b.to_string() })
                .collect(),
            ..(*program).clone()
        })
    }

    #[test]
    fn each_bulletin_is_needed_at_the_soonest_airing_of_a_programme_naming_it() {
        let programs = [
            naming("morning", "0 6 * * *", &["news", "weather"]),
            naming("noon", "0 12 * * *", &["news"]),
            test_program("chime", "0 * * * *", Priority::Normal),
        ];
        // 07:00 in the programmes' time zone (UTC+7): noon comes first today, then the morning.
        let needed = bulletins_needed(&programs, at("2026-11-24T00:00:00Z"));
        assert_eq!(
            needed.into_iter().collect::<Vec<_>>(),
            [
                ("news".to_owned(), at("2026-11-24T05:00:00Z")),
                ("weather".to_owned(), at("2026-11-24T23:00:00Z")),
            ]
        );
    }

    fn retired(id: &str, valid_until: Option<&str>) -> Manifest {
        Manifest {
            scope: loaxa_core::protocol::Scope::All,
            id: id.to_owned(),
            issued_at: at("2026-11-01T00:00:00Z"),
            title: id.to_owned(),
            sha256: "a".repeat(64),
            size: 1,
            duration_ms: 1,
            codec: "mp3".to_owned(),
            chunk_size: 1,
            chunks: vec!["a".repeat(64)],
            valid_until: valid_until.map(at),
            approver: "test".to_owned(),
            loudness_lufs: None,
        }
    }

    #[test]
    fn a_deleted_bulletin_a_programme_names_again_is_restored_unless_expired() {
        let now = at("2026-11-24T06:00:00Z");
        let named: BTreeSet<String> = ["news".to_owned()].into();
        let unused = retired("news", None);
        assert_eq!(retired_fate(&unused, &[], &named, now), Retired::Restore);
        assert_eq!(
            retired_fate(&unused, &[], &BTreeSet::new(), now),
            Retired::Keep
        );
        let expired = retired("news", Some("2026-11-23T00:00:00Z"));
        assert_eq!(retired_fate(&expired, &[], &named, now), Retired::Keep);
    }

    #[test]
    fn a_deleted_bulletins_manifest_is_forgotten_a_week_after_expiry_or_once_replaced() {
        let now = at("2026-11-24T06:00:00Z");
        let named = BTreeSet::new();
        let old = retired("news", Some("2026-11-17T05:59:59Z"));
        assert_eq!(retired_fate(&old, &[], &named, now), Retired::Forget);
        let recent = retired("news", Some("2026-11-17T06:00:00Z"));
        assert_eq!(retired_fate(&recent, &[], &named, now), Retired::Keep);
        let newer = retired("news", None);
        assert_eq!(
            retired_fate(&retired("news", None), &[newer], &named, now),
            Retired::Forget
        );
    }
}
