//! A mistyped command line, answered in the operator's language.
//!
//! clap writes its own errors in English ("unexpected argument '--sinse' found"). Its errors
//! carry what went wrong as typed context (the kind, the argument, the value, a suggestion,
//! the usage line), so the words are ours and the facts are clap's. Help and version output
//! are left to clap: the summaries in them are already the catalogue's.

use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::text::{Words, arg};

/// Whether clap should print `error` itself: help and version are not mistakes.
pub fn is_help(error: &clap::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    )
}

/// What the operator reads for a mistyped command: the mistake, a suggestion when clap has
/// one, the usage line, and where to read more.
pub fn explain(error: &clap::Error, words: &Words) -> String {
    let context = |kind: ContextKind| error.get(kind).map(ContextValue::to_string);
    let argument = context(ContextKind::InvalidArg).unwrap_or_default();
    let value = context(ContextKind::InvalidValue).unwrap_or_default();
    let with = |id: &str| {
        words.t_args(
            id,
            &[
                ("arg", arg(&argument)),
                ("value", arg(&value)),
                (
                    "name",
                    arg(context(ContextKind::InvalidSubcommand).unwrap_or_default()),
                ),
                (
                    "prior",
                    arg(context(ContextKind::PriorArg).unwrap_or_default()),
                ),
                (
                    "valid",
                    arg(context(ContextKind::ValidValue)
                        .or_else(|| context(ContextKind::ValidSubcommand))
                        .unwrap_or_default()),
                ),
            ],
        )
    };
    let mistake = match error.kind() {
        ErrorKind::InvalidSubcommand => with("cli-unknown-command"),
        ErrorKind::UnknownArgument if argument.starts_with('-') => with("cli-unknown-option"),
        ErrorKind::UnknownArgument => with("cli-unexpected-word"),
        ErrorKind::InvalidValue if value.is_empty() => with("cli-missing-value"),
        ErrorKind::InvalidValue if error.get(ContextKind::ValidValue).is_some() => {
            with("cli-value-not-among")
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => with("cli-bad-value"),
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues => with("cli-unexpected-word"),
        ErrorKind::TooFewValues => with("cli-missing-value"),
        ErrorKind::ArgumentConflict => with("cli-conflict"),
        ErrorKind::MissingRequiredArgument => with("cli-missing-argument"),
        ErrorKind::MissingSubcommand => with("cli-missing-command"),
        ErrorKind::InvalidUtf8 => with("cli-not-utf8"),
        _ => words.t("cli-mistyped"),
    };
    let mut lines = vec![words.t_args("error", &[("reason", arg(mistake))])];
    let suggested = context(ContextKind::SuggestedSubcommand)
        .or_else(|| context(ContextKind::SuggestedArg))
        .or_else(|| context(ContextKind::SuggestedValue));
    if let Some(suggestion) = suggested {
        lines.push(words.t_args("cli-did-you-mean", &[("suggestion", arg(suggestion))]));
    }
    if let Some(usage) = context(ContextKind::Usage) {
        // clap titles the line in English; the rest is the command's own syntax.
        let syntax = usage.trim().trim_start_matches("Usage:").trim();
        lines.push(format!("{}: {syntax}", words.t("help-usage")));
    }
    lines.push(words.t("cli-more"));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;
    use crate::text::Lang;

    /// Parses `line` with the box's real command line, in `lang`; what the operator reads.
    fn answer(lang: Lang, line: &str) -> String {
        let words = Words::new(lang).unwrap();
        let command = super::super::in_words(super::super::Cli::command(), &words);
        match command.try_get_matches_from(line.split_whitespace()) {
            Ok(_) => panic!("{line:?} parsed"),
            Err(error) => explain(&error, &words),
        }
    }

    #[test]
    fn a_mistyped_command_is_answered_in_vietnamese_with_the_command_meant() {
        let said = answer(Lang::Vi, "loaxa statu");
        assert!(said.starts_with("Lỗi: không có lệnh “statu”"), "{said}");
        assert!(said.contains("“status”"), "{said}");
        assert!(!said.contains("Usage") && !said.contains("tip"), "{said}");
    }

    #[test]
    fn a_misspelt_option_is_named_and_the_right_one_suggested() {
        let said = answer(Lang::Vi, "loaxa log --sinse 01/12/2026");
        assert!(
            said.contains("“--sinse”") && said.contains("“--since”"),
            "{said}"
        );
        let said = answer(Lang::En, "loaxa log --sinse 01/12/2026");
        assert!(said.contains("--since"), "{said}");
    }

    #[test]
    fn a_programme_without_a_time_asks_for_at_or_cron() {
        let said = answer(Lang::Vi, "loaxa program add tin.mp3");
        assert!(said.contains("--at") && said.contains("--cron"), "{said}");
        assert!(said.starts_with("Lỗi: còn thiếu"), "{said}");
    }

    #[test]
    fn an_option_without_its_value_and_an_extra_word_are_told() {
        let said = answer(Lang::Vi, "loaxa program add tin.mp3 --at");
        assert!(said.contains("--at") && said.contains("cần"), "{said}");
        let said = answer(Lang::Vi, "loaxa volume 50 60");
        assert!(said.contains("“60”"), "{said}");
    }

    #[test]
    fn a_level_not_among_the_allowed_ones_lists_them() {
        let said = answer(Lang::Vi, "loaxa play-now tin.mp3 --priority khan");
        assert!(said.contains("“khan”") && said.contains("normal"), "{said}");
    }

    #[test]
    fn help_is_not_a_mistake() {
        let words = Words::new(Lang::Vi).unwrap();
        let command = super::super::in_words(super::super::Cli::command(), &words);
        let error = command.try_get_matches_from(["loaxa", "--help"]).err();
        assert!(error.as_ref().is_some_and(is_help));
        assert!(super::super::Cli::try_parse_from(["loaxa", "status"]).is_ok());
    }
}
