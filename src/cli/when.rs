//! Days and times as an operator types them: `17:30`, `17h30`, `7h`, `02/12/2026`,
//! `2026-12-02`, `12/2026`, or a day and a time together in either order. Pure: "now" is a
//! parameter, so every rule is tested on a fixed clock.
//!
//! Hand-written rather than a general date parser: the forms are few and fixed by how
//! Vietnamese write dates (day first), and each refusal must say which part was wrong.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};

/// What was wrong with a typed day or time; the CLI words it in the operator's language.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // "not a time", "not a date": the names say the refusal
pub enum WhenError {
    /// Not a time of day at all (`25:30`, `17:75`, `chiều`).
    NotATime(String),
    /// Not a date (`31/02/2026`, `2026-13-01`).
    NotADate(String),
    /// Two days, two times, or words besides a day and a time.
    NotAMoment(String),
}

impl WhenError {
    /// The catalogue's message for it, and the text at fault.
    pub fn message(&self) -> (&'static str, &str) {
        match self {
            WhenError::NotATime(text) => ("when-not-a-time", text),
            WhenError::NotADate(text) => ("when-not-a-date", text),
            WhenError::NotAMoment(text) => ("when-not-a-moment", text),
        }
    }

    /// The refusal in the operator's words.
    pub fn said(&self, words: &crate::text::Words) -> String {
        let (id, text) = self.message();
        words.t_args(id, &[("text", crate::text::arg(text))])
    }
}

/// A span of days named by the operator: one day, or a whole month (`12/2026`, `2026-12`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

/// A day (`02/12/2026`, `2/12/2026`, `02/12` this year, `2026-12-02`) or a month (`12/2026`,
/// `2026-12`). `today` gives the year to a date typed without one.
pub fn parse_days(text: &str, today: NaiveDate) -> Result<Days, WhenError> {
    let refused = || WhenError::NotADate(text.to_owned());
    let text = text.trim();
    let numbers: Vec<&str> = text.split(['/', '-', '.']).collect();
    if numbers
        .iter()
        .any(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(refused());
    }
    let number = |s: &str| s.parse::<u32>().map_err(|_| refused());
    let year = |s: &str| -> Result<i32, WhenError> {
        match s.len() {
            4 => s.parse().map_err(|_| refused()),
            _ => Err(refused()),
        }
    };
    let day = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d).ok_or_else(refused);
    let month = |y: i32, m: u32| -> Result<Days, WhenError> {
        let first = day(y, m, 1)?;
        let next = if m == 12 {
            day(y + 1, 1, 1)?
        } else {
            day(y, m + 1, 1)?
        };
        Ok(Days {
            first,
            last: next - Duration::days(1),
        })
    };
    let iso = text.contains('-') && numbers.first().is_some_and(|n| n.len() == 4);
    match numbers.as_slice() {
        [y, m, d] if iso => one(day(year(y)?, number(m)?, number(d)?)?),
        [y, m] if iso => month(year(y)?, number(m)?),
        [d, m, y] => one(day(year(y)?, number(m)?, number(d)?)?),
        [m, y] if y.len() == 4 => month(year(y)?, number(m)?),
        [d, m] => one(day(today.year(), number(m)?, number(d)?)?),
        _ => Err(refused()),
    }
}

fn one(date: NaiveDate) -> Result<Days, WhenError> {
    Ok(Days {
        first: date,
        last: date,
    })
}

/// A time of day: `17:30`, `17:30:15`, `17h30`, `17h`, `7h30`, `7g30` (giờ).
pub fn parse_time(text: &str) -> Result<NaiveTime, WhenError> {
    let refused = || WhenError::NotATime(text.to_owned());
    let lower = text.trim().to_lowercase();
    let parts: Vec<&str> = if lower.contains(':') {
        lower.split(':').collect()
    } else if let Some((hours, minutes)) = lower.split_once(['h', 'g']) {
        // "17h" is 17:00; "17h30" and "17h30p" (phút) are 17:30.
        let minutes = minutes.strip_suffix('p').unwrap_or(minutes);
        if minutes.is_empty() {
            vec![hours, "0"]
        } else {
            vec![hours, minutes]
        }
    } else {
        return Err(refused());
    };
    let numbers: Vec<u32> = parts
        .iter()
        .map(|p| {
            (!p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
                .ok_or_else(refused)
        })
        .collect::<Result<_, _>>()?;
    match numbers.as_slice() {
        [h, m] => NaiveTime::from_hms_opt(*h, *m, 0),
        [h, m, s] => NaiveTime::from_hms_opt(*h, *m, *s),
        _ => None,
    }
    .ok_or_else(refused)
}

/// A moment as the operator typed it, and whether the day was theirs or assumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    pub local: NaiveDateTime,
    /// Only a time was given: the next such time, today or tomorrow.
    pub day_assumed: bool,
}

/// A day and a time in either order (`02/12/2026 17:30`, `17h30 02/12/2026`,
/// `2026-12-02T17:30`), or a time alone: then the next such time after `now`, today or
/// tomorrow. Whether a moment with its own day has passed is for the caller to say.
pub fn parse_moment(text: &str, now: NaiveDateTime) -> Result<Moment, WhenError> {
    let text = text.trim();
    let words: Vec<&str> = match text.split_once('T') {
        Some((date, time)) if !text.contains(' ') => vec![date, time],
        _ => text.split_whitespace().collect(),
    };
    let (day, time) = match words.as_slice() {
        [time] => (None, parse_time(time)?),
        [a, b] => match (parse_time(a), parse_time(b)) {
            (Ok(time), Err(_)) => (Some(*b), time),
            (Err(_), Ok(time)) => (Some(*a), time),
            (Err(e), Err(_)) if looks_like_a_time(a) => return Err(e),
            (Err(_), Err(e)) if looks_like_a_time(b) => return Err(e),
            _ => return Err(WhenError::NotAMoment(text.to_owned())),
        },
        _ => return Err(WhenError::NotAMoment(text.to_owned())),
    };
    match day {
        Some(day) => {
            let days = parse_days(day, now.date())?;
            if days.first != days.last {
                return Err(WhenError::NotADate(day.to_owned()));
            }
            Ok(Moment {
                local: days.first.and_time(time),
                day_assumed: false,
            })
        }
        None => {
            let today = now.date().and_time(time);
            Ok(Moment {
                local: if today > now {
                    today
                } else {
                    today + Duration::days(1)
                },
                day_assumed: true,
            })
        }
    }
}

/// Where a look ahead starts: a day (`03/12/2026`: its midnight; a month: its first day), a
/// day and a time, or a time alone (today at that time).
pub fn parse_start(text: &str, now: NaiveDateTime) -> Result<NaiveDateTime, WhenError> {
    if let Ok(days) = parse_days(text, now.date()) {
        return Ok(days.first.and_time(NaiveTime::MIN));
    }
    // One word that is neither a day nor anything like a time was meant as a day.
    if !text.trim().contains(char::is_whitespace) && !looks_like_a_time(text) {
        return Err(WhenError::NotADate(text.to_owned()));
    }
    let moment = parse_moment(text, now)?;
    Ok(match moment.day_assumed {
        true => now.date().and_time(moment.local.time()),
        false => moment.local,
    })
}

/// A word with a `:` or an `h` between digits is meant as a time, even a wrong one: say
/// "not a time" about `25:30` rather than "not a day and a time".
fn looks_like_a_time(word: &str) -> bool {
    let lower = word.to_lowercase();
    lower.contains(':')
        || (lower.contains(['h', 'g']) && lower.starts_with(|c: char| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn a_look_ahead_starts_at_a_days_midnight_or_at_a_time_today() {
        let now = at("2026-12-03 10:00");
        assert_eq!(parse_start("05/12/2026", now), Ok(at("2026-12-05 00:00")));
        assert_eq!(parse_start("12/2026", now), Ok(at("2026-12-01 00:00")));
        assert_eq!(parse_start("6h30", now), Ok(at("2026-12-03 06:30")));
        assert_eq!(
            parse_start("05/12/2026 17:30", now),
            Ok(at("2026-12-05 17:30"))
        );
        assert_eq!(
            parse_start("mai", now),
            Err(WhenError::NotADate("mai".into()))
        );
    }

    #[test]
    fn times_are_read_as_vietnamese_write_them() {
        for (text, expected) in [
            ("17:30", time(17, 30)),
            ("7:05", time(7, 5)),
            ("17h30", time(17, 30)),
            ("17H30", time(17, 30)),
            ("7h", time(7, 0)),
            ("7h30p", time(7, 30)),
            ("6g15", time(6, 15)),
            (" 05:00 ", time(5, 0)),
        ] {
            assert_eq!(parse_time(text), Ok(expected), "{text}");
        }
        assert_eq!(
            parse_time("17:30:15"),
            Ok(NaiveTime::from_hms_opt(17, 30, 15).unwrap())
        );
    }

    #[test]
    fn an_hour_or_minute_out_of_range_is_not_a_time() {
        for text in [
            "25:30", "17:75", "24:00", "chiều", "17", "1730", "17:3:", "h30", "-5:00",
        ] {
            assert_eq!(
                parse_time(text),
                Err(WhenError::NotATime(text.into())),
                "{text}"
            );
        }
    }

    #[test]
    fn days_are_day_first_or_iso_and_a_month_is_all_its_days() {
        let today = date("2026-12-02");
        let day = |d| Days {
            first: date(d),
            last: date(d),
        };
        assert_eq!(parse_days("02/12/2026", today), Ok(day("2026-12-02")));
        assert_eq!(parse_days("2/12/2026", today), Ok(day("2026-12-02")));
        assert_eq!(parse_days("2026-12-02", today), Ok(day("2026-12-02")));
        assert_eq!(parse_days("25/12", today), Ok(day("2026-12-25")));
        assert_eq!(
            parse_days("2026-12", today),
            Ok(Days {
                first: date("2026-12-01"),
                last: date("2026-12-31")
            })
        );
        assert_eq!(
            parse_days("02/2028", today),
            Ok(Days {
                first: date("2028-02-01"),
                last: date("2028-02-29")
            })
        );
        for text in [
            "31/02/2026",
            "2026-13-01",
            "12/26",
            "hôm qua",
            "",
            "1/2/3/4",
            "02/12/26",
        ] {
            assert_eq!(
                parse_days(text, today),
                Err(WhenError::NotADate(text.trim().into())),
                "{text}"
            );
        }
    }

    #[test]
    fn a_time_alone_is_the_next_such_time_today_or_tomorrow() {
        let now = at("2026-12-02 16:00");
        assert_eq!(
            parse_moment("17:30", now),
            Ok(Moment {
                local: at("2026-12-02 17:30"),
                day_assumed: true
            })
        );
        assert_eq!(
            parse_moment("7h30", now),
            Ok(Moment {
                local: at("2026-12-03 07:30"),
                day_assumed: true
            })
        );
        // The very minute that is now has passed: tomorrow.
        assert_eq!(
            parse_moment("16:00", now).unwrap().local,
            at("2026-12-03 16:00")
        );
    }

    #[test]
    fn a_day_and_a_time_come_in_either_order() {
        let now = at("2026-12-02 16:00");
        let expected = Moment {
            local: at("2026-12-05 17:30"),
            day_assumed: false,
        };
        for text in [
            "05/12/2026 17:30",
            "17h30 05/12/2026",
            "2026-12-05 17:30",
            "2026-12-05T17:30",
            "2026-12-05T17:30:00",
            "5/12 17:30",
        ] {
            assert_eq!(parse_moment(text, now), Ok(expected), "{text}");
        }
        // A day in the past is read as written: the caller refuses it, saying when it was.
        assert_eq!(
            parse_moment("01/12/2026 07:00", now).unwrap().local,
            at("2026-12-01 07:00")
        );
    }

    #[test]
    fn each_refusal_names_the_part_at_fault() {
        let now = at("2026-12-02 16:00");
        assert_eq!(
            parse_moment("25:30", now),
            Err(WhenError::NotATime("25:30".into()))
        );
        assert_eq!(
            parse_moment("31/02/2026 17:30", now),
            Err(WhenError::NotADate("31/02/2026".into()))
        );
        assert_eq!(
            parse_moment("02/12/2026 25:30", now),
            Err(WhenError::NotATime("25:30".into()))
        );
        assert_eq!(
            parse_moment("12/2026 17:30", now),
            Err(WhenError::NotADate("12/2026".into()))
        );
        assert_eq!(
            parse_moment("chiều mai", now),
            Err(WhenError::NotAMoment("chiều mai".into()))
        );
        assert_eq!(
            parse_moment("17:30 18:30 02/12/2026", now),
            Err(WhenError::NotAMoment("17:30 18:30 02/12/2026".into()))
        );
    }
}
