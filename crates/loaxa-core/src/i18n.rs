//! The message catalogue: every word a person reads, in Vietnamese and English, from Fluent
//! files (`.ftl`) that each binary embeds. Fluent rather than a table of format strings because
//! the two languages differ in more than words: English plurals ("1 box", "2 boxes") where
//! Vietnamese has none, and word order around the numbers.
//!
//! The catalogue is checked when it is built: both languages must parse and hold the same
//! message ids, so a message added in one language and forgotten in the other fails the first
//! test that builds it, not a user reading a raw id.

use std::collections::BTreeSet;

pub use fluent_bundle::FluentValue;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

/// A language people can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Vi, Lang::En];

    /// The ISO 639-1 code, as in `language = "vi"` and `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// `vi`, `en`, or a locale such as `vi_VN.UTF-8` or `en-GB`; anything else is `None`.
    pub fn parse(text: &str) -> Option<Lang> {
        let language = text
            .split(['_', '-', '.', '@'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match language.as_str() {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language of the environment's locale, as `gettext` picks it: `LC_ALL`, then
    /// `LC_MESSAGES`, then `LANG`; the first that is set and not empty decides.
    pub fn from_locale(var: impl Fn(&str) -> Option<String>) -> Option<Lang> {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .into_iter()
            .filter_map(var)
            .find(|value| !value.is_empty())
            .and_then(|value| Lang::parse(&value))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("message catalogue ({lang}): {reason}")]
    Syntax { lang: &'static str, reason: String },
    #[error("message catalogue: {id} is in {present} but not in {missing}")]
    Missing {
        id: String,
        present: &'static str,
        missing: &'static str,
    },
}

/// Messages in both languages.
pub struct Catalogue {
    vi: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
}

impl std::fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Catalogue")
    }
}

impl Catalogue {
    /// Builds the catalogue from the Fluent sources of each language.
    pub fn new(vi: &str, en: &str) -> Result<Catalogue, CatalogueError> {
        let (vi_bundle, vi_ids) = bundle(Lang::Vi, vi)?;
        let (en_bundle, en_ids) = bundle(Lang::En, en)?;
        let missing = |ids: &BTreeSet<String>, other: &BTreeSet<String>, present, missing| {
            ids.difference(other)
                .next()
                .map(|id| CatalogueError::Missing {
                    id: id.clone(),
                    present,
                    missing,
                })
        };
        if let Some(error) =
            missing(&vi_ids, &en_ids, "vi", "en").or_else(|| missing(&en_ids, &vi_ids, "en", "vi"))
        {
            return Err(error);
        }
        Ok(Catalogue {
            vi: vi_bundle,
            en: en_bundle,
        })
    }

    /// The message `id` in `lang`, with its arguments. An id the catalogue lacks comes back as
    /// itself, so a slip shows as a visible id rather than an empty page.
    pub fn text(&self, lang: Lang, id: &str, args: &[(&str, FluentValue)]) -> String {
        let bundle = match lang {
            Lang::Vi => &self.vi,
            Lang::En => &self.en,
        };
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            return id.to_owned();
        };
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            fluent_args.set(*name, value.clone());
        }
        let mut errors = Vec::new();
        bundle
            .format_pattern(pattern, Some(&fluent_args), &mut errors)
            .into_owned()
    }

    /// Whether `id` is a message (both languages hold the same ids).
    pub fn has(&self, id: &str) -> bool {
        self.vi.has_message(id)
    }
}

/// The Rust files under `dirs` (recursively) and their text, sorted by path: what a program's
/// test reads to check that every id it asks its catalogue for is there.
pub fn rust_sources(
    dirs: &[std::path::PathBuf],
) -> std::io::Result<Vec<(std::path::PathBuf, String)>> {
    let mut pending = dirs.to_vec();
    let mut sources = Vec::new();
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path)?;
            sources.push((path, text));
        }
    }
    sources.sort();
    Ok(sources)
}

/// The message ids `code` asks for by name: `.t("ID"` and `.t_args("ID"`.
pub fn ids_asked_for(code: &str) -> impl Iterator<Item = &str> {
    [".t(\"", ".t_args(\""].into_iter().flat_map(move |call| {
        code.split(call)
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap_or_default())
    })
}

fn bundle(
    lang: Lang,
    source: &str,
) -> Result<(FluentBundle<FluentResource>, BTreeSet<String>), CatalogueError> {
    let syntax = |reason: String| CatalogueError::Syntax {
        lang: lang.code(),
        reason,
    };
    let resource = FluentResource::try_new(source.to_owned())
        .map_err(|(_, errors)| syntax(format!("{errors:?}")))?;
    let ids = resource
        .entries()
        .filter_map(|entry| match entry {
            fluent_syntax::ast::Entry::Message(message) => Some(message.id.name.to_owned()),
            _ => None,
        })
        .collect();
    let language = lang
        .code()
        .parse()
        .map_err(|e| syntax(format!("language id: {e}")))?;
    let mut bundle = FluentBundle::new_concurrent(vec![language]);
    // Unicode isolation marks around arguments would end up inside HTML attributes and CSV cells.
    bundle.set_use_isolating(false);
    bundle
        .add_resource(resource)
        .map_err(|errors| syntax(format!("{errors:?}")))?;
    Ok((bundle, ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VI: &str = "greeting = Xin chào { $name }\nboxes = { $count } loa\n";
    const EN: &str = "greeting = Hello { $name }\nboxes = { $count ->\n    [one] { $count } box\n   *[other] { $count } boxes\n}\n";

    #[test]
    fn a_message_is_formatted_in_each_language_with_its_arguments() {
        let catalogue = Catalogue::new(VI, EN).unwrap();
        let name = [("name", FluentValue::from("Lan"))];
        assert_eq!(catalogue.text(Lang::Vi, "greeting", &name), "Xin chào Lan");
        assert_eq!(catalogue.text(Lang::En, "greeting", &name), "Hello Lan");
        let one = [("count", FluentValue::from(1))];
        let two = [("count", FluentValue::from(2))];
        assert_eq!(catalogue.text(Lang::En, "boxes", &one), "1 box");
        assert_eq!(catalogue.text(Lang::En, "boxes", &two), "2 boxes");
        assert_eq!(catalogue.text(Lang::Vi, "boxes", &two), "2 loa");
    }

    #[test]
    fn a_message_missing_from_one_language_is_refused_when_the_catalogue_is_built() {
        let error = Catalogue::new(VI, "greeting = Hello\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "message catalogue: boxes is in vi but not in en"
        );
    }

    #[test]
    fn the_ids_code_asks_for_are_found_by_their_calls() {
        let code = "w.t(\"a-b\"); w.t_args(\"c\", &[]); x.t(y);";
        assert_eq!(ids_asked_for(code).collect::<Vec<_>>(), ["a-b", "c"]);
    }

    #[test]
    fn an_unknown_id_shows_as_itself() {
        let catalogue = Catalogue::new(VI, EN).unwrap();
        assert_eq!(catalogue.text(Lang::En, "nope", &[]), "nope");
    }

    #[test]
    fn the_language_comes_from_the_locale_as_gettext_picks_it() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            Lang::from_locale(env(&[("LANG", "vi_VN.UTF-8")])),
            Some(Lang::Vi)
        );
        assert_eq!(
            Lang::from_locale(env(&[("LC_ALL", ""), ("LANG", "en_GB.UTF-8")])),
            Some(Lang::En)
        );
        assert_eq!(
            Lang::from_locale(env(&[("LC_MESSAGES", "en"), ("LANG", "vi")])),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_locale(env(&[("LANG", "C.UTF-8")])), None);
    }
}
