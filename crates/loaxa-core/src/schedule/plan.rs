//! From programmes to occurrences: each programme's next airing instant, and all of them merged in
//! the order they air. Pure: the caller supplies the instant to plan from.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::{Program, When, resolve_local};

/// One airing of one programme.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    pub program: Arc<Program>,
    pub scheduled: DateTime<Utc>,
}

impl Program {
    /// The first instant strictly after `after` at which this programme airs, within its validity
    /// dates (inclusive, in its own time zone).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Start the search at the first instant of `valid_from`, so a cron search never walks
        // through the months before the programme begins.
        let search_from = match self.valid_from.map(|d| self.start_of_day(d)) {
            Some(start) if start > after => start - chrono::Duration::nanoseconds(1),
            _ => after,
        };
        let mut search_from = search_from;
        // Days off are skipped a whole day at a time; a year of them is the most we look past.
        for _ in 0..=366 {
            let next = match &self.when {
                When::Cron(expr) => expr.next_after(search_from, self.timezone)?,
                When::At(times) => *times.iter().find(|t| **t > search_from)?,
            };
            let date = next.with_timezone(&self.timezone).date_naive();
            if self.valid_until.is_some_and(|until| date > until) {
                return None;
            }
            if !self.days_off.contains(&date) {
                return Some(next);
            }
            let next_day = date.succ_opt()?;
            search_from = self.start_of_day(next_day) - chrono::Duration::nanoseconds(1);
        }
        None
    }

    fn start_of_day(&self, date: NaiveDate) -> DateTime<Utc> {
        resolve_local(self.timezone, date.and_time(chrono::NaiveTime::MIN))
    }
}

/// The programmes, each in its `Arc`, in one shared slice. Wrapped a slice at a time from the
/// end, handing back the vector's memory as it goes: 100,000 programmes would otherwise hold
/// their vector and all their `Arc`s at once.
pub fn shared(mut programs: Vec<Program>) -> Arc<[Arc<Program>]> {
    const SLICE: usize = 4096;
    let mut wrapped = Vec::with_capacity(programs.len());
    while !programs.is_empty() {
        let from = programs.len().saturating_sub(SLICE);
        wrapped.extend(programs.drain(from..).rev().map(Arc::new));
        programs.shrink_to_fit();
    }
    wrapped.reverse();
    wrapped.into()
}

/// The next `count` occurrences strictly after `after`, in airing order.
pub fn next_occurrences(
    programs: &[Arc<Program>],
    after: DateTime<Utc>,
    count: usize,
) -> Vec<Occurrence> {
    let mut plan = Plan::new(programs, after);
    std::iter::from_fn(|| plan.pop()).take(count).collect()
}

/// Each programme's next occurrence, the earliest on top: what the daemon asks at every turn
/// of its loop. Taking one out puts that programme's following one in its place, so a turn
/// costs a logarithm of the number of programmes, not a pass over them; only building the plan
/// (on a reload, or when the clock goes back) looks at every programme.
#[derive(Debug, Clone)]
pub struct Plan {
    programs: Arc<[Arc<Program>]>,
    heap: BinaryHeap<Reverse<Next>>,
    /// Every occurrence after this instant is in the heap or was taken out of it.
    after: DateTime<Utc>,
    /// The programmes with nothing to air after `after`, by index in `programs`.
    silent: Vec<usize>,
}

impl Plan {
    /// The occurrences of `programs` strictly after `after`.
    pub fn new(programs: &[Arc<Program>], after: DateTime<Utc>) -> Plan {
        Plan::over(programs.into(), after)
    }

    fn over(programs: Arc<[Arc<Program>]>, after: DateTime<Utc>) -> Plan {
        let mut silent = Vec::new();
        let heap = programs
            .iter()
            .enumerate()
            .filter_map(|(index, p)| match p.next_after(after) {
                Some(t) => Some(Reverse(Next(occurrence(p, t)))),
                None => {
                    silent.push(index);
                    None
                }
            })
            .collect();
        Plan {
            programs,
            heap,
            after,
            silent,
        }
    }

    /// The programmes with nothing to air after the plan's start (each is worth a warning).
    pub fn silent(&self) -> impl Iterator<Item = &Program> {
        self.silent
            .iter()
            .map(|&index| self.programs[index].as_ref())
    }

    /// The programmes it plans.
    pub fn programs(&self) -> &Arc<[Arc<Program>]> {
        &self.programs
    }

    /// The first occurrence to air (at the same instant: the highest priority, then by id).
    pub fn peek(&self) -> Option<&Occurrence> {
        self.heap.peek().map(|Reverse(Next(o))| o)
    }

    /// Takes the first occurrence out; its programme's next one takes its place.
    pub fn pop(&mut self) -> Option<Occurrence> {
        let Reverse(Next(first)) = self.heap.pop()?;
        if let Some(next) = first.program.next_after(first.scheduled) {
            self.heap
                .push(Reverse(Next(occurrence(&first.program, next))));
        }
        Some(first)
    }

    /// Plans from `after` on: what is at or before it is dropped (each programme concerned
    /// moves to its first occurrence after it); planning from an earlier instant than before
    /// (the clock was put back) builds the plan again.
    pub fn plan_from(&mut self, after: DateTime<Utc>) {
        if after < self.after {
            *self = Plan::over(Arc::clone(&self.programs), after);
            return;
        }
        self.after = after;
        while let Some(Reverse(Next(first))) = self.heap.peek()
            && first.scheduled <= after
        {
            let program = Arc::clone(&first.program);
            self.heap.pop();
            if let Some(next) = program.next_after(after) {
                self.heap.push(Reverse(Next(occurrence(&program, next))));
            }
        }
    }
}

/// An occurrence ordered the way occurrences air.
#[derive(Debug, Clone, PartialEq)]
struct Next(Occurrence);

impl Eq for Next {}

impl Ord for Next {
    fn cmp(&self, other: &Self) -> Ordering {
        airing_order(&self.0, &other.0)
    }
}

impl PartialOrd for Next {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Every occurrence in `(after, until]`, in airing order. Used to find what a box missed while
/// it was off; `limit` bounds the work for a box that was off for months.
pub fn occurrences_between(
    programs: &[Arc<Program>],
    after: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: usize,
) -> Vec<Occurrence> {
    let mut found = Vec::new();
    for program in programs {
        let mut t = after;
        while let Some(next) = program.next_after(t).filter(|n| *n <= until) {
            found.push(occurrence(program, next));
            if found.len() >= limit * 2 {
                break;
            }
            t = next;
        }
    }
    found.sort_by(airing_order);
    found.truncate(limit);
    found
}

/// Earlier first; at the same instant the higher priority first, then by id so the order is stable.
fn airing_order(a: &Occurrence, b: &Occurrence) -> Ordering {
    a.scheduled
        .cmp(&b.scheduled)
        .then(b.program.priority.cmp(&a.program.priority))
        .then_with(|| a.program.id.cmp(&b.program.id))
}

fn occurrence(program: &Arc<Program>, scheduled: DateTime<Utc>) -> Occurrence {
    Occurrence {
        program: Arc::clone(program),
        scheduled,
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::schedule::{Priority, When};

    fn program(id: &str, cron: &str, priority: Priority) -> Arc<Program> {
        crate::schedule::test_program(id, cron, priority)
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn listed(occurrences: &[Occurrence]) -> Vec<String> {
        occurrences
            .iter()
            .map(|o| {
                format!(
                    "{} {}",
                    o.scheduled
                        .with_timezone(&o.program.timezone)
                        .format("%d %H:%M"),
                    o.program.id
                )
            })
            .collect()
    }

    #[test]
    fn occurrences_of_several_programmes_interleave_in_time_order() {
        let programs = [
            program("morning", "30 5 * * *", Priority::Normal),
            program("noon", "0 11 * * *", Priority::Normal),
        ];
        let next = next_occurrences(&programs, at("2026-11-23T12:00:00+07:00"), 4);
        assert_eq!(
            listed(&next),
            [
                "24 05:30 morning",
                "24 11:00 noon",
                "25 05:30 morning",
                "25 11:00 noon"
            ]
        );
    }

    #[test]
    fn at_the_same_instant_the_higher_priority_comes_first() {
        let programs = [
            program("a-news", "0 6 * * *", Priority::Normal),
            program("z-storm", "0 6 * * *", Priority::Emergency),
        ];
        let next = next_occurrences(&programs, at("2026-11-23T12:00:00+07:00"), 2);
        assert_eq!(listed(&next), ["24 06:00 z-storm", "24 06:00 a-news"]);
    }

    #[test]
    fn validity_dates_bound_what_airs_in_the_programmes_own_time_zone() {
        let mut p = (*program("campaign", "0 7 * * *", Priority::Normal)).clone();
        p.valid_from = NaiveDate::from_ymd_opt(2026, 12, 1);
        p.valid_until = NaiveDate::from_ymd_opt(2026, 12, 2);
        let programs = [Arc::new(p)];
        let next = next_occurrences(&programs, at("2026-11-23T12:00:00+07:00"), 5);
        assert_eq!(listed(&next), ["01 07:00 campaign", "02 07:00 campaign"]);
    }

    #[test]
    fn one_off_programmes_end_after_their_last_time() {
        let mut p = (*program("vaccination", "0 7 * * *", Priority::Normal)).clone();
        p.when = When::At(vec![
            at("2026-11-25T07:00:00+07:00"),
            at("2026-11-25T17:00:00+07:00"),
        ]);
        let next = next_occurrences(&[Arc::new(p)], at("2026-11-25T07:00:00+07:00"), 5);
        assert_eq!(listed(&next), ["25 17:00 vaccination"]);
    }

    #[test]
    fn a_plan_gives_the_same_order_as_sorting_every_occurrence() {
        let programs = [
            program("hourly", "0 * * * *", Priority::Normal),
            program("quarter", "*/15 * * * *", Priority::Normal),
            program("storm", "0 */2 * * *", Priority::Emergency),
            program("weekdays", "30 6 * * mon-fri", Priority::Priority),
        ];
        let (from, until) = (
            at("2026-11-23T00:00:00+07:00"),
            at("2026-11-30T00:00:00+07:00"),
        );
        let everything = occurrences_between(&programs, from, until, 10_000);
        let mut plan = Plan::new(&programs, from);
        let planned: Vec<Occurrence> = std::iter::from_fn(|| plan.pop())
            .take_while(|o| o.scheduled <= until)
            .collect();
        assert_eq!(listed(&planned), listed(&everything));
        assert_eq!(planned.len(), 7 * 24 + 7 * 96 + 7 * 12 + 5);
    }

    #[test]
    fn planning_from_a_later_instant_drops_what_is_before_and_from_an_earlier_one_plans_again() {
        let programs = [
            program("morning", "30 5 * * *", Priority::Normal),
            program("noon", "0 11 * * *", Priority::Normal),
        ];
        let mut plan = Plan::new(&programs, at("2026-11-23T12:00:00+07:00"));
        plan.plan_from(at("2026-11-24T06:00:00+07:00"));
        let first = |plan: &Plan| listed(&[plan.peek().unwrap().clone()]);
        assert_eq!(first(&plan), ["24 11:00 noon"]);
        assert_eq!(listed(&[plan.pop().unwrap()]), ["24 11:00 noon"]);
        assert_eq!(first(&plan), ["25 05:30 morning"]);
        // The clock put back: what was dropped comes back.
        plan.plan_from(at("2026-11-24T05:00:00+07:00"));
        assert_eq!(first(&plan), ["24 05:30 morning"]);
    }

    #[test]
    fn occurrences_between_is_exclusive_at_the_start_inclusive_at_the_end_and_bounded() {
        let programs = [program("quarter", "*/15 * * * *", Priority::Normal)];
        let found = occurrences_between(
            &programs,
            at("2026-11-23T10:00:00+07:00"),
            at("2026-11-23T11:00:00+07:00"),
            100,
        );
        assert_eq!(
            listed(&found),
            [
                "23 10:15 quarter",
                "23 10:30 quarter",
                "23 10:45 quarter",
                "23 11:00 quarter"
            ]
        );
        let bounded = occurrences_between(
            &programs,
            at("2026-01-01T00:00:00+07:00"),
            at("2026-11-23T11:00:00+07:00"),
            10,
        );
        assert_eq!(bounded.len(), 10);
    }
}
