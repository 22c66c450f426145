//! The daemon's decisions, as a pure function of the programmes, the store's answers and "now":
//! air this occurrence now, record it as missed, or sleep until the next one needs preparing.
//! Tested with a virtual clock; the daemon only carries the decisions out.

use chrono::{DateTime, Duration, Utc};

use crate::reason::{Reason, ms};
use loaxa_core::schedule::plan::{Occurrence, Plan};

/// The timing rules of a box.
#[derive(Debug, Clone, Copy)]
pub struct Agenda {
    /// How long before its start an occurrence is handed to the player (amplifier warm-up plus
    /// decoding the first second), so its first sample can go out on the exact instant.
    pub lead: Duration,
    /// How late an occurrence may still air (after a power cut, or behind a long programme).
    pub catch_up: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Hand it to the player now, to start at `start_at`; `late_by` when its time has passed.
    Air {
        occurrence: Occurrence,
        start_at: DateTime<Utc>,
        late_by: Option<Duration>,
    },
    /// Record that it will not air, and why.
    Miss {
        occurrence: Occurrence,
        reason: Reason,
    },
    /// Nothing to do before `wake_at` (None: nothing is planned at all).
    Idle {
        next: Option<Occurrence>,
        wake_at: Option<DateTime<Utc>>,
    },
}

impl Agenda {
    /// Decides about the first occurrence at or after `cursor` that has no record. Recorded
    /// ones are taken out of `plan` as they are met, so each is looked at once, not at every
    /// turn.
    pub fn next_action(
        &self,
        plan: &mut Plan,
        cursor: DateTime<Utc>,
        now: DateTime<Utc>,
        mut is_recorded: impl FnMut(&Occurrence) -> bool,
    ) -> Action {
        // Occurrences exactly at the cursor may not all be recorded yet (two programmes at 05:30).
        plan.plan_from(cursor - Duration::nanoseconds(1));
        // The plan puts the highest level first among those due at the same instant.
        let occurrence = loop {
            match plan.peek() {
                None => {
                    return Action::Idle {
                        next: None,
                        wake_at: None,
                    };
                }
                Some(first) if is_recorded(first) => {
                    plan.pop();
                }
                Some(first) => break first.clone(),
            }
        };
        let scheduled = occurrence.scheduled;
        if scheduled - self.lead > now {
            return Action::Idle {
                wake_at: Some(scheduled - self.lead),
                next: Some(occurrence),
            };
        }
        if scheduled >= now {
            return Action::Air {
                occurrence,
                start_at: scheduled,
                late_by: None,
            };
        }
        let late_by = now - scheduled;
        if late_by > self.catch_up {
            let reason = Reason::PastCatchUp {
                window_ms: ms(self.catch_up),
            };
            return Action::Miss { occurrence, reason };
        }
        if let Some(later) = occurrence
            .program
            .next_after(scheduled)
            .filter(|t| *t <= now)
        {
            let reason = Reason::Superseded {
                by: later.with_timezone(&occurrence.program.timezone).time(),
            };
            return Action::Miss { occurrence, reason };
        }
        Action::Air {
            occurrence,
            start_at: now,
            late_by: Some(late_by),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use super::*;
    use crate::reason::describe;
    use loaxa_core::schedule::{Priority, Program};

    fn program(id: &str, cron: &str) -> Arc<Program> {
        loaxa_core::schedule::test_program(id, cron, Priority::Normal)
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    const AGENDA: Agenda = Agenda {
        lead: Duration::seconds(3),
        catch_up: Duration::minutes(10),
    };

    /// Runs the daemon's loop on a virtual clock: each action is "carried out" instantly, and the
    /// clock only moves when the agenda says to sleep. Returns what happened, one line each.
    fn simulate(
        programs: &[Arc<Program>],
        cursor: &str,
        mut now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<String> {
        let mut recorded: HashSet<(String, DateTime<Utc>)> = HashSet::new();
        let mut log = Vec::new();
        let cursor = at(cursor);
        let mut plan = Plan::new(programs, cursor);
        while now < until {
            let action = AGENDA.next_action(&mut plan, cursor, now, |o| {
                recorded.contains(&(o.program.id.clone(), o.scheduled))
            });
            match action {
                Action::Air {
                    occurrence,
                    start_at,
                    late_by,
                } => {
                    recorded.insert((occurrence.program.id.clone(), occurrence.scheduled));
                    let late = late_by
                        .map(|l| format!(" late by {}", describe(l)))
                        .unwrap_or_default();
                    log.push(format!(
                        "air {} at {}{late}",
                        occurrence.program.id,
                        start_at.format("%H:%M:%S")
                    ));
                }
                Action::Miss { occurrence, reason } => {
                    recorded.insert((occurrence.program.id.clone(), occurrence.scheduled));
                    log.push(format!(
                        "miss {} {}: {reason}",
                        occurrence.program.id,
                        occurrence.scheduled.format("%H:%M")
                    ));
                }
                Action::Idle {
                    wake_at: Some(wake),
                    ..
                } => now = wake,
                Action::Idle { wake_at: None, .. } => break,
            }
        }
        log
    }

    #[test]
    fn an_occurrence_is_handed_over_one_lead_before_its_instant_and_starts_on_it() {
        let programs = [program("morning", "30 5 * * *")];
        let action = AGENDA.next_action(
            &mut Plan::new(&programs, at("2026-11-24T05:00:00+07:00")),
            at("2026-11-24T05:00:00+07:00"),
            at("2026-11-24T05:29:00+07:00"),
            |_| false,
        );
        assert!(
            matches!(action, Action::Idle { wake_at: Some(w), .. } if w == at("2026-11-24T05:29:57+07:00"))
        );
        let action = AGENDA.next_action(
            &mut Plan::new(&programs, at("2026-11-24T05:00:00+07:00")),
            at("2026-11-24T05:00:00+07:00"),
            at("2026-11-24T05:29:57+07:00"),
            |_| false,
        );
        assert!(
            matches!(action, Action::Air { start_at, late_by: None, .. } if start_at == at("2026-11-24T05:30:00+07:00"))
        );
    }

    #[test]
    fn after_a_power_cut_recent_occurrences_air_late_and_older_ones_are_missed() {
        let programs = [
            program("morning", "30 5 * * *"),
            program("six", "0 6 * * *"),
        ];
        // Off from 05:00 until 06:05.
        let log = simulate(
            &programs,
            "2026-11-24T05:00:00+07:00",
            at("2026-11-23T23:05:00Z"),
            at("2026-11-23T23:06:00Z"),
        );
        assert_eq!(
            log,
            [
                "miss morning 22:30: not aired within the 10 min catch-up window (box off or busy)",
                "air six at 23:05:00 late by 5 min",
            ]
        );
    }

    #[test]
    fn of_several_due_occurrences_of_one_programme_only_the_latest_airs() {
        let programs = [program("every-3", "*/3 * * * *")];
        let log = simulate(
            &programs,
            "2026-11-24T10:01:00+07:00",
            at("2026-11-24T03:07:00Z"),
            at("2026-11-24T03:07:30Z"),
        );
        assert_eq!(
            log,
            [
                "miss every-3 03:03: superseded by the 10:06:00 airing, also due",
                "air every-3 at 03:07:00 late by 1 min",
            ]
        );
    }

    #[test]
    fn two_programmes_at_the_same_instant_both_air() {
        let programs = [program("a", "0 6 * * *"), program("b", "0 6 * * *")];
        let log = simulate(
            &programs,
            "2026-11-24T05:00:00+07:00",
            at("2026-11-23T22:30:00Z"),
            at("2026-11-23T23:00:00Z"),
        );
        assert_eq!(log, ["air a at 23:00:00", "air b at 23:00:00"]);
    }

    #[test]
    fn a_recorded_occurrence_is_asked_about_once_not_at_every_turn() {
        let programs: Vec<Arc<Program>> = (0..1000)
            .map(|i| program(&format!("p{i:04}"), "30 5 * * *"))
            .collect();
        let mut plan = Plan::new(&programs, at("2026-11-24T05:00:00+07:00"));
        let cursor = at("2026-11-24T05:00:00+07:00");
        let now = at("2026-11-24T05:29:00+07:00");
        // Every 05:30 airing but the last is in the log already.
        let asked = std::cell::Cell::new(0);
        let decide = |plan: &mut Plan| {
            AGENDA.next_action(plan, cursor, now, |o| {
                asked.set(asked.get() + 1);
                o.scheduled == at("2026-11-24T05:30:00+07:00") && o.program.id != "p0999"
            })
        };
        let first = decide(&mut plan);
        assert!(
            matches!(&first, Action::Idle { next: Some(o), .. } if o.program.id == "p0999"),
            "{first:?}"
        );
        let after_first = asked.get();
        assert_eq!(after_first, 1000);
        for _ in 0..10 {
            assert_eq!(decide(&mut plan), first);
        }
        assert_eq!(asked.get() - after_first, 10, "one question per turn");
    }

    #[test]
    fn nothing_planned_means_idle_without_a_wake_up() {
        let action = AGENDA.next_action(
            &mut Plan::new(&[], at("2026-11-24T05:00:00Z")),
            at("2026-11-24T05:00:00Z"),
            at("2026-11-24T05:00:00Z"),
            |_| false,
        );
        assert_eq!(
            action,
            Action::Idle {
                next: None,
                wake_at: None
            }
        );
    }
}
