//! The box's side of the district link, as the daemon sees it: one connection, the inbox that
//! judges what arrives, and the outbox that reports back.
//!
//! Everything the box tells the district (receipts, rejections, as-run entries) goes through the
//! store's outbox first, so an outage or a reboot loses none of it; `flush` publishes the queue
//! whenever the link is up.

use std::collections::BTreeMap;

use chrono::Utc;
use tokio::sync::mpsc::Receiver;

use super::bulletins::{Bulletins, Progress, stored_manifests};
use super::connection::{Incoming, Link, LinkConfig, LinkError, LinkEvent};
use super::inbox::{Inbox, Verdict};
use super::protocol::{Event, EventBody, Manifest, Status, VERSION, topic};
use crate::config::Config;
use crate::schedule::LoadOptions;
use crate::store::{AsRunEntry, Store, StoreError};
use crate::trust::Keyring;

/// How many queued messages one flush sends (the rest go on the next).
const FLUSH_BATCH: usize = 64;
/// Chunks asked for at once: enough to keep a 3G link busy, few enough that a reconnect
/// re-sends little.
const CHUNK_WINDOW: usize = 8;

pub struct Remote {
    link: Link,
    events: Receiver<LinkEvent>,
    inbox: Inbox,
    bulletins: Bulletins,
    /// Chunk topics subscribed to right now.
    fetching: std::collections::BTreeSet<String>,
    connected: bool,
}

/// What the daemon must do after a link event.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Handled {
    pub schedules_changed: bool,
}

impl Remote {
    /// Connects (in the background) to the broker in the config; None when the box has no link.
    pub fn start(config: &Config) -> Result<Option<Remote>, LinkError> {
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
            status_bytes(&config.box_id, "offline", BTreeMap::new()),
        ));
        let subscriptions = scopes
            .iter()
            .flat_map(|s| [topic::schedule(s), topic::bulletins(s)])
            .collect();
        let (link, events) = Link::start(link_config, subscriptions)?;
        let inbox = Inbox {
            box_id: config.box_id.clone(),
            scopes,
            keyring: Keyring::new(settings.trusted_keys.clone()),
            load_options: LoadOptions {
                default_timezone: config.timezone,
                media_dir: config.media_dir.clone(),
                check_audio: false,
            },
        };
        tracing::info!(broker = %settings.url, scopes = ?inbox.scopes.iter().map(ToString::to_string).collect::<Vec<_>>(), "district link starting");
        Ok(Some(Remote {
            link,
            events,
            inbox,
            bulletins: Bulletins::new(&config.state_dir),
            fetching: Default::default(),
            connected: false,
        }))
    }

    /// The next event from the connection (pending forever once the connection task is gone).
    pub async fn next_event(&mut self) -> LinkEvent {
        match self.events.recv().await {
            Some(event) => event,
            None => std::future::pending().await,
        }
    }

    /// Acts on one event: stores what is accepted, acknowledges it, reports, publishes status.
    pub async fn handle(
        &mut self,
        event: LinkEvent,
        store: &mut Store,
    ) -> Result<Handled, StoreError> {
        let mut handled = Handled::default();
        match event {
            LinkEvent::Connected { .. } => {
                self.connected = true;
                self.publish_status(store).await?;
                for manifest in stored_manifests(store)? {
                    self.fetch(&manifest).await;
                }
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
                        tracing::info!(bulletin = %manifest.id, chunks = manifest.chunks.len(), bytes = manifest.size, "bulletin announced; fetching");
                        self.fetch(manifest).await;
                        Some(EventBody::Received {
                            topic: message.topic.clone(),
                            what: format!("bulletin {} manifest", manifest.id),
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
                    self.report(store, body)?;
                }
                // Acknowledged only now that the verdict is stored; a stale ack means the broker
                // re-delivers it, and the inbox sees the same revision again.
                if let Err(e) = self.link.ack(&message).await {
                    tracing::debug!(error = %e, "ack not sent; the broker will re-deliver");
                }
                if handled.schedules_changed {
                    self.publish_status(store).await?;
                }
            }
        }
        self.flush(store).await?;
        Ok(handled)
    }

    /// Asks for the next missing chunks of `manifest`, up to the window.
    async fn fetch(&mut self, manifest: &Manifest) {
        let wanted: Vec<String> = self
            .bulletins
            .missing(manifest)
            .into_iter()
            .map(|index| topic::chunk(&manifest.sha256, index))
            .filter(|t| !self.fetching.contains(t))
            .take(CHUNK_WINDOW.saturating_sub(self.fetching.len()))
            .collect();
        for chunk_topic in wanted {
            if self.link.subscribe(&chunk_topic).await.is_ok() {
                self.fetching.insert(chunk_topic);
            }
        }
    }

    /// Keeps a chunk if it matches its manifest; completes the file when it was the last.
    async fn chunk(&mut self, store: &mut Store, message: &Incoming) -> Result<(), StoreError> {
        let Some((sha, index)) = topic::parse_chunk(&message.topic) else {
            return Ok(());
        };
        if self.fetching.remove(&message.topic) {
            let _ = self.link.unsubscribe(&message.topic).await;
        }
        let Some(manifest) = stored_manifests(store)?
            .into_iter()
            .find(|m| m.sha256 == sha)
        else {
            return Ok(()); // a chunk of a bulletin this box no longer needs
        };
        let body = match self.bulletins.accept(&manifest, index, &message.payload) {
            Ok(Progress::Partial { .. }) => None,
            Ok(Progress::Complete(path)) => {
                tracing::info!(bulletin = %manifest.id, path = %path.display(), "bulletin complete, hash checked");
                Some(EventBody::Received {
                    topic: message.topic.clone(),
                    what: format!("bulletin {} complete", manifest.id),
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, "chunk refused");
                Some(EventBody::Rejected {
                    topic: message.topic.clone(),
                    reason: e.to_string(),
                })
            }
        };
        if let Some(body) = body {
            self.report(store, body)?;
        }
        self.fetch(&manifest).await;
        Ok(())
    }

    /// Queues an as-run entry for the district.
    pub fn report_as_run(&self, store: &mut Store, entry: &AsRunEntry) -> Result<(), StoreError> {
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
    fn report(&self, store: &mut Store, body: EventBody) -> Result<(), StoreError> {
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

    /// Publishes queued messages while the link is up. Each is removed once handed to the
    /// connection (see the note on `Link::publish`: queued in a persistent session, not yet
    /// confirmed by the broker).
    pub async fn flush(&mut self, store: &mut Store) -> Result<(), StoreError> {
        if !self.connected {
            return Ok(());
        }
        for (seq, topic, payload) in store.outbox(FLUSH_BATCH)? {
            match self.link.publish(&topic, payload, false).await {
                Ok(()) => store.sent(seq)?,
                Err(LinkError::TooLarge { .. }) => store.sent(seq)?, // can never go; don't block the queue
                Err(e) => {
                    tracing::warn!(error = %e, "outbox flush stopped");
                    break;
                }
            }
        }
        Ok(())
    }

    async fn publish_status(&mut self, store: &Store) -> Result<(), StoreError> {
        let revisions = store
            .remote_schedules()?
            .into_iter()
            .map(|(scope, revision, _)| (scope, revision))
            .collect();
        let payload = status_bytes(&self.inbox.box_id, "online", revisions);
        if let Err(e) = self
            .link
            .publish(&topic::status(&self.inbox.box_id), payload, true)
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

fn status_bytes(box_id: &str, state: &str, revisions: BTreeMap<String, u64>) -> Vec<u8> {
    let status = Status {
        v: VERSION,
        box_id: box_id.to_owned(),
        state: state.to_owned(),
        at: Some(Utc::now()),
        version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        revisions,
        disk_free: None,
        now_playing: None,
    };
    serde_json::to_vec(&status).unwrap_or_default()
}
