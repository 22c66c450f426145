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

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::{Receiver, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use super::bulletins::{BulletinError, Bulletins, Checked, Progress, stored_manifests};
use super::inbox::{Inbox, Verdict};
use super::state::{Held, LinkState};
use super::transfers::Transfers;
use crate::config::Config;
use crate::store::{AsRunEntry, Store, StoreError, free_space};
use crate::workers::Workers;
use loaxa_core::backoff::Backoff;
use loaxa_core::protocol::{
    Event, EventBody, LastAired, Manifest, Origin, Status, VERSION, WindowSpan, topic,
};
use loaxa_core::refusals::RefusalLimit;
use loaxa_core::trust::Keyring;
use loaxa_link::{Incoming, Link, LinkConfig, LinkError, LinkEvent};

/// How many queued messages one flush sends (the rest go on the next).
const FLUSH_BATCH: usize = 64;
/// Chunks asked for at once: enough to keep a 3G link busy, few enough that a reconnect
/// re-sends little.
const CHUNK_WINDOW: usize = 8;
/// How long an event may go unconfirmed before it is sent again; also how long asked-for
/// chunks may take before their bulletin counts as stalled, and the housekeeping period.
pub const RESEND_AFTER: Duration = Duration::from_secs(30);
/// How long a stalled bulletin rests before it is asked for again, first and at most.
const STALLED_REST: (Duration, Duration) = (Duration::from_secs(60), Duration::from_secs(900));
/// Refusals told one by one (log line and rejection event) per minute; the rest are summed up.
const REFUSALS_TOLD: u32 = 10;
/// How long a stopping box waits for the broker to take its offline status. Short: the stop
/// must not wait on a broker, and the district needs to see it within two seconds.
const OFFLINE_STATUS_WAIT: Duration = Duration::from_secs(1);

pub struct Remote {
    link: Link,
    events: Receiver<LinkEvent>,
    inbox: Inbox,
    bulletins: Bulletins,
    state_dir: PathBuf,
    /// This box's events topic, subscribed to for the echo that confirms delivery.
    events_topic: String,
    /// Connected or not, what is in flight, which chunks to ask for, when the status is due.
    state: LinkState,
    /// Refusals past a few a minute are counted, not told one by one.
    refusals: RefusalLimit,
    /// Events the outbox refused (a full disk), oldest first: queued at the next flush.
    unqueued: Vec<EventBody>,
    /// What the disk must keep free (`disk_reserve_mb`), for messages.
    disk_reserve: u64,
    /// The manifests in the store, oldest first: read once, then kept up to date as the inbox
    /// stores new ones (it is their only writer). Every chunk needs its manifest, and reading
    /// and parsing them all from SQLite for each chunk, or each of a burst of manifests, is
    /// work thrown away.
    manifests: Option<Arc<Vec<Manifest>>>,
    now_playing: Option<String>,
    /// What every status says that does not change while the box runs: who it is, what it
    /// listens to, its windows, time zone and keys.
    profile: Status,
    /// The master volume, percent.
    volume: u8,
    /// Putting complete bulletins together (copy, hash, decode) is done on these.
    workers: Workers,
    /// Assemblies handed to the workers, by sha256, and where their results come back.
    assembling: BTreeSet<String>,
    checked_reply: UnboundedSender<Checked>,
    checked: UnboundedReceiver<Checked>,
}

/// What wakes the link side of the daemon.
#[derive(Debug)]
pub enum RemoteEvent {
    Link(LinkEvent),
    /// Time to re-send unconfirmed events, look at stalled transfers, refresh the status.
    Housekeeping,
    /// Time to publish a status change held back by [`super::state::STATUS_GAP`].
    StatusDue,
    /// A worker is done putting a bulletin together.
    Assembled(Box<Checked>),
}

/// What the daemon must do after a link event.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Handled {
    pub schedules_changed: bool,
    /// A verified, fresh command from the district, for the daemon to carry out and answer.
    pub command: Option<loaxa_core::protocol::CommandDoc>,
    /// Something the status shows changed (it has been re-published).
    pub status_changed: bool,
}

impl Remote {
    /// Connects (in the background) to the broker in the config; None when the box has no link.
    /// `volume` is the master volume the box starts at.
    pub fn start(
        config: &Config,
        workers: &Workers,
        volume: u8,
    ) -> Result<Option<Remote>, LinkError> {
        let Some(settings) = &config.link else {
            return Ok(None);
        };
        let scopes = config.scopes();
        let profile = Status {
            scopes: scopes.iter().map(ToString::to_string).collect(),
            windows: config.windows.0.iter().map(WindowSpan::of).collect(),
            timezone: Some(config.timezone.name().to_owned()),
            trusted_keys: settings.trusted_keys.iter().map(|k| k.key_id()).collect(),
            ..Status::new(&config.box_id, "online")
        };
        let mut link_config =
            LinkConfig::new(settings.url.clone(), format!("loaxa-box-{}", config.box_id));
        link_config.username = settings.username.clone();
        link_config.password = settings.password.clone();
        link_config.ca_file = settings.ca_file.clone();
        link_config.keep_alive = settings.keep_alive;
        // Composed now, so it says only what cannot change before it is needed; it keeps the
        // scopes, so the district still counts a vanished box among its scope's.
        link_config.last_will = Some((
            topic::status(&config.box_id),
            status_bytes(Status {
                state: "offline".into(),
                ..profile.clone()
            }),
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
            load_options: config.district_schedule_options(None),
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
            state: LinkState::new(
                Transfers::new(
                    CHUNK_WINDOW,
                    RESEND_AFTER,
                    Backoff {
                        initial: STALLED_REST.0,
                        max: STALLED_REST.1,
                        jitter: 0.2,
                        stable_after: Duration::ZERO,
                    },
                ),
                config.disk_reserve,
                RESEND_AFTER,
                Instant::now(),
            ),
            refusals: RefusalLimit::new(REFUSALS_TOLD, Duration::from_secs(60)),
            unqueued: Vec::new(),
            disk_reserve: config.disk_reserve,
            manifests: None,
            now_playing: None,
            profile,
            volume,
            workers: workers.clone(),
            assembling: BTreeSet::new(),
            checked_reply,
            checked,
        }))
    }

    pub fn is_connected(&self) -> bool {
        self.state.is_connected()
    }

    /// The next event from the connection, or the housekeeping timer.
    pub async fn next_event(&mut self) -> RemoteEvent {
        let status_due = self.state.status_due();
        let housekeeping = self.state.housekeeping_at();
        tokio::select! {
            event = self.events.recv() => match event {
                Some(event) => RemoteEvent::Link(event),
                // The connection task is gone (shut down): only the timers are left.
                None => std::future::pending().await,
            },
            () = tokio::time::sleep_until(housekeeping) => RemoteEvent::Housekeeping,
            () = async { tokio::time::sleep_until(status_due.unwrap_or_else(Instant::now)).await },
                if status_due.is_some() => RemoteEvent::StatusDue,
            Some(checked) = self.checked.recv() => RemoteEvent::Assembled(Box::new(checked)),
        }
    }

    /// When the schedules next air each bulletin, by id (after every reload).
    pub fn set_needed(&mut self, needed: BTreeMap<String, DateTime<Utc>>) {
        self.state.set_needed(needed);
    }

    /// Acts on one event: stores what is accepted, acknowledges it, reports, publishes status.
    /// Never waits for the link (see `connection`): what cannot be sent now stays queued.
    pub async fn handle(
        &mut self,
        event: RemoteEvent,
        store: &mut Store,
    ) -> Result<Handled, StoreError> {
        let mut handled = Handled::default();
        let event = match event {
            RemoteEvent::Link(event) => event,
            RemoteEvent::StatusDue => {
                self.state.status_taken();
                self.publish_status(store)?;
                return Ok(handled);
            }
            RemoteEvent::Assembled(checked) => {
                handled.status_changed = self.assembled(store, *checked)?;
                self.flush(store)?;
                return Ok(handled);
            }
            RemoteEvent::Housekeeping => {
                if self.state.housekeeping(Instant::now()) {
                    self.status_changed(store)?;
                }
                if self.state.is_connected() {
                    // Stalled transfers, and space freed for a held-back bulletin.
                    self.plan_transfers(store)?;
                }
                self.flush(store)?;
                return Ok(handled);
            }
        };
        match event {
            LinkEvent::Connected { session_present } => {
                self.state.connected(session_present);
                self.status_changed(store)?;
                self.plan_transfers(store)?;
            }
            LinkEvent::Message(message) if message.topic == self.events_topic => {
                self.confirm(store, &message)?;
                let _ = self.link.ack(&message);
            }
            LinkEvent::Message(message) if topic::parse_chunk(&message.topic).is_some() => {
                self.chunk(store, &message)?;
                let _ = self.link.ack(&message);
            }
            LinkEvent::Disconnected { .. } => self.state.disconnected(),
            // One per chunk asked for: nothing to do, not even a flush.
            LinkEvent::Subscribed { .. } => return Ok(handled),
            LinkEvent::Message(message) => {
                let verdict =
                    self.inbox
                        .receive(store, &message.topic, &message.payload, Utc::now())?;
                let body = match verdict {
                    Verdict::ScheduleApplied { scope, revision } => {
                        tracing::info!(scope = %scope, revision, "schedule received");
                        handled.schedules_changed = true;
                        handled.status_changed = true;
                        Some(EventBody::Received {
                            topic: message.topic.clone(),
                            what: format!("schedule revision {revision}"),
                            command: None,
                            revision: Some(revision),
                        })
                    }
                    Verdict::BulletinAnnounced(manifest) => {
                        tracing::info!(bulletin = %manifest.id, chunks = manifest.chunks.len(), bytes = manifest.size, "bulletin announced; fetching");
                        self.state.announced(&manifest);
                        // The receipt goes before what fetching may have to say (a disk too
                        // full): the district hears first that the manifest itself was taken.
                        self.report(
                            store,
                            EventBody::Received {
                                topic: message.topic.clone(),
                                what: format!("bulletin {} manifest", manifest.id),
                                command: None,
                                revision: None,
                            },
                        );
                        self.remember(store, *manifest)?;
                        self.plan_transfers(store)?;
                        handled.status_changed = true;
                        None
                    }
                    Verdict::Command(command) => {
                        tracing::info!(scope = %command.scope, action = %command.action, approver = %command.approver, "command received");
                        // Answered by the daemon once carried out (see `tell`): "received" then
                        // means it acted, and a box that cannot act says so instead.
                        handled.command = Some(command.clone());
                        None
                    }
                    Verdict::Unchanged(why) => {
                        tracing::debug!(topic = %message.topic, why = %why, "nothing new");
                        None
                    }
                    Verdict::Rejected(reason) => {
                        self.refuse(store, &message.topic, reason, None);
                        None
                    }
                    Verdict::RevisionRejected { revision, reason } => {
                        self.refuse(store, &message.topic, reason, Some(revision));
                        None
                    }
                };
                if let Some(body) = body {
                    self.report(store, body);
                }
                // Acknowledged only now that the verdict is stored; a stale ack means the broker
                // re-delivers it, and the inbox sees the same revision again.
                if let Err(e) = self.link.ack(&message) {
                    tracing::debug!(error = %e, "ack not sent; the broker will re-deliver");
                }
                if handled.status_changed {
                    self.status_changed(store)?;
                }
            }
        }
        self.flush(store)?;
        Ok(handled)
    }

    /// Logs a refusal and tells the district, a few a minute; past that they are counted and
    /// told as one summary, so a flood of junk fills neither the log nor the outbox.
    fn refuse(&mut self, store: &mut Store, topic: &str, reason: String, revision: Option<u64>) {
        if self
            .refusals
            .admit(topic, &reason, std::time::Instant::now())
        {
            tracing::warn!(topic = %topic, reason = %reason, revision, "message refused");
            self.report(
                store,
                EventBody::Rejected {
                    topic: topic.to_owned(),
                    reason,
                    command: None,
                    revision,
                },
            );
        } else {
            tracing::debug!(topic = %topic, reason = %reason, "message refused (counted)");
        }
        self.tell_untold(store);
    }

    /// The summary of refusals counted since the last one told, once a minute at most.
    fn tell_untold(&mut self, store: &mut Store) {
        let Some(untold) = self.refusals.summary(std::time::Instant::now()) else {
            return;
        };
        let reason = format!(
            "{} more messages refused in the last {} s, not reported one by one; the last: {}",
            untold.count,
            untold.over.as_secs(),
            untold.reason
        );
        tracing::warn!(count = untold.count, last_topic = %untold.topic, last_reason = %untold.reason, "messages refused");
        self.report(
            store,
            EventBody::Rejected {
                topic: untold.topic,
                reason,
                command: None,
                revision: None,
            },
        );
    }

    /// Asks for the chunks the fair share gives out now (see `transfers`), after assembling
    /// any bulletin whose chunks are all on disk and holding back those the disk has no room
    /// for.
    fn plan_transfers(&mut self, store: &mut Store) -> Result<(), StoreError> {
        self.tell_untold(store);
        let manifests = self.manifests(store)?;
        let free = free_space(&self.state_dir).unwrap_or(u64::MAX);
        let held = self.held(&manifests);
        let fetch = self.state.fetch(&held, free, Instant::now());
        for manifest in fetch.assemble {
            self.assemble(manifest);
        }
        for (manifest, needed) in fetch.too_full {
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
            self.told_held_back(store, manifest, reason);
        }
        let plan = fetch.plan;
        for (sha, rest) in &plan.resting {
            let id = manifests
                .iter()
                .find(|m| m.sha256 == *sha)
                .map_or("?", |m| m.id.as_str());
            tracing::warn!(bulletin = %id, rest_s = rest.as_secs(), "no chunk of this bulletin came; it rests and the others go first");
        }
        for chunk_topic in &plan.drop {
            let _ = self.link.unsubscribe(chunk_topic);
        }
        for chunk_topic in &plan.ask {
            if let Err(e) = self.link.subscribe_in_session(chunk_topic) {
                tracing::debug!(topic = %chunk_topic, error = %e, "chunk not asked for yet");
                self.state.not_asked(chunk_topic);
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
    fn assembled(&mut self, store: &mut Store, checked: Checked) -> Result<bool, StoreError> {
        let manifest = &checked.manifest;
        self.assembling.remove(&manifest.sha256);
        self.bulletins.assembled(manifest);
        let topic = topic::bulletin(&manifest.scope, &manifest.id);
        let body = match checked.outcome {
            Ok(measured) => {
                tracing::info!(bulletin = %manifest.id, path = %measured.path.display(), "bulletin complete, hash checked");
                // Measured once, at ingest; playback looks it up.
                crate::levels::keep(store, &measured);
                self.status_changed(store)?;
                EventBody::Received {
                    topic,
                    what: format!("bulletin {} complete", manifest.id),
                    command: None,
                    revision: None,
                }
            }
            // The box's own disk failed it (full, read-only): nothing wrong with the bulletin.
            Err(e @ BulletinError::Io { .. }) => {
                self.disk_failed(store, manifest, &e);
                return Ok(false);
            }
            Err(e @ BulletinError::WrongLength { .. }) => {
                tracing::warn!(bulletin = %manifest.id, reason = %e, "bulletin refused");
                // Its chunks are gone; the broker would only hand back the same ones.
                self.state.refuse_bulletin(manifest);
                EventBody::Rejected {
                    topic,
                    reason: e.to_string(),
                    command: None,
                    revision: None,
                }
            }
            Err(e) => {
                tracing::warn!(bulletin = %manifest.id, reason = %e, "bulletin not assembled");
                EventBody::Rejected {
                    topic,
                    reason: e.to_string(),
                    command: None,
                    revision: None,
                }
            }
        };
        self.report(store, body);
        Ok(true)
    }

    /// The box's own disk failed `manifest`'s chunk or file: it is held back (see
    /// `LinkState::disk_failed`), and the district told why the first time (a disk that stays
    /// full is reported once, not at every look).
    fn disk_failed(&mut self, store: &mut Store, manifest: &Manifest, error: &BulletinError) {
        let full = matches!(error, BulletinError::Io { error, .. } if error.kind() == std::io::ErrorKind::StorageFull);
        if self.state.disk_failed(manifest, full, Instant::now()) {
            self.told_held_back(
                store,
                manifest,
                format!("bulletin {}: {error}", manifest.id),
            );
        }
    }

    /// Tells the district why `manifest` is not fetched for now.
    fn told_held_back(&mut self, store: &mut Store, manifest: &Manifest, reason: String) {
        tracing::warn!(bulletin = %manifest.id, reason = %reason, "bulletin held back");
        self.report(
            store,
            EventBody::Rejected {
                topic: topic::bulletin(&manifest.scope, &manifest.id),
                reason,
                command: None,
                revision: None,
            },
        );
    }

    /// Keeps a chunk if it matches its manifest; completes the file when it was the last.
    fn chunk(&mut self, store: &mut Store, message: &Incoming) -> Result<(), StoreError> {
        let Some((sha, index)) = topic::parse_chunk(&message.topic) else {
            return Ok(());
        };
        // Unsubscribed even if not asked for by this process: it may be left over in the
        // session from before a restart.
        self.state.chunk_arrived(&message.topic, Instant::now());
        let _ = self.link.unsubscribe(&message.topic);
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
                self.disk_failed(store, manifest, &e);
                None
            }
            Err(e) => {
                self.state.refuse_chunk(&message.topic);
                self.refuse(store, &message.topic, format!("chunk refused: {e}"), None);
                None
            }
        };
        if let Some(body) = body {
            self.report(store, body);
        }
        self.plan_transfers(store)
    }

    /// The manifests the box holds, oldest first: the cached ones, read from the store when
    /// there are none.
    fn manifests(&mut self, store: &Store) -> Result<Arc<Vec<Manifest>>, StoreError> {
        if self.manifests.is_none() {
            self.manifests = Some(Arc::new(stored_manifests(store)?));
        }
        Ok(self.manifests.clone().unwrap_or_default())
    }

    /// A manifest the inbox just stored, replacing any of the same id, as the newest.
    fn remember(&mut self, store: &Store, manifest: Manifest) -> Result<(), StoreError> {
        // Taken out of the cache so that it is changed in place, not copied.
        let mut manifests = match self.manifests.take() {
            Some(manifests) => manifests,
            None => Arc::new(stored_manifests(store)?),
        };
        super::state::replace_manifest(Arc::make_mut(&mut manifests), manifest);
        self.manifests = Some(manifests);
        Ok(())
    }

    /// Queues an as-run entry for the district, with where its programme came from and the
    /// bulletins it names.
    pub fn report_as_run(
        &mut self,
        store: &mut Store,
        entry: &AsRunEntry,
        origin: Origin,
        bulletins: Vec<String>,
    ) {
        self.report(
            store,
            EventBody::AsRun {
                program: entry.program_id.clone(),
                scheduled: entry.scheduled,
                started: entry.started,
                ended: entry.ended,
                outcome: entry.outcome.to_string(),
                detail: entry.detail.clone(),
                title: Some(entry.title.clone()),
                bulletins,
                origin: Some(origin),
                late_ms: entry
                    .started
                    .map(|started| (started - entry.scheduled).num_milliseconds()),
            },
        )
    }

    /// Tells the district `body` (through the outbox, as every event) and sends it at once.
    pub fn tell(&mut self, store: &mut Store, body: EventBody) -> Result<(), StoreError> {
        self.report(store, body);
        self.flush(store)
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
    fn confirm(&mut self, store: &mut Store, message: &Incoming) -> Result<(), StoreError> {
        match serde_json::from_slice::<Event>(&message.payload) {
            Ok(event) if event.box_id == self.inbox.box_id => {
                self.state.confirmed(event.seq);
                if store.delivered(event.seq, &message.payload)? {
                    tracing::debug!(seq = event.seq, "event delivered");
                }
            }
            _ => {
                let reason = "not an event of this box on its own events topic".to_owned();
                if self
                    .refusals
                    .admit(&message.topic, &reason, std::time::Instant::now())
                {
                    tracing::warn!(topic = %message.topic, "unexpected message on this box's events topic");
                }
            }
        }
        Ok(())
    }

    /// Publishes queued events while the link is up: those never sent on this connection and
    /// those unconfirmed for [`RESEND_AFTER`]. Rows stay until their echo arrives. Stops, to
    /// go on at the next flush, when the link's send queue is full.
    pub fn flush(&mut self, store: &mut Store) -> Result<(), StoreError> {
        self.queue_unqueued(store);
        if !self.state.is_connected() {
            return Ok(());
        }
        for (seq, topic, payload) in store.outbox(FLUSH_BATCH)? {
            if !self.state.to_send(seq, Instant::now()) {
                continue;
            }
            match self.link.try_publish(&topic, payload.clone(), false) {
                Ok(()) => {
                    self.state.sent(seq, Instant::now());
                }
                Err(e @ LinkError::TooLarge { .. }) => {
                    // It can never go; keeping it would block the queue for good.
                    tracing::error!(seq, error = %e, "event dropped from the outbox");
                    store.delivered(seq, &payload)?;
                }
                Err(LinkError::Busy) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox flush stopped");
                    break;
                }
            }
        }
        Ok(())
    }

    /// Tells the district what is on air now (None: nothing).
    pub fn on_air(&mut self, store: &Store, title: Option<String>) -> Result<(), StoreError> {
        self.now_playing = title;
        self.status_changed(store)
    }

    /// Tells the district the master volume (percent).
    pub fn set_volume(&mut self, store: &Store, percent: u8) -> Result<(), StoreError> {
        self.volume = percent;
        self.status_changed(store)
    }

    /// Publishes the status now, or once [`super::state::STATUS_GAP`] has passed since the
    /// last one.
    fn status_changed(&mut self, store: &Store) -> Result<(), StoreError> {
        if self.state.status_changed(Instant::now()) {
            self.publish_status(store)
        } else {
            Ok(())
        }
    }

    fn publish_status(&mut self, store: &Store) -> Result<(), StoreError> {
        if !self.state.is_connected() {
            return Ok(());
        }
        let status = self.status(store, "online")?;
        let sent = self.link.try_publish(
            &topic::status(&self.inbox.box_id),
            status_bytes(status),
            true,
        );
        // Busy: sent once the queue has room again.
        self.state
            .status_published(Instant::now(), matches!(sent, Err(LinkError::Busy)));
        if let Err(e) = sent
            && !matches!(e, LinkError::Busy)
        {
            tracing::warn!(error = %e, "status not published");
        }
        Ok(())
    }

    /// Everything the status shows, as of now, with `state` "online" or "offline".
    fn status(&mut self, store: &Store, state: &str) -> Result<Status, StoreError> {
        let revisions = store
            .remote_schedules()?
            .into_iter()
            .map(|(scope, revision, _)| (scope, revision))
            .collect();
        let manifests = self.manifests(store)?;
        let shown = super::state::shown(&self.held(&manifests), Utc::now());
        let last_aired = store.last_aired()?.map(|entry| LastAired {
            started: entry.started.unwrap_or(entry.scheduled),
            program: entry.program_id,
            title: entry.title,
        });
        Ok(Status {
            state: state.to_owned(),
            at: Some(Utc::now()),
            revisions,
            bulletins: shown.airable,
            last_aired,
            disk_free: free_space(&self.state_dir),
            // A stopped box airs nothing.
            now_playing: self.now_playing.clone().filter(|_| state == "online"),
            transfers: shown.transfers,
            volume: Some(self.volume),
            ..self.profile.clone()
        })
    }

    /// The daemon deleted or restored bulletins: the manifests are read again, what is on disk
    /// is believed afresh, and the district sees the new list.
    pub fn bulletins_changed(&mut self, store: &Store) -> Result<(), StoreError> {
        self.manifests = None;
        self.bulletins = Bulletins::new(&self.state_dir);
        self.status_changed(store)
    }

    /// What of each of `manifests` is on disk.
    fn held<'a>(&mut self, manifests: &'a [Manifest]) -> Vec<Held<'a>> {
        manifests
            .iter()
            .map(|manifest| {
                let missing = self.bulletins.missing(manifest);
                let complete = missing.is_empty() && self.bulletins.is_complete(manifest);
                Held {
                    manifest,
                    missing,
                    complete,
                }
            })
            .collect()
    }

    /// Leaves the broker. A clean disconnect sends no last will, so the box first leaves its
    /// status saying "offline" (retained, as the will would): the district sees it stopped at
    /// once rather than keep it online. Not waited for beyond [`OFFLINE_STATUS_WAIT`]; if the
    /// broker does not take it by then, the link drops the connection so that the will goes.
    pub async fn shutdown(mut self, store: &Store) {
        if !self.state.is_connected() {
            return self.link.shutdown().await;
        }
        let status = match self.status(store, "offline") {
            Ok(status) => status,
            // The store cannot say what the box holds: the will's status says the rest.
            Err(e) => {
                tracing::warn!(error = %e, "offline status without the store's part");
                Status {
                    state: "offline".into(),
                    volume: Some(self.volume),
                    ..self.profile.clone()
                }
            }
        };
        let started = Instant::now();
        let topic = topic::status(&self.inbox.box_id);
        let acked = self
            .link
            .shutdown_with(&topic, status_bytes(status), OFFLINE_STATUS_WAIT)
            .await;
        let took_ms = started.elapsed().as_millis() as u64;
        if acked {
            tracing::info!(took_ms, "offline status left with the broker");
        } else {
            tracing::warn!(
                took_ms,
                "offline status not acknowledged; connection dropped so the broker sends the last will"
            );
        }
    }
}

fn status_bytes(status: Status) -> Vec<u8> {
    serde_json::to_vec(&status).unwrap_or_default()
}

/// Whole megabytes (MiB), for messages.
fn megabytes(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}
