//! Broadcast windows: the hours of the day when a box may sound at all (emergencies excepted),
//! each with its own volume. The loudest complaint about commune loudspeakers is sound at the
//! wrong time, so a schedule that would air outside them is refused when it is validated or
//! published, and anything that reaches air time outside them anyway is refused then.

use std::fmt;

use chrono::NaiveTime;
use serde::Deserialize;

/// One window, `from` inclusive to `to` exclusive, in local time. `to` before `from` spans
/// midnight.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub from: NaiveTime,
    pub to: NaiveTime,
    /// Linear gain applied to everything aired in the window, 0.0–1.0.
    pub volume: f32,
}

impl Window {
    fn contains(&self, time: NaiveTime) -> bool {
        if self.from <= self.to {
            self.from <= time && time < self.to
        } else {
            time >= self.from || time < self.to
        }
    }
}

/// The box's windows; a time is allowed if any window holds it (the first one that does gives
/// the volume).
#[derive(Debug, Clone, PartialEq)]
pub struct Windows(pub Vec<Window>);

impl Default for Windows {
    /// 05:00–22:00 at full volume.
    fn default() -> Windows {
        Windows(vec![Window {
            from: NaiveTime::from_hms_opt(5, 0, 0).unwrap_or_default(),
            to: NaiveTime::from_hms_opt(22, 0, 0).unwrap_or_default(),
            volume: 1.0,
        }])
    }
}

impl Windows {
    /// 00:00–24:00: no restriction.
    pub fn all_day() -> Windows {
        Windows(vec![Window {
            from: NaiveTime::MIN,
            to: end_of_day(),
            volume: 1.0,
        }])
    }

    /// The volume for audio aired at local `time`, or None when no window is open.
    pub fn volume_at(&self, time: NaiveTime) -> Option<f32> {
        self.0.iter().find(|w| w.contains(time)).map(|w| w.volume)
    }

    pub fn allows(&self, time: NaiveTime) -> bool {
        self.volume_at(time).is_some()
    }
}

/// "24:00": the last instant of the day, so a window can end at midnight without spanning it.
fn end_of_day() -> NaiveTime {
    NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).unwrap_or_default()
}

impl fmt::Display for Windows {
    /// "05:00–11:30, 13:30–22:00".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spans: Vec<String> = self
            .0
            .iter()
            .map(|w| {
                let to = if w.to == end_of_day() {
                    "24:00".to_owned()
                } else {
                    w.to.format("%H:%M").to_string()
                };
                format!("{}–{to}", w.from.format("%H:%M"))
            })
            .collect();
        f.write_str(&spans.join(", "))
    }
}

/// A `[[window]]` table as written in the box config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    pub from: String,
    pub to: String,
    pub volume: Option<f64>,
}

impl RawWindow {
    /// Checks one table; errors name the field.
    pub fn resolve(&self) -> Result<Window, WindowProblem> {
        let time = |field: &'static str, text: &str| {
            NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| WindowProblem::NotATime {
                field,
                text: text.to_owned(),
            })
        };
        let from = time("from", &self.from)?;
        let to = if self.to == "24:00" {
            end_of_day()
        } else {
            time("to", &self.to)?
        };
        if from == to {
            return Err(WindowProblem::Empty {
                at: self.from.clone(),
            });
        }
        let volume = self.volume.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&volume) {
            return Err(WindowProblem::BadVolume { volume });
        }
        Ok(Window {
            from,
            to,
            volume: volume as f32,
        })
    }
}

/// Why a `[[window]]` table (or a `--window FROM-TO`) is not a window.
#[derive(Debug, Clone, PartialEq)]
pub enum WindowProblem {
    /// `from` or `to` is not `HH:MM`.
    NotATime {
        field: &'static str,
        text: String,
    },
    /// `from` and `to` are the same time.
    Empty {
        at: String,
    },
    BadVolume {
        volume: f64,
    },
}

impl fmt::Display for WindowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowProblem::NotATime { field, text } => {
                write!(f, "{field}: \"{text}\" is not a time of day like \"05:30\"")
            }
            WindowProblem::Empty { at } => {
                write!(f, "from and to are both {at}: the window is empty")
            }
            WindowProblem::BadVolume { volume } => {
                write!(f, "volume: {volume} out of range 0.0–1.0")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").unwrap()
    }

    fn window(from: &str, to: &str, volume: Option<f64>) -> Result<Window, WindowProblem> {
        RawWindow {
            from: from.into(),
            to: to.into(),
            volume,
        }
        .resolve()
    }

    #[test]
    fn the_default_window_is_five_in_the_morning_to_ten_at_night() {
        let windows = Windows::default();
        assert!(!windows.allows(t("04:59")));
        assert!(windows.allows(t("05:00")));
        assert!(windows.allows(t("21:59")));
        assert!(!windows.allows(t("22:00")));
        assert_eq!(windows.to_string(), "05:00–22:00");
    }

    #[test]
    fn a_quieter_noon_window_gives_its_volume_and_a_window_may_span_midnight() {
        let windows = Windows(vec![
            window("11:30", "13:30", Some(0.5)).unwrap(),
            window("05:00", "22:00", None).unwrap(),
            window("23:00", "01:00", Some(0.3)).unwrap(),
        ]);
        assert_eq!(windows.volume_at(t("12:00")), Some(0.5));
        assert_eq!(windows.volume_at(t("14:00")), Some(1.0));
        assert_eq!(windows.volume_at(t("00:30")), Some(0.3));
        assert_eq!(windows.volume_at(t("02:00")), None);
    }

    #[test]
    fn a_window_from_midnight_to_24_00_is_the_whole_day() {
        let windows = Windows(vec![window("00:00", "24:00", None).unwrap()]);
        assert!(windows.allows(t("00:00")) && windows.allows(t("23:59")));
        assert_eq!(windows.to_string(), "00:00–24:00");
    }

    #[test]
    fn bad_window_tables_say_which_field_is_wrong() {
        assert_eq!(
            window("5am", "22:00", None).unwrap_err().to_string(),
            "from: \"5am\" is not a time of day like \"05:30\""
        );
        assert_eq!(
            window("05:00", "05:00", None).unwrap_err().to_string(),
            "from and to are both 05:00: the window is empty"
        );
        assert_eq!(
            window("05:00", "22:00", Some(1.5)).unwrap_err().to_string(),
            "volume: 1.5 out of range 0.0–1.0"
        );
    }
}
