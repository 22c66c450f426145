//! A TOML file's mistake, typed, so that it can be said in the reader's language.
//!
//! The `toml` crate and serde say what is wrong only in English prose (`unknown field
//! `colour`, expected one of …`, `invalid type: string "loud", expected f64`). The operator who
//! mistyped a schedule reads Vietnamese, so the prose is read back here into a [`Mistake`]: the
//! handful of forms that serde's own error constructors and the TOML grammar produce. What is
//! not recognised stays [`Mistake::Other`] with the parser's words, and the line as written is
//! always kept, so even then the reader sees where to look. The English `Display` is the
//! parser's message unchanged, for the journal and the district.

use std::fmt;

/// One mistake in a TOML document: where, what was written there, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TomlProblem {
    /// 1-based line of the mistake, when the parser gave a place.
    pub line: Option<usize>,
    /// The line as written (trimmed, at most [`MAX_SHOWN`] characters).
    pub written: Option<String>,
    pub mistake: Mistake,
    /// The parser's own message, which `Display` writes.
    message: String,
}

/// What is wrong. Keys and values are quoted as the file writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mistake {
    /// A key this table does not have (a misspelling, most often).
    UnknownKey {
        key: String,
        known: Vec<String>,
    },
    /// A key this table needs.
    MissingKey {
        key: String,
    },
    /// A value of the wrong kind (`volume = "loud"`); `key` when the line names one.
    WrongKind {
        key: Option<String>,
        found: Kind,
        written: String,
        expected: Kind,
    },
    /// A word not among the allowed ones (`priority = "urgent"`).
    UnknownChoice {
        key: Option<String>,
        value: String,
        choices: Vec<String>,
    },
    /// The same key twice in one table.
    DuplicateKey {
        key: Option<String>,
    },
    /// A quoted text not closed, or with a bad `\` escape.
    BadText,
    /// A text value without quotes, or a key with nothing after `=`.
    UnquotedText,
    /// A key without `=`, or two pairs on one line.
    MissingEquals,
    /// A `[[…]]` or `[…]` header not closed.
    BadHeader,
    /// A `[…]` list not closed, or its elements not separated by commas.
    BadList,
    BadBoolean,
    BadNumber,
    BadDateTime,
    /// Anything else the grammar refuses; the parser's words.
    Other,
}

impl Mistake {
    /// The key the mistake is about, when the line names one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Mistake::UnknownKey { key, .. } | Mistake::MissingKey { key } => Some(key),
            Mistake::WrongKind { key, .. }
            | Mistake::UnknownChoice { key, .. }
            | Mistake::DuplicateKey { key } => key.as_deref(),
            _ => None,
        }
    }
}

/// A kind of TOML value, as serde names what it found and what it wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    WholeNumber,
    Number,
    Boolean,
    List,
    Table,
    DateTime,
    /// A kind serde named that is none of the above.
    Unnamed,
}

/// How much of a line or a value is quoted back.
pub const MAX_SHOWN: usize = 60;

impl TomlProblem {
    /// Reads `error`, from parsing the whole of `text`.
    pub fn read(error: &toml::de::Error, text: &str) -> TomlProblem {
        TomlProblem::read_at(error, text, 0, |offset| line_number(text, offset))
    }

    /// Reads `error`, from parsing the slice of `text` that starts at byte `offset`;
    /// `line_of` gives the 1-based line of a byte of `text` (the schedule loader has them
    /// indexed: counting newlines for each of many errors in a big file would be quadratic).
    pub fn read_at(
        error: &toml::de::Error,
        text: &str,
        offset: usize,
        line_of: impl Fn(usize) -> usize,
    ) -> TomlProblem {
        let message = error.message().trim_end().to_owned();
        let span = error.span().map(|span| {
            let start = (offset + span.start).min(text.len());
            start..(offset + span.end).clamp(start, text.len())
        });
        let line_start = span.as_ref().map(|span| {
            text.get(..span.start)
                .and_then(|t| t.rfind('\n'))
                .map_or(0, |i| i + 1)
        });
        let line_text = line_start.map(|start| {
            let rest = &text[start..];
            rest[..rest.find('\n').unwrap_or(rest.len())].trim()
        });
        let at_span = span
            .as_ref()
            .and_then(|span| text.get(span.clone()))
            .map(str::trim)
            .unwrap_or("");
        // The key of a `key = value` line, when the mistake is in its value.
        let key_of_line = match (&span, line_start, line_text) {
            (Some(span), Some(start), Some(line)) => line
                .split_once('=')
                .filter(|_| text.get(start..span.start).is_some_and(|t| t.contains('=')))
                .map(|(key, _)| unquote(key.trim()).to_owned())
                .filter(|key| !key.is_empty()),
            _ => None,
        };
        let value_of_line = line_text
            .and_then(|line| line.split_once('='))
            .map(|(_, value)| value.trim());
        let mistake = match classify(&message, at_span, key_of_line) {
            // The grammar reads a bare word by its first letter (`toi` as a misspelt `true`);
            // a word is most likely a text whose quotes were forgotten.
            Mistake::BadBoolean | Mistake::BadNumber | Mistake::BadDateTime
                if value_of_line.is_some_and(is_bare_word) =>
            {
                Mistake::UnquotedText
            }
            mistake => mistake,
        };
        TomlProblem {
            line: span.map(|span| line_of(span.start)),
            written: line_text.map(shorten),
            mistake,
            message,
        }
    }
}

/// The parser's message; the line is the caller's to say, beside the file's name.
impl fmt::Display for TomlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn line_number(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// At most [`MAX_SHOWN`] characters of `text`, with an ellipsis when cut.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_SHOWN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

fn unquote(text: &str) -> &str {
    text.trim_matches(|c| c == '"' || c == '\'')
}

/// The names in backquotes in `text`: "`a`, `b` or `c`" → a, b, c.
fn quoted_names(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn classify(message: &str, at_span: &str, key_of_line: Option<String>) -> Mistake {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (key, known) = rest.split_once('`').unwrap_or((rest, ""));
        return Mistake::UnknownKey {
            key: key.to_owned(),
            known: quoted_names(known),
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        return Mistake::MissingKey {
            key: rest.trim_end_matches('`').to_owned(),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (value, choices) = rest.split_once('`').unwrap_or((rest, ""));
        return Mistake::UnknownChoice {
            key: key_of_line,
            value: value.to_owned(),
            choices: quoted_names(choices),
        };
    }
    if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
    {
        let (found, expected) = rest.rsplit_once(", expected ").unwrap_or((rest, ""));
        // TOML date-times reach serde as a map; say what the reader wrote.
        let found = match kind_found(found) {
            Kind::Table if looks_like_date_time(at_span) => Kind::DateTime,
            kind => kind,
        };
        return Mistake::WrongKind {
            key: key_of_line,
            found,
            written: shorten(at_span),
            expected: kind_expected(expected),
        };
    }
    if message.starts_with("duplicate key") {
        return Mistake::DuplicateKey {
            key: quoted_names(message)
                .into_iter()
                .next()
                .or_else(|| Some(unquote(at_span).to_owned()).filter(|k| !k.is_empty())),
        };
    }
    // The grammar's messages are "what, expected what": the first part names the mistake.
    let what = message.split(", expected").next().unwrap_or(message);
    let has = |words: &[&str]| words.iter().any(|w| what.contains(w));
    if has(&["must be quoted", "missing value"]) {
        Mistake::UnquotedText
    } else if has(&[
        "key with no value",
        "missing assignment",
        "extra assignment",
    ]) {
        Mistake::MissingEquals
    } else if has(&[
        "array table",
        "unclosed table",
        "invalid table",
        "table open",
    ]) {
        Mistake::BadHeader
    } else if has(&["array", "between array elements"]) {
        Mistake::BadList
    } else if has(&["string", "escape"]) {
        Mistake::BadText
    } else if has(&["boolean"]) {
        Mistake::BadBoolean
    } else if has(&[
        "float",
        "integer",
        "fraction",
        "exponent",
        "mantissa",
        "number",
        "leading zero",
        "sign",
    ]) {
        Mistake::BadNumber
    } else if has(&["date-time", "date", "time"]) {
        Mistake::BadDateTime
    } else {
        Mistake::Other
    }
}

/// serde's `Unexpected`, as it writes it: `string "x"`, `integer `1``, `map`, ….
fn kind_found(found: &str) -> Kind {
    let word = found.split([' ', '`']).next().unwrap_or("");
    match word {
        "string" | "character" => Kind::Text,
        "integer" => Kind::WholeNumber,
        "floating" => Kind::Number,
        "boolean" => Kind::Boolean,
        "sequence" => Kind::List,
        "map" => Kind::Table,
        _ => Kind::Unnamed,
    }
}

/// A type's `expecting`, as serde and its primitive types write it.
fn kind_expected(expected: &str) -> Kind {
    match expected.trim() {
        "a string" | "a borrowed string" | "a character" => Kind::Text,
        "a boolean" => Kind::Boolean,
        "a sequence" => Kind::List,
        "f32" | "f64" | "a float" => Kind::Number,
        "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64" | "an integer" => {
            Kind::WholeNumber
        }
        "a map" | "a table" => Kind::Table,
        other if other.starts_with("struct ") => Kind::Table,
        other if other.contains("datetime") || other.contains("date-time") => Kind::DateTime,
        _ => Kind::Unnamed,
    }
}

/// A word that is neither a number nor a misspelt `true` or `false` (`flase`, `tru`).
fn is_bare_word(value: &str) -> bool {
    let lower = value.to_lowercase();
    let misspelt_boolean =
        (3..=6).contains(&lower.len()) && lower.chars().all(|c| "truefals".contains(c));
    value.chars().next().is_some_and(char::is_alphabetic)
        && !misspelt_boolean
        && !["inf", "nan"].iter().any(|n| lower.starts_with(n))
}

fn looks_like_date_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 8
        && bytes
            .iter()
            .all(|b| b.is_ascii_digit() || b":-T .Z+".contains(b))
        && (text.contains(':') || text.contains('-'))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Programme {
        id: String,
        items: Vec<String>,
        volume: Option<f64>,
        enabled: Option<bool>,
        at: Option<Vec<String>>,
        priority: Option<Level>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Level {
        Normal,
        Emergency,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct File {
        #[serde(rename = "program")]
        programs: Vec<Programme>,
    }

    fn problem(body: &str) -> TomlProblem {
        let text = format!("# a schedule\n[[program]]\n{body}");
        match toml::from_str::<File>(&text) {
            Ok(file) => panic!("{body:?} parsed: {file:?}"),
            Err(e) => TomlProblem::read(&e, &text),
        }
    }

    #[test]
    fn a_misspelt_key_is_named_with_the_keys_there_are() {
        let p = problem("id = 'a'\nitems = ['x']\ncolour = 'red'\n");
        assert_eq!(p.line, Some(5));
        assert_eq!(p.written.as_deref(), Some("colour = 'red'"));
        let Mistake::UnknownKey { key, known } = &p.mistake else {
            panic!("{p:?}")
        };
        assert_eq!(key, "colour");
        assert_eq!(known[..2], ["id", "items"]);
        assert!(
            p.to_string()
                .starts_with("unknown field `colour`, expected one of `id`")
        );
    }

    #[test]
    fn a_missing_key_is_named() {
        let p = problem("id = 'a'\n");
        assert_eq!(
            p.mistake,
            Mistake::MissingKey {
                key: "items".into()
            }
        );
        assert_eq!(p.line, Some(2));
    }

    #[test]
    fn a_value_of_the_wrong_kind_says_its_key_what_was_written_and_what_is_wanted() {
        let p = problem("id = 'a'\nitems = ['x']\nvolume = \"loud\"\n");
        assert_eq!(
            p.mistake,
            Mistake::WrongKind {
                key: Some("volume".into()),
                found: Kind::Text,
                written: "\"loud\"".into(),
                expected: Kind::Number,
            }
        );
        let p = problem("id = 'a'\nitems = 'x.mp3'\n");
        assert!(matches!(
            p.mistake,
            Mistake::WrongKind {
                found: Kind::Text,
                expected: Kind::List,
                ..
            }
        ));
        let p = problem("id = 'a'\nitems = ['x']\nenabled = 1\n");
        assert!(matches!(
            p.mistake,
            Mistake::WrongKind {
                found: Kind::WholeNumber,
                expected: Kind::Boolean,
                ..
            }
        ));
    }

    #[test]
    fn an_unquoted_date_time_is_recognised_as_one() {
        let p = problem("id = 'a'\nitems = ['x']\nat = [2026-12-01T07:00:00]\n");
        assert!(
            matches!(
                &p.mistake,
                Mistake::WrongKind { key: Some(key), found: Kind::DateTime, expected: Kind::Text, .. }
                    if key == "at"
            ),
            "{p:?}"
        );
    }

    #[test]
    fn a_word_not_allowed_lists_the_allowed_ones() {
        let p = problem("id = 'a'\nitems = ['x']\npriority = 'urgent'\n");
        assert_eq!(
            p.mistake,
            Mistake::UnknownChoice {
                key: Some("priority".into()),
                value: "urgent".into(),
                choices: vec!["normal".into(), "emergency".into()],
            }
        );
    }

    #[test]
    fn grammar_mistakes_are_told_apart() {
        for (body, mistake) in [
            ("id = 'a\nitems = ['x']\n", Mistake::BadText),
            ("id = a\nitems = ['x']\n", Mistake::UnquotedText),
            ("id = toi\nitems = ['x']\n", Mistake::UnquotedText),
            (
                "id = 'a'\nitems = ['x']\nenabled = flase\n",
                Mistake::BadBoolean,
            ),
            ("id = \nitems = ['x']\n", Mistake::UnquotedText),
            ("id 'a'\nitems = ['x']\n", Mistake::MissingEquals),
            ("id = 'a'\nitems = ['x'\n", Mistake::BadList),
            ("id = 'a'\nitems = ['x' 'y']\n", Mistake::BadList),
            (
                "id = 'a'\nitems = ['x']\nenabled = tru\n",
                Mistake::BadBoolean,
            ),
            (
                "id = 'a'\nitems = ['x']\nvolume = 0.5.3\n",
                Mistake::BadNumber,
            ),
            (
                "id = 'a'\nid = 'b'\nitems = ['x']\n",
                Mistake::DuplicateKey {
                    key: Some("id".into()),
                },
            ),
        ] {
            assert_eq!(problem(body).mistake, mistake, "{body:?}");
        }
        let text = "[[program]\nid = 'a'\n";
        let error = toml::from_str::<File>(text).err();
        let p = error.map(|e| TomlProblem::read(&e, text));
        assert_eq!(p.map(|p| p.mistake), Some(Mistake::BadHeader));
    }

    #[test]
    fn a_long_line_is_shortened() {
        let long = "x".repeat(200);
        let p = problem(&format!("id = 'a'\nitems = ['x']\n{long} = 1\n"));
        let written = p.written.unwrap_or_default();
        assert_eq!(written.chars().count(), MAX_SHOWN + 1);
        assert!(written.ends_with('…'));
    }
}
