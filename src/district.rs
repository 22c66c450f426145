//! The district office's side, in the same binary: sign and publish schedules to a scope.
//!
//! Publishing reads the scope's current (retained) schedule first, so the new one gets the next
//! revision, and waits until the broker hands the new one back, so "published" means the broker
//! holds it for every box in the scope, including boxes that are offline right now.

use std::time::Duration;

use chrono::Utc;

use crate::link::bulletins::hex_sha256;
use crate::link::connection::{Link, LinkConfig, LinkError, LinkEvent};
use crate::link::protocol::{Document, Envelope, MAX_CHUNK, Manifest, ScheduleDoc, Scope, topic};
use crate::trust::SecretKey;

/// How long to wait for the broker's retained schedule of a scope (none may exist).
const RETAINED_WAIT: Duration = Duration::from_secs(2);
const CONFIRM_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{0}")]
    Link(#[from] LinkError),
    #[error("cannot reach the broker at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the broker did not confirm the new schedule within {0:?}")]
    NotConfirmed(Duration),
    #[error(
        "revision {revision} is not newer than the scope's current revision {held}: boxes would refuse it"
    )]
    NotNewer { revision: u64, held: u64 },
    #[error("{0}")]
    Audio(String),
    #[error("{0}")]
    Invalid(String),
    #[error("signing failed: {0}")]
    Sign(#[from] crate::trust::TrustError),
}

/// Where and as whom the district connects.
pub struct Broker {
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub ca_file: Option<std::path::PathBuf>,
}

impl Broker {
    /// Connection settings for a district client with this id.
    pub fn link_config(&self, client_id: String) -> LinkConfig {
        let mut config = LinkConfig::new(self.url.clone(), client_id);
        config.username = self.username.clone();
        config.password = self.password.clone();
        config.ca_file = self.ca_file.clone();
        config
    }
}

/// Signs `schedule` (already validated) for `scope` with the next revision (or `revision`) and
/// publishes it retained. Returns the revision published.
pub async fn publish_schedule(
    broker: &Broker,
    key: &SecretKey,
    scope: &Scope,
    schedule: &str,
    approver: &str,
    revision: Option<u64>,
) -> Result<u64, PublishError> {
    let topic = topic::schedule(scope);
    let (link, mut events) = connect(broker, &topic).await?;
    let result = async {
        let held = retained_revision(&link, &mut events, RETAINED_WAIT).await;
        let revision = match (revision, held) {
            (Some(revision), Some(held)) if revision <= held => {
                return Err(PublishError::NotNewer { revision, held });
            }
            (Some(revision), _) => revision,
            (None, held) => held.map_or(1, |r| r + 1),
        };
        let document = Document::Schedule(ScheduleDoc {
            scope: scope.clone(),
            revision,
            issued_at: Utc::now(),
            approver: approver.to_owned(),
            schedule: schedule.to_owned(),
        });
        // Checks the document as a box will, so nothing is sent that boxes would refuse.
        Document::parse(&serde_json::to_string(&document).unwrap_or_default())
            .map_err(|e| PublishError::Invalid(e.to_string()))?;
        let envelope = Envelope::seal(&document, key)?;
        link.publish(&topic, envelope.to_bytes(), true).await?;
        // The broker sends it back to us (we subscribe to the topic): then it holds it.
        match retained_revision(&link, &mut events, CONFIRM_WAIT).await {
            Some(echoed) if echoed == revision => Ok(revision),
            _ => Err(PublishError::NotConfirmed(CONFIRM_WAIT)),
        }
    }
    .await;
    link.shutdown().await;
    result
}

/// Connects and subscribes to `topic`, so what we publish there comes back as confirmation.
async fn connect(
    broker: &Broker,
    topic: &str,
) -> Result<(Link, tokio::sync::mpsc::Receiver<LinkEvent>), PublishError> {
    // A one-shot command: a clean session, so no abandoned session is left per run.
    let mut config = broker.link_config(format!("loaxa-district-{}", std::process::id()));
    config.persistent_session = false;
    let (link, mut events) = Link::start(config, vec![topic.to_owned()])?;
    if let Err(e) = wait_connected(&mut events, &broker.url).await {
        link.shutdown().await;
        return Err(e);
    }
    Ok((link, events))
}

/// Signs `action` for `scope`, valid for `valid_for`, and publishes it (not retained); returns
/// once the broker has routed it.
pub async fn send_command(
    broker: &Broker,
    key: &SecretKey,
    scope: &Scope,
    action: crate::link::protocol::RemoteAction,
    approver: &str,
    valid_for: Duration,
) -> Result<(), PublishError> {
    let issued_at = Utc::now();
    let document = Document::Command(crate::link::protocol::CommandDoc {
        scope: scope.clone(),
        issued_at,
        valid_until: issued_at + chrono::Duration::from_std(valid_for).unwrap_or_default(),
        approver: approver.to_owned(),
        action,
    });
    Document::parse(&serde_json::to_string(&document).unwrap_or_default())
        .map_err(|e| PublishError::Invalid(e.to_string()))?;
    let envelope = Envelope::seal(&document, key)?;
    let topic = topic::command(scope);
    let (link, mut events) = connect(broker, &topic).await?;
    let result = publish_confirmed(&link, &mut events, &topic, envelope.to_bytes(), false).await;
    link.shutdown().await;
    result
}

/// Publishes on a topic we subscribe to and waits for the broker to send the same bytes back:
/// then it has stored (retained) or routed them, and everything we published before.
async fn publish_confirmed(
    link: &Link,
    events: &mut tokio::sync::mpsc::Receiver<LinkEvent>,
    topic: &str,
    payload: Vec<u8>,
    retain: bool,
) -> Result<(), PublishError> {
    link.publish(topic, payload.clone(), retain).await?;
    let deadline = tokio::time::Instant::now() + CONFIRM_WAIT;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        if let LinkEvent::Message(message) = event {
            let _ = link.ack(&message);
            if message.payload == payload {
                return Ok(());
            }
        }
    }
    Err(PublishError::NotConfirmed(CONFIRM_WAIT))
}

/// What to publish as a bulletin.
pub struct BulletinSpec<'a> {
    pub file: &'a std::path::Path,
    pub id: &'a str,
    pub title: &'a str,
    pub scope: &'a Scope,
    pub approver: &'a str,
    pub valid_until: Option<chrono::DateTime<Utc>>,
}

/// Probes the audio (refusing what does not decode), uploads its chunks (retained), then signs
/// and publishes the manifest. `progress(done, total)` is called after each chunk.
pub async fn publish_bulletin(
    broker: &Broker,
    key: &SecretKey,
    spec: &BulletinSpec<'_>,
    mut progress: impl FnMut(usize, usize),
) -> Result<Manifest, PublishError> {
    let info =
        crate::audio::decode::probe(spec.file).map_err(|e| PublishError::Audio(e.to_string()))?;
    let bytes = std::fs::read(spec.file)
        .map_err(|e| PublishError::Audio(format!("{}: {e}", spec.file.display())))?;
    let manifest = Manifest {
        scope: spec.scope.clone(),
        id: spec.id.to_owned(),
        issued_at: Utc::now(),
        title: spec.title.to_owned(),
        sha256: hex_sha256(&bytes),
        size: bytes.len() as u64,
        duration_ms: info.duration.as_millis() as u64,
        codec: info.codec,
        chunk_size: MAX_CHUNK,
        chunks: bytes.chunks(MAX_CHUNK).map(hex_sha256).collect(),
        valid_until: spec.valid_until,
        approver: spec.approver.to_owned(),
        loudness_lufs: crate::audio::loudness::measure_file(spec.file)
            .ok()
            .and_then(|l| l.integrated_lufs)
            .map(|l| (l * 10.0).round() / 10.0),
    };
    let document = Document::Bulletin(manifest.clone());
    // Checks the manifest as a box will, before anything is uploaded.
    Document::parse(&serde_json::to_string(&document).unwrap_or_default())
        .map_err(|e| PublishError::Invalid(e.to_string()))?;
    let envelope = Envelope::seal(&document, key)?;
    let manifest_topic = topic::bulletin(spec.scope, spec.id);
    let (link, mut events) = connect(broker, &manifest_topic).await?;
    let result = async {
        let total = manifest.chunks.len();
        for (index, chunk) in bytes.chunks(MAX_CHUNK).enumerate() {
            link.publish(&topic::chunk(&manifest.sha256, index), chunk.to_vec(), true)
                .await?;
            progress(index + 1, total);
        }
        // The broker stores one client's messages in order: when the manifest comes back, the
        // chunks before it are stored too.
        publish_confirmed(
            &link,
            &mut events,
            &manifest_topic,
            envelope.to_bytes(),
            true,
        )
        .await?;
        Ok(manifest.clone())
    }
    .await;
    link.shutdown().await;
    result
}

/// Waits for the broker to accept the connection; gives up at once if it refuses us.
pub async fn wait_connected(
    events: &mut tokio::sync::mpsc::Receiver<LinkEvent>,
    url: &str,
) -> Result<(), PublishError> {
    let deadline = tokio::time::Instant::now() + CONNECT_WAIT;
    let mut last_failure = None;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(LinkEvent::Connected { .. })) => return Ok(()),
            Ok(Some(LinkEvent::Disconnected {
                reason, refused, ..
            })) => {
                if refused {
                    return Err(unreachable(url, Some(reason)));
                }
                last_failure = Some(reason);
            }
            Ok(Some(LinkEvent::Message(_))) => {}
            _ => return Err(unreachable(url, last_failure)),
        }
    }
}

/// How long a district command waits for the broker to accept it.
pub const CONNECT_WAIT: Duration = Duration::from_secs(10);

pub fn unreachable(url: &str, reason: Option<String>) -> PublishError {
    PublishError::Unreachable {
        url: url.to_owned(),
        reason: reason.unwrap_or_else(|| {
            format!(
                "no answer within {} s (is it running?)",
                CONNECT_WAIT.as_secs()
            )
        }),
    }
}

/// The revision of the next schedule message on our subscription, if one comes within `wait`.
async fn retained_revision(
    link: &Link,
    events: &mut tokio::sync::mpsc::Receiver<LinkEvent>,
    wait: Duration,
) -> Option<u64> {
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        if let LinkEvent::Message(message) = event {
            let _ = link.ack(&message);
            // Our own schedule, as the broker holds it; its signature was ours, so parse only.
            let revision = Envelope::from_bytes(&message.payload)
                .ok()
                .and_then(|e| Document::parse(&e.signed).ok())
                .and_then(|d| match d {
                    Document::Schedule(doc) => Some(doc.revision),
                    Document::Bulletin(_) | Document::Command(_) => None,
                });
            if revision.is_some() {
                return revision;
            }
        }
    }
    None
}
