//! Programmes the office makes with a form, and the schedule document of a scope built from them.
//!
//! The console is the author of every scope it publishes to: a scope's schedule is *all* the
//! console's programmes for it (a group's programmes go into each member box's own schedule),
//! rendered as a schedule file through serde, so no text a user typed can change its structure.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use loaxa_core::schedule::{self, LoadOptions, Priority};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::db::{self, DbError};
use super::targets::Target;

/// When a programme airs, as the form asks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Timing {
    /// On these days of the week (0 = Sunday … 6 = Saturday) at these local times.
    Weekly {
        days: Vec<u8>,
        times: Vec<NaiveTime>,
    },
    /// Once at each of these local times.
    Once { at: Vec<NaiveDateTime> },
    /// A crontab line, for experts.
    Cron { line: String },
}

#[derive(Debug, Clone)]
pub struct Programme {
    pub id: String,
    pub title: String,
    pub target: Target,
    pub timing: Timing,
    /// `chime` or bulletin ids, aired back to back.
    pub items: Vec<String>,
    pub priority: Priority,
    pub commune: Option<String>,
    pub created_by: i64,
}

pub const CHIME: &str = "chime";

pub fn programmes(conn: &Connection) -> Result<Vec<Programme>, DbError> {
    let mut statement = conn.prepare(
        "SELECT id, title, target, timing, items, priority, commune, created_by
         FROM console_programmes ORDER BY title",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, String>(4)?,
            row.get::<_, String>(5)?,
            row.get::<_, Option<String>>(6)?,
            row.get::<_, i64>(7)?,
        ))
    })?;
    rows.map(|row| {
        let (id, title, target, timing, items, priority, commune, created_by) = row?;
        let corrupt =
            |what: &str, e: String| DbError::Corrupt(format!("programme {id}: {what}: {e}"));
        Ok(Programme {
            target: target
                .parse()
                .map_err(|e: super::targets::BadTarget| corrupt("target", e.to_string()))?,
            timing: serde_json::from_str(&timing).map_err(|e| corrupt("timing", e.to_string()))?,
            items: serde_json::from_str(&items).map_err(|e| corrupt("items", e.to_string()))?,
            priority: super::content::parse_priority(&priority)
                .ok_or_else(|| corrupt("priority", priority.clone()))?,
            id,
            title,
            commune,
            created_by,
        })
    })
    .collect()
}

/// Stores a new programme under a free id made from `programme.id`. Returns the id.
pub fn insert(
    conn: &Connection,
    programme: &Programme,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    // Room is kept for the `.HHMM` a weekly programme's times add to its id.
    let id = db::free_id(
        conn,
        "SELECT count(*) FROM console_programmes WHERE id = ?1",
        &programme.id,
        58,
    )?;
    let json = |value: &dyn erased::Json| value.json();
    conn.execute(
        "INSERT INTO console_programmes (id, title, target, timing, items, priority, commune,
         created_by, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id,
            programme.title,
            programme.target.to_string(),
            json(&programme.timing),
            json(&programme.items),
            programme.priority.to_string(),
            programme.commune,
            programme.created_by,
            db::now_text(now)
        ],
    )?;
    Ok(id)
}

pub fn delete(conn: &Connection, id: &str) -> Result<bool, DbError> {
    Ok(conn.execute("DELETE FROM console_programmes WHERE id = ?1", [id])? > 0)
}

mod erased {
    /// Serialises to JSON text; what the database stores for structured columns.
    pub trait Json {
        fn json(&self) -> String;
    }

    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_else(|_| "null".into())
        }
    }
}

#[derive(Serialize)]
struct FileOut {
    timezone: String,
    program: Vec<ProgramOut>,
}

#[derive(Serialize)]
struct ProgramOut {
    id: String,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cron: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<Vec<String>>,
    items: Vec<String>,
    priority: String,
}

/// The schedule file for one scope from its programmes. A weekly programme with several times
/// becomes one `[[program]]` per time (`ID.HHMM`), since one crontab line cannot say "06:00 and
/// 17:30" without also meaning 06:30 and 17:00.
pub fn render(programmes: &[&Programme], tz: Tz) -> String {
    let mut out = FileOut {
        timezone: tz.name().to_owned(),
        program: Vec::new(),
    };
    for programme in programmes {
        let items: Vec<String> = programme
            .items
            .iter()
            .map(|item| {
                if item == CHIME {
                    CHIME.to_owned()
                } else {
                    format!("bulletin:{item}")
                }
            })
            .collect();
        let base = |id: String, cron: Option<String>, at: Option<Vec<String>>| ProgramOut {
            id,
            title: programme.title.clone(),
            cron,
            at,
            items: items.clone(),
            priority: programme.priority.to_string(),
        };
        match &programme.timing {
            Timing::Weekly { days, times } => {
                let days = if days.len() >= 7 || days.is_empty() {
                    "*".to_owned()
                } else {
                    days.iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                };
                for time in times {
                    let cron = format!("{} {} * * {days}", time.format("%-M"), time.format("%-H"));
                    let id = format!("{}.{}", programme.id, time.format("%H%M"));
                    out.program.push(base(id, Some(cron), None));
                }
            }
            Timing::Once { at } => {
                let at = at
                    .iter()
                    .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
                    .collect();
                out.program.push(base(programme.id.clone(), None, Some(at)));
            }
            Timing::Cron { line } => {
                out.program
                    .push(base(programme.id.clone(), Some(line.clone()), None))
            }
        }
    }
    toml::to_string(&out).unwrap_or_default()
}

/// How the console loads the documents it renders: as the district's, in the office's time zone.
/// Its items are bulletins and the chime, never files, so no media directory is needed; boxes'
/// windows are checked per box when publishing.
pub fn load_options(tz: Tz) -> LoadOptions {
    LoadOptions {
        default_timezone: tz,
        media_dir: Path::new("/nonexistent").to_owned(),
        check_audio: None,
        windows: None,
        author: schedule::Author::District,
    }
}

/// What checking a scope's schedule before publishing found: errors stop the publication,
/// warnings are shown for the approver to confirm.
#[derive(Debug, Default, PartialEq)]
pub struct Check {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// Checks the schedule as the receiving boxes will (their broadcast windows), and warns of
/// one-offs in the past and of programmes that overlap on the air within the next week.
/// `lengths` gives each bulletin's length, to know how long a programme lasts.
pub fn check(
    text: &str,
    scope: &str,
    windows: schedule::windows::Windows,
    tz: Tz,
    lengths: &BTreeMap<String, u64>,
    now: DateTime<Utc>,
) -> Check {
    let options = LoadOptions {
        windows: Some(windows),
        ..load_options(tz)
    };
    let loaded = schedule::parse(text, Path::new(scope), &options);
    let mut found = Check {
        errors: loaded.errors.iter().map(|e| e.to_string()).collect(),
        warnings: schedule::warnings(&loaded.programs, now)
            .iter()
            .map(|w| w.to_string())
            .collect(),
    };
    let programs: Vec<Arc<schedule::Program>> = loaded.programs.into_iter().map(Arc::new).collect();
    let length = |program: &schedule::Program| {
        let ms: u64 = program
            .items
            .iter()
            .map(|item| match item {
                schedule::Item::Chime => 1_800,
                schedule::Item::Bulletin { id } => lengths.get(id).copied().unwrap_or(0),
                _ => 0,
            })
            .sum();
        Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX))
    };
    let week = schedule::plan::occurrences_between(&programs, now, now + Duration::days(7), 10_000);
    for (i, a) in week.iter().enumerate() {
        let a_end = a.scheduled + length(&a.program);
        if let Some(b) = week[i + 1..]
            .iter()
            .take_while(|b| b.scheduled < a_end)
            .find(|b| b.program.id != a.program.id)
        {
            found.warnings.push(format!(
                "{} ({}) overlaps {} ({}) at {}",
                a.program.title,
                a.program.id,
                b.program.title,
                b.program.id,
                b.scheduled.with_timezone(&tz).format("%d/%m/%Y %H:%M:%S")
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programme(id: &str, timing: Timing) -> Programme {
        Programme {
            id: id.into(),
            title: "Bản tin \"sáng\"".into(),
            target: Target::Commune("phu-dong".into()),
            timing,
            items: vec![CHIME.into(), "ban-tin-sang".into()],
            priority: Priority::Normal,
            commune: None,
            created_by: 1,
        }
    }

    fn tz() -> Tz {
        "Asia/Ho_Chi_Minh".parse().unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_weekly_programme_becomes_one_crontab_line_per_time_and_parses_back() {
        let weekly = programme(
            "sang",
            Timing::Weekly {
                days: vec![1, 3, 5],
                times: vec![
                    NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
                    NaiveTime::from_hms_opt(17, 30, 0).unwrap(),
                ],
            },
        );
        let text = render(&[&weekly], tz());
        assert!(text.contains("cron = \"0 6 * * 1,3,5\""), "{text}");
        assert!(text.contains("cron = \"30 17 * * 1,3,5\""), "{text}");
        assert!(text.contains("id = \"sang.1730\""), "{text}");
        let windows = schedule::windows::Windows::default();
        let found = check(
            &text,
            "commune/phu-dong",
            windows,
            tz(),
            &BTreeMap::new(),
            now(),
        );
        assert_eq!(found.errors, Vec::<String>::new());
    }

    #[test]
    fn a_one_off_in_the_past_is_a_warning_and_a_time_outside_the_windows_an_error() {
        let past = programme(
            "cu",
            Timing::Once {
                at: vec!["2026-11-01T07:00:00".parse().unwrap()],
            },
        );
        let night = programme(
            "dem",
            Timing::Once {
                at: vec!["2026-12-05T23:30:00".parse().unwrap()],
            },
        );
        let text = render(&[&past, &night], tz());
        let found = check(
            &text,
            "commune/phu-dong",
            Default::default(),
            tz(),
            &BTreeMap::new(),
            now(),
        );
        assert_eq!(found.warnings.len(), 1, "{found:?}");
        assert!(found.warnings[0].contains("past"), "{found:?}");
        assert_eq!(found.errors.len(), 1, "{found:?}");
    }

    #[test]
    fn two_programmes_on_the_air_at_once_are_a_warning() {
        let a = programme(
            "a",
            Timing::Once {
                at: vec!["2026-12-02T07:00:00".parse().unwrap()],
            },
        );
        let b = programme(
            "b",
            Timing::Once {
                at: vec!["2026-12-02T07:00:30".parse().unwrap()],
            },
        );
        let lengths = BTreeMap::from([("ban-tin-sang".to_owned(), 60_000)]);
        let text = render(&[&a, &b], tz());
        let found = check(
            &text,
            "commune/phu-dong",
            Default::default(),
            tz(),
            &lengths,
            now(),
        );
        assert_eq!(found.errors, Vec::<String>::new());
        assert!(
            found.warnings.iter().any(|w| w.contains("overlaps")),
            "{found:?}"
        );
    }

    #[test]
    fn a_title_with_quotes_cannot_break_the_schedule_file() {
        let mut tricky = programme(
            "x",
            Timing::Cron {
                line: "0 7 * * *".into(),
            },
        );
        tricky.title = "a\"\nid = \"evil\"\n[[program]]".into();
        let text = render(&[&tricky], tz());
        let parsed: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(parsed["program"].as_array().unwrap().len(), 1);
    }
}
