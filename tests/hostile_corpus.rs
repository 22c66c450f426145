//! Every file in tests/corpus/ (made by its make-corpus.py: truncated, malformed, wrongly typed,
//! huge, deeply nested, invalid UTF-8, Vietnamese with combining marks) goes through the parser
//! that would meet it at the box's trust boundary. None may panic; whatever is refused is
//! refused with a message. Prints a table per parser.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use loaxa::config::Config;
use loaxa::control::Request;
use loaxa_core::protocol::{Document, Envelope};
use loaxa_core::schedule::{self, LoadOptions};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// What a parser made of one input: Ok, or the error message.
type Verdict = Result<(), String>;
/// A parser, by the corpus directory it reads.
type Parser = (&'static str, Box<dyn Fn(&Path) -> Verdict>);

fn document(bytes: &[u8]) -> Verdict {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    Document::parse(text).map(drop).map_err(|e| e.to_string())
}

fn parsers() -> Vec<Parser> {
    let read = |path: &Path| std::fs::read(path).unwrap_or_default();
    vec![
        (
            "envelope",
            Box::new(move |path| {
                let envelope = Envelope::from_bytes(&read(path)).map_err(|e| e.to_string())?;
                document(envelope.signed.as_bytes())
            }),
        ),
        ("document", Box::new(move |path| document(&read(path)))),
        (
            "control",
            Box::new(move |path| {
                serde_json::from_slice::<Request>(&read(path))
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        ),
        (
            "schedule",
            Box::new(|path| {
                let options = LoadOptions {
                    media_dir: PathBuf::from(REPO),
                    ..LoadOptions::standalone(path, Some(loaxa_media::decode::check_file))
                };
                let loaded = schedule::load_file(path, &options);
                match loaded.errors.first() {
                    Some(error) => Err(error.to_string()),
                    None => Ok(()),
                }
            }),
        ),
        (
            "config",
            Box::new(|path| Config::load(path).map(drop).map_err(|e| e.to_string())),
        ),
        (
            "audio",
            Box::new(|path| {
                loaxa_media::decode::probe(path)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        ),
    ]
}

#[test]
fn no_input_in_the_hostile_corpus_makes_a_parser_panic_and_every_refusal_says_why() {
    let corpus = Path::new(REPO).join("tests/corpus");
    let mut total = 0;
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (kind, parse) in parsers() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join(kind))
            .unwrap_or_else(|e| panic!("tests/corpus/{kind}: {e}"))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        let (mut refused, mut accepted, mut panicked) = (0, 0, 0);
        for file in &files {
            match catch_unwind(AssertUnwindSafe(|| parse(file))) {
                Err(_) => {
                    panicked += 1;
                    failures.push(format!("{}: panicked", file.display()));
                }
                Ok(Err(message)) if message.trim().is_empty() => {
                    failures.push(format!("{}: refused without a message", file.display()));
                }
                Ok(Err(_)) => refused += 1,
                Ok(Ok(())) => accepted += 1,
            }
        }
        total += files.len();
        rows.push(format!(
            "| {kind:<8} | {:>6} | {refused:>7} | {accepted:>8} | {panicked:>8} |",
            files.len()
        ));
    }
    println!("| parser   | inputs | refused | accepted | panicked |");
    println!("|----------|--------|---------|----------|----------|");
    for row in &rows {
        println!("{row}");
    }
    println!("{total} hostile inputs");
    assert!(total >= 200, "the corpus holds only {total} inputs");
    assert!(failures.is_empty(), "{failures:#?}");
}
