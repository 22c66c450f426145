//! The box's own errors that reach an operator's command line, in their words: the daemon
//! that cannot be reached, the sound card that cannot be opened, a config file that cannot be
//! read, is mistyped or holds a value out of bounds. Anything not listed here is said as its
//! English message.

use std::io::ErrorKind;

use crate::audio::output::OutputError;
use crate::config::{ConfigError, ConfigProblem, Setting};
use crate::control::ControlError;
use loaxa_core::schedule::windows::WindowProblem;
use loaxa_core::trouble::FileTrouble;

use super::trouble::file_words;
use super::{Words, arg};

/// `error` in the operator's words, if it is one of the box's typed errors.
pub fn error_words(error: &anyhow::Error, words: &Words) -> Option<String> {
    if let Some(config) = error.downcast_ref::<ConfigError>() {
        return config_words(config, words);
    }
    if let Some(output) = error.downcast_ref::<OutputError>() {
        return Some(output_words(output, words));
    }
    error
        .downcast_ref::<ControlError>()
        .map(|control| control_words(control, words))
}

/// Why the sound card (or the WAV file standing in for it) cannot be used. The sound system's
/// own account is for an engineer: the English catalogue shows it.
pub fn output_words(error: &OutputError, words: &Words) -> String {
    match error {
        OutputError::NoDevices(detail) => {
            words.t_args("output-no-devices", &[("detail", arg(detail))])
        }
        OutputError::NoSuchDevice(name) => {
            words.t_args("output-no-such-device", &[("name", arg(name))])
        }
        OutputError::Device { name, message } => words.t_args(
            "output-device-failed",
            &[("name", arg(name)), ("detail", arg(message))],
        ),
        OutputError::Wav { path, trouble } => words.t_args(
            "output-wav-failed",
            &[
                ("file", arg(path.display())),
                ("why", arg(file_words(trouble, words))),
            ],
        ),
        OutputError::Failed(detail) => words.t_args("output-failed", &[("detail", arg(detail))]),
        OutputError::Stopped => words.t("output-stopped"),
    }
}

fn config_words(error: &ConfigError, words: &Words) -> Option<String> {
    match error {
        ConfigError::Read { path, source } => Some(words.t_args(
            "config-cannot-read",
            &[
                ("file", arg(path.display())),
                (
                    "why",
                    arg(file_words(&FileTrouble::reading_text(source), words)),
                ),
            ],
        )),
        ConfigError::Syntax { path, problem } => Some(format!(
            "{}: {}",
            super::schedule::place(path, problem.line, words),
            super::schedule::toml_words(problem, words)
        )),
        ConfigError::Invalid { path, key, problem } => Some(words.t_args(
            "config-invalid",
            &[
                ("file", arg(path.display())),
                ("key", arg(setting_words(key, words))),
                ("problem", arg(problem_words(problem, words))),
            ],
        )),
    }
}

pub(crate) fn setting_words(setting: &Setting, words: &Words) -> String {
    match setting.nth {
        Some(n) => words.t_args(
            "config-setting-nth",
            &[("key", arg(&setting.key)), ("n", arg(n))],
        ),
        None => setting.key.clone(),
    }
}

fn problem_words(problem: &ConfigProblem, words: &Words) -> String {
    match problem {
        ConfigProblem::Timezone(fault) => super::schedule::fault_words(fault, words),
        ConfigProblem::BadOutput { spec, .. } => {
            words.t_args("config-bad-output", &[("spec", arg(spec))])
        }
        ConfigProblem::OutOfRange { value, low, high } => words.t_args(
            "config-out-of-range",
            &[
                ("value", arg(value)),
                ("low", arg(low)),
                ("high", arg(high)),
            ],
        ),
        ConfigProblem::BadName { value } => words.t_args("fault-bad-id", &[("id", arg(value))]),
        // The key parser's account is for an engineer: the English catalogue shows it.
        ConfigProblem::BadKey { reason } => {
            words.t_args("config-bad-key", &[("reason", arg(reason))])
        }
        ConfigProblem::BadWindow(problem) => match problem {
            WindowProblem::NotATime { field, text } => words.t_args(
                "config-window-not-a-time",
                &[("field", arg(field)), ("text", arg(text))],
            ),
            WindowProblem::Empty { at } => words.t_args("config-window-empty", &[("at", arg(at))]),
            WindowProblem::BadVolume { volume } => {
                words.t_args("config-window-bad-volume", &[("volume", arg(volume))])
            }
        },
        ConfigProblem::BadLanguage { value } => {
            words.t_args("config-bad-language", &[("value", arg(value))])
        }
        ConfigProblem::TooLarge => words.t("config-too-large"),
    }
}

fn control_words(error: &ControlError, words: &Words) -> String {
    let at =
        |id: &str, path: &std::path::Path| words.t_args(id, &[("socket", arg(path.display()))]);
    match error {
        ControlError::Connect { path, source } => match source.kind() {
            ErrorKind::PermissionDenied => at("control-not-allowed", path),
            // No socket, or one that nothing listens on: the daemon is not running.
            ErrorKind::NotFound | ErrorKind::ConnectionRefused => at("control-not-running", path),
            _ => words.t_args(
                "control-cannot-connect",
                &[
                    ("socket", arg(path.display())),
                    ("why", arg(file_words(&FileTrouble::from(source), words))),
                ],
            ),
        },
        ControlError::NoAnswer { path, waited } => words.t_args(
            "control-no-answer",
            &[
                ("socket", arg(path.display())),
                ("seconds", arg(waited.as_secs())),
            ],
        ),
        ControlError::Closed { path } => at("control-closed", path),
        ControlError::Exchange { path, source } => words.t_args(
            "control-exchange",
            &[
                ("socket", arg(path.display())),
                ("why", arg(file_words(&FileTrouble::from(source), words))),
            ],
        ),
        // The parser's account is for an engineer: the English catalogue shows it.
        ControlError::Reply { path, source } => words.t_args(
            "control-unreadable-reply",
            &[("socket", arg(path.display())), ("detail", arg(source))],
        ),
        ControlError::Bind { path, source } => words.t_args(
            "control-cannot-open",
            &[
                ("socket", arg(path.display())),
                ("why", arg(file_words(&FileTrouble::from(source), words))),
            ],
        ),
    }
}
