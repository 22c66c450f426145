//! What the box's link knows and decides, apart from the connection and the disk: whether it is
//! up, which outbox rows are in flight, which bulletins to fetch now (the chunk slots, held-back
//! and refused chunks), when the status is due and what it shows of the bulletins. Pure:
//! `link::remote` says what happened and what time it is, and carries out what this returns.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::transfers::{Pending, Plan, Transfers};
use loaxa_core::protocol::{Manifest, Transfer, topic};

/// The status is published at most this often: a burst of manifests or programmes changes
/// it many times a second, and each copy would be sent to the district.
pub const STATUS_GAP: Duration = Duration::from_secs(1);
/// How often the status is re-published when nothing else changed it (disk space drifts, and
/// the district's "last seen" should not go stale on a quiet box).
pub const STATUS_EVERY: Duration = Duration::from_secs(600);

/// How long a bulletin whose chunk could not be written waits before the box tries again.
const HOLD_BACK: Duration = Duration::from_secs(60);

/// A manifest the box holds, and what of it is on disk.
#[derive(Debug)]
pub struct Held<'a> {
    pub manifest: &'a Manifest,
    /// Chunk indexes not on disk, lowest first (none once the file is complete).
    pub missing: Vec<usize>,
    /// The assembled file is on disk.
    pub complete: bool,
}

/// What fetching the held bulletins takes now.
#[derive(Debug, Default)]
pub struct Fetch<'a> {
    /// Bulletins with every chunk on disk but no file (the box died between the last chunk and
    /// putting the file together): to assemble.
    pub assemble: Vec<&'a Manifest>,
    /// Bulletins just held back because the disk has no room for them, with the bytes they
    /// need free: to tell the district (once; a disk that stays full is not told again).
    pub too_full: Vec<(&'a Manifest, u64)>,
    /// Chunk subscriptions to make and drop.
    pub plan: Plan,
}

#[derive(Debug)]
pub struct LinkState {
    connected: bool,
    /// Which chunks are asked for, shared fairly between the bulletins still arriving.
    transfers: Transfers,
    /// When the schedules next air each bulletin, by id: the one needed soonest is fetched
    /// first.
    needed: BTreeMap<String, DateTime<Utc>>,
    /// Chunk topics whose content did not match the manifest. Not asked for again until the
    /// district announces that bulletin anew (or the box restarts): the broker would only hand
    /// back the same bad retained message, in a loop.
    refused: BTreeSet<String>,
    /// Bulletins not fetched for now, by sha256, and until when: the disk is too full for them
    /// (looked at again at every housekeeping), or writing a chunk failed (after a pause).
    held_back: BTreeMap<String, Instant>,
    /// What the disk must keep free besides the bulletins (`disk_reserve_mb`).
    disk_reserve: u64,
    /// Outbox rows published but not yet echoed back, with when they went out.
    in_flight: BTreeMap<u64, Instant>,
    /// How long an event may go unconfirmed before it is sent again; also the housekeeping
    /// period.
    resend_after: Duration,
    next_housekeeping: Instant,
    last_status: Instant,
    /// A status change waiting for [`STATUS_GAP`] to pass since the last one went out.
    status_due: Option<Instant>,
}

impl LinkState {
    /// The state of a link just started at `now`, not connected yet.
    pub fn new(
        transfers: Transfers,
        disk_reserve: u64,
        resend_after: Duration,
        now: Instant,
    ) -> LinkState {
        LinkState {
            connected: false,
            transfers,
            needed: BTreeMap::new(),
            refused: BTreeSet::new(),
            held_back: BTreeMap::new(),
            disk_reserve,
            in_flight: BTreeMap::new(),
            resend_after,
            next_housekeeping: now + resend_after,
            last_status: now,
            status_due: None,
        }
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// The connection came up. Whatever was in flight may have died with the old one; without
    /// a session the broker forgot the chunk subscriptions, so they are made again.
    pub fn connected(&mut self, session_present: bool) {
        self.connected = true;
        self.in_flight.clear();
        if !session_present {
            self.transfers.forget_asked();
        }
    }

    pub fn disconnected(&mut self) {
        self.connected = false;
    }

    /// When the schedules next air each bulletin, by id (after every reload).
    pub fn set_needed(&mut self, needed: BTreeMap<String, DateTime<Utc>>) {
        self.needed = needed;
    }

    /// When housekeeping (re-sends, stalled transfers, the periodic status) is next due.
    pub fn housekeeping_at(&self) -> Instant {
        self.next_housekeeping
    }

    /// Housekeeping runs now; whether the status has gone unpublished for [`STATUS_EVERY`]
    /// while connected.
    pub fn housekeeping(&mut self, now: Instant) -> bool {
        self.next_housekeeping = now + self.resend_after;
        self.connected && now.saturating_duration_since(self.last_status) >= STATUS_EVERY
    }

    /// Whether outbox row `seq` is to be published now: never sent on this connection, or
    /// unconfirmed for `resend_after`.
    pub fn to_send(&self, seq: u64, now: Instant) -> bool {
        self.in_flight
            .get(&seq)
            .is_none_or(|sent| now.saturating_duration_since(*sent) >= self.resend_after)
    }

    pub fn sent(&mut self, seq: u64, now: Instant) {
        self.in_flight.insert(seq, now);
    }

    /// Outbox row `seq` came back from the broker.
    pub fn confirmed(&mut self, seq: u64) {
        self.in_flight.remove(&seq);
    }

    /// Something the status shows changed: whether to publish it now; otherwise it is due once
    /// [`STATUS_GAP`] has passed since the last one.
    pub fn status_changed(&mut self, now: Instant) -> bool {
        if now.saturating_duration_since(self.last_status) >= STATUS_GAP {
            return true;
        }
        self.status_due.get_or_insert(self.last_status + STATUS_GAP);
        false
    }

    /// When a held-back status change is due, if one is.
    pub fn status_due(&self) -> Option<Instant> {
        self.status_due
    }

    /// The status went out at `now`; `busy`: the link's queue had no room, so it is due again
    /// after [`STATUS_GAP`].
    pub fn status_published(&mut self, now: Instant, busy: bool) {
        self.last_status = now;
        self.status_due = busy.then(|| now + STATUS_GAP);
    }

    /// The held-back status change is being published (or dropped, off line).
    pub fn status_taken(&mut self) {
        self.status_due = None;
    }

    /// The district announced `manifest` (anew): its chunks may be asked for again, and the
    /// disk is looked at again for it.
    pub fn announced(&mut self, manifest: &Manifest) {
        self.refused
            .retain(|t| topic::parse_chunk(t).is_none_or(|(sha, _)| sha != manifest.sha256));
        self.held_back.remove(&manifest.sha256);
    }

    /// A chunk topic whose content did not match its manifest.
    pub fn refuse_chunk(&mut self, chunk_topic: &str) {
        self.refused.insert(chunk_topic.to_owned());
    }

    /// Every chunk of `manifest` is refused: the assembled file was wrong, and the broker would
    /// only hand back the same chunks.
    pub fn refuse_bulletin(&mut self, manifest: &Manifest) {
        self.refused
            .extend((0..manifest.chunks.len()).map(|i| topic::chunk(&manifest.sha256, i)));
    }

    /// Stops fetching `manifest` until `now + pause`; whether it was not held back already (and
    /// so the district is to be told).
    fn hold_back(&mut self, manifest: &Manifest, pause: Duration, now: Instant) -> bool {
        self.held_back
            .insert(manifest.sha256.clone(), now + pause)
            .is_none()
    }

    /// The box's own disk failed `manifest`'s chunk or file at `now`. A `full` disk is looked at
    /// again at every housekeeping, like a bulletin the space check held back; another failure
    /// waits [`HOLD_BACK`] before the next try. Whether the district is to be told.
    pub fn disk_failed(&mut self, manifest: &Manifest, full: bool, now: Instant) -> bool {
        let pause = if full { Duration::ZERO } else { HOLD_BACK };
        self.hold_back(manifest, pause, now)
    }

    /// A chunk arrived (or was refused) at `now`: its slot is free.
    pub fn chunk_arrived(&mut self, chunk_topic: &str, now: Instant) {
        self.transfers.arrived(chunk_topic, now.into_std());
    }

    /// A subscription could not be queued: the slot is free again.
    pub fn not_asked(&mut self, chunk_topic: &str) {
        self.transfers.not_asked(chunk_topic);
    }

    /// What to fetch now, given the manifests held (oldest first) and the bytes free on disk.
    /// A bulletin is fetched only with room for its chunks still to come, its assembled file
    /// and the reserve; chunks refused are not asked for.
    pub fn fetch<'a>(&mut self, held: &[Held<'a>], free: u64, now: Instant) -> Fetch<'a> {
        let mut fetch = Fetch::default();
        let mut pending = Vec::new();
        for Held {
            manifest,
            missing,
            complete,
        } in held
        {
            if missing.is_empty() {
                if !complete {
                    fetch.assemble.push(*manifest);
                }
                continue;
            }
            if self
                .held_back
                .get(&manifest.sha256)
                .is_some_and(|until| now < *until)
            {
                continue;
            }
            let still_to_come: u64 = missing.iter().map(|&i| manifest.chunk_len(i) as u64).sum();
            let needed = still_to_come + manifest.size + self.disk_reserve;
            if free < needed {
                // Looked at again at the next chunk or housekeeping: statvfs is cheap.
                if self.hold_back(manifest, Duration::ZERO, now) {
                    fetch.too_full.push((*manifest, needed));
                }
                continue;
            }
            self.held_back.remove(&manifest.sha256);
            let missing: Vec<usize> = missing
                .iter()
                .copied()
                .filter(|&index| {
                    !self
                        .refused
                        .contains(&topic::chunk(&manifest.sha256, index))
                })
                .collect();
            if missing.is_empty() {
                continue; // every chunk still to come was refused: nothing to ask for
            }
            pending.push(Pending {
                sha256: &manifest.sha256,
                id: &manifest.id,
                missing,
                needed_at: self.needed.get(&manifest.id).copied(),
            });
        }
        fetch.plan = self.transfers.plan(&pending, now.into_std());
        fetch
    }
}

/// The bulletins as the status shows them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Shown {
    /// The ids of those held whole and not expired at the time.
    pub airable: Vec<String>,
    /// How far along those still missing chunks are.
    pub transfers: Vec<Transfer>,
}

/// What the status shows of the bulletins `held`, at `now`.
pub fn shown(held: &[Held<'_>], now: DateTime<Utc>) -> Shown {
    let airable = held
        .iter()
        .filter(|h| h.complete && h.manifest.valid_until.is_none_or(|until| until >= now))
        .map(|h| h.manifest.id.clone())
        .collect();
    let transfers = held
        .iter()
        .filter(|h| !h.missing.is_empty())
        .map(|h| Transfer {
            chunks_held: h.manifest.chunks.len() - h.missing.len(),
            chunks: h.manifest.chunks.len(),
            bulletin: h.manifest.id.clone(),
        })
        .collect();
    Shown { airable, transfers }
}

/// Puts `manifest`, just stored, in `held` (oldest first) as the newest, in place of any of the
/// same id: the inbox stores one manifest per bulletin id.
pub fn replace_manifest(held: &mut Vec<Manifest>, manifest: Manifest) {
    held.retain(|m| m.id != manifest.id);
    held.push(manifest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use loaxa_core::backoff::Backoff;
    use loaxa_core::protocol::Scope;

    const RESEND: Duration = Duration::from_secs(30);
    const CHUNK: usize = 1000;

    fn state(now: Instant) -> LinkState {
        let transfers = Transfers::new(
            8,
            RESEND,
            Backoff {
                initial: Duration::from_secs(60),
                max: Duration::from_secs(900),
                jitter: 0.0,
                stable_after: Duration::ZERO,
            },
        );
        LinkState::new(transfers, 0, RESEND, now)
    }

    fn manifest(id: &str, n: u8, chunks: usize) -> Manifest {
        let sha = format!("{n:x}").repeat(64);
        Manifest {
            scope: Scope::All,
            id: id.to_owned(),
            issued_at: DateTime::UNIX_EPOCH,
            title: id.to_owned(),
            sha256: sha.clone(),
            size: (chunks * CHUNK) as u64,
            duration_ms: 1000,
            codec: "mp3".to_owned(),
            chunk_size: CHUNK,
            chunks: vec![sha; chunks],
            valid_until: None,
            approver: "test".to_owned(),
            loudness_lufs: None,
        }
    }

    fn none_held(manifest: &Manifest) -> Held<'_> {
        Held {
            manifest,
            missing: (0..manifest.chunks.len()).collect(),
            complete: false,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_status_burst_is_published_once_a_second() {
        let start = Instant::now();
        let mut s = state(start);
        s.connected(true);
        // Changes in the first second after the last status wait for the second to end.
        assert!(!s.status_changed(start + Duration::from_millis(10)));
        assert!(!s.status_changed(start + Duration::from_millis(500)));
        assert_eq!(s.status_due(), Some(start + STATUS_GAP));
        s.status_taken();
        s.status_published(start + STATUS_GAP, false);
        assert_eq!(s.status_due(), None);
        // The next burst: again one copy, a second after the last.
        let later = start + STATUS_GAP;
        for ms in [1, 200, 999] {
            assert!(!s.status_changed(later + Duration::from_millis(ms)));
        }
        assert_eq!(s.status_due(), Some(later + STATUS_GAP));
        // A change after a quiet second goes out at once.
        s.status_published(later + STATUS_GAP, false);
        assert!(s.status_changed(later + STATUS_GAP + secs(5)));
    }

    #[test]
    fn a_status_the_link_was_too_busy_for_is_due_a_second_later() {
        let start = Instant::now();
        let mut s = state(start);
        s.status_published(start + secs(3), true);
        assert_eq!(s.status_due(), Some(start + secs(3) + STATUS_GAP));
    }

    #[test]
    fn a_quiet_connected_box_republishes_its_status_every_ten_minutes() {
        let start = Instant::now();
        let mut s = state(start);
        assert!(
            !s.housekeeping(start + STATUS_EVERY),
            "off line: nothing to publish"
        );
        s.connected(true);
        assert!(!s.housekeeping(start + STATUS_EVERY - secs(1)));
        assert_eq!(s.housekeeping_at(), start + STATUS_EVERY - secs(1) + RESEND);
        assert!(s.housekeeping(start + STATUS_EVERY));
    }

    #[test]
    fn an_unconfirmed_event_is_sent_again_after_thirty_seconds_or_a_reconnect() {
        let start = Instant::now();
        let mut s = state(start);
        s.connected(true);
        assert!(s.to_send(7, start));
        s.sent(7, start);
        assert!(!s.to_send(7, start + RESEND - secs(1)));
        assert!(s.to_send(7, start + RESEND));
        s.connected(true);
        assert!(
            s.to_send(7, start + secs(1)),
            "the reconnect forgot it was in flight"
        );
        s.sent(8, start);
        s.confirmed(8);
        assert!(s.to_send(8, start + secs(1)));
    }

    #[test]
    fn a_replaced_manifest_drops_the_old_ones_pending_transfer() {
        let start = Instant::now();
        let mut s = state(start);
        let (old, new) = (manifest("news", 1, 3), manifest("news", 2, 3));
        let mut held = vec![manifest("weather", 3, 0), old.clone()];
        let fetch = s.fetch(&[none_held(&old)], u64::MAX, start);
        assert_eq!(fetch.plan.ask.len(), 3);
        replace_manifest(&mut held, new.clone());
        let ids: Vec<(&str, &str)> = held
            .iter()
            .map(|m| (m.id.as_str(), &m.sha256[..1]))
            .collect();
        assert_eq!(ids, [("weather", "3"), ("news", "2")], "the newest last");
        let fetch = s.fetch(&[none_held(&held[1])], u64::MAX, start + secs(1));
        let old_topics: Vec<String> = (0..3).map(|i| topic::chunk(&old.sha256, i)).collect();
        let new_topics: Vec<String> = (0..3).map(|i| topic::chunk(&new.sha256, i)).collect();
        assert_eq!(fetch.plan.drop, old_topics);
        assert_eq!(fetch.plan.ask, new_topics);
    }

    #[test]
    fn chunk_subscriptions_are_made_again_after_a_reconnect_without_a_session() {
        let start = Instant::now();
        let mut s = state(start);
        let bulletin = manifest("news", 1, 2);
        s.connected(false);
        assert_eq!(
            s.fetch(&[none_held(&bulletin)], u64::MAX, start)
                .plan
                .ask
                .len(),
            2
        );
        s.disconnected();
        s.connected(true);
        let fetch = s.fetch(&[none_held(&bulletin)], u64::MAX, start + secs(1));
        assert!(fetch.plan.ask.is_empty(), "the session kept them");
        s.disconnected();
        s.connected(false);
        let fetch = s.fetch(&[none_held(&bulletin)], u64::MAX, start + secs(2));
        assert_eq!(fetch.plan.ask.len(), 2);
    }

    #[test]
    fn a_bulletin_the_disk_has_no_room_for_is_told_once_and_fetched_once_space_is_freed() {
        let start = Instant::now();
        let mut s = state(start);
        let bulletin = manifest("news", 1, 2);
        let needed = 2 * 2 * CHUNK as u64;
        let fetch = s.fetch(&[none_held(&bulletin)], needed - 1, start);
        assert_eq!(fetch.too_full.len(), 1);
        assert_eq!(fetch.too_full[0].1, needed);
        assert!(fetch.plan.ask.is_empty());
        let fetch = s.fetch(&[none_held(&bulletin)], needed - 1, start + secs(30));
        assert!(fetch.too_full.is_empty(), "told once");
        let fetch = s.fetch(&[none_held(&bulletin)], needed, start + secs(60));
        assert_eq!(fetch.plan.ask.len(), 2);
    }

    #[test]
    fn a_bulletin_held_back_after_a_write_failure_waits_a_minute() {
        let start = Instant::now();
        let mut s = state(start);
        let bulletin = manifest("news", 1, 2);
        assert!(s.disk_failed(&bulletin, false, start));
        assert!(!s.disk_failed(&bulletin, false, start), "told once");
        let held = [none_held(&bulletin)];
        assert!(
            s.fetch(&held, u64::MAX, start + secs(59))
                .plan
                .ask
                .is_empty()
        );
        assert_eq!(s.fetch(&held, u64::MAX, start + secs(60)).plan.ask.len(), 2);
    }

    #[test]
    fn a_bulletin_a_full_disk_failed_is_looked_at_again_at_once() {
        let start = Instant::now();
        let mut s = state(start);
        let bulletin = manifest("news", 1, 2);
        assert!(s.disk_failed(&bulletin, true, start));
        let fetch = s.fetch(&[none_held(&bulletin)], u64::MAX, start);
        assert_eq!(fetch.plan.ask.len(), 2);
    }

    #[test]
    fn the_status_shows_whole_unexpired_bulletins_as_airable_and_the_others_progress() {
        let now = DateTime::UNIX_EPOCH + chrono::Duration::days(1);
        let whole = manifest("whole", 1, 2);
        let mut expired = manifest("expired", 2, 2);
        expired.valid_until = Some(now - chrono::Duration::seconds(1));
        let mut today = manifest("today", 3, 2);
        today.valid_until = Some(now);
        let (coming, assembling) = (manifest("coming", 4, 3), manifest("assembling", 5, 2));
        let complete = |manifest| Held {
            manifest,
            missing: Vec::new(),
            complete: true,
        };
        let held = [
            complete(&whole),
            complete(&expired),
            complete(&today),
            Held {
                manifest: &coming,
                missing: vec![1, 2],
                complete: false,
            },
            Held {
                manifest: &assembling,
                missing: Vec::new(),
                complete: false,
            },
        ];
        let shown = shown(&held, now);
        assert_eq!(shown.airable, ["whole", "today"]);
        assert_eq!(
            shown.transfers,
            [Transfer {
                bulletin: "coming".to_owned(),
                chunks: 3,
                chunks_held: 1,
            }]
        );
    }

    #[test]
    fn refused_chunks_are_not_asked_for_until_the_bulletin_is_announced_anew() {
        let start = Instant::now();
        let mut s = state(start);
        let bulletin = manifest("news", 1, 2);
        s.refuse_bulletin(&bulletin);
        let held = [none_held(&bulletin)];
        assert!(s.fetch(&held, u64::MAX, start).plan.ask.is_empty());
        s.announced(&bulletin);
        assert_eq!(s.fetch(&held, u64::MAX, start).plan.ask.len(), 2);
    }

    #[test]
    fn a_bulletin_with_every_chunk_but_no_file_is_assembled() {
        let start = Instant::now();
        let mut s = state(start);
        let (whole, pieces) = (manifest("a", 1, 2), manifest("b", 2, 2));
        let held = [
            Held {
                manifest: &whole,
                missing: Vec::new(),
                complete: true,
            },
            Held {
                manifest: &pieces,
                missing: Vec::new(),
                complete: false,
            },
        ];
        let fetch = s.fetch(&held, u64::MAX, start);
        assert_eq!(
            fetch.assemble.iter().map(|m| &m.id).collect::<Vec<_>>(),
            ["b"]
        );
        assert!(fetch.plan.ask.is_empty());
    }
}
