//! The office's message catalogue: every word the console, the reports and their exports put
//! before people, in Vietnamese and English (Fluent files under `locales/`, embedded).

use loaxa_core::i18n::{Catalogue, CatalogueError};

/// The catalogue, built from the embedded files (checked: both languages hold the same ids).
pub fn catalogue() -> Result<Catalogue, CatalogueError> {
    Catalogue::new(
        concat!(
            include_str!("../locales/vi/console.ftl"),
            "\n",
            include_str!("../locales/vi/reports.ftl")
        ),
        concat!(
            include_str!("../locales/en/console.ftl"),
            "\n",
            include_str!("../locales/en/reports.ftl")
        ),
    )
}

#[cfg(test)]
mod tests {
    /// The Vietnamese sources: the message families the code's ids are looked for in.
    const VIETNAMESE_SOURCES: [&str; 2] = [
        include_str!("../locales/vi/console.ftl"),
        include_str!("../locales/vi/reports.ftl"),
    ];

    #[test]
    fn both_languages_hold_the_same_messages() {
        super::catalogue().unwrap();
    }

    /// Every kebab-case string in the office's code whose first word is a message family
    /// (`bulletin-…`, `login-…`) must be a message, so a typo'd id fails here and not on a page.
    #[test]
    fn every_message_id_the_office_uses_is_in_the_catalogue() {
        let catalogue = super::catalogue().unwrap();
        let families: std::collections::BTreeSet<&str> = VIETNAMESE_SOURCES
            .iter()
            .flat_map(|text| text.lines())
            .filter_map(|line| line.split_once(" = ").map(|(id, _)| id))
            .filter_map(|id| id.split('-').next())
            .collect();
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let sources =
            loaxa_core::i18n::rust_sources(&[src.join("console"), src.join("archive")]).unwrap();
        let mut checked = 0;
        for (path, text) in &sources {
            // Whatever is asked of the catalogue by name must be in it, whatever it looks like.
            for id in loaxa_core::i18n::ids_asked_for(text) {
                assert!(
                    catalogue.has(id),
                    "{}: {id:?} is not a message",
                    path.display()
                );
            }
            for literal in text.split('"').skip(1).step_by(2) {
                let is_id = literal.contains('-')
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                let family = literal.split('-').next().unwrap_or_default();
                if is_id && families.contains(family) {
                    assert!(
                        catalogue.has(literal),
                        "{}: {literal:?} is not a message",
                        path.display()
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 50, "only {checked} message ids found");
    }
}
