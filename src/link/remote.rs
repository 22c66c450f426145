//! The box's side of the district link, as the daemon sees it: one connection, the inbox that
//! judges what arrives, and the outbox that reports back.
//!
//! Everything the box tells the district (receipts, rejections, as-run entries) goes through the
//! store's outbox first, so an outage or a reboot loses none of it; `flush` publishes the queue
//! whenever the link is up.
//!
//! A queued event leaves the outbox only when the broker has *routed* it: the box subscribes to
//! its own events topic and deletes a row when its copy comes back. rumqttc reports a PUBACK by
//! packet id only, and packet ids are reused and re-sent across reconnects, so tying one back to
//! an outbox row is guesswork; the echo is end-to-end and survives restarts (the broker queues it
//! in the persistent session). An event not echoed within [`RESEND_AFTER`], or in flight when
//! the connection dropped, is sent again: delivery is at least once, and the district drops
//! duplicates by `seq`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc::{Receiver, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use super::bulletins::{BulletinError, Bulletins, Checked, Progress, stored_manifests};
use super::connection::{Incoming, Link, LinkConfig, LinkError, LinkEvent};
use super::inbox::{Inbox, Verdict};
use super::protocol::{Event, EventBody, LastAired, Manifest, Status, Transfer, VERSION, topic};
use crate::config::Config;
use crate::schedule::LoadOptions;
use crate::store::{AsRunEntry, Store, StoreError, free_space};
use crate::trust::Keyring;
use crate::workers::Workers;

/// How many queued messages one flush sends (the rest go on the next).
const FLUSH_BATCH: usize = 64;
/// Chunks asked for at once: enough to keep a 3G link busy, few enough that a reconnect
/// re-sends little.
const CHUNK_WINDOW: usize = 8;
/// How long an event may go unconfirmed before it is sent again.
pub const RESEND_AFTER: Duration = Duration::from_secs(30);
/// How long a bulletin whose chunk could not be written waits before the box tries again.
const HOLD_BACK: Duration = Duration::from_secs(60);
/// How often the status is re-published when nothing else changed it (disk space drifts, and
/// the district's "last seen" should not go stale on a quiet box).
const STATUS_EVERY: Duration = Duration::from_secs(600);

pub struct Remote {
    link: Link,
    events: Receiver<LinkEvent>,
    inbox: Inbox,
    bulletins: Bulletins,
    state_dir: PathBuf,
    /// This box's events topic, subscribed to for the echo that confirms delivery.
    events_topic: String,
    /// Chunk topics subscribed to right now.
    fetching: BTreeSet<String>,
    /// When the last chunk arrived (or the fetch was last asked for again).
    last_chunk: Instant,
    /// Chunk topics whose content did not match the manifest. Not asked for again until the
    /// district announces that bulletin anew (or the box restarts): the broker would only hand
    /// back the same bad retained message, in a loop.
    refused: BTreeSet<String>,
    /// Bulletins not fetched for now, by sha256, and until when: the disk is too full for them
    /// (looked at again at every housekeeping), or writing a chunk failed (after a pause).
    /// Reported to the district once.
    held_back: BTreeMap<String, Instant>,
    /// Events the outbox refused (a full disk), oldest first: queued at the next flush.
    unqueued: Vec<EventBody>,
    /// What the disk must keep free (`disk_reserve_mb`).
    disk_reserve: u64,
    /// The manifests in the store, read once and again only after the inbox stored a new one
    /// (it is their only writer): every chunk needs its manifest, and reading and parsing them
    /// all from SQLite for each chunk is work thrown away.
    manifests: Option<Arc<[Manifest]>>,
    /// Outbox rows published but not yet echoed back, with when they went out.
    in_flight: BTreeMap<u64, Instant>,
    now_playing: Option<String>,
    /// Putting complete bulletins together (copy, hash, decode) is done on these.
    workers: Workers,
    /// Assemblies handed to the workers, by sha256, and where their results come back.
    assembling: BTreeSet<String>,
    checked_reply: UnboundedSender<Checked>,
    checked: UnboundedReceiver<Checked>,
    connected: bool,
    next_housekeeping: Instant,
    last_status: Instant,
}

/// What wakes the link side of the daemon.
#[derive(Debug)]
pub enum RemoteEvent {
    Link(LinkEvent),
    /// Time to re-send unconfirmed events and refresh the status.
    Housekeeping,
    /// A worker is done putting a bulletin together.
    Assembled(Box<Checked>),
}

/// What the daemon must do after a link event.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Handled {
    pub schedules_changed: bool,
    /// A verified, fresh command from the district, for the daemon to carry out.
    pub command: Option<super::protocol::RemoteAction>,
    /// Something the status shows changed (it has been re-published).
    pub status_changed: bool,
}

impl Remote {
    /// Connects (in the background) to the broker in the config; None when the box has no link.
    pub fn start(config: &Config, workers: &Workers) -> Result<Option<Remote>, LinkError> {
        let Some(settings) = &config.link else {
            return Ok(None);
        };
        let scopes = config.scopes();
        let mut link_config =
            LinkConfig::new(settings.url.clone(), format!("loaxa-box-{}", config.box_id));
        link_config.username = settings.username.clone();
        link_config.password = settings.password.clone();
        link_config.ca_file = settings.ca_file.clone();
        link_config.keep_alive = settings.keep_alive;
        link_config.last_will = Some((
            topic::status(&config.box_id),
            status_bytes(Status::new(&config.box_id, "offline")),
        ));
        let events_topic = topic::events(&config.box_id);
        let subscriptions = scopes
            .iter()
            .flat_map(|s| [topic::schedule(s), topic::bulletins(s), topic::command(s)])
            .chain([events_topic.clone()])
            .collect();
        let (link, events) = Link::start(link_config, subscriptions)?;
        let inbox = Inbox {
            box_id: config.box_id.clone(),
            scopes,
            keyring: Keyring::new(settings.trusted_keys.clone()),
            load_options: LoadOptions::for_box(config, false),
        };
        let (checked_reply, checked) = tokio::sync::mpsc::unbounded_channel();
        tracing::info!(broker = %settings.url, scopes = ?inbox.scopes.iter().map(ToString::to_string).collect::<Vec<_>>(), "district link starting");
        Ok(Some(Remote {
            link,
            events,
            inbox,
            bulletins: Bulletins::new(&config.state_dir),
            state_dir: config.state_dir.clone(),
            events_topic,
            fetching: BTreeSet::new(),
            last_chunk: Instant::now(),
            refused: BTreeSet::new(),
            held_back: BTreeMap::new(),
            unqueued: Vec::new(),
            disk_reserve: config.disk_reserve,
            manifests: None,
            in_flight: BTreeMap::new(),
            now_playing: None,
            workers: workers.clone(),
            assembling: BTreeSet::new(),
            checked_reply,
            checked,
            connected: false,
            next_housekeeping: Instant::now() + RESEND_AFTER,
            last_status: Instant::now(),
        }))
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// The next event from the connection, or the housekeeping timer.
    pub async fn next_event(&mut self) -> RemoteEvent {
        tokio::select! {
            event = self.events.recv() => match event {
                Some(event) => RemoteEvent::Link(event),
                // The connection task is gone (shut down): only the timer is left.
                None => std::future::pending().await,
            },
            () = tokio::time::sleep_until(self.next_housekeeping) => RemoteEvent::Housekeeping,
            Some(checked) = self.checked.recv() => RemoteEvent::Assembled(Box::new(checked)),
        }
    }

    /// Acts on one event: stores what is accepted, acknowledges it, reports, publishes status.
    pub async fn handle(
        &mut self,
        event: RemoteEvent,
        store: &mut Store,
    ) -> Result<Handled, StoreError> {
        let mut handled = Handled::default();
        let event = match event {
            RemoteEvent::Link(event) => event,
            RemoteEvent::Assembled(checked) => {
                handled.status_changed = self.assembled(store, *checked).await?;
                self.flush(store).await?;
                return Ok(handled);
            }
            RemoteEvent::Housekeeping => {
                self.next_housekeeping = Instant::now() + RESEND_AFTER;
                if self.connected && self.last_status.elapsed() >= STATUS_EVERY {
                    self.publish_status(store).await?;
                }
                if self.connected
                    && !self.fetching.is_empty()
                    && self.last_chunk.elapsed() >= RESEND_AFTER
                {
                    self.refetch().await;
                }
                if self.connected && self.fetching.is_empty() {
                    // Space may have been freed for a held-back bulletin, or one stalled.
                    self.fetch_pending(store).await?;
                }
                self.flush(store).await?;
                return Ok(handled);
            }
        };
        match event {
            LinkEvent::Connected { session_present } => {
                self.connected = true;
                // Whatever was in flight may have died with the old connection.
                self.in_flight.clear();
                if !session_present {
                    // The broker forgot the chunk subscriptions; make them again.
                    self.fetching.clear();
                }
                self.publish_status(store).await?;
                self.fetch_pending(store).await?;
            }
            LinkEvent::Message(message) if message.topic == self.events_topic => {
                self.confirm(store, &message.payload)?;
                let _ = self.link.ack(&message).await;
            }
            LinkEvent::Message(message) if topic::parse_chunk(&message.topic).is_some() => {
                self.chunk(store, &message).await?;
                let _ = self.link.ack(&message).await;
            }
            LinkEvent::Disconnected { .. } => self.connected = false,
            LinkEvent::Message(message) => {
                let verdict =
                    self.inbox
                        .receive(store, &message.topic, &message.payload, Utc::now())?;
                let body = match &verdict {
                    Verdict::ScheduleApplied { scope, revision } => {
                        tracing::info!(scope = %scope, revision, "schedule received");
                        handled.schedules_changed = true;
                        Some(EventBody::Received {
                            topic: message.topic.clone(),
                            what: format!("schedule revision {revision}"),
                        })
                    }
                    Verdict::BulletinAnnounced(manifest) => {
                        self.manifests = None; // the inbox stored it
                        tracing::info!(bulletin = %manifest.id, chunks = manifest.chunks.len(), bytes = manifest.size, "bulletin announced; fetching");
                        self.refused.retain(|t| {
                            topic::parse_chunk(t).is_none_or(|(sha, _)| sha != manifest.sha256)
                        });
                        self.held_back.remove(&manifest.sha256);
                        self.fetch(store, manifest).await?;
                        handled.status_changed = true;
                        Some(EventBody::Received {
                            topic: message.topic.clone(),
                            what: format!("bulletin {} manifest", manifest.id),
                        })
                    }
                    Verdict::Command(command) => {
                        tracing::info!(scope = %command.scope, action = %command.action, approver = %command.approver, "command received");
                        handled.command = Some(command.action.clone());
                        Some(EventBody::Received {
                            topic: message.topic.clone(),
                            what: format!("command {}", command.action),
                        })
                    }
                    Verdict::Unchanged(why) => {
                        tracing::debug!(topic = %message.topic, why = %why, "nothing new");
                        None
                    }
                    Verdict::Rejected(reason) => {
                        tracing::warn!(topic = %message.topic, reason = %reason, "message refused");
                        Some(EventBody::Rejected {
                            topic: message.topic.clone(),
                            reason: reason.clone(),
                        })
                    }
                };
                if let Some(body) = body {
                    self.report(store, body);
                }
                // Acknowledged only now that the verdict is stored; a stale ack means the broker
                // re-delivers it, and the inbox sees the same revision again.
                if let Err(e) = self.link.ack(&message).await {
                    tracing::debug!(error = %e, "ack not sent; the broker will re-deliver");
                }
                if handled.schedules_changed || handled.status_changed {
                    self.publish_status(store).await?;
                }
            }
        }
        self.flush(store).await?;
        Ok(handled)
    }

    /// Fills the chunk window from every stored bulletin still missing chunks, by id.
    async fn fetch_pending(&mut self, store: &mut Store) -> Result<(), StoreError> {
        for manifest in self.manifests(store)?.iter() {
            if self.fetching.len() >= CHUNK_WINDOW {
                break;
            }
            self.fetch(store, manifest).await?;
        }
        Ok(())
    }

    /// Asks for the next missing chunks of `manifest`, up to the window, if the disk has room
    /// for the rest of it (and its assembled copy) on top of the reserve.
    async fn fetch(&mut self, store: &mut Store, manifest: &Manifest) -> Result<(), StoreError> {
        if self
            .held_back
            .get(&manifest.sha256)
            .is_some_and(|until| Instant::now() < *until)
        {
            return Ok(());
        }
        let missing = self.bulletins.missing(manifest);
        if missing.is_empty() {
            // Every chunk on disk but no file: the box died between the last chunk and putting
            // the file together, or the workers had no room for it then.
            if !self.bulletins.is_complete(manifest) {
                self.assemble(manifest);
            }
            return Ok(());
        }
        let still_to_come: u64 = missing.iter().map(|&i| manifest.chunk_len(i) as u64).sum();
        let needed = still_to_come + manifest.size + self.disk_reserve;
        let free = free_space(&self.state_dir).unwrap_or(u64::MAX);
        if free < needed {
            let reason = format!(
                "bulletin {}: not fetched, the disk is too full: {} needs {} MB free in {} \
                 (its chunks, the assembled file and the {} MB kept for the as-run log), {} MB \
                 are; fetched once space is freed",
                manifest.id,
                megabytes(manifest.size),
                megabytes(needed),
                self.state_dir.display(),
                megabytes(self.disk_reserve),
                megabytes(free),
            );
            // Looked at again at the next chunk or housekeeping: statvfs is cheap.
            self.hold_back(store, manifest, reason, Duration::ZERO);
            return Ok(());
        }
        self.held_back.remove(&manifest.sha256);
        let wanted: Vec<String> = missing
            .into_iter()
            .map(|index| topic::chunk(&manifest.sha256, index))
            .filter(|t| !self.fetching.contains(t) && !self.refused.contains(t))
            .take(CHUNK_WINDOW.saturating_sub(self.fetching.len()))
            .collect();
        for chunk_topic in wanted {
            if self.link.subscribe_in_session(&chunk_topic).await.is_ok() {
                self.fetching.insert(chunk_topic);
            }
        }
        Ok(())
    }

    /// Hands the assembly of a bulletin whose chunks are all on disk to a worker, unless one
    /// is at it already. A full queue leaves it for the next look (housekeeping, next chunk).
    fn assemble(&mut self, manifest: &Manifest) {
        if self.assembling.contains(&manifest.sha256) {
            return;
        }
        let assembly = self.bulletins.assembly(manifest);
        let crashed = assembly.crashed();
        match self
            .workers
            .submit(&self.checked_reply, crashed, move || assembly.run())
        {
            Ok(()) => {
                self.assembling.insert(manifest.sha256.clone());
            }
            Err(e) => {
                tracing::warn!(bulletin = %manifest.id, error = %e, "bulletin not assembled yet")
            }
        }
    }

    /// A worker put a bulletin together: whole and checked, it is measured, shown in the
    /// status, and the district gets its receipt; otherwise the district is told why not.
    /// Whether the status changed.
    async fn assembled(&mut self, store: &mut Store, checked: Checked) -> Result<bool, StoreError> {
        let manifest = &checked.manifest;
        self.assembling.remove(&manifest.sha256);
        self.bulletins.assembled(manifest);
        let topic = topic::bulletin(&manifest.scope, &manifest.id);
        let body = match checked.outcome {
            Ok(measured) => {
                tracing::info!(bulletin = %manifest.id, path = %measured.path.display(), "bulletin complete, hash checked");
                // Measured once, at ingest; playback looks it up.
                crate::levels::keep(store, &measured);
                self.publish_status(store).await?;
                EventBody::Received {
                    topic,
                    what: format!("bulletin {} complete", manifest.id),
                }
            }
            // The box's own disk failed it (full, read-only): nothing wrong with the bulletin.
            Err(e @ BulletinError::Io { .. }) => {
                let full = matches!(&e, BulletinError::Io { error, .. } if error.kind() == std::io::ErrorKind::StorageFull);
                self.hold_back(
                    store,
                    manifest,
                    format!("bulletin {}: {e}", manifest.id),
                    if full { Duration::ZERO } else { HOLD_BACK },
                );
                return Ok(false);
            }
            Err(e @ BulletinError::WrongLength { .. }) => {
                tracing::warn!(bulletin = %manifest.id, reason = %e, "bulletin refused");
                // Its chunks are gone; the broker would only hand back the same ones.
                self.refused
                    .extend((0..manifest.chunks.len()).map(|i| topic::chunk(&manifest.sha256, i)));
                EventBody::Rejected {
                    topic,
                    reason: e.to_string(),
                }
            }
            Err(e) => {
                tracing::warn!(bulletin = %manifest.id, reason = %e, "bulletin not assembled");
                EventBody::Rejected {
                    topic,
                    reason: e.to_string(),
                }
            }
        };
        self.report(store, body);
        Ok(true)
    }

    /// Stops fetching `manifest` for `pause` at least, telling the district why the first time
    /// (a disk that stays full is reported once, not at every look).
    fn hold_back(
        &mut self,
        store: &mut Store,
        manifest: &Manifest,
        reason: String,
        pause: Duration,
    ) {
        let first = !self.held_back.contains_key(&manifest.sha256);
        self.held_back
            .insert(manifest.sha256.clone(), Instant::now() + pause);
        if first {
            tracing::warn!(bulletin = %manifest.id, reason = %reason, "bulletin held back");
            self.report(
                store,
                EventBody::Rejected {
                    topic: topic::bulletin(&manifest.scope, &manifest.id),
                    reason,
                },
            );
        }
    }

    /// Asks again for the chunks being fetched. A SUBSCRIBE lost with a dropped connection
    /// (rumqttc does not re-send those) would otherwise leave a transfer waiting for ever.
    async fn refetch(&mut self) {
        tracing::warn!(
            chunks = self.fetching.len(),
            "no chunk arrived for a while; asking again"
        );
        self.last_chunk = Instant::now();
        for chunk_topic in &self.fetching {
            let _ = self.link.subscribe_in_session(chunk_topic).await;
        }
    }

    /// Keeps a chunk if it matches its manifest; completes the file when it was the last.
    async fn chunk(&mut self, store: &mut Store, message: &Incoming) -> Result<(), StoreError> {
        let Some((sha, index)) = topic::parse_chunk(&message.topic) else {
            return Ok(());
        };
        // Unsubscribed even if not asked for by this process: it may be left over in the
        // session from before a restart.
        self.fetching.remove(&message.topic);
        self.last_chunk = Instant::now();
        let _ = self.link.unsubscribe(&message.topic).await;
        let manifests = self.manifests(store)?;
        let Some(manifest) = manifests.iter().find(|m| m.sha256 == sha) else {
            return Ok(()); // a chunk of a bulletin this box no longer needs
        };
        let body = match self.bulletins.accept(manifest, index, &message.payload) {
            Ok(Progress::Partial { .. } | Progress::AlreadyComplete) => None,
            Ok(Progress::AllChunks) => {
                self.assemble(manifest);
                None
            }
            // The box's own disk failed it (full, read-only): nothing wrong with the chunk.
            Err(e @ BulletinError::Io { .. }) => {
                // A full disk is looked at again at every housekeeping, like a bulletin the
                // space check held back; another failure waits a while before the next try.
                let full = matches!(&e, BulletinError::Io { error, .. } if error.kind() == std::io::ErrorKind::StorageFull);
                self.hold_back(
                    store,
                    manifest,
                    format!("bulletin {}: {e}", manifest.id),
                    if full { Duration::ZERO } else { HOLD_BACK },
                );
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "chunk refused");
                self.refused.insert(message.topic.clone());
                Some(EventBody::Rejected {
                    topic: message.topic.clone(),
                    reason: e.to_string(),
                })
            }
        };
        if let Some(body) = body {
            self.report(store, body);
        }
        self.fetch(store, manifest).await?;
        // Near the end of one bulletin the window has room: the next waiting one starts.
        if self.fetching.len() < CHUNK_WINDOW {
            self.fetch_pending(store).await?;
        }
        Ok(())
    }

    /// The manifests the box holds: the cached ones, read from the store when there are none.
    fn manifests(&mut self, store: &Store) -> Result<Arc<[Manifest]>, StoreError> {
        if self.manifests.is_none() {
            self.manifests = Some(stored_manifests(store)?.into());
        }
        Ok(self.manifests.clone().unwrap_or_default())
    }

    /// Queues an as-run entry for the district.
    pub fn report_as_run(&mut self, store: &mut Store, entry: &AsRunEntry) {
        self.report(
            store,
            EventBody::AsRun {
                program: entry.program_id.clone(),
                scheduled: entry.scheduled,
                started: entry.started,
                ended: entry.ended,
                outcome: entry.outcome.to_string(),
                detail: entry.detail.clone(),
            },
        )
    }

    /// Stores an event in the outbox; its outbox sequence number is its `seq`.
    /// A full disk may refuse it: then it waits in memory, in order, for the next flush.
    fn report(&mut self, store: &mut Store, body: EventBody) {
        self.unqueued.push(body);
        self.queue_unqueued(store);
    }

    /// Moves events the outbox refused into it, oldest first, until it refuses again.
    fn queue_unqueued(&mut self, store: &mut Store) {
        while let Some(body) = self.unqueued.first() {
            if let Err(e) = self.enqueue(store, body.clone()) {
                tracing::warn!(error = %e, waiting = self.unqueued.len(), "event not queued yet");
                return;
            }
            self.unqueued.remove(0);
        }
    }

    fn enqueue(&self, store: &mut Store, body: EventBody) -> Result<(), StoreError> {
        let topic = topic::events(&self.inbox.box_id);
        // The event carries the outbox row number it is about to get (the daemon is the store's
        // only writer), so the district can spot gaps and duplicates.
        let seq = store.next_outbox_seq()?;
        let event = Event {
            v: VERSION,
            box_id: self.inbox.box_id.clone(),
            seq,
            at: Utc::now(),
            body,
        };
        store.enqueue(&topic, &serde_json::to_vec(&event).unwrap_or_default())?;
        Ok(())
    }

    /// Deletes the outbox row whose echo came back (see the module notes).
    fn confirm(&mut self, store: &mut Store, payload: &[u8]) -> Result<(), StoreError> {
        match serde_json::from_slice::<Event>(payload) {
            Ok(event) if event.box_id == self.inbox.box_id => {
                self.in_flight.remove(&event.seq);
                if store.delivered(event.seq, payload)? {
                    tracing::debug!(seq = event.seq, "event delivered");
                }
            }
            _ => {
                tracing::warn!(topic = %self.events_topic, "unexpected message on this box's events topic")
            }
        }
        Ok(())
    }

    /// Publishes queued events while the link is up: those never sent on this connection and
    /// those unconfirmed for [`RESEND_AFTER`]. Rows stay until their echo arrives.
    pub async fn flush(&mut self, store: &mut Store) -> Result<(), StoreError> {
        self.queue_unqueued(store);
        if !self.connected {
            return Ok(());
        }
        for (seq, topic, payload) in store.outbox(FLUSH_BATCH)? {
            if self
                .in_flight
                .get(&seq)
                .is_some_and(|sent| sent.elapsed() < RESEND_AFTER)
            {
                continue;
            }
            match self.link.publish(&topic, payload.clone(), false).await {
                Ok(()) => {
                    self.in_flight.insert(seq, Instant::now());
                }
                Err(e @ LinkError::TooLarge { .. }) => {
                    // It can never go; keeping it would block the queue for good.
                    tracing::error!(seq, error = %e, "event dropped from the outbox");
                    store.delivered(seq, &payload)?;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "outbox flush stopped");
                    break;
                }
            }
        }
        Ok(())
    }

    /// Tells the district what is on air now (None: nothing).
    pub async fn on_air(&mut self, store: &Store, title: Option<String>) -> Result<(), StoreError> {
        self.now_playing = title;
        self.publish_status(store).await
    }

    async fn publish_status(&mut self, store: &Store) -> Result<(), StoreError> {
        if !self.connected {
            return Ok(());
        }
        let revisions = store
            .remote_schedules()?
            .into_iter()
            .map(|(scope, revision, _)| (scope, revision))
            .collect();
        let transfers = self
            .manifests(store)?
            .iter()
            .filter_map(|manifest| {
                let missing = self.bulletins.missing(manifest).len();
                (missing > 0).then(|| Transfer {
                    chunks_held: manifest.chunks.len() - missing,
                    chunks: manifest.chunks.len(),
                    bulletin: manifest.id.clone(),
                })
            })
            .collect();
        let last_aired = store.last_aired()?.map(|entry| LastAired {
            started: entry.started.unwrap_or(entry.scheduled),
            program: entry.program_id,
            title: entry.title,
        });
        let status = Status {
            revisions,
            last_aired,
            disk_free: free_space(&self.state_dir),
            now_playing: self.now_playing.clone(),
            transfers,
            ..Status::new(&self.inbox.box_id, "online")
        };
        self.last_status = Instant::now();
        if let Err(e) = self
            .link
            .publish(
                &topic::status(&self.inbox.box_id),
                status_bytes(status),
                true,
            )
            .await
        {
            tracing::warn!(error = %e, "status not published");
        }
        Ok(())
    }

    pub async fn shutdown(self) {
        self.link.shutdown().await;
    }
}

fn status_bytes(status: Status) -> Vec<u8> {
    serde_json::to_vec(&status).unwrap_or_default()
}

/// Whole megabytes (MiB), for messages.
fn megabytes(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}
