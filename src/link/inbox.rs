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
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// A new schedule revision was stored: the daemon reloads its schedules.
    ScheduleApplied { scope: Scope, revision: u64 },
    /// A new bulletin manifest was stored: its chunks are to be fetched.
    BulletinAnnounced(Box<protocol::Manifest>),
    /// Nothing new (the same revision re-delivered, an empty retained message).
    Unchanged(String),
    /// A command to carry out now.
    Command(protocol::CommandDoc),
    /// Refused, with the reason logged and reported to the district.
    Rejected(String),
}

/// A command is carried out only once, and only while it is fresh.
fn command_verdict(
    store: &mut Store,
    command: protocol::CommandDoc,
    now: DateTime<Utc>,
) -> Result<Verdict, StoreError> {
    if command.valid_until < now {
        return Ok(Verdict::Rejected(format!(
            "command {} expired at {}",
            command.action, command.valid_until
        )));
    }
    let scope = command.scope.to_string();
    if let Some(last) = store.last_command(&scope)?
        && command.issued_at <= last
    {
        return Ok(Verdict::Rejected(format!(
            "command {} issued at {} is not newer than the last one carried out ({last}): replay?",
            command.action, command.issued_at
        )));
    }
    store.set_last_command(&scope, command.issued_at)?;
    Ok(Verdict::Command(command))
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
        let schedule_scope = self
            .scopes
            .iter()
            .find(|s| topic == protocol::topic::schedule(s));
        let bulletin_scope = self.scopes.iter().find(|s| {
            topic
                .strip_prefix(&protocol::topic::bulletins(s).replace('+', ""))
                .is_some_and(protocol::is_name)
        });
        let command_scope = self
            .scopes
            .iter()
            .find(|s| topic == protocol::topic::command(s));
        let Some(scope) = schedule_scope.or(bulletin_scope).or(command_scope) else {
            return Ok(Verdict::Rejected(format!(
                "{topic}: not a topic this box listens to"
            )));
        };
        if payload.is_empty() {
            return Ok(Verdict::Unchanged(
                "empty message (retained message cleared)".into(),
            ));
        }
        let document = match self.open(payload) {
            Ok(document) => document,
            Err(reason) => return Ok(Verdict::Rejected(reason)),
        };
        if document.scope() != scope {
            return Ok(Verdict::Rejected(format!(
                "signed for scope {} but sent on {topic}",
                document.scope()
            )));
        }
        let doc = match document {
            Document::Schedule(doc) if schedule_scope.is_some() => doc,
            Document::Bulletin(manifest) if bulletin_scope.is_some() => {
                return self.manifest(store, topic, manifest, now);
            }
            Document::Command(command) if command_scope.is_some() => {
                return command_verdict(store, command, now);
            }
            _ => {
                return Ok(Verdict::Rejected(format!(
                    "{topic}: wrong kind of document for this topic"
                )));
            }
        };
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

    fn manifest(
        &self,
        store: &mut Store,
        topic: &str,
        manifest: protocol::Manifest,
        now: DateTime<Utc>,
    ) -> Result<Verdict, StoreError> {
        if !topic.ends_with(&format!("/{}", manifest.id)) {
            return Ok(Verdict::Rejected(format!(
                "manifest for bulletin {} sent on {topic}",
                manifest.id
            )));
        }
        if let Some(until) = manifest.valid_until.filter(|until| *until < now) {
            return Ok(Verdict::Rejected(format!(
                "bulletin {} expired at {until}",
                manifest.id
            )));
        }
        let json = serde_json::to_string(&manifest).unwrap_or_default();
        if store.manifests()?.contains(&json) {
            return Ok(Verdict::Unchanged(format!(
                "bulletin {} already known",
                manifest.id
            )));
        }
        if store.retired_manifests()?.contains(&json) {
            // Deleted as unused; the broker hands back its retained manifest at every subscribe.
            return Ok(Verdict::Unchanged(format!(
                "bulletin {} was deleted from this box as unused",
                manifest.id
            )));
        }
        store.save_manifest(&manifest.id, &manifest.sha256, &json, now)?;
        Ok(Verdict::BulletinAnnounced(Box::new(manifest)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::protocol::ScheduleDoc;
    use crate::trust::SecretKey;

    const GOOD: &str =
        "[[program]]\nid = \"morning\"\ncron = \"30 5 * * *\"\nitems = [\"chime\"]\n";

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        inbox: Inbox,
        key: SecretKey,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let key = SecretKey::generate();
        let inbox = Inbox {
            box_id: "pd-01".into(),
            scopes: vec![
                Scope::All,
                "commune/phu-dong".parse().unwrap(),
                "box/pd-01".parse().unwrap(),
            ],
            keyring: Keyring::new(vec![key.public_key()]),
            load_options: LoadOptions {
                default_timezone: schedule::DEFAULT_TIMEZONE,
                media_dir: dir.path().to_owned(),
                check_audio: false,
                windows: None,
            },
        };
        Fixture {
            _dir: dir,
            store,
            inbox,
            key,
        }
    }

    fn schedule(scope: &str, revision: u64, text: &str, key: &SecretKey) -> Vec<u8> {
        let document = Document::Schedule(ScheduleDoc {
            scope: scope.parse().unwrap(),
            revision,
            issued_at: DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
            approver: "huyện".into(),
            schedule: text.into(),
        });
        Envelope::seal(&document, key).unwrap().to_bytes()
    }

    fn receive(f: &mut Fixture, topic: &str, payload: &[u8]) -> Verdict {
        f.inbox
            .receive(&mut f.store, topic, payload, Utc::now())
            .unwrap()
    }

    const TOPIC: &str = "loaxa/commune/phu-dong/schedule";

    #[test]
    fn a_signed_schedule_for_the_boxs_commune_is_stored_once_and_replays_are_refused() {
        let mut f = fixture();
        let v2 = schedule("commune/phu-dong", 2, GOOD, &f.key);
        let v1 = schedule("commune/phu-dong", 1, GOOD, &f.key);
        let applied = Verdict::ScheduleApplied {
            scope: "commune/phu-dong".parse().unwrap(),
            revision: 2,
        };
        assert_eq!(receive(&mut f, TOPIC, &v2), applied);
        assert_eq!(
            receive(&mut f, TOPIC, &v2),
            Verdict::Unchanged("revision 2 already held".into())
        );
        assert_eq!(
            receive(&mut f, TOPIC, &v1),
            Verdict::Rejected("revision 1 is older than the held revision 2 (replay?)".into())
        );
        assert_eq!(
            f.store.remote_schedules().unwrap(),
            [("commune/phu-dong".into(), 2, GOOD.into())]
        );
    }

    #[test]
    fn every_kind_of_bad_message_is_refused_with_its_reason_and_nothing_is_stored() {
        let mut f = fixture();
        let stranger = SecretKey::generate();
        let tampered = String::from_utf8(schedule("commune/phu-dong", 1, GOOD, &f.key))
            .unwrap()
            .replace("30 5", "30 3");
        let cases: Vec<(&str, Vec<u8>, String)> = vec![
            (
                "unknown key",
                schedule("commune/phu-dong", 1, GOOD, &stranger),
                format!("signed by unknown key {}", stranger.public_key().key_id()),
            ),
            (
                "tampered",
                tampered.into_bytes(),
                "signature does not match".into(),
            ),
            (
                "other commune",
                schedule("commune/khac", 1, GOOD, &f.key),
                "signed for scope commune/khac".into(),
            ),
            (
                "malformed",
                b"{not json".to_vec(),
                "not valid JSON for envelope".into(),
            ),
            (
                "oversized",
                vec![b' '; 300 * 1024],
                "over the 262144-byte limit".into(),
            ),
            (
                "bad schedule",
                schedule("commune/phu-dong", 1, "[[program]]\nid = \"x\"\n", &f.key),
                "schedule does not validate".into(),
            ),
        ];
        for (case, payload, expected) in cases {
            match receive(&mut f, TOPIC, &payload) {
                Verdict::Rejected(reason) => {
                    assert!(reason.contains(&expected), "{case}: {reason}")
                }
                other => panic!("{case}: {other:?}"),
            }
        }
        assert!(f.store.remote_schedules().unwrap().is_empty());
    }

    #[test]
    fn a_schedule_for_another_box_is_not_this_boxs_business() {
        let mut f = fixture();
        let payload = schedule("box/pd-02", 1, GOOD, &f.key);
        assert!(matches!(
            receive(&mut f, "loaxa/box/pd-02/schedule", &payload),
            Verdict::Rejected(_)
        ));
    }
}
