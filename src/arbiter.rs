//! Who gets the air when several programmes want it: the cut-in rules of a commune station
//! (TT 39/2020/TT-BTTTT's three levels), as pure logic with time as a parameter.
//!
//! The agenda says *when* an occurrence is due; the arbiter says what happens if the air is
//! taken at that moment:
//!
//! * an **emergency** cuts anything that is not itself an emergency, at once;
//! * a programme with `when_busy = "cut"` cuts what is on air unless that is of a higher level;
//! * otherwise it queues: `"next"` waits however long it takes, `"wait N"` gives up after N
//!   minutes with `missed: slot occupied`;
//! * when the air frees up, the queue airs highest level first, then earliest scheduled.
//!
//! A programme that is cut resumes where it stopped once the air is free, or is dropped, as its
//! own `after_cut` says. The daemon carries the rulings out; nothing here touches a clock, a
//! store or the sound card, so the rules are tested with a virtual clock below.

use chrono::{DateTime, Duration, Utc};

use crate::reason::{Reason, ms};
use loaxa_core::schedule::plan::Occurrence;
use loaxa_core::schedule::windows::Windows;
use loaxa_core::schedule::{AfterCut, Priority, Program, WhenBusy};

/// An occurrence the agenda says is due, and when it should start.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub occurrence: Occurrence,
    pub start_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Ruling {
    /// The air is free: air it.
    Air(Claim),
    /// Fade out what is on air so that this starts at its `start_at`. `resume`: whether the
    /// programme cut carries on afterwards (its `after_cut`).
    Cut { claim: Claim, resume: bool },
    /// It waits for the air (see [`Arbiter::slot_free`]).
    Queued,
    /// It may not air at all: outside the broadcast windows.
    Refused(Reason),
}

/// The occurrences waiting for the air, and when the box may sound at all.
#[derive(Debug, Default)]
pub struct Arbiter {
    queue: Vec<Waiting>,
    windows: Windows,
}

#[derive(Debug)]
struct Waiting {
    claim: Claim,
    /// When it gives up; None for `next` and for emergencies, which are never dropped.
    deadline: Option<DateTime<Utc>>,
}

impl Arbiter {
    pub fn new(windows: Windows) -> Arbiter {
        Arbiter {
            queue: Vec::new(),
            windows,
        }
    }

    /// Rules on a claim, given the programme on air (None when the air is free and nothing
    /// queues).
    pub fn claim(&mut self, claim: Claim, on_air: Option<&Program>) -> Ruling {
        let program = &claim.occurrence.program;
        let local = claim.start_at.with_timezone(&program.timezone).time();
        if program.priority != Priority::Emergency && !self.windows.allows(local) {
            return Ruling::Refused(Reason::OutsideWindows {
                at: local,
                windows: self.windows.to_string(),
            });
        }
        let Some(on_air) = on_air else {
            if self.queue.is_empty() {
                return Ruling::Air(claim);
            }
            self.enqueue(claim);
            return Ruling::Queued;
        };
        let incoming = &claim.occurrence.program;
        let cuts = match incoming.priority {
            Priority::Emergency => on_air.priority < Priority::Emergency,
            level => incoming.when_busy == WhenBusy::Cut && level >= on_air.priority,
        };
        if cuts {
            return Ruling::Cut {
                claim,
                resume: on_air.after_cut == AfterCut::Resume,
            };
        }
        self.enqueue(claim);
        Ruling::Queued
    }

    fn enqueue(&mut self, claim: Claim) {
        let program = &claim.occurrence.program;
        let deadline = match (program.priority, program.when_busy) {
            (Priority::Emergency, _) | (_, WhenBusy::Next | WhenBusy::Cut) => None,
            (_, WhenBusy::Wait(limit)) => Some(claim.occurrence.scheduled + limit),
        };
        self.queue.push(Waiting { claim, deadline });
    }

    /// Whether this occurrence is waiting here (so the agenda does not hand it over again).
    /// The occurrences waiting for the air.
    pub fn waiting(&self) -> impl Iterator<Item = &Occurrence> {
        self.queue.iter().map(|w| &w.claim.occurrence)
    }

    pub fn holds(&self, occurrence: &Occurrence) -> bool {
        self.queue.iter().any(|w| {
            w.claim.occurrence.scheduled == occurrence.scheduled
                && w.claim.occurrence.program.id == occurrence.program.id
        })
    }

    /// Takes out, with the reason, every occurrence whose wait ran out by `now`.
    pub fn expired(&mut self, now: DateTime<Utc>) -> Vec<(Occurrence, Reason)> {
        let (gone, kept): (Vec<Waiting>, Vec<Waiting>) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|w| w.deadline.is_some_and(|d| d <= now));
        self.queue = kept;
        gone.into_iter()
            .map(|w| {
                let waited = match w.claim.occurrence.program.when_busy {
                    WhenBusy::Wait(limit) => limit,
                    _ => Duration::zero(),
                };
                (
                    w.claim.occurrence,
                    Reason::WaitedInVain {
                        waited_ms: ms(waited),
                    },
                )
            })
            .collect()
    }

    /// The earliest instant at which a waiting occurrence gives up.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        self.queue.iter().filter_map(|w| w.deadline).min()
    }

    /// The air is free at `now`: the waiting occurrence to air, highest level first, then
    /// earliest scheduled. Call [`Arbiter::expired`] first.
    pub fn slot_free(&mut self, now: DateTime<Utc>) -> Option<Claim> {
        let best = self
            .queue
            .iter()
            .enumerate()
            .max_by_key(|(_, w)| {
                let o = &w.claim.occurrence;
                (o.program.priority, std::cmp::Reverse(o.scheduled))
            })
            .map(|(index, _)| index)?;
        let mut claim = self.queue.swap_remove(best).claim;
        claim.start_at = claim.start_at.max(now);
        Some(claim)
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// How late `claim` starts against its schedule, if at all.
pub fn lateness(claim: &Claim) -> Option<Duration> {
    Some(claim.start_at - claim.occurrence.scheduled).filter(|late| *late > Duration::zero())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use crate::agenda::{Action, Agenda};
    use crate::reason::describe;
    use loaxa_core::schedule::{Item, When, test_program};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-11-24T{text}+07:00"))
            .unwrap()
            .with_timezone(&Utc)
    }

    fn hhmm(t: DateTime<Utc>) -> String {
        t.with_timezone(&loaxa_core::schedule::DEFAULT_TIMEZONE)
            .format("%H:%M")
            .to_string()
    }

    /// A programme at a local time today: `level`, `when_busy` and `after_cut` as a schedule
    /// writes them, and how long it lasts on air.
    struct Spec {
        id: &'static str,
        at: &'static str,
        level: Priority,
        when_busy: &'static str,
        after_cut: AfterCut,
        minutes: i64,
    }

    fn spec(id: &'static str, at: &'static str, minutes: i64) -> Spec {
        Spec {
            id,
            at,
            level: Priority::Normal,
            when_busy: "wait 10",
            after_cut: AfterCut::Resume,
            minutes,
        }
    }

    impl Spec {
        fn level(self, level: Priority) -> Spec {
            Spec { level, ..self }
        }
        fn when_busy(self, when_busy: &'static str) -> Spec {
            Spec { when_busy, ..self }
        }
        fn skip_after_cut(self) -> Spec {
            Spec {
                after_cut: AfterCut::Skip,
                ..self
            }
        }
    }

    /// What is on air in the simulation: the programme and how much of it is left to air.
    struct Playing {
        program: Arc<Program>,
        remaining: Duration,
        resumed: bool,
    }

    /// Runs agenda and arbiter on a virtual clock from 05:00, as the daemon does: each programme
    /// lasts its `minutes`; a cut one is set aside and resumes or is dropped. Returns what
    /// happened, one line each, in local time.
    fn simulate(specs: &[Spec]) -> Vec<String> {
        let agenda = Agenda {
            lead: Duration::zero(),
            catch_up: Duration::minutes(10),
        };
        let lengths: HashMap<&str, Duration> = specs
            .iter()
            .map(|s| (s.id, Duration::minutes(s.minutes)))
            .collect();
        let programs: Vec<Arc<Program>> = specs
            .iter()
            .map(|s| {
                Arc::new(Program {
                    when: When::At(vec![at(&format!("{}:00", s.at))]),
                    items: vec![Item::Chime],
                    when_busy: s.when_busy.parse().unwrap(),
                    after_cut: s.after_cut,
                    ..(*test_program(s.id, "* * * * *", s.level)).clone()
                })
            })
            .collect();
        let mut arbiter = Arbiter::default(); // 05:00–22:00
        let mut recorded: Vec<(String, DateTime<Utc>)> = Vec::new();
        let mut stack: Vec<Playing> = Vec::new();
        let mut log = Vec::new();
        let mut now = at("05:00:00");
        let cursor = now;
        let mut plan = loaxa_core::schedule::plan::Plan::new(&programs, cursor);
        let air = |stack: &mut Vec<Playing>, log: &mut Vec<String>, claim: Claim| {
            let late = lateness(&claim)
                .map(|l| format!(" late by {}", describe(l)))
                .unwrap_or_default();
            log.push(format!(
                "{} air {}{late}",
                hhmm(claim.start_at),
                claim.occurrence.program.id
            ));
            stack.push(Playing {
                remaining: lengths[claim.occurrence.program.id.as_str()],
                program: claim.occurrence.program,
                resumed: false,
            });
        };
        for _ in 0..100 {
            for (occurrence, reason) in arbiter.expired(now) {
                log.push(format!(
                    "{} miss {}: {reason}",
                    hhmm(now),
                    occurrence.program.id
                ));
            }
            if stack.is_empty()
                && let Some(claim) = arbiter.slot_free(now)
            {
                air(&mut stack, &mut log, claim);
                continue;
            }
            if let Some(top) = stack.last_mut()
                && top.resumed
            {
                top.resumed = false;
                log.push(format!("{} resume {}", hhmm(now), top.program.id));
            }
            let action = agenda.next_action(&mut plan, cursor, now, |o| {
                recorded.contains(&(o.program.id.clone(), o.scheduled)) || arbiter.holds(o)
            });
            let wake = match action {
                Action::Air {
                    occurrence,
                    start_at,
                    ..
                } => {
                    recorded.push((occurrence.program.id.clone(), occurrence.scheduled));
                    let claim_id = occurrence.program.id.clone();
                    let claim = Claim {
                        occurrence,
                        start_at,
                    };
                    let on_air = stack.last().map(|p| p.program.as_ref());
                    match arbiter.claim(claim.clone(), on_air) {
                        Ruling::Air(claim) => air(&mut stack, &mut log, claim),
                        Ruling::Cut { claim, resume } => {
                            let cut = stack.pop().unwrap();
                            let verb = if resume { "suspend" } else { "drop" };
                            log.push(format!("{} cut {} ({verb})", hhmm(now), cut.program.id));
                            if resume {
                                stack.push(Playing {
                                    resumed: true,
                                    ..cut
                                });
                            }
                            air(&mut stack, &mut log, claim);
                        }
                        Ruling::Queued => {}
                        Ruling::Refused(reason) => {
                            log.push(format!("{} miss {}: {reason}", hhmm(now), claim_id));
                        }
                    }
                    continue;
                }
                Action::Miss { occurrence, reason } => {
                    recorded.push((occurrence.program.id.clone(), occurrence.scheduled));
                    log.push(format!(
                        "{} miss {}: {reason}",
                        hhmm(now),
                        occurrence.program.id
                    ));
                    continue;
                }
                Action::Idle { wake_at, .. } => wake_at,
            };
            // Advance to whichever comes first: the end of what is on air, the next
            // occurrence, or a wait running out.
            let ends = stack.last().map(|p| now + p.remaining);
            let Some(next) = [ends, wake, arbiter.next_deadline()]
                .into_iter()
                .flatten()
                .min()
            else {
                break;
            };
            if let Some(top) = stack.last_mut() {
                top.remaining -= next - now;
            }
            now = next;
            if ends == Some(now) {
                let done = stack.pop().unwrap();
                log.push(format!("{} end {}", hhmm(now), done.program.id));
            }
        }
        log
    }

    #[test]
    fn the_cut_in_rules_hold_on_a_virtual_clock() {
        use Priority::{Emergency, Priority as High};
        let cases: Vec<(&str, Vec<Spec>, Vec<&str>)> = vec![
            (
                "an emergency during a normal programme cuts it, and it resumes afterwards",
                vec![
                    spec("news", "06:00", 30),
                    spec("storm", "06:10", 5).level(Emergency),
                ],
                vec![
                    "06:00 air news",
                    "06:10 cut news (suspend)",
                    "06:10 air storm",
                    "06:15 end storm",
                    "06:15 resume news",
                    "06:35 end news",
                ],
            ),
            (
                "an emergency during a programme that skips when cut drops the rest of it",
                vec![
                    spec("news", "06:00", 30).skip_after_cut(),
                    spec("storm", "06:10", 5).level(Emergency),
                ],
                vec![
                    "06:00 air news",
                    "06:10 cut news (drop)",
                    "06:10 air storm",
                    "06:15 end storm",
                ],
            ),
            (
                "two normal programmes due together both air, one after the other",
                vec![spec("a", "06:00", 5), spec("b", "06:00", 5)],
                vec![
                    "06:00 air a",
                    "06:05 end a",
                    "06:05 air b late by 5 min",
                    "06:10 end b",
                ],
            ),
            (
                "of two due together the higher level airs first",
                vec![
                    spec("normal", "06:00", 5),
                    spec("notice", "06:00", 5).level(High),
                ],
                vec![
                    "06:00 air notice",
                    "06:05 end notice",
                    "06:05 air normal late by 5 min",
                    "06:10 end normal",
                ],
            ),
            (
                "a programme that waits gives up when its wait runs out",
                vec![
                    spec("long", "06:00", 30),
                    spec("short", "06:05", 5).when_busy("wait 10"),
                ],
                vec![
                    "06:00 air long",
                    "06:15 miss short: slot occupied (waited 10 min)",
                    "06:30 end long",
                ],
            ),
            (
                "a programme that goes next airs right after, however late",
                vec![
                    spec("long", "06:00", 30),
                    spec("short", "06:05", 5).when_busy("next"),
                ],
                vec![
                    "06:00 air long",
                    "06:30 end long",
                    "06:30 air short late by 25 min",
                    "06:35 end short",
                ],
            ),
            (
                "a relay overrunning into the next slot is cut by a programme that cuts",
                vec![
                    spec("vov-relay", "06:00", 60).skip_after_cut(),
                    spec("local", "06:30", 10).when_busy("cut"),
                ],
                vec![
                    "06:00 air vov-relay",
                    "06:30 cut vov-relay (drop)",
                    "06:30 air local",
                    "06:40 end local",
                ],
            ),
            (
                "a normal programme that cuts does not cut a higher level",
                vec![
                    spec("notice", "06:00", 20).level(High),
                    spec("local", "06:05", 5).when_busy("cut"),
                ],
                vec![
                    "06:00 air notice",
                    "06:20 end notice",
                    "06:20 air local late by 15 min",
                    "06:25 end local",
                ],
            ),
            (
                "a programme outside the broadcast window is refused; an emergency airs anyway",
                vec![
                    spec("late-relay", "22:30", 30),
                    spec("flood", "23:00", 5).level(Emergency),
                ],
                vec![
                    "22:30 miss late-relay: refused: 22:30:00 is outside the broadcast windows (05:00–22:00)",
                    "23:00 air flood",
                    "23:05 end flood",
                ],
            ),
            (
                "an emergency during an emergency waits for it, and is never dropped",
                vec![
                    spec("flood", "06:00", 30).level(Emergency),
                    spec("fire", "06:05", 5)
                        .level(Emergency)
                        .when_busy("wait 1"),
                ],
                vec![
                    "06:00 air flood",
                    "06:30 end flood",
                    "06:30 air fire late by 25 min",
                    "06:35 end fire",
                ],
            ),
        ];
        for (rule, specs, expected) in cases {
            assert_eq!(simulate(&specs), expected, "{rule}");
        }
    }

    #[test]
    fn when_busy_reads_as_the_schedule_writes_it_and_refuses_anything_else() {
        assert_eq!("cut".parse(), Ok(WhenBusy::Cut));
        assert_eq!("next".parse(), Ok(WhenBusy::Next));
        assert_eq!("wait 15".parse(), Ok(WhenBusy::Wait(Duration::minutes(15))));
        for bad in ["wait", "wait 0", "wait 2000", "later", "wait x"] {
            assert_eq!(
                bad.parse::<WhenBusy>(),
                Err(loaxa_core::schedule::Fault::BadWhenBusy { text: bad.into() })
            );
        }
    }
}
