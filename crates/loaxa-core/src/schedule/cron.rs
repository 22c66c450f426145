//! Crontab(5) time expressions, as Vixie cron on Debian reads them, evaluated on
//! the wall clock of a commune's time zone.
//!
//! Programmes are written by people who know crontab, so the grammar and the
//! corner cases follow Vixie cron rather than Quartz or a home-made dialect:
//!
//! * five fields `min hour dom month dow`, or six with a leading seconds field;
//! * `*`, numbers, `a-b`, `*/n`, `a-b/n`, `a/n` (cronie's `a-max/n`), lists;
//! * three-letter month and day names, case-insensitive;
//! * `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`;
//! * Vixie's day rule and daylight-saving behaviour, explained on [`CronExpr`].

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

const SECONDS_PER_DAY: i64 = 86_400;

/// How many local days [`CronExpr::next_after`] looks at: eight years and a
/// little, because the next 29 February can be eight years away (2096 → 2104).
const SEARCH_DAYS: usize = 8 * 366 + 2;

/// A bound on any UTC offset a zone has ever used (Asia/Manila's local mean
/// time was −15:56). Every local time of a calendar day therefore happens
/// within this much of that day's midnight read as if it were UTC.
const MAX_OFFSET: i64 = 16 * 3600;

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// One of the six time fields, named as error messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronField {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl CronField {
    pub fn min(self) -> u32 {
        match self {
            Self::DayOfMonth | Self::Month => 1,
            _ => 0,
        }
    }

    /// The largest value the field accepts; day-of-week takes 7 as a second Sunday.
    pub fn max(self) -> u32 {
        match self {
            Self::Second | Self::Minute => 59,
            Self::Hour => 23,
            Self::DayOfMonth => 31,
            Self::Month => 12,
            Self::DayOfWeek => 7,
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Self::Month => &MONTH_NAMES,
            Self::DayOfWeek => &DAY_NAMES,
            _ => &[],
        }
    }

    fn name_hint(self) -> &'static str {
        match self {
            Self::Month => " or month name",
            Self::DayOfWeek => " or day name",
            _ => "",
        }
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::DayOfMonth => "day-of-month",
            Self::Month => "month",
            Self::DayOfWeek => "day-of-week",
        })
    }
}

/// Why an expression is not valid crontab. Messages are meant to follow a
/// location, as in `morning.cron: day-of-week 8 out of range 0–7`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("expected 5 fields (or 6 with leading seconds), found {found}")]
    FieldCount { found: usize },
    #[error(
        "found 7 fields; a trailing year field is Quartz syntax, not crontab(5), \
         which takes 5 fields (or 6 with leading seconds)"
    )]
    YearField,
    #[error(
        "@reboot has no meaning for a broadcast schedule; give a time such as @daily or `0 6 * * *`"
    )]
    Reboot,
    #[error(
        "unknown macro `{0}`; expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
    )]
    UnknownMacro(String),
    #[error("unexpected `{extra}` after {name}; a macro stands alone")]
    TextAfterMacro { name: String, extra: String },
    #[error("{field} `{token}` is Quartz syntax, not crontab(5)")]
    Quartz { field: CronField, token: String },
    #[error("{field} has an empty list item in `{token}`")]
    EmptyItem { field: CronField, token: String },
    #[error("{field} `{token}` is not a value, range or step")]
    InvalidItem { field: CronField, token: String },
    #[error("{field} \"{token}\" is not a number{}", .field.name_hint())]
    NotANumber { field: CronField, token: String },
    #[error("{field} {token} out of range {}–{}", .field.min(), .field.max())]
    OutOfRange { field: CronField, token: String },
    #[error("{field} range {token} runs backwards")]
    Backwards { field: CronField, token: String },
    #[error("{field} step \"{token}\" is not a number")]
    StepNotANumber { field: CronField, token: String },
    #[error("{field} step {token} out of range 1–{}", .field.max())]
    StepOutOfRange { field: CronField, token: String },
}

/// A parsed crontab(5) time expression.
///
/// # Which days match
/// Vixie cron looks only at the *first character* of the day-of-month and
/// day-of-week fields. If either starts with `*`, a day must match both fields
/// (the starred one allows whatever it lists); if neither does, a day matches
/// when *either* field does. So `0 9 1,15 * mon` fires on the 1st, the 15th and
/// every Monday, while `0 9 */2 * mon` fires only on Mondays that fall on an
/// odd date: `*/2` starts with `*`, so it joins the AND rule even though it
/// restricts the days. That quirk is reproduced on purpose, because it is what
/// the same line would do in a crontab.
///
/// # Daylight-saving time
/// Like Vixie cron, the expression is *fixed-time* when neither its minute nor
/// its hour field starts with `*`, and *wildcard* otherwise (seconds do not
/// count). The difference matters only where the wall clock jumps:
/// * In a spring-forward gap, a fixed-time firing whose wall time does not
///   exist fires once, at the first instant after the gap (the announcement
///   still goes out, just late); wildcard expressions skip the missing times,
///   since their next repetition comes soon anyway.
/// * In a fall-back fold, a fixed-time firing happens once, at the first
///   (summer-time) instance, so a daily programme does not air twice; wildcard
///   expressions fire at both instances, which are distinct real instants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    text: String,
    seconds: u64,
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    /// Sunday is bit 0; a 7 in the text is folded onto it.
    days_of_week: u64,
    dom_star: bool,
    dow_star: bool,
    fixed_time: bool,
}

impl CronExpr {
    /// Parses a 5- or 6-field expression or an `@` macro (macros are matched
    /// case-insensitively, like names). Surrounding whitespace is ignored, and
    /// fields may be separated by any run of spaces or tabs.
    pub fn parse(text: &str) -> Result<CronExpr, CronError> {
        let text = text.trim();
        let mut fields: Vec<&str> = text.split_ascii_whitespace().collect();
        if let [name, rest @ ..] = fields.as_slice()
            && name.starts_with('@')
        {
            if let Some(extra) = rest.first() {
                return Err(CronError::TextAfterMacro {
                    name: (*name).to_owned(),
                    extra: (*extra).to_owned(),
                });
            }
            fields = expand_macro(name)?.split_ascii_whitespace().collect();
        }
        let (second, [minute, hour, dom, month, dow]) = match fields.as_slice() {
            &[minute, hour, dom, month, dow] => ("0", [minute, hour, dom, month, dow]),
            &[second, minute, hour, dom, month, dow] => (second, [minute, hour, dom, month, dow]),
            [_, _, _, _, _, _, _] => return Err(CronError::YearField),
            other => return Err(CronError::FieldCount { found: other.len() }),
        };
        Ok(CronExpr {
            text: text.to_owned(),
            seconds: parse_field(CronField::Second, second)?,
            minutes: parse_field(CronField::Minute, minute)?,
            hours: parse_field(CronField::Hour, hour)?,
            days_of_month: parse_field(CronField::DayOfMonth, dom)?,
            months: parse_field(CronField::Month, month)?,
            days_of_week: parse_field(CronField::DayOfWeek, dow)?,
            dom_star: dom.starts_with('*'),
            dow_star: dow.starts_with('*'),
            fixed_time: !minute.starts_with('*') && !hour.starts_with('*'),
        })
    }

    /// The first firing strictly after `after`, evaluated on the wall clock of
    /// `tz`; `None` if nothing fires within about eight years (e.g. `0 0 31 2 *`).
    ///
    /// The search walks local calendar days and tests each against the day
    /// bitsets, so impossible dates cost a few microseconds per year. On a
    /// matching day whose UTC offset is constant (almost every day) the answer
    /// is one bitset lookup; only on a day near an offset change is each
    /// matching wall time converted with the zone rules, which is where the
    /// gap and fold behaviour described on [`CronExpr`] is applied. Because a
    /// fold makes wall-clock order and real order disagree, the smallest real
    /// instant is returned, not the first wall time.
    /// The first local time of day at which it can fire that `allowed` refuses, if any: how a
    /// schedule is checked against the box's broadcast windows.
    pub fn first_time_refused(
        &self,
        allowed: impl Fn(chrono::NaiveTime) -> bool,
    ) -> Option<chrono::NaiveTime> {
        let bits = |mask: u64, max: u32| (0..=max).filter(move |n| mask & (1 << n) != 0);
        bits(self.hours, 23)
            .flat_map(|h| bits(self.minutes, 59).map(move |m| (h, m)))
            .flat_map(|(h, m)| bits(self.seconds, 59).map(move |s| (h, m, s)))
            .filter_map(|(h, m, s)| chrono::NaiveTime::from_hms_opt(h, m, s))
            .find(|t| !allowed(*t))
    }

    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        // Whole seconds suffice: firings fall on whole seconds, so a firing is
        // strictly after `after` exactly when it is after its whole second.
        let after_secs = after.timestamp();
        // Start a day early: a fold around midnight can put later instants on
        // the previous local date.
        let first_day = after.with_timezone(&tz).date_naive().pred_opt()?;
        let mut best: Option<i64> = None;
        for day in first_day.iter_days().take(SEARCH_DAYS) {
            let matches = self.day_matches(day);
            if !matches && best.is_none() {
                continue;
            }
            let window = DayWindow::new(day, tz)?;
            if best.is_some_and(|found| found <= window.earliest_instant()) {
                break;
            }
            if matches && let Some(found) = self.first_on_day(&window, after_secs, tz) {
                best = Some(earliest(best, found));
            }
        }
        DateTime::from_timestamp(best?, 0)
    }

    /// Whether any date can match, in any year: `0 9 31 2 *` names a day February never has.
    /// Under the OR rule every week of a named month matches on the named weekdays; under the
    /// AND rule a named day must exist in a named month (each such date falls on every weekday
    /// in some year, 29 February included).
    pub fn can_fire(&self) -> bool {
        if !(self.dom_star || self.dow_star) {
            return true;
        }
        (1..=12).filter(|&m| has(self.months, m)).any(|month| {
            let longest = match month {
                2 => 29,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            (1..=longest).any(|day| has(self.days_of_month, day))
        })
    }

    /// Vixie's day rule; see the type's documentation for why `*/2` means AND.
    fn day_matches(&self, day: NaiveDate) -> bool {
        let dom = has(self.days_of_month, day.day());
        let dow = has(self.days_of_week, day.weekday().num_days_from_sunday());
        let day_ok = if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        };
        day_ok && has(self.months, day.month())
    }

    /// The earliest firing instant after `after` among the wall times of one
    /// matching day.
    fn first_on_day(&self, window: &DayWindow, after: i64, tz: Tz) -> Option<i64> {
        let from = window.first_useful_second(after)?;
        match window.uniform_offset() {
            Some(offset) => Some(window.start + i64::from(self.next_second_of_day(from)?) - offset),
            None => self.first_on_transition_day(window, from, after, tz),
        }
    }

    /// Walks the matching wall times of a day with an offset change in local
    /// order, converting each. Ambiguous times may yield an instant earlier
    /// than one already seen, so the walk keeps the minimum and stops only at
    /// a wall time with a single meaning (or a gap firing): everything later on
    /// the wall clock is also later in real time.
    fn first_on_transition_day(
        &self,
        window: &DayWindow,
        mut from: u32,
        after: i64,
        tz: Tz,
    ) -> Option<i64> {
        let mut best = None;
        while let Some(second) = self.next_second_of_day(from) {
            from = second + 1;
            let local = window.start + i64::from(second);
            let wall = DateTime::from_timestamp(local, 0)?.naive_utc();
            match tz.from_local_datetime(&wall) {
                LocalResult::Single(instant) => {
                    if instant.timestamp() > after {
                        return Some(earliest(best, instant.timestamp()));
                    }
                }
                LocalResult::Ambiguous(earlier, later) => {
                    let repeat = (!self.fixed_time).then_some(later);
                    for instant in std::iter::once(earlier).chain(repeat) {
                        if instant.timestamp() > after {
                            best = Some(earliest(best, instant.timestamp()));
                        }
                    }
                }
                LocalResult::None if self.fixed_time => {
                    let instant = gap_end(tz, local, window)?;
                    if instant > after {
                        return Some(earliest(best, instant));
                    }
                }
                LocalResult::None => {}
            }
        }
        best
    }

    /// The first matching second of the day at or after `from` (seconds since
    /// local midnight), skipping whole hours and minutes that cannot match.
    fn next_second_of_day(&self, mut from: u32) -> Option<u32> {
        while i64::from(from) < SECONDS_PER_DAY {
            let (hour, minute, second) = (from / 3600, from / 60 % 60, from % 60);
            let next_hour = next_bit(self.hours, hour)?;
            if next_hour != hour {
                from = next_hour * 3600;
                continue;
            }
            let Some(next_minute) = next_bit(self.minutes, minute) else {
                from = (hour + 1) * 3600;
                continue;
            };
            if next_minute != minute {
                from = hour * 3600 + next_minute * 60;
                continue;
            }
            match next_bit(self.seconds, second) {
                Some(next_second) => return Some(hour * 3600 + minute * 60 + next_second),
                None => from = hour * 3600 + (minute + 1) * 60,
            }
        }
        None
    }
}

impl FromStr for CronExpr {
    type Err = CronError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for CronExpr {
    /// The expression as written (without surrounding whitespace).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The offsets in force around one local calendar day.
struct DayWindow {
    /// Local midnight, counted in seconds as if the wall clock were UTC.
    start: i64,
    min_offset: i64,
    max_offset: i64,
}

impl DayWindow {
    /// Samples the offset before, during and after the span of real time the
    /// day's wall times can occupy. No zone in the tz database changes offset
    /// twice within such a span (checked for 1900–2100), so equal samples mean
    /// every wall time of the day has that offset, and otherwise the samples
    /// hold both offsets around the one change.
    fn new(day: NaiveDate, tz: Tz) -> Option<Self> {
        let start = day.and_time(NaiveTime::MIN).and_utc().timestamp();
        let probes = [
            start - MAX_OFFSET,
            start + SECONDS_PER_DAY / 2,
            start + SECONDS_PER_DAY + MAX_OFFSET,
        ];
        let (mut min_offset, mut max_offset) = (i64::MAX, i64::MIN);
        for probe in probes {
            let offset = offset_at(tz, probe)?;
            min_offset = min_offset.min(offset);
            max_offset = max_offset.max(offset);
        }
        Some(Self {
            start,
            min_offset,
            max_offset,
        })
    }

    fn uniform_offset(&self) -> Option<i64> {
        (self.min_offset == self.max_offset).then_some(self.min_offset)
    }

    /// No wall time of this day maps to an instant before this one.
    fn earliest_instant(&self) -> i64 {
        self.start - self.max_offset
    }

    /// The first second of the day whose wall time could map after `after`;
    /// earlier ones map at or before it under every offset of the window.
    fn first_useful_second(&self, after: i64) -> Option<u32> {
        let from = (after + self.min_offset - self.start + 1).max(0);
        u32::try_from(from)
            .ok()
            .filter(|&s| i64::from(s) < SECONDS_PER_DAY)
    }
}

/// The first instant after the spring-forward gap that swallowed the wall time
/// `local`. Vixie cron runs fixed-time jobs skipped by a forward jump right
/// after the jump, so this is when such a programme airs. Before the jump the
/// clock reads below `local`, after it above, so a binary search finds it.
fn gap_end(tz: Tz, local: i64, window: &DayWindow) -> Option<i64> {
    let (mut before, mut after) = (local - window.max_offset, local - window.min_offset);
    while after - before > 1 {
        let middle = before + (after - before) / 2;
        if middle + offset_at(tz, middle)? > local {
            after = middle;
        } else {
            before = middle;
        }
    }
    Some(after)
}

fn offset_at(tz: Tz, instant: i64) -> Option<i64> {
    let utc = DateTime::from_timestamp(instant, 0)?.naive_utc();
    Some(i64::from(
        tz.offset_from_utc_datetime(&utc).fix().local_minus_utc(),
    ))
}

fn earliest(best: Option<i64>, candidate: i64) -> i64 {
    best.map_or(candidate, |best| best.min(candidate))
}

fn has(bits: u64, value: u32) -> bool {
    (bits >> value) & 1 == 1
}

/// The smallest set bit at position `from` or above.
fn next_bit(bits: u64, from: u32) -> Option<u32> {
    let masked = if from < 64 {
        bits & (u64::MAX << from)
    } else {
        0
    };
    (masked != 0).then(|| masked.trailing_zeros())
}

/// The five-field meaning of each macro, as Vixie cron defines them.
fn expand_macro(name: &str) -> Result<&'static str, CronError> {
    match name.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => Ok("0 0 1 1 *"),
        "@monthly" => Ok("0 0 1 * *"),
        "@weekly" => Ok("0 0 * * 0"),
        "@daily" | "@midnight" => Ok("0 0 * * *"),
        "@hourly" => Ok("0 * * * *"),
        "@reboot" => Err(CronError::Reboot),
        _ => Err(CronError::UnknownMacro(name.to_owned())),
    }
}

/// Parses one field into a bitset of the values it allows.
fn parse_field(field: CronField, text: &str) -> Result<u64, CronError> {
    let mut bits = 0;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(CronError::EmptyItem {
                field,
                token: text.to_owned(),
            });
        }
        if is_quartz(field, item) {
            return Err(CronError::Quartz {
                field,
                token: item.to_owned(),
            });
        }
        bits |= parse_item(field, item)?;
    }
    if field == CronField::DayOfWeek && has(bits, 7) {
        bits = (bits | 1) & !(1 << 7);
    }
    Ok(bits)
}

/// Recognises Quartz's day extensions (`?`, `L`, `W`, `#`) so that the error
/// says where the expression came from instead of calling it junk.
fn is_quartz(field: CronField, item: &str) -> bool {
    let upper = item.to_ascii_uppercase();
    let numbered = |suffix: char| {
        upper
            .strip_suffix(suffix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    match field {
        CronField::DayOfMonth => {
            upper.contains(['?', '#'])
                || upper == "L"
                || upper == "LW"
                || upper.starts_with("L-")
                || numbered('W')
        }
        CronField::DayOfWeek => upper.contains(['?', '#']) || upper == "L" || numbered('L'),
        _ => false,
    }
}

/// Parses `*`, `v`, `a-b`, each optionally followed by `/step`; `v/step`
/// means `v-max/step`, as in cronie.
fn parse_item(field: CronField, item: &str) -> Result<u64, CronError> {
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(parse_step(field, step)?)),
        None => (item, None),
    };
    let (low, high) = if range == "*" {
        (field.min(), field.max())
    } else if let Some((first, last)) = range.split_once('-') {
        if first.is_empty() || last.is_empty() {
            return Err(CronError::InvalidItem {
                field,
                token: item.to_owned(),
            });
        }
        let low = parse_value(field, first)?;
        let mut high = parse_value(field, last)?;
        // `fri-sun` names Sunday by name; read it as 7 so the range runs forwards.
        if field == CronField::DayOfWeek && low > 0 && last.eq_ignore_ascii_case("sun") {
            high = 7;
        }
        if low > high {
            return Err(CronError::Backwards {
                field,
                token: range.to_owned(),
            });
        }
        (low, high)
    } else {
        let value = parse_value(field, range)?;
        (value, if step.is_some() { field.max() } else { value })
    };
    let step = step.unwrap_or(1);
    Ok((low..=high)
        .step_by(step as usize)
        .fold(0, |bits, value| bits | (1 << value)))
}

fn parse_value(field: CronField, token: &str) -> Result<u32, CronError> {
    if let Some(index) = field
        .names()
        .iter()
        .position(|name| name.eq_ignore_ascii_case(token))
    {
        return Ok(field.min() + index as u32);
    }
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CronError::NotANumber {
            field,
            token: token.to_owned(),
        });
    }
    token
        .parse()
        .ok()
        .filter(|value| (field.min()..=field.max()).contains(value))
        .ok_or_else(|| CronError::OutOfRange {
            field,
            token: token.to_owned(),
        })
}

/// Steps run from 1 to the field's largest value: a larger step could only
/// ever select the range's start, which is never what its author meant
/// (`*/90` in the minute field cannot mean "every 90 minutes").
fn parse_step(field: CronField, token: &str) -> Result<u32, CronError> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CronError::StepNotANumber {
            field,
            token: token.to_owned(),
        });
    }
    token
        .parse()
        .ok()
        .filter(|step| (1..=field.max()).contains(step))
        .ok_or_else(|| CronError::StepOutOfRange {
            field,
            token: token.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, SecondsFormat};
    use chrono_tz::America::{New_York, St_Johns};
    use chrono_tz::Asia::Ho_Chi_Minh;
    use chrono_tz::Europe::Berlin;
    use chrono_tz::UTC;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn rfc3339(instant: DateTime<Utc>) -> String {
        instant.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// (expression, zone, after, the next firings in order; empty = never fires)
    type Case = (&'static str, Tz, &'static str, &'static [&'static str]);

    #[rustfmt::skip]
    const FIRINGS: &[Case] = &[
        ("0 6 * * *", UTC, "2026-05-10T00:00:00Z", &["2026-05-10T06:00:00Z", "2026-05-11T06:00:00Z"]),
        ("  0\t6  * *  *  ", UTC, "2026-05-10T06:00:00Z", &["2026-05-11T06:00:00Z"]),
        ("*/15 * * * *", UTC, "2026-05-10T10:07:00Z", &["2026-05-10T10:15:00Z", "2026-05-10T10:30:00Z", "2026-05-10T10:45:00Z"]),
        ("0 9-11 * * *", UTC, "2026-05-10T10:30:00Z", &["2026-05-10T11:00:00Z", "2026-05-11T09:00:00Z", "2026-05-11T10:00:00Z"]),
        ("15,45 8,20 * * *", UTC, "2026-05-10T08:15:00Z", &["2026-05-10T08:45:00Z", "2026-05-10T20:15:00Z", "2026-05-10T20:45:00Z"]),
        ("*/7 * * * *", UTC, "2026-05-10T10:50:00Z", &["2026-05-10T10:56:00Z", "2026-05-10T11:00:00Z", "2026-05-10T11:07:00Z"]),
        ("10-40/10 * * * *", UTC, "2026-05-10T10:40:00Z", &["2026-05-10T11:10:00Z", "2026-05-10T11:20:00Z", "2026-05-10T11:30:00Z"]),
        ("0/15 8 * * *", UTC, "2026-05-10T07:00:00Z", &["2026-05-10T08:00:00Z", "2026-05-10T08:15:00Z", "2026-05-10T08:30:00Z"]),
        ("5/20 * * * *", UTC, "2026-05-10T10:50:00Z", &["2026-05-10T11:05:00Z", "2026-05-10T11:25:00Z", "2026-05-10T11:45:00Z"]),
        // 2026-05-08 is a Friday.
        ("0 7 * * mon-fri", UTC, "2026-05-08T12:00:00Z", &["2026-05-11T07:00:00Z", "2026-05-12T07:00:00Z", "2026-05-13T07:00:00Z"]),
        ("0 0 1 jan *", UTC, "2026-05-10T00:00:00Z", &["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"]),
        ("0 12 1 JAN-Mar *", UTC, "2026-02-15T00:00:00Z", &["2026-03-01T12:00:00Z", "2027-01-01T12:00:00Z", "2027-02-01T12:00:00Z"]),
        ("0 8 * * SUN", UTC, "2026-05-08T00:00:00Z", &["2026-05-10T08:00:00Z", "2026-05-17T08:00:00Z"]),
        ("0 8 * * 0", UTC, "2026-05-08T00:00:00Z", &["2026-05-10T08:00:00Z", "2026-05-17T08:00:00Z"]),
        ("0 8 * * 7", UTC, "2026-05-08T00:00:00Z", &["2026-05-10T08:00:00Z", "2026-05-17T08:00:00Z"]),
        // 2026-05-07 is a Thursday.
        ("0 8 * * 5-7", UTC, "2026-05-07T12:00:00Z", &["2026-05-08T08:00:00Z", "2026-05-09T08:00:00Z", "2026-05-10T08:00:00Z"]),
        ("0 8 * * fri-sun", UTC, "2026-05-07T12:00:00Z", &["2026-05-08T08:00:00Z", "2026-05-09T08:00:00Z", "2026-05-10T08:00:00Z"]),
        // `1/2` is `1-7/2`: Monday, Wednesday, Friday and (as 7) Sunday.
        ("0 8 * * 1/2", UTC, "2026-05-08T12:00:00Z", &["2026-05-10T08:00:00Z", "2026-05-11T08:00:00Z", "2026-05-13T08:00:00Z"]),
        // Both day fields restricted: the 1st, the 15th, or any Monday.
        ("0 9 1,15 * mon", UTC, "2026-04-30T12:00:00Z", &["2026-05-01T09:00:00Z", "2026-05-04T09:00:00Z", "2026-05-11T09:00:00Z"]),
        ("0 9 1,15 * mon", UTC, "2026-05-12T00:00:00Z", &["2026-05-15T09:00:00Z", "2026-05-18T09:00:00Z", "2026-05-25T09:00:00Z"]),
        // `*/2` starts with `*`, so the fields are ANDed: Mondays on odd dates.
        ("0 9 */2 * mon", UTC, "2026-05-01T00:00:00Z", &["2026-05-11T09:00:00Z", "2026-05-25T09:00:00Z", "2026-06-01T09:00:00Z"]),
        ("0 0 29 2 *", UTC, "2026-01-01T00:00:00Z", &["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]),
        ("0 0 29 2 *", UTC, "2096-02-29T00:00:00Z", &["2104-02-29T00:00:00Z"]),
        ("0 0 31 * *", UTC, "2026-01-31T00:00:00Z", &["2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z"]),
        ("0 0 31 2 *", UTC, "2026-01-01T00:00:00Z", &[]),
        ("0 0 30 2 *", Berlin, "2026-01-01T00:00:00Z", &[]),
        ("30 0 12 * * *", UTC, "2026-05-10T12:00:30Z", &["2026-05-11T12:00:30Z"]),
        ("*/20 * * * * *", UTC, "2026-05-10T10:00:05Z", &["2026-05-10T10:00:20Z", "2026-05-10T10:00:40Z", "2026-05-10T10:01:00Z"]),
        ("@yearly", UTC, "2026-05-10T00:00:00Z", &["2027-01-01T00:00:00Z"]),
        ("@annually", UTC, "2026-05-10T00:00:00Z", &["2027-01-01T00:00:00Z"]),
        ("@monthly", UTC, "2026-05-10T00:00:00Z", &["2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"]),
        // 2026-05-10 is a Sunday.
        ("@weekly", UTC, "2026-05-10T00:00:00Z", &["2026-05-17T00:00:00Z", "2026-05-24T00:00:00Z"]),
        ("@daily", UTC, "2026-05-10T00:00:00Z", &["2026-05-11T00:00:00Z"]),
        ("@midnight", UTC, "2026-05-10T00:00:00Z", &["2026-05-11T00:00:00Z"]),
        ("@hourly", UTC, "2026-05-10T10:00:00Z", &["2026-05-10T11:00:00Z", "2026-05-10T12:00:00Z"]),
        // Ho Chi Minh City is UTC+7 all year.
        ("0 6 * * *", Ho_Chi_Minh, "2026-05-10T00:00:00Z", &["2026-05-10T23:00:00Z", "2026-05-11T23:00:00Z"]),
        ("30 17 * * mon-fri", Ho_Chi_Minh, "2026-05-08T12:00:00Z", &["2026-05-11T10:30:00Z", "2026-05-12T10:30:00Z"]),
        ("0 0 * * mon", Ho_Chi_Minh, "2026-05-08T00:00:00Z", &["2026-05-10T17:00:00Z", "2026-05-17T17:00:00Z"]),
        ("@monthly", Ho_Chi_Minh, "2026-05-31T12:00:00Z", &["2026-05-31T17:00:00Z", "2026-06-30T17:00:00Z"]),
        // Berlin outside the changes: UTC+1 in winter, UTC+2 in summer.
        ("0 7 * * *", Berlin, "2026-01-15T00:00:00Z", &["2026-01-15T06:00:00Z", "2026-01-16T06:00:00Z"]),
        ("0 7 * * *", Berlin, "2026-07-01T00:00:00Z", &["2026-07-01T05:00:00Z", "2026-07-02T05:00:00Z"]),
        // Spring forward, 2026-03-29 02:00 CET → 03:00 CEST (01:00Z).
        // A fixed time in the gap fires once, as the gap ends.
        ("30 2 * * *", Berlin, "2026-03-27T12:00:00Z", &["2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]),
        // 02:00 (missing) and 03:00 are the same instant: it fires once.
        ("0 2,3 * * *", Berlin, "2026-03-28T12:00:00Z", &["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-30T01:00:00Z"]),
        // Wildcards skip 02:00 and 02:30, which do not exist.
        ("*/30 * * * *", Berlin, "2026-03-29T00:00:00Z", &["2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"]),
        ("30 * * * *", Berlin, "2026-03-29T00:00:00Z", &["2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z", "2026-03-29T02:30:00Z"]),
        // Fall back, 2026-10-25 03:00 CEST → 02:00 CET (01:00Z).
        // A fixed time in the fold fires once, in summer time.
        ("30 2 * * *", Berlin, "2026-10-24T12:00:00Z", &["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]),
        ("45 2 * * *", Berlin, "2026-10-25T00:50:00Z", &["2026-10-26T01:45:00Z"]),
        // Wildcards fire at both passes, in real-time order.
        ("*/30 2 * * *", Berlin, "2026-10-24T23:00:00Z", &["2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z", "2026-10-26T01:00:00Z"]),
        ("@hourly", Berlin, "2026-10-24T23:30:00Z", &["2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"]),
        // From 02:50 CEST the next firing is 02:00 CET, earlier on the wall clock.
        ("*/15 2 * * *", Berlin, "2026-10-25T00:50:00Z", &["2026-10-25T01:00:00Z", "2026-10-25T01:15:00Z", "2026-10-25T01:30:00Z"]),
        // New York changes at 02:00 local: 2026-03-08 and 2026-11-01.
        ("30 2 * * *", New_York, "2026-03-07T12:00:00Z", &["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]),
        ("30 1 * * *", New_York, "2026-10-31T12:00:00Z", &["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]),
        // St. John's fell back at 00:01 until 2010, so just after midnight the
        // repeated 23:30 of the previous date is still to come.
        ("*/30 23 * * *", St_Johns, "2010-11-07T02:30:30Z", &["2010-11-07T03:00:00Z", "2010-11-08T02:30:00Z"]),
    ];

    #[test]
    fn every_table_expression_fires_at_the_expected_instants() {
        assert!(FIRINGS.len() >= 30);
        for &(text, tz, after, expected) in FIRINGS {
            let expr = CronExpr::parse(text).unwrap();
            let mut after = at(after);
            for &want in expected {
                let got = expr.next_after(after, tz);
                assert_eq!(
                    got.map(rfc3339).as_deref(),
                    Some(want),
                    "{text:?} in {tz} after {after}"
                );
                after = got.unwrap();
            }
            if expected.is_empty() {
                assert_eq!(
                    expr.next_after(after, tz),
                    None,
                    "{text:?} should never fire"
                );
            }
        }
    }

    #[rustfmt::skip]
    const INVALID: &[(&str, &str)] = &[
        ("", "expected 5 fields (or 6 with leading seconds), found 0"),
        ("* * * *", "expected 5 fields (or 6 with leading seconds), found 4"),
        ("0 0 0 0 * * * *", "expected 5 fields (or 6 with leading seconds), found 8"),
        ("0 0 12 * * ? 2026", "found 7 fields; a trailing year field is Quartz syntax, not crontab(5), which takes 5 fields (or 6 with leading seconds)"),
        ("60 * * * *", "minute 60 out of range 0–59"),
        ("99999999999 * * * *", "minute 99999999999 out of range 0–59"),
        ("0 24 * * *", "hour 24 out of range 0–23"),
        ("0 0 0 * *", "day-of-month 0 out of range 1–31"),
        ("0 0 1-32 * *", "day-of-month 32 out of range 1–31"),
        ("0 0 * 13 *", "month 13 out of range 1–12"),
        ("0 0 * * 8", "day-of-week 8 out of range 0–7"),
        ("60 0 0 * * *", "second 60 out of range 0–59"),
        ("0 0 * foo *", "month \"foo\" is not a number or month name"),
        ("0 0 * * monday", "day-of-week \"monday\" is not a number or day name"),
        ("x * * * *", "minute \"x\" is not a number"),
        ("+5 * * * *", "minute \"+5\" is not a number"),
        ("0 jan * * *", "hour \"jan\" is not a number"),
        ("0 9-5 * * *", "hour range 9-5 runs backwards"),
        ("0 0 * * fri-mon", "day-of-week range fri-mon runs backwards"),
        ("-5 * * * *", "minute `-5` is not a value, range or step"),
        ("*/0 * * * *", "minute step 0 out of range 1–59"),
        ("0 */24 * * *", "hour step 24 out of range 1–23"),
        ("*/x * * * *", "minute step \"x\" is not a number"),
        ("1,,2 * * * *", "minute has an empty list item in `1,,2`"),
        ("0 0 1, * *", "day-of-month has an empty list item in `1,`"),
        ("0 0 L * *", "day-of-month `L` is Quartz syntax, not crontab(5)"),
        ("0 0 ? * mon", "day-of-month `?` is Quartz syntax, not crontab(5)"),
        ("0 0 15W * *", "day-of-month `15W` is Quartz syntax, not crontab(5)"),
        ("0 0 1,LW * *", "day-of-month `LW` is Quartz syntax, not crontab(5)"),
        ("0 0 * * 6#3", "day-of-week `6#3` is Quartz syntax, not crontab(5)"),
        ("0 0 * * 5l", "day-of-week `5l` is Quartz syntax, not crontab(5)"),
        ("@reboot", "@reboot has no meaning for a broadcast schedule; give a time such as @daily or `0 6 * * *`"),
        ("@fortnightly", "unknown macro `@fortnightly`; expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"),
        ("@daily 5", "unexpected `5` after @daily; a macro stands alone"),
    ];

    #[test]
    fn invalid_expressions_are_rejected_with_a_precise_message() {
        assert!(INVALID.len() >= 15);
        for &(text, message) in INVALID {
            let error = CronExpr::parse(text).expect_err(text);
            assert_eq!(error.to_string(), message, "{text:?}");
        }
    }

    #[test]
    fn an_after_exactly_on_a_firing_returns_the_following_one() {
        let expr = CronExpr::parse("0 6 * * *").unwrap();
        let firing = at("2026-05-10T06:00:00Z");
        assert_eq!(
            expr.next_after(firing, UTC),
            Some(at("2026-05-11T06:00:00Z"))
        );
    }

    #[test]
    fn a_fraction_of_a_second_before_or_after_a_firing_is_respected() {
        let expr = CronExpr::parse("0 6 * * *").unwrap();
        let firing = at("2026-05-10T06:00:00Z");
        let just_before = firing - Duration::milliseconds(1);
        let just_after = firing + Duration::milliseconds(1);
        assert_eq!(expr.next_after(just_before, UTC), Some(firing));
        assert_eq!(
            expr.next_after(just_after, UTC),
            Some(at("2026-05-11T06:00:00Z"))
        );
    }

    #[test]
    fn an_impossible_date_gives_up_within_milliseconds() {
        let expr = CronExpr::parse("0 0 31 2 *").unwrap();
        let started = std::time::Instant::now();
        assert_eq!(expr.next_after(at("2026-01-01T00:00:00Z"), Berlin), None);
        // Generous for unoptimised builds; a release build takes well under a millisecond.
        assert!(started.elapsed() < std::time::Duration::from_millis(200));
    }

    #[test]
    fn display_and_from_str_round_trip_the_written_text() {
        for text in ["*/15 6-18 * * mon-fri", "@daily", "0 30 5 1,15 * *"] {
            let expr: CronExpr = text.parse().unwrap();
            assert_eq!(expr.to_string(), text);
            assert_eq!(expr, CronExpr::parse(text).unwrap());
        }
    }

    #[test]
    fn day_of_week_seven_and_zero_parse_to_the_same_days() {
        let sunday = CronExpr::parse("0 8 * * 0").unwrap();
        let seven = CronExpr::parse("0 8 * * 7").unwrap();
        assert_eq!(sunday.days_of_week, seven.days_of_week);
    }

    /// An independent oracle: walk real time minute by minute and ask, for each
    /// instant, whether crontab would fire then. It shares only the field
    /// bitsets with the code under test, not the search.
    fn fires_at(expr: &CronExpr, instant: DateTime<Utc>, tz: Tz) -> bool {
        let matches = |wall: chrono::NaiveDateTime| {
            expr.day_matches(wall.date())
                && has(expr.hours, chrono::Timelike::hour(&wall))
                && has(expr.minutes, chrono::Timelike::minute(&wall))
        };
        let wall = instant.with_timezone(&tz).naive_local();
        let first_pass =
            tz.from_local_datetime(&wall).earliest() == Some(instant.with_timezone(&tz));
        if matches(wall) && (first_pass || !expr.fixed_time) {
            return true;
        }
        let previous = (instant - Duration::minutes(1))
            .with_timezone(&tz)
            .naive_local();
        let mut skipped = previous + Duration::minutes(1);
        while expr.fixed_time && skipped < wall {
            if matches(skipped) {
                return true;
            }
            skipped += Duration::minutes(1);
        }
        false
    }

    #[test]
    fn next_after_agrees_with_a_minute_by_minute_walk_across_dst_changes() {
        let expressions = [
            "*/30 * * * *",
            "30 2 * * *",
            "0 2,3 * * *",
            "*/20 2 * * *",
            "15 * * * *",
            "0-59/10 1-3 * * *",
            "59 1 * * *",
            "0 3 * * *",
            "@hourly",
            "@daily",
            "*/45 1-2 * * sun",
            "0 0,2 25,29 * mon",
            "*/30 23 * * *",
            "0 0 * * *",
        ];
        let windows = [
            (Berlin, "2026-03-28T20:00:00Z"),
            (Berlin, "2026-10-24T20:00:00Z"),
            (New_York, "2026-11-01T02:00:00Z"),
            (Ho_Chi_Minh, "2026-05-10T00:00:00Z"),
            (St_Johns, "2010-11-06T20:00:00Z"),
        ];
        for text in expressions {
            let expr = CronExpr::parse(text).unwrap();
            for (tz, start) in windows {
                let start = at(start);
                let end = start + Duration::hours(12);
                let expected: Vec<_> = (1..=12 * 60)
                    .map(|minutes| start + Duration::minutes(minutes))
                    .filter(|&instant| fires_at(&expr, instant, tz))
                    .collect();
                let mut found = Vec::new();
                let mut after = start;
                while let Some(next) = expr.next_after(after, tz).filter(|&next| next <= end) {
                    found.push(next);
                    after = next;
                }
                assert_eq!(found, expected, "{text:?} in {tz} from {start}");
            }
        }
    }
}
