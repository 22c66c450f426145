//! The collector: a durable MQTT subscriber that keeps every box's statuses and events in the
//! archive.
//!
//! - **Nothing is lost.** It connects with a fixed client id and a persistent session, so the
//!   broker queues what boxes publish while the collector is down, and acks each message only
//!   once the transaction holding it is committed: a collector killed at any instant gets the
//!   unacked messages again on its next connection, and the archive drops the copies it
//!   already has (by box and `seq`).
//! - **Fast.** Messages that arrive together are stored together, in one transaction of at
//!   most [`MAX_BATCH`]. The SQLite work runs on a blocking thread: while it commits one
//!   batch, the async loop gathers the next.
//! - **Hostile input costs little.** A message the archive refuses ([`wire::parse`]) is logged
//!   (a few a minute per kind of refusal, the rest summed up) and acked, so it does not come
//!   back. A message whose storing fails while the rest of its batch stores is refused too; when
//!   nothing stores (a full disk), the batch is retried with growing delays and not acked.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;

use super::store::{Archive, DEFAULT_RETENTION_DAYS};
use super::wire::{self, Message, RefusalKind};
use crate::publish::Broker;
use loaxa_core::backoff::Backoff;
use loaxa_core::protocol::topic;
use loaxa_core::refusals::RefusalLimit;
use loaxa_link::{Incoming, Link, LinkError, LinkEvent};

/// The client id is fixed per office machine, `loaxa-archive-HOSTNAME`, so the broker keeps
/// one session for the archive across restarts. Two collectors on one machine would take the
/// session from each other: run one.
pub const CLIENT_ID_PREFIX: &str = "loaxa-archive-";
/// The most messages stored in one transaction.
pub const MAX_BATCH: usize = 500;
/// Refusals of one kind logged one by one per minute; the rest are summed up.
const REFUSALS_TOLD: u32 = 3;
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);
/// Rows deleted per pruning transaction: short enough for batches to go in between.
const PRUNE_STEP: usize = 5_000;

/// How the collector runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub client_id: String,
    /// Events and as-run entries older than this many days are deleted, once a day.
    pub retention_days: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        let host = loaxa_core::ids::host_name().unwrap_or_else(|| "district".to_owned());
        Settings {
            client_id: format!("{CLIENT_ID_PREFIX}{host}"),
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    #[error("{0}")]
    Link(#[from] LinkError),
}

/// Work for the writer thread.
struct Job {
    messages: Vec<Incoming>,
    /// Prune what is past the retention period, a step at a time between batches.
    prune: bool,
}

/// Subscribes to every box's status and events and stores them in `archive` until `shutdown`
/// completes; then stores what it already took in, acks it, and disconnects (the broker keeps
/// the rest for the next run). Errors only if the link cannot start (a bad broker URL or CA
/// file); an unreachable broker is retried for ever, as the boxes do.
pub async fn run(
    broker: &Broker,
    archive: Archive,
    settings: &Settings,
    shutdown: impl Future<Output = ()>,
) -> Result<(), CollectorError> {
    let mut config = broker.link_config(settings.client_id.clone());
    config.persistent_session = true;
    let (link, mut events) = Link::start(config, vec![topic::status("+"), topic::events("+")])?;
    let (jobs, queue) = mpsc::channel::<Job>(1);
    let stopping = Arc::new(AtomicBool::new(false));
    let mut writer = Writer {
        archive,
        link: link.clone(),
        refusals: Default::default(),
        stopping: stopping.clone(),
        retention: chrono::Duration::days(i64::from(settings.retention_days)),
        prune_before: None,
    };
    let writer = tokio::task::spawn_blocking(move || writer.run(queue));
    let mut batch: Vec<Incoming> = Vec::new();
    // The first tick is at once: a collector started after a long pause prunes first thing.
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    let mut prune_due = false;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            // What has already arrived joins the batch before it goes.
            event = events.recv(), if batch.len() < MAX_BATCH => match event {
                Some(LinkEvent::Message(message)) => batch.push(message),
                Some(LinkEvent::Connected { session_present }) => {
                    tracing::info!(session_present, "archive collector connected to the broker");
                }
                Some(LinkEvent::Subscribed { refused }) if refused > 0 => {
                    tracing::error!(refused, "the broker refused some of the archive collector's subscriptions (its ACL?)");
                }
                Some(LinkEvent::Subscribed { .. }) => {}
                Some(LinkEvent::Disconnected { reason, retry_in, .. }) => {
                    tracing::warn!(%reason, retry_in_s = retry_in.as_secs_f64(), "archive collector lost the broker");
                }
                None => break,
            },
            permit = jobs.reserve(), if !batch.is_empty() || prune_due => match permit {
                Ok(permit) => permit.send(Job {
                    messages: std::mem::take(&mut batch),
                    prune: std::mem::take(&mut prune_due),
                }),
                Err(_) => break, // the writer is gone
            },
            _ = prune.tick() => prune_due = true,
        }
    }
    // Unstored messages stay unacked: the broker hands them to the next run.
    stopping.store(true, Ordering::SeqCst);
    drop(jobs);
    if writer.await.is_err() {
        tracing::error!("archive writer ended abnormally");
    }
    link.shutdown().await;
    Ok(())
}

/// The refusal limits, one per kind, so a flood of one kind does not hide another.
#[derive(Default)]
struct Refusals {
    limits: std::collections::BTreeMap<RefusalKind, RefusalLimit>,
}

impl Refusals {
    fn refused(&mut self, topic: &str, refusal: &wire::Refusal, now: Instant) {
        let limit = self
            .limits
            .entry(refusal.kind)
            .or_insert_with(|| RefusalLimit::new(REFUSALS_TOLD, Duration::from_secs(60)));
        if limit.admit(topic, &refusal.reason, now) {
            tracing::warn!(topic, kind = refusal.kind.as_str(), reason = %refusal.reason, "message refused by the archive");
        }
    }

    fn summarise(&mut self, now: Instant) {
        for (kind, limit) in &mut self.limits {
            if let Some(untold) = limit.summary(now) {
                tracing::warn!(
                    kind = kind.as_str(),
                    count = untold.count,
                    over_s = untold.over.as_secs(),
                    last_topic = %untold.topic,
                    last_reason = %untold.reason,
                    "more messages refused by the archive"
                );
            }
        }
    }
}

struct Writer {
    archive: Archive,
    link: Link,
    refusals: Refusals,
    stopping: Arc<AtomicBool>,
    retention: chrono::Duration,
    /// Set while a prune is under way.
    prune_before: Option<chrono::DateTime<Utc>>,
}

impl Writer {
    fn run(&mut self, mut queue: mpsc::Receiver<Job>) {
        loop {
            // While pruning, a step goes between batches; otherwise wait for the next batch.
            let job = if self.prune_before.is_some() {
                match queue.try_recv() {
                    Ok(job) => Some(job),
                    Err(mpsc::error::TryRecvError::Empty) => None,
                    Err(mpsc::error::TryRecvError::Disconnected) => return,
                }
            } else {
                match queue.blocking_recv() {
                    Some(job) => Some(job),
                    None => return,
                }
            };
            if let Some(job) = job {
                if job.prune && self.prune_before.is_none() {
                    self.prune_before = Some(Utc::now() - self.retention);
                }
                self.write(job.messages);
            }
            self.prune_step();
        }
    }

    fn prune_step(&mut self) {
        let Some(before) = self.prune_before else {
            return;
        };
        match self.archive.prune_step(before, PRUNE_STEP) {
            Ok(removed) if removed < PRUNE_STEP => {
                tracing::info!(before = %before.to_rfc3339(), "archive pruned");
                self.prune_before = None;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "archive not pruned; trying again tomorrow");
                self.prune_before = None;
            }
        }
    }

    /// Stores the messages, then acks them all.
    fn write(&mut self, batch: Vec<Incoming>) {
        if batch.is_empty() {
            return;
        }
        let now = Utc::now();
        // Each parsed message, and the index of its incoming one.
        let mut messages: Vec<Message> = Vec::with_capacity(batch.len());
        let mut from: Vec<usize> = Vec::with_capacity(batch.len());
        for (i, incoming) in batch.iter().enumerate() {
            match wire::parse(&incoming.topic, &incoming.payload, now) {
                Ok(message) => {
                    messages.push(message);
                    from.push(i);
                }
                Err(refusal) => self
                    .refusals
                    .refused(&incoming.topic, &refusal, Instant::now()),
            }
        }
        self.refusals.summarise(Instant::now());
        if !self.store(&messages) && !self.store_one_by_one(&batch, &from, messages) {
            // Nothing stores: not the messages' fault. Unacked, they come back on the next
            // connection; the collector is stopping.
            return;
        }
        for incoming in &batch {
            match self.link.ack(incoming) {
                // An earlier connection's message is redelivered; its copy is dropped then.
                Ok(()) | Err(LinkError::StaleAck) => {}
                Err(e) => tracing::debug!(error = %e, "ack not sent"),
            }
        }
    }

    fn store(&self, messages: &[Message]) -> bool {
        match self.archive.store(messages, Utc::now()) {
            Ok(stored) => {
                tracing::debug!(
                    events = stored.events,
                    duplicates = stored.duplicates,
                    statuses = stored.statuses,
                    "batch archived"
                );
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, messages = messages.len(), "batch not archived");
                false
            }
        }
    }

    /// After a batch failed: each message alone. If some store, the others are at fault and
    /// refused (true: ack them all). If none does, the store is at fault: wait, and try the
    /// whole batch again until it stores (true) or the collector stops (false).
    fn store_one_by_one(
        &mut self,
        batch: &[Incoming],
        from: &[usize],
        messages: Vec<Message>,
    ) -> bool {
        let mut failed = Vec::new();
        let mut any_stored = false;
        for (&i, message) in from.iter().zip(messages) {
            if self
                .archive
                .store(std::slice::from_ref(&message), Utc::now())
                .is_ok()
            {
                any_stored = true;
            } else {
                failed.push((i, message));
            }
        }
        if any_stored || failed.is_empty() {
            for (i, _) in failed {
                let refusal = wire::Refusal {
                    kind: RefusalKind::Malformed,
                    reason: "the archive could not store it".into(),
                };
                self.refusals
                    .refused(&batch[i].topic, &refusal, Instant::now());
            }
            return true;
        }
        let messages: Vec<Message> = failed.into_iter().map(|(_, m)| m).collect();
        let backoff = Backoff::default();
        let mut attempt = 0;
        loop {
            let delay = backoff.delay(attempt);
            tracing::error!(
                retry_in_s = delay.as_secs_f64(),
                "the archive takes no writes; the broker keeps the messages meanwhile"
            );
            if !self.pause(delay) {
                return false;
            }
            if self.store(&messages) {
                return true;
            }
            attempt = attempt.saturating_add(1);
        }
    }

    /// Waits `delay`, or less if the collector stops: false then.
    fn pause(&self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        while Instant::now() < until {
            if self.stopping.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100).min(until - Instant::now()));
        }
        !self.stopping.load(Ordering::SeqCst)
    }
}
