//! Signing and publishing to a scope: schedules, bulletins (audio in chunks), commands.
//!
//! Publishing reads the scope's current (retained) schedule first, so the new one gets the next
//! revision, and waits until the broker hands the new one back, so "published" means the broker
//! holds it for every box in the scope, including boxes that are offline right now.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Utc;

use loaxa_core::protocol::hex_sha256;
use loaxa_core::protocol::{
    Document, Envelope, Event, EventBody, MAX_CHUNK, Manifest, RemoteAction, ScheduleDoc, Scope,
    Status, topic,
};
use loaxa_core::trust::SecretKey;
use loaxa_link::{Link, LinkConfig, LinkError, LinkEvent};

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
    #[error(
        "no box in {scope} reports holding bulletin {bulletin} ({online} online there): it would air nothing; publish it first, or send with --force"
    )]
    NotHeld {
        bulletin: String,
        scope: String,
        online: usize,
    },
    #[error("{0}")]
    Audio(String),
    #[error("{0}")]
    Invalid(String),
    #[error("signing failed: {0}")]
    Sign(#[from] loaxa_core::trust::TrustError),
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

/// How a command is sent: who signs it, how long it stays good, how long to hear the answers.
pub struct CommandSpec<'a> {
    pub scope: &'a Scope,
    pub action: RemoteAction,
    pub approver: &'a str,
    pub valid_for: Duration,
    /// How long to wait for the boxes' answers once the broker has routed the command.
    pub answer_wait: Duration,
    /// Send a `play-now` even if no box in the scope reports holding the bulletin.
    pub force: bool,
}

/// What the boxes of the scope said to a command.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Answers {
    /// Online boxes in the scope, from their retained statuses.
    pub online: BTreeSet<String>,
    /// Boxes in the scope whose last status says offline: a command is not retained, so they
    /// will not hear it.
    pub offline: BTreeSet<String>,
    /// Boxes that carried it out, and what they said.
    pub acted: BTreeMap<String, String>,
    /// Boxes that refused it, and why.
    pub refused: BTreeMap<String, String>,
}

impl Answers {
    /// Online boxes of the scope that have not answered.
    pub fn silent(&self) -> Vec<&str> {
        self.online
            .iter()
            .filter(|b| !self.acted.contains_key(*b) && !self.refused.contains_key(*b))
            .map(String::as_str)
            .collect()
    }
}

/// Signs the command for `spec.scope`, valid for `spec.valid_for`, and publishes it (not
/// retained); then listens for the boxes' answers until every online box of the scope has
/// answered or `spec.answer_wait` has passed. A `play-now` for a bulletin no online box of the
/// scope reports holding is refused before anything is sent, unless `spec.force`.
pub async fn send_command(
    broker: &Broker,
    key: &SecretKey,
    spec: CommandSpec<'_>,
) -> Result<Answers, PublishError> {
    let issued_at = Utc::now();
    let document = Document::Command(loaxa_core::protocol::CommandDoc {
        scope: spec.scope.clone(),
        issued_at,
        valid_until: issued_at + chrono::Duration::from_std(spec.valid_for).unwrap_or_default(),
        approver: spec.approver.to_owned(),
        action: spec.action.clone(),
    });
    Document::parse(&serde_json::to_string(&document).unwrap_or_default())
        .map_err(|e| PublishError::Invalid(e.to_string()))?;
    let envelope = Envelope::seal(&document, key)?;
    let command_topic = topic::command(spec.scope);
    let mut config = broker.link_config(format!("loaxa-district-{}", std::process::id()));
    config.persistent_session = false;
    let filters = vec![
        command_topic.clone(),
        topic::status("+"),
        topic::events("+"),
    ];
    let (link, mut events) = Link::start(config, filters)?;
    if let Err(e) = wait_connected(&mut events, &broker.url).await {
        link.shutdown().await;
        return Err(e);
    }
    let mut heard = Heard {
        scope: spec.scope,
        topic: &command_topic,
        issued_at,
        answers: Answers::default(),
        holding: BTreeSet::new(),
    };
    let result = async {
        if let (RemoteAction::PlayNow { bulletin, .. }, false) = (&spec.action, spec.force) {
            // The retained statuses arrive at once; the wait ends with the first box holding it.
            let deadline = tokio::time::Instant::now() + RETAINED_WAIT;
            while !heard.holding.contains(bulletin) {
                match tokio::time::timeout_at(deadline, events.recv()).await {
                    Ok(Some(LinkEvent::Message(message))) => {
                        let _ = link.ack(&message);
                        heard.absorb(&message.topic, &message.payload);
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => {
                        return Err(PublishError::NotHeld {
                            bulletin: bulletin.clone(),
                            scope: spec.scope.to_string(),
                            online: heard.answers.online.len(),
                        });
                    }
                }
            }
        }
        let payload = envelope.to_bytes();
        link.publish(&command_topic, payload.clone(), false).await?;
        let confirm_by = tokio::time::Instant::now() + CONFIRM_WAIT;
        let mut answer_by = None;
        loop {
            let deadline = answer_by.unwrap_or(confirm_by);
            if answer_by.is_some() && heard.answers.silent().is_empty() {
                break;
            }
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(LinkEvent::Message(message))) => {
                    let _ = link.ack(&message);
                    if message.topic == command_topic {
                        // Our own command back from the broker: it has routed it.
                        if message.payload == payload && answer_by.is_none() {
                            answer_by = Some(tokio::time::Instant::now() + spec.answer_wait);
                        }
                    } else {
                        heard.absorb(&message.topic, &message.payload);
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) if answer_by.is_none() => {
                    return Err(PublishError::NotConfirmed(CONFIRM_WAIT));
                }
                Ok(None) | Err(_) => break,
            }
        }
        Ok(())
    }
    .await;
    link.shutdown().await;
    result.map(|()| heard.answers)
}

/// What a command's sender hears: the scope's boxes from their statuses, and their answers.
struct Heard<'a> {
    scope: &'a Scope,
    topic: &'a str,
    issued_at: chrono::DateTime<Utc>,
    answers: Answers,
    /// Bulletins some online box of the scope holds whole.
    holding: BTreeSet<String>,
}

impl Heard<'_> {
    fn absorb(&mut self, topic: &str, payload: &[u8]) {
        if let Ok(status) = serde_json::from_slice::<Status>(payload) {
            if topic != topic::status(&status.box_id) || !self.covers(&status) {
                return;
            }
            let id = status.box_id.clone();
            if status.state == "online" {
                self.answers.offline.remove(&id);
                self.answers.online.insert(id);
                self.holding.extend(status.bulletins);
            } else {
                self.answers.online.remove(&id);
                self.answers.offline.insert(id);
            }
        } else if let Ok(event) = serde_json::from_slice::<Event>(payload)
            && topic == topic::events(&event.box_id)
        {
            // An answer names our command by its issued_at; a refusal at the box's door (a
            // clock that finds it expired) cannot, so one on our topic counts too.
            match event.body {
                EventBody::Received {
                    topic,
                    what,
                    command: Some(issued_at),
                } if topic == self.topic && issued_at == self.issued_at => {
                    self.answers.acted.insert(event.box_id, what);
                }
                EventBody::Rejected {
                    topic,
                    reason,
                    command,
                } if topic == self.topic && command.is_none_or(|c| c == self.issued_at) => {
                    self.answers.acted.remove(&event.box_id);
                    self.answers.refused.insert(event.box_id, reason);
                }
                _ => {}
            }
        }
    }

    /// Whether the box of `status` listens to the command's scope. A box too old to list its
    /// scopes is counted only for `all` and its own `box/ID`.
    fn covers(&self, status: &Status) -> bool {
        let scope = self.scope.to_string();
        status.scopes.contains(&scope)
            || matches!(self.scope, Scope::All)
            || *self.scope == Scope::Box(status.box_id.clone())
    }
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
        loaxa_media::decode::probe(spec.file).map_err(|e| PublishError::Audio(e.to_string()))?;
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
        loudness_lufs: loaxa_media::loudness::measure_file(spec.file)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn status(box_id: &str, state: &str, scopes: &[&str], bulletins: &[&str]) -> Vec<u8> {
        serde_json::to_vec(&Status {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            bulletins: bulletins.iter().map(|s| s.to_string()).collect(),
            ..Status::new(box_id, state)
        })
        .unwrap()
    }

    fn event(box_id: &str, body: EventBody) -> Vec<u8> {
        serde_json::to_vec(&Event {
            v: loaxa_core::protocol::VERSION,
            box_id: box_id.into(),
            seq: 1,
            at: Utc::now(),
            body,
        })
        .unwrap()
    }

    #[test]
    fn the_boxes_of_the_scope_and_their_answers_to_this_command_are_told_apart() {
        let scope: Scope = "commune/phu-dong".parse().unwrap();
        let issued_at: chrono::DateTime<Utc> = "2026-11-24T02:40:00Z".parse().unwrap();
        let command_topic = topic::command(&scope);
        let mut heard = Heard {
            scope: &scope,
            topic: &command_topic,
            issued_at,
            answers: Answers::default(),
            holding: BTreeSet::new(),
        };
        let here = ["all", "commune/phu-dong", "box/pd-01"];
        heard.absorb(
            "loaxa/status/pd-01",
            &status("pd-01", "online", &here, &["bao-lu"]),
        );
        heard.absorb("loaxa/status/pd-02", &status("pd-02", "online", &here, &[]));
        heard.absorb("loaxa/status/pd-03", &status("pd-03", "offline", &[], &[]));
        heard.absorb(
            "loaxa/status/hd-01",
            &status("hd-01", "online", &["all", "commune/hoai-duc"], &["tin"]),
        );
        // A status on another box's topic says nothing.
        heard.absorb("loaxa/status/pd-04", &status("pd-05", "online", &here, &[]));
        assert_eq!(heard.holding, BTreeSet::from(["bao-lu".to_owned()]));
        assert_eq!(
            heard.answers.online,
            BTreeSet::from(["pd-01".to_owned(), "pd-02".to_owned()])
        );
        assert!(heard.answers.offline.is_empty(), "pd-03 lists no scopes");
        assert_eq!(heard.answers.silent(), ["pd-01", "pd-02"]);

        let answer = |what: &str, command| EventBody::Received {
            topic: command_topic.clone(),
            what: what.into(),
            command,
        };
        // An answer to an earlier command is not ours.
        let earlier = issued_at - chrono::Duration::seconds(5);
        heard.absorb(
            "loaxa/events/pd-01",
            &event("pd-01", answer("old", Some(earlier))),
        );
        assert!(heard.answers.acted.is_empty());
        heard.absorb(
            "loaxa/events/pd-01",
            &event("pd-01", answer("on air", Some(issued_at))),
        );
        heard.absorb(
            "loaxa/events/pd-02",
            &event(
                "pd-02",
                EventBody::Rejected {
                    topic: command_topic.clone(),
                    reason: "content missing: bulletin bao-lu is not held".into(),
                    command: Some(issued_at),
                },
            ),
        );
        assert_eq!(
            heard.answers.acted,
            BTreeMap::from([("pd-01".to_owned(), "on air".to_owned())])
        );
        assert_eq!(
            heard.answers.refused,
            BTreeMap::from([(
                "pd-02".to_owned(),
                "content missing: bulletin bao-lu is not held".to_owned()
            )])
        );
        assert!(heard.answers.silent().is_empty());
    }
}
