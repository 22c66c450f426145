//! Signing and publishing to a scope: schedules, bulletins (audio in chunks), commands; and what
//! the scope's boxes made of each.
//!
//! Every publication starts by reading what the broker holds: the boxes' retained statuses (which
//! scopes each listens to, which keys it trusts, its broadcast windows) and the retained document
//! the new one replaces. What no box would take is refused before anything is sent: a scope no
//! known box listens to, a key none of its boxes trusts, a schedule outside their windows. Then
//! the new document is published and confirmed (the broker hands it back: it holds it for every
//! box of the scope, offline ones too), and the boxes' answers are heard until each online box
//! of the scope has answered or the wait is over. A schedule a box refused does not stay the
//! scope's current one: the document it replaced is put back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::Receiver;
use tokio::time::Instant;

use loaxa_core::protocol::hex_sha256;
use loaxa_core::protocol::{
    CommandDoc, Document, Envelope, Event, EventBody, MAX_CHUNK, Manifest, RemoteAction,
    ScheduleDoc, Scope, Status, WindowSpan, topic,
};
use loaxa_core::schedule::{self, LoadOptions, ScheduleError, windows::Windows};
use loaxa_core::trust::SecretKey;
use loaxa_link::{Incoming, Link, LinkConfig, LinkError, LinkEvent};

/// The most a publication waits for the broker's retained messages. They end with our own
/// marker (see [`topic::office`]); this bounds a broker that does not hand it back.
const RETAINED_WAIT: Duration = Duration::from_secs(2);
/// How long to wait for the broker to hand back what we published.
const CONFIRM_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{0}")]
    Link(#[from] LinkError),
    #[error("cannot reach the broker at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the broker did not confirm the publication within {0:?}")]
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
    #[error(
        "no known box listens to {scope}; {known} (publish with --force for a new scope's first box)"
    )]
    UnknownScope { scope: String, known: String },
    #[error(
        "no box of {scope} trusts key {key}: they trust {trusted}; sign with one of those keys (or publish with --force)"
    )]
    Untrusted {
        scope: String,
        key: String,
        trusted: String,
    },
    #[error("{} problem(s) found; nothing published", .0.len())]
    Schedule(Vec<ScheduleProblem>),
    #[error("{0}")]
    Audio(String),
    #[error("{0}")]
    Invalid(String),
    #[error("signing failed: {0}")]
    Sign(#[from] loaxa_core::trust::TrustError),
}

/// A problem with a schedule, and the boxes that would refuse it for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleProblem {
    /// The boxes of the scope whose windows or time zone it breaks; empty when it was checked
    /// against windows given by the caller, or no box reports its own.
    pub boxes: Vec<String>,
    pub error: ScheduleError,
}

impl std::fmt::Display for ScheduleProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)?;
        if !self.boxes.is_empty() {
            write!(f, " (for {})", self.boxes.join(", "))?;
        }
        Ok(())
    }
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

/// What one box of the scope made of a publication or a command. (The console keeps it, as
/// JSON, with each publication.)
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "answer", content = "said", rename_all = "snake_case")]
pub enum BoxAnswer {
    /// It took it (stored the schedule or manifest, carried out the command); in its words.
    Received(String),
    /// It refused it; why, in its words.
    Rejected(String),
    /// Online, but it said nothing within the wait.
    NoAnswer,
    /// Its last status says offline: a schedule or bulletin (retained) reaches it once it is
    /// back; a command (not retained) never does.
    Offline,
}

/// Per box of the scope (by the boxes' statuses), its answer; and apart, the answers of boxes
/// that are not of the scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Feedback {
    pub per_box: BTreeMap<String, BoxAnswer>,
    /// Answers from boxes whose status does not put them in the scope (or that sent none). They
    /// are told but never decide: a box of another commune, or one whose login was stolen,
    /// must not make the district withdraw what the scope's own boxes took.
    pub outside: BTreeMap<String, BoxAnswer>,
}

impl Feedback {
    /// Boxes that took it.
    pub fn received(&self) -> usize {
        self.count(|a| matches!(a, BoxAnswer::Received(_)))
    }

    /// Boxes that refused it.
    pub fn rejected(&self) -> usize {
        self.count(|a| matches!(a, BoxAnswer::Rejected(_)))
    }

    /// Online boxes that said nothing.
    pub fn silent(&self) -> usize {
        self.count(|a| *a == BoxAnswer::NoAnswer)
    }

    /// Boxes whose last status says offline.
    pub fn offline(&self) -> usize {
        self.count(|a| *a == BoxAnswer::Offline)
    }

    /// Boxes not known to be offline: they hear it now.
    pub fn online(&self) -> usize {
        self.per_box.len() - self.offline()
    }

    fn count(&self, which: impl Fn(&BoxAnswer) -> bool) -> usize {
        self.per_box.values().filter(|a| which(a)).count()
    }
}

/// A publication a box refused, taken back: the broker holds what it held before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawal {
    /// The document it replaced is retained again, byte for byte (for a schedule, with its
    /// revision, if it could be read); boxes holding it ignore it, as the same document again.
    Restored { revision: Option<u64> },
    /// Nothing was retained before: the retained message is cleared.
    Cleared,
}

/// What publishing a schedule did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleReport {
    pub revision: u64,
    pub feedback: Feedback,
    /// Set when a box refused it and it was taken back.
    pub withdrawn: Option<Withdrawal>,
}

/// What publishing a bulletin did.
#[derive(Debug, Clone, PartialEq)]
pub struct BulletinReport {
    pub manifest: Manifest,
    pub feedback: Feedback,
    /// Set when every box that answered refused it, and it was taken back.
    pub withdrawn: Option<Withdrawal>,
}

/// What to publish as a scope's schedule, and how to check it first.
pub struct ScheduleSpec<'a> {
    pub scope: &'a Scope,
    /// The schedule's text, and the file it was read from (errors name it).
    pub schedule: &'a str,
    pub file: &'a Path,
    /// How a box loads it (media directory, audio check, author); its `windows` and
    /// `default_timezone` are replaced by each box's own, from their statuses, or by `windows`.
    pub options: &'a LoadOptions,
    /// Check against these windows instead of the boxes' (in `options.default_timezone`).
    pub windows: Option<Windows>,
    pub approver: &'a str,
    /// Use this revision instead of the next one.
    pub revision: Option<u64>,
    /// Publish even to a scope no known box listens to (a new scope's first box), or whose
    /// boxes all trust other keys.
    pub force: bool,
    /// How long to wait for the boxes' answers once the broker holds it.
    pub answer_wait: Duration,
    /// Which commune each box is in, by the office (empty: by the boxes' statuses).
    pub registry: &'a Registry,
}

/// Checks the schedule against the windows of the scope's boxes, signs it with the next
/// revision (or `spec.revision`), publishes it retained and hears the boxes' answers. A revision
/// a box refuses is withdrawn: the scope's previous schedule is put back (or the retained
/// schedule cleared if there was none).
pub async fn publish_schedule(
    broker: &Broker,
    key: &SecretKey,
    spec: &ScheduleSpec<'_>,
) -> Result<ScheduleReport, PublishError> {
    let topic = topic::schedule(spec.scope);
    let mut session = Session::open(broker, spec.scope, &topic, spec.registry).await?;
    let result = async {
        session
            .hearing
            .check_reach(&key.public_key().key_id(), spec.force)?;
        let problems = check_schedule(spec, &session.hearing);
        if !problems.is_empty() {
            return Err(PublishError::Schedule(problems));
        }
        let held = session.held_revision();
        let revision = match (spec.revision, held) {
            (Some(revision), Some(held)) if revision <= held => {
                return Err(PublishError::NotNewer { revision, held });
            }
            (Some(revision), _) => revision,
            (None, held) => held.map_or(1, |r| r + 1),
        };
        let document = Document::Schedule(ScheduleDoc {
            scope: spec.scope.clone(),
            revision,
            issued_at: Utc::now(),
            approver: spec.approver.to_owned(),
            schedule: spec.schedule.to_owned(),
        });
        let envelope = seal(&document, key)?;
        session.hearing.awaited = Some((topic.clone(), About::Revision(revision)));
        session
            .publish_confirmed(&topic, envelope.to_bytes(), true)
            .await?;
        session.hear(spec.answer_wait).await;
        let feedback = session.hearing.feedback();
        let withdrawn = if feedback.rejected() > 0 {
            Some(session.withdraw(&topic).await?)
        } else {
            None
        };
        Ok(ScheduleReport {
            revision,
            feedback,
            withdrawn,
        })
    }
    .await;
    session.close().await;
    result
}

/// Each problem of the schedule against the windows it will be judged by: `spec.windows`, or
/// each box's own, in its own time zone, since every box checks a schedule against its own
/// windows and refuses it whole for one programme outside them (and a refusal withdraws it from
/// all). A box that reports no windows is judged by the default, 05:00–22:00.
fn check_schedule(spec: &ScheduleSpec<'_>, hearing: &Hearing) -> Vec<ScheduleProblem> {
    let mut groups: BTreeMap<(Vec<WindowSpan>, Option<String>), Vec<String>> = BTreeMap::new();
    if spec.windows.is_none() {
        for status in hearing.boxes() {
            groups
                .entry((status.windows.clone(), status.timezone.clone()))
                .or_default()
                .push(status.box_id.clone());
        }
    }
    if groups.is_empty() {
        // Given windows, or no box to ask: one check, naming no box.
        groups.insert((Vec::new(), None), Vec::new());
    }
    let mut problems: Vec<ScheduleProblem> = Vec::new();
    for ((spans, timezone), boxes) in groups {
        let windows = spec
            .windows
            .clone()
            .or_else(|| WindowSpan::resolve_all(&spans))
            .unwrap_or_default();
        let options = LoadOptions {
            windows: Some(windows),
            default_timezone: timezone
                .and_then(|tz| tz.parse().ok())
                .unwrap_or(spec.options.default_timezone),
            ..spec.options.clone()
        };
        for error in schedule::parse(spec.schedule, spec.file, &options).errors {
            match problems.iter_mut().find(|p| p.error == error) {
                Some(known) => known.boxes.extend(boxes.iter().cloned()),
                None => problems.push(ScheduleProblem {
                    boxes: boxes.clone(),
                    error,
                }),
            }
        }
    }
    problems
}

/// Signs `document` after checking it as a box will, so nothing is sent that boxes would refuse.
fn seal(document: &Document, key: &SecretKey) -> Result<Envelope, PublishError> {
    Document::parse(&serde_json::to_string(document).unwrap_or_default())
        .map_err(|e| PublishError::Invalid(e.to_string()))?;
    Ok(Envelope::seal(document, key)?)
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
    /// Which commune each box is in, by the office (empty: by the boxes' statuses).
    pub registry: &'a Registry,
}

/// Signs the command for `spec.scope`, valid for `spec.valid_for`, and publishes it (not
/// retained); then hears the boxes' answers until every online box of the scope has answered
/// or `spec.answer_wait` has passed. A `play-now` for a bulletin no online box of the scope
/// reports holding is refused before anything is sent, unless `spec.force`.
pub async fn send_command(
    broker: &Broker,
    key: &SecretKey,
    spec: CommandSpec<'_>,
) -> Result<Feedback, PublishError> {
    let issued_at = Utc::now();
    let document = Document::Command(CommandDoc {
        scope: spec.scope.clone(),
        issued_at,
        valid_until: issued_at + chrono::Duration::from_std(spec.valid_for).unwrap_or_default(),
        approver: spec.approver.to_owned(),
        action: spec.action.clone(),
    });
    let envelope = seal(&document, key)?;
    let command_topic = topic::command(spec.scope);
    let mut session = Session::open(broker, spec.scope, &command_topic, spec.registry).await?;
    let result = async {
        if let (RemoteAction::PlayNow { bulletin, .. }, false) = (&spec.action, spec.force) {
            let online: Vec<&Status> = session
                .hearing
                .boxes()
                .filter(|s| s.state == "online")
                .collect();
            if !online.iter().any(|s| s.bulletins.contains(bulletin)) {
                return Err(PublishError::NotHeld {
                    bulletin: bulletin.clone(),
                    scope: spec.scope.to_string(),
                    online: online.len(),
                });
            }
        }
        session.hearing.awaited = Some((command_topic.clone(), About::Command(issued_at)));
        session
            .publish_confirmed(&command_topic, envelope.to_bytes(), false)
            .await?;
        session.hear(spec.answer_wait).await;
        Ok(session.hearing.feedback())
    }
    .await;
    session.close().await;
    result
}

/// What to publish as a bulletin.
pub struct BulletinSpec<'a> {
    pub file: &'a std::path::Path,
    pub id: &'a str,
    pub title: &'a str,
    pub scope: &'a Scope,
    pub approver: &'a str,
    pub valid_until: Option<chrono::DateTime<Utc>>,
    /// As for [`ScheduleSpec::force`].
    pub force: bool,
    /// How long to wait for the boxes' answers once the broker holds the manifest.
    pub answer_wait: Duration,
    /// Which commune each box is in, by the office (empty: by the boxes' statuses).
    pub registry: &'a Registry,
}

/// Probes the audio (refusing what does not decode), uploads its chunks (retained), then signs
/// and publishes the manifest and hears the boxes' answers. `progress(done, total)` is called
/// after each chunk. A manifest every answering box refused is withdrawn (the one it replaced
/// put back, or cleared); one that some boxes took stays for them, since a box may also refuse
/// for reasons of its own (a clock that finds it expired) what the others air.
pub async fn publish_bulletin(
    broker: &Broker,
    key: &SecretKey,
    spec: &BulletinSpec<'_>,
    mut progress: impl FnMut(usize, usize),
) -> Result<BulletinReport, PublishError> {
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
    // Checked before anything is uploaded.
    let envelope = seal(&Document::Bulletin(manifest.clone()), key)?;
    let manifest_topic = topic::bulletin(spec.scope, spec.id);
    let mut session = Session::open(broker, spec.scope, &manifest_topic, spec.registry).await?;
    let result = async {
        session
            .hearing
            .check_reach(&key.public_key().key_id(), spec.force)?;
        let total = manifest.chunks.len();
        for (index, chunk) in bytes.chunks(MAX_CHUNK).enumerate() {
            session
                .link
                .publish(&topic::chunk(&manifest.sha256, index), chunk.to_vec(), true)
                .await?;
            progress(index + 1, total);
        }
        session.hearing.awaited = Some((manifest_topic.clone(), About::Manifest));
        // The broker stores one client's messages in order: when the manifest comes back, the
        // chunks before it are stored too.
        session
            .publish_confirmed(&manifest_topic, envelope.to_bytes(), true)
            .await?;
        session.hear(spec.answer_wait).await;
        let feedback = session.hearing.feedback();
        let withdrawn = if feedback.rejected() > 0 && feedback.received() == 0 {
            Some(session.withdraw(&manifest_topic).await?)
        } else {
            None
        };
        Ok(BulletinReport {
            manifest: manifest.clone(),
            feedback,
            withdrawn,
        })
    }
    .await;
    session.close().await;
    result
}

/// Waits for the broker to accept the connection; gives up at once if it refuses us.
pub async fn wait_connected(
    events: &mut Receiver<LinkEvent>,
    url: &str,
) -> Result<(), PublishError> {
    let deadline = Instant::now() + CONNECT_WAIT;
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
            Ok(Some(LinkEvent::Message(_) | LinkEvent::Subscribed { .. })) => {}
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

/// One publication's connection: the messages it reads, and what they told.
struct Session {
    link: Link,
    events: Receiver<LinkEvent>,
    hearing: Hearing,
    /// The retained message on the publication's topic before we published: what a
    /// withdrawal puts back.
    held: Option<Vec<u8>>,
}

impl Session {
    /// Connects with a clean session (a one-shot command must leave no session behind), to
    /// `topic` (what we publish comes back there as confirmation), the boxes' statuses and
    /// events; and reads the retained messages.
    async fn open(
        broker: &Broker,
        scope: &Scope,
        topic: &str,
        registry: &Registry,
    ) -> Result<Session, PublishError> {
        let client_id = format!("loaxa-district-{}", std::process::id());
        let office = topic::office(&client_id);
        let mut config = broker.link_config(client_id);
        config.persistent_session = false;
        let filters = vec![
            topic.to_owned(),
            topic::status("+"),
            topic::events("+"),
            office.clone(),
        ];
        let (link, mut events) = Link::start(config, filters)?;
        if let Err(e) = wait_connected(&mut events, &broker.url).await {
            link.shutdown().await;
            return Err(e);
        }
        let mut session = Session {
            link,
            events,
            hearing: Hearing::new(scope.clone(), registry.clone()),
            held: None,
        };
        session.read_retained(topic, &office).await;
        Ok(session)
    }

    /// Takes in the retained messages. The broker sends a subscription's retained messages
    /// before it handles our next packet, so a message of ours sent once it has answered the
    /// subscription comes back after all of them: no fixed wait, however many boxes.
    async fn read_retained(&mut self, topic: &str, office: &str) {
        let deadline = Instant::now() + RETAINED_WAIT;
        let mut marked = false;
        loop {
            let event = match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => event,
                Ok(None) | Err(_) => {
                    tracing::warn!(
                        "the broker's retained messages did not end in time; going on with those read"
                    );
                    return;
                }
            };
            match event {
                LinkEvent::Subscribed { .. } if !marked => {
                    marked = self
                        .link
                        .publish(office, b"end of retained".to_vec(), false)
                        .await
                        .is_ok();
                }
                LinkEvent::Message(message) => {
                    let _ = self.link.ack(&message);
                    if message.topic == office {
                        return;
                    }
                    if message.topic == topic && !message.payload.is_empty() {
                        self.held = Some(message.payload.clone());
                    }
                    self.hearing.absorb(&message.topic, &message.payload);
                }
                _ => {}
            }
        }
    }

    /// The revision a new schedule must be newer than: the retained one's, or a higher one a
    /// box holds (a withdrawn revision it took before it was withdrawn).
    fn held_revision(&self) -> Option<u64> {
        let retained = self.held.as_deref().and_then(schedule_revision);
        let scope = self.hearing.scope.to_string();
        let boxes = self
            .hearing
            .boxes()
            .filter_map(|s| s.revisions.get(&scope).copied());
        retained.into_iter().chain(boxes).max()
    }

    /// The next message, once taken in and acknowledged; None once `deadline` has passed.
    async fn next(&mut self, deadline: Instant) -> Option<Incoming> {
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(LinkEvent::Message(message))) => {
                    let _ = self.link.ack(&message);
                    self.hearing.absorb(&message.topic, &message.payload);
                    return Some(message);
                }
                // Reconnections are the link's business; the deadline stands.
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Publishes on a topic we subscribe to and waits for the broker to send the same bytes
    /// back: then it has stored (retained) or routed them, and everything we published before.
    async fn publish_confirmed(
        &mut self,
        topic: &str,
        payload: Vec<u8>,
        retain: bool,
    ) -> Result<(), PublishError> {
        self.link.publish(topic, payload.clone(), retain).await?;
        let deadline = Instant::now() + CONFIRM_WAIT;
        while let Some(message) = self.next(deadline).await {
            if message.topic == topic && message.payload == payload {
                return Ok(());
            }
        }
        Err(PublishError::NotConfirmed(CONFIRM_WAIT))
    }

    /// Hears answers until every online box of the scope has answered, or for `wait`.
    async fn hear(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while !self.hearing.all_answered() {
            if self.next(deadline).await.is_none() {
                return;
            }
        }
    }

    /// Puts back on `topic` what the broker retained before we published, or clears it.
    async fn withdraw(&mut self, topic: &str) -> Result<Withdrawal, PublishError> {
        let withdrawal = match self.held.as_deref() {
            Some(bytes) => Withdrawal::Restored {
                revision: schedule_revision(bytes),
            },
            None => Withdrawal::Cleared,
        };
        let payload = self.held.clone().unwrap_or_default();
        self.publish_confirmed(topic, payload, true).await?;
        tracing::info!(topic, ?withdrawal, "publication withdrawn");
        Ok(withdrawal)
    }

    async fn close(self) {
        self.link.shutdown().await;
    }
}

/// The revision of the schedule envelope `bytes`, if they are one. Read, not verified: it is
/// ours, as the broker holds it.
fn schedule_revision(bytes: &[u8]) -> Option<u64> {
    let envelope = Envelope::from_bytes(bytes).ok()?;
    match Document::parse(&envelope.signed).ok()? {
        Document::Schedule(doc) => Some(doc.revision),
        Document::Bulletin(_) | Document::Command(_) => None,
    }
}

/// Which answers are to our publication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum About {
    /// A command, named in its answers by its `issued_at`.
    Command(DateTime<Utc>),
    /// A schedule revision.
    Revision(u64),
    /// A bulletin manifest: any answer on its topic while we listen.
    Manifest,
}

/// The office's own record of which commune each box is in (the console's registered boxes).
/// A box it names belongs to that commune whatever its status claims, and is expected there
/// even before it is ever heard; a box it does not name is taken at its word. Empty (the CLI
/// given no archive), every box is taken at its word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    communes: BTreeMap<String, String>,
}

impl Registry {
    pub fn new(boxes: impl IntoIterator<Item = (String, String)>) -> Registry {
        Registry {
            communes: boxes.into_iter().collect(),
        }
    }

    /// The commune the office registered `box_id` in.
    pub fn commune(&self, box_id: &str) -> Option<&str> {
        self.communes.get(box_id).map(String::as_str)
    }

    /// The registered boxes that `scope` reaches by the register alone. A district scope is
    /// the office's own (every box it registered); `all` too.
    fn boxes_of<'a>(&'a self, scope: &'a Scope) -> impl Iterator<Item = &'a str> + 'a {
        self.communes
            .iter()
            .filter(move |(box_id, commune)| match scope {
                Scope::All | Scope::District(_) => true,
                Scope::Commune(id) => *commune == id,
                Scope::Box(id) => *box_id == id,
            })
            .map(|(box_id, _)| box_id.as_str())
    }
}

/// What the district hears while it publishes to a scope: every box's status, and the scope's
/// boxes' answers to the publication.
struct Hearing {
    scope: Scope,
    registry: Registry,
    /// The latest status of every box heard, whatever its scopes: the known scopes are named
    /// from them.
    statuses: BTreeMap<String, Status>,
    /// The topic of our publication and what answers to it say; None until it is sent, so that
    /// nothing heard before counts.
    awaited: Option<(String, About)>,
    /// Each box's first answer (`Received` or `Rejected`).
    answers: BTreeMap<String, BoxAnswer>,
}

impl Hearing {
    fn new(scope: Scope, registry: Registry) -> Hearing {
        Hearing {
            scope,
            registry,
            statuses: BTreeMap::new(),
            awaited: None,
            answers: BTreeMap::new(),
        }
    }

    fn absorb(&mut self, topic: &str, payload: &[u8]) {
        if let Ok(status) = serde_json::from_slice::<Status>(payload) {
            if topic == topic::status(&status.box_id) {
                self.statuses.insert(status.box_id.clone(), status);
            }
            return;
        }
        let Some((awaited, about)) = &self.awaited else {
            return;
        };
        let Ok(event) = serde_json::from_slice::<Event>(payload) else {
            return;
        };
        if topic != topic::events(&event.box_id) {
            return;
        }
        let answer = match (event.body, *about) {
            (EventBody::Received { topic, .. }, _) if topic != *awaited => return,
            (EventBody::Rejected { topic, .. }, _) if topic != *awaited => return,
            // A command's answer names it by its issued_at; a refusal at the box's door (a clock
            // that finds it expired) cannot, so one on our topic counts too.
            (EventBody::Received { what, command, .. }, About::Command(issued_at))
                if command == Some(issued_at) =>
            {
                BoxAnswer::Received(what)
            }
            (
                EventBody::Rejected {
                    reason, command, ..
                },
                About::Command(issued_at),
            ) if command.is_none_or(|c| c == issued_at) => BoxAnswer::Rejected(reason),
            // A box too old to name the revision answers only about the newest it saw: ours.
            (EventBody::Received { what, revision, .. }, About::Revision(ours))
                if revision.is_none_or(|r| r == ours) =>
            {
                BoxAnswer::Received(what)
            }
            (
                EventBody::Rejected {
                    reason, revision, ..
                },
                About::Revision(ours),
            ) if revision.is_none_or(|r| r == ours) => BoxAnswer::Rejected(reason),
            (EventBody::Received { what, .. }, About::Manifest) => BoxAnswer::Received(what),
            (EventBody::Rejected { reason, .. }, About::Manifest) => BoxAnswer::Rejected(reason),
            _ => return,
        };
        // The first answer is the box's verdict on the document itself; what follows (a
        // bulletin's transfer running into a full disk) is the box's own story, for `fleet`.
        self.answers.entry(event.box_id).or_insert(answer);
    }

    /// The statuses of the boxes that listen to the scope.
    fn boxes(&self) -> impl Iterator<Item = &Status> {
        self.statuses.values().filter(|s| self.covers(s))
    }

    /// Whether the box of `status` is of the scope. A registered box is placed by the register,
    /// whatever it claims: in its commune, and in the office's own scope (the register is the
    /// office's). Any other box by the scopes it says it listens to; one too old to list its
    /// scopes is counted only for `all` and its own `box/ID`.
    fn covers(&self, status: &Status) -> bool {
        if let Some(registered) = self.registry.commune(&status.box_id) {
            match &self.scope {
                Scope::Commune(id) => return registered == id,
                Scope::District(_) => return true,
                Scope::All | Scope::Box(_) => {}
            }
        }
        status.scopes.contains(&self.scope.to_string())
            || matches!(self.scope, Scope::All)
            || self.scope == Scope::Box(status.box_id.clone())
    }

    /// Refuses, unless `force`, a publication no box would take: to a scope no known box
    /// listens to, or signed by `key_id` when every box of the scope says which keys it trusts
    /// and none lists it.
    fn check_reach(&self, key_id: &str, force: bool) -> Result<(), PublishError> {
        if force {
            return Ok(());
        }
        let boxes: Vec<&Status> = self.boxes().collect();
        if boxes.is_empty() && self.unheard_registered().next().is_none() {
            return Err(PublishError::UnknownScope {
                scope: self.scope.to_string(),
                known: self.known_scopes(),
            });
        }
        if !boxes.is_empty()
            && boxes.iter().all(|s| !s.trusted_keys.is_empty())
            && !boxes
                .iter()
                .any(|s| s.trusted_keys.iter().any(|k| k == key_id))
        {
            let trusted: BTreeSet<&str> = boxes
                .iter()
                .flat_map(|s| s.trusted_keys.iter().map(String::as_str))
                .collect();
            return Err(PublishError::Untrusted {
                scope: self.scope.to_string(),
                key: key_id.to_owned(),
                trusted: trusted.into_iter().collect::<Vec<_>>().join(", "),
            });
        }
        Ok(())
    }

    /// The scopes of the publication's kind that some box listens to, for a message.
    fn known_scopes(&self) -> String {
        let (kind, prefix) = match self.scope {
            Scope::All => return "no box is known to the broker".into(),
            Scope::District(_) => ("districts", "district/"),
            Scope::Commune(_) => ("communes", "commune/"),
            Scope::Box(_) => {
                let ids: Vec<&str> = self.statuses.keys().map(String::as_str).collect();
                return format!("known boxes: {}", list_or_none(&ids));
            }
        };
        let known: BTreeSet<&str> = self
            .statuses
            .values()
            .flat_map(|s| s.scopes.iter())
            .filter_map(|s| s.strip_prefix(prefix))
            .collect();
        format!(
            "known {kind}: {}",
            list_or_none(&known.into_iter().collect::<Vec<_>>())
        )
    }

    /// Registered boxes of the scope that have no status on the broker: expected, but never
    /// heard (or their status cleared). A schedule or bulletin, retained, reaches them later.
    fn unheard_registered(&self) -> impl Iterator<Item = &str> {
        self.registry
            .boxes_of(&self.scope)
            .filter(|box_id| !self.statuses.contains_key(*box_id))
    }

    /// Whether every online box of the scope has answered.
    fn all_answered(&self) -> bool {
        self.boxes()
            .all(|s| s.state != "online" || self.answers.contains_key(&s.box_id))
    }

    /// Each box of the scope with its answer; apart, the other boxes that answered.
    fn feedback(&self) -> Feedback {
        let mut per_box: BTreeMap<String, BoxAnswer> = self
            .boxes()
            .map(|s| {
                let silent = if s.state == "online" {
                    BoxAnswer::NoAnswer
                } else {
                    BoxAnswer::Offline
                };
                (s.box_id.clone(), silent)
            })
            .collect();
        for box_id in self.unheard_registered() {
            per_box.insert(box_id.to_owned(), BoxAnswer::Offline);
        }
        let mut outside = BTreeMap::new();
        for (box_id, answer) in &self.answers {
            match per_box.get_mut(box_id) {
                Some(slot) => *slot = answer.clone(),
                None => {
                    tracing::warn!(box_id = %box_id, answer = ?answer, scope = %self.scope, "an answer from a box not of the scope; not counted");
                    outside.insert(box_id.clone(), answer.clone());
                }
            }
        }
        Feedback { per_box, outside }
    }
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(box_id: &str, state: &str, scopes: &[&str], keys: &[&str]) -> Vec<u8> {
        serde_json::to_vec(&Status {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            trusted_keys: keys.iter().map(|s| s.to_string()).collect(),
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

    const HERE: [&str; 3] = ["all", "commune/phu-dong", "box/pd-01"];

    /// pd-01 and pd-02 online in phu-dong, pd-03 offline there, hd-01 of another commune.
    fn hearing() -> Hearing {
        let mut hearing = Hearing::new("commune/phu-dong".parse().unwrap(), Registry::default());
        hearing.absorb(
            "loaxa/status/pd-01",
            &status("pd-01", "online", &HERE, &["AAAA"]),
        );
        hearing.absorb(
            "loaxa/status/pd-02",
            &status("pd-02", "online", &HERE, &["AAAA", "BBBB"]),
        );
        hearing.absorb(
            "loaxa/status/pd-03",
            &status("pd-03", "offline", &HERE, &["BBBB"]),
        );
        hearing.absorb(
            "loaxa/status/hd-01",
            &status("hd-01", "online", &["all", "commune/hoai-duc"], &["CCCC"]),
        );
        // A status on another box's topic says nothing.
        hearing.absorb("loaxa/status/pd-04", &status("pd-05", "online", &HERE, &[]));
        hearing
    }

    fn received(topic: &str, what: &str, revision: Option<u64>) -> EventBody {
        EventBody::Received {
            topic: topic.into(),
            what: what.into(),
            command: None,
            revision,
        }
    }

    fn rejected(topic: &str, reason: &str, revision: Option<u64>) -> EventBody {
        EventBody::Rejected {
            topic: topic.into(),
            reason: reason.into(),
            command: None,
            revision,
        }
    }

    #[test]
    fn the_boxes_of_the_scope_and_their_answers_to_this_revision_are_told_apart() {
        let mut hearing = hearing();
        let topic = "loaxa/commune/phu-dong/schedule";
        // Heard before it was published: not an answer to it.
        hearing.absorb(
            "loaxa/events/pd-01",
            &event("pd-01", received(topic, "schedule revision 7", Some(7))),
        );
        hearing.awaited = Some((topic.into(), About::Revision(8)));
        assert!(!hearing.all_answered());
        assert_eq!(
            hearing.feedback().per_box,
            BTreeMap::from([
                ("pd-01".to_owned(), BoxAnswer::NoAnswer),
                ("pd-02".to_owned(), BoxAnswer::NoAnswer),
                ("pd-03".to_owned(), BoxAnswer::Offline),
            ])
        );
        // Another revision's answer, or another topic's, is not ours.
        hearing.absorb(
            "loaxa/events/pd-01",
            &event("pd-01", received(topic, "schedule revision 7", Some(7))),
        );
        hearing.absorb(
            "loaxa/events/pd-01",
            &event("pd-01", received("loaxa/all/schedule", "x", Some(8))),
        );
        assert!(hearing.answers.is_empty());
        hearing.absorb(
            "loaxa/events/pd-01",
            &event("pd-01", received(topic, "schedule revision 8", Some(8))),
        );
        // An event on another box's topic says nothing.
        hearing.absorb(
            "loaxa/events/pd-01",
            &event("pd-02", received(topic, "schedule revision 8", Some(8))),
        );
        assert!(!hearing.all_answered());
        hearing.absorb(
            "loaxa/events/pd-02",
            &event("pd-02", rejected(topic, "schedule does not validate", None)),
        );
        assert!(hearing.all_answered(), "the offline box is not waited for");
        let feedback = hearing.feedback();
        assert_eq!(
            feedback.per_box,
            BTreeMap::from([
                (
                    "pd-01".to_owned(),
                    BoxAnswer::Received("schedule revision 8".into())
                ),
                (
                    "pd-02".to_owned(),
                    BoxAnswer::Rejected("schedule does not validate".into())
                ),
                ("pd-03".to_owned(), BoxAnswer::Offline),
            ])
        );
        assert_eq!(
            (feedback.received(), feedback.rejected(), feedback.online()),
            (1, 1, 2)
        );
    }

    #[test]
    fn the_office_register_outranks_what_a_box_claims_and_expects_boxes_never_heard() {
        // pd-02 is registered elsewhere though its status claims phu-dong; hd-01 is registered
        // here though it claims hoai-duc; pd-09 is registered here and was never heard.
        let registry = Registry::new([
            ("pd-02".to_owned(), "hoai-duc".to_owned()),
            ("hd-01".to_owned(), "phu-dong".to_owned()),
            ("pd-09".to_owned(), "phu-dong".to_owned()),
        ]);
        let mut hearing = hearing();
        hearing.registry = registry;
        let topic = "loaxa/commune/phu-dong/schedule";
        hearing.awaited = Some((topic.into(), About::Revision(8)));
        hearing.absorb(
            "loaxa/events/pd-02",
            &event("pd-02", rejected(topic, "not mine", Some(8))),
        );
        let feedback = hearing.feedback();
        let answers: Vec<(&str, &BoxAnswer)> = feedback
            .per_box
            .iter()
            .map(|(b, a)| (b.as_str(), a))
            .collect();
        assert_eq!(
            answers,
            [
                ("hd-01", &BoxAnswer::NoAnswer),
                ("pd-01", &BoxAnswer::NoAnswer),
                ("pd-03", &BoxAnswer::Offline),
                ("pd-09", &BoxAnswer::Offline),
            ]
        );
        assert_eq!(
            feedback.rejected(),
            0,
            "a box registered elsewhere cannot veto"
        );
        assert_eq!(
            feedback.outside.get("pd-02"),
            Some(&BoxAnswer::Rejected("not mine".into()))
        );
    }

    #[test]
    fn the_offices_own_scope_holds_every_registered_box_whatever_district_it_claims() {
        // gl-01 is registered but set up with another office's district; x-01 is not registered
        // and claims that other district.
        let mut hearing = Hearing::new(
            "district/gia-lam".parse().unwrap(),
            Registry::new([("gl-01".to_owned(), "phu-dong".to_owned())]),
        );
        hearing.absorb(
            "loaxa/status/gl-01",
            &status("gl-01", "online", &["all", "district/dong-anh"], &[]),
        );
        hearing.absorb(
            "loaxa/status/x-01",
            &status("x-01", "online", &["all", "district/dong-anh"], &[]),
        );
        let covered: Vec<&str> = hearing.boxes().map(|s| s.box_id.as_str()).collect();
        assert_eq!(covered, ["gl-01"]);
    }

    #[test]
    fn a_scope_with_only_registered_boxes_never_heard_is_not_refused_as_unknown() {
        let mut hearing = Hearing::new(
            "commune/moi".parse().unwrap(),
            Registry::new([("m-01".to_owned(), "moi".to_owned())]),
        );
        hearing.absorb(
            "loaxa/status/pd-01",
            &status("pd-01", "online", &HERE, &["AAAA"]),
        );
        assert!(hearing.check_reach("ZZZZ", false).is_ok());
        assert_eq!(
            hearing.feedback().per_box,
            BTreeMap::from([("m-01".to_owned(), BoxAnswer::Offline)])
        );
    }

    #[test]
    fn a_refusal_from_a_box_not_of_the_scope_is_told_apart_and_withdraws_nothing() {
        let mut hearing = hearing();
        let topic = "loaxa/commune/phu-dong/schedule";
        hearing.awaited = Some((topic.into(), About::Revision(8)));
        hearing.absorb(
            "loaxa/events/pd-01",
            &event("pd-01", received(topic, "schedule revision 8", Some(8))),
        );
        // A box of another commune, or one with no status at all, refuses it.
        hearing.absorb(
            "loaxa/events/kh-01",
            &event(
                "kh-01",
                rejected(topic, "schedule does not validate", Some(8)),
            ),
        );
        let feedback = hearing.feedback();
        assert_eq!(feedback.rejected(), 0, "{feedback:?}");
        assert_eq!(
            feedback.outside,
            BTreeMap::from([(
                "kh-01".to_owned(),
                BoxAnswer::Rejected("schedule does not validate".into())
            )])
        );
        assert!(!feedback.per_box.contains_key("kh-01"));
    }

    #[test]
    fn the_answers_to_a_command_name_it_by_its_issue_time() {
        let mut hearing = hearing();
        let topic = topic::command(&hearing.scope);
        let issued_at: DateTime<Utc> = "2026-11-24T02:40:00Z".parse().unwrap();
        hearing.awaited = Some((topic.clone(), About::Command(issued_at)));
        let answer = |command| EventBody::Received {
            topic: topic.clone(),
            what: "on air".into(),
            command,
            revision: None,
        };
        let earlier = issued_at - chrono::Duration::seconds(5);
        hearing.absorb("loaxa/events/pd-01", &event("pd-01", answer(Some(earlier))));
        hearing.absorb("loaxa/events/pd-01", &event("pd-01", answer(None)));
        assert!(hearing.answers.is_empty());
        hearing.absorb(
            "loaxa/events/pd-01",
            &event("pd-01", answer(Some(issued_at))),
        );
        // Refused at the door: expired, so it could not read which command it was.
        hearing.absorb(
            "loaxa/events/pd-02",
            &event("pd-02", rejected(&topic, "command stop expired", None)),
        );
        assert_eq!(
            hearing.feedback().per_box["pd-01"],
            BoxAnswer::Received("on air".into())
        );
        assert_eq!(
            hearing.feedback().per_box["pd-02"],
            BoxAnswer::Rejected("command stop expired".into())
        );
    }

    #[test]
    fn a_scope_no_known_box_listens_to_or_whose_boxes_trust_other_keys_is_refused_unless_forced() {
        let hearing = hearing();
        assert!(hearing.check_reach("AAAA", false).is_ok());
        assert!(
            hearing.check_reach("BBBB", false).is_ok(),
            "offline boxes count"
        );
        assert_eq!(
            hearing.check_reach("CCCC", false).unwrap_err().to_string(),
            "no box of commune/phu-dong trusts key CCCC: they trust AAAA, BBBB; sign with one \
             of those keys (or publish with --force)"
        );
        assert!(hearing.check_reach("CCCC", true).is_ok());

        let elsewhere = Hearing {
            scope: "commune/dang-xaa".parse().unwrap(),
            ..hearing
        };
        assert_eq!(
            elsewhere
                .check_reach("AAAA", false)
                .unwrap_err()
                .to_string(),
            "no known box listens to commune/dang-xaa; known communes: hoai-duc, phu-dong \
             (publish with --force for a new scope's first box)"
        );
        assert!(elsewhere.check_reach("AAAA", true).is_ok());
        let a_box = Hearing {
            scope: "box/pd-09".parse().unwrap(),
            ..elsewhere
        };
        assert_eq!(
            a_box.known_scopes(),
            "known boxes: hd-01, pd-01, pd-02, pd-03"
        );
    }

    #[test]
    fn a_box_that_does_not_say_which_keys_it_trusts_may_trust_any() {
        let mut hearing = hearing();
        hearing.absorb("loaxa/status/pd-06", &status("pd-06", "online", &HERE, &[]));
        assert!(hearing.check_reach("CCCC", false).is_ok());
    }
}
