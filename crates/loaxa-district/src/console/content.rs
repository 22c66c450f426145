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

const BULLETIN_COLUMNS: &str = "b.id, b.title, b.level, b.state, b.sha256, b.size, b.codec, \
    b.duration_ms, b.loudness_lufs, b.targets, b.valid_until, b.commune, b.uploaded_by, \
    u.display_name, b.uploaded_at, a.display_name, b.approved_at";

const BULLETIN_FROM: &str = "console_bulletins b JOIN console_accounts u ON u.id = b.uploaded_by \
    LEFT JOIN console_accounts a ON a.id = b.approved_by";

fn bulletin_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Bulletin, DbError>> {
    let level: String = row.get(2)?;
    let state: String = row.get(3)?;
    let targets: String = row.get(9)?;
    let valid_until: Option<String> = row.get(10)?;
    let uploaded_at: String = row.get(14)?;
    let approved_at: Option<String> = row.get(16)?;
    let (
        id,
        title,
        sha256,
        size,
        codec,
        duration_ms,
        loudness_lufs,
        commune,
        uploaded_by,
        uploader,
        approver,
    ) = (
        row.get::<_, String>(0)?,
        row.get::<_, String>(1)?,
        row.get::<_, String>(4)?,
        row.get::<_, u64>(5)?,
        row.get::<_, String>(6)?,
        row.get::<_, u64>(7)?,
        row.get::<_, Option<f64>>(8)?,
        row.get::<_, Option<String>>(11)?,
        row.get::<_, i64>(12)?,
        row.get::<_, String>(13)?,
        row.get::<_, Option<String>>(15)?,
    );
    Ok((|| {
        Ok(Bulletin {
            level: parse_priority(&level)
                .ok_or_else(|| DbError::Corrupt(format!("bulletin {id}: level {level:?}")))?,
            state: BulletinState::parse(&state),
            targets: parse_targets(&targets)?,
            valid_until: valid_until.as_deref().map(db::parse_time).transpose()?,
            uploaded_at: db::parse_time(&uploaded_at)?,
            approved_at: approved_at.as_deref().map(db::parse_time).transpose()?,
            id,
            title,
            sha256,
            size,
            codec,
            duration_ms,
            loudness_lufs,
            commune,
            uploaded_by,
            uploader,
            approver,
        })
    })())
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
