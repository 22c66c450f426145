//! What the office asks of the archive: the fleet as the boxes last described themselves, one
//! box's recent as-run log and problems, a report over a range of local dates for a scope of
//! boxes (optionally only the entries naming one bulletin), and where a bulletin aired.
//!
//! Every query is a constant SQL text with parameters. Dates are the office's local dates
//! (`chrono_tz`), turned into UTC instants here: an as-run entry counts for the local day of its
//! scheduled time.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, Row, named_params, params};

use super::store::{Archive, ArchiveError};
use super::wire::{AsRun, LastAiredView, StatusView, TransferView};
use loaxa_core::protocol::Scope;

/// An aired entry that started more than this after its scheduled time counts as late.
pub const LATE_AFTER: Duration = Duration::from_secs(5);

/// The boxes a report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportScope {
    All,
    District(String),
    Commune(String),
    Box(String),
    /// A group of boxes the office picked, by id.
    Boxes(Vec<String>),
}

impl From<&Scope> for ReportScope {
    fn from(scope: &Scope) -> ReportScope {
        match scope {
            Scope::All => ReportScope::All,
            Scope::District(id) => ReportScope::District(id.clone()),
            Scope::Commune(id) => ReportScope::Commune(id.clone()),
            Scope::Box(id) => ReportScope::Box(id.clone()),
        }
    }
}

impl ReportScope {
    /// The parameters of [`IN_SCOPE`]: its kind, its id, its list of boxes (JSON).
    fn params(&self) -> (&'static str, Option<&str>, Option<String>) {
        match self {
            ReportScope::All => ("all", None, None),
            ReportScope::District(id) => ("district", Some(id), None),
            ReportScope::Commune(id) => ("commune", Some(id), None),
            ReportScope::Box(id) => ("box", Some(id), None),
            ReportScope::Boxes(ids) => (
                "boxes",
                None,
                Some(serde_json::to_string(ids).unwrap_or_default()),
            ),
        }
    }
}

/// The commune box `b` counts in: the office's register, else what the box says.
macro_rules! commune_of_box {
    () => {
        "coalesce(b.registered_commune, b.commune)"
    };
}

/// Whether box `b` is in the scope given by `:scope`, `:id` and `:list`.
macro_rules! in_scope {
    () => {
        concat!(
            "(:scope = 'all'
          OR (:scope = 'district' AND (b.registered_commune IS NOT NULL OR b.district = :id))
          OR (:scope = 'commune' AND ",
            commune_of_box!(),
            " = :id)
          OR (:scope = 'box' AND b.box_id = :id)
          OR (:scope = 'boxes' AND b.box_id IN (SELECT value FROM json_each(:list))))"
        )
    };
}

/// What a report asks for: local dates `from` to `to`, both included, in the office's time
/// zone `tz`; the boxes of `scope`; only the entries naming `bulletin`, if given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub tz: Tz,
    pub scope: ReportScope,
    pub bulletin: Option<String>,
}

/// As-run entries counted by outcome.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Entries of any outcome: each airing the box was due to make (a retry after an
    /// interruption is an entry of its own).
    pub scheduled: u64,
    pub aired: u64,
    /// Aired, but started more than [`LATE_AFTER`] after the scheduled time.
    pub late: u64,
    pub missed: u64,
    pub failed: u64,
    pub interrupted: u64,
    /// Time on air of the aired entries, start to end.
    pub aired_ms: u64,
}

impl Counts {
    pub fn minutes_aired(&self) -> f64 {
        self.aired_ms as f64 / 60_000.0
    }

    /// Aired over scheduled; none when nothing was scheduled.
    pub fn share_aired(&self) -> Option<f64> {
        (self.scheduled > 0).then(|| self.aired as f64 / self.scheduled as f64)
    }

    fn add(&mut self, other: &Counts) {
        self.scheduled += other.scheduled;
        self.aired += other.aired;
        self.late += other.late;
        self.missed += other.missed;
        self.failed += other.failed;
        self.interrupted += other.interrupted;
        self.aired_ms += other.aired_ms;
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxCounts {
    pub box_id: String,
    pub commune: Option<String>,
    pub counts: Counts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommuneCounts {
    /// None for boxes that never said which commune they are in.
    pub commune: Option<String>,
    pub boxes: usize,
    pub counts: Counts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCounts {
    pub date: NaiveDate,
    pub counts: Counts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub query: ReportQuery,
    /// Every box of the scope, by id; those with no entries in the range count zero.
    pub boxes: Vec<BoxCounts>,
    /// By commune id, boxes of no known commune last.
    pub communes: Vec<CommuneCounts>,
    /// Every local day of the range, in order.
    pub days: Vec<DayCounts>,
    pub total: Counts,
}

/// A box as its last status described it.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetRow {
    pub box_id: String,
    /// "online", "offline", or "unknown" for a box heard only through events.
    pub state: String,
    /// The newest instant the box itself reported (status or event).
    pub last_seen: Option<DateTime<Utc>>,
    /// The commune it counts in: the office's register, else what the box says.
    pub commune: Option<String>,
    pub district: Option<String>,
    /// The commune the box's own status names (it may differ from the register's).
    pub claimed_commune: Option<String>,
    /// Whether the office has registered the box (see [`Archive::register_box`]).
    pub registered: bool,
    /// The title of the programme on air; none when the box is silent or offline.
    pub on_air: Option<String>,
    /// Schedule revision held per scope.
    pub revisions: BTreeMap<String, u64>,
    /// Bulletins still being fetched.
    pub transfers: Vec<TransferView>,
    pub disk_free: Option<u64>,
    pub volume: Option<u8>,
    pub version: Option<String>,
    pub last_aired: Option<LastAiredView>,
}

impl FleetRow {
    /// A registered box whose status names another commune than the office gave it: set up
    /// wrongly, or lying.
    pub fn claims_another_commune(&self) -> bool {
        self.registered && self.claimed_commune.is_some() && self.claimed_commune != self.commune
    }
}

/// One as-run entry as archived: the box's entry, and which box (and commune) it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct AsRunRow {
    pub box_id: String,
    pub commune: Option<String>,
    pub seq: i64,
    pub entry: AsRun,
}

impl AsRun {
    /// What a person calls it: its title, else its programme id (older boxes send no title).
    pub fn name(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.program)
    }

    /// How late it started, if it started.
    pub fn late_by(&self) -> Option<chrono::Duration> {
        self.started.map(|started| started - self.scheduled)
    }

    pub fn is_late(&self) -> bool {
        self.outcome == "aired"
            && self
                .late_by()
                .is_some_and(|late| late.num_milliseconds() > late_ms())
    }
}

/// Something a box refused, from its `rejected` events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub topic: Option<String>,
    pub reason: String,
}

fn late_ms() -> i64 {
    LATE_AFTER.as_millis() as i64
}

/// The UTC instant local date `date` starts at in `tz`. Where a time-zone change skips
/// midnight, the day starts at its first minute that exists.
pub fn day_start(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    (0..=24 * 60)
        .find_map(|minute| {
            tz.from_local_datetime(&(midnight + chrono::Duration::minutes(minute)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

fn instant(ms: i64) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or(rusqlite::Error::IntegralValueOutOfRange(0, ms))
}

fn optional_instant(ms: Option<i64>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    ms.map(instant).transpose()
}

const AS_RUN_COLUMNS: &str = concat!(
    "a.box_id, ",
    commune_of_box!(),
    ", a.seq, a.program, a.title, a.scheduled,
    a.started, a.ended, a.outcome, a.detail, a.bulletins, a.origin_kind, a.origin_scope"
);

fn as_run_row(row: &Row<'_>) -> rusqlite::Result<AsRunRow> {
    let bulletins: Option<String> = row.get(10)?;
    Ok(AsRunRow {
        box_id: row.get(0)?,
        commune: row.get(1)?,
        seq: row.get(2)?,
        entry: AsRun {
            program: row.get(3)?,
            title: row.get(4)?,
            scheduled: instant(row.get(5)?)?,
            started: optional_instant(row.get(6)?)?,
            ended: optional_instant(row.get(7)?)?,
            outcome: row.get(8)?,
            detail: row.get(9)?,
            bulletins: bulletins
                .and_then(|b| serde_json::from_str(&b).ok())
                .unwrap_or_default(),
            origin_kind: row.get(11)?,
            origin_scope: row.get(12)?,
        },
    })
}

fn fleet_row(row: &Row<'_>) -> rusqlite::Result<FleetRow> {
    let state: String = row.get(1)?;
    let status: Option<String> = row.get(5)?;
    // The status was checked when it arrived; one edited by hand since shows as blanks.
    let view: StatusView = status
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    Ok(FleetRow {
        box_id: row.get(0)?,
        last_seen: optional_instant(row.get(2)?)?,
        commune: row.get(3)?,
        district: row.get(4)?,
        claimed_commune: row.get(6)?,
        registered: row.get(7)?,
        // Whatever an offline box was airing has stopped.
        on_air: view.now_playing.clone().filter(|_| state == "online"),
        volume: view.volume_percent(),
        revisions: view.revisions,
        transfers: view.transfers,
        disk_free: view.disk_free,
        version: view.version,
        last_aired: view.last_aired,
        state,
    })
}

const FLEET_COLUMNS: &str = concat!(
    "b.box_id, b.state, b.last_seen, ",
    commune_of_box!(),
    ", b.district, b.status, b.commune, b.registered_commune IS NOT NULL"
);

impl Archive {
    /// Every box, by id; only those of `commune` if given.
    pub fn fleet(&self, commune: Option<&str>) -> Result<Vec<FleetRow>, ArchiveError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {FLEET_COLUMNS} FROM archive_box AS b
                 WHERE ?1 IS NULL OR {} = ?1 ORDER BY b.box_id",
                commune_of_box!()
            ))?;
            stmt.query_map([commune], fleet_row)?.collect()
        })
    }

    /// The office's register: each registered box with the commune the office gave it.
    pub fn register(&self) -> Result<crate::publish::Registry, ArchiveError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT box_id, registered_commune FROM archive_box
                 WHERE registered_commune IS NOT NULL",
            )?;
            let boxes = stmt
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<Vec<(String, String)>>>()?;
            Ok(crate::publish::Registry::new(boxes))
        })
    }

    /// The commune each box counts in (the register's, else its own word), for boxes that
    /// have one: what checking a target needs, without reading every box's status.
    pub fn box_communes(&self) -> Result<BTreeMap<String, String>, ArchiveError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(concat!(
                "SELECT b.box_id, ",
                commune_of_box!(),
                " FROM archive_box AS b WHERE ",
                commune_of_box!(),
                " IS NOT NULL"
            ))?;
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
    }

    /// One box, if the archive has heard of it.
    pub fn fleet_box(&self, box_id: &str) -> Result<Option<FleetRow>, ArchiveError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {FLEET_COLUMNS} FROM archive_box AS b WHERE b.box_id = ?1"
            ))?;
            stmt.query_map([box_id], fleet_row)?.next().transpose()
        })
    }

    /// A box's `limit` latest as-run entries (by scheduled time), newest first; with
    /// `problems_only`, only those that did not air.
    pub fn recent_as_run(
        &self,
        box_id: &str,
        limit: usize,
        problems_only: bool,
    ) -> Result<Vec<AsRunRow>, ArchiveError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {AS_RUN_COLUMNS}
                 FROM archive_as_run AS a LEFT JOIN archive_box AS b ON b.box_id = a.box_id
                 WHERE a.box_id = ?1 AND (NOT ?2 OR a.outcome != 'aired')
                 ORDER BY a.scheduled DESC, a.seq DESC LIMIT ?3"
            ))?;
            stmt.query_map(params![box_id, problems_only, limit as i64], as_run_row)?
                .collect()
        })
    }

    /// A box's `limit` latest rejections, newest first.
    pub fn recent_rejections(
        &self,
        box_id: &str,
        limit: usize,
    ) -> Result<Vec<Rejection>, ArchiveError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, at, topic, coalesce(json_extract(payload, '$.reason'), '')
                 FROM archive_event WHERE box_id = ?1 AND kind = 'rejected'
                 ORDER BY seq DESC LIMIT ?2",
            )?;
            stmt.query_map(params![box_id, limit as i64], |row| {
                Ok(Rejection {
                    seq: row.get(0)?,
                    at: instant(row.get(1)?)?,
                    topic: row.get(2)?,
                    reason: row.get(3)?,
                })
            })?
            .collect()
        })
    }

    /// Every as-run entry naming `bulletin` scheduled on local dates `from` to `to` (both
    /// included) in `tz`, in time order.
    pub fn airings(
        &self,
        bulletin: &str,
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<AsRunRow>, ArchiveError> {
        let (start, end) = range(tz, from, to);
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {AS_RUN_COLUMNS}
                 FROM archive_as_run_bulletin AS x
                 JOIN archive_as_run AS a ON a.id = x.run
                 LEFT JOIN archive_box AS b ON b.box_id = a.box_id
                 WHERE x.bulletin = ?1 AND x.scheduled >= ?2 AND x.scheduled < ?3
                 ORDER BY x.scheduled, a.box_id, a.seq"
            ))?;
            stmt.query_map(params![bulletin, start, end], as_run_row)?
                .collect()
        })
    }

    /// The report for `query`: counts per box, per commune, per local day, and in all.
    pub fn report(&self, query: &ReportQuery) -> Result<Report, ArchiveError> {
        let (per_box, days) = self.read(|conn| report_counts(conn, query))?;
        let mut communes: BTreeMap<Option<String>, CommuneCounts> = BTreeMap::new();
        let mut total = Counts::default();
        for row in &per_box {
            let commune = communes
                .entry(row.commune.clone())
                .or_insert_with(|| CommuneCounts {
                    commune: row.commune.clone(),
                    boxes: 0,
                    counts: Counts::default(),
                });
            commune.boxes += 1;
            commune.counts.add(&row.counts);
            total.add(&row.counts);
        }
        let mut communes: Vec<CommuneCounts> = communes.into_values().collect();
        // BTreeMap puts None first; boxes of no known commune read better last.
        communes.sort_by(|a, b| {
            (a.commune.is_none(), &a.commune).cmp(&(b.commune.is_none(), &b.commune))
        });
        Ok(Report {
            query: query.clone(),
            boxes: per_box,
            communes,
            days,
            total,
        })
    }
}

/// `[start, end)` in milliseconds for local dates `from` to `to`, both included.
fn range(tz: Tz, from: NaiveDate, to: NaiveDate) -> (i64, i64) {
    let end = to.succ_opt().unwrap_or(to);
    (
        day_start(tz, from).timestamp_millis(),
        day_start(tz, end).timestamp_millis(),
    )
}

/// One pass over the range, a day at a time: each day's entries of each box of the scope come
/// straight from the index on (box, scheduled time), already grouped by box, so neither the
/// per-box totals nor the daily series need a sort.
fn report_counts(
    conn: &Connection,
    query: &ReportQuery,
) -> rusqlite::Result<(Vec<BoxCounts>, Vec<DayCounts>)> {
    let (scope, id, list) = query.scope.params();
    let mut boxes: BTreeMap<String, BoxCounts> = BTreeMap::new();
    let mut in_scope = conn.prepare_cached(concat!(
        "SELECT b.box_id, ",
        commune_of_box!(),
        " FROM archive_box AS b WHERE ",
        in_scope!(),
        " ORDER BY b.box_id"
    ))?;
    let mut rows = in_scope.query(named_params! {":scope": scope, ":id": id, ":list": list})?;
    while let Some(row) = rows.next()? {
        let box_id: String = row.get(0)?;
        boxes.insert(
            box_id.clone(),
            BoxCounts {
                box_id,
                commune: row.get(1)?,
                counts: Counts::default(),
            },
        );
    }
    let mut day_counts = conn.prepare_cached(concat!(
        "SELECT b.box_id,
                count(*),
                sum(a.outcome = 'aired'),
                sum(a.outcome = 'aired' AND a.late_ms > :late_ms),
                sum(a.outcome = 'missed'),
                sum(a.outcome = 'failed'),
                sum(a.outcome = 'interrupted'),
                total(CASE WHEN a.outcome = 'aired' THEN a.ended - a.started END)
         FROM archive_box AS b CROSS JOIN archive_as_run AS a
         WHERE a.box_id = b.box_id AND a.scheduled >= :start AND a.scheduled < :end
           AND (:bulletin IS NULL OR EXISTS (SELECT 1 FROM archive_as_run_bulletin AS x
                                             WHERE x.run = a.id AND x.bulletin = :bulletin))
           AND ",
        in_scope!(),
        " GROUP BY b.box_id"
    ))?;
    let mut days = Vec::new();
    let mut date = query.from;
    while date <= query.to {
        let Some(next) = date.succ_opt() else { break };
        let mut counts = Counts::default();
        let mut rows = day_counts.query(named_params! {
            ":late_ms": late_ms(),
            ":start": day_start(query.tz, date).timestamp_millis(),
            ":end": day_start(query.tz, next).timestamp_millis(),
            ":bulletin": query.bulletin,
            ":scope": scope, ":id": id, ":list": list,
        })?;
        while let Some(row) = rows.next()? {
            let box_id: String = row.get(0)?;
            let count = |i| row.get::<_, i64>(i).map(|n| n.max(0) as u64);
            let day = Counts {
                scheduled: count(1)?,
                aired: count(2)?,
                late: count(3)?,
                missed: count(4)?,
                failed: count(5)?,
                interrupted: count(6)?,
                aired_ms: row.get::<_, f64>(7)?.max(0.0) as u64,
            };
            counts.add(&day);
            if let Some(entry) = boxes.get_mut(&box_id) {
                entry.counts.add(&day);
            }
        }
        days.push(DayCounts { date, counts });
        date = next;
    }
    Ok((boxes.into_values().collect(), days))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::store::tests::{archive, as_run, at, events, put, status};

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn query(from: &str, to: &str, scope: ReportScope) -> ReportQuery {
        ReportQuery {
            from: date(from),
            to: date(to),
            tz: chrono_tz::Asia::Ho_Chi_Minh,
            scope,
            bulletin: None,
        }
    }

    fn with_bulletins(event: String, bulletins: &[&str]) -> String {
        let mut value: serde_json::Value = serde_json::from_str(&event).unwrap();
        value["bulletins"] = serde_json::json!(bulletins);
        value.to_string()
    }

    /// Two communes: pd-01 and pd-02 in phu-dong, kh-01 in khac; pd-03 is heard only through
    /// events. Times are UTC; Vietnam is 7 hours ahead.
    fn seeded() -> (tempfile::TempDir, Archive) {
        let (dir, archive) = archive();
        let statuses = [
            ("pd-01", "phu-dong"),
            ("pd-02", "phu-dong"),
            ("kh-01", "khac"),
        ]
        .map(|(b, c)| (format!("loaxa/status/{b}"), status(b, c, "online")));
        put(&archive, &statuses);
        put(
            &archive,
            &[
                // 24/11 local: 23/11 17:00Z to 24/11 17:00Z.
                events(
                    "pd-01",
                    as_run("pd-01", 1, "2026-11-23T16:59:59Z", Some(0), "aired"),
                ),
                events(
                    "pd-01",
                    as_run("pd-01", 2, "2026-11-23T17:00:00Z", Some(5), "aired"),
                ),
                events(
                    "pd-01",
                    as_run("pd-01", 3, "2026-11-24T04:00:00Z", Some(6), "aired"),
                ),
                events(
                    "pd-01",
                    as_run("pd-01", 4, "2026-11-24T10:00:00Z", None, "missed"),
                ),
                events(
                    "pd-02",
                    with_bulletins(
                        as_run("pd-02", 1, "2026-11-24T04:00:00Z", Some(1), "failed"),
                        &["bao-lu"],
                    ),
                ),
                events(
                    "pd-02",
                    with_bulletins(
                        as_run("pd-02", 2, "2026-11-25T04:00:00Z", Some(0), "aired"),
                        &["bao-lu", "tiem-chung"],
                    ),
                ),
                events(
                    "kh-01",
                    as_run("kh-01", 7, "2026-11-24T16:59:59Z", Some(2), "interrupted"),
                ),
                events(
                    "pd-03",
                    with_bulletins(
                        as_run("pd-03", 1, "2026-11-24T05:00:00Z", Some(0), "aired"),
                        &["bao-lu"],
                    ),
                ),
            ],
        );
        (dir, archive)
    }

    #[test]
    fn a_day_is_counted_in_vietnam_time_with_late_missed_and_minutes() {
        let (_dir, archive) = seeded();
        let report = archive
            .report(&query("2026-11-24", "2026-11-24", ReportScope::All))
            .unwrap();
        let pd01 = report.boxes.iter().find(|b| b.box_id == "pd-01").unwrap();
        // 16:59:59Z is still the 23rd in Vietnam; started 5 s late is on time, 6 s is late.
        assert_eq!(
            pd01.counts,
            Counts {
                scheduled: 3,
                aired: 2,
                late: 1,
                missed: 1,
                failed: 0,
                interrupted: 0,
                aired_ms: 2 * 120_000,
            }
        );
        assert_eq!(pd01.counts.minutes_aired(), 4.0);
        assert_eq!(pd01.counts.share_aired(), Some(2.0 / 3.0));
        assert_eq!(report.total.scheduled, 6);
        assert_eq!(
            (report.total.failed, report.total.interrupted),
            (1, 1),
            "{report:#?}"
        );
        let ids: Vec<&str> = report.boxes.iter().map(|b| b.box_id.as_str()).collect();
        assert_eq!(ids, ["kh-01", "pd-01", "pd-02", "pd-03"]);
        let communes: Vec<(Option<&str>, usize, u64)> = report
            .communes
            .iter()
            .map(|c| (c.commune.as_deref(), c.boxes, c.counts.scheduled))
            .collect();
        assert_eq!(
            communes,
            [(Some("khac"), 1, 1), (Some("phu-dong"), 2, 4), (None, 1, 1)]
        );
    }

    #[test]
    fn the_daily_series_has_every_local_day_of_the_range_even_empty_ones() {
        let (_dir, archive) = seeded();
        let report = archive
            .report(&query("2026-11-23", "2026-11-26", ReportScope::All))
            .unwrap();
        let series: Vec<(String, u64, u64)> = report
            .days
            .iter()
            .map(|d| {
                (
                    d.date.format("%d/%m").to_string(),
                    d.counts.aired,
                    d.counts.missed + d.counts.failed,
                )
            })
            .collect();
        assert_eq!(
            series,
            [
                ("23/11".into(), 1, 0),
                ("24/11".into(), 3, 2),
                ("25/11".into(), 1, 0),
                ("26/11".into(), 0, 0)
            ]
        );
        assert_eq!(report.total.scheduled, 8);
    }

    #[test]
    fn a_scope_or_a_bulletin_narrows_the_report() {
        let (_dir, archive) = seeded();
        let scheduled = |scope, bulletin: Option<&str>| {
            let mut q = query("2026-11-20", "2026-11-30", scope);
            q.bulletin = bulletin.map(str::to_owned);
            let report = archive.report(&q).unwrap();
            (report.boxes.len(), report.total.scheduled)
        };
        assert_eq!(scheduled(ReportScope::All, None), (4, 8));
        assert_eq!(
            scheduled(ReportScope::Commune("phu-dong".into()), None),
            (2, 6)
        );
        assert_eq!(
            scheduled(ReportScope::District("gia-lam".into()), None),
            (3, 7)
        );
        assert_eq!(scheduled(ReportScope::Box("kh-01".into()), None), (1, 1));
        assert_eq!(
            scheduled(
                ReportScope::Boxes(vec!["kh-01".into(), "pd-02".into(), "nobody".into()]),
                None
            ),
            (2, 3)
        );
        assert_eq!(scheduled(ReportScope::All, Some("bao-lu")), (4, 3));
        assert_eq!(scheduled(ReportScope::All, Some("tiem-chung")), (4, 1));
        let scope: Scope = "commune/khac".parse().unwrap();
        assert_eq!(scheduled(ReportScope::from(&scope), None), (1, 1));
    }

    #[test]
    fn a_box_counts_in_the_commune_the_office_registered_it_in_not_the_one_it_claims() {
        let (_dir, archive) = seeded();
        // kh-01 says khac; the office places it in phu-dong. new-01 is registered, never heard.
        archive.register_box("kh-01", Some("phu-dong")).unwrap();
        archive.register_box("new-01", Some("phu-dong")).unwrap();
        let commune = |id: &str| {
            let report = archive
                .report(&query(
                    "2026-11-20",
                    "2026-11-30",
                    ReportScope::Commune(id.into()),
                ))
                .unwrap();
            (report.boxes.len(), report.total.scheduled)
        };
        assert_eq!(commune("phu-dong"), (4, 7));
        assert_eq!(commune("khac"), (0, 0));
        let kh01 = archive.fleet_box("kh-01").unwrap().unwrap();
        assert_eq!(
            (
                kh01.commune.as_deref(),
                kh01.claimed_commune.as_deref(),
                kh01.registered
            ),
            (Some("phu-dong"), Some("khac"), true)
        );
        let register = archive.register().unwrap();
        assert_eq!(
            (register.commune("kh-01"), register.commune("pd-01")),
            (Some("phu-dong"), None)
        );
        let communes = archive.box_communes().unwrap();
        assert_eq!(
            communes
                .iter()
                .map(|(b, c)| (b.as_str(), c.as_str()))
                .collect::<Vec<_>>(),
            [
                ("kh-01", "phu-dong"),
                ("new-01", "phu-dong"),
                ("pd-01", "phu-dong"),
                ("pd-02", "phu-dong")
            ],
            "pd-03 names no commune"
        );
        let new01 = archive.fleet_box("new-01").unwrap().unwrap();
        assert_eq!((new01.state.as_str(), new01.last_seen), ("unknown", None));
        assert_eq!(archive.fleet(Some("phu-dong")).unwrap().len(), 4);
        // Off the register, its own word counts again.
        archive.register_box("kh-01", None).unwrap();
        assert_eq!(commune("khac"), (1, 1));
        assert!(!archive.fleet_box("kh-01").unwrap().unwrap().registered);
    }

    #[test]
    fn registering_as_claimed_takes_each_unregistered_boxs_word_and_leaves_the_rest() {
        let (_dir, archive) = seeded();
        // kh-01 is already placed by the office; pd-03 has never said which commune it is in.
        archive.register_box("kh-01", Some("phu-dong")).unwrap();
        assert_eq!(
            archive.register_as_claimed().unwrap(),
            [
                ("pd-01".to_owned(), "phu-dong".to_owned()),
                ("pd-02".to_owned(), "phu-dong".to_owned())
            ]
        );
        let register = archive.register().unwrap();
        assert_eq!(register.commune("kh-01"), Some("phu-dong"));
        assert_eq!(register.commune("pd-03"), None);
        assert!(archive.register_as_claimed().unwrap().is_empty());
    }

    #[test]
    fn the_offices_own_report_counts_every_registered_box_whatever_district_it_claims() {
        let (_dir, archive) = seeded();
        let office = || {
            archive
                .report(&query(
                    "2026-11-20",
                    "2026-11-30",
                    ReportScope::District("ha-noi".into()),
                ))
                .unwrap()
                .boxes
                .len()
        };
        assert_eq!(office(), 0, "the seeded boxes claim gia-lam");
        archive.register_box("kh-01", Some("khac")).unwrap();
        assert_eq!(office(), 1);
    }

    #[test]
    fn where_a_bulletin_aired_lists_each_entry_naming_it_with_box_commune_and_outcome() {
        let (_dir, archive) = seeded();
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let airings = archive
            .airings("bao-lu", date("2026-11-24"), date("2026-11-25"), tz)
            .unwrap();
        let seen: Vec<(&str, Option<&str>, &str, &str)> = airings
            .iter()
            .map(|a| {
                (
                    a.box_id.as_str(),
                    a.commune.as_deref(),
                    a.entry.outcome.as_str(),
                    a.entry.program.as_str(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("pd-02", Some("phu-dong"), "failed", "morning"),
                ("pd-03", None, "aired", "morning"),
                ("pd-02", Some("phu-dong"), "aired", "morning"),
            ]
        );
        assert_eq!(airings[2].entry.bulletins, ["bao-lu", "tiem-chung"]);
        assert_eq!(airings[0].entry.scheduled, at("2026-11-24T04:00:00Z"));
        let one_day = archive
            .airings("bao-lu", date("2026-11-25"), date("2026-11-25"), tz)
            .unwrap();
        assert_eq!(one_day.len(), 1);
    }

    #[test]
    fn the_fleet_shows_each_box_as_its_status_says_and_one_boxs_recent_problems() {
        let (_dir, archive) = seeded();
        let rejected = r#"{"v":1,"box_id":"pd-01","seq":9,"at":"2026-11-24T08:01:00Z","kind":"rejected","topic":"loaxa/commune/phu-dong/schedule","reason":"revision 6 is older than the held revision 7 (replay?)"}"#;
        put(&archive, &[events("pd-01", rejected.to_owned())]);
        let fleet = archive.fleet(None).unwrap();
        assert_eq!(fleet.len(), 4);
        let pd01 = &fleet[1];
        assert_eq!(pd01.box_id, "pd-01");
        assert_eq!(pd01.state, "online");
        assert_eq!(pd01.on_air.as_deref(), Some("Bản tin sáng"));
        assert_eq!(pd01.volume, Some(70));
        assert_eq!(pd01.disk_free, Some(5_368_709_120));
        assert_eq!(pd01.revisions.get("commune/phu-dong"), Some(&7));
        assert_eq!(pd01.transfers[0].bulletin, "tiem-chung");
        assert_eq!(pd01.last_seen, Some(at("2026-11-24T10:00:00Z")));
        let pd03 = &fleet[3];
        assert_eq!(
            (pd03.state.as_str(), pd03.commune.as_deref()),
            ("unknown", None)
        );
        assert_eq!(archive.fleet(Some("phu-dong")).unwrap().len(), 2);
        assert_eq!(
            archive.fleet_box("kh-01").unwrap().map(|b| b.commune),
            Some(Some("khac".into()))
        );
        assert_eq!(archive.fleet_box("nobody").unwrap(), None);

        let recent = archive.recent_as_run("pd-01", 2, false).unwrap();
        let seqs: Vec<i64> = recent.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [4, 3]);
        assert!(recent[1].entry.is_late());
        let problems = archive.recent_as_run("pd-01", 10, true).unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].entry.outcome, "missed");
        let rejections = archive.recent_rejections("pd-01", 10).unwrap();
        assert_eq!(rejections.len(), 1);
        assert!(rejections[0].reason.starts_with("revision 6"));
    }

    #[test]
    fn a_day_starts_at_local_midnight_or_at_the_first_minute_after_a_skipped_one() {
        let hanoi = chrono_tz::Asia::Ho_Chi_Minh;
        assert_eq!(
            day_start(hanoi, date("2026-11-24")),
            at("2026-11-23T17:00:00Z")
        );
        // Santiago skips from 00:00 to 01:00 when summer time starts.
        let santiago = chrono_tz::America::Santiago;
        assert_eq!(
            day_start(santiago, date("2026-09-06")),
            at("2026-09-06T04:00:00Z")
        );
    }
}
