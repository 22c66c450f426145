//! Which bulletin chunks the box asks the broker for, and when: the chunk slots shared fairly
//! between the bulletins still arriving. Pure: the caller says what is pending and what time it
//! is, and carries out the subscriptions this returns.
//!
//! Each chunk asked for is one subscription the broker answers with the retained chunk. The box
//! asks for at most `window` at once: enough to keep a 3G link busy, few enough that a
//! reconnect re-sends little. The slots go round the pending bulletins in order of need (the
//! one the schedule airs soonest, then the oldest announced), one slot each per round, so a
//! single bulletin gets the whole window and twenty share it.
//!
//! A bulletin whose asked-for chunks do not come is *stalled*. The first time, its chunks are
//! asked again (a SUBSCRIBE lost with a dropped connection is not re-sent by rumqttc). After
//! that it rests, for growing periods, and its slots go to the others: a manifest whose chunks
//! were never uploaded cannot starve every bulletin after it.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use loaxa_core::backoff::Backoff;
use loaxa_core::protocol::topic;

/// A bulletin still missing chunks, as the caller sees it.
#[derive(Debug, Clone)]
pub struct Pending<'a> {
    pub sha256: &'a str,
    pub id: &'a str,
    /// Chunk indexes not yet held (and not refused), lowest first.
    pub missing: Vec<usize>,
    /// When the schedule next airs it, if it does.
    pub needed_at: Option<DateTime<Utc>>,
}

/// Subscriptions to make and to drop.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Chunk topics to subscribe to (newly asked, or asked again after a stall).
    pub ask: Vec<String>,
    /// Chunk topics no longer asked for (their bulletin rests, or is no longer pending).
    pub drop: Vec<String>,
    /// Bulletins that just stalled for the second time or more, and how long they rest.
    pub resting: Vec<(String, Duration)>,
}

#[derive(Debug, Clone)]
struct Progress {
    /// When a chunk of it last arrived, or it was last (re-)asked for.
    since: Instant,
    /// Stalls since its last chunk.
    stalls: u32,
    resting_until: Option<Instant>,
}

#[derive(Debug)]
pub struct Transfers {
    window: usize,
    /// How long asked-for chunks may take before the bulletin counts as stalled.
    stall_after: Duration,
    rest: Backoff,
    /// Chunk topic → the sha256 of its bulletin, for every chunk asked for right now.
    asked: BTreeMap<String, String>,
    progress: HashMap<String, Progress>,
}

impl Transfers {
    pub fn new(window: usize, stall_after: Duration, rest: Backoff) -> Transfers {
        Transfers {
            window: window.max(1),
            stall_after,
            rest,
            asked: BTreeMap::new(),
            progress: HashMap::new(),
        }
    }

    /// Chunk topics asked for right now.
    pub fn asked(&self) -> usize {
        self.asked.len()
    }

    pub fn is_asked(&self, chunk_topic: &str) -> bool {
        self.asked.contains_key(chunk_topic)
    }

    /// The broker forgot the session: nothing is asked for any more (rests are kept).
    pub fn forget_asked(&mut self) {
        self.asked.clear();
    }

    /// A chunk arrived (or was refused): its slot is free, and its bulletin is making progress.
    /// Returns whether it had been asked for.
    pub fn arrived(&mut self, chunk_topic: &str, now: Instant) -> bool {
        let Some(sha) = topic::parse_chunk(chunk_topic).map(|(sha, _)| sha.to_owned()) else {
            return false;
        };
        let progress = self.progress.entry(sha).or_insert(Progress {
            since: now,
            stalls: 0,
            resting_until: None,
        });
        progress.since = now;
        progress.stalls = 0;
        progress.resting_until = None;
        self.asked.remove(chunk_topic).is_some()
    }

    /// A subscription could not be queued (the link is busy): the slot is free again.
    pub fn not_asked(&mut self, chunk_topic: &str) {
        self.asked.remove(chunk_topic);
    }

    /// What to ask for now, given every bulletin still missing chunks.
    pub fn plan(&mut self, pending: &[Pending<'_>], now: Instant) -> Plan {
        let mut plan = Plan::default();
        // Bulletins no longer pending (complete, deleted, refused) give their slots back.
        let still: std::collections::HashSet<&str> = pending.iter().map(|p| p.sha256).collect();
        self.progress.retain(|sha, _| still.contains(sha.as_str()));
        let gone: Vec<String> = self
            .asked
            .iter()
            .filter(|(_, sha)| !still.contains(sha.as_str()))
            .map(|(t, _)| t.clone())
            .collect();
        for chunk_topic in gone {
            self.asked.remove(&chunk_topic);
            plan.drop.push(chunk_topic);
        }
        self.stalls(now, &mut plan);

        let mut order: Vec<&Pending<'_>> = pending
            .iter()
            .filter(|p| {
                self.progress
                    .get(p.sha256)
                    .and_then(|progress| progress.resting_until)
                    .is_none_or(|until| until <= now)
            })
            .collect();
        // Soonest needed first, then never needed; the caller lists them oldest first, and the
        // sort is stable.
        order.sort_by_key(|p| (p.needed_at.is_none(), p.needed_at));
        // A fair share each: one bulletin that came first (or whose chunks never come) gives
        // back what it holds beyond it as soon as others are waiting.
        let share = self.window.div_ceil(order.len().max(1));
        for pending in &order {
            let held: Vec<String> = self
                .asked
                .iter()
                .filter(|(_, sha)| sha.as_str() == pending.sha256)
                .map(|(t, _)| t.clone())
                .collect();
            for chunk_topic in held.into_iter().skip(share) {
                self.asked.remove(&chunk_topic);
                plan.ask.retain(|t| *t != chunk_topic);
                plan.drop.push(chunk_topic);
            }
        }
        let mut next: Vec<(std::slice::Iter<'_, usize>, usize)> = order
            .iter()
            .map(|p| {
                let held = self.asked.values().filter(|sha| *sha == p.sha256).count();
                (p.missing.iter(), held)
            })
            .collect();
        let mut room = self.window.saturating_sub(self.asked.len());
        while room > 0 {
            let mut gave = false;
            for (pending, (missing, held)) in order.iter().zip(next.iter_mut()) {
                if room == 0 {
                    break;
                }
                if *held >= share {
                    continue;
                }
                let Some(chunk_topic) = missing
                    .by_ref()
                    .map(|&index| topic::chunk(pending.sha256, index))
                    .find(|t| !self.asked.contains_key(t))
                else {
                    continue;
                };
                self.progress
                    .entry(pending.sha256.to_owned())
                    .and_modify(|progress| {
                        if progress.resting_until.take().is_some() {
                            progress.since = now;
                        }
                    })
                    .or_insert(Progress {
                        since: now,
                        stalls: 0,
                        resting_until: None,
                    });
                self.asked
                    .insert(chunk_topic.clone(), pending.sha256.to_owned());
                plan.ask.push(chunk_topic);
                room -= 1;
                *held += 1;
                gave = true;
            }
            if !gave {
                break;
            }
        }
        plan
    }

    /// Bulletins whose asked-for chunks have not come within `stall_after`: asked again the
    /// first time, rested (their slots dropped) after that.
    fn stalls(&mut self, now: Instant, plan: &mut Plan) {
        let mut stalled: Vec<String> = self
            .asked
            .values()
            .filter(|sha| {
                self.progress
                    .get(sha.as_str())
                    .is_some_and(|p| now.saturating_duration_since(p.since) >= self.stall_after)
            })
            .cloned()
            .collect();
        stalled.dedup();
        for sha in stalled {
            let Some(progress) = self.progress.get_mut(&sha) else {
                continue;
            };
            progress.stalls += 1;
            progress.since = now;
            let topics: Vec<String> = self
                .asked
                .iter()
                .filter(|(_, s)| **s == sha)
                .map(|(t, _)| t.clone())
                .collect();
            if progress.stalls == 1 {
                plan.ask.extend(topics);
                continue;
            }
            let rest = self.rest.delay(progress.stalls - 2);
            progress.resting_until = Some(now + rest);
            for chunk_topic in topics {
                self.asked.remove(&chunk_topic);
                plan.drop.push(chunk_topic);
            }
            plan.resting.push((sha, rest));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: usize = 8;
    const STALL: Duration = Duration::from_secs(30);

    fn transfers() -> Transfers {
        Transfers::new(
            WINDOW,
            STALL,
            Backoff {
                initial: Duration::from_secs(60),
                max: Duration::from_secs(600),
                jitter: 0.0,
                stable_after: Duration::ZERO,
            },
        )
    }

    fn sha(n: u8) -> String {
        format!("{n:x}").repeat(64)
    }

    fn pending(sha: &str, chunks: usize) -> Pending<'_> {
        Pending {
            sha256: sha,
            id: "b",
            missing: (0..chunks).collect(),
            needed_at: None,
        }
    }

    fn of(plan_topics: &[String], sha: &str) -> usize {
        plan_topics
            .iter()
            .filter(|t| topic::parse_chunk(t).is_some_and(|(s, _)| s == sha))
            .count()
    }

    #[test]
    fn one_bulletin_gets_the_whole_window_and_two_share_it() {
        let now = Instant::now();
        let (a, b) = (sha(1), sha(2));
        let mut t = transfers();
        let plan = t.plan(&[pending(&a, 100)], now);
        assert_eq!(plan.ask.len(), WINDOW);

        let mut t = transfers();
        let plan = t.plan(&[pending(&a, 100), pending(&b, 100)], now);
        assert_eq!((of(&plan.ask, &a), of(&plan.ask, &b)), (4, 4));
        assert_eq!(t.asked(), WINDOW);
    }

    #[test]
    fn the_bulletin_needed_soonest_is_served_first() {
        let now = Instant::now();
        let shas: Vec<String> = (1..=10).map(sha).collect();
        let mut list: Vec<Pending<'_>> = shas.iter().map(|s| pending(s, 1)).collect();
        list[9].needed_at = Some(Utc::now());
        let mut t = transfers();
        let plan = t.plan(&list, now);
        assert_eq!(plan.ask.len(), WINDOW);
        assert_eq!(
            of(&plan.ask, &shas[9]),
            1,
            "the needed one is among the first eight"
        );
        assert_eq!(of(&plan.ask, &shas[8]), 0, "the newest unneeded one waits");
    }

    #[test]
    fn a_stuck_bulletin_is_asked_again_once_then_rests_and_yields_its_slots() {
        let start = Instant::now();
        let (stuck, good, other) = (sha(1), sha(2), sha(3));
        let mut t = transfers();
        let plan = t.plan(&[pending(&stuck, 50)], start);
        assert_eq!(plan.ask.len(), WINDOW);

        // Good bulletins arrive while the stuck one holds every slot: it gives back all but
        // its share at once.
        let all = [pending(&stuck, 50), pending(&good, 3), pending(&other, 3)];
        let plan = t.plan(&all, start + Duration::from_secs(1));
        assert_eq!(of(&plan.drop, &stuck), WINDOW - 3);
        assert_eq!((of(&plan.ask, &good), of(&plan.ask, &other)), (3, 2));
        assert_eq!(t.asked(), WINDOW);

        // First stall: its chunks still asked for are asked again.
        let plan = t.plan(&all, start + STALL);
        assert_eq!(of(&plan.ask, &stuck), 3);
        assert!(plan.drop.is_empty());

        // Second stall: it rests, and its slots go to the others.
        let plan = t.plan(&all, start + STALL * 2);
        assert_eq!(plan.resting, [(stuck.clone(), Duration::from_secs(60))]);
        assert_eq!(of(&plan.drop, &stuck), 3);
        assert_eq!(of(&plan.ask, &stuck), 0);
        assert_eq!(t.asked(), 6, "every chunk of the two others is asked for");
    }

    #[test]
    fn a_resting_bulletin_is_asked_again_when_its_rest_is_over_and_rests_longer_next_time() {
        let start = Instant::now();
        let stuck = sha(1);
        let mut t = transfers();
        let list = [pending(&stuck, 2)];
        t.plan(&list, start);
        t.plan(&list, start + STALL);
        let plan = t.plan(&list, start + STALL * 2);
        assert_eq!(plan.resting, [(stuck.clone(), Duration::from_secs(60))]);
        let rested = start + STALL * 2 + Duration::from_secs(60);
        assert!(
            t.plan(&list, rested - Duration::from_secs(1))
                .ask
                .is_empty()
        );
        assert_eq!(t.plan(&list, rested).ask.len(), 2);
        let plan = t.plan(&list, rested + STALL);
        assert_eq!(plan.resting, [(stuck, Duration::from_secs(120))]);
    }

    #[test]
    fn a_chunk_arriving_frees_its_slot_and_clears_the_stall_count() {
        let start = Instant::now();
        let a = sha(1);
        let mut t = transfers();
        let plan = t.plan(&[pending(&a, 20)], start);
        assert!(t.arrived(&plan.ask[0], start + STALL - Duration::from_secs(1)));
        assert_eq!(t.asked(), WINDOW - 1);
        let mut rest = pending(&a, 20);
        rest.missing.remove(0);
        let plan = t.plan(&[rest.clone()], start + STALL);
        assert_eq!(
            plan.ask.len(),
            1,
            "only the freed slot is refilled; no stall yet"
        );
        assert!(!t.arrived("loaxa/elsewhere", start));
    }

    #[test]
    fn a_bulletin_no_longer_pending_gives_its_slots_back() {
        let now = Instant::now();
        let a = sha(1);
        let mut t = transfers();
        t.plan(&[pending(&a, 20)], now);
        let plan = t.plan(&[], now);
        assert_eq!(plan.drop.len(), WINDOW);
        assert_eq!(t.asked(), 0);
    }
}
