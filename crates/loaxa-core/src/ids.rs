//! The one rule for names: box ids, scope names, bulletin and programme ids.
//!
//! They become MQTT topic levels, file names and SQLite keys, and operators type them: so no
//! `/`, `+`, `#`, no dot that could climb directories, no spaces, and a length a topic and a
//! table column can carry.

/// The longest name, in bytes (all ASCII).
pub const MAX_NAME: usize = 64;

/// Whether `text` is a valid name: 1–64 ASCII letters, digits, `-`, `_` and `.`, not starting
/// with a dot.
pub fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_NAME
        && !text.starts_with('.')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// What a refused name is told, after the name itself.
pub const NAME_RULE: &str =
    "expected 1–64 ASCII letters, digits, '-', '_' or '.', not starting with '.'";

/// This machine's host name made into a name (characters outside the rule dropped), if it has
/// one: a box's default id, and what tells one district tool's MQTT client from another's.
pub fn host_name() -> Option<String> {
    let raw = std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())?;
    as_name(&raw)
}

fn as_name(raw: &str) -> Option<String> {
    let name: String = raw
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(MAX_NAME)
        .collect();
    let name = name.trim_start_matches('.').to_owned();
    is_name(&name).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_climb_directories_or_split_topics_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "a+b",
            "a#",
            "a b",
            "tin-sáng",
        ] {
            assert!(!is_name(bad), "{bad:?}");
        }
        assert!(!is_name(&"x".repeat(MAX_NAME + 1)));
    }

    #[test]
    fn a_host_name_becomes_a_name_or_nothing() {
        assert_eq!(as_name("loa-01\n").as_deref(), Some("loa-01"));
        assert_eq!(as_name("Trạm Xã\n").as_deref(), Some("TrmX"));
        assert_eq!(as_name(".hidden").as_deref(), Some("hidden"));
        assert_eq!(as_name("  \n"), None);
    }

    #[test]
    fn ordinary_ids_are_names() {
        for good in [
            "tin-sang",
            "box_01",
            "xa.dong-xa",
            "7",
            &"x".repeat(MAX_NAME),
        ] {
            assert!(is_name(good), "{good:?}");
        }
    }
}
