//! The office's content: bulletins (uploaded audio, its approval) and the record of each
//! publication with what every box answered.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use loaxa_core::schedule::Priority;
use rusqlite::{Connection, params};

use super::db::{self, DbError};
use super::targets::Target;
pub use crate::publish::BoxAnswer;

/// Where a bulletin is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulletinState {
    /// Uploaded, waiting for an approver.
    Draft,
    /// Approved and signed; its publication to the boxes failed (the broker was away) and can be
    /// tried again.
    Approved,
    /// Approved, signed and on the broker for its targets.
    Published,
}

impl BulletinState {
    pub fn as_str(self) -> &'static str {
        match self {
            BulletinState::Draft => "draft",
            BulletinState::Approved => "approved",
            BulletinState::Published => "published",
        }
    }

    fn parse(text: &str) -> BulletinState {
        match text {
            "approved" => BulletinState::Approved,
            "published" => BulletinState::Published,
            _ => BulletinState::Draft,
        }
    }
}

pub fn parse_priority(text: &str) -> Option<Priority> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
}

#[derive(Debug, Clone)]
pub struct Bulletin {
    pub id: String,
    pub title: String,
    pub level: Priority,
    pub state: BulletinState,
    pub sha256: String,
    pub size: u64,
    pub codec: String,
    pub duration_ms: u64,
    pub loudness_lufs: Option<f64>,
    pub targets: Vec<Target>,
    pub valid_until: Option<DateTime<Utc>>,
    /// The commune of the account that uploaded it (None: the office).
    pub commune: Option<String>,
    pub uploaded_by: i64,
    pub uploader: String,
    pub uploaded_at: DateTime<Utc>,
    pub approver: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
}

impl Bulletin {
    /// The audio file's name in the media directory: its hash, so it is never overwritten.
    pub fn file_name(&self) -> String {
        audio_file_name(&self.sha256, &self.codec)
    }
}

pub fn audio_file_name(sha256: &str, codec: &str) -> String {
    format!("{sha256}.{codec}")
}

/// Read by name in [`bulletin_from_row`]; the two account names are aliased apart.
const BULLETIN_COLUMNS: &str = "b.id, b.title, b.level, b.state, b.sha256, b.size, b.codec, \
    b.duration_ms, b.loudness_lufs, b.targets, b.valid_until, b.commune, b.uploaded_by, \
    u.display_name AS uploader, b.uploaded_at, a.display_name AS approver, b.approved_at";

const BULLETIN_FROM: &str = "console_bulletins b JOIN console_accounts u ON u.id = b.uploaded_by \
    LEFT JOIN console_accounts a ON a.id = b.approved_by";

fn bulletin_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Bulletin, DbError>> {
    let id: String = row.get("id")?;
    let level: String = row.get("level")?;
    let state: String = row.get("state")?;
    let targets: String = row.get("targets")?;
    let valid_until: Option<String> = row.get("valid_until")?;
    let uploaded_at: String = row.get("uploaded_at")?;
    let approved_at: Option<String> = row.get("approved_at")?;
    // What is stored as text is checked as it is read: a damaged row names itself.
    let checked = (|| {
        Ok((
            parse_priority(&level)
                .ok_or_else(|| DbError::Corrupt(format!("bulletin {id}: level {level:?}")))?,
            parse_targets(&targets)?,
            valid_until.as_deref().map(db::parse_time).transpose()?,
            db::parse_time(&uploaded_at)?,
            approved_at.as_deref().map(db::parse_time).transpose()?,
        ))
    })();
    let (level, targets, valid_until, uploaded_at, approved_at) = match checked {
        Ok(checked) => checked,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(Bulletin {
        title: row.get("title")?,
        level,
        state: BulletinState::parse(&state),
        sha256: row.get("sha256")?,
        size: row.get("size")?,
        codec: row.get("codec")?,
        duration_ms: row.get("duration_ms")?,
        loudness_lufs: row.get("loudness_lufs")?,
        targets,
        valid_until,
        commune: row.get("commune")?,
        uploaded_by: row.get("uploaded_by")?,
        uploader: row.get("uploader")?,
        uploaded_at,
        approver: row.get("approver")?,
        approved_at,
        id,
    }))
}

fn parse_targets(text: &str) -> Result<Vec<Target>, DbError> {
    let names: Vec<String> =
        serde_json::from_str(text).map_err(|e| DbError::Corrupt(format!("targets: {e}")))?;
    names
        .iter()
        .map(|n| {
            n.parse()
                .map_err(|e: super::targets::BadTarget| DbError::Corrupt(e.to_string()))
        })
        .collect()
}

fn targets_text(targets: &[Target]) -> String {
    serde_json::to_string(&targets.iter().map(|t| t.to_string()).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into())
}

pub fn bulletins(conn: &Connection) -> Result<Vec<Bulletin>, DbError> {
    let mut statement = conn.prepare(&format!(
        "SELECT {BULLETIN_COLUMNS} FROM {BULLETIN_FROM} ORDER BY b.uploaded_at DESC"
    ))?;
    let rows = statement.query_map([], bulletin_from_row)?;
    rows.map(|row| row?).collect()
}

pub fn bulletin(conn: &Connection, id: &str) -> Result<Option<Bulletin>, DbError> {
    db::get_optional(
        conn,
        &format!("SELECT {BULLETIN_COLUMNS} FROM {BULLETIN_FROM} WHERE b.id = ?1"),
        [id],
        bulletin_from_row,
    )?
    .transpose()
}

/// A new draft bulletin, as uploaded.
pub struct NewBulletin {
    pub id: String,
    pub title: String,
    pub level: Priority,
    pub sha256: String,
    pub size: u64,
    pub codec: String,
    pub duration_ms: u64,
    pub loudness_lufs: Option<f64>,
    pub targets: Vec<Target>,
    pub valid_until: Option<DateTime<Utc>>,
    pub commune: Option<String>,
    pub uploaded_by: i64,
}

/// Stores a draft under `wanted` id, or `wanted-2`, `wanted-3`… if taken. Returns the id.
pub fn insert_bulletin(
    conn: &Connection,
    new: &NewBulletin,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    let id = db::free_id(
        conn,
        "SELECT count(*) FROM console_bulletins WHERE id = ?1",
        &new.id,
        64,
    )?;
    conn.execute(
        "INSERT INTO console_bulletins (id, title, level, state, sha256, size, codec, duration_ms,
         loudness_lufs, targets, valid_until, commune, uploaded_by, uploaded_at)
         VALUES (?1, ?2, ?3, 'draft', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            id,
            new.title,
            new.level.to_string(),
            new.sha256,
            new.size,
            new.codec,
            new.duration_ms,
            new.loudness_lufs,
            targets_text(&new.targets),
            new.valid_until.map(db::now_text),
            new.commune,
            new.uploaded_by,
            db::now_text(now)
        ],
    )?;
    Ok(id)
}

pub fn set_bulletin_state(
    conn: &Connection,
    id: &str,
    state: BulletinState,
    approved_by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    conn.execute(
        "UPDATE console_bulletins SET state = ?1,
         approved_by = COALESCE(approved_by, ?2),
         approved_at = CASE WHEN ?2 IS NULL THEN approved_at ELSE COALESCE(approved_at, ?3) END
         WHERE id = ?4",
        params![state.as_str(), approved_by, db::now_text(now), id],
    )?;
    Ok(())
}

/// One publication (a bulletin or a schedule to one scope) and the boxes' answers.
#[derive(Debug, Clone)]
pub struct Publication {
    pub at: DateTime<Utc>,
    pub what: String,
    pub scope: String,
    pub revision: Option<u64>,
    pub account: String,
    /// `published`, `withdrawn` or `failed: …`.
    pub outcome: String,
    pub answers: BTreeMap<String, BoxAnswer>,
}

pub struct NewPublication<'a> {
    pub what: &'a str,
    pub scope: &'a str,
    pub revision: Option<u64>,
    pub account_id: i64,
    pub outcome: &'a str,
    pub answers: &'a BTreeMap<String, BoxAnswer>,
}

pub fn record_publication(
    conn: &Connection,
    publication: &NewPublication<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let feedback =
        serde_json::to_string(publication.answers).map_err(|e| DbError::Corrupt(e.to_string()))?;
    conn.execute(
        "INSERT INTO console_publications (at, what, scope, revision, account_id, outcome, feedback)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            db::now_text(now),
            publication.what,
            publication.scope,
            publication.revision,
            publication.account_id,
            publication.outcome,
            feedback
        ],
    )?;
    Ok(())
}

/// The publications of `what` (e.g. `bulletin tin-sang`), newest first.
pub fn publications(conn: &Connection, what: &str) -> Result<Vec<Publication>, DbError> {
    let mut statement = conn.prepare(
        "SELECT p.at, p.what, p.scope, p.revision, a.display_name, p.outcome, p.feedback
         FROM console_publications p JOIN console_accounts a ON a.id = p.account_id
         WHERE p.what = ?1 ORDER BY p.id DESC LIMIT 50",
    )?;
    let rows = statement.query_map([what], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, Option<u64>>(3)?,
            row.get::<_, String>(4)?,
            row.get::<_, String>(5)?,
            row.get::<_, String>(6)?,
        ))
    })?;
    rows.map(|row| {
        let (at, what, scope, revision, account, outcome, feedback) = row?;
        Ok(Publication {
            at: db::parse_time(&at)?,
            what,
            scope,
            revision,
            account,
            outcome,
            answers: serde_json::from_str(&feedback)
                .map_err(|e| DbError::Corrupt(format!("feedback: {e}")))?,
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::auth;

    #[test]
    fn a_bulletin_reads_back_as_it_was_stored_with_who_uploaded_and_approved_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = db::Db::open(&dir.path().join("c.sqlite")).unwrap();
        let now: DateTime<Utc> = "2026-12-03T08:00:00Z".parse().unwrap();
        db.call_now(|conn| {
            let account = |username: &str, display_name: &str| {
                auth::create_account(
                    conn,
                    &auth::NewAccount {
                        username,
                        display_name,
                        role: auth::Role::Approver,
                        commune: None,
                        password: "a long enough password",
                        must_change_password: false,
                    },
                    now,
                )
                .unwrap()
            };
            let (editor, approver) = (account("bien-tap", "Biên"), account("duyet", "Duyệt"));
            let new = NewBulletin {
                id: "bao-lu".into(),
                title: "Cảnh báo lũ".into(),
                level: Priority::Emergency,
                sha256: "ab".repeat(32),
                size: 4096,
                codec: "mp3".into(),
                duration_ms: 61_000,
                loudness_lufs: Some(-18.5),
                targets: vec![Target::Commune("phu-dong".into()), Target::Office],
                valid_until: Some(now + chrono::Duration::days(2)),
                commune: Some("phu-dong".into()),
                uploaded_by: editor,
            };
            let id = insert_bulletin(conn, &new, now)?;
            set_bulletin_state(conn, &id, BulletinState::Approved, Some(approver), now)?;
            let read = bulletin(conn, &id)?.unwrap();
            assert_eq!(
                (
                    read.id.as_str(),
                    read.title.as_str(),
                    read.level,
                    read.state
                ),
                (
                    "bao-lu",
                    "Cảnh báo lũ",
                    Priority::Emergency,
                    BulletinState::Approved
                )
            );
            assert_eq!(
                (read.size, read.duration_ms, read.loudness_lufs),
                (4096, 61_000, Some(-18.5))
            );
            assert_eq!(read.targets, new.targets);
            assert_eq!(read.valid_until, new.valid_until);
            assert_eq!(read.commune.as_deref(), Some("phu-dong"));
            assert_eq!((read.uploaded_by, read.uploader.as_str()), (editor, "Biên"));
            assert_eq!(read.approver.as_deref(), Some("Duyệt"));
            assert_eq!((read.uploaded_at, read.approved_at), (now, Some(now)));
            assert_eq!(bulletins(conn)?.len(), 1);
            Ok(())
        })
        .unwrap();
    }
}
