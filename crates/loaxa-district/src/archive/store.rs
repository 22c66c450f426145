//! The archive's SQLite file: WAL, `synchronous=NORMAL` (a commit costs no fsync; a power cut
//! may lose the last moments of commits, a crash of the office's process loses none), its
//! tables all named `archive_…` and versioned in `archive_schema`, so the console's own tables
//! can live in the same file under their own version. `docs/archive.md` describes the tables.
//!
//! One connection writes, behind a mutex: [`Archive::store`] takes a whole batch of messages
//! in one transaction, which is what makes ingest fast. Readers take a connection of their own
//! from a small pool, so reports never wait for the collector, nor it for them (WAL).
//!
//! Instants are stored as milliseconds since the Unix epoch (UTC): compact, and compared as
//! integers by the report's range scans.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::broadcast;

use super::wire::{EventMessage, Message, StatusMessage};

/// Bumped whenever the archive's tables change; `open` migrates older files forward.
const SCHEMA_VERSION: i64 = 2;
/// How long the archive keeps events and as-run entries by default (a year and a month: last
/// year's report for the same month can still be made).
pub const DEFAULT_RETENTION_DAYS: u32 = 400;
/// Change notices not yet taken by a slow listener; past this it is told it lagged.
const CHANGES_CAPACITY: usize = 4096;
/// Idle reader connections kept open for the next query.
const IDLE_READERS: usize = 4;
/// Page cache per connection: the report's month of index entries for 3,000 boxes fits.
const CACHE_KIB: i64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: cannot create its directory: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: an archive of a newer loaxa-district (schema {found}; this one knows {SCHEMA_VERSION})"
    )]
    TooNew { path: PathBuf, found: i64 },
}

/// What changed in the archive, told after each commit to whoever listens
/// ([`Archive::changes`]): the console updates its pages from these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A box appeared, or its status changed (state, what is on air, what it holds).
    Box { box_id: String },
    /// A new event of a box was stored (a duplicate is not).
    Event {
        box_id: String,
        seq: i64,
        kind: String,
    },
}

/// What one batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub events: usize,
    /// Events the archive already had (the same box and `seq`): at-least-once delivery.
    pub duplicates: usize,
    pub statuses: usize,
}

/// A handle on the archive file. Cheap to clone; every method blocks on SQLite, so async code
/// calls them through `tokio::task::spawn_blocking`.
#[derive(Clone)]
pub struct Archive {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    changes: broadcast::Sender<Change>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves at worst an open transaction, which SQLite rolls
    // back: the connection itself is still sound.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Archive {
    /// Opens the archive at `path`, creating the file, its directory and the archive's tables
    /// as needed, and migrating an older archive forward.
    pub fn open(path: impl AsRef<Path>) -> Result<Archive, ArchiveError> {
        let path = path.as_ref().to_owned();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| ArchiveError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let sqlite = |source| ArchiveError::Sqlite {
            path: path.clone(),
            source,
        };
        let mut writer = connect(&path).map_err(sqlite)?;
        migrate(&mut writer, &path)?;
        Ok(Archive {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                changes: broadcast::channel(CHANGES_CAPACITY).0,
                path,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Notices of what each commit changed, from now on.
    pub fn changes(&self) -> broadcast::Receiver<Change> {
        self.inner.changes.subscribe()
    }

    fn sqlite(&self) -> impl Fn(rusqlite::Error) -> ArchiveError + '_ {
        |source| ArchiveError::Sqlite {
            path: self.inner.path.clone(),
            source,
        }
    }

    /// Runs `query` on a reader connection of the pool.
    pub(crate) fn read<T>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, ArchiveError> {
        let idle = lock(&self.inner.readers).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => connect(&self.inner.path).map_err(self.sqlite())?,
        };
        let result = query(&conn).map_err(self.sqlite());
        let mut readers = lock(&self.inner.readers);
        if readers.len() < IDLE_READERS {
            readers.push(conn);
        }
        result
    }

    /// Stores a batch of messages in one transaction: events once per (box, `seq`), as-run
    /// entries with their bulletins, the newest status of each box. When it returns `Ok`, all
    /// of it is committed; then the changes are told to [`Archive::changes`].
    pub fn store(
        &self,
        messages: &[Message],
        received: DateTime<Utc>,
    ) -> Result<Stored, ArchiveError> {
        let mut changes = Vec::new();
        let stored = {
            let mut conn = lock(&self.inner.writer);
            let tx = conn.transaction().map_err(self.sqlite())?;
            let stored =
                write_batch(&tx, messages, received, &mut changes).map_err(self.sqlite())?;
            tx.commit().map_err(self.sqlite())?;
            stored
        };
        for change in changes {
            // Nobody listening is fine: the archive is the record, notices are a courtesy.
            let _ = self.inner.changes.send(change);
        }
        Ok(stored)
    }

    /// Deletes at most `limit` events and at most `limit` as-run entries older than `before`
    /// (by the event's `at` and the entry's scheduled time), in one short transaction, and
    /// returns how many rows went: called again until it returns less than `limit`, it prunes
    /// everything, while the collector's batches go in between.
    pub fn prune_step(&self, before: DateTime<Utc>, limit: usize) -> Result<usize, ArchiveError> {
        let before = before.timestamp_millis();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = lock(&self.inner.writer);
        let tx = conn.transaction().map_err(self.sqlite())?;
        let removed = (|| {
            let events = tx.execute(
                "DELETE FROM archive_event WHERE id IN
                     (SELECT id FROM archive_event WHERE at < ?1 LIMIT ?2)",
                params![before, limit],
            )?;
            tx.execute(
                "CREATE TEMP TABLE IF NOT EXISTS archive_doomed (id INTEGER PRIMARY KEY)",
                [],
            )?;
            tx.execute("DELETE FROM archive_doomed", [])?;
            tx.execute(
                "INSERT INTO archive_doomed
                     SELECT id FROM archive_as_run WHERE scheduled < ?1 LIMIT ?2",
                params![before, limit],
            )?;
            tx.execute(
                "DELETE FROM archive_as_run_bulletin WHERE run IN (SELECT id FROM archive_doomed)",
                [],
            )?;
            let runs = tx.execute(
                "DELETE FROM archive_as_run WHERE id IN (SELECT id FROM archive_doomed)",
                [],
            )?;
            Ok(events.max(runs))
        })()
        .map_err(self.sqlite())?;
        tx.commit().map_err(self.sqlite())?;
        Ok(removed)
    }

    /// Records that the office places `box_id` in `commune`, or with None takes it off the
    /// register (its status's commune counts again). A box registered before it is ever heard
    /// is listed from then on, as never seen.
    pub fn register_box(&self, box_id: &str, commune: Option<&str>) -> Result<(), ArchiveError> {
        {
            let conn = lock(&self.inner.writer);
            conn.execute(
                "INSERT INTO archive_box (box_id, state, registered_commune) VALUES (?1, 'unknown', ?2)
                 ON CONFLICT (box_id) DO UPDATE SET registered_commune = excluded.registered_commune",
                params![box_id, commune],
            )
            .map_err(self.sqlite())?;
        }
        let _ = self.inner.changes.send(Change::Box {
            box_id: box_id.to_owned(),
        });
        Ok(())
    }

    /// Registers every box not yet on the register in the commune its own status names (an
    /// office taking over an installed fleet); boxes that name no commune stay off. Returns the
    /// boxes registered, with their communes, by box id.
    pub fn register_as_claimed(&self) -> Result<Vec<(String, String)>, ArchiveError> {
        let registered: Vec<(String, String)> = {
            let conn = lock(&self.inner.writer);
            let mut stmt = conn
                .prepare(
                    "UPDATE archive_box SET registered_commune = commune
                     WHERE registered_commune IS NULL AND commune IS NOT NULL
                     RETURNING box_id, commune",
                )
                .map_err(self.sqlite())?;
            let rows = stmt
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .map_err(self.sqlite())?;
            let mut registered = rows
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(self.sqlite())?;
            registered.sort();
            registered
        };
        for (box_id, _) in &registered {
            let _ = self.inner.changes.send(Change::Box {
                box_id: box_id.clone(),
            });
        }
        Ok(registered)
    }

    /// Everything older than `before`, in steps (see [`Archive::prune_step`]).
    pub fn prune(&self, before: DateTime<Utc>) -> Result<(), ArchiveError> {
        const STEP: usize = 10_000;
        while self.prune_step(before, STEP)? == STEP {}
        Ok(())
    }
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    // The writer's transactions are short: waiting for a lock beats failing.
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{CACHE_KIB};"
    ))?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), ArchiveError> {
    let sqlite = |source| ArchiveError::Sqlite {
        path: path.to_owned(),
        source,
    };
    // Immediate: a console and a collector opening a new file at once create it once.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS archive_schema (version INTEGER NOT NULL);")
        .map_err(sqlite)?;
    let version: i64 = tx
        .query_row("SELECT max(version) FROM archive_schema", [], |row| {
            row.get::<_, Option<i64>>(0)
        })
        .optional()
        .map_err(sqlite)?
        .flatten()
        .unwrap_or(0);
    if version > SCHEMA_VERSION {
        return Err(ArchiveError::TooNew {
            path: path.to_owned(),
            found: version,
        });
    }
    if version < 1 {
        tx.execute_batch(SCHEMA_V1).map_err(sqlite)?;
    }
    if version < 2 {
        tx.execute_batch(SCHEMA_V2).map_err(sqlite)?;
    }
    tx.execute("DELETE FROM archive_schema", [])
        .map_err(sqlite)?;
    tx.execute(
        "INSERT INTO archive_schema (version) VALUES (?1)",
        [SCHEMA_VERSION],
    )
    .map_err(sqlite)?;
    tx.commit().map_err(sqlite)
}

/// Instants are milliseconds since the epoch, UTC. See docs/archive.md.
const SCHEMA_V1: &str = "
CREATE TABLE archive_box (
    box_id    TEXT PRIMARY KEY,
    state     TEXT NOT NULL,
    last_seen INTEGER,
    status    TEXT,
    status_received INTEGER,
    commune   TEXT,
    district  TEXT
) WITHOUT ROWID;
CREATE INDEX archive_box_commune ON archive_box (commune);
CREATE INDEX archive_box_district ON archive_box (district);

CREATE TABLE archive_event (
    id       INTEGER PRIMARY KEY,
    box_id   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    topic    TEXT,
    payload  TEXT NOT NULL,
    received INTEGER NOT NULL,
    UNIQUE (box_id, seq)
);
CREATE INDEX archive_event_at ON archive_event (at);
CREATE INDEX archive_event_rejected ON archive_event (box_id, seq) WHERE kind = 'rejected';

CREATE TABLE archive_as_run (
    id           INTEGER PRIMARY KEY,
    box_id       TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    scheduled    INTEGER NOT NULL,
    started      INTEGER,
    ended        INTEGER,
    outcome      TEXT NOT NULL,
    late_ms      INTEGER,
    program      TEXT NOT NULL,
    title        TEXT,
    detail       TEXT NOT NULL,
    origin_kind  TEXT,
    origin_scope TEXT,
    bulletins    TEXT
);
CREATE INDEX archive_as_run_box
    ON archive_as_run (box_id, scheduled, outcome, late_ms, started, ended);
CREATE INDEX archive_as_run_scheduled ON archive_as_run (scheduled);

CREATE TABLE archive_as_run_bulletin (
    run       INTEGER NOT NULL,
    bulletin  TEXT NOT NULL,
    scheduled INTEGER NOT NULL,
    PRIMARY KEY (run, bulletin)
) WITHOUT ROWID;
CREATE INDEX archive_as_run_bulletin_when ON archive_as_run_bulletin (bulletin, scheduled);
";

/// The office's register: the commune the office itself places a box in, which outranks the
/// commune the box's status claims (a box says what it was configured with, or lies).
const SCHEMA_V2: &str = "
ALTER TABLE archive_box ADD COLUMN registered_commune TEXT;
";

fn write_batch(
    tx: &rusqlite::Transaction<'_>,
    messages: &[Message],
    received: DateTime<Utc>,
    changes: &mut Vec<Change>,
) -> rusqlite::Result<Stored> {
    let received = received.timestamp_millis();
    let mut stored = Stored::default();
    // The newest instant each box reported in this batch, applied once per box at the end.
    let mut seen: BTreeMap<&str, Option<i64>> = BTreeMap::new();
    for message in messages {
        match message {
            Message::Event(event) => {
                let at = event.at.timestamp_millis();
                let newest = seen.entry(&event.box_id).or_default();
                *newest = (*newest).max(Some(at));
                if insert_event(tx, event, received)? {
                    stored.events += 1;
                    changes.push(Change::Event {
                        box_id: event.box_id.clone(),
                        seq: event.seq,
                        kind: event.kind.clone(),
                    });
                } else {
                    stored.duplicates += 1;
                }
            }
            Message::Status(status) => {
                stored.statuses += 1;
                if upsert_status(tx, status, received)? {
                    changes.push(Change::Box {
                        box_id: status.box_id.clone(),
                    });
                }
            }
            Message::Cleared { .. } => {}
        }
    }
    let mut new_box = tx.prepare_cached(
        "INSERT INTO archive_box (box_id, state) VALUES (?1, 'unknown') ON CONFLICT DO NOTHING",
    )?;
    let mut touch = tx.prepare_cached(
        "UPDATE archive_box SET last_seen = ?2
             WHERE box_id = ?1 AND (last_seen IS NULL OR last_seen < ?2)",
    )?;
    for (box_id, at) in seen {
        if new_box.execute([box_id])? > 0 {
            changes.push(Change::Box {
                box_id: box_id.to_owned(),
            });
        }
        if let Some(at) = at {
            touch.execute(params![box_id, at])?;
        }
    }
    Ok(stored)
}

/// Inserts the event (and its as-run entry); false if the archive already had it.
fn insert_event(
    tx: &rusqlite::Transaction<'_>,
    event: &EventMessage,
    received: i64,
) -> rusqlite::Result<bool> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO archive_event (box_id, seq, at, kind, topic, payload, received)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (box_id, seq) DO NOTHING",
        )?
        .execute(params![
            event.box_id,
            event.seq,
            event.at.timestamp_millis(),
            event.kind,
            event.topic,
            event.json,
            received
        ])?;
    if inserted == 0 {
        return Ok(false);
    }
    let Some(run) = &event.as_run else {
        return Ok(true);
    };
    let ms = |at: Option<DateTime<Utc>>| at.map(|t| t.timestamp_millis());
    let scheduled = run.scheduled.timestamp_millis();
    let bulletins = (!run.bulletins.is_empty())
        .then(|| serde_json::to_string(&run.bulletins).unwrap_or_default());
    tx.prepare_cached(
        "INSERT INTO archive_as_run (box_id, seq, scheduled, started, ended, outcome, late_ms,
                                     program, title, detail, origin_kind, origin_scope, bulletins)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        event.box_id,
        event.seq,
        scheduled,
        ms(run.started),
        ms(run.ended),
        run.outcome,
        ms(run.started).map(|started| started - scheduled),
        run.program,
        run.title,
        run.detail,
        run.origin_kind,
        run.origin_scope,
        bulletins,
    ])?;
    let id = tx.last_insert_rowid();
    let mut insert_bulletin = tx.prepare_cached(
        "INSERT INTO archive_as_run_bulletin (run, bulletin, scheduled) VALUES (?1, ?2, ?3)",
    )?;
    for bulletin in &run.bulletins {
        insert_bulletin.execute(params![id, bulletin, scheduled])?;
    }
    Ok(true)
}

/// Keeps the status; true if the box's row changed. A last will only turns the box offline:
/// the status before it still says what the box held.
fn upsert_status(
    tx: &rusqlite::Transaction<'_>,
    status: &StatusMessage,
    received: i64,
) -> rusqlite::Result<bool> {
    let at = status.at.map(|t| t.timestamp_millis());
    let changed = if status.informative {
        tx.prepare_cached(
            "INSERT INTO archive_box
                 (box_id, state, last_seen, status, status_received, commune, district)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (box_id) DO UPDATE SET
                 state = excluded.state,
                 last_seen = max(coalesce(last_seen, excluded.last_seen),
                                 coalesce(excluded.last_seen, last_seen)),
                 status = excluded.status,
                 status_received = excluded.status_received,
                 commune = excluded.commune,
                 district = excluded.district
             WHERE state IS NOT excluded.state OR status IS NOT excluded.status",
        )?
        .execute(params![
            status.box_id,
            status.state,
            at,
            status.json,
            received,
            status.commune,
            status.district
        ])?
    } else {
        tx.prepare_cached(
            "INSERT INTO archive_box (box_id, state, last_seen) VALUES (?1, ?2, ?3)
             ON CONFLICT (box_id) DO UPDATE SET
                 state = excluded.state,
                 last_seen = max(coalesce(last_seen, excluded.last_seen),
                                 coalesce(excluded.last_seen, last_seen))
             WHERE state IS NOT excluded.state",
        )?
        .execute(params![status.box_id, status.state, at])?
    };
    Ok(changed > 0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::archive::wire;

    pub fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    /// A fresh archive in its own directory.
    pub fn archive() -> (tempfile::TempDir, Archive) {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::open(dir.path().join("office/archive.db")).unwrap();
        (dir, archive)
    }

    /// An as-run event as a box sends it.
    pub fn as_run(
        box_id: &str,
        seq: u64,
        scheduled: &str,
        late_s: Option<i64>,
        outcome: &str,
    ) -> String {
        let scheduled = at(scheduled);
        let started = late_s.map(|s| (scheduled + chrono::Duration::seconds(s)).to_rfc3339());
        let ended = late_s.map(|s| (scheduled + chrono::Duration::seconds(s + 120)).to_rfc3339());
        serde_json::json!({
            "v": 1, "box_id": box_id, "seq": seq, "at": scheduled.to_rfc3339(), "kind": "as_run",
            "program": "morning", "scheduled": scheduled.to_rfc3339(), "started": started,
            "ended": ended, "outcome": outcome, "detail": ""
        })
        .to_string()
    }

    pub fn status(box_id: &str, commune: &str, state: &str) -> String {
        serde_json::json!({
            "v": 1, "box_id": box_id, "state": state, "at": "2026-11-23T08:00:05Z",
            "version": "0.1.0", "revisions": {"commune/phu-dong": 7},
            "scopes": ["all", "district/gia-lam", format!("commune/{commune}"), format!("box/{box_id}")],
            "disk_free": 5368709120u64, "now_playing": "Bản tin sáng", "volume": 70,
            "transfers": [{"bulletin": "tiem-chung", "chunks_held": 3, "chunks": 80}]
        })
        .to_string()
    }

    /// Parses and stores `(topic, payload)` pairs as the collector does, as of late 2026.
    pub fn put(archive: &Archive, messages: &[(String, String)]) -> Stored {
        let now = at("2026-12-31T00:00:00Z");
        let parsed: Vec<Message> = messages
            .iter()
            .map(|(topic, payload)| wire::parse(topic, payload.as_bytes(), now).unwrap())
            .collect();
        archive.store(&parsed, now).unwrap()
    }

    pub fn events(box_id: &str, payload: String) -> (String, String) {
        (format!("loaxa/events/{box_id}"), payload)
    }

    fn count(archive: &Archive, table: &str) -> i64 {
        archive
            .read(|c| c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)))
            .unwrap()
    }

    #[test]
    fn a_duplicate_event_is_dropped_and_only_new_events_are_told() {
        let (_dir, archive) = archive();
        let mut changes = archive.changes();
        let first = as_run("pd-01", 1, "2026-11-23T22:30:00Z", Some(0), "aired");
        let stored = put(
            &archive,
            &[
                events("pd-01", first.clone()),
                events("pd-01", first.clone()),
            ],
        );
        assert_eq!((stored.events, stored.duplicates), (1, 1));
        // Redelivered later, in another batch: still dropped.
        let stored = put(&archive, &[events("pd-01", first)]);
        assert_eq!((stored.events, stored.duplicates), (0, 1));
        assert_eq!(count(&archive, "archive_event"), 1);
        assert_eq!(count(&archive, "archive_as_run"), 1);
        let told: Vec<Change> = std::iter::from_fn(|| changes.try_recv().ok()).collect();
        assert_eq!(
            told,
            [
                Change::Event {
                    box_id: "pd-01".into(),
                    seq: 1,
                    kind: "as_run".into()
                },
                Change::Box {
                    box_id: "pd-01".into()
                },
            ]
        );
    }

    #[test]
    fn a_last_will_turns_a_box_offline_and_keeps_its_commune_and_status() {
        let (_dir, archive) = archive();
        let mut changes = archive.changes();
        let topic = "loaxa/status/pd-01".to_owned();
        put(
            &archive,
            &[(topic.clone(), status("pd-01", "phu-dong", "online"))],
        );
        // The same retained status again (every reconnect): nothing changed.
        put(
            &archive,
            &[(topic.clone(), status("pd-01", "phu-dong", "online"))],
        );
        let will = r#"{"v":1,"box_id":"pd-01","state":"offline","at":"2026-11-23T07:00:00Z"}"#;
        put(&archive, &[(topic, will.to_owned())]);
        let (state, commune, last_seen, status): (String, String, i64, String) = archive
            .read(|c| {
                c.query_row(
                    "SELECT state, commune, last_seen, status FROM archive_box",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
            })
            .unwrap();
        assert_eq!((state.as_str(), commune.as_str()), ("offline", "phu-dong"));
        assert_eq!(last_seen, at("2026-11-23T08:00:05Z").timestamp_millis());
        assert!(status.contains("tiem-chung"));
        let told = std::iter::from_fn(|| changes.try_recv().ok()).count();
        assert_eq!(told, 2, "online, then offline");
    }

    #[test]
    fn pruning_removes_what_is_older_than_the_cutoff_and_keeps_the_rest() {
        let (_dir, archive) = archive();
        let old = as_run("pd-01", 1, "2025-01-01T00:00:00Z", Some(0), "aired");
        let new = as_run("pd-01", 2, "2026-11-01T00:00:00Z", Some(0), "aired");
        let mut with_bulletin: serde_json::Value = serde_json::from_str(&old).unwrap();
        with_bulletin["seq"] = 3.into();
        with_bulletin["bulletins"] = serde_json::json!(["bao-lu"]);
        put(
            &archive,
            &[
                events("pd-01", old),
                events("pd-01", new),
                events("pd-01", with_bulletin.to_string()),
            ],
        );
        assert_eq!(count(&archive, "archive_as_run_bulletin"), 1);
        assert_eq!(
            archive.prune_step(at("2026-01-01T00:00:00Z"), 1).unwrap(),
            1
        );
        archive.prune(at("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(count(&archive, "archive_event"), 1);
        assert_eq!(count(&archive, "archive_as_run"), 1);
        assert_eq!(count(&archive, "archive_as_run_bulletin"), 0);
        assert_eq!(count(&archive, "archive_box"), 1, "boxes are kept");
    }

    #[test]
    fn an_archive_reopens_with_its_data_and_refuses_a_newer_schema() {
        let (dir, archive) = archive();
        let path = archive.path().to_owned();
        put(
            &archive,
            &[events(
                "pd-01",
                as_run("pd-01", 1, "2026-11-23T22:30:00Z", None, "missed"),
            )],
        );
        drop(archive);
        let archive = Archive::open(&path).unwrap();
        assert_eq!(count(&archive, "archive_event"), 1);
        let mode: String = archive
            .read(|c| c.query_row("PRAGMA journal_mode", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(mode, "wal");
        archive
            .read(|c| c.execute("UPDATE archive_schema SET version = 99", []))
            .unwrap();
        drop(archive);
        assert!(matches!(
            Archive::open(&path),
            Err(ArchiveError::TooNew { found: 99, .. })
        ));
        drop(dir);
    }

    #[test]
    fn an_archive_of_the_first_schema_gains_the_register_and_keeps_its_boxes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA_V1).unwrap();
            conn.execute_batch(
                "CREATE TABLE archive_schema (version INTEGER NOT NULL);
                 INSERT INTO archive_schema VALUES (1);
                 INSERT INTO archive_box (box_id, state, commune) VALUES ('pd-01', 'online', 'phu-dong');",
            )
            .unwrap();
        }
        let archive = Archive::open(&path).unwrap();
        let row = archive.fleet_box("pd-01").unwrap().unwrap();
        assert_eq!(
            (row.commune.as_deref(), row.registered),
            (Some("phu-dong"), false)
        );
        archive.register_box("pd-01", Some("kim-hoa")).unwrap();
        assert_eq!(
            archive
                .fleet_box("pd-01")
                .unwrap()
                .unwrap()
                .commune
                .as_deref(),
            Some("kim-hoa")
        );
    }
}
