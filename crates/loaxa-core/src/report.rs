//! Text both binaries write for people: an error with its causes on one line.

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
