//! The district ↔ box protocol over MQTT: topics, scopes and messages, as documented in
//! `docs/protocol.md`. Pure: bytes in, typed messages or a precise error out; no I/O.
//!
//! Signed messages travel in an envelope that carries the exact signed bytes as a string, so a box
//! verifies the signature over those bytes *before* it parses anything inside them (trust at the
//! door), and anyone can re-check them with `minisign -V`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::ids::is_name;
use crate::schedule::windows::{RawWindow, Window, Windows};
use crate::trust::{SecretKey, TrustError};

/// The version every message carries in `v`; a box refuses versions it does not know.
pub const VERSION: u32 = 1;
/// Topics all start with this, so a broker can be shared with other uses.
pub const ROOT: &str = "loaxa";
/// Audio travels in chunks of at most this size, so a chunk plus its packet fits the link's
/// maximum packet size and a lost connection costs at most one chunk.
pub const MAX_CHUNK: usize = 64 * 1024;
/// A signed envelope larger than this is refused before parsing (a schedule is a few KiB).
pub const MAX_ENVELOPE: usize = 256 * 1024;
/// The largest bulletin a box accepts: two hours of 128 kb/s MP3.
pub const MAX_BULLETIN: u64 = 128 * 1024 * 1024;
/// The most chunk hashes a manifest may list: a largest bulletin in largest chunks.
pub const MAX_CHUNKS: usize = (MAX_BULLETIN / MAX_CHUNK as u64) as usize;
/// Titles and approvers are for people and logs: a line, not a page.
pub const MAX_LABEL: usize = 200;
/// A codec name becomes the extension of the bulletin's file on the box.
pub const MAX_CODEC: usize = 16;
/// A schedule is a few KiB; this leaves room for a commune's busiest year.
pub const MAX_SCHEDULE: usize = 64 * 1024;
/// The longest bulletin, by its stated duration: a day.
pub const MAX_DURATION_MS: u64 = 24 * 3600 * 1000;
/// The store keeps revisions as SQLite integers (i64): a larger one could be judged but never
/// saved, so it is refused at the door.
pub const MAX_REVISION: u64 = i64::MAX as u64;
/// A command is carried out on arrival or never: it may not stay valid longer than this.
pub const MAX_COMMAND_VALIDITY: chrono::Duration = chrono::Duration::hours(24);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("message of {0} bytes is over the {MAX_ENVELOPE}-byte limit")]
    TooLarge(usize),
    #[error("not valid JSON for {what}: {reason}")]
    Json { what: &'static str, reason: String },
    #[error("protocol version {0} is not supported (this box speaks {VERSION})")]
    Version(u32),
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("unknown scope \"{0}\" (expected all, district/ID, commune/ID or box/ID)")]
    Scope(String),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ProtocolError {
    ProtocolError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Refuses a label (title, approver) that is empty or longer than [`MAX_LABEL`] characters.
fn check_label(field: &'static str, text: &str) -> Result<(), ProtocolError> {
    let length = text.chars().count();
    if text.trim().is_empty() {
        return Err(invalid(field, "is empty"));
    }
    if length > MAX_LABEL {
        return Err(invalid(
            field,
            format!("{length} characters, more than the {MAX_LABEL} allowed"),
        ));
    }
    Ok(())
}

/// Refuses an instant outside the years 1970–9999: the store writes instants as RFC 3339 text,
/// which has four-digit years, and nothing a district signs is older than the epoch.
fn check_time(field: &'static str, time: DateTime<Utc>) -> Result<(), ProtocolError> {
    use chrono::Datelike;
    if (1970..=9999).contains(&time.year()) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{time} is outside the years 1970–9999"),
        ))
    }
}

/// Who a message is for. A box subscribes to `all`, its district, its commune and itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    All,
    District(String),
    Commune(String),
    Box(String),
}

impl Scope {
    /// The topic level(s) naming this scope: `all`, `district/hoai-duc`…
    pub fn topic(&self) -> String {
        match self {
            Scope::All => "all".into(),
            Scope::District(id) => format!("district/{id}"),
            Scope::Commune(id) => format!("commune/{id}"),
            Scope::Box(id) => format!("box/{id}"),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.topic())
    }
}

impl FromStr for Scope {
    type Err = ProtocolError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let scope = match text.split_once('/') {
            None if text == "all" => Scope::All,
            Some(("district", id)) if is_name(id) => Scope::District(id.into()),
            Some(("commune", id)) if is_name(id) => Scope::Commune(id.into()),
            Some(("box", id)) if is_name(id) => Scope::Box(id.into()),
            _ => return Err(ProtocolError::Scope(text.into())),
        };
        Ok(scope)
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.topic())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Every topic of the protocol, in one place.
pub mod topic {
    use super::{ROOT, Scope};

    /// Signed schedule documents for a scope (retained).
    pub fn schedule(scope: &Scope) -> String {
        format!("{ROOT}/{}/schedule", scope.topic())
    }

    /// Signed commands for a scope (not retained: carried out on arrival, or never).
    pub fn command(scope: &Scope) -> String {
        format!("{ROOT}/{}/command", scope.topic())
    }

    /// Signed bulletin manifests for a scope (retained), one topic per bulletin.
    pub fn bulletin(scope: &Scope, id: &str) -> String {
        format!("{ROOT}/{}/bulletin/{id}", scope.topic())
    }

    /// The filter a box subscribes to for a scope's manifests.
    pub fn bulletins(scope: &Scope) -> String {
        format!("{ROOT}/{}/bulletin/+", scope.topic())
    }

    /// One chunk of audio (retained, raw bytes), addressed by the whole file's sha256.
    pub fn chunk(sha256: &str, index: usize) -> String {
        format!("{ROOT}/chunk/{sha256}/{index}")
    }

    /// Parses a chunk topic into (file sha256, index).
    pub fn parse_chunk(topic: &str) -> Option<(&str, usize)> {
        let rest = topic.strip_prefix(ROOT)?.strip_prefix("/chunk/")?;
        let (sha, index) = rest.split_once('/')?;
        Some((sha, index.parse().ok()?))
    }

    /// A box's retained status (and its last will).
    pub fn status(box_id: &str) -> String {
        format!("{ROOT}/status/{box_id}")
    }

    /// A box's event stream: receipts, rejections, as-run entries.
    pub fn events(box_id: &str) -> String {
        format!("{ROOT}/events/{box_id}")
    }

    /// A district client's own topic, which no box reads: what it publishes there comes back
    /// after every retained message of the subscriptions made before, so it marks their end.
    pub fn office(client_id: &str) -> String {
        format!("{ROOT}/office/{client_id}")
    }
}

/// A signed message as it travels: the signed bytes as a string, and a minisign signature over
/// exactly those bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub v: u32,
    /// The signed document (JSON text). Parsed only after the signature checks out.
    pub signed: String,
    /// The `.minisig` text.
    pub signature: String,
}

impl Envelope {
    /// Reads an envelope, refusing oversized input before parsing it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Envelope, ProtocolError> {
        if bytes.len() > MAX_ENVELOPE {
            return Err(ProtocolError::TooLarge(bytes.len()));
        }
        let envelope: Envelope = from_json(bytes, "envelope")?;
        check_version(envelope.v)?;
        Ok(envelope)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Signs a document: the district's side of `Inbox::receive`. The trusted comment repeats
    /// what the document is, so `minisign -V` shows it to whoever checks by hand.
    pub fn seal(document: &Document, key: &SecretKey) -> Result<Envelope, TrustError> {
        let signed = serde_json::to_string(document).unwrap_or_default();
        let comment = match document {
            Document::Schedule(doc) => {
                format!("loaxa schedule {} revision {}", doc.scope, doc.revision)
            }
            Document::Bulletin(manifest) => {
                format!("loaxa bulletin {} {}", manifest.scope, manifest.id)
            }
            Document::Command(command) => {
                format!("loaxa command {} {}", command.scope, command.action)
            }
        };
        Ok(Envelope {
            v: VERSION,
            signature: key.sign(signed.as_bytes(), &comment)?,
            signed,
        })
    }
}

/// What a signed document is: the box tells them apart after verifying, before using them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Document {
    Schedule(ScheduleDoc),
    Bulletin(Manifest),
    Command(CommandDoc),
}

impl Document {
    /// Parses verified bytes and checks every field.
    pub fn parse(signed: &str) -> Result<Document, ProtocolError> {
        let document: Document = from_json(signed.as_bytes(), "signed document")?;
        match &document {
            Document::Schedule(doc) => doc.check()?,
            Document::Bulletin(manifest) => manifest.check()?,
            Document::Command(command) => command.check()?,
        }
        Ok(document)
    }

    pub fn scope(&self) -> &Scope {
        match self {
            Document::Schedule(doc) => &doc.scope,
            Document::Bulletin(manifest) => &manifest.scope,
            Document::Command(command) => &command.scope,
        }
    }
}

/// An order to the boxes of a scope, carried out on arrival: play a bulletin now (an
/// emergency), stop what is on air, set the volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandDoc {
    pub scope: Scope,
    /// Strictly increasing per scope: a box refuses a command not newer than the last it
    /// carried out (a replay).
    pub issued_at: DateTime<Utc>,
    /// After this a box refuses it: one that was offline must not sound a storm warning hours
    /// late.
    pub valid_until: DateTime<Utc>,
    pub approver: String,
    pub action: RemoteAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum RemoteAction {
    /// Air a bulletin the boxes hold, now, at this level (an emergency cuts anything).
    PlayNow {
        bulletin: String,
        priority: crate::schedule::Priority,
    },
    /// Fade out and end the programme on air.
    Stop,
    /// Master volume, 0–100.
    Volume { percent: u8 },
}

impl std::fmt::Display for RemoteAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteAction::PlayNow { bulletin, priority } => {
                write!(f, "play-now {bulletin} ({priority})")
            }
            RemoteAction::Stop => f.write_str("stop"),
            RemoteAction::Volume { percent } => write!(f, "volume {percent}"),
        }
    }
}

impl CommandDoc {
    fn check(&self) -> Result<(), ProtocolError> {
        check_time("issued_at", self.issued_at)?;
        check_time("valid_until", self.valid_until)?;
        if self.valid_until <= self.issued_at {
            return Err(invalid("valid_until", "must be after issued_at"));
        }
        if self.valid_until - self.issued_at > MAX_COMMAND_VALIDITY {
            return Err(invalid(
                "valid_until",
                format!(
                    "{} is more than {} hours after issued_at {}: a command is carried out on \
                     arrival or never, not kept for later",
                    self.valid_until,
                    MAX_COMMAND_VALIDITY.num_hours(),
                    self.issued_at
                ),
            ));
        }
        check_label("approver", &self.approver)?;
        match &self.action {
            RemoteAction::PlayNow { bulletin, .. } if !is_name(bulletin) => Err(invalid(
                "action.bulletin",
                format!("\"{bulletin}\" is not a valid bulletin id"),
            )),
            RemoteAction::Volume { percent } if *percent > 100 => Err(invalid(
                "action.percent",
                format!("{percent} out of range 0–100"),
            )),
            _ => Ok(()),
        }
    }
}

/// A scope's whole schedule, replacing the previous revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleDoc {
    pub scope: Scope,
    /// Strictly increasing per scope; a box applies only revisions newer than the one it holds.
    pub revision: u64,
    pub issued_at: DateTime<Utc>,
    /// Who approved it (the signer's name, for the as-run log and reports).
    pub approver: String,
    /// The schedule file itself, in the format of `docs/schedule-format.md`.
    pub schedule: String,
}

impl ScheduleDoc {
    fn check(&self) -> Result<(), ProtocolError> {
        check_revision(self.revision)?;
        check_time("issued_at", self.issued_at)?;
        check_label("approver", &self.approver)?;
        if self.schedule.len() > MAX_SCHEDULE {
            return Err(invalid(
                "schedule",
                format!(
                    "{} bytes, more than the {MAX_SCHEDULE} allowed",
                    self.schedule.len()
                ),
            ));
        }
        Ok(())
    }
}

/// Refuses revision 0 and revisions the store cannot hold.
fn check_revision(revision: u64) -> Result<(), ProtocolError> {
    if revision == 0 {
        return Err(invalid("revision", "must be at least 1"));
    }
    if revision > MAX_REVISION {
        return Err(invalid(
            "revision",
            format!("{revision} is beyond the largest revision a box can hold ({MAX_REVISION})"),
        ));
    }
    Ok(())
}

/// A bulletin's description; its audio arrives in chunks, trusted through these hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub scope: Scope,
    pub id: String,
    /// When the district published it: a box holding a manifest for this id refuses an older
    /// one (a replay of what it replaced) and takes a newer one in its place.
    pub issued_at: DateTime<Utc>,
    pub title: String,
    /// Of the whole file, lowercase hex.
    pub sha256: String,
    pub size: u64,
    pub duration_ms: u64,
    /// e.g. "mp3", as found by decoding the file when it was published.
    pub codec: String,
    pub chunk_size: usize,
    /// sha256 of each chunk, in order.
    pub chunks: Vec<String>,
    /// After this the box deletes the audio and refuses to air it.
    pub valid_until: Option<DateTime<Utc>>,
    pub approver: String,
    /// EBU R128 integrated loudness as the district measured it, for people; a box measures
    /// what it received itself before deciding its playback gain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loudness_lufs: Option<f64>,
}

impl Manifest {
    fn check(&self) -> Result<(), ProtocolError> {
        if !is_name(&self.id) {
            return Err(invalid(
                "id",
                format!("\"{}\" is not a valid bulletin id", self.id),
            ));
        }
        check_time("issued_at", self.issued_at)?;
        check_label("title", &self.title)?;
        check_label("approver", &self.approver)?;
        if self.codec.is_empty()
            || self.codec.len() > MAX_CODEC
            || !self.codec.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(invalid(
                "codec",
                format!(
                    "\"{}\" is not a codec name (1–{MAX_CODEC} letters or digits, e.g. mp3)",
                    self.codec.chars().take(MAX_CODEC * 2).collect::<String>()
                ),
            ));
        }
        if self.duration_ms > MAX_DURATION_MS {
            return Err(invalid(
                "duration_ms",
                format!("{} out of range 0–{MAX_DURATION_MS}", self.duration_ms),
            ));
        }
        if let Some(until) = self.valid_until {
            check_time("valid_until", until)?;
        }
        if let Some(lufs) = self.loudness_lufs
            && !(-100.0..=10.0).contains(&lufs)
        {
            return Err(invalid(
                "loudness_lufs",
                format!("{lufs} out of range -100 to 10"),
            ));
        }
        if !is_sha256(&self.sha256) {
            return Err(invalid("sha256", "expected 64 lowercase hex digits"));
        }
        if self.size == 0 || self.size > MAX_BULLETIN {
            return Err(invalid(
                "size",
                format!("{} out of range 1–{MAX_BULLETIN}", self.size),
            ));
        }
        if self.chunk_size == 0 || self.chunk_size > MAX_CHUNK {
            return Err(invalid(
                "chunk_size",
                format!("{} out of range 1–{MAX_CHUNK}", self.chunk_size),
            ));
        }
        if self.chunks.len() > MAX_CHUNKS {
            return Err(invalid(
                "chunks",
                format!(
                    "{} hashes, more than the {MAX_CHUNKS} allowed",
                    self.chunks.len()
                ),
            ));
        }
        let expected = self.size.div_ceil(self.chunk_size as u64);
        if self.chunks.len() as u64 != expected {
            return Err(invalid(
                "chunks",
                format!(
                    "{} hashes for {} bytes in chunks of {} (expected {expected})",
                    self.chunks.len(),
                    self.size,
                    self.chunk_size
                ),
            ));
        }
        if let Some(i) = self.chunks.iter().position(|c| !is_sha256(c)) {
            return Err(invalid(
                "chunks",
                format!("entry {i} is not a sha256 in hex"),
            ));
        }
        Ok(())
    }

    /// Reads a manifest this box stored earlier (already verified when it arrived).
    pub fn from_stored(json: &str) -> Result<Manifest, ProtocolError> {
        from_json(json.as_bytes(), "stored manifest")
    }

    /// Byte length of chunk `index`.
    pub fn chunk_len(&self, index: usize) -> usize {
        let start = index as u64 * self.chunk_size as u64;
        self.size.saturating_sub(start).min(self.chunk_size as u64) as usize
    }
}

/// The sha256 of `bytes` as manifests write it: 64 lowercase hex digits.
pub fn hex_sha256(bytes: &[u8]) -> String {
    hex_digest(&sha2::Sha256::digest(bytes))
}

/// A finished digest as manifests write it.
pub fn hex_digest(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What a box does with a signed document, given the one it holds in its place: a schedule
/// revision for a scope, a manifest's issue time for a bulletin id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevisionDecision<T> {
    Apply,
    /// Same revision again (a retained message re-delivered on reconnect): nothing to do.
    AlreadyHeld,
    /// Older than what the box holds: a replay or a reordered delivery; refused and reported.
    Stale {
        held: T,
    },
}

pub fn decide_revision<T: Ord>(held: Option<T>, incoming: T) -> RevisionDecision<T> {
    match held {
        Some(held) if incoming < held => RevisionDecision::Stale { held },
        Some(held) if incoming == held => RevisionDecision::AlreadyHeld,
        _ => RevisionDecision::Apply,
    }
}

/// A box's retained status message. Unknown fields are allowed (unlike in signed documents):
/// newer boxes may report more, and the district must go on reading what it knows of them.
/// Every field added after the first boxes shipped is defaulted, so their statuses still parse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub v: u32,
    pub box_id: String,
    /// "online", or "offline" (the last will, or the status a box leaves when it stops).
    pub state: String,
    pub at: Option<DateTime<Utc>>,
    pub version: Option<String>,
    /// Schedule revision held per scope.
    #[serde(default)]
    pub revisions: std::collections::BTreeMap<String, u64>,
    /// Bytes free for the box's state (bulletins, store).
    pub disk_free: Option<u64>,
    /// Title of the programme on air, if any.
    pub now_playing: Option<String>,
    /// The scopes the box listens to: the district picks the boxes a command reaches by them.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Bulletins the box holds whole (hash checked) and not expired: what it can air now.
    #[serde(default)]
    pub bulletins: Vec<String>,
    /// Bulletins announced to the box whose audio has not fully arrived.
    #[serde(default)]
    pub transfers: Vec<Transfer>,
    /// The programme that last aired in full, from the box's as-run log: what the district sees
    /// even if it was not listening to events when it aired.
    #[serde(default)]
    pub last_aired: Option<LastAired>,
    /// The box's broadcast windows, in its local time: a schedule it is sent must keep to them.
    #[serde(default)]
    pub windows: Vec<WindowSpan>,
    /// The box's time zone (IANA name): its windows' and its schedules' local time.
    #[serde(default)]
    pub timezone: Option<String>,
    /// The ids of the minisign keys the box trusts: it refuses what any other key signed.
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    /// The master volume, percent.
    #[serde(default)]
    pub volume: Option<u8>,
}

/// A broadcast window as a status shows it: local times `"05:00"` to `"22:00"` (`"24:00"` for
/// midnight at its end; `to` before `from` spans midnight).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpan {
    pub from: String,
    pub to: String,
}

impl WindowSpan {
    pub fn of(window: &Window) -> WindowSpan {
        // A window ending at midnight ends at the day's last instant (see `windows`): 24:00.
        let to = if Some(window.to) == chrono::NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999)
        {
            "24:00".to_owned()
        } else {
            window.to.format("%H:%M").to_string()
        };
        WindowSpan {
            from: window.from.format("%H:%M").to_string(),
            to,
        }
    }

    /// The window again, at full volume (a status does not show volumes); or why the text is
    /// not a window.
    pub fn resolve(&self) -> Result<Window, crate::schedule::windows::WindowProblem> {
        RawWindow {
            from: self.from.clone(),
            to: self.to.clone(),
            volume: None,
        }
        .resolve()
    }

    /// A status's windows as windows; None if it shows none, or one that is not a window.
    pub fn resolve_all(spans: &[WindowSpan]) -> Option<Windows> {
        if spans.is_empty() {
            return None;
        }
        spans
            .iter()
            .map(WindowSpan::resolve)
            .collect::<Result<_, _>>()
            .ok()
            .map(Windows)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastAired {
    pub program: String,
    pub title: String,
    pub started: DateTime<Utc>,
}

impl Status {
    /// A status saying only `state` ("online" or "offline") as of now; the caller fills in the
    /// rest.
    pub fn new(box_id: &str, state: &str) -> Status {
        Status {
            v: VERSION,
            box_id: box_id.to_owned(),
            state: state.to_owned(),
            at: Some(Utc::now()),
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            revisions: Default::default(),
            disk_free: None,
            now_playing: None,
            scopes: Vec::new(),
            bulletins: Vec::new(),
            transfers: Vec::new(),
            last_aired: None,
            windows: Vec::new(),
            timezone: None,
            trusted_keys: Vec::new(),
            volume: None,
        }
    }
}

/// A bulletin still being fetched, as a box's status lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    pub bulletin: String,
    pub chunks_held: usize,
    pub chunks: usize,
}

/// One entry of a box's event stream, sent QoS 1 from its durable outbox. (No
/// `deny_unknown_fields` here: serde cannot combine it with the flattened body.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub v: u32,
    pub box_id: String,
    /// Per box, increasing: the district spots gaps and duplicates with it.
    pub seq: u64,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: EventBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// A signed document was verified and stored, or a command carried out.
    Received {
        topic: String,
        what: String,
        /// The `issued_at` of the command this answers: the district tells its command's
        /// answers from others' by it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<DateTime<Utc>>,
        /// The revision of the schedule this is about: the district tells which of its
        /// publications a box took by it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revision: Option<u64>,
    },
    /// Something was refused, and why.
    Rejected {
        topic: String,
        reason: String,
        /// As for `Received`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<DateTime<Utc>>,
        /// As for `Received`, when the box got as far as reading the revision (a bad signature
        /// is refused before anything inside is read).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revision: Option<u64>,
    },
    /// An as-run log entry. The fields after `detail` came later: an older box's entries lack
    /// them.
    AsRun {
        program: String,
        scheduled: DateTime<Utc>,
        started: Option<DateTime<Utc>>,
        ended: Option<DateTime<Utc>>,
        outcome: String,
        detail: String,
        /// The programme's title.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// The bulletins its `bulletin:ID` items name: what it aired, or was to air.
        #[serde(default)]
        bulletins: Vec<String>,
        /// Where the programme came from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<Origin>,
        /// How late it started against `scheduled`, in milliseconds (None if it did not start).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        late_ms: Option<i64>,
    },
}

/// Where a programme a box aired came from, as its as-run entry says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Origin {
    /// A schedule the district signed for `scope`, at this revision.
    Schedule { scope: Scope, revision: u64 },
    /// The box's own: its schedule files and the operator's `loaxa program add`.
    Local,
    /// A district `play-now` command for `scope`, named by its `issued_at`.
    Command {
        scope: Scope,
        issued_at: DateTime<Utc>,
    },
    /// A `play-now` from the box's own command line.
    Operator,
}

fn from_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, ProtocolError> {
    serde_json::from_slice(bytes).map_err(|e| ProtocolError::Json {
        what,
        reason: e.to_string(),
    })
}

fn check_version(v: u32) -> Result<(), ProtocolError> {
    if v == VERSION {
        Ok(())
    } else {
        Err(ProtocolError::Version(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            scope: "commune/phu-dong".parse().unwrap(),
            id: "tiem-chung".into(),
            issued_at: DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
            title: "Thông báo tiêm chủng".into(),
            sha256: "a".repeat(64),
            size: 100_000,
            duration_ms: 11_259,
            codec: "mp3".into(),
            chunk_size: 65_536,
            chunks: vec!["b".repeat(64), "c".repeat(64)],
            valid_until: None,
            approver: "Phòng VHTT huyện".into(),
            loudness_lufs: None,
        }
    }

    #[test]
    fn scopes_read_and_write_as_topic_levels() {
        for text in ["all", "district/gia-lam", "commune/phu-dong", "box/pd-01"] {
            assert_eq!(text.parse::<Scope>().unwrap().to_string(), text);
        }
        for bad in [
            "",
            "everyone",
            "commune/",
            "commune/a/b",
            "box/+",
            "box/#",
            "box/..",
            "district/a b",
        ] {
            assert!(bad.parse::<Scope>().is_err(), "{bad}");
        }
    }

    #[test]
    fn topics_place_the_scope_after_the_root() {
        let scope = Scope::Commune("phu-dong".into());
        assert_eq!(topic::schedule(&scope), "loaxa/commune/phu-dong/schedule");
        assert_eq!(
            topic::bulletin(&scope, "tiem-chung"),
            "loaxa/commune/phu-dong/bulletin/tiem-chung"
        );
        assert_eq!(
            topic::chunk(&"a".repeat(64), 3),
            format!("loaxa/chunk/{}/3", "a".repeat(64))
        );
        assert_eq!(topic::status("pd-01"), "loaxa/status/pd-01");
    }

    #[test]
    fn a_manifest_must_account_for_every_byte_with_a_chunk_hash() {
        assert_eq!(manifest().check(), Ok(()));
        let mut m = manifest();
        m.chunks.pop();
        assert_eq!(
            m.check().unwrap_err().to_string(),
            "chunks: 1 hashes for 100000 bytes in chunks of 65536 (expected 2)"
        );
        let mut m = manifest();
        m.chunk_size = MAX_CHUNK + 1;
        assert!(
            m.check()
                .unwrap_err()
                .to_string()
                .starts_with("chunk_size: 65537 out of range")
        );
        let mut m = manifest();
        m.id = "../etc".into();
        assert!(m.check().is_err());
        assert_eq!(manifest().chunk_len(1), 100_000 - 65_536);
    }

    /// A field's name, and how to put it out of bounds.
    type Spoil = (&'static str, fn(&mut Manifest));

    #[test]
    fn every_manifest_field_has_a_bound_and_a_refusal_names_it() {
        let cases: Vec<Spoil> = vec![
            ("title", |m| m.title = "a".repeat(MAX_LABEL + 1)),
            ("title", |m| m.title = " ".into()),
            ("approver", |m| m.approver = "ă".repeat(MAX_LABEL + 1)),
            ("codec", |m| m.codec = "m".repeat(300)),
            ("codec", |m| m.codec = "mp3/../x".into()),
            ("duration_ms", |m| m.duration_ms = u64::MAX),
            ("loudness_lufs", |m| m.loudness_lufs = Some(1e9)),
            ("issued_at", |m| {
                m.issued_at = DateTime::from_timestamp(-1, 0).unwrap()
            }),
            ("valid_until", |m| {
                m.valid_until = DateTime::from_timestamp(300_000_000_000, 0)
            }),
            ("chunks", |m| {
                m.chunk_size = 1;
                m.size = MAX_CHUNKS as u64 + 1;
                m.chunks = vec!["b".repeat(64); MAX_CHUNKS + 1];
            }),
            ("id", |m| m.id = "a".repeat(65)),
        ];
        for (field, spoil) in cases {
            let mut m = manifest();
            spoil(&mut m);
            match m.check() {
                Err(ProtocolError::Invalid { field: named, .. }) => assert_eq!(named, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        // Exactly at the bounds is fine.
        let mut m = manifest();
        m.title = "ă".repeat(MAX_LABEL);
        m.codec = "a".repeat(MAX_CODEC);
        assert_eq!(m.check(), Ok(()));
    }

    fn schedule_doc(revision: u64) -> ScheduleDoc {
        ScheduleDoc {
            scope: Scope::All,
            revision,
            issued_at: DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
            approver: "huyện".into(),
            schedule: String::new(),
        }
    }

    #[test]
    fn a_revision_beyond_the_stores_range_is_refused() {
        assert_eq!(schedule_doc(MAX_REVISION).check(), Ok(()));
        assert_eq!(
            schedule_doc(MAX_REVISION + 1)
                .check()
                .unwrap_err()
                .to_string(),
            "revision: 9223372036854775808 is beyond the largest revision a box can hold (9223372036854775807)"
        );
        assert_eq!(
            schedule_doc(u64::MAX).check().unwrap_err().to_string(),
            "revision: 18446744073709551615 is beyond the largest revision a box can hold (9223372036854775807)"
        );
        let mut long = schedule_doc(1);
        long.schedule = "#".repeat(MAX_SCHEDULE + 1);
        assert_eq!(
            long.check().unwrap_err().to_string(),
            "schedule: 65537 bytes, more than the 65536 allowed"
        );
    }

    #[test]
    fn a_command_valid_for_more_than_a_day_is_refused() {
        let issued_at = DateTime::from_timestamp(1_795_000_000, 0).unwrap();
        let command = |valid_until| CommandDoc {
            scope: Scope::All,
            issued_at,
            valid_until,
            approver: "huyện".into(),
            action: RemoteAction::Stop,
        };
        assert_eq!(
            command(issued_at + MAX_COMMAND_VALIDITY).check(),
            Ok(()),
            "a whole day is allowed"
        );
        let far = "9999-12-31T23:59:59Z".parse().unwrap();
        assert_eq!(
            command(far).check().unwrap_err().to_string(),
            "valid_until: 9999-12-31 23:59:59 UTC is more than 24 hours after issued_at \
             2026-11-18 11:06:40 UTC: a command is carried out on arrival or never, not kept for later"
        );
    }

    #[test]
    fn oversized_and_malformed_envelopes_are_refused_before_parsing() {
        assert_eq!(
            Envelope::from_bytes(&vec![b' '; MAX_ENVELOPE + 1]),
            Err(ProtocolError::TooLarge(MAX_ENVELOPE + 1))
        );
        assert!(matches!(
            Envelope::from_bytes(b"{\"v\":1"),
            Err(ProtocolError::Json { .. })
        ));
        assert_eq!(
            Envelope::from_bytes(br#"{"v":2,"signed":"{}","signature":""}"#),
            Err(ProtocolError::Version(2))
        );
    }

    #[test]
    fn an_older_boxs_status_and_as_run_entry_still_parse_and_a_newer_boxs_extra_fields_are_ignored()
    {
        let old = r#"{"v":1,"box_id":"pd-01","state":"online","at":null,"version":"0.1.0",
            "revisions":{},"disk_free":null,"now_playing":null}"#;
        let status: Status = serde_json::from_str(old).unwrap();
        assert_eq!(status.windows, []);
        assert_eq!((status.timezone, status.volume), (None, None));
        let newer = old.replace("\"v\":1", "\"v\":1,\"battery\":0.5");
        assert!(serde_json::from_str::<Status>(&newer).is_ok());

        let old = r#"{"v":1,"box_id":"pd-01","seq":44,"at":"2026-11-24T05:30:12Z",
            "kind":"as_run","program":"morning","scheduled":"2026-11-23T22:30:00Z",
            "started":"2026-11-23T22:30:00Z","ended":"2026-11-23T22:30:12Z",
            "outcome":"aired","detail":""}"#;
        let event: Event = serde_json::from_str(old).unwrap();
        let EventBody::AsRun {
            title,
            bulletins,
            origin,
            late_ms,
            ..
        } = event.body
        else {
            panic!("{event:?}")
        };
        assert_eq!((title, origin, late_ms), (None, None, None));
        assert!(bulletins.is_empty());
    }

    #[test]
    fn an_origin_reads_and_writes_as_its_kind_and_what_names_it() {
        let origins = [
            (
                r#"{"kind":"schedule","scope":"commune/phu-dong","revision":7}"#,
                Origin::Schedule {
                    scope: Scope::Commune("phu-dong".into()),
                    revision: 7,
                },
            ),
            (r#"{"kind":"local"}"#, Origin::Local),
            (
                r#"{"kind":"command","scope":"all","issued_at":"2026-11-24T02:40:00Z"}"#,
                Origin::Command {
                    scope: Scope::All,
                    issued_at: "2026-11-24T02:40:00Z".parse().unwrap(),
                },
            ),
            (r#"{"kind":"operator"}"#, Origin::Operator),
        ];
        for (text, origin) in origins {
            assert_eq!(serde_json::from_str::<Origin>(text).unwrap(), origin);
            assert_eq!(serde_json::to_string(&origin).unwrap(), text);
        }
    }

    #[test]
    fn window_spans_show_local_times_and_midnight_at_the_end_as_24_00() {
        let spans =
            [("05:00", "11:30"), ("13:30", "24:00"), ("22:00", "04:00")].map(|(from, to)| {
                WindowSpan {
                    from: from.into(),
                    to: to.into(),
                }
            });
        let windows = WindowSpan::resolve_all(&spans).unwrap();
        let shown: Vec<WindowSpan> = windows.0.iter().map(WindowSpan::of).collect();
        assert_eq!(shown, spans);
        assert_eq!(WindowSpan::resolve_all(&[]), None);
        let bad = WindowSpan {
            from: "5h".into(),
            to: "22:00".into(),
        };
        assert_eq!(WindowSpan::resolve_all(&[bad]), None);
    }

    #[test]
    fn only_a_newer_revision_is_applied() {
        assert_eq!(decide_revision(None, 1), RevisionDecision::Apply);
        assert_eq!(decide_revision(Some(4), 5), RevisionDecision::Apply);
        assert_eq!(decide_revision(Some(5), 5), RevisionDecision::AlreadyHeld);
        assert_eq!(
            decide_revision(Some(5), 3),
            RevisionDecision::Stale { held: 5 }
        );
    }
}
