//! The box's front door for signed documents: verify, check scope and revision, store, report.
//!
//! Order matters: the signature is checked over the raw signed bytes before they are parsed, the
//! scope inside the signed document must be the scope of the topic it came on (a genuine schedule
//! for one commune re-published to another is refused), and a document is stored before the
//! broker gets its acknowledgement, so nothing accepted is lost.

use chrono::{DateTime, Utc};

use crate::store::{Store, StoreError};
use loaxa_core::protocol::{self, Document, Envelope, RevisionDecision, Scope, decide_revision};
use loaxa_core::schedule::{self, LoadOptions};
use loaxa_core::trust::Keyring;

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
    /// A schedule refused once its revision was read: the district is told which one.
    RevisionRejected { revision: u64, reason: String },
}

/// How far ahead of the box's clock a signed issue time may be: enough for two clocks that
/// keep NTP time, not enough for a document dated ahead to block everything issued after it.
pub const MAX_CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// Refuses what claims to be issued later than the box's clock allows: the district's clock is
/// wrong, or someone holds a document dated ahead to outrank what the district sends next.
fn from_the_future(what: &str, issued_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<Verdict> {
    (issued_at > now + MAX_CLOCK_SKEW).then(|| {
        Verdict::Rejected(format!(
            "{what} issued at {issued_at}, more than {} minutes ahead of this box's clock \
             ({now}): clock skew?",
            MAX_CLOCK_SKEW.num_minutes()
        ))
    })
}

/// A command is carried out only once, and only while it is fresh. Every check comes before
/// the "last carried out" mark moves, so a refused command never moves it.
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
    if let Some(refused) = from_the_future(
        &format!("command {}", command.action),
        command.issued_at,
        now,
    ) {
        return Ok(refused);
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
                .is_some_and(loaxa_core::ids::is_name)
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
            // The same revision with another schedule is not a re-delivery: the district gave
            // the number again (it withdrew a revision this box had taken). Said, not ignored:
            // ignored, the box would keep airing what the district took back.
            RevisionDecision::AlreadyHeld
                if store.schedule_text(&scope_name)?.as_deref() != Some(&doc.schedule) =>
            {
                return Ok(Verdict::RevisionRejected {
                    revision: doc.revision,
                    reason: format!(
                        "revision {} differs from the revision {} held: publish a newer one",
                        doc.revision, doc.revision
                    ),
                });
            }
            RevisionDecision::AlreadyHeld => {
                return Ok(Verdict::Unchanged(format!(
                    "revision {} already held",
                    doc.revision
                )));
            }
            RevisionDecision::Stale { held } => {
                return Ok(Verdict::RevisionRejected {
                    revision: doc.revision,
                    reason: format!(
                        "revision {} is older than the held revision {held} (replay?)",
                        doc.revision
                    ),
                });
            }
            RevisionDecision::Apply => {}
        }
        let checked = schedule::parse(
            &doc.schedule,
            std::path::Path::new(&format!("{scope_name} revision {}", doc.revision)),
            &self.load_options,
        );
        if let Some(error) = checked.errors.first() {
            return Ok(Verdict::RevisionRejected {
                revision: doc.revision,
                reason: format!("schedule does not validate: {error}"),
            });
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
        let what = format!("bulletin {}", manifest.id);
        if let Some(refused) = from_the_future(&what, manifest.issued_at, now) {
            return Ok(refused);
        }
        let json = serde_json::to_string(&manifest).unwrap_or_default();
        let held = store.manifest(&manifest.id)?;
        if held.as_deref() == Some(json.as_str()) {
            return Ok(Verdict::Unchanged(format!("{what} already known")));
        }
        if store.retired_manifests()?.contains(&json) {
            // Deleted as unused; the broker hands back its retained manifest at every subscribe.
            return Ok(Verdict::Unchanged(format!(
                "{what} was deleted from this box as unused"
            )));
        }
        match decide_revision(store.manifest_issued(&manifest.id)?, manifest.issued_at) {
            RevisionDecision::Stale { held } => {
                return Ok(Verdict::Rejected(format!(
                    "{what} issued at {} is older than the one held, issued at {held} (replay?)",
                    manifest.issued_at
                )));
            }
            // The same issue time with other content is not a re-delivery: one of them is
            // not what the district published last.
            RevisionDecision::AlreadyHeld if held.is_some() => {
                return Ok(Verdict::Rejected(format!(
                    "{what} issued at {} differs from the one held, issued at the same instant",
                    manifest.issued_at
                )));
            }
            // Held once and deleted since: the same manifest may bring it back.
            RevisionDecision::AlreadyHeld | RevisionDecision::Apply => {}
        }
        store.save_manifest(
            &manifest.id,
            &manifest.sha256,
            &json,
            manifest.issued_at,
            now,
        )?;
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
    use loaxa_core::protocol::ScheduleDoc;
    use loaxa_core::trust::SecretKey;

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
                check_audio: None,
                windows: None,
                author: schedule::Author::District,
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
            Verdict::RevisionRejected {
                revision: 1,
                reason: "revision 1 is older than the held revision 2 (replay?)".into()
            }
        );
        assert_eq!(
            f.store.remote_schedules().unwrap(),
            [("commune/phu-dong".into(), 2, GOOD.into())]
        );
    }

    #[test]
    fn a_revision_given_again_with_another_schedule_is_refused_not_ignored() {
        let mut f = fixture();
        let taken = schedule("commune/phu-dong", 2, GOOD, &f.key);
        assert!(matches!(
            receive(&mut f, TOPIC, &taken),
            Verdict::ScheduleApplied { revision: 2, .. }
        ));
        let other = GOOD.replace("30 5", "45 5");
        let reused = schedule("commune/phu-dong", 2, &other, &f.key);
        assert_eq!(
            receive(&mut f, TOPIC, &reused),
            Verdict::RevisionRejected {
                revision: 2,
                reason: "revision 2 differs from the revision 2 held: publish a newer one".into()
            }
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
                // Only a schedule whose signature checked out has a revision to name.
                Verdict::RevisionRejected { revision, reason } if case == "bad schedule" => {
                    assert_eq!(revision, 1);
                    assert!(reason.contains(&expected), "{case}: {reason}")
                }
                other => panic!("{case}: {other:?}"),
            }
        }
        assert!(f.store.remote_schedules().unwrap().is_empty());
    }

    /// The virtual clock of the freshness tests.
    fn t0() -> DateTime<Utc> {
        "2026-11-24T02:40:00Z".parse().unwrap()
    }

    fn minutes(n: i64) -> chrono::Duration {
        chrono::Duration::minutes(n)
    }

    const COMMANDS: &str = "loaxa/commune/phu-dong/command";

    fn command(issued_at: DateTime<Utc>, valid_for: chrono::Duration, key: &SecretKey) -> Vec<u8> {
        let document = Document::Command(protocol::CommandDoc {
            scope: "commune/phu-dong".parse().unwrap(),
            issued_at,
            valid_until: issued_at + valid_for,
            approver: "huyện".into(),
            action: protocol::RemoteAction::Stop,
        });
        Envelope::seal(&document, key).unwrap().to_bytes()
    }

    fn receive_at(f: &mut Fixture, topic: &str, payload: &[u8], now: DateTime<Utc>) -> Verdict {
        f.inbox.receive(&mut f.store, topic, payload, now).unwrap()
    }

    fn rejection(verdict: Verdict) -> String {
        match verdict {
            Verdict::Rejected(reason) => reason,
            other => panic!("not rejected: {other:?}"),
        }
    }

    #[test]
    fn a_command_from_the_future_is_refused_and_does_not_move_the_mark() {
        let mut f = fixture();
        let now = t0();
        let ahead = command(now + minutes(6), minutes(30), &f.key);
        assert_eq!(
            rejection(receive_at(&mut f, COMMANDS, &ahead, now)),
            "command stop issued at 2026-11-24 02:46:00 UTC, more than 5 minutes ahead of \
             this box's clock (2026-11-24 02:40:00 UTC): clock skew?"
        );
        assert_eq!(f.store.last_command("commune/phu-dong").unwrap(), None);
        // A command issued after the refused one's claimed time, but really now, is carried
        // out: nothing dated ahead can block what the district sends next.
        let fresh = command(now, minutes(30), &f.key);
        assert!(matches!(
            receive_at(&mut f, COMMANDS, &fresh, now),
            Verdict::Command(_)
        ));
        // Within the allowed skew, a little ahead is fine.
        let slightly_ahead = command(now + minutes(4), minutes(30), &f.key);
        assert!(matches!(
            receive_at(&mut f, COMMANDS, &slightly_ahead, now + minutes(1)),
            Verdict::Command(_)
        ));
        assert_eq!(
            f.store.last_command("commune/phu-dong").unwrap(),
            Some(now + minutes(4))
        );
    }

    #[test]
    fn a_command_valid_for_more_than_a_day_is_refused_and_does_not_move_the_mark() {
        let mut f = fixture();
        let now = t0();
        let forever = command(now, chrono::Duration::days(365 * 7000), &f.key);
        let reason = rejection(receive_at(&mut f, COMMANDS, &forever, now));
        assert!(
            reason.starts_with("valid_until: ") && reason.contains("more than 24 hours after"),
            "{reason}"
        );
        assert_eq!(f.store.last_command("commune/phu-dong").unwrap(), None);
    }

    #[test]
    fn an_expired_or_replayed_command_does_not_move_the_mark() {
        let mut f = fixture();
        let now = t0();
        let first = command(now, minutes(30), &f.key);
        assert!(matches!(
            receive_at(&mut f, COMMANDS, &first, now),
            Verdict::Command(_)
        ));
        let earlier = command(now - minutes(1), minutes(30), &f.key);
        assert!(rejection(receive_at(&mut f, COMMANDS, &earlier, now)).contains("replay?"));
        let expired = command(now + minutes(1), minutes(1), &f.key);
        assert!(
            rejection(receive_at(&mut f, COMMANDS, &expired, now + minutes(3))).contains("expired")
        );
        assert_eq!(f.store.last_command("commune/phu-dong").unwrap(), Some(now));
    }

    const TIN: &str = "loaxa/commune/phu-dong/bulletin/tin";

    fn manifest_doc(issued_at: DateTime<Utc>, audio: &str) -> protocol::Manifest {
        protocol::Manifest {
            scope: "commune/phu-dong".parse().unwrap(),
            id: "tin".into(),
            issued_at,
            title: "Tin".into(),
            sha256: audio.repeat(64),
            size: 1,
            duration_ms: 1,
            codec: "mp3".into(),
            chunk_size: 1,
            chunks: vec![audio.repeat(64)],
            valid_until: None,
            approver: "huyện".into(),
            loudness_lufs: None,
        }
    }

    fn seal_manifest(manifest: &protocol::Manifest, key: &SecretKey) -> Vec<u8> {
        Envelope::seal(&Document::Bulletin(manifest.clone()), key)
            .unwrap()
            .to_bytes()
    }

    #[test]
    fn a_replayed_manifest_is_refused() {
        let mut f = fixture();
        let now = t0();
        let old = seal_manifest(&manifest_doc(now - minutes(60), "a"), &f.key);
        let new = manifest_doc(now - minutes(10), "b");
        let sealed_new = seal_manifest(&new, &f.key);
        assert!(matches!(
            receive_at(&mut f, TIN, &old, now - minutes(59)),
            Verdict::BulletinAnnounced(_)
        ));
        assert_eq!(
            receive_at(&mut f, TIN, &sealed_new, now - minutes(9)),
            Verdict::BulletinAnnounced(Box::new(new.clone())),
            "a newer one replaces it"
        );
        assert_eq!(
            receive_at(&mut f, TIN, &sealed_new, now),
            Verdict::Unchanged("bulletin tin already known".into()),
            "the same one again is no error"
        );
        assert_eq!(
            rejection(receive_at(&mut f, TIN, &old, now)),
            "bulletin tin issued at 2026-11-24 01:40:00 UTC is older than the one held, \
             issued at 2026-11-24 02:30:00 UTC (replay?)"
        );
        let held = f.store.manifest("tin").unwrap().unwrap();
        assert_eq!(protocol::Manifest::from_stored(&held).unwrap(), new);
        // Another manifest claiming the held one's instant is not a re-delivery of it.
        let twin = seal_manifest(&manifest_doc(new.issued_at, "c"), &f.key);
        assert!(rejection(receive_at(&mut f, TIN, &twin, now)).contains("same instant"));
    }

    #[test]
    fn a_manifest_from_the_future_is_refused_and_does_not_outrank_the_next_one() {
        let mut f = fixture();
        let now = t0();
        let ahead = seal_manifest(
            &manifest_doc(now + chrono::Duration::days(365), "a"),
            &f.key,
        );
        assert!(rejection(receive_at(&mut f, TIN, &ahead, now)).ends_with("clock skew?"));
        assert_eq!(f.store.manifest_issued("tin").unwrap(), None);
        let fresh = seal_manifest(&manifest_doc(now, "b"), &f.key);
        assert!(matches!(
            receive_at(&mut f, TIN, &fresh, now),
            Verdict::BulletinAnnounced(_)
        ));
    }

    #[test]
    fn a_schedule_revision_beyond_the_stores_range_is_a_rejection_not_a_store_failure() {
        let mut f = fixture();
        let payload = schedule("commune/phu-dong", u64::MAX, GOOD, &f.key);
        assert!(
            rejection(receive(&mut f, TOPIC, &payload))
                .starts_with("revision: 18446744073709551615 is beyond the largest revision")
        );
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
