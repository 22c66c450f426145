//! The fenced blocks of the documentation, for the tests that parse or run them.

use std::path::Path;

/// The fenced blocks of a markdown file of the repository whose info string is `info` (the text
/// after the opening fence: `toml`, `sh broker`…), with the line each starts on.
pub fn blocks(doc: &str, info: &str) -> Vec<(usize, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(doc);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut found = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let fence = line.trim_start();
        match &mut current {
            None if fence == format!("```{info}") => current = Some((n + 1, String::new())),
            Some(_) if fence == "```" => found.extend(current.take()),
            Some((_, body)) => {
                body.push_str(line.trim_start_matches("  ")); // blocks nested in list items are indented
                body.push('\n');
            }
            None => {}
        }
    }
    found
}
