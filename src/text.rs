//! The box's words for the people who run it: every line the operator commands print, in
//! Vietnamese or English, from the Fluent files `src/text/{vi,en}.ftl` embedded in the binary.
//!
//! The language is the box config's `language`, else the environment's locale (`LC_ALL`,
//! `LC_MESSAGES`, `LANG`), else Vietnamese: the people at a commune's box read Vietnamese, and
//! a box's service account often has no locale at all. The daemon's journal stays English for
//! the engineers who read it; what both say about one event shares its stable code.

use std::sync::OnceLock;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Weekday};
use loaxa_core::i18n::{Catalogue, CatalogueError};
pub use loaxa_core::i18n::{FluentValue, Lang};

pub mod errors;
pub mod schedule;
pub mod trouble;

const VIETNAMESE: &str = include_str!("text/vi.ftl");
const ENGLISH: &str = include_str!("text/en.ftl");

/// The embedded catalogue is checked by a unit test, so building it can fail only in a build
/// that test would have failed; the error is still reported, not unwrapped.
fn catalogue() -> Result<&'static Catalogue, TextError> {
    static CATALOGUE: OnceLock<Result<Catalogue, String>> = OnceLock::new();
    CATALOGUE
        .get_or_init(|| {
            Catalogue::new(VIETNAMESE, ENGLISH).map_err(|e: CatalogueError| e.to_string())
        })
        .as_ref()
        .map_err(|e| TextError(e.clone()))
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TextError(String);

/// The language to speak: the config's choice, else the locale's, else Vietnamese.
pub fn choose(configured: Option<Lang>) -> Lang {
    configured
        .or_else(|| Lang::from_locale(|name| std::env::var(name).ok()))
        .unwrap_or_default()
}

/// Messages in one language.
#[derive(Clone, Copy)]
pub struct Words {
    lang: Lang,
    catalogue: &'static Catalogue,
}

impl std::fmt::Debug for Words {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Words({})", self.lang.code())
    }
}

impl Words {
    pub fn new(lang: Lang) -> Result<Words, TextError> {
        Ok(Words {
            lang,
            catalogue: catalogue()?,
        })
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Whether the catalogue has the message `id`.
    pub fn has(&self, id: &str) -> bool {
        self.catalogue.has(id)
    }

    /// The message `id`.
    pub fn t(&self, id: &str) -> String {
        self.catalogue.text(self.lang, id, &[])
    }

    /// The message `id` with its arguments.
    pub fn t_args(&self, id: &str, args: &[(&str, FluentValue)]) -> String {
        self.catalogue.text(self.lang, id, args)
    }

    /// "thứ Tư 02/12/2026": the day as Vietnamese (and English) speakers date a notice.
    pub fn day(&self, date: NaiveDate) -> String {
        self.t_args(
            "day",
            &[
                (
                    "weekday",
                    FluentValue::from(self.t(weekday_id(date.weekday()))),
                ),
                (
                    "date",
                    FluentValue::from(date.format("%d/%m/%Y").to_string()),
                ),
            ],
        )
    }

    /// "17:30 thứ Tư 02/12/2026", in the instant's own time zone.
    pub fn moment<Tz: TimeZone>(&self, at: &DateTime<Tz>) -> String
    where
        Tz::Offset: std::fmt::Display,
    {
        self.t_args(
            "moment",
            &[
                ("time", FluentValue::from(at.format("%H:%M").to_string())),
                ("day", FluentValue::from(self.day(at.date_naive()))),
            ],
        )
    }
}

fn weekday_id(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "weekday-mon",
        Weekday::Tue => "weekday-tue",
        Weekday::Wed => "weekday-wed",
        Weekday::Thu => "weekday-thu",
        Weekday::Fri => "weekday-fri",
        Weekday::Sat => "weekday-sat",
        Weekday::Sun => "weekday-sun",
    }
}

/// `FluentValue` from anything displayable: ids, paths, counts shown as they are.
pub fn arg(value: impl std::fmt::Display) -> FluentValue<'static> {
    FluentValue::from(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_hold_the_same_messages() {
        Catalogue::new(VIETNAMESE, ENGLISH).unwrap();
    }

    /// Every id the box's code asks for by name (`.t("…")`, `.t_args("…"`) is in the catalogue,
    /// so a typo fails here and not on an operator's screen as a bare id.
    #[test]
    fn every_message_id_the_box_uses_is_in_the_catalogue() {
        let catalogue = Catalogue::new(VIETNAMESE, ENGLISH).unwrap();
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut checked = 0;
        for (path, text) in loaxa_core::i18n::rust_sources(&[src]).unwrap() {
            // This file's own test names the calls it looks for.
            if path.ends_with("src/text.rs") {
                continue;
            }
            for id in loaxa_core::i18n::ids_asked_for(&text) {
                assert!(
                    catalogue.has(id),
                    "{}: {id:?} is not a message",
                    path.display()
                );
                checked += 1;
            }
        }
        assert!(checked > 40, "only {checked} message ids found");
    }

    #[test]
    fn a_day_is_said_with_its_weekday_and_dd_mm_yyyy() {
        let vi = Words::new(Lang::Vi).unwrap();
        let en = Words::new(Lang::En).unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        assert_eq!(vi.day(date), "thứ Tư 02/12/2026");
        assert_eq!(en.day(date), "Wednesday 02/12/2026");
        let at = chrono_tz::Asia::Ho_Chi_Minh
            .with_ymd_and_hms(2026, 12, 6, 17, 30, 0)
            .unwrap();
        assert_eq!(vi.moment(&at), "17:30 Chủ nhật 06/12/2026");
        assert_eq!(en.moment(&at), "17:30 Sunday 06/12/2026");
    }
}
