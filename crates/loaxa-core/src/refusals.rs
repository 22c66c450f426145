//! How many refusals are told one by one. Every refused message is worth a log line (and, on a
//! box, a rejection event for the district), but a flood of junk (10,000 messages on a command
//! topic, or on the office's events topics) must not fill the disk with log lines or the outbox
//! with events: past a few a minute, the rest are counted and told as one summary. Pure: the
//! caller passes the time.

use std::time::{Duration, Instant};

/// A summary of the refusals not told one by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untold {
    pub count: u64,
    /// The last of them.
    pub topic: String,
    pub reason: String,
    /// How long they were counted over.
    pub over: Duration,
}

#[derive(Debug)]
pub struct RefusalLimit {
    per_window: u32,
    window: Duration,
    window_start: Option<Instant>,
    told: u32,
    untold: Option<Untold>,
}

impl RefusalLimit {
    pub fn new(per_window: u32, window: Duration) -> RefusalLimit {
        RefusalLimit {
            per_window,
            window,
            window_start: None,
            told: 0,
            untold: None,
        }
    }

    /// Whether this refusal is told one by one; if not, it is counted for the summary.
    pub fn admit(&mut self, topic: &str, reason: &str, now: Instant) -> bool {
        let start = *self.window_start.get_or_insert(now);
        if now.saturating_duration_since(start) >= self.window && self.untold.is_none() {
            self.window_start = Some(now);
            self.told = 0;
        }
        if self.told < self.per_window {
            self.told += 1;
            return true;
        }
        let untold = self.untold.get_or_insert_with(|| Untold {
            count: 0,
            topic: String::new(),
            reason: String::new(),
            over: Duration::ZERO,
        });
        untold.count += 1;
        topic.clone_into(&mut untold.topic);
        reason.clone_into(&mut untold.reason);
        false
    }

    /// The summary of what was counted, once its window is over; the next window starts.
    pub fn summary(&mut self, now: Instant) -> Option<Untold> {
        let start = self.window_start?;
        let over = now.saturating_duration_since(start);
        if over < self.window {
            return None;
        }
        let mut untold = self.untold.take()?;
        untold.over = over;
        self.window_start = Some(now);
        self.told = 0;
        Some(untold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn the_first_few_refusals_a_minute_are_told_and_the_rest_summed_up() {
        let start = Instant::now();
        let mut limit = RefusalLimit::new(3, MINUTE);
        let told = (0..10_000)
            .filter(|i| limit.admit("loaxa/all/command", &format!("junk {i}"), start))
            .count();
        assert_eq!(told, 3);
        assert_eq!(limit.summary(start + Duration::from_secs(59)), None);
        let summary = limit.summary(start + MINUTE).unwrap();
        assert_eq!(summary.count, 9_997);
        assert_eq!(summary.reason, "junk 9999");
        assert_eq!(summary.over, MINUTE);
        // A new window: told one by one again, and nothing left to sum up.
        assert!(limit.admit("t", "r", start + MINUTE));
        assert_eq!(limit.summary(start + MINUTE * 3), None);
    }

    #[test]
    fn a_quiet_box_tells_every_refusal() {
        let start = Instant::now();
        let mut limit = RefusalLimit::new(3, MINUTE);
        for minute in 0..10 {
            assert!(limit.admit("t", "r", start + MINUTE * minute));
        }
        assert_eq!(limit.summary(start + MINUTE * 11), None);
    }
}
