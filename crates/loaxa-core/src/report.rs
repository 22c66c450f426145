//! Text both binaries write for people: an error with its causes on one line, aligned tables.

/// A plain text table: the header, then one line per row; columns two spaces apart, no borders,
/// no trailing spaces, each line ending in a newline. Cells are aligned by their display width
/// (grapheme clusters, as a terminal draws them), so Vietnamese aligns whether its marks are
/// precomposed (NFC) or combining (NFD).
pub fn table<R>(header: &[&str], rows: impl IntoIterator<Item = R>) -> String
where
    R: IntoIterator<Item = String>,
{
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_header(header.to_vec())
        .add_rows(
            rows.into_iter()
                .map(|row| row.into_iter().collect::<Vec<_>>()),
        );
    // The two spaces between columns are each column's right padding; the last column's is
    // trimmed away with any other trailing space.
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    let mut text = table.trim_fmt();
    text.push('\n');
    text
}

/// The error and its causes on one line, leaving out causes the message already quotes (our
/// error types put the underlying error in their text *and* expose it as a source).
pub fn describe_error(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut cause = Some(error);
    while let Some(error) = cause {
        let said = error.to_string();
        if !text.contains(&said) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&said);
        }
        cause = error.source();
    }
    text
}

/// Log lines on stderr, coloured on a terminal; `RUST_LOG` overrides `default_filter`.
#[cfg(feature = "cli")]
pub fn init_logging(default_filter: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read schedule: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("reload failed")]
    struct Wrapping(#[source] std::io::Error);

    #[test]
    fn a_table_aligns_columns_two_spaces_apart_without_trailing_spaces() {
        let rows = [
            ["pd-01".to_owned(), "online".into(), "".into()],
            ["kh-01".to_owned(), "offline".into(), "".into()],
        ];
        assert_eq!(
            table(&["BOX", "STATE", "NOTE"], rows),
            "BOX    STATE    NOTE\npd-01  online\nkh-01  offline\n"
        );
    }

    #[test]
    fn vietnamese_aligns_the_same_whether_precomposed_or_decomposed() {
        let nfc = "B\u{1ea3}n tin s\u{e1}ng";
        let nfd = "Ba\u{309}n tin sa\u{301}ng";
        let rows = [nfc, nfd, "ok"].map(|title| [title.to_owned(), "next".to_owned()]);
        let text = table(&["ON AIR", "STATE"], rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], format!("{nfc}  next"));
        assert_eq!(lines[2], format!("{nfd}  next"));
        assert_eq!(lines[3], "ok            next");
    }

    #[test]
    fn a_cause_the_message_already_quotes_is_not_repeated() {
        let error = Quoting(std::io::Error::other("disk full"));
        assert_eq!(describe_error(&error), "cannot read schedule: disk full");
    }

    #[test]
    fn a_cause_the_message_does_not_quote_follows_it() {
        let error = Wrapping(std::io::Error::other("disk full"));
        assert_eq!(describe_error(&error), "reload failed: disk full");
    }
}
