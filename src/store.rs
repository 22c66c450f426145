//! The durable state of a box, in SQLite (WAL, `synchronous=FULL`, so a committed write survives a
//! power cut): the as-run log and the planning cursor.
//!
//! The as-run log is written *ahead*: a row is inserted as `airing` before the first sample goes
//! out and completed afterwards. A row still `airing` at start-up therefore means the box died
//! during that broadcast; `recover_interrupted` turns it into `interrupted`, never losing it.
//!
//! The cursor is the instant up to which every occurrence has been dealt with (aired, missed or
//! handed to the player). On restart, occurrences after it are what the box missed while off.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;

use crate::reason::{Reason, Reasons};

/// Bumped whenever the tables change; `open` migrates older files forward.
const SCHEMA_VERSION: i64 = 4;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: cannot create state directory: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path}: written by a newer loaxa (schema {found}, this one knows {SCHEMA_VERSION})")]
    TooNew { path: PathBuf, found: i64 },
    #[error("{path}: bad timestamp {value:?} in the as-run log")]
    BadTimestamp { path: PathBuf, value: String },
}

/// An as-run row to write whole, with [`Store::record`].
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub program_id: &'a str,
    pub title: &'a str,
    pub scheduled: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    pub outcome: Outcome,
    pub reasons: &'a Reasons,
}

/// The master volume and who set it: kept in the store, so that a restart (a power cut) airs
/// at the level the operator or the district chose, not at full volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Volume {
    /// 0–100.
    pub percent: u8,
    pub set_by: SetBy,
}

/// Who set the master volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetBy {
    /// Nobody yet: the box starts at full volume.
    Default,
    /// `loaxa volume` on the box.
    Operator,
    /// A signed `volume` command from the district.
    District,
}

impl Volume {
    /// The level of a box whose volume was never set.
    pub const DEFAULT: Volume = Volume {
        percent: 100,
        set_by: SetBy::Default,
    };
}

/// How an occurrence ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Being broadcast now (or the box died during it: see `recover_interrupted`).
    Airing,
    Aired,
    Missed,
    Failed,
    Interrupted,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Airing => "airing",
            Outcome::Aired => "aired",
            Outcome::Missed => "missed",
            Outcome::Failed => "failed",
            Outcome::Interrupted => "interrupted",
        }
    }

    fn from_db(text: &str) -> Outcome {
        match text {
            "aired" => Outcome::Aired,
            "missed" => Outcome::Missed,
            "failed" => Outcome::Failed,
            "interrupted" => Outcome::Interrupted,
            _ => Outcome::Airing,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the as-run log. Read back only from the control socket's `today` reply, which
/// refuses fields it does not know.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsRunEntry {
    pub id: i64,
    pub program_id: String,
    pub title: String,
    pub scheduled: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    pub outcome: Outcome,
    /// Why it failed or was missed, how late it started, which items failed: in English, as
    /// the district is told it.
    pub detail: String,
    /// The same, typed, for the operator's words; empty for entries of an older box.
    #[serde(default)]
    pub reasons: Reasons,
    /// 1 for the first try; a retry after an interruption is 2, and so on.
    pub attempt: u32,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// How as-run rows are read: a reader beside a daemon may find a store of an older schema
    /// (a daemon still migrating it, or not yet restarted after an upgrade).
    select_entry: &'static str,
}

/// Bytes available to an unprivileged writer on the file system holding `dir`.
pub fn free_space(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is NUL-terminated and `stats` is only read after statvfs filled it.
    let stats = unsafe {
        if libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) != 0 {
            return None;
        }
        stats.assume_init()
    };
    // The fields are 32-bit on 32-bit ARM boxes, 64-bit elsewhere.
    #[allow(clippy::useless_conversion)]
    Some(u64::from(stats.f_bavail).saturating_mul(u64::from(stats.f_frsize)))
}

impl Store {
    /// Opens (creating if needed) `loaxa.db` in `state_dir`, for the daemon.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(state_dir).map_err(|source| StoreError::CreateDir {
            path: state_dir.to_owned(),
            source,
        })?;
        let store = Store::connect(&state_dir.join("loaxa.db"), OpenFlags::default())?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing store for reading (`loaxa log`), beside a running daemon: it never
    /// writes, so it never competes with the daemon for the write lock. None when no daemon has
    /// created the store yet.
    pub fn open_read_only(state_dir: &Path) -> Result<Option<Store>, StoreError> {
        let path = state_dir.join("loaxa.db");
        if !path.exists() {
            return Ok(None);
        }
        let mut store = Store::connect(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let version = store.schema_version()?;
        if version < 4 {
            store.select_entry = SELECT_ENTRY_BEFORE_REASONS;
        }
        Ok((version > 0).then_some(store))
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(self.sqlite())
    }

    fn connect(path: &Path, flags: OpenFlags) -> Result<Store, StoreError> {
        let sqlite = |source| StoreError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
        // Waiting for a lock beats failing: the daemon's transactions are short.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite)?;
        Ok(Store {
            conn,
            path: path.to_owned(),
            select_entry: SELECT_ENTRY,
        })
    }

    fn sqlite(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let version = self.schema_version()?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
            });
        }
        self.conn
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .map_err(self.sqlite())?;
        if version < 1 {
            self.create_v1()?;
        }
        if version < 2 {
            // v2: programmes operators add on the box (`loaxa program add`), and the loudness
            // of every audio file measured once.
            self.conn
                .execute_batch(
                    "BEGIN;
                     CREATE TABLE IF NOT EXISTS loudness (
                         path       TEXT PRIMARY KEY,
                         size       INTEGER NOT NULL,
                         modified   INTEGER NOT NULL,
                         integrated REAL,
                         true_peak  REAL
                     );
                     CREATE TABLE IF NOT EXISTS local_program (
                         id       TEXT PRIMARY KEY,
                         schedule TEXT NOT NULL,
                         enabled  INTEGER NOT NULL DEFAULT 1,
                         added_at TEXT NOT NULL
                     );
                     PRAGMA user_version = 2;
                     COMMIT;",
                )
                .map_err(self.sqlite())?;
        }
        if version < 3 {
            // v3: manifests carry the instant they were issued, and the box remembers, per
            // bulletin id, the newest it took (kept when the bulletin itself goes), so a replay
            // of a manifest it replaced is refused. Manifests stored before have no issue time:
            // the instant they arrived stands in, which is after they were issued.
            self.conn
                .execute_batch(
                    "BEGIN;
                     CREATE TABLE IF NOT EXISTS bulletin_issued (
                         id        TEXT PRIMARY KEY,
                         issued_at TEXT NOT NULL
                     );
                     UPDATE bulletin SET manifest = json_set(manifest, '$.issued_at', received_at)
                         WHERE json_extract(manifest, '$.issued_at') IS NULL;
                     INSERT OR IGNORE INTO bulletin_issued (id, issued_at)
                         SELECT id, received_at FROM bulletin;
                     PRAGMA user_version = 3;
                     COMMIT;",
                )
                .map_err(self.sqlite())?;
        }
        if version < 4 {
            // v4: each entry's reasons, typed (JSON), beside the English detail, so that the
            // operator's commands say them in the operator's language.
            self.conn
                .execute_batch(
                    "BEGIN;
                     ALTER TABLE as_run ADD COLUMN reasons TEXT NOT NULL DEFAULT '[]';
                     PRAGMA user_version = 4;
                     COMMIT;",
                )
                .map_err(self.sqlite())?;
        }
        Ok(())
    }

    fn create_v1(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(
                "BEGIN;
                 CREATE TABLE IF NOT EXISTS as_run (
                     id           INTEGER PRIMARY KEY,
                     program_id   TEXT NOT NULL,
                     title        TEXT NOT NULL,
                     scheduled_at TEXT NOT NULL,
                     started_at   TEXT,
                     ended_at     TEXT,
                     outcome      TEXT NOT NULL,
                     detail       TEXT NOT NULL DEFAULT '',
                     attempt      INTEGER NOT NULL DEFAULT 1
                 );
                 CREATE INDEX IF NOT EXISTS as_run_occurrence ON as_run (program_id, scheduled_at);
                 CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS remote_schedule (
                     scope       TEXT PRIMARY KEY,
                     revision    INTEGER NOT NULL,
                     schedule    TEXT NOT NULL,
                     envelope    BLOB NOT NULL,
                     received_at TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS bulletin (
                     id          TEXT PRIMARY KEY,
                     sha256      TEXT NOT NULL,
                     manifest    TEXT NOT NULL,
                     received_at TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS outbox (
                     seq     INTEGER PRIMARY KEY AUTOINCREMENT,
                     topic   TEXT NOT NULL,
                     payload BLOB NOT NULL
                 );
                 PRAGMA user_version = 1;
                 COMMIT;",
            )
            .map_err(self.sqlite())
    }

    /// Marks every row left `airing` by a crash as `interrupted` and returns them.
    pub fn recover_interrupted(&mut self) -> Result<Vec<AsRunEntry>, StoreError> {
        let tx = self
            .conn
            .transaction()
            .map_err(|source| StoreError::Sqlite {
                path: self.path.clone(),
                source,
            })?;
        let ids: Vec<i64> = {
            let mut stmt = tx
                .prepare("SELECT id FROM as_run WHERE outcome = 'airing' ORDER BY id")
                .map_err(|source| StoreError::Sqlite {
                    path: self.path.clone(),
                    source,
                })?;
            let rows = stmt.query_map([], |row| row.get(0));
            rows.and_then(Iterator::collect)
                .map_err(|source| StoreError::Sqlite {
                    path: self.path.clone(),
                    source,
                })?
        };
        let power_cut = Reasons::one(Reason::PowerCut);
        tx.execute(
            "UPDATE as_run SET outcome = 'interrupted', detail = ?1, reasons = ?2
             WHERE outcome = 'airing'",
            params![power_cut.to_string(), reasons_json(&power_cut)],
        )
        .and_then(|_| tx.commit())
        .map_err(|source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        })?;
        ids.into_iter().map(|id| self.entry(id)).collect()
    }

    /// Records that an occurrence starts airing now (before its first sample), and moves the
    /// cursor past it, in one transaction. Returns the row to complete with `finish`.
    pub fn begin(
        &mut self,
        program_id: &str,
        title: &str,
        scheduled: DateTime<Utc>,
        started: DateTime<Utc>,
        attempt: u32,
    ) -> Result<i64, StoreError> {
        self.insert(
            program_id,
            title,
            scheduled,
            Some(started),
            None,
            Outcome::Airing,
            &Reasons::default(),
            attempt,
        )
    }

    /// Completes a row written by `begin` with what really happened (`started`: the first
    /// sample's instant, None if nothing went out).
    pub fn finish(
        &mut self,
        id: i64,
        started: Option<DateTime<Utc>>,
        ended: DateTime<Utc>,
        outcome: Outcome,
        reasons: &Reasons,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE as_run SET started_at = ?1, ended_at = ?2, outcome = ?3, detail = ?4,
                     reasons = ?5
                 WHERE id = ?6",
                params![
                    started.map(timestamp),
                    timestamp(ended),
                    outcome.as_str(),
                    reasons.to_string(),
                    reasons_json(reasons),
                    id
                ],
            )
            .map(drop)
            .map_err(self.sqlite())
    }

    /// Writes a whole row at once: what the daemon kept in memory while the store refused writes.
    pub fn record(&mut self, entry: &NewEntry, attempt: u32) -> Result<i64, StoreError> {
        self.insert(
            entry.program_id,
            entry.title,
            entry.scheduled,
            entry.started,
            entry.ended,
            entry.outcome,
            entry.reasons,
            attempt,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn insert(
        &mut self,
        program_id: &str,
        title: &str,
        scheduled: DateTime<Utc>,
        started: Option<DateTime<Utc>>,
        ended: Option<DateTime<Utc>>,
        outcome: Outcome,
        reasons: &Reasons,
        attempt: u32,
    ) -> Result<i64, StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sqlite)?;
        tx.execute(
            "INSERT INTO as_run (program_id, title, scheduled_at, started_at, ended_at, outcome, detail, attempt, reasons)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                program_id,
                title,
                timestamp(scheduled),
                started.map(timestamp),
                ended.map(timestamp),
                outcome.as_str(),
                reasons.to_string(),
                attempt,
                reasons_json(reasons)
            ],
        )
        .map_err(sqlite)?;
        let id = tx.last_insert_rowid();
        advance_cursor(&tx, scheduled).map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        Ok(id)
    }

    /// The value kept under `key` in `meta`, if any.
    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.sqlite())
    }

    /// Keeps `value` under `key` in `meta`, replacing what was there.
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(drop)
            .map_err(self.sqlite())
    }

    /// The instant up to which every occurrence has been dealt with; None on a new box.
    pub fn cursor(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let value = self.meta("cursor")?;
        value.map(|v| self.parse_time(&v)).transpose()
    }

    /// When the last command carried out for `scope` was issued.
    pub fn last_command(&self, scope: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let value = self.meta(&format!("command:{scope}"))?;
        value.map(|v| self.parse_time(&v)).transpose()
    }

    /// Records that a command for `scope` issued at `issued` was accepted.
    pub fn set_last_command(
        &mut self,
        scope: &str,
        issued: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.set_meta(&format!("command:{scope}"), &timestamp(issued))
    }

    /// The master volume last set, and by whom; None on a box whose volume was never set.
    pub fn volume(&self) -> Result<Option<Volume>, StoreError> {
        // A value this build cannot read is a volume never set, not a box that cannot start.
        Ok(self
            .meta("volume")?
            .and_then(|v| serde_json::from_str(&v).ok()))
    }

    /// Keeps the master volume across restarts.
    pub fn set_volume(&mut self, volume: Volume) -> Result<(), StoreError> {
        self.set_meta("volume", &serde_json::json!(volume).to_string())
    }

    /// Moves the cursor forward to `to` (never backward).
    pub fn set_cursor(&mut self, to: DateTime<Utc>) -> Result<(), StoreError> {
        advance_cursor(&self.conn, to).map_err(self.sqlite())
    }

    /// Moves the cursor to `to` even if that is back: after the wall clock was stepped back, a
    /// cursor left in the "future" would keep everything until then off the air. What is in the
    /// log already is not aired again (see `is_recorded`).
    pub fn reset_cursor(&mut self, to: DateTime<Utc>) -> Result<(), StoreError> {
        self.set_meta("cursor", &timestamp(to))
    }

    /// Whether the log has any row for this occurrence: it has been dealt with, one way or another.
    pub fn is_recorded(
        &self,
        program_id: &str,
        scheduled: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.has_row(program_id, scheduled, "")
    }

    /// Whether this occurrence already aired to the end, or was decided never to air.
    pub fn is_settled(
        &self,
        program_id: &str,
        scheduled: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.has_row(
            program_id,
            scheduled,
            "AND outcome IN ('aired', 'missed', 'failed')",
        )
    }

    fn has_row(
        &self,
        program_id: &str,
        scheduled: DateTime<Utc>,
        condition: &str,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM as_run WHERE program_id = ?1 AND scheduled_at = ?2 {condition})"
        );
        self.conn
            .query_row(&sql, params![program_id, timestamp(scheduled)], |row| {
                row.get(0)
            })
            .map_err(self.sqlite())
    }

    /// The schedule revision held for `scope`, if any.
    pub fn schedule_revision(&self, scope: &str) -> Result<Option<u64>, StoreError> {
        self.conn
            .query_row(
                "SELECT revision FROM remote_schedule WHERE scope = ?1",
                params![scope],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.sqlite())
    }

    /// The schedule text held for `scope`, if any.
    pub fn schedule_text(&self, scope: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT schedule FROM remote_schedule WHERE scope = ?1",
                params![scope],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.sqlite())
    }

    /// Stores a verified schedule for `scope`, replacing the previous revision. The envelope is
    /// kept as received, so the signature can be checked again later.
    pub fn save_schedule(
        &mut self,
        scope: &str,
        revision: u64,
        schedule: &str,
        envelope: &[u8],
        received: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO remote_schedule (scope, revision, schedule, envelope, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (scope) DO UPDATE SET revision = excluded.revision,
                     schedule = excluded.schedule, envelope = excluded.envelope,
                     received_at = excluded.received_at",
                params![scope, revision, schedule, envelope, timestamp(received)],
            )
            .map(drop)
            .map_err(self.sqlite())
    }

    /// Every stored remote schedule: (scope, revision, schedule text), by scope.
    pub fn remote_schedules(&self) -> Result<Vec<(String, u64, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT scope, revision, schedule FROM remote_schedule ORDER BY scope")
            .map_err(self.sqlite())?;
        stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .and_then(Iterator::collect)
            .map_err(self.sqlite())
    }

    /// The loudness measured for `path`, if measured while it had this size and modification
    /// time (a replaced file is measured again).
    pub fn loudness(
        &self,
        path: &Path,
        size: u64,
        modified: i64,
    ) -> Result<Option<loaxa_media::loudness::Loudness>, StoreError> {
        self.conn
            .query_row(
                "SELECT integrated, true_peak FROM loudness WHERE path = ?1 AND size = ?2 AND modified = ?3",
                params![path.to_string_lossy(), size as i64, modified],
                |row| {
                    Ok(loaxa_media::loudness::Loudness {
                        integrated_lufs: row.get(0)?,
                        true_peak_dbtp: row.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(self.sqlite())
    }

    pub fn save_loudness(
        &mut self,
        path: &Path,
        size: u64,
        modified: i64,
        measured: &loaxa_media::loudness::Loudness,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO loudness (path, size, modified, integrated, true_peak)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (path) DO UPDATE SET size = excluded.size,
                     modified = excluded.modified, integrated = excluded.integrated,
                     true_peak = excluded.true_peak",
                params![
                    path.to_string_lossy(),
                    size as i64,
                    modified,
                    measured.integrated_lufs,
                    measured.true_peak_dbtp
                ],
            )
            .map(drop)
            .map_err(self.sqlite())
    }

    /// Adds (or replaces) a local programme: its schedule text, enabled.
    pub fn save_local_program(
        &mut self,
        id: &str,
        schedule: &str,
        added: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO local_program (id, schedule, enabled, added_at) VALUES (?1, ?2, 1, ?3)
                 ON CONFLICT (id) DO UPDATE SET schedule = excluded.schedule, enabled = 1,
                     added_at = excluded.added_at",
                params![id, schedule, timestamp(added)],
            )
            .map(drop)
            .map_err(self.sqlite())
    }

    /// Local programmes: (id, schedule text, enabled), by id.
    pub fn local_programs(&self) -> Result<Vec<(String, String, bool)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, schedule, enabled FROM local_program ORDER BY id")
            .map_err(self.sqlite())?;
        stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .and_then(Iterator::collect)
            .map_err(self.sqlite())
    }

    /// Enables or disables a local programme; false if there is none with that id.
    pub fn enable_local_program(&mut self, id: &str, enabled: bool) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "UPDATE local_program SET enabled = ?2 WHERE id = ?1",
                params![id, enabled],
            )
            .map(|n| n > 0)
            .map_err(self.sqlite())
    }

    /// Removes a local programme; false if there is none with that id.
    pub fn remove_local_program(&mut self, id: &str) -> Result<bool, StoreError> {
        self.conn
            .execute("DELETE FROM local_program WHERE id = ?1", params![id])
            .map(|n| n > 0)
            .map_err(self.sqlite())
    }

    /// Stores a verified bulletin manifest (JSON), replacing an earlier one with the same id,
    /// and remembers `issued` as the newest issue time taken for that id.
    pub fn save_manifest(
        &mut self,
        id: &str,
        sha256: &str,
        manifest: &str,
        issued: DateTime<Utc>,
        received: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sqlite)?;
        tx.execute(
            "INSERT INTO bulletin (id, sha256, manifest, received_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET sha256 = excluded.sha256, manifest = excluded.manifest,
                 received_at = excluded.received_at",
            params![id, sha256, manifest, timestamp(received)],
        )
        .map_err(sqlite)?;
        tx.execute(
            "INSERT INTO bulletin_issued (id, issued_at) VALUES (?1, ?2)
             ON CONFLICT (id) DO UPDATE SET issued_at = excluded.issued_at",
            params![id, exact_timestamp(issued)],
        )
        .map_err(sqlite)?;
        tx.commit().map_err(sqlite)
    }

    /// The issue time of the newest manifest taken for bulletin `id`, even if the bulletin has
    /// gone since; None if the box never held one.
    pub fn manifest_issued(&self, id: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let value: Option<String> = self
            .conn
            .query_row(
                "SELECT issued_at FROM bulletin_issued WHERE id = ?1",
                params![id],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.sqlite())?;
        value.map(|v| self.parse_time(&v)).transpose()
    }

    /// The stored manifest (JSON) of bulletin `id`, if the box holds one.
    pub fn manifest(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT manifest FROM bulletin WHERE id = ?1",
                params![id],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.sqlite())
    }

    /// Stored manifests (JSON), by id.
    pub fn manifests(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT manifest FROM bulletin ORDER BY id")
            .map_err(self.sqlite())?;
        stmt.query_map([], |row| row.get(0))
            .and_then(Iterator::collect)
            .map_err(self.sqlite())
    }

    /// Takes the manifest of bulletin `id` with `sha256` out of the store, remembering it (in
    /// `meta`) as retired: the broker re-delivering the same retained manifest must not make
    /// the box fetch it again, and a programme naming it can still say why it is gone.
    pub fn retire_manifest(&mut self, id: &str, sha256: &str) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sqlite)?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value)
             SELECT 'retired:' || sha256, manifest FROM bulletin WHERE id = ?1 AND sha256 = ?2",
            params![id, sha256],
        )
        .map_err(sqlite)?;
        tx.execute(
            "DELETE FROM bulletin WHERE id = ?1 AND sha256 = ?2",
            params![id, sha256],
        )
        .map_err(sqlite)?;
        tx.commit().map_err(sqlite)
    }

    /// Manifests (JSON) taken out by `retire_manifest`.
    pub fn retired_manifests(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT value FROM meta WHERE key LIKE 'retired:%' ORDER BY key")
            .map_err(self.sqlite())?;
        stmt.query_map([], |row| row.get(0))
            .and_then(Iterator::collect)
            .map_err(self.sqlite())
    }

    /// Forgets that the audio with `sha256` was retired.
    pub fn unretire(&mut self, sha256: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "DELETE FROM meta WHERE key = 'retired:' || ?1",
                params![sha256],
            )
            .map(drop)
            .map_err(self.sqlite())
    }

    /// Queues a message for the district; it stays until `sent` confirms the broker has it.
    /// Returns its sequence number, increasing for the life of the store.
    pub fn enqueue(&mut self, topic: &str, payload: &[u8]) -> Result<u64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO outbox (topic, payload) VALUES (?1, ?2)",
                params![topic, payload],
            )
            .map_err(self.sqlite())?;
        Ok(self.conn.last_insert_rowid() as u64)
    }

    /// The sequence number the next `enqueue` will get.
    pub fn next_outbox_seq(&self) -> Result<u64, StoreError> {
        let last: Option<i64> = self
            .conn
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.sqlite())?;
        Ok(last.map_or(1, |l| l as u64 + 1))
    }

    /// The oldest queued messages: (seq, topic, payload).
    pub fn outbox(&self, limit: usize) -> Result<Vec<(u64, String, Vec<u8>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, topic, payload FROM outbox ORDER BY seq LIMIT ?1")
            .map_err(self.sqlite())?;
        stmt.query_map(params![limit as i64], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .and_then(Iterator::collect)
        .map_err(self.sqlite())
    }

    /// Removes a queued message once delivery is confirmed, if `payload` is the one queued
    /// under `seq` (so a stray message with a reused number removes nothing). Returns whether
    /// a row went.
    pub fn delivered(&mut self, seq: u64, payload: &[u8]) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "DELETE FROM outbox WHERE seq = ?1 AND payload = ?2",
                params![seq, payload],
            )
            .map(|n| n > 0)
            .map_err(self.sqlite())
    }

    /// The as-run log from `since` (by scheduled time) on, oldest first.
    pub fn entries_since(&self, since: DateTime<Utc>) -> Result<Vec<AsRunEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "{} WHERE scheduled_at >= ?1 ORDER BY scheduled_at, id",
                self.select_entry
            ))
            .map_err(self.sqlite())?;
        let rows = stmt
            .query_map(params![timestamp(since)], raw_entry)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(self.sqlite())?;
        rows.into_iter().map(|raw| self.entry_from(raw)).collect()
    }

    /// The as-run entry that started airing last among those that aired in full.
    pub fn last_aired(&self) -> Result<Option<AsRunEntry>, StoreError> {
        let raw = self
            .conn
            .query_row(
                &format!(
                    "{} WHERE outcome = ?1 ORDER BY started_at DESC, id DESC LIMIT 1",
                    self.select_entry
                ),
                params![Outcome::Aired.to_string()],
                raw_entry,
            )
            .optional()
            .map_err(self.sqlite())?;
        raw.map(|raw| self.entry_from(raw)).transpose()
    }

    /// One as-run row by id.
    pub fn entry(&self, id: i64) -> Result<AsRunEntry, StoreError> {
        let raw = self
            .conn
            .query_row(
                &format!("{} WHERE id = ?1", self.select_entry),
                params![id],
                raw_entry,
            )
            .map_err(self.sqlite())?;
        self.entry_from(raw)
    }

    fn entry_from(&self, raw: RawEntry) -> Result<AsRunEntry, StoreError> {
        let optional = |v: Option<String>| v.map(|t| self.parse_time(&t)).transpose();
        Ok(AsRunEntry {
            id: raw.id,
            program_id: raw.program_id,
            title: raw.title,
            scheduled: self.parse_time(&raw.scheduled)?,
            started: optional(raw.started)?,
            ended: optional(raw.ended)?,
            outcome: Outcome::from_db(&raw.outcome),
            detail: raw.detail,
            // Reasons this build cannot read (written by a newer one) leave the English.
            reasons: serde_json::from_str(&raw.reasons).unwrap_or_default(),
            attempt: raw.attempt,
        })
    }

    fn parse_time(&self, value: &str) -> Result<DateTime<Utc>, StoreError> {
        DateTime::parse_from_rfc3339(value)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| StoreError::BadTimestamp {
                path: self.path.clone(),
                value: value.to_owned(),
            })
    }
}

const SELECT_ENTRY: &str = "SELECT id, program_id, title, scheduled_at, started_at, ended_at, outcome, detail, attempt, reasons FROM as_run";
/// The same, from a store of schema 3 or older: no reasons, the English detail alone.
const SELECT_ENTRY_BEFORE_REASONS: &str = "SELECT id, program_id, title, scheduled_at, started_at, ended_at, outcome, detail, attempt, '[]' FROM as_run";

fn reasons_json(reasons: &Reasons) -> String {
    serde_json::json!(reasons).to_string()
}

struct RawEntry {
    id: i64,
    program_id: String,
    title: String,
    scheduled: String,
    started: Option<String>,
    ended: Option<String>,
    outcome: String,
    detail: String,
    attempt: u32,
    reasons: String,
}

fn raw_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawEntry> {
    Ok(RawEntry {
        id: row.get(0)?,
        program_id: row.get(1)?,
        title: row.get(2)?,
        scheduled: row.get(3)?,
        started: row.get(4)?,
        ended: row.get(5)?,
        outcome: row.get(6)?,
        detail: row.get(7)?,
        attempt: row.get(8)?,
        reasons: row.get(9)?,
    })
}

/// Fixed-width UTC text: readable with the `sqlite3` tool, and sorts in time order as text.
fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An instant to the nanosecond, for what is compared with the signed original (an issue
/// time): [`timestamp`]'s milliseconds would make a manifest look older than itself.
fn exact_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn advance_cursor(conn: &Connection, to: DateTime<Utc>) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('cursor', ?1)
         ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
        params![timestamp(to)],
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_row_left_airing_by_a_crash_comes_back_as_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let scheduled = at("2026-11-24T05:30:00+07:00");
        {
            let mut store = Store::open(dir.path()).unwrap();
            let done = store
                .begin("morning", "Sáng", scheduled, scheduled, 1)
                .unwrap();
            store
                .finish(
                    done,
                    Some(scheduled),
                    scheduled + chrono::Duration::seconds(30),
                    Outcome::Aired,
                    &Reasons::default(),
                )
                .unwrap();
            store
                .begin("noon", "Trưa", scheduled, scheduled, 1)
                .unwrap();
        } // dropped without finishing: the process died
        let mut store = Store::open(dir.path()).unwrap();
        let interrupted = store.recover_interrupted().unwrap();
        assert_eq!(interrupted.len(), 1);
        assert_eq!(interrupted[0].program_id, "noon");
        assert_eq!(interrupted[0].outcome, Outcome::Interrupted);
        assert!(store.is_settled("morning", scheduled).unwrap());
        assert!(!store.is_settled("noon", scheduled).unwrap());
        assert_eq!(store.entries_since(scheduled).unwrap().len(), 2);
    }

    #[test]
    fn the_cursor_only_moves_forward() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(store.cursor().unwrap(), None);
        store.set_cursor(at("2026-11-24T06:00:00Z")).unwrap();
        let missed = NewEntry {
            program_id: "x",
            title: "x",
            scheduled: at("2026-11-24T05:00:00Z"),
            started: None,
            ended: None,
            outcome: Outcome::Missed,
            reasons: &Reasons::one(Reason::PastCatchUp { window_ms: 600_000 }),
        };
        store.record(&missed, 1).unwrap();
        assert_eq!(store.cursor().unwrap(), Some(at("2026-11-24T06:00:00Z")));
        store.set_cursor(at("2026-11-24T07:00:00Z")).unwrap();
        assert_eq!(store.cursor().unwrap(), Some(at("2026-11-24T07:00:00Z")));
    }

    #[test]
    fn a_schedule_revision_replaces_the_previous_one_for_its_scope() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let now = at("2026-11-24T06:00:00Z");
        assert_eq!(store.schedule_revision("commune/x").unwrap(), None);
        store
            .save_schedule("commune/x", 3, "a", b"{}", now)
            .unwrap();
        store
            .save_schedule("commune/x", 4, "b", b"{}", now)
            .unwrap();
        store.save_schedule("all", 1, "c", b"{}", now).unwrap();
        assert_eq!(store.schedule_revision("commune/x").unwrap(), Some(4));
        let held = store.remote_schedules().unwrap();
        assert_eq!(
            held,
            [
                ("all".into(), 1, "c".into()),
                ("commune/x".into(), 4, "b".into())
            ]
        );
    }

    #[test]
    fn the_outbox_keeps_messages_in_order_until_delivered_and_never_reuses_a_sequence_number() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let first = store.enqueue("t", b"1").unwrap();
        assert_eq!(store.next_outbox_seq().unwrap(), first + 1);
        let second = store.enqueue("t", b"2").unwrap();
        assert!(!store.delivered(second, b"not what was queued").unwrap());
        assert!(store.delivered(second, b"2").unwrap());
        let third = store.enqueue("t", b"3").unwrap();
        assert!(first < second && second < third);
        let queued: Vec<u64> = store
            .outbox(10)
            .unwrap()
            .into_iter()
            .map(|(seq, _, _)| seq)
            .collect();
        assert_eq!(queued, [first, third]);
    }

    #[test]
    fn the_newest_manifest_issue_time_is_remembered_per_bulletin_and_outlives_its_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let issued = at("2026-11-24T06:00:00.123456789Z");
        assert_eq!(store.manifest_issued("tin").unwrap(), None);
        store
            .save_manifest("tin", "a", "{}", issued, at("2026-11-24T06:01:00Z"))
            .unwrap();
        assert_eq!(
            store.manifest_issued("tin").unwrap(),
            Some(issued),
            "to the nanosecond"
        );
        assert_eq!(store.manifest("tin").unwrap().as_deref(), Some("{}"));
        store.conn.execute("DELETE FROM bulletin", []).unwrap();
        assert_eq!(store.manifest("tin").unwrap(), None);
        assert_eq!(store.manifest_issued("tin").unwrap(), Some(issued));
    }

    #[test]
    fn manifests_stored_before_issue_times_get_the_instant_they_arrived() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .conn
                .execute_batch(
                    "DROP TABLE bulletin_issued;
                     ALTER TABLE as_run DROP COLUMN reasons;
                     INSERT INTO bulletin VALUES ('tin', 'a', '{\"id\":\"tin\"}', '2026-11-24T06:01:00.000Z');
                     PRAGMA user_version = 2;",
                )
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.manifest("tin").unwrap().as_deref(),
            Some("{\"id\":\"tin\",\"issued_at\":\"2026-11-24T06:01:00.000Z\"}")
        );
        assert_eq!(
            store.manifest_issued("tin").unwrap(),
            Some(at("2026-11-24T06:01:00Z"))
        );
    }

    /// A store as schema 3 left it, with one entry: English detail, no reasons.
    fn store_before_reasons(dir: &Path) {
        let store = Store::open(dir).unwrap();
        store
            .conn
            .execute_batch(
                "ALTER TABLE as_run DROP COLUMN reasons;
                 INSERT INTO as_run (program_id, title, scheduled_at, outcome, detail)
                     VALUES ('old', 'Cũ', '2026-11-24T05:00:00.000Z', 'missed', 'box was off');
                 PRAGMA user_version = 3;",
            )
            .unwrap();
    }

    #[test]
    fn an_entry_keeps_its_reasons_typed_beside_the_english_and_an_older_entry_keeps_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let scheduled = at("2026-11-24T06:00:00Z");
        store_before_reasons(dir.path());
        let mut store = Store::open(dir.path()).unwrap();
        let reasons = Reasons(vec![
            Reason::Retried { late_ms: 240_000 },
            Reason::StoppedByDistrict,
        ]);
        let row = store.begin("tin", "Tin", scheduled, scheduled, 2).unwrap();
        store
            .finish(
                row,
                Some(scheduled),
                scheduled,
                Outcome::Interrupted,
                &reasons,
            )
            .unwrap();
        let entries = store.entries_since(at("2026-11-24T00:00:00Z")).unwrap();
        assert_eq!(entries[0].detail, "box was off");
        assert!(entries[0].reasons.is_empty());
        assert_eq!(entries[1].reasons, reasons);
        assert_eq!(
            entries[1].detail,
            "retry after interruption, late by 4 min; stopped by the district"
        );
    }

    #[test]
    fn a_reader_beside_a_daemon_reads_a_store_of_the_schema_before_reasons() {
        let dir = tempfile::tempdir().unwrap();
        store_before_reasons(dir.path());
        let reader = Store::open_read_only(dir.path()).unwrap().unwrap();
        let entries = reader.entries_since(at("2026-11-24T00:00:00Z")).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].detail, "box was off");
        assert!(entries[0].reasons.is_empty());
    }

    #[test]
    fn the_volume_is_kept_with_who_set_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(store.volume().unwrap(), None);
        let set = Volume {
            percent: 40,
            set_by: SetBy::District,
        };
        store.set_volume(set).unwrap();
        drop(store);
        assert_eq!(
            Store::open(dir.path()).unwrap().volume().unwrap(),
            Some(set)
        );
    }

    #[test]
    fn the_database_is_in_wal_mode_with_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        let sync: i64 = store
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!((mode.as_str(), sync), ("wal", 2));
    }
}
