//! The box's front door for signed documents: verify, check scope and revision, store, report.
//!
//! Order matters: the signature is checked over the raw signed bytes before they are parsed, the
//! scope inside the signed document must be the scope of the topic it came on (a genuine schedule
//! for one commune re-published to another is refused), and a document is stored before the
//! broker gets its acknowledgement, so nothing accepted is lost.

use chrono::{DateTime, Utc};

use super::protocol::{self, Document, Envelope, RevisionDecision, Scope, decide_revision};
use crate::schedule::{self, LoadOptions};
use crate::store::{Store, StoreError};
use crate::trust::Keyring;

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A new schedule revision was stored: the daemon reloads its schedules.
    ScheduleApplied { scope: Scope, revision: u64 },
    /// Nothing new (the same revision re-delivered, an empty retained message).
    Unchanged(String),
    /// Refused, with the reason logged and reported to the district.
    Rejected(String),
}

/// The box's identity and what it trusts: enough to judge any incoming document.
pub struct Inbox {
    pub box_id: String,
    pub scopes: Vec<Scope>,
    pub keyring: Keyring,
    /// How schedules are checked before they are stored (time zone, media directory).
    pub load_options: LoadOptions,
}

impl Inbox {
    /// Judges one message and stores what is accepted. Only store failures are errors: every
    /// problem with the message itself is a `Rejected` verdict.
    pub fn receive(
        &self,
        store: &mut Store,
        topic: &str,
        payload: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Verdict, StoreError> {
        let Some(scope) = self
            .scopes
            .iter()
            .find(|s| topic == protocol::topic::schedule(s))
        else {
            return Ok(Verdict::Rejected(format!(
                "{topic}: not a topic this box listens to"
            )));
        };
        if payload.is_empty() {
            return Ok(Verdict::Unchanged(
                "empty message (retained schedule cleared)".into(),
            ));
        }
        let document = match self.open(payload) {
            Ok(document) => document,
            Err(reason) => return Ok(Verdict::Rejected(reason)),
        };
        let Document::Schedule(doc) = document else {
            return Ok(Verdict::Rejected(
                "a bulletin manifest on a schedule topic".into(),
            ));
        };
        if &doc.scope != scope {
            return Ok(Verdict::Rejected(format!(
                "signed for scope {} but sent on {topic}",
                doc.scope
            )));
        }
        let scope_name = scope.to_string();
        match decide_revision(store.schedule_revision(&scope_name)?, doc.revision) {
            RevisionDecision::AlreadyHeld => {
                return Ok(Verdict::Unchanged(format!(
                    "revision {} already held",
                    doc.revision
                )));
            }
            RevisionDecision::Stale { held } => {
                return Ok(Verdict::Rejected(format!(
                    "revision {} is older than the held revision {held} (replay?)",
                    doc.revision
                )));
            }
            RevisionDecision::Apply => {}
        }
        let checked = schedule::parse(
            &doc.schedule,
            std::path::Path::new(&format!("{scope_name} revision {}", doc.revision)),
            &self.load_options,
        );
        if let Some(error) = checked.errors.first() {
            return Ok(Verdict::Rejected(format!(
                "schedule does not validate: {error}"
            )));
        }
        store.save_schedule(&scope_name, doc.revision, &doc.schedule, payload, now)?;
        Ok(Verdict::ScheduleApplied {
            scope: scope.clone(),
            revision: doc.revision,
        })
    }

    /// Envelope → signature → document, refusing at the first problem.
    fn open(&self, payload: &[u8]) -> Result<Document, String> {
        let envelope = Envelope::from_bytes(payload).map_err(|e| e.to_string())?;
        self.keyring
            .verify(envelope.signed.as_bytes(), &envelope.signature)
            .map_err(|e| format!("signature refused: {e}"))?;
        Document::parse(&envelope.signed).map_err(|e| e.to_string())
    }
}
