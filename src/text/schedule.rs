//! A schedule's problems in the operator's words: where (the file, its line, the programme and
//! the key as the file writes it) and what, from the typed [`Fault`]s of `loaxa_core::schedule`.
//! A file that is not TOML, or not a schedule's shape, is told from the typed
//! [`TomlProblem`]; the audio decoder's own messages are quoted as they come.

use loaxa_core::schedule::cron::{CronError, CronField};
use loaxa_core::schedule::{Confinement, Fault, Field, ItemFault, ScheduleError};
use loaxa_core::toml_problem::{Kind, Mistake, TomlProblem};

use super::{Words, arg};

/// "xa.toml, dòng 4": a file, and its line when known.
pub fn place(file: &std::path::Path, line: Option<usize>, words: &Words) -> String {
    match line {
        Some(line) => words.t_args(
            "where-file-line",
            &[("file", arg(file.display())), ("line", arg(line))],
        ),
        None => file.display().to_string(),
    }
}

/// "xa.toml, dòng 4, chương trình “sang”, mục cron: …"
pub fn schedule_error(error: &ScheduleError, words: &Words) -> String {
    let mut place = place(&error.file, error.line, words);
    if let Some(field) = &error.field {
        place = format!("{place}, {}", field_words(field, words));
    }
    format!("{place}: {}", fault_words(&error.fault, words))
}

fn field_words(field: &Field, words: &Words) -> String {
    let nth = |i: usize| arg(i + 1);
    match field {
        Field::Timezone => words.t("field-timezone"),
        Field::Program {
            program, key: None, ..
        } => words.t_args("field-programme", &[("programme", arg(program))]),
        Field::Program {
            program,
            key: Some(key),
            index: None,
        } => words.t_args(
            "field-programme-key",
            &[("programme", arg(program)), ("key", arg(key))],
        ),
        Field::Program {
            program,
            key: Some(key),
            index: Some(i),
        } => words.t_args(
            "field-programme-member",
            &[
                ("programme", arg(program)),
                ("key", arg(key)),
                ("n", nth(*i)),
            ],
        ),
        Field::Unnamed { index, key: None } => words.t_args("field-unnamed", &[("n", nth(*index))]),
        Field::Unnamed {
            index,
            key: Some(key),
        } => words.t_args(
            "field-unnamed-key",
            &[("n", nth(*index)), ("key", arg(key))],
        ),
        Field::Exception {
            index, key: None, ..
        } => words.t_args("field-exception", &[("n", nth(*index))]),
        Field::Exception {
            index,
            key: Some(key),
            item: None,
        } => words.t_args(
            "field-exception-key",
            &[("n", nth(*index)), ("key", arg(key))],
        ),
        Field::Exception {
            index,
            key: Some(key),
            item: Some(i),
        } => words.t_args(
            "field-exception-member",
            &[("n", nth(*index)), ("key", arg(key)), ("m", nth(*i))],
        ),
    }
}

/// What is wrong, in the operator's words.
pub fn fault_words(fault: &Fault, words: &Words) -> String {
    let one = |id: &str, name: &str, value: String| words.t_args(id, &[(name, arg(value))]);
    match fault {
        Fault::Syntax(problem) => toml_words(problem, words),
        Fault::CannotRead { error } => one(
            "fault-cannot-read",
            "error",
            super::trouble::file_words(error, words),
        ),
        Fault::CannotReadDirectory { error } => one(
            "fault-cannot-read-directory",
            "error",
            super::trouble::file_words(error, words),
        ),
        Fault::UnknownTimezone { name } => one("fault-unknown-timezone", "name", name.clone()),
        Fault::IdTwiceInFile => words.t("fault-id-twice"),
        Fault::IdUsedIn { file } => one("fault-id-used-in", "file", file.display().to_string()),
        Fault::BadId { id } => one("fault-bad-id", "id", id.clone()),
        Fault::MissingId => words.t("fault-missing-id"),
        Fault::VolumeOutOfRange { value } => one("fault-volume", "value", value.clone()),
        Fault::BadWhenBusy { text } => one("fault-when-busy", "text", text.clone()),
        Fault::LocalEmergency => words.t("fault-local-emergency"),
        Fault::UntilBeforeFrom { until, from } => words.t_args(
            "fault-until-before-from",
            &[
                ("until", arg(until.format("%d/%m/%Y"))),
                ("from", arg(from.format("%d/%m/%Y"))),
            ],
        ),
        Fault::Cron(e) => cron_words(e, words),
        Fault::NoTimes => words.t("fault-no-times"),
        Fault::NotALocalTime { text } => one("fault-not-a-local-time", "text", text.clone()),
        Fault::CronAndAt => words.t("fault-cron-and-at"),
        Fault::NeitherCronNorAt => words.t("fault-neither-cron-nor-at"),
        Fault::OutsideWindows { at, windows } => words.t_args(
            "fault-outside-windows",
            &[("time", arg(at.format("%H:%M"))), ("windows", arg(windows))],
        ),
        Fault::OnlyForRelay => words.t("fault-only-for-relay"),
        Fault::MissingItems => words.t("fault-missing-items"),
        Fault::NothingToAir => words.t("fault-nothing-to-air"),
        Fault::Item(e) => item_words(e, words),
        Fault::RelayAndItems => words.t("fault-relay-and-items"),
        Fault::BadRelayUrl { url, reason } => words.t_args(
            "fault-bad-relay-url",
            &[("url", arg(url)), ("reason", arg(reason))],
        ),
        Fault::RelayMinutesOutOfRange { value } => {
            one("fault-relay-minutes", "value", value.clone())
        }
        Fault::RelayMinutesRequired => words.t("fault-relay-minutes-required"),
        Fault::SkipAndOnly => words.t("fault-skip-and-only"),
        Fault::NeitherSkipNorOnly => words.t("fault-neither-skip-nor-only"),
        Fault::NoSuchProgramme { id } => one("fault-no-such-programme", "id", id.clone()),
        Fault::NotADate { text } => one("fault-not-a-date", "text", text.clone()),
        Fault::LoadingCrashed => words.t("fault-loading-crashed"),
        Fault::NeverFires { expr } => one("fault-never-fires", "expr", expr.clone()),
        Fault::AllTimesPast { last } => one(
            "fault-all-times-past",
            "last",
            words.moment(&last.and_utc()),
        ),
        Fault::NoTimesWillNotAir => words.t("fault-no-times-will-not-air"),
        Fault::ValidUntilPast { until } => one(
            "fault-valid-until-past",
            "until",
            until.format("%d/%m/%Y").to_string(),
        ),
        Fault::NothingDue => words.t("fault-nothing-due"),
    }
}

/// Why an item cannot be aired, in the operator's words.
pub fn item_words(fault: &ItemFault, words: &Words) -> String {
    let rule = |rule: &Confinement| {
        words.t(match rule {
            Confinement::District => "rule-district-files",
            Confinement::Local => "rule-local-files",
        })
    };
    match fault {
        ItemFault::BadBulletinId { id } => words.t_args("item-bad-bulletin-id", &[("id", arg(id))]),
        ItemFault::BadPath { name } => words.t_args("item-bad-path", &[("name", arg(name))]),
        ItemFault::AbsolutePath {
            name,
            rule: r,
            media_dir,
        } => words.t_args(
            "item-absolute-path",
            &[
                ("name", arg(name)),
                ("rule", arg(rule(r))),
                ("dir", arg(media_dir.display())),
            ],
        ),
        ItemFault::NoSuchFile { path } => {
            words.t_args("item-no-such-file", &[("path", arg(path.display()))])
        }
        ItemFault::OutsideMedia { why, rule: r } => words.t_args(
            "item-outside-media",
            &[("why", arg(why)), ("rule", arg(rule(r)))],
        ),
        ItemFault::Audio { trouble } => words.t_args(
            "item-audio",
            &[("error", arg(super::trouble::audio_words(trouble, words)))],
        ),
    }
}

/// A TOML mistake (in a schedule or the box config), without the line: the caller says where.
pub fn toml_words(problem: &TomlProblem, words: &Words) -> String {
    let list = |names: &[String]| names.join(", ");
    let kind = |kind: &Kind| {
        words.t(match kind {
            Kind::Text => "toml-kind-text",
            Kind::WholeNumber => "toml-kind-whole-number",
            Kind::Number => "toml-kind-number",
            Kind::Boolean => "toml-kind-boolean",
            Kind::List => "toml-kind-list",
            Kind::Table => "toml-kind-table",
            Kind::DateTime => "toml-kind-date-time",
            Kind::Unnamed => "toml-kind-unnamed",
        })
    };
    let grammar = |id: &str| match &problem.written {
        Some(written) => words.t_args(
            "toml-as-written",
            &[("problem", arg(words.t(id))), ("written", arg(written))],
        ),
        None => words.t(id),
    };
    match &problem.mistake {
        Mistake::UnknownKey { key, known } if known.is_empty() => {
            words.t_args("toml-unknown-key-none", &[("key", arg(key))])
        }
        Mistake::UnknownKey { key, known } => words.t_args(
            "toml-unknown-key",
            &[("key", arg(key)), ("known", arg(list(known)))],
        ),
        Mistake::MissingKey { key } => words.t_args("toml-missing-key", &[("key", arg(key))]),
        Mistake::WrongKind {
            key,
            found,
            written,
            expected,
        } => {
            let mut args = vec![
                ("found", arg(kind(found))),
                ("written", arg(written)),
                ("expected", arg(kind(expected))),
            ];
            match key {
                Some(key) => {
                    args.push(("key", arg(key)));
                    words.t_args("toml-wrong-kind", &args)
                }
                None => words.t_args("toml-wrong-kind-unkeyed", &args),
            }
        }
        Mistake::UnknownChoice {
            key,
            value,
            choices,
        } => words.t_args(
            "toml-unknown-choice",
            &[
                ("key", arg(key.as_deref().unwrap_or("?"))),
                ("value", arg(value)),
                ("choices", arg(list(choices))),
            ],
        ),
        Mistake::DuplicateKey { key: Some(key) } => {
            words.t_args("toml-duplicate-key", &[("key", arg(key))])
        }
        Mistake::DuplicateKey { key: None } => grammar("toml-duplicate-key-unnamed"),
        Mistake::BadText => grammar("toml-bad-text"),
        Mistake::UnquotedText => grammar("toml-unquoted-text"),
        Mistake::MissingEquals => grammar("toml-missing-equals"),
        Mistake::BadHeader => grammar("toml-bad-header"),
        Mistake::BadList => grammar("toml-bad-list"),
        Mistake::BadBoolean => grammar("toml-bad-boolean"),
        Mistake::BadNumber => grammar("toml-bad-number"),
        Mistake::BadDateTime => grammar("toml-bad-date-time"),
        Mistake::Other => grammar("toml-other"),
    }
}

fn cron_words(error: &CronError, words: &Words) -> String {
    let field = |field: &CronField| {
        words.t(match field {
            CronField::Second => "cron-second",
            CronField::Minute => "cron-minute",
            CronField::Hour => "cron-hour",
            CronField::DayOfMonth => "cron-day-of-month",
            CronField::Month => "cron-month",
            CronField::DayOfWeek => "cron-day-of-week",
        })
    };
    let at = |id: &str, f: &CronField, token: &str| {
        words.t_args(
            id,
            &[
                ("field", arg(field(f))),
                ("token", arg(token)),
                ("min", arg(f.min())),
                ("max", arg(f.max())),
            ],
        )
    };
    match error {
        CronError::FieldCount { found } => {
            words.t_args("cron-field-count", &[("found", arg(found))])
        }
        CronError::YearField => words.t("cron-year-field"),
        CronError::Reboot => words.t("cron-reboot"),
        CronError::UnknownMacro(name) => words.t_args("cron-unknown-macro", &[("name", arg(name))]),
        CronError::TextAfterMacro { name, extra } => words.t_args(
            "cron-text-after-macro",
            &[("name", arg(name)), ("extra", arg(extra))],
        ),
        CronError::Quartz { field: f, token } => at("cron-quartz", f, token),
        CronError::EmptyItem { field: f, token } => at("cron-empty-item", f, token),
        CronError::InvalidItem { field: f, token } => at("cron-invalid-item", f, token),
        CronError::NotANumber { field: f, token } => at("cron-not-a-number", f, token),
        CronError::OutOfRange { field: f, token } => at("cron-out-of-range", f, token),
        CronError::Backwards { field: f, token } => at("cron-backwards", f, token),
        CronError::StepNotANumber { field: f, token } => at("cron-step-not-a-number", f, token),
        CronError::StepOutOfRange { field: f, token } => at("cron-step-out-of-range", f, token),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Lang;
    use std::path::Path;

    fn errors(text: &str) -> Vec<ScheduleError> {
        let options = loaxa_core::schedule::LoadOptions::standalone(Path::new("xa.toml"), None);
        loaxa_core::schedule::parse(text, Path::new("xa.toml"), &options).errors
    }

    #[test]
    fn a_schedule_problem_says_where_and_what_in_vietnamese_without_field_paths() {
        let vi = Words::new(Lang::Vi).unwrap();
        let found = errors(
            "[[program]]\nid = \"sang\"\ncron = \"0 25 * * *\"\nitems = [\"chime\"]\n\
             [[program]]\nid = \"chieu\"\nat = [\"2026-12-02 17:30\"]\nitems = [\"chime\", \"../x.mp3\"]\n",
        );
        let said: Vec<String> = found.iter().map(|e| schedule_error(e, &vi)).collect();
        assert_eq!(
            said,
            [
                "xa.toml, dòng 3, chương trình “sang”, mục cron: giờ 25 không hợp lệ: giờ phải \
                 từ 0 đến 23",
                "xa.toml, dòng 7, chương trình “chieu”, mục at thứ 1: “2026-12-02 17:30” không \
                 phải giờ phát; hãy viết như 2026-11-25T07:00:00",
                "xa.toml, dòng 8, chương trình “chieu”, mục items thứ 2: “../x.mp3” không phải \
                 đường dẫn tệp âm thanh (trống, hoặc dùng `..` để ra ngoài thư mục)",
            ]
        );
        for line in &said {
            assert!(!line.contains("[0]") && !line.contains(".at"), "{line}");
        }
    }

    /// The ids this file names through a helper rather than by a literal call are checked here: a string
    /// literal that looks like one of its ids must be a message.
    #[test]
    fn every_id_this_file_names_is_a_message() {
        let catalogue =
            loaxa_core::i18n::Catalogue::new(super::super::VIETNAMESE, super::super::ENGLISH)
                .unwrap();
        let prefixes = [
            "fault-", "item-", "field-", "cron-", "rule-", "where-", "toml-",
        ];
        let source = include_str!("schedule.rs");
        let code = &source[..source.find("#[cfg(test)]").unwrap_or(source.len())];
        let mut checked = 0;
        for literal in code.split('"').skip(1).step_by(2) {
            if prefixes.iter().any(|p| literal.starts_with(p)) {
                assert!(catalogue.has(literal), "{literal:?} is not a message");
                checked += 1;
            }
        }
        assert!(checked > 60, "only {checked} ids found");
    }

    #[test]
    fn every_fault_has_words_in_both_languages() {
        // A fault whose message id is missing would print the bare id.
        let found = errors(
            "timezone = \"Mars/Base\"\n[[program]]\nid = \"x y\"\nitems = []\n\
             [[program]]\nid = \"a\"\ncron = \"0 6 * * *\"\nat = [\"2026-01-01T06:00:00\"]\n\
             volume = 2.0\nwhen_busy = \"later\"\npriority = \"emergency\"\nitems = [\"bulletin:x y\"]\n\
             [[exception]]\ndates = [\"31/12\"]\n",
        );
        assert!(found.len() >= 6, "{found:#?}");
        for lang in [Lang::Vi, Lang::En] {
            let words = Words::new(lang).unwrap();
            for error in &found {
                let said = schedule_error(error, &words);
                assert!(
                    !said.contains("fault-") && !said.contains("field-"),
                    "{said}"
                );
            }
        }
    }
}
