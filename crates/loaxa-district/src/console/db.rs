//! What the office decides, in SQLite: accounts and sessions, communes and groups, bulletins and
//! their approval, programmes, publications with the boxes' feedback, and the audit log.
//!
//! (What the boxes *say* — statuses and as-run — is the archive's, in the same file.)
//!
//! One connection behind a mutex, used from blocking threads ([`Db::call`]): the console's own
//! writes are a few per minute, and SQLite in WAL mode lets the archive's collector write and the
//! report pages read through their own connections at the same time.

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database: {0}")]
    Corrupt(String),
    #[error("database: the worker thread failed: {0}")]
    Worker(String),
}

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = r#"
CREATE TABLE console_accounts (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    commune TEXT,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES console_accounts(id),
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ip TEXT NOT NULL
);
CREATE TABLE console_login_failures (
    username TEXT NOT NULL,
    ip TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX console_login_failures_by_user ON console_login_failures(username, at);
CREATE INDEX console_login_failures_by_ip ON console_login_failures(ip, at);
CREATE TABLE console_audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    account TEXT NOT NULL,
    ip TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);
-- No role can edit the audit log: the database itself refuses.
CREATE TRIGGER console_audit_is_append_only_update BEFORE UPDATE ON console_audit
BEGIN SELECT RAISE(ABORT, 'the audit log cannot be changed'); END;
CREATE TRIGGER console_audit_is_append_only_delete BEFORE DELETE ON console_audit
BEGIN SELECT RAISE(ABORT, 'the audit log cannot be changed'); END;
CREATE TABLE console_communes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE console_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    commune TEXT
);
CREATE TABLE console_group_boxes (
    group_id TEXT NOT NULL REFERENCES console_groups(id) ON DELETE CASCADE,
    box_id TEXT NOT NULL,
    PRIMARY KEY (group_id, box_id)
);
CREATE TABLE console_bulletins (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    level TEXT NOT NULL,
    state TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    codec TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    loudness_lufs REAL,
    targets TEXT NOT NULL,
    valid_until TEXT,
    commune TEXT,
    uploaded_by INTEGER NOT NULL REFERENCES console_accounts(id),
    uploaded_at TEXT NOT NULL,
    approved_by INTEGER REFERENCES console_accounts(id),
    approved_at TEXT
);
CREATE TABLE console_programmes (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    target TEXT NOT NULL,
    timing TEXT NOT NULL,
    items TEXT NOT NULL,
    priority TEXT NOT NULL,
    commune TEXT,
    created_by INTEGER NOT NULL REFERENCES console_accounts(id),
    updated_at TEXT NOT NULL
);
CREATE TABLE console_publications (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    what TEXT NOT NULL,
    scope TEXT NOT NULL,
    revision INTEGER,
    account_id INTEGER NOT NULL REFERENCES console_accounts(id),
    outcome TEXT NOT NULL,
    feedback TEXT NOT NULL
);
"#;

/// The console's database.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (creating if needed) the database and brings its tables up to date.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let has_tables: bool = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'console_accounts'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n > 0)?;
        if !has_tables {
            conn.execute_batch(&format!("BEGIN; {SCHEMA} COMMIT;"))?;
            conn.execute(
                "CREATE TABLE IF NOT EXISTS console_schema (version INTEGER NOT NULL)",
                [],
            )?;
            conn.execute(
                "INSERT INTO console_schema (version) VALUES (?1)",
                [SCHEMA_VERSION],
            )?;
        }
        let version: i64 =
            conn.query_row("SELECT version FROM console_schema", [], |r| r.get(0))?;
        if version != SCHEMA_VERSION {
            return Err(DbError::Corrupt(format!(
                "{}: console tables of version {version}, this console knows {SCHEMA_VERSION}",
                path.display()
            )));
        }
        // The fleet page asks for each scope's newest published revision on every view; an
        // index made here also serves a database made before it.
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS console_publications_by_scope
                 ON console_publications (scope, revision)",
        )?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `work` on a blocking thread with the connection.
    pub async fn call<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .map_err(|_| DbError::Worker("a previous query panicked".into()))?;
            work(&mut conn)
        })
        .await
        .map_err(|e| DbError::Worker(e.to_string()))?
    }

    /// The same, for commands that run before any runtime (`init`).
    pub fn call_now<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| DbError::Worker("a previous query panicked".into()))?;
        work(&mut conn)
    }
}

pub fn now_text(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn parse_time(text: &str) -> Result<DateTime<Utc>, DbError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| DbError::Corrupt(format!("time {text:?}: {e}")))
}

/// One line of the audit log. Written in the same transaction as what it records, where there
/// is one, so nothing happens unrecorded.
pub fn audit(
    conn: &Connection,
    now: DateTime<Utc>,
    account: &str,
    ip: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO console_audit (at, account, ip, action, subject, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![now_text(now), account, ip, action, subject, detail],
    )?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct AuditRow {
    pub at: DateTime<Utc>,
    pub account: String,
    pub ip: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

pub fn audit_log(conn: &Connection, limit: u32) -> Result<Vec<AuditRow>, DbError> {
    let mut statement = conn.prepare(
        "SELECT at, account, ip, action, subject, detail FROM console_audit
         ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = statement.query_map([limit], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
        ))
    })?;
    rows.map(|row| {
        let (at, account, ip, action, subject, detail) = row?;
        Ok(AuditRow {
            at: parse_time(&at)?,
            account,
            ip,
            action,
            subject,
            detail,
        })
    })
    .collect()
}

/// A commune the office knows by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commune {
    pub id: String,
    pub name: String,
}

pub fn communes(conn: &Connection) -> Result<Vec<Commune>, DbError> {
    let mut statement = conn.prepare("SELECT id, name FROM console_communes ORDER BY name")?;
    let rows = statement.query_map([], |row| {
        Ok(Commune {
            id: row.get(0)?,
            name: row.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn put_commune(conn: &Connection, commune: &Commune) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO console_communes (id, name) VALUES (?1, ?2)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name",
        params![commune.id, commune.name],
    )?;
    Ok(())
}

/// A named group of boxes (a hamlet's clusters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub boxes: Vec<String>,
}

pub fn groups(conn: &Connection) -> Result<Vec<Group>, DbError> {
    let mut statement = conn.prepare("SELECT id, name FROM console_groups ORDER BY name")?;
    let groups: Vec<(String, String)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut members =
        conn.prepare("SELECT box_id FROM console_group_boxes WHERE group_id = ?1 ORDER BY box_id")?;
    groups
        .into_iter()
        .map(|(id, name)| {
            let boxes = members
                .query_map([&id], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(Group { id, name, boxes })
        })
        .collect()
}

/// Saves a group with its boxes; in the caller's transaction, so that the name and the boxes
/// change together.
pub fn put_group(tx: &Connection, group: &Group) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO console_groups (id, name) VALUES (?1, ?2)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name",
        params![group.id, group.name],
    )?;
    tx.execute(
        "DELETE FROM console_group_boxes WHERE group_id = ?1",
        [&group.id],
    )?;
    for box_id in &group.boxes {
        tx.execute(
            "INSERT OR IGNORE INTO console_group_boxes (group_id, box_id) VALUES (?1, ?2)",
            params![group.id, box_id],
        )?;
    }
    Ok(())
}

/// `wanted`, or `wanted-2`, `wanted-3`… (cut to `max_len` characters) if `is_taken_sql` (a
/// count of rows with `id = ?1`) finds it taken.
pub fn free_id(
    conn: &Connection,
    is_taken_sql: &str,
    wanted: &str,
    max_len: usize,
) -> Result<String, DbError> {
    let mut id: String = wanted.chars().take(max_len).collect();
    for n in 2.. {
        let taken: i64 = conn.query_row(is_taken_sql, [&id], |r| r.get(0))?;
        if taken == 0 {
            break;
        }
        let suffix = format!("-{n}");
        let stem: String = wanted.chars().take(max_len - suffix.len()).collect();
        id = format!("{stem}{suffix}");
    }
    Ok(id)
}

pub fn get_optional<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, DbError> {
    Ok(conn.query_row(sql, params, map).optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_log_cannot_be_changed_or_deleted_by_anyone() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("c.sqlite")).unwrap();
        db.call_now(|conn| {
            audit(conn, Utc::now(), "lan", "127.0.0.1", "login", "lan", "")?;
            let update = conn.execute("UPDATE console_audit SET account = 'x'", []);
            let delete = conn.execute("DELETE FROM console_audit", []);
            assert!(
                update
                    .unwrap_err()
                    .to_string()
                    .contains("cannot be changed")
            );
            assert!(
                delete
                    .unwrap_err()
                    .to_string()
                    .contains("cannot be changed")
            );
            assert_eq!(audit_log(conn, 10)?.len(), 1);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn a_taken_id_gets_the_next_free_number_within_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("c.sqlite")).unwrap();
        db.call_now(|conn| {
            let sql = "SELECT count(*) FROM console_communes WHERE id = ?1";
            assert_eq!(free_id(conn, sql, "phu-dong", 64)?, "phu-dong");
            for id in ["phu-dong", "phu-dong-2"] {
                put_commune(
                    conn,
                    &Commune {
                        id: id.into(),
                        name: "x".into(),
                    },
                )?;
            }
            assert_eq!(free_id(conn, sql, "phu-dong", 64)?, "phu-dong-3");
            put_commune(
                conn,
                &Commune {
                    id: "abcdef".into(),
                    name: "x".into(),
                },
            )?;
            assert_eq!(free_id(conn, sql, "abcdefgh", 6)?, "abcd-2");
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn opening_twice_keeps_what_was_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let commune = Commune {
            id: "phu-dong".into(),
            name: "Xã Phù Đổng".into(),
        };
        Db::open(&path)
            .unwrap()
            .call_now(|conn| put_commune(conn, &commune))
            .unwrap();
        let again = Db::open(&path).unwrap().call_now(|c| communes(c)).unwrap();
        assert_eq!(again, vec![commune]);
    }
}
