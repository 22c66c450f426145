//! Accounts, roles, passwords, sessions and login throttling.
//!
//! Passwords are stored as argon2id PHC strings. A session is a random token in an HttpOnly,
//! SameSite=Strict cookie; the database keeps only its SHA-256, so a copy of the database does
//! not log anyone in. Each session has its own CSRF token, which every form carries back.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use sha2::Digest;

use super::db::{self, DbError};

/// How long a session lasts after login.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Failed logins counted per user name (and, ×4, per address) over [`THROTTLE_WINDOW`] before
/// further attempts are refused without checking the password.
pub const MAX_FAILURES: u32 = 5;
pub const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// What an account may do. Each role may do what the roles before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Sees the fleet, bulletins, schedules and reports.
    Viewer,
    /// Also uploads bulletins and drafts programmes.
    Editor,
    /// Also approves: signs and publishes bulletins and schedules, sends commands.
    Approver,
    /// Also manages accounts, communes and groups.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Editor, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Db(#[from] DbError),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the user name {0:?} is taken")]
    Taken(String),
    #[error("user names are letters, digits, '-', '_' and '.', 1–64 characters")]
    BadUsername,
}

/// A person who can log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// The commune the account is bound to; `None` for the whole office.
    pub commune: Option<String>,
    pub must_change_password: bool,
    pub disabled: bool,
}

impl Account {
    pub fn may(&self, role: Role) -> bool {
        self.role >= role
    }
}

pub fn hash_password(password: &str) -> Result<String, AuthError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Whether `password` matches the stored hash. Slow on purpose (argon2id): call it off the
/// async loop.
pub fn verify_password(hash: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash no password matches, checked for unknown user names so that a wrong name takes as
/// long as a wrong password and the two cannot be told apart.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

/// 32 random bytes, URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // getrandom fails only where the OS has no randomness at all; a zero token would still be
    // unique per session row, but never valid twice, so refuse nothing and fill what we got.
    let _ = getrandom::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A password to read aloud or copy by hand: 16 characters without look-alikes (0/O, 1/l/I),
/// in groups of four.
pub fn one_time_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 16];
    let _ = getrandom::fill(&mut bytes);
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

pub fn token_hash(token: &str) -> String {
    hex(&sha2::Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const ACCOUNT_COLUMNS: &str =
    "id, username, display_name, role, commune, must_change_password, disabled";

fn account_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    let role: String = row.get(3)?;
    Ok(Account {
        id: row.get(0)?,
        username: row.get(1)?,
        display_name: row.get(2)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        commune: row.get(4)?,
        must_change_password: row.get(5)?,
        disabled: row.get(6)?,
    })
}

pub struct NewAccount<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub commune: Option<&'a str>,
    pub password: &'a str,
    pub must_change_password: bool,
}

pub fn create_account(
    conn: &Connection,
    account: &NewAccount<'_>,
    now: DateTime<Utc>,
) -> Result<i64, AuthError> {
    if !loaxa_core::ids::is_name(account.username) {
        return Err(AuthError::BadUsername);
    }
    let hash = hash_password(account.password)?;
    let inserted = conn.execute(
        "INSERT INTO console_accounts
         (username, display_name, password_hash, role, commune, must_change_password, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            account.username,
            account.display_name,
            hash,
            account.role.as_str(),
            account.commune,
            account.must_change_password,
            db::now_text(now)
        ],
    );
    match inserted {
        Ok(_) => Ok(conn.last_insert_rowid()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(AuthError::Taken(account.username.to_owned()))
        }
        Err(e) => Err(DbError::from(e).into()),
    }
}

pub fn accounts(conn: &Connection) -> Result<Vec<Account>, DbError> {
    let mut statement = conn.prepare(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM console_accounts ORDER BY username"
    ))?;
    let rows = statement.query_map([], account_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn account(conn: &Connection, id: i64) -> Result<Option<Account>, DbError> {
    db::get_optional(
        conn,
        &format!("SELECT {ACCOUNT_COLUMNS} FROM console_accounts WHERE id = ?1"),
        [id],
        account_from_row,
    )
}

/// The account and its password hash, for a login.
pub fn account_for_login(
    conn: &Connection,
    username: &str,
) -> Result<Option<(Account, String)>, DbError> {
    db::get_optional(
        conn,
        &format!(
            "SELECT {ACCOUNT_COLUMNS}, password_hash FROM console_accounts WHERE username = ?1"
        ),
        [username],
        |row| Ok((account_from_row(row)?, row.get(7)?)),
    )
}

pub fn set_password(
    conn: &Connection,
    account_id: i64,
    password: &str,
    must_change: bool,
) -> Result<(), AuthError> {
    let hash = hash_password(password)?;
    conn.execute(
        "UPDATE console_accounts SET password_hash = ?1, must_change_password = ?2 WHERE id = ?3",
        params![hash, must_change, account_id],
    )
    .map_err(DbError::from)?;
    // A new password ends every other session of the account.
    conn.execute(
        "DELETE FROM console_sessions WHERE account_id = ?1",
        [account_id],
    )
    .map_err(DbError::from)?;
    Ok(())
}

pub fn set_disabled(conn: &Connection, account_id: i64, disabled: bool) -> Result<(), DbError> {
    conn.execute(
        "UPDATE console_accounts SET disabled = ?1 WHERE id = ?2",
        params![disabled, account_id],
    )?;
    if disabled {
        conn.execute(
            "DELETE FROM console_sessions WHERE account_id = ?1",
            [account_id],
        )?;
    }
    Ok(())
}

/// How long until `username` from `ip` may try again, if it is throttled now.
pub fn throttled(
    conn: &Connection,
    username: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<Option<Duration>, DbError> {
    let since = db::now_text(now - THROTTLE_WINDOW);
    let oldest_of = |column: &str, value: &str, limit: u32| -> Result<Option<String>, DbError> {
        let mut statement = conn.prepare(&format!(
            "SELECT at FROM console_login_failures WHERE {column} = ?1 AND at > ?2
             ORDER BY at DESC LIMIT 1 OFFSET ?3"
        ))?;
        Ok(statement
            .query_map(params![value, since, limit - 1], |row| row.get(0))?
            .next()
            .transpose()?)
    };
    let blocking = [
        oldest_of("username", username, MAX_FAILURES)?,
        oldest_of("ip", ip, MAX_FAILURES * 4)?,
    ];
    let until = blocking
        .into_iter()
        .flatten()
        .filter_map(|at| db::parse_time(&at).ok())
        .map(|at| at + THROTTLE_WINDOW)
        .max();
    Ok(until
        .filter(|until| *until > now)
        .and_then(|until| (until - now).to_std().ok()))
}

pub fn record_failure(
    conn: &Connection,
    username: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    conn.execute(
        "DELETE FROM console_login_failures WHERE at < ?1",
        [db::now_text(now - THROTTLE_WINDOW)],
    )?;
    conn.execute(
        "INSERT INTO console_login_failures (username, ip, at) VALUES (?1, ?2, ?3)",
        params![username, ip, db::now_text(now)],
    )?;
    Ok(())
}

/// A logged-in session: the account and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub account: Account,
    pub csrf: String,
}

/// Starts a session; returns the cookie's token (only its hash is stored).
pub fn start_session(
    conn: &Connection,
    account_id: i64,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    let token = random_token();
    conn.execute(
        "DELETE FROM console_sessions WHERE expires_at < ?1",
        [db::now_text(now)],
    )?;
    conn.execute(
        "DELETE FROM console_login_failures WHERE username =
         (SELECT username FROM console_accounts WHERE id = ?1)",
        [account_id],
    )?;
    conn.execute(
        "INSERT INTO console_sessions (token_hash, account_id, csrf, created_at, expires_at, ip)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            token_hash(&token),
            account_id,
            random_token(),
            db::now_text(now),
            db::now_text(now + SESSION_LIFETIME),
            ip
        ],
    )?;
    Ok(token)
}

/// The live session a cookie's token names, if any.
pub fn session(
    conn: &Connection,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<Session>, DbError> {
    let columns = ACCOUNT_COLUMNS
        .split(", ")
        .map(|c| format!("a.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    db::get_optional(
        conn,
        &format!(
            "SELECT {columns}, s.csrf FROM console_sessions s
             JOIN console_accounts a ON a.id = s.account_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND a.disabled = 0"
        ),
        params![token_hash(token), db::now_text(now)],
        |row| {
            Ok(Session {
                account: account_from_row(row)?,
                csrf: row.get(7)?,
            })
        },
    )
}

pub fn end_session(conn: &Connection, token: &str) -> Result<(), DbError> {
    conn.execute(
        "DELETE FROM console_sessions WHERE token_hash = ?1",
        [token_hash(token)],
    )?;
    Ok(())
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, db::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = db::Db::open(&dir.path().join("c.sqlite")).unwrap();
        (dir, db)
    }

    fn lan(conn: &Connection, now: DateTime<Utc>) -> i64 {
        create_account(
            conn,
            &NewAccount {
                username: "lan",
                display_name: "Nguyễn Thị Lan",
                role: Role::Editor,
                commune: Some("phu-dong"),
                password: "mật khẩu dài",
                must_change_password: false,
            },
            now,
        )
        .unwrap()
    }

    #[test]
    fn a_password_verifies_against_its_hash_and_nothing_else() {
        let hash = hash_password("mật khẩu").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "mật khẩu"));
        assert!(!verify_password(&hash, "mat khau"));
        assert!(!verify_password(decoy_hash(), ""));
    }

    #[test]
    fn a_session_token_finds_its_account_until_it_expires_or_the_password_changes() {
        let (_dir, db) = db();
        let now = Utc::now();
        db.call_now(|conn| {
            let id = lan(conn, now);
            let token = start_session(conn, id, "127.0.0.1", now)?;
            let found = session(conn, &token, now)?.unwrap();
            assert_eq!(found.account.username, "lan");
            assert_eq!(found.account.commune.as_deref(), Some("phu-dong"));
            assert!(session(conn, "not-the-token", now)?.is_none());
            let later = now + SESSION_LIFETIME + Duration::from_secs(1);
            assert!(session(conn, &token, later)?.is_none());
            set_password(conn, id, "another password", false).unwrap();
            assert!(session(conn, &token, now)?.is_none());
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn five_failures_throttle_a_user_name_for_fifteen_minutes() {
        let (_dir, db) = db();
        let now = Utc::now();
        db.call_now(|conn| {
            for i in 0..MAX_FAILURES {
                assert_eq!(throttled(conn, "lan", "10.0.0.9", now)?, None);
                record_failure(conn, "lan", "10.0.0.9", now + Duration::from_secs(i.into()))?;
            }
            let at = now + Duration::from_secs(10);
            let wait = throttled(conn, "lan", "10.0.0.8", at)?.unwrap();
            assert!(wait <= THROTTLE_WINDOW && wait > Duration::from_secs(14 * 60));
            assert_eq!(throttled(conn, "hoa", "10.0.0.8", at)?, None);
            assert_eq!(
                throttled(conn, "lan", "10.0.0.8", now + THROTTLE_WINDOW * 2)?,
                None
            );
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn the_same_user_name_cannot_be_taken_twice() {
        let (_dir, db) = db();
        let now = Utc::now();
        db.call_now(|conn| {
            lan(conn, now);
            let again = create_account(
                conn,
                &NewAccount {
                    username: "lan",
                    display_name: "x",
                    role: Role::Viewer,
                    commune: None,
                    password: "p",
                    must_change_password: true,
                },
                now,
            );
            assert!(matches!(again, Err(AuthError::Taken(_))));
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn one_time_passwords_are_four_groups_of_four_without_look_alikes() {
        let password = one_time_password();
        assert_eq!(password.len(), 19);
        assert!(password.split('-').all(|g| g.len() == 4));
        assert!(!password.contains(['0', 'o', '1', 'l']));
        assert_ne!(password, one_time_password());
    }
}
